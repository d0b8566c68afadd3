//! The world an invariant episode runs in: simulated jobs, a server that speaks protocol v1 as
//! the reference server does (subscribed, replay, live events, pongs, acks once per id,
//! snapshots), and a network between it and the client with latency, ordered frames per
//! socket, and faults the episode switches on and off.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use jobsocket::core::snapshot::{
    CompositionProgressSnapshot, CompositionSnapshot, GenerationProgressSnapshot,
    GenerationSnapshot,
};
use jobsocket::core::{
    Channel, ClientFrame, ClipCompleted, CompositionEvent, EncodingProgress, GenerationEvent,
    Instant, JobEvent, JobResult, JobStatus, Progress, Queued, ServerFrame, SocketId, StatusChange,
};

/// SplitMix64: small, seedable, good enough to pick interleavings.
#[derive(Debug, Clone)]
pub struct Chance(u64);

impl Chance {
    pub fn new(seed: u64) -> Chance {
        Chance(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    /// True with probability `percent` in 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A simulated job: every event it will ever emit, each with its emission time.
#[derive(Debug)]
pub struct Job {
    pub id: String,
    pub channel: Channel,
    events: Vec<(Instant, JobEvent)>,
}

/// Spaces `events` `step` apart after `start`.
fn timed(events: Vec<JobEvent>, start: Instant, step: Duration) -> Vec<(Instant, JobEvent)> {
    events
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            let at = start + step * u32::try_from(index + 1).expect("a small job");
            (at, event)
        })
        .collect()
}

impl Job {
    /// A composition: encoding progress in `steps` steps, then its result.
    pub fn composition(id: String, start: Instant, steps: u32, step: Duration) -> Job {
        let total_frames = u64::from(steps) * 60;
        let mut events: Vec<JobEvent> = (1..=steps)
            .map(|done| {
                JobEvent::Composition(CompositionEvent::EncodingProgress(EncodingProgress {
                    percentage: f64::from(done * 100 / steps),
                    frames_processed: u64::from(done) * 60,
                    total_frames,
                    estimated_remaining: f64::from(steps - done),
                }))
            })
            .collect();
        events.push(JobEvent::Composition(CompositionEvent::Completed(
            JobResult {
                video_url: format!("/videos/{id}.mp4"),
                thumbnail_url: format!("/thumbnails/{id}/1.svg"),
                duration: 10.0,
            },
        )));
        Job {
            id,
            channel: Channel::Composition,
            events: timed(events, start, step),
        }
    }

    /// A generation of `clips` clips of `steps` progress steps each.
    pub fn new(id: String, start: Instant, clips: u32, steps: u32, step: Duration) -> Job {
        let mut events = vec![
            GenerationEvent::Queued(Queued { position: 1 }),
            GenerationEvent::StatusChange(StatusChange {
                old_status: JobStatus::Queued,
                new_status: JobStatus::Processing,
                message: String::new(),
            }),
        ];
        let total = f64::from(clips * steps);
        for clip in 1..=clips {
            for done in 1..=steps {
                let percentage = f64::from((clip - 1) * steps + done) * 100.0 / total;
                events.push(GenerationEvent::Progress(Progress {
                    step: "rendering".to_owned(),
                    clip_number: clip,
                    total_clips: clips,
                    percentage: (percentage * 10.0).round() / 10.0,
                    message: String::new(),
                }));
            }
            events.push(GenerationEvent::ClipCompleted(ClipCompleted {
                clip_id: format!("{id}_clip_{clip}"),
                thumbnail_url: format!("/thumbnails/{id}/{clip}.svg"),
                duration: 4.0,
            }));
        }
        events.push(GenerationEvent::StatusChange(StatusChange {
            old_status: JobStatus::Processing,
            new_status: JobStatus::Completed,
            message: String::new(),
        }));
        events.push(GenerationEvent::Completed(JobResult {
            video_url: format!("/videos/{id}.mp4"),
            thumbnail_url: format!("/thumbnails/{id}/1.svg"),
            duration: f64::from(clips) * 4.0,
        }));
        let events = events.into_iter().map(JobEvent::Generation).collect();
        Job {
            id,
            channel: Channel::Generation,
            events: timed(events, start, step),
        }
    }

