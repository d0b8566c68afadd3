//! Routes the core's events to the JS callbacks the app registered: job events to the handler
//! objects of that job's subscribers, state changes and errors to their listeners.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Function};
use wasm_bindgen::prelude::*;

use super::convert;
use crate::core::small_map::SmallMap;
use crate::core::{Channel, ChannelDelivery, Event, JobDelivery};
use crate::web::{EventSink, SourceFrame};

#[wasm_bindgen(module = "/src/bindings/deliver.js")]
extern "C" {
    /// Parses `frame.slice(start, end)` and calls every subscriber's handlers with it.
    #[wasm_bindgen(js_name = deliverSlice)]
    #[allow(clippy::too_many_arguments)]
    fn deliver_slice(
        subscribers: &Array,
        event: &JsValue,
        frame: &JsValue,
        start: u32,
        end: u32,
        channel: &JsValue,
        job_id: &JsValue,
        seq: f64,
    ) -> JsValue;

    /// Calls every subscriber's handlers with an already built payload.
    #[wasm_bindgen(js_name = deliver)]
    fn deliver_value(
        subscribers: &Array,
        event: &JsValue,
        data: &JsValue,
        channel: &JsValue,
        job_id: &JsValue,
        seq: f64,
    ) -> JsValue;
}

type JobKey = (Channel, String);

/// The subscribers of one job. Never changed in place: a new entry replaces it on every
/// subscribe and unsubscribe, so a delivery in progress walks a list nobody mutates.
struct JobEntry {
    job_id: JsValue,
    handlers: Vec<(u32, JsValue)>,
    subscribers: Array,
}

impl JobEntry {
    fn new(job_id: JsValue, handlers: Vec<(u32, JsValue)>) -> Rc<JobEntry> {
        let subscribers = handlers.iter().map(|(_, handlers)| handlers).collect();
        Rc::new(JobEntry {
            job_id,
            handlers,
            subscribers,
        })
    }
}

/// The app's callbacks, by what they listen to. Each registration has an id so it can be
/// removed on its own.
pub struct Dispatcher {
    next_id: Cell<u32>,
    jobs: RefCell<SmallMap<JobKey, Rc<JobEntry>>>,
    /// The subscribers of the app's own channels, by (channel, id).
    channels: RefCell<SmallMap<(String, String), Rc<JobEntry>>>,
    /// Listeners of event names, each kept as a handler object `{ [event]: callback }` so the
    /// same delivery path calls them.
    named: RefCell<Vec<(u32, String, JsValue)>>,
    /// JS strings of every event and channel name, made once up front: creating a string
    /// from wasm, or even cloning a handle to one, is a call across the boundary.
    names: Vec<(&'static str, JsValue)>,
    /// `undefined`, for a name missing from [`NAMES`] (a new event added without it).
    unnamed: JsValue,
    state_listeners: RefCell<Vec<(u32, Function)>>,
    error_listeners: RefCell<Vec<(u32, Function)>>,
    dropped_listeners: RefCell<Vec<(u32, Function)>>,
    outbox_listeners: RefCell<Vec<(u32, Function)>>,
    /// Jobs whose terminal event is being delivered, with the last registration id at that
    /// moment: a handler of that event may subscribe to the job again, and that new
    /// subscription must outlive the end of the old ones.
    ending: RefCell<Vec<(JobKey, u32)>>,
}

/// What a listener id refers to.
#[derive(Clone, Copy)]
pub enum ListenerKind {
    State,
    Error,
    OutboxDropped,
    OutboxSize,
}

/// Every name [`Dispatcher::name`] is asked for.
const NAMES: [&str; 9] = [
    "queued",
    "progress",
    "clip_completed",
    "status_change",
    "completed",
    "error",
    "encoding_progress",
    "generation",
    "composition",
];

impl Dispatcher {
    pub fn new() -> Self {
        Dispatcher {
            next_id: Cell::new(0),
            jobs: RefCell::new(SmallMap::default()),
            channels: RefCell::new(SmallMap::default()),
            named: RefCell::new(Vec::new()),
            names: NAMES
                .iter()
                .map(|name| (*name, JsValue::from_str(name)))
                .collect(),
            unnamed: JsValue::UNDEFINED,
            state_listeners: RefCell::new(Vec::new()),
            error_listeners: RefCell::new(Vec::new()),
            dropped_listeners: RefCell::new(Vec::new()),
            outbox_listeners: RefCell::new(Vec::new()),
            ending: RefCell::new(Vec::new()),
        }
    }

