//! A typed job event in a relay form, for an event the client built itself (from a polled
//! snapshot, or held back by progress coalescing) that another tab must receive, with no
//! server frame to copy its data from.
//!
//! It is JSON with the payload's field names, except that every float is written as the
//! integer of its IEEE-754 bits: exact, and without pulling Rust's float formatting (about
//! 10 KB of wasm) into the browser build. The follower reads it back with
//! [`JobEvent::from_relay_form`] into the same typed event, which the bindings turn into the
//! app's object like any event without a frame.

use super::events::{
    ClipCompleted, CompositionEvent, EncodingProgress, GenerationEvent, JobEvent, JobFailure,
    JobResult, JobStatus, Progress, Queued, StatusChange,
};
use super::json::{self, Value, write_string, write_u64};
use super::protocol::Channel;

/// Writes fields of one JSON object, the first without a comma.
struct ObjectWriter<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> ObjectWriter<'a> {
    fn new(out: &'a mut String) -> Self {
        out.push('{');
        ObjectWriter { out, first: true }
    }

    fn name(&mut self, name: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        write_string(self.out, name);
        self.out.push(':');
        self.out
    }

    fn string(&mut self, name: &str, value: &str) -> &mut Self {
        write_string(self.name(name), value);
        self
    }

    fn integer(&mut self, name: &str, value: u64) -> &mut Self {
        write_u64(self.name(name), value);
        self
    }

    fn float(&mut self, name: &str, value: f64) -> &mut Self {
        self.integer(name, value.to_bits())
    }

    fn boolean(&mut self, name: &str, value: bool) -> &mut Self {
        self.name(name)
            .push_str(if value { "true" } else { "false" });
        self
    }
}

/// Reads fields written by [`ObjectWriter`].
struct Fields<'v, 'a>(&'v Value<'a>);

impl Fields<'_, '_> {
    fn string(&self, name: &str) -> Option<String> {
        self.0.get(name)?.as_str().map(str::to_owned)
    }

    fn integer(&self, name: &str) -> Option<u64> {
        self.0.get(name)?.as_u64()
    }

    fn small(&self, name: &str) -> Option<u32> {
        u32::try_from(self.integer(name)?).ok()
    }

    fn float(&self, name: &str) -> Option<f64> {
        self.integer(name).map(f64::from_bits)
    }

    fn boolean(&self, name: &str) -> Option<bool> {
        self.0.get(name)?.as_bool()
    }

    fn status(&self, name: &str) -> Option<JobStatus> {
        JobStatus::from_name(self.0.get(name)?.as_str()?)
    }

    fn result(&self) -> Option<JobResult> {
        Some(JobResult {
            video_url: self.string("video_url")?,
            thumbnail_url: self.string("thumbnail_url")?,
            duration: self.float("duration")?,
        })
    }

    fn failure(&self) -> Option<JobFailure> {
        Some(JobFailure {
            code: self.string("code")?,
            message: self.string("message")?,
            recoverable: self.boolean("recoverable")?,
        })
    }
}

impl JobEvent {
    /// The event's data in relay form (see the module doc).
    pub fn relay_form(&self) -> String {
        let mut out = String::with_capacity(128);
        let mut object = ObjectWriter::new(&mut out);
        match self {
            JobEvent::Generation(event) => match event {
                GenerationEvent::Queued(Queued { position }) => {
                    object.integer("position", u64::from(*position));
                }
                GenerationEvent::Progress(progress) => {
                    object
                        .string("step", &progress.step)
                        .integer("clip_number", u64::from(progress.clip_number))
                        .integer("total_clips", u64::from(progress.total_clips))
                        .float("percentage", progress.percentage)
                        .string("message", &progress.message);
                }
                GenerationEvent::ClipCompleted(clip) => {
                    object
                        .string("clip_id", &clip.clip_id)
                        .string("thumbnail_url", &clip.thumbnail_url)
                        .float("duration", clip.duration);
                }
                GenerationEvent::StatusChange(change) => {
                    object
                        .string("old_status", change.old_status.as_str())
                        .string("new_status", change.new_status.as_str())
                        .string("message", &change.message);
                }
                GenerationEvent::Completed(result) => write_result(&mut object, result),
                GenerationEvent::Error(failure) => write_failure(&mut object, failure),
            },
            JobEvent::Composition(event) => match event {
                CompositionEvent::EncodingProgress(progress) => {
                    object
                        .float("percentage", progress.percentage)
                        .integer("frames_processed", progress.frames_processed)
                        .integer("total_frames", progress.total_frames)
                        .float("estimated_remaining", progress.estimated_remaining);
                }
                CompositionEvent::Completed(result) => write_result(&mut object, result),
                CompositionEvent::Error(failure) => write_failure(&mut object, failure),
            },
        }
        out.push('}');
        out
    }

