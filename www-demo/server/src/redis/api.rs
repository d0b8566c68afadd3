//! The REST routes' work in the Redis mode: jobs are created in Redis and run here, snapshots
//! and app channels are read and written in Redis, so every instance answers for every job.

use std::sync::Arc;
use std::time::Duration;

use jobsocket::core::protocol::{Channel, RawJson, ServerFrame};

use super::RedisHub;
use super::keys::Feed;
use super::runner::{self, JobInputs, JobSpec};
use crate::http::ApiError;
use crate::jobs::{CreateError, Started, check_length};
use crate::secret::random_hex;

/// Creates a job of `spec`, one event every `step`, and runs it on this instance.
pub async fn start_job(
    hub: &Arc<RedisHub>,
    spec: JobSpec,
    step: Duration,
    max_jobs: usize,
    max_job_ms: u64,
) -> Result<Started, ApiError> {
    let prefix = match spec {
        JobSpec::Generation(_) => "gen",
        JobSpec::Composition(_) => "comp",
    };
    let job = JobInputs {
        id: format!("{prefix}_{}", random_hex()),
        spec,
        step_ms: u64::try_from(step.as_millis()).unwrap_or(u64::MAX),
        started_at_ms: runner::now_ms(),
    };
    check_length(&job.plan(), step, max_job_ms)?;
    if hub.running().len() >= max_jobs {
        return Err(CreateError::Full { max_jobs }.into());
    }
    runner::start(hub, job.clone()).await.map_err(unavailable)?;
    Ok(Started {
        channel: job.channel(),
        id: job.id,
        started_at_ms: job.started_at_ms,
    })
}

/// A job's snapshot, as JSON text.
pub async fn snapshot(hub: &RedisHub, channel: Channel, id: &str) -> Result<String, ApiError> {
    hub.snapshot(&Feed::job(channel, id))
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ApiError::NotFound(format!("no {channel} {id}")))
}

/// Publishes an event to an app channel; its seq.
pub async fn publish(
    hub: &RedisHub,
    name: &str,
    id: &str,
    event: &str,
    data: &RawJson,
) -> Result<u64, ApiError> {
    let frame = |seq| {
        ServerFrame::ChannelEvent {
            channel: name.to_owned(),
            id: id.to_owned(),
            seq,
            event: event.to_owned(),
            data: data.clone(),
        }
        .encode()
    };
    hub.publish_app(&Feed::app(name, id), frame)
        .await
        .map_err(unavailable)
}

fn unavailable(error: redis::RedisError) -> ApiError {
    ApiError::Unavailable(format!("Redis did not answer: {error}"))
}
