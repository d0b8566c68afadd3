//! Browser tests of the dialects: the real driver in a real headless browser, against servers
//! nobody here wrote the protocol of (`tests/e2e/dialect-servers.mjs`: the npm `socket.io` 4.8
//! server, `ws` servers written to phase-7's and story-007's documents). `make test` starts
//! them on free ports and passes their addresses at build time in `JOBSOCKET_TEST_DIALECTS`.
//!
//! Each test has users, jobs and projects of its own, so no two tests share server state.

#![cfg(target_arch = "wasm32")]

use std::rc::Rc;
use std::time::Duration;

use jobsocket::core::{
    Channel, Config, DialectConfig, GenerationEvent, JobEvent, RawJson, StateReason, Status,
};
use jobsocket::web::{Driver, TokenSource};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[path = "browser/harness.rs"]
#[allow(dead_code)]
mod harness;

use harness::{Recorder, count_errors, is_terminal, opened_count};

/// ep-080's configuration, as the README gives it.
const EP_080: &str = r#"{"dialect":"socket.io","events":{
    "generation:queued":"generation.queued",
    "generation:progress":"generation.progress",
    "generation:complete":"generation.completed",
    "generation:error":"generation.error"}}"#;

/// phase-7's configuration, as the README gives it.
const PHASE_7: &str = r#"{"dialect":"json",
    "subscribe":{"type":"subscribe","data":{"jobId":"{id}"}},
    "unsubscribe":{"type":"unsubscribe","data":{"jobId":"{id}"}},
    "events":{"progress":"generation.progress"},
    "heartbeat":{"type":"ping"}}"#;

/// The address of one of the dialect servers.
fn address(name: &str) -> String {
    let Some(addresses) = option_env!("JOBSOCKET_TEST_DIALECTS") else {
        panic!("JOBSOCKET_TEST_DIALECTS names the dialect servers; run `make test`")
    };
    let addresses = js_sys::JSON::parse(addresses).expect("JSON addresses");
    js_sys::Reflect::get(&addresses, &name.into())
        .ok()
        .and_then(|value| value.as_string())
        .unwrap_or_else(|| panic!("no {name} in JOBSOCKET_TEST_DIALECTS"))
}

/// POSTs to the dialect servers' control API; the JSON answer.
async fn control(path: &str, body: &str) -> JsValue {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    let url = format!("{}{path}", address("control"));
    let request = web_sys::Request::new_with_str_and_init(&url, &init).unwrap();
    let response: web_sys::Response =
        JsFuture::from(web_sys::window().unwrap().fetch_with_request(&request))
            .await
            .expect("the control API answers")
            .into();
    assert_eq!(response.status(), 200, "POST {path}");
    JsFuture::from(response.json().unwrap()).await.unwrap()
}

/// A name no other test (nor the other browser, nor a rerun) uses.
fn unique(label: &str) -> String {
    format!("{label}-{:x}", (js_sys::Math::random() * 1e15) as u64)
}

