//! Reading a URL query: the WebSocket's `token` and `requestId`, and every request's `scope`.

/// The percent-decoded value of the first parameter `name` in a URL query.
pub fn query_param(query: &str, name: &str) -> Option<Vec<u8>> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key) == name.as_bytes()).then(|| percent_decode(value))
    })
}

/// Decodes `%XX` escapes and `+` (a space, in a query); a malformed escape stays as it is.
pub fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            // `from_str_radix` would take a sign too: two hex digits only.
            .filter(|hex| bytes[i] == b'%' && hex.iter().all(u8::is_ascii_hexdigit))
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (b'+', None) => {
                decoded.push(b' ');
                i += 1;
            }
            (byte, None) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_percent_decoded() {
        let query = "requestId=r%201&token=s3cr%26t+x&token=second&flag";
        assert_eq!(
            query_param(query, "token").as_deref(),
            Some(&b"s3cr&t x"[..])
        );
        assert_eq!(
            query_param(query, "requestId").as_deref(),
            Some(&b"r 1"[..])
        );
        assert_eq!(query_param(query, "flag").as_deref(), Some(&b""[..]));
        assert_eq!(query_param(query, "missing"), None);
        assert_eq!(percent_decode("100%zz%4%+1"), b"100%zz%4% 1");
        assert_eq!(percent_decode("%e2%9c%93"), "✓".as_bytes());
    }
}
