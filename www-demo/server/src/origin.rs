//! Which web pages may use the server from a browser.
//!
//! A browser sends the page's origin (`Origin: https://app.example`) with every WebSocket
//! upgrade and every cross-origin request, and a page of any site can open a WebSocket to any
//! server: without a check, a page on `evil.example` opens `/ws` of a server on the user's
//! machine or intranet and reads its jobs (cross-site WebSocket hijacking). So:
//!
//! - an upgrade whose `Origin` is neither the server's own (its `Host`) nor allowed
//!   (`--allow-origin`) answers 403 before the upgrade; one without `Origin` (node's `ws`,
//!   curl, tests: not a browser, so not a page a user was lured to) is let through;
//! - the API answers CORS to the allowed origins only, and the admin routes to none, except
//!   for the origins of `--unsafe-test-origin`, which the browser tests need: their page comes
//!   from the test runner's own server and calls everything cross-origin.
//!
//! An origin pattern is `scheme://host`, `scheme://host:port`, or `scheme://host:*` for any
//! port (`http://127.0.0.1:*` for a test runner on a random port).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::auth::ADMIN_KEY_HEADER;

/// An origin, or origins differing only in port, that the server lets in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: String,
    host: String,
    port: Port,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    /// No port: the scheme's default, which browsers leave out of `Origin`.
    Default,
    Exact(u16),
    /// `:*`
    Any,
}

/// Why an origin pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadOrigin(&'static str);

impl fmt::Display for BadOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (expected scheme://host, scheme://host:port or scheme://host:*)",
            self.0
        )
    }
}

impl std::error::Error for BadOrigin {}

impl FromStr for OriginPattern {
    type Err = BadOrigin;

    fn from_str(text: &str) -> Result<OriginPattern, BadOrigin> {
        let (scheme, authority) = text.split_once("://").ok_or(BadOrigin("no scheme://"))?;
        let valid_scheme = !scheme.is_empty()
            && scheme
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'-' | b'.'));
        if !valid_scheme {
            return Err(BadOrigin("not a scheme"));
        }
        // `]` ends an IPv6 address, whose colons are not a port's.
        let port_at = authority
            .rfind(':')
            .filter(|at| !authority[*at..].contains(']'));
        let (host, port) = match port_at {
            None => (authority, Port::Default),
            Some(at) => {
                let port = match &authority[at + 1..] {
                    "*" => Port::Any,
                    digits => Port::Exact(digits.parse().map_err(|_| BadOrigin("not a port"))?),
                };
                (&authority[..at], port)
            }
        };
        let valid_host = !host.is_empty()
            && host.bytes().all(|byte| {
                byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'[' | b']' | b':')
            });
        if !valid_host {
            return Err(BadOrigin("not a host (no path, no wildcard host)"));
        }
        Ok(OriginPattern {
            scheme: scheme.to_ascii_lowercase(),
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl OriginPattern {
    /// The host of these origins, without the port: the server answers to it (see
    /// [`crate::hosts`]).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// True if the `Origin` header value `origin` is one of this pattern's origins.
    pub fn matches(&self, origin: &str) -> bool {
        match origin.parse::<OriginPattern>() {
            Ok(origin) => {
                origin.port != Port::Any
                    && origin.scheme == self.scheme
                    && origin.host == self.host
                    && (self.port == Port::Any || self.port == origin.port)
            }
            Err(_) => false,
        }
    }
}

/// The origins a server lets in, besides its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    /// `--allow-origin`: may open sockets and call the API (not the admin routes).
    pub allowed: Vec<OriginPattern>,
    /// `--unsafe-test-origin`: may do everything cross-origin, the admin routes included
    /// (they still need the admin key). For browser test runners only.
    pub unsafe_test: Vec<OriginPattern>,
}

impl Origins {
    /// True if a WebSocket upgrade with these headers may go ahead: no `Origin` (not a
    /// browser), the server's own origin, or an allowed one.
    pub fn websocket_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        same_origin(origin, headers) || self.api_allowed(origin)
    }

    /// The CORS of the API: the allowed and test origins, any method, the headers the API
    /// reads.
    pub fn api_cors(&self) -> CorsLayer {
        let patterns: Arc<Vec<OriginPattern>> = Arc::new(
            self.allowed
                .iter()
                .chain(&self.unsafe_test)
                .cloned()
                .collect(),
        );
        cors(patterns, &[header::AUTHORIZATION, header::CONTENT_TYPE])
    }

    /// The CORS of the admin routes: none, unless test origins are configured.
    pub fn admin_cors(&self) -> Option<CorsLayer> {
        let headers = [header::AUTHORIZATION, header::CONTENT_TYPE, ADMIN_KEY];
        (!self.unsafe_test.is_empty()).then(|| cors(Arc::new(self.unsafe_test.clone()), &headers))
    }

    fn api_allowed(&self, origin: &str) -> bool {
        self.allowed
            .iter()
            .chain(&self.unsafe_test)
            .any(|pattern| pattern.matches(origin))
    }
}

/// True if `origin`'s host and port are the request's `Host`: a page the server itself
/// served (or one behind the same proxy). The `Host` is one the server answers to, checked
/// before any route ([`crate::hosts`]): else a rebound name would pass as the server's own. The scheme is not compared: behind a TLS proxy the
/// page is `https://` while the server speaks plain HTTP.
fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
    else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

const ADMIN_KEY: HeaderName = HeaderName::from_static(ADMIN_KEY_HEADER);

/// A CORS layer for `patterns` that lets their pages send `headers`. The headers are named:
/// `Access-Control-Allow-Headers: *` never covers `Authorization`, so a page sending its token
/// would fail the preflight.
fn cors(patterns: Arc<Vec<OriginPattern>>, headers: &[HeaderName]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin
                .to_str()
                .is_ok_and(|origin| patterns.iter().any(|pattern| pattern.matches(origin)))
        }))
        .allow_methods(Any)
        .allow_headers(headers.to_vec())
        .expose_headers([header::LOCATION])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> OriginPattern {
        text.parse()
            .unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    #[test]
    fn a_pattern_matches_its_origin_and_a_port_wildcard_any_port() {
        assert!(pattern("https://app.example").matches("https://app.example"));
        assert!(pattern("https://App.Example").matches("https://app.example"));
        assert!(!pattern("https://app.example").matches("http://app.example"));
        assert!(!pattern("https://app.example").matches("https://app.example:8443"));
        assert!(!pattern("https://app.example").matches("https://app.example.evil.example"));
        assert!(pattern("http://127.0.0.1:*").matches("http://127.0.0.1:5173"));
        assert!(!pattern("http://127.0.0.1:*").matches("http://127.0.0.2:5173"));
        assert!(pattern("http://[::1]:8080").matches("http://[::1]:8080"));
        assert!(!pattern("http://localhost:*").matches("null"));
        assert!(!pattern("http://localhost:*").matches("http://localhost:*"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for text in [
            "app.example",
            "https://",
            "https://app.example/",
            "https://*.example",
            "https://app.example:port",
            "://app.example",
        ] {
            assert!(text.parse::<OriginPattern>().is_err(), "{text}");
        }
    }
}
