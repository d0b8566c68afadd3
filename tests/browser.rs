//! Browser tests: the real driver, in a real headless browser, over a real WebSocket to the
//! reference job server. `make test` starts the server on a free port and passes its address
//! at build time in `JOBSOCKET_TEST_SERVER` (browsers have no environment to read).
//!
//! Every test works in a fault scope of its own (see the server's `scope` module): its sockets,
//! its polls and its admin calls all name it, so a switch a test flips, or leaves on when it
//! fails half way, never reaches another test, whichever order and browser they run in.

#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use jobsocket::core::{
    Channel, ClientError, CompositionEvent, Config, Event, GenerationEvent, JobEvent, Status,
};
use jobsocket::web::{Driver, EventSink, SourceFrame, TokenSource};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn server() -> &'static str {
    match option_env!("JOBSOCKET_TEST_SERVER") {
        Some(address) => address,
        None => panic!("JOBSOCKET_TEST_SERVER names the reference server; run `make test`"),
    }
}

/// Collects every event the driver delivers.
#[derive(Default)]
struct Recorder {
    events: RefCell<Vec<Event>>,
}

impl EventSink for Recorder {
    fn deliver(&self, event: Event, _source: Option<&SourceFrame>) {
        self.events.borrow_mut().push(event);
    }
}

impl Recorder {
    fn job_events(&self) -> Vec<(u64, JobEvent)> {
        self.events
            .borrow()
            .iter()
            .filter_map(|event| match event {
                Event::Job(delivery) => Some((delivery.seq, delivery.event.clone())),
                _ => None,
            })
            .collect()
    }

    /// Waits (in short real steps, up to `limit_ms`) until `done` holds; false if it never did.
    async fn wait_until(&self, limit_ms: u32, done: impl Fn(&Recorder) -> bool) -> bool {
        let mut waited = 0;
        while !done(self) {
            if waited >= limit_ms {
                return false;
            }
            gloo_timers::future::TimeoutFuture::new(10).await;
            waited += 10;
        }
        true
    }

    /// Waits until `done` holds. A test that gives up panics with what it waited for, the
    /// client's state and its recent events, so a failure in CI is understood from the log.
    async fn wait_for(
        &self,
        driver: &Driver,
        limit_ms: u32,
        what: &str,
        done: impl Fn(&Recorder) -> bool,
    ) {
        if !self.wait_until(limit_ms, done).await {
            let headline = format!("gave up after {limit_ms} ms waiting for {what}");
            panic!("{}", self.report(driver, &headline));
        }
    }

    /// `headline`, the client's state and its last events, for a failure message.
    fn report(&self, driver: &Driver, headline: &str) -> String {
        const LAST: usize = 40;
        let events = self.events.borrow();
        let skipped = events.len().saturating_sub(LAST);
        let mut report = format!(
            "{headline}\nclient state: {:?}\nlast {} of {} events:",
            driver.state(),
            events.len() - skipped,
            events.len()
        );
        for event in &events[skipped..] {
            report.push_str(&format!("\n  {event:?}"));
        }
        report
    }
}

/// One test's fault scope on the reference server, with a random part so that reruns and the
/// other browser never share it.
struct Scope {
    name: String,
}

impl Scope {
    /// `label` names the test in the server's scope (at most 40 bytes).
    fn new(label: &str) -> Scope {
        let random = (js_sys::Math::random() * 1e15) as u64;
        Scope {
            name: format!("{label}-{random:x}"),
        }
    }

    /// The WebSocket URL of this scope.
    fn ws_url(&self) -> String {
        format!(
            "{}/ws?scope={}",
            server().replacen("http", "ws", 1),
            self.name
        )
    }

    /// A client of this scope: its socket and its polls name the scope. Every event is
    /// counted: progress coalescing is off.
    fn config(&self) -> Config {
        let mut config = Config::new(self.ws_url());
        config.generation_url =
            format!("{}/api/v1/generations/{{id}}?scope={}", server(), self.name);
        config.composition_url = format!(
            "{}/api/v1/compositions/{{id}}?scope={}",
            server(),
            self.name
        );
        config.max_progress_per_second = 0;
        config
    }

