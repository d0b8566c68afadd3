//! The messages tabs of one app exchange over their channel (a `BroadcastChannel` in the
//! browser), as JSON text. Every message names the tab that sent it; what the leader sends
//! also carries its term (`epoch`), so a follower can tell the current leader from one that
//! was replaced while frozen.
//!
//! Events travel with their `data` as the server's own JSON, copied verbatim, so a follower
//! hands its app exactly what the leader's app gets.

use std::ops::Range;

use crate::core::json::{self, Value, write_string, write_u64};
use crate::core::protocol::{Channel, RawJson};

/// A tab's id on the channel: random, so two tabs never pick the same.
pub type TabId = u64;

/// A job, an app channel or a listened event name a tab watches, with the last `seq` it
/// delivered of it (for jobs and channels).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Watching {
    pub jobs: Vec<(Channel, String, Option<u64>)>,
    pub channels: Vec<(String, String, Option<u64>)>,
    pub names: Vec<String>,
}

/// A connection snapshot as a follower sees it: instants are ages, in milliseconds before the
/// message was written, since each tab has a clock of its own.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SharedState {
    pub status: String,
    pub reason: Option<String>,
    pub attempt: u32,
    pub retry_in_ms: Option<u64>,
    pub connected_ago_ms: Option<u64>,
    pub disconnected_ago_ms: Option<u64>,
    pub error: Option<SharedError>,
    pub request_id: Option<String>,
    pub client_id: Option<String>,
    pub heartbeat_ms: Option<u64>,
    pub outbox: usize,
    pub recovered: bool,
    pub transport: Option<String>,
}

/// An error as the app sees it: its code, its text, and what names a server's own error.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SharedError {
    pub code: String,
    pub message: String,
    pub server_code: Option<String>,
    pub job: Option<(Channel, String)>,
}

/// One message between tabs.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// The leader is alive (sent on taking the lock and then every `tab_heartbeat`).
    Lead {
        epoch: u64,
    },
    /// The leader's connection changed.
    State {
        epoch: u64,
        state: Box<SharedState>,
    },
    /// An event of an app channel (`channel` when the wire names it) or of a listened name.
    AppEvent {
        epoch: u64,
        channel: Option<(String, String)>,
        seq: u64,
        event: String,
        data: RawJson,
    },
    /// A job's subscription ended after its terminal event.
    Ended {
        epoch: u64,
        channel: Channel,
        id: String,
    },
    Error {
        epoch: u64,
        error: SharedError,
    },
    /// A message left the shared outbox without an ack.
    Dropped {
        epoch: u64,
        id: String,
        reason: String,
    },
    OutboxSize {
        epoch: u64,
        size: usize,
    },
    /// These messages sent by followers are in the shared outbox (stored): their senders can
    /// forget them.
    Queued {
        epoch: u64,
        ids: Vec<String>,
    },
    /// The sender leaves: a leader gives the lock up, a follower stops watching.
    Bye,
    /// A new tab asks who leads.
    Who,
    /// A follower's whole interest (sent when it changes, to each new leader, and every
    /// `tab_heartbeat` as a sign of life), numbered `n` by the follower.
    Hello {
        watching: Watching,
        n: u64,
    },
    /// The leader heard `peer`'s hello number `n`: what it told of is on its way, in order.
    Heard {
        epoch: u64,
        peer: TabId,
        n: u64,
    },
    /// A follower's app message, for the shared outbox.
    Send {
        id: String,
        event: String,
        data: RawJson,
    },
    /// A follower's app asked the connection to connect, reconnect, or clear the outbox.
    Command {
        command: String,
    },
}

