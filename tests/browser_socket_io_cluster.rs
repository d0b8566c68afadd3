//! Browser tests of a Socket.IO server that runs as several instances, as ep-080's does: two
//! instances of the npm `socket.io` 4.8 server (A and B, `tests/e2e/dialect-servers.mjs`)
//! joined by `@socket.io/redis-adapter` on a real Redis, which `scripts/test-browser.sh`
//! starts on a free port. The client knows only instance B's address; the job runs on A (A's
//! control API emits to the user's and the workspace's rooms there). The control case: an
//! instance without the adapter (the in-memory one of the other dialect tests) gets nothing.
//!
//! Each test has users, jobs and workspaces of its own, so no two tests share server state.

#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use jobsocket::core::{Channel, Status};
use jobsocket::web::Driver;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[path = "browser/harness.rs"]
#[allow(dead_code)]
mod harness;

#[path = "browser/dialect_harness.rs"]
#[allow(dead_code)]
mod dialect_harness;

use dialect_harness::{
    WorkspaceClient, address, approvals, client, config, control_of, names, progress_percentages,
    readme_config, seqs_are_contiguous, token_for, unique,
};
use harness::{Recorder, is_terminal, opened_count};

/// A client of `user` on the Socket.IO instance named `instance` in `JOBSOCKET_TEST_DIALECTS`
/// with ep-080's configuration, watching generation `job`, once its session is open.
async fn watching(instance: &str, user: &str, job: &str) -> (Rc<Recorder>, Driver) {
    let token = token_for(user).await;
    let recorder = Rc::new(Recorder::default());
    let driver = client(
        config(&address(instance), &readme_config("ep080")),
        Some(&token),
        &recorder,
    );
    driver.command(|core, now| core.subscribe(now, Channel::Generation, job));
    recorder
        .wait_for(&driver, 10_000, "the session", |_| {
            driver.state().status == Status::Open
        })
        .await;
    (recorder, driver)
}

/// Runs a generation of `steps` steps for `user` through the control API `api` (its
/// instance emits the events).
async fn run_job(api: &str, user: &str, job: &str, steps: u32) {
    let body = format!(r#"{{"user":"{user}","job":"{job}","steps":{steps},"stepMs":25}}"#);
    control_of(api, "/socket.io/job", &body).await;
}

async fn wait_end(recorder: &Recorder, driver: &Driver) {
    recorder
        .wait_for(driver, 15_000, "the job's end", is_terminal)
        .await;
}

/// The percentages a job of `steps` steps reports, in order (the servers' formula).
fn expected_percentages(steps: u32) -> Vec<f64> {
    (1..=steps)
        .map(|step| (f64::from(step * 100) / f64::from(steps + 1)).round())
        .collect()
}

#[wasm_bindgen_test]
async fn socket_io_a_client_on_b_gets_every_event_of_a_job_run_on_a_once_in_order() {
    let (user, job) = (unique("u"), unique("j"));
    let (recorder, driver) = watching("socketIoB", &user, &job).await;
    run_job("controlA", &user, &job, 6).await;
    wait_end(&recorder, &driver).await;
    driver.command(|core, now| core.close(now));
    let mut expected = vec!["queued"];
    expected.extend(["progress"; 6]);
    expected.push("completed");
    assert_eq!(names(&recorder), expected);
    assert_eq!(progress_percentages(&recorder), expected_percentages(6));
    assert!(seqs_are_contiguous(&recorder));
    assert_eq!(opened_count(&recorder), 1, "one session, on B");
}

#[wasm_bindgen_test]
async fn socket_io_workspace_events_emitted_on_a_reach_a_client_on_b_once_in_order() {
    let client = WorkspaceClient::open("socketIoB").await;
    for n in 1..=6 {
        control_of("controlA", "/socket.io/emit", &client.approval(n)).await;
    }
    client.wait_approvals(6).await;
    client.close();
    assert_eq!(
        client.approvals(),
        approvals(1..=6),
        "each approval once, in order"
    );
}

/// The control: the same user on B and on an instance that is not on the Redis. Once B's
/// client has the whole job from A, the other has none of it; a job run on its own instance
/// then reaches it, so it was listening all along.
#[wasm_bindgen_test]
async fn socket_io_a_client_on_an_instance_without_the_adapter_gets_nothing_of_a_job_run_on_a() {
    let (user, job) = (unique("u"), unique("j"));
    let (on_b, driver_on_b) = watching("socketIoB", &user, &job).await;
    let (alone, driver_alone) = watching("socketIo", &user, &job).await;
    run_job("controlA", &user, &job, 4).await;
    wait_end(&on_b, &driver_on_b).await;
    driver_on_b.command(|core, now| core.close(now));
    assert_eq!(names(&on_b).len(), 6, "B's client got the job");
    assert!(
        alone.job_events().is_empty(),
        "{}",
        alone.report(
            &driver_alone,
            "the client without the adapter got events from A"
        )
    );
    assert_eq!(driver_alone.state().status, Status::Open);
    run_job("control", &user, &job, 2).await;
    wait_end(&alone, &driver_alone).await;
    driver_alone.command(|core, now| core.close(now));
    assert_eq!(
        names(&alone),
        ["queued", "progress", "progress", "completed"]
    );
}
