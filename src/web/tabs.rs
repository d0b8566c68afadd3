//! The browser's side of sharing one connection across tabs (see [`crate::core::tabs`]): a
//! `BroadcastChannel` to the app's other tabs and the app's Web Lock, both named after the
//! outbox's storage key, so tabs share exactly when they would share the outbox.

use std::rc::Weak;

use js_sys::Function;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/web/tabs.js")]
extern "C" {
    #[wasm_bindgen(js_name = tabsSupported)]
    fn tabs_supported() -> bool;

    #[wasm_bindgen(js_name = openChannel, catch)]
    fn open_channel(
        name: &str,
        on_message: &Function,
    ) -> Result<web_sys::BroadcastChannel, JsValue>;

    #[wasm_bindgen(js_name = requestLock, catch)]
    fn request_lock(
        name: &str,
        steal: bool,
        on_acquired: &Function,
        on_lost: &Function,
    ) -> Result<Function, JsValue>;
}

/// Whether Web Locks and BroadcastChannel exist here.
pub fn supported() -> bool {
    tabs_supported()
}

/// What the channel and the lock report to the driver.
pub enum TabsReport {
    /// Another tab posted this text (kept as the browser's string too, for slicing).
    Message(String, JsValue),
    LockAcquired,
    LockLost,
}

pub trait TabsListener {
    fn on_tabs_report(&self, report: TabsReport);
}

/// One lock request, held or in line, and its callbacks. Dropping it gives the lock back.
struct LockRequest {
    release: Function,
    _on_acquired: Closure<dyn FnMut()>,
    _on_lost: Closure<dyn FnMut()>,
}

impl Drop for LockRequest {
    fn drop(&mut self) {
        // Giving back is resolving a promise: it cannot throw.
        let _ = self.release.call0(&JsValue::NULL);
    }
}

/// The channel and the current lock request.
pub struct TabLink<L: TabsListener + 'static> {
    name: String,
    channel: Option<web_sys::BroadcastChannel>,
    _on_message: Closure<dyn FnMut(JsValue)>,
    lock: Option<LockRequest>,
    listener: Weak<L>,
}

impl<L: TabsListener + 'static> TabLink<L> {
    /// Opens the channel `name` (a browser that refuses leaves this tab unshared in effect:
    /// it never hears of a leader, and takes the lock itself).
    pub fn open(name: String, listener: Weak<L>) -> Self {
        let on_message = {
            let listener = listener.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |data: JsValue| {
                if let (Some(listener), Some(text)) = (listener.upgrade(), data.as_string()) {
                    listener.on_tabs_report(TabsReport::Message(text, data));
                }
            })
        };
        let channel = open_channel(&name, on_message.as_ref().unchecked_ref()).ok();
        TabLink {
            name,
            channel,
            _on_message: on_message,
            lock: None,
            listener,
        }
    }

    pub fn post(&self, text: &str) {
        if let Some(channel) = &self.channel {
            // Posting a string to an open channel cannot fail.
            let _ = channel.post_message(&JsValue::from_str(text));
        }
    }

    /// Asks for the lock (or steals it), replacing any earlier request.
    pub fn request_lock(&mut self, steal: bool) {
        self.lock = None;
        let report = |report: fn() -> TabsReport, listener: Weak<L>| {
            Closure::<dyn FnMut()>::new(move || {
                if let Some(listener) = listener.upgrade() {
                    listener.on_tabs_report(report());
                }
            })
        };
        let on_acquired = report(|| TabsReport::LockAcquired, self.listener.clone());
        let on_lost = report(|| TabsReport::LockLost, self.listener.clone());
        if let Ok(release) = request_lock(
            &self.name,
            steal,
            on_acquired.as_ref().unchecked_ref(),
            on_lost.as_ref().unchecked_ref(),
        ) {
            self.lock = Some(LockRequest {
                release,
                _on_acquired: on_acquired,
                _on_lost: on_lost,
            });
        }
    }

    /// Gives the lock back, or leaves the line.
    pub fn release_lock(&mut self) {
        self.lock = None;
    }
}

impl<L: TabsListener + 'static> Drop for TabLink<L> {
    fn drop(&mut self) {
        self.lock = None;
        if let Some(channel) = &self.channel {
            channel.set_onmessage(None);
            channel.close();
        }
    }
}
