//! Status lines and nginx's built-in error pages, byte for byte (`special_response.c`), with
//! `server_tokens` deciding the `nginx/1.22.1` tail.

/// The version string nginx prints in error pages and `Server` (we send `Server: proxylab`;
/// the page bodies keep nginx's tail so that they are byte-identical to nginx's).
pub const NGINX_VERSION: &str = "1.22.1";

/// nginx's reason phrase for `code`; `""` for codes nginx has no text for (it then sends
/// `HTTP/1.1 418 ` with a trailing space).
pub fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 | 494 | 495 | 496 | 497 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Time-out",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Large",
        415 => "Unsupported Media Type",
        416 => "Requested Range Not Satisfiable",
        421 => "Misdirected Request",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Temporarily Unavailable",
        504 => "Gateway Time-out",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => "",
    }
}

/// The code sent on the wire (494..497 go out as 400).
pub fn wire_code(code: u16) -> u16 {
    if (494..=497).contains(&code) {
        400
    } else {
        code
    }
}

/// Title of nginx's page for `code`, or None when nginx has no page (body is then empty).
fn page_title(code: u16) -> Option<&'static str> {
    Some(match code {
        301 => "301 Moved Permanently",
        302 => "302 Found",
        303 => "303 See Other",
        307 => "307 Temporary Redirect",
        308 => "308 Permanent Redirect",
        400 => "400 Bad Request",
        401 => "401 Authorization Required",
        402 => "402 Payment Required",
        403 => "403 Forbidden",
        404 => "404 Not Found",
        405 => "405 Not Allowed",
        406 => "406 Not Acceptable",
        408 => "408 Request Time-out",
        409 => "409 Conflict",
        410 => "410 Gone",
        411 => "411 Length Required",
        412 => "412 Precondition Failed",
        413 => "413 Request Entity Too Large",
        414 => "414 Request-URI Too Large",
        415 => "415 Unsupported Media Type",
        416 => "416 Requested Range Not Satisfiable",
        421 => "421 Misdirected Request",
        429 => "429 Too Many Requests",
        494 => "400 Request Header Or Cookie Too Large",
        495 => "400 The SSL certificate error",
        496 => "400 No required SSL certificate was sent",
        497 => "400 The plain HTTP request was sent to HTTPS port",
        500 => "500 Internal Server Error",
        501 => "501 Not Implemented",
        502 => "502 Bad Gateway",
        503 => "503 Service Temporarily Unavailable",
        504 => "504 Gateway Time-out",
        505 => "505 HTTP Version Not Supported",
        507 => "507 Insufficient Storage",
        _ => return None,
    })
}

/// nginx's error page body for `code` (empty when nginx has none).
pub fn error_page(code: u16, server_tokens: bool) -> Vec<u8> {
    let Some(title) = page_title(code) else {
        return Vec::new();
    };
    let h1 = if (494..=497).contains(&code) {
        "400 Bad Request"
    } else {
        title
    };
    let mut s = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{h1}</h1></center>\r\n"
    );
    if (494..=497).contains(&code) {
        s.push_str(&format!("<center>{}</center>\r\n", &title[4..]));
    }
    if server_tokens {
        s.push_str(&format!("<hr><center>nginx/{NGINX_VERSION}</center>\r\n"));
    } else {
        s.push_str("<hr><center>nginx</center>\r\n");
    }
    s.push_str("</body>\r\n</html>\r\n");
    s.into_bytes()
}

/// Whether nginx turns keep-alive off for this status (400, 413, 414, 494, 500, 501, ...).
pub fn forces_close(code: u16) -> bool {
    matches!(
        code,
        400 | 408 | 413 | 414 | 494 | 495 | 496 | 497 | 500 | 501
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_match_nginx() {
        assert_eq!(error_page(404, true).len(), 153);
        assert_eq!(error_page(301, true).len(), 169);
        assert_eq!(error_page(302, true).len(), 145);
        assert_eq!(error_page(502, true).len(), 157);
        assert_eq!(error_page(401, true).len(), 179);
        assert!(error_page(418, true).is_empty());
        assert_eq!(reason(418), "");
    }
}
