//! The scripts of the simulated jobs: every event a job will emit, decided when it starts.
//!
//! Planning up front keeps the simulation a pure function of the job's parameters (tested here
//! without a runtime or a clock) and leaves the running task nothing to do but wait and emit.

use jobsocket::core::events::{
    ClipCompleted, CompositionEvent, EncodingProgress, GenerationEvent, JobEvent, JobFailure,
    JobResult, JobStatus, Progress, Queued, StatusChange,
};

/// Seconds of video in one generated clip.
const CLIP_SECONDS: f64 = 4.0;

/// Frame rate of a composition, to turn its frames into seconds.
const FRAMES_PER_SECOND: f64 = 24.0;

/// What a generation job is asked to do; the HTTP layer has checked the ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerationSpec {
    /// Clips to render, at least 1.
    pub clips: u32,
    /// Progress events per clip, at least 1.
    pub steps_per_clip: u32,
    /// Fail about half way through instead of completing.
    pub fail: bool,
}

/// What a composition job is asked to do; the HTTP layer has checked the ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompositionSpec {
    /// Frames to encode, at least 1.
    pub total_frames: u64,
    /// Progress events, at least 1.
    pub steps: u32,
    /// Fail about half way through instead of completing.
    pub fail: bool,
}

/// A job's events: those emitted as the job is created, then those emitted one step apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub at_start: Vec<JobEvent>,
    pub steps: Vec<JobEvent>,
}

/// The events of generation `id`. It is queued at once (so its log is never empty), picked up
/// one step later, renders its clips step by step, and ends with `completed`, or, when it is to
/// fail, with `status_change` to `failed` and an unrecoverable `error` after about half its clips.
pub fn generation(id: &str, spec: GenerationSpec) -> Plan {
    let GenerationSpec {
        clips,
        steps_per_clip,
        fail,
    } = spec;
    let event = |event| JobEvent::Generation(event);
    let total_steps = f64::from(clips) * f64::from(steps_per_clip);
    // The clip that fails: the one after the first half, so a one-clip job fails on its only clip.
    let failing_clip = fail.then_some(clips / 2 + 1);

    let at_start = vec![event(GenerationEvent::Queued(Queued { position: 1 }))];
    let mut steps = vec![event(GenerationEvent::StatusChange(StatusChange {
        old_status: JobStatus::Queued,
        new_status: JobStatus::Processing,
        message: "A worker picked up the job".to_owned(),
    }))];
    for clip in 1..=clips {
        let rendered_steps = match failing_clip {
            Some(failing) if failing == clip => steps_per_clip.div_ceil(2),
            _ => steps_per_clip,
        };
        for step in 1..=rendered_steps {
            let done = f64::from(clip - 1) * f64::from(steps_per_clip) + f64::from(step);
            steps.push(event(GenerationEvent::Progress(Progress {
                step: "rendering".to_owned(),
                clip_number: clip,
                total_clips: clips,
                percentage: round_tenth(done / total_steps * 100.0),
                message: format!("Rendering clip {clip} of {clips}"),
            })));
        }
        if failing_clip == Some(clip) {
            let message = format!("The model failed on clip {clip}");
            steps.push(event(GenerationEvent::StatusChange(StatusChange {
                old_status: JobStatus::Processing,
                new_status: JobStatus::Failed,
                message: message.clone(),
            })));
            steps.push(event(GenerationEvent::Error(JobFailure {
                code: "generation_failed".to_owned(),
                message,
                recoverable: false,
            })));
            return Plan { at_start, steps };
        }
        steps.push(event(GenerationEvent::ClipCompleted(ClipCompleted {
            clip_id: format!("{id}_clip_{clip}"),
            thumbnail_url: thumbnail_url(id, clip),
            duration: CLIP_SECONDS,
        })));
    }
    steps.push(event(GenerationEvent::StatusChange(StatusChange {
        old_status: JobStatus::Processing,
        new_status: JobStatus::Completed,
        message: "All clips rendered".to_owned(),
    })));
    steps.push(event(GenerationEvent::Completed(JobResult {
        video_url: format!("/videos/{id}.mp4"),
        thumbnail_url: thumbnail_url(id, 1),
        duration: CLIP_SECONDS * f64::from(clips),
    })));
    Plan { at_start, steps }
}

/// The events of composition `id`: `encoding_progress` every step up to all frames, then
/// `completed`; or, when it is to fail, an unrecoverable `error` after about half the steps.
/// The composition vocabulary has no `queued`, so nothing happens at start.
pub fn composition(id: &str, spec: CompositionSpec, step_ms: u64) -> Plan {
    let CompositionSpec {
        total_frames,
        steps: step_count,
        fail,
    } = spec;
    let event = |event| JobEvent::Composition(event);
    let encoded_steps = if fail { step_count / 2 } else { step_count };
    let mut steps = Vec::with_capacity(encoded_steps as usize + 1);
    for step in 1..=encoded_steps {
        let frames_processed = total_frames * u64::from(step) / u64::from(step_count);
        let remaining_steps = u64::from(step_count - step);
        steps.push(event(CompositionEvent::EncodingProgress(
            EncodingProgress {
                percentage: round_tenth(f64::from(step) / f64::from(step_count) * 100.0),
                frames_processed,
                total_frames,
                estimated_remaining: (remaining_steps * step_ms) as f64 / 1000.0,
            },
        )));
    }
    if fail {
        let frame = total_frames * u64::from(encoded_steps) / u64::from(step_count);
        steps.push(event(CompositionEvent::Error(JobFailure {
            code: "encoding_failed".to_owned(),
            message: format!("The encoder crashed at frame {frame}"),
            recoverable: false,
        })));
    } else {
        steps.push(event(CompositionEvent::Completed(JobResult {
            video_url: format!("/videos/{id}.mp4"),
            thumbnail_url: thumbnail_url(id, 1),
            duration: (total_frames as f64 / FRAMES_PER_SECOND * 100.0).round() / 100.0,
        })));
    }
    Plan {
        at_start: Vec::new(),
        steps,
    }
}