/// Writes `message` from tab `from`.
pub fn encode(from: TabId, message: &Message) -> String {
    let mut out = String::with_capacity(96);
    out.push_str("{\"tab\":");
    write_u64(&mut out, from);
    let epoch = |out: &mut String, epoch: u64| {
        out.push_str(",\"epoch\":");
        write_u64(out, epoch);
    };
    match message {
        Message::Lead { epoch: e } => {
            kind(&mut out, "lead");
            epoch(&mut out, *e);
        }
        Message::State { epoch: e, state } => {
            kind(&mut out, "state");
            epoch(&mut out, *e);
            write_state(&mut out, state);
        }
        Message::AppEvent {
            epoch: e,
            channel,
            seq,
            event,
            data,
        } => {
            kind(&mut out, "app");
            epoch(&mut out, *e);
            if let Some((name, id)) = channel {
                field_str(&mut out, "channel", name);
                field_str(&mut out, "id", id);
            }
            field_u64(&mut out, "seq", *seq);
            field_str(&mut out, "event", event);
            out.push_str(",\"data\":");
            out.push_str(data.as_str());
        }
        Message::Ended {
            epoch: e,
            channel,
            id,
        } => {
            kind(&mut out, "ended");
            epoch(&mut out, *e);
            field_str(&mut out, "channel", channel.as_str());
            field_str(&mut out, "id", id);
        }
        Message::Error { epoch: e, error } => {
            kind(&mut out, "error");
            epoch(&mut out, *e);
            write_error(&mut out, error);
        }
        Message::Dropped {
            epoch: e,
            id,
            reason,
        } => {
            kind(&mut out, "dropped");
            epoch(&mut out, *e);
            field_str(&mut out, "id", id);
            field_str(&mut out, "reason", reason);
        }
        Message::OutboxSize { epoch: e, size } => {
            kind(&mut out, "outbox");
            epoch(&mut out, *e);
            field_u64(&mut out, "size", *size as u64);
        }
        Message::Queued { epoch: e, ids } => {
            kind(&mut out, "queued");
            epoch(&mut out, *e);
            out.push_str(",\"ids\":[");
            for (index, id) in ids.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(&mut out, id);
            }
            out.push(']');
        }
        Message::Bye => kind(&mut out, "bye"),
        Message::Who => kind(&mut out, "who"),
        Message::Hello { watching, n } => {
            kind(&mut out, "hello");
            field_u64(&mut out, "n", *n);
            write_watching(&mut out, watching);
        }
        Message::Heard { epoch: e, peer, n } => {
            kind(&mut out, "heard");
            epoch(&mut out, *e);
            field_u64(&mut out, "peer", *peer);
            field_u64(&mut out, "n", *n);
        }
        Message::Send { id, event, data } => {
            kind(&mut out, "send");
            field_str(&mut out, "id", id);
            field_str(&mut out, "event", event);
            out.push_str(",\"data\":");
            out.push_str(data.as_str());
        }
        Message::Command { command } => {
            kind(&mut out, "cmd");
            field_str(&mut out, "cmd", command);
        }
    }
    out.push('}');
    out
}

/// A relayed job event's data: the server's JSON, or the event's relay form (see
/// [`crate::core::events::JobEvent::relay_form`]) for one that came from no frame.
#[derive(Debug, Clone, PartialEq)]
pub enum JobData<T> {
    Json(T),
    Relay(T),
}

/// Writes a job event from tab `from`.
pub fn encode_job(
    from: TabId,
    epoch: u64,
    (channel, id): (Channel, &str),
    seq: u64,
    event: &str,
    data: JobData<&str>,
) -> String {
    let (name, data) = match data {
        JobData::Json(data) => (",\"data\":", data),
        JobData::Relay(data) => (",\"relay\":", data),
    };
    let mut out = String::with_capacity(96 + data.len());
    out.push_str("{\"tab\":");
    write_u64(&mut out, from);
    kind(&mut out, "job");
    field_u64(&mut out, "epoch", epoch);
    field_str(&mut out, "channel", channel.as_str());
    field_str(&mut out, "id", id);
    field_u64(&mut out, "seq", seq);
    field_str(&mut out, "event", event);
    out.push_str(name);
    out.push_str(data);
    out.push('}');
    out
}

fn kind(out: &mut String, name: &str) {
    field_str(out, "t", name);
}

fn field_str(out: &mut String, name: &str, value: &str) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":");
    write_string(out, value);
}

fn field_u64(out: &mut String, name: &str, value: u64) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":");
    write_u64(out, value);
}

