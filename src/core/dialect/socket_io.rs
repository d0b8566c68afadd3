//! Socket.IO v4 over Engine.IO v4, WebSocket transport only.
//!
//! The wire, as the npm `socket.io` 4.8 server speaks it:
//! - The socket is opened at `<origin><path>?EIO=4&transport=websocket`.
//! - Engine.IO packets are one text frame each, typed by their first character: `0` open (with
//!   `sid`, `pingInterval`, `pingTimeout`, `maxPayload`), `1` close, `2` ping, `3` pong, `4`
//!   message, `6` noop. Only the server pings; the client answers `3`.
//! - A message carries a Socket.IO packet: a type digit (`0` CONNECT, `1` DISCONNECT, `2`
//!   EVENT, `3` ACK, `4` CONNECT_ERROR, `5`/`6` binary), then `/namespace,` unless it is `/`,
//!   then an ack id, then JSON: `42["name",data]`, `421["name",data]` wanting ack 1, `431[…]`.
//! - The client joins its namespace with `40{auth}` once the open packet arrived, and the
//!   session is ready on the server's `40{"sid":…,"pid":…}`.
//! - With connection state recovery on, every event ends with its offset (a string), and a
//!   client that reconnects with `40{…,"pid":…,"offset":…}` gets the events it missed, which
//!   arrive before the CONNECT reply; the reply's `pid` is the old one when the session was
//!   recovered. They are held here until the reply, so the state machine sees a ready session
//!   first and then its events, in order.

use std::time::Duration;

use super::super::json::{self, Kind, Value};
use super::super::protocol::{ClientFrame, DecodeError, RawJson};
use super::config::{Emit, SocketIoOptions};
use super::foreign::FieldNames;
use super::template::{Fill, Hole};
use super::{Heartbeat, Incoming, foreign_event};

/// Engine.IO's defaults, used until the open packet says otherwise.
const DEFAULT_PING_INTERVAL_MS: u64 = 25_000;
const DEFAULT_PING_TIMEOUT_MS: u64 = 20_000;

/// The Socket.IO dialect: its settings, the state of the current socket, and what carries over
/// from one socket to the next (the session id and offset for recovery).
#[derive(Debug)]
pub struct SocketIo {
    options: SocketIoOptions,
    namespace: String,
    token: Option<String>,
    /// The open packet arrived.
    engine_open: bool,
    /// The namespace CONNECT was answered.
    connected: bool,
    window: Duration,
    /// Events that arrived before the CONNECT reply (a recovered session's missed events).
    held: Vec<Incoming>,
    next_ack: u64,
    /// Ack ids of outbox messages sent on this socket, with the messages' ids.
    pending_acks: Vec<(u64, String)>,
    /// The private session id, for recovery.
    pid: Option<String>,
    /// The offset of the last event received, for recovery.
    offset: Option<String>,
    recovered: bool,
}

impl SocketIo {
    pub fn new(options: SocketIoOptions) -> Self {
        SocketIo {
            options,
            namespace: "/".to_owned(),
            token: None,
            engine_open: false,
            connected: false,
            window: Duration::from_millis(DEFAULT_PING_INTERVAL_MS + DEFAULT_PING_TIMEOUT_MS),
            held: Vec::new(),
            next_ack: 0,
            pending_acks: Vec::new(),
            pid: None,
            offset: None,
            recovered: false,
        }
    }

    /// The Engine.IO URL for `base` (its origin and query; its path names the namespace unless
    /// the options name one), and a fresh socket state.
    pub fn open(&mut self, base: &str, token: Option<&str>) -> String {
        let (origin, path, query) = split_url(base);
        self.namespace = match &self.options.namespace {
            Some(namespace) => namespace.clone(),
            None if path.len() > 1 => path.trim_end_matches('/').to_owned(),
            None => "/".to_owned(),
        };
        self.token = token.map(str::to_owned);
        self.engine_open = false;
        self.connected = false;
        self.held.clear();
        self.pending_acks.clear();
        self.recovered = false;
        let mut url = String::from(origin);
        url.push_str(&self.options.path);
        url.push_str("?EIO=4&transport=websocket");
        if !query.is_empty() {
            url.push('&');
            url.push_str(query);
        }
        url
    }

