//! The scenario harness: a [`Client`] driven by fake time and a fake server, with exact
//! expectations on what the client transmits and which events it emits.
//!
//! The harness plays the driver's part of the contract documented on [`Client`]: after every
//! step it drains transmits into the fake server and events into a list the test reads.
//! Advancing time walks from deadline to deadline, so hours of simulated time cost
//! microseconds.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

use std::time::Duration;

use jobsocket::core::{
    Channel, Client, ClientFrame, Config, DialectConfig, Event, Instant, JobDelivery, ServerFrame,
    SocketId, Transmit,
};

/// What the fake server saw of the client.
#[derive(Debug, Default)]
pub struct FakeServer {
    /// Sockets the client asked to open and the server has not answered yet.
    pub pending_opens: Vec<(SocketId, String)>,
    /// Token requests the driver has not answered yet.
    pub token_requests: Vec<u64>,
    /// Status-endpoint requests not answered yet: (request, URL).
    pub polls: Vec<(u64, String)>,
    /// Every status-endpoint URL requested, answered or not.
    pub polled_urls: Vec<String>,
    /// Status-endpoint requests answered.
    pub polls_answered: usize,
    /// The token each status-endpoint request carried, in order.
    pub poll_tokens: Vec<Option<String>>,
    /// Message `POST`s not answered yet: (request, URL, body, token).
    pub posts: Vec<(u64, String, String, Option<String>)>,
    /// The body of every message `POST`, answered or not.
    pub posted: Vec<String>,
    /// Frames the client sent, decoded, with the socket they came on.
    pub received: Vec<(SocketId, ClientFrame)>,
    /// For a client configured with another dialect than v1: the text it sent, as it is (no
    /// automatic pongs or confirmations).
    pub sent_text: Vec<(SocketId, String)>,
    /// Sockets the client closed, with code and reason.
    pub closed: Vec<(SocketId, u16, String)>,
    /// A healthy server answers every ping with a pong; tests of dead links turn this on.
    pub mute_pongs: bool,
    /// The server answers every `subscribe` with `subscribed` at once, as the reference
    /// server does; tests of what happens before the answer turn this on and send it
    /// themselves.
    pub hold_confirmations: bool,
}

/// The driver's storage, as the client last asked it to be.
#[derive(Debug, Default)]
pub struct FakeStorage {
    /// The outbox's persisted text.
    pub outbox: Option<String>,
    pub writes: usize,
    /// Every write fails (quota exceeded, storage blocked).
    pub failing: bool,
}

/// A client under test with its clock and fake server.
pub struct Scenario {
    pub client: Client,
    pub now: Instant,
    pub server: FakeServer,
    pub storage: FakeStorage,
    events: Vec<Event>,
    /// The client speaks protocol v1, so what it sends is decoded and answered.
    speaks_v1: bool,
}

pub const URL: &str = "ws://jobs.test/ws";

impl Scenario {
    /// A client with the default options, pointed at [`URL`], except that every progress
    /// event is delivered: most scenarios count events; the coalescing ones turn it on.
    pub fn new() -> Self {
        Self::with_config(config())
    }

    pub fn with_config(config: Config) -> Self {
        Scenario {
            speaks_v1: config.protocol == DialectConfig::V1,
            client: Client::new(config),
            now: Instant::from_millis(1_000),
            server: FakeServer::default(),
            storage: FakeStorage::default(),
            events: Vec::new(),
        }
    }

    /// Runs one command or input against the client at the current time, then drains it.
    pub fn act(&mut self, step: impl FnOnce(&mut Client, Instant)) {
        step(&mut self.client, self.now);
        self.drain();
    }

    pub fn connect(&mut self) {
        self.act(|client, now| client.connect(now));
    }

    pub fn subscribe(&mut self, channel: Channel, id: &str) {
        self.act(|client, now| client.subscribe(now, channel, id));
    }

    pub fn unsubscribe(&mut self, channel: Channel, id: &str) {
        self.act(|client, now| client.unsubscribe(now, channel, id));
    }

