//! nginx's hidden upstream headers: which headers of an upstream response reach the client
//! (`proxy_hide_header`, `proxy_pass_header`, and the ones nginx always rebuilds).

/// Whether an upstream header is copied to the client (nginx's hide list + framing).
pub fn passed(name: &[u8], hide: &[String], pass: &[String]) -> bool {
    let is = |n: &[u8]| n.eq_ignore_ascii_case(name);
    // Dispatch on the length first: this runs for every header of every response.
    let never = match name.len() {
        10 => is(b"connection") || is(b"keep-alive"),
        14 => is(b"content-length"),
        17 => is(b"transfer-encoding"),
        _ => false,
    };
    if never {
        return false;
    }
    let hidden = match name.len() {
        4 => is(b"date"),
        5 => is(b"x-pad"),
        6 => is(b"server"),
        15 => is(b"x-accel-expires") || is(b"x-accel-charset"),
        16 => is(b"x-accel-redirect"),
        17 => is(b"x-accel-buffering"),
        18 => is(b"x-accel-limit-rate"),
        _ => false,
    };
    if hidden {
        return pass.iter().any(|p| p.as_bytes().eq_ignore_ascii_case(name));
    }
    !hide.iter().any(|h| h.as_bytes().eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::passed;

    #[test]
    fn hides_and_passes_as_nginx() {
        let none: &[String] = &[];
        for n in [
            "Connection",
            "keep-alive",
            "Content-Length",
            "Transfer-Encoding",
        ] {
            assert!(!passed(n.as_bytes(), none, &[n.to_string()]), "{n}");
        }
        for n in [
            "Date",
            "X-Pad",
            "server",
            "X-Accel-Expires",
            "x-accel-charset",
            "X-Accel-Redirect",
            "X-Accel-Buffering",
            "X-Accel-Limit-Rate",
        ] {
            assert!(!passed(n.as_bytes(), none, none), "{n}");
            assert!(passed(n.as_bytes(), none, &[n.to_ascii_lowercase()]), "{n}");
        }
        assert!(passed(b"X-Custom", none, none));
        assert!(passed(b"Content-Type", none, none));
        assert!(!passed(b"X-Custom", &["x-custom".to_string()], none));
    }
}
