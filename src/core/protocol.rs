//! Wire protocol v1: the frames the client and the job server exchange, defined once.
//!
//! Both the browser client and the reference server (`www-demo/server`) use these types, so the
//! two cannot drift apart; `docs/PROTOCOL.md` documents every frame with an example.
//!
//! Every frame is one JSON object in a WebSocket text frame, tagged by `"type"`. The server may
//! also batch several frames into one JSON array. Decoding server frames is written by hand over
//! a flat envelope ([`ServerFrame::decode_all`]) rather than with serde's internally tagged
//! enums: those buffer the whole frame before dispatching, which is slower, larger in wasm, and
//! cannot borrow the event payload for its second, event-specific decoding step.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::events::{CompositionEvent, GenerationEvent, JobEvent};

/// The version of the protocol these types speak.
pub const PROTOCOL_VERSION: u32 = 1;

/// The kind of job a subscription watches; each channel has its own event vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A frame the client sends to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Start receiving a job's events; `since` asks the server to replay every event with a
    /// greater `seq` first.
    Subscribe {
        channel: Channel,
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
    },
    /// Stop receiving a job's events.
    Unsubscribe { channel: Channel, id: String },
    /// Heartbeat probe; the server answers with a `pong` carrying the same `t`.
    Ping { t: f64 },
    /// An application message; the server acknowledges it with an `ack` carrying `id`, and
    /// drops a second message with an id it has already seen.
    Message {
        id: String,
        event: String,
        #[serde(default)]
        data: serde_json::Value,
    },
}

impl ClientFrame {
    /// The JSON text of this frame.
    pub fn encode(&self) -> String {
        // Serializing these plain enums of strings and numbers cannot fail: serde_json only
        // fails on maps with non-string keys or on a failing writer, and there are neither.
        serde_json::to_string(self).unwrap_or_default()
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
    /// Answer to a `ping`.
    Pong { t: f64 },
    /// The server handled the application message with this id.
    Ack { id: String },
    /// The server could not handle something the client sent.
    Error { code: String, message: String },
}

/// Why a frame from the server could not be understood. The frame is dropped; the connection
/// stays up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The text is not JSON, or a field has the wrong type.
    Malformed(String),
    /// A well-formed frame whose `type` this client does not know.
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
}

impl DecodeError {
    /// A stable, machine-readable code for this error, reported to the app.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::Malformed(_) => "malformed_frame",
            DecodeError::UnknownFrame(_) => "unknown_frame",
            DecodeError::MissingField { .. } => "missing_field",
            DecodeError::UnknownEvent { .. } => "unknown_event",
            DecodeError::InvalidPayload { .. } => "invalid_payload",
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
        }
    }
}

impl std::error::Error for DecodeError {}

/// Every field any server frame may carry, so one pass of serde reads any frame.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    channel: Option<Channel>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default, borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
    #[serde(default, rename = "clientId", borrow)]
    client_id: Option<Cow<'a, str>>,
    #[serde(default, rename = "heartbeatMs")]
    heartbeat_ms: Option<u64>,
    #[serde(default)]
    t: Option<f64>,
    #[serde(default, borrow)]
    code: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    message: Option<Cow<'a, str>>,
}

fn required<T>(
    value: Option<T>,
    frame: &'static str,
    field: &'static str,
) -> Result<T, DecodeError> {
    value.ok_or(DecodeError::MissingField { frame, field })
}

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
        let is_batch = text.trim_start().starts_with('[');
        if !is_batch {
            return vec![decode_element(text, text)];
        }
        match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(items) => items
                .iter()
                .map(|item| decode_element(item.get(), text))
                .collect(),
            Err(error) => vec![Err(DecodeError::Malformed(error.to_string()))],
        }
    }

    /// Decodes one frame object.
    pub fn decode(text: &str) -> Result<ServerFrame, DecodeError> {
        decode_element(text, text).map(|decoded| decoded.frame)
    }

    /// The JSON value of this frame, as the server sends it.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            ServerFrame::Connected {
                client_id,
                heartbeat_ms,
            } => json!({"type": "connected", "clientId": client_id, "heartbeatMs": heartbeat_ms}),
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
            ServerFrame::Pong { t } => json!({"type": "pong", "t": t}),
            ServerFrame::Ack { id } => json!({"type": "ack", "id": id}),
            ServerFrame::Error { code, message } => {
                json!({"type": "error", "code": code, "message": message})
            }
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

/// Decodes `element`, one frame object that is `whole` or a slice of it (a batch element).
fn decode_element(element: &str, whole: &str) -> Result<Decoded, DecodeError> {
    let envelope: Envelope<'_> =
        serde_json::from_str(element).map_err(|error| DecodeError::Malformed(error.to_string()))?;
    let mut payload = None;
    let frame = match envelope.kind.as_ref() {
        "event" => {
            let channel = required(envelope.channel, "event", "channel")?;
            let event = required(envelope.event, "event", "event")?;
            let data = envelope.data.map_or("null", RawValue::get);
            payload = envelope.data.map(|raw| offset_in(raw.get(), whole));
            ServerFrame::Event {
                id: required(envelope.id, "event", "id")?.into_owned(),
                seq: required(envelope.seq, "event", "seq")?,
                event: JobEvent::decode(channel, &event, data)?,
            }
        }
        "connected" => ServerFrame::Connected {
            client_id: required(envelope.client_id, "connected", "clientId")?.into_owned(),
            heartbeat_ms: required(envelope.heartbeat_ms, "connected", "heartbeatMs")?,
        },
        "subscribed" => ServerFrame::Subscribed {
            channel: required(envelope.channel, "subscribed", "channel")?,
            id: required(envelope.id, "subscribed", "id")?.into_owned(),
            seq: envelope.seq.unwrap_or(0),
        },
        "pong" => ServerFrame::Pong {
            t: required(envelope.t, "pong", "t")?,
        },
        "ack" => ServerFrame::Ack {
            id: required(envelope.id, "ack", "id")?.into_owned(),
        },
        "error" => ServerFrame::Error {
            code: required(envelope.code, "error", "code")?.into_owned(),
            message: envelope.message.map(Cow::into_owned).unwrap_or_default(),
        },
        other => return Err(DecodeError::UnknownFrame(other.to_owned())),
    };
    Ok(Decoded { frame, payload })
}

/// The byte range `part` occupies in `whole`, of which it is a slice.
fn offset_in(part: &str, whole: &str) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    start..start + part.len()
}

impl JobEvent {
    /// Decodes the `data` of an event frame by its channel and event name.
    pub fn decode(channel: Channel, event: &str, data: &str) -> Result<JobEvent, DecodeError> {
        let decoded = match channel {
            Channel::Generation => GenerationEvent::decode(event, data).map(JobEvent::Generation),
            Channel::Composition => {
                CompositionEvent::decode(event, data).map(JobEvent::Composition)
            }
        };
        decoded.map_err(|failure| match failure {
            PayloadFailure::UnknownName => DecodeError::UnknownEvent {
                channel,
                event: event.to_owned(),
            },
            PayloadFailure::Invalid(reason) => DecodeError::InvalidPayload {
                channel,
                event: event.to_owned(),
                reason,
            },
        })
    }
}

/// Why an event's payload did not decode, before the channel and name are attached.
pub(crate) enum PayloadFailure {
    UnknownName,
    Invalid(String),
}

/// Decodes an event payload of a known shape.
pub(crate) fn payload<'a, T: Deserialize<'a>>(data: &'a str) -> Result<T, PayloadFailure> {
    serde_json::from_str(data).map_err(|error| PayloadFailure::Invalid(error.to_string()))
}