    pub fn heartbeat(&self) -> Heartbeat {
        Heartbeat::ServerPings {
            window: self.window,
        }
    }

    pub fn recovered(&self) -> bool {
        self.recovered
    }

    pub fn fields(&self) -> &FieldNames {
        &self.options.fields
    }

    pub fn encode(&mut self, frame: &ClientFrame) -> Option<String> {
        match frame {
            ClientFrame::Subscribe { channel, id, .. } => {
                let emit = self.options.subscribe.as_ref()?;
                Some(self.emit_text(emit, channel.as_str(), id))
            }
            ClientFrame::Unsubscribe { channel, id } => {
                let emit = self.options.unsubscribe.as_ref()?;
                Some(self.emit_text(emit, channel.as_str(), id))
            }
            ClientFrame::Join { channel, id, .. } => {
                let emit = self.options.subscribe.as_ref()?;
                Some(self.emit_text(emit, channel, id))
            }
            ClientFrame::Leave { channel, id } => {
                let emit = self.options.unsubscribe.as_ref()?;
                Some(self.emit_text(emit, channel, id))
            }
            // Socket.IO carries the token in the namespace CONNECT packet's auth payload.
            ClientFrame::Ping { .. } | ClientFrame::Auth { .. } => None,
            ClientFrame::Message { id, event, data } => {
                let ack = self.next_ack;
                self.next_ack += 1;
                self.pending_acks.push((ack, id.clone()));
                let mut text = self.packet_head('2');
                json::write_u64(&mut text, ack);
                text.push('[');
                json::write_string(&mut text, event);
                text.push(',');
                text.push_str(data.as_str());
                text.push(']');
                Some(text)
            }
        }
    }

    pub fn decode(&mut self, text: &str, out: &mut Vec<Incoming>) {
        let mut chars = text.chars();
        let body = chars.as_str().get(1..).unwrap_or_default();
        match chars.next() {
            Some('0') => self.on_open(body, out),
            Some('2') => out.push(Incoming::Reply("3".to_owned())),
            Some('1' | '3' | '5' | '6') => {}
            Some('4') => self.on_packet(body, out),
            _ => out.push(malformed(format!(
                "not an Engine.IO packet: {}",
                text.chars().take(16).collect::<String>()
            ))),
        }
    }

    /// `4` + `2` + namespace: the start of a packet of `kind` from the client.
    fn packet_head(&self, kind: char) -> String {
        let mut text = String::with_capacity(64);
        text.push('4');
        text.push(kind);
        if self.namespace != "/" {
            text.push_str(&self.namespace);
            text.push(',');
        }
        text
    }

    fn emit_text(&self, emit: &Emit, channel: &str, id: &str) -> String {
        let mut text = self.packet_head('2');
        text.push('[');
        json::write_string(&mut text, &emit.event);
        if let Some(data) = &emit.data {
            text.push(',');
            let fill = Fill {
                id,
                channel,
                token: self.token.as_deref().unwrap_or_default(),
            };
            data.render_into(&mut text, &fill);
        }
        text.push(']');
        text
    }

