//! The HTTP surface: starting jobs, their snapshots, thumbnails, static files, CORS.

mod common;

use std::path::PathBuf;

use jobsocket::core::events::JobStatus;
use jobsocket::core::protocol::{Channel, ClientFrame};
use jobsocket::core::snapshot::{CompositionSnapshot, GenerationSnapshot};
use jobsocket_server::Config;

/// Runs job `id` of `channel` to its end over a socket and returns its last `seq`.
async fn run_to_end(server: &common::Server, channel: Channel, id: &str) -> u64 {
    let mut socket = server.socket().await;
    socket
        .send(&ClientFrame::Subscribe {
            channel,
            id: id.to_owned(),
            since: None,
        })
        .await;
    socket.subscribed(id).await;
    let events = socket.events_until_terminal(id).await;
    events.last().map_or(0, |(seq, _)| *seq)
}

#[tokio::test]
async fn a_completed_generation_snapshot_has_every_clip_its_result_and_last_seq() {
    let server = common::start(1).await;
    let id = server
        .start_job(
            "generations",
            r#"{"clips":3,"steps_per_clip":2,"prompt":"a cat"}"#,
        )
        .await;
    let last = run_to_end(&server, Channel::Generation, &id).await;

    let response = server
        .request("GET", &format!("/api/v1/generations/{id}"), None)
        .await;

    assert_eq!(response.status, 200);
    let snapshot: GenerationSnapshot = serde_json::from_str(&response.body).expect("snapshot");
    assert_eq!(snapshot.id, id);
    assert_eq!(snapshot.status, JobStatus::Completed);
    assert_eq!(snapshot.seq, last);
    let clip_ids: Vec<&str> = snapshot.clips.iter().map(|c| c.clip_id.as_str()).collect();
    assert_eq!(
        clip_ids,
        [
            format!("{id}_clip_1"),
            format!("{id}_clip_2"),
            format!("{id}_clip_3")
        ]
    );
    assert_eq!(snapshot.progress.percentage, 100.0);
    assert!(snapshot.result.is_some());
    assert_eq!(snapshot.error, None);
}

