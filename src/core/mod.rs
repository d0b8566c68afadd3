//! The sans-IO core: every behaviour of the client, with no browser, no clock and no randomness.
//!
//! The driver (`crate::web` in a browser, a scenario harness in tests) feeds it inputs and
//! carries out what it asks for; see [`Client`] for the calling contract.

mod app_channels;
mod backoff;
mod client;
mod config;
pub mod dialect;
pub mod events;
mod ids;
pub mod job_view;
pub mod json;
mod numbering;
pub mod outbox;
mod output;
mod payload;
pub mod protocol;
mod relay_form;
mod rng;
pub mod small_map;
pub mod snapshot;
mod subscriptions;
pub mod tabs;
mod time;
mod url;
pub mod utf16;

pub use client::{Client, body_too_large};
pub use config::{Config, websocket_url};
pub use dialect::DialectConfig;
pub use events::{
    ClipCompleted, CompositionEvent, EncodingProgress, GenerationEvent, JobEvent, JobFailure,
    JobResult, JobStatus, Progress, Queued, StatusChange,
};
pub use output::{
    ChannelDelivery, ClientError, ConnectionState, Event, JobDelivery, SocketId, StateChange,
    StateReason, Status, Timer, Transmit,
};
pub use protocol::{Channel, ClientFrame, DecodeError, Decoded, RawJson, ServerFrame};
pub use time::Instant;
pub use url::{blocked_as_mixed_content, hide_secret, hide_url_queries, job_id_problem};