fn field_opt_str(out: &mut String, name: &str, value: Option<&str>) {
    match value {
        Some(value) => field_str(out, name, value),
        None => field_null(out, name),
    }
}

fn field_opt_u64(out: &mut String, name: &str, value: Option<u64>) {
    match value {
        Some(value) => field_u64(out, name, value),
        None => field_null(out, name),
    }
}

fn field_null(out: &mut String, name: &str) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":null");
}

fn write_state(out: &mut String, state: &SharedState) {
    field_str(out, "status", &state.status);
    field_opt_str(out, "reason", state.reason.as_deref());
    field_u64(out, "attempt", u64::from(state.attempt));
    field_opt_u64(out, "retryIn", state.retry_in_ms);
    field_opt_u64(out, "connectedAgo", state.connected_ago_ms);
    field_opt_u64(out, "disconnectedAgo", state.disconnected_ago_ms);
    field_opt_str(out, "requestId", state.request_id.as_deref());
    field_opt_str(out, "clientId", state.client_id.as_deref());
    field_opt_u64(out, "heartbeatMs", state.heartbeat_ms);
    field_u64(out, "outbox", state.outbox as u64);
    out.push_str(if state.recovered {
        ",\"recovered\":true"
    } else {
        ",\"recovered\":false"
    });
    field_opt_str(out, "transport", state.transport.as_deref());
    match &state.error {
        Some(error) => write_error(out, error),
        None => field_null(out, "error"),
    }
}

fn write_error(out: &mut String, error: &SharedError) {
    out.push_str(",\"error\":{\"tab\":0");
    field_str(out, "code", &error.code);
    field_str(out, "message", &error.message);
    if let Some(code) = &error.server_code {
        field_str(out, "serverCode", code);
    }
    if let Some((channel, id)) = &error.job {
        field_str(out, "channel", channel.as_str());
        field_str(out, "jobId", id);
    }
    out.push('}');
}

fn write_watching(out: &mut String, watching: &Watching) {
    out.push_str(",\"jobs\":[");
    for (index, (channel, id, since)) in watching.jobs.iter().enumerate() {
        write_triple(out, index, channel.as_str(), id, *since);
    }
    out.push_str("],\"channels\":[");
    for (index, (name, id, since)) in watching.channels.iter().enumerate() {
        write_triple(out, index, name, id, *since);
    }
    out.push_str("],\"names\":[");
    for (index, name) in watching.names.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_string(out, name);
    }
    out.push(']');
}

fn write_triple(out: &mut String, index: usize, first: &str, second: &str, since: Option<u64>) {
    if index > 0 {
        out.push(',');
    }
    out.push('[');
    write_string(out, first);
    out.push(',');
    write_string(out, second);
    out.push(',');
    match since {
        Some(since) => write_u64(out, since),
        None => out.push_str("null"),
    }
    out.push(']');
}

/// A message as read: a job's event keeps its data where it lies in the message text, so the
/// app gets a slice of it rather than a copy.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    Job {
        epoch: u64,
        channel: Channel,
        id: String,
        seq: u64,
        event: String,
        /// Where the data lies in the message text.
        data: JobData<Range<usize>>,
    },
    Other(Message),
}

