//! One load client: a WebSocket on one instance that subscribes to the jobs it is handed, pings
//! at the heartbeat the server announces, as jobsocket's client does, and checks every event it
//! receives: its lateness against the job's schedule, and that each seq of each job arrives
//! exactly once and in order.
//!
//! Frames are read with a small borrowed serde struct that skips each event's `data`, rather
//! than the protocol's full decoder: the tool reads 100,000 frames a second on a machine whose
//! two cores also run the servers and Redis, and must cost them as little as it can.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use jobsocket::core::protocol::{Channel, ClientFrame};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::clock::now_ms;
use crate::jobs::JobInfo;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Errors kept per client for the report; later ones are counted only.
const KEPT_ERRORS: usize = 3;

/// How long a closing socket may take to say goodbye.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// A socket that has received its `connected` frame.
pub struct Connected {
    socket: Socket,
    /// The `clientId` the instance gave it (`NAME.c_N` in Redis mode).
    pub client_id: String,
    heartbeat: Duration,
}

/// The frames the tool reads, every field optional; unknown ones (an event's `data`) are
/// skipped without being built.
#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    seq: Option<u64>,
    #[serde(rename = "clientId")]
    client_id: Option<String>,
    #[serde(rename = "heartbeatMs")]
    heartbeat_ms: Option<u64>,
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
}

/// Opens a socket to `ws://ADDRESS/ws` and waits for its `connected` frame.
pub async fn connect(address: &str, timeout: Duration) -> Result<Connected, String> {
    let url = format!("ws://{address}/ws");
    let opening = async {
        let (mut socket, _) = connect_async(url.as_str())
            .await
            .map_err(|error| format!("cannot open {url}: {error}"))?;
        while let Some(message) = socket.next().await {
            let text = match message {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(frame)) => {
                    return Err(format!("{url} closed at once: {frame:?}"));
                }
                Ok(_) => continue,
                Err(error) => return Err(format!("{url}: {error}")),
            };
            let frame: Incoming = serde_json::from_str(text.as_str())
                .map_err(|error| format!("{url} sent a frame that is not JSON: {error}"))?;
            if let (Some(client_id), Some(heartbeat_ms)) = (frame.client_id, frame.heartbeat_ms) {
                return Ok(Connected {
                    socket,
                    client_id,
                    heartbeat: Duration::from_millis(heartbeat_ms.max(1)),
                });
            }
            return Err(format!("{url} opened with a {} frame", frame.kind));
        }
        Err(format!("{url} closed before its connected frame"))
    };
    tokio::time::timeout(timeout, opening)
        .await
        .map_err(|_| format!("{url}: no connected frame within {timeout:?}"))?
}

/// What one client saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Lateness of every live event, in µs: received − due, 0 for one that came early.
    pub latencies_us: Vec<u32>,
    /// Events received before their due time (a scheduler ahead of `startedAt`).
    pub early: u64,
    /// Events received, repeats included.
    pub received: u64,
    /// Events due before the client subscribed: replayed, not timed.
    pub replayed: u64,
    /// Events of a seq the client already had.
    pub duplicates: u64,
    /// Events whose seq is below one already received.
    pub out_of_order: u64,
    /// Events of no job the client watches, or of a seq beyond the job's last.
    pub unexpected: u64,
    /// Seqs never received, over every job watched.
    pub missing: u64,
    /// Events the client should have received.
    pub expected: u64,
    /// Jobs watched whose terminal event never came.
    pub unfinished: u64,
    /// `error` frames, socket errors and closes, the first few kept.
    pub errors: Vec<String>,
    pub error_count: u64,
    /// The close code the server sent, if it closed the socket.
    pub closed_by_server: Option<u16>,
    /// The run's deadline came before the client was done.
    pub timed_out: bool,
}

impl Tally {
    fn error(&mut self, error: String) {
        self.error_count += 1;
        if self.errors.len() < KEPT_ERRORS {
            self.errors.push(error);
        }
    }
}

/// One job the client watches.
struct Subscription {
    job: Arc<JobInfo>,
    /// Events due before this were missed live and come as a replay: not timed.
    subscribed_at_ms: f64,
    seen: Vec<bool>,
    unique: u64,
    max_seq: u64,
}

impl Subscription {
    fn finished(&self) -> bool {
        self.seen.last().copied().unwrap_or(true)
    }
}

