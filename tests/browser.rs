//! Browser tests: the real driver, in a real headless browser, over a real WebSocket to the
//! reference job server. `make test` starts the server on a free port and passes its address
//! at build time in `JOBSOCKET_TEST_SERVER` (browsers have no environment to read).
//!
//! Every test works in a fault scope of its own (see the server's `scope` module): its sockets,
//! its polls and its admin calls all name it, so a switch a test flips, or leaves on when it
//! fails half way, never reaches another test, whichever order and browser they run in.

#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use jobsocket::core::{
    Channel, ClientError, CompositionEvent, Config, Event, GenerationEvent, JobEvent, Status,
};
use jobsocket::web::{Driver, TokenSource};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[path = "browser/harness.rs"]
mod harness;

use harness::*;

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
    let mut config = Config::new("ws://exa mple.invalid:99999/ws");
    config.share_across_tabs = false;
    let driver = Driver::new(config, recorder.clone(), None, None);
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
async fn messages_sent_while_polling_go_over_http_once_each_and_later_ones_over_the_socket() {
    let scope = Scope::new("http-messages");
    let mut config = scope.quick_config();
    config.use_polling = true;
    scope.admin("refuse-ws", r#"{"on":true}"#).await;
    let recorder = Rc::new(Recorder::default());
    let driver = Driver::new(config, recorder.clone(), None, Some("http-messages"));
    for n in 0..3 {
        send(&driver, n);
    }
    recorder
        .wait_for(&driver, 10_000, "the polling status", |_| {
            driver.state().status == Status::Polling
        })
        .await;
    recorder
        .wait_for(&driver, 10_000, "the messages over HTTP", |_| {
            driver.state().outbox_size == 0
        })
        .await;
    assert_eq!(driver.state().status, Status::Polling, "no socket yet");
    assert_eq!(scope.stat("handled_messages").await, 3.0);
    scope.admin("refuse-ws", r#"{"on":false}"#).await;
    recorder
        .wait_for(&driver, 10_000, "the socket to come back", |_| {
            driver.state().status == Status::Open
        })
        .await;
    for n in 3..5 {
        send(&driver, n);
    }
    recorder
        .wait_for(&driver, 10_000, "the messages over the socket", |_| {
            driver.state().outbox_size == 0
        })
        .await;
    // Every message handled once and acked once: none went out twice.
    assert_eq!(scope.stat("handled_messages").await, 5.0);
    assert_eq!(scope.stat("acked_messages").await, 5.0);
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
async fn a_save_that_fails_removes_the_stored_copy_so_a_reload_does_not_send_acked_messages_again()
{
    let scope = Scope::new("stale");
    let key = jobsocket::core::outbox::storage_key(&scope.ws_url(), Some("stale"));
    scope.admin("refuse-ws", r#"{"on":true}"#).await;
    let recorder = Rc::new(Recorder::default());
    let driver = Driver::new(scope.quick_config(), recorder.clone(), None, Some("stale"));
    send(&driver, 1); // stored: the first message
    run_js(
        "globalThis.__setItem = Storage.prototype.setItem; \
         Storage.prototype.setItem = function () { \
           throw new DOMException('the quota has been exceeded', 'QuotaExceededError'); };",
    );
    send(&driver, 2); // this save fails
    run_js("Storage.prototype.setItem = globalThis.__setItem;");
    assert_eq!(count_errors(&recorder, "storage_degraded"), 1);
    scope.admin("refuse-ws", r#"{"on":false}"#).await;
    recorder
        .wait_for(&driver, 5_000, "the outbox to drain", |_| {
            driver.state().outbox_size == 0
        })
        .await;
    driver.command(|core, now| core.close(now));
    drop(driver); // the page reloads
    let stored = web_sys::window()
        .and_then(|window| window.local_storage().ok().flatten())
        .and_then(|storage| storage.get_item(&key).ok().flatten());
    assert_eq!(stored, None, "the copy that held the acked message is gone");
    let reloaded = Driver::new(
        scope.quick_config(),
        Rc::new(Recorder::default()),
        None,
        Some("stale"),
    );
    assert_eq!(reloaded.state().outbox_size, 0);
    reloaded.command(|core, now| core.close(now));
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

#[wasm_bindgen_test]
async fn two_clients_of_one_key_share_one_socket_and_the_second_carries_on_when_the_first_goes() {
    let scope = Scope::new("tabs");
    let mut config = scope.config();
    config.share_across_tabs = true;
    // The default heartbeat and timeout (1 s, 5 s): the handoff below comes from the released
    // lock, not from silence. With a 300 ms timeout a page stalled that long on a loaded
    // machine let the follower take over first, and the roles came out swapped.
    let first_recorder = Rc::new(Recorder::default());
    let second_recorder = Rc::new(Recorder::default());
    let first = Driver::new(config.clone(), first_recorder.clone(), None, None);
    let second = Driver::new(config, second_recorder.clone(), None, None);
    let job = start_job(
        "/api/v1/generations",
        r#"{"clips":2,"steps_per_clip":5,"step_ms":60}"#,
    )
    .await;
    first.command(|core, now| core.subscribe(now, Channel::Generation, &job));
    second.command(|core, now| core.subscribe(now, Channel::Generation, &job));
    second_recorder
        .wait_for(
            &second,
            10_000,
            "two events in the second client",
            |recorder| recorder.job_events().len() >= 2,
        )
        .await;
    assert_eq!(
        (first.tab_role(), second.tab_role()),
        ("leader", "follower")
    );
    assert_eq!(scope.stat("ws_open").await, 1.0);
    // The leader goes (its page closes): the second takes the lock and carries on.
    drop(first);
    second_recorder
        .wait_for(&second, 10_000, "the terminal event", is_terminal)
        .await;
    assert_eq!(second.tab_role(), "leader");
    let seqs: Vec<u64> = second_recorder
        .job_events()
        .iter()
        .map(|(seq, _)| *seq)
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(scope.stat("ws_connections_total").await, 2.0);
    second.command(|core, now| core.close(now));
}
