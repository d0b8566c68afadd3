//! The forwarding tasks of a socket, one per subscription: `subscribed` (or `joined`), the
//! replay of the events after the client's `since`, then the live events, each `seq` exactly
//! once and in order.
//!
//! A replay reads the log [`REPLAY_BATCH`] events at a time and sends each batch before it
//! reads the next, so a subscribe costs one batch of memory however long the log, and a client
//! that reads slowly holds back its own replay only. A receiver that lags behind the live
//! broadcast catches up the same way.

use std::sync::Arc;

use jobsocket::core::protocol::{Channel, ServerFrame};
use tokio::sync::broadcast::error::RecvError;

use super::{Gone, Outbox, send, send_text};
use crate::channels::{AppChannel, ChannelLogged, ChannelWatch};
use crate::jobs::{Job, Logged, Watch};
use crate::redis::RedisHub;
use crate::redis::forward::{self as redis_forward, FrameSink, Subscriber};
use crate::redis::keys::Feed;

/// Events per replay frame, and per read of the log. A replay goes out in batches, so no frame
/// comes near the client's 1 MiB `maxFrameBytes` (an event is a few hundred bytes).
pub(crate) const REPLAY_BATCH: usize = 500;

/// A forwarding task: `subscribed`, then the events after `since` in batches, then the live
/// events, each `seq` exactly once and in order, until the job's terminal event.
pub(super) async fn forward(job: Arc<Job>, since: Option<u64>, outbox: Outbox) {
    let Watch { mut live, last_seq } = job.watch();
    let subscribed = ServerFrame::Subscribed {
        channel: job.channel(),
        id: job.id().to_owned(),
        seq: last_seq,
    };
    if send(&outbox, &subscribed).await.is_err() {
        return;
    }
    let mut cursor = Cursor {
        last: since.unwrap_or(0),
        done: false,
    };
    loop {
        if cursor.catch_up(&job, &outbox).await.is_err() || cursor.done {
            return;
        }
        // Live events until the receiver lags; then the log again.
        loop {
            match live.recv().await {
                Ok(logged) if logged.seq <= cursor.last => continue,
                Ok(logged) if logged.seq == cursor.last + 1 => {
                    if cursor.deliver(&job, &[logged], &outbox).await.is_err() || cursor.done {
                        return;
                    }
                }
                // A lagging receiver skipped events (and a gap cannot happen while jobs emit
                // under their lock): the log has every one of them.
                Ok(_) | Err(RecvError::Lagged(_)) => break,
                // The job is gone; it has nothing more to say.
                Err(RecvError::Closed) => return,
            }
        }
    }
}

