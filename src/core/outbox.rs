//! The offline outbox: application messages kept until the server acknowledges them, bounded
//! in count and age, persisted as text the driver stores (in `localStorage`) so that a page
//! reload delivers what the previous page could not.
//!
//! Delivery is at least once on the wire and once for the app: a message sent but not acked
//! before its socket closed goes out again on the next socket, with the same id, which the
//! server uses to drop the duplicate.

use std::time::Duration;

use super::json::{self, Kind};
use super::output::SocketId;
use super::protocol::{ClientFrame, RawJson};
use super::time::Instant;

/// The version written into the persisted text; another version is discarded as corrupt.
pub const FORMAT_VERSION: u64 = 1;

/// One queued message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    pub event: String,
    pub data: RawJson,
    /// When the app sent it (epoch milliseconds in the browser, so it survives a reload).
    pub created_at: Instant,
    /// How many times it went out on a socket.
    pub sends: u32,
    /// The socket it last went out on, not persisted: after a reload every message is unsent.
    sent_on: Option<SocketId>,
}

/// Why a message left the outbox without an ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The outbox was full; the oldest message made room.
    Overflow,
    /// It waited longer than the time to live.
    Expired,
    /// It went out on too many sockets without an ack.
    RetriesExhausted,
    /// The app cleared the outbox (a user signing out).
    Cleared,
    /// The server refused it over HTTP with a 4xx other than 401/403: sending it again would
    /// be refused again.
    Rejected,
}

impl DropReason {
    /// The reason of a name (another tab's, see [`crate::core::tabs`]).
    pub fn from_name(name: &str) -> Option<DropReason> {
        [
            DropReason::Overflow,
            DropReason::Expired,
            DropReason::RetriesExhausted,
            DropReason::Cleared,
            DropReason::Rejected,
        ]
        .into_iter()
        .find(|reason| reason.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Overflow => "overflow",
            DropReason::Expired => "expired",
            DropReason::RetriesExhausted => "retries_exhausted",
            DropReason::Cleared => "cleared",
            DropReason::Rejected => "rejected",
        }
    }
}

/// The queue, in the order the app sent its messages.
#[derive(Debug, Default)]
pub struct Outbox {
    messages: Vec<Message>,
}

impl Outbox {
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Whether a message with this id waits here.
    pub fn contains(&self, id: &str) -> bool {
        self.messages.iter().any(|message| message.id == id)
    }

    /// Queues a message; returns the id of the oldest one dropped to stay within `max`.
    pub fn push(
        &mut self,
        id: String,
        event: String,
        data: RawJson,
        now: Instant,
        max: usize,
    ) -> Option<String> {
        self.messages.push(Message {
            id,
            event,
            data,
            created_at: now,
            sends: 0,
            sent_on: None,
        });
        (self.messages.len() > max.max(1)).then(|| self.messages.remove(0).id)
    }

    /// Drops the oldest messages beyond `max` (a stored outbox written under a larger limit, or
    /// by hand); returns their ids.
    pub fn trim_to(&mut self, max: usize) -> Vec<String> {
        let excess = self.messages.len().saturating_sub(max.max(1));
        self.messages
            .drain(..excess)
            .map(|message| message.id)
            .collect()
    }

    /// Empties the queue; returns the ids it held, oldest first.
    pub fn clear(&mut self) -> Vec<String> {
        self.messages.drain(..).map(|message| message.id).collect()
    }

    /// Removes the message the server acknowledged; false for an unknown id.
    pub fn ack(&mut self, id: &str) -> bool {
        let before = self.messages.len();
        self.messages.retain(|message| message.id != id);
        self.messages.len() != before
    }

    /// Removes the messages older than `ttl` at `now`; returns their ids.
    pub fn expire(&mut self, now: Instant, ttl: Duration) -> Vec<String> {
        let mut expired = Vec::new();
        self.messages.retain(|message| {
            let keep = message.created_at + ttl > now;
            if !keep {
                expired.push(message.id.clone());
            }
            keep
        });
        expired
    }

    /// When the oldest message expires.
    pub fn next_expiry(&self, ttl: Duration) -> Option<Instant> {
        self.messages
            .iter()
            .map(|message| message.created_at + ttl)
            .min()
    }

    /// The frames to send on `socket`, in order: every message not yet sent on it. A message
    /// that already went out `1 + max_retries` times is dropped instead; its id is returned.
    pub fn flush(&mut self, socket: SocketId, max_retries: u32) -> (Vec<ClientFrame>, Vec<String>) {
        let mut exhausted = Vec::new();
        self.messages.retain(|message| {
            let keep = message.sent_on == Some(socket) || message.sends <= max_retries;
            if !keep {
                exhausted.push(message.id.clone());
            }
            keep
        });
        let frames = self
            .messages
            .iter_mut()
            .filter(|message| message.sent_on != Some(socket))
            .map(|message| {
                message.sent_on = Some(socket);
                message.sends += 1;
                ClientFrame::Message {
                    id: message.id.clone(),
                    event: message.event.clone(),
                    data: message.data.clone(),
                }
            })
            .collect();
        (frames, exhausted)
    }

    /// The message to deliver next over HTTP, counted as one more send: the oldest. Messages
    /// that already went out `1 + max_retries` times are dropped first; their ids are returned.
    /// (It may have gone out on a socket that closed before its ack: the server deduplicates.)
    pub fn next_for_http(&mut self, max_retries: u32) -> (Option<&Message>, Vec<String>) {
        let exhausted = self.messages.len()
            - self
                .messages
                .iter()
                .skip_while(|message| message.sends > max_retries)
                .count();
        let dropped = self
            .messages
            .drain(..exhausted)
            .map(|message| message.id)
            .collect();
        let next = self.messages.first_mut().map(|message| {
            message.sends += 1;
            message.sent_on = None;
            &*message
        });
        (next, dropped)
    }

