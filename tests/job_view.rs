//! The polling fallback's view of a job: snapshots turn into exactly the events the socket
//! would have delivered, each once (their decoding is `snapshot_decoding.rs`).

use jobsocket::core::job_view::{JobView, Snapshot};
use jobsocket::core::snapshot::{
    CompositionProgressSnapshot, CompositionSnapshot, GenerationProgressSnapshot,
    GenerationSnapshot,
};
use jobsocket::core::{
    ClipCompleted, CompositionEvent, EncodingProgress, GenerationEvent, JobEvent, JobFailure,
    JobResult, JobStatus, Progress, StatusChange,
};

fn clip(number: u32) -> ClipCompleted {
    ClipCompleted {
        clip_id: format!("gen_1_clip_{number}"),
        thumbnail_url: format!("/thumbnails/gen_1/{number}.svg"),
        duration: 4.0,
    }
}

fn result() -> JobResult {
    JobResult {
        video_url: "/videos/gen_1.mp4".to_owned(),
        thumbnail_url: "/thumbnails/gen_1/1.svg".to_owned(),
        duration: 12.0,
    }
}

fn failure(recoverable: bool) -> JobFailure {
    JobFailure {
        code: "generation_failed".to_owned(),
        message: "The model failed on clip 2".to_owned(),
        recoverable,
    }
}

fn progress_snapshot(clip_number: u32, percentage: f64) -> GenerationProgressSnapshot {
    GenerationProgressSnapshot {
        percentage,
        step: "rendering".to_owned(),
        clip_number,
        total_clips: 3,
        message: format!("Rendering clip {clip_number} of 3"),
    }
}

fn generation(
    seq: u64,
    status: JobStatus,
    clips: u32,
    progress: GenerationProgressSnapshot,
) -> GenerationSnapshot {
    GenerationSnapshot {
        id: "gen_1".to_owned(),
        status,
        progress,
        clips: (1..=clips).map(clip).collect(),
        result: None,
        error: None,
        seq,
    }
}

fn composition(
    seq: u64,
    status: JobStatus,
    percentage: f64,
    frames_processed: u64,
) -> CompositionSnapshot {
    CompositionSnapshot {
        id: "comp_1".to_owned(),
        status,
        progress: CompositionProgressSnapshot {
            percentage,
            frames_processed,
            total_frames: 240,
            estimated_remaining: 1.5,
        },
        result: None,
        error: None,
        seq,
    }
}

fn status_change(old_status: JobStatus, new_status: JobStatus) -> JobEvent {
    JobEvent::Generation(GenerationEvent::StatusChange(StatusChange {
        old_status,
        new_status,
        message: String::new(),
    }))
}

fn clip_completed(number: u32) -> JobEvent {
    JobEvent::Generation(GenerationEvent::ClipCompleted(clip(number)))
}

fn progress(clip_number: u32, percentage: f64) -> JobEvent {
    let snapshot = progress_snapshot(clip_number, percentage);
    JobEvent::Generation(GenerationEvent::Progress(Progress {
        step: snapshot.step,
        clip_number,
        total_clips: snapshot.total_clips,
        percentage,
        message: snapshot.message,
    }))
}

fn encoding_progress(percentage: f64, frames_processed: u64) -> JobEvent {
    JobEvent::Composition(CompositionEvent::EncodingProgress(EncodingProgress {
        percentage,
        frames_processed,
        total_frames: 240,
        estimated_remaining: 1.5,
    }))
}

/// A view that the socket told the job is processing, with `clips` clips and `percentage`.
fn processing_view(clips: u32, percentage: f64) -> JobView {
    let mut view = JobView::new();
    view.observe(&status_change(JobStatus::Queued, JobStatus::Processing));
    for number in 1..=clips {
        view.observe(&clip_completed(number));
    }
    view.observe(&progress(clips + 1, percentage));
    view
}

#[test]
fn a_generation_snapshot_sequence_yields_each_event_once_in_socket_order() {
    let mut view = JobView::new();
    let queued = Snapshot::Generation(generation(
        1,
        JobStatus::Queued,
        0,
        progress_snapshot(0, 0.0),
    ));
    assert_eq!(view.catch_up(&queued), vec![]);

    let one_clip = Snapshot::Generation(generation(
        6,
        JobStatus::Processing,
        1,
        progress_snapshot(2, 41.7),
    ));
    assert_eq!(
        view.catch_up(&one_clip),
        vec![
            status_change(JobStatus::Queued, JobStatus::Processing),
            clip_completed(1),
            progress(2, 41.7),
        ]
    );

    let two_clips = Snapshot::Generation(generation(
        10,
        JobStatus::Processing,
        2,
        progress_snapshot(3, 75.0),
    ));
    assert_eq!(
        view.catch_up(&two_clips),
        vec![clip_completed(2), progress(3, 75.0)]
    );
    assert!(!view.is_terminal());

    let mut done = generation(15, JobStatus::Completed, 3, progress_snapshot(3, 100.0));
    done.result = Some(result());
    let done = Snapshot::Generation(done);
    assert_eq!(
        view.catch_up(&done),
        vec![
            clip_completed(3),
            progress(3, 100.0),
            status_change(JobStatus::Processing, JobStatus::Completed),
            JobEvent::Generation(GenerationEvent::Completed(result())),
        ]
    );
    assert!(view.is_terminal());
    assert_eq!(view.last_seq(), 15);
    assert_eq!(view.catch_up(&done), vec![]);
}

