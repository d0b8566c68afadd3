//! What the app has been told about one job, and the events that bring it up to date with a
//! snapshot of the REST status endpoints.
//!
//! When WebSockets are unavailable the client polls `GET /api/v1/generations/{id}` (or
//! `compositions`), and the app must still hear the typed events the socket would have
//! delivered, each once, including across a switch from the socket to polling. A [`JobView`]
//! records what was delivered, from socket events ([`JobView::observe`]) or from snapshots
//! ([`JobView::catch_up`]); `catch_up` turns the difference between the view and a newer
//! snapshot into events, in the order the socket delivers them.
//!
//! A snapshot is the fold of the job's events up to its `seq`, and the view folds the delivered
//! events the same way (a `progress` means `processing`, an unrecoverable `error` means
//! `failed`), so a view that saw every event up to a snapshot's `seq` yields nothing for it.
//!
//! A job ends with two events: the status change to `completed` (or `failed`), then the
//! `completed` result (or the unrecoverable `error`). A snapshot taken between the two shows
//! the final status without the final payload (`result: null`, or only an earlier recoverable
//! error). The view then announces the status and waits for the payload, rather than ending the
//! job without its result or with the wrong error. Only when a later poll shows the same `seq`
//! (the job said nothing more for a whole poll interval) does it end the job with what it has:
//! a server whose snapshots never carry the payload still ends its jobs, one poll later.
//!
//! Snapshots decode over [`super::json`] rather than serde, for the package's size; their
//! nested objects are exactly the payloads of events (`progress`, `clip_completed`,
//! `completed`, `error`, `encoding_progress`), so they decode with the events' own readers.

use super::events::{
    ClipCompleted, CompositionEvent, EncodingProgress, GenerationEvent, JobEvent, JobFailure,
    JobResult, JobStatus, Progress, StatusChange,
};
use super::json::{self, Kind, Value};
use super::payload::{Payload, PayloadFailure};
use super::protocol::Channel;
use super::snapshot::{
    CompositionProgressSnapshot, CompositionSnapshot, GenerationProgressSnapshot,
    GenerationSnapshot,
};

/// What the app has been told about one job so far, from socket events or snapshots.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobView {
    /// The job's status as the delivered events tell it; `None` before any.
    status: Option<JobStatus>,
    /// The `clip_id` of every `clip_completed` delivered. Ids, not a count: after a gap the
    /// view has not seen every clip before the last one, and a snapshot must deliver exactly
    /// the missing ones.
    clips_seen: Vec<String>,
    /// The percentage of the last `progress` or `encoding_progress` delivered.
    percentage: Option<f64>,
    /// `frames_processed` of the last `encoding_progress` delivered (0 for a generation).
    frames_processed: u64,
    /// The job's end was delivered: nothing more will be.
    terminal: bool,
    /// A snapshot showed a final status whose payload (result or unrecoverable error) it did not
    /// carry yet; the next snapshot brings the payload, or ends the job without it.
    awaiting_end: bool,
    /// The `seq` of the newest event or snapshot applied.
    last_seq: u64,
}

impl JobView {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an event delivered from the socket, so a later snapshot does not repeat it.
    pub fn observe(&mut self, event: &JobEvent) {
        match event {
            JobEvent::Generation(event) => match event {
                GenerationEvent::Queued(_) => self.status = Some(JobStatus::Queued),
                GenerationEvent::StatusChange(change) => self.status = Some(change.new_status),
                GenerationEvent::ClipCompleted(clip) => self.saw_clip(&clip.clip_id),
                GenerationEvent::Progress(progress) => {
                    self.status = Some(JobStatus::Processing);
                    self.percentage = Some(progress.percentage);
                }
                GenerationEvent::Completed(_) => self.status = Some(JobStatus::Completed),
                GenerationEvent::Error(failure) => self.observe_failure(failure),
            },
            JobEvent::Composition(event) => match event {
                CompositionEvent::EncodingProgress(progress) => {
                    self.status = Some(JobStatus::Processing);
                    self.percentage = Some(progress.percentage);
                    self.frames_processed = progress.frames_processed;
                }
                CompositionEvent::Completed(_) => self.status = Some(JobStatus::Completed),
                CompositionEvent::Error(failure) => self.observe_failure(failure),
            },
        }
        self.terminal |= event.is_terminal();
    }

