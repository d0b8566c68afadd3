//! Creating the jobs: `POST /api/v1/generations` on an instance, over one HTTP/1.1 connection
//! per request with hyper's client half (hyper is already in the tree through axum).

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpStream;

use crate::clock::now_ms;
use crate::plan::JobShape;

/// A request that takes longer than this has failed: the server answers in milliseconds.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A running job, as its watchers need it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobInfo {
    pub index: usize,
    pub id: String,
    /// Unix time in ms of the job's start: the server's `startedAt`, or, from a server that
    /// does not give it (the in-memory one before Redis mode), when the request was sent.
    pub started_at_ms: f64,
    pub step_ms: f64,
    /// The terminal event's seq.
    pub events: u64,
    /// True when `started_at_ms` is the tool's guess rather than the server's word.
    pub estimated_start: bool,
}

impl JobInfo {
    /// When event `seq` is due on the job's schedule: seq 1 (`queued`) at the start, seq
    /// `s ≥ 2` at `startedAt + (s − 1) × stepMs`.
    pub fn due_ms(&self, seq: u64) -> f64 {
        self.started_at_ms + seq.saturating_sub(1) as f64 * self.step_ms
    }
}

/// The 201 body of a create request.
#[derive(Deserialize)]
struct Created {
    id: String,
    #[serde(rename = "startedAt")]
    started_at: Option<f64>,
    #[serde(rename = "stepMs")]
    step_ms: Option<f64>,
}

/// Starts job `index` of `shape` on the instance at `address`.
pub async fn create_generation(
    address: &str,
    index: usize,
    shape: JobShape,
) -> Result<JobInfo, String> {
    let sent_at = now_ms();
    let request = post_json(address, "/api/v1/generations", shape.request_body());
    let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, request)
        .await
        .map_err(|_| format!("no answer from {address} within {REQUEST_TIMEOUT:?}"))??;
    if status != StatusCode::CREATED {
        let body = String::from_utf8_lossy(&body);
        return Err(format!("{address} answered {status}: {body}"));
    }
    let created: Created = serde_json::from_slice(&body)
        .map_err(|error| format!("{address} answered a 201 that is not a job: {error}"))?;
    Ok(JobInfo {
        index,
        id: created.id,
        started_at_ms: created.started_at.unwrap_or(sent_at),
        step_ms: created.step_ms.unwrap_or(shape.step_ms as f64),
        events: shape.events(),
        estimated_start: created.started_at.is_none(),
    })
}

async fn post_json(address: &str, path: &str, body: String) -> Result<(StatusCode, Bytes), String> {
    let failed = |error: &dyn std::fmt::Display| format!("POST http://{address}{path}: {error}");
    let stream = TcpStream::connect(address)
        .await
        .map_err(|error| failed(&error))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| failed(&error))?;
    // Drives the connection until the response is read; aborted with it below.
    let driver = tokio::spawn(connection);
    let request = Request::post(path)
        .header(HOST, address)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|error| failed(&error))?;
    let answer = async {
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>((status, body))
    }
    .await;
    driver.abort();
    answer.map_err(|error| failed(&error))
}