/// Reads a message; `None` for anything that is not one (another version of the library on
/// the same channel, say): such a message is ignored.
pub fn decode(text: &str) -> Option<(TabId, Received)> {
    let value = json::parse(text).ok()?;
    let from = value.get("tab")?.as_u64()?;
    let epoch = || value.get("epoch").and_then(Value::as_u64);
    let string = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    let message = match value.get("t")?.as_str()? {
        "lead" => Message::Lead { epoch: epoch()? },
        "state" => Message::State {
            epoch: epoch()?,
            state: Box::new(read_state(&value)?),
        },
        "job" => {
            return Some((
                from,
                Received::Job {
                    epoch: epoch()?,
                    channel: Channel::from_name(value.get("channel")?.as_str()?)?,
                    id: string("id")?,
                    seq: value.get("seq")?.as_u64()?,
                    event: string("event")?,
                    data: match (value.get("data"), value.get("relay")) {
                        (Some(data), None) => JobData::Json(data.span.clone()),
                        (None, Some(relay)) => JobData::Relay(relay.span.clone()),
                        _ => return None,
                    },
                },
            ));
        }
        "app" => Message::AppEvent {
            epoch: epoch()?,
            channel: string("channel").zip(string("id")),
            seq: value.get("seq")?.as_u64()?,
            event: string("event")?,
            data: RawJson::from_span(text, value.get("data")?.span.clone()),
        },
        "ended" => Message::Ended {
            epoch: epoch()?,
            channel: Channel::from_name(value.get("channel")?.as_str()?)?,
            id: string("id")?,
        },
        "error" => Message::Error {
            epoch: epoch()?,
            error: read_error(value.get("error")?)?,
        },
        "dropped" => Message::Dropped {
            epoch: epoch()?,
            id: string("id")?,
            reason: string("reason")?,
        },
        "outbox" => Message::OutboxSize {
            epoch: epoch()?,
            size: usize::try_from(value.get("size")?.as_u64()?).ok()?,
        },
        "queued" => Message::Queued {
            epoch: epoch()?,
            ids: strings(value.get("ids")?)?,
        },
        "bye" => Message::Bye,
        "who" => Message::Who,
        "heard" => Message::Heard {
            epoch: epoch()?,
            peer: value.get("peer")?.as_u64()?,
            n: value.get("n")?.as_u64()?,
        },
        "hello" => Message::Hello {
            n: value.get("n")?.as_u64()?,
            watching: Watching {
                jobs: triples(value.get("jobs")?)?
                    .into_iter()
                    .map(|(channel, id, since)| {
                        Channel::from_name(&channel).map(|channel| (channel, id, since))
                    })
                    .collect::<Option<_>>()?,
                channels: triples(value.get("channels")?)?,
                names: strings(value.get("names")?)?,
            },
        },
        "send" => Message::Send {
            id: string("id")?,
            event: string("event")?,
            data: RawJson::from_span(text, value.get("data")?.span.clone()),
        },
        "cmd" => Message::Command {
            command: string("cmd")?,
        },
        _ => return None,
    };
    Some((from, Received::Other(message)))
}

fn optional_u64(value: &Value<'_>, name: &str) -> Option<Option<u64>> {
    match value.get(name) {
        None => Some(None),
        Some(field) if field.is_null() => Some(None),
        Some(field) => field.as_u64().map(Some),
    }
}