    /// A client whose retries and polls are quick, for the outbox and fallback tests.
    fn quick_config(&self) -> Config {
        let mut config = self.config();
        config.reconnect_initial_delay = std::time::Duration::from_millis(20);
        config.reconnect_max_delay = std::time::Duration::from_millis(60);
        config.probe_max_delay = std::time::Duration::from_millis(100);
        config.poll_interval = std::time::Duration::from_millis(100);
        config.use_polling = false;
        // Message ids come from this seed; the server drops ids it has seen, so every client
        // of the suite needs its own (the bindings seed from Math.random the same way).
        config.rng_seed = (js_sys::Math::random() * 9e15) as u64;
        config
    }

    fn client(&self, recorder: &Rc<Recorder>) -> Driver {
        Driver::new(self.config(), recorder.clone(), None, None)
    }

    /// The admin API of the reference server (started with `--admin`), in this scope.
    async fn admin(&self, path: &str, body: &str) {
        let response = post(&format!("/admin/{path}?scope={}", self.name), body).await;
        assert_eq!(response.status(), 200, "POST /admin/{path}");
    }

    /// A counter of the reference server's `/admin/stats` for this scope.
    async fn stat(&self, name: &str) -> f64 {
        let response = post(&format!("/admin/stats?scope={}", self.name), "{}").await;
        let json = JsFuture::from(response.json().unwrap()).await.unwrap();
        js_sys::Reflect::get(&json, &name.into())
            .unwrap()
            .as_f64()
            .expect("a counter")
    }
}

/// POSTs a JSON body to the reference server and returns the response.
async fn post(path: &str, body: &str) -> web_sys::Response {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    let headers = web_sys::Headers::new().unwrap();
    headers.set("content-type", "application/json").unwrap();
    init.set_headers(&headers);
    let request =
        web_sys::Request::new_with_str_and_init(&format!("{}{path}", server()), &init).unwrap();
    let window = web_sys::window().unwrap();
    JsFuture::from(window.fetch_with_request(&request))
        .await
        .expect("the reference server answers")
        .dyn_into()
        .unwrap()
}

/// Starts a job with a POST to the server's API and returns its id.
async fn start_job(path: &str, body: &str) -> String {
    let response = post(path, body).await;
    assert_eq!(response.status(), 201, "POST {path}");
    let json = JsFuture::from(response.json().unwrap()).await.unwrap();
    js_sys::Reflect::get(&json, &"id".into())
        .unwrap()
        .as_string()
        .expect("the job id")
}

fn count_errors(recorder: &Recorder, code: &str) -> usize {
    recorder
        .events
        .borrow()
        .iter()
        .filter(|event| matches!(event, Event::Error(error) if error.code() == code))
        .count()
}

fn opened_count(recorder: &Recorder) -> usize {
    recorder
        .events
        .borrow()
        .iter()
        .filter(|event| matches!(event, Event::StateChanged(change) if change.to == Status::Open))
        .count()
}

fn is_terminal(recorder: &Recorder) -> bool {
    recorder
        .job_events()
        .last()
        .is_some_and(|(_, event)| event.is_terminal())
}

#[wasm_bindgen_test]
async fn a_generation_job_is_received_in_order_through_completed() {
    let scope = Scope::new("order");
    let recorder = Rc::new(Recorder::default());
    let driver = scope.client(&recorder);
    let job = start_job(
        "/api/v1/generations",
        r#"{"clips":2,"steps_per_clip":3,"step_ms":5}"#,
    )
    .await;
    driver.command(|core, now| core.subscribe(now, Channel::Generation, &job));
    recorder
        .wait_for(&driver, 10_000, "the terminal event", is_terminal)
        .await;

    let events = recorder.job_events();
    let seqs: Vec<u64> = events.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
    let names: Vec<&str> = events.iter().map(|(_, event)| event.name()).collect();
    assert_eq!(names.first(), Some(&"queued"));
    assert_eq!(names.last(), Some(&"completed"));
    assert_eq!(names.iter().filter(|name| **name == "progress").count(), 6);
    assert_eq!(
        names
            .iter()
            .filter(|name| **name == "clip_completed")
            .count(),
        2
    );
    let Some((_, JobEvent::Generation(GenerationEvent::Progress(last_progress)))) = events
        .iter()
        .rev()
        .find(|(_, event)| event.name() == "progress")
    else {
        unreachable!("six progress events were counted");
    };
    assert_eq!(last_progress.percentage, 100.0);
    assert_eq!(driver.state().status, Status::Open);
    assert!(driver.state().client_id.is_some());
    driver.command(|core, now| core.close(now));
    assert_eq!(driver.state().status, Status::Closed);
}

