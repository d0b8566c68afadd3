//! The [`Client`]'s side of the app's own channels and event names: subscribing and listening,
//! and delivering their events (see [`crate::core::app_channels`]).

use super::{Client, State};
use crate::core::app_channels::Admission;
use crate::core::output::{ChannelDelivery, ClientError, Event, StateReason};
use crate::core::protocol::{ClientFrame, DecodeError, RawJson};
use crate::core::time::Instant;

impl Client {
    /// Starts watching an app channel (any name but `generation` and `composition`), such as
    /// `("workspace", "w_1")`. Reference-counted like jobs; an idle client connects.
    pub fn subscribe_channel(&mut self, now: Instant, channel: &str, id: &str) {
        self.idle_since = None;
        if !self.channels.add(channel, id) {
            return;
        }
        match self.state {
            State::Open { socket, .. } => {
                self.channels.subscribe_sent(channel, id);
                let frame = ClientFrame::Join {
                    channel: channel.to_owned(),
                    id: id.to_owned(),
                    since: None,
                };
                self.send_frame(socket, &frame);
                if !self.dialect.answers_subscribes() {
                    self.channels.answered(channel, id);
                }
            }
            State::Idle => self.start_attempt(now, StateReason::ConnectRequested),
            _ => {}
        }
    }

    /// Drops one reference to an app channel; the last one tells the server.
    pub fn unsubscribe_channel(&mut self, now: Instant, channel: &str, id: &str) {
        if !self.channels.remove(channel, id) {
            return;
        }
        if let State::Open { socket, .. } = self.state {
            let frame = ClientFrame::Leave {
                channel: channel.to_owned(),
                id: id.to_owned(),
            };
            self.send_frame(socket, &frame);
        }
        self.note_if_idle(now);
    }

    /// Listens to events named `event` from anywhere (a Socket.IO server's own rooms, a
    /// plain-JSON frame type): they are delivered as [`Event::Channel`]. An idle client
    /// connects.
    pub fn listen(&mut self, now: Instant, event: &str) {
        self.idle_since = None;
        self.channels.listen(event);
        if matches!(self.state, State::Idle) {
            self.start_attempt(now, StateReason::ConnectRequested);
        }
    }

    /// Stops one listener of `event`.
    pub fn unlisten(&mut self, now: Instant, event: &str) {
        self.channels.unlisten(event);
        self.note_if_idle(now);
    }

    /// An event of an app channel or by name, delivered once if anyone wants it.
    pub(super) fn deliver_channel_event(
        &mut self,
        channel: Option<(String, String)>,
        seq: Option<u64>,
        event: String,
        data: RawJson,
    ) {
        let key = channel
            .as_ref()
            .map(|(name, id)| (name.as_str(), id.as_str()));
        match self.channels.admit(key, seq, &event) {
            Admission::Deliver { seq, gap } => {
                if let (Some((expected, received)), Some((name, id))) = (gap, &channel) {
                    self.report(ClientError::ChannelSequenceGap {
                        channel: name.clone(),
                        id: id.clone(),
                        expected,
                        received,
                    });
                }
                self.events.push_back(Event::Channel(ChannelDelivery {
                    channel,
                    seq,
                    event,
                    data,
                }));
            }
            Admission::Drop => {}
            Admission::Backward {
                expected,
                received,
                since,
            } => {
                let Some((name, id)) = channel else { return };
                self.report(ClientError::ChannelSequenceBackward {
                    channel: name.clone(),
                    id: id.clone(),
                    expected,
                    received,
                    resubscribed: true,
                });
                if let State::Open { socket, .. } = self.state {
                    self.channels.subscribe_sent(&name, &id);
                    let frame = ClientFrame::Join {
                        channel: name,
                        id,
                        since,
                    };
                    self.send_frame(socket, &frame);
                }
            }
            Admission::Stale { expected, received } => {
                let Some((name, id)) = channel else { return };
                self.report(ClientError::ChannelSequenceBackward {
                    channel: name,
                    id,
                    expected,
                    received,
                    resubscribed: false,
                });
            }
            Admission::Unwanted => {
                self.report(ClientError::Decode(DecodeError::UnmappedEvent { event }))
            }
        }
    }
}
