//! The job snapshots the REST status endpoints return (`GET /api/v1/generations/{id}`,
//! `GET /api/v1/compositions/{id}`): the polling fallback turns them back into events, so their
//! shape is part of the protocol and lives beside it.

use super::events::{
    ClipCompleted, CompositionEvent, GenerationEvent, JobFailure, JobResult, JobStatus,
};

/// Where a generation stands.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GenerationSnapshot {
    pub id: String,
    pub status: JobStatus,
    pub progress: GenerationProgressSnapshot,
    /// Every clip completed so far, in order.
    pub clips: Vec<ClipCompleted>,
    pub result: Option<JobResult>,
    pub error: Option<JobFailure>,
    /// The `seq` of the job's last event: a socket subscription with `since = seq` continues
    /// exactly after this snapshot.
    pub seq: u64,
}

/// The latest progress of a generation.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GenerationProgressSnapshot {
    pub percentage: f64,
    pub step: String,
    pub clip_number: u32,
    pub total_clips: u32,
    pub message: String,
}

/// Where a composition stands.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CompositionSnapshot {
    pub id: String,
    pub status: JobStatus,
    pub progress: CompositionProgressSnapshot,
    pub result: Option<JobResult>,
    pub error: Option<JobFailure>,
    /// The `seq` of the job's last event.
    pub seq: u64,
}

/// The latest encoding progress of a composition.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CompositionProgressSnapshot {
    pub percentage: f64,
    pub frames_processed: u64,
    pub total_frames: u64,
    pub estimated_remaining: f64,
}

impl GenerationSnapshot {
    /// Folds one event of the job into the snapshot (the caller sets `seq`). The reference
    /// server keeps its snapshots with this, and tests build theirs the same way, so the two
    /// cannot disagree on what a snapshot says.
    pub fn apply(&mut self, event: &GenerationEvent) {
        match event {
            GenerationEvent::Queued(_) => self.status = JobStatus::Queued,
            GenerationEvent::StatusChange(change) => self.status = change.new_status,
            GenerationEvent::Progress(progress) => {
                self.status = JobStatus::Processing;
                self.progress = GenerationProgressSnapshot {
                    percentage: progress.percentage,
                    step: progress.step.clone(),
                    clip_number: progress.clip_number,
                    total_clips: progress.total_clips,
                    message: progress.message.clone(),
                };
            }
            GenerationEvent::ClipCompleted(clip) => self.clips.push(clip.clone()),
            GenerationEvent::Completed(result) => {
                self.status = JobStatus::Completed;
                self.result = Some(result.clone());
            }
            GenerationEvent::Error(failure) => {
                if !failure.recoverable {
                    self.status = JobStatus::Failed;
                }
                self.error = Some(failure.clone());
            }
        }
    }
}

impl CompositionSnapshot {
    /// Folds one event of the job into the snapshot (the caller sets `seq`).
    pub fn apply(&mut self, event: &CompositionEvent) {
        match event {
            CompositionEvent::EncodingProgress(progress) => {
                self.status = JobStatus::Processing;
                self.progress = CompositionProgressSnapshot {
                    percentage: progress.percentage,
                    frames_processed: progress.frames_processed,
                    total_frames: progress.total_frames,
                    estimated_remaining: progress.estimated_remaining,
                };
            }
            CompositionEvent::Completed(result) => {
                self.status = JobStatus::Completed;
                self.result = Some(result.clone());
            }
            CompositionEvent::Error(failure) => {
                if !failure.recoverable {
                    self.status = JobStatus::Failed;
                }
                self.error = Some(failure.clone());
            }
        }
    }
}
