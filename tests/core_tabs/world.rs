//! A browser's worth of tabs on fake time: pages running a `Tab` each, one lock with its line
//! (Web Locks), a channel that carries every message to every other page (BroadcastChannel),
//! one `localStorage` outbox, and a job server speaking protocol v1 that keeps every job's log
//! and replays it from `since`. A frozen page runs nothing until it thaws: its messages,
//! frames and lock news wait for it, as in a browser.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use jobsocket::core::events::{GenerationEvent, JobEvent, Progress};
use jobsocket::core::protocol::{Channel, ClientFrame, ServerFrame};
use jobsocket::core::tabs::Tab;
use jobsocket::core::{Config, Event, Instant, SocketId, Timer, Transmit};

pub const URL: &str = "ws://jobs.test/ws";

/// Something for a page to handle when it runs.
enum Inbound {
    TabMessage(String),
    LockAcquired,
    LockLost,
    SocketOpened(SocketId),
    Frame(SocketId, String),
}

pub struct Page {
    pub tab: Tab,
    pub frozen: bool,
    /// Its timers do not run and its lock news wait, but it handles messages and frames (a
    /// page Chromium froze still gets its channel's messages).
    pub timers_stopped: bool,
    pub gone: bool,
    inbox: VecDeque<Inbound>,
    /// Job events delivered to this page's app: (job, seq, event name).
    pub delivered: Vec<(String, u64, &'static str)>,
    pub events: Vec<Event>,
    /// How many times this page wrote the stored outbox.
    pub storage_writes: usize,
    /// The timers that woke this page, in order.
    pub wakeups: Vec<Timer>,
}

struct ServerSocket {
    page: usize,
    id: SocketId,
    open: bool,
    jobs: Vec<String>,
}

#[derive(Default)]
pub struct Server {
    /// Each job's log of event names: seq n is `log[n - 1]`.
    jobs: Vec<(String, Vec<JobEvent>)>,
    sockets: Vec<ServerSocket>,
    /// Distinct message ids handled, and how many message frames came.
    pub handled: HashSet<String>,
    pub messages_received: usize,
    pub sockets_opened: usize,
    /// While set, acks wait in `held_acks` until `release_acks`.
    pub hold_acks: bool,
    held_acks: Vec<(usize, SocketId, String)>,
}

impl Server {
    pub fn open_sockets(&self) -> usize {
        self.sockets.iter().filter(|socket| socket.open).count()
    }
}

pub struct World {
    pub now: Instant,
    pub pages: Vec<Page>,
    lock_holder: Option<usize>,
    lock_line: Vec<usize>,
    pub storage: Option<String>,
    /// Messages stored by tabs that could not hand them to a leader, by id.
    pub pending_storage: Vec<(String, String)>,
    pub server: Server,
    config: Config,
    seeds: u8,
}

impl World {
    pub fn new(config: Config) -> Self {
        World {
            now: Instant::from_millis(1_000),
            pages: Vec::new(),
            lock_holder: None,
            lock_line: Vec::new(),
            storage: None,
            pending_storage: Vec::new(),
            server: Server::default(),
            config,
            seeds: 0,
        }
    }

    /// Opens a tab (each with its own secrets, as each page draws its own); returns its index.
    pub fn open_tab(&mut self) -> usize {
        self.seeds += 1;
        let mut config = self.config.clone();
        config.id_key = [self.seeds; 16];
        config.rng_seed = u64::from(self.seeds) * 7919;
        let tab = Tab::new(config, self.now);
        self.pages.push(Page {
            tab,
            frozen: false,
            timers_stopped: false,
            gone: false,
            inbox: VecDeque::new(),
            delivered: Vec::new(),
            events: Vec::new(),
            storage_writes: 0,
            wakeups: Vec::new(),
        });
        let index = self.pages.len() - 1;
        if !self.config.share_across_tabs {
            let stored = Ok(self.storage.clone());
            let now = self.now;
            self.pages[index]
                .tab
                .handle_lock_acquired(now, stored, Vec::new());
        }
        self.settle();
        index
    }

    /// Runs a command on a tab's core, then lets everything settle.
    pub fn act<R>(&mut self, page: usize, command: impl FnOnce(&mut Tab, Instant) -> R) -> R {
        let now = self.now;
        let result = command(&mut self.pages[page].tab, now);
        self.settle();
        result
    }

