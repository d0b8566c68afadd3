//! The outbox over HTTP while polling. A network that blocks WebSockets blocks them for the
//! whole session, so messages are `POST`ed to the server's message endpoint meanwhile, one
//! at a time and in order, under the same rules as on a socket: the id is the server's
//! idempotency key, every attempt counts toward `outbox_max_retries`, and a message is never
//! in flight on both transports at once (the socket's flush waits for the request under way).

use super::{Client, State};
use crate::core::config::http_origin;
use crate::core::json;
use crate::core::outbox::DropReason;
use crate::core::output::{ClientError, Transmit};
use crate::core::time::Instant;

/// The state of the HTTP side of the outbox.
#[derive(Debug, Default)]
pub(super) struct HttpSender {
    /// The `POST` under way: its request id and the message's id.
    in_flight: Option<(u64, String)>,
    /// A token asked for the next `POST` (auth on, no token yet or a refused one).
    token_request: Option<u64>,
    /// When the next attempt may start, after a failure.
    retry_at: Option<Instant>,
    /// Failed attempts in a row, for the backoff.
    failures: u32,
    /// The endpoint refused the token once and a fresh one was asked for.
    token_refreshed: bool,
}

impl HttpSender {
    /// Whether a `POST` is under way (the socket's flush waits for its answer).
    pub(super) fn busy(&self) -> bool {
        self.in_flight.is_some()
    }
}

impl Client {
    /// Whether messages go over HTTP now: polling with no open socket, to an endpoint.
    fn http_messages_active(&self) -> bool {
        self.config.messages_url.is_some()
            && self.polls_active()
            && !matches!(self.state, State::Open { .. })
    }

    /// When a failed `POST` is retried, while one waits to be.
    pub(super) fn http_retry_at(&self) -> Option<Instant> {
        self.http
            .retry_at
            .filter(|_| self.http_messages_active() && !self.outbox.is_empty())
    }

    /// Starts the next `POST` if one may go: over HTTP now, nothing under way, no retry
    /// pending, a message waiting.
    pub(super) fn pump_http_messages(&mut self, now: Instant) {
        if !self.http_messages_active()
            || self.http.in_flight.is_some()
            || self.http.token_request.is_some()
            || self.http.retry_at.is_some_and(|at| at > now)
        {
            return;
        }
        self.http.retry_at = None;
        if self.config.auth && self.last_token.is_none() {
            self.request_http_token();
            return;
        }
        let (next, exhausted) = self.outbox.next_for_http(self.config.outbox_max_retries);
        let post = next.map(|message| {
            let mut body = String::from(r#"{"id":"#);
            json::write_string(&mut body, &message.id);
            body.push_str(r#","event":"#);
            json::write_string(&mut body, &message.event);
            body.push_str(r#","data":"#);
            body.push_str(message.data.as_str());
            body.push('}');
            (message.id.clone(), body)
        });
        for id in exhausted {
            self.drop_message(id, DropReason::RetriesExhausted);
        }
        let Some((id, body)) = post else {
            self.persist_outbox();
            self.note_if_idle(now);
            return;
        };
        let request = self.next_poll_request;
        self.next_poll_request += 1;
        self.http.in_flight = Some((request, id));
        let url = self.messages_url();
        let token = self.bearer();
        self.transmits.push_back(Transmit::PostMessage {
            request,
            url,
            body,
            token,
        });
        // The send is counted: a reload before the answer still knows it went out.
        self.persist_outbox();
    }

    /// Input: the answer to `PostMessage { request, … }`: the HTTP status, or why no response
    /// came (a network error). 2xx acks the message; 401/403 asks for a fresh token once; any
    /// other 4xx drops it as `rejected`; a 5xx or no response retries it after a backoff.
    pub fn handle_message_response(
        &mut self,
        now: Instant,
        request: u64,
        outcome: Result<u16, String>,
    ) {
        let Some((_, id)) = self
            .http
            .in_flight
            .take_if(|(pending, _)| *pending == request)
        else {
            return;
        };
        match outcome {
            Ok(200..=299) => {
                self.outbox.ack(&id);
                self.http.failures = 0;
                self.http.token_refreshed = false;
                self.persist_outbox();
                self.note_if_idle(now);
            }
            Ok(401 | 403) if self.config.auth && !self.http.token_refreshed => {
                // Once, at once, with a fresh token.
                self.http.token_refreshed = true;
                self.last_token = None;
            }
            Ok(status @ (401 | 403)) => {
                self.report(ClientError::MessageUnauthorized { status });
                self.http.token_refreshed = false;
                self.http_failed(now);
            }
            Ok(status @ 400..=499) => {
                // Unless it already left the queue meanwhile (cleared, expired): once only.
                if self.outbox.ack(&id) {
                    self.drop_message(id.clone(), DropReason::Rejected);
                    self.report(ClientError::MessageRejected { id, status });
                    self.persist_outbox();
                }
                self.note_if_idle(now);
            }
            Ok(_) | Err(_) => self.http_failed(now),
        }
        match self.state {
            State::Open { socket, .. } => self.flush_outbox(now, socket),
            _ => self.pump_http_messages(now),
        }
    }

    /// Asks for a token for HTTP requests (messages and polls), unless one is on its way.
    pub(super) fn request_http_token(&mut self) {
        if self.http.token_request.is_none() {
            let request = self.next_token_request;
            self.next_token_request += 1;
            self.http.token_request = Some(request);
            self.transmits.push_back(Transmit::FetchToken { request });
        }
    }

    /// Input: the answer to a token asked for HTTP requests (see `handle_token`). True when
    /// the request was this one's.
    pub(super) fn http_token(
        &mut self,
        now: Instant,
        request: u64,
        token: &Result<String, String>,
    ) -> bool {
        if self.http.token_request != Some(request) {
            return false;
        }
        self.http.token_request = None;
        match token {
            Ok(token) => {
                self.last_token = Some(token.clone());
                self.pump_http_messages(now);
            }
            Err(message) => {
                self.report(ClientError::TokenFailed {
                    message: message.clone(),
                });
                self.http_failed(now);
            }
        }
        true
    }

    /// A retry after the backoff of `failures` in a row.
    fn http_failed(&mut self, now: Instant) {
        self.http.failures = self.http.failures.saturating_add(1);
        let delay = self.backoff.delay(self.http.failures);
        self.http.retry_at = Some(now + delay);
    }

    /// The message endpoint: relative to the server's origin unless absolute.
    fn messages_url(&self) -> String {
        let path = self.config.messages_url.as_deref().unwrap_or_default();
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_owned();
        }
        let mut url = http_origin(&self.config.url);
        url.push_str(path);
        url
    }

    /// The token for HTTP requests: the last one the app gave, when auth is on.
    pub(super) fn bearer(&self) -> Option<String> {
        self.config.auth.then(|| self.last_token.clone()).flatten()
    }
}
