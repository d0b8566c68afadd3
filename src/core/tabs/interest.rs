//! What one tab's app watches: jobs and app channels, each reference-counted with the last
//! `seq` this tab delivered of it, and the event names it listens to. The leader keeps one
//! for its own tab; a follower keeps its own and sends it to the leader whole.

use super::wire::Watching;
use crate::core::protocol::Channel;
use crate::core::small_map::SmallMap;

/// One watched job or channel of this tab.
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    refs: u32,
    /// The last `seq` delivered to this tab's app.
    pub last: Option<u64>,
    /// The `hello` that told the current leader of it ([`NOT_TOLD`] before the next one).
    told_in: u64,
}

/// A watch no `hello` told the current leader of yet.
const NOT_TOLD: u64 = u64::MAX;

/// What this tab watches. A follower delivers a job's events only once the leader has heard
/// the `hello` that told it of the job: before that, the leader may relay live events of it
/// (for other tabs) ahead of the replay it starts for this tab on hearing, and taking them
/// would make the replay look like duplicates. A leader's own tab needs no such wait.
#[derive(Debug)]
pub struct Interest {
    jobs: SmallMap<(Channel, String), Watch>,
    channels: SmallMap<(String, String), Watch>,
    names: SmallMap<String, u32>,
    /// The number of the last `hello` sent.
    hellos: u64,
    /// The last `hello` the leader said it heard; [`NOT_TOLD`] while this tab leads.
    heard: u64,
}

impl Default for Interest {
    fn default() -> Self {
        Interest {
            jobs: SmallMap::default(),
            channels: SmallMap::default(),
            names: SmallMap::default(),
            hellos: 0,
            heard: NOT_TOLD,
        }
    }
}

impl Interest {
    /// This tab leads: its own jobs need no leader to hear of them.
    pub fn lead(&mut self) {
        self.heard = NOT_TOLD;
    }

    /// A new leader: nothing was told to it yet.
    pub fn follow(&mut self) {
        self.heard = 0;
        for (_, watch) in self.jobs.iter_mut() {
            watch.told_in = NOT_TOLD;
        }
    }

    /// The number of the `hello` about to go out, which tells the leader of every job not
    /// told yet.
    pub fn hello(&mut self) -> u64 {
        self.hellos += 1;
        for (_, watch) in self.jobs.iter_mut() {
            if watch.told_in == NOT_TOLD {
                watch.told_in = self.hellos;
            }
        }
        self.hellos
    }

    /// The leader heard this tab's `hello` number `n`.
    pub fn heard(&mut self, n: u64) {
        if self.heard != NOT_TOLD {
            self.heard = self.heard.max(n);
        }
    }

    /// One more reference to a job; true when it was not watched.
    pub fn add_job(&mut self, channel: Channel, id: &str) -> bool {
        add(&mut self.jobs, (channel, id.to_owned()))
    }

    /// One reference to a job fewer; true when it is no longer watched.
    pub fn remove_job(&mut self, channel: Channel, id: &str) -> bool {
        remove(&mut self.jobs, &(channel, id.to_owned()))
    }

    /// Forgets a job whatever its references (its subscription ended); true if it was watched.
    pub fn end_job(&mut self, channel: Channel, id: &str) -> bool {
        self.jobs.remove(&(channel, id.to_owned())).is_some()
    }

    /// Whether an event numbered `seq` of a job is new to this tab; if so it counts as
    /// delivered.
    pub fn admit_job(&mut self, channel: Channel, id: &str, seq: u64) -> bool {
        let heard = self.heard;
        match self.jobs.get_mut(&(channel, id)) {
            Some(watch) if heard == NOT_TOLD || watch.told_in <= heard => admit(watch, seq),
            _ => false,
        }
    }

    pub fn add_channel(&mut self, name: &str, id: &str) -> bool {
        add(&mut self.channels, (name.to_owned(), id.to_owned()))
    }

    pub fn remove_channel(&mut self, name: &str, id: &str) -> bool {
        remove(&mut self.channels, &(name.to_owned(), id.to_owned()))
    }

    /// Whether an app-channel event is for this tab and new to it: of a channel it watches
    /// and (when `numbered`, the wire numbering the channel's events) past its last `seq`; or
    /// of a name it listens to; or, for an event the wire tags with no channel (Socket.IO's own
    /// rooms, plain JSON), when it watches any channel, as a client alone would deliver it.
    pub fn admit_app_event(
        &mut self,
        channel: Option<&(String, String)>,
        seq: u64,
        event: &str,
        numbered: bool,
    ) -> bool {
        match channel {
            Some(key) => {
                if let Some(watch) = self.channels.get_mut(key) {
                    return !numbered || admit(watch, seq);
                }
            }
            None if !self.channels.is_empty() => return true,
            None => {}
        }
        self.names.get(event).is_some()
    }

    /// One more listener of `event`; true when nobody listened.
    pub fn listen(&mut self, event: &str) -> bool {
        match self.names.get_mut(event) {
            Some(count) => {
                *count += 1;
                false
            }
            None => {
                self.names.insert(event.to_owned(), 1);
                true
            }
        }
    }

    /// One listener of `event` fewer; true when nobody listens any more.
    pub fn unlisten(&mut self, event: &str) -> bool {
        let Some(count) = self.names.get_mut(event) else {
            return false;
        };
        *count -= 1;
        if *count > 0 {
            return false;
        }
        self.names.remove(event);
        true
    }

    /// Everything watched, with the last `seq` of each, as a follower tells its leader.
    pub fn watching(&self) -> Watching {
        Watching {
            jobs: self
                .jobs
                .iter()
                .map(|((channel, id), watch)| (*channel, id.clone(), watch.last))
                .collect(),
            channels: self
                .channels
                .iter()
                .map(|((name, id), watch)| (name.clone(), id.clone(), watch.last))
                .collect(),
            names: self.names.iter().map(|(name, _)| name.clone()).collect(),
        }
    }
}

fn add<K: Ord>(map: &mut SmallMap<K, Watch>, key: K) -> bool {
    if let Some(watch) = map.get_mut(&key) {
        watch.refs += 1;
        return false;
    }
    map.insert(
        key,
        Watch {
            refs: 1,
            last: None,
            told_in: NOT_TOLD,
        },
    );
    true
}

fn remove<K: Ord>(map: &mut SmallMap<K, Watch>, key: &K) -> bool {
    let Some(watch) = map.get_mut(key) else {
        return false;
    };
    watch.refs -= 1;
    if watch.refs > 0 {
        return false;
    }
    map.remove(key);
    true
}

fn admit(watch: &mut Watch, seq: u64) -> bool {
    if watch.last.is_some_and(|last| seq <= last) {
        return false;
    }
    watch.last = Some(seq);
    true
}
