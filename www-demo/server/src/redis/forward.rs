//! A socket's forwarding task in the Redis mode: the opening frame, the log after the client's
//! `since`, then the live events, each seq exactly once and in order, as the in-memory
//! forwarder does (`ws/forward.rs`), with the log read from Redis.
//!
//! The live events come over pub/sub, which may lose some (see [`super::relay`]). So the task
//! reads the log again whenever the next live event is not the one it wants, when the
//! subscription dropped, and after [`QUIET`] without a live event: a lost terminal event
//! cannot leave a subscriber waiting. While Redis does not answer it waits and tries again; the
//! client loses nothing, it only waits.

use std::future::Future;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;

use super::keys::Feed;
use super::relay::Live;
use super::{Logged, RedisHub};

/// How long a forwarder waits for a live event before it reads the log anyway.
const QUIET: Duration = Duration::from_secs(1);

/// Events per replay frame, and per read of the log, as in memory.
const REPLAY_BATCH: usize = 500;

/// Longest wait between two reads while Redis does not answer.
const MAX_RETRY: Duration = Duration::from_secs(1);

/// Where a forwarder's frames go: a socket's send queue.
pub trait FrameSink {
    /// Sends a frame's text; false once the socket is gone.
    fn send(&mut self, text: String) -> impl Future<Output = bool> + Send;
}

/// Where a subscriber is and how to send to it.
pub struct Subscriber<S> {
    pub sink: S,
    /// The last seq sent, or the client's `since`.
    pub last: u64,
}

/// Forwards `feed` after `opening` (which is told the feed's last seq and sends `subscribed`,
/// `joined` or an error; false ends the task). Ends when the socket is gone or after a
/// job's terminal event.
pub async fn forward<S, O, OF>(
    hub: &RedisHub,
    feed: Feed,
    mut subscriber: Subscriber<S>,
    opening: O,
) where
    S: FrameSink,
    O: FnOnce(Option<u64>) -> OF,
    OF: Future<Output = bool>,
{
    // Watch first, then read: every event is then in the log read or on the receiver.
    let mut live = hub.relays().watch(&feed);
    let last_seq = retrying(|| hub.last_seq(&feed)).await;
    if !opening(last_seq).await {
        return;
    }
    loop {
        match catch_up(hub, &feed, &mut subscriber).await {
            Some(true) => {}
            _ => return,
        }
        loop {
            let next = match tokio::time::timeout(QUIET, live.recv()).await {
                Ok(next) => next,
                // Quiet: read the log, in case pub/sub lost the event.
                Err(_) => break,
            };
            match next {
                Ok(Live::Event { seq, .. }) if seq <= subscriber.last => continue,
                Ok(Live::Event { seq, end, frame }) if seq == subscriber.last + 1 => {
                    if !subscriber.sink.send(frame.to_string()).await {
                        return;
                    }
                    subscriber.last = seq;
                    if end {
                        return;
                    }
                }
                // A jump, a lag, or a dropped subscription: the log has what was missed.
                Ok(_) | Err(RecvError::Lagged(_)) => break,
                Err(RecvError::Closed) => return,
            }
        }
    }
}

/// Sends the logged events after the subscriber's last, a batch at a time. `Some(true)` to go
/// on, `Some(false)` after the terminal event, `None` when the socket is gone.
async fn catch_up<S: FrameSink>(
    hub: &RedisHub,
    feed: &Feed,
    subscriber: &mut Subscriber<S>,
) -> Option<bool> {
    loop {
        let last = subscriber.last;
        let events = retrying(|| hub.events_after(feed, last, REPLAY_BATCH)).await;
        let full = events.len() == REPLAY_BATCH;
        let end = events.iter().any(|logged| logged.end);
        if let Some(newest) = events.last() {
            let newest = newest.seq;
            if !subscriber.sink.send(batch(events)).await {
                return None;
            }
            subscriber.last = newest;
        }
        if end {
            return Some(false);
        }
        if !full {
            return Some(true);
        }
    }
}

/// One frame alone, several as one batch frame (a JSON array of frames).
fn batch(events: Vec<Logged>) -> String {
    if events.len() == 1 {
        return events.into_iter().map(|logged| logged.frame).collect();
    }
    let mut text = String::from("[");
    for (index, logged) in events.into_iter().enumerate() {
        if index > 0 {
            text.push(',');
        }
        text.push_str(&logged.frame);
    }
    text.push(']');
    text
}

/// Runs `read` until Redis answers.
async fn retrying<T, F, R>(mut read: R) -> T
where
    R: FnMut() -> F,
    F: Future<Output = redis::RedisResult<T>>,
{
    let mut wait = Duration::from_millis(50);
    loop {
        match read().await {
            Ok(value) => return value,
            Err(error) => {
                if wait == Duration::from_millis(50) {
                    eprintln!("redis: cannot read ({error}); trying again");
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_RETRY);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_logged_events_go_out_as_one_batch_frame() {
        let logged = |seq: u64| Logged {
            seq,
            end: false,
            frame: format!("{{\"seq\":{seq}}}"),
        };
        assert_eq!(batch(vec![logged(1)]), "{\"seq\":1}");
        assert_eq!(
            batch(vec![logged(1), logged(2)]),
            "[{\"seq\":1},{\"seq\":2}]"
        );
    }
}