#[wasm_bindgen_test]
async fn a_composition_job_reports_encoding_progress_through_completed() {
    let scope = Scope::new("composition");
    let recorder = Rc::new(Recorder::default());
    let driver = scope.client(&recorder);
    let job = start_job(
        "/api/v1/compositions",
        r#"{"total_frames":100,"steps":4,"step_ms":5}"#,
    )
    .await;
    driver.command(|core, now| core.subscribe(now, Channel::Composition, &job));
    recorder
        .wait_for(&driver, 10_000, "the terminal event", is_terminal)
        .await;
    let events = recorder.job_events();
    assert!(matches!(
        events.last(),
        Some((_, JobEvent::Composition(CompositionEvent::Completed(_))))
    ));
    assert_eq!(
        events
            .iter()
            .filter(|(_, event)| event.name() == "encoding_progress")
            .count(),
        4
    );
    driver.command(|core, now| core.close(now));
}

#[wasm_bindgen_test]
async fn a_server_that_refuses_the_socket_is_reported_and_retried() {
    let recorder = Rc::new(Recorder::default());
    // The reference server has no WebSocket at this path: it answers the upgrade with a 404,
    // so the socket fails to open and the browser reports a close.
    let url = format!("{}/no-socket-here", server().replacen("http", "ws", 1));
    let driver = Driver::new(Config::new(url), recorder.clone(), None, None);
    driver.command(|core, now| core.connect(now));
    recorder
        .wait_for(&driver, 10_000, "a socket_closed error", |recorder| {
            count_errors(recorder, "socket_closed") > 0
        })
        .await;
    assert_eq!(driver.state().status, Status::Reconnecting);
    driver.command(|core, now| core.close(now));
}

#[wasm_bindgen_test]
fn an_invalid_url_is_reported_without_panicking() {
    let recorder = Rc::new(Recorder::default());
    let driver = Driver::new(
        Config::new("ws://exa mple.invalid:99999/ws"),
        recorder.clone(),
        None,
        None,
    );
    driver.command(|core, now| core.connect(now));
    assert_eq!(driver.state().status, Status::Reconnecting);
    assert!(recorder.events.borrow().iter().any(|event| matches!(
        event,
        Event::Error(ClientError::SocketClosed { code: 1006, .. })
    )));
    driver.command(|core, now| core.close(now));
}

#[wasm_bindgen_test]
async fn dropped_connections_resume_the_job_with_no_gap_and_no_duplicate() {
    let scope = Scope::new("drops");
    let recorder = Rc::new(Recorder::default());
    let mut config = scope.config();
    config.reconnect_initial_delay = std::time::Duration::from_millis(50);
    let driver = Driver::new(config, recorder.clone(), None, None);
    let job = start_job(
        "/api/v1/generations",
        r#"{"clips":3,"steps_per_clip":6,"step_ms":25}"#,
    )
    .await;
    driver.command(|core, now| core.subscribe(now, Channel::Generation, &job));
    // Drop every socket of the scope twice while the job runs.
    for seen in [3, 12] {
        recorder
            .wait_for(&driver, 10_000, &format!("{seen} job events"), |r| {
                r.job_events().len() >= seen
            })
            .await;
        scope.admin("drop", "{}").await;
    }
    recorder
        .wait_for(&driver, 20_000, "the terminal event", is_terminal)
        .await;
    let seqs: Vec<u64> = recorder.job_events().iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(count_errors(&recorder, "sequence_gap"), 0);
    assert!(
        opened_count(&recorder) >= 3,
        "{}",
        recorder.report(&driver, "not reconnected after each drop")
    );
    driver.command(|core, now| core.close(now));
}

