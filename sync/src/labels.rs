//! Sizes and ratios as an agent reads them ("12 KB", "3.4 MB", "90 %"), for the app's
//! attachments and the settings panel, which are separate wasm builds.
//!
//! In integers: formatting a float links the standard library's float formatting, about
//! 10 KB of a wasm build, for a few labels.

/// "12 KB", "3.4 MB": KB rounded to a whole number, MB to a tenth, halves up.
pub fn bytes(size: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = KB * KB;
    if size < KB {
        format!("{size} B")
    } else if size < MB {
        format!("{} KB", (size + KB / 2) / KB)
    } else {
        let tenths = (u128::from(size) * 10 + u128::from(MB / 2)) / u128::from(MB);
        format!("{}.{} MB", tenths / 10, tenths % 10)
    }
}

/// A ratio as a whole percentage: "90 %".
pub fn percent(ratio: f64) -> String {
    format!("{} %", (ratio * 100.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The labels read as the float formatting they replaced read.
    #[test]
    fn sizes_and_ratios_read_as_the_float_formatting_did() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1 KB");
        assert_eq!(bytes(1535), "1 KB");
        assert_eq!(bytes(1536), "2 KB");
        assert_eq!(bytes(1024 * 1024 - 1), "1024 KB");
        assert_eq!(bytes(1024 * 1024), "1.0 MB");
        assert_eq!(bytes(3_565_158), "3.4 MB");
        assert_eq!(bytes(50_000_000), "47.7 MB");
        assert_eq!(bytes(u64::MAX), "17592186044416.0 MB");
        assert_eq!(percent(0.9), "90 %");
        assert_eq!(percent(1.0), "100 %");
        assert_eq!(percent(0.004), "0 %");
    }
}