    /// How many events the job has emitted by `now` (its last `seq`).
    pub fn emitted(&self, now: Instant) -> u64 {
        self.events.iter().take_while(|(at, _)| *at <= now).count() as u64
    }

    /// The event with `seq`.
    pub fn event(&self, seq: u64) -> &JobEvent {
        &self.events[usize::try_from(seq - 1).expect("a small seq")].1
    }

    /// When the job emits its event after `now`, if it has one left.
    pub fn next_emission(&self, now: Instant) -> Option<Instant> {
        self.events.iter().map(|(at, _)| *at).find(|at| *at > now)
    }

    /// The job's milestones in order: every event but `queued` and the progress events, which
    /// a polling client may legitimately never see.
    pub fn milestones(&self) -> Vec<JobEvent> {
        self.events
            .iter()
            .map(|(_, event)| event.clone())
            .filter(is_milestone)
            .collect()
    }

    /// The status endpoint's answer at `now`: the fold of the events emitted so far.
    pub fn snapshot(&self, now: Instant) -> String {
        let seq = self.emitted(now);
        let emitted = &self.events[..usize::try_from(seq).expect("small")];
        match self.channel {
            Channel::Generation => {
                let mut snapshot = GenerationSnapshot {
                    id: self.id.clone(),
                    status: JobStatus::Queued,
                    progress: GenerationProgressSnapshot::default(),
                    clips: Vec::new(),
                    result: None,
                    error: None,
                    seq,
                };
                for (_, event) in emitted {
                    if let JobEvent::Generation(event) = event {
                        snapshot.apply(event);
                    }
                }
                serde_json::to_string(&snapshot)
            }
            Channel::Composition => {
                let mut snapshot = CompositionSnapshot {
                    id: self.id.clone(),
                    status: JobStatus::Queued,
                    progress: CompositionProgressSnapshot::default(),
                    result: None,
                    error: None,
                    seq,
                };
                for (_, event) in emitted {
                    if let JobEvent::Composition(event) = event {
                        snapshot.apply(event);
                    }
                }
                serde_json::to_string(&snapshot)
            }
        }
        .expect("a snapshot serializes")
    }
}

pub fn is_milestone(event: &JobEvent) -> bool {
    !matches!(
        event,
        JobEvent::Generation(GenerationEvent::Queued(_) | GenerationEvent::Progress(_))
            | JobEvent::Composition(CompositionEvent::EncodingProgress(_))
    )
}

/// Faults the episode switches on and off.
#[derive(Debug, Default, Clone, Copy)]
pub struct Faults {
    /// Upgrades fail (the client sees close 1006).
    pub refuse: bool,
    /// Sockets open, then die a moment later (a proxy killing them).
    pub flapping: bool,
    /// Pings go unanswered.
    pub mute_pongs: bool,
    /// The status endpoints answer 503.
    pub fail_polls: bool,
}

/// Something the network hands to the client at a given time.
#[derive(Debug)]
pub enum Delivery {
    Opened(SocketId),
    Text(SocketId, String),
    Closed(SocketId),
    PollAnswer(u64, Result<String, String>),
    /// The answer to a message `POST`: its HTTP status, or a network error.
    PostAnswer(u64, Result<u16, String>),
}

/// One open socket on the server: the jobs it forwards and the next `seq` of each.
#[derive(Debug, Default)]
struct ServerSocket {
    forwarding: Vec<(usize, u64)>,
}

/// The server and the network, as the client's driver would meet them.
#[derive(Debug, Default)]
pub struct World {
    pub jobs: Vec<Job>,
    pub faults: Faults,
    sockets: HashMap<SocketId, ServerSocket>,
    /// What reaches the client, in order of time; frames of one socket never overtake.
    queue: VecDeque<(Instant, Delivery)>,
    /// The last delivery time per socket, so its frames stay in order.
    socket_clock: HashMap<SocketId, Instant>,
    /// Messages handled, by id: the server handles an id once and acks it every time.
    pub handled: HashMap<String, u32>,
    pub polls_answered: usize,
    /// The last time jobs were forwarded up to.
    forwarded_at: Instant,
}

impl World {
    /// The next instant something happens in the world (a delivery or a job's event).
    pub fn next_at(&self, now: Instant) -> Option<Instant> {
        let delivery = self.queue.iter().map(|(at, _)| *at).min();
        let emission = self
            .jobs
            .iter()
            .filter_map(|job| job.next_emission(now))
            .min();
        delivery.into_iter().chain(emission).min()
    }

