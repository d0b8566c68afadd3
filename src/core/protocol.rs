//! Wire protocol v1: the frames the client and the job server exchange, defined once.
//!
//! Both the browser client and the reference server (`www-demo/server`) use these types, so the
//! two cannot drift apart; `docs/PROTOCOL.md` documents every frame with an example, and
//! `tests/protocol.rs` checks every example against this code.
//!
//! Every frame is one JSON object in a WebSocket text frame, tagged by `"type"`. The server may
//! also batch several frames into one JSON array. Decoding and the client's encoding are
//! written over [`super::json`] rather than serde, for the package's size (see that module);
//! the server's encoding of frames with floats uses serde_json behind the `serde` feature,
//! which the browser build leaves off.

use std::fmt;
use std::ops::Range;

use super::events::JobEvent;
use super::json::{self, Value};

/// The version of the protocol these types speak.
pub const PROTOCOL_VERSION: u32 = 1;

/// The most frames one batch (one WebSocket frame holding an array of frames) may hold: more
/// events than a 1 MiB frame holds at 100 bytes each, so no honest batch reaches it (the
/// reference server batches its replays by 500). A longer batch is refused whole, before the
/// rest of it is read, so that a hostile one (`[{},{},…]`, 350,000 elements in 1 MiB) cannot
/// cost the client more than this many elements.
pub const MAX_BATCH_FRAMES: usize = 10_000;

/// The largest `seq` (and `since`): what a JS number holds exactly, since the app reads it as
/// one. A larger one is a malformed frame, not a number to count on from.
pub const MAX_SEQ: u64 = json::MAX_SAFE_INTEGER;

/// The kind of job a subscription watches; each channel has its own event vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Channel {
    /// AI image or video generation jobs.
    Generation,
    /// Video composition (encoding) jobs.
    Composition,
}