async fn token_for(user: &str) -> String {
    let answer = control("/token", &format!(r#"{{"user":"{user}"}}"#)).await;
    js_sys::Reflect::get(&answer, &"token".into())
        .unwrap()
        .as_string()
        .unwrap()
}

/// Quick retries and every progress event delivered, for `url` in `protocol`.
fn config(url: &str, protocol: &str) -> Config {
    let mut config = Config::new(url);
    config.protocol = DialectConfig::parse(protocol).expect("the README's protocol");
    config.max_progress_per_second = 0;
    config.use_polling = false;
    config.reconnect_initial_delay = Duration::from_millis(20);
    config.reconnect_max_delay = Duration::from_millis(60);
    config.rng_seed = (js_sys::Math::random() * 9e15) as u64;
    config
}

/// A client of `config` with `token`, and its own outbox storage key.
fn client(config: Config, token: Option<&str>, recorder: &Rc<Recorder>) -> Driver {
    let mut config = config;
    config.auth = token.is_some();
    let token = token.map(|token| {
        TokenSource::from_option(JsValue::from_str(token))
            .expect("a token")
            .expect("a token source")
    });
    Driver::new(config, recorder.clone(), token, Some(&unique("outbox")))
}

fn progress_percentages(recorder: &Recorder) -> Vec<f64> {
    recorder
        .job_events()
        .into_iter()
        .filter_map(|(_, event)| match event {
            JobEvent::Generation(GenerationEvent::Progress(progress)) => Some(progress.percentage),
            _ => None,
        })
        .collect()
}

fn names(recorder: &Recorder) -> Vec<&'static str> {
    recorder
        .job_events()
        .iter()
        .map(|(_, event)| event.name())
        .collect()
}

fn seqs_are_contiguous(recorder: &Recorder) -> bool {
    let seqs: Vec<u64> = recorder.job_events().iter().map(|(seq, _)| *seq).collect();
    seqs == (1..=seqs.len() as u64).collect::<Vec<_>>()
}

async fn closes_unauthorized(driver: &Driver, recorder: &Recorder) {
    recorder
        .wait_for(driver, 10_000, "the client to stop, unauthorized", |_| {
            driver.state().status == Status::Closed
        })
        .await;
    assert_eq!(driver.state().reason, Some(StateReason::Unauthorized));
}

// ---- Socket.IO v4 (ep-080's gateway: user rooms the server joins, generation:* events).

#[wasm_bindgen_test]
async fn socket_io_with_its_token_accepted_runs_a_job_to_completion() {
    let (user, job) = (unique("u"), unique("j"));
    let token = token_for(&user).await;
    let recorder = Rc::new(Recorder::default());
    let driver = client(
        config(&address("socketIo"), EP_080),
        Some(&token),
        &recorder,
    );
    driver.command(|core, now| core.subscribe(now, Channel::Generation, &job));
    recorder
        .wait_for(&driver, 10_000, "the session", |_| {
            driver.state().status == Status::Open
        })
        .await;
    control(
        "/socket.io/job",
        &format!(r#"{{"user":"{user}","job":"{job}","steps":4,"stepMs":20}}"#),
    )
    .await;
    recorder
        .wait_for(&driver, 10_000, "the job's end", is_terminal)
        .await;
    assert_eq!(
        names(&recorder),
        [
            "queued",
            "progress",
            "progress",
            "progress",
            "progress",
            "completed"
        ]
    );
    assert!(seqs_are_contiguous(&recorder));
    driver.command(|core, now| core.close(now));
}

#[wasm_bindgen_test]
async fn socket_io_a_refused_token_is_refreshed_once_then_the_client_stops() {
    let recorder = Rc::new(Recorder::default());
    let driver = client(
        config(&address("socketIo"), EP_080),
        Some("not-signed"),
        &recorder,
    );
    driver.command(|core, now| core.connect(now));
    closes_unauthorized(&driver, &recorder).await;
    assert_eq!(count_errors(&recorder, "connect_error"), 2);
}

#[wasm_bindgen_test]
async fn socket_io_a_dropped_socket_recovers_the_session_and_its_missed_events_exactly_once() {
    let (user, job) = (unique("u"), unique("j"));
    let token = token_for(&user).await;
    let recorder = Rc::new(Recorder::default());
    let driver = client(
        config(&address("socketIo"), EP_080),
        Some(&token),
        &recorder,
    );
    driver.command(|core, now| core.subscribe(now, Channel::Generation, &job));
    recorder
        .wait_for(&driver, 10_000, "the session", |_| {
            driver.state().status == Status::Open
        })
        .await;
    control(
        "/socket.io/job",
        &format!(r#"{{"user":"{user}","job":"{job}","steps":24,"stepMs":25}}"#),
    )
    .await;
    recorder
        .wait_for(&driver, 10_000, "three progress events", |r| {
            progress_percentages(r).len() >= 3
        })
        .await;
    control("/socket.io/drop", &format!(r#"{{"user":"{user}"}}"#)).await;
    recorder
        .wait_for(&driver, 15_000, "the job's end", is_terminal)
        .await;
    assert_eq!(opened_count(&recorder), 2, "one drop, one new session");
    assert!(driver.state().recovered, "the server recovered the session");
    let percentages = progress_percentages(&recorder);
    assert_eq!(percentages.len(), 24, "every step once: {percentages:?}");
    assert!(percentages.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(seqs_are_contiguous(&recorder));
    driver.command(|core, now| core.close(now));
}

#[wasm_bindgen_test]
async fn socket_io_an_outbox_message_is_acked_once() {
    let user = unique("u");
    let token = token_for(&user).await;
    let recorder = Rc::new(Recorder::default());
    let driver = client(
        config(&address("socketIo"), EP_080),
        Some(&token),
        &recorder,
    );
    let data = RawJson::new(format!(r#"{{"user":"{user}","text":"hello"}}"#)).unwrap();
    driver.command(|core, now| core.send(now, "chat.message", data));
    recorder
        .wait_for(&driver, 10_000, "the ack", |_| {
            driver.state().outbox_size == 0 && driver.state().status == Status::Open
        })
        .await;
    let received = control("/received", &format!(r#"{{"user":"{user}"}}"#)).await;
    assert_eq!(js_sys::Array::from(&received).length(), 1);
    driver.command(|core, now| core.close(now));
}

#[wasm_bindgen_test]
async fn socket_io_bad_packets_are_reported_and_the_session_kept() {
    let (user, job) = (unique("u"), unique("j"));
    let token = token_for(&user).await;
    let recorder = Rc::new(Recorder::default());
    let driver = client(
        config(&address("socketIo"), EP_080),
        Some(&token),
        &recorder,
    );
    driver.command(|core, now| core.subscribe(now, Channel::Generation, &job));
    recorder
        .wait_for(&driver, 10_000, "the session", |_| {
            driver.state().status == Status::Open
        })
        .await;
    let room = format!("user-{user}");
    control(
        "/socket.io/emit",
        &format!(r#"{{"room":"{room}","event":"mystery","data":{{}}}}"#),
    )
    .await;
    control(
        "/socket.io/emit",
        &format!(r#"{{"room":"{room}","event":"generation:progress","binary":true}}"#),
    )
    .await;
    control(
        "/socket.io/raw",
        &format!(r#"{{"user":"{user}","text":"2/admin,[\"x\",{{}}]"}}"#),
    )
    .await;
    control(
        "/socket.io/job",
        &format!(r#"{{"user":"{user}","job":"{job}","steps":2,"stepMs":10}}"#),
    )
    .await;
    recorder
        .wait_for(&driver, 10_000, "the job's end", is_terminal)
        .await;
    for code in ["unknown_event", "binary_packet", "unknown_namespace"] {
        assert_eq!(count_errors(&recorder, code), 1, "{code}");
    }
    assert_eq!(opened_count(&recorder), 1, "the session was kept");
    driver.command(|core, now| core.close(now));
}

// ---- Plain JSON: phase-7's `ws` server.

fn phase_7_config() -> Config {
    let mut config = config(&address("phase7"), PHASE_7);
    config.unauthorized_close_codes = vec![1008];
    config
}

#[wasm_bindgen_test]
async fn phase_7_with_its_token_accepted_runs_a_job_to_completion() {
    let (user, job) = (unique("u"), unique("j"));
    let token = token_for(&user).await;
    let recorder = Rc::new(Recorder::default());
    let driver = client(phase_7_config(), Some(&token), &recorder);
    driver.command(|core, now| core.subscribe(now, Channel::Generation, &job));
    recorder
        .wait_for(&driver, 10_000, "the socket", |_| {
            driver.state().status == Status::Open
        })
        .await;
    control(
        "/phase-7/job",
        &format!(r#"{{"user":"{user}","job":"{job}","steps":4,"stepMs":20}}"#),
    )
    .await;
    recorder
        .wait_for(&driver, 10_000, "the job's end", is_terminal)
        .await;
    // phase-7 sends `progress` frames only; its first says queued, its last completed.
    assert_eq!(
        names(&recorder),
        [
            "progress",
            "progress",
            "progress",
            "progress",
            "progress",
            "completed"
        ]
    );
    assert!(seqs_are_contiguous(&recorder));
    driver.command(|core, now| core.close(now));
}

#[wasm_bindgen_test]
async fn phase_7_a_refused_token_is_refreshed_once_then_the_client_stops() {
    let recorder = Rc::new(Recorder::default());
    let driver = client(phase_7_config(), Some("not-signed"), &recorder);
    driver.command(|core, now| core.connect(now));
    closes_unauthorized(&driver, &recorder).await;
    assert_eq!(count_errors(&recorder, "socket_closed"), 2);
}

#[wasm_bindgen_test]
async fn phase_7_a_dropped_socket_is_replaced_and_the_job_still_ends() {
    let (user, job) = (unique("u"), unique("j"));
    let token = token_for(&user).await;
    let recorder = Rc::new(Recorder::default());
    let driver = client(phase_7_config(), Some(&token), &recorder);
    driver.command(|core, now| core.subscribe(now, Channel::Generation, &job));
    recorder
        .wait_for(&driver, 10_000, "the socket", |_| {
            driver.state().status == Status::Open
        })
        .await;
    control(
        "/phase-7/job",
        &format!(r#"{{"user":"{user}","job":"{job}","steps":24,"stepMs":25}}"#),
    )
    .await;
    recorder
        .wait_for(&driver, 10_000, "three progress events", |r| {
            progress_percentages(r).len() >= 3
        })
        .await;
    control("/phase-7/drop", &format!(r#"{{"user":"{user}"}}"#)).await;
    recorder
        .wait_for(&driver, 15_000, "the job's end", is_terminal)
        .await;
    assert_eq!(opened_count(&recorder), 2);
    // No replay on this wire: what was sent during the drop is lost, nothing is repeated.
    let percentages = progress_percentages(&recorder);
    assert!(percentages.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(seqs_are_contiguous(&recorder));
    driver.command(|core, now| core.close(now));
}

#[wasm_bindgen_test]
async fn phase_7_an_outbox_message_is_written_once() {
    let user = unique("u");
    let token = token_for(&user).await;
    let recorder = Rc::new(Recorder::default());
    let driver = client(phase_7_config(), Some(&token), &recorder);
    let data = RawJson::new(format!(r#"{{"user":"{user}"}}"#)).unwrap();
    driver.command(|core, now| core.send(now, "note", data));
    recorder
        .wait_for(&driver, 10_000, "the server's answer", |r| {
            count_errors(r, "server_error") == 1
        })
        .await;
    assert_eq!(driver.state().outbox_size, 0);
    let received = control("/received", &format!(r#"{{"user":"{user}"}}"#)).await;
    assert_eq!(js_sys::Array::from(&received).length(), 1);
    driver.command(|core, now| core.close(now));
}

#[wasm_bindgen_test]
async fn phase_7_bad_frames_are_reported_and_the_socket_kept() {
    let (user, job) = (unique("u"), unique("j"));
    let token = token_for(&user).await;
    let recorder = Rc::new(Recorder::default());
    let driver = client(phase_7_config(), Some(&token), &recorder);
    driver.command(|core, now| core.subscribe(now, Channel::Generation, &job));
    recorder
        .wait_for(&driver, 10_000, "the socket", |_| {
            driver.state().status == Status::Open
        })
        .await;
    for text in [r#"not json"#, r#"{\"type\":\"presence\"}"#] {
        control(
            "/phase-7/raw",
            &format!(r#"{{"user":"{user}","text":"{text}"}}"#),
        )
        .await;
    }
    control(
        "/phase-7/job",
        &format!(r#"{{"user":"{user}","job":"{job}","steps":2,"stepMs":10}}"#),
    )
    .await;
    recorder
        .wait_for(&driver, 10_000, "the job's end", is_terminal)
        .await;
    assert_eq!(count_errors(&recorder, "malformed_frame"), 1);
    assert_eq!(count_errors(&recorder, "unknown_event"), 1);
    assert_eq!(opened_count(&recorder), 1);
    driver.command(|core, now| core.close(now));
}
