//! Application messages, handled once per id: the server side of the client's outbox.
//!
//! A client resends a message whose `ack` it never saw (the socket dropped first), so the server
//! must recognise the id and acknowledge it again without handling it twice. It remembers the
//! most recent ids only: a resend comes seconds after the original, not ten thousand messages
//! later, and an unbounded set would grow for as long as the server runs.
//!
//! A message comes as a `message` frame on `/ws` or, from a client that polls because its
//! network blocks WebSockets, as `POST /api/v1/messages`. Both go through [`receive`], so the
//! same id is handled once whichever way, and how often, it comes.

use std::collections::{HashSet, VecDeque};

use crate::scope::Scope;
use crate::state::AppState;

/// How many recent message ids the server remembers.
pub const REMEMBERED_IDS: usize = 10_000;

/// The longest message id accepted, so the remembered ids stay small.
pub const MAX_ID_BYTES: usize = 256;

/// The ids of the most recently handled messages, and how many messages were handled.
#[derive(Debug, Default)]
pub struct MessageLog {
    seen: HashSet<String>,
    order: VecDeque<String>,
    handled: u64,
}

impl MessageLog {
    /// Records message `id`. True if it is new and the caller should handle it; false for a
    /// duplicate, which is acknowledged but not handled again.
    pub fn first_time(&mut self, id: &str) -> bool {
        if self.seen.contains(id) {
            return false;
        }
        if self.order.len() >= REMEMBERED_IDS {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.seen.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        self.handled += 1;
        true
    }

    /// How many distinct messages were handled since the server started.
    pub fn handled(&self) -> u64 {
        self.handled
    }
}

/// Why a message is not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The id is longer than [`MAX_ID_BYTES`]: a client error, not worth retrying.
    LongId,
    /// Redis did not answer, so the server cannot tell whether the id is new: no ack, and the
    /// client sends the message again later.
    Unrecorded(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::LongId => write!(f, "message id longer than {MAX_ID_BYTES} bytes"),
            Refused::Unrecorded(reason) => f.write_str(reason),
        }
    }
}

/// Takes message `id` from a client of `scope`: records it and, the first time the server sees
/// it, handles it (counted in the scope's `handled_messages`). `Ok` means the caller acks it,
/// and counts the ack once it is sent.
///
/// With `--redis` the id is remembered in Redis, so a message resent through another instance
/// is handled once; in memory, in the server's [`MessageLog`].
pub async fn receive(state: &AppState, scope: &Scope, id: &str) -> Result<(), Refused> {
    if id.len() > MAX_ID_BYTES {
        return Err(Refused::LongId);
    }
    let first_time = match state.redis() {
        Some(hub) => hub
            .first_time_message(id)
            .await
            .map_err(|error| Refused::Unrecorded(format!("cannot record message {id}: {error}")))?,
        None => state.first_time_message(id),
    };
    // Handling a message is counting it: the demo has no application messages yet.
    if first_time {
        scope.handled();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_id_is_handled_once() {
        let mut log = MessageLog::default();
        assert!(log.first_time("m_1"));
        assert!(!log.first_time("m_1"));
        assert!(log.first_time("m_2"));
        assert_eq!(log.handled(), 2);
    }

    #[test]
    fn only_the_most_recent_ids_are_remembered() {
        let mut log = MessageLog::default();
        for n in 0..=REMEMBERED_IDS {
            assert!(log.first_time(&format!("m_{n}")));
        }
        assert!(log.first_time("m_0"), "the oldest id was forgotten");
        assert!(!log.first_time(&format!("m_{REMEMBERED_IDS}")));
    }
}
