//! The browser driver: the only code that touches browser APIs. It turns socket callbacks and
//! timer wake-ups into the core's inputs, carries out the core's transmits, keeps exactly one
//! timer armed at `poll_timeout()`, and hands events to an [`EventSink`].

mod clock;
mod entropy;
mod environment;
mod poll;
mod socket;
mod storage;
mod tabs;
mod text;
mod token;

use std::cell::{Cell, RefCell};
use std::ops::Range;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use wasm_bindgen::JsValue;

use crate::core::tabs::Tab;
use crate::core::utf16::Utf16Index;
use crate::core::{Config, ConnectionState, Event, Instant, SocketId, Transmit};
use clock::Clock;
pub use environment::page_protocol;
use environment::{PageEvents, PageListener, PageReport};
use poll::PollListener;
use socket::{BrowserSocket, SocketListener, SocketReport};
use storage::OutboxStorage;
use tabs::{TabLink, TabsListener, TabsReport};
use token::TokenListener;
pub use token::TokenSource;

/// Where the driver delivers the core's events (the JS bindings, or a test).
pub trait EventSink {
    /// `source` is the text frame the event came from, when it came from one.
    fn deliver(&self, event: Event, source: Option<&SourceFrame>);
}

/// The text frame being handled, kept while its events are delivered so that a job event's
/// payload can be handed to the app as a slice of the browser's own string.
pub struct SourceFrame {
    js: JsValue,
    text: String,
    offsets: Utf16Index,
}

impl SourceFrame {
    fn new(js: JsValue, text: String) -> Self {
        SourceFrame {
            js,
            offsets: Utf16Index::new(&text),
            text,
        }
    }

    /// The frame as the browser's string.
    pub fn js(&self) -> &JsValue {
        &self.js
    }

    /// The byte range `span` of the frame in UTF-16 code units, as JS's `slice` counts.
    pub fn js_range(&self, span: &Range<usize>) -> Option<(u32, u32)> {
        self.offsets.range(&self.text, span)
    }
}

/// A running client in the browser. Dropping it closes the socket and cancels the timer.
pub struct Driver {
    inner: Rc<Inner>,
}

/// A handle that does not keep the driver alive, for objects the app may hold longer than the
/// client (a subscription handle, say).
#[derive(Clone)]
pub struct WeakDriver {
    inner: Weak<Inner>,
}

struct Inner {
    core: RefCell<Tab>,
    /// The channel to the app's other tabs and the lock, when sharing.
    tabs: RefCell<Option<TabLink<Inner>>>,
    clock: Clock,
    socket: RefCell<Option<BrowserSocket>>,
    timer: RefCell<Option<Timeout>>,
    /// The deadline the armed timer is for, so an unchanged deadline is not re-armed.
    armed_for: Cell<Option<Instant>>,
    sink: Rc<dyn EventSink>,
    token: Option<TokenSource>,
    outbox_storage: OutboxStorage,
    /// The longest frame or status body taken into wasm memory (`Config::max_frame_bytes`).
    max_frame_bytes: usize,
    /// The page's online/offline/visibility listeners.
    page: RefCell<Option<PageEvents>>,
    /// The text frame whose events are being delivered, if any.
    frame: RefCell<Option<Rc<SourceFrame>>>,
    /// Set while `drain` runs, so a nested call (a JS handler calling back in) leaves the
    /// draining to the outer loop and events keep their order.
    draining: Cell<bool>,
    this: Weak<Inner>,
}

