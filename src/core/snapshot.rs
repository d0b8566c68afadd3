//! The job snapshots the REST status endpoints return (`GET /api/v1/generations/{id}`,
//! `GET /api/v1/compositions/{id}`): the polling fallback turns them back into events, so their
//! shape is part of the protocol and lives beside it.

use super::events::{ClipCompleted, JobFailure, JobResult, JobStatus};

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