    fn next_id(&self) -> u32 {
        let id = self.next_id.get().wrapping_add(1);
        self.next_id.set(id);
        id
    }

    pub fn add_job_handlers(&self, key: JobKey, handlers: JsValue) -> u32 {
        let id = self.next_id();
        add_handlers(&self.jobs, key, |key| &key.1, id, handlers);
        id
    }

    /// Whether registration `id` of `key` belongs to a subscription whose job just ended: its
    /// terminal event is being delivered, so the core has already let the subscription go, and
    /// an `unsubscribe()` now must not release the new one a handler may have made.
    pub fn ended_under(&self, key: &JobKey, id: u32) -> bool {
        self.ending
            .borrow()
            .iter()
            .any(|(ended, mark)| ended == key && id <= *mark)
    }

    /// Removes one subscriber's handlers; true if they were still registered.
    pub fn remove_job_handlers(&self, key: &JobKey, id: u32) -> bool {
        remove_handlers(&self.jobs, key, id)
    }

    pub fn add_channel_handlers(&self, key: (String, String), handlers: JsValue) -> u32 {
        let id = self.next_id();
        add_handlers(&self.channels, key, |key| &key.1, id, handlers);
        id
    }

    /// Removes one subscriber of an app channel; true if it was still registered.
    pub fn remove_channel_handlers(&self, key: &(String, String), id: u32) -> bool {
        remove_handlers(&self.channels, key, id)
    }

    /// Registers `callback` for events named `event`; its id removes it.
    pub fn add_named(&self, event: String, callback: Function) -> u32 {
        let id = self.next_id();
        let handlers = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&handlers, &JsValue::from_str(&event), &callback);
        self.named.borrow_mut().push((id, event, handlers.into()));
        id
    }

    /// Removes a listener of an event name; true if it was still registered.
    pub fn remove_named(&self, id: u32) -> bool {
        let mut named = self.named.borrow_mut();
        let before = named.len();
        named.retain(|(registered, _, _)| *registered != id);
        named.len() != before
    }

    /// An app-channel event to its channel's subscribers (every channel's, when the wire did
    /// not say which), then to the listeners of its name.
    fn deliver_channel_event(&self, delivery: ChannelDelivery) {
        let data = js_sys::JSON::parse(delivery.data.as_str()).unwrap_or(JsValue::NULL);
        let event = JsValue::from_str(&delivery.event);
        let seq = delivery.seq as f64;
        let (channel, id) = match &delivery.channel {
            Some((channel, id)) => (JsValue::from_str(channel), JsValue::from_str(id)),
            None => (JsValue::NULL, JsValue::NULL),
        };
        let targets: Vec<Rc<JobEntry>> = {
            let channels = self.channels.borrow();
            match &delivery.channel {
                Some(key) => channels.get(key).cloned().into_iter().collect(),
                None => channels.iter().map(|(_, entry)| Rc::clone(entry)).collect(),
            }
        };
        let listeners: Array = self
            .named
            .borrow()
            .iter()
            .filter(|(_, name, _)| *name == delivery.event)
            .map(|(_, _, handlers)| handlers.clone())
            .collect();
        let lists = targets
            .iter()
            .map(|entry| &entry.subscribers)
            .chain(std::iter::once(&listeners));
        for subscribers in lists {
            let thrown = deliver_value(subscribers, &event, &data, &channel, &id, seq);
            if let Some(thrown) = thrown.dyn_ref::<Array>() {
                for error in thrown.iter() {
                    self.handler_threw(&error);
                }
            }
        }
    }

