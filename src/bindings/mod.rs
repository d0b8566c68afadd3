//! The JavaScript face of the client: `#[wasm_bindgen]` only — JS names, TypeScript types and
//! conversions. Every behaviour lives in the core; the driver does the browser's part.

mod convert;
mod dispatch;
mod options;
mod types;

use std::rc::{Rc, Weak};

use js_sys::Function;
use wasm_bindgen::prelude::*;

use crate::core::{Channel, RawJson};
use crate::web::{Driver, WeakDriver};
use dispatch::{Dispatcher, ListenerKind};

/// A connection to a jobsocket server. Create it with options, subscribe to jobs, and the
/// client connects by itself.
#[wasm_bindgen]
pub struct JobSocket {
    driver: Driver,
    dispatcher: Rc<Dispatcher>,
}

#[wasm_bindgen]
impl JobSocket {
    /// Creates a client. It stays idle until `connect()` or the first subscription. Throws an
    /// `Error` with `code` "invalid_options" and a message naming the option to fix, or
    /// "mixed_content" for a `ws://` URL on an `https:` page (a socket the browser blocks).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "JobSocketOptions")] options: JsValue,
    ) -> Result<JobSocket, JsValue> {
        let options =
            options::parse(options).map_err(|error| convert::coded(error, "invalid_options"))?;
        let page = crate::web::page_protocol().unwrap_or_default();
        if crate::core::blocked_as_mixed_content(&options.config.url, &page) {
            let message = "url is ws:// on an https: page, which browsers block as mixed \
                           content: use wss://";
            return Err(convert::coded(JsError::new(message), "mixed_content"));
        }
        let dispatcher = Rc::new(Dispatcher::new());
        let driver = Driver::new(
            options.config,
            dispatcher.clone(),
            options.token,
            options.storage_key.as_deref(),
        );
        Ok(JobSocket { driver, dispatcher })
    }

    /// Opens the connection now, unless it is already open, opening or scheduled.
    pub fn connect(&self) {
        self.driver.command(|core, now| core.connect(now));
    }

    /// Connects again now: replaces an open socket, or retries at once instead of waiting
    /// out the backoff.
    pub fn reconnect(&self) {
        self.driver.command(|core, now| core.reconnect(now));
    }

    /// Watches a generation job; `handlers` has one optional callback per event name, plus
    /// `onEvent` for all of them.
    #[wasm_bindgen(js_name = subscribeGeneration)]
    pub fn subscribe_generation(
        &self,
        id: String,
        #[wasm_bindgen(unchecked_param_type = "GenerationHandlers")] handlers: JsValue,
    ) -> Result<Subscription, JsError> {
        self.subscribe(Channel::Generation, id, handlers)
    }

    /// Watches a composition job; `handlers` has one optional callback per event name, plus
    /// `onEvent` for all of them.
    #[wasm_bindgen(js_name = subscribeComposition)]
    pub fn subscribe_composition(
        &self,
        id: String,
        #[wasm_bindgen(unchecked_param_type = "CompositionHandlers")] handlers: JsValue,
    ) -> Result<Subscription, JsError> {
        self.subscribe(Channel::Composition, id, handlers)
    }

    /// Watches an app channel (any name but "generation" and "composition"), such as
    /// `("workspace", "w_1")`: `handlers` has one optional callback per event name, plus
    /// `onEvent` for all of them.
    #[wasm_bindgen(js_name = subscribeChannel)]
    pub fn subscribe_channel(
        &self,
        channel: String,
        id: String,
        #[wasm_bindgen(unchecked_param_type = "Record<string, unknown>")] handlers: JsValue,
    ) -> Result<ChannelSubscription, JsError> {
        if channel.is_empty() || id.is_empty() {
            return Err(JsError::new("a channel's name and id must not be empty"));
        }
        if Channel::from_name(&channel).is_some() {
            return Err(JsError::new(&format!(
                "\"{channel}\" is a job channel: use subscribeGeneration or subscribeComposition"
            )));
        }
        if !handlers.is_object() {
            return Err(JsError::new(
                "handlers must be an object of callbacks, e.g. { \"approval.created\"(data) {} }",
            ));
        }
        let key = (channel, id);
        let handler_id = self.dispatcher.add_channel_handlers(key.clone(), handlers);
        self.driver
            .command(|core, now| core.subscribe_channel(now, &key.0, &key.1));
        Ok(ChannelSubscription {
            driver: self.driver.downgrade(),
            dispatcher: Rc::downgrade(&self.dispatcher),
            key,
            handler_id,
        })
    }

    /// Calls `callback(data, meta)` for every event named `event`, from any channel or from
    /// none (a Socket.IO server's own rooms, a plain-JSON frame type). An idle client connects.
    #[wasm_bindgen(js_name = onEvent)]
    pub fn on_event(
        &self,
        event: String,
        #[wasm_bindgen(unchecked_param_type = "(data: any, meta: ChannelEventMeta) => void")]
        callback: Function,
    ) -> Result<EventListener, JsError> {
        if event.is_empty() {
            return Err(JsError::new("an event name must not be empty"));
        }
        let id = self.dispatcher.add_named(event.clone(), callback);
        self.driver.command(|core, now| core.listen(now, &event));
        Ok(EventListener {
            driver: self.driver.downgrade(),
            dispatcher: Rc::downgrade(&self.dispatcher),
            event,
            id,
        })
    }

    /// Sends an application message and returns its id (unique; the server's idempotency
    /// key). While disconnected it waits in the outbox, kept in `localStorage`, and goes out
    /// once the connection is back, also after a page reload; the server's `ack` removes it.
    pub fn send(
        &self,
        event: String,
        #[wasm_bindgen(unchecked_param_type = "unknown")] data: JsValue,
    ) -> Result<String, JsError> {
        let text = if data.is_undefined() {
            None
        } else {
            js_sys::JSON::stringify(&data)
                .ok()
                .and_then(|text| text.as_string())
        };
        let data = RawJson::new(text.unwrap_or_else(|| "null".to_owned()))
            .map_err(|_| JsError::new("data must be serializable with JSON.stringify"))?;
        Ok(self
            .driver
            .command(|core, now| core.send(now, &event, data)))
    }

    /// Drops every message waiting in the outbox, in memory and in `localStorage` (each is
    /// reported to `onOutboxDropped` as "cleared"). Call it when the user signs out, so that
    /// nothing they queued is sent later on another user's connection.
    #[wasm_bindgen(js_name = clearOutbox)]
    pub fn clear_outbox(&self) {
        self.driver.command(|core, now| core.clear_outbox(now));
    }

    /// Calls `callback` with `{ id, reason }` for every message that left the outbox without
    /// an ack: "overflow", "expired", "retries_exhausted" or "cleared".
    #[wasm_bindgen(js_name = onOutboxDropped)]
    pub fn on_outbox_dropped(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(dropped: OutboxDropped) => void")]
        callback: Function,
    ) -> Listener {
        self.listen(ListenerKind::OutboxDropped, callback)
    }

    /// Calls `callback` with the number of messages waiting in the outbox whenever it
    /// changes (a message queued, acked or dropped).
    #[wasm_bindgen(js_name = onOutboxChange)]
    pub fn on_outbox_change(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(size: number) => void")] callback: Function,
    ) -> Listener {
        self.listen(ListenerKind::OutboxSize, callback)
    }

    /// Calls `callback` on every change of the connection status.
    #[wasm_bindgen(js_name = onStateChange)]
    pub fn on_state_change(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(change: StateChangeEvent) => void")]
        callback: Function,
    ) -> Listener {
        self.listen(ListenerKind::State, callback)
    }

    /// Calls `callback` with every problem the client hit and survived (bad frames, closed
    /// sockets, handlers that threw).
    #[wasm_bindgen(js_name = onError)]
    pub fn on_error(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(error: JobSocketError) => void")]
        callback: Function,
    ) -> Listener {
        self.listen(ListenerKind::Error, callback)
    }

    /// The connection as it is now.
    #[wasm_bindgen(getter, unchecked_return_type = "ConnectionState")]
    pub fn state(&self) -> JsValue {
        convert::state(&self.driver.state(), |instant| {
            self.driver.epoch_millis(instant)
        })
    }

    /// What this tab is to the app's other tabs: "leader" (it holds the connection),
    /// "follower", "waiting" (for the lock or a leader's answer), "closed" (by `close()`), or
    /// "off" when the connection is not shared.
    #[wasm_bindgen(getter, js_name = tabRole, unchecked_return_type = "TabRole")]
    pub fn tab_role(&self) -> String {
        self.driver.tab_role().to_owned()
    }

    /// Closes the connection and stops; `connect()` starts again.
    pub fn close(&self) {
        self.driver.command(|core, now| core.close(now));
    }
}

