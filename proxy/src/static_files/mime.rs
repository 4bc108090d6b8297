//! MIME type lookup as nginx does it: by the URI's extension, case-insensitively, falling back
//! to `default_type`.

pub use super::mime_table::NGINX_MIME_TYPES;

/// An extension → type table (nginx's `types {}`): entries sorted by lowercase extension,
/// looked up by binary search comparing case-insensitively (no hashing, no allocation).
#[derive(Debug, Clone, Default)]
pub struct MimeTypes {
    entries: Vec<(Box<str>, Box<str>)>,
}

impl MimeTypes {
    /// nginx 1.22.1's `conf/mime.types` (what `include mime.types;` loads).
    pub fn nginx_default() -> MimeTypes {
        MimeTypes::from_pairs(NGINX_MIME_TYPES.iter().map(|&(e, t)| (e, t)))
    }

    /// nginx's built-in table when the config has no `types {}` / `include mime.types`:
    /// only `html`, `gif` and `jpg`.
    pub fn nginx_builtin() -> MimeTypes {
        MimeTypes::from_pairs([
            ("html", "text/html"),
            ("gif", "image/gif"),
            ("jpg", "image/jpeg"),
        ])
    }

    /// A table from (extension, type) pairs; extensions are matched case-insensitively. A
    /// later duplicate extension replaces an earlier one.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> MimeTypes {
        let map: std::collections::BTreeMap<String, &str> = pairs
            .into_iter()
            .map(|(e, t)| (e.to_ascii_lowercase(), t))
            .collect();
        let entries = map
            .into_iter()
            .map(|(e, t)| (e.into_boxed_str(), t.into()))
            .collect();
        MimeTypes { entries }
    }

    /// The type of extension `ext` (without the dot), if known.
    pub fn lookup(&self, ext: &[u8]) -> Option<&str> {
        self.entries
            .binary_search_by(|(e, _)| cmp_lower(e.as_bytes(), ext))
            .ok()
            .map(|i| &*self.entries[i].1)
    }

    /// The type for a URI (nginx takes the extension from the URI, not the file path), or
    /// `default_type`.
    pub fn for_uri<'a>(&'a self, uri: &[u8], default_type: &'a str) -> &'a str {
        super::path::exten(uri)
            .and_then(|e| self.lookup(e))
            .unwrap_or(default_type)
    }
}

/// `key` (lowercase) against `ext` lowercased, byte by byte, without copying `ext`.
fn cmp_lower(key: &[u8], ext: &[u8]) -> std::cmp::Ordering {
    for (&k, &x) in key.iter().zip(ext) {
        let x = x.to_ascii_lowercase();
        if k != x {
            return k.cmp(&x);
        }
    }
    key.len().cmp(&ext.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_table_lookups() {
        let m = MimeTypes::nginx_default();
        assert_eq!(m.lookup(b"html"), Some("text/html"));
        assert_eq!(m.lookup(b"JS"), Some("application/javascript"));
        assert_eq!(
            m.lookup(b"docx"),
            Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        );
        assert_eq!(m.lookup(b"nope"), None);
        assert_eq!(
            m.for_uri(b"/a/b.tar.gz", "application/octet-stream"),
            "application/octet-stream"
        );
        assert_eq!(m.for_uri(b"/a.d/file", "text/plain"), "text/plain");
        assert_eq!(m.for_uri(b"/x.WOFF2", "text/plain"), "font/woff2");
        assert_eq!(NGINX_MIME_TYPES.len(), 110);
        assert_eq!(MimeTypes::nginx_builtin().lookup(b"css"), None);
        // every extension of the table, in any case; the later of duplicates wins
        let last = |e: &str| {
            NGINX_MIME_TYPES
                .iter()
                .rev()
                .find(|p| p.0 == e)
                .map(|p| p.1)
        };
        for (e, _) in NGINX_MIME_TYPES {
            assert_eq!(m.lookup(e.as_bytes()), last(e), "{e}");
            assert_eq!(m.lookup(e.to_ascii_uppercase().as_bytes()), last(e), "{e}");
        }
        let d = MimeTypes::from_pairs([("A", "x/1"), ("b", "x/2"), ("a", "x/3")]);
        assert_eq!(d.lookup(b"a"), Some("x/3"));
        assert_eq!(d.lookup(b"B"), Some("x/2"));
        assert_eq!(d.lookup(b""), None);
        assert_eq!(d.lookup(b"\xff"), None);
        assert_eq!(MimeTypes::default().lookup(b"a"), None);
    }
}
