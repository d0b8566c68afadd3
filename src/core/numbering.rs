//! One subscription's event numbering, the same for a job and for an app's own channel: the
//! last `seq` delivered, and what tells a duplicate from the server's numbering going back.
//!
//! An event below the next expected `seq` is a duplicate when it is one the app may already
//! have: a replay that starts at `since` itself, or one a polling snapshot covered. It is a
//! jump backward when the app cannot have it: below the `since` the server was asked to replay
//! after, or among the seqs the last gap skipped (never delivered). Then the server's
//! numbering went back (a restarted server, or a bogus `seq` that made the client expect far
//! too much), and the subscription is sent again from just before it, rather than every later
//! event being dropped as a duplicate. And it is stale when the app has one of that number
//! but the same subscription already delivered a higher one: a wire sends a subscription's
//! events in order, so this too is the numbering going back, reported and dropped.

use std::ops::Range;

#[derive(Debug, Default)]
pub struct Numbering {
    /// The `seq` of the last event delivered (or covered by a snapshot).
    last_seq: Option<u64>,
    /// The `since` the current subscription was sent with (0 without one): the server sends
    /// nothing below it.
    replay_from: u64,
    /// The seqs the last gap skipped: never delivered, so not duplicates.
    skipped: Option<Range<u64>>,
    /// The highest `seq` delivered from the socket since the subscription was last sent. A
    /// snapshot may raise `last_seq` past events still on their way, which is why this is not
    /// `last_seq`.
    socket_high: u64,
}

/// What an event's `seq` means for its subscription.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// New: deliver it. `gap` is `(expected, received)` when events before it are missing.
    Deliver { seq: u64, gap: Option<(u64, u64)> },
    /// One the app may have: drop it quietly.
    Duplicate,
    /// Below a `seq` this subscription already delivered: report it, drop it.
    Stale { expected: u64, received: u64 },
    /// The numbering went back below what the app has: send the subscription again with
    /// `since`; the event comes with that replay.
    Backward {
        expected: u64,
        received: u64,
        since: Option<u64>,
    },
}

impl Numbering {
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// The `seq` the next new event should carry.
    pub fn expected(&self) -> u64 {
        self.last_seq.map_or(1, |last| last.saturating_add(1))
    }

    /// Judges an event numbered `seq` by the server, recording it when it is delivered.
    pub fn judge(&mut self, seq: u64) -> Verdict {
        let expected = self.expected();
        if seq < expected {
            let skipped = self.skipped.as_ref().is_some_and(|gap| gap.contains(&seq));
            if seq == 0 || !(seq < self.replay_from || skipped) {
                if seq != 0 && seq < self.socket_high {
                    return Verdict::Stale {
                        expected,
                        received: seq,
                    };
                }
                return Verdict::Duplicate;
            }
            let since = Some(seq - 1).filter(|since| *since > 0);
            self.last_seq = since;
            self.socket_high = 0;
            self.replay_from = seq - 1;
            self.skipped = None;
            return Verdict::Backward {
                expected,
                received: seq,
                since,
            };
        }
        // A first event past 1 is a gap too: the server's log no longer had the start.
        let gap = (seq > expected).then_some((expected, seq));
        if gap.is_some() {
            self.skipped = Some(expected..seq);
        }
        self.last_seq = Some(seq);
        self.socket_high = seq;
        Verdict::Deliver { seq, gap }
    }

    /// Counts on past the last delivered `seq` for a wire without seqs; returns the number.
    pub fn next_unsequenced(&mut self) -> u64 {
        let seq = self.expected();
        self.last_seq = Some(seq);
        seq
    }

    /// A snapshot (or events numbered by the client) brought the app up to `seq`.
    pub fn caught_up_to(&mut self, seq: u64) {
        if self.last_seq.is_none_or(|last| seq > last) {
            self.last_seq = Some(seq);
        }
    }

    /// A subscribe for this subscription went out: its replay starts afresh, so an old gap's
    /// seqs may come again in it as ordinary duplicates.
    pub fn subscribe_sent(&mut self) {
        self.socket_high = 0;
        self.skipped = None;
    }

    /// The app is back at `since` (`None`: before the first event): what comes after it is new.
    pub fn rewind_to(&mut self, since: Option<u64>) {
        self.last_seq = since;
        self.replay_from = since.unwrap_or(0);
        self.socket_high = 0;
        self.skipped = None;
    }

    /// The `since` of a subscribe on a new socket: the last delivered `seq` when the wire
    /// replays from one (without it the seqs are the client's own numbering).
    pub fn since_for_new_socket(&mut self, replays: bool) -> Option<u64> {
        let since = self.last_seq.filter(|_| replays);
        self.replay_from = since.unwrap_or(0);
        since
    }
}

#[cfg(test)]
mod tests {
    use super::{Numbering, Verdict};

    #[test]
    fn a_gap_is_delivered_and_its_skipped_seqs_are_a_jump_backward_until_the_next_subscribe() {
        let mut numbering = Numbering::default();
        assert_eq!(numbering.judge(1), Verdict::Deliver { seq: 1, gap: None });
        assert_eq!(
            numbering.judge(4),
            Verdict::Deliver {
                seq: 4,
                gap: Some((2, 4))
            }
        );
        assert!(matches!(
            numbering.judge(3),
            Verdict::Backward { since: Some(2), .. }
        ));
        numbering.subscribe_sent();
        assert_eq!(numbering.judge(3), Verdict::Deliver { seq: 3, gap: None });
        numbering.subscribe_sent();
        assert_eq!(
            numbering.judge(2),
            Verdict::Duplicate,
            "not skipped any more"
        );
    }
}
