//! The leading tab: its client, the followers it serves and what each watches, and the routing
//! of the client's events to its own app and to the followers.

use std::collections::VecDeque;
use std::mem;

use super::wire::{self, JobData, Message, Received, SharedError, SharedState, TabId, Watching};
use super::{PendingCommands, Role, Tab};
use crate::core::client::Client;
use crate::core::dialect::DialectConfig;
use crate::core::output::{
    ChannelDelivery, ClientError, ConnectionState, Event, JobDelivery, StateChange, Status,
    Transmit,
};
use crate::core::protocol::Channel;
use crate::core::time::Instant;

/// A follower, as its last `hello` described it.
#[derive(Debug)]
struct Peer {
    id: TabId,
    watching: Watching,
    heard_at: Instant,
}

/// What a leading tab runs.
#[derive(Debug)]
pub(super) struct Leader {
    /// Its term: one more than any heard of when it took the lock.
    pub(super) epoch: u64,
    pub(super) client: Client,
    peers: Vec<Peer>,
    /// What the client watches on behalf of the tabs, each once.
    jobs: Vec<(Channel, String)>,
    channels: Vec<(String, String)>,
    names: Vec<String>,
    /// When the others hear next that this leader is alive: `None` while no follower is
    /// known (a lone tab, or without sharing), so that a tab alone wakes only for its
    /// connection's own timers. A tab that joins asks who leads and says hello, which starts
    /// the heartbeat again.
    pub(super) beat_at: Option<Instant>,
    /// When this tab's timers last ran as leader. A page whose timers stop (frozen) may still
    /// handle messages, so those do not count.
    pub(super) ran_at: Instant,
    /// The latest messages of other tabs this leader queued: a sender that hears of a new
    /// leader before it hears its message was taken sends it again, and it must not go to
    /// the server twice (it may be acked and out of the outbox already).
    taken: VecDeque<String>,
}

/// How many taken message ids a leader remembers.
const TAKEN_REMEMBERED: usize = 256;

impl Leader {
    /// Records a message of another tab as queued; false if it already was.
    fn take(&mut self, id: &str) -> bool {
        if self.taken.iter().any(|taken| taken == id) {
            return false;
        }
        if self.taken.len() == TAKEN_REMEMBERED {
            self.taken.pop_front();
        }
        self.taken.push_back(id.to_owned());
        true
    }
}

/// A follower unheard of for this many `tab_timeout`s is gone (a crashed tab says no `bye`);
/// a throttled background tab still says `hello` far more often.
const PEER_TIMEOUTS: u32 = 3;

impl Tab {
    /// Takes the lead: a new client with the stored outbox, watching what every tab watches
    /// from where each is, and connecting if the connection was wanted.
    pub(super) fn lead(
        &mut self,
        now: Instant,
        stored: Result<Option<String>, String>,
        pending: Vec<String>,
    ) {
        self.known_epoch += 1;
        self.clients_run += 1;
        let mut client = Client::with_first_io_id(self.config.clone(), self.clients_run << 32);
        if !self.online {
            client.handle_offline(now);
        }
        if !self.websocket_available {
            client.handle_websocket_unavailable(now);
        }
        match stored {
            Ok(Some(text)) => client.restore_outbox(now, &text),
            Ok(None) => {}
            Err(reason) => client.handle_storage_failed(now, &reason),
        }
        let own = self.pending.drain(..).map(|message| message.text);
        let mut adopted = Vec::new();
        for text in pending.into_iter().chain(own) {
            if let Some((_, Received::Other(Message::Send { id, event, data }))) =
                wire::decode(&text)
            {
                client.send_with_id(now, id.clone(), &event, data);
                self.transmits.push_back(Transmit::RemovePending {
                    id: Some(id.clone()),
                });
                adopted.push(id);
            }
        }
        let commands = mem::take(&mut self.commands);
        if commands.clear {
            client.clear_outbox(now);
            self.transmits
                .push_back(Transmit::RemovePending { id: None });
        }
        self.interest.lead();
        let was_active = !matches!(self.shown.status, Status::Idle | Status::Closed);
        let epoch = self.known_epoch;
        self.role = Role::Leader(Box::new(Leader {
            epoch,
            client,
            peers: Vec::new(),
            jobs: Vec::new(),
            channels: Vec::new(),
            names: Vec::new(),
            beat_at: None,
            ran_at: now,
            taken: VecDeque::new(),
        }));
        if let Role::Leader(leader) = &mut self.role {
            for id in &adopted {
                leader.take(id);
            }
        }
        self.sync_client(now);
        if let Role::Leader(leader) = &mut self.role {
            if commands.reconnect {
                leader.client.reconnect(now);
            } else if self.wants_connection || commands.connect || was_active {
                leader.client.connect(now);
            }
        }
        self.post(&Message::Lead { epoch });
        if !adopted.is_empty() {
            // Their senders, if still open, can forget them.
            self.post(&Message::Queued {
                epoch,
                ids: adopted,
            });
        }
        self.pump(now, None);
        self.post_state(now);
    }

