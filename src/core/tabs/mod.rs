//! One connection for all the tabs of an app: the tabs of one origin with the same server URL
//! and storage key elect a leader, which alone runs a [`Client`] (the socket, the polling, the
//! outbox and its storage); the others follow it over a channel, as if they had a socket of
//! their own.
//!
//! The leader is the tab holding the app's lock (Web Locks in the browser): a tab asks for it
//! when it starts and waits in line; when the holder's tab closes, reloads or crashes, the
//! browser gives it to the next tab. A frozen or hung leader keeps its lock, so the leader
//! says it is alive every `tab_heartbeat`; after `tab_timeout` of silence a follower takes the
//! lock over (a steal), and the old leader, once it runs again, learns that it lost the lock
//! (or hears the new leader's higher term) and follows.
//!
//! - Subscriptions are counted across tabs: the leader's client watches a job while any tab
//!   does. Each tab remembers the last `seq` it delivered of each job, sends it to every new
//!   leader, and drops what it already has; a tab that joins a job the client is ahead on
//!   makes the client go back (`Client::rewind`), so the server replays what it lacks. No tab
//!   misses or repeats an event, through any number of handoffs.
//! - Events go to every tab that watches their job; the connection's state is mirrored, so each
//!   tab's state, listeners and hooks behave as if it had its own socket.
//! - `send` from any tab goes into the leader's outbox under an id the sending tab made; the
//!   sender keeps the message until the leader says it is stored, and gives it to the next
//!   leader otherwise. The outbox has one writer: the leader.
//! - Only the leader asks for a token.
//!
//! Without sharing (the option off, or a browser without Web Locks), a tab is its own leader
//! from the start and never talks to another.
//!
//! The calling contract is the [`Client`]'s: commands and inputs with `now`, then
//! `poll_transmit`, `poll_event`, `poll_timeout`. The driver adds the lock and the channel:
//! it carries out [`Transmit::RequestLock`], [`Transmit::StealLock`],
//! [`Transmit::ReleaseLock`] and [`Transmit::Broadcast`], and reports
//! `handle_lock_acquired` (with the stored outbox, read then), `handle_lock_lost` and
//! `handle_tab_message`.

mod follower;
mod interest;
mod leader;
pub mod wire;

use std::collections::VecDeque;

use interest::Interest;
use leader::Leader;
use wire::{Message, TabId};

use super::client::Client;
use super::config::Config;
use super::ids::IdGenerator;
use super::outbox::DropReason;
use super::output::{
    ClientError, ConnectionState, Event, StateChange, StateReason, Status, Timer, Transmit,
};
use super::protocol::{Channel, RawJson};

use super::time::Instant;

/// What this tab is to the others.
#[derive(Debug)]
enum Role {
    /// In line for the lock, no leader known yet (since `heard_at`).
    Waiting {
        heard_at: Instant,
    },
    /// Following `leader`, of term `epoch`.
    Follower {
        leader: TabId,
        epoch: u64,
        /// When this tab next tells the leader what it watches.
        beat_at: Instant,
        /// When the leader's heartbeat last came.
        heard_at: Instant,
        /// When this tab's timers last ran.
        ran_at: Instant,
    },
    Leader(Box<Leader>),
    /// Closed by the app: out of the line, following nobody, until `connect`.
    Detached,
}

/// A message the app sent that is not in the shared outbox yet: its id, and the `send`
/// message that carries it to a leader, as posted and as stored (see [`Transmit::StorePending`]).
#[derive(Debug, Clone)]
struct PendingSend {
    id: String,
    text: String,
}

/// Commands of this tab's app waiting for a leader to carry them out.
#[derive(Debug, Default, Clone, Copy)]
struct PendingCommands {
    connect: bool,
    reconnect: bool,
    clear: bool,
}

