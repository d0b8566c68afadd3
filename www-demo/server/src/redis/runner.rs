//! Running jobs in the Redis mode: each job runs on the instance that holds its lease, and an
//! instance that dies loses its jobs to the others.
//!
//! A simulated job is a pure function of its inputs ([`crate::jobs::plan`]), kept in its meta:
//! so the instance that takes a job over rebuilds the plan, folds the snapshot from the plan's
//! first `seq` events, and goes on with event `seq + 1` at the time it was due. Events that fell
//! due while nobody ran the job go out at once; none is skipped or sent twice, because the
//! emit script accepts only the seq after the stored one ([`super::scripts`]).
//!
//! While Redis is away, the job waits: it retries its next event until Redis answers, so the
//! events keep their order and none is lost, only late. If Redis came back empty, the job
//! stores itself again and goes on from where it was; the log then starts there.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jobsocket::core::events::JobEvent;
use jobsocket::core::protocol::{Channel, ServerFrame};
use redis::{AsyncCommands, RedisResult};

use super::RedisHub;
use super::keys::{Feed, RUNNING};
use super::scripts::Emitted;
use crate::jobs::plan::{self, CompositionSpec, GenerationSpec, Plan};
use crate::jobs::snapshot::Snapshot;

/// Longest wait between two tries of an event while Redis does not answer.
const MAX_RETRY: Duration = Duration::from_secs(1);

/// What a job is: enough to plan it again on any instance.
#[derive(Debug, Clone, PartialEq)]
pub struct JobInputs {
    pub id: String,
    pub spec: JobSpec,
    pub step_ms: u64,
    /// When it started, in milliseconds since the Unix epoch.
    pub started_at_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobSpec {
    Generation(GenerationSpec),
    Composition(CompositionSpec),
}

impl JobInputs {
    pub fn channel(&self) -> Channel {
        match self.spec {
            JobSpec::Generation(_) => Channel::Generation,
            JobSpec::Composition(_) => Channel::Composition,
        }
    }

    pub fn feed(&self) -> Feed {
        Feed::job(self.channel(), &self.id)
    }

    /// Every event the job emits, and how many of them it emits at start.
    pub fn plan(&self) -> Plan {
        match self.spec {
            JobSpec::Generation(spec) => plan::generation(&self.id, spec),
            JobSpec::Composition(spec) => plan::composition(&self.id, spec, self.step_ms),
        }
    }

    /// The snapshot before the first event.
    fn empty_snapshot(&self) -> Snapshot {
        match self.spec {
            JobSpec::Generation(spec) => Snapshot::generation(&self.id, spec.clips),
            JobSpec::Composition(spec) => Snapshot::composition(&self.id, spec.total_frames),
        }
    }

    /// When the event with `seq` is due, in ms since the epoch: the start events at the start,
    /// then one step apart.
    pub fn due_ms(&self, seq: u64, at_start: usize) -> f64 {
        let steps_in = seq.saturating_sub(at_start as u64);
        self.started_at_ms + steps_in as f64 * self.step_ms as f64
    }

    /// The meta fields that describe the job (see [`super::keys`]).
    fn fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("step_ms", self.step_ms.to_string()),
            ("started_at_ms", self.started_at_ms.to_string()),
        ];
        match self.spec {
            JobSpec::Generation(spec) => fields.extend([
                ("kind", "generation".to_owned()),
                ("clips", spec.clips.to_string()),
                ("steps_per_clip", spec.steps_per_clip.to_string()),
                ("fail", u8::from(spec.fail).to_string()),
            ]),
            JobSpec::Composition(spec) => fields.extend([
                ("kind", "composition".to_owned()),
                ("total_frames", spec.total_frames.to_string()),
                ("steps", spec.steps.to_string()),
                ("fail", u8::from(spec.fail).to_string()),
            ]),
        }
        fields
    }

    /// The job a meta hash describes; `None` if a field is missing or wrong.
    fn from_fields(id: &str, fields: &HashMap<String, String>) -> Option<JobInputs> {
        let get = |name: &str| fields.get(name).map(String::as_str);
        let number = |name: &str| get(name)?.parse::<u64>().ok();
        let fail = get("fail")? == "1";
        let spec = match get("kind")? {
            "generation" => JobSpec::Generation(GenerationSpec {
                clips: u32::try_from(number("clips")?).ok()?,
                steps_per_clip: u32::try_from(number("steps_per_clip")?).ok()?,
                fail,
            }),
            "composition" => JobSpec::Composition(CompositionSpec {
                total_frames: number("total_frames")?,
                steps: u32::try_from(number("steps")?).ok()?,
                fail,
            }),
            _ => return None,
        };
        Some(JobInputs {
            id: id.to_owned(),
            spec,
            step_ms: number("step_ms")?,
            started_at_ms: get("started_at_ms")?.parse().ok()?,
        })
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64() * 1_000.0)
}