    /// The persisted form: `{"v":1,"messages":[{"id","event","data","createdAt","sends"}]}`.
    /// Only messages: no token or other secret is ever written.
    pub fn encode(&self) -> String {
        let mut out = String::from(r#"{"v":"#);
        json::write_u64(&mut out, FORMAT_VERSION);
        out.push_str(r#","messages":["#);
        for (index, message) in self.messages.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str(r#"{"id":"#);
            json::write_string(&mut out, &message.id);
            out.push_str(r#","event":"#);
            json::write_string(&mut out, &message.event);
            out.push_str(r#","data":"#);
            out.push_str(message.data.as_str());
            out.push_str(r#","createdAt":"#);
            json::write_u64(&mut out, message.created_at.as_millis());
            out.push_str(r#","sends":"#);
            json::write_u64(&mut out, u64::from(message.sends));
            out.push('}');
        }
        out.push_str("]}");
        out
    }

    /// Reads a persisted outbox; an error says why the text was not usable.
    pub fn decode(text: &str) -> Result<Outbox, String> {
        let value = json::parse(text).map_err(|error| error.to_string())?;
        match value.get("v").and_then(json::Value::as_u64) {
            Some(FORMAT_VERSION) => {}
            Some(_) => return Err("written by another version".to_owned()),
            None => return Err("no format version".to_owned()),
        }
        let Some(Kind::Array(items)) = value.get("messages").map(|messages| &messages.kind) else {
            return Err("no message list".to_owned());
        };
        let mut messages = Vec::with_capacity(items.len());
        for item in items {
            let text_field = |name: &str| item.get(name).and_then(json::Value::as_str);
            let (Some(id), Some(event), Some(data), Some(created_at)) = (
                text_field("id"),
                text_field("event"),
                item.get("data"),
                item.get("createdAt").and_then(json::Value::as_u64),
            ) else {
                return Err("a message without its id, event, data or createdAt".to_owned());
            };
            let data = text
                .get(data.span.clone())
                .and_then(|raw| RawJson::new(raw).ok())
                .ok_or_else(|| "a message whose data is not JSON".to_owned())?;
            let sends = item.get("sends").and_then(json::Value::as_u64).unwrap_or(0);
            messages.push(Message {
                id: id.to_owned(),
                event: event.to_owned(),
                data,
                created_at: Instant::from_millis(created_at),
                sends: u32::try_from(sends).unwrap_or(u32::MAX),
                sent_on: None,
            });
        }
        Ok(Outbox { messages })
    }
}

/// The `localStorage` key of an outbox: versioned, and namespaced by the server URL (without
/// a `token` query parameter, a secret that also changes) and the app's `storageKey`, so two
/// apps or two users on one origin never see each other's messages. It also names the group
/// of tabs that share one connection (see [`crate::core::tabs`]): tabs whose URL (its query
/// included: `?tenant=`, `?scope=`) or `storageKey` differ never share.
pub fn storage_key(url: &str, storage_key: Option<&str>) -> String {
    let mut key = String::from("jobsocket:v1:outbox:");
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    key.push_str(base);
    let kept = query
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("token"));
    for (index, pair) in kept.enumerate() {
        key.push(if index == 0 { '?' } else { '&' });
        key.push_str(pair);
    }
    if let Some(extra) = storage_key {
        key.push(':');
        key.push_str(extra);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> RawJson {
        RawJson::new(r#"{"job":"gen_1","n":[1,2]}"#).unwrap()
    }

    #[test]
    fn the_persisted_form_round_trips_without_socket_state() {
        let mut outbox = Outbox::default();
        outbox.push(
            "m_1".into(),
            "cancel".into(),
            data(),
            Instant::from_millis(5),
            10,
        );
        outbox.push(
            "m_2".into(),
            "note \"x\"".into(),
            data(),
            Instant::from_millis(6),
            10,
        );
        outbox.flush(SocketId(1), 3);
        let restored = Outbox::decode(&outbox.encode()).unwrap();
        assert_eq!(restored.len(), 2);
        assert_eq!(restored.messages[1].event, "note \"x\"");
        assert_eq!(restored.messages[0].sends, 1);
        assert_eq!(restored.messages[0].sent_on, None);
        assert_eq!(restored.messages[0].data, data());
    }

    #[test]
    fn garbage_and_other_versions_are_refused_with_a_reason() {
        for (text, reason) in [
            ("{nope", "expected a member name at byte 1"),
            (r#"{"v":2,"messages":[]}"#, "written by another version"),
            (r#"{"messages":[]}"#, "no format version"),
            (r#"{"v":1}"#, "no message list"),
            (
                r#"{"v":1,"messages":[{"id":"m"}]}"#,
                "a message without its id, event, data or createdAt",
            ),
        ] {
            assert_eq!(
                Outbox::decode(text).err().as_deref(),
                Some(reason),
                "{text}"
            );
        }
    }

    #[test]
    fn storage_keys_are_namespaced_by_url_and_storage_key() {
        assert_eq!(
            storage_key("wss://a/ws?token=x", Some("user-7")),
            "jobsocket:v1:outbox:wss://a/ws:user-7"
        );
        assert_ne!(
            storage_key("wss://a/ws", None),
            storage_key("wss://b/ws", None)
        );
        assert_eq!(
            storage_key("wss://a/ws?tenant=t1&token=x", None),
            "jobsocket:v1:outbox:wss://a/ws?tenant=t1"
        );
        assert_ne!(
            storage_key("wss://a/ws?tenant=t1", None),
            storage_key("wss://a/ws?tenant=t2", None)
        );
    }
}
