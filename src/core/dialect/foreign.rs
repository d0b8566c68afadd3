//! Typed job events from the payloads of servers that do not speak protocol v1: the event-name
//! map and the field renames a dialect's options declare.
//!
//! Such servers send flat, loosely shaped payloads (`{jobId, status, progress, stage,
//! message}`), so this reading is lenient where v1's is strict: a field the server does not
//! send takes a neutral default (an empty string, 0), and only what makes the event what it is
//! must be there and well typed (the job id; a progress's percentage). One more rule makes
//! status-only servers work: an event whose `status` field says the job is over becomes the
//! job's end (`completed`, an unrecoverable `error`, a cancellation), whatever its name, so a
//! `progress` frame with `status: "completed"` ends the job as its `completed` would; and one
//! whose status says `queued` is a generation's `queued`.

use super::super::events::{
    CompositionEvent, EncodingProgress, GenerationEvent, JobEvent, JobFailure, JobResult,
    JobStatus, Progress, Queued, StatusChange,
};
use super::super::job_view::Snapshot;
use super::super::json::{self, Kind, Value};
use super::super::protocol::Channel;
use super::super::snapshot::{
    CompositionProgressSnapshot, CompositionSnapshot, GenerationProgressSnapshot,
    GenerationSnapshot,
};

/// Which typed event a foreign event becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypedKind {
    Queued,
    Progress,
    StatusChange,
    Completed,
    Error,
    EncodingProgress,
}

impl TypedKind {
    /// The kind named `channel.event`, such as `generation.progress`.
    fn parse(target: &str) -> Option<(Channel, TypedKind)> {
        let (channel, event) = target.split_once('.')?;
        let channel = Channel::from_name(channel)?;
        let kind = match (channel, event) {
            (Channel::Generation, "queued") => TypedKind::Queued,
            (Channel::Generation, "progress") => TypedKind::Progress,
            (Channel::Generation, "status_change") => TypedKind::StatusChange,
            (Channel::Composition, "encoding_progress") => TypedKind::EncodingProgress,
            (_, "completed") => TypedKind::Completed,
            (_, "error") => TypedKind::Error,
            _ => return None,
        };
        Some((channel, kind))
    }
}

/// The foreign event names and what each becomes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventMap {
    entries: Vec<(String, Channel, TypedKind)>,
}

impl EventMap {
    /// Reads `{"generation:progress": "generation.progress", …}`.
    pub fn parse(value: &Value<'_>) -> Result<EventMap, String> {
        let members = value
            .as_object()
            .ok_or("events must be an object of event names")?;
        let mut entries = Vec::with_capacity(members.len());
        for (name, target) in members {
            let parsed = target.as_str().and_then(TypedKind::parse).ok_or_else(|| {
                format!(
                    "events.{name} must name a typed event such as \"generation.progress\", \
                     \"generation.completed\", \"generation.error\", \"generation.queued\", \
                     \"generation.status_change\", \"composition.encoding_progress\", \
                     \"composition.completed\" or \"composition.error\""
                )
            })?;
            entries.push((name.to_string(), parsed.0, parsed.1));
        }
        Ok(EventMap { entries })
    }

    /// What the foreign event `name` becomes, if the map names it.
    pub fn get(&self, name: &str) -> Option<(Channel, TypedKind)> {
        self.entries
            .iter()
            .find(|(known, _, _)| known == name)
            .map(|(_, channel, kind)| (*channel, *kind))
    }
}

/// The names a foreign server gives the fields the typed events are built from.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldNames {
    /// The job id. [`jobId`]
    pub job_id: String,
    /// The percentage, 0 to 100. [`progress`]
    pub progress: String,
    /// The job's status (`queued`, `processing`, `completed`, `failed`, `cancelled`).
    /// [`status`]
    pub status: String,
    /// What the worker is doing: a progress's `step`. [`stage`]
    pub stage: String,
    /// A human-readable message. [`message`]
    pub message: String,
    /// The result object of a finished job. [`result`]
    pub result: String,
    /// The error of a failed job: a string, or an object with `message` (and `code`).
    /// [`error`]
    pub error: String,
    /// A queued job's place in the queue. [`position`]
    pub position: String,
    /// Inside the result: the URL of the output. [`url`]
    pub url: String,
    /// Inside the result: the URL of a thumbnail. [`thumbnailUrl`]
    pub thumbnail_url: String,
    /// Inside the result: the duration in seconds. [`duration`]
    pub duration: String,
}

