//! The connection state machine: one socket at a time, kept alive through failures with
//! backoff, heartbeats, network awareness and token refresh; the job subscriptions on it; and
//! the typed events that come out of it.

mod channel_flow;
mod connection;
mod delivery;
mod http_messages;
mod outbox_flow;
mod polling;
mod session;
mod subscribing;

pub use polling::body_too_large;

use std::collections::VecDeque;
use std::time::Duration;

use super::app_channels::AppChannels;
use super::backoff::Backoff;
use super::config::Config;
use super::dialect::{Dialect, Heartbeat, Incoming};
use super::ids::IdGenerator;
use http_messages::HttpSender;

use super::outbox::Outbox;
use super::output::{
    ClientError, ConnectionState, Event, SocketId, StateChange, StateReason, Status, Timer,
    Transmit,
};
use super::protocol::{Channel, ClientFrame};
use super::rng::Rng;
use super::small_map::SmallMap;
use super::subscriptions::Subscriptions;
use super::time::Instant;

/// The close code the client uses for a link it declared dead (private-use range).
const DEAD_LINK: u16 = 4000;

/// Which step of a connection attempt is under way.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Waiting for the driver's answer to `FetchToken { request }`.
    Token { request: u64 },
    /// Waiting for the socket to open.
    Socket { socket: SocketId },
    /// The socket is open and the dialect's handshake under way (Socket.IO's open packet and
    /// namespace CONNECT).
    Handshake { socket: SocketId },
}

/// The connection's state, each variant carrying what only it needs.
#[derive(Debug)]
enum State {
    Idle,
    Connecting {
        step: Step,
        deadline: Instant,
    },
    Open {
        socket: SocketId,
        opened_at: Instant,
        /// When the client pings next; `None` when the dialect has the server ping, or
        /// nothing.
        next_ping_at: Option<Instant>,
        /// Set while a ping waits for any frame from the server; with server pings, always set:
        /// the end of the server's window after `last_frame_at` as it was when last armed.
        pong_deadline: Option<Instant>,
        /// When the last frame arrived. With server pings the deadline is moved from it only
        /// when it fires, not on every frame: the driver's timer is not re-armed per frame.
        last_frame_at: Instant,
    },
    Reconnecting {
        retry_at: Instant,
    },
    /// Polling with no socket to probe: the app allows only polling, or the browser has no
    /// WebSocket.
    PollingOnly,
    Offline,
    Closed,
}

/// The polling of one watched job.
#[derive(Debug)]
struct PollSlot {
    next_at: Instant,
    /// The request under way, if any.
    in_flight: Option<u64>,
    /// Failed polls in a row.
    failures: u32,
}

