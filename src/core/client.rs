//! The connection state machine: one socket at a time, the job subscriptions on it, and the
//! typed events that come out of it.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;

use super::config::Config;
use super::events::JobEvent;
use super::protocol::{Channel, ClientFrame, DecodeError, Decoded, ServerFrame};
use super::small_map::SmallMap;
use super::time::Instant;

/// Identifies one WebSocket the driver opened for the core. Inputs about a socket that is no
/// longer the current one are stale and change nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId(pub u64);

/// The coarse connection status JS sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Nothing to do: no socket, none wanted yet.
    Idle,
    /// A socket is opening.
    Connecting,
    /// A socket is open.
    Open,
    /// Stopped, by the app or for good; see the [`StateReason`].
    Closed,
}

impl Status {
    /// The name used in the JS API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Connecting => "connecting",
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }
}

/// Why the status changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateReason {
    /// The app called `connect`, or subscribed while idle.
    ConnectRequested,
    /// The socket opened.
    SocketOpened,
    /// The socket did not open within the connect timeout.
    ConnectTimeout,
    /// The socket closed (or failed to open) without the app asking.
    SocketClosed,
    /// The app called `close`.
    ClosedByApp,
}

impl StateReason {
    /// A stable code for logs and the JS API.
    pub fn as_str(self) -> &'static str {
        match self {
            StateReason::ConnectRequested => "connect_requested",
            StateReason::SocketOpened => "socket_opened",
            StateReason::ConnectTimeout => "connect_timeout",
            StateReason::SocketClosed => "socket_closed",
            StateReason::ClosedByApp => "closed_by_app",
        }
    }
}

/// A change of [`Status`], with its cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChange {
    pub from: Status,
    pub to: Status,
    pub reason: StateReason,
}

/// What the app can read about the connection at any time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionState {
    pub status: Status,
    /// The reason of the last status change.
    pub reason: Option<StateReason>,
    /// The id the server gave this client in its `connected` frame.
    pub client_id: Option<String>,
    /// How often the server wants a ping, from its `connected` frame.
    pub server_heartbeat_ms: Option<u64>,
}

/// Something the core wants the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Open a WebSocket to `url`; report back with this `socket` id.
    OpenSocket { socket: SocketId, url: String },
    /// Send this text frame on the socket.
    Send { socket: SocketId, text: String },
    /// Close the socket with this code and reason, and forget it.
    CloseSocket {
        socket: SocketId,
        code: u16,
        reason: String,
    },
}

/// Something went wrong that the app should hear about. None of these stops the client.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientError {
    /// A frame from the server could not be decoded; it was dropped.
    Decode(DecodeError),
    /// A frame longer than `max_frame_bytes` was dropped undecoded.
    FrameTooLarge { bytes: usize, limit: usize },
    /// The server sent a binary frame; the protocol is text only.
    BinaryFrame { bytes: usize },
    /// The server reported an error about something the client sent.
    Server { code: String, message: String },
    /// The socket did not open in time.
    ConnectTimeout,
    /// The socket closed without the app asking.
    SocketClosed { code: u16, reason: String },
}

impl ClientError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &str {
        match self {
            ClientError::Decode(error) => error.code(),
            ClientError::FrameTooLarge { .. } => "frame_too_large",
            ClientError::BinaryFrame { .. } => "binary_frame",
            ClientError::Server { code, .. } => code,
            ClientError::ConnectTimeout => "connect_timeout",
            ClientError::SocketClosed { .. } => "socket_closed",
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Decode(error) => write!(f, "{error}"),
            ClientError::FrameTooLarge { bytes, limit } => {
                write!(
                    f,
                    "dropped a {bytes}-byte frame: the limit is {limit} bytes"
                )
            }
            ClientError::BinaryFrame { bytes } => {
                write!(
                    f,
                    "dropped a {bytes}-byte binary frame: the protocol is JSON text"
                )
            }
            ClientError::Server { code, message } => write!(f, "server error {code}: {message}"),
            ClientError::ConnectTimeout => write!(f, "the WebSocket did not open in time"),
            ClientError::SocketClosed { code, reason } if reason.is_empty() => {
                write!(f, "the WebSocket closed (code {code})")
            }
            ClientError::SocketClosed { code, reason } => {
                write!(f, "the WebSocket closed (code {code}: {reason})")
            }
        }
    }
}

/// One job event delivered to the app, in `seq` order, once.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDelivery {
    pub job_id: String,
    pub seq: u64,
    pub event: JobEvent,
    /// Where the event's `data` lies, in bytes, in the text frame just handled, so a driver can
    /// give the app the server's own JSON instead of re-encoding `event`. `None` for events
    /// that did not come from a frame.
    pub payload: Option<Range<usize>>,
}

/// What the core tells the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    StateChanged(StateChange),
    Job(JobDelivery),
    Error(ClientError),
}

/// The timers the core may ask to be woken for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// The socket being opened must open by then.
    ConnectTimeout,
}