#[wasm_bindgen_test]
async fn muted_pongs_are_detected_by_the_heartbeat_and_the_client_reconnects() {
    let scope = Scope::new("pongs");
    let recorder = Rc::new(Recorder::default());
    let mut config = scope.config();
    config.ping_interval = std::time::Duration::from_millis(200);
    config.pong_timeout = std::time::Duration::from_millis(200);
    config.reconnect_initial_delay = std::time::Duration::from_millis(50);
    let driver = Driver::new(config, recorder.clone(), None, None);
    driver.command(|core, now| core.connect(now));
    recorder
        .wait_for(&driver, 5_000, "the socket to open", |r| {
            opened_count(r) == 1
        })
        .await;
    scope.admin("mute-pongs", r#"{"on":true}"#).await;
    // Nothing else closes this socket: no job, no drop, and the switch is this test's alone.
    // How soon the timeout fires is the core's scenario tests' business (with fake time);
    // here it is the real timers in a real browser that must find the silent link.
    recorder
        .wait_for(&driver, 5_000, "a heartbeat_timeout error", |r| {
            count_errors(r, "heartbeat_timeout") > 0
        })
        .await;
    assert_eq!(count_errors(&recorder, "socket_closed"), 0);
    scope.admin("mute-pongs", r#"{"on":false}"#).await;
    recorder
        .wait_for(&driver, 5_000, "a reconnect after the dead link", |r| {
            opened_count(r) >= 2
        })
        .await;
    driver.command(|core, now| core.close(now));
}

fn auth_ws_url() -> String {
    let server = match option_env!("JOBSOCKET_TEST_AUTH_SERVER") {
        Some(address) => address,
        None => panic!("JOBSOCKET_TEST_AUTH_SERVER names the token server; run `make test`"),
    };
    format!("{}/ws", server.replacen("http", "ws", 1))
}

/// A JS function counting its calls in `globalThis[counter]` and resolving to `token`.
fn token_function(counter: &str, token: &str) -> TokenSource {
    let body = format!(
        "globalThis.{counter} = (globalThis.{counter} || 0) + 1; \
         return new Promise((resolve) => setTimeout(() => resolve('{token}'), 5));"
    );
    TokenSource::Function(js_sys::Function::new_no_args(&body))
}

fn calls(counter: &str) -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &counter.into())
        .ok()
        .and_then(|value| value.as_f64())
        .unwrap_or(0.0)
}

#[wasm_bindgen_test]
async fn an_async_token_function_is_asked_and_its_token_accepted() {
    let recorder = Rc::new(Recorder::default());
    let token = token_function("goodTokenCalls", "s3cret");
    let driver = Driver::new(
        Config::new(auth_ws_url()),
        recorder.clone(),
        Some(token),
        None,
    );
    driver.command(|core, now| core.connect(now));
    recorder
        .wait_for(&driver, 5_000, "a connected frame", |_| {
            driver.state().client_id.is_some()
        })
        .await;
    assert_eq!(calls("goodTokenCalls"), 1.0);
    driver.command(|core, now| core.close(now));
}

#[wasm_bindgen_test]
async fn a_refused_token_is_asked_once_more_and_then_the_client_stops() {
    let recorder = Rc::new(Recorder::default());
    let token = token_function("badTokenCalls", "wrong");
    let driver = Driver::new(
        Config::new(auth_ws_url()),
        recorder.clone(),
        Some(token),
        None,
    );
    driver.command(|core, now| core.connect(now));
    recorder
        .wait_for(&driver, 5_000, "the closed status", |_| {
            driver.state().status == Status::Closed
        })
        .await;
    assert_eq!(
        driver.state().reason,
        Some(jobsocket::core::StateReason::Unauthorized)
    );
    assert_eq!(calls("badTokenCalls"), 2.0);
    assert_eq!(count_errors(&recorder, "unauthorized"), 1);
}

/// Runs a bit of JavaScript in the page (to break `localStorage` on purpose).
fn run_js(body: &str) {
    js_sys::Function::new_no_args(body)
        .call0(&JsValue::UNDEFINED)
        .expect("the script runs");
}

