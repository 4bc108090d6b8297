//! nginx's location choice (`ngx_http_core_find_location`): exact match stops; else the
//! longest prefix (with the auto-redirect case for `/x/` requested as `/x`); nested locations
//! of the chosen prefix are searched first; regexes of a level run in config order unless the
//! chosen prefix at that level is `^~`.

use crate::conf::model::{LocKind, Location, LocationTree};
use std::ops::Range;
use std::sync::Arc;

/// Result of the search.
#[derive(Debug)]
pub enum Found {
    /// A location (exact, prefix or regex) with regex captures (`$0..$9`).
    Loc(Arc<Location>, Vec<Option<Range<usize>>>),
    /// The URI is a slash-less `proxy_pass` prefix location: 301 to `uri + "/"`.
    Redirect(Arc<Location>),
    /// No location matched.
    None,
}

enum Rc {
    Ok(Arc<Location>, Vec<Option<Range<usize>>>),
    Done(Arc<Location>),
    Again(Arc<Location>),
    Declined,
}

fn find_static(tree: &LocationTree, uri: &[u8]) -> Rc {
    for (name, l) in &tree.exact {
        if name.as_bytes() == uri {
            return Rc::Ok(l.clone(), Vec::new());
        }
    }
    for l in &tree.prefix {
        if l.auto_redirect && l.name.len() == uri.len() + 1 && l.name.as_bytes().starts_with(uri) {
            return Rc::Done(l.clone());
        }
        if uri.starts_with(l.name.as_bytes()) {
            return Rc::Again(l.clone());
        }
    }
    Rc::Declined
}

fn find(tree: &LocationTree, uri: &[u8]) -> Rc {
    let mut noregex = false;
    let mut rc = find_static(tree, uri);
    if let Rc::Again(l) = &rc {
        noregex = matches!(l.kind, LocKind::NoRegex);
        let l = l.clone();
        let inner = &l.children;
        if !inner.exact.is_empty() || !inner.prefix.is_empty() || !inner.regex.is_empty() {
            match find(inner, uri) {
                r @ (Rc::Ok(..) | Rc::Done(_)) => return r,
                Rc::Again(nested) => rc = Rc::Again(nested),
                Rc::Declined => {}
            }
        }
    }
    if matches!(rc, Rc::Ok(..) | Rc::Done(_)) {
        return rc;
    }
    if !noregex {
        for l in &tree.regex {
            if let LocKind::Regex(re) = &l.kind {
                // Location regexes match the URI as bytes; non-UTF-8 URIs only match lossily.
                let text = String::from_utf8_lossy(uri);
                if let Some(c) = re.captures(&text) {
                    let caps = if matches!(text, std::borrow::Cow::Borrowed(_)) {
                        c.iter().map(|m| m.map(|m| m.range())).collect()
                    } else {
                        Vec::new()
                    };
                    let inner = &l.children;
                    if !inner.exact.is_empty()
                        || !inner.prefix.is_empty()
                        || !inner.regex.is_empty()
                    {
                        match find(inner, uri) {
                            r @ (Rc::Ok(..) | Rc::Done(_)) => return r,
                            Rc::Again(nested) => return Rc::Ok(nested, Vec::new()),
                            Rc::Declined => {}
                        }
                    }
                    return Rc::Ok(l.clone(), caps);
                }
            }
        }
    }
    rc
}

/// Finds the location for a normalized URI.
pub fn locate(tree: &LocationTree, uri: &[u8]) -> Found {
    match find(tree, uri) {
        Rc::Ok(l, caps) => Found::Loc(l, caps),
        Rc::Again(l) => Found::Loc(l, Vec::new()),
        Rc::Done(l) => Found::Redirect(l),
        Rc::Declined => Found::None,
    }
}