impl Channel {
    /// The name used on the wire and in the JS API.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Generation => "generation",
            Channel::Composition => "composition",
        }
    }

    /// The channel of a wire name.
    pub fn from_name(name: &str) -> Option<Channel> {
        match name {
            "generation" => Some(Channel::Generation),
            "composition" => Some(Channel::Composition),
            _ => None,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that is known to be one valid JSON value (an application message's `data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawJson(String);

impl RawJson {
    /// Checks that `text` is JSON.
    pub fn new(text: impl Into<String>) -> Result<RawJson, json::SyntaxError> {
        let text = text.into();
        json::parse(&text)?;
        Ok(RawJson(text))
    }

    /// The JSON value at `span` of parsed `text`, so already JSON; `null` for an empty span
    /// (no value there).
    pub(crate) fn from_span(text: &str, span: std::ops::Range<usize>) -> RawJson {
        match text.get(span) {
            Some(value) if !value.is_empty() => RawJson(value.to_owned()),
            _ => RawJson("null".to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A frame the client sends to the server.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientFrame {
    /// Start receiving a job's events; `since` asks the server to replay every event with a
    /// greater `seq` first.
    Subscribe {
        channel: Channel,
        id: String,
        since: Option<u64>,
    },
    /// Stop receiving a job's events.
    Unsubscribe { channel: Channel, id: String },
    /// Start receiving the events of an app's own channel (any name but `generation` and
    /// `composition`), such as a workspace's; `since` as for a job. On the wire it is a
    /// `subscribe` with that channel name.
    Join {
        channel: String,
        id: String,
        since: Option<u64>,
    },
    /// Stop receiving an app's channel: an `unsubscribe` with its name.
    Leave { channel: String, id: String },
    /// Heartbeat probe, `t` being the client's clock in milliseconds; the server answers with
    /// a `pong` carrying the same `t`.
    Ping { t: u64 },
    /// The token, as the socket's first frame, for servers that take it there instead of in
    /// the URL's query (where proxies and load balancers log it). The server answers with
    /// `connected`, or closes the socket with 4001.
    Auth { token: String },
    /// An application message; the server acknowledges it with an `ack` carrying `id`, and
    /// handles a second message with an id it has already seen only once.
    Message {
        id: String,
        event: String,
        data: RawJson,
    },
}

impl ClientFrame {
    /// The JSON text of this frame.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(64);
        match self {
            ClientFrame::Subscribe { channel, id, since } => {
                write_subscription(&mut out, "subscribe", channel.as_str(), id, *since);
            }
            ClientFrame::Unsubscribe { channel, id } => {
                write_subscription(&mut out, "unsubscribe", channel.as_str(), id, None);
            }
            ClientFrame::Join { channel, id, since } => {
                write_subscription(&mut out, "subscribe", channel, id, *since);
            }
            ClientFrame::Leave { channel, id } => {
                write_subscription(&mut out, "unsubscribe", channel, id, None);
            }
            ClientFrame::Ping { t } => {
                out.push_str(r#"{"type":"ping","t":"#);
                json::write_u64(&mut out, *t);
            }
            ClientFrame::Auth { token } => {
                out.push_str(r#"{"type":"auth","token":"#);
                json::write_string(&mut out, token);
            }
            ClientFrame::Message { id, event, data } => {
                out.push_str(r#"{"type":"message","id":"#);
                json::write_string(&mut out, id);
                out.push_str(r#","event":"#);
                json::write_string(&mut out, event);
                out.push_str(r#","data":"#);
                out.push_str(data.as_str());
            }
        }
        out.push('}');
        out
    }

    /// Decodes a frame the client sent (the server's side).
    pub fn decode(text: &str) -> Result<ClientFrame, DecodeError> {
        let value = json::parse(text).map_err(|error| DecodeError::Malformed(error.to_string()))?;
        let frame = Frame::new(&value)?;
        Ok(match frame.kind {
            "subscribe" => match Channel::from_name(frame.str("channel")?) {
                Some(channel) => ClientFrame::Subscribe {
                    channel,
                    id: frame.string("id")?,
                    since: frame.optional_seq("since")?,
                },
                None => ClientFrame::Join {
                    channel: frame.string("channel")?,
                    id: frame.string("id")?,
                    since: frame.optional_seq("since")?,
                },
            },
            "unsubscribe" => match Channel::from_name(frame.str("channel")?) {
                Some(channel) => ClientFrame::Unsubscribe {
                    channel,
                    id: frame.string("id")?,
                },
                None => ClientFrame::Leave {
                    channel: frame.string("channel")?,
                    id: frame.string("id")?,
                },
            },
            "ping" => ClientFrame::Ping { t: frame.u64("t")? },
            "auth" => ClientFrame::Auth {
                token: frame.string("token")?,
            },
            "message" => ClientFrame::Message {
                id: frame.string("id")?,
                event: frame.string("event")?,
                data: RawJson(
                    frame
                        .value
                        .get("data")
                        .and_then(|data| text.get(data.span.clone()))
                        .unwrap_or("null")
                        .to_owned(),
                ),
            },
            other => return Err(DecodeError::UnknownFrame(other.to_owned())),
        })
    }
}

/// `{"type":"<kind>","channel":"…","id":"…"` and `since` when given, without the closing brace.
fn write_subscription(out: &mut String, kind: &str, channel: &str, id: &str, since: Option<u64>) {
    out.push_str(r#"{"type":""#);
    out.push_str(kind);
    out.push_str(r#"","channel":"#);
    json::write_string(out, channel);
    out.push_str(r#","id":"#);
    json::write_string(out, id);
    if let Some(since) = since {
        out.push_str(r#","since":"#);
        json::write_u64(out, since);
    }
}

/// A frame the server sends to the client.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerFrame {
    /// First frame on every socket: who the client is and how often the server expects pings.
    Connected {
        client_id: String,
        heartbeat_ms: u64,
    },
    /// A subscription is in place; `seq` is the job's last sequence number so far.
    Subscribed {
        channel: Channel,
        id: String,
        seq: u64,
    },
    /// One event of one job. `seq` grows by one per event of that job.
    Event {
        id: String,
        seq: u64,
        event: JobEvent,
    },
    /// A subscription to an app's own channel is in place; `seq` is its last so far.
    Joined {
        channel: String,
        id: String,
        seq: u64,
    },
    /// One event of an app's own channel: any event name, any JSON data. `seq` grows by one
    /// per event of that channel and id.
    ChannelEvent {
        channel: String,
        id: String,
        seq: u64,
        event: String,
        data: RawJson,
    },
    /// Answer to a `ping`, with its `t`.
    Pong { t: u64 },
    /// The server handled the application message with this id.
    Ack { id: String },
    /// The server could not handle something the client sent. `job` names the job it
    /// concerns (fields `channel` and `id`), when it concerns one: the answer to a
    /// `subscribe` for an unknown job, say.
    Error {
        code: String,
        message: String,
        job: Option<(Channel, String)>,
    },
}

/// Why a frame could not be understood. The frame is dropped; the connection stays up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The text is not JSON, not an object, or a field has the wrong type.
    Malformed(String),
    /// A well-formed frame whose `type` this side does not know.
    UnknownFrame(String),
    /// A required field of this frame type is absent.
    MissingField {
        frame: &'static str,
        field: &'static str,
    },
    /// An event name the channel does not define.
    UnknownEvent { channel: Channel, event: String },
    /// An event whose `data` does not match its declared shape.
    InvalidPayload {
        channel: Channel,
        event: String,
        reason: String,
    },
    /// A server event (Socket.IO, plain JSON) whose name the dialect's event map does not
    /// name.
    UnmappedEvent { event: String },
    /// A server event (Socket.IO, plain JSON) whose payload does not give the typed event it
    /// maps to.
    ForeignPayload { event: String, reason: String },
    /// A Socket.IO packet for a namespace this client did not join.
    UnknownNamespace { namespace: String },
    /// A Socket.IO binary packet: the dialect carries JSON only.
    BinaryPacket,
    /// A batch of more than `limit` frames ([`MAX_BATCH_FRAMES`]): dropped whole.
    BatchTooLarge { limit: usize },
    /// Several elements of one batch could not be decoded: one error for the frame rather
    /// than one per element (a hostile batch would otherwise call the app's error handler
    /// for each). The valid elements were delivered. `first` is the first element's error,
    /// whose code this error carries.
    InvalidElements {
        invalid: usize,
        total: usize,
        first: Box<DecodeError>,
    },
}

impl DecodeError {
    /// The error for a frame (or batch) the JSON reader refused.
    pub(crate) fn unreadable(error: json::SyntaxError) -> DecodeError {
        if error.reason == json::BATCH_TOO_LONG {
            DecodeError::BatchTooLarge {
                limit: MAX_BATCH_FRAMES,
            }
        } else {
            DecodeError::Malformed(error.to_string())
        }
    }

    /// A stable, machine-readable code for this error, reported to the app.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::Malformed(_) => "malformed_frame",
            DecodeError::UnknownFrame(_) => "unknown_frame",
            DecodeError::MissingField { .. } => "missing_field",
            DecodeError::UnknownEvent { .. } => "unknown_event",
            DecodeError::InvalidPayload { .. } | DecodeError::ForeignPayload { .. } => {
                "invalid_payload"
            }
            DecodeError::UnmappedEvent { .. } => "unknown_event",
            DecodeError::UnknownNamespace { .. } => "unknown_namespace",
            DecodeError::BinaryPacket => "binary_packet",
            DecodeError::BatchTooLarge { .. } => "batch_too_large",
            DecodeError::InvalidElements { first, .. } => first.code(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Malformed(reason) => write!(f, "malformed frame: {reason}"),
            DecodeError::UnknownFrame(kind) => write!(f, "unknown frame type \"{kind}\""),
            DecodeError::MissingField { frame, field } => {
                write!(f, "\"{frame}\" frame without its \"{field}\" field")
            }
            DecodeError::UnknownEvent { channel, event } => {
                write!(f, "unknown {channel} event \"{event}\"")
            }
            DecodeError::InvalidPayload {
                channel,
                event,
                reason,
            } => write!(f, "invalid data for {channel} event \"{event}\": {reason}"),
            DecodeError::UnmappedEvent { event } => write!(
                f,
                "the server's event \"{event}\" is not in the protocol's events map; it was dropped"
            ),
            DecodeError::ForeignPayload { event, reason } => {
                write!(
                    f,
                    "invalid data for the server's event \"{event}\": {reason}"
                )
            }
            DecodeError::UnknownNamespace { namespace } => write!(
                f,
                "a Socket.IO packet for namespace \"{namespace}\", which this client did not join; it was dropped"
            ),
            DecodeError::BinaryPacket => write!(
                f,
                "a Socket.IO binary packet was dropped: jobsocket's Socket.IO dialect carries JSON only"
            ),
            DecodeError::BatchTooLarge { limit } => write!(
                f,
                "dropped a batch of more than {limit} frames, the limit; none of it was delivered"
            ),
            DecodeError::InvalidElements {
                invalid,
                total,
                first,
            } => write!(
                f,
                "{invalid} of {total} frames in a batch were invalid and dropped; the first: {first}"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// A decoded server frame and, for an event, where its `data` lies in the WebSocket text frame
/// it came from (byte offsets). A driver can hand the app the server's own JSON for the payload
/// instead of re-encoding the typed value; the typed value still proves the payload is valid.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub frame: ServerFrame,
    pub payload: Option<Range<usize>>,
}

impl ServerFrame {
    /// Decodes one WebSocket text frame, which holds either one frame object or an array of
    /// them (a batch). Each element decodes on its own, so one bad element in a batch costs
    /// only itself.
    pub fn decode_all(text: &str) -> Vec<Result<ServerFrame, DecodeError>> {
        Self::decode_spanned(text)
            .into_iter()
            .map(|decoded| decoded.map(|decoded| decoded.frame))
            .collect()
    }

    /// [`ServerFrame::decode_all`], keeping where each event's payload lies in `text`.
    pub fn decode_spanned(text: &str) -> Vec<Result<Decoded, DecodeError>> {
        match json::parse_batch(text, MAX_BATCH_FRAMES) {
            Ok(Value {
                kind: json::Kind::Array(items),
                ..
            }) => items
                .iter()
                .map(|item| decode_server_frame(item, text))
                .collect(),
            Ok(value) => vec![decode_server_frame(&value, text)],
            Err(error) => vec![Err(DecodeError::unreadable(error))],
        }
    }

    /// Decodes one frame object.
    pub fn decode(text: &str) -> Result<ServerFrame, DecodeError> {
        let value = json::parse(text).map_err(|error| DecodeError::Malformed(error.to_string()))?;
        decode_server_frame(&value, text).map(|decoded| decoded.frame)
    }
}

fn decode_server_frame(value: &Value<'_>, text: &str) -> Result<Decoded, DecodeError> {
    let frame = Frame::new(value)?;
    let mut payload = None;
    let decoded = match frame.kind {
        "event" => {
            let event = frame.str("event")?;
            let data = value.get("data");
            payload = data.map(|data| data.span.clone());
            match Channel::from_name(frame.str("channel")?) {
                Some(channel) => ServerFrame::Event {
                    id: frame.string("id")?,
                    seq: frame.seq("seq")?,
                    event: JobEvent::decode_value(channel, event, data)?,
                },
                None => ServerFrame::ChannelEvent {
                    channel: frame.string("channel")?,
                    id: frame.string("id")?,
                    seq: frame.seq("seq")?,
                    event: event.to_owned(),
                    data: RawJson::from_span(text, data.map_or(0..0, |data| data.span.clone())),
                },
            }
        }
        "connected" => ServerFrame::Connected {
            client_id: frame.string("clientId")?,
            heartbeat_ms: frame.u64("heartbeatMs")?,
        },
        "subscribed" => match Channel::from_name(frame.str("channel")?) {
            Some(channel) => ServerFrame::Subscribed {
                channel,
                id: frame.string("id")?,
                seq: frame.optional_seq("seq")?.unwrap_or(0),
            },
            None => ServerFrame::Joined {
                channel: frame.string("channel")?,
                id: frame.string("id")?,
                seq: frame.optional_seq("seq")?.unwrap_or(0),
            },
        },
        "pong" => ServerFrame::Pong { t: frame.u64("t")? },
        "ack" => ServerFrame::Ack {
            id: frame.string("id")?,
        },
        "error" => ServerFrame::Error {
            code: frame.string("code")?,
            message: frame.optional_string("message")?.unwrap_or_default(),
            // An error about an app's own channel names no job.
            job: match frame.optional_string("id")? {
                Some(id) => frame
                    .optional_string("channel")?
                    .and_then(|channel| Channel::from_name(&channel))
                    .map(|channel| (channel, id)),
                None => None,
            },
        },
        other => return Err(DecodeError::UnknownFrame(other.to_owned())),
    };
    Ok(Decoded {
        frame: decoded,
        payload,
    })
}

/// A frame object with its `type` read, and typed access to its fields with errors that name
/// the frame and the field.
struct Frame<'v, 'a> {
    value: &'v Value<'a>,
    kind: &'v str,
    /// The frame type as a static name for [`DecodeError::MissingField`].
    static_kind: &'static str,
}

const FRAME_TYPES: [&str; 10] = [
    "event",
    "connected",
    "subscribed",
    "pong",
    "ack",
    "error",
    "subscribe",
    "unsubscribe",
    "ping",
    "message",
];

impl<'v, 'a> Frame<'v, 'a> {
    fn new(value: &'v Value<'a>) -> Result<Self, DecodeError> {
        if value.as_object().is_none() {
            return Err(DecodeError::Malformed(format!(
                "a frame must be a JSON object, not {}",
                value.type_name()
            )));
        }
        let kind = match value.get("type") {
            Some(kind) => kind.as_str().ok_or_else(|| {
                DecodeError::Malformed("the frame's \"type\" must be a string".to_owned())
            })?,
            None => {
                return Err(DecodeError::Malformed(
                    "a frame without a \"type\"".to_owned(),
                ));
            }
        };
        let static_kind = FRAME_TYPES
            .iter()
            .find(|known| **known == kind)
            .copied()
            .unwrap_or("frame");
        Ok(Frame {
            value,
            kind,
            static_kind,
        })
    }

    fn field(&self, name: &'static str) -> Result<&'v Value<'a>, DecodeError> {
        self.value.get(name).ok_or(DecodeError::MissingField {
            frame: self.static_kind,
            field: name,
        })
    }

    fn wrong_type(&self, name: &str, expected: &str) -> DecodeError {
        DecodeError::Malformed(format!(
            "the \"{name}\" field of a \"{}\" frame must be {expected}",
            self.kind
        ))
    }

    fn str(&self, name: &'static str) -> Result<&'v str, DecodeError> {
        self.field(name)?
            .as_str()
            .ok_or_else(|| self.wrong_type(name, "a string"))
    }

    fn string(&self, name: &'static str) -> Result<String, DecodeError> {
        self.str(name).map(str::to_owned)
    }

    fn optional_string(&self, name: &'static str) -> Result<Option<String>, DecodeError> {
        match self.value.get(name) {
            None => Ok(None),
            Some(value) if value.is_null() => Ok(None),
            Some(_) => self.string(name).map(Some),
        }
    }

    fn u64(&self, name: &'static str) -> Result<u64, DecodeError> {
        self.field(name)?
            .as_u64()
            .ok_or_else(|| self.wrong_type(name, "an unsigned integer"))
    }

    /// A `seq` or `since`: an unsigned integer up to [`MAX_SEQ`].
    fn seq(&self, name: &'static str) -> Result<u64, DecodeError> {
        self.field(name)?
            .as_safe_u64()
            .ok_or_else(|| self.wrong_type(name, json::SAFE_INTEGER_RANGE))
    }

    fn optional_seq(&self, name: &'static str) -> Result<Option<u64>, DecodeError> {
        match self.value.get(name) {
            None => Ok(None),
            Some(value) if value.is_null() => Ok(None),
            Some(_) => self.seq(name).map(Some),
        }
    }
}

#[cfg(feature = "serde")]
mod server_encoding {
    //! The server's encoding of its frames. Payloads hold floats, whose shortest exact
    //! formatting serde_json does well; the browser build never encodes server frames, so this
    //! lives behind the `serde` feature the reference server turns on.

    use serde_json::json;

    use super::ServerFrame;

    impl ServerFrame {
        /// The JSON value of this frame, as the server sends it.
        pub fn to_json(&self) -> serde_json::Value {
            match self {
                ServerFrame::Connected {
                    client_id,
                    heartbeat_ms,
                } => {
                    json!({"type": "connected", "clientId": client_id, "heartbeatMs": heartbeat_ms})
                }
                ServerFrame::Subscribed { channel, id, seq } => {
                    json!({"type": "subscribed", "channel": channel, "id": id, "seq": seq})
                }
                ServerFrame::Event { id, seq, event } => json!({
                    "type": "event",
                    "channel": event.channel(),
                    "id": id,
                    "seq": seq,
                    "event": event.name(),
                    "data": event.data_json(),
                }),
                ServerFrame::Joined { channel, id, seq } => {
                    json!({"type": "subscribed", "channel": channel, "id": id, "seq": seq})
                }
                ServerFrame::ChannelEvent {
                    channel,
                    id,
                    seq,
                    event,
                    data,
                } => json!({
                    "type": "event",
                    "channel": channel,
                    "id": id,
                    "seq": seq,
                    "event": event,
                    "data": serde_json::from_str::<serde_json::Value>(data.as_str())
                        .unwrap_or_default(),
                }),
                ServerFrame::Pong { t } => json!({"type": "pong", "t": t}),
                ServerFrame::Ack { id } => json!({"type": "ack", "id": id}),
                ServerFrame::Error {
                    code,
                    message,
                    job: None,
                } => json!({"type": "error", "code": code, "message": message}),
                ServerFrame::Error {
                    code,
                    message,
                    job: Some((channel, id)),
                } => json!({
                    "type": "error",
                    "code": code,
                    "message": message,
                    "channel": channel,
                    "id": id,
                }),
            }
        }

        /// The JSON text of this frame.
        pub fn encode(&self) -> String {
            self.to_json().to_string()
        }

        /// The JSON text of several frames batched into one WebSocket frame.
        pub fn encode_batch(frames: &[ServerFrame]) -> String {
            serde_json::Value::Array(frames.iter().map(ServerFrame::to_json).collect()).to_string()
        }
    }
}
