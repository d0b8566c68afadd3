//! Connection attempts and their failures: the token and the socket, backoff, the minimum
//! uptime, token refusals, heartbeats, and going idle.

use super::{Client, State, Step};
use crate::core::dialect::Dialect;
use crate::core::output::{ClientError, SocketId, StateReason, Transmit};
use crate::core::protocol::ClientFrame;
use crate::core::time::Instant;

impl Client {
    /// Whether a close code means the token was refused.
    pub(super) fn is_refusal(&self, code: u16) -> bool {
        self.config.unauthorized_close_codes.contains(&code)
    }

    /// Begins a connection attempt: a token first when auth is on, then the socket.
    pub(super) fn start_attempt(&mut self, now: Instant, reason: StateReason) {
        if !self.online {
            if !matches!(self.state, State::Offline) {
                self.set_state(State::Offline, StateReason::Offline);
            }
            return;
        }
        if !self.websocket_allowed() {
            if self.polling_allowed() {
                let from = self.status();
                self.enter_polling(now);
                self.set_state_from(from, State::PollingOnly, StateReason::PollingFallback);
                self.issue_due_polls(now);
            } else {
                // Staying in the old state would keep a closed socket "open" (pings on it, a
                // deadline in the past); saying nothing would leave the app waiting forever.
                self.report(ClientError::NoTransport);
                self.stable_at = None;
                self.set_state(State::Closed, StateReason::NoTransport);
            }
            return;
        }
        // A connection with nothing to carry goes idle after the idle timeout, however it was
        // started (connect, reconnect, a retry).
        self.note_if_idle(now);
        self.request_id = Some(self.ids.next_id());
        let deadline = now + self.config.connect_timeout;
        let step = if self.config.auth {
            let request = self.next_token_request;
            self.next_token_request += 1;
            self.transmits.push_back(Transmit::FetchToken { request });
            Step::Token { request }
        } else {
            Step::Socket {
                socket: self.open_socket(None),
            }
        };
        self.set_state(State::Connecting { step, deadline }, reason);
    }
    /// Asks the driver to open a socket to the server URL with the attempt's query
    /// parameters; the token goes in the query, or waits to be the socket's first frame.
    pub(super) fn open_socket(&mut self, token: Option<&str>) -> SocketId {
        let socket = SocketId(self.next_socket);
        self.next_socket += 1;
        let request_id = self.request_id.clone().unwrap_or_default();
        let in_frame = self.config.token_in_first_frame && matches!(self.dialect, Dialect::V1);
        self.auth_frame = token.filter(|_| in_frame).map(str::to_owned);
        if let Some(token) = token {
            self.last_token = Some(token.to_owned());
        }
        let query_token = if in_frame { None } else { token };
        let url = self
            .dialect
            .open(&self.config.url, query_token, &request_id);
        self.transmits
            .push_back(Transmit::OpenSocket { socket, url });
        socket
    }
    /// An attempt failed before the connection was up: back off, or keep failing loudly.
    pub(super) fn attempt_failed(&mut self, now: Instant, reason: StateReason) {
        // Read before `enter_polling` changes the status, so the change is announced.
        let from = self.status();
        self.failures = self.failures.saturating_add(1);
        if self.failures == self.config.failures_before_report {
            self.report(ClientError::ReconnectFailing {
                failures: self.failures,
            });
        }
        let fallback = self.polling_allowed()
            && !self.polling
            && (self.failures >= self.config.polling_after_failures
                || self.young_deaths >= self.config.flapping_limit);
        if fallback {
            self.enter_polling(now);
        }
        let delay = if self.polling {
            let cap = self.config.probe_max_delay;
            self.backoff.delay_up_to(self.failures, cap)
        } else {
            self.backoff.delay(self.failures)
        };
        let reason = if fallback {
            StateReason::PollingFallback
        } else {
            reason
        };
        self.set_state_from(
            from,
            State::Reconnecting {
                retry_at: now + delay,
            },
            reason,
        );
        self.issue_due_polls(now);
    }
    /// An open connection was lost. One that stayed up for the minimum uptime gets an
    /// immediate retry; one that died young counts as a failed attempt.
    pub(super) fn connection_lost(
        &mut self,
        now: Instant,
        opened_at: Instant,
        reason: StateReason,
    ) {
        self.disconnected_at = Some(now);
        self.stable_at = None;
        if now.saturating_since(opened_at) >= self.config.min_uptime {
            self.failures = 0;
            self.young_deaths = 0;
            self.auth_refusals = 0;
            self.start_attempt(now, reason);
        } else {
            self.young_deaths = self.young_deaths.saturating_add(1);
            self.attempt_failed(now, reason);
        }
    }
    /// The server refused the token: fetch a fresh one once, after the backoff a failure
    /// gets (a refusal retried at once hammers the token endpoint and the server), then stop.
    pub(super) fn refused(&mut self, now: Instant, code: u16) {
        self.auth_refusals = self.auth_refusals.saturating_add(1);
        if self.auth_refusals >= 2 {
            self.report(ClientError::Unauthorized { code });
            self.stable_at = None;
            self.set_state(State::Closed, StateReason::Unauthorized);
        } else {
            self.attempt_failed(now, StateReason::SocketClosed);
        }
    }
    pub(super) fn ping(&mut self, now: Instant, socket: SocketId) {
        self.send_frame(socket, &ClientFrame::Ping { t: now.as_millis() });
        if let State::Open {
            next_ping_at,
            pong_deadline,
            ..
        } = &mut self.state
        {
            *pong_deadline = Some(now + self.config.pong_timeout);
            *next_ping_at = Some(now + self.config.ping_interval);
        }
    }
    pub(super) fn go_idle(&mut self, now: Instant) {
        if let Some(socket) = self.current_socket() {
            self.close_socket(socket, 1000, "idle");
            self.disconnected_at = Some(now);
        }
        self.idle_since = None;
        self.stable_at = None;
        self.set_state(State::Idle, StateReason::IdleTimeout);
    }
}
