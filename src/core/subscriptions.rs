//! The jobs the app watches: reference-counted per (channel, job id), with the last `seq`
//! delivered for each, so that a new socket resubscribes from where the app is, duplicates are
//! dropped, and a gap is noticed.
//!
//! Which `seq` is new, a duplicate, or the server's numbering going back is decided by
//! [`Numbering`], shared with the app's own channels.

use std::time::Duration;

use super::events::JobEvent;
use super::job_view::{JobView, Snapshot};
use super::numbering::{Numbering, Verdict};
use super::output::JobDelivery;
use super::protocol::{Channel, ClientFrame};
use super::small_map::{KeyOrder, SmallMap};
use super::time::Instant;

#[derive(Debug)]
struct Entry {
    /// How many app-level subscriptions share this one server subscription.
    refs: u32,
    /// The last `seq` delivered, and what tells duplicates from a numbering going back.
    numbering: Numbering,
    /// The server answered (`subscribed`) this subscription's `subscribe` on the current
    /// socket. Events before that come from an older subscription to the same job
    /// (unsubscribed and subscribed again, frames already on their way) and are dropped: the
    /// answered subscription's replay brings them, in order.
    confirmed: bool,
    /// When a progress event of this job was last handed to the app.
    last_progress_at: Option<Instant>,
    /// The latest progress event, held back because the previous one went out less than the
    /// coalescing interval ago.
    held_progress: Option<JobDelivery>,
    /// What the app was told, so snapshots from polling repeat nothing.
    view: JobView,
}

/// What to do with an event that arrived for a job.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Deliver it, as `seq`. `gap` is `(expected, received)` when events before it are
    /// missing.
    Deliver { seq: u64, gap: Option<(u64, u64)> },
    /// Already delivered: drop it.
    Duplicate,
    /// Below the expected `seq` and not a duplicate: the server's numbering went back. The
    /// job now counts from just before `received` and must be subscribed again with `since`
    /// (see the module doc); the event itself comes with that replay.
    Backward {
        expected: u64,
        received: u64,
        since: Option<u64>,
    },
    /// Below a `seq` this same subscription already delivered: the server's numbering went
    /// back, yet the app has an event of that number. Reported, not delivered.
    Stale { expected: u64, received: u64 },
    /// Nobody watches this job (a late event after the last unsubscribe): drop it.
    Unwatched,
    /// The job's subscription is not confirmed on this socket yet: drop it, the replay after
    /// the confirmation brings it.
    Unconfirmed,
}

/// A watched job. Ordered (for the map's lookups) and compared with `(Channel, &str)` too, so
/// lookups on the hot path of every event allocate no key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct JobKey {
    channel: Channel,
    id: String,
}

impl PartialEq<(Channel, &str)> for JobKey {
    fn eq(&self, (channel, id): &(Channel, &str)) -> bool {
        self.channel == *channel && self.id == *id
    }
}

impl KeyOrder<(Channel, &str)> for JobKey {
    fn order(&self, query: &(Channel, &str)) -> std::cmp::Ordering {
        (self.channel, self.id.as_str()).cmp(query)
    }
}

#[derive(Debug, Default)]
pub struct Subscriptions {
    jobs: SmallMap<JobKey, Entry>,
    /// `subscribe` frames sent on the current socket and not answered yet, per job. It
    /// outlives the job's entry: after an unsubscribe and a new subscribe, the answer to the
    /// old `subscribe` (and its replay) still comes first, and only the last answer confirms.
    answers_due: SmallMap<JobKey, u32>,
}

impl Subscriptions {
    /// Adds a reference; true when the job was not watched before.
    pub fn add(&mut self, channel: Channel, job_id: &str) -> bool {
        if let Some(entry) = self.jobs.get_mut(&(channel, job_id)) {
            entry.refs += 1;
            return false;
        }
        self.jobs.insert(
            JobKey {
                channel,
                id: job_id.to_owned(),
            },
            Entry {
                refs: 1,
                numbering: Numbering::default(),
                confirmed: false,
                last_progress_at: None,
                held_progress: None,
                view: JobView::new(),
            },
        );
        true
    }