/// Stores a new job, emits its start events and runs the rest in a task of its own.
pub async fn start(hub: &Arc<RedisHub>, job: JobInputs) -> RedisResult<()> {
    let snapshot = job.empty_snapshot();
    restore(hub, &job, 0, &snapshot).await?;
    let plan = job.plan();
    let at_start = plan.at_start.len();
    let events: Vec<JobEvent> = plan.at_start.into_iter().chain(plan.steps).collect();
    let mut running = Running {
        hub: Arc::clone(hub),
        job,
        at_start,
        events,
        emitted: 0,
        snapshot,
    };
    // The start events before the answer, as the in-memory store does: a client that
    // subscribes as soon as it has the id finds them in the log.
    for _ in 0..at_start {
        if !running.emit_next().await {
            return Ok(());
        }
    }
    spawn(running);
    Ok(())
}

/// Stores `job` after its `seq` events (the job's meta, its lease, its place in the running
/// set), unless Redis has it already.
async fn restore(
    hub: &RedisHub,
    job: &JobInputs,
    seq: u64,
    snapshot: &Snapshot,
) -> RedisResult<()> {
    let feed = job.feed();
    let snapshot = serde_json::to_string(snapshot).unwrap_or_default();
    let mut invocation = hub.restore.key(feed.meta());
    invocation
        .key(feed.lease())
        .key(RUNNING)
        .arg(&hub.token)
        .arg(hub.config.lease_ms)
        .arg(feed.member())
        .arg(hub.config.ttl_ms)
        .arg("seq")
        .arg(seq)
        .arg("snapshot")
        .arg(snapshot);
    for (name, value) in job.fields() {
        invocation.arg(name).arg(value);
    }
    let _stored: i64 = invocation.invoke_async(&mut hub.connection()).await?;
    Ok(())
}

/// A job this instance runs.
struct Running {
    hub: Arc<RedisHub>,
    job: JobInputs,
    at_start: usize,
    events: Vec<JobEvent>,
    /// Events emitted so far: the next one's seq is this plus one.
    emitted: usize,
    /// The snapshot after them.
    snapshot: Snapshot,
}

impl Running {
    /// Emits the next event, trying again while Redis does not answer; false if this instance
    /// must stop running the job (another one runs it).
    async fn emit_next(&mut self) -> bool {
        let Some(event) = self.events.get(self.emitted) else {
            return false;
        };
        let seq = self.emitted as u64 + 1;
        let mut snapshot = self.snapshot.clone();
        snapshot.apply(seq, event);
        let frame = ServerFrame::Event {
            id: self.job.id.clone(),
            seq,
            event: event.clone(),
        }
        .encode();
        let end = event.is_terminal();
        let snapshot_json = serde_json::to_string(&snapshot).unwrap_or_default();
        let feed = self.job.feed();
        let mut retry = Duration::from_millis(50);
        loop {
            let hub = &self.hub;
            let reply: RedisResult<Vec<String>> = hub
                .emit
                .key(feed.meta())
                .key(feed.log())
                .key(feed.lease())
                .key(RUNNING)
                .arg(&hub.token)
                .arg(seq)
                .arg(&frame)
                .arg(&snapshot_json)
                .arg(if end { "1" } else { "0" })
                .arg(hub.log_cap)
                .arg(hub.config.ttl_ms)
                .arg(feed.live())
                .arg(feed.member())
                .arg(hub.config.lease_ms)
                .invoke_async(&mut hub.connection())
                .await;
            match reply.map(|reply| Emitted::parse(&reply)) {
                Ok(Emitted::Done) => break,
                Ok(Emitted::Missing) => {
                    eprintln!(
                        "redis: {} was lost from Redis; storing it again",
                        feed.member()
                    );
                    if let Err(error) = restore(hub, &self.job, seq - 1, &self.snapshot).await {
                        eprintln!("redis: cannot store {} again: {error}", feed.member());
                    }
                    continue;
                }
                Ok(Emitted::NotOwner) => {
                    eprintln!(
                        "redis: another instance runs {} now; stopping here",
                        feed.member()
                    );
                    return false;
                }
                Ok(Emitted::Conflict { stored }) => {
                    eprintln!(
                        "redis: {} is at seq {stored}, not {}; another instance ran it, stopping here",
                        feed.member(),
                        seq - 1
                    );
                    return false;
                }
                Err(error) => {
                    if retry == Duration::from_millis(50) {
                        eprintln!(
                            "redis: cannot emit {} seq {seq} ({error}); trying again",
                            feed.member()
                        );
                    }
                }
            }
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(MAX_RETRY);
        }
        self.emitted += 1;
        self.snapshot = snapshot;
        true
    }

    /// Emits the remaining events, each at its due time.
    async fn run(mut self) {
        while self.emitted < self.events.len() {
            let due = self.job.due_ms(self.emitted as u64 + 1, self.at_start);
            let wait = due - now_ms();
            if wait > 0.0 {
                tokio::time::sleep(Duration::from_secs_f64(wait / 1_000.0)).await;
            } else {
                tokio::task::yield_now().await;
            }
            if !self.emit_next().await {
                break;
            }
        }
        self.hub.running().remove(&self.job.feed());
    }
}