    fn saw_clip(&mut self, clip_id: &str) {
        if !self.clips_seen.iter().any(|seen| seen == clip_id) {
            self.clips_seen.push(clip_id.to_owned());
        }
    }

    fn observe_failure(&mut self, failure: &JobFailure) {
        if !failure.recoverable {
            self.status = Some(JobStatus::Failed);
        }
    }

    /// Records the `seq` of an event delivered from the socket; a snapshot with this `seq` or
    /// an older one then yields nothing.
    pub fn note_seq(&mut self, seq: u64) {
        self.last_seq = self.last_seq.max(seq);
    }

    /// The server's numbering went back to below `seq` (see [`crate::core::subscriptions`]):
    /// snapshots from `seq` on count as news again.
    pub fn rewind_seq(&mut self, seq: u64) {
        self.last_seq = self.last_seq.min(seq);
    }

    /// The `seq` of the newest event or snapshot applied (0 before any): a socket subscription
    /// with `since` this continues exactly after the view.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// True once the job's end was delivered (its result, an unrecoverable error, or its
    /// cancellation), or a snapshot showed it over: nothing more will come.
    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// [`JobView::catch_up`], each event with its own `seq`: apps key on `seq` (to drop
    /// duplicates, as React keys, as a cursor), so no two events of a job may share one.
    ///
    /// A snapshot at `seq` S folds the job's events after the view's last `seq` L, and the
    /// events rebuilt from it are at most that many (each stands for at least one real event),
    /// so they take the last seqs up to S: S−k+1, …, S. The last one carries S exactly, from
    /// which a socket continues. Should a server's snapshot yield more events than its `seq`
    /// advanced, progress events (superseded by what follows) are left out first, then the
    /// oldest others, whose count comes back too: those are lost, and worth reporting. A job settled on a repeated
    /// `seq` (see the module doc) ends one past it, S+1, since S went to the final status.
    pub fn catch_up_numbered(&mut self, snapshot: &Snapshot) -> (Vec<(u64, JobEvent)>, usize) {
        let last = self.last_seq;
        let seq = snapshot.seq();
        let mut events = self.catch_up(snapshot);
        if seq <= last {
            let next = seq.saturating_add(1);
            return ((next..).zip(events).collect(), 0);
        }
        let room = usize::try_from(seq - last).unwrap_or(usize::MAX);
        while events.len() > room {
            let Some(index) = events.iter().position(JobEvent::is_progress) else {
                break;
            };
            events.remove(index);
        }
        let lost = events.len().saturating_sub(room);
        events.drain(..lost);
        // At most `seq - last` events are left, so this neither wraps nor reaches below 1.
        let first = seq.saturating_sub(events.len() as u64).saturating_add(1);
        ((first..).zip(events).collect(), lost)
    }

    /// [`JobView::catch_up`] for a snapshot of a server without seqs (another dialect's status
    /// endpoint): every snapshot is taken as the job's present, the events it yields are
    /// numbered on from the view's last `seq`, and a second final snapshot still without its
    /// payload settles the job (there is no repeated `seq` to tell it).
    pub fn catch_up_unsequenced(&mut self, snapshot: &Snapshot) -> Vec<(u64, JobEvent)> {
        if self.terminal {
            return Vec::new();
        }
        let settled = self.awaiting_end && snapshot.status().is_terminal();
        // Such servers' progress only grows: a lower (or absent, read as 0) percentage is a
        // stale or partial body, not news.
        let mut snapshot = snapshot.clone();
        if let Some(known) = self.percentage {
            snapshot.raise_percentage_to(known);
        }
        let mut events = Vec::new();
        match &snapshot {
            Snapshot::Generation(snapshot) => {
                self.catch_up_generation(snapshot, settled, &mut events)
            }
            Snapshot::Composition(snapshot) => {
                self.catch_up_composition(snapshot, settled, &mut events)
            }
        }
        let first = self.last_seq.saturating_add(1);
        self.last_seq = self.last_seq.saturating_add(events.len() as u64);
        (first..).zip(events).collect()
    }