fn optional_str(value: &Value<'_>, name: &str) -> Option<String> {
    value.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn read_state(value: &Value<'_>) -> Option<SharedState> {
    Some(SharedState {
        status: value.get("status")?.as_str()?.to_owned(),
        reason: optional_str(value, "reason"),
        attempt: u32::try_from(value.get("attempt")?.as_u64()?).ok()?,
        retry_in_ms: optional_u64(value, "retryIn")?,
        connected_ago_ms: optional_u64(value, "connectedAgo")?,
        disconnected_ago_ms: optional_u64(value, "disconnectedAgo")?,
        error: match value.get("error") {
            Some(error) if !error.is_null() => Some(read_error(error)?),
            _ => None,
        },
        request_id: optional_str(value, "requestId"),
        client_id: optional_str(value, "clientId"),
        heartbeat_ms: optional_u64(value, "heartbeatMs")?,
        outbox: usize::try_from(value.get("outbox")?.as_u64()?).ok()?,
        recovered: value.get("recovered")?.as_bool()?,
        transport: optional_str(value, "transport"),
    })
}

fn read_error(value: &Value<'_>) -> Option<SharedError> {
    let job = match (optional_str(value, "channel"), optional_str(value, "jobId")) {
        (Some(channel), Some(id)) => Some((Channel::from_name(&channel)?, id)),
        _ => None,
    };
    Some(SharedError {
        code: value.get("code")?.as_str()?.to_owned(),
        message: value.get("message")?.as_str()?.to_owned(),
        server_code: optional_str(value, "serverCode"),
        job,
    })
}

fn strings(value: &Value<'_>) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|item| item.as_str().map(str::to_owned))
        .collect()
}

type Triple = (String, String, Option<u64>);

fn triples(value: &Value<'_>) -> Option<Vec<Triple>> {
    value
        .as_array()?
        .iter()
        .map(|item| match item.as_array()? {
            [first, second, since] => Some((
                first.as_str()?.to_owned(),
                second.as_str()?.to_owned(),
                if since.is_null() {
                    None
                } else {
                    Some(since.as_u64()?)
                },
            )),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_reads_back_as_written() {
        let error = SharedError {
            code: "server_error".to_owned(),
            message: "server error unknown_job about generation g\"1: gone".to_owned(),
            server_code: Some("unknown_job".to_owned()),
            job: Some((Channel::Generation, "g\"1".to_owned())),
        };
        let messages = vec![
            Message::Lead { epoch: 3 },
            Message::State {
                epoch: 3,
                state: Box::new(SharedState {
                    status: "open".to_owned(),
                    reason: Some("socket_opened".to_owned()),
                    attempt: 2,
                    retry_in_ms: Some(5),
                    connected_ago_ms: Some(0),
                    disconnected_ago_ms: None,
                    error: Some(error.clone()),
                    request_id: Some("r".to_owned()),
                    client_id: None,
                    heartbeat_ms: Some(30_000),
                    outbox: 4,
                    recovered: true,
                    transport: Some("websocket".to_owned()),
                }),
            },
            Message::AppEvent {
                epoch: 1,
                channel: Some(("workspace".to_owned(), "w1".to_owned())),
                seq: 9,
                event: "note".to_owned(),
                data: RawJson::new("{\"a\":[1,2]}").expect("JSON"),
            },
            Message::AppEvent {
                epoch: 1,
                channel: None,
                seq: 1,
                event: "ping".to_owned(),
                data: RawJson::new("null").expect("JSON"),
            },
            Message::Ended {
                epoch: 1,
                channel: Channel::Composition,
                id: "c".to_owned(),
            },
            Message::Error { epoch: 1, error },
            Message::Dropped {
                epoch: 1,
                id: "m_1".to_owned(),
                reason: "cleared".to_owned(),
            },
            Message::OutboxSize { epoch: 1, size: 7 },
            Message::Queued {
                epoch: 1,
                ids: vec!["m_1".to_owned(), "m_2".to_owned()],
            },
            Message::Bye,
            Message::Who,
            Message::Heard {
                epoch: 2,
                peer: 9,
                n: 4,
            },
            Message::Hello {
                n: 3,
                watching: Watching {
                    jobs: vec![
                        (Channel::Generation, "g".to_owned(), Some(4)),
                        (Channel::Composition, "c".to_owned(), None),
                    ],
                    channels: vec![("workspace".to_owned(), "w".to_owned(), Some(1))],
                    names: vec!["ping".to_owned()],
                },
            },
            Message::Send {
                id: "m_3".to_owned(),
                event: "note".to_owned(),
                data: RawJson::new("{\"text\":\"é\"}").expect("JSON"),
            },
            Message::Command {
                command: "reconnect".to_owned(),
            },
        ];
        for message in messages {
            let text = encode(u64::MAX, &message);
            assert_eq!(
                decode(&text),
                Some((u64::MAX, Received::Other(message))),
                "{text}"
            );
        }
    }

    #[test]
    fn a_job_event_keeps_its_data_where_it_lies_in_the_text() {
        let text = encode_job(
            7,
            2,
            (Channel::Generation, "g"),
            5,
            "progress",
            JobData::Json("{\"step\":\"x\"}"),
        );
        let Some((7, Received::Job { seq, data, .. })) = decode(&text) else {
            panic!("not a job event: {text}");
        };
        assert_eq!(seq, 5);
        let JobData::Json(span) = data else {
            panic!("not JSON data");
        };
        assert_eq!(&text[span], "{\"step\":\"x\"}");
    }

    #[test]
    fn text_that_is_not_a_message_is_ignored() {
        for text in [
            "",
            "[]",
            "{\"tab\":1}",
            "{\"tab\":1,\"t\":\"nope\"}",
            "{\"t\":\"who\"}",
        ] {
            assert_eq!(decode(text), None, "{text}");
        }
    }
}