impl Driver {
    /// A client for `config`, delivering to `sink`. `token`, when given, is asked before
    /// every connection attempt (and `config.auth` is turned on for it). The outbox is kept
    /// in `localStorage` under a key made of the URL and `storage_key`; what a previous page
    /// left there is restored and delivered. With `config.share_across_tabs` and a browser
    /// that has Web Locks and BroadcastChannel, the tabs with that same key share one
    /// connection (see [`crate::core::tabs`]); the lock and the channel are named after it.
    pub fn new(
        mut config: Config,
        sink: Rc<dyn EventSink>,
        token: Option<TokenSource>,
        storage_key: Option<&str>,
    ) -> Driver {
        config.auth = token.is_some();
        config.share_across_tabs &= tabs::supported();
        entropy::fill_secrets(&mut config);
        let key = crate::core::outbox::storage_key(&config.url, storage_key);
        let shared = config.share_across_tabs;
        let outbox_storage = OutboxStorage::new(key.clone());
        let max_frame_bytes = config.max_frame_bytes;
        let clock = Clock::new();
        let now = clock.now();
        let inner = Rc::new_cyclic(|this: &Weak<Inner>| Inner {
            max_frame_bytes,
            core: RefCell::new(Tab::new(config, now)),
            tabs: RefCell::new(shared.then(|| TabLink::open(key, this.clone()))),
            clock,
            socket: RefCell::new(None),
            timer: RefCell::new(None),
            armed_for: Cell::new(None),
            sink,
            token,
            outbox_storage,
            page: RefCell::new(None),
            frame: RefCell::new(None),
            draining: Cell::new(false),
            this: this.clone(),
        });
        *inner.page.borrow_mut() = Some(PageEvents::install(Rc::downgrade(&inner)));
        if !PageEvents::online_now() {
            inner.input(|core, now| core.handle_offline(now));
        }
        if !environment::websocket_exists() {
            inner.input(|core, now| core.handle_websocket_unavailable(now));
        }
        if shared {
            inner.drain();
        } else {
            // Its own leader from the start, with the outbox a previous page left.
            let stored = inner.outbox_storage.load();
            inner.input(|core, now| core.handle_lock_acquired(now, stored, Vec::new()));
        }
        Driver { inner }
    }

    /// Runs an app command on the core at the current time, then carries out what follows.
    pub fn command<R>(&self, command: impl FnOnce(&mut Tab, Instant) -> R) -> R {
        self.inner.input(command)
    }

    /// The connection snapshot.
    pub fn state(&self) -> ConnectionState {
        self.inner.core.borrow().state()
    }

    /// What this tab is to the app's other tabs (see [`Tab::role_name`]).
    pub fn tab_role(&self) -> &'static str {
        self.inner.core.borrow().role_name()
    }

    /// An instant of the core as milliseconds since the Unix epoch, for the app.
    pub fn epoch_millis(&self, instant: Instant) -> f64 {
        self.inner.clock.epoch_millis(instant)
    }

    pub fn downgrade(&self) -> WeakDriver {
        WeakDriver {
            inner: Rc::downgrade(&self.inner),
        }
    }
}

impl WeakDriver {
    /// Runs a command if the driver still exists; `None` once it was dropped.
    pub fn command<R>(&self, command: impl FnOnce(&mut Tab, Instant) -> R) -> Option<R> {
        self.inner.upgrade().map(|inner| inner.input(command))
    }
}

impl Inner {
    fn input<R>(&self, step: impl FnOnce(&mut Tab, Instant) -> R) -> R {
        let now = self.clock.now();
        let result = step(&mut self.core.borrow_mut(), now);
        self.drain();
        result
    }

    /// Runs an input of the leader's client (a late one for a client this tab no longer runs
    /// is dropped), then carries out what follows.
    fn on_client(&self, input: impl FnOnce(&mut crate::core::Client, Instant)) {
        self.input(|core, now| core.on_client(now, None, |client| input(client, now)));
    }

    /// Drains with `text` (a socket frame or another tab's message, `js` being the browser's
    /// string of it) as the source of the events' payloads.
    fn drain_with_source(&self, js: JsValue, text: String) {
        *self.frame.borrow_mut() = Some(Rc::new(SourceFrame::new(js, text)));
        self.drain();
        *self.frame.borrow_mut() = None;
    }