    /// The fake server accepts the oldest pending socket; returns its id.
    pub fn accept(&mut self) -> SocketId {
        assert!(
            !self.server.pending_opens.is_empty(),
            "the client did not ask to open a socket"
        );
        let (socket, _) = self.server.pending_opens.remove(0);
        self.act(|client, now| client.handle_socket_opened(now, socket));
        socket
    }

    /// The oldest pending socket fails to open (the server refused or is down).
    pub fn refuse(&mut self) -> SocketId {
        assert!(
            !self.server.pending_opens.is_empty(),
            "the client did not ask to open a socket"
        );
        let (socket, _) = self.server.pending_opens.remove(0);
        self.socket_closes(socket, 1006, "");
        socket
    }

    /// The oldest pending socket fails to open with the browser's `message`.
    pub fn refuse_with(&mut self, message: &str) -> SocketId {
        assert!(
            !self.server.pending_opens.is_empty(),
            "the client did not ask to open a socket"
        );
        let (socket, _) = self.server.pending_opens.remove(0);
        self.socket_closes(socket, 1006, message);
        socket
    }

    /// The URL of the oldest pending socket.
    pub fn pending_url(&self) -> &str {
        &self.server.pending_opens[0].1
    }

    /// Answers the oldest token request.
    pub fn give_token(&mut self, token: Result<&str, &str>) {
        let request = self.server.token_requests.remove(0);
        let token = token.map(str::to_owned).map_err(str::to_owned);
        self.act(|client, now| client.handle_token(now, request, token));
    }

    /// Answers the oldest pending poll with a body (a 2xx) or a failure.
    pub fn answer_poll(&mut self, body: Result<&str, &str>) -> String {
        assert!(!self.server.polls.is_empty(), "no poll pending");
        let (request, url) = self.server.polls.remove(0);
        self.server.polls_answered += 1;
        let body = body.map(str::to_owned).map_err(str::to_owned);
        self.act(|client, now| client.handle_poll_response(now, request, body));
        url
    }

    /// Answers the oldest pending message `POST` with an HTTP status or a network error;
    /// returns its body.
    pub fn answer_post(&mut self, outcome: Result<u16, &str>) -> String {
        assert!(!self.server.posts.is_empty(), "no message POST pending");
        let (request, _, body, _) = self.server.posts.remove(0);
        let outcome = outcome.map_err(str::to_owned);
        self.act(|client, now| client.handle_message_response(now, request, outcome));
        body
    }

    /// Answers every pending poll with `body`.
    pub fn answer_all_polls(&mut self, body: &str) {
        while !self.server.polls.is_empty() {
            self.answer_poll(Ok(body));
        }
    }

    /// Moves time deadline by deadline until a poll is pending, refusing any socket probe met
    /// on the way; returns the time that took.
    pub fn advance_until_poll(&mut self) -> Duration {
        let start = self.now;
        for _ in 0..1000 {
            if !self.server.polls.is_empty() {
                return self.now.saturating_since(start);
            }
            while !self.server.pending_opens.is_empty() {
                self.refuse();
            }
            let wait = self.next_wake_in().expect("a deadline");
            self.advance(wait);
        }
        panic!("no poll came");
    }

    /// Moves time deadline by deadline until a socket probe is pending (polls met on the way
    /// stay unanswered); returns the time that took.
    pub fn advance_until_probe(&mut self) -> Duration {
        let start = self.now;
        for _ in 0..1000 {
            if !self.server.pending_opens.is_empty() {
                return self.now.saturating_since(start);
            }
            let wait = self.next_wake_in().expect("a deadline");
            self.advance(wait);
        }
        panic!("no probe came");
    }

    /// Time until the next deadline the client asked for, if any.
    pub fn next_wake_in(&self) -> Option<Duration> {
        self.client
            .poll_timeout()
            .map(|(at, _)| at.saturating_since(self.now))
    }

