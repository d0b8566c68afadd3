//! The TypeScript types of the JS API, written once here and emitted into the package's
//! `.d.ts` by wasm-bindgen. Payload shapes are those of `docs/PROTOCOL.md`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** The two kinds of job a client can watch. */
export type Channel = "generation" | "composition";

/** The life-cycle status of a job. */
export type JobStatus = "queued" | "processing" | "completed" | "failed" | "cancelled";

/** Options of `new JobSocket(options)`. */
export interface JobSocketOptions {
  /** The server's WebSocket URL (`ws://`, `wss://`; `http(s)://` is turned into `ws(s)://`). */
  url: string;
  /** How long a socket may take to open, in milliseconds. Default 10000. */
  connectTimeoutMs?: number;
  /** Frames longer than this are dropped with a `frame_too_large` error. Default 1048576. */
  maxFrameBytes?: number;
}

/** The connection status. */
export type ConnectionStatus = "idle" | "connecting" | "open" | "closed";

/** A snapshot of the connection. */
export interface ConnectionState {
  status: ConnectionStatus;
  /** Why the status last changed, e.g. "socket_opened", "closed_by_app". */
  reason: string | null;
  /** The id the server gave this connection. */
  clientId: string | null;
  /** How often the server expects a ping, in milliseconds. */
  serverHeartbeatMs: number | null;
}

/** Passed to `onStateChange` callbacks. */
export interface StateChangeEvent {
  status: ConnectionStatus;
  previous: ConnectionStatus;
  reason: string;
}

/** A problem the client hit and survived; passed to `onError` callbacks. */
export interface JobSocketError {
  /** A stable code: "malformed_frame", "unknown_event", "invalid_payload", "socket_closed", … */
  code: string;
  message: string;
}

export interface QueuedData { position: number }
export interface ProgressData {
  step: string;
  clip_number: number;
  total_clips: number;
  /** 0 to 100. */
  percentage: number;
  message: string;
}
export interface ClipCompletedData { clip_id: string; thumbnail_url: string; duration: number }
export interface StatusChangeData { old_status: JobStatus; new_status: JobStatus; message: string }
export interface JobResultData { video_url: string; thumbnail_url: string; duration: number }
export interface JobErrorData { code: string; message: string; recoverable: boolean }
export interface EncodingProgressData {
  /** 0 to 100. */
  percentage: number;
  frames_processed: number;
  total_frames: number;
  /** Seconds. */
  estimated_remaining: number;
}

/** The payload of each generation event, by event name. */
export interface GenerationEventMap {
  queued: QueuedData;
  progress: ProgressData;
  clip_completed: ClipCompletedData;
  status_change: StatusChangeData;
  completed: JobResultData;
  error: JobErrorData;
}

/** The payload of each composition event, by event name. */
export interface CompositionEventMap {
  encoding_progress: EncodingProgressData;
  completed: JobResultData;
  error: JobErrorData;
}

/** Where an event comes from. */
export interface EventMeta<E extends string = string> {
  channel: Channel;
  jobId: string;
  /** The event's sequence number within its job: 1, 2, 3, … */
  seq: number;
  event: E;
}

/** One optional callback per event name, plus `onEvent` for every event. */
export type HandlerMap<M> = {
  [E in keyof M]?: (data: M[E], meta: EventMeta<E & string>) => void;
} & {
  onEvent?: (data: M[keyof M], meta: EventMeta<keyof M & string>) => void;
};

export type GenerationHandlers = HandlerMap<GenerationEventMap>;
export type CompositionHandlers = HandlerMap<CompositionEventMap>;
"#;
