//! A job's current state, folded from its events: what the REST status endpoints return.
//!
//! The snapshot changes only through [`Snapshot::apply`], called with each event as it is
//! logged, so it is always exactly the fold of the log up to its `seq`.

use jobsocket::core::events::{JobEvent, JobStatus};
use jobsocket::core::snapshot::{
    CompositionProgressSnapshot, CompositionSnapshot, GenerationProgressSnapshot,
    GenerationSnapshot,
};
use serde::Serialize;

/// The snapshot of a job of either channel; serializes as the channel's snapshot itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Snapshot {
    Generation(GenerationSnapshot),
    Composition(CompositionSnapshot),
}

impl Snapshot {
    /// A generation that has not emitted anything yet.
    pub fn generation(id: &str, total_clips: u32) -> Snapshot {
        Snapshot::Generation(GenerationSnapshot {
            id: id.to_owned(),
            status: JobStatus::Queued,
            progress: GenerationProgressSnapshot {
                total_clips,
                ..GenerationProgressSnapshot::default()
            },
            clips: Vec::new(),
            result: None,
            error: None,
            seq: 0,
        })
    }

    /// A composition that has not emitted anything yet.
    pub fn composition(id: &str, total_frames: u64) -> Snapshot {
        Snapshot::Composition(CompositionSnapshot {
            id: id.to_owned(),
            status: JobStatus::Queued,
            progress: CompositionProgressSnapshot {
                total_frames,
                ..CompositionProgressSnapshot::default()
            },
            result: None,
            error: None,
            seq: 0,
        })
    }

    /// The `seq` of the last event applied.
    pub fn seq(&self) -> u64 {
        match self {
            Snapshot::Generation(snapshot) => snapshot.seq,
            Snapshot::Composition(snapshot) => snapshot.seq,
        }
    }

    /// Folds event `seq` into the snapshot. An event of the other channel only moves `seq`:
    /// the job store never logs one, and a snapshot must never lag behind its log.
    pub fn apply(&mut self, seq: u64, event: &JobEvent) {
        match (self, event) {
            (Snapshot::Generation(snapshot), JobEvent::Generation(event)) => {
                snapshot.apply(event);
                snapshot.seq = seq;
            }
            (Snapshot::Composition(snapshot), JobEvent::Composition(event)) => {
                snapshot.apply(event);
                snapshot.seq = seq;
            }
            (Snapshot::Generation(GenerationSnapshot { seq: last, .. }), _)
            | (Snapshot::Composition(CompositionSnapshot { seq: last, .. }), _) => *last = seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::plan::{self, CompositionSpec, GenerationSpec};

    fn fold(mut snapshot: Snapshot, plan: plan::Plan) -> Snapshot {
        for (index, event) in plan.at_start.iter().chain(&plan.steps).enumerate() {
            snapshot.apply(index as u64 + 1, event);
        }
        snapshot
    }

    #[test]
    fn a_completed_generation_has_its_clips_and_result() {
        let spec = GenerationSpec {
            clips: 3,
            steps_per_clip: 2,
            fail: false,
        };
        let plan = plan::generation("gen_1", spec);
        let events = plan.at_start.len() + plan.steps.len();
        let Snapshot::Generation(snapshot) = fold(Snapshot::generation("gen_1", 3), plan) else {
            panic!("a generation folds into a generation snapshot");
        };
        assert_eq!(snapshot.status, JobStatus::Completed);
        assert_eq!(snapshot.clips.len(), 3);
        assert_eq!(snapshot.progress.percentage, 100.0);
        assert!(snapshot.result.is_some());
        assert_eq!(snapshot.error, None);
        assert_eq!(snapshot.seq, events as u64);
    }

    #[test]
    fn a_failed_composition_keeps_its_error() {
        let spec = CompositionSpec {
            total_frames: 240,
            steps: 8,
            fail: true,
        };
        let plan = plan::composition("comp_1", spec, 1);
        let Snapshot::Composition(snapshot) = fold(Snapshot::composition("comp_1", 240), plan)
        else {
            panic!("a composition folds into a composition snapshot");
        };
        assert_eq!(snapshot.status, JobStatus::Failed);
        assert_eq!(snapshot.progress.frames_processed, 120);
        assert_eq!(snapshot.result, None);
        assert_eq!(
            snapshot.error.map(|error| error.code).as_deref(),
            Some("encoding_failed")
        );
    }
}
