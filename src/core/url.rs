//! Adding query parameters to the server URL (the browser cannot set headers on a WebSocket
//! handshake, so the token and the request id travel in the query), what may go into a URL's
//! path, and keeping secrets out of the text of errors.

/// `base` with `name=value` pairs appended, values percent-encoded.
pub fn with_query(base: &str, parameters: &[(&str, &str)]) -> String {
    let mut url = String::from(base);
    let mut separator = if base.contains('?') { '&' } else { '?' };
    for (name, value) in parameters {
        url.push(separator);
        separator = '&';
        url.push_str(name);
        url.push('=');
        percent_encode(&mut url, value);
    }
    url
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn push_percent_encoded(out: &mut String, value: &str) {
    percent_encode(out, value);
}

fn percent_encode(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
}

/// `text` with the query and fragment of every URL in it hidden: a WebSocket URL carries the
/// token in its query, and browsers quote the URL in their error messages, which reach
/// `state.lastError`, consoles and logs. Only the host and path stay, enough to debug with.
pub fn hide_url_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_end) = find(rest, "://") {
        let url_end = scheme_end
            + rest[scheme_end..]
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
                .unwrap_or(rest.len() - scheme_end);
        let url = &rest[..url_end];
        match url[scheme_end..].find(['?', '#']) {
            Some(query) => {
                out.push_str(&url[..scheme_end + query]);
                out.push_str("?…");
            }
            None => out.push_str(url),
        }
        rest = &rest[url_end..];
    }
    out.push_str(rest);
    out
}

/// `text` with every occurrence of `secret`, as it is and percent-encoded, replaced by `…`.
/// Secrets shorter than 4 bytes are left alone: hiding them would garble ordinary words.
pub fn hide_secret(text: &str, secret: &str) -> String {
    if secret.len() < 4 {
        return text.to_owned();
    }
    let mut encoded = String::new();
    percent_encode(&mut encoded, secret);
    let mut hidden = text.to_owned();
    for form in [secret, encoded.as_str()] {
        let mut out = String::with_capacity(hidden.len());
        let mut rest = hidden.as_str();
        while let Some(start) = find(rest, form) {
            out.push_str(&rest[..start]);
            out.push('…');
            rest = &rest[start + form.len()..];
        }
        out.push_str(rest);
        hidden = out;
    }
    hidden
}

/// Where `needle` starts in `haystack`; a byte search (`str::find` with a `&str` pattern pulls
/// in the two-way searcher, 1.5 KB of wasm).
fn find(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window == needle.as_bytes())
}

/// Why `id` cannot name a job, if it cannot. A job id goes into the path of its status
/// endpoint: `.` and `..` are path segments that URL parsers resolve even when percent-encoded
/// (`%2e`), so `/api/v1/generations/..` would fetch `/api/v1/` with the page's cookies.
pub fn job_id_problem(id: &str) -> Option<&'static str> {
    match id {
        "" => Some("a job id must not be empty"),
        "." | ".." => {
            Some("a job id must not be \".\" or \"..\": it would leave its status URL's path")
        }
        _ => None,
    }
}

/// Whether a page loaded over `page_protocol` (`location.protocol`, such as "https:") may not
/// open `socket_url`: browsers block a `ws://` socket from an `https:` page as mixed content,
/// except to the loopback host. Without this check the client would retry such a socket
/// forever. `socket_url` is in lower-case scheme form (see [`crate::core::websocket_url`]).
pub fn blocked_as_mixed_content(socket_url: &str, page_protocol: &str) -> bool {
    let Some(rest) = socket_url.strip_prefix("ws://") else {
        return false;
    };
    if !page_protocol.eq_ignore_ascii_case("https:") {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_and_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(bracketed) = host_and_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        host_and_port.split(':').next().unwrap_or_default()
    };
    let host = host.to_ascii_lowercase();
    let loopback = host == "localhost"
        || host.ends_with(".localhost")
        || host == "::1"
        || host
            .parse::<core::net::Ipv4Addr>()
            .is_ok_and(|address| address.is_loopback());
    !loopback
}

#[cfg(test)]
mod tests {
    use super::with_query;

    #[test]
    fn parameters_are_appended_and_encoded() {
        assert_eq!(
            with_query("ws://a/ws", &[("token", "a b&c/é"), ("requestId", "0f")]),
            "ws://a/ws?token=a%20b%26c%2F%C3%A9&requestId=0f"
        );
        assert_eq!(
            with_query("ws://a/ws?v=1", &[("requestId", "x")]),
            "ws://a/ws?v=1&requestId=x"
        );
    }
}
