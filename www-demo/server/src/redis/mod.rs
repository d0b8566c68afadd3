//! The `--redis` mode: several instances of the server, one stream of events.
//!
//! Without `--redis` the server keeps its jobs in memory ([`crate::jobs`]). With it, every
//! instance given the same Redis is one server:
//!
//! - **Fan-out.** A job's instance publishes each event once, to the job's live channel; every
//!   instance reads all live channels and forwards each event to its own sockets that watch
//!   the job ([`relay`], [`forward`]).
//! - **Replay.** Each job's log is a Redis Stream, capped in length (`max_log_events`) and in
//!   time (`--redis-ttl-ms` after the job's last event), so `subscribe` with `since` replays on
//!   any instance, also after the job's instance died ([`keys`] lists what Redis holds).
//! - **One seq, one writer.** A job runs on the instance that holds its lease; a script decides
//!   each seq ([`scripts`]). An instance that dies stops renewing its leases, and another one
//!   takes the job over and resumes it where the log ends ([`runner`]).
//! - **Messages once.** Message ids are remembered in Redis for a day, so a message sent again
//!   through another instance is acked and not handled twice.

pub mod api;
pub mod forward;
pub mod keys;
pub mod relay;
pub mod runner;
pub mod scripts;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, RedisResult, Script};
use tokio::task::JoinHandle;

use self::keys::Feed;
use self::relay::Relays;
use crate::secret::random_hex;

/// How long a message id is remembered, so a message retried later is still handled once.
const MESSAGE_MEMORY: Duration = Duration::from_secs(24 * 60 * 60);

/// What the Redis mode is told at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://host:port[/db]`.
    pub url: String,
    /// How long a job's lease lasts unless renewed; an instance that dies loses its jobs to
    /// another instance within about this long.
    pub lease_ms: u64,
    /// How long a feed's log and meta live after its last event.
    pub ttl_ms: u64,
}

impl RedisConfig {
    pub const DEFAULT_LEASE_MS: u64 = 2_000;
    pub const DEFAULT_TTL_MS: u64 = 60 * 60 * 1_000;

    /// The defaults for `url`.
    pub fn new(url: String) -> RedisConfig {
        RedisConfig {
            url,
            lease_ms: Self::DEFAULT_LEASE_MS,
            ttl_ms: Self::DEFAULT_TTL_MS,
        }
    }
}

/// One event read back from a feed's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub seq: u64,
    /// The job's terminal event.
    pub end: bool,
    /// The frame, as sent.
    pub frame: String,
}

/// This instance's link to Redis, shared by every handler.
#[derive(Debug)]
pub struct RedisHub {
    commands: ConnectionManager,
    /// Names this process in leases: the instance's name and random bits, so an instance
    /// restarted under the same name does not mistake its dead self's leases for its own.
    token: String,
    config: RedisConfig,
    log_cap: usize,
    relays: Arc<Relays>,
    emit: Script,
    restore: Script,
    renew: Script,
    release: Script,
    append_app: Script,
    /// The jobs this instance runs, by feed.
    running: Mutex<HashMap<Feed, JoinHandle<()>>>,
}