#[test]
fn a_snapshot_after_socket_events_yields_only_what_the_socket_did_not_deliver() {
    let mut view = processing_view(1, 40.0);
    let snapshot = Snapshot::Generation(generation(
        9,
        JobStatus::Processing,
        2,
        progress_snapshot(3, 60.0),
    ));
    assert_eq!(
        view.catch_up(&snapshot),
        vec![clip_completed(2), progress(3, 60.0)]
    );
}

#[test]
fn a_snapshot_matching_what_the_socket_delivered_yields_nothing() {
    let mut view = processing_view(1, 40.0);
    let snapshot = Snapshot::Generation(generation(
        8,
        JobStatus::Processing,
        1,
        progress_snapshot(2, 40.0),
    ));
    assert_eq!(view.catch_up(&snapshot), vec![]);
}

#[test]
fn a_failed_snapshot_yields_the_status_change_then_its_unrecoverable_error() {
    let mut view = processing_view(1, 40.0);
    let mut failed = generation(9, JobStatus::Failed, 1, progress_snapshot(2, 40.0));
    failed.error = Some(failure(false));
    assert_eq!(
        view.catch_up(&Snapshot::Generation(failed)),
        vec![
            status_change(JobStatus::Processing, JobStatus::Failed),
            JobEvent::Generation(GenerationEvent::Error(failure(false))),
        ]
    );
    assert!(view.is_terminal());
}

#[test]
fn a_failed_snapshot_taken_before_the_unrecoverable_error_waits_for_it() {
    let mut view = processing_view(1, 40.0);
    // Taken between the status change and the final error: the snapshot still holds the
    // job's earlier, recoverable error.
    let mut failing = generation(9, JobStatus::Failed, 1, progress_snapshot(2, 40.0));
    failing.error = Some(failure(true));
    assert_eq!(
        view.catch_up(&Snapshot::Generation(failing)),
        vec![status_change(JobStatus::Processing, JobStatus::Failed)]
    );
    assert!(!view.is_terminal(), "the final error is still to come");
    let final_error = JobFailure {
        code: "out_of_memory".to_owned(),
        message: "The worker ran out of memory".to_owned(),
        recoverable: false,
    };
    let mut failed = generation(10, JobStatus::Failed, 1, progress_snapshot(2, 40.0));
    failed.error = Some(final_error.clone());
    assert_eq!(
        view.catch_up(&Snapshot::Generation(failed)),
        vec![JobEvent::Generation(GenerationEvent::Error(final_error))]
    );
    assert!(view.is_terminal());
}

#[test]
fn a_failed_snapshot_that_stays_without_an_error_ends_with_a_generic_one_a_poll_later() {
    let mut view = processing_view(1, 40.0);
    let failed = generation(9, JobStatus::Failed, 1, progress_snapshot(2, 40.0));
    assert_eq!(
        view.catch_up(&Snapshot::Generation(failed.clone())),
        vec![status_change(JobStatus::Processing, JobStatus::Failed)]
    );
    assert!(!view.is_terminal());
    // The same seq a poll later: the job has nothing more to say.
    assert_eq!(
        view.catch_up(&Snapshot::Generation(failed.clone())),
        vec![JobEvent::Generation(GenerationEvent::Error(JobFailure {
            code: "failed".to_owned(),
            message: String::new(),
            recoverable: false,
        }))]
    );
    assert!(view.is_terminal());
    assert_eq!(view.catch_up(&Snapshot::Generation(failed)), vec![]);
}

#[test]
fn a_failed_snapshot_after_the_socket_delivered_the_status_change_yields_only_the_error() {
    let mut view = processing_view(1, 40.0);
    view.observe(&status_change(JobStatus::Processing, JobStatus::Failed));
    assert!(!view.is_terminal());
    let mut failed = generation(9, JobStatus::Failed, 1, progress_snapshot(2, 40.0));
    failed.error = Some(failure(false));
    assert_eq!(
        view.catch_up(&Snapshot::Generation(failed)),
        vec![JobEvent::Generation(GenerationEvent::Error(failure(false)))]
    );
}

