//! The built front end as it is sent: each file of `--dist` read once and kept in memory
//! with its content hash (the `ETag`) and, for text and wasm, its gzip and Brotli encodings,
//! each made once per version of the file.
//!
//! Why it matters: the app's wasm is 1.1 MB and the worker's 0.8 MB as built, a third of
//! that compressed. Without this every agent downloaded the full size at every release, and
//! every `no-cache` file (`index.html`, `sw.js`, the worker's unhashed files) in full at every
//! revalidation, since there was no validator to answer 304 to.
//!
//! Brotli at its best quality takes about a second per megabyte, too long for a request, so
//! the build does it (`cargo xtask` writes `<file>.br` beside each file of `dist/`). A
//! sibling is used only when it decodes to exactly the file's bytes, so a stale or foreign
//! one is never sent; without one the server encodes at a fast quality itself.
//!
//! A file is known by its path and a stamp (length and modification time, its own and its
//! `.br` file's): a file or `.br` replaced under a running server (a new build in the same
//! directory) is read and encoded again on its next request. Only files that exist are ever held, so memory is bounded by `--dist`.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// An encoding a file can be sent in, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `br`.
    Brotli,
    /// `gzip`.
    Gzip,
    /// As it is on disk.
    Identity,
}

impl Encoding {
    /// The `Content-Encoding` token, `None` for identity.
    pub fn token(self) -> Option<&'static str> {
        match self {
            Encoding::Brotli => Some("br"),
            Encoding::Gzip => Some("gzip"),
            Encoding::Identity => None,
        }
    }

    /// The label used in metrics and in the `ETag` suffix.
    pub fn label(self) -> &'static str {
        self.token().unwrap_or("identity")
    }

    /// Whether `accept_encoding` (an `Accept-Encoding` value) takes this encoding: named, or
    /// matched by `*`, with a quality above zero. Identity is always taken (a client that
    /// refuses it gets it anyway: every other answer would be an error page).
    pub fn accepted_by(self, accept_encoding: &str) -> bool {
        let Some(token) = self.token() else {
            return true;
        };
        let mut wildcard = None;
        for part in accept_encoding.split(',') {
            let mut fields = part.split(';');
            let name = fields.next().unwrap_or("").trim();
            let quality = fields
                .filter_map(|f| f.trim().strip_prefix("q="))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            if name.eq_ignore_ascii_case(token) {
                return quality > 0.0;
            }
            if name == "*" {
                wildcard = Some(quality > 0.0);
            }
        }
        wildcard.unwrap_or(false)
    }
}

/// One version of one file, in every encoding worth sending.
#[derive(Debug)]
pub struct FileVersion {
    /// The first 16 hex digits of the SHA-256 of the bytes on disk.
    pub hash: String,
    identity: Vec<u8>,
    gzip: Option<Vec<u8>>,
    brotli: Option<Vec<u8>>,
}

impl FileVersion {
    /// Hashes `bytes` and, when `compress`, encodes them (each encoding kept only when it is
    /// smaller): gzip at its best, Brotli from `prebuilt` when it decodes to `bytes`, else
    /// at a fast quality. CPU-bound (tens of milliseconds per megabyte).
    pub fn new(bytes: Vec<u8>, compress: bool, prebuilt: Option<Vec<u8>>) -> FileVersion {
        let hash = hex::encode(&Sha256::digest(&bytes)[..8]);
        let smaller = |encoded: Vec<u8>| (encoded.len() < bytes.len()).then_some(encoded);
        let (gzip, brotli) = if compress {
            let brotli = match prebuilt.filter(|b| decodes_to(b, &bytes)) {
                Some(prebuilt) => Some(prebuilt),
                None => brotli(&bytes, FAST_BROTLI_QUALITY),
            };
            (gzip(&bytes).and_then(smaller), brotli.and_then(smaller))
        } else {
            (None, None)
        };
        FileVersion {
            hash,
            identity: bytes,
            gzip,
            brotli,
        }
    }

    /// The best encoding `accept_encoding` takes, and its bytes.
    pub fn best_for(&self, accept_encoding: &str) -> (Encoding, &[u8]) {
        [
            (Encoding::Brotli, self.brotli.as_deref()),
            (Encoding::Gzip, self.gzip.as_deref()),
        ]
        .into_iter()
        .find_map(|(encoding, bytes)| {
            bytes
                .filter(|_| encoding.accepted_by(accept_encoding))
                .map(|b| (encoding, b))
        })
        .unwrap_or((Encoding::Identity, &self.identity))
    }

