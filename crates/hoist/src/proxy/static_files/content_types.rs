//! What a file is, by its extension, and which pre-compressed encodings a client takes.

use std::path::Path;

/// The `Content-Type` of a file named `path`; text types say they are UTF-8.
pub fn content_type(path: &Path) -> &'static str {
    let Some(extension) = path.extension().and_then(|e| e.to_str()) else {
        return OCTET_STREAM;
    };
    let mut lower = [0u8; 8];
    let Some(lower) = lowercase(extension, &mut lower) else {
        return OCTET_STREAM;
    };
    match lower {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "csv" => "text/csv; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/vnd.microsoft.icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        _ => OCTET_STREAM,
    }
}

const OCTET_STREAM: &str = "application/octet-stream";

/// `extension` in lower case, in `buffer`; none when it is longer than any in the table.
fn lowercase<'a>(extension: &str, buffer: &'a mut [u8; 8]) -> Option<&'a str> {
    let bytes = extension.as_bytes();
    let slot = buffer.get_mut(..bytes.len())?;
    slot.copy_from_slice(bytes);
    slot.make_ascii_lowercase();
    std::str::from_utf8(slot).ok()
}

/// Whether an `Accept-Encoding` value takes `coding` (`br`, `gzip`): named with q > 0, or
/// covered by `*` with q > 0 and not named.
pub fn accepts(accept_encoding: &str, coding: &str) -> bool {
    let mut wildcard = false;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(coding) {
            return quality > 0.0;
        }
        if name == "*" {
            wildcard = quality > 0.0;
        }
    }
    wildcard
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_extension_in_any_case() {
        let cases = [
            ("index.html", "text/html; charset=utf-8"),
            ("app.JS", "text/javascript; charset=utf-8"),
            ("module.mjs", "text/javascript; charset=utf-8"),
            ("app.js.map", "application/json"),
            ("logo.SVG", "image/svg+xml"),
            ("photo.jpeg", "image/jpeg"),
            ("font.woff2", "font/woff2"),
            ("app.wasm", "application/wasm"),
            ("backup.tar.gz", "application/gzip"),
            ("data.csv", "text/csv; charset=utf-8"),
            ("README", "application/octet-stream"),
            ("archive.unknownext", "application/octet-stream"),
            ("weird.verylongextension", "application/octet-stream"),
        ];
        for (name, expected) in cases {
            assert_eq!(content_type(Path::new(name)), expected, "{name}");
        }
    }

    #[test]
    fn encodings_are_accepted_by_name_quality_and_wildcard() {
        assert!(accepts("gzip, deflate, br", "br"));
        assert!(accepts("gzip, deflate, br", "gzip"));
        assert!(!accepts("gzip", "br"));
        assert!(!accepts("br;q=0, gzip", "br"));
        assert!(accepts("br;q=0.5", "br"));
        assert!(accepts("BR", "br"));
        assert!(accepts("*", "gzip"));
        assert!(!accepts("*, gzip;q=0", "gzip"));
        assert!(!accepts("identity", "gzip"));
        assert!(!accepts("", "gzip"));
    }
}
