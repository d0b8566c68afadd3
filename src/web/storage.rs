//! Where the outbox is kept between page loads: `localStorage`, under the key the core
//! derives from the server URL and the app's `storageKey`.
//!
//! Storage that does not cooperate never breaks the client: reading `localStorage` itself
//! throws a `SecurityError` in sandboxed iframes and some private modes, and `setItem` throws
//! `QuotaExceededError` when full; each failure comes back as an error string for the core,
//! which keeps the outbox in memory and says so. (gloo-storage's `LocalStorage::raw()` panics
//! when storage is blocked, which would trap the wasm instance; web-sys's `Result`s do not.)

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Storage;

pub struct OutboxStorage {
    key: String,
}

impl OutboxStorage {
    pub fn new(key: String) -> Self {
        OutboxStorage { key }
    }

    fn storage() -> Result<Storage, String> {
        let value = Reflect::get(&js_sys::global(), &JsValue::from_str("localStorage"))
            .map_err(|error| describe(&error))?;
        value
            .dyn_into::<Storage>()
            .map_err(|_| "localStorage is not available".to_owned())
    }

    /// The stored text, if any.
    pub fn load(&self) -> Result<Option<String>, String> {
        Self::storage()?
            .get_item(&self.key)
            .map_err(|error| describe(&error))
    }

    /// Stores `text`. When that fails, the older copy is removed: the core stops storing
    /// after a failure, and a stale copy would bring back messages already acked on the next
    /// page load.
    pub fn save(&self, text: &str) -> Result<(), String> {
        let storage = Self::storage()?;
        storage.set_item(&self.key, text).map_err(|error| {
            let _ = storage.remove_item(&self.key);
            describe(&error)
        })
    }
}

impl OutboxStorage {
    /// The key of a pending message (see [`crate::core::Transmit::StorePending`]).
    fn pending_key(&self, id: &str) -> String {
        format!("{}:pending:{id}", self.key)
    }

    /// Stores a message that is not in the shared outbox yet, under a key of its own.
    pub fn save_pending(&self, id: &str, text: &str) -> Result<(), String> {
        Self::storage()?
            .set_item(&self.pending_key(id), text)
            .map_err(|error| describe(&error))
    }

    /// Removes the pending message `id`, or every pending message of this outbox.
    pub fn remove_pending(&self, id: Option<&str>) {
        let Ok(storage) = Self::storage() else {
            return;
        };
        let keys = match id {
            Some(id) => vec![self.pending_key(id)],
            None => self.pending_keys(&storage),
        };
        for key in keys {
            // Removing cannot fail for want of space; a blocked storage had nothing stored.
            let _ = storage.remove_item(&key);
        }
    }

    /// Every pending message of this outbox, by any tab.
    pub fn load_pending(&self) -> Vec<String> {
        let Ok(storage) = Self::storage() else {
            return Vec::new();
        };
        self.pending_keys(&storage)
            .iter()
            .filter_map(|key| storage.get_item(key).ok().flatten())
            .collect()
    }

    fn pending_keys(&self, storage: &Storage) -> Vec<String> {
        let prefix = self.pending_key("");
        let count = storage.length().unwrap_or(0);
        (0..count)
            .filter_map(|index| storage.key(index).ok().flatten())
            .filter(|key| key.starts_with(&prefix))
            .collect()
    }
}

/// A thrown `DOMException` or `Error` as "Name: message".
fn describe(thrown: &JsValue) -> String {
    let field = |name: &str| {
        Reflect::get(thrown, &JsValue::from_str(name))
            .ok()
            .and_then(|value| value.as_string())
            .unwrap_or_default()
    };
    match (field("name"), field("message")) {
        (name, message) if name.is_empty() && message.is_empty() => "storage failed".to_owned(),
        (name, message) if message.is_empty() => name,
        (name, message) if name.is_empty() => message,
        (name, message) => format!("{name}: {message}"),
    }
}
