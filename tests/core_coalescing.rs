//! Scenarios of progress coalescing: at most ten progress events a second per job, the latest
//! winning; every other event delivered, in order, never held back.

mod support;

use std::time::Duration;

use jobsocket::core::{
    Channel, ClipCompleted, Config, Event, GenerationEvent, JobDelivery, JobEvent, JobResult,
    Progress, ServerFrame, Timer,
};
use support::{Scenario, URL};

const TICK: Duration = Duration::from_millis(10);

fn coalescing() -> Scenario {
    Scenario::with_config(Config::new(URL)) // the default: 10 per second
}

fn event(job: &str, seq: u64, event: GenerationEvent) -> ServerFrame {
    ServerFrame::Event {
        id: job.to_owned(),
        seq,
        event: JobEvent::Generation(event),
    }
}

fn progress(job: &str, seq: u64) -> ServerFrame {
    event(
        job,
        seq,
        GenerationEvent::Progress(Progress {
            step: "rendering".to_owned(),
            clip_number: 1,
            total_clips: 1,
            percentage: seq as f64,
            message: String::new(),
        }),
    )
}

fn clip(job: &str, seq: u64) -> ServerFrame {
    event(
        job,
        seq,
        GenerationEvent::ClipCompleted(ClipCompleted {
            clip_id: format!("{job}_{seq}"),
            thumbnail_url: "/t.svg".to_owned(),
            duration: 1.0,
        }),
    )
}

fn completed(job: &str, seq: u64) -> ServerFrame {
    event(
        job,
        seq,
        GenerationEvent::Completed(JobResult {
            video_url: "/v.mp4".to_owned(),
            thumbnail_url: "/t.svg".to_owned(),
            duration: 1.0,
        }),
    )
}

/// (job, seq, event name) of each delivery.
fn delivered(events: &[Event]) -> Vec<(String, u64, &'static str)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Job(JobDelivery {
                job_id, seq, event, ..
            }) => Some((job_id.clone(), *seq, event.name())),
            _ => None,
        })
        .collect()
}

#[test]
fn progress_of_one_job_goes_out_at_most_ten_times_a_second_and_the_latest_wins() {
    let mut scenario = coalescing();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    // 100 progress events over one second, one every 10 ms.
    for seq in 1..=100 {
        scenario.server_sends(socket, &progress("gen_1", seq));
        scenario.advance(TICK);
    }
    scenario.advance(Duration::from_millis(100));
    let seqs: Vec<u64> = delivered(&scenario.take_events())
        .into_iter()
        .map(|(_, seq, _)| seq)
        .collect();
    assert!(seqs.len() <= 11, "{} delivered: {seqs:?}", seqs.len());
    assert!(seqs.len() >= 10, "{seqs:?}");
    assert_eq!(seqs.first(), Some(&1), "the first goes out at once");
    assert_eq!(seqs.last(), Some(&100), "the latest is never lost");
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]));
}

#[test]
fn a_clip_completion_sends_the_held_progress_first_and_is_never_held() {
    let mut scenario = coalescing();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.server_sends(socket, &progress("gen_1", 1));
    scenario.server_sends(socket, &progress("gen_1", 2)); // held
    scenario.server_sends(socket, &progress("gen_1", 3)); // replaces 2
    scenario.server_sends(socket, &clip("gen_1", 4));
    assert_eq!(
        delivered(&scenario.take_events()),
        vec![
            ("gen_1".to_owned(), 1, "progress"),
            ("gen_1".to_owned(), 3, "progress"),
            ("gen_1".to_owned(), 4, "clip_completed"),
        ]
    );
}

#[test]
fn the_terminal_event_always_arrives_after_the_last_progress() {
    let mut scenario = coalescing();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    for seq in 1..=5 {
        scenario.server_sends(socket, &progress("gen_1", seq));
    }
    scenario.server_sends(socket, &completed("gen_1", 6));
    let names: Vec<(u64, &str)> = delivered(&scenario.take_events())
        .into_iter()
        .map(|(_, seq, name)| (seq, name))
        .collect();
    assert_eq!(
        names,
        vec![(1, "progress"), (5, "progress"), (6, "completed")]
    );
    assert_ne!(
        scenario.client.poll_timeout().map(|(_, timer)| timer),
        Some(Timer::ProgressRelease),
        "nothing is left held"
    );
}

#[test]
fn two_jobs_are_paced_independently() {
    let mut scenario = coalescing();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.subscribe(Channel::Generation, "gen_2");
    scenario.server_sends(socket, &progress("gen_1", 1));
    scenario.server_sends(socket, &progress("gen_2", 1));
    assert_eq!(delivered(&scenario.take_events()).len(), 2);
}

#[test]
fn a_held_progress_goes_out_when_its_interval_ends_without_its_frame_span() {
    let mut scenario = coalescing();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.server_sends(socket, &progress("gen_1", 1));
    scenario.server_sends(socket, &progress("gen_1", 2));
    scenario.take_events_with_spans();
    scenario.advance(Duration::from_millis(99));
    assert!(scenario.take_events_with_spans().is_empty());
    scenario.advance(Duration::from_millis(1));
    let events = scenario.take_events_with_spans();
    assert!(matches!(
        events.as_slice(),
        [Event::Job(JobDelivery {
            seq: 2,
            payload: None,
            ..
        })]
    ));
}

#[test]
fn close_hands_over_the_held_progress_first_and_leaves_no_timer_armed() {
    let mut scenario = coalescing();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.server_sends(socket, &progress("gen_1", 1));
    scenario.server_sends(socket, &progress("gen_1", 2)); // held
    scenario.take_events();
    scenario.act(|client, now| client.close(now));
    let events = scenario.take_events();
    assert_eq!(
        delivered(&events),
        vec![("gen_1".to_owned(), 2, "progress")]
    );
    assert!(
        matches!(events.last(), Some(Event::StateChanged(change)) if change.to == jobsocket::core::Status::Closed),
        "{events:?}"
    );
    assert_eq!(scenario.client.poll_timeout(), None);
    scenario.advance(Duration::from_secs(10));
    assert_eq!(scenario.take_events(), vec![]);
}