impl JobSocket {
    fn subscribe(
        &self,
        channel: Channel,
        id: String,
        handlers: JsValue,
    ) -> Result<Subscription, JsError> {
        if let Some(problem) = crate::core::job_id_problem(&id) {
            return Err(JsError::new(problem));
        }
        if !handlers.is_object() {
            return Err(JsError::new(
                "handlers must be an object of callbacks, e.g. { progress(data) {} }",
            ));
        }
        let handler_id = self
            .dispatcher
            .add_job_handlers((channel, id.clone()), handlers);
        self.driver
            .command(|core, now| core.subscribe(now, channel, &id));
        Ok(Subscription {
            driver: self.driver.downgrade(),
            dispatcher: Rc::downgrade(&self.dispatcher),
            channel,
            job_id: id,
            handler_id,
        })
    }

    fn listen(&self, kind: ListenerKind, callback: Function) -> Listener {
        let id = self.dispatcher.add_listener(kind, callback);
        Listener {
            dispatcher: Rc::downgrade(&self.dispatcher),
            kind,
            id,
        }
    }
}

/// One app-level subscription to a job. Several may share one server subscription.
#[wasm_bindgen]
pub struct Subscription {
    driver: WeakDriver,
    dispatcher: Weak<Dispatcher>,
    channel: Channel,
    job_id: String,
    handler_id: u32,
}

