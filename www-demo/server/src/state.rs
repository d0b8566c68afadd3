//! What every handler shares: the configuration, the jobs, the message log, the shutdown signal,
//! and the admin API's switches and counters.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use tokio::sync::watch;

use crate::Config;
use crate::jobs::JobStore;
use crate::messages::MessageLog;

/// The server's shared state; cloning it is cheap and every clone is the same server.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: Config,
    jobs: JobStore,
    messages: Mutex<MessageLog>,
    clients: AtomicU64,
    /// `true` once the server is stopping. Each open socket holds a receiver, so the sender
    /// also knows when the last socket is gone ([`AppState::sockets_closed`]).
    stopping: watch::Sender<bool>,
    /// Bumped by [`AppState::drop_sockets`]; each open socket watches it.
    drops: watch::Sender<u64>,
    mute_pongs: AtomicBool,
    refuse_ws: AtomicBool,
    fail_polls: AtomicBool,
    ws_total: AtomicU64,
    ws_open: AtomicU64,
    acked: AtomicU64,
    polls: AtomicU64,
}

/// A fault the admin API turns on and off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// `ping` frames go unanswered.
    MutePongs,
    /// WebSocket upgrades answer 503.
    RefuseWs,
    /// The snapshot endpoints answer 503.
    FailPolls,
}

/// What `GET /admin/stats` answers: counts since the server started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// WebSocket upgrades accepted, including sockets then closed for a bad token.
    pub ws_connections_total: u64,
    /// Those still open.
    pub ws_open: u64,
    /// Distinct message ids handled.
    pub handled_messages: u64,
    /// `ack` frames sent, duplicates included.
    pub acked_messages: u64,
    /// Requests for a snapshot (`GET /api/v1/{generations,compositions}/{id}`), failed included.
    pub poll_requests: u64,
}

/// An open socket, counted in [`Stats::ws_open`] until dropped.
#[derive(Debug)]
pub struct OpenSocket {
    state: AppState,
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.state.inner.ws_open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AppState {
    pub fn new(config: Config) -> AppState {
        AppState {
            inner: Arc::new(Shared {
                jobs: JobStore::new(config.max_log_events),
                config,
                messages: Mutex::new(MessageLog::default()),
                clients: AtomicU64::new(0),
                stopping: watch::Sender::new(false),
                drops: watch::Sender::new(0),
                mute_pongs: AtomicBool::new(false),
                refuse_ws: AtomicBool::new(false),
                fail_polls: AtomicBool::new(false),
                ws_total: AtomicU64::new(0),
                ws_open: AtomicU64::new(0),
                acked: AtomicU64::new(0),
                polls: AtomicU64::new(0),
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn jobs(&self) -> &JobStore {
        &self.inner.jobs
    }

    /// A fresh client id for a new socket: `c_1`, `c_2`, …
    pub fn next_client_id(&self) -> String {
        let n = self.inner.clients.fetch_add(1, Ordering::Relaxed) + 1;
        format!("c_{n}")
    }

    /// Records application message `id`; true if it is new and should be handled.
    pub fn first_time_message(&self, id: &str) -> bool {
        self.messages().first_time(id)
    }

    /// How many distinct application messages the server has handled.
    pub fn handled_messages(&self) -> u64 {
        self.messages().handled()
    }

    /// Counts an `ack` sent.
    pub fn acked(&self) {
        self.inner.acked.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request for a snapshot.
    pub fn polled(&self) {
        self.inner.polls.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a new socket as open until the returned guard drops.
    pub fn socket_opened(&self) -> OpenSocket {
        self.inner.ws_total.fetch_add(1, Ordering::Relaxed);
        self.inner.ws_open.fetch_add(1, Ordering::Relaxed);
        OpenSocket {
            state: self.clone(),
        }
    }

    /// The counters of `GET /admin/stats`.
    pub fn stats(&self) -> Stats {
        let inner = &self.inner;
        Stats {
            ws_connections_total: inner.ws_total.load(Ordering::Relaxed),
            ws_open: inner.ws_open.load(Ordering::Relaxed),
            handled_messages: self.handled_messages(),
            acked_messages: inner.acked.load(Ordering::Relaxed),
            poll_requests: inner.polls.load(Ordering::Relaxed),
        }
    }

    /// True while `switch` is on.
    pub fn switch(&self, switch: Switch) -> bool {
        self.flag(switch).load(Ordering::Relaxed)
    }

    pub fn set_switch(&self, switch: Switch, on: bool) {
        self.flag(switch).store(on, Ordering::Relaxed);
    }

    fn flag(&self, switch: Switch) -> &AtomicBool {
        match switch {
            Switch::MutePongs => &self.inner.mute_pongs,
            Switch::RefuseWs => &self.inner.refuse_ws,
            Switch::FailPolls => &self.inner.fail_polls,
        }
    }

    /// Tells every open socket to drop its connection at once, without a close frame.
    pub fn drop_sockets(&self) {
        self.inner.drops.send_modify(|drops| *drops += 1);
    }

    /// A receiver that changes on every [`AppState::drop_sockets`] from now on.
    pub fn drops(&self) -> watch::Receiver<u64> {
        self.inner.drops.subscribe()
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
