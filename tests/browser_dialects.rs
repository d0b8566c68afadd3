//! Browser tests of the dialects: the real driver in a real headless browser, against servers
//! nobody here wrote the protocol of (`tests/e2e/dialect-servers.mjs`: the npm `socket.io` 4.8
//! server, `ws` servers written to phase-7's and story-007's documents). `make test` starts
//! them on free ports and passes their addresses at build time in `JOBSOCKET_TEST_DIALECTS`.
//!
//! Each test has users, jobs and projects of its own, so no two tests share server state.

#![cfg(target_arch = "wasm32")]

use std::rc::Rc;
use std::time::Duration;

use jobsocket::core::{Channel, Config, Event, RawJson, StateReason, Status};
use jobsocket::web::Driver;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[path = "browser/harness.rs"]
#[allow(dead_code)]
mod harness;

#[path = "browser/dialect_harness.rs"]
mod dialect_harness;

use dialect_harness::{
    WorkspaceClient, address, approvals, channel_events, client, config, control, names,
    progress_percentages, readme_config, seqs_are_contiguous, token_for, unique,
};
use harness::{Recorder, count_errors, is_terminal, opened_count};

/// One kind of server: where it is, the README's config for it, and its control API.
struct Case {
    address: &'static str,
    /// The name of the README's configuration.
    protocol: &'static str,
    /// The control API's prefix for this server.
    control: &'static str,
    /// A refused token's close codes, when the server does not use 4001 or 4003.
    unauthorized_close_codes: Option<Vec<u16>>,
    /// The error each refusal reports.
    refusal_error: &'static str,
}

fn socket_io() -> Case {
    Case {
        address: "socketIo",
        protocol: "ep080",
        control: "/socket.io",
        unauthorized_close_codes: None,
        refusal_error: "connect_error",
    }
}

fn phase_7() -> Case {
    Case {
        address: "phase7",
        protocol: "phase7",
        control: "/phase-7",
        unauthorized_close_codes: Some(vec![1008]),
        refusal_error: "socket_closed",
    }
}

/// A client of a user of its own, with `token` (a signed one unless given), watching `job`
/// once its session is open (if it gets one).
struct Session {
    user: String,
    job: String,
    recorder: Rc<Recorder>,
    driver: Driver,
    control: &'static str,
}

impl Case {
    fn config(&self) -> Config {
        let mut config = config(&address(self.address), &readme_config(self.protocol));
        if let Some(codes) = &self.unauthorized_close_codes {
            config.unauthorized_close_codes = codes.clone();
        }
        config
    }

    async fn session(&self, token: Option<&str>) -> Session {
        let (user, job) = (unique("u"), unique("j"));
        let token = match token {
            Some(token) => token.to_owned(),
            None => token_for(&user).await,
        };
        let recorder = Rc::new(Recorder::default());
        let driver = client(self.config(), Some(&token), &recorder);
        Session {
            user,
            job,
            recorder,
            driver,
            control: self.control,
        }
    }

    /// A session watching its job, open.
    async fn watching(&self) -> Session {
        let session = self.session(None).await;
        let job = session.job.clone();
        session
            .driver
            .command(|core, now| core.subscribe(now, Channel::Generation, &job));
        session.wait_open().await;
        session
    }
}

impl Session {
    async fn wait_open(&self) {
        self.recorder
            .wait_for(&self.driver, 10_000, "the session", |_| {
                self.driver.state().status == Status::Open
            })
            .await;
    }