/// One tab's side of the shared connection. See the module doc.
#[derive(Debug)]
pub struct Tab {
    config: Config,
    /// Whether this tab talks to others at all.
    shared: bool,
    me: TabId,
    /// Message ids: a follower's message is queued by the leader under the id it made.
    ids: IdGenerator,
    /// The other followers this tab heard say hello, and when: ranked by id, they take a
    /// silent leader's lock over one heartbeat apart, so they do not do it together.
    others: Vec<(TabId, Instant)>,
    role: Role,
    interest: Interest,
    /// The app wants a connection (it connected, subscribed or sent, and did not close).
    wants_connection: bool,
    online: bool,
    websocket_available: bool,
    /// The highest leader term heard of.
    known_epoch: u64,
    /// How many clients this tab has run, so each gets its own range of request ids.
    clients_run: u64,
    /// What this tab's app sees of the connection: the leader's own client, or its mirror.
    shown: ConnectionState,
    pending: Vec<PendingSend>,
    /// Storing a pending message failed once, and that was reported.
    pending_storage_degraded: bool,
    commands: PendingCommands,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Tab {
    /// A tab for `config`; with `config.share_across_tabs`, it asks for the lock and asks who
    /// leads. Without, the driver calls `handle_lock_acquired` at once.
    pub fn new(config: Config, now: Instant) -> Self {
        let mut key = config.id_key;
        // Message ids come from this key, request ids from the client's: never the same ids.
        key[15] ^= 0x80;
        let me = u64::from_le_bytes([
            key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7],
        ]);
        let shown = Client::new(config.clone()).state();
        let mut tab = Tab {
            shared: config.share_across_tabs,
            me,
            ids: IdGenerator::new(key),
            others: Vec::new(),
            role: Role::Waiting { heard_at: now },
            interest: Interest::default(),
            wants_connection: false,
            online: true,
            websocket_available: true,
            known_epoch: 0,
            clients_run: 0,
            shown,
            pending: Vec::new(),
            pending_storage_degraded: false,
            commands: PendingCommands::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            config,
        };
        tab.join(now);
        tab
    }