/// Subscribes to every job that arrives on `watches` and reads until each watched job has sent
/// its terminal event and `watches` is closed, the server closes the socket, or `deadline`.
pub async fn run(
    connected: Connected,
    mut watches: mpsc::UnboundedReceiver<Arc<JobInfo>>,
    deadline: Instant,
) -> Tally {
    let Connected {
        mut socket,
        heartbeat,
        ..
    } = connected;
    let mut tally = Tally::default();
    let mut subscriptions: Vec<Subscription> = Vec::new();
    let mut watches_open = true;
    let mut ping = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
    loop {
        if !watches_open && subscriptions.iter().all(Subscription::finished) {
            break;
        }
        tokio::select! {
            watch = watches.recv(), if watches_open => {
                let Some(job) = watch else {
                    watches_open = false;
                    continue;
                };
                let subscribe = ClientFrame::Subscribe {
                    channel: Channel::Generation,
                    id: job.id.clone(),
                    since: Some(0),
                };
                subscriptions.push(Subscription {
                    seen: vec![false; job.events as usize],
                    job,
                    subscribed_at_ms: now_ms(),
                    unique: 0,
                    max_seq: 0,
                });
                if let Err(error) = socket.send(Message::Text(subscribe.encode().into())).await {
                    tally.error(format!("subscribe: {error}"));
                    break;
                }
            }
            message = socket.next() => {
                let received_at = now_ms();
                match message {
                    Some(Ok(Message::Text(text))) => {
                        read_frames(text.as_str(), received_at, &mut subscriptions, &mut tally);
                    }
                    Some(Ok(Message::Close(frame))) => {
                        let code = frame.as_ref().map(|frame| u16::from(frame.code));
                        tally.closed_by_server = code;
                        tally.error(format!("the server closed the socket: {frame:?}"));
                        break;
                    }
                    // tungstenite answers pings itself.
                    Some(Ok(_)) => {}
                    Some(Err(error)) => {
                        tally.error(format!("socket: {error}"));
                        break;
                    }
                    None => {
                        tally.error("the socket ended without a close frame".to_owned());
                        break;
                    }
                }
            }
            _ = ping.tick() => {
                let ping = ClientFrame::Ping { t: now_ms() as u64 };
                if let Err(error) = socket.send(Message::Text(ping.encode().into())).await {
                    tally.error(format!("ping: {error}"));
                    break;
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                tally.timed_out = true;
                break;
            }
        }
    }
    for subscription in &subscriptions {
        tally.expected += subscription.job.events;
        tally.missing += subscription.job.events - subscription.unique;
        tally.unfinished += u64::from(!subscription.finished());
    }
    // Jobs handed over after the loop ended were never subscribed: all their events missing.
    watches.close();
    while let Ok(job) = watches.try_recv() {
        tally.expected += job.events;
        tally.missing += job.events;
        tally.unfinished += 1;
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, socket.close(None)).await;
    tally
}

/// Reads one WebSocket text frame: one frame object, or a batch (an array of them).
fn read_frames(
    text: &str,
    received_at: f64,
    subscriptions: &mut [Subscription],
    tally: &mut Tally,
) {
    let frames = if text.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<Incoming>>(text)
    } else {
        serde_json::from_str::<Incoming>(text).map(|frame| vec![frame])
    };
    let frames = match frames {
        Ok(frames) => frames,
        Err(error) => {
            tally.error(format!("a frame that is not JSON: {error}"));
            return;
        }
    };
    for frame in frames {
        match frame.kind.as_ref() {
            "event" => event(&frame, received_at, subscriptions, tally),
            "error" => tally.error(format!(
                "error frame {}: {}",
                frame.code.unwrap_or_default(),
                frame.message.unwrap_or_default()
            )),
            _ => {}
        }
    }
}