    /// The events that bring the app from this view to `snapshot`, in the order the socket
    /// would have delivered them, and updates the view. Returns nothing new for a snapshot
    /// that is not newer (its `seq` is not above the view's; a `seq` of 0 counts only for a
    /// view that has seen nothing), nor once the job's end was delivered.
    ///
    /// The one exception: a snapshot with the same `seq` as one that showed a final status
    /// without its payload settles the job (see the module doc).
    pub fn catch_up(&mut self, snapshot: &Snapshot) -> Vec<JobEvent> {
        let seq = snapshot.seq();
        let mut events = Vec::new();
        let newer = seq > self.last_seq || (seq == 0 && *self == JobView::default());
        let settled = !newer && seq == self.last_seq && self.awaiting_end;
        if !newer && !settled {
            return events;
        }
        self.last_seq = seq;
        if self.terminal {
            return events;
        }
        match snapshot {
            Snapshot::Generation(snapshot) => {
                self.catch_up_generation(snapshot, settled, &mut events)
            }
            Snapshot::Composition(snapshot) => {
                self.catch_up_composition(snapshot, settled, &mut events)
            }
        }
        events
    }

    fn catch_up_generation(
        &mut self,
        snapshot: &GenerationSnapshot,
        settled: bool,
        events: &mut Vec<JobEvent>,
    ) {
        let mut push = |event| events.push(JobEvent::Generation(event));
        let known = self.status.unwrap_or(JobStatus::Queued);
        let target = snapshot.status;
        // A job that ended after doing work went through `processing` on the way; one
        // cancelled or failed while still queued did not.
        let worked = target == JobStatus::Completed
            || !snapshot.clips.is_empty()
            || snapshot.progress.percentage > 0.0;
        let current = if !target.is_terminal() {
            target
        } else if known == JobStatus::Queued && worked {
            JobStatus::Processing
        } else {
            known
        };
        if current != known {
            push(status_change(known, current));
        }
        self.status = Some(current);

        for clip in &snapshot.clips {
            if !self.clips_seen.contains(&clip.clip_id) {
                self.clips_seen.push(clip.clip_id.clone());
                push(GenerationEvent::ClipCompleted(clip.clone()));
            }
        }

        let progress = &snapshot.progress;
        if self.progress_changed(progress.percentage, 0) {
            push(GenerationEvent::Progress(Progress {
                step: progress.step.clone(),
                clip_number: progress.clip_number,
                total_clips: progress.total_clips,
                percentage: progress.percentage,
                message: progress.message.clone(),
            }));
        }
        self.percentage = Some(progress.percentage);

        if target.is_terminal() {
            if current != target {
                push(status_change(current, target));
            }
            self.status = Some(target);
            match self.end(target, &snapshot.result, &snapshot.error, settled) {
                Some(End::Completed(result)) => push(GenerationEvent::Completed(result)),
                Some(End::Failed(failure)) => push(GenerationEvent::Error(failure)),
                Some(End::Silent) | None => {}
            }
        }
    }

    /// How a job whose snapshot shows final `status` ends, and records it: `None` while the
    /// payload is still to come (see the module doc), which `settled` gives up on.
    fn end(
        &mut self,
        status: JobStatus,
        result: &Option<JobResult>,
        error: &Option<JobFailure>,
        settled: bool,
    ) -> Option<End> {
        let end = match status {
            JobStatus::Completed => match result {
                Some(result) => End::Completed(result.clone()),
                None if settled => End::Silent,
                None => return self.await_end(),
            },
            JobStatus::Failed => match error {
                Some(error) if !error.recoverable => End::Failed(error.clone()),
                _ if settled => End::Failed(failure(error)),
                _ => return self.await_end(),
            },
            _ => End::Silent,
        };
        self.awaiting_end = false;
        self.terminal = true;
        Some(end)
    }

    fn await_end(&mut self) -> Option<End> {
        self.awaiting_end = true;
        None
    }

