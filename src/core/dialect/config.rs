//! The `protocol` option: which dialect, and its settings, read from JSON.
//!
//! The JS helpers `socketIo({...})` and `jsonProtocol({...})` return plain objects tagged with
//! `dialect`; the bindings hand their JSON text here, so the whole reading (and every error
//! message that says what to fix) is host-tested Rust rather than binding code.

use super::super::json::{self, Value};
use super::foreign::{EventMap, FieldNames};
use super::template::{Hole, Template};

/// Which dialect, with its settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum DialectConfig {
    /// Protocol v1, jobsocket's own.
    #[default]
    V1,
    SocketIo(SocketIoOptions),
    PlainJson(PlainJsonOptions),
}

/// An emit a dialect sends for a subscription: an event name and its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    pub event: String,
    pub data: Option<Template>,
}

/// Settings of the Socket.IO dialect.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketIoOptions {
    /// The Engine.IO path. [`/socket.io/`]
    pub path: String,
    /// The namespace to join; `None` takes it from the URL's path, `/` when it has none.
    pub namespace: Option<String>,
    /// The CONNECT payload. [`{"token":"{token}"}`]
    pub auth: Template,
    /// The emit that subscribes to a job; `None` for servers that put the socket in its rooms
    /// themselves. [none]
    pub subscribe: Option<Emit>,
    /// The emit that unsubscribes. [none]
    pub unsubscribe: Option<Emit>,
    /// The server's event names and the typed events they become.
    pub events: EventMap,
    pub fields: FieldNames,
}

/// Settings of the plain-JSON dialect.
#[derive(Debug, Clone, PartialEq)]
pub struct PlainJsonOptions {
    /// The field that names a frame's type. [`type`]
    pub type_field: String,
    /// The frame that subscribes to a job.
    pub subscribe: Template,
    /// The frame that unsubscribes; `None` sends nothing. [none]
    pub unsubscribe: Option<Template>,
    /// The heartbeat frame the client sends every `pingIntervalMs`; `None` sends none and
    /// leaves the link's liveness to the socket. [none]
    pub heartbeat: Option<Template>,
    /// The query parameter that carries the token. [`token`]
    pub token_param: String,
    /// The type of the server's error frames. [`error`]
    pub error_type: String,
    /// Types that are neither events nor errors, dropped quietly.
    /// [`connected`, `subscribed`, `unsubscribed`, `pong`]
    pub ignore: Vec<String>,
    /// The server's frame types and the typed events they become.
    pub events: EventMap,
    pub fields: FieldNames,
}

impl DialectConfig {
    /// Reads the `protocol` option from its JSON text.
    pub fn parse(text: &str) -> Result<DialectConfig, String> {
        let value = json::parse(text).map_err(|error| format!("protocol is not JSON: {error}"))?;
        let settings = Settings::new(&value, text)?;
        match value.get("dialect").and_then(Value::as_str) {
            Some("v1") => {
                settings.only(&["dialect"])?;
                Ok(DialectConfig::V1)
            }
            Some("socket.io") => settings.socket_io().map(DialectConfig::SocketIo),
            Some("json") => settings.plain_json().map(DialectConfig::PlainJson),
            _ => Err(
                "protocol.dialect must be \"v1\", \"socket.io\" or \"json\"; build it with \
                 socketIo({...}) or jsonProtocol({...})"
                    .to_owned(),
            ),
        }
    }
}

/// The protocol object, with readers whose errors name the setting.
struct Settings<'v, 'a> {
    value: &'v Value<'a>,
    text: &'a str,
}

impl<'v, 'a> Settings<'v, 'a> {
    fn new(value: &'v Value<'a>, text: &'a str) -> Result<Self, String> {
        if value.as_object().is_none() {
            return Err("protocol must be an object".to_owned());
        }
        Ok(Settings { value, text })
    }

    fn only(&self, known: &[&str]) -> Result<(), String> {
        for (key, _) in self.value.as_object().unwrap_or_default() {
            if !known.contains(&key.as_ref()) {
                return Err(format!(
                    "protocol.{key} is not a setting of this dialect; its settings are {}",
                    known[1..].join(", ")
                ));
            }
        }
        Ok(())
    }

