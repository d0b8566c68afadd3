//! The job store: simulated jobs, each with its event log, its snapshot and its live broadcast.
//!
//! A job's log, snapshot and broadcast change together under the job's one lock, in [`Job::emit`].
//! That single critical section is what the rest of the server relies on:
//!
//! - a snapshot's `seq` is always the last event applied to it;
//! - the broadcast carries events in `seq` order;
//! - [`Job::watch`] subscribes to the broadcast and reads the log under the same lock, so every
//!   event is either in the backlog it returns or on the receiver, never in neither.
//!
//! The log keeps a job's most recent events only ([`MAX_LOG_EVENTS`] by default, the server's
//! `Config::max_log_events`): a replay from further back starts at the oldest event kept, and
//! the client sees the gap. The snapshot is folded from every event, so the cap never shows
//! there.

pub mod plan;
pub mod snapshot;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jobsocket::core::events::JobEvent;
use jobsocket::core::protocol::Channel;
use tokio::sync::broadcast;

use self::plan::{CompositionSpec, GenerationSpec, Plan};
use self::snapshot::Snapshot;
use crate::secret::random_hex;

/// Events a slow subscriber may fall behind by before its receiver lags; a lagging subscriber
/// catches up from the log, so this bounds memory, not correctness.
const LIVE_CAPACITY: usize = 64;

/// Events each job keeps for replay unless the server's configuration says otherwise.
pub const MAX_LOG_EVENTS: usize = 10_000;

/// One logged event of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    /// 1 for the job's first event, then one more for each.
    pub seq: u64,
    pub event: JobEvent,
}

/// What [`Job::watch`] returns: where a new subscriber starts. The events before it are
/// read from the log a batch at a time ([`Job::events_after`]), never copied all at once.
#[derive(Debug)]
pub struct Watch {
    /// Every event logged after the watch began.
    pub live: broadcast::Receiver<Logged>,
    /// The `seq` of the job's last event so far (0 before the first).
    pub last_seq: u64,
}

/// One simulated job.
#[derive(Debug)]
pub struct Job {
    id: String,
    channel: Channel,
    state: Mutex<JobState>,
    live: broadcast::Sender<Logged>,
}

#[derive(Debug)]
struct JobState {
    /// The most recent events, consecutive `seq`s, oldest first; at most `log_cap` of them.
    log: VecDeque<Logged>,
    log_cap: usize,
    /// The `seq` of the last event emitted (0 before the first), whether or not still logged.
    last_seq: u64,
    snapshot: Snapshot,
    finished: bool,
}

impl Job {
    /// A job that keeps its last `log_cap` events for replay.
    pub(crate) fn new(id: String, channel: Channel, snapshot: Snapshot, log_cap: usize) -> Job {
        Job {
            id,
            channel,
            state: Mutex::new(JobState {
                log: VecDeque::new(),
                log_cap,
                last_seq: 0,
                snapshot,
                finished: false,
            }),
            live: broadcast::Sender::new(LIVE_CAPACITY),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// Logs `event` with the next `seq`, folds it into the snapshot and broadcasts it, all under
    /// the job's lock (see the module doc), forgetting the oldest logged event past the cap.
    /// Returns its `seq`.
    pub fn emit(&self, event: JobEvent) -> u64 {
        let mut state = self.lock();
        state.last_seq += 1;
        let seq = state.last_seq;
        state.snapshot.apply(seq, &event);
        state.finished |= event.is_terminal();
        let logged = Logged { seq, event };
        // No receiver is not an error: nobody is watching this job right now.
        let _ = self.live.send(logged.clone());
        state.log.push_back(logged);
        while state.log.len() > state.log_cap {
            state.log.pop_front();
        }
        seq
    }

    /// Starts watching the job: a receiver of every later event, and the `seq` of the last
    /// one so far, both taken under the lock, so every event is in the log or on the receiver.
    pub fn watch(&self) -> Watch {
        let state = self.lock();
        let live = self.live.subscribe();
        Watch {
            live,
            last_seq: state.last_seq,
        }
    }

    /// At most `limit` logged events with a `seq` greater than `seq`, in order, starting with
    /// the oldest event kept when `seq` is older than that.
    pub fn events_after(&self, seq: u64, limit: usize) -> Vec<Logged> {
        after(&self.lock().log, seq, limit)
    }

    /// The job's current snapshot.
    pub fn snapshot(&self) -> Snapshot {
        self.lock().snapshot.clone()
    }

    /// True once the job has emitted its terminal event.
    pub fn is_finished(&self) -> bool {
        self.lock().finished
    }

    /// Every critical section is a few field updates that cannot panic, so a poisoned lock
    /// still guards consistent data: take it rather than spread the panic.
    fn lock(&self) -> MutexGuard<'_, JobState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn after(log: &VecDeque<Logged>, seq: u64, limit: usize) -> Vec<Logged> {
    let Some(oldest) = log.front() else {
        return Vec::new();
    };
    // The log holds consecutive seqs, so seq n sits at index n - oldest; a `seq` beyond the
    // log selects nothing, one before its start selects everything.
    let skip = seq.saturating_add(1).saturating_sub(oldest.seq);
    let start = usize::try_from(skip).map_or(log.len(), |skip| skip.min(log.len()));
    log.range(start..).take(limit).cloned().collect()
}

/// A job created: what the 201 answer says of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub channel: Channel,
    pub id: String,
    pub started_at_ms: f64,
}

impl Started {
    /// An in-memory job started at `started_at_ms`.
    pub fn of(job: &Job, started_at_ms: f64) -> Started {
        Started {
            channel: job.channel(),
            id: job.id().to_owned(),
            started_at_ms,
        }
    }
}

/// Why a job could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateError {
    /// The store's `max_jobs` jobs are running; try again when one finishes.
    Full { max_jobs: usize },
    /// The job would run longer than the server's `max_job_ms`; ask for fewer steps or a
    /// shorter step.
    TooLong { ms: u64, max_ms: u64 },
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CreateError::Full { max_jobs } => write!(
                f,
                "{max_jobs} jobs are still running; try again when one finishes"
            ),
            CreateError::TooLong { ms, max_ms } => write!(
                f,
                "the job would run {ms} ms (steps times step_ms), longer than this server's \
                 {max_ms} ms"
            ),
        }
    }
}

