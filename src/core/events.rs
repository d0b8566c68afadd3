//! The typed events of a job, one enum per channel, with payloads exactly as on the wire.
//!
//! Field names stay snake_case in JS too: they are the server's payloads, passed through, and
//! `docs/PROTOCOL.md` is the one place that defines them.

use super::json::Value;
use super::payload::{Payload, PayloadFailure};
use super::protocol::Channel;

/// The life-cycle status of a generation or composition job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum JobStatus {
    Queued,
    Processing,
    Completed,
    Failed,
    Cancelled,
}

impl JobStatus {
    /// The status of a wire name.
    pub fn from_name(name: &str) -> Option<JobStatus> {
        Some(match name {
            "queued" => JobStatus::Queued,
            "processing" => JobStatus::Processing,
            "completed" => JobStatus::Completed,
            "failed" => JobStatus::Failed,
            "cancelled" => JobStatus::Cancelled,
            _ => return None,
        })
    }

    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Processing => "processing",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// A terminal status never changes again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// `queued`: the job waits for a worker.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Queued {
    /// Place in the queue, 1 being next.
    pub position: u32,
}

/// `progress`: a generation advanced by one step.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Progress {
    /// What the worker is doing now, e.g. `"rendering"`.
    pub step: String,
    /// The clip being worked on, from 1.
    pub clip_number: u32,
    pub total_clips: u32,
    /// Progress of the whole job, 0 to 100.
    pub percentage: f64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub message: String,
}

/// `clip_completed`: one clip of a generation is ready.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ClipCompleted {
    pub clip_id: String,
    pub thumbnail_url: String,
    /// Seconds.
    pub duration: f64,
}

/// `status_change`: the job moved from one status to another.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StatusChange {
    pub old_status: JobStatus,
    pub new_status: JobStatus,
    #[cfg_attr(feature = "serde", serde(default))]
    pub message: String,
}

/// `completed`: the job's result. Terminal.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct JobResult {
    pub video_url: String,
    pub thumbnail_url: String,
    /// Seconds.
    pub duration: f64,
}

/// `error`: the job failed (or hit a problem it may recover from).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct JobFailure {
    pub code: String,
    pub message: String,
    /// `false` means the job is over: the event is terminal.
    pub recoverable: bool,
}

/// `encoding_progress`: a composition encoded more frames.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EncodingProgress {
    /// Progress of the whole job, 0 to 100.
    pub percentage: f64,
    pub frames_processed: u64,
    pub total_frames: u64,
    /// Seconds.
    pub estimated_remaining: f64,
}

impl JobResult {
    fn decode(data: Option<&Value<'_>>) -> Result<Self, PayloadFailure> {
        let data = Payload::new(data)?;
        Ok(JobResult {
            video_url: data.string("video_url")?,
            thumbnail_url: data.string("thumbnail_url")?,
            duration: data.f64("duration")?,
        })
    }
}

impl JobFailure {
    fn decode(data: Option<&Value<'_>>) -> Result<Self, PayloadFailure> {
        let data = Payload::new(data)?;
        Ok(JobFailure {
            code: data.string("code")?,
            message: data.string("message")?,
            recoverable: data.bool("recoverable")?,
        })
    }
}

/// An event of a generation job.
#[derive(Debug, Clone, PartialEq)]
pub enum GenerationEvent {
    Queued(Queued),
    Progress(Progress),
    ClipCompleted(ClipCompleted),
    StatusChange(StatusChange),
    Completed(JobResult),
    Error(JobFailure),
}

/// An event of a composition job.
#[derive(Debug, Clone, PartialEq)]
pub enum CompositionEvent {
    EncodingProgress(EncodingProgress),
    Completed(JobResult),
    Error(JobFailure),
}

/// An event of either channel.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    Generation(GenerationEvent),
    Composition(CompositionEvent),
}

