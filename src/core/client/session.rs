//! A socket's session: the socket opening, the dialect's handshake, the session ready (every
//! subscription sent again, the outbox flushed, a gap filled), and the frames that arrive on it,
//! each proving the link alive.

use super::{Client, State, Step};
use crate::core::dialect::Heartbeat;
use crate::core::output::{ClientError, SocketId, StateReason};
use crate::core::protocol::ClientFrame;
use crate::core::time::Instant;

impl Client {
    /// Input: the socket opened.
    pub fn handle_socket_opened(&mut self, now: Instant, socket: SocketId) {
        if !matches!(self.state, State::Connecting { step: Step::Socket { socket: current }, .. } if current == socket)
        {
            return;
        }
        // Before anything else: the server reads the token from the first frame.
        if let Some(token) = self.auth_frame.take() {
            self.send_frame(socket, &ClientFrame::Auth { token });
        }
        if self.dialect.has_handshake() {
            if let State::Connecting { step, .. } = &mut self.state {
                *step = Step::Handshake { socket };
            }
            return;
        }
        self.session_ready(now, socket, false);
    }

    /// The session on `socket` is ready: the connection is open, every watched job is
    /// subscribed again (unless the server recovered the session, subscriptions included), and
    /// the outbox goes out.
    pub(super) fn session_ready(&mut self, now: Instant, socket: SocketId, recovered: bool) {
        // Events sent while the client was away are lost on a wire without replay, unless the
        // server recovered the session: one poll of every watched job fills the gap (polling
        // itself already did, when it ran).
        let fill_gap = self.had_session
            && !recovered
            && !self.dialect.replays()
            && !self.polling
            && self.polling_allowed();
        self.had_session = true;
        self.connected_at = Some(now);
        self.stable_at = Some(now + self.config.min_uptime);
        let (next_ping_at, pong_deadline) = match self.dialect.heartbeat() {
            Heartbeat::ClientPings => (Some(now + self.config.ping_interval), None),
            Heartbeat::ServerPings { window } => (None, Some(now + window)),
            Heartbeat::Unchecked => (None, None),
        };
        self.set_state(
            State::Open {
                socket,
                opened_at: now,
                next_ping_at,
                pong_deadline,
                last_frame_at: now,
            },
            StateReason::SocketOpened,
        );
        for frame in self
            .subscriptions
            .resubscribe_frames(self.dialect.replays())
        {
            if !recovered {
                self.send_frame(socket, &frame);
            }
        }
        if self.polling {
            self.unconfirmed = self.subscriptions.keys();
        }
        for frame in self.channels.resubscribe_frames(self.dialect.replays()) {
            if !recovered {
                self.send_frame(socket, &frame);
            }
        }
        if !self.dialect.answers_subscribes() {
            for (channel, id) in self.subscriptions.keys() {
                self.confirmed(channel, &id);
            }
            for (channel, id) in self.channels.keys() {
                self.channels.answered(&channel, &id);
            }
        }
        self.flush_outbox(now, socket);
        if self.polling && self.unconfirmed.is_empty() {
            self.leave_polling();
        }
        if fill_gap {
            for (channel, id) in self.subscriptions.keys() {
                self.poll_gap(channel, id);
            }
        }
    }

    /// Input: a text frame arrived on `socket`.
    pub fn handle_frame(&mut self, now: Instant, socket: SocketId, text: &str) {
        if !self.frame_arrived(now, socket) {
            return;
        }
        if text.len() > self.config.max_frame_bytes {
            self.report(ClientError::FrameTooLarge {
                bytes: text.len(),
                limit: self.config.max_frame_bytes,
            });
            return;
        }
        let mut incoming = std::mem::take(&mut self.incoming);
        self.dialect.decode(text, &mut incoming);
        for what in incoming.drain(..) {
            self.handle_incoming(now, socket, what);
        }
        self.incoming = incoming;
    }

    /// Input: a text frame arrived on `socket` that the driver refused before copying it out
    /// of the browser, because its length in UTF-16 units, `units`, is already over
    /// `max_frame_bytes` (a string has at least as many UTF-8 bytes as UTF-16 units).
    pub fn handle_frame_too_large(&mut self, now: Instant, socket: SocketId, units: usize) {
        if self.frame_arrived(now, socket) {
            self.report(ClientError::FrameTooLarge {
                bytes: units,
                limit: self.config.max_frame_bytes,
            });
        }
    }

    /// Input: a binary frame of `bytes` bytes arrived on `socket`. No dialect has any.
    pub fn handle_binary_frame(&mut self, now: Instant, socket: SocketId, bytes: usize) {
        if self.frame_arrived(now, socket) {
            self.report(ClientError::BinaryFrame { bytes });
        }
    }

    /// A frame arrived on `socket`: true if it is the current one (open, or in its
    /// handshake), whose liveness the frame proves.
    fn frame_arrived(&mut self, now: Instant, socket: SocketId) -> bool {
        let server_pings = matches!(self.dialect.heartbeat(), Heartbeat::ServerPings { .. });
        match &mut self.state {
            State::Open {
                socket: current,
                pong_deadline,
                last_frame_at,
                ..
            } if *current == socket => {
                *last_frame_at = now;
                if !server_pings {
                    *pong_deadline = None;
                }
                true
            }
            State::Connecting {
                step: Step::Handshake { socket: current },
                ..
            } => *current == socket,
            _ => false,
        }
    }
}
