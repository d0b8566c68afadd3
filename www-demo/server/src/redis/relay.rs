//! Fan-out inside one instance: every instance reads every feed's live channel from Redis once
//! (one pattern subscription) and hands each event to the forwarding tasks of its own sockets
//! that watch that feed, through a local broadcast per watched feed.
//!
//! Redis pub/sub delivers at most once: a message published while this instance's subscription
//! is down (Redis restarting, a dropped connection) is lost. That is why the log, not pub/sub,
//! is the truth: a forwarder that sees a seq jump, a [`Live::Resync`] (sent when the
//! subscription drops) or a quiet spell reads the log again (see [`super::forward`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Msg, PushInfo, PushKind};
use tokio::sync::{broadcast, mpsc};

use super::keys::{Feed, LIVE_PATTERN};

/// Events a forwarder may fall behind by before it lags and reads the log instead.
const LIVE_CAPACITY: usize = 256;

/// How often a dropped subscription tries to come back.
const RESUBSCRIBE_EVERY: Duration = Duration::from_millis(250);

/// The fewest feeds worth sweeping for unwatched ones.
const SWEEP_AT: usize = 64;

/// What a forwarder hears from its feed's local broadcast.
#[derive(Debug, Clone)]
pub enum Live {
    /// One event, as published: its seq, whether it ends the job, and the frame to send.
    Event {
        seq: u64,
        end: bool,
        frame: Arc<str>,
    },
    /// The subscription to Redis dropped: events may have been missed, read the log.
    Resync,
}

/// The local broadcasts, by feed, of the feeds this instance's sockets watch.
#[derive(Debug, Default)]
pub struct Relays {
    feeds: Mutex<HashMap<Feed, broadcast::Sender<Live>>>,
    /// The number of feeds after the last sweep of unwatched ones.
    swept: AtomicUsize,
}

impl Relays {
    /// A receiver of `feed`'s live events from now on.
    pub fn watch(&self, feed: &Feed) -> broadcast::Receiver<Live> {
        let mut feeds = self.lock();
        // A feed whose watchers left and that published nothing since would stay: forget
        // those whenever the map has doubled, so it stays within twice the watched feeds.
        if feeds.len() >= SWEEP_AT.max(2 * self.swept.load(Ordering::Relaxed)) {
            feeds.retain(|_, sender| sender.receiver_count() > 0);
            self.swept.store(feeds.len(), Ordering::Relaxed);
        }
        feeds
            .entry(feed.clone())
            .or_insert_with(|| broadcast::Sender::new(LIVE_CAPACITY))
            .subscribe()
    }

    /// Hands one published message to the feed's watchers, if any; a message that does not
    /// parse is dropped (nothing but these scripts publishes on the live channels).
    fn deliver(&self, message: &Msg) {
        let Some(feed) = Feed::from_live(message.get_channel_name()) else {
            return;
        };
        let Some(live) = parse(message.get_payload_bytes()) else {
            eprintln!("redis: an unreadable message on {}", feed.live());
            return;
        };
        let mut feeds = self.lock();
        if let Some(sender) = feeds.get(&feed) {
            if sender.send(live).is_err() {
                // Its last watcher is gone.
                feeds.remove(&feed);
            }
        }
    }

    /// Tells every watcher to read its log, and forgets the feeds nobody watches.
    fn resync(&self) {
        self.lock()
            .retain(|_, sender| sender.send(Live::Resync).is_ok());
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Feed, broadcast::Sender<Live>>> {
        // Map updates cannot panic half way.
        self.feeds.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `{seq} {end} {frame}` → the event.
fn parse(payload: &[u8]) -> Option<Live> {
    let text = std::str::from_utf8(payload).ok()?;
    let (seq, rest) = text.split_once(' ')?;
    let (end, frame) = rest.split_once(' ')?;
    Some(Live::Event {
        seq: seq.parse().ok()?,
        end: end == "1",
        frame: Arc::from(frame),
    })
}

/// Subscribes to every feed's live channel and relays what arrives to `relays`, for as long
/// as the process runs. The connection manager reconnects and subscribes again by itself; on
/// each drop every watcher is told to read its log.
pub async fn subscribe(client: redis::Client, relays: Arc<Relays>) -> redis::RedisResult<()> {
    let (pushes, mut received) = mpsc::unbounded_channel::<PushInfo>();
    let config = ConnectionManagerConfig::new()
        .set_push_sender(pushes)
        .set_automatic_resubscription()
        .set_connection_timeout(Some(Duration::from_secs(1)));
    let mut manager = ConnectionManager::new_with_config(client, config).await?;
    manager.psubscribe(LIVE_PATTERN).await?;
    tokio::spawn(async move {
        while let Some(push) = received.recv().await {
            if push.kind == PushKind::Disconnection {
                relays.resync();
                tokio::spawn(reconnect(manager.clone()));
                continue;
            }
            if let Some(message) = Msg::from_push_info(push) {
                relays.deliver(&message);
            }
        }
    });
    Ok(())
}

/// Pings until Redis answers: each failed command makes the manager try to connect again,
/// and once it has, it subscribes again by itself.
async fn reconnect(mut manager: ConnectionManager) {
    loop {
        let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut manager).await;
        if pong.is_ok() {
            return;
        }
        tokio::time::sleep(RESUBSCRIBE_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feeds_nobody_watches_any_more_are_forgotten_as_the_map_grows() {
        let relays = Relays::default();
        let kept = relays.watch(&Feed::app("kept", "1"));
        for n in 0..10 * SWEEP_AT {
            drop(relays.watch(&Feed::app("gone", &n.to_string())));
        }
        let feeds = relays.lock().len();
        assert!(feeds <= 2 * SWEEP_AT, "{feeds} feeds kept");
        assert!(relays.lock().contains_key(&Feed::app("kept", "1")));
        drop(kept);
    }

    #[test]
    fn a_published_message_gives_its_seq_end_and_frame() {
        let Some(Live::Event { seq, end, frame }) = parse(b"12 1 {\"type\":\"event\"}") else {
            panic!("expected an event");
        };
        assert_eq!((seq, end, &*frame), (12, true, "{\"type\":\"event\"}"));
        assert!(parse(b"x 0 {}").is_none());
        assert!(parse(b"12").is_none());
    }
}
