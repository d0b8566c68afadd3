//! The polling fallback of the [`Client`]: when to poll, what to fetch, and how a snapshot
//! becomes events; and when a socket takes over again.

use super::{Client, PollSlot, State};
use crate::core::config::http_origin;
use crate::core::events::JobEvent;
use crate::core::job_view::Snapshot;
use crate::core::output::{ClientError, Event, JobDelivery, StateReason, Status, Transmit};
use crate::core::protocol::Channel;
use crate::core::small_map::SmallMap;
use crate::core::time::Instant;

impl Client {
    /// Input: the browser has no usable `WebSocket`; polling is the only transport.
    pub fn handle_websocket_unavailable(&mut self, now: Instant) {
        self.websocket_available = false;
        if matches!(
            self.state,
            State::Connecting { .. } | State::Reconnecting { .. } | State::Open { .. }
        ) {
            if let Some(socket) = self.current_socket() {
                self.close_socket(socket, 1000, "no WebSocket");
            }
            self.start_attempt(now, StateReason::PollingFallback);
        }
    }
    /// Input: the answer to `Poll { request, … }`: the body of a 2xx response, or why the
    /// request failed (network error, HTTP status).
    pub fn handle_poll_response(
        &mut self,
        now: Instant,
        request: u64,
        body: Result<String, String>,
    ) {
        let limit = self.config.max_frame_bytes;
        let body = body.and_then(|body| match body.len() {
            bytes if bytes > limit => Err(body_too_large(bytes, limit)),
            _ => Ok(body),
        });
        if let Some(index) = self.gap_polls.iter().position(|(id, ..)| *id == request) {
            let (_, channel, job_id) = self.gap_polls.swap_remove(index);
            match body.and_then(|body| self.dialect.decode_snapshot(channel, &body)) {
                Ok(snapshot) => self.deliver_snapshot(now, channel, &job_id, &snapshot),
                Err(reason) => self.report(ClientError::PollFailed {
                    channel,
                    job_id,
                    reason,
                }),
            }
            return;
        }
        let Some(key) = self
            .polls
            .iter()
            .find(|(_, slot)| slot.in_flight == Some(request))
            .map(|(key, _)| key.clone())
        else {
            return;
        };
        let (channel, job_id) = key;
        if self.config.auth
            && matches!(&body, Err(reason) if reason == "HTTP 401" || reason == "HTTP 403")
        {
            // A token that expired: the next polls (and messages) get a fresh one.
            self.last_token = None;
            self.request_http_token();
        }
        let snapshot = body.and_then(|body| self.dialect.decode_snapshot(channel, &body));
        let Some(slot) = self.polls.get_mut(&(channel, job_id.clone())) else {
            return;
        };
        slot.in_flight = None;
        match snapshot {
            Ok(snapshot) => {
                slot.failures = 0;
                slot.next_at = now + self.config.poll_interval;
                self.deliver_snapshot(now, channel, &job_id, &snapshot);
            }
            Err(reason) => {
                slot.failures += 1;
                if slot.failures > self.config.poll_max_retries {
                    slot.failures = 0;
                    slot.next_at = now + self.config.poll_interval;
                    self.report(ClientError::PollFailed {
                        channel,
                        job_id,
                        reason,
                    });
                } else {
                    let retry = self.config.reconnect_initial_delay * (1 << (slot.failures - 1));
                    slot.next_at = now + retry.min(self.config.poll_interval);
                }
            }
        }
    }
    /// Hands the app the events that bring a job up to a polled snapshot.
    pub(super) fn deliver_snapshot(
        &mut self,
        now: Instant,
        channel: Channel,
        job_id: &str,
        snapshot: &Snapshot,
    ) {
        if !self.dialect.replays() {
            self.deliver_unsequenced_snapshot(now, channel, job_id, snapshot);
            return;
        }
        let seq = snapshot.seq();
        let Some(view) = self.subscriptions.view_for_snapshot(channel, job_id, seq) else {
            return;
        };
        let (events, lost) = view.catch_up_numbered(snapshot);
        let ended = view.is_terminal();
        if lost > 0 {
            // A snapshot with more to tell than its `seq` advanced: what did not fit is lost.
            let first = events.first().map_or(seq, |(first, _)| *first);
            self.report(ClientError::SequenceGap {
                channel,
                job_id: job_id.to_owned(),
                expected: first.saturating_sub(lost as u64),
                received: first,
            });
        }
        self.deliver_rebuilt(now, channel, job_id, events, ended);
    }
    /// [`Client::deliver_snapshot`] for a server without seqs: the snapshot is the job's
    /// present, and what the app has not been told of it goes out, numbered on.
    fn deliver_unsequenced_snapshot(
        &mut self,
        now: Instant,
        channel: Channel,
        job_id: &str,
        snapshot: &Snapshot,
    ) {
        let Some((events, ended)) = self
            .subscriptions
            .catch_up_unsequenced(channel, job_id, snapshot)
        else {
            return;
        };
        self.deliver_rebuilt(now, channel, job_id, events, ended);
    }

