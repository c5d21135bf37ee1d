//! The front end's Brotli files: after each front-end build, `<file>.br` beside every text
//! and wasm file of `dist/`, at Brotli's best quality.
//!
//! The server sends them to browsers that take Brotli (it checks that each decodes to its
//! file, so a stale one is never sent). Best quality takes about a second per megabyte,
//! which the build can afford once and a request cannot; without these files the server
//! encodes at a fast quality itself (on the worker's wasm 281 KB instead of 247 KB).

use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Extensions of the files worth compressing (the server's list: text and wasm).
const COMPRESSIBLE: [&str; 10] = [
    "wasm",
    "js",
    "mjs",
    "css",
    "html",
    "svg",
    "json",
    "webmanifest",
    "txt",
    "map",
];

/// Writes `<file>.br` for every compressible file under `dist`, except where the one there
/// already decodes to the file (an unchanged file after a rebuild). Returns how many were
/// written.
pub fn write_brotli_files(dist: &Path) -> Result<usize, String> {
    let mut written = 0;
    for file in files_under(dist)? {
        let compressible = file
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| COMPRESSIBLE.contains(&e));
        if !compressible {
            continue;
        }
        let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let target = brotli_path(&file);
        if std::fs::read(&target).is_ok_and(|old| decodes_to(&old, &bytes)) {
            continue;
        }
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            lgwin: 22,
            ..Default::default()
        };
        let mut encoded = Vec::new();
        brotli::BrotliCompress(&mut &bytes[..], &mut encoded, &params)
            .map_err(|e| format!("brotli {}: {e}", file.display()))?;
        std::fs::write(&target, encoded).map_err(|e| format!("{}: {e}", target.display()))?;
        written += 1;
    }
    Ok(written)
}

/// Every regular file under `dir`, Brotli files left out.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().and_then(|e| e.to_str()) != Some("br") {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// `<file>.br`.
pub fn brotli_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".br");
    PathBuf::from(name)
}

/// Whether the Brotli stream `encoded` decodes to exactly `bytes`.
fn decodes_to(encoded: &[u8], bytes: &[u8]) -> bool {
    let mut decoded = Vec::with_capacity(bytes.len());
    brotli::Decompressor::new(encoded, 64 * 1024)
        .take(bytes.len() as u64 + 1)
        .read_to_end(&mut decoded)
        .is_ok()
        && decoded == bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_text_file_gets_a_brotli_file_that_decodes_to_it_and_a_rebuild_keeps_it() {
        let dir = std::env::temp_dir().join(format!("xtask-precompress-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("icons")).unwrap();
        let js = "export const answer = 42;\n".repeat(200);
        std::fs::write(dir.join("app.js"), &js).unwrap();
        std::fs::write(dir.join("icons/icon.png"), [0x89, b'P', b'N', b'G']).unwrap();
        std::fs::write(dir.join("app.js.br"), b"stale").unwrap();
        assert_eq!(write_brotli_files(&dir).unwrap(), 1);
        let encoded = std::fs::read(dir.join("app.js.br")).unwrap();
        assert!(decodes_to(&encoded, js.as_bytes()));
        assert!(!dir.join("icons/icon.png.br").exists());
        assert_eq!(
            write_brotli_files(&dir).unwrap(),
            0,
            "an unchanged file was encoded again"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