    fn name(&self, name: &str) -> &JsValue {
        self.names
            .iter()
            .find(|(known, _)| *known == name)
            .map_or(&self.unnamed, |(_, value)| value)
    }

    pub fn add_listener(&self, kind: ListenerKind, callback: Function) -> u32 {
        let id = self.next_id();
        self.listeners(kind).borrow_mut().push((id, callback));
        id
    }

    pub fn remove_listener(&self, kind: ListenerKind, id: u32) {
        self.listeners(kind)
            .borrow_mut()
            .retain(|(registered, _)| *registered != id);
    }

    fn listeners(&self, kind: ListenerKind) -> &RefCell<Vec<(u32, Function)>> {
        match kind {
            ListenerKind::State => &self.state_listeners,
            ListenerKind::Error => &self.error_listeners,
            ListenerKind::OutboxDropped => &self.dropped_listeners,
            ListenerKind::OutboxSize => &self.outbox_listeners,
        }
    }

    /// Calls every listener of `kind` with `value`. The list is copied first: a listener may
    /// add or remove listeners while being called.
    fn notify(&self, kind: ListenerKind, value: &JsValue) -> usize {
        let listeners: Vec<Function> = self
            .listeners(kind)
            .borrow()
            .iter()
            .map(|(_, callback)| callback.clone())
            .collect();
        for listener in &listeners {
            if let Err(thrown) = listener.call1(&JsValue::UNDEFINED, value) {
                self.handler_threw(&thrown);
            }
        }
        listeners.len()
    }

    fn report_error(&self, value: &JsValue) {
        if self.notify(ListenerKind::Error, value) == 0 {
            // Nobody listens for errors: say it on the console rather than lose it.
            web_sys::console::warn_2(&JsValue::from_str("jobsocket:"), value);
        }
    }

    /// A callback of the app threw. Reported, never propagated: one failing handler must
    /// not stop the others or the client.
    fn handler_threw(&self, thrown: &JsValue) {
        let message = thrown
            .dyn_ref::<js_sys::Error>()
            .map(|error| String::from(error.message()))
            .or_else(|| thrown.as_string())
            .unwrap_or_else(|| "a handler threw".to_owned());
        web_sys::console::error_2(&JsValue::from_str("jobsocket: a handler threw:"), thrown);
        let value = convert::error("handler_error", &message);
        // Not through `report_error`, so an error listener that throws cannot loop.
        let listeners: Vec<Function> = self
            .error_listeners
            .borrow()
            .iter()
            .map(|(_, callback)| callback.clone())
            .collect();
        for listener in listeners {
            let _ = listener.call1(&JsValue::UNDEFINED, &value);
        }
    }

    fn deliver_job_event(&self, delivery: JobDelivery, source: Option<&SourceFrame>) {
        let channel = delivery.event.channel();
        let key = (channel, delivery.job_id);
        let entry = match self.jobs.borrow().get(&key) {
            Some(entry) => Rc::clone(entry),
            None => return,
        };
        if delivery.event.is_terminal() {
            self.ending.borrow_mut().push((key, self.next_id.get()));
        }
        let event = self.name(delivery.event.name());
        let channel = self.name(channel.as_str());
        let seq = delivery.seq as f64;
        let slice = source
            .zip(delivery.payload.as_ref())
            .and_then(|(source, span)| {
                source
                    .js_range(span)
                    .map(|(start, end)| (source.js(), start, end))
            });
        let thrown = match slice {
            Some((frame, start, end)) => deliver_slice(
                &entry.subscribers,
                event,
                frame,
                start,
                end,
                channel,
                &entry.job_id,
                seq,
            ),
            None => deliver_value(
                &entry.subscribers,
                event,
                &convert::event_data(&delivery.event),
                channel,
                &entry.job_id,
                seq,
            ),
        };
        if let Some(thrown) = thrown.dyn_ref::<Array>() {
            for error in thrown.iter() {
                self.handler_threw(&error);
            }
        }
    }
}