/// Where the server draws clip `clip` of job `id` (see `http::thumbnail`).
fn thumbnail_url(id: &str, clip: u32) -> String {
    format!("/thumbnails/{id}/{clip}.svg")
}

/// Percentages go on the wire with one decimal, as the protocol examples show them.
fn round_tenth(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(plan: Plan) -> Vec<JobEvent> {
        plan.at_start.into_iter().chain(plan.steps).collect()
    }

    fn names(events: &[JobEvent]) -> Vec<&'static str> {
        events.iter().map(JobEvent::name).collect()
    }

    fn percentages(events: &[JobEvent]) -> Vec<f64> {
        events
            .iter()
            .filter_map(|event| match event {
                JobEvent::Generation(GenerationEvent::Progress(progress)) => {
                    Some(progress.percentage)
                }
                JobEvent::Composition(CompositionEvent::EncodingProgress(progress)) => {
                    Some(progress.percentage)
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_generation_renders_every_clip_and_completes() {
        let spec = GenerationSpec {
            clips: 2,
            steps_per_clip: 2,
            fail: false,
        };
        let events = all(generation("gen_1", spec));
        assert_eq!(
            names(&events),
            [
                "queued",
                "status_change",
                "progress",
                "progress",
                "clip_completed",
                "progress",
                "progress",
                "clip_completed",
                "status_change",
                "completed",
            ]
        );
        assert_eq!(percentages(&events), [25.0, 50.0, 75.0, 100.0]);
        assert!(events.last().is_some_and(JobEvent::is_terminal));
        assert_eq!(events.iter().filter(|e| e.is_terminal()).count(), 1);
        let JobEvent::Generation(GenerationEvent::ClipCompleted(clip)) = &events[7] else {
            panic!("expected clip_completed, got {:?}", events[7]);
        };
        assert_eq!(clip.clip_id, "gen_1_clip_2");
        assert_eq!(clip.thumbnail_url, "/thumbnails/gen_1/2.svg");
    }

    #[test]
    fn a_failing_generation_stops_after_half_its_clips() {
        let spec = GenerationSpec {
            clips: 4,
            steps_per_clip: 3,
            fail: true,
        };
        let events = all(generation("gen_2", spec));
        let clips = names(&events)
            .iter()
            .filter(|name| **name == "clip_completed")
            .count();
        assert_eq!(clips, 2);
        let tail = &events[events.len() - 2..];
        assert!(matches!(
            &tail[0],
            JobEvent::Generation(GenerationEvent::StatusChange(change))
                if change.new_status == JobStatus::Failed
        ));
        assert!(matches!(
            &tail[1],
            JobEvent::Generation(GenerationEvent::Error(failure))
                if failure.code == "generation_failed" && !failure.recoverable
        ));
    }

    #[test]
    fn a_one_clip_generation_can_fail() {
        let spec = GenerationSpec {
            clips: 1,
            steps_per_clip: 1,
            fail: true,
        };
        let events = all(generation("gen_3", spec));
        assert_eq!(
            names(&events),
            [
                "queued",
                "status_change",
                "progress",
                "status_change",
                "error"
            ]
        );
    }

    #[test]
    fn a_composition_encodes_every_frame_and_completes() {
        let spec = CompositionSpec {
            total_frames: 240,
            steps: 3,
            fail: false,
        };
        let events = all(composition("comp_1", spec, 500));
        assert_eq!(
            names(&events),
            [
                "encoding_progress",
                "encoding_progress",
                "encoding_progress",
                "completed"
            ]
        );
        assert_eq!(percentages(&events), [33.3, 66.7, 100.0]);
        let JobEvent::Composition(CompositionEvent::EncodingProgress(last)) = &events[2] else {
            panic!("expected encoding_progress, got {:?}", events[2]);
        };
        assert_eq!(last.frames_processed, 240);
        assert_eq!(last.estimated_remaining, 0.0);
    }

    #[test]
    fn a_failing_composition_stops_half_way() {
        let spec = CompositionSpec {
            total_frames: 100,
            steps: 4,
            fail: true,
        };
        let events = all(composition("comp_2", spec, 1));
        assert_eq!(
            names(&events),
            ["encoding_progress", "encoding_progress", "error"]
        );
        assert!(events.last().is_some_and(JobEvent::is_terminal));
    }
}