    /// The open packet: read the server's heartbeat and join the namespace.
    fn on_open(&mut self, body: &str, out: &mut Vec<Incoming>) {
        let Ok(open) = json::parse(body) else {
            out.push(malformed(
                "an Engine.IO open packet that is not JSON".to_owned(),
            ));
            return;
        };
        let number = |name| open.get(name).and_then(Value::as_u64);
        let interval = number("pingInterval").unwrap_or(DEFAULT_PING_INTERVAL_MS);
        let timeout = number("pingTimeout").unwrap_or(DEFAULT_PING_TIMEOUT_MS);
        self.window = Duration::from_millis(interval.saturating_add(timeout));
        self.engine_open = true;
        let mut connect = self.packet_head('0');
        let auth = match (&self.token, self.options.auth.uses(Hole::Token)) {
            (None, true) => None,
            (token, _) => Some(self.options.auth.render(&Fill {
                id: "",
                channel: "",
                token: token.as_deref().unwrap_or_default(),
            })),
        };
        let recovery = self.pid.as_ref().map(|pid| {
            let mut fields = String::from(r#""pid":"#);
            json::write_string(&mut fields, pid);
            if let Some(offset) = &self.offset {
                fields.push_str(r#","offset":"#);
                json::write_string(&mut fields, offset);
            }
            fields
        });
        match (auth, recovery) {
            (Some(auth), None) => connect.push_str(&auth),
            (None, Some(recovery)) => {
                connect.push('{');
                connect.push_str(&recovery);
                connect.push('}');
            }
            (Some(auth), Some(recovery)) => {
                // Recovery fields first, as socket.io-client merges them: the app's own
                // `auth` fields win a clash.
                let inner = auth.trim().strip_prefix('{').unwrap_or("}");
                connect.push('{');
                connect.push_str(&recovery);
                if !inner.trim_start().starts_with('}') {
                    connect.push(',');
                }
                connect.push_str(inner);
            }
            (None, None) => {}
        }
        out.push(Incoming::Reply(connect));
    }

    /// A Socket.IO packet (the text after the Engine.IO `4`).
    fn on_packet(&mut self, packet: &str, out: &mut Vec<Incoming>) {
        let bytes = packet.as_bytes();
        let Some(&kind) = bytes.first() else {
            out.push(malformed("an empty Socket.IO packet".to_owned()));
            return;
        };
        if !kind.is_ascii_digit() {
            // Also keeps the slicing below on character boundaries: the type is one byte.
            out.push(malformed(format!(
                "unknown Socket.IO packet type {}",
                packet.chars().next().unwrap_or_default()
            )));
            return;
        }
        let mut at = 1;
        if matches!(kind, b'5' | b'6') {
            out.push(Incoming::Invalid(DecodeError::BinaryPacket));
            return;
        }
        let namespace = if bytes.get(at) == Some(&b'/') {
            let end = packet[at..]
                .find(',')
                .map_or(packet.len(), |comma| at + comma);
            let namespace = &packet[at..end];
            at = (end + 1).min(packet.len());
            namespace
        } else {
            "/"
        };
        let digits = bytes[at..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        // An id is echoed in the answer, so it must be one the server's JS number holds.
        let ack = match packet[at..at + digits].parse::<u64>() {
            Ok(ack) if ack <= json::MAX_SAFE_INTEGER => Some(ack),
            Ok(_) | Err(_) if digits > 0 => {
                out.push(malformed(format!(
                    "a Socket.IO packet whose ack id is not {}",
                    json::SAFE_INTEGER_RANGE
                )));
                return;
            }
            _ => None,
        };
        at += digits;
        let data = &packet[at..];
        if namespace != self.namespace {
            out.push(Incoming::Invalid(DecodeError::UnknownNamespace {
                namespace: namespace.to_owned(),
            }));
            return;
        }
        match kind {
            b'0' => self.on_connect(data, out),
            b'1' => out.push(Incoming::Disconnected),
            b'2' => {
                if let Some(ack) = ack {
                    // The server waits for an answer; an empty one ends its wait.
                    let mut reply = self.packet_head('3');
                    json::write_u64(&mut reply, ack);
                    reply.push_str("[]");
                    out.push(Incoming::Reply(reply));
                }
                let incoming = self.on_event(data);
                if self.connected {
                    out.push(incoming);
                } else {
                    self.held.push(incoming);
                }
            }
            b'3' => {
                let found = ack.and_then(|ack| {
                    let index = self.pending_acks.iter().position(|(id, _)| *id == ack)?;
                    Some(self.pending_acks.swap_remove(index).1)
                });
                if let Some(id) = found {
                    out.push(Incoming::Ack { id });
                }
            }
            b'4' => {
                let message = json::parse(data)
                    .ok()
                    .and_then(|value| {
                        value
                            .get("message")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .unwrap_or_else(|| "connection refused".to_owned());
                out.push(Incoming::Refused { message });
            }
            _ => out.push(malformed(format!(
                "unknown Socket.IO packet type {}",
                char::from(kind)
            ))),
        }
    }

    /// The CONNECT reply: the session is ready, recovered when the server kept its `pid`.
    fn on_connect(&mut self, data: &str, out: &mut Vec<Incoming>) {
        let reply = json::parse(data).ok();
        let field = |name| {
            reply
                .as_ref()
                .and_then(|reply| reply.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let pid = field("pid");
        self.recovered = pid.is_some() && pid == self.pid;
        if !self.recovered {
            // Offsets of another session mean nothing to this one.
            self.offset = None;
            self.held.clear();
        }
        self.pid = pid;
        self.connected = true;
        out.push(Incoming::Ready {
            recovered: self.recovered,
        });
        if let Some(sid) = field("sid") {
            let interval = self.window.as_millis() as u64;
            out.push(Incoming::Hello {
                client_id: sid,
                heartbeat_ms: Some(interval),
            });
        }
        out.append(&mut self.held);
    }

    /// An EVENT's JSON array: its offset noted, its name mapped to a typed job event.
    fn on_event(&mut self, text: &str) -> Incoming {
        let array = match json::parse(text) {
            Ok(Value {
                kind: Kind::Array(items),
                ..
            }) => items,
            Ok(_) => return malformed("a Socket.IO event that is not an array".to_owned()),
            Err(error) => return malformed(format!("a Socket.IO event that is not JSON: {error}")),
        };
        let mut arguments = array.as_slice();
        // With recovery on, the server appends the event's offset to every event.
        if self.pid.is_some()
            && arguments.len() > 1
            && let Some(offset) = arguments.last().and_then(Value::as_str)
        {
            self.offset = Some(offset.to_owned());
            arguments = &arguments[..arguments.len() - 1];
        }
        let Some(name) = arguments.first().and_then(Value::as_str) else {
            return malformed("a Socket.IO event without a name".to_owned());
        };
        let Some(target) = self.options.events.get(name) else {
            // Any other event goes to the app by its name: the rooms are the server's, so
            // the wire does not say which channel it belongs to.
            return Incoming::ChannelEvent {
                channel: None,
                seq: None,
                event: name.to_owned(),
                data: RawJson::from_span(
                    text,
                    arguments.get(1).map_or(0..0, |data| data.span.clone()),
                ),
            };
        };
        match arguments.get(1).filter(|value| value.as_object().is_some()) {
            Some(payload) => foreign_event(&self.options.fields, target, name, payload),
            None => Incoming::Invalid(DecodeError::ForeignPayload {
                event: name.to_owned(),
                reason: "its data is not an object".to_owned(),
            }),
        }
    }
}

fn malformed(reason: String) -> Incoming {
    Incoming::Invalid(DecodeError::Malformed(reason))
}

/// `ws://host:1/ns?x=1` → (`ws://host:1`, `/ns`, `x=1`).
fn split_url(url: &str) -> (&str, &str, &str) {
    let (before_query, query) = url.split_once('?').unwrap_or((url, ""));
    let host_start = before_query
        .as_bytes()
        .windows(3)
        .position(|window| window == b"://")
        .map_or(0, |at| at + 3);
    let path_start = before_query[host_start..]
        .find('/')
        .map_or(before_query.len(), |at| host_start + at);
    (
        &before_query[..path_start],
        &before_query[path_start..],
        query,
    )
}