    /// Drops a reference; true when it was the last one and the job is no longer watched.
    pub fn remove(&mut self, channel: Channel, job_id: &str) -> bool {
        let key = (channel, job_id);
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

    /// Moves a job's numbering back to `since` (`None`: its start) and forgets what the app
    /// was told, so a replay from there and the next snapshot count as news; true when the job
    /// is watched and was ahead of `since`.
    pub fn rewind(&mut self, channel: Channel, job_id: &str, since: Option<u64>) -> bool {
        let Some(entry) = self.jobs.get_mut(&(channel, job_id)) else {
            return false;
        };
        if entry.numbering.last_seq() <= since {
            return false;
        }
        self.start_after(channel, job_id, since);
        true
    }

    /// Takes a watched job as delivered up to `since` and nothing else, whatever it was.
    pub fn start_after(&mut self, channel: Channel, job_id: &str, since: Option<u64>) {
        if let Some(entry) = self.jobs.get_mut(&(channel, job_id)) {
            entry.numbering.rewind_to(since);
            entry.view = JobView::new();
            entry.view.note_seq(since.unwrap_or(0));
            entry.held_progress = None;
        }
    }

    /// The `since` of a `subscribe` for a watched job on the open socket: its last delivered
    /// `seq` where the wire replays.
    pub fn since_for_subscribe(
        &mut self,
        channel: Channel,
        job_id: &str,
        replays: bool,
    ) -> Option<u64> {
        let entry = self.jobs.get_mut(&(channel, job_id))?;
        entry.numbering.since_for_new_socket(replays)
    }

    /// Forgets a job whatever its references (its terminal event was delivered).
    pub fn end(&mut self, channel: Channel, job_id: &str) {
        self.jobs.remove(&(channel, job_id));
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Records an event handed to the app from the socket.
    pub fn observe(&mut self, channel: Channel, job_id: &str, event: &JobEvent, seq: u64) {
        if let Some(entry) = self.jobs.get_mut(&(channel, job_id)) {
            entry.view.observe(event);
            entry.view.note_seq(seq);
        }
    }

    /// The view of a job, to catch it up with a snapshot; the snapshot's `seq` becomes the
    /// last delivered one, so a later socket subscription continues right after it.
    pub fn view_for_snapshot(
        &mut self,
        channel: Channel,
        job_id: &str,
        seq: u64,
    ) -> Option<&mut JobView> {
        let entry = self.jobs.get_mut(&(channel, job_id))?;
        entry.numbering.caught_up_to(seq);
        Some(&mut entry.view)
    }

    /// Catches a job up with a snapshot of a server without seqs; the events come numbered on
    /// from the last delivered, which moves past them. `None` for a job nobody watches.
    pub fn catch_up_unsequenced(
        &mut self,
        channel: Channel,
        job_id: &str,
        snapshot: &Snapshot,
    ) -> Option<(Vec<(u64, JobEvent)>, bool)> {
        let entry = self.jobs.get_mut(&(channel, job_id))?;
        entry.view.note_seq(entry.numbering.last_seq().unwrap_or(0));
        let events = entry.view.catch_up_unsequenced(snapshot);
        if let Some((last, _)) = events.last() {
            entry.numbering.caught_up_to(*last);
        }
        Some((events, entry.view.is_terminal()))
    }

    /// The watched jobs.
    pub fn keys(&self) -> Vec<(Channel, String)> {
        self.jobs
            .iter()
            .map(|(key, _)| (key.channel, key.id.clone()))
            .collect()
    }

    /// Decides about an event with `seq` for a job, recording it when delivered.
    pub fn admit(&mut self, channel: Channel, job_id: &str, seq: u64) -> Admission {
        let Some(entry) = self.jobs.get_mut(&(channel, job_id)) else {
            return Admission::Unwatched;
        };
        if !entry.confirmed {
            return Admission::Unconfirmed;
        }
        match entry.numbering.judge(seq) {
            Verdict::Deliver { seq, gap } => Admission::Deliver { seq, gap },
            Verdict::Duplicate => Admission::Duplicate,
            Verdict::Stale { expected, received } => Admission::Stale { expected, received },
            Verdict::Backward {
                expected,
                received,
                since,
            } => {
                entry.view.rewind_seq(received - 1);
                Admission::Backward {
                    expected,
                    received,
                    since,
                }
            }
        }
    }

    /// Decides about an event from a wire without seqs (Socket.IO, plain JSON): watched jobs
    /// get every one, numbered on from the last delivered, so apps still key on `seq`.
    pub fn admit_unsequenced(&mut self, channel: Channel, job_id: &str) -> Admission {
        let Some(entry) = self.jobs.get_mut(&(channel, job_id)) else {
            return Admission::Unwatched;
        };
        let seq = entry.numbering.next_unsequenced();
        Admission::Deliver { seq, gap: None }
    }

    /// Progress coalescing: whether a progress event of this job may go out at `now`, given
    /// the interval; if not, it is held (replacing any held one) and `None` comes back.
    pub fn pace_progress(
        &mut self,
        channel: Channel,
        delivery: JobDelivery,
        now: Instant,
        interval: Duration,
    ) -> Option<JobDelivery> {
        let Some(entry) = self.jobs.get_mut(&(channel, delivery.job_id.as_str())) else {
            return Some(delivery);
        };
        let due = entry
            .last_progress_at
            .is_none_or(|last| now.saturating_since(last) >= interval);
        if due {
            entry.last_progress_at = Some(now);
            entry.held_progress = None;
            Some(delivery)
        } else {
            // It goes out later, after the frame it came in is gone: no payload span.
            entry.held_progress = Some(JobDelivery {
                payload: None,
                ..delivery
            });
            None
        }
    }

    /// The held progress of a job, to go out before one of its other events keeps order.
    pub fn take_held(
        &mut self,
        channel: Channel,
        job_id: &str,
        now: Instant,
    ) -> Option<JobDelivery> {
        let entry = self.jobs.get_mut(&(channel, job_id))?;
        let held = entry.held_progress.take()?;
        entry.last_progress_at = Some(now);
        Some(held)
    }

    /// Held progress events whose interval has passed at `now`.
    pub fn take_due(&mut self, now: Instant, interval: Duration) -> Vec<JobDelivery> {
        let mut due = Vec::new();
        for (_, entry) in self.jobs.iter_mut() {
            let ready = entry
                .last_progress_at
                .is_none_or(|last| last + interval <= now);
            if ready && let Some(held) = entry.held_progress.take() {
                entry.last_progress_at = Some(now);
                due.push(held);
            }
        }
        due
    }

    /// Every held progress event, now: the client is closing and holds nothing back.
    pub fn take_all_held(&mut self) -> Vec<JobDelivery> {
        self.jobs
            .iter_mut()
            .filter_map(|(_, entry)| entry.held_progress.take())
            .collect()
    }

    /// When the next held progress event is due.
    pub fn next_release(&self, interval: Duration) -> Option<Instant> {
        self.jobs
            .iter()
            .filter(|(_, entry)| entry.held_progress.is_some())
            .filter_map(|(_, entry)| entry.last_progress_at.map(|last| last + interval))
            .min()
    }

    /// A `subscribe` for the job went out on the current socket: its subscription waits for
    /// the answer.
    pub fn subscribe_sent(&mut self, channel: Channel, job_id: &str) {
        if let Some(entry) = self.jobs.get_mut(&(channel, job_id)) {
            entry.confirmed = false;
            entry.numbering.subscribe_sent();
        }
        match self.answers_due.get_mut(&(channel, job_id)) {
            Some(due) => *due += 1,
            None => {
                let key = JobKey {
                    channel,
                    id: job_id.to_owned(),
                };
                self.answers_due.insert(key, 1);
            }
        }
    }

    /// The server answered a `subscribe` for the job on the current socket (`subscribed`, or
    /// an error naming the job). The answer to the last one sent confirms the subscription.
    pub fn answered(&mut self, channel: Channel, job_id: &str) {
        let key = (channel, job_id);
        let Some(due) = self.answers_due.get_mut(&key) else {
            return;
        };
        *due = due.saturating_sub(1);
        if *due > 0 {
            return;
        }
        self.answers_due.remove(&key);
        if let Some(entry) = self.jobs.get_mut(&key) {
            entry.confirmed = true;
        }
    }

    /// A `subscribe` frame for every watched job, each from its last delivered `seq`, for a
    /// new socket: every subscription waits for its answer on it.
    ///
    /// `replays`: the wire replays from a `seq`; without it, `since` is left out (the seqs are
    /// the client's own numbering).
    pub fn resubscribe_frames(&mut self, replays: bool) -> Vec<ClientFrame> {
        self.answers_due = SmallMap::default();
        let frames: Vec<ClientFrame> = self
            .jobs
            .iter_mut()
            .map(|(key, entry)| {
                let since = entry.numbering.since_for_new_socket(replays);
                ClientFrame::Subscribe {
                    channel: key.channel,
                    id: key.id.clone(),
                    since,
                }
            })
            .collect();
        for frame in &frames {
            if let ClientFrame::Subscribe { channel, id, .. } = frame {
                self.subscribe_sent(*channel, id);
            }
        }
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::{GenerationEvent, Queued};

    #[test]
    fn a_jump_backward_rewinds_the_view_so_that_later_snapshots_count_again() {
        let mut jobs = Subscriptions::default();
        let channel = Channel::Generation;
        jobs.add(channel, "g");
        jobs.subscribe_sent(channel, "g");
        jobs.answered(channel, "g");
        let queued = JobEvent::Generation(GenerationEvent::Queued(Queued { position: 1 }));
        for seq in [1, 9_000_000] {
            assert!(matches!(
                jobs.admit(channel, "g", seq),
                Admission::Deliver { .. }
            ));
            jobs.observe(channel, "g", &queued, seq);
        }
        assert_eq!(
            jobs.admit(channel, "g", 2),
            Admission::Backward {
                expected: 9_000_001,
                received: 2,
                since: Some(1)
            }
        );
        let view = jobs.view_for_snapshot(channel, "g", 5).expect("watched");
        assert_eq!(view.last_seq(), 1);
    }
}