fn spawn(running: Running) {
    let hub = Arc::clone(&running.hub);
    let feed = running.job.feed();
    let mut jobs = hub.running();
    let task = tokio::spawn(running.run());
    jobs.insert(feed, task);
}

/// Every third of a lease: renews this instance's leases, stops the jobs whose lease another
/// instance took, and takes over the running jobs whose lease lapsed.
pub fn watch_leases(hub: Arc<RedisHub>) {
    let every = Duration::from_millis((hub.config.lease_ms / 3).max(1));
    let weak = Arc::downgrade(&hub);
    drop(hub);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(hub) = weak.upgrade() else { return };
            if let Err(error) = renew_leases(&hub).await {
                eprintln!("redis: cannot renew leases ({error})");
                continue;
            }
            if let Err(error) = take_over(&hub).await {
                eprintln!("redis: cannot look for jobs to take over ({error})");
            }
        }
    });
}

async fn renew_leases(hub: &RedisHub) -> RedisResult<()> {
    let feeds: Vec<Feed> = hub.running().keys().cloned().collect();
    for feed in feeds {
        let kept: i64 = hub
            .renew
            .key(feed.lease())
            .arg(&hub.token)
            .arg(hub.config.lease_ms)
            .invoke_async(&mut hub.connection())
            .await?;
        if kept == 0 {
            eprintln!(
                "redis: another instance took {} over; stopping here",
                feed.member()
            );
            if let Some(task) = hub.running().remove(&feed) {
                task.abort();
            }
        }
    }
    Ok(())
}

/// Takes over every running job whose lease lapsed: its instance died or froze.
async fn take_over(hub: &Arc<RedisHub>) -> RedisResult<()> {
    let members: Vec<String> = hub.connection().smembers(RUNNING).await?;
    for member in members {
        let feed = Feed::from_member(member);
        if hub.running().contains_key(&feed) {
            continue;
        }
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::PX(hub.config.lease_ms));
        let taken: Option<String> = hub
            .connection()
            .set_options(feed.lease(), &hub.token, options)
            .await?;
        if taken.is_none() {
            continue;
        }
        resume(hub, feed).await?;
    }
    Ok(())
}

/// Runs a job taken over from its meta, from the event after the stored seq.
async fn resume(hub: &Arc<RedisHub>, feed: Feed) -> RedisResult<()> {
    let fields: HashMap<String, String> = hub.connection().hgetall(feed.meta()).await?;
    let job = feed
        .as_job()
        .and_then(|(_, id)| JobInputs::from_fields(id, &fields));
    let seq = fields.get("seq").and_then(|seq| seq.parse::<usize>().ok());
    let (Some(job), Some(seq)) = (job, seq) else {
        eprintln!("redis: {} has no usable meta; forgetting it", feed.member());
        let _: RedisResult<i64> = hub.connection().srem(RUNNING, feed.member()).await;
        return Ok(());
    };
    let plan = job.plan();
    let at_start = plan.at_start.len();
    let events: Vec<JobEvent> = plan.at_start.into_iter().chain(plan.steps).collect();
    let mut snapshot = job.empty_snapshot();
    for (index, event) in events.iter().take(seq).enumerate() {
        snapshot.apply(index as u64 + 1, event);
    }
    eprintln!("redis: taking {} over at seq {seq}", feed.member());
    spawn(Running {
        hub: Arc::clone(hub),
        job,
        at_start,
        emitted: seq.min(events.len()),
        events,
        snapshot,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The job as another instance reads it back from its meta.
    fn through_meta(job: &JobInputs) -> Option<JobInputs> {
        let fields: HashMap<String, String> = job
            .fields()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        JobInputs::from_fields(&job.id, &fields)
    }

    #[test]
    fn a_job_is_planned_again_from_its_meta() {
        let job = JobInputs {
            id: "gen_1".to_owned(),
            spec: JobSpec::Generation(GenerationSpec {
                clips: 2,
                steps_per_clip: 3,
                fail: true,
            }),
            step_ms: 40,
            started_at_ms: 1_764_000_000_123.456,
        };
        assert_eq!(through_meta(&job), Some(job.clone()));
        let composition = JobInputs {
            spec: JobSpec::Composition(CompositionSpec {
                total_frames: 240,
                steps: 5,
                fail: false,
            }),
            ..job
        };
        assert_eq!(through_meta(&composition), Some(composition));
    }

    #[test]
    fn events_fall_due_one_step_apart_after_the_start_events() {
        let job = JobInputs {
            id: "gen_1".to_owned(),
            spec: JobSpec::Generation(GenerationSpec {
                clips: 1,
                steps_per_clip: 1,
                fail: false,
            }),
            step_ms: 10,
            started_at_ms: 1_000.0,
        };
        assert_eq!(job.due_ms(1, 1), 1_000.0);
        assert_eq!(job.due_ms(2, 1), 1_010.0);
        assert_eq!(job.due_ms(5, 1), 1_040.0);
        assert_eq!(job.due_ms(1, 0), 1_010.0);
    }
}