impl std::error::Error for CreateError {}

/// Every job of the server, by channel and id.
///
/// The store keeps at most `max_jobs` jobs: past it, creating a job forgets the oldest
/// finished one, or is refused while every job is still running. No job runs longer than
/// `max_job_ms`, so running jobs free their slots within that time.
#[derive(Debug)]
pub struct JobStore {
    inner: Mutex<StoreInner>,
    /// Events each job keeps for replay.
    log_cap: usize,
    max_jobs: usize,
    max_job_ms: u64,
}

#[derive(Debug, Default)]
struct StoreInner {
    jobs: HashMap<(Channel, String), Arc<Job>>,
    /// Creation order, oldest first, to find the job to forget.
    order: VecDeque<(Channel, String)>,
}

impl JobStore {
    /// An empty store of at most `max_jobs` jobs that run at most `max_job_ms` each and keep
    /// their last `log_cap` events for replay.
    pub fn new(log_cap: usize, max_jobs: usize, max_job_ms: u64) -> JobStore {
        JobStore {
            inner: Mutex::default(),
            log_cap,
            max_jobs,
            max_job_ms,
        }
    }

    /// Refuses a plan whose steps, `step` apart, would run longer than `max_job_ms`.
    fn check_length(&self, plan: &Plan, step: Duration) -> Result<(), CreateError> {
        check_length(plan, step, self.max_job_ms)
    }

    /// Jobs the store keeps at most.
    pub fn max_jobs(&self) -> usize {
        self.max_jobs
    }

    /// Creates a generation, `gen_` and 128 random bits, and starts simulating it, one event
    /// every `step`.
    /// Must be called inside a tokio runtime.
    pub fn start_generation(
        &self,
        spec: GenerationSpec,
        step: Duration,
    ) -> Result<Arc<Job>, CreateError> {
        let id = format!("gen_{}", random_hex());
        let snapshot = Snapshot::generation(&id, spec.clips);
        let plan = plan::generation(&id, spec);
        self.check_length(&plan, step)?;
        let job = self.insert(Job::new(id, Channel::Generation, snapshot, self.log_cap))?;
        run(job.clone(), plan, step);
        Ok(job)
    }

    /// Creates a composition, `comp_` and 128 random bits, and starts simulating it, one event
    /// every `step`.
    /// Must be called inside a tokio runtime.
    pub fn start_composition(
        &self,
        spec: CompositionSpec,
        step: Duration,
    ) -> Result<Arc<Job>, CreateError> {
        let id = format!("comp_{}", random_hex());
        let snapshot = Snapshot::composition(&id, spec.total_frames);
        let step_ms = u64::try_from(step.as_millis()).unwrap_or(u64::MAX);
        let plan = plan::composition(&id, spec, step_ms);
        self.check_length(&plan, step)?;
        let job = self.insert(Job::new(id, Channel::Composition, snapshot, self.log_cap))?;
        run(job.clone(), plan, step);
        Ok(job)
    }

    /// The job `id` of `channel`, if the store has it.
    pub fn get(&self, channel: Channel, id: &str) -> Option<Arc<Job>> {
        self.lock().jobs.get(&(channel, id.to_owned())).cloned()
    }

