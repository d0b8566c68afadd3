//! Job events from the socket to the app: decoded frames dispatched, events admitted once
//! and in order, progress paced, subscriptions ended by terminal events.

use std::ops::Range;
use std::time::Duration;

use super::{Client, State, Step};
use crate::core::dialect::Incoming;
use crate::core::events::JobEvent;
use crate::core::output::{ClientError, Event, JobDelivery, SocketId, StateReason, Transmit};
use crate::core::protocol::{Channel, ClientFrame};
use crate::core::subscriptions::Admission;
use crate::core::time::Instant;

impl Client {
    /// One thing a frame said, in the dialect-neutral words of [`Incoming`].
    pub(super) fn handle_incoming(&mut self, now: Instant, socket: SocketId, incoming: Incoming) {
        match incoming {
            Incoming::Reply(text) => self.transmits.push_back(Transmit::Send { socket, text }),
            Incoming::Ready { recovered } => {
                if matches!(
                    self.state,
                    State::Connecting { step: Step::Handshake { socket: current }, .. }
                        if current == socket
                ) {
                    self.session_ready(now, socket, recovered);
                }
            }
            Incoming::Hello {
                client_id,
                heartbeat_ms,
            } => {
                // Not a reset of the refusal count: many servers greet and then refuse the
                // token (close 4001). Only a connection that lives `min_uptime` resets it.
                self.client_id = Some(client_id);
                self.server_heartbeat_ms = heartbeat_ms;
            }
            Incoming::Event {
                id,
                seq,
                event,
                payload,
                ..
            } => self.deliver(now, socket, id, seq, event, payload),
            Incoming::ServerError { code, message, job } => {
                if let Some((channel, id)) = &job {
                    // The server's answer to the job's `subscribe`: an error instead of
                    // `subscribed`. Waiting on for a confirmation would keep the client polling
                    // on a healthy socket for ever.
                    self.confirmed(*channel, id);
                }
                self.report(ClientError::Server { code, message, job });
            }
            Incoming::Ack { id } => {
                if self.outbox.ack(&id) {
                    self.persist_outbox();
                    self.note_if_idle(now);
                }
            }
            Incoming::Subscribed { channel, id } => self.confirmed(channel, &id),
            Incoming::Joined { channel, id } => self.channels.answered(&channel, &id),
            Incoming::ChannelEvent {
                channel,
                seq,
                event,
                data,
            } => self.deliver_channel_event(channel, seq, event, data),
            Incoming::Refused { message } => {
                // Socket.IO's CONNECT_ERROR: the server's middleware refused the handshake,
                // which for an app's auth middleware means the token. Treated as close code
                // 4001: one fresh token, then `unauthorized`.
                self.report(ClientError::ConnectRefused { message });
                self.close_socket(socket, 1000, "connection refused");
                self.disconnected_at = Some(now);
                self.refused(now, 4001);
            }
            Incoming::Disconnected => {
                // The server ended the session on purpose; like socket.io-client, the client
                // does not retry on its own: `connect` or `reconnect` starts again.
                self.report(ClientError::ServerDisconnected);
                self.close_socket(socket, 1000, "disconnected by the server");
                self.disconnected_at = Some(now);
                let from = self.status();
                self.stop_polling();
                self.stable_at = None;
                self.set_state_from(from, State::Closed, StateReason::ServerDisconnect);
            }
            Incoming::Invalid(error) => self.report(ClientError::Decode(error)),
        }
    }
    /// The server answered a job's `subscribe` on the socket that may end polling; once every
    /// job is answered, the socket takes over.
    pub(super) fn confirmed(&mut self, channel: Channel, id: &str) {
        self.subscriptions.answered(channel, id);
        self.unconfirmed
            .retain(|(known, job)| !(*known == channel && job == id));
        if self.polling && self.unconfirmed.is_empty() {
            self.leave_polling();
        }
    }
    /// Hands a job event to the app once, in order; ends the subscription after the job's
    /// terminal event.
    pub(super) fn deliver(
        &mut self,
        now: Instant,
        socket: SocketId,
        job_id: String,
        seq: Option<u64>,
        event: JobEvent,
        payload: Option<Range<usize>>,
    ) {
        let channel = event.channel();
        let admission = match seq {
            Some(seq) => self.subscriptions.admit(channel, &job_id, seq),
            None => self.subscriptions.admit_unsequenced(channel, &job_id),
        };
        let (seq, gap) = match admission {
            Admission::Deliver { seq, gap } => (seq, gap),
            Admission::Duplicate | Admission::Unwatched | Admission::Unconfirmed => return,
            Admission::Stale { expected, received } => {
                self.report(ClientError::SequenceBackward {
                    channel,
                    job_id,
                    expected,
                    received,
                    resubscribed: false,
                });
                return;
            }
            Admission::Backward {
                expected,
                received,
                since,
            } => {
                self.report(ClientError::SequenceBackward {
                    channel,
                    job_id: job_id.clone(),
                    expected,
                    received,
                    resubscribed: true,
                });
                if let State::Open { socket, .. } = self.state {
                    self.subscriptions.subscribe_sent(channel, &job_id);
                    let id = job_id;
                    self.send_frame(socket, &ClientFrame::Subscribe { channel, id, since });
                }
                return;
            }
        };
        if let Some((expected, received)) = gap {
            self.report(ClientError::SequenceGap {
                channel,
                job_id: job_id.clone(),
                expected,
                received,
            });
        }
        self.subscriptions.observe(channel, &job_id, &event, seq);
        let ended = event.is_terminal().then(|| job_id.clone());
        let progress = event.is_progress();
        let delivery = JobDelivery {
            job_id,
            seq,
            event,
            payload,
        };
        match self.coalescing_interval() {
            Some(interval) if progress => {
                if let Some(delivery) = self
                    .subscriptions
                    .pace_progress(channel, delivery, now, interval)
                {
                    self.events.push_back(Event::Job(delivery));
                }
            }
            _ => {
                // A held progress goes out first: events keep their order.
                if let Some(held) = self.subscriptions.take_held(channel, &delivery.job_id, now) {
                    self.events.push_back(Event::Job(held));
                }
                self.events.push_back(Event::Job(delivery));
            }
        }
        if let Some(job_id) = ended {
            let _ = socket;
            self.end_subscription(now, channel, job_id);
        }
    }
    /// A job reached its end: its subscription, polling and server subscription go.
    pub(super) fn end_subscription(&mut self, now: Instant, channel: Channel, job_id: String) {
        self.subscriptions.end(channel, &job_id);
        self.forget_polling(channel, &job_id);
        if let State::Open { socket, .. } = self.state {
            let id = job_id.clone();
            self.send_frame(socket, &ClientFrame::Unsubscribe { channel, id });
        }
        self.events
            .push_back(Event::SubscriptionEnded { channel, job_id });
        self.note_if_idle(now);
        if self.polling && self.unconfirmed.is_empty() && matches!(self.state, State::Open { .. }) {
            self.leave_polling();
        }
    }
    /// The shortest time between two progress events of one job, if coalescing is on.
    pub(super) fn coalescing_interval(&self) -> Option<Duration> {
        match self.config.max_progress_per_second {
            0 => None,
            rate => Some(Duration::from_millis(u64::from(1000 / rate.min(1000)))),
        }
    }
}
