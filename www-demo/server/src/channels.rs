//! App channels, protocol v1's generic channel: any channel name but `generation` and
//! `composition`, any id, any event name and JSON data. Events are published over HTTP
//! (`POST /api/v1/channels/{channel}/{id}/events`), numbered per channel and id, kept in a
//! bounded log for replay, and forwarded to every socket subscribed to the channel, exactly as
//! a job's events are (see [`crate::jobs`] for the single lock that makes the log, the numbering
//! and the broadcast agree).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use jobsocket::core::protocol::RawJson;
use tokio::sync::broadcast;

/// Channels the store keeps; past this, a subscribe or publish to a new one is refused.
pub const MAX_CHANNELS: usize = 10_000;

/// Events a slow subscriber may fall behind by before it catches up from the log.
const LIVE_CAPACITY: usize = 64;

/// One logged event of an app channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelLogged {
    pub seq: u64,
    pub event: String,
    pub data: RawJson,
}

/// Where a new subscriber of a channel starts; the events before it are read from the log a
/// batch at a time ([`AppChannel::events_after`]).
#[derive(Debug)]
pub struct ChannelWatch {
    pub live: broadcast::Receiver<ChannelLogged>,
    pub last_seq: u64,
}

/// One app channel: its log and its live broadcast.
#[derive(Debug)]
pub struct AppChannel {
    name: String,
    id: String,
    state: Mutex<ChannelState>,
    live: broadcast::Sender<ChannelLogged>,
}

#[derive(Debug)]
struct ChannelState {
    log: VecDeque<ChannelLogged>,
    log_cap: usize,
    last_seq: u64,
}

impl AppChannel {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// How many forwarding tasks receive this channel's live events now: one per socket that
    /// joined it, until the socket leaves or closes.
    pub fn watchers(&self) -> usize {
        self.live.receiver_count()
    }

    /// Logs and broadcasts an event under the channel's lock; returns its `seq`.
    pub fn publish(&self, event: String, data: RawJson) -> u64 {
        let mut state = self.lock();
        state.last_seq += 1;
        let logged = ChannelLogged {
            seq: state.last_seq,
            event,
            data,
        };
        // Nobody watching the channel right now is not an error.
        let _ = self.live.send(logged.clone());
        state.log.push_back(logged);
        while state.log.len() > state.log_cap {
            state.log.pop_front();
        }
        state.last_seq
    }

    /// A receiver of every later event, and the `seq` of the last one so far.
    pub fn watch(&self) -> ChannelWatch {
        let state = self.lock();
        ChannelWatch {
            live: self.live.subscribe(),
            last_seq: state.last_seq,
        }
    }

    /// At most `limit` logged events after `seq`, in order.
    pub fn events_after(&self, seq: u64, limit: usize) -> Vec<ChannelLogged> {
        self.lock()
            .log
            .iter()
            .filter(|logged| logged.seq > seq)
            .take(limit)
            .cloned()
            .collect()
    }

    /// The critical sections cannot panic half way: a poisoned lock guards consistent data.
    fn lock(&self) -> MutexGuard<'_, ChannelState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Every app channel, created on its first subscribe or publish.
#[derive(Debug)]
pub struct ChannelStore {
    channels: Mutex<HashMap<(String, String), Arc<AppChannel>>>,
    log_cap: usize,
}

impl ChannelStore {
    pub fn new(log_cap: usize) -> ChannelStore {
        ChannelStore {
            channels: Mutex::new(HashMap::new()),
            log_cap,
        }
    }

    /// The channel `name`/`id`, created if new; `None` when the store is full.
    pub fn get_or_create(&self, name: &str, id: &str) -> Option<Arc<AppChannel>> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (name.to_owned(), id.to_owned());
        if let Some(channel) = channels.get(&key) {
            return Some(channel.clone());
        }
        if channels.len() >= MAX_CHANNELS {
            return None;
        }
        let channel = Arc::new(AppChannel {
            name: key.0.clone(),
            id: key.1.clone(),
            state: Mutex::new(ChannelState {
                log: VecDeque::new(),
                log_cap: self.log_cap,
                last_seq: 0,
            }),
            live: broadcast::Sender::new(LIVE_CAPACITY),
        });
        channels.insert(key, channel.clone());
        Some(channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_numbered_per_channel_and_replayed_after_since() {
        let store = ChannelStore::new(2);
        let workspace = store.get_or_create("workspace", "w1").expect("room");
        let other = store.get_or_create("workspace", "w2").expect("room");
        for n in 1..=3 {
            let data = RawJson::new(format!("{{\"n\":{n}}}")).expect("JSON");
            assert_eq!(workspace.publish("approval.created".into(), data), n);
        }
        assert_eq!(
            other.publish("x".into(), RawJson::new("1").expect("JSON")),
            1
        );
        let watch = workspace.watch();
        let backlog = workspace.events_after(1, usize::MAX);
        let seqs: Vec<u64> = backlog.iter().map(|logged| logged.seq).collect();
        assert_eq!(seqs, [2, 3], "the log keeps the last two");
        assert_eq!(watch.last_seq, 3);
        assert_eq!(workspace.events_after(0, 1).len(), 1);
    }
}