    /// Calls `{prefix}/{action}` of the control API with this session's user and job.
    async fn control(&self, action: &str, extra: &str) -> JsValue {
        let body = format!(r#"{{"user":"{}","job":"{}"{extra}}}"#, self.user, self.job);
        control(&format!("{}/{action}", self.control), &body).await
    }

    async fn run_job(&self, steps: u32) {
        self.control("job", &format!(r#","steps":{steps},"stepMs":25"#))
            .await;
    }

    async fn wait_end(&self) {
        self.recorder
            .wait_for(&self.driver, 15_000, "the job's end", is_terminal)
            .await;
    }

    /// What the server received from this user.
    async fn received(&self) -> u32 {
        let received = control("/received", &format!(r#"{{"user":"{}"}}"#, self.user)).await;
        js_sys::Array::from(&received).length()
    }

    fn close(&self) {
        self.driver.command(|core, now| core.close(now));
    }
}

/// The job runs to completion, its events in order: `queued` (phase-7's first `progress`
/// frame says queued), four progress steps, `completed` (phase-7's last says completed).
async fn runs_a_job_to_completion(case: Case) {
    let session = case.watching().await;
    session.run_job(4).await;
    session.wait_end().await;
    assert!(seqs_are_contiguous(&session.recorder));
    session.close();
    assert_eq!(
        names(&session.recorder),
        [
            "queued",
            "progress",
            "progress",
            "progress",
            "progress",
            "completed"
        ]
    );
}

/// A refused token gets one fresh token, then the client stops.
async fn a_refused_token_stops_the_client(case: Case) {
    let session = case.session(Some("not-signed")).await;
    session.driver.command(|core, now| core.connect(now));
    session
        .recorder
        .wait_for(&session.driver, 10_000, "the client to stop", |_| {
            session.driver.state().status == Status::Closed
        })
        .await;
    assert_eq!(
        session.driver.state().reason,
        Some(StateReason::Unauthorized)
    );
    assert_eq!(count_errors(&session.recorder, case.refusal_error), 2);
}

/// The socket is dropped in the middle of a job of 24 steps; the job still ends, nothing is
/// repeated or out of order; the progress percentages seen come back.
async fn a_dropped_socket_is_replaced(case: Case) -> (Vec<f64>, bool) {
    let session = case.watching().await;
    session.run_job(24).await;
    session
        .recorder
        .wait_for(&session.driver, 10_000, "three progress events", |r| {
            progress_percentages(r).len() >= 3
        })
        .await;
    session.control("drop", "").await;
    session.wait_end().await;
    assert_eq!(
        opened_count(&session.recorder),
        2,
        "one drop, one new session"
    );
    let percentages = progress_percentages(&session.recorder);
    assert!(percentages.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(seqs_are_contiguous(&session.recorder));
    let recovered = session.driver.state().recovered;
    session.close();
    (percentages, recovered)
}

/// An outbox message reaches the server once; the session's recorder comes back.
async fn an_outbox_message_arrives_once(case: Case, done: fn(&Recorder, &Driver) -> bool) {
    let session = case.session(None).await;
    let data = RawJson::new(format!(r#"{{"user":"{}"}}"#, session.user)).unwrap();
    session
        .driver
        .command(|core, now| core.send(now, "chat.message", data));
    session
        .recorder
        .wait_for(&session.driver, 10_000, "the message's end", |r| {
            done(r, &session.driver)
        })
        .await;
    assert_eq!(session.driver.state().outbox_size, 0);
    assert_eq!(session.received().await, 1);
    session.close();
}

/// Bad frames (sent through `send_bad`) are reported with `codes`, the session is kept, and a
/// job still runs to its end.
async fn bad_frames_are_reported_and_the_session_kept(case: Case, bad: &[(&str, &str)]) {
    let session = case.watching().await;
    for (action, extra) in bad {
        session.control(action, extra).await;
    }
    session.run_job(2).await;
    session.wait_end().await;
    assert_eq!(opened_count(&session.recorder), 1, "the session was kept");
    for code in [
        "unknown_event",
        "malformed_frame",
        "binary_packet",
        "unknown_namespace",
    ] {
        let expected = bad.iter().filter(|(_, extra)| extra.contains(code)).count();
        assert_eq!(count_errors(&session.recorder, code), expected, "{code}");
    }
    session.close();
}

// ---- Socket.IO v4 (ep-080's gateway: user rooms the server joins, generation:* events).

#[wasm_bindgen_test]
async fn socket_io_with_its_token_accepted_runs_a_job_to_completion() {
    runs_a_job_to_completion(socket_io()).await;
}

#[wasm_bindgen_test]
async fn socket_io_a_refused_token_is_refreshed_once_then_the_client_stops() {
    a_refused_token_stops_the_client(socket_io()).await;
}

#[wasm_bindgen_test]
async fn socket_io_a_dropped_socket_recovers_the_session_and_its_missed_events_exactly_once() {
    let (percentages, recovered) = a_dropped_socket_is_replaced(socket_io()).await;
    assert!(recovered, "the server recovered the session");
    assert_eq!(percentages.len(), 24, "every step once: {percentages:?}");
}

#[wasm_bindgen_test]
async fn socket_io_an_outbox_message_is_acked_once() {
    an_outbox_message_arrives_once(socket_io(), |_, driver| {
        driver.state().status == Status::Open && driver.state().outbox_size == 0
    })
    .await;
}

#[wasm_bindgen_test]
async fn socket_io_bad_packets_are_reported_and_the_session_kept() {
    // Each `extra` names the error it must cause, for the count.
    bad_frames_are_reported_and_the_session_kept(
        socket_io(),
        &[
            (
                "emit",
                r#","event":"mystery","data":{},"expect":"unknown_event""#,
            ),
            (
                "emit",
                r#","event":"generation:progress","binary":true,"expect":"binary_packet""#,
            ),
            (
                "raw",
                r#","text":"2/admin,[\"x\",{}]","expect":"unknown_namespace""#,
            ),
        ],
    )
    .await;
}

// ---- Plain JSON: phase-7's `ws` server.

#[wasm_bindgen_test]
async fn phase_7_with_its_token_accepted_runs_a_job_to_completion() {
    runs_a_job_to_completion(phase_7()).await;
}

#[wasm_bindgen_test]
async fn phase_7_a_refused_token_is_refreshed_once_then_the_client_stops() {
    a_refused_token_stops_the_client(phase_7()).await;
}

#[wasm_bindgen_test]
async fn phase_7_a_dropped_socket_is_replaced_and_the_job_still_ends() {
    // No replay on this wire: what was sent during the drop is lost, nothing is repeated.
    let (_, recovered) = a_dropped_socket_is_replaced(phase_7()).await;
    assert!(!recovered);
}

#[wasm_bindgen_test]
async fn phase_7_an_outbox_message_is_written_once() {
    // No acks on this wire: the message leaves the outbox once written; phase-7 answers an
    // app message with its error frame.
    an_outbox_message_arrives_once(phase_7(), |recorder, _| {
        count_errors(recorder, "server_error") == 1
    })
    .await;
}

#[wasm_bindgen_test]
async fn phase_7_bad_frames_are_reported_and_the_socket_kept() {
    bad_frames_are_reported_and_the_session_kept(
        phase_7(),
        &[
            ("raw", r#","text":"not json","expect":"malformed_frame""#),
            (
                "raw",
                r#","text":"{\"type\":\"presence\"}","expect":"unknown_event""#,
            ),
        ],
    )
    .await;
}

// ---- Any channel, any event name.

fn channel_seqs(recorder: &Recorder) -> Vec<u64> {
    recorder
        .events
        .borrow()
        .iter()
        .filter_map(|event| match event {
            Event::Channel(delivery) => Some(delivery.seq),
            _ => None,
        })
        .collect()
}

/// Publishes `n` to a channel of the reference server (protocol v1's generic channel).
async fn publish(channel: &str, id: &str, n: u32) {
    let response = harness::post(
        &format!("/api/v1/channels/{channel}/{id}/events"),
        &format!(r#"{{"event":"approval.created","data":{{"n":{n}}}}}"#),
    )
    .await;
    assert_eq!(response.status(), 201, "publish {n}");
}

/// A client in a fault scope of its own (named after `scope`), subscribed to a new workspace
/// channel of the reference server, once its socket is open.
async fn workspace_client(scope: &str) -> (harness::Scope, Rc<Recorder>, Driver, String) {
    let scope = harness::Scope::new(scope);
    let recorder = Rc::new(Recorder::default());
    let mut config = scope.quick_config();
    config.min_uptime = Duration::from_millis(0);
    let driver = Driver::new(config, recorder.clone(), None, Some(&unique("outbox")));
    let workspace = unique("w");
    driver.command(|core, now| core.subscribe_channel(now, "workspace", &workspace));
    recorder
        .wait_for(&driver, 10_000, "the socket", |_| {
            driver.state().status == Status::Open
        })
        .await;
    (scope, recorder, driver, workspace)
}

#[wasm_bindgen_test]
async fn a_v1_channel_gets_every_event_once_in_order_through_a_dropped_socket() {
    let (scope, recorder, driver, workspace) = workspace_client("channel").await;
    // Published before or after the server handled the subscribe, events come from its log or
    // live, once each.
    for n in 1..=3 {
        publish("workspace", &workspace, n).await;
    }
    recorder
        .wait_for(&driver, 10_000, "three events", |r| {
            channel_seqs(r).len() == 3
        })
        .await;
    scope.admin("drop", "{}").await;
    for n in 4..=6 {
        publish("workspace", &workspace, n).await;
    }
    recorder
        .wait_for(&driver, 10_000, "six events", |r| {
            channel_seqs(r).len() >= 6
        })
        .await;
    assert_eq!(opened_count(&recorder), 2);
    assert_eq!(channel_seqs(&recorder), [1, 2, 3, 4, 5, 6]);
    let data: Vec<String> = channel_events(&recorder)
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    assert_eq!(data[5], r#"{"n":6}"#);
    driver.command(|core, now| core.close(now));
}

/// Text beyond ASCII (accents, a CJK word, an emoji made of two UTF-16 units) in a frame
/// reaches the app exactly as the server wrote it: the frame is copied into wasm memory by the
/// browser's encoder, which needs more room than the frame's length in UTF-16 units.
#[wasm_bindgen_test]
async fn a_frame_with_text_beyond_ascii_arrives_exactly_as_sent() {
    let (_scope, recorder, driver, workspace) = workspace_client("unicode").await;
    let data = r#"{"a":"é","title":"Aperçu — 粤语 🎬"}"#;
    let response = harness::post(
        &format!("/api/v1/channels/workspace/{workspace}/events"),
        &format!(r#"{{"event":"approval.created","data":{data}}}"#),
    )
    .await;
    assert_eq!(response.status(), 201);
    recorder
        .wait_for(&driver, 10_000, "the event", |r| {
            !channel_events(r).is_empty()
        })
        .await;
    assert_eq!(
        channel_events(&recorder),
        [("approval.created".to_owned(), data.to_owned())]
    );
    driver.command(|core, now| core.close(now));
}

#[wasm_bindgen_test]
async fn story_007_a_project_channel_gets_a_job_to_completion_through_a_dropped_socket() {
    let (project, job) = (unique("p"), unique("j"));
    let recorder = Rc::new(Recorder::default());
    let driver = client(
        config(&address("story007"), &readme_config("story007")),
        None,
        &recorder,
    );
    driver.command(|core, now| core.subscribe_channel(now, "project", &project));
    recorder
        .wait_for(&driver, 10_000, "the socket", |_| {
            driver.state().status == Status::Open
        })
        .await;
    let start = format!(r#"{{"project":"{project}","job":"{job}","steps":24,"stepMs":25}}"#);
    control("/story-007/job", &start).await;
    recorder
        .wait_for(&driver, 10_000, "three progress events", |r| {
            channel_events(r).len() >= 3
        })
        .await;
    control("/story-007/drop", &format!(r#"{{"project":"{project}"}}"#)).await;
    recorder
        .wait_for(&driver, 15_000, "job_complete", |r| {
            channel_events(r)
                .iter()
                .any(|(name, _)| name == "job_complete")
        })
        .await;
    assert_eq!(
        opened_count(&recorder),
        2,
        "the project was subscribed again"
    );
    let events = channel_events(&recorder);
    let (last, data) = events.last().expect("events");
    assert_eq!(last, "job_complete");
    assert!(data.contains(r#""file":"/out/video.mp4""#), "{data}");
    assert!(events.iter().all(|(_, data)| data.contains(&job)));
    assert_eq!(
        channel_seqs(&recorder),
        (1..=events.len() as u64).collect::<Vec<_>>()
    );
    driver.command(|core, now| core.close(now));
}

#[wasm_bindgen_test]
async fn story_007_bad_frames_are_reported_and_the_socket_kept() {
    let project = unique("p");
    let recorder = Rc::new(Recorder::default());
    let driver = client(
        config(&address("story007"), &readme_config("story007")),
        None,
        &recorder,
    );
    driver.command(|core, now| core.subscribe_channel(now, "project", &project));
    recorder
        .wait_for(&driver, 10_000, "the socket", |_| {
            driver.state().status == Status::Open
        })
        .await;
    for text in ["{", r#"[1]"#] {
        let body = format!(r#"{{"project":"{project}","text":{}}}"#, json_string(text));
        control("/story-007/raw", &body).await;
    }
    let start = format!(
        r#"{{"project":"{project}","job":"{}","steps":2,"stepMs":10}}"#,
        unique("j")
    );
    control("/story-007/job", &start).await;
    recorder
        .wait_for(&driver, 10_000, "job_complete", |r| {
            channel_events(r)
                .iter()
                .any(|(name, _)| name == "job_complete")
        })
        .await;
    assert_eq!(count_errors(&recorder, "malformed_frame"), 2);
    assert_eq!(opened_count(&recorder), 1);
    driver.command(|core, now| core.close(now));
}

fn json_string(text: &str) -> String {
    js_sys::JSON::stringify(&JsValue::from_str(text))
        .ok()
        .and_then(|text| text.as_string())
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn story_16_15_workspace_events_by_name_survive_a_drop_exactly_once() {
    let client = WorkspaceClient::open("socketIo").await;
    for n in 1..=3 {
        control("/socket.io/emit", &client.approval(n)).await;
    }
    let other = format!(
        r#"{{"room":"workspace:{}","event":"agent.status.changed","data":{{}}}}"#,
        client.workspace
    );
    control("/socket.io/emit", &other).await;
    client.wait_approvals(3).await;
    let user = format!(r#"{{"user":"{}"}}"#, client.user);
    control("/socket.io/drop", &user).await;
    for n in 4..=6 {
        control("/socket.io/emit", &client.approval(n)).await;
    }
    client.wait_approvals(6).await;
    assert_eq!(opened_count(&client.recorder), 2);
    assert!(client.driver.state().recovered);
    assert_eq!(
        client.approvals(),
        approvals(1..=6),
        "each approval once, in order"
    );
    assert_eq!(
        count_errors(&client.recorder, "unknown_event"),
        1,
        "nobody listens to agent.status.changed"
    );
    client.close();
}