    /// A leader whose timers did not run for longer than `tab_timeout` (its page was frozen,
    /// or its timers throttled) while followers were there has been replaced, or is about to
    /// be: they heard no heartbeat and took its lock over. It steps down before it handles
    /// anything, so that what its old socket delivered meanwhile (an ack, say), or a message
    /// a frozen page still gets, never makes it write the outbox over the new leader's: the
    /// outbox has one writer. True when it stepped down.
    pub(super) fn step_down_if_woken(&mut self, now: Instant) -> bool {
        let timeout = self.config.tab_timeout;
        let Role::Leader(leader) = &mut self.role else {
            return false;
        };
        let slept = now.saturating_since(leader.ran_at) > timeout;
        if !(self.shared && slept && !leader.peers.is_empty()) {
            return false;
        }
        self.stop_leading(now);
        self.transmits.push_back(Transmit::ReleaseLock);
        self.wait(now);
        true
    }

    /// Stops the client: its socket closes, its timers stop; nothing else of it reaches the
    /// app, which keeps what it was shown until the next leader's state comes.
    pub(super) fn stop_leading(&mut self, now: Instant) {
        let Role::Leader(leader) = mem::replace(&mut self.role, Role::Detached) else {
            return;
        };
        let mut client = leader.client;
        self.shown = client.state();
        client.close(now);
        while let Some(transmit) = client.poll_transmit() {
            if let Transmit::CloseSocket { .. } = transmit {
                self.transmits.push_back(transmit);
            }
        }
    }

