//! A following tab: what it does with the leader's messages, and how it mirrors the leader's
//! connection for its own app.

use std::time::Duration;

use super::wire::{self, JobData, Message, Received, SharedError, SharedState, TabId};
use super::{Role, Tab};
use crate::core::events::JobEvent;
use crate::core::outbox::DropReason;
use crate::core::output::{
    ChannelDelivery, ClientError, ConnectionState, Event, JobDelivery, StateChange, StateReason,
    Status, Transmit,
};
use crate::core::protocol::Channel;
use crate::core::time::Instant;

impl Tab {
    /// Input: a message another tab posted. Job events relayed in it are delivered with their
    /// data as a span of `text`, which the driver keeps as the source frame while it
    /// delivers them.
    pub fn handle_tab_message(&mut self, now: Instant, text: &str) {
        if !self.shared {
            return;
        }
        let Some((from, message)) = wire::decode(text) else {
            return;
        };
        if from == self.me {
            return;
        }
        self.step_down_if_woken(now);
        match &self.role {
            Role::Leader(_) => self.lead_message(now, from, message),
            Role::Follower { leader, epoch, .. } => {
                let (leader, epoch) = (*leader, *epoch);
                self.follower_message(now, from, (leader, epoch), message, text);
            }
            Role::Waiting { .. } => {
                if let Received::Other(Message::Lead { epoch }) = message
                    && epoch >= self.known_epoch
                {
                    self.follow(now, from, epoch);
                }
            }
            Role::Detached => {}
        }
    }

    /// Follows `leader` of term `epoch`: tells it what this tab watches, and hands it the
    /// messages and commands that waited for a leader.
    pub(super) fn follow(&mut self, now: Instant, leader: TabId, epoch: u64) {
        self.known_epoch = self.known_epoch.max(epoch);
        self.role = Role::Follower {
            leader,
            epoch,
            beat_at: now + self.config.tab_heartbeat,
            heard_at: now,
            ran_at: now,
        };
        self.interest.follow();
        self.say_hello();
        for message in self.pending.clone() {
            self.transmits
                .push_back(Transmit::Broadcast { text: message.text });
        }
        let commands = std::mem::take(&mut self.commands);
        if !commands.is_empty() {
            for (wanted, command) in [
                (commands.clear, "clear"),
                (commands.reconnect, "reconnect"),
                (commands.connect && !commands.reconnect, "connect"),
            ] {
                if wanted {
                    self.post(&Message::Command {
                        command: command.to_owned(),
                    });
                }
            }
        }
    }

    fn follower_message(
        &mut self,
        now: Instant,
        from: TabId,
        (leader, epoch): (TabId, u64),
        message: Received,
        text: &str,
    ) {
        if let Received::Other(Message::Lead { epoch: theirs }) = message {
            if from != leader && theirs >= epoch {
                // A new leader: the old one's lock was taken over, or it left.
                self.follow(now, from, theirs);
            } else if from == leader {
                self.heard_from_leader(now);
            }
            return;
        }
        if from != leader {
            if let Received::Other(Message::Hello { .. }) = message {
                self.saw_follower(from, now);
            }
            return;
        }
        // Only the heartbeat above says the leader is alive: it comes from the leader's
        // timers, which a frozen page stops. A frozen page may still answer messages (Chromium
        // runs a frozen page's channel messages), and an answer is no sign it will lead.
        match message {
            Received::Job {
                channel,
                id,
                seq,
                event,
                data,
                ..
            } => {
                if !self.interest.admit_job(channel, &id, seq) {
                    return;
                }
                // The leader decoded the same data before relaying it: a failure here is
                // another version's leader, and the event is skipped like an unknown one.
                let (decoded, payload) = match data {
                    JobData::Json(span) => (
                        text.get(span.clone())
                            .and_then(|json| JobEvent::decode(channel, &event, json).ok()),
                        Some(span),
                    ),
                    JobData::Relay(span) => (
                        text.get(span)
                            .and_then(|relay| JobEvent::from_relay_form(channel, &event, relay)),
                        None,
                    ),
                };
                if let Some(event) = decoded {
                    self.events.push_back(Event::Job(JobDelivery {
                        job_id: id,
                        seq,
                        event,
                        payload,
                    }));
                }
            }
            Received::Other(message) => self.leader_says(now, message),
        }
    }

