//! Routes the core's events to the JS callbacks the app registered: job events to the handler
//! objects of that job's subscribers, state changes and errors to their listeners.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::convert;
use crate::core::{Channel, Event, JobDelivery};
use crate::web::EventSink;

type JobKey = (Channel, String);

/// The app's callbacks, by what they listen to. Each registration has an id so it can be
/// removed on its own.
#[derive(Default)]
pub struct Dispatcher {
    next_id: Cell<u32>,
    job_handlers: RefCell<BTreeMap<JobKey, Vec<(u32, JsValue)>>>,
    state_listeners: RefCell<Vec<(u32, Function)>>,
    error_listeners: RefCell<Vec<(u32, Function)>>,
}

/// What a listener id refers to.
#[derive(Clone, Copy)]
pub enum ListenerKind {
    State,
    Error,
}

impl Dispatcher {
    fn next_id(&self) -> u32 {
        let id = self.next_id.get().wrapping_add(1);
        self.next_id.set(id);
        id
    }

    pub fn add_job_handlers(&self, key: JobKey, handlers: JsValue) -> u32 {
        let id = self.next_id();
        self.job_handlers
            .borrow_mut()
            .entry(key)
            .or_default()
            .push((id, handlers));
        id
    }

    /// Removes one subscriber's handlers; true if they were still registered.
    pub fn remove_job_handlers(&self, key: &JobKey, id: u32) -> bool {
        let mut handlers = self.job_handlers.borrow_mut();
        let Some(list) = handlers.get_mut(key) else {
            return false;
        };
        let before = list.len();
        list.retain(|(registered, _)| *registered != id);
        let removed = list.len() != before;
        if list.is_empty() {
            handlers.remove(key);
        }
        removed
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

    fn deliver_job_event(&self, delivery: JobDelivery) {
        let channel = delivery.event.channel();
        let key = (channel, delivery.job_id);
        let subscribers: Vec<JsValue> = match self.job_handlers.borrow().get(&key) {
            Some(list) => list.iter().map(|(_, handlers)| handlers.clone()).collect(),
            None => return,
        };
        let name = delivery.event.name();
        let data = convert::event_data(&delivery.event);
        let meta = convert::object(&[
            ("channel", JsValue::from_str(channel.as_str())),
            ("jobId", JsValue::from_str(&key.1)),
            ("seq", JsValue::from_f64(delivery.seq as f64)),
            ("event", JsValue::from_str(name)),
        ]);
        let name = JsValue::from_str(name);
        let on_event = JsValue::from_str("onEvent");
        for handlers in subscribers {
            for property in [&name, &on_event] {
                let handler = Reflect::get(&handlers, property).unwrap_or(JsValue::UNDEFINED);
                if let Some(handler) = handler.dyn_ref::<Function>()
                    && let Err(thrown) = handler.call2(&handlers, &data, &meta)
                {
                    self.handler_threw(&thrown);
                }
            }
        }
    }
}

impl EventSink for Dispatcher {
    fn deliver(&self, event: Event) {
        match event {
            Event::Job(delivery) => self.deliver_job_event(delivery),
            Event::StateChanged(change) => {
                self.notify(ListenerKind::State, &convert::state_change(&change));
            }
            Event::Error(failure) => self.report_error(&convert::client_error(&failure)),
        }
    }
}
