//! The core's promises, checked over thousands of random episodes with fake time.
//!
//! Each episode is a page running one [`Client`] against a simulated server and network
//! (`world.rs`): generations and compositions emitting events, sockets that drop, refuse,
//! flap or go silent, status endpoints that fail or answer with stale snapshots, the browser
//! going offline and online, and an app that subscribes, unsubscribes, remounts, sends
//! messages, closes, reconnects and reloads the page, all in a random interleaving drawn from
//! the episode's seed. Then everything is healed, and the episode checks that the client
//! caught up.
//!
//! After every input it asserts:
//! - each job's events reach the app with strictly increasing `seq`, and its milestones (every
//!   event but `queued` and the progress events, which polling may skip) exactly in the job's
//!   order, none twice, none missing (this world keeps every event, so no `sequence_gap` is
//!   ever legitimate);
//! - the terminal event once, and nothing for that job after it;
//! - each announced change starts from the status announced before it, and the last announced
//!   status equals `status()`;
//! - nothing delivered after the `closed` status, until the app connects again;
//! - no timer that stays due however often `handle_timeout` runs (a driver would spin);
//! - no panic.
//!
//! At the end: every watched job delivered whole, and every message either handled by the
//! server or reported dropped, with an empty outbox.
//!
//! `make test` runs `JOBSOCKET_EPISODES` episodes (default 2,000); `make invariants` runs
//! 100,000 in release mode. A failure prints its seed: `JOBSOCKET_SEED=… cargo test --test
//! core_invariants` replays that episode alone, with its trace.

#[path = "core_invariants/world.rs"]
mod world;

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use jobsocket::core::{
    Channel, Client, ClientError, Config, Event, Instant, JobEvent, RawJson, Status, Transmit,
};
use world::{Chance, Delivery, Job, World, is_milestone};

const UNKNOWN_JOB: &str = "gen_404";

/// What the app knows of one subscription, from `subscribe` to its end.
#[derive(Debug, Default)]
struct Watch {
    last_seq: u64,
    milestones: Vec<JobEvent>,
    terminal: bool,
}

/// The page: the client, what the app did with it, and what it was told.
struct Page {
    client: Client,
    watching: HashMap<String, Watch>,
    /// The app called `close` and not `connect` since.
    closed: bool,
    offline: bool,
    announced: Status,
    sent: Vec<String>,
    dropped: HashSet<String>,
}

struct Episode {
    chance: Chance,
    world: World,
    page: Page,
    config: Config,
    storage: Option<String>,
    now: Instant,
    /// The last lines of what happened, for a failure's message.
    trace: VecDeque<String>,
}

impl Episode {
    fn new(seed: u64) -> Episode {
        let mut chance = Chance::new(seed);
        let mut config = Config::new("ws://jobs.test/ws");
        config.max_progress_per_second = if chance.percent(50) { 0 } else { 10 };
        config.polling_after_failures = u32::try_from(chance.between(1, 5)).expect("small");
        config.idle_timeout = if chance.percent(30) {
            None
        } else {
            Some(Duration::from_secs(chance.between(20, 300)))
        };
        config.use_polling = chance.percent(90);
        if chance.percent(50) {
            config.ping_interval = Duration::from_secs(5);
            config.pong_timeout = Duration::from_secs(2);
        }
        let now = Instant::from_millis(1_000);
        let mut world = World::default();
        for n in 1..=chance.between(1, 3) {
            let start = now + Duration::from_millis(chance.between(0, 20_000));
            let clips = u32::try_from(chance.between(1, 3)).expect("small");
            let steps = u32::try_from(chance.between(1, 4)).expect("small");
            let step = Duration::from_millis(chance.between(20, 400));
            world
                .jobs
                .push(Job::new(format!("gen_{n}"), start, clips, steps, step));
        }
        for n in 1..=chance.between(0, 2) {
            let start = now + Duration::from_millis(chance.between(0, 20_000));
            let steps = u32::try_from(chance.between(1, 8)).expect("small");
            let step = Duration::from_millis(chance.between(20, 400));
            world
                .jobs
                .push(Job::composition(format!("comp_{n}"), start, steps, step));
        }
        let page = Page::new(&config, &mut chance);
        Episode {
            chance,
            world,
            page,
            config,
            storage: None,
            now,
            trace: VecDeque::new(),
        }
    }