    /// Whether this file may be sent in another encoding than identity (then its answers
    /// carry `Vary: Accept-Encoding`).
    pub fn has_encodings(&self) -> bool {
        self.gzip.is_some() || self.brotli.is_some()
    }

    /// The `ETag` of this version in `encoding`. Each encoding has its own tag; the tags
    /// are weak because the bytes of an encoding may differ between servers (one with the
    /// build's Brotli, one encoding at a fast quality) while the content is the same.
    pub fn etag(&self, encoding: Encoding) -> String {
        format!("W/\"{}-{}\"", self.hash, encoding.label())
    }

    /// Whether an `If-None-Match` value names a representation of this version (or is `*`):
    /// then the client's copy is current, whichever encoding it holds, and the answer is 304.
    pub fn matches(&self, if_none_match: &str) -> bool {
        if_none_match.split(',').any(|tag| {
            let tag = tag.trim();
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            tag == "*"
                || tag
                    .trim_matches('"')
                    .split_once('-')
                    .is_some_and(|(hash, _)| hash == self.hash)
        })
    }
}

/// gzip at the best compression.
fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

/// The Brotli quality the server uses when the build left no `.br` file: measured on the
/// worker's wasm, 5 takes 33 ms and gives 281 KB where 11 takes 1.1 s and gives 247 KB
/// (gzip -9: 313 KB).
const FAST_BROTLI_QUALITY: i32 = 5;

/// Brotli at `quality`, with a window large enough for a whole wasm file.
pub fn brotli(bytes: &[u8], quality: i32) -> Option<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality,
        lgwin: 22,
        ..Default::default()
    };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).ok()?;
    Some(out)
}

/// Whether the Brotli stream `encoded` decodes to exactly `bytes`.
fn decodes_to(encoded: &[u8], bytes: &[u8]) -> bool {
    use std::io::Read as _;
    let mut decoded = Vec::with_capacity(bytes.len());
    brotli::Decompressor::new(encoded, 64 * 1024)
        .take(bytes.len() as u64 + 1)
        .read_to_end(&mut decoded)
        .is_ok()
        && decoded == bytes
}

/// The name of the build's Brotli encoding of `file`: `<file>.br` beside it.
pub fn prebuilt_brotli_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".br");
    PathBuf::from(name)
}

/// Whether a file of this name is worth compressing: text and wasm, not images that are
/// compressed already.
pub fn compressible(file: &Path) -> bool {
    matches!(
        file.extension().and_then(|e| e.to_str()),
        Some(
            "wasm" | "js" | "mjs" | "css" | "html" | "svg" | "json" | "webmanifest" | "txt" | "map"
        )
    )
}

/// Whether `file` is a build's encoding of another file (`.br`): never served as a file of
/// its own.
pub fn is_prebuilt_encoding(file: &Path) -> bool {
    file.extension().and_then(|e| e.to_str()) == Some("br")
}

/// What identifies a version of a file on disk without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl FileStamp {
    fn of(metadata: &std::fs::Metadata) -> FileStamp {
        FileStamp {
            len: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }
}

/// What identifies a version of a file as it is sent: the file's stamp and its build's
/// Brotli file's, if any. A deploy that copies the file before its `.br` (as `rsync` does,
/// by name) is read again once the `.br` arrives, instead of keeping the fast encoding
/// made in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    file: FileStamp,
    prebuilt: Option<FileStamp>,
}

type Slot = Arc<OnceCell<Arc<FileVersion>>>;

/// The front end's files in memory, by path.
#[derive(Default)]
pub struct FrontEndFiles {
    files: Mutex<HashMap<PathBuf, (Stamp, Slot)>>,
}

impl FrontEndFiles {
    /// The current version of `file`: from memory when its stamp is unchanged, else read and
    /// encoded once (concurrent first requests wait for the same work).
    pub async fn get(&self, file: &Path) -> std::io::Result<Arc<FileVersion>> {
        let compress = compressible(file);
        let prebuilt = match compress {
            true => tokio::fs::metadata(prebuilt_brotli_path(file)).await.ok(),
            false => None,
        };
        let stamp = Stamp {
            file: FileStamp::of(&tokio::fs::metadata(file).await?),
            prebuilt: prebuilt.as_ref().map(FileStamp::of),
        };
        let slot = {
            let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
            match files.get(file) {
                Some((known, slot)) if *known == stamp => slot.clone(),
                _ => {
                    let slot = Slot::default();
                    files.insert(file.to_path_buf(), (stamp, slot.clone()));
                    slot
                }
            }
        };
        slot.get_or_try_init(|| async {
            let bytes = tokio::fs::read(file).await?;
            let prebuilt = match stamp.prebuilt {
                Some(_) => tokio::fs::read(prebuilt_brotli_path(file)).await.ok(),
                None => None,
            };
            tokio::task::spawn_blocking(move || {
                Arc::new(FileVersion::new(bytes, compress, prebuilt))
            })
            .await
            .map_err(std::io::Error::other)
        })
        .await
        .cloned()
    }