    /// The leader's heartbeat came: it counts as silent `tab_timeout` from now.
    fn heard_from_leader(&mut self, now: Instant) {
        if let Role::Follower { heard_at, .. } = &mut self.role {
            *heard_at = now;
        }
    }

    fn leader_says(&mut self, now: Instant, message: Message) {
        match message {
            Message::State { state, .. } => self.mirror(now, &state),
            Message::AppEvent {
                channel,
                seq,
                event,
                data,
                ..
            } => {
                let numbered = matches!(
                    self.config.protocol,
                    crate::core::dialect::DialectConfig::V1
                );
                if self
                    .interest
                    .admit_app_event(channel.as_ref(), seq, &event, numbered)
                {
                    self.events.push_back(Event::Channel(ChannelDelivery {
                        channel,
                        seq,
                        event,
                        data,
                    }));
                }
            }
            Message::Ended { channel, id, .. } => self.end_job_here(channel, id),
            Message::Error { error, .. } => {
                let error = relayed_error(error);
                self.shown.last_error = Some(error.clone());
                self.events.push_back(Event::Error(error));
            }
            Message::Dropped { id, reason, .. } => {
                let reason = DropReason::from_name(&reason).unwrap_or(DropReason::Expired);
                self.events.push_back(Event::OutboxDropped { id, reason });
            }
            Message::OutboxSize { size, .. } => {
                self.shown.outbox_size = size;
                self.events.push_back(Event::OutboxSize(size));
            }
            Message::Heard { peer, n, .. } if peer == self.me => self.interest.heard(n),
            Message::Queued { ids, .. } => {
                self.pending.retain(|message| !ids.contains(&message.id));
            }
            Message::Bye => {
                // The leader left on purpose: its lock goes to a tab in line, which says so.
                self.wait_without_request(now);
            }
            _ => {}
        }
    }

    /// A job's subscription ended: this tab stops watching it, and its app hears so.
    pub(super) fn end_job_here(&mut self, channel: Channel, id: String) {
        if self.interest.end_job(channel, &id) {
            self.events.push_back(Event::SubscriptionEnded {
                channel,
                job_id: id,
            });
        }
    }

    /// Waits for the next leader; this tab is in line for the lock already.
    fn wait_without_request(&mut self, now: Instant) {
        self.role = Role::Waiting { heard_at: now };
    }

    /// Shows the leader's connection to this tab's app, with a status change when the status
    /// changed.
    fn mirror(&mut self, now: Instant, state: &SharedState) {
        let Some(status) = Status::from_name(&state.status) else {
            return;
        };
        let reason = state.reason.as_deref().and_then(StateReason::from_name);
        let before =
            |ms: Option<u64>| ms.map(|ms| Instant::from_millis(now.as_millis().saturating_sub(ms)));
        let mirrored = ConnectionState {
            status,
            reason,
            attempt: state.attempt,
            next_retry_at: state.retry_in_ms.map(|ms| now + Duration::from_millis(ms)),
            connected_at: before(state.connected_ago_ms),
            disconnected_at: before(state.disconnected_ago_ms),
            last_error: state.error.clone().map(relayed_error),
            request_id: state.request_id.clone(),
            client_id: state.client_id.clone(),
            server_heartbeat_ms: state.heartbeat_ms,
            outbox_size: state.outbox,
            recovered: state.recovered,
            transport: match state.transport.as_deref() {
                Some("websocket") => Some("websocket"),
                Some("polling") => Some("polling"),
                _ => None,
            },
        };
        let from = self.shown.status;
        self.shown = mirrored;
        if from != status {
            self.events.push_back(Event::StateChanged(StateChange {
                from,
                to: status,
                reason: reason.unwrap_or(StateReason::ConnectRequested),
            }));
        }
    }
}

/// Another tab's error, as this tab reports it.
fn relayed_error(error: SharedError) -> ClientError {
    ClientError::Relayed {
        code: ClientError::known_code(&error.code),
        message: error.message,
        server_code: error.server_code,
        job: error.job,
    }
}
