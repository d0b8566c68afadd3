//! What every handler shares: the configuration, the jobs, the message log, the shutdown signal,
//! and the admin API's fault scopes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::Config;
use crate::channels::ChannelStore;
use crate::jobs::JobStore;
use crate::messages::MessageLog;
use crate::query::query_param;
use crate::redis::RedisHub;
use crate::scope::{Scope, ScopeError, Scopes};
use crate::secret::random_hex;

/// The server's shared state; cloning it is cheap and every clone is the same server.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: Config,
    jobs: JobStore,
    channels: ChannelStore,
    messages: Mutex<MessageLog>,
    clients: AtomicU64,
    /// One permit per open socket, `max_connections` in all.
    connections: Arc<Semaphore>,
    /// The admin API's key: the configured one, or one made at start; `None` without it.
    admin_key: Option<String>,
    /// `true` once the server is stopping. Each open socket holds a receiver, so the sender
    /// also knows when the last socket is gone ([`AppState::sockets_closed`]).
    stopping: watch::Sender<bool>,
    scopes: Scopes,
    /// The link to Redis in the `--redis` mode.
    redis: Option<Arc<RedisHub>>,
}

impl AppState {
    /// The state of a server in memory, whatever `config.redis` says: for tests of the
    /// in-memory mode. [`AppState::start`] honours it.
    pub fn new(config: Config) -> AppState {
        AppState::with_redis(config, None)
    }

    /// The state of a server as configured: connected to Redis first if `config.redis` says
    /// so; an error names the Redis that could not be reached.
    pub async fn start(mut config: Config) -> Result<AppState, String> {
        let Some(redis) = config.redis.clone() else {
            return Ok(AppState::new(config));
        };
        // Named in every client id, so a client can tell the instances apart.
        let instance = config
            .instance
            .get_or_insert_with(|| random_hex()[..8].to_owned())
            .clone();
        let url = redis.url.clone();
        let hub = RedisHub::connect(redis, &instance, config.max_log_events)
            .await
            .map_err(|error| format!("cannot use Redis at {url}: {error}"))?;
        Ok(AppState::with_redis(config, Some(hub)))
    }

    fn with_redis(config: Config, redis: Option<Arc<RedisHub>>) -> AppState {
        AppState {
            inner: Arc::new(Shared {
                admin_key: config
                    .admin
                    .then(|| config.admin_key.clone().unwrap_or_else(random_hex)),
                jobs: JobStore::new(
                    config.max_log_events,
                    config.limits.max_jobs,
                    config.limits.max_job_ms,
                ),
                connections: Arc::new(Semaphore::new(config.limits.max_connections)),
                channels: ChannelStore::new(config.max_log_events),
                config,
                messages: Mutex::new(MessageLog::default()),
                clients: AtomicU64::new(0),
                stopping: watch::Sender::new(false),
                scopes: Scopes::default(),
                redis,
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The key the admin API wants in `x-admin-key`; `None` when the admin API is off.
    pub fn admin_key(&self) -> Option<&str> {
        self.inner.admin_key.as_deref()
    }

    pub fn jobs(&self) -> &JobStore {
        &self.inner.jobs
    }

    /// The app channels (protocol v1's generic channel).
    pub fn channels(&self) -> &ChannelStore {
        &self.inner.channels
    }

    /// The fault scope a request names with its `scope` query parameter (see [`crate::scope`]).
    /// Without the admin API no switch can be flipped, so every request shares the unnamed
    /// scope and the parameter is ignored.
    pub fn scope(&self, query: Option<&str>) -> Result<Arc<Scope>, ScopeError> {
        let name = match query {
            Some(query) if self.config().admin => query_param(query, "scope"),
            _ => None,
        };
        self.inner.scopes.get(name.as_deref())
    }

    /// A place for one more socket, held until it closes; `None` when `max_connections`
    /// sockets are open.
    pub fn admit_socket(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.inner.connections).try_acquire_owned().ok()
    }

    /// The link to Redis, in the `--redis` mode.
    pub fn redis(&self) -> Option<&Arc<RedisHub>> {
        self.inner.redis.as_ref()
    }

    /// A fresh client id for a new socket: `c_1`, `c_2`, …, after the instance's name and a dot
    /// when it has one (`a.c_1`).
    pub fn next_client_id(&self) -> String {
        let n = self.inner.clients.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.config().instance {
            Some(instance) => format!("{instance}.c_{n}"),
            None => format!("c_{n}"),
        }
    }

    /// Records application message `id`; true if it is new and should be handled.
    pub fn first_time_message(&self, id: &str) -> bool {
        self.messages().first_time(id)
    }

    /// How many distinct application messages the server has handled, in every scope.
    pub fn handled_messages(&self) -> u64 {
        self.messages().handled()
    }

    /// Tells every open socket to close.
    pub fn begin_shutdown(&self) {
        self.inner.stopping.send_replace(true);
    }

    /// A receiver that turns `true` when the server stops; a socket holds it while it is open.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.inner.stopping.subscribe()
    }

    /// Completes when no socket holds a [`AppState::stopping`] receiver any more.
    pub async fn sockets_closed(&self) {
        self.inner.stopping.closed().await;
    }

    fn messages(&self) -> std::sync::MutexGuard<'_, MessageLog> {
        // The log's updates cannot panic half way, so a poisoned lock still guards a whole log.
        self.inner
            .messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