    /// Sends every job event emitted by `now` to the sockets forwarding that job.
    pub fn forward(&mut self, now: Instant, chance: &mut Chance) {
        self.forwarded_at = now;
        let mut frames = Vec::new();
        for (socket, state) in &mut self.sockets {
            for (job, next) in &mut state.forwarding {
                let emitted = self.jobs[*job].emitted(now);
                while *next <= emitted {
                    frames.push((*socket, self.jobs[*job].id.clone(), *next));
                    *next += 1;
                }
            }
        }
        for (socket, id, seq) in frames {
            let job = self.jobs.iter().find(|job| job.id == id).expect("a job");
            let frame = ServerFrame::Event {
                id,
                seq,
                event: job.event(seq).clone(),
            };
            self.send(now, socket, frame.encode(), chance);
        }
    }

    /// Takes what is due at `now`, oldest first.
    pub fn due(&mut self, now: Instant) -> Option<Delivery> {
        let index = self
            .queue
            .iter()
            .enumerate()
            .filter(|(_, (at, _))| *at <= now)
            .min_by_key(|(index, (at, _))| (*at, *index))
            .map(|(index, _)| index)?;
        self.queue.remove(index).map(|(_, delivery)| delivery)
    }

    fn latency(chance: &mut Chance) -> Duration {
        Duration::from_millis(chance.between(0, 40))
    }

    fn send(&mut self, now: Instant, socket: SocketId, text: String, chance: &mut Chance) {
        let clock = self.socket_clock.entry(socket).or_default();
        let at = (now + Self::latency(chance)).max(*clock);
        *clock = at;
        self.queue.push_back((at, Delivery::Text(socket, text)));
    }

    fn close_later(&mut self, at: Instant, socket: SocketId) {
        let clock = self.socket_clock.entry(socket).or_default();
        let at = at.max(*clock);
        *clock = at;
        self.queue.push_back((at, Delivery::Closed(socket)));
    }

    /// The client asks to open `socket`.
    pub fn open(&mut self, now: Instant, socket: SocketId, chance: &mut Chance) {
        let at = now + Self::latency(chance);
        if self.faults.refuse {
            self.close_later(at, socket);
            return;
        }
        self.socket_clock.insert(socket, at);
        self.queue.push_back((at, Delivery::Opened(socket)));
        self.sockets.insert(socket, ServerSocket::default());
        let connected = ServerFrame::Connected {
            client_id: format!("c_{}", socket.0),
            heartbeat_ms: 30_000,
        };
        self.send(now, socket, connected.encode(), chance);
        if self.faults.flapping {
            let dies = at + Duration::from_millis(chance.between(50, 2_000));
            self.sockets.remove(&socket);
            self.close_later(dies, socket);
        }
    }

    /// The server drops every socket's connection (a restart, a proxy, `admin drop`).
    pub fn drop_sockets(&mut self, now: Instant) {
        let sockets: Vec<SocketId> = self.sockets.keys().copied().collect();
        for socket in sockets {
            self.sockets.remove(&socket);
            self.close_later(now, socket);
        }
    }

    /// The client closed `socket`: the server forgets it and sends nothing more on it.
    pub fn closed_by_client(&mut self, socket: SocketId) {
        self.sockets.remove(&socket);
        self.queue.retain(|(_, delivery)| match delivery {
            Delivery::Text(on, _) | Delivery::Closed(on) | Delivery::Opened(on) => *on != socket,
            Delivery::PollAnswer(..) | Delivery::PostAnswer(..) => true,
        });
    }