    /// Carries out every transmit and delivers every event the core has, then re-arms the
    /// timer. No `RefCell` borrow is held while calling into the browser or the app.
    fn drain(&self) {
        if self.draining.replace(true) {
            return;
        }
        loop {
            let transmit = self.core.borrow_mut().poll_transmit();
            if let Some(transmit) = transmit {
                self.carry_out(transmit);
                continue;
            }
            let event = self.core.borrow_mut().poll_event();
            match event {
                Some(event) => {
                    let source = self.frame.borrow().clone();
                    self.sink.deliver(event, source.as_deref());
                }
                None => break,
            }
        }
        self.draining.set(false);
        self.arm_timer();
    }

    fn carry_out(&self, transmit: Transmit) {
        match transmit {
            Transmit::FetchToken { request } => match &self.token {
                Some(source) => source.fetch(request, self.this.clone()),
                None => {
                    let now = self.clock.now();
                    let missing = Err("no token option".to_owned());
                    self.core.borrow_mut().on_client(now, None, |client| {
                        client.handle_token(now, request, missing)
                    });
                }
            },
            Transmit::Poll {
                request,
                url,
                token,
            } => poll::fetch(request, url, token, self.max_frame_bytes, self.this.clone()),
            Transmit::PostMessage {
                request,
                url,
                body,
                token,
            } => poll::post(request, url, body, token, self.this.clone()),
            Transmit::PersistOutbox { text } => {
                if let Err(reason) = self.outbox_storage.save(&text) {
                    let now = self.clock.now();
                    self.core.borrow_mut().on_client(now, None, |client| {
                        client.handle_storage_failed(now, &reason)
                    });
                }
            }
            Transmit::OpenSocket { socket, url } => {
                // The core opens a socket only after forgetting the previous one.
                drop(self.socket.borrow_mut().take());
                match BrowserSocket::open(socket, &url, self.max_frame_bytes, self.this.clone()) {
                    Ok(opened) => *self.socket.borrow_mut() = Some(opened),
                    Err(message) => {
                        let now = self.clock.now();
                        self.core.borrow_mut().on_client(now, None, |client| {
                            client.handle_socket_closed(now, socket, 1006, &message)
                        });
                    }
                }
            }
            Transmit::Send { socket, text } => {
                if let Some(current) = self.socket.borrow().as_ref().filter(|s| s.id == socket) {
                    current.send(&text);
                }
            }
            Transmit::CloseSocket {
                socket,
                code,
                reason,
            } => {
                let mut slot = self.socket.borrow_mut();
                if slot.as_ref().is_some_and(|current| current.id == socket)
                    && let Some(closing) = slot.take()
                {
                    drop(slot);
                    closing.close(code, &reason);
                }
            }
            Transmit::Broadcast { text } => {
                if let Some(link) = self.tabs.borrow().as_ref() {
                    link.post(&text);
                }
            }
            Transmit::RequestLock | Transmit::StealLock => {
                let steal = transmit == Transmit::StealLock;
                if let Some(link) = self.tabs.borrow_mut().as_mut() {
                    link.request_lock(steal);
                }
            }
            Transmit::StorePending { id, text } => {
                if let Err(reason) = self.outbox_storage.save_pending(&id, &text) {
                    let now = self.clock.now();
                    self.core
                        .borrow_mut()
                        .handle_pending_storage_failed(now, &reason);
                }
            }
            Transmit::RemovePending { id } => self.outbox_storage.remove_pending(id.as_deref()),
            Transmit::ReleaseLock => {
                if let Some(link) = self.tabs.borrow_mut().as_mut() {
                    link.release_lock();
                }
            }
        }
    }