/// A forwarding task of an app channel: `joined`, the events after `since`, then the live
/// ones, each `seq` exactly once and in order, until the socket goes or unsubscribes.
pub(super) async fn forward_channel(channel: Arc<AppChannel>, since: Option<u64>, outbox: Outbox) {
    let ChannelWatch { mut live, last_seq } = channel.watch();
    let joined = ServerFrame::Joined {
        channel: channel.name().to_owned(),
        id: channel.id().to_owned(),
        seq: last_seq,
    };
    if send(&outbox, &joined).await.is_err() {
        return;
    }
    let mut last = since.unwrap_or(0);
    loop {
        // The log, a batch at a time, up to its end.
        loop {
            let events = channel.events_after(last, REPLAY_BATCH);
            let full = events.len() == REPLAY_BATCH;
            for logged in events {
                last = logged.seq;
                if send(&outbox, &channel_event(&channel, logged))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            if !full {
                break;
            }
        }
        loop {
            match live.recv().await {
                Ok(logged) if logged.seq <= last => continue,
                Ok(logged) if logged.seq == last + 1 => {
                    last = logged.seq;
                    if send(&outbox, &channel_event(&channel, logged))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                // A lagging receiver skipped events: the log has them.
                Ok(_) | Err(RecvError::Lagged(_)) => break,
                Err(RecvError::Closed) => return,
            }
        }
    }
}

/// The Redis mode's forwarding task of a job: `subscribed` (or `unknown_job` if Redis does not
/// know it), then as [`forward`] (see [`crate::redis::forward`]).
pub(super) async fn forward_from_redis(
    hub: Arc<RedisHub>,
    channel: Channel,
    id: String,
    since: Option<u64>,
    outbox: Outbox,
) {
    let feed = Feed::job(channel, &id);
    let opening = |last: Option<u64>| {
        let outbox = outbox.clone();
        async move {
            let frame = match last {
                Some(seq) => ServerFrame::Subscribed { channel, id, seq },
                None => ServerFrame::Error {
                    code: "unknown_job".to_owned(),
                    message: format!("no {channel} {id}"),
                    job: Some((channel, id)),
                },
            };
            send(&outbox, &frame).await.is_ok() && last.is_some()
        }
    };
    let subscriber = Subscriber {
        sink: outbox.clone(),
        last: since.unwrap_or(0),
    };
    redis_forward::forward(&hub, feed, subscriber, opening).await;
}

/// The Redis mode's forwarding task of an app channel: `joined`, then as [`forward_channel`].
pub(super) async fn forward_channel_from_redis(
    hub: Arc<RedisHub>,
    name: String,
    id: String,
    since: Option<u64>,
    outbox: Outbox,
) {
    let feed = Feed::app(&name, &id);
    let opening = |last: Option<u64>| {
        let outbox = outbox.clone();
        async move {
            let joined = ServerFrame::Joined {
                channel: name,
                id,
                seq: last.unwrap_or(0),
            };
            send(&outbox, &joined).await.is_ok()
        }
    };
    let subscriber = Subscriber {
        sink: outbox.clone(),
        last: since.unwrap_or(0),
    };
    redis_forward::forward(&hub, feed, subscriber, opening).await;
}

impl FrameSink for Outbox {
    async fn send(&mut self, text: String) -> bool {
        send_text(self, text).await.is_ok()
    }
}

fn channel_event(channel: &AppChannel, logged: ChannelLogged) -> ServerFrame {
    ServerFrame::ChannelEvent {
        channel: channel.name().to_owned(),
        id: channel.id().to_owned(),
        seq: logged.seq,
        event: logged.event,
        data: logged.data,
    }
}

/// How far a forwarding task has got.
struct Cursor {
    /// The last `seq` sent, or the client's `since`.
    last: u64,
    /// The job's terminal event was sent.
    done: bool,
}

impl Cursor {
    /// Sends the logged events after `self.last`, a batch at a time, up to the log's end or
    /// the terminal event.
    async fn catch_up(&mut self, job: &Job, outbox: &Outbox) -> Result<(), Gone> {
        loop {
            let events = job.events_after(self.last, REPLAY_BATCH);
            self.deliver(job, &events, outbox).await?;
            if events.len() < REPLAY_BATCH || self.done {
                return Ok(());
            }
        }
    }

    /// Sends `events` (consecutive, after `self.last`): one alone as one frame, several as one
    /// batch frame.
    async fn deliver(&mut self, job: &Job, events: &[Logged], outbox: &Outbox) -> Result<(), Gone> {
        let frames: Vec<ServerFrame> = events
            .iter()
            .map(|logged| ServerFrame::Event {
                id: job.id().to_owned(),
                seq: logged.seq,
                event: logged.event.clone(),
            })
            .collect();
        let text = match frames.as_slice() {
            [] => return Ok(()),
            [frame] => frame.encode(),
            frames => ServerFrame::encode_batch(frames),
        };
        send_text(outbox, text).await?;
        if let Some(last) = events.last() {
            self.last = last.seq;
        }
        self.done |= events.iter().any(|logged| logged.event.is_terminal());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Outgoing;
    use super::*;
    use crate::jobs::snapshot::Snapshot;
    use jobsocket::core::events::{CompositionEvent, JobEvent, JobFailure};
    use jobsocket::core::protocol::Channel;
    use tokio::sync::mpsc;

    fn failure(recoverable: bool) -> JobEvent {
        JobEvent::Composition(CompositionEvent::Error(JobFailure {
            code: "encoding_failed".to_owned(),
            message: "test".to_owned(),
            recoverable,
        }))
    }

    fn seqs(outgoing: Outgoing) -> Vec<u64> {
        let Outgoing::Text(text) = outgoing else {
            panic!("expected a text frame, got {outgoing:?}");
        };
        ServerFrame::decode_all(&text)
            .into_iter()
            .map(|frame| match frame {
                Ok(ServerFrame::Event { seq, .. }) => seq,
                other => panic!("expected an event, got {other:?}"),
            })
            .collect()
    }

    fn job() -> Arc<Job> {
        Arc::new(Job::new(
            "comp_1".to_owned(),
            Channel::Composition,
            Snapshot::composition("comp_1", 1),
            crate::jobs::MAX_LOG_EVENTS,
        ))
    }

    #[tokio::test]
    async fn a_lagging_subscriber_catches_up_from_the_log_without_gaps() {
        let job = job();
        // A one-frame outbox nobody reads yet: the forwarder blocks, as for a slow client.
        let (outbox, mut queue) = mpsc::channel(1);
        let forwarder = tokio::spawn(forward(job.clone(), None, outbox));
        assert!(
            matches!(queue.recv().await, Some(Outgoing::Text(text)) if text.contains("subscribed"))
        );

        // Far more events than the broadcast holds, before the forwarder runs again.
        for _ in 0..200 {
            job.emit(failure(true));
        }
        job.emit(failure(false));

        let mut received = Vec::new();
        while let Some(outgoing) = queue.recv().await {
            received.extend(seqs(outgoing));
        }
        assert_eq!(received, (1..=201).collect::<Vec<_>>());
        assert!(
            forwarder.is_finished(),
            "the forwarder ends after the terminal event"
        );
    }

    #[tokio::test]
    async fn a_long_replay_goes_out_one_batch_at_a_time() {
        let job = job();
        for _ in 0..(2 * REPLAY_BATCH + 10) {
            job.emit(failure(true));
        }
        job.emit(failure(false));
        let (outbox, mut queue) = mpsc::channel(1);
        let forwarder = tokio::spawn(forward(job.clone(), Some(5), outbox));
        assert!(
            matches!(queue.recv().await, Some(Outgoing::Text(text)) if text.contains("subscribed"))
        );

        let mut sizes = Vec::new();
        let mut received = Vec::new();
        while let Some(outgoing) = queue.recv().await {
            let seqs = seqs(outgoing);
            sizes.push(seqs.len());
            received.extend(seqs);
        }
        assert_eq!(sizes, [REPLAY_BATCH, REPLAY_BATCH, 6]);
        let last = 2 * REPLAY_BATCH as u64 + 11;
        assert_eq!(received, (6..=last).collect::<Vec<_>>());
        assert!(forwarder.is_finished());
    }
}