/// The client's state machine. It does no IO: a driver calls it in this order, repeatedly:
///
/// 1. an app command (`connect`, `reconnect`, `subscribe`, `unsubscribe`, `close`) or an input
///    (`handle_token`, `handle_socket_opened`, `handle_frame`, `handle_binary_frame`,
///    `handle_socket_closed`, `handle_online`, `handle_offline`, `handle_visible`,
///    `handle_timeout`), each with the current time;
/// 2. `poll_transmit` until `None`, carrying out each [`Transmit`];
/// 3. `poll_event` until `None`, handing each [`Event`] to the app;
/// 4. `poll_timeout`, arming one timer for that instant, which calls `handle_timeout`.
///
/// `handle_timeout` is safe to call early, late or twice: it acts only on deadlines that have
/// passed at the `now` it is given, so a throttled background tab acts at once on waking.
#[derive(Debug)]
pub struct Client {
    config: Config,
    /// How intents and frames look on the wire.
    dialect: Dialect,
    /// What the last frame said, reused from frame to frame.
    incoming: Vec<Incoming>,
    state: State,
    /// What the browser last said about the network.
    online: bool,
    backoff: Backoff,
    /// Message and request ids, unpredictable to anyone without `config.id_key`.
    ids: IdGenerator,
    /// Failed attempts in a row; reset once a connection stays up for `min_uptime`.
    failures: u32,
    /// When the open connection will have been up for `min_uptime`.
    stable_at: Option<Instant>,
    /// Token refusals (close 4001/4003) since a connection last stayed up `min_uptime`; the
    /// second one stops the client.
    auth_refusals: u32,
    /// The token to send as the first frame of the socket being opened
    /// (`config.token_in_first_frame`).
    auth_frame: Option<String>,
    /// The last token the app gave, hidden from the text of every error reported.
    last_token: Option<String>,
    next_socket: u64,
    next_token_request: u64,
    subscriptions: Subscriptions,
    /// The app's own channels and the event names it listens to.
    channels: AppChannels,
    outbox: Outbox,
    /// The outbox's messages over HTTP while polling.
    http: HttpSender,
    /// Job events come from the status endpoints while the socket is probed (or absent).
    polling: bool,
    /// False once the driver said the browser has no usable WebSocket.
    websocket_available: bool,
    /// Connections in a row that died before `min_uptime`.
    young_deaths: u32,
    polls: SmallMap<(Channel, String), PollSlot>,
    /// One-off polls filling the gap a reconnection left on a wire without replay: request,
    /// and the job.
    gap_polls: Vec<(u64, Channel, String)>,
    /// A session was ready before on this client: the next one is a reconnection.
    had_session: bool,
    next_poll_request: u64,
    /// Subscriptions not yet confirmed (`subscribed`) on the socket that may end polling.
    unconfirmed: Vec<(Channel, String)>,
    /// The outbox could not be stored: it lives in memory only, and that was reported.
    storage_degraded: bool,
    /// Since when nothing has been subscribed, while a connection is wanted.
    idle_since: Option<Instant>,
    last_reason: Option<StateReason>,
    connected_at: Option<Instant>,
    disconnected_at: Option<Instant>,
    last_error: Option<ClientError>,
    request_id: Option<String>,
    client_id: Option<String>,
    server_heartbeat_ms: Option<u64>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Client {
    /// A client that does nothing until `connect` or `subscribe` is called.
    pub fn new(config: Config) -> Self {
        let backoff = Backoff::new(
            config.reconnect_initial_delay,
            config.reconnect_max_delay,
            config.jitter,
            Rng::new(config.rng_seed),
        );
        let ids = IdGenerator::new(config.id_key);
        Client {
            dialect: Dialect::new(&config.protocol),
            incoming: Vec::new(),
            config,
            state: State::Idle,
            online: true,
            backoff,
            ids,
            failures: 0,
            stable_at: None,
            auth_refusals: 0,
            auth_frame: None,
            last_token: None,
            next_socket: 1,
            next_token_request: 1,
            subscriptions: Subscriptions::default(),
            channels: AppChannels::default(),
            outbox: Outbox::default(),
            http: HttpSender::default(),
            polling: false,
            websocket_available: true,
            young_deaths: 0,
            polls: SmallMap::default(),
            gap_polls: Vec::new(),
            had_session: false,
            next_poll_request: 1,
            unconfirmed: Vec::new(),
            storage_degraded: false,
            idle_since: None,
            last_reason: None,
            connected_at: None,
            disconnected_at: None,
            last_error: None,
            request_id: None,
            client_id: None,
            server_heartbeat_ms: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// [`Client::new`] whose socket, token and poll request ids start at `first_id`: a tab
    /// that holds the connection more than once (see [`crate::core::tabs`]) gives each client
    /// ids of its own, so an answer to an earlier client's request is never taken for one of
    /// the current client's.
    pub fn with_first_io_id(config: Config, first_id: u64) -> Self {
        let mut client = Client::new(config);
        client.next_socket = first_id;
        client.next_token_request = first_id;
        client.next_poll_request = first_id;
        client
    }

    /// The options this client runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A snapshot of the connection, for the app.
    pub fn state(&self) -> ConnectionState {
        ConnectionState {
            status: self.status(),
            reason: self.last_reason,
            attempt: self.failures,
            next_retry_at: match self.state {
                State::Reconnecting { retry_at } => Some(retry_at),
                _ => None,
            },
            connected_at: self.connected_at,
            disconnected_at: self.disconnected_at,
            last_error: self.last_error.clone(),
            request_id: self.request_id.clone(),
            client_id: self.client_id.clone(),
            server_heartbeat_ms: self.server_heartbeat_ms,
            outbox_size: self.outbox.len(),
            recovered: self.dialect.recovered() && matches!(self.state, State::Open { .. }),
            transport: match self.status() {
                Status::Open => Some("websocket"),
                Status::Polling => Some("polling"),
                _ => None,
            },
        }
    }

    /// The current status.
    pub fn status(&self) -> Status {
        match self.state {
            State::Idle => Status::Idle,
            State::Offline => Status::Offline,
            State::Closed => Status::Closed,
            State::PollingOnly => Status::Polling,
            _ if self.polling => Status::Polling,
            State::Connecting { .. } => Status::Connecting,
            State::Open { .. } => Status::Open,
            State::Reconnecting { .. } => Status::Reconnecting,
        }
    }

    /// Connects unless a connection is open, opening or scheduled. Also restarts a closed
    /// client.
    pub fn connect(&mut self, now: Instant) {
        if matches!(self.state, State::Idle | State::Closed) {
            self.auth_refusals = 0;
            if self.has_nothing_to_do() {
                self.idle_since = Some(now);
            }
            self.start_attempt(now, StateReason::ConnectRequested);
        }
    }

    /// Connects again now: an open socket is replaced, a pending retry happens at once.
    pub fn reconnect(&mut self, now: Instant) {
        match self.state {
            State::Connecting { .. } | State::Offline => {}
            State::Open { socket, .. } => {
                self.close_socket(socket, 1000, "reconnect requested");
                self.disconnected_at = Some(now);
                self.start_attempt(now, StateReason::ReconnectRequested);
            }
            State::Idle | State::Closed | State::Reconnecting { .. } | State::PollingOnly => {
                self.auth_refusals = 0;
                self.start_attempt(now, StateReason::ReconnectRequested);
            }
        }
    }

    /// Closes the connection and stops every timer: nothing is delivered after the `closed`
    /// status change. A progress event held back by coalescing goes out before it; a poll
    /// under way is forgotten, so its answer delivers nothing. `connect` starts again.
    pub fn close(&mut self, now: Instant) {
        if let Some(socket) = self.current_socket() {
            self.close_socket(socket, 1000, "closed by the app");
            self.disconnected_at = Some(now);
        }
        for held in self.subscriptions.take_all_held() {
            self.events.push_back(Event::Job(held));
        }
        self.gap_polls.clear();
        if !matches!(self.state, State::Closed) {
            let from = self.status();
            self.stop_polling();
            self.idle_since = None;
            self.stable_at = None;
            self.set_state_from(from, State::Closed, StateReason::ClosedByApp);
        }
    }

    /// Input: the answer to `FetchToken { request }`.
    pub fn handle_token(&mut self, now: Instant, request: u64, token: Result<String, String>) {
        if self.http_token(now, request, &token) {
            return;
        }
        let State::Connecting {
            step: Step::Token { request: pending },
            deadline,
        } = self.state
        else {
            return;
        };
        if pending != request {
            return;
        }
        match token {
            Ok(token) => {
                let socket = self.open_socket(Some(&token));
                self.state = State::Connecting {
                    step: Step::Socket { socket },
                    deadline,
                };
            }
            Err(message) => {
                self.report(ClientError::TokenFailed { message });
                self.attempt_failed(now, StateReason::TokenFailed);
            }
        }
    }

    /// Input: `socket` closed (or failed to open), with the close code and reason.
    pub fn handle_socket_closed(
        &mut self,
        now: Instant,
        socket: SocketId,
        code: u16,
        reason: &str,
    ) {
        if self.current_socket() != Some(socket) {
            return;
        }
        self.report(ClientError::SocketClosed {
            code,
            reason: reason.to_owned(),
        });
        if self.is_refusal(code) {
            self.disconnected_at = Some(now);
            self.refused(now, code);
            return;
        }
        match self.state {
            State::Open { opened_at, .. } => {
                self.connection_lost(now, opened_at, StateReason::SocketClosed)
            }
            _ => self.attempt_failed(now, StateReason::SocketClosed),
        }
    }

    /// Input: the browser reports the network gone. No attempt is made until it is back.
    pub fn handle_offline(&mut self, now: Instant) {
        self.online = false;
        match self.state {
            State::Idle | State::Closed | State::Offline => {}
            State::Open { socket, .. } => {
                self.close_socket(socket, 1000, "offline");
                self.disconnected_at = Some(now);
                self.set_state(State::Offline, StateReason::Offline);
            }
            State::Connecting { .. } | State::Reconnecting { .. } | State::PollingOnly => {
                if let Some(socket) = self.current_socket() {
                    self.close_socket(socket, 1000, "offline");
                }
                self.set_state(State::Offline, StateReason::Offline);
            }
        }
    }

    /// Input: the browser reports the network back: reconnect at once.
    pub fn handle_online(&mut self, now: Instant) {
        self.online = true;
        if matches!(self.state, State::Offline) {
            self.start_attempt(now, StateReason::Online);
        }
    }

    /// Input: the page became visible. Its timers may have been throttled: check the link now
    /// (ping an open socket, retry at once while waiting to reconnect).
    pub fn handle_visible(&mut self, now: Instant) {
        self.handle_timeout(now);
        match self.state {
            State::Open {
                socket,
                next_ping_at: Some(_),
                pong_deadline: None,
                ..
            } => self.ping(now, socket),
            State::Reconnecting { .. } => self.start_attempt(now, StateReason::Visible),
            _ => {}
        }
    }

    /// Input: the timer armed from [`Client::poll_timeout`] fired (or the driver woke up for
    /// another reason). Acts on every deadline that has passed at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(interval) = self.coalescing_interval() {
            for held in self.subscriptions.take_due(now, interval) {
                self.events.push_back(Event::Job(held));
            }
        }
        if self.stable_at.is_some_and(|at| at <= now) && matches!(self.state, State::Open { .. }) {
            self.stable_at = None;
            self.failures = 0;
            self.young_deaths = 0;
            self.auth_refusals = 0;
        }
        self.issue_due_polls(now);
        if self
            .outbox
            .next_expiry(self.config.outbox_ttl)
            .is_some_and(|at| at <= now)
        {
            self.expire_outbox(now);
            self.note_if_idle(now);
        }
        if self.idle_deadline().is_some_and(|at| at <= now) {
            self.go_idle(now);
            return;
        }
        match self.state {
            State::Connecting { deadline, .. } if deadline <= now => {
                if let Some(socket) = self.current_socket() {
                    self.close_socket(socket, 1000, "connect timeout");
                }
                self.report(ClientError::ConnectTimeout);
                self.attempt_failed(now, StateReason::ConnectTimeout);
            }
            State::Reconnecting { retry_at } if retry_at <= now => {
                self.start_attempt(now, StateReason::RetryDue);
            }
            State::Open {
                last_frame_at,
                pong_deadline: Some(deadline),
                ..
            } if deadline <= now
                && let Heartbeat::ServerPings { window } = self.dialect.heartbeat()
                && last_frame_at + window > now =>
            {
                // Frames came since the deadline was set: the server's window runs from the
                // last one.
                if let State::Open { pong_deadline, .. } = &mut self.state {
                    *pong_deadline = Some(last_frame_at + window);
                }
            }
            State::Open {
                socket,
                opened_at,
                pong_deadline: Some(deadline),
                ..
            } if deadline <= now => {
                self.close_socket(socket, DEAD_LINK, "heartbeat timeout");
                self.report(ClientError::HeartbeatTimeout);
                self.connection_lost(now, opened_at, StateReason::HeartbeatTimeout);
            }
            State::Open {
                socket,
                next_ping_at: Some(next_ping_at),
                pong_deadline: None,
                ..
            } if next_ping_at <= now => self.ping(now, socket),
            _ => {}
        }
    }

    /// Output: the next thing the driver must do.
    #[must_use = "a transmit not carried out leaves the core and the browser out of step"]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Output: the next event for the app.
    #[must_use = "an event not delivered is lost"]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Output: when to call `handle_timeout` next, and which timer that is.
    #[must_use = "the core only advances its timers when woken at these instants"]
    pub fn poll_timeout(&self) -> Option<(Instant, Timer)> {
        let state_timer = match self.state {
            State::Connecting { deadline, .. } => Some((deadline, Timer::ConnectTimeout)),
            State::Reconnecting { retry_at } => Some((retry_at, Timer::Reconnect)),
            State::Open {
                pong_deadline: Some(deadline),
                ..
            } => Some((deadline, Timer::PongDeadline)),
            State::Open {
                next_ping_at: Some(next_ping_at),
                ..
            } => Some((next_ping_at, Timer::Ping)),
            State::Open { .. } => None,
            State::Idle | State::Offline | State::Closed | State::PollingOnly => None,
        };
        let stable = match self.state {
            State::Open { .. } => self.stable_at.map(|at| (at, Timer::Stable)),
            _ => None,
        };
        let idle = self.idle_deadline().map(|at| (at, Timer::Idle));
        let expiry = self
            .outbox
            .next_expiry(self.config.outbox_ttl)
            .map(|at| (at, Timer::OutboxExpiry));
        let release = self
            .coalescing_interval()
            .and_then(|interval| self.subscriptions.next_release(interval))
            .map(|at| (at, Timer::ProgressRelease));
        let message_retry = self.http_retry_at().map(|at| (at, Timer::MessageRetry));
        let poll = self
            .polls_active()
            .then(|| {
                self.polls
                    .iter()
                    .filter(|(_, slot)| slot.in_flight.is_none())
                    .map(|(_, slot)| slot.next_at)
                    .min()
            })
            .flatten()
            .map(|at| (at, Timer::Poll));
        [
            state_timer,
            stable,
            idle,
            expiry,
            release,
            poll,
            message_retry,
        ]
        .into_iter()
        .flatten()
        .min_by_key(|(at, _)| *at)
    }

    /// Emits a status change that did not come from a change of `State` (polling starting
    /// or stopping under the same socket state).
    fn announce(&mut self, from: Status, reason: StateReason) {
        let to = self.status();
        self.last_reason = Some(reason);
        if from != to {
            self.events
                .push_back(Event::StateChanged(StateChange { from, to, reason }));
        }
    }

    /// When the idle timeout runs out, if nothing is subscribed and a connection is wanted.
    fn idle_deadline(&self) -> Option<Instant> {
        let timeout: Duration = self.config.idle_timeout?;
        match self.state {
            State::Idle | State::Closed => None,
            _ => self.idle_since.map(|since| since + timeout),
        }
    }

    /// Nothing subscribed, listened to or waiting to be sent.
    fn has_nothing_to_do(&self) -> bool {
        self.subscriptions.is_empty() && self.channels.is_empty() && self.outbox.is_empty()
    }

    fn note_if_idle(&mut self, now: Instant) {
        if self.has_nothing_to_do() && self.idle_since.is_none() {
            self.idle_since = Some(now);
        }
    }

    /// Sends an intent in the dialect's words; some dialects have none for it.
    fn send_frame(&mut self, socket: SocketId, frame: &ClientFrame) {
        if self.current_socket() == Some(socket)
            && let Some(text) = self.dialect.encode(frame)
        {
            self.transmits.push_back(Transmit::Send { socket, text });
        }
    }

    fn close_socket(&mut self, socket: SocketId, code: u16, reason: &str) {
        self.transmits.push_back(Transmit::CloseSocket {
            socket,
            code,
            reason: reason.to_owned(),
        });
    }

    fn current_socket(&self) -> Option<SocketId> {
        match self.state {
            State::Connecting {
                step: Step::Socket { socket } | Step::Handshake { socket },
                ..
            }
            | State::Open { socket, .. } => Some(socket),
            _ => None,
        }
    }

    fn report(&mut self, error: ClientError) {
        let error = error.with_secrets_hidden(self.last_token.as_deref());
        self.last_error = Some(error.clone());
        self.events.push_back(Event::Error(error));
    }

    fn set_state(&mut self, state: State, reason: StateReason) {
        let from = self.status();
        self.set_state_from(from, state, reason);
    }

    /// Sets the state and announces the change from `from`, the status before the caller
    /// began changing things (entering polling changes the status before the state does).
    fn set_state_from(&mut self, from: Status, state: State, reason: StateReason) {
        self.state = state;
        self.announce(from, reason);
    }
}