    pub fn subscribe(&mut self, page: usize, job: &str) {
        self.act(page, |tab, now| {
            tab.subscribe(now, Channel::Generation, job)
        });
    }

    /// The tab's page closes (or crashes): nothing of it runs again, the browser gives its
    /// lock to the next in line, its socket is gone.
    pub fn close_tab(&mut self, page: usize) {
        self.pages[page].gone = true;
        self.lock_line.retain(|waiting| *waiting != page);
        for socket in &mut self.server.sockets {
            if socket.page == page {
                socket.open = false;
            }
        }
        if self.lock_holder == Some(page) {
            self.lock_holder = None;
            self.grant_next();
        }
        self.settle();
    }

    /// Reloads a tab: the page closes and a new one opens in its place; returns the new one.
    pub fn reload_tab(&mut self, page: usize) -> usize {
        self.close_tab(page);
        self.open_tab()
    }

    pub fn freeze(&mut self, page: usize) {
        self.pages[page].frozen = true;
    }

    pub fn thaw(&mut self, page: usize) {
        self.pages[page].frozen = false;
        self.settle();
    }

    /// The server adds a progress event to a job and sends it to every socket watching it.
    pub fn emit(&mut self, job: &str) {
        self.emit_unsettled(job);
        self.settle();
    }

    /// [`World::emit`], leaving the frames in the pages' inboxes: what a page does next
    /// comes after them.
    pub fn emit_unsettled(&mut self, job: &str) {
        let log = match self.server.jobs.iter_mut().find(|(id, _)| id == job) {
            Some((_, log)) => log,
            None => {
                self.server.jobs.push((job.to_owned(), Vec::new()));
                &mut self.server.jobs.last_mut().expect("just pushed").1
            }
        };
        let seq = log.len() as u64 + 1;
        let event = JobEvent::Generation(GenerationEvent::Progress(Progress {
            step: format!("step {seq}"),
            clip_number: 1,
            total_clips: 1,
            percentage: seq as f64,
            message: String::new(),
        }));
        log.push(event.clone());
        let frame = ServerFrame::Event {
            id: job.to_owned(),
            seq,
            event,
        }
        .encode();
        for socket in &self.server.sockets {
            if socket.open && socket.jobs.iter().any(|id| id == job) {
                let inbound = Inbound::Frame(socket.id, frame.clone());
                self.pages[socket.page].inbox.push_back(inbound);
            }
        }
    }

    /// The acks held back so far go out, to running and frozen pages alike.
    pub fn release_acks(&mut self) {
        for (page, socket, ack) in std::mem::take(&mut self.server.held_acks) {
            self.pages[page]
                .inbox
                .push_back(Inbound::Frame(socket, ack));
        }
        self.settle();
    }

    /// The server sends event number `seq` of an app channel to every socket that joined it.
    pub fn emit_app_event(&mut self, channel: &str, id: &str, seq: u64) {
        let key = format!("{channel}/{id}");
        let frame = ServerFrame::ChannelEvent {
            channel: channel.to_owned(),
            id: id.to_owned(),
            seq,
            event: "note".to_owned(),
            data: jobsocket::core::protocol::RawJson::new("{\"n\":1}").expect("JSON"),
        }
        .encode();
        for socket in &self.server.sockets {
            if socket.open && socket.jobs.contains(&key) {
                let inbound = Inbound::Frame(socket.id, frame.clone());
                self.pages[socket.page].inbox.push_back(inbound);
            }
        }
        self.settle();
    }

    /// The app-channel events a page delivered: (channel, id, seq).
    pub fn app_events(&self, page: usize) -> Vec<(String, String, u64)> {
        self.pages[page]
            .events
            .iter()
            .filter_map(|event| match event {
                Event::Channel(delivery) => delivery
                    .channel
                    .clone()
                    .map(|(channel, id)| (channel, id, delivery.seq)),
                _ => None,
            })
            .collect()
    }

    /// Moves time on by `duration`, waking each running tab at its deadlines.
    pub fn advance(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.now < end {
            self.now = (self.now + Duration::from_millis(10)).min(end);
            for index in 0..self.pages.len() {
                let page = &mut self.pages[index];
                if page.gone || page.frozen || page.timers_stopped {
                    continue;
                }
                if let Some((at, timer)) = page.tab.poll_timeout()
                    && at <= self.now
                {
                    page.wakeups.push(timer);
                    page.tab.handle_timeout(self.now);
                }
            }
            self.settle();
        }
    }