    /// A frame the client sent on `socket`.
    pub fn receive(&mut self, now: Instant, socket: SocketId, text: &str, chance: &mut Chance) {
        if !self.sockets.contains_key(&socket) {
            return;
        }
        let frame = ClientFrame::decode(text).expect("the client sends valid frames");
        match frame {
            ClientFrame::Join { .. } | ClientFrame::Leave { .. } => {
                panic!(
                    "the episodes' app subscribes to no channel of its own, yet the client sent {text}"
                )
            }
            ClientFrame::Auth { .. } => {
                panic!("the episodes' client has no token, yet it sent {text}")
            }
            ClientFrame::Subscribe { channel, id, since } => {
                let Some(job) = self.jobs.iter().position(|job| job.id == id) else {
                    let error = ServerFrame::Error {
                        code: "unknown_job".to_owned(),
                        message: format!("no {channel} {id}"),
                        job: Some((channel, id)),
                    };
                    self.send(now, socket, error.encode(), chance);
                    return;
                };
                let emitted = self.jobs[job].emitted(self.forwarded_at);
                let subscribed = ServerFrame::Subscribed {
                    channel,
                    id,
                    seq: emitted,
                };
                self.send(now, socket, subscribed.encode(), chance);
                let from = since.unwrap_or(0).min(emitted) + 1;
                if let Some(state) = self.sockets.get_mut(&socket) {
                    state.forwarding.retain(|(forwarded, _)| *forwarded != job);
                    state.forwarding.push((job, from));
                }
                self.forward(self.forwarded_at, chance);
            }
            ClientFrame::Unsubscribe { id, .. } => {
                if let Some(state) = self.sockets.get_mut(&socket) {
                    state.forwarding.retain(|(job, _)| self.jobs[*job].id != id);
                }
            }
            ClientFrame::Ping { t } => {
                if !self.faults.mute_pongs {
                    self.send(now, socket, ServerFrame::Pong { t }.encode(), chance);
                }
            }
            ClientFrame::Message { id, .. } => {
                *self.handled.entry(id.clone()).or_default() += 1;
                self.send(now, socket, ServerFrame::Ack { id }.encode(), chance);
            }
        }
    }

    /// The client asks for a job's snapshot; the answer may be taken any time until it
    /// arrives, so it can be older than events the socket already delivered.
    pub fn poll(&mut self, now: Instant, request: u64, url: &str, chance: &mut Chance) {
        let arrives = now + Duration::from_millis(chance.between(0, 300));
        let answer = if self.faults.fail_polls {
            Err("HTTP 503".to_owned())
        } else {
            let taken = now + Duration::from_millis(chance.between(0, 300)).min(arrives - now);
            let id = url.rsplit('/').next().unwrap_or_default();
            match self.jobs.iter().find(|job| job.id == id) {
                Some(job) => Ok(job.snapshot(taken)),
                None => Err("HTTP 404".to_owned()),
            }
        };
        self.polls_answered += 1;
        self.queue
            .push_back((arrives, Delivery::PollAnswer(request, answer)));
    }

    /// The client posts a message over HTTP (while polling): handled once by id and acked
    /// like one on a socket, unless the status endpoints fail, which the message endpoint
    /// does too (503), and then it is not handled.
    pub fn post_message(&mut self, now: Instant, request: u64, body: &str, chance: &mut Chance) {
        let arrives = now + Duration::from_millis(chance.between(0, 300));
        let answer = if self.faults.fail_polls {
            Ok(503)
        } else {
            let id = jobsocket::core::json::parse(body)
                .ok()
                .and_then(|value| {
                    value
                        .get("id")
                        .and_then(|id| id.as_str().map(str::to_owned))
                })
                .expect("a message body with an id");
            *self.handled.entry(id).or_default() += 1;
            Ok(200)
        };
        self.queue
            .push_back((arrives, Delivery::PostAnswer(request, answer)));
    }

    /// Forgets everything on its way to a page that went away.
    pub fn page_gone(&mut self) {
        let sockets: Vec<SocketId> = self.sockets.keys().copied().collect();
        for socket in sockets {
            self.closed_by_client(socket);
        }
        self.queue.clear();
    }
}