    fn catch_up_composition(
        &mut self,
        snapshot: &CompositionSnapshot,
        settled: bool,
        events: &mut Vec<JobEvent>,
    ) {
        let mut push = |event| events.push(JobEvent::Composition(event));
        let progress = &snapshot.progress;
        if self.progress_changed(progress.percentage, progress.frames_processed) {
            push(CompositionEvent::EncodingProgress(EncodingProgress {
                percentage: progress.percentage,
                frames_processed: progress.frames_processed,
                total_frames: progress.total_frames,
                estimated_remaining: progress.estimated_remaining,
            }));
        }
        self.percentage = Some(progress.percentage);
        self.frames_processed = progress.frames_processed;
        self.status = Some(snapshot.status);
        if !snapshot.status.is_terminal() {
            return;
        }
        // The composition vocabulary has no `status_change`: a cancellation ends it silently.
        match self.end(snapshot.status, &snapshot.result, &snapshot.error, settled) {
            Some(End::Completed(result)) => push(CompositionEvent::Completed(result)),
            Some(End::Failed(failure)) => push(CompositionEvent::Error(failure)),
            Some(End::Silent) | None => {}
        }
    }

    /// Whether a snapshot's progress differs from the last delivered; before any, whether it
    /// shows any.
    fn progress_changed(&self, percentage: f64, frames_processed: u64) -> bool {
        match self.percentage {
            None => percentage > 0.0 || frames_processed > 0,
            Some(known) => known != percentage || self.frames_processed != frames_processed,
        }
    }
}

/// The last event of a job, as its final snapshot tells it.
enum End {
    Completed(JobResult),
    /// An unrecoverable error.
    Failed(JobFailure),
    /// No event: a cancellation, or a completion whose result never came.
    Silent,
}

fn status_change(old_status: JobStatus, new_status: JobStatus) -> GenerationEvent {
    GenerationEvent::StatusChange(StatusChange {
        old_status,
        new_status,
        message: String::new(),
    })
}

/// The terminal `error` of a failed snapshot: its own error made unrecoverable, or a generic
/// one when it has none.
fn failure(error: &Option<JobFailure>) -> JobFailure {
    let error = error.clone().unwrap_or_else(|| JobFailure {
        code: "failed".to_owned(),
        message: String::new(),
        recoverable: false,
    });
    JobFailure {
        recoverable: false,
        ..error
    }
}

/// The body of a REST status endpoint: where one job stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Snapshot {
    Generation(GenerationSnapshot),
    Composition(CompositionSnapshot),
}

impl Snapshot {
    /// Decodes the body of the status endpoint for `channel`, with a clear error for anything
    /// malformed. Unknown fields are ignored; `result` and `error` may be null or absent;
    /// `clips` may be null or absent (no clips).
    pub fn decode(channel: Channel, body: &str) -> Result<Snapshot, String> {
        let value = json::parse(body).map_err(|error| format!("not JSON: {error}"))?;
        if value.as_object().is_none() {
            return Err(format!(
                "a snapshot must be a JSON object, not {}",
                value.type_name()
            ));
        }
        let top = Payload::new(Some(&value)).map_err(reason)?;
        let id = top.string("id").map_err(reason)?;
        let status = top.status("status").map_err(reason)?;
        let seq = top.seq("seq").map_err(reason)?;
        let progress = value
            .get("progress")
            .ok_or_else(|| "missing field \"progress\" (an object)".to_owned())?;
        let result = optional(&value, "result", |data| {
            Ok(match CompositionEvent::decode("completed", Some(data))? {
                CompositionEvent::Completed(result) => Some(result),
                _ => None,
            })
        })?;
        let error = optional(&value, "error", |data| {
            Ok(match CompositionEvent::decode("error", Some(data))? {
                CompositionEvent::Error(failure) => Some(failure),
                _ => None,
            })
        })?;
        Ok(match channel {
            Channel::Generation => Snapshot::Generation(GenerationSnapshot {
                id,
                status,
                progress: generation_progress(progress)?,
                clips: clips(&value)?,
                result,
                error,
                seq,
            }),
            Channel::Composition => Snapshot::Composition(CompositionSnapshot {
                id,
                status,
                progress: composition_progress(progress)?,
                result,
                error,
                seq,
            }),
        })
    }