impl RedisHub {
    /// Connects (commands and the live subscription) and starts watching for jobs to take
    /// over. Fails if Redis cannot be reached now; after that, a Redis that goes away is
    /// waited for.
    pub async fn connect(
        config: RedisConfig,
        instance: &str,
        log_cap: usize,
    ) -> RedisResult<Arc<RedisHub>> {
        let client = redis::Client::open(config.url.as_str())?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2);
        let commands = ConnectionManager::new_with_config(client, manager_config).await?;
        // Pub/sub through a connection manager wants RESP3's push messages.
        let separator = if config.url.contains('?') { '&' } else { '?' };
        let resp3 = redis::Client::open(format!("{}{separator}protocol=resp3", config.url))?;
        let relays = Arc::new(Relays::default());
        relay::subscribe(resp3, Arc::clone(&relays)).await?;
        let hub = Arc::new(RedisHub {
            commands,
            token: format!("{instance}.{}", random_hex()),
            config,
            log_cap,
            relays,
            emit: scripts::emit(),
            restore: scripts::restore(),
            renew: scripts::renew(),
            release: scripts::release(),
            append_app: scripts::append_app(),
            running: Mutex::default(),
        });
        runner::watch_leases(Arc::clone(&hub));
        Ok(hub)
    }

    fn connection(&self) -> ConnectionManager {
        self.commands.clone()
    }

    /// The local broadcasts of live events.
    pub fn relays(&self) -> &Relays {
        &self.relays
    }

    /// The last seq of `feed`; `None` if Redis does not know it.
    pub async fn last_seq(&self, feed: &Feed) -> RedisResult<Option<u64>> {
        self.connection().hget(feed.meta(), "seq").await
    }

    /// A job's snapshot as JSON text; `None` if Redis does not know the job.
    pub async fn snapshot(&self, feed: &Feed) -> RedisResult<Option<String>> {
        self.connection().hget(feed.meta(), "snapshot").await
    }

    /// At most `limit` logged events of `feed` after `seq`, oldest first; the oldest kept when
    /// `seq` is older than the log.
    pub async fn events_after(
        &self,
        feed: &Feed,
        seq: u64,
        limit: usize,
    ) -> RedisResult<Vec<Logged>> {
        let start = format!("0-{}", seq.saturating_add(1));
        let entries: Vec<(String, HashMap<String, String>)> = self
            .connection()
            .xrange_count(feed.log(), start, "+", limit)
            .await?;
        Ok(entries
            .into_iter()
            .filter_map(|(id, mut fields)| {
                let seq = id.strip_prefix("0-")?.parse().ok()?;
                Some(Logged {
                    seq,
                    end: fields.get("end").is_some_and(|end| end == "1"),
                    frame: fields.remove("f")?,
                })
            })
            .collect())
    }

    /// Records message `id`; true if no instance handled it before.
    pub async fn first_time_message(&self, id: &str) -> RedisResult<bool> {
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::EX(MESSAGE_MEMORY.as_secs()));
        let set: Option<String> = self
            .connection()
            .set_options(keys::message(id), 1, options)
            .await?;
        Ok(set.is_some())
    }

    /// Appends an event to an app channel; its seq. `frame` builds the frame for a seq.
    pub async fn publish_app(
        &self,
        feed: &Feed,
        frame: impl Fn(u64) -> String,
    ) -> RedisResult<u64> {
        let mut seq = self.last_seq(feed).await?.unwrap_or(0) + 1;
        loop {
            let stored: i64 = self
                .append_app
                .key(feed.meta())
                .key(feed.log())
                .arg(seq)
                .arg(frame(seq))
                .arg(self.log_cap)
                .arg(self.config.ttl_ms)
                .arg(feed.live())
                .invoke_async(&mut self.connection())
                .await?;
            // Another instance published first: propose the seq after the one it wrote.
            match u64::try_from(stored) {
                Ok(stored) => seq = stored + 1,
                Err(_) => return Ok(seq),
            }
        }
    }

    /// Gives up the leases of the jobs this instance runs, so another instance takes them over
    /// at once rather than after the lease: for a clean stop.
    pub async fn release_jobs(&self) {
        let feeds: Vec<Feed> = self
            .running()
            .drain()
            .map(|(feed, task)| {
                task.abort();
                feed
            })
            .collect();
        for feed in feeds {
            let released: RedisResult<i64> = self
                .release
                .key(feed.lease())
                .arg(&self.token)
                .invoke_async(&mut self.connection())
                .await;
            if let Err(error) = released {
                eprintln!("redis: could not release {}: {error}", feed.member());
            }
        }
    }

    fn running(&self) -> MutexGuard<'_, HashMap<Feed, JoinHandle<()>>> {
        // Map updates cannot panic half way.
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