    /// Reads and encodes every file under `dist` ahead of the first request, so the first
    /// agent after a start does not wait for Brotli. Failures are left for the requests,
    /// which report them.
    pub async fn warm(&self, dist: &Path) {
        let mut pending = vec![dist.to_path_buf()];
        let mut count = 0usize;
        while let Some(dir) = pending.pop() {
            let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
                continue;
            };
            while let Ok(Some(entry)) = entries.next_entry().await {
                let path = entry.path();
                let Ok(kind) = entry.file_type().await else {
                    continue;
                };
                if kind.is_dir() {
                    pending.push(path);
                } else if kind.is_file()
                    && !is_prebuilt_encoding(&path)
                    && self.get(&path).await.is_ok()
                {
                    count += 1;
                }
            }
        }
        tracing::info!(files = count, dist = %dist.display(), "front end read and compressed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_accepted_encoding_is_chosen() {
        let text = "let x = 1;\n".repeat(500).into_bytes();
        let version = FileVersion::new(text.clone(), true, None);
        assert_eq!(
            version.best_for("gzip, deflate, br, zstd").0,
            Encoding::Brotli
        );
        assert_eq!(version.best_for("gzip, br;q=0").0, Encoding::Gzip);
        assert_eq!(version.best_for("*").0, Encoding::Brotli);
        assert_eq!(version.best_for("*, br;q=0").0, Encoding::Gzip);
        assert_eq!(version.best_for("*;q=0").0, Encoding::Identity);
        assert_eq!(version.best_for("").0, Encoding::Identity);
        assert_eq!(version.best_for("deflate").1, &text[..]);
    }

    #[test]
    fn the_encodings_decode_to_the_file() {
        use std::io::Read as _;
        let text = "fn main() { println!(\"hello\"); }\n"
            .repeat(300)
            .into_bytes();
        let version = FileVersion::new(text.clone(), true, None);
        let (_, gz) = version.best_for("gzip");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, text);
        let (_, br) = version.best_for("br");
        let mut back = Vec::new();
        brotli::Decompressor::new(br, 4096)
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, text);
        assert!(br.len() < text.len() / 10, "{} of {}", br.len(), text.len());
    }

    #[test]
    fn a_prebuilt_brotli_is_used_only_when_it_decodes_to_the_file() {
        let text = "const a = [1, 2, 3];\n".repeat(400).into_bytes();
        let best = brotli(&text, 11).unwrap();
        let version = FileVersion::new(text.clone(), true, Some(best.clone()));
        assert_eq!(version.best_for("br").1, &best[..]);
        let other = brotli(&"something else\n".repeat(400).into_bytes(), 11).unwrap();
        for stale in [
            other,
            b"not brotli at all".to_vec(),
            best[..best.len() / 2].to_vec(),
        ] {
            let version = FileVersion::new(text.clone(), true, Some(stale.clone()));
            let (encoding, sent) = version.best_for("br");
            assert_eq!(encoding, Encoding::Brotli);
            assert_ne!(sent, &stale[..], "a sibling that is not this file was sent");
            assert!(decodes_to(sent, &text));
        }
    }

    #[test]
    fn an_encoding_no_smaller_than_the_file_is_not_kept() {
        let version = FileVersion::new(b"{}".to_vec(), true, None);
        assert!(!version.has_encodings());
        assert_eq!(version.best_for("br, gzip").0, Encoding::Identity);
    }

    #[test]
    fn if_none_match_names_this_version_in_any_encoding() {
        let version = FileVersion::new(b"body".to_vec(), false, None);
        let hash = version.hash.clone();
        assert!(version.matches(&format!("\"{hash}-br\"")));
        assert!(version.matches(&format!("W/\"{hash}-identity\"")));
        assert!(version.matches(&format!("\"0000000000000000-gzip\", \"{hash}-gzip\"")));
        assert!(version.matches("*"));
        assert!(!version.matches("\"0000000000000000-br\""));
        assert!(!version.matches(&format!("\"{hash}\"")));
        assert!(!version.matches(""));
    }
}