#[test]
fn a_cancelled_snapshot_yields_only_the_status_change() {
    let mut view = processing_view(1, 40.0);
    let cancelled = generation(9, JobStatus::Cancelled, 1, progress_snapshot(2, 40.0));
    assert_eq!(
        view.catch_up(&Snapshot::Generation(cancelled)),
        vec![status_change(JobStatus::Processing, JobStatus::Cancelled)]
    );
    assert!(view.is_terminal());
}

#[test]
fn a_job_cancelled_while_queued_goes_straight_from_queued_to_cancelled() {
    let mut view = JobView::new();
    let cancelled = generation(2, JobStatus::Cancelled, 0, progress_snapshot(0, 0.0));
    assert_eq!(
        view.catch_up(&Snapshot::Generation(cancelled)),
        vec![status_change(JobStatus::Queued, JobStatus::Cancelled)]
    );
}

#[test]
fn a_fresh_view_of_a_completed_job_passes_through_processing() {
    let mut view = JobView::new();
    let mut done = generation(15, JobStatus::Completed, 1, progress_snapshot(1, 100.0));
    done.result = Some(result());
    assert_eq!(
        view.catch_up(&Snapshot::Generation(done)),
        vec![
            status_change(JobStatus::Queued, JobStatus::Processing),
            clip_completed(1),
            progress(1, 100.0),
            status_change(JobStatus::Processing, JobStatus::Completed),
            JobEvent::Generation(GenerationEvent::Completed(result())),
        ]
    );
}

#[test]
fn a_completed_snapshot_taken_before_the_result_waits_for_the_result() {
    let mut view = processing_view(1, 100.0);
    let between = generation(9, JobStatus::Completed, 1, progress_snapshot(2, 100.0));
    assert_eq!(
        view.catch_up(&Snapshot::Generation(between)),
        vec![status_change(JobStatus::Processing, JobStatus::Completed)]
    );
    assert!(!view.is_terminal(), "the result is still to come");
    let mut done = generation(10, JobStatus::Completed, 1, progress_snapshot(2, 100.0));
    done.result = Some(result());
    assert_eq!(
        view.catch_up(&Snapshot::Generation(done)),
        vec![JobEvent::Generation(GenerationEvent::Completed(result()))]
    );
    assert!(view.is_terminal());
}

#[test]
fn a_completed_snapshot_that_stays_without_a_result_ends_the_job_a_poll_later() {
    let mut view = processing_view(1, 100.0);
    let done = generation(9, JobStatus::Completed, 1, progress_snapshot(2, 100.0));
    assert_eq!(
        view.catch_up(&Snapshot::Generation(done.clone())),
        vec![status_change(JobStatus::Processing, JobStatus::Completed)]
    );
    assert!(!view.is_terminal());
    assert_eq!(view.catch_up(&Snapshot::Generation(done)), vec![]);
    assert!(view.is_terminal());
}

#[test]
fn a_completed_composition_snapshot_taken_before_the_result_waits_for_it() {
    let mut view = JobView::new();
    view.observe(&encoding_progress(100.0, 240));
    let between = composition(8, JobStatus::Completed, 100.0, 240);
    assert_eq!(view.catch_up(&Snapshot::Composition(between)), vec![]);
    assert!(!view.is_terminal());
    let mut done = composition(9, JobStatus::Completed, 100.0, 240);
    done.result = Some(result());
    assert_eq!(
        view.catch_up(&Snapshot::Composition(done)),
        vec![JobEvent::Composition(CompositionEvent::Completed(result()))]
    );
    assert!(view.is_terminal());
}

#[test]
fn nothing_follows_a_terminal_event_the_socket_delivered() {
    let mut view = processing_view(1, 40.0);
    view.observe(&JobEvent::Generation(GenerationEvent::Completed(result())));
    assert!(view.is_terminal());
    let mut done = generation(15, JobStatus::Completed, 3, progress_snapshot(3, 100.0));
    done.result = Some(result());
    assert_eq!(view.catch_up(&Snapshot::Generation(done)), vec![]);
}

#[test]
fn composition_progress_then_completion() {
    let mut view = JobView::new();
    let halfway = Snapshot::Composition(composition(4, JobStatus::Processing, 50.0, 120));
    assert_eq!(view.catch_up(&halfway), vec![encoding_progress(50.0, 120)]);

    let mut done = composition(9, JobStatus::Completed, 100.0, 240);
    done.result = Some(result());
    let done = Snapshot::Composition(done);
    assert_eq!(
        view.catch_up(&done),
        vec![
            encoding_progress(100.0, 240),
            JobEvent::Composition(CompositionEvent::Completed(result())),
        ]
    );
    assert!(view.is_terminal());
    assert_eq!(view.catch_up(&done), vec![]);
}