impl Default for FieldNames {
    fn default() -> Self {
        FieldNames {
            job_id: "jobId".to_owned(),
            progress: "progress".to_owned(),
            status: "status".to_owned(),
            stage: "stage".to_owned(),
            message: "message".to_owned(),
            result: "result".to_owned(),
            error: "error".to_owned(),
            position: "position".to_owned(),
            url: "url".to_owned(),
            thumbnail_url: "thumbnailUrl".to_owned(),
            duration: "duration".to_owned(),
        }
    }
}

impl FieldNames {
    /// Applies the renames of `{"progress": "percent", …}` over the defaults.
    pub fn parse(value: Option<&Value<'_>>) -> Result<FieldNames, String> {
        let mut names = FieldNames::default();
        let Some(value) = value else {
            return Ok(names);
        };
        let members = value
            .as_object()
            .ok_or("fields must be an object of field names")?;
        for (key, renamed) in members {
            let renamed = renamed
                .as_str()
                .ok_or_else(|| format!("fields.{key} must be a string"))?
                .to_owned();
            let slot = match key.as_ref() {
                "jobId" => &mut names.job_id,
                "progress" => &mut names.progress,
                "status" => &mut names.status,
                "stage" => &mut names.stage,
                "message" => &mut names.message,
                "result" => &mut names.result,
                "error" => &mut names.error,
                "position" => &mut names.position,
                "url" => &mut names.url,
                "thumbnailUrl" => &mut names.thumbnail_url,
                "duration" => &mut names.duration,
                other => {
                    return Err(format!(
                        "fields.{other} is not a field jobsocket reads; the fields are jobId, \
                         progress, status, stage, message, result, error, position, url, \
                         thumbnailUrl and duration"
                    ));
                }
            };
            *slot = renamed;
        }
        Ok(names)
    }

    /// The job id of a foreign payload: a string, or a number written as one.
    pub fn job_id(&self, payload: &Value<'_>) -> Option<String> {
        let value = payload.get(&self.job_id)?;
        match &value.kind {
            Kind::String(id) => Some(id.to_string()),
            Kind::Number(number) => Some((*number).to_owned()),
            _ => None,
        }
    }

    /// The typed event a foreign payload stands for, as `kind` of `channel`; the error says
    /// which field is wrong.
    pub fn typed_event(
        &self,
        channel: Channel,
        kind: TypedKind,
        payload: &Value<'_>,
    ) -> Result<JobEvent, String> {
        let status = match payload.get(&self.status) {
            Some(value) if !value.is_null() => Some(
                value
                    .as_str()
                    .and_then(status_of)
                    .ok_or_else(|| format!("field \"{}\" is not a job status", self.status))?,
            ),
            _ => None,
        };
        // A status that says the job is over makes the event its end, whatever its name; one
        // that says it waits makes a generation's event its `queued`.
        let kind = match status {
            Some(JobStatus::Queued) if channel == Channel::Generation => TypedKind::Queued,
            Some(JobStatus::Completed) => TypedKind::Completed,
            Some(JobStatus::Failed) => TypedKind::Error,
            Some(JobStatus::Cancelled) if channel == Channel::Generation => TypedKind::StatusChange,
            _ => kind,
        };
        let message = self.string(payload, &self.message);
        let generation = |event| Ok(JobEvent::Generation(event));
        let composition = |event| Ok(JobEvent::Composition(event));
        match (channel, kind) {
            (Channel::Generation, TypedKind::Queued) => {
                generation(GenerationEvent::Queued(Queued {
                    position: payload
                        .get(&self.position)
                        .and_then(Value::as_u64)
                        .and_then(|position| u32::try_from(position).ok())
                        .unwrap_or(0),
                }))
            }
            (Channel::Generation, TypedKind::Progress) => {
                generation(GenerationEvent::Progress(Progress {
                    step: self.string(payload, &self.stage),
                    clip_number: 0,
                    total_clips: 0,
                    percentage: self.percentage(payload)?,
                    message,
                }))
            }
            (Channel::Generation, TypedKind::StatusChange) => {
                let new_status = status.ok_or_else(|| {
                    format!("a status change without its \"{}\" field", self.status)
                })?;
                generation(GenerationEvent::StatusChange(StatusChange {
                    old_status: JobStatus::Processing,
                    new_status,
                    message,
                }))
            }
            (Channel::Composition, TypedKind::EncodingProgress | TypedKind::Progress) => {
                composition(CompositionEvent::EncodingProgress(EncodingProgress {
                    percentage: self.percentage(payload)?,
                    frames_processed: 0,
                    total_frames: 0,
                    estimated_remaining: 0.0,
                }))
            }
            (Channel::Generation, TypedKind::Completed) => {
                generation(GenerationEvent::Completed(self.result(payload)))
            }
            (Channel::Composition, TypedKind::Completed) => {
                composition(CompositionEvent::Completed(self.result(payload)))
            }
            (Channel::Generation, TypedKind::Error) => {
                generation(GenerationEvent::Error(self.failure(payload, message)))
            }
            (Channel::Composition, TypedKind::Error) => {
                composition(CompositionEvent::Error(self.failure(payload, message)))
            }
            // The event map admits no other pairs.
            _ => Err("this event does not exist on this channel".to_owned()),
        }
    }