    fn note(&mut self, line: String) {
        if self.trace.len() == 60 {
            self.trace.pop_front();
        }
        self.trace
            .push_back(format!("{:>9} ms  {line}", self.now.as_millis()));
    }

    /// Runs the chaos, then the healing, checking after every input.
    fn run(&mut self) -> Result<(), String> {
        let chaos = Duration::from_secs(self.chance.between(30, 900));
        let chaos_end = self.now + chaos;
        let mut next_action = self.now;
        while self.now < chaos_end {
            self.step_until(next_action.min(chaos_end))?;
            if self.now >= next_action {
                self.act()?;
                let gap = if self.chance.percent(5) {
                    Duration::from_secs(self.chance.between(60, 900))
                } else if self.chance.percent(30) {
                    Duration::from_millis(self.chance.between(0, 50))
                } else {
                    Duration::from_millis(self.chance.between(0, 3_000))
                };
                next_action = self.now + gap;
            }
        }
        self.heal()?;
        let heal_end = self.now + Duration::from_secs(15 * 60);
        self.step_until(heal_end)?;
        self.check_caught_up()
    }

    /// Lets the world and the client's timers run until `until`.
    fn step_until(&mut self, until: Instant) -> Result<(), String> {
        loop {
            let timer = self.page.client.poll_timeout().map(|(at, _)| at);
            let next = [timer, self.world.next_at(self.now)]
                .into_iter()
                .flatten()
                .min()
                .filter(|at| *at <= until);
            let Some(next) = next else {
                self.now = until;
                return Ok(());
            };
            self.now = self.now.max(next);
            self.world.forward(self.now, &mut self.chance);
            while let Some(delivery) = self.world.due(self.now) {
                self.deliver(delivery)?;
            }
            // A deadline may come due again at once (a retry with zero jitter); the driver
            // then wakes at once. Five rounds at one instant mean it would spin for ever.
            let mut rounds = 0;
            while let Some((at, which)) = self.page.client.poll_timeout()
                && at <= self.now
            {
                rounds += 1;
                if rounds > 5 {
                    return Err(format!(
                        "the {which:?} timer stays due however often handle_timeout runs: a driver would spin"
                    ));
                }
                self.input("timeout", |client, now| client.handle_timeout(now))?;
            }
        }
    }

    fn deliver(&mut self, delivery: Delivery) -> Result<(), String> {
        match delivery {
            Delivery::Opened(socket) => self
                .input(&format!("socket {} opened", socket.0), |client, now| {
                    client.handle_socket_opened(now, socket)
                }),
            Delivery::Text(socket, text) => {
                let line = format!("socket {} <- {}", socket.0, shorten(&text));
                self.input(&line, |client, now| client.handle_frame(now, socket, &text))
            }
            Delivery::Closed(socket) => self
                .input(&format!("socket {} closed", socket.0), |client, now| {
                    client.handle_socket_closed(now, socket, 1006, "")
                }),
            Delivery::PollAnswer(request, answer) => {
                let line = format!(
                    "poll {request} answered {}",
                    shorten(&format!("{answer:?}"))
                );
                self.input(&line, |client, now| {
                    client.handle_poll_response(now, request, answer)
                })
            }
            Delivery::PostAnswer(request, answer) => {
                let line = format!("message post {request} answered {answer:?}");
                self.input(&line, |client, now| {
                    client.handle_message_response(now, request, answer)
                })
            }
        }
    }