    fn string(&self, name: &str, default: &str) -> Result<String, String> {
        match self.value.get(name) {
            None => Ok(default.to_owned()),
            Some(value) => value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("protocol.{name} must be a string")),
        }
    }

    /// A template setting: absent gives `default`, null gives `None`.
    fn template(&self, name: &str, default: Option<&str>) -> Result<Option<Template>, String> {
        match self.value.get(name) {
            None => default.map(Template::parse).transpose(),
            Some(value) if value.is_null() => Ok(None),
            Some(value) => {
                let text = self.text.get(value.span.clone()).unwrap_or_default();
                Template::parse(text)
                    .map(Some)
                    .map_err(|error| format!("protocol.{name}: {error}"))
            }
        }
    }

    fn emit(&self, name: &str) -> Result<Option<Emit>, String> {
        let Some(value) = self.value.get(name).filter(|value| !value.is_null()) else {
            return Ok(None);
        };
        let event = value
            .get("event")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                format!("protocol.{name} must be {{ event: \"name\", data: {{…}} }} or null")
            })?
            .to_owned();
        let data = match value.get("data") {
            None => None,
            Some(data) => Some(
                Template::parse(self.text.get(data.span.clone()).unwrap_or_default())
                    .map_err(|error| format!("protocol.{name}.data: {error}"))?,
            ),
        };
        Ok(Some(Emit { event, data }))
    }

    fn events(&self) -> Result<EventMap, String> {
        match self.value.get("events") {
            None => Ok(EventMap::default()),
            Some(value) => EventMap::parse(value).map_err(|error| format!("protocol.{error}")),
        }
    }

    fn fields(&self) -> Result<FieldNames, String> {
        FieldNames::parse(self.value.get("fields")).map_err(|error| format!("protocol.{error}"))
    }

    fn socket_io(&self) -> Result<SocketIoOptions, String> {
        self.only(&[
            "dialect",
            "path",
            "namespace",
            "auth",
            "subscribe",
            "unsubscribe",
            "events",
            "fields",
        ])?;
        let namespace = match self.value.get("namespace") {
            None => None,
            Some(_) => Some(self.string("namespace", "/")?),
        };
        if namespace
            .as_ref()
            .is_some_and(|name| !name.starts_with('/'))
        {
            return Err("protocol.namespace must start with \"/\"".to_owned());
        }
        if self
            .value
            .get("auth")
            .is_some_and(|auth| !auth.is_null() && auth.as_object().is_none())
        {
            return Err("protocol.auth must be an object (the CONNECT payload) or null".to_owned());
        }
        let auth = self
            .template("auth", Some(r#"{"token":"{token}"}"#))?
            .unwrap_or(Template::parse("{}")?);
        Ok(SocketIoOptions {
            path: self.string("path", "/socket.io/")?,
            namespace,
            auth,
            subscribe: self.emit("subscribe")?,
            unsubscribe: self.emit("unsubscribe")?,
            events: self.events()?,
            fields: self.fields()?,
        })
    }

    fn plain_json(&self) -> Result<PlainJsonOptions, String> {
        self.only(&[
            "dialect",
            "typeField",
            "subscribe",
            "unsubscribe",
            "heartbeat",
            "tokenParam",
            "errorType",
            "ignore",
            "events",
            "fields",
        ])?;
        let subscribe = self
            .template("subscribe", None)?
            .ok_or("protocol.subscribe is required: the frame that subscribes to a job")?;
        if !subscribe.uses(Hole::Id) {
            return Err(
                "protocol.subscribe must put the job's id somewhere, as \"{id}\"".to_owned(),
            );
        }
        let ignore = match self.value.get("ignore") {
            None => ["connected", "subscribed", "unsubscribed", "pong"]
                .map(str::to_owned)
                .to_vec(),
            Some(json::Value {
                kind: json::Kind::Array(items),
                ..
            }) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or("protocol.ignore must be an array of type names")?,
            Some(_) => return Err("protocol.ignore must be an array of type names".to_owned()),
        };
        Ok(PlainJsonOptions {
            type_field: self.string("typeField", "type")?,
            subscribe,
            unsubscribe: self.template("unsubscribe", None)?,
            heartbeat: self.template("heartbeat", None)?,
            token_param: self.string("tokenParam", "token")?,
            error_type: self.string("errorType", "error")?,
            ignore,
            events: self.events()?,
            fields: self.fields()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::DialectConfig;

    #[test]
    fn the_ep_080_config_reads() {
        let config = DialectConfig::parse(
            r#"{"dialect":"socket.io","events":{"generation:queued":"generation.queued","generation:progress":"generation.progress","generation:complete":"generation.completed","generation:error":"generation.error"}}"#,
        )
        .expect("valid");
        let DialectConfig::SocketIo(options) = config else {
            panic!("a socket.io config")
        };
        assert_eq!(options.path, "/socket.io/");
        assert!(options.subscribe.is_none());
    }

    #[test]
    fn mistakes_are_named() {
        for (text, expected) in [
            (r#"{"dialect":"mqtt"}"#, "protocol.dialect"),
            (r#"{"dialect":"socket.io","paht":"/x"}"#, "protocol.paht"),
            (
                r#"{"dialect":"socket.io","namespace":"admin"}"#,
                "start with",
            ),
            (
                r#"{"dialect":"socket.io","auth":"{token}"}"#,
                "protocol.auth",
            ),
            (r#"{"dialect":"json"}"#, "protocol.subscribe is required"),
            (
                r#"{"dialect":"json","subscribe":{"type":"subscribe"}}"#,
                "{id}",
            ),
            (
                r#"{"dialect":"json","subscribe":{"id":"{id}"},"events":{"x":"y"}}"#,
                "events.x",
            ),
            (
                r#"{"dialect":"socket.io","subscribe":{"data":{}}}"#,
                "protocol.subscribe must be",
            ),
        ] {
            let error = DialectConfig::parse(text).expect_err(text);
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