impl GenerationEvent {
    /// The event's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            GenerationEvent::Queued(_) => "queued",
            GenerationEvent::Progress(_) => "progress",
            GenerationEvent::ClipCompleted(_) => "clip_completed",
            GenerationEvent::StatusChange(_) => "status_change",
            GenerationEvent::Completed(_) => "completed",
            GenerationEvent::Error(_) => "error",
        }
    }

    pub(crate) fn decode(event: &str, data: Option<&Value<'_>>) -> Result<Self, PayloadFailure> {
        Ok(match event {
            "queued" => {
                let data = Payload::new(data)?;
                GenerationEvent::Queued(Queued {
                    position: data.u32("position")?,
                })
            }
            "progress" => {
                let data = Payload::new(data)?;
                GenerationEvent::Progress(Progress {
                    step: data.string("step")?,
                    clip_number: data.u32("clip_number")?,
                    total_clips: data.u32("total_clips")?,
                    percentage: data.f64("percentage")?,
                    message: data.string_or_empty("message")?,
                })
            }
            "clip_completed" => {
                let data = Payload::new(data)?;
                GenerationEvent::ClipCompleted(ClipCompleted {
                    clip_id: data.string("clip_id")?,
                    thumbnail_url: data.string("thumbnail_url")?,
                    duration: data.f64("duration")?,
                })
            }
            "status_change" => {
                let data = Payload::new(data)?;
                GenerationEvent::StatusChange(StatusChange {
                    old_status: data.status("old_status")?,
                    new_status: data.status("new_status")?,
                    message: data.string_or_empty("message")?,
                })
            }
            "completed" => GenerationEvent::Completed(JobResult::decode(data)?),
            "error" => GenerationEvent::Error(JobFailure::decode(data)?),
            _ => return Err(PayloadFailure::UnknownName),
        })
    }
}

impl CompositionEvent {
    /// The event's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            CompositionEvent::EncodingProgress(_) => "encoding_progress",
            CompositionEvent::Completed(_) => "completed",
            CompositionEvent::Error(_) => "error",
        }
    }

    pub(crate) fn decode(event: &str, data: Option<&Value<'_>>) -> Result<Self, PayloadFailure> {
        Ok(match event {
            "encoding_progress" => {
                let data = Payload::new(data)?;
                CompositionEvent::EncodingProgress(EncodingProgress {
                    percentage: data.f64("percentage")?,
                    frames_processed: data.u64("frames_processed")?,
                    total_frames: data.u64("total_frames")?,
                    estimated_remaining: data.f64("estimated_remaining")?,
                })
            }
            "completed" => CompositionEvent::Completed(JobResult::decode(data)?),
            "error" => CompositionEvent::Error(JobFailure::decode(data)?),
            _ => return Err(PayloadFailure::UnknownName),
        })
    }
}

impl JobEvent {
    /// The channel this event belongs to.
    pub fn channel(&self) -> Channel {
        match self {
            JobEvent::Generation(_) => Channel::Generation,
            JobEvent::Composition(_) => Channel::Composition,
        }
    }

    /// The event's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            JobEvent::Generation(event) => event.name(),
            JobEvent::Composition(event) => event.name(),
        }
    }

    /// True for progress events, the only ones coalesced.
    pub fn is_progress(&self) -> bool {
        matches!(
            self,
            JobEvent::Generation(GenerationEvent::Progress(_))
                | JobEvent::Composition(CompositionEvent::EncodingProgress(_))
        )
    }

    /// True for the last event a job ever emits: its result, or an unrecoverable error.
    pub fn is_terminal(&self) -> bool {
        match self {
            JobEvent::Generation(GenerationEvent::Completed(_))
            | JobEvent::Composition(CompositionEvent::Completed(_)) => true,
            JobEvent::Generation(GenerationEvent::Error(failure))
            | JobEvent::Composition(CompositionEvent::Error(failure)) => !failure.recoverable,
            JobEvent::Generation(GenerationEvent::StatusChange(change)) => {
                change.new_status == JobStatus::Cancelled
            }
            _ => false,
        }
    }

    /// The event's payload as a JSON value, as it goes on the wire.
    #[cfg(feature = "serde")]
    pub fn data_json(&self) -> serde_json::Value {
        fn value<T: serde::Serialize>(payload: &T) -> serde_json::Value {
            // Plain structs of strings and numbers always serialize.
            serde_json::to_value(payload).unwrap_or_default()
        }
        match self {
            JobEvent::Generation(event) => match event {
                GenerationEvent::Queued(data) => value(data),
                GenerationEvent::Progress(data) => value(data),
                GenerationEvent::ClipCompleted(data) => value(data),
                GenerationEvent::StatusChange(data) => value(data),
                GenerationEvent::Completed(data) => value(data),
                GenerationEvent::Error(data) => value(data),
            },
            JobEvent::Composition(event) => match event {
                CompositionEvent::EncodingProgress(data) => value(data),
                CompositionEvent::Completed(data) => value(data),
                CompositionEvent::Error(data) => value(data),
            },
        }
    }
}