    /// Connects and opens a socket, then forgets what that produced.
    pub fn open(&mut self) -> SocketId {
        self.connect();
        let socket = self.accept();
        self.server_sends(socket, &connected());
        self.take_events();
        self.take_received();
        socket
    }

    /// The server sends this frame on `socket`.
    pub fn server_sends(&mut self, socket: SocketId, frame: &ServerFrame) {
        let text = frame.encode();
        self.server_sends_text(socket, &text);
    }

    /// The server sends this raw text on `socket`.
    pub fn server_sends_text(&mut self, socket: SocketId, text: &str) {
        self.act(|client, now| client.handle_frame(now, socket, text));
    }

    /// The socket closes from the server's side (or the network's).
    pub fn socket_closes(&mut self, socket: SocketId, code: u16, reason: &str) {
        self.act(|client, now| client.handle_socket_closed(now, socket, code, reason));
    }

    /// Moves the clock forward by `duration`, waking the client at every deadline it asked
    /// for on the way, in order, exactly as a perfect timer would.
    pub fn advance(&mut self, duration: Duration) {
        let end = self.now + duration;
        while let Some((deadline, _timer)) = self.client.poll_timeout() {
            if deadline > end {
                break;
            }
            self.now = self.now.max(deadline);
            self.act(|client, now| client.handle_timeout(now));
        }
        self.now = end;
    }

    /// Moves the clock forward without waking the client, as a throttled tab's timer would.
    pub fn sleep_without_waking(&mut self, duration: Duration) {
        self.now = self.now + duration;
    }

    /// Every event emitted since the last call, with the payload spans of job deliveries
    /// cleared and the outbox-size notices left out, so expectations can be written as
    /// values; `take_events_with_spans` keeps everything.
    pub fn take_events(&mut self) -> Vec<Event> {
        self.take_events_with_spans()
            .into_iter()
            .filter(|event| !matches!(event, Event::OutboxSize(_)))
            .map(|event| match event {
                Event::Job(delivery) => Event::Job(JobDelivery {
                    payload: None,
                    ..delivery
                }),
                other => other,
            })
            .collect()
    }

    /// Every event emitted since the last call, exactly as the client emitted it.
    pub fn take_events_with_spans(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Every text the client sent since the last call (a client of another dialect than v1).
    pub fn take_sent_text(&mut self) -> Vec<String> {
        std::mem::take(&mut self.server.sent_text)
            .into_iter()
            .map(|(_, text)| text)
            .collect()
    }

    /// Every frame the server received since the last call, without socket ids.
    pub fn take_received(&mut self) -> Vec<ClientFrame> {
        std::mem::take(&mut self.server.received)
            .into_iter()
            .map(|(_, frame)| frame)
            .collect()
    }

    fn drain(&mut self) {
        let mut pongs = Vec::new();
        let mut storage_failed = false;
        while let Some(transmit) = self.client.poll_transmit() {
            match transmit {
                Transmit::PersistOutbox { text } => {
                    if self.storage.failing {
                        storage_failed = true;
                    } else {
                        self.storage.outbox = Some(text);
                        self.storage.writes += 1;
                    }
                }
                Transmit::FetchToken { request } => self.server.token_requests.push(request),
                Transmit::Poll {
                    request,
                    url,
                    token,
                } => {
                    self.server.polled_urls.push(url.clone());
                    self.server.poll_tokens.push(token);
                    self.server.polls.push((request, url));
                }
                Transmit::PostMessage {
                    request,
                    url,
                    body,
                    token,
                } => {
                    self.server.posted.push(body.clone());
                    self.server.posts.push((request, url, body, token));
                }
                Transmit::OpenSocket { socket, url } => {
                    self.server.pending_opens.push((socket, url));
                }
                Transmit::Send { socket, text } if !self.speaks_v1 => {
                    self.server.sent_text.push((socket, text));
                }
                Transmit::Send { socket, text } => {
                    let frame = ClientFrame::decode(&text).unwrap_or_else(|error| {
                        panic!("client sent an invalid frame {text}: {error}")
                    });
                    if let ClientFrame::Ping { t } = frame
                        && !self.server.mute_pongs
                    {
                        pongs.push((socket, ServerFrame::Pong { t }.encode()));
                    }
                    if let ClientFrame::Subscribe { channel, id, since } = &frame
                        && !self.server.hold_confirmations
                    {
                        let subscribed = ServerFrame::Subscribed {
                            channel: *channel,
                            id: id.clone(),
                            seq: since.unwrap_or(0),
                        };
                        pongs.push((socket, subscribed.encode()));
                    }
                    self.server.received.push((socket, frame));
                }
                Transmit::CloseSocket {
                    socket,
                    code,
                    reason,
                } => {
                    self.server
                        .pending_opens
                        .retain(|(pending, _)| *pending != socket);
                    self.server.closed.push((socket, code, reason));
                }
                Transmit::RequestLock
                | Transmit::StealLock
                | Transmit::ReleaseLock
                | Transmit::Broadcast { .. }
                | Transmit::StorePending { .. }
                | Transmit::RemovePending { .. } => {
                    panic!("a client alone asked for a tab's transmit: {transmit:?}")
                }
            }
        }
        while let Some(event) = self.client.poll_event() {
            self.events.push(event);
        }
        // Pongs and confirmations, after everything the client sent in this step.
        for (socket, answer) in pongs {
            self.server_sends_text(socket, &answer);
        }
        if storage_failed {
            self.act(|client, now| client.handle_storage_failed(now, "QuotaExceededError"));
        }
    }
}

/// The messages that left the outbox without an ack, and why.
pub fn outbox_drops(events: &[Event]) -> Vec<(String, jobsocket::core::outbox::DropReason)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::OutboxDropped { id, reason } => Some((id.clone(), *reason)),
            _ => None,
        })
        .collect()
}