    /// Events rebuilt from a snapshot go out after a held progress of the job; the job's
    /// subscription ends when the snapshot showed its end.
    fn deliver_rebuilt(
        &mut self,
        now: Instant,
        channel: Channel,
        job_id: &str,
        events: Vec<(u64, JobEvent)>,
        ended: bool,
    ) {
        if let Some(held) = self.subscriptions.take_held(channel, job_id, now) {
            self.events.push_back(Event::Job(held));
        }
        for (seq, event) in events {
            self.events.push_back(Event::Job(JobDelivery {
                job_id: job_id.to_owned(),
                seq,
                event,
                payload: None,
            }));
        }
        if ended {
            self.end_subscription(now, channel, job_id.to_owned());
        }
    }

    /// Polls a job once, now, to fill the gap of a reconnection (see `session_ready`).
    pub(super) fn poll_gap(&mut self, channel: Channel, job_id: String) {
        let request = self.next_poll_request;
        self.next_poll_request += 1;
        let url = self.poll_url(channel, &job_id);
        self.gap_polls.push((request, channel, job_id));
        let token = self.bearer();
        self.transmits.push_back(Transmit::Poll {
            request,
            url,
            token,
        });
    }

    pub(super) fn polling_allowed(&self) -> bool {
        self.config.use_polling
    }
    pub(super) fn websocket_allowed(&self) -> bool {
        self.config.use_websocket && self.websocket_available
    }
    /// Starts polling every watched job now. With auth and no token yet (no socket attempt
    /// got one: WebSockets unavailable or not allowed), one is asked for the polls and
    /// messages.
    pub(super) fn enter_polling(&mut self, now: Instant) {
        self.polling = true;
        if self.config.auth && self.last_token.is_none() {
            self.request_http_token();
        }
        for (channel, job_id) in self.subscriptions.keys() {
            self.schedule_poll(channel, &job_id, now);
        }
    }
    /// A socket is back and confirmed every subscription: the socket takes over.
    pub(super) fn leave_polling(&mut self) {
        let from = self.status();
        self.stop_polling();
        self.young_deaths = 0;
        self.announce(from, StateReason::WebSocketRestored);
    }
    /// Forgets every poll, those under way included: their answers will find no slot.
    pub(super) fn stop_polling(&mut self) {
        self.polling = false;
        self.polls = SmallMap::default();
        self.unconfirmed.clear();
    }
    pub(super) fn schedule_poll(&mut self, channel: Channel, job_id: &str, now: Instant) {
        self.polls.insert(
            (channel, job_id.to_owned()),
            PollSlot {
                next_at: now,
                in_flight: None,
                failures: 0,
            },
        );
    }
    pub(super) fn forget_polling(&mut self, channel: Channel, job_id: &str) {
        self.polls.remove(&(channel, job_id.to_owned()));
        self.unconfirmed
            .retain(|(known, job)| !(*known == channel && job == job_id));
    }
    /// Whether polls go out now: polling, and not offline or stopped.
    pub(super) fn polls_active(&self) -> bool {
        self.status() == Status::Polling
    }
    pub(super) fn issue_due_polls(&mut self, now: Instant) {
        if !self.polls_active() {
            return;
        }
        let due: Vec<(Channel, String)> = self
            .polls
            .iter()
            .filter(|(_, slot)| slot.in_flight.is_none() && slot.next_at <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for (channel, job_id) in due {
            let request = self.next_poll_request;
            self.next_poll_request += 1;
            let url = self.poll_url(channel, &job_id);
            if let Some(slot) = self.polls.get_mut(&(channel, job_id)) {
                slot.in_flight = Some(request);
            }
            let token = self.bearer();
            self.transmits.push_back(Transmit::Poll {
                request,
                url,
                token,
            });
        }
        // Whenever polls go out, so do the outbox's messages (the same conditions).
        self.pump_http_messages(now);
    }
    /// The status endpoint of a job: the template with `{id}` replaced, relative to the
    /// server's origin unless absolute.
    pub(super) fn poll_url(&self, channel: Channel, job_id: &str) -> String {
        let template = match channel {
            Channel::Generation => &self.config.generation_url,
            Channel::Composition => &self.config.composition_url,
        };
        let mut url = if template.starts_with("http://") || template.starts_with("https://") {
            String::new()
        } else {
            http_origin(&self.config.url)
        };
        let mut parts = template.splitn(2, '{');
        url.push_str(parts.next().unwrap_or_default());
        if let Some(rest) = parts.next() {
            let after = rest.strip_prefix("id}").unwrap_or(rest);
            crate::core::url::push_percent_encoded(&mut url, job_id);
            url.push_str(after);
        }
        url
    }
}

/// Why a status endpoint's body of at least `bytes` bytes was refused: a body is held to the
/// limit of a frame, `max_frame_bytes`, for the same reason (what a server sends must not cost
/// the client more than the app allowed). The driver refuses one by its `Content-Length` or
/// its length in UTF-16 units (a lower bound of its size) before copying it out of the
/// browser, with the same words.
pub fn body_too_large(bytes: usize, limit: usize) -> String {
    format!("the response body is over the limit of {limit} bytes (maxFrameBytes): {bytes} or more")
}
