//! Application messages, handled once per id: the server side of the client's outbox.
//!
//! A client resends a message whose `ack` it never saw (the socket dropped first), so the server
//! must recognise the id and acknowledge it again without handling it twice. It remembers the
//! most recent ids only: a resend comes seconds after the original, not ten thousand messages
//! later, and an unbounded set would grow for as long as the server runs.

use std::collections::{HashSet, VecDeque};

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