    /// Reads an event of `channel` named `event` back from its relay form; `None` for text
    /// that is not one (a tab of another version).
    pub fn from_relay_form(channel: Channel, event: &str, text: &str) -> Option<JobEvent> {
        let value = json::parse(text).ok()?;
        let fields = Fields(&value);
        Some(match (channel, event) {
            (Channel::Generation, "queued") => GenerationEvent::Queued(Queued {
                position: fields.small("position")?,
            })
            .into(),
            (Channel::Generation, "progress") => GenerationEvent::Progress(Progress {
                step: fields.string("step")?,
                clip_number: fields.small("clip_number")?,
                total_clips: fields.small("total_clips")?,
                percentage: fields.float("percentage")?,
                message: fields.string("message")?,
            })
            .into(),
            (Channel::Generation, "clip_completed") => {
                GenerationEvent::ClipCompleted(ClipCompleted {
                    clip_id: fields.string("clip_id")?,
                    thumbnail_url: fields.string("thumbnail_url")?,
                    duration: fields.float("duration")?,
                })
                .into()
            }
            (Channel::Generation, "status_change") => GenerationEvent::StatusChange(StatusChange {
                old_status: fields.status("old_status")?,
                new_status: fields.status("new_status")?,
                message: fields.string("message")?,
            })
            .into(),
            (Channel::Generation, "completed") => {
                GenerationEvent::Completed(fields.result()?).into()
            }
            (Channel::Generation, "error") => GenerationEvent::Error(fields.failure()?).into(),
            (Channel::Composition, "encoding_progress") => {
                CompositionEvent::EncodingProgress(EncodingProgress {
                    percentage: fields.float("percentage")?,
                    frames_processed: fields.integer("frames_processed")?,
                    total_frames: fields.integer("total_frames")?,
                    estimated_remaining: fields.float("estimated_remaining")?,
                })
                .into()
            }
            (Channel::Composition, "completed") => {
                CompositionEvent::Completed(fields.result()?).into()
            }
            (Channel::Composition, "error") => CompositionEvent::Error(fields.failure()?).into(),
            _ => return None,
        })
    }
}

impl From<GenerationEvent> for JobEvent {
    fn from(event: GenerationEvent) -> Self {
        JobEvent::Generation(event)
    }
}

impl From<CompositionEvent> for JobEvent {
    fn from(event: CompositionEvent) -> Self {
        JobEvent::Composition(event)
    }
}

fn write_result(object: &mut ObjectWriter<'_>, result: &JobResult) {
    object
        .string("video_url", &result.video_url)
        .string("thumbnail_url", &result.thumbnail_url)
        .float("duration", result.duration);
}

fn write_failure(object: &mut ObjectWriter<'_>, failure: &JobFailure) {
    object
        .string("code", &failure.code)
        .string("message", &failure.message)
        .boolean("recoverable", failure.recoverable);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_comes_back_from_its_relay_form_exactly() {
        let third = 100.0 / 3.0;
        let events: Vec<JobEvent> = vec![
            GenerationEvent::Queued(Queued { position: 3 }).into(),
            GenerationEvent::Progress(Progress {
                step: "rendering \"x\"".to_owned(),
                clip_number: 2,
                total_clips: 5,
                percentage: third,
                message: "ünïcode".to_owned(),
            })
            .into(),
            GenerationEvent::ClipCompleted(ClipCompleted {
                clip_id: "c".to_owned(),
                thumbnail_url: "https://t".to_owned(),
                duration: 1e-300,
            })
            .into(),
            GenerationEvent::StatusChange(StatusChange {
                old_status: JobStatus::Queued,
                new_status: JobStatus::Processing,
                message: String::new(),
            })
            .into(),
            GenerationEvent::Completed(JobResult {
                video_url: "v".to_owned(),
                thumbnail_url: "t".to_owned(),
                duration: 12.5,
            })
            .into(),
            GenerationEvent::Error(JobFailure {
                code: "oom".to_owned(),
                message: "out of memory".to_owned(),
                recoverable: false,
            })
            .into(),
            CompositionEvent::EncodingProgress(EncodingProgress {
                percentage: 0.1 + 0.2,
                frames_processed: u64::from(u32::MAX) + 1,
                total_frames: 9_000_000_000,
                estimated_remaining: 1.7976931348623157e308,
            })
            .into(),
        ];
        for event in events {
            let text = event.relay_form();
            let back = JobEvent::from_relay_form(event.channel(), event.name(), &text);
            assert_eq!(back.as_ref(), Some(&event), "{text}");
        }
    }
}