    fn insert(&self, job: Job) -> Result<Arc<Job>, CreateError> {
        let mut inner = self.lock();
        if inner.jobs.len() >= self.max_jobs {
            let oldest_finished = inner
                .order
                .iter()
                .position(|key| inner.jobs.get(key).is_none_or(|job| job.is_finished()))
                .ok_or(CreateError::Full {
                    max_jobs: self.max_jobs,
                })?;
            if let Some(key) = inner.order.remove(oldest_finished) {
                inner.jobs.remove(&key);
            }
        }
        let job = Arc::new(job);
        let key = (job.channel(), job.id().to_owned());
        inner.order.push_back(key.clone());
        inner.jobs.insert(key, job.clone());
        Ok(job)
    }

    fn lock(&self) -> MutexGuard<'_, StoreInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Refuses a plan whose steps, `step` apart, would run longer than `max_job_ms`.
pub(crate) fn check_length(
    plan: &Plan,
    step: Duration,
    max_job_ms: u64,
) -> Result<(), CreateError> {
    let step_ms = u64::try_from(step.as_millis()).unwrap_or(u64::MAX);
    let steps = u64::try_from(plan.steps.len()).unwrap_or(u64::MAX);
    let ms = steps.saturating_mul(step_ms);
    if ms > max_job_ms {
        return Err(CreateError::TooLong {
            ms,
            max_ms: max_job_ms,
        });
    }
    Ok(())
}

/// Emits the plan's start events now and the rest on a fixed schedule, step `n` at `n` steps
/// after the start (so a late timer does not push every later event back), in a task of its
/// own. A zero step runs the job as fast as the runtime allows (a timer would round it up to
/// 1 ms).
fn run(job: Arc<Job>, plan: Plan, step: Duration) {
    let started = tokio::time::Instant::now();
    for event in plan.at_start {
        job.emit(event);
    }
    tokio::spawn(async move {
        let mut due = started;
        for event in plan.steps {
            if step.is_zero() {
                tokio::task::yield_now().await;
            } else {
                due += step;
                tokio::time::sleep_until(due).await;
            }
            job.emit(event);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use jobsocket::core::events::{CompositionEvent, JobFailure};

    fn failure() -> JobEvent {
        JobEvent::Composition(CompositionEvent::Error(JobFailure {
            code: "encoding_failed".to_owned(),
            message: "test".to_owned(),
            recoverable: true,
        }))
    }

    #[test]
    fn a_watch_splits_events_between_backlog_and_receiver() {
        let job = Job::new(
            "comp_1".to_owned(),
            Channel::Composition,
            Snapshot::composition("comp_1", 1),
            MAX_LOG_EVENTS,
        );
        for _ in 0..3 {
            job.emit(failure());
        }
        let mut watch = job.watch();
        assert_eq!(watch.last_seq, 3);
        let backlog: Vec<u64> = job
            .events_after(1, MAX_LOG_EVENTS)
            .iter()
            .map(|logged| logged.seq)
            .collect();
        assert_eq!(backlog, [2, 3]);
        assert_eq!(job.emit(failure()), 4);
        assert_eq!(watch.live.try_recv().map(|logged| logged.seq), Ok(4));
        assert_eq!(job.snapshot().seq(), 4);
        assert!(job.events_after(99, MAX_LOG_EVENTS).is_empty());
        assert_eq!(job.events_after(0, MAX_LOG_EVENTS).len(), 4);
    }

    #[test]
    fn a_read_of_the_log_takes_one_batch_however_long_the_log() {
        let job = Job::new(
            "comp_1".to_owned(),
            Channel::Composition,
            Snapshot::composition("comp_1", 1),
            MAX_LOG_EVENTS,
        );
        for _ in 0..1_000 {
            job.emit(failure());
        }
        let seqs = |events: Vec<Logged>| events.iter().map(|l| l.seq).collect::<Vec<_>>();
        assert_eq!(seqs(job.events_after(0, 3)), [1, 2, 3]);
        assert_eq!(seqs(job.events_after(998, 3)), [999, 1_000]);
    }

    #[test]
    fn the_log_keeps_only_the_last_events_and_the_snapshot_all_of_them() {
        let job = Job::new(
            "comp_1".to_owned(),
            Channel::Composition,
            Snapshot::composition("comp_1", 1),
            3,
        );
        for _ in 0..5 {
            job.emit(failure());
        }
        let seqs = |events: Vec<Logged>| events.iter().map(|l| l.seq).collect::<Vec<_>>();
        let all = |seq| job.events_after(seq, usize::MAX);
        assert_eq!(seqs(all(0)), [3, 4, 5], "older than the log: all kept");
        assert_eq!(seqs(all(2)), [3, 4, 5]);
        assert_eq!(seqs(all(3)), [4, 5]);
        assert_eq!(seqs(all(5)), Vec::<u64>::new());
        assert_eq!(seqs(all(u64::MAX)), Vec::<u64>::new());
        let watch = job.watch();
        assert_eq!(watch.last_seq, 5);
        assert_eq!(job.emit(failure()), 6);
        assert_eq!(job.snapshot().seq(), 6);
        assert_eq!(seqs(all(0)), [4, 5, 6]);
    }
}