/// The default options for [`URL`], progress coalescing off.
pub fn config() -> Config {
    let mut config = Config::new(URL);
    config.max_progress_per_second = 0;
    config
}

/// The server's greeting.
pub fn connected() -> ServerFrame {
    ServerFrame::Connected {
        client_id: "c_1".to_owned(),
        heartbeat_ms: 30_000,
    }
}

/// A small deterministic generator, so the property tests are the same on every run.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// Bytes a fuzzing step makes of valid seeds: up to `max_edits` random removals, replacements
/// and insertions of JSON-ish bytes (and invalid UTF-8), as text.
pub fn mangled(random: &mut XorShift, seeds: &[Vec<u8>], max_edits: usize) -> String {
    const ALPHABET: &[u8] = b"{}[]\":,0123456789-.eE+truefalsnl \\u\xff\x00";
    let mut bytes = seeds[random.below(seeds.len())].clone();
    for _ in 0..=random.below(max_edits) {
        let at = random.below(bytes.len() + 1);
        match random.below(3) {
            0 if at < bytes.len() => {
                bytes.remove(at);
            }
            1 if at < bytes.len() => bytes[at] = ALPHABET[random.below(ALPHABET.len())],
            _ => bytes.insert(at, ALPHABET[random.below(ALPHABET.len())]),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The codes of the errors among `events`, in order.
pub fn error_codes(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Error(error) => Some(error.code().to_owned()),
            _ => None,
        })
        .collect()
}

/// The job deliveries among `events` as (job id, seq, event name).
pub fn job_events(events: &[Event]) -> Vec<(String, u64, &'static str)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Job(delivery) => {
                Some((delivery.job_id.clone(), delivery.seq, delivery.event.name()))
            }
            _ => None,
        })
        .collect()
}

/// The ids of the `message` frames among `frames`, in order.
pub fn sent_ids(frames: &[ClientFrame]) -> Vec<String> {
    frames
        .iter()
        .filter_map(|frame| match frame {
            ClientFrame::Message { id, .. } => Some(id.clone()),
            _ => None,
        })
        .collect()
}