    /// What this tab is: "leader", "follower", "waiting" (for a leader to answer or the lock),
    /// "closed" (by the app), or "off" without sharing.
    pub fn role_name(&self) -> &'static str {
        match self.role {
            _ if !self.shared => "off",
            Role::Waiting { .. } => "waiting",
            Role::Follower { .. } => "follower",
            Role::Leader(_) => "leader",
            Role::Detached => "closed",
        }
    }

    /// The connection as this tab's app sees it; the outbox counts this tab's messages not
    /// in the shared outbox yet.
    pub fn state(&self) -> ConnectionState {
        match &self.role {
            Role::Leader(leader) => leader.client.state(),
            _ => ConnectionState {
                outbox_size: self.shown.outbox_size + self.pending.len(),
                ..self.shown.clone()
            },
        }
    }

    /// The options this tab runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The leader's client, for the driver's socket, token and poll inputs: `None` in a tab
    /// that does not lead, where such an input is a late one of a client it no longer runs.
    fn client(&mut self) -> Option<&mut Client> {
        match &mut self.role {
            Role::Leader(leader) => Some(&mut leader.client),
            _ => None,
        }
    }

    /// Runs `input` on the leader's client, then hands out what followed; `frame` is the text
    /// the input came with, whose slices relayed events copy.
    pub fn on_client(
        &mut self,
        now: Instant,
        frame: Option<&str>,
        input: impl FnOnce(&mut Client),
    ) {
        if self.step_down_if_woken(now) {
            return;
        }
        if let Some(client) = self.client() {
            input(client);
            self.pump(now, frame);
        }
    }

    // ----- app commands -----

    /// Wants a connection; a closed tab joins the others again.
    pub fn connect(&mut self, now: Instant) {
        self.step_down_if_woken(now);
        self.wants_connection = true;
        match &mut self.role {
            Role::Leader(leader) => leader.client.connect(now),
            Role::Follower { .. } => self.post(&Message::Command {
                command: "connect".to_owned(),
            }),
            Role::Waiting { .. } => self.commands.connect = true,
            Role::Detached => self.join(now),
        }
        self.pump(now, None);
    }

    /// Connects again now (the shared connection, whichever tab holds it).
    pub fn reconnect(&mut self, now: Instant) {
        self.step_down_if_woken(now);
        self.wants_connection = true;
        match &mut self.role {
            Role::Leader(leader) => leader.client.reconnect(now),
            Role::Follower { .. } => self.post(&Message::Command {
                command: "reconnect".to_owned(),
            }),
            Role::Waiting { .. } => self.commands.reconnect = true,
            Role::Detached => self.join(now),
        }
        self.pump(now, None);
    }

    /// This tab leaves the shared connection: nothing more is delivered here until `connect`.
    /// A leader hands the connection to the next tab (or closes it, if it is the last).
    pub fn close(&mut self, now: Instant) {
        self.wants_connection = false;
        self.commands = PendingCommands::default();
        if matches!(self.role, Role::Detached) {
            return;
        }
        self.leave(now);
        let from = self.shown.status;
        self.shown.status = Status::Closed;
        self.shown.reason = Some(StateReason::ClosedByApp);
        self.shown.transport = None;
        if from != Status::Closed {
            self.events.push_back(Event::StateChanged(StateChange {
                from,
                to: Status::Closed,
                reason: StateReason::ClosedByApp,
            }));
        }
    }

    /// Leaves the others without a word to the app: the lock goes back, a leader's socket
    /// closes, the other tabs are told. What a page that goes away does.
    pub fn leave(&mut self, now: Instant) {
        let attached = !matches!(self.role, Role::Detached);
        if let Role::Leader(_) = self.role {
            self.stop_leading(now);
        }
        if self.shared && attached {
            self.post(&Message::Bye);
            self.transmits.push_back(Transmit::ReleaseLock);
        }
        self.role = Role::Detached;
    }

    /// Starts watching a job, for this tab's app.
    pub fn subscribe(&mut self, now: Instant, channel: Channel, job_id: &str) {
        if crate::core::job_id_problem(job_id).is_some() {
            return;
        }
        self.wants_connection = true;
        if self.interest.add_job(channel, job_id) {
            self.interest_changed(now, Some((channel, job_id)));
        }
    }

    /// Drops one reference to a job.
    pub fn unsubscribe(&mut self, now: Instant, channel: Channel, job_id: &str) {
        if self.interest.remove_job(channel, job_id) {
            self.interest_changed(now, None);
        }
    }

    /// Starts watching an app channel.
    pub fn subscribe_channel(&mut self, now: Instant, name: &str, id: &str) {
        self.wants_connection = true;
        if self.interest.add_channel(name, id) {
            self.interest_changed(now, None);
        }
    }

    pub fn unsubscribe_channel(&mut self, now: Instant, name: &str, id: &str) {
        if self.interest.remove_channel(name, id) {
            self.interest_changed(now, None);
        }
    }

    /// Listens to events named `event`.
    pub fn listen(&mut self, now: Instant, event: &str) {
        self.wants_connection = true;
        if self.interest.listen(event) {
            self.interest_changed(now, None);
        }
    }

    pub fn unlisten(&mut self, now: Instant, event: &str) {
        if self.interest.unlisten(event) {
            self.interest_changed(now, None);
        }
    }

    /// Queues an app message in the shared outbox; returns its id.
    pub fn send(&mut self, now: Instant, event: &str, data: RawJson) -> String {
        self.step_down_if_woken(now);
        let mut id = String::from("m_");
        id.push_str(&self.ids.next_id());
        self.wants_connection = true;
        if let Role::Leader(leader) = &mut self.role {
            leader.client.send_with_id(now, id.clone(), event, data);
            self.pump(now, None);
            return id;
        }
        // Not the outbox's writer: the message is stored under a key of its own, which only
        // this tab writes and a leader removes once the message is in the outbox, so that it
        // outlives this tab even while no tab leads.
        let text = wire::encode(
            self.me,
            &Message::Send {
                id: id.clone(),
                event: event.to_owned(),
                data,
            },
        );
        self.transmits.push_back(Transmit::StorePending {
            id: id.clone(),
            text: text.clone(),
        });
        if let Role::Follower { .. } = self.role {
            self.transmits
                .push_back(Transmit::Broadcast { text: text.clone() });
        }
        self.pending.push(PendingSend {
            id: id.clone(),
            text,
        });
        id
    }

    /// Drops every queued message, this tab's not yet shared and the shared outbox's.
    pub fn clear_outbox(&mut self, now: Instant) {
        self.step_down_if_woken(now);
        for message in self.pending.drain(..) {
            self.transmits.push_back(Transmit::RemovePending {
                id: Some(message.id.clone()),
            });
            self.events.push_back(Event::OutboxDropped {
                id: message.id,
                reason: DropReason::Cleared,
            });
        }
        match &mut self.role {
            Role::Leader(leader) => {
                leader.client.clear_outbox(now);
                self.transmits
                    .push_back(Transmit::RemovePending { id: None });
            }
            Role::Follower { .. } => self.post(&Message::Command {
                command: "clear".to_owned(),
            }),
            Role::Waiting { .. } | Role::Detached => self.commands.clear = true,
        }
        self.pump(now, None);
    }

    // ----- inputs -----

    /// Input: the browser's network state.
    pub fn handle_online(&mut self, now: Instant) {
        self.online = true;
        self.on_client(now, None, |client| client.handle_online(now));
    }

    pub fn handle_offline(&mut self, now: Instant) {
        self.online = false;
        self.on_client(now, None, |client| client.handle_offline(now));
    }

    /// Input: storing a message that is not in the shared outbox yet failed (a full or
    /// blocked `localStorage`): it is kept in memory until a leader takes it, which is reported
    /// once.
    pub fn handle_pending_storage_failed(&mut self, _now: Instant, reason: &str) {
        if !self.pending_storage_degraded {
            self.pending_storage_degraded = true;
            self.events
                .push_back(Event::Error(ClientError::StorageDegraded {
                    reason: reason.to_owned(),
                }));
        }
    }

    /// Input: the page became visible.
    pub fn handle_visible(&mut self, now: Instant) {
        self.on_client(now, None, |client| client.handle_visible(now));
    }

    /// Input: the browser has no usable WebSocket.
    pub fn handle_websocket_unavailable(&mut self, now: Instant) {
        self.websocket_available = false;
        self.on_client(now, None, |client| client.handle_websocket_unavailable(now));
    }

    /// Input: this tab holds the lock now and leads; `stored` is the outbox as stored (read
    /// now: the previous leader may have written it up to its end), `pending` every message
    /// stored by a tab that could not hand it to a leader (see [`Transmit::StorePending`]).
    pub fn handle_lock_acquired(
        &mut self,
        now: Instant,
        stored: Result<Option<String>, String>,
        pending: Vec<String>,
    ) {
        match self.role {
            Role::Leader(_) => return,
            Role::Detached => {
                self.transmits.push_back(Transmit::ReleaseLock);
                return;
            }
            _ => {}
        }
        self.lead(now, stored, pending);
    }

    /// Input: another tab took the lock (this one was silent too long).
    pub fn handle_lock_lost(&mut self, now: Instant) {
        if let Role::Leader(_) = self.role {
            self.stop_leading(now);
            self.wait(now);
        }
    }

    /// Input: the time is `now`; acts on every deadline passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.on_client(now, None, |client| client.handle_timeout(now));
        let heartbeat = self.config.tab_heartbeat;
        // A follower whose own timers did not run for longer than the timeout (a background
        // tab throttled to a wake-up a minute, a frozen page) did not watch the leader all
        // that time, and a leader that forgot it meanwhile stopped beating for it: it says
        // hello below and gives the leader a timeout to answer before it takes anything over.
        if let Role::Follower {
            heard_at, ran_at, ..
        } = &mut self.role
        {
            if now.saturating_since(*ran_at) > self.config.tab_timeout {
                *heard_at = now;
            }
            *ran_at = now;
        }
        let silent = self.silence_deadline().is_some_and(|at| at <= now);
        match &mut self.role {
            Role::Leader(leader) => {
                leader.ran_at = now;
                if leader.beat_at.is_some_and(|at| at <= now) {
                    leader.beat_at = Some(now + heartbeat);
                    let epoch = leader.epoch;
                    self.post(&Message::Lead { epoch });
                    self.forget_silent_peers(now);
                }
            }
            Role::Follower { beat_at, .. } => {
                let beat = *beat_at <= now;
                if beat {
                    *beat_at = now + heartbeat;
                    self.say_hello();
                }
                if silent {
                    self.steal(now);
                }
            }
            Role::Waiting { .. } => {
                if silent {
                    self.steal(now);
                }
            }
            Role::Detached => {}
        }
    }

    // ----- outputs -----

    #[must_use = "every transmit must be carried out"]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    #[must_use = "every event must be delivered"]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next deadline, the client's or this tab's, and which timer it is.
    #[must_use = "the driver must arm a timer for it"]
    pub fn poll_timeout(&self) -> Option<(Instant, Timer)> {
        let (client, tab) = match &self.role {
            Role::Leader(leader) => (
                leader.client.poll_timeout(),
                leader.beat_at.map(|at| (at, Timer::TabHeartbeat)),
            ),
            Role::Follower { beat_at, .. } => {
                let silent_at = self.silence_deadline().unwrap_or(*beat_at);
                (
                    None,
                    Some(if silent_at < *beat_at {
                        (silent_at, Timer::LeaderSilent)
                    } else {
                        (*beat_at, Timer::TabHeartbeat)
                    }),
                )
            }
            Role::Waiting { .. } if self.shared => (
                None,
                self.silence_deadline().map(|at| (at, Timer::LeaderSilent)),
            ),
            Role::Waiting { .. } | Role::Detached => (None, None),
        };
        match (client, tab) {
            (Some(client), Some(tab)) => Some(if tab.0 < client.0 { tab } else { client }),
            (client, tab) => client.or(tab),
        }
    }

    // ----- within -----

    /// Asks for the lock and who leads.
    fn join(&mut self, now: Instant) {
        self.wait(now);
        if self.shared {
            self.post(&Message::Who);
        }
    }

    /// Waits in line for the lock, following whoever says it leads.
    fn wait(&mut self, now: Instant) {
        self.role = Role::Waiting { heard_at: now };
        if self.shared {
            self.transmits.push_back(Transmit::RequestLock);
        }
    }

    /// When the leader counts as silent (or, waiting, when no leader answered): `tab_timeout`
    /// after its last heartbeat, plus one heartbeat for each live follower with a smaller id.
    /// The first in that order takes the lock over and says so before the next would:
    /// followers that all saw the same silence do not all take the lock (each a socket) in
    /// turn. The order is taken when the deadline comes, with the followers heard of by then.
    fn silence_deadline(&self) -> Option<Instant> {
        let heard_at = match self.role {
            Role::Waiting { heard_at } | Role::Follower { heard_at, .. } => heard_at,
            Role::Leader(_) | Role::Detached => return None,
        };
        let timeout = self.config.tab_timeout;
        let live_since = heard_at.as_millis().saturating_sub(millis(timeout * 2));
        let rank = self
            .others
            .iter()
            .filter(|(id, seen)| *id < self.me && seen.as_millis() >= live_since)
            .count();
        Some(
            heard_at
                + timeout
                + self.config.tab_heartbeat * u32::try_from(rank).unwrap_or(u32::MAX),
        )
    }

    /// Another follower said hello.
    pub(super) fn saw_follower(&mut self, id: TabId, now: Instant) {
        let forgotten = self.config.tab_timeout * 4;
        self.others
            .retain(|(_, seen)| now.saturating_since(*seen) <= forgotten);
        match self.others.iter_mut().find(|(known, _)| *known == id) {
            Some(entry) => entry.1 = now,
            None => self.others.push((id, now)),
        }
    }

    fn steal(&mut self, now: Instant) {
        match &mut self.role {
            Role::Waiting { heard_at } | Role::Follower { heard_at, .. } => *heard_at = now,
            _ => return,
        }
        self.transmits.push_back(Transmit::StealLock);
    }

    /// Posts `message` to the other tabs.
    fn post(&mut self, message: &Message) {
        if self.shared {
            self.transmits.push_back(Transmit::Broadcast {
                text: wire::encode(self.me, message),
            });
        }
    }

    /// This tab's app started or stopped watching something: the leader's client follows
    /// (`added`: a job newly watched here, which the client may have to replay), a follower
    /// tells its leader.
    fn interest_changed(&mut self, now: Instant, added: Option<(Channel, &str)>) {
        self.step_down_if_woken(now);
        match &self.role {
            Role::Leader(_) => {
                if let Some((channel, id)) = added {
                    self.rewind_for_new_watcher(channel, id, None);
                }
                self.sync_client(now);
                self.pump(now, None);
            }
            Role::Follower { .. } => self.say_hello(),
            Role::Waiting { .. } | Role::Detached => {}
        }
    }

    /// Tells the leader what this tab watches, in a numbered `hello`.
    fn say_hello(&mut self) {
        let n = self.interest.hello();
        let watching = self.interest.watching();
        self.post(&Message::Hello { watching, n });
    }
}

/// A duration in whole milliseconds.
fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