    /// The tabs that lead now.
    pub fn leaders(&self) -> Vec<usize> {
        self.running()
            .filter(|index| self.pages[*index].tab.role_name() == "leader")
            .collect()
    }

    fn running(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.pages.len()).filter(|index| !self.pages[*index].gone)
    }

    /// Carries out every transmit and handles every inbound item of every running page until
    /// nothing moves.
    pub fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            for index in 0..self.pages.len() {
                if self.pages[index].gone || self.pages[index].frozen {
                    continue;
                }
                while let Some(transmit) = self.pages[index].tab.poll_transmit() {
                    moved = true;
                    self.carry_out(index, transmit);
                }
                while let Some(event) = self.pages[index].tab.poll_event() {
                    moved = true;
                    let page = &mut self.pages[index];
                    if let Event::Job(delivery) = &event {
                        page.delivered.push((
                            delivery.job_id.clone(),
                            delivery.seq,
                            delivery.event.name(),
                        ));
                    }
                    page.events.push(event);
                }
                if let Some(inbound) = self.next_inbound(index) {
                    moved = true;
                    self.handle(index, inbound);
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the tabs never settled");
    }

    /// What the page handles next: the oldest item, but for a page whose timers stopped, the
    /// oldest message or frame (what a frozen Chromium page still runs); its lock news wait.
    fn next_inbound(&mut self, index: usize) -> Option<Inbound> {
        let page = &mut self.pages[index];
        if !page.timers_stopped {
            return page.inbox.pop_front();
        }
        let at = page
            .inbox
            .iter()
            .position(|inbound| !matches!(inbound, Inbound::LockAcquired | Inbound::LockLost))?;
        page.inbox.remove(at)
    }

    fn handle(&mut self, index: usize, inbound: Inbound) {
        let now = self.now;
        let stored = self.storage.clone();
        let pending = self
            .pending_storage
            .iter()
            .map(|(_, text)| text.clone())
            .collect();
        let tab = &mut self.pages[index].tab;
        match inbound {
            Inbound::TabMessage(text) => tab.handle_tab_message(now, &text),
            Inbound::LockAcquired => tab.handle_lock_acquired(now, Ok(stored), pending),
            Inbound::LockLost => tab.handle_lock_lost(now),
            Inbound::SocketOpened(socket) => {
                tab.on_client(now, None, |client| client.handle_socket_opened(now, socket));
                let hello = ServerFrame::Connected {
                    client_id: "c".to_owned(),
                    heartbeat_ms: 30_000,
                }
                .encode();
                tab.on_client(now, Some(&hello), |client| {
                    client.handle_frame(now, socket, &hello)
                });
            }
            Inbound::Frame(socket, text) => {
                tab.on_client(now, Some(&text), |client| {
                    client.handle_frame(now, socket, &text)
                });
            }
        }
    }

    fn grant_next(&mut self) {
        if self.lock_holder.is_none() && !self.lock_line.is_empty() {
            let next = self.lock_line.remove(0);
            self.lock_holder = Some(next);
            self.pages[next].inbox.push_back(Inbound::LockAcquired);
        }
    }

    fn carry_out(&mut self, index: usize, transmit: Transmit) {
        match transmit {
            Transmit::Broadcast { text } => {
                for (other, page) in self.pages.iter_mut().enumerate() {
                    if other != index && !page.gone {
                        page.inbox.push_back(Inbound::TabMessage(text.clone()));
                    }
                }
            }
            Transmit::RequestLock => {
                if self.lock_holder != Some(index) && !self.lock_line.contains(&index) {
                    self.lock_line.push(index);
                }
                self.grant_next();
            }
            Transmit::StealLock => {
                self.lock_line.retain(|waiting| *waiting != index);
                if let Some(holder) = self.lock_holder.replace(index)
                    && holder != index
                {
                    self.pages[holder].inbox.push_back(Inbound::LockLost);
                }
                self.pages[index].inbox.push_back(Inbound::LockAcquired);
            }
            Transmit::ReleaseLock => {
                self.lock_line.retain(|waiting| *waiting != index);
                if self.lock_holder == Some(index) {
                    self.lock_holder = None;
                    self.grant_next();
                }
            }
            Transmit::OpenSocket { socket, .. } => {
                self.server.sockets_opened += 1;
                self.server.sockets.push(ServerSocket {
                    page: index,
                    id: socket,
                    open: true,
                    jobs: Vec::new(),
                });
                self.pages[index]
                    .inbox
                    .push_back(Inbound::SocketOpened(socket));
            }
            Transmit::CloseSocket { socket, .. } => {
                for open in &mut self.server.sockets {
                    if open.page == index && open.id == socket {
                        open.open = false;
                    }
                }
            }
            Transmit::Send { socket, text } => self.server_receives(index, socket, &text),
            Transmit::StorePending { id, text } => self.pending_storage.push((id, text)),
            Transmit::RemovePending { id: Some(id) } => {
                self.pending_storage.retain(|(stored, _)| *stored != id);
            }
            Transmit::RemovePending { id: None } => self.pending_storage.clear(),
            Transmit::PersistOutbox { text } => {
                self.pages[index].storage_writes += 1;
                self.storage = Some(text);
            }
            Transmit::FetchToken { .. } | Transmit::Poll { .. } | Transmit::PostMessage { .. } => {
                panic!("these scenarios use neither tokens nor polling")
            }
        }
    }

    fn server_receives(&mut self, page: usize, socket: SocketId, text: &str) {
        let Some(at) = self
            .server
            .sockets
            .iter()
            .position(|open| open.open && open.page == page && open.id == socket)
        else {
            return;
        };
        let mut replies = Vec::new();
        match ClientFrame::decode(text).expect("the client sends valid frames") {
            ClientFrame::Subscribe { channel, id, since } => {
                assert_eq!(channel, Channel::Generation);
                let log = self
                    .server
                    .jobs
                    .iter()
                    .find(|(job, _)| *job == id)
                    .map(|(_, log)| log.clone())
                    .unwrap_or_default();
                replies.push(ServerFrame::Subscribed {
                    channel,
                    id: id.clone(),
                    seq: log.len() as u64,
                });
                for (index, event) in log.into_iter().enumerate() {
                    let seq = index as u64 + 1;
                    if since.is_none_or(|since| seq > since) {
                        replies.push(ServerFrame::Event {
                            id: id.clone(),
                            seq,
                            event,
                        });
                    }
                }
                let jobs = &mut self.server.sockets[at].jobs;
                if !jobs.contains(&id) {
                    jobs.push(id);
                }
            }
            ClientFrame::Join { channel, id, .. } => {
                let key = format!("{channel}/{id}");
                replies.push(ServerFrame::Joined {
                    channel,
                    id,
                    seq: 0,
                });
                self.server.sockets[at].jobs.push(key);
            }
            ClientFrame::Leave { channel, id } => {
                let key = format!("{channel}/{id}");
                self.server.sockets[at].jobs.retain(|job| *job != key);
            }
            ClientFrame::Unsubscribe { id, .. } => {
                self.server.sockets[at].jobs.retain(|job| *job != id);
            }
            ClientFrame::Message { id, .. } => {
                self.server.messages_received += 1;
                self.server.handled.insert(id.clone());
                if self.server.hold_acks {
                    let ack = ServerFrame::Ack { id }.encode();
                    self.server.held_acks.push((page, socket, ack));
                } else {
                    replies.push(ServerFrame::Ack { id });
                }
            }
            ClientFrame::Ping { t } => replies.push(ServerFrame::Pong { t }),
            other => panic!("unexpected frame {other:?}"),
        }
        for reply in replies {
            let inbound = Inbound::Frame(socket, reply.encode());
            self.pages[page].inbox.push_back(inbound);
        }
    }
}

/// The default options for these scenarios: every progress event delivered, short tab timers.
pub fn config() -> Config {
    let mut config = Config::new(URL);
    config.max_progress_per_second = 0;
    config.tab_heartbeat = Duration::from_millis(200);
    config.tab_timeout = Duration::from_millis(1_000);
    config
}

/// The seqs of `job` a page delivered, in order.
pub fn seqs(page: &Page, job: &str) -> Vec<u64> {
    page.delivered
        .iter()
        .filter(|(id, _, _)| id == job)
        .map(|(_, seq, _)| *seq)
        .collect()
}
