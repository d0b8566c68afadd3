//! One browser `WebSocket` and the closures it calls, owned together so that dropping the
//! socket removes its handlers before the closures are freed.

use std::rc::Weak;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use super::text::copy_text;
use crate::core::SocketId;

/// What a socket reports back to the driver. Every report carries the socket's id, so the
/// core can ignore a report from a socket it has already replaced.
pub enum SocketReport {
    Opened,
    /// A text frame, as Rust text and as the browser's own string (which the app's payloads
    /// are sliced from without re-encoding).
    Text(String, wasm_bindgen::JsValue),
    /// A text frame whose length in UTF-16 units is over the frame limit, left in the browser:
    /// copying it into wasm memory first would cost the very memory the limit protects.
    TooLarge(usize),
    Binary(usize),
    Closed {
        code: u16,
        reason: String,
    },
}

/// Receives a socket's reports. Implemented by the driver; held weakly so that a socket never
/// keeps its driver alive.
pub trait SocketListener {
    fn on_socket_report(&self, socket: SocketId, report: SocketReport);
}

/// An open (or opening) browser WebSocket with its installed handlers.
pub struct BrowserSocket {
    pub id: SocketId,
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl BrowserSocket {
    /// Starts opening a socket to `url`. Fails at once, with the browser's message, when the
    /// URL is not a valid WebSocket URL or the browser has no `WebSocket`. Text frames longer
    /// than `max_frame_bytes` UTF-16 units are reported as [`SocketReport::TooLarge`] without
    /// being copied (each unit is one to three UTF-8 bytes, so they are too large in bytes
    /// too); shorter ones are copied and the core checks their size in bytes.
    /// (The browser's message may quote the URL, token included: the core hides URL queries
    /// in every error it reports.)
    pub fn open<L: SocketListener + 'static>(
        id: SocketId,
        url: &str,
        max_frame_bytes: usize,
        listener: Weak<L>,
    ) -> Result<Self, String> {
        let ws = WebSocket::new(url).map_err(|error| {
            error
                .dyn_ref::<js_sys::Error>()
                .map(|error| String::from(error.message()))
                .unwrap_or_else(|| "cannot open a WebSocket".to_owned())
        })?;
        ws.set_binary_type(BinaryType::Arraybuffer);

        let report = move |report: SocketReport| {
            if let Some(listener) = listener.upgrade() {
                listener.on_socket_report(id, report);
            }
        };
        let on_open = {
            let report = report.clone();
            Closure::<dyn FnMut()>::new(move || report(SocketReport::Opened))
        };
        let on_message = {
            let report = report.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let data = event.data();
                if let Some(text) = data.dyn_ref::<js_sys::JsString>() {
                    let units = text.length() as usize;
                    if units > max_frame_bytes {
                        report(SocketReport::TooLarge(units));
                        return;
                    }
                    let text = copy_text(text, units);
                    report(SocketReport::Text(text, data));
                    return;
                }
                let bytes = data
                    .dyn_ref::<js_sys::ArrayBuffer>()
                    .map_or(0, |buffer| buffer.byte_length() as usize);
                report(SocketReport::Binary(bytes));
            })
        };
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            report(SocketReport::Closed {
                code: event.code(),
                reason: event.reason(),
            });
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(BrowserSocket {
            id,
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Sends a text frame. A socket that is not open drops it; the core only sends on open
    /// sockets and learns of a close from the close report.
    pub fn send(&self, text: &str) {
        let _ = self.ws.send_with_str(text);
    }

    /// Closes with a code and reason. The browser only accepts 1000 and 3000–4999 from pages;
    /// any other code is sent as 1000.
    pub fn close(self, code: u16, reason: &str) {
        let code = if code == 1000 || (3000..=4999).contains(&code) {
            code
        } else {
            1000
        };
        self.detach();
        let _ = self.ws.close_with_code_and_reason(code, reason);
    }

    /// Removes the handlers, so the closures can be freed without the browser calling them.
    fn detach(&self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
    }
}

impl Drop for BrowserSocket {
    fn drop(&mut self) {
        self.detach();
        if self.ws.ready_state() <= WebSocket::OPEN {
            let _ = self.ws.close();
        }
    }
}