/// Checks one event's seq and times it.
fn event(
    frame: &Incoming,
    received_at: f64,
    subscriptions: &mut [Subscription],
    tally: &mut Tally,
) {
    tally.received += 1;
    let (Some(id), Some(seq)) = (frame.id.as_deref(), frame.seq) else {
        tally.unexpected += 1;
        return;
    };
    let Some(subscription) = subscriptions.iter_mut().find(|s| s.job.id == id) else {
        tally.unexpected += 1;
        return;
    };
    let Some(slot) = seq
        .checked_sub(1)
        .and_then(|index| subscription.seen.get_mut(index as usize))
    else {
        tally.unexpected += 1;
        return;
    };
    if *slot {
        tally.duplicates += 1;
        return;
    }
    *slot = true;
    subscription.unique += 1;
    if seq < subscription.max_seq {
        tally.out_of_order += 1;
    }
    subscription.max_seq = subscription.max_seq.max(seq);
    let due = subscription.job.due_ms(seq);
    if due < subscription.subscribed_at_ms {
        tally.replayed += 1;
        return;
    }
    let late_us = (received_at - due) * 1_000.0;
    if late_us < 0.0 {
        tally.early += 1;
    }
    tally
        .latencies_us
        .push(late_us.clamp(0.0, f64::from(u32::MAX)) as u32);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(subscribed_at_ms: f64) -> Subscription {
        let job = JobInfo {
            index: 0,
            id: "gen_1".to_owned(),
            started_at_ms: 1_000.0,
            step_ms: 10.0,
            events: 4,
            estimated_start: false,
        };
        Subscription {
            seen: vec![false; 4],
            job: Arc::new(job),
            subscribed_at_ms,
            unique: 0,
            max_seq: 0,
        }
    }

    fn event_frame(id: &str, seq: u64) -> String {
        format!(
            r#"{{"type":"event","channel":"generation","id":"{id}","seq":{seq},"event":"progress","data":{{"a":[1,{{"b":"c"}}]}}}}"#
        )
    }

    #[test]
    fn each_event_is_timed_against_its_due_time_on_the_jobs_schedule() {
        let mut subscriptions = [subscription(0.0)];
        let mut tally = Tally::default();
        // seq 1 is due at the start, seq 3 two steps later.
        read_frames(
            &event_frame("gen_1", 1),
            1_002.5,
            &mut subscriptions,
            &mut tally,
        );
        read_frames(
            &event_frame("gen_1", 3),
            1_020.0,
            &mut subscriptions,
            &mut tally,
        );
        assert_eq!(tally.latencies_us, [2_500, 0]);
        assert_eq!((tally.received, tally.early), (2, 0));
        read_frames(
            &event_frame("gen_1", 4),
            1_029.0,
            &mut subscriptions,
            &mut tally,
        );
        assert_eq!(tally.early, 1, "due at 1030, received at 1029");
        assert_eq!(tally.latencies_us[2], 0);
    }

    #[test]
    fn repeated_reordered_and_foreign_seqs_are_counted_and_never_timed_twice() {
        let mut subscriptions = [subscription(0.0)];
        let mut tally = Tally::default();
        let batch = format!(
            "[{},{},{},{}]",
            event_frame("gen_1", 2),
            event_frame("gen_1", 1),
            event_frame("gen_1", 2),
            event_frame("gen_2", 1),
        );
        read_frames(&batch, 2_000.0, &mut subscriptions, &mut tally);
        read_frames(
            &event_frame("gen_1", 5),
            2_000.0,
            &mut subscriptions,
            &mut tally,
        );
        read_frames(
            &event_frame("gen_1", 0),
            2_000.0,
            &mut subscriptions,
            &mut tally,
        );
        assert_eq!(tally.received, 6);
        assert_eq!(tally.duplicates, 1);
        assert_eq!(tally.out_of_order, 1);
        assert_eq!(
            tally.unexpected, 3,
            "another job, and seqs 5 and 0 of a 4-event job"
        );
        assert_eq!(tally.latencies_us.len(), 2);
        assert_eq!(subscriptions[0].unique, 2);
        assert!(!subscriptions[0].finished());
    }

    #[test]
    fn events_due_before_the_subscription_are_replayed_not_timed() {
        let mut subscriptions = [subscription(1_015.0)];
        let mut tally = Tally::default();
        for seq in 1..=4 {
            read_frames(
                &event_frame("gen_1", seq),
                1_040.0,
                &mut subscriptions,
                &mut tally,
            );
        }
        assert_eq!(tally.replayed, 2, "seqs 1 and 2, due at 1000 and 1010");
        assert_eq!(tally.latencies_us, [20_000, 10_000]);
        assert!(subscriptions[0].finished());
    }

    #[test]
    fn error_frames_and_text_that_is_not_json_are_errors() {
        let mut tally = Tally::default();
        let error = r#"{"type":"error","code":"unknown_job","message":"no generation gen_9"}"#;
        read_frames(error, 0.0, &mut [], &mut tally);
        read_frames("{not json", 0.0, &mut [], &mut tally);
        read_frames(r#"{"type":"pong","t":5}"#, 0.0, &mut [], &mut tally);
        assert_eq!(tally.error_count, 2);
        assert!(
            tally.errors[0].contains("unknown_job"),
            "{:?}",
            tally.errors
        );
    }
}