#[tokio::test]
async fn a_created_job_says_when_it_started_and_its_step_so_each_event_has_a_due_time() {
    let server = common::start(5).await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1_000.0;
    let response = server
        .request("POST", "/api/v1/compositions", Some(r#"{"step_ms":40}"#))
        .await;
    assert_eq!(response.status, 201, "{}", response.body);
    let json = response.json();
    let started_at = json["startedAt"].as_f64().expect("startedAt, in ms");
    assert!(
        (before - 1.0..before + 5_000.0).contains(&started_at),
        "{started_at} is not about now ({before})"
    );
    assert_eq!(json["stepMs"], 40);
}

#[tokio::test]
async fn a_new_generation_is_queued_with_its_first_event_logged() {
    let server = common::start(60_000).await;
    let id = server.start_job("generations", "").await;

    let response = server
        .request("GET", &format!("/api/v1/generations/{id}"), None)
        .await;

    let snapshot: GenerationSnapshot = serde_json::from_str(&response.body).expect("snapshot");
    assert_eq!(snapshot.status, JobStatus::Queued);
    assert_eq!(snapshot.seq, 1);
    assert_eq!(snapshot.progress.total_clips, 3);
}

#[tokio::test]
async fn a_failed_composition_snapshot_has_its_error_and_last_seq() {
    let server = common::start(1).await;
    let id = server
        .start_job(
            "compositions",
            r#"{"total_frames":100,"steps":4,"fail":true}"#,
        )
        .await;
    let last = run_to_end(&server, Channel::Composition, &id).await;

    let response = server
        .request("GET", &format!("/api/v1/compositions/{id}"), None)
        .await;

    assert_eq!(response.status, 200);
    let snapshot: CompositionSnapshot = serde_json::from_str(&response.body).expect("snapshot");
    assert_eq!(snapshot.status, JobStatus::Failed);
    assert_eq!(snapshot.seq, last);
    assert_eq!(snapshot.progress.frames_processed, 50);
    assert_eq!(snapshot.result, None);
    assert_eq!(
        snapshot.error.map(|error| error.code).as_deref(),
        Some("encoding_failed")
    );
}

#[tokio::test]
async fn an_unknown_job_answers_404_with_an_error_body() {
    let server = common::start(1).await;
    let generation = server.start_job("generations", "{}").await;

    for path in [
        "/api/v1/generations/gen_999".to_owned(),
        format!("/api/v1/compositions/{generation}"),
    ] {
        let response = server.request("GET", &path, None).await;
        assert_eq!(response.status, 404, "{path}");
        let body = response.json();
        assert_eq!(body["type"], "error");
        assert_eq!(body["code"], "not_found");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn a_bad_body_answers_400_with_a_message() {
    let server = common::start(1).await;

    for (path, body, needle) in [
        ("/api/v1/generations", "{nope", "invalid JSON"),
        (
            "/api/v1/generations",
            r#"{"clips":"three"}"#,
            "invalid JSON",
        ),
        ("/api/v1/generations", r#"{"clips":-1}"#, "invalid JSON"),
        (
            "/api/v1/generations",
            r#"{"clips":51}"#,
            "clips must be between 1 and 50",
        ),
        (
            "/api/v1/generations",
            r#"{"clips":0}"#,
            "clips must be between 1 and 50",
        ),
        (
            "/api/v1/generations",
            r#"{"steps_per_clip":101}"#,
            "steps_per_clip",
        ),
        ("/api/v1/generations", r#"{"step_ms":60001}"#, "step_ms"),
        (
            "/api/v1/compositions",
            r#"{"total_frames":10000001}"#,
            "total_frames",
        ),
        ("/api/v1/compositions", r#"{"steps":0}"#, "steps"),
        ("/api/v1/compositions", "[1,2]", "invalid JSON"),
    ] {
        let response = server.request("POST", path, Some(body)).await;
        assert_eq!(response.status, 400, "{body}");
        let error = response.json();
        assert_eq!(error["code"], "bad_request");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{body}: {message}");
    }
}

/// True for `prefix` then 32 lower-case hex digits: 128 random bits.
fn unguessable(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|random| {
        random.len() == 32
            && random
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

#[tokio::test]
async fn ids_are_128_random_bits_and_point_at_their_snapshot() {
    let server = common::start(60_000).await;

    let response = server.request("POST", "/api/v1/compositions", None).await;

    assert_eq!(response.status, 201);
    let id = response.json()["id"].as_str().expect("an id").to_owned();
    assert!(unguessable(&id, "comp_"), "{id}");
    let location = format!("/api/v1/compositions/{id}");
    assert_eq!(response.header("location"), Some(location.as_str()));
    let first = server.start_job("generations", "").await;
    let second = server.start_job("generations", "").await;
    assert!(unguessable(&first, "gen_"), "{first}");
    assert!(unguessable(&second, "gen_"), "{second}");
    assert_ne!(first, second);
}

#[tokio::test]
async fn healthz_answers_ok_to_any_origin() {
    let server = common::start(1).await;

    let response = server.request("GET", "/healthz", None).await;

    assert_eq!(response.status, 200);
    assert_eq!(response.body, "ok");
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn thumbnails_are_small_svgs_with_the_clip_number() {
    let server = common::start(1).await;

    let response = server.request("GET", "/thumbnails/gen_1/2.svg", None).await;

    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("image/svg+xml"));
    assert!(response.body.starts_with("<svg"));
    assert!(response.body.contains(">2</text>"));
    let missing = server
        .request("GET", "/thumbnails/gen_1/two.svg", None)
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn static_and_pkg_directories_are_served_with_wasm_as_application_wasm() {
    let site = scratch_dir("site");
    std::fs::write(site.join("index.html"), "<h1>demo</h1>").expect("write index.html");
    let pkg = scratch_dir("pkg");
    std::fs::write(pkg.join("jobsocket_bg.wasm"), b"\0asm\x01\0\0\0").expect("write wasm");
    let server = common::start_with(Config {
        static_dir: Some(site.clone()),
        pkg_dir: Some(pkg.clone()),
        ..Config::default()
    })
    .await;

    let index = server.request("GET", "/", None).await;
    let wasm = server.request("GET", "/pkg/jobsocket_bg.wasm", None).await;
    let api = server.request("GET", "/healthz", None).await;

    assert_eq!(index.status, 200);
    assert_eq!(index.body, "<h1>demo</h1>");
    assert_eq!(wasm.status, 200);
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));
    assert_eq!(api.body, "ok", "routes win over static files");
    let _ = std::fs::remove_dir_all(site);
    let _ = std::fs::remove_dir_all(pkg);
}

/// A fresh, empty directory for one test.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "jobsocket-server-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}