/// Adds a subscriber's `handlers` (registration `id`) to the entry of `key`, made anew.
fn add_handlers<K: Clone + Ord>(
    map: &RefCell<SmallMap<K, Rc<JobEntry>>>,
    key: K,
    id_of: impl Fn(&K) -> &String,
    id: u32,
    handlers: JsValue,
) {
    let mut map = map.borrow_mut();
    let (entry_id, mut list) = match map.get(&key) {
        Some(entry) => (entry.job_id.clone(), entry.handlers.clone()),
        None => (JsValue::from_str(id_of(&key)), Vec::new()),
    };
    list.push((id, handlers));
    map.insert(key, JobEntry::new(entry_id, list));
}

/// Removes registration `id` from the entry of `key`, the entry with its last subscriber; true
/// if it was still registered.
fn remove_handlers<K: Clone + Ord>(
    map: &RefCell<SmallMap<K, Rc<JobEntry>>>,
    key: &K,
    id: u32,
) -> bool {
    let mut map = map.borrow_mut();
    let Some(entry) = map.get(key) else {
        return false;
    };
    let list: Vec<(u32, JsValue)> = entry
        .handlers
        .iter()
        .filter(|(registered, _)| *registered != id)
        .cloned()
        .collect();
    if list.len() == entry.handlers.len() {
        return false;
    }
    if list.is_empty() {
        map.remove(key);
    } else {
        let entry_id = entry.job_id.clone();
        map.insert(key.clone(), JobEntry::new(entry_id, list));
    }
    true
}

impl EventSink for Dispatcher {
    fn deliver(&self, event: Event, source: Option<&SourceFrame>) {
        match event {
            Event::Job(delivery) => self.deliver_job_event(delivery, source),
            Event::Channel(delivery) => self.deliver_channel_event(delivery),
            Event::OutboxDropped { id, reason } => {
                let dropped = convert::object(&[
                    ("id", JsValue::from_str(&id)),
                    ("reason", JsValue::from_str(reason.as_str())),
                ]);
                self.notify(ListenerKind::OutboxDropped, &dropped);
            }
            Event::OutboxSize(size) => {
                self.notify(ListenerKind::OutboxSize, &JsValue::from_f64(size as f64));
            }
            Event::SubscriptionEnded { channel, job_id } => {
                // The job is over: its handlers are released, and each app-level
                // `unsubscribe()` after this is a no-op. Those registered while its terminal
                // event was delivered (a handler subscribing again) stay.
                let key = (channel, job_id);
                let mark = {
                    let mut ending = self.ending.borrow_mut();
                    let found = ending.iter().position(|(ended, _)| *ended == key);
                    found.map(|index| ending.swap_remove(index).1)
                };
                let mut jobs = self.jobs.borrow_mut();
                let later: Vec<(u32, JsValue)> = match (mark, jobs.get(&key)) {
                    (Some(mark), Some(entry)) => entry
                        .handlers
                        .iter()
                        .filter(|(registered, _)| *registered > mark)
                        .cloned()
                        .collect(),
                    _ => Vec::new(),
                };
                match jobs.get(&key).map(|entry| entry.job_id.clone()) {
                    Some(entry_id) if !later.is_empty() => {
                        jobs.insert(key, JobEntry::new(entry_id, later));
                    }
                    _ => {
                        jobs.remove(&key);
                    }
                }
            }
            Event::StateChanged(change) => {
                self.notify(ListenerKind::State, &convert::state_change(&change));
            }
            Event::Error(failure) => self.report_error(&convert::client_error(&failure)),
        }
    }
}