/// The connection's state, each variant carrying what only it needs.
#[derive(Debug)]
enum State {
    Idle,
    Connecting { socket: SocketId, deadline: Instant },
    Open { socket: SocketId },
    Closed,
}

/// One (channel, job id) the app watches, shared by every app-level subscriber of that job.
#[derive(Debug)]
struct Subscription {
    /// How many app-level subscriptions share this one server subscription.
    refs: u32,
    /// The `seq` of the last event delivered, so a resubscription asks only for what follows
    /// and a duplicate is recognised.
    last_seq: Option<u64>,
}

type SubscriptionKey = (Channel, String);

/// The client's state machine. It does no IO: it is driven by a driver that calls it in this
/// order, repeatedly:
///
/// 1. an app command (`connect`, `subscribe`, `unsubscribe`, `close`) or an input
///    (`handle_socket_opened`, `handle_frame`, `handle_binary_frame`, `handle_socket_closed`,
///    `handle_timeout`), each with the current time;
/// 2. `poll_transmit` until `None`, carrying out each [`Transmit`];
/// 3. `poll_event` until `None`, handing each [`Event`] to the app;
/// 4. `poll_timeout`, arming one timer for that instant, which calls `handle_timeout`.
///
/// `handle_timeout` is safe to call early, late or twice: it acts only on deadlines that have
/// passed at the `now` it is given, so a throttled background tab still acts at once on waking.
#[derive(Debug)]
pub struct Client {
    config: Config,
    state: State,
    last_reason: Option<StateReason>,
    client_id: Option<String>,
    server_heartbeat_ms: Option<u64>,
    next_socket: u64,
    subscriptions: SmallMap<SubscriptionKey, Subscription>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Client {
    /// A client that does nothing until `connect` or `subscribe` is called.
    pub fn new(config: Config) -> Self {
        Client {
            config,
            state: State::Idle,
            last_reason: None,
            client_id: None,
            server_heartbeat_ms: None,
            next_socket: 1,
            subscriptions: SmallMap::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
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
            client_id: self.client_id.clone(),
            server_heartbeat_ms: self.server_heartbeat_ms,
        }
    }

    /// The current coarse status.
    pub fn status(&self) -> Status {
        match self.state {
            State::Idle => Status::Idle,
            State::Connecting { .. } => Status::Connecting,
            State::Open { .. } => Status::Open,
            State::Closed => Status::Closed,
        }
    }

    /// Opens a socket unless one is already open or opening. Also restarts a closed client.
    pub fn connect(&mut self, now: Instant) {
        if matches!(self.state, State::Idle | State::Closed) {
            self.open_socket(now, StateReason::ConnectRequested);
        }
    }

    /// Starts watching a job. Subscriptions are reference-counted: the server hears of a job
    /// once however many times the app subscribes to it. An idle client connects.
    pub fn subscribe(&mut self, now: Instant, channel: Channel, job_id: &str) {
        let key = (channel, job_id.to_owned());
        if let Some(subscription) = self.subscriptions.get_mut(&key) {
            subscription.refs += 1;
            return;
        }
        self.subscriptions.insert(
            key,
            Subscription {
                refs: 1,
                last_seq: None,
            },
        );
        match self.state {
            State::Open { socket } => self.send_frame(
                socket,
                &ClientFrame::Subscribe {
                    channel,
                    id: job_id.to_owned(),
                    since: None,
                },
            ),
            State::Idle => self.open_socket(now, StateReason::ConnectRequested),
            State::Connecting { .. } | State::Closed => {}
        }
    }

    /// Drops one reference to a job's subscription; the last one tells the server.
    pub fn unsubscribe(&mut self, _now: Instant, channel: Channel, job_id: &str) {
        let key = (channel, job_id.to_owned());
        let Some(subscription) = self.subscriptions.get_mut(&key) else {
            return;
        };
        subscription.refs -= 1;
        if subscription.refs > 0 {
            return;
        }
        self.subscriptions.remove(&key);
        if let State::Open { socket } = self.state {
            self.send_frame(socket, &ClientFrame::Unsubscribe { channel, id: key.1 });
        }
    }

    /// Closes the socket, if any, and stops. `connect` starts again.
    pub fn close(&mut self, _now: Instant) {
        if let Some(socket) = self.current_socket() {
            self.transmits.push_back(Transmit::CloseSocket {
                socket,
                code: 1000,
                reason: "closed by the app".to_owned(),
            });
        }
        if !matches!(self.state, State::Closed) {
            self.set_state(State::Closed, StateReason::ClosedByApp);
        }
    }

    /// Input: the socket opened.
    pub fn handle_socket_opened(&mut self, _now: Instant, socket: SocketId) {
        if !matches!(self.state, State::Connecting { socket: current, .. } if current == socket) {
            return;
        }
        self.set_state(State::Open { socket }, StateReason::SocketOpened);
        let frames: Vec<ClientFrame> = self
            .subscriptions
            .iter()
            .map(|((channel, id), subscription)| ClientFrame::Subscribe {
                channel: *channel,
                id: id.clone(),
                since: subscription.last_seq,
            })
            .collect();
        for frame in &frames {
            self.send_frame(socket, frame);
        }
    }

    /// Input: a text frame arrived on `socket`.
    pub fn handle_frame(&mut self, _now: Instant, socket: SocketId, text: &str) {
        if !self.is_current(socket) {
            return;
        }
        if text.len() > self.config.max_frame_bytes {
            self.report(ClientError::FrameTooLarge {
                bytes: text.len(),
                limit: self.config.max_frame_bytes,
            });
            return;
        }
        for decoded in ServerFrame::decode_spanned(text) {
            match decoded {
                Ok(Decoded { frame, payload }) => self.handle_server_frame(frame, payload),
                Err(error) => self.report(ClientError::Decode(error)),
            }
        }
    }

    /// Input: a binary frame of `bytes` bytes arrived on `socket`. The protocol has none.
    pub fn handle_binary_frame(&mut self, _now: Instant, socket: SocketId, bytes: usize) {
        if self.is_current(socket) {
            self.report(ClientError::BinaryFrame { bytes });
        }
    }

    /// Input: `socket` closed (or failed to open), with the close code and reason.
    pub fn handle_socket_closed(
        &mut self,
        _now: Instant,
        socket: SocketId,
        code: u16,
        reason: &str,
    ) {
        if !self.is_current(socket) {
            return;
        }
        self.report(ClientError::SocketClosed {
            code,
            reason: reason.to_owned(),
        });
        self.set_state(State::Closed, StateReason::SocketClosed);
    }

    /// Input: the timer armed from [`Client::poll_timeout`] fired (or the driver woke up for
    /// another reason). Acts on every deadline that has passed at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let State::Connecting { socket, deadline } = self.state
            && now >= deadline
        {
            self.transmits.push_back(Transmit::CloseSocket {
                socket,
                code: 1000,
                reason: "connect timeout".to_owned(),
            });
            self.report(ClientError::ConnectTimeout);
            self.set_state(State::Closed, StateReason::ConnectTimeout);
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
        match self.state {
            State::Connecting { deadline, .. } => Some((deadline, Timer::ConnectTimeout)),
            State::Idle | State::Open { .. } | State::Closed => None,
        }
    }

    fn handle_server_frame(&mut self, frame: ServerFrame, payload: Option<Range<usize>>) {
        match frame {
            ServerFrame::Connected {
                client_id,
                heartbeat_ms,
            } => {
                self.client_id = Some(client_id);
                self.server_heartbeat_ms = Some(heartbeat_ms);
            }
            ServerFrame::Event { id, seq, event } => self.deliver(id, seq, event, payload),
            ServerFrame::Error { code, message } => {
                self.report(ClientError::Server { code, message });
            }
            ServerFrame::Subscribed { .. } | ServerFrame::Pong { .. } | ServerFrame::Ack { .. } => {
            }
        }
    }

    /// Hands a job event to the app unless nobody watches the job any more or it was already
    /// delivered.
    fn deliver(
        &mut self,
        job_id: String,
        seq: u64,
        event: JobEvent,
        payload: Option<Range<usize>>,
    ) {
        let key = (event.channel(), job_id);
        let Some(subscription) = self.subscriptions.get_mut(&key) else {
            // A late event for a job the app just unsubscribed from: nothing to do.
            return;
        };
        if subscription.last_seq.is_some_and(|last| seq <= last) {
            return;
        }
        subscription.last_seq = Some(seq);
        self.events.push_back(Event::Job(JobDelivery {
            job_id: key.1,
            seq,
            event,
            payload,
        }));
    }

    fn open_socket(&mut self, now: Instant, reason: StateReason) {
        let socket = SocketId(self.next_socket);
        self.next_socket += 1;
        self.transmits.push_back(Transmit::OpenSocket {
            socket,
            url: self.config.url.clone(),
        });
        let deadline = now + self.config.connect_timeout;
        self.set_state(State::Connecting { socket, deadline }, reason);
    }

    fn send_frame(&mut self, socket: SocketId, frame: &ClientFrame) {
        self.transmits.push_back(Transmit::Send {
            socket,
            text: frame.encode(),
        });
    }

    fn current_socket(&self) -> Option<SocketId> {
        match self.state {
            State::Connecting { socket, .. } | State::Open { socket } => Some(socket),
            State::Idle | State::Closed => None,
        }
    }

    fn is_current(&self, socket: SocketId) -> bool {
        self.current_socket() == Some(socket)
    }

    fn report(&mut self, error: ClientError) {
        self.events.push_back(Event::Error(error));
    }

    fn set_state(&mut self, state: State, reason: StateReason) {
        let from = self.status();
        self.state = state;
        self.last_reason = Some(reason);
        let to = self.status();
        if from != to {
            self.events
                .push_back(Event::StateChanged(StateChange { from, to, reason }));
        }
    }
}
