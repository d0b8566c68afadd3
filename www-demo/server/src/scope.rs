//! Fault scopes: the admin API's switches and counters, kept apart per test.
//!
//! A test that refuses upgrades or drops sockets must not break another test running at the
//! same time on the same server, nor leave a switch on for the next one if it fails half way.
//! So every switch and counter lives in a [`Scope`], and every request names its scope with
//! the `scope` query parameter: the WebSocket (`/ws?scope=t1`), the snapshot endpoints
//! (`/api/v1/generations/{id}?scope=t1`), the message endpoint (`/api/v1/messages?scope=t1`)
//! and the admin routes (`/admin/refuse-ws?scope=t1`).
//! A request without one belongs to the unnamed scope, which the demo page uses.
//!
//! Scopes are made on first use and kept while the server runs, so their number is bounded.
//! Without `--admin` nothing can flip a switch, and the parameter is ignored.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use tokio::sync::watch;

/// Most named scopes a server keeps: a test suite uses one per test and server.
pub const MAX_SCOPES: usize = 10_000;

/// Longest scope name, in bytes.
pub const MAX_SCOPE_BYTES: usize = 64;

/// A fault the admin API turns on and off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// `ping` frames go unanswered.
    MutePongs,
    /// WebSocket upgrades answer 503.
    RefuseWs,
    /// The snapshot endpoints answer 503.
    FailPolls,
    /// `POST /api/v1/messages` answers 503 and handles nothing; messages on sockets still go.
    FailMessages,
}

/// What `GET /admin/stats` answers: counts in one scope since the server started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// WebSocket upgrades accepted, including sockets then closed for a bad token.
    pub ws_connections_total: u64,
    /// Those still open.
    pub ws_open: u64,
    /// Distinct message ids handled, from sockets and `POST /api/v1/messages` alike.
    pub handled_messages: u64,
    /// Acks sent, duplicates included: `ack` frames, and `POST /api/v1/messages` answered 200.
    pub acked_messages: u64,
    /// Requests for a snapshot (`GET /api/v1/{generations,compositions}/{id}`), failed included.
    pub poll_requests: u64,
    /// Sockets closed because their client did not take a frame in time (4008).
    pub slow_consumers: u64,
}

/// Why a request's scope cannot be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeError {
    /// The name is empty, too long, or has characters other than ASCII letters, digits, `-`,
    /// `_` and `.`.
    BadName,
    /// [`MAX_SCOPES`] scopes exist already.
    TooMany,
}

impl std::fmt::Display for ScopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScopeError::BadName => write!(
                f,
                "scope must be 1 to {MAX_SCOPE_BYTES} ASCII letters, digits, '-', '_' or '.'"
            ),
            ScopeError::TooMany => write!(f, "the server keeps at most {MAX_SCOPES} scopes"),
        }
    }
}

/// The switches and counters of one scope.
#[derive(Debug)]
pub struct Scope {
    /// Bumped by [`Scope::drop_sockets`]; each open socket of the scope watches it.
    drops: watch::Sender<u64>,
    mute_pongs: AtomicBool,
    refuse_ws: AtomicBool,
    fail_polls: AtomicBool,
    fail_messages: AtomicBool,
    ws_total: AtomicU64,
    ws_open: AtomicU64,
    handled: AtomicU64,
    acked: AtomicU64,
    polls: AtomicU64,
    slow: AtomicU64,
}

