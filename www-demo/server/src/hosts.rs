//! Which names the server answers to: a defence against DNS rebinding.
//!
//! The origin check ([`crate::origin`]) trusts a page whose origin is the server's own, and
//! "own" means the `Origin`'s host and port are the request's `Host`. A page of
//! `http://rebind.evil:8787` whose name its owner then points at 127.0.0.1 passes that check:
//! the browser connects to the server on the user's machine and sends `Host: rebind.evil:8787`
//! and `Origin: http://rebind.evil:8787`, and the page reads the jobs as if it were the demo.
//! So every request but `/healthz` must name a host the server knows itself by, or it answers
//! 403 (as Vite's `server.allowedHosts` does):
//!
//! - the loopback names, `localhost` and any `*.localhost`;
//! - any IP address: a browser that sends an address as `Host` connected to that address, so
//!   no name was rebound (this covers `127.0.0.1`, `[::1]`, the address the server listens on
//!   and a LAN address of a server bound to `0.0.0.0`);
//! - the hosts of the `--allow-origin` and `--unsafe-test-origin` patterns;
//! - the names given with `--allow-host`: a server reached by a real name (bound to `0.0.0.0`
//!   behind `jobs.example.com`, say) must list that name.
//!
//! A request without `Host` is let through: browsers always send one, so it is not a page's.

use std::collections::HashSet;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Config;
use crate::http::ApiError;

/// A name the server answers to, given with `--allow-host`: a DNS name or an IP address, in
/// lower case, without a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostName(String);

/// Why a host name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHost(&'static str);

impl fmt::Display for BadHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (expected a host name such as jobs.example.com, without scheme or port)",
            self.0
        )
    }
}

impl std::error::Error for BadHost {}

impl FromStr for HostName {
    type Err = BadHost;

    fn from_str(text: &str) -> Result<HostName, BadHost> {
        if text.contains("://") {
            return Err(BadHost("a host, not an origin"));
        }
        let valid = !text.is_empty()
            && text
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.'));
        if !valid && !is_ip_literal(text) {
            return Err(BadHost("not a host name"));
        }
        Ok(HostName(normalized(text)))
    }
}

impl HostName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The names a server answers to besides the loopback names and IP addresses.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    names: HashSet<String>,
}

impl AllowedHosts {
    /// The `--allow-host` names and the hosts of the configured origin patterns.
    pub fn of(config: &Config) -> AllowedHosts {
        let origins = &config.origins;
        let patterns = origins.allowed.iter().chain(&origins.unsafe_test);
        let names = config
            .allowed_hosts
            .iter()
            .map(|host| host.as_str().to_owned())
            .chain(patterns.map(|pattern| normalized(pattern.host())))
            .collect();
        AllowedHosts { names }
    }

    /// True if a request whose `Host` header is `host` (with or without a port) is for this
    /// server.
    pub fn allows(&self, host: &str) -> bool {
        let Some(name) = name_of(host) else {
            return false;
        };
        name == "localhost"
            || name.ends_with(".localhost")
            || is_ip_literal(&name)
            || self.names.contains(&name)
    }
}

/// Middleware: answers 403 to a request whose `Host` is not one the server answers to.
pub async fn require_allowed_host(
    State(hosts): State<Arc<AllowedHosts>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .map(|host| host.to_str());
    match host {
        None => next.run(request).await,
        Some(Ok(host)) if hosts.allows(host) => next.run(request).await,
        _ => {
            let message = "this server does not answer to that host name; if it is the \
                           server's, start it with --allow-host NAME"
                .to_owned();
            ApiError::Forbidden(message).into_response()
        }
    }
}

/// The host of a `Host` header value, without its port, normalized; `None` if malformed.
fn name_of(host: &str) -> Option<String> {
    let name = if host.starts_with('[') {
        // `[v6]` or `[v6]:port`: the colons inside the brackets are not a port's.
        let end = host.find(']')?;
        let rest = &host[end + 1..];
        if !(rest.is_empty() || port_is_valid(rest.strip_prefix(':')?)) {
            return None;
        }
        &host[..=end]
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port_is_valid(port) => name,
            Some(_) => return None,
            None => host,
        }
    };
    (!name.is_empty()).then(|| normalized(name))
}

fn port_is_valid(port: &str) -> bool {
    port.parse::<u16>().is_ok()
}

/// Lower case, without the trailing dot of a fully qualified name (`localhost.` is
/// `localhost`).
fn normalized(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// `1.2.3.4` or `[::1]`.
fn is_ip_literal(name: &str) -> bool {
    match name
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        Some(v6) => v6.parse::<Ipv6Addr>().is_ok(),
        None => name.parse::<Ipv4Addr>().is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(allowed: &[&str]) -> AllowedHosts {
        AllowedHosts {
            names: allowed.iter().map(|name| (*name).to_owned()).collect(),
        }
    }

    #[test]
    fn loopback_names_and_ip_addresses_are_allowed_with_or_without_a_port() {
        let hosts = hosts(&[]);
        for host in [
            "localhost",
            "localhost:8787",
            "LocalHost.:8787",
            "app.localhost:5173",
            "127.0.0.1:8787",
            "192.168.1.5",
            "[::1]:8787",
            "[::1]",
        ] {
            assert!(hosts.allows(host), "{host}");
        }
    }

    #[test]
    fn other_names_are_refused_unless_listed() {
        let hosts = hosts(&["jobs.example.com"]);
        assert!(hosts.allows("jobs.example.com"));
        assert!(hosts.allows("JOBS.example.com:443"));
        for host in [
            "rebind.evil:8787",
            "localhost.evil",
            "evil.jobs.example.com",
            "127.0.0.1.evil",
            "localhost:port",
            "[::1]x",
            "",
            ":8787",
        ] {
            assert!(!hosts.allows(host), "{host}");
        }
    }

    #[test]
    fn an_allowed_host_is_a_name_or_an_address_without_scheme_or_port() {
        assert_eq!(
            "Jobs.Example.com".parse::<HostName>().map(|host| host.0),
            Ok("jobs.example.com".to_owned())
        );
        assert!("[::1]".parse::<HostName>().is_ok());
        for text in [
            "",
            "https://jobs.example.com",
            "jobs.example.com:443",
            "*.example",
        ] {
            assert!(text.parse::<HostName>().is_err(), "{text}");
        }
    }
}
