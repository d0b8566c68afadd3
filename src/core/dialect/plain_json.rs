//! Plain JSON over WebSocket: servers with their own flat frames, mapped declaratively.
//!
//! Each frame is one JSON object (or an array of them) whose type is named by one field
//! (`type` by default). The options give the subscribe and unsubscribe frames as templates, the
//! types that are job events and what each becomes, the field renames, the error type, and the
//! heartbeat frame. Such servers carry no sequence number and no acks, which bounds what the
//! client can promise (see the README's guarantees table): events are delivered in the order
//! they arrive and nothing is replayed after a reconnect; an outbox message leaves the outbox
//! once written to an open socket.

use super::super::json::{self, Kind, Value};
use super::super::protocol::{ClientFrame, DecodeError, MAX_BATCH_FRAMES, RawJson};
use super::super::url::with_query;
use super::config::PlainJsonOptions;
use super::foreign::FieldNames;
use super::template::{Fill, Template};
use super::{Heartbeat, Incoming, foreign_event, report_invalid_once};

/// The plain-JSON dialect and the token of the current socket.
#[derive(Debug)]
pub struct PlainJson {
    options: PlainJsonOptions,
    token: Option<String>,
}

impl PlainJson {
    pub fn new(options: PlainJsonOptions) -> Self {
        PlainJson {
            options,
            token: None,
        }
    }

    /// The socket URL: `base` with the token in the configured query parameter.
    pub fn open(&mut self, base: &str, token: Option<&str>) -> String {
        self.token = token.map(str::to_owned);
        match token {
            Some(token) => with_query(base, &[(self.options.token_param.as_str(), token)]),
            None => base.to_owned(),
        }
    }

    pub fn fields(&self) -> &FieldNames {
        &self.options.fields
    }

    pub fn heartbeat(&self) -> Heartbeat {
        if self.options.heartbeat.is_some() {
            Heartbeat::ClientPings
        } else {
            Heartbeat::Unchecked
        }
    }

    pub fn encode(&mut self, frame: &ClientFrame) -> Option<String> {
        let render = |template: &Template, channel: &str, id: &str| {
            template.render(&Fill {
                id,
                channel,
                token: self.token.as_deref().unwrap_or_default(),
            })
        };
        match frame {
            ClientFrame::Subscribe { channel, id, .. } => {
                Some(render(&self.options.subscribe, channel.as_str(), id))
            }
            ClientFrame::Unsubscribe { channel, id } => self
                .options
                .unsubscribe
                .as_ref()
                .map(|template| render(template, channel.as_str(), id)),
            ClientFrame::Join { channel, id, .. } => {
                Some(render(&self.options.subscribe, channel, id))
            }
            ClientFrame::Leave { channel, id } => self
                .options
                .unsubscribe
                .as_ref()
                .map(|template| render(template, channel, id)),
            ClientFrame::Ping { .. } => self
                .options
                .heartbeat
                .as_ref()
                .map(|template| render(template, "", "")),
            // A plain-JSON server takes the token through a template's `{token}` hole.
            ClientFrame::Auth { .. } => None,
            ClientFrame::Message { id, event, data } => {
                let mut text = String::from("{");
                json::write_string(&mut text, &self.options.type_field);
                text.push(':');
                json::write_string(&mut text, event);
                text.push_str(r#","id":"#);
                json::write_string(&mut text, id);
                text.push_str(r#","data":"#);
                text.push_str(data.as_str());
                text.push('}');
                Some(text)
            }
        }
    }

    pub fn decode(&mut self, text: &str, out: &mut Vec<Incoming>) {
        match json::parse_batch(text, MAX_BATCH_FRAMES) {
            Ok(Value {
                kind: Kind::Array(items),
                ..
            }) => {
                let start = out.len();
                items
                    .iter()
                    .for_each(|item| self.decode_frame(text, item, out));
                report_invalid_once(out, start, items.len());
            }
            Ok(value) => self.decode_frame(text, &value, out),
            Err(error) => out.push(Incoming::Invalid(DecodeError::unreadable(error))),
        }
    }

    fn decode_frame(&self, text: &str, frame: &Value<'_>, out: &mut Vec<Incoming>) {
        let options = &self.options;
        let Some(kind) = frame
            .as_object()
            .and_then(|_| frame.get(&options.type_field))
            .and_then(Value::as_str)
        else {
            out.push(Incoming::Invalid(DecodeError::Malformed(format!(
                "a frame must be an object with a string \"{}\"",
                options.type_field
            ))));
            return;
        };
        if kind == options.error_type {
            let text = |name: &str| frame.get(name).and_then(Value::as_str).map(str::to_owned);
            out.push(Incoming::ServerError {
                code: text("code").unwrap_or_else(|| "server_error".to_owned()),
                message: text("error")
                    .or_else(|| text("message"))
                    .unwrap_or_default(),
                job: None,
            });
            return;
        }
        if options.ignore.iter().any(|ignored| ignored == kind) {
            return;
        }
        match options.events.get(kind) {
            Some(target) => out.push(foreign_event(&options.fields, target, kind, frame)),
            // Any other type goes to the app by its name, the whole frame as its data: such
            // servers put their fields flat in the frame.
            None => out.push(Incoming::ChannelEvent {
                channel: None,
                seq: None,
                event: kind.to_owned(),
                data: RawJson::from_span(text, frame.span.clone()),
            }),
        }
    }
}