    /// The `seq` of the job's last event folded into the snapshot.
    pub fn seq(&self) -> u64 {
        match self {
            Snapshot::Generation(snapshot) => snapshot.seq,
            Snapshot::Composition(snapshot) => snapshot.seq,
        }
    }

    /// Raises the snapshot's percentage to at least `floor`.
    fn raise_percentage_to(&mut self, floor: f64) {
        let percentage = match self {
            Snapshot::Generation(snapshot) => &mut snapshot.progress.percentage,
            Snapshot::Composition(snapshot) => &mut snapshot.progress.percentage,
        };
        *percentage = percentage.max(floor);
    }

    pub fn status(&self) -> JobStatus {
        match self {
            Snapshot::Generation(snapshot) => snapshot.status,
            Snapshot::Composition(snapshot) => snapshot.status,
        }
    }
}

fn reason(failure: PayloadFailure) -> String {
    match failure {
        PayloadFailure::Invalid(reason) => reason,
        PayloadFailure::UnknownName => "unknown payload".to_owned(),
    }
}

/// Reads the nested object `value` of field `name` with `read` (an event payload's reader
/// and the variant it yields), naming the field in any error.
fn nested<T>(
    name: &str,
    value: &Value<'_>,
    read: impl FnOnce(&Value<'_>) -> Result<Option<T>, PayloadFailure>,
) -> Result<T, String> {
    if value.as_object().is_none() {
        return Err(format!(
            "field \"{name}\" must be an object, not {}",
            value.type_name()
        ));
    }
    match read(value) {
        Ok(Some(read)) => Ok(read),
        Ok(None) => Err(format!("field \"{name}\" is not a valid object")),
        Err(failure) => Err(format!("in \"{name}\": {}", reason(failure))),
    }
}

/// A nested object that may be null or absent, read by [`nested`].
fn optional<T>(
    value: &Value<'_>,
    name: &str,
    read: impl FnOnce(&Value<'_>) -> Result<Option<T>, PayloadFailure>,
) -> Result<Option<T>, String> {
    match value.get(name) {
        None => Ok(None),
        Some(field) if field.is_null() => Ok(None),
        Some(field) => nested(name, field, read).map(Some),
    }
}

fn generation_progress(value: &Value<'_>) -> Result<GenerationProgressSnapshot, String> {
    nested("progress", value, |data| {
        Ok(match GenerationEvent::decode("progress", Some(data))? {
            GenerationEvent::Progress(progress) => Some(GenerationProgressSnapshot {
                percentage: progress.percentage,
                step: progress.step,
                clip_number: progress.clip_number,
                total_clips: progress.total_clips,
                message: progress.message,
            }),
            _ => None,
        })
    })
}

fn composition_progress(value: &Value<'_>) -> Result<CompositionProgressSnapshot, String> {
    nested("progress", value, |data| {
        Ok(
            match CompositionEvent::decode("encoding_progress", Some(data))? {
                CompositionEvent::EncodingProgress(progress) => Some(CompositionProgressSnapshot {
                    percentage: progress.percentage,
                    frames_processed: progress.frames_processed,
                    total_frames: progress.total_frames,
                    estimated_remaining: progress.estimated_remaining,
                }),
                _ => None,
            },
        )
    })
}

fn clips(value: &Value<'_>) -> Result<Vec<ClipCompleted>, String> {
    let items = match value.get("clips") {
        None => return Ok(Vec::new()),
        Some(field) => match &field.kind {
            Kind::Null => return Ok(Vec::new()),
            Kind::Array(items) => items,
            _ => {
                return Err(format!(
                    "field \"clips\" must be an array, not {}",
                    field.type_name()
                ));
            }
        },
    };
    items
        .iter()
        .map(|item| {
            nested("clips", item, |data| {
                Ok(
                    match GenerationEvent::decode("clip_completed", Some(data))? {
                        GenerationEvent::ClipCompleted(clip) => Some(clip),
                        _ => None,
                    },
                )
            })
        })
        .collect()
}