    /// A status endpoint's body of a server that speaks this mapping: `status` is required,
    /// then the renamed `progress`, `stage`, `message`, `result` and `error`. Such bodies carry
    /// no seq (it is 0): the client catches up by state, not by number.
    pub fn snapshot(&self, channel: Channel, body: &str) -> Result<Snapshot, String> {
        let value = json::parse(body).map_err(|error| format!("not JSON: {error}"))?;
        if value.as_object().is_none() {
            return Err(format!(
                "a status must be a JSON object, not {}",
                value.type_name()
            ));
        }
        let status = value
            .get(&self.status)
            .and_then(Value::as_str)
            .and_then(status_of)
            .ok_or_else(|| format!("field \"{}\" is not a job status", self.status))?;
        let percentage = self.percentage(&value)?;
        let message = self.string(&value, &self.message);
        let result = (status == JobStatus::Completed).then(|| self.result(&value));
        let error = (status == JobStatus::Failed).then(|| self.failure(&value, message.clone()));
        Ok(match channel {
            Channel::Generation => Snapshot::Generation(GenerationSnapshot {
                id: String::new(),
                status,
                progress: GenerationProgressSnapshot {
                    percentage,
                    step: self.string(&value, &self.stage),
                    clip_number: 0,
                    total_clips: 0,
                    message,
                },
                clips: Vec::new(),
                result,
                error,
                seq: 0,
            }),
            Channel::Composition => Snapshot::Composition(CompositionSnapshot {
                id: String::new(),
                status,
                progress: CompositionProgressSnapshot {
                    percentage,
                    ..CompositionProgressSnapshot::default()
                },
                result,
                error,
                seq: 0,
            }),
        })
    }

