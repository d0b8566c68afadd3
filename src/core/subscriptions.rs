//! The jobs the app watches: reference-counted per (channel, job id), with the last `seq`
//! delivered for each, so that a new socket resubscribes from where the app is, duplicates are
//! dropped, and a gap is noticed.

use super::protocol::{Channel, ClientFrame};
use super::small_map::SmallMap;

#[derive(Debug)]
struct Entry {
    /// How many app-level subscriptions share this one server subscription.
    refs: u32,
    /// The `seq` of the last event delivered.
    last_seq: Option<u64>,
}

/// What to do with an event that arrived for a job.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Deliver it. `gap` is `(expected, received)` when events before it are missing.
    Deliver { gap: Option<(u64, u64)> },
    /// Already delivered: drop it.
    Duplicate,
    /// Nobody watches this job (a late event after the last unsubscribe): drop it.
    Unwatched,
}

#[derive(Debug, Default)]
pub struct Subscriptions {
    jobs: SmallMap<(Channel, String), Entry>,
}

impl Subscriptions {
    /// Adds a reference; true when the job was not watched before.
    pub fn add(&mut self, channel: Channel, job_id: &str) -> bool {
        let key = (channel, job_id.to_owned());
        if let Some(entry) = self.jobs.get_mut(&key) {
            entry.refs += 1;
            return false;
        }
        self.jobs.insert(
            key,
            Entry {
                refs: 1,
                last_seq: None,
            },
        );
        true
    }

    /// Drops a reference; true when it was the last one and the job is no longer watched.
    pub fn remove(&mut self, channel: Channel, job_id: &str) -> bool {
        let key = (channel, job_id.to_owned());
        let Some(entry) = self.jobs.get_mut(&key) else {
            return false;
        };
        entry.refs -= 1;
        if entry.refs > 0 {
            return false;
        }
        self.jobs.remove(&key);
        true
    }

    /// Forgets a job whatever its references (its terminal event was delivered).
    pub fn end(&mut self, channel: Channel, job_id: &str) {
        self.jobs.remove(&(channel, job_id.to_owned()));
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Decides about an event with `seq` for a job, recording it when delivered.
    pub fn admit(&mut self, channel: Channel, job_id: &str, seq: u64) -> Admission {
        let Some(entry) = self.jobs.get_mut(&(channel, job_id.to_owned())) else {
            return Admission::Unwatched;
        };
        let expected = entry.last_seq.map_or(1, |last| last + 1);
        if seq < expected {
            return Admission::Duplicate;
        }
        // Before anything was delivered the server may start past 1 (its log is bounded);
        // that is only a gap when the client already had events of this job.
        let gap = (entry.last_seq.is_some() && seq > expected).then_some((expected, seq));
        entry.last_seq = Some(seq);
        Admission::Deliver { gap }
    }

    /// A `subscribe` frame for every watched job, each from its last delivered `seq`.
    pub fn resubscribe_frames(&self) -> Vec<ClientFrame> {
        self.jobs
            .iter()
            .map(|((channel, id), entry)| ClientFrame::Subscribe {
                channel: *channel,
                id: id.clone(),
                since: entry.last_seq,
            })
            .collect()
    }
}
