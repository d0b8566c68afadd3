//! The outbox side of the [`Client`]: sending, acks feeding back, persistence and restore.

use super::{Client, State};
use crate::core::outbox::{DropReason, Outbox};
use crate::core::output::{ClientError, Event, SocketId, StateReason, Transmit};
use crate::core::protocol::{ClientFrame, RawJson};
use crate::core::time::Instant;

impl Client {
    /// Queues an application message and returns its id (unique, the server's idempotency
    /// key). It goes out now when the connection is open, otherwise once it is; an idle client
    /// connects. The outbox is persisted after every change.
    pub fn send(&mut self, now: Instant, event: &str, data: RawJson) -> String {
        let mut id = String::from("m_");
        id.push_str(&self.ids.next_id());
        self.send_with_id(now, id.clone(), event, data);
        id
    }

    /// [`Client::send`] with an id made elsewhere: another tab's message, relayed by the tab
    /// that holds the connection (see [`crate::core::tabs`]). A message already queued under
    /// that id is not queued twice.
    pub fn send_with_id(&mut self, now: Instant, id: String, event: &str, data: RawJson) {
        if self.outbox.contains(&id) {
            return;
        }
        self.idle_since = None;
        if let Some(dropped) = self.outbox.push(
            id.clone(),
            event.to_owned(),
            data,
            now,
            self.config.outbox_max_messages,
        ) {
            self.drop_message(dropped, DropReason::Overflow);
        }
        self.persist_outbox();
        match self.state {
            State::Open { socket, .. } => self.flush_outbox(now, socket),
            State::Idle => self.start_attempt(now, StateReason::ConnectRequested),
            _ => self.pump_http_messages(now),
        }
    }
    /// Input: the outbox a previous page stored under this client's key. Unreadable text is
    /// reported and replaced; messages are delivered as if just sent (an idle client
    /// connects), expired ones dropped.
    pub fn restore_outbox(&mut self, now: Instant, text: &str) {
        match Outbox::decode(text) {
            Ok(outbox) => self.outbox = outbox,
            Err(reason) => {
                self.report(ClientError::StorageCorrupt { reason });
                self.persist_outbox();
                return;
            }
        }
        // The limit holds for what was stored too: a page with a larger limit, or anyone who
        // can write to this origin's storage, could have left more.
        let excess = self.outbox.trim_to(self.config.outbox_max_messages);
        if !excess.is_empty() {
            for id in excess {
                self.drop_message(id, DropReason::Overflow);
            }
            self.persist_outbox();
        }
        self.expire_outbox(now);
        if self.outbox.is_empty() {
            return;
        }
        self.idle_since = None;
        match self.state {
            State::Open { socket, .. } => self.flush_outbox(now, socket),
            State::Idle => self.start_attempt(now, StateReason::ConnectRequested),
            _ => self.pump_http_messages(now),
        }
    }
    /// Drops every queued message (reported as `cleared`) and stores the empty outbox: what
    /// an app calls when its user signs out, so nothing the user queued is sent later, on
    /// someone else's connection.
    pub fn clear_outbox(&mut self, now: Instant) {
        for id in self.outbox.clear() {
            self.drop_message(id, DropReason::Cleared);
        }
        self.persist_outbox();
        self.note_if_idle(now);
    }
    /// Input: storing the outbox failed (quota exceeded, storage blocked). The outbox keeps
    /// working in memory; the first failure is reported. (The driver removes the stored copy
    /// it could not replace: left there, its acked messages would be sent again after a
    /// reload.)
    pub fn handle_storage_failed(&mut self, _now: Instant, reason: &str) {
        if !self.storage_degraded {
            self.storage_degraded = true;
            self.report(ClientError::StorageDegraded {
                reason: reason.to_owned(),
            });
        }
    }
    pub(super) fn flush_outbox(&mut self, now: Instant, socket: SocketId) {
        if self.http.busy() {
            // The oldest message is on its way over HTTP: the rest follow it, in order, once
            // its answer came (and it is not sent twice at once).
            return;
        }
        let (frames, exhausted) = self.outbox.flush(socket, self.config.outbox_max_retries);
        for id in exhausted {
            self.drop_message(id, DropReason::RetriesExhausted);
        }
        for frame in &frames {
            self.send_frame(socket, frame);
        }
        if !self.dialect.acks_messages() {
            // A server that never acks: written to an open socket is as far as the client can
            // follow a message.
            for frame in &frames {
                if let ClientFrame::Message { id, .. } = frame {
                    self.outbox.ack(id);
                }
            }
        }
        self.persist_outbox();
        // The last message may have just been dropped: nothing left to wait for.
        self.note_if_idle(now);
    }
    pub(super) fn expire_outbox(&mut self, now: Instant) {
        let expired = self.outbox.expire(now, self.config.outbox_ttl);
        if !expired.is_empty() {
            for id in expired {
                self.drop_message(id, DropReason::Expired);
            }
            self.persist_outbox();
        }
    }
    pub(super) fn drop_message(&mut self, id: String, reason: DropReason) {
        self.events.push_back(Event::OutboxDropped { id, reason });
    }
    pub(super) fn persist_outbox(&mut self) {
        self.events.push_back(Event::OutboxSize(self.outbox.len()));
        if !self.storage_degraded {
            self.transmits.push_back(Transmit::PersistOutbox {
                text: self.outbox.encode(),
            });
        }
    }
}
