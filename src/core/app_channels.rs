//! The app's own channels and event names: beyond generation and composition jobs, an app
//! subscribes to any channel by name and id (a workspace, a project) and listens to any event
//! by name (`approval.created`, `notification.new`), on every dialect.
//!
//! A channel subscription is reference-counted like a job's and resubscribed on every new
//! socket. Where the wire numbers a channel's events (protocol v1), the same rules as for jobs
//! make them exactly-once and in order: events wait for the answer to the last subscribe sent
//! on the socket, a replay from the last `seq` follows it, duplicates are dropped and gaps
//! reported. Where it does not (Socket.IO rooms, plain JSON), events are numbered on arrival.
//!
//! Duplicates, gaps and a numbering that goes back are told apart as for jobs, by
//! [`Numbering`]: on a jump backward the channel is subscribed again from just before it.
//!
//! Events the wire does not tag with a channel (a Socket.IO server's rooms are its own) go to
//! the app by name when it listens to that name or has any channel subscription; otherwise they
//! are reported as unknown.

use super::numbering::{Numbering, Verdict};
use super::protocol::ClientFrame;
use super::small_map::{KeyOrder, SmallMap};

/// An app channel: its name and id. Ordered (for the map's lookups) and compared with
/// `(&str, &str)` too, so lookups allocate no key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    channel: String,
    id: String,
}

impl PartialEq<(&str, &str)> for Key {
    fn eq(&self, (channel, id): &(&str, &str)) -> bool {
        self.channel == *channel && self.id == *id
    }
}

impl KeyOrder<(&str, &str)> for Key {
    fn order(&self, query: &(&str, &str)) -> std::cmp::Ordering {
        (self.channel.as_str(), self.id.as_str()).cmp(query)
    }
}

#[derive(Debug)]
struct Entry {
    refs: u32,
    numbering: Numbering,
    /// The answer to the last subscribe sent on this socket arrived (see the module doc).
    confirmed: bool,
}

/// What to do with an event of an app channel, or of a name.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Deliver it as `seq`; `gap` is `(expected, received)` when events before it are missing.
    Deliver { seq: u64, gap: Option<(u64, u64)> },
    /// A duplicate, a late event of a channel no longer watched, or one before the answer to
    /// its subscribe: dropped quietly.
    Drop,
    /// Nobody listens to events of this name and no channel could be theirs.
    Unwanted,
    /// The channel's numbering went back: subscribe it again with `since` (see the module
    /// doc); the event comes with that replay.
    Backward {
        expected: u64,
        received: u64,
        since: Option<u64>,
    },
    /// Below a `seq` this subscription already delivered: reported, not delivered.
    Stale { expected: u64, received: u64 },
}

#[derive(Debug, Default)]
pub struct AppChannels {
    channels: SmallMap<Key, Entry>,
    /// Subscribes sent on the current socket and not answered yet.
    answers_due: SmallMap<Key, u32>,
    /// Event names the app listens to, with how many listeners each.
    listeners: SmallMap<String, u32>,
    /// The numbering of events the wire tags with no channel.
    untagged_seq: u64,
}

impl AppChannels {
    /// Adds a reference; true when the channel was not watched before.
    pub fn add(&mut self, channel: &str, id: &str) -> bool {
        if let Some(entry) = self.channels.get_mut(&(channel, id)) {
            entry.refs += 1;
            return false;
        }
        let key = Key {
            channel: channel.to_owned(),
            id: id.to_owned(),
        };
        let entry = Entry {
            refs: 1,
            numbering: Numbering::default(),
            confirmed: false,
        };
        self.channels.insert(key, entry);
        true
    }

    /// Drops a reference; true when it was the last.
    pub fn remove(&mut self, channel: &str, id: &str) -> bool {
        let Some(entry) = self.channels.get_mut(&(channel, id)) else {
            return false;
        };
        entry.refs -= 1;
        if entry.refs > 0 {
            return false;
        }
        self.channels.remove(&(channel, id));
        true
    }