fn send(driver: &Driver, n: u32) -> String {
    let data = jobsocket::core::RawJson::new(format!(r#"{{"n":{n}}}"#)).unwrap();
    driver.command(|core, now| core.send(now, "note", data))
}

#[wasm_bindgen_test]
async fn messages_sent_while_the_server_refuses_sockets_are_delivered_once_when_it_accepts() {
    let scope = Scope::new("refused");
    scope.admin("refuse-ws", r#"{"on":true}"#).await;
    let recorder = Rc::new(Recorder::default());
    let driver = Driver::new(
        scope.quick_config(),
        recorder.clone(),
        None,
        Some("refused"),
    );
    for n in 0..3 {
        send(&driver, n);
    }
    recorder
        .wait_for(&driver, 5_000, "two refused sockets", |r| {
            count_errors(r, "socket_closed") >= 2
        })
        .await;
    assert_eq!(driver.state().outbox_size, 3);
    scope.admin("refuse-ws", r#"{"on":false}"#).await;
    recorder
        .wait_for(&driver, 5_000, "the outbox to drain", |_| {
            driver.state().outbox_size == 0
        })
        .await;
    assert_eq!(scope.stat("handled_messages").await, 3.0);
    driver.command(|core, now| core.close(now));
}

#[wasm_bindgen_test]
async fn a_new_client_on_the_same_storage_key_delivers_the_queue_the_old_one_left() {
    let scope = Scope::new("reload");
    scope.admin("refuse-ws", r#"{"on":true}"#).await;
    let old_recorder = Rc::new(Recorder::default());
    let old = Driver::new(
        scope.quick_config(),
        old_recorder.clone(),
        None,
        Some("reload"),
    );
    send(&old, 1);
    send(&old, 2);
    drop(old); // the page goes away
    scope.admin("refuse-ws", r#"{"on":false}"#).await;
    let recorder = Rc::new(Recorder::default());
    let new = Driver::new(scope.quick_config(), recorder.clone(), None, Some("reload"));
    assert_eq!(new.state().outbox_size, 2, "restored from localStorage");
    recorder
        .wait_for(&new, 5_000, "the outbox to drain", |_| {
            new.state().outbox_size == 0
        })
        .await;
    assert_eq!(scope.stat("handled_messages").await, 2.0);
    new.command(|core, now| core.close(now));
}

#[wasm_bindgen_test]
async fn a_full_local_storage_degrades_to_memory_and_messages_are_still_delivered() {
    let scope = Scope::new("full");
    run_js(
        "globalThis.__setItem = Storage.prototype.setItem; \
         Storage.prototype.setItem = function () { \
           throw new DOMException('the quota has been exceeded', 'QuotaExceededError'); };",
    );
    let recorder = Rc::new(Recorder::default());
    let driver = Driver::new(scope.quick_config(), recorder.clone(), None, Some("full"));
    send(&driver, 1);
    send(&driver, 2);
    // Restored before anything can fail, so a failure leaves the next test a working storage.
    let delivered = recorder
        .wait_until(5_000, |_| driver.state().outbox_size == 0)
        .await;
    run_js("Storage.prototype.setItem = globalThis.__setItem;");
    assert!(
        delivered,
        "{}",
        recorder.report(&driver, "the outbox did not drain")
    );
    assert_eq!(count_errors(&recorder, "storage_degraded"), 1);
    assert_eq!(scope.stat("handled_messages").await, 2.0);
    driver.command(|core, now| core.close(now));
}

#[wasm_bindgen_test]
async fn garbage_under_the_outbox_key_is_reported_and_the_client_still_works() {
    let scope = Scope::new("garbage");
    let key = jobsocket::core::outbox::storage_key(&scope.ws_url(), Some("garbage"));
    run_js(&format!("localStorage.setItem('{key}', '}}not json{{');"));
    let recorder = Rc::new(Recorder::default());
    let driver = Driver::new(
        scope.quick_config(),
        recorder.clone(),
        None,
        Some("garbage"),
    );
    assert_eq!(count_errors(&recorder, "storage_corrupt"), 1);
    send(&driver, 1);
    recorder
        .wait_for(&driver, 5_000, "the outbox to drain", |_| {
            driver.state().outbox_size == 0
        })
        .await;
    assert_eq!(scope.stat("handled_messages").await, 1.0);
    driver.command(|core, now| core.close(now));
}

/// The job events of `job` delivered so far, as (seq, name).
fn sequence_of(recorder: &Recorder, job: &str) -> Vec<(u64, &'static str)> {
    recorder
        .events
        .borrow()
        .iter()
        .filter_map(|event| match event {
            Event::Job(delivery) if delivery.job_id == job => {
                Some((delivery.seq, delivery.event.name()))
            }
            _ => None,
        })
        .collect()
}

/// Every status change announced, as (to, reason).
fn announced(recorder: &Recorder) -> Vec<(Status, jobsocket::core::StateReason)> {
    recorder
        .events
        .borrow()
        .iter()
        .filter_map(|event| match event {
            Event::StateChanged(change) => Some((change.to, change.reason)),
            _ => None,
        })
        .collect()
}

fn clip_ids(recorder: &Recorder) -> Vec<String> {
    recorder
        .job_events()
        .into_iter()
        .filter_map(|(_, event)| match event {
            JobEvent::Generation(GenerationEvent::ClipCompleted(clip)) => Some(clip.clip_id),
            _ => None,
        })
        .collect()
}

#[wasm_bindgen_test]
async fn refused_websockets_fall_back_to_polling_and_the_job_still_completes_then_the_socket_returns()
 {
    let scope = Scope::new("fallback");
    let mut config = scope.quick_config();
    config.use_polling = true;
    let recorder = Rc::new(Recorder::default());
    scope.admin("refuse-ws", r#"{"on":true}"#).await;
    let driver = Driver::new(config, recorder.clone(), None, None);
    let job = start_job(
        "/api/v1/generations",
        r#"{"clips":3,"steps_per_clip":3,"step_ms":40}"#,
    )
    .await;
    driver.command(|core, now| core.subscribe(now, Channel::Generation, &job));
    recorder
        .wait_for(&driver, 10_000, "the polling status", |_| {
            driver.state().status == Status::Polling
        })
        .await;
    recorder
        .wait_for(&driver, 20_000, "the terminal event", is_terminal)
        .await;
    let mut clips = clip_ids(&recorder);
    assert_eq!(clips.len(), 3, "every clip once: {clips:?}");
    clips.dedup();
    assert_eq!(clips.len(), 3);
    // The whole sequence, not only the clips: each seq once and increasing, every milestone
    // once and in order, the last event at the job's last seq (queued 1, picked up 2, three
    // times three progress and a clip, completed status 15, result 16).
    let sequence = sequence_of(&recorder, &job);
    assert!(
        sequence.windows(2).all(|pair| pair[0].0 < pair[1].0),
        "seqs strictly increasing: {sequence:?}"
    );
    let milestones: Vec<&str> = sequence
        .iter()
        .map(|(_, name)| *name)
        .filter(|name| !matches!(*name, "queued" | "progress"))
        .collect();
    assert_eq!(
        milestones,
        [
            "status_change",
            "clip_completed",
            "clip_completed",
            "clip_completed",
            "status_change",
            "completed"
        ],
        "{sequence:?}"
    );
    assert_eq!(sequence.last(), Some(&(16, "completed")), "{sequence:?}");
    assert_eq!(count_errors(&recorder, "sequence_gap"), 0);

    // Back to the socket: a new job to watch, WebSockets allowed again.
    scope.admin("refuse-ws", r#"{"on":false}"#).await;
    let next = start_job("/api/v1/generations", r#"{"clips":1,"step_ms":20}"#).await;
    driver.command(|core, now| core.subscribe(now, Channel::Generation, &next));
    recorder
        .wait_for(&driver, 10_000, "the socket to come back", |_| {
            driver.state().status == Status::Open
        })
        .await;
    assert_eq!(driver.state().transport, Some("websocket"));
    // Both switches were announced, not only visible in the state.
    let changes = announced(&recorder);
    assert!(
        changes.contains(&(
            Status::Polling,
            jobsocket::core::StateReason::PollingFallback
        )),
        "{changes:?}"
    );
    assert!(
        changes.contains(&(
            Status::Open,
            jobsocket::core::StateReason::WebSocketRestored
        )),
        "{changes:?}"
    );
    let polls = scope.stat("poll_requests").await;
    assert!(polls > 0.0, "the polls named the test's scope");
    // Two poll intervals and more: a poll still scheduled would have been sent by then.
    gloo_timers::future::TimeoutFuture::new(500).await;
    assert_eq!(scope.stat("poll_requests").await, polls, "polling stopped");
    driver.command(|core, now| core.close(now));
}