    fn string(&self, object: &Value<'_>, name: &str) -> String {
        object
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    fn percentage(&self, payload: &Value<'_>) -> Result<f64, String> {
        match payload.get(&self.progress) {
            None => Ok(0.0),
            Some(value) => value
                .as_f64()
                .ok_or_else(|| format!("field \"{}\" must be a number", self.progress)),
        }
    }

    fn result(&self, payload: &Value<'_>) -> JobResult {
        // The result object, or the payload itself for servers that send its fields flat.
        let result = payload
            .get(&self.result)
            .filter(|value| value.as_object().is_some())
            .unwrap_or(payload);
        JobResult {
            video_url: self.string(result, &self.url),
            thumbnail_url: self.string(result, &self.thumbnail_url),
            duration: result
                .get(&self.duration)
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
        }
    }

    fn failure(&self, payload: &Value<'_>, message: String) -> JobFailure {
        let error = payload.get(&self.error);
        let (code, error_message) = match error.map(|error| &error.kind) {
            Some(Kind::String(text)) => (None, Some(text.to_string())),
            Some(Kind::Object(_)) => {
                let error = error.unwrap_or(payload);
                (
                    error.get("code").and_then(Value::as_str).map(str::to_owned),
                    error
                        .get("message")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                )
            }
            _ => (None, None),
        };
        JobFailure {
            code: code
                .or_else(|| {
                    payload
                        .get("code")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| "job_failed".to_owned()),
            message: error_message.unwrap_or(message),
            recoverable: payload
                .get("recoverable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }
}

/// A foreign status name; `processing` also goes by `running`, `active` and `in_progress`,
/// `completed` by `complete`, `done` and `succeeded`, and `failed` by `error`.
fn status_of(name: &str) -> Option<JobStatus> {
    JobStatus::from_name(name).or(match name {
        "running" | "active" | "in_progress" | "started" => Some(JobStatus::Processing),
        "pending" | "waiting" => Some(JobStatus::Queued),
        "complete" | "done" | "succeeded" | "success" => Some(JobStatus::Completed),
        "error" | "errored" => Some(JobStatus::Failed),
        "canceled" => Some(JobStatus::Cancelled),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::json;
    use super::*;

    fn typed(kind: TypedKind, payload: &str) -> Result<JobEvent, String> {
        let value = json::parse(payload).expect("valid JSON");
        FieldNames::default().typed_event(Channel::Generation, kind, &value)
    }

    #[test]
    fn a_flat_progress_becomes_a_typed_progress_with_defaults() {
        let event = typed(
            TypedKind::Progress,
            r#"{"jobId":"j","status":"processing","progress":45,"stage":"inference","message":"Running"}"#,
        );
        assert_eq!(
            event,
            Ok(JobEvent::Generation(GenerationEvent::Progress(Progress {
                step: "inference".to_owned(),
                clip_number: 0,
                total_clips: 0,
                percentage: 45.0,
                message: "Running".to_owned(),
            })))
        );
    }

    #[test]
    fn a_progress_whose_status_says_completed_or_failed_ends_the_job() {
        let done = typed(
            TypedKind::Progress,
            r#"{"jobId":"j","status":"completed","progress":100,"result":{"url":"/v.mp4","duration":3}}"#,
        )
        .expect("valid");
        assert!(done.is_terminal());
        assert_eq!(done.name(), "completed");
        let failed = typed(
            TypedKind::Progress,
            r#"{"jobId":"j","status":"failed","message":"GPU lost"}"#,
        )
        .expect("valid");
        assert_eq!(
            failed,
            JobEvent::Generation(GenerationEvent::Error(JobFailure {
                code: "job_failed".to_owned(),
                message: "GPU lost".to_owned(),
                recoverable: false,
            }))
        );
    }

    #[test]
    fn a_progress_whose_status_says_queued_is_a_queued_generation() {
        let queued = typed(TypedKind::Progress, r#"{"status":"queued","position":3}"#);
        assert_eq!(
            queued,
            Ok(JobEvent::Generation(GenerationEvent::Queued(Queued {
                position: 3
            })))
        );
    }

    #[test]
    fn a_wrongly_typed_percentage_or_status_is_an_error_naming_the_field() {
        let error = typed(TypedKind::Progress, r#"{"progress":"half"}"#).expect_err("bad");
        assert!(error.contains("\"progress\""), "{error}");
        let error = typed(TypedKind::Progress, r#"{"status":"sleepy"}"#).expect_err("bad");
        assert!(error.contains("\"status\""), "{error}");
    }

    #[test]
    fn renames_apply_and_unknown_renames_are_refused() {
        let fields = json::parse(r#"{"progress":"percent","url":"file"}"#).expect("JSON");
        let names = FieldNames::parse(Some(&fields)).expect("valid renames");
        assert_eq!(names.progress, "percent");
        assert_eq!(names.url, "file");
        let wrong = json::parse(r#"{"percentage":"p"}"#).expect("JSON");
        let error = FieldNames::parse(Some(&wrong)).expect_err("unknown field");
        assert!(error.contains("fields.percentage"), "{error}");
    }

    #[test]
    fn the_event_map_refuses_targets_that_are_not_typed_events() {
        let map = json::parse(r#"{"generation:progress":"generation.progress"}"#).expect("JSON");
        let map = EventMap::parse(&map).expect("valid map");
        assert_eq!(
            map.get("generation:progress"),
            Some((Channel::Generation, TypedKind::Progress))
        );
        let wrong = json::parse(r#"{"x":"generation.encoding_progress"}"#).expect("JSON");
        assert!(EventMap::parse(&wrong).is_err());
    }
}