#[test]
fn a_failed_composition_yields_an_unrecoverable_error_after_the_progress_the_socket_delivered() {
    let mut view = JobView::new();
    view.observe(&encoding_progress(50.0, 120));
    let mut failed = composition(5, JobStatus::Failed, 50.0, 120);
    failed.error = Some(failure(false));
    assert_eq!(
        view.catch_up(&Snapshot::Composition(failed)),
        vec![JobEvent::Composition(CompositionEvent::Error(failure(
            false
        )))]
    );
    assert!(view.is_terminal());
}

#[test]
fn an_older_or_equal_seq_yields_nothing() {
    let mut view = JobView::new();
    let first = Snapshot::Generation(generation(
        6,
        JobStatus::Processing,
        1,
        progress_snapshot(2, 41.7),
    ));
    assert_eq!(view.catch_up(&first).len(), 3);
    let same_seq = Snapshot::Generation(generation(
        6,
        JobStatus::Processing,
        2,
        progress_snapshot(3, 70.0),
    ));
    assert_eq!(view.catch_up(&same_seq), vec![]);
    let older = Snapshot::Generation(generation(
        5,
        JobStatus::Processing,
        2,
        progress_snapshot(3, 70.0),
    ));
    assert_eq!(view.catch_up(&older), vec![]);

    let mut socket = processing_view(1, 40.0);
    socket.note_seq(9);
    let stale = Snapshot::Generation(generation(
        9,
        JobStatus::Processing,
        2,
        progress_snapshot(3, 60.0),
    ));
    assert_eq!(socket.catch_up(&stale), vec![]);
    assert_eq!(socket.last_seq(), 9);
}

#[test]
fn after_a_gap_a_snapshot_delivers_the_missed_clip_and_never_repeats_one() {
    // The socket delivered clip 1, lost clip 2 in a gap, then delivered clip 3.
    let mut view = JobView::new();
    view.observe(&status_change(JobStatus::Queued, JobStatus::Processing));
    view.observe(&clip_completed(1));
    view.observe(&clip_completed(3));
    view.observe(&progress(3, 100.0));
    let snapshot = generation(20, JobStatus::Processing, 3, progress_snapshot(3, 100.0));
    assert_eq!(
        view.catch_up(&Snapshot::Generation(snapshot)),
        vec![clip_completed(2)]
    );
}

#[test]
fn events_rebuilt_from_one_snapshot_each_carry_their_own_seq_the_last_the_snapshots() {
    let mut view = JobView::new();
    let mut done = generation(15, JobStatus::Completed, 1, progress_snapshot(1, 100.0));
    done.result = Some(result());
    let (numbered, lost) = view.catch_up_numbered(&Snapshot::Generation(done));
    assert_eq!(lost, 0);
    assert_eq!(
        numbered,
        vec![
            (11, status_change(JobStatus::Queued, JobStatus::Processing)),
            (12, clip_completed(1)),
            (13, progress(1, 100.0)),
            (
                14,
                status_change(JobStatus::Processing, JobStatus::Completed)
            ),
            (
                15,
                JobEvent::Generation(GenerationEvent::Completed(result()))
            ),
        ]
    );
}

#[test]
fn a_snapshot_whose_seq_advanced_less_than_its_news_leaves_progress_out_first() {
    let mut view = processing_view(1, 40.0);
    view.note_seq(13);
    // Two clips and new progress, but the seq moved by two only.
    let snapshot = generation(15, JobStatus::Processing, 3, progress_snapshot(3, 90.0));
    let (numbered, lost) = view.catch_up_numbered(&Snapshot::Generation(snapshot));
    assert_eq!(
        numbered,
        vec![(14, clip_completed(2)), (15, clip_completed(3))]
    );
    assert_eq!(
        lost, 0,
        "only a progress event, superseded anyway, was left out"
    );
}

#[test]
fn a_job_settled_on_a_repeated_seq_ends_one_past_it() {
    let mut view = processing_view(1, 100.0);
    view.note_seq(8);
    let done = generation(9, JobStatus::Completed, 1, progress_snapshot(2, 100.0));
    let (first, _) = view.catch_up_numbered(&Snapshot::Generation(done.clone()));
    assert_eq!(
        first,
        vec![(
            9,
            status_change(JobStatus::Processing, JobStatus::Completed)
        )]
    );
    let mut failed = done;
    failed.status = JobStatus::Failed;
    let mut settled_view = processing_view(1, 100.0);
    settled_view.note_seq(8);
    let failing = Snapshot::Generation(failed);
    settled_view.catch_up_numbered(&failing);
    let (settled, _) = settled_view.catch_up_numbered(&failing);
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].0, 10, "one past the status change's seq");
    assert!(settled[0].1.is_terminal());
}
