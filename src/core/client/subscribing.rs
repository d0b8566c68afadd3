//! The [`Client`]'s job subscriptions: subscribing (from a `seq` the app already has, for a
//! tab taking a connection over), going back for a tab that joins a job behind the others,
//! and unsubscribing.

use super::{Client, State};
use crate::core::output::{SocketId, StateReason};
use crate::core::protocol::{Channel, ClientFrame};
use crate::core::time::Instant;

impl Client {
    /// Starts watching a job. Subscriptions are reference-counted: the server hears of a job
    /// once however many times the app subscribes to it. An idle client connects.
    /// An id that [`crate::core::job_id_problem`] refuses is ignored: the bindings refuse it
    /// with an error before it gets here.
    pub fn subscribe(&mut self, now: Instant, channel: Channel, job_id: &str) {
        self.subscribe_from(now, channel, job_id, None);
    }

    /// [`Client::subscribe`] for an app that already has the job's events up to `since`: a new
    /// subscription starts after it (see [`crate::core::tabs`]: a tab taking the connection
    /// over continues where the tabs are). An existing subscription is unchanged.
    pub fn subscribe_from(
        &mut self,
        now: Instant,
        channel: Channel,
        job_id: &str,
        since: Option<u64>,
    ) {
        if crate::core::job_id_problem(job_id).is_some() {
            return;
        }
        self.idle_since = None;
        if !self.subscriptions.add(channel, job_id) {
            return;
        }
        if since.is_some() {
            self.subscriptions.start_after(channel, job_id, since);
        }
        if self.polling || matches!(self.state, State::PollingOnly) {
            self.schedule_poll(channel, job_id, now);
            if matches!(self.state, State::Open { .. }) {
                self.unconfirmed.push((channel, job_id.to_owned()));
            }
            self.issue_due_polls(now);
        }
        match self.state {
            State::Open { socket, .. } => {
                self.resubscribe_on(socket, channel, job_id);
            }
            State::Idle => self.start_attempt(now, StateReason::ConnectRequested),
            _ => {}
        }
    }

    /// Sends a watched job's `subscribe` on the open `socket`, from its last delivered `seq`
    /// where the wire replays.
    fn resubscribe_on(&mut self, socket: SocketId, channel: Channel, job_id: &str) {
        let since = self
            .subscriptions
            .since_for_subscribe(channel, job_id, self.dialect.replays());
        self.subscriptions.subscribe_sent(channel, job_id);
        let id = job_id.to_owned();
        self.send_frame(socket, &ClientFrame::Subscribe { channel, id, since });
        if !self.dialect.answers_subscribes() {
            self.confirmed(channel, job_id);
        }
    }

    /// Moves a watched job back to `since` (`None`: its start) when the app lacks events it
    /// has delivered: another tab joined the job behind this one (see [`crate::core::tabs`]).
    /// The job is subscribed again from there on an open socket, and the next poll counts its
    /// whole snapshot as news; the events come again, so the caller filters what each tab
    /// already has. Nothing happens on a wire that cannot replay, or for a job not watched or
    /// not ahead of `since`.
    pub fn rewind(&mut self, channel: Channel, job_id: &str, since: Option<u64>) {
        if !self.dialect.replays() || !self.subscriptions.rewind(channel, job_id, since) {
            return;
        }
        if let State::Open { socket, .. } = self.state {
            self.resubscribe_on(socket, channel, job_id);
        }
    }

    /// Drops one reference to a job's subscription; the last one tells the server.
    pub fn unsubscribe(&mut self, now: Instant, channel: Channel, job_id: &str) {
        if !self.subscriptions.remove(channel, job_id) {
            return;
        }
        self.forget_polling(channel, job_id);
        if let State::Open { socket, .. } = self.state {
            let id = job_id.to_owned();
            self.send_frame(socket, &ClientFrame::Unsubscribe { channel, id });
        }
        self.note_if_idle(now);
    }
}