    /// One more listener of `event`.
    pub fn listen(&mut self, event: &str) {
        match self.listeners.get_mut(event) {
            Some(count) => *count += 1,
            None => self.listeners.insert(event.to_owned(), 1),
        }
    }

    /// One listener of `event` fewer.
    pub fn unlisten(&mut self, event: &str) {
        if let Some(count) = self.listeners.get_mut(event) {
            *count -= 1;
            if *count == 0 {
                self.listeners.remove(event);
            }
        }
    }

    /// No channel watched and no event name listened to.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.listeners.is_empty()
    }

    /// Every watched channel.
    pub fn keys(&self) -> Vec<(String, String)> {
        self.channels
            .iter()
            .map(|(key, _)| (key.channel.clone(), key.id.clone()))
            .collect()
    }

    /// A subscribe for the channel went out on the current socket.
    pub fn subscribe_sent(&mut self, channel: &str, id: &str) {
        if let Some(entry) = self.channels.get_mut(&(channel, id)) {
            entry.confirmed = false;
            entry.numbering.subscribe_sent();
        }
        match self.answers_due.get_mut(&(channel, id)) {
            Some(due) => *due += 1,
            None => {
                let key = Key {
                    channel: channel.to_owned(),
                    id: id.to_owned(),
                };
                self.answers_due.insert(key, 1);
            }
        }
    }

    /// The server answered a subscribe of the channel; the last answer confirms it.
    pub fn answered(&mut self, channel: &str, id: &str) {
        let Some(due) = self.answers_due.get_mut(&(channel, id)) else {
            return;
        };
        *due = due.saturating_sub(1);
        if *due > 0 {
            return;
        }
        self.answers_due.remove(&(channel, id));
        if let Some(entry) = self.channels.get_mut(&(channel, id)) {
            entry.confirmed = true;
        }
    }

    /// A subscribe for every watched channel, for a new socket, each from its last `seq` when
    /// the wire `replays`.
    pub fn resubscribe_frames(&mut self, replays: bool) -> Vec<ClientFrame> {
        self.answers_due = SmallMap::default();
        let frames: Vec<ClientFrame> = self
            .channels
            .iter_mut()
            .map(|(key, entry)| {
                let since = entry.numbering.since_for_new_socket(replays);
                ClientFrame::Join {
                    channel: key.channel.clone(),
                    id: key.id.clone(),
                    since,
                }
            })
            .collect();
        for frame in &frames {
            if let ClientFrame::Join { channel, id, .. } = frame {
                self.subscribe_sent(channel, id);
            }
        }
        frames
    }

    /// Decides about an event: of `channel` (name, id) when the wire says, numbered `seq` when
    /// it does, named `event`.
    pub fn admit(
        &mut self,
        channel: Option<(&str, &str)>,
        seq: Option<u64>,
        event: &str,
    ) -> Admission {
        let listened = self.listeners.get(event).is_some();
        let Some(key) = channel else {
            if !listened && self.channels.is_empty() {
                return Admission::Unwanted;
            }
            self.untagged_seq = self.untagged_seq.saturating_add(1);
            return Admission::Deliver {
                seq: self.untagged_seq,
                gap: None,
            };
        };
        let Some(entry) = self.channels.get_mut(&key) else {
            return Admission::Drop;
        };
        if !entry.confirmed {
            return Admission::Drop;
        }
        let Some(seq) = seq else {
            return Admission::Deliver {
                seq: entry.numbering.next_unsequenced(),
                gap: None,
            };
        };
        match entry.numbering.judge(seq) {
            Verdict::Deliver { seq, gap } => Admission::Deliver { seq, gap },
            Verdict::Duplicate => Admission::Drop,
            Verdict::Stale { expected, received } => Admission::Stale { expected, received },
            Verdict::Backward {
                expected,
                received,
                since,
            } => Admission::Backward {
                expected,
                received,
                since,
            },
        }
    }
}