    /// Makes the client watch what the tabs watch: each job once, from the lowest `seq` any
    /// watcher has; and nothing nobody watches.
    pub(super) fn sync_client(&mut self, now: Instant) {
        let own = self.interest.watching();
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let mut jobs = own.jobs;
        let mut channels = own.channels;
        let mut names = own.names;
        for peer in &leader.peers {
            for (channel, id, since) in &peer.watching.jobs {
                match jobs.iter_mut().find(|(c, i, _)| c == channel && i == id) {
                    Some(known) => known.2 = known.2.min(*since),
                    None => jobs.push((*channel, id.clone(), *since)),
                }
            }
            for (name, id, since) in &peer.watching.channels {
                if !channels.iter().any(|(n, i, _)| n == name && i == id) {
                    channels.push((name.clone(), id.clone(), *since));
                }
            }
            for name in &peer.watching.names {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        let client = &mut leader.client;
        for (channel, id, since) in &jobs {
            if !leader.jobs.iter().any(|(c, i)| c == channel && i == id) {
                client.subscribe_from(now, *channel, id, *since);
                leader.jobs.push((*channel, id.clone()));
            }
        }
        leader.jobs.retain(|(channel, id)| {
            let wanted = jobs.iter().any(|(c, i, _)| c == channel && i == id);
            if !wanted {
                client.unsubscribe(now, *channel, id);
            }
            wanted
        });
        for (name, id, _) in &channels {
            if !leader.channels.iter().any(|(n, i)| n == name && i == id) {
                client.subscribe_channel(now, name, id);
                leader.channels.push((name.clone(), id.clone()));
            }
        }
        leader.channels.retain(|(name, id)| {
            let wanted = channels.iter().any(|(n, i, _)| n == name && i == id);
            if !wanted {
                client.unsubscribe_channel(now, name, id);
            }
            wanted
        });
        for name in &names {
            if !leader.names.contains(name) {
                client.listen(now, name);
                leader.names.push(name.clone());
            }
        }
        leader.names.retain(|name| {
            let wanted = names.contains(name);
            if !wanted {
                client.unlisten(now, name);
            }
            wanted
        });
    }

    /// A tab started watching a job: if the client already watches it and is past `since`,
    /// it goes back so the server replays what that tab lacks.
    pub(super) fn rewind_for_new_watcher(
        &mut self,
        channel: Channel,
        id: &str,
        since: Option<u64>,
    ) {
        if let Role::Leader(leader) = &mut self.role
            && leader.jobs.iter().any(|(c, i)| *c == channel && i == id)
        {
            leader.client.rewind(channel, id, since);
        }
    }

    /// A message from another tab, to the leader.
    pub(super) fn lead_message(&mut self, now: Instant, from: TabId, message: Received) {
        let Received::Other(message) = message else {
            return;
        };
        match message {
            Message::Who => {
                if let Role::Leader(leader) = &self.role {
                    let epoch = leader.epoch;
                    self.post(&Message::Lead { epoch });
                    self.post_state(now);
                }
            }
            Message::Hello { watching, n } => {
                self.peer_hello(now, from, watching);
                let epoch = self.epoch();
                self.post(&Message::Heard {
                    epoch,
                    peer: from,
                    n,
                });
            }
            Message::Bye => {
                if let Role::Leader(leader) = &mut self.role {
                    leader.peers.retain(|peer| peer.id != from);
                }
                self.beat_while_followed(now);
                self.sync_client(now);
                self.pump(now, None);
            }
            Message::Send { id, event, data } => {
                self.peer_heard(now, from);
                if let Role::Leader(leader) = &mut self.role {
                    if leader.take(&id) {
                        leader.client.send_with_id(now, id.clone(), &event, data);
                    }
                    let epoch = leader.epoch;
                    self.pump(now, None);
                    self.transmits.push_back(Transmit::RemovePending {
                        id: Some(id.clone()),
                    });
                    let ids = vec![id];
                    self.post(&Message::Queued { epoch, ids });
                }
            }
            Message::Command { command } => {
                self.peer_heard(now, from);
                if let Role::Leader(leader) = &mut self.role {
                    match command.as_str() {
                        "connect" => leader.client.connect(now),
                        "reconnect" => leader.client.reconnect(now),
                        "clear" => {
                            leader.client.clear_outbox(now);
                            self.transmits
                                .push_back(Transmit::RemovePending { id: None });
                        }
                        _ => {}
                    }
                }
                self.pump(now, None);
            }
            Message::Lead { epoch } => {
                // Another tab leads under a later term (it took the lock while this one was
                // frozen), or under the same term and a greater id (two took it at once: the
                // lock tells them apart, and this one yields here too).
                let mine = match &self.role {
                    Role::Leader(leader) => leader.epoch,
                    _ => return,
                };
                if epoch > mine || (epoch == mine && from > self.me) {
                    self.stop_leading(now);
                    self.transmits.push_back(Transmit::ReleaseLock);
                    self.wait(now);
                    self.follow(now, from, epoch);
                }
            }
            _ => {}
        }
    }

    fn peer_heard(&mut self, now: Instant, from: TabId) {
        if let Role::Leader(leader) = &mut self.role
            && let Some(peer) = leader.peers.iter_mut().find(|peer| peer.id == from)
        {
            peer.heard_at = now;
        }
    }

    /// A follower said what it watches: the jobs new to it are replayed from where it is if
    /// the client is ahead, and the client follows the union.
    fn peer_hello(&mut self, now: Instant, from: TabId, watching: Watching) {
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let previous = match leader.peers.iter_mut().find(|peer| peer.id == from) {
            Some(peer) => {
                peer.heard_at = now;
                mem::replace(&mut peer.watching, watching.clone())
            }
            None => {
                leader.peers.push(Peer {
                    id: from,
                    watching: watching.clone(),
                    heard_at: now,
                });
                Watching::default()
            }
        };
        self.beat_while_followed(now);
        for (channel, id, since) in &watching.jobs {
            let known = previous
                .jobs
                .iter()
                .any(|(c, i, _)| c == channel && i == id);
            if !known {
                self.rewind_for_new_watcher(*channel, id, *since);
            }
        }
        self.sync_client(now);
        self.pump(now, None);
    }

    /// Forgets followers silent for too long (their tab crashed): what only they watched is
    /// unsubscribed.
    pub(super) fn forget_silent_peers(&mut self, now: Instant) {
        let limit = self.config.tab_timeout * PEER_TIMEOUTS;
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let before = leader.peers.len();
        leader
            .peers
            .retain(|peer| now.saturating_since(peer.heard_at) < limit);
        if leader.peers.len() != before {
            self.beat_while_followed(now);
            self.sync_client(now);
            self.pump(now, None);
        }
    }

    /// Keeps the heartbeat going while some follower is known, and only then: a follower needs
    /// it to know the leader's timers run, a tab alone needs nothing. A heartbeat that starts
    /// again counts as the leader's timers having run now, so that a leader idle without
    /// followers is not taken for one that was frozen (see [`Tab::step_down_if_woken`]).
    fn beat_while_followed(&mut self, now: Instant) {
        let heartbeat = self.config.tab_heartbeat;
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        if leader.peers.is_empty() {
            leader.beat_at = None;
        } else if leader.beat_at.is_none() && self.shared {
            leader.beat_at = Some(now + heartbeat);
            leader.ran_at = now;
        }
    }

    /// Hands out what the client produced: its transmits as they are, its events to this
    /// tab's app (what it watches and has not had) and to the followers that watch them.
    /// `frame` is the text the client's input came with, whose slices events are relayed as.
    pub(super) fn pump(&mut self, now: Instant, frame: Option<&str>) {
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        while let Some(transmit) = leader.client.poll_transmit() {
            self.transmits.push_back(transmit);
        }
        let mut events = Vec::new();
        while let Some(event) = leader.client.poll_event() {
            events.push(event);
        }
        if events.is_empty() {
            return;
        }
        let mut state_changed = false;
        for event in events {
            match event {
                Event::StateChanged(change) => {
                    state_changed = true;
                    let from = self.shown.status;
                    self.shown.status = change.to;
                    if from != change.to {
                        self.events
                            .push_back(Event::StateChanged(StateChange { from, ..change }));
                    }
                }
                Event::Job(delivery) => self.route_job(delivery, frame),
                Event::Channel(delivery) => self.route_app_event(delivery),
                Event::SubscriptionEnded { channel, job_id } => {
                    self.job_ended(channel, &job_id);
                }
                Event::OutboxDropped { id, reason } => {
                    let message = Message::Dropped {
                        epoch: self.epoch(),
                        id: id.clone(),
                        reason: reason.as_str().to_owned(),
                    };
                    self.post(&message);
                    self.events.push_back(Event::OutboxDropped { id, reason });
                }
                Event::OutboxSize(size) => {
                    let epoch = self.epoch();
                    self.post(&Message::OutboxSize { epoch, size });
                    self.events.push_back(Event::OutboxSize(size));
                }
                Event::Error(error) => {
                    state_changed = true;
                    let epoch = self.epoch();
                    let error_shared = shared_error(&error);
                    self.post(&Message::Error {
                        epoch,
                        error: error_shared,
                    });
                    self.events.push_back(Event::Error(error));
                }
            }
        }
        if let Role::Leader(leader) = &self.role {
            self.shown = leader.client.state();
        }
        if state_changed {
            self.post_state(now);
        }
    }

    fn epoch(&self) -> u64 {
        match &self.role {
            Role::Leader(leader) => leader.epoch,
            _ => self.known_epoch,
        }
    }

    fn peers_watch(&self, test: impl Fn(&Watching) -> bool) -> bool {
        match &self.role {
            Role::Leader(leader) => leader.peers.iter().any(|peer| test(&peer.watching)),
            _ => false,
        }
    }

    fn route_job(&mut self, delivery: JobDelivery, frame: Option<&str>) {
        let channel = delivery.event.channel();
        let id = delivery.job_id.as_str();
        let watched_by_peer = self.peers_watch(|watching| {
            watching
                .jobs
                .iter()
                .any(|(c, i, _)| *c == channel && i == id)
        });
        if watched_by_peer {
            let spanned = delivery
                .payload
                .as_ref()
                .zip(frame)
                .and_then(|(span, frame)| frame.get(span.clone()));
            let relay;
            let data = match spanned {
                Some(data) => JobData::Json(data),
                None => {
                    relay = delivery.event.relay_form();
                    JobData::Relay(relay.as_str())
                }
            };
            let text = wire::encode_job(
                self.me,
                self.epoch(),
                (channel, id),
                delivery.seq,
                delivery.event.name(),
                data,
            );
            self.transmits.push_back(Transmit::Broadcast { text });
        }
        if self.interest.admit_job(channel, id, delivery.seq) {
            self.events.push_back(Event::Job(delivery));
        }
    }

    fn route_app_event(&mut self, delivery: ChannelDelivery) {
        let numbered = matches!(self.config.protocol, DialectConfig::V1);
        let watched_by_peer = self.peers_watch(|watching| match &delivery.channel {
            Some((name, id)) => watching
                .channels
                .iter()
                .any(|(n, i, _)| n == name && i == id),
            None => !watching.channels.is_empty(),
        } || watching.names.contains(&delivery.event));
        if watched_by_peer {
            let message = Message::AppEvent {
                epoch: self.epoch(),
                channel: delivery.channel.clone(),
                seq: delivery.seq,
                event: delivery.event.clone(),
                data: delivery.data.clone(),
            };
            self.post(&message);
        }
        if self.interest.admit_app_event(
            delivery.channel.as_ref(),
            delivery.seq,
            &delivery.event,
            numbered,
        ) {
            self.events.push_back(Event::Channel(delivery));
        }
    }

    /// A job's subscription ended after its terminal event: every tab stops watching it.
    fn job_ended(&mut self, channel: Channel, id: &str) {
        if let Role::Leader(leader) = &mut self.role {
            leader.jobs.retain(|(c, i)| !(*c == channel && i == id));
            for peer in &mut leader.peers {
                peer.watching
                    .jobs
                    .retain(|(c, i, _)| !(*c == channel && i == id));
            }
        }
        let epoch = self.epoch();
        self.post(&Message::Ended {
            epoch,
            channel,
            id: id.to_owned(),
        });
        self.end_job_here(channel, id.to_owned());
    }

    /// Tells the followers what the connection is now.
    pub(super) fn post_state(&mut self, now: Instant) {
        if let Role::Leader(leader) = &self.role {
            let state = Box::new(shared_state(&leader.client.state(), now));
            let epoch = leader.epoch;
            self.post(&Message::State { epoch, state });
        }
    }
}

impl PendingCommands {
    /// Nothing waits.
    pub(super) fn is_empty(self) -> bool {
        !(self.connect || self.reconnect || self.clear)
    }
}

/// An error as another tab's app gets it.
pub(super) fn shared_error(error: &ClientError) -> SharedError {
    let (server_code, job) = match error {
        ClientError::Server { code, job, .. } => (Some(code.clone()), job.clone()),
        ClientError::Relayed {
            server_code, job, ..
        } => (server_code.clone(), job.clone()),
        _ => (None, None),
    };
    SharedError {
        code: error.code().to_owned(),
        message: error.to_string(),
        server_code,
        job,
    }
}

/// The snapshot as another tab gets it: instants as ages at `now`.
fn shared_state(state: &ConnectionState, now: Instant) -> SharedState {
    let age = |at: Option<Instant>| at.map(|at| ms(now.saturating_since(at)));
    SharedState {
        status: state.status.as_str().to_owned(),
        reason: state.reason.map(|reason| reason.as_str().to_owned()),
        attempt: state.attempt,
        retry_in_ms: state.next_retry_at.map(|at| ms(at.saturating_since(now))),
        connected_ago_ms: age(state.connected_at),
        disconnected_ago_ms: age(state.disconnected_at),
        error: state.last_error.as_ref().map(shared_error),
        request_id: state.request_id.clone(),
        client_id: state.client_id.clone(),
        heartbeat_ms: state.server_heartbeat_ms,
        outbox: state.outbox_size,
        recovered: state.recovered,
        transport: state.transport.map(str::to_owned),
    }
}

fn ms(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