#[wasm_bindgen]
impl Subscription {
    /// Stops this subscription's handlers; the server subscription ends with the last one.
    /// Calling it again does nothing.
    pub fn unsubscribe(&self) {
        let Some(dispatcher) = self.dispatcher.upgrade() else {
            return;
        };
        let key = (self.channel, self.job_id.clone());
        let ended = dispatcher.ended_under(&key, self.handler_id);
        if dispatcher.remove_job_handlers(&key, self.handler_id) && !ended {
            self.driver
                .command(|core, now| core.unsubscribe(now, self.channel, &self.job_id));
        }
    }

    /// The job this subscription watches.
    #[wasm_bindgen(getter, js_name = jobId)]
    pub fn job_id(&self) -> String {
        self.job_id.clone()
    }

    /// `"generation"` or `"composition"`.
    #[wasm_bindgen(getter, unchecked_return_type = "Channel")]
    pub fn channel(&self) -> String {
        self.channel.as_str().to_owned()
    }
}

/// One app-level subscription to an app channel. Several may share one server subscription.
#[wasm_bindgen]
pub struct ChannelSubscription {
    driver: WeakDriver,
    dispatcher: Weak<Dispatcher>,
    key: (String, String),
    handler_id: u32,
}

#[wasm_bindgen]
impl ChannelSubscription {
    /// Stops this subscription's handlers; the server subscription ends with the last one.
    /// Calling it again does nothing.
    pub fn unsubscribe(&self) {
        let Some(dispatcher) = self.dispatcher.upgrade() else {
            return;
        };
        if dispatcher.remove_channel_handlers(&self.key, self.handler_id) {
            let (channel, id) = &self.key;
            self.driver
                .command(|core, now| core.unsubscribe_channel(now, channel, id));
        }
    }

    /// The channel's id.
    #[wasm_bindgen(getter, js_name = jobId)]
    pub fn id(&self) -> String {
        self.key.1.clone()
    }

    /// The channel's name.
    #[wasm_bindgen(getter)]
    pub fn channel(&self) -> String {
        self.key.0.clone()
    }
}

/// A listener of an event name.
#[wasm_bindgen]
pub struct EventListener {
    driver: WeakDriver,
    dispatcher: Weak<Dispatcher>,
    event: String,
    id: u32,
}

#[wasm_bindgen]
impl EventListener {
    /// Stops calling the callback. Calling it again does nothing.
    pub fn remove(&self) {
        if let Some(dispatcher) = self.dispatcher.upgrade()
            && dispatcher.remove_named(self.id)
        {
            self.driver
                .command(|core, now| core.unlisten(now, &self.event));
        }
    }
}

/// A registered state or error listener.
#[wasm_bindgen]
pub struct Listener {
    dispatcher: Weak<Dispatcher>,
    kind: ListenerKind,
    id: u32,
}

#[wasm_bindgen]
impl Listener {
    /// Stops calling the callback. Calling it again does nothing.
    pub fn remove(&self) {
        if let Some(dispatcher) = self.dispatcher.upgrade() {
            dispatcher.remove_listener(self.kind, self.id);
        }
    }
}
