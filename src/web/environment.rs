//! The page's network and visibility: `online`/`offline` on the global object and
//! `visibilitychange` on the document, turned into the core's inputs. The listeners are owned
//! and removed on drop.

use std::rc::Weak;

use js_sys::Reflect;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, EventTarget};

/// What the page reports.
#[derive(Clone, Copy)]
pub enum PageReport {
    Online,
    Offline,
    Visible,
}

pub trait PageListener {
    fn on_page_report(&self, report: PageReport);
}

/// One installed listener: where, for which event, and the callback the browser holds.
struct Installed {
    target: EventTarget,
    event: &'static str,
    callback: Closure<dyn FnMut()>,
}

/// Installed listeners, removed when dropped.
pub struct PageEvents {
    installed: Vec<Installed>,
}

impl PageEvents {
    /// Listens on the global object (window or worker) and, in a window, on the document.
    pub fn install<L: PageListener + 'static>(listener: Weak<L>) -> PageEvents {
        let mut installed = Vec::new();
        let global: EventTarget = js_sys::global().unchecked_into();
        let document = Reflect::get(&global, &JsValue::from_str("document"))
            .ok()
            .and_then(|document| document.dyn_into::<Document>().ok());
        let mut listen = |target: EventTarget, name: &'static str, report: PageReport| {
            let listener = listener.clone();
            let document = document.clone();
            let callback = Closure::<dyn FnMut()>::new(move || {
                let hidden = matches!(report, PageReport::Visible)
                    && document.as_ref().is_some_and(Document::hidden);
                if hidden {
                    return;
                }
                if let Some(listener) = listener.upgrade() {
                    listener.on_page_report(report);
                }
            });
            if target
                .add_event_listener_with_callback(name, callback.as_ref().unchecked_ref())
                .is_ok()
            {
                installed.push(Installed {
                    target,
                    event: name,
                    callback,
                });
            }
        };
        listen(global.clone(), "online", PageReport::Online);
        listen(global, "offline", PageReport::Offline);
        if let Some(document) = document.clone() {
            listen(document.into(), "visibilitychange", PageReport::Visible);
        }
        PageEvents { installed }
    }

    /// Whether the browser says it is online now (`navigator.onLine`; true where unknown).
    pub fn online_now() -> bool {
        let navigator = Reflect::get(&js_sys::global(), &JsValue::from_str("navigator"))
            .unwrap_or(JsValue::UNDEFINED);
        Reflect::get(&navigator, &JsValue::from_str("onLine"))
            .ok()
            .and_then(|online| online.as_bool())
            .unwrap_or(true)
    }
}

impl Drop for PageEvents {
    fn drop(&mut self) {
        for listener in &self.installed {
            let _ = listener.target.remove_event_listener_with_callback(
                listener.event,
                listener.callback.as_ref().unchecked_ref(),
            );
        }
    }
}

/// Whether the runtime has a `WebSocket` constructor at all.
pub fn websocket_exists() -> bool {
    Reflect::get(&js_sys::global(), &JsValue::from_str("WebSocket"))
        .map(|constructor| constructor.is_function())
        .unwrap_or(false)
}

/// The page's `location.protocol` ("https:", "http:", "file:"), if the runtime has a location.
pub fn page_protocol() -> Option<String> {
    let location = Reflect::get(&js_sys::global(), &JsValue::from_str("location")).ok()?;
    Reflect::get(&location, &JsValue::from_str("protocol"))
        .ok()?
        .as_string()
}
