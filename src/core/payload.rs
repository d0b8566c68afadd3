//! Typed job events from the JSON of their `data`: the decoding of an event by channel and
//! name, and typed access to a payload's fields with errors that name the field. Events,
//! snapshots and the dialects' field mappings all read payloads through it.

use super::events::{CompositionEvent, GenerationEvent, JobEvent};
use super::json::{self, Value};
use super::protocol::{Channel, DecodeError};

impl JobEvent {
    /// Decodes the `data` of an event frame by its channel and event name.
    pub fn decode(channel: Channel, event: &str, data: &str) -> Result<JobEvent, DecodeError> {
        let value = json::parse(data).map_err(|error| DecodeError::InvalidPayload {
            channel,
            event: event.to_owned(),
            reason: error.to_string(),
        })?;
        JobEvent::decode_value(channel, event, Some(&value))
    }

    pub(crate) fn decode_value(
        channel: Channel,
        event: &str,
        data: Option<&Value<'_>>,
    ) -> Result<JobEvent, DecodeError> {
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

/// Typed access to the fields of an event's `data` object.
pub(crate) struct Payload<'v, 'a> {
    object: &'v Value<'a>,
}

impl<'v, 'a> Payload<'v, 'a> {
    pub(crate) fn new(data: Option<&'v Value<'a>>) -> Result<Self, PayloadFailure> {
        match data {
            Some(object) if object.as_object().is_some() => Ok(Payload { object }),
            Some(other) => Err(PayloadFailure::Invalid(format!(
                "data must be an object, not {}",
                other.type_name()
            ))),
            None => Err(PayloadFailure::Invalid("the event has no data".to_owned())),
        }
    }

    fn field(&self, name: &str, expected: &str) -> Result<&'v Value<'a>, PayloadFailure> {
        self.object.get(name).ok_or_else(|| {
            PayloadFailure::Invalid(format!("missing field \"{name}\" ({expected})"))
        })
    }

    fn typed<T>(
        &self,
        name: &str,
        expected: &str,
        read: impl FnOnce(&Value<'a>) -> Option<T>,
    ) -> Result<T, PayloadFailure> {
        let value = self.field(name, expected)?;
        read(value).ok_or_else(|| {
            PayloadFailure::Invalid(format!(
                "field \"{name}\" must be {expected}, not {}",
                value.type_name()
            ))
        })
    }

    pub(crate) fn string(&self, name: &str) -> Result<String, PayloadFailure> {
        self.typed(name, "a string", |value| value.as_str().map(str::to_owned))
    }

    /// A string that may be absent or null, read as empty.
    pub(crate) fn string_or_empty(&self, name: &str) -> Result<String, PayloadFailure> {
        match self.object.get(name) {
            None => Ok(String::new()),
            Some(value) if value.is_null() => Ok(String::new()),
            Some(_) => self.string(name),
        }
    }

    pub(crate) fn f64(&self, name: &str) -> Result<f64, PayloadFailure> {
        self.typed(name, "a number", Value::as_f64)
    }

    pub(crate) fn u64(&self, name: &str) -> Result<u64, PayloadFailure> {
        self.typed(name, "an unsigned integer", Value::as_u64)
    }

    /// A `seq`: an unsigned integer a JS number holds exactly (see [`crate::core::protocol::MAX_SEQ`]).
    pub(crate) fn seq(&self, name: &str) -> Result<u64, PayloadFailure> {
        self.typed(name, json::SAFE_INTEGER_RANGE, Value::as_safe_u64)
    }

    pub(crate) fn u32(&self, name: &str) -> Result<u32, PayloadFailure> {
        self.typed(name, "an unsigned 32-bit integer", |value| {
            value.as_u64().and_then(|number| u32::try_from(number).ok())
        })
    }

    pub(crate) fn bool(&self, name: &str) -> Result<bool, PayloadFailure> {
        self.typed(name, "a boolean", Value::as_bool)
    }

    pub(crate) fn status(&self, name: &str) -> Result<super::events::JobStatus, PayloadFailure> {
        self.typed(
            name,
            "a job status (queued, processing, completed, failed, cancelled)",
            |value| value.as_str().and_then(super::events::JobStatus::from_name),
        )
    }
}
