//! Adding query parameters to the server URL: the browser cannot set headers on a WebSocket
//! handshake, so the token and the request id travel in the query.

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