    fn arm_timer(&self) {
        let next = self
            .core
            .borrow()
            .poll_timeout()
            .map(|(deadline, _)| deadline);
        if next == self.armed_for.get() {
            return;
        }
        self.armed_for.set(next);
        let timeout = next.map(|deadline| {
            let delay = deadline.saturating_since(self.clock.now()).as_millis();
            let this = self.this.clone();
            Timeout::new(u32::try_from(delay).unwrap_or(u32::MAX), move || {
                if let Some(inner) = this.upgrade() {
                    inner.armed_for.set(None);
                    inner.input(|core, now| core.handle_timeout(now));
                }
            })
        });
        // Replacing the old `Timeout` drops it, which cancels it.
        *self.timer.borrow_mut() = timeout;
    }
}

impl SocketListener for Inner {
    fn on_socket_report(&self, socket: SocketId, report: SocketReport) {
        match report {
            SocketReport::Opened => self.on_client(|client, now| {
                client.handle_socket_opened(now, socket);
            }),
            SocketReport::Text(text, js) => {
                let now = self.clock.now();
                self.core
                    .borrow_mut()
                    .on_client(now, Some(&text), |client| {
                        client.handle_frame(now, socket, &text)
                    });
                self.drain_with_source(js, text);
            }
            SocketReport::TooLarge(units) => self.on_client(|client, now| {
                client.handle_frame_too_large(now, socket, units);
            }),
            SocketReport::Binary(bytes) => self.on_client(|client, now| {
                client.handle_binary_frame(now, socket, bytes);
            }),
            SocketReport::Closed { code, reason } => self.on_client(|client, now| {
                client.handle_socket_closed(now, socket, code, &reason);
            }),
        }
    }
}

impl TokenListener for Inner {
    fn on_token(&self, request: u64, token: Result<String, String>) {
        if self.draining.get() {
            // A fixed token answers while the transmit is carried out, inside `drain`: feed
            // it straight in, the drain loop picks up what follows.
            let now = self.clock.now();
            self.core
                .borrow_mut()
                .on_client(now, None, |client| client.handle_token(now, request, token));
        } else {
            self.on_client(|client, now| client.handle_token(now, request, token));
        }
    }
}

impl PageListener for Inner {
    fn on_page_report(&self, report: PageReport) {
        self.input(|core, now| match report {
            PageReport::Online => core.handle_online(now),
            PageReport::Offline => core.handle_offline(now),
            PageReport::Visible => core.handle_visible(now),
        });
    }
}

impl TabsListener for Inner {
    fn on_tabs_report(&self, report: TabsReport) {
        match report {
            TabsReport::Message(text, js) => {
                let now = self.clock.now();
                self.core.borrow_mut().handle_tab_message(now, &text);
                self.drain_with_source(js, text);
            }
            TabsReport::LockAcquired => {
                // Read now, not when the page started: the previous leader wrote it last.
                let stored = self.outbox_storage.load();
                let pending = self.outbox_storage.load_pending();
                self.input(|core, now| core.handle_lock_acquired(now, stored, pending));
            }
            TabsReport::LockLost => self.input(|core, now| core.handle_lock_lost(now)),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The page keeps running without this client: the other tabs hear it leave, the lock
        // goes back. Events are not delivered any more; transmits that reach the browser are.
        let now = self.clock.now();
        let core = self.core.get_mut();
        core.leave(now);
        while let Some(transmit) = core.poll_transmit() {
            match transmit {
                Transmit::Broadcast { text } => {
                    if let Some(link) = self.tabs.get_mut().as_ref() {
                        link.post(&text);
                    }
                }
                Transmit::CloseSocket { code, reason, .. } => {
                    if let Some(socket) = self.socket.get_mut().take() {
                        socket.close(code, &reason);
                    }
                }
                _ => {}
            }
        }
    }
}

impl PollListener for Inner {
    fn on_poll(&self, request: u64, body: Result<String, String>) {
        self.on_client(|client, now| client.handle_poll_response(now, request, body));
    }

    fn on_message_posted(&self, request: u64, status: Result<u16, String>) {
        self.on_client(|client, now| client.handle_message_response(now, request, status));
    }
}