/// An open socket, counted in its scope's [`Stats::ws_open`] until dropped.
#[derive(Debug)]
pub struct OpenSocket {
    scope: Arc<Scope>,
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.scope.ws_open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Scope {
    fn new() -> Scope {
        Scope {
            drops: watch::Sender::new(0),
            mute_pongs: AtomicBool::new(false),
            refuse_ws: AtomicBool::new(false),
            fail_polls: AtomicBool::new(false),
            fail_messages: AtomicBool::new(false),
            ws_total: AtomicU64::new(0),
            ws_open: AtomicU64::new(0),
            handled: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            slow: AtomicU64::new(0),
        }
    }

    /// True while `switch` is on.
    pub fn switch(&self, switch: Switch) -> bool {
        self.flag(switch).load(Ordering::Relaxed)
    }

    pub fn set_switch(&self, switch: Switch, on: bool) {
        self.flag(switch).store(on, Ordering::Relaxed);
    }

    fn flag(&self, switch: Switch) -> &AtomicBool {
        match switch {
            Switch::MutePongs => &self.mute_pongs,
            Switch::RefuseWs => &self.refuse_ws,
            Switch::FailPolls => &self.fail_polls,
            Switch::FailMessages => &self.fail_messages,
        }
    }

    /// Tells every open socket of this scope to drop its connection at once.
    pub fn drop_sockets(&self) {
        self.drops.send_modify(|drops| *drops += 1);
    }

    /// A receiver that changes on every [`Scope::drop_sockets`] from now on.
    pub fn drops(&self) -> watch::Receiver<u64> {
        self.drops.subscribe()
    }

    /// Counts a new socket as open until the returned guard drops.
    pub fn socket_opened(self: &Arc<Self>) -> OpenSocket {
        self.ws_total.fetch_add(1, Ordering::Relaxed);
        self.ws_open.fetch_add(1, Ordering::Relaxed);
        OpenSocket {
            scope: Arc::clone(self),
        }
    }

    /// Counts a message handled for the first time.
    pub fn handled(&self) {
        self.handled.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an ack sent: an `ack` frame, or a message POST answered 200.
    pub fn acked(&self) {
        self.acked.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request for a snapshot.
    pub fn polled(&self) {
        self.polls.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a socket closed as a slow consumer.
    pub fn slow_consumer(&self) {
        self.slow.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters of `GET /admin/stats`.
    pub fn stats(&self) -> Stats {
        Stats {
            ws_connections_total: self.ws_total.load(Ordering::Relaxed),
            ws_open: self.ws_open.load(Ordering::Relaxed),
            handled_messages: self.handled.load(Ordering::Relaxed),
            acked_messages: self.acked.load(Ordering::Relaxed),
            poll_requests: self.polls.load(Ordering::Relaxed),
            slow_consumers: self.slow.load(Ordering::Relaxed),
        }
    }
}

/// Every scope of a server: the unnamed one and those named so far.
#[derive(Debug)]
pub struct Scopes {
    unnamed: Arc<Scope>,
    named: Mutex<HashMap<String, Arc<Scope>>>,
}

impl Default for Scopes {
    fn default() -> Self {
        Scopes {
            unnamed: Arc::new(Scope::new()),
            named: Mutex::new(HashMap::new()),
        }
    }
}

impl Scopes {
    /// The scope called `name`, made if new; the unnamed scope for `None`.
    pub fn get(&self, name: Option<&[u8]>) -> Result<Arc<Scope>, ScopeError> {
        let Some(name) = name else {
            return Ok(Arc::clone(&self.unnamed));
        };
        let valid = (1..=MAX_SCOPE_BYTES).contains(&name.len())
            && name
                .iter()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
        // Checked above: ASCII only.
        let name = match std::str::from_utf8(name) {
            Ok(name) if valid => name,
            _ => return Err(ScopeError::BadName),
        };
        // A map update cannot panic half way, so a poisoned lock still guards a whole map.
        let mut named = self.named.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(scope) = named.get(name) {
            return Ok(Arc::clone(scope));
        }
        if named.len() >= MAX_SCOPES {
            return Err(ScopeError::TooMany);
        }
        let scope = Arc::new(Scope::new());
        named.insert(name.to_owned(), Arc::clone(&scope));
        Ok(scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_in_one_scope_leaves_the_others_alone() {
        let scopes = Scopes::default();
        let first = scopes.get(Some(b"first")).unwrap();
        first.set_switch(Switch::RefuseWs, true);
        assert!(scopes.get(Some(b"first")).unwrap().switch(Switch::RefuseWs));
        assert!(
            !scopes
                .get(Some(b"second"))
                .unwrap()
                .switch(Switch::RefuseWs)
        );
        assert!(!scopes.get(None).unwrap().switch(Switch::RefuseWs));
    }

    #[test]
    fn counters_are_kept_per_scope() {
        let scopes = Scopes::default();
        scopes.get(Some(b"a")).unwrap().polled();
        scopes.get(Some(b"a")).unwrap().polled();
        scopes.get(None).unwrap().polled();
        assert_eq!(scopes.get(Some(b"a")).unwrap().stats().poll_requests, 2);
        assert_eq!(scopes.get(None).unwrap().stats().poll_requests, 1);
    }

    #[test]
    fn bad_names_are_refused() {
        let scopes = Scopes::default();
        let long = [b'a'; MAX_SCOPE_BYTES + 1];
        for name in [&b""[..], b"a b", b"\xff", b"a/b", &long] {
            assert_eq!(scopes.get(Some(name)).unwrap_err(), ScopeError::BadName);
        }
        assert!(scopes.get(Some(&long[..MAX_SCOPE_BYTES])).is_ok());
    }

    #[test]
    fn the_number_of_scopes_is_bounded() {
        let scopes = Scopes::default();
        for n in 0..MAX_SCOPES {
            scopes.get(Some(format!("s{n}").as_bytes())).unwrap();
        }
        assert_eq!(
            scopes.get(Some(b"one-more")).unwrap_err(),
            ScopeError::TooMany
        );
        assert!(
            scopes.get(Some(b"s0")).is_ok(),
            "existing scopes still work"
        );
    }
}
