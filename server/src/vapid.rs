//! The server's VAPID identity (RFC 8292): an ES256 key pair generated on the very first
//! start and stored in `settings`, so every process on one database and every restart signs
//! pushes with the key the browsers subscribed with.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use web_push_native::jwt_simple::algorithms::{ECDSAP256PublicKeyLike, ES256KeyPair};

use crate::db::Db;

/// The server's VAPID identity.
pub struct Vapid {
    /// The signing key pair.
    pub key_pair: ES256KeyPair,
    /// The public key as the browser wants it: uncompressed point, base64url.
    pub public_key_b64: String,
}

impl Vapid {
    /// Loads the stored key pair, generating and storing one on the very first start.
    pub async fn load_or_create(db: &Db) -> Result<Self, String> {
        let stored = match db
            .setting("vapid_private_key")
            .await
            .map_err(|e| e.to_string())?
        {
            Some(key) => key,
            None => {
                let fresh = URL_SAFE_NO_PAD.encode(ES256KeyPair::generate().to_bytes());
                // Another process may have won the race; its key is the one kept.
                db.setting_insert_once("vapid_private_key", &fresh)
                    .await
                    .map_err(|e| e.to_string())?
            }
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(stored.as_bytes())
            .map_err(|e| format!("stored VAPID key is not base64url: {e}"))?;
        let key_pair =
            ES256KeyPair::from_bytes(&bytes).map_err(|e| format!("stored VAPID key: {e}"))?;
        let public_key_b64 =
            URL_SAFE_NO_PAD.encode(key_pair.public_key().public_key().to_bytes_uncompressed());
        Ok(Self {
            key_pair,
            public_key_b64,
        })
    }
}