    /// One random thing the app, the browser or the server does.
    fn act(&mut self) -> Result<(), String> {
        self.maybe_recover()?;
        let roll = self.chance.between(0, 99);
        match roll {
            0..=14 => {
                let mut candidates: Vec<String> =
                    self.world.jobs.iter().map(|job| job.id.clone()).collect();
                candidates.push(UNKNOWN_JOB.to_owned());
                let pick = candidates[self.chance.between(0, candidates.len() as u64 - 1) as usize]
                    .clone();
                self.subscribe(&pick)?;
            }
            15..=20 => {
                self.unsubscribe_one()?;
            }
            21..=30 => {
                let data = RawJson::new("{\"n\":1}").expect("valid JSON");
                let mut id = String::new();
                self.input("app sends a message", |client, now| {
                    id = client.send(now, "note", data)
                })?;
                self.page.sent.push(id);
            }
            31..=37 => {
                self.note("server drops every socket".to_owned());
                self.world.drop_sockets(self.now);
            }
            38..=45 => self.toggle("refuse", |faults| &mut faults.refuse),
            46..=50 => self.toggle("flapping", |faults| &mut faults.flapping),
            51..=55 => self.toggle("mute_pongs", |faults| &mut faults.mute_pongs),
            56..=60 => self.toggle("fail_polls", |faults| &mut faults.fail_polls),
            61..=66 => {
                self.page.offline = !self.page.offline;
                if self.page.offline {
                    self.input("browser offline", |client, now| client.handle_offline(now))?;
                } else {
                    self.input("browser online", |client, now| client.handle_online(now))?;
                }
            }
            67..=71 => {
                if self.page.closed {
                    self.page.closed = false;
                    self.input("app connects", |client, now| client.connect(now))?;
                } else {
                    self.page.closed = true;
                    self.input("app closes", |client, now| client.close(now))?;
                }
            }
            72..=75 => self.reload()?,
            76..=79 => self.input("page visible", |client, now| client.handle_visible(now))?,
            83..=86 => {
                // A component remounts (React StrictMode, a route change): the app lets go of
                // a job and watches it again at once, while its events are on their way.
                if let Some(job) = self.unsubscribe_one()? {
                    self.subscribe(&job)?;
                }
            }
            80..=82 => {
                // `reconnect` starts a closed client again, like `connect`.
                self.page.closed = false;
                self.input("app reconnects", |client, now| client.reconnect(now))?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Outages pass: each fault, the offline browser and the closed client end with some
    /// chance at every action, so the episode spends its time in every mix of them rather
    /// than mostly offline and closed.
    fn maybe_recover(&mut self) -> Result<(), String> {
        let faults = self.world.faults;
        for (on, name, clear) in [
            (
                faults.refuse,
                "refuse",
                (|f: &mut world::Faults| f.refuse = false) as fn(&mut world::Faults),
            ),
            (faults.flapping, "flapping", |f| f.flapping = false),
            (faults.mute_pongs, "mute_pongs", |f| f.mute_pongs = false),
            (faults.fail_polls, "fail_polls", |f| f.fail_polls = false),
        ] {
            if on && self.chance.percent(20) {
                clear(&mut self.world.faults);
                self.note(format!("fault {name} off"));
            }
        }
        if self.page.offline && self.chance.percent(20) {
            self.page.offline = false;
            self.input("browser online", |client, now| client.handle_online(now))?;
        }
        if self.page.closed && self.chance.percent(20) {
            self.page.closed = false;
            self.input("app connects", |client, now| client.connect(now))?;
        }
        Ok(())
    }

    fn toggle(&mut self, name: &str, switch: impl Fn(&mut world::Faults) -> &mut bool) {
        let flag = switch(&mut self.world.faults);
        *flag = !*flag;
        let line = format!("fault {name} {}", if *flag { "on" } else { "off" });
        self.note(line);
    }

    /// The app lets go of one job it watches, picked at random; which one, if any.
    fn unsubscribe_one(&mut self) -> Result<Option<String>, String> {
        let watched: Vec<String> = self.page.watching.keys().cloned().collect();
        if watched.is_empty() {
            return Ok(None);
        }
        let pick = watched[self.chance.between(0, watched.len() as u64 - 1) as usize].clone();
        self.page.watching.remove(&pick);
        self.input(&format!("app unsubscribes {pick}"), |client, now| {
            client.unsubscribe(now, channel_of(&pick), &pick)
        })?;
        Ok(Some(pick))
    }

    fn subscribe(&mut self, job: &str) -> Result<(), String> {
        if self.page.watching.contains_key(job) {
            return Ok(());
        }
        self.page.watching.insert(job.to_owned(), Watch::default());
        self.input(&format!("app subscribes {job}"), |client, now| {
            client.subscribe(now, channel_of(job), job)
        })
    }

    /// The page reloads: a new client restores the outbox, the app watches its jobs again.
    fn reload(&mut self) -> Result<(), String> {
        self.note("page reloads".to_owned());
        let jobs: Vec<String> = self.page.watching.keys().cloned().collect();
        self.world.page_gone();
        let sent = std::mem::take(&mut self.page.sent);
        let dropped = std::mem::take(&mut self.page.dropped);
        self.page = Page::new(&self.config, &mut self.chance);
        self.page.sent = sent;
        self.page.dropped = dropped;
        if self.page.offline {
            self.input("browser offline", |client, now| client.handle_offline(now))?;
        }
        if let Some(text) = self.storage.clone() {
            self.input("outbox restored", |client, now| {
                client.restore_outbox(now, &text)
            })?;
        }
        for job in jobs {
            self.subscribe(&job)?;
        }
        Ok(())
    }

    /// Every fault off, the network back, the app connected and watching what it watched.
    fn heal(&mut self) -> Result<(), String> {
        self.note("healing".to_owned());
        self.world.faults = world::Faults::default();
        if self.page.offline {
            self.page.offline = false;
            self.input("browser online", |client, now| client.handle_online(now))?;
        }
        if self.page.closed {
            self.page.closed = false;
            self.input("app connects", |client, now| client.connect(now))?;
        }
        Ok(())
    }

    /// Runs one input, carries out what the client asks, and checks every invariant.
    fn input(&mut self, what: &str, step: impl FnOnce(&mut Client, Instant)) -> Result<(), String> {
        self.note(what.to_owned());
        step(&mut self.page.client, self.now);
        self.drain()
    }

    fn drain(&mut self) -> Result<(), String> {
        let mut closes = Vec::new();
        while let Some(transmit) = self.page.client.poll_transmit() {
            match transmit {
                Transmit::OpenSocket { socket, .. } => {
                    self.world.open(self.now, socket, &mut self.chance)
                }
                Transmit::Send { socket, text } => {
                    self.world
                        .receive(self.now, socket, &text, &mut self.chance)
                }
                Transmit::CloseSocket { socket, .. } => closes.push(socket),
                Transmit::Poll { request, url, .. } => {
                    self.world.poll(self.now, request, &url, &mut self.chance)
                }
                Transmit::PostMessage { request, body, .. } => {
                    self.world
                        .post_message(self.now, request, &body, &mut self.chance)
                }
                Transmit::PersistOutbox { text } => self.storage = Some(text),
                Transmit::FetchToken { .. } => return Err("no token was configured".to_owned()),
                Transmit::RequestLock
                | Transmit::StealLock
                | Transmit::ReleaseLock
                | Transmit::Broadcast { .. }
                | Transmit::StorePending { .. }
                | Transmit::RemovePending { .. } => {
                    return Err("a client alone asked for a tab's transmit".to_owned());
                }
            }
        }
        for socket in closes {
            self.world.closed_by_client(socket);
        }
        while let Some(event) = self.page.client.poll_event() {
            self.check_event(event)?;
        }
        let status = self.page.client.status();
        if self.page.announced != status {
            return Err(format!(
                "the last announced status is {:?}, but status() is {status:?}",
                self.page.announced
            ));
        }
        Ok(())
    }

    fn check_event(&mut self, event: Event) -> Result<(), String> {
        match event {
            Event::Channel(delivery) => {
                return Err(format!(
                    "an app-channel event, but the app subscribed to none: {delivery:?}"
                ));
            }
            Event::StateChanged(change) => {
                self.note(format!("  -> {:?} ({:?})", change.to, change.reason));
                if change.from != self.page.announced {
                    return Err(format!(
                        "a change from {:?} was announced, but the app last heard {:?}",
                        change.from, self.page.announced
                    ));
                }
                self.page.announced = change.to;
            }
            Event::Job(delivery) => {
                let line = format!(
                    "  -> {} #{} {}",
                    delivery.job_id,
                    delivery.seq,
                    delivery.event.name()
                );
                self.note(line);
                // What close() still had (a held progress event) goes out before `closed`.
                if self.page.announced == Status::Closed {
                    return Err("an event was delivered after the closed status".to_owned());
                }
                let job = self
                    .world
                    .jobs
                    .iter()
                    .find(|job| job.id == delivery.job_id)
                    .ok_or("an event of a job that does not exist")?;
                let Some(watch) = self.page.watching.get_mut(&delivery.job_id) else {
                    return Err(format!(
                        "an event of {}, which the app does not watch",
                        delivery.job_id
                    ));
                };
                if watch.terminal {
                    return Err("an event after the job's terminal event".to_owned());
                }
                if delivery.seq <= watch.last_seq {
                    return Err(format!(
                        "seq {} delivered after seq {}",
                        delivery.seq, watch.last_seq
                    ));
                }
                watch.last_seq = delivery.seq;
                if is_milestone(&delivery.event) {
                    let expected = job.milestones();
                    let next = expected.get(watch.milestones.len());
                    if next != Some(&delivery.event) {
                        return Err(format!(
                            "milestone {} of {} should be {next:?}, got {:?}",
                            watch.milestones.len() + 1,
                            delivery.job_id,
                            delivery.event
                        ));
                    }
                    watch.milestones.push(delivery.event.clone());
                }
                watch.terminal = delivery.event.is_terminal();
            }
            Event::SubscriptionEnded { job_id, .. } => {
                let terminal = self
                    .page
                    .watching
                    .get(&job_id)
                    .is_some_and(|watch| watch.terminal);
                if !terminal {
                    return Err(format!(
                        "{job_id}'s subscription ended before its terminal event"
                    ));
                }
            }
            Event::OutboxDropped { id, reason } => {
                self.note(format!("  -> message {id} dropped: {reason:?}"));
                self.page.dropped.insert(id);
            }
            Event::OutboxSize(_) => {}
            Event::Error(error) => {
                self.note(format!("  -> error {}", error.code()));
                if let ClientError::SequenceGap { .. } = error {
                    return Err(format!("{error}: this world keeps every event"));
                }
            }
        }
        Ok(())
    }

    /// After the healing: every watched job whole, every message handled or reported dropped.
    fn check_caught_up(&self) -> Result<(), String> {
        for (id, watch) in &self.page.watching {
            let Some(job) = self.world.jobs.iter().find(|job| job.id == *id) else {
                continue; // the unknown job
            };
            if !watch.terminal || watch.milestones != job.milestones() {
                return Err(format!(
                    "after healing, {id} delivered {} of {} milestones (terminal: {})",
                    watch.milestones.len(),
                    job.milestones().len(),
                    watch.terminal
                ));
            }
        }
        let outbox = self.page.client.state().outbox_size;
        if outbox != 0 {
            return Err(format!(
                "after healing, {outbox} messages wait in the outbox"
            ));
        }
        for id in &self.page.sent {
            if !self.page.dropped.contains(id) && !self.world.handled.contains_key(id) {
                return Err(format!(
                    "message {id} was neither handled nor reported dropped"
                ));
            }
        }
        Ok(())
    }
}

impl Page {
    fn new(config: &Config, chance: &mut Chance) -> Page {
        let mut config = config.clone();
        // A reloaded page seeds anew, as the bindings do from Math.random: message ids must
        // not repeat those of the page before.
        config.rng_seed = chance.next();
        Page {
            client: Client::new(config),
            watching: HashMap::new(),
            closed: false,
            offline: false,
            announced: Status::Idle,
            sent: Vec::new(),
            dropped: HashSet::new(),
        }
    }
}

/// The channel of a job, from its id: compositions are `comp_n`.
fn channel_of(job: &str) -> Channel {
    if job.starts_with("comp_") {
        Channel::Composition
    } else {
        Channel::Generation
    }
}

fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(110).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// Runs one episode; a broken invariant or a panic comes back as the message to print.
fn run_episode(seed: u64, with_trace: bool) -> Result<(), String> {
    let mut episode = None;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut running = Episode::new(seed);
        let result = running.run();
        episode = Some(running);
        result
    }));
    let message = match outcome {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(message)) => message,
        Err(panic) => {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
                .unwrap_or_default();
            format!("panicked: {text}")
        }
    };
    let mut report = format!(
        "episode with seed {seed:#x} failed: {message}\n\
         replay it alone: JOBSOCKET_SEED={seed:#x} cargo test --test core_invariants"
    );
    if with_trace && let Some(episode) = episode {
        report.push_str("\nits last steps:\n");
        for line in &episode.trace {
            report.push_str(line);
            report.push('\n');
        }
    }
    Err(report)
}

fn parse_seed(text: &str) -> u64 {
    let text = text.trim();
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .expect("JOBSOCKET_SEED is a number")
}

#[test]
fn every_promise_holds_over_random_episodes() {
    if let Ok(seed) = std::env::var("JOBSOCKET_SEED") {
        if let Err(report) = run_episode(parse_seed(&seed), true) {
            panic!("{report}");
        }
        return;
    }
    let episodes: u64 = std::env::var("JOBSOCKET_EPISODES")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(2_000);
    let base: u64 = std::env::var("JOBSOCKET_SEED_BASE")
        .map(|base| parse_seed(&base))
        .unwrap_or(0x5eed_0000);
    let mut failures = Vec::new();
    for n in 0..episodes {
        if let Err(report) = run_episode(base + n, failures.is_empty()) {
            failures.push(report);
            if failures.len() == 5 {
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing episodes (the first with its trace):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
