//! The TypeScript types of the JS API, written once here and emitted into the package's
//! `.d.ts` by wasm-bindgen. Payload shapes are those of `docs/PROTOCOL.md`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** The two kinds of job a client can watch. */
export type Channel = "generation" | "composition";

/**
 * What a tab is to the app's other tabs (`shareAcrossTabs`): "leader" holds the connection,
 * "follower" gets it through the leader, "waiting" waits for the lock or a leader's answer,
 * "closed" after `close()`, "off" when the connection is not shared.
 */
export type TabRole = "leader" | "follower" | "waiting" | "closed" | "off";

/** The life-cycle status of a job. */
export type JobStatus = "queued" | "processing" | "completed" | "failed" | "cancelled";

/** Options of `new JobSocket(options)`. Times are in milliseconds. */
export interface JobSocketOptions {
  /** The server's WebSocket URL (`ws://`, `wss://`; `http(s)://` is turned into `ws(s)://`). */
  url: string;
  /**
   * Sent with every connection attempt: as the `token` query parameter (protocol v1, plain
   * JSON), or in the Socket.IO CONNECT `auth`. A function is called before each attempt and
   * may return a promise. Close code 4001 or 4003 (or Socket.IO's CONNECT_ERROR) gets one
   * fresh token after the reconnection backoff; a second refusal before a connection has
   * stayed up `minUptimeMs` closes the client with reason "unauthorized".
   */
  token?: string | (() => string | Promise<string>);
  /**
   * Where the token travels (protocol v1): "query" appends `?token=` to the socket URL, which
   * proxies and load balancers may log; "frame" sends it as the socket's first frame,
   * `{"type":"auth","token":…}`, for servers that accept it there (the reference server does).
   * Default "query".
   */
  tokenTransport?: "query" | "frame";
  /** How long a token plus socket may take to open. Default 10000. */
  connectTimeoutMs?: number;
  /** First reconnection delay; each failure in a row doubles it. Default 1000. */
  reconnectInitialDelayMs?: number;
  /** Longest delay between two attempts. Default 16000. */
  reconnectMaxDelayMs?: number;
  /**
   * Tabs of this origin with the same `url` and `storageKey` share one connection: the tab
   * holding their Web Lock (the leader) has the socket, the polling and the outbox; the others
   * follow it over a BroadcastChannel. Off where Web Locks or BroadcastChannel are missing.
   * Default true.
   */
  shareAcrossTabs?: boolean;
  /** How often the leading tab tells the others it is alive, while any follows it (a tab alone sends none). Default 1000. */
  tabHeartbeatMs?: number;
  /** A leader silent this long (a frozen or hung tab) is replaced by a follower. Default 5000. */
  tabTimeoutMs?: number;
  /** Full jitter: each delay is drawn between 0 and the backoff step. Default true. */
  jitter?: boolean;
  /** A connection must stay up this long to reset the failure streak. Default 5000. */
  minUptimeMs?: number;
  /** After this many failures in a row, a `reconnect_failing` error is reported. Default 5. */
  failuresBeforeReport?: number;
  /** How often an open connection is pinged. Default 30000. */
  pingIntervalMs?: number;
  /** With no frame this long after a ping, the link is dead and replaced. Default 10000. */
  pongTimeoutMs?: number;
  /** With no subscription this long, the socket is closed and the client goes idle; 0 never. Default 300000. */
  idleTimeoutMs?: number;
  /**
   * Frames longer than this many bytes are dropped with a `frame_too_large` error (unread when
   * their JS length is already over), status endpoint bodies with `poll_failed`. Default 1048576.
   */
  maxFrameBytes?: number;
  /** Progress events of one job are delivered at most this often per second, the latest winning; 0 delivers all. Default 10. */
  maxProgressPerSecond?: number;
  /**
   * Namespaces the stored outbox (with the URL): the signed-in user's id, so one user's queued
   * messages are never restored and sent on another's connection. Required with `token`.
   * Default none.
   */
  storageKey?: string;
  /** At most this many messages wait in the outbox; the oldest is dropped ("overflow"). Default 100. */
  outboxMaxMessages?: number;
  /** A message not acked within this time is dropped ("expired"). Default 3600000. */
  outboxTtlMs?: number;
  /** A message goes out on at most this many further sockets or HTTP attempts without an ack ("retries_exhausted"). Default 3. */
  outboxMaxRetries?: number;
  /**
   * While the client polls, the outbox POSTs each message ({id, event, data}, the id being the
   * idempotency key) here, with the token as `Authorization: Bearer`; a path is relative to the
   * server's origin. A 2xx acks it, a 5xx or network error retries it, another 4xx drops it
   * ("rejected"). `null`: messages wait for the socket. Default "/api/v1/messages" for
   * protocol v1, null for `socketIo()` and `jsonProtocol()` servers.
   */
  messagesUrl?: string | null;
  /**
   * Which transports may be used. With both, the client polls the REST status endpoints
   * after 5 failed attempts in a row, after 3 sockets in a row die right after opening, or
   * without a WebSocket, and returns to the socket when one confirms its subscriptions.
   * Default ["websocket", "polling"].
   */
  transports?: Array<"websocket" | "polling">;
  /** A generation's status endpoint; `{id}` is replaced, a path is relative to the server's origin. Default "/api/v1/generations/{id}". */
  generationUrl?: string;
  /** A composition's status endpoint. Default "/api/v1/compositions/{id}". */
  compositionUrl?: string;
  /** How often each watched job is polled while polling. Default 5000. */
  pollIntervalMs?: number;
  /** The longest wait between two socket probes while polling. Default 30000. */
  probeMaxDelayMs?: number;
  /**
   * The server's dialect: jobsocket's protocol v1 (the default), `socketIo({...})` for a
   * Socket.IO v4 server, or `jsonProtocol({...})` for a plain-JSON WebSocket server.
   */
  protocol?: Protocol;
  /** Close codes by which the server refuses the token. Default [4001, 4003]. */
  unauthorizedCloseCodes?: number[];
}

/** Any JSON value. In a dialect's templates, "{id}", "{channel}" and "{token}" in strings are filled in. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A typed event a server's own event becomes. */
export type TypedEventName =
  | "generation.queued" | "generation.progress" | "generation.status_change"
  | "generation.completed" | "generation.error"
  | "composition.encoding_progress" | "composition.completed" | "composition.error";

/**
 * The names a server gives the fields jobsocket builds typed events from. Defaults: jobId,
 * progress (0-100), status, stage, message, result, error (a string or { code, message }),
 * position; inside the result: url, thumbnailUrl, duration. A `status` of completed, failed or
 * cancelled ends the job whatever the event's name.
 */
export interface FieldNames {
  jobId?: string; progress?: string; status?: string; stage?: string; message?: string;
  result?: string; error?: string; position?: string; url?: string; thumbnailUrl?: string;
  duration?: string;
}

/** A Socket.IO emit: `socket.emit(event, data)`. */
export interface SocketIoEmit { event: string; data?: JsonValue }

/** Settings of the Socket.IO v4 dialect. */
export interface SocketIoProtocolOptions {
  /** The Engine.IO path. Default "/socket.io/". */
  path?: string;
  /** The namespace. Default: the URL's path, "/" without one. */
  namespace?: string;
  /** The CONNECT `auth` payload; null sends none. Default { token: "{token}" }. */
  auth?: JsonValue;
  /** The emit that subscribes to a job; null (the default) for servers that join rooms themselves. */
  subscribe?: SocketIoEmit | null;
  /** The emit that unsubscribes. Default null. */
  unsubscribe?: SocketIoEmit | null;
  /** The server's event names and the typed events they become. */
  events?: Record<string, TypedEventName>;
  fields?: FieldNames;
}

/** Settings of the plain-JSON dialect. */
export interface JsonProtocolOptions {
  /** The frame that subscribes to a job; it must contain "{id}". */
  subscribe: JsonValue;
  /** The frame that unsubscribes. Default null (nothing sent). */
  unsubscribe?: JsonValue | null;
  /** The frame sent every `pingIntervalMs`; null (the default) sends none. */
  heartbeat?: JsonValue | null;
  /** The field naming a frame's type. Default "type". */
  typeField?: string;
  /** The query parameter of the token. Default "token". */
  tokenParam?: string;
  /** The type of the server's error frames. Default "error". */
  errorType?: string;
  /** Types dropped quietly. Default ["connected", "subscribed", "unsubscribed", "pong"]. */
  ignore?: string[];
  /** The server's frame types and the typed events they become. */
  events?: Record<string, TypedEventName>;
  fields?: FieldNames;
}

/** The `protocol` option; build it with `socketIo()`, `jsonProtocol()` or `protocolV1()`. */
export type Protocol =
  | { dialect: "v1" }
  | ({ dialect: "socket.io" } & SocketIoProtocolOptions)
  | ({ dialect: "json" } & JsonProtocolOptions);

/** A message that left the outbox without an ack. */
export interface OutboxDropped {
  id: string;
  reason: "overflow" | "expired" | "retries_exhausted" | "cleared" | "rejected";
}

/** The connection status. */
export type ConnectionStatus =
  | "idle" | "connecting" | "open" | "reconnecting" | "polling" | "offline" | "closed";

/**
 * Why the status last changed (the README's "States" has the diagram). The client sets all but
 * "setup_failed", which the React provider sets when it could not create the client: the wasm
 * did not load, or the options were refused.
 */
export type StateReason =
  | "connect_requested" | "reconnect_requested" | "retry_due" | "socket_opened"
  | "connect_timeout" | "socket_closed" | "heartbeat_timeout" | "token_failed" | "unauthorized"
  | "idle_timeout" | "offline" | "online" | "visible" | "polling_fallback" | "websocket_restored"
  | "closed_by_app" | "server_disconnect" | "no_transport" | "setup_failed";

/** What a connection snapshot says whatever its status. Times are milliseconds since the Unix epoch. */
export interface ConnectionStateBase {
  /** Why the status last changed; null before the first change. */
  reason: StateReason | null;
  /** Failed attempts in a row: 0 while healthy. */
  attempt: number;
  /** When the current (or last) socket opened. */
  connectedAt: number | null;
  /** When the last socket was lost. */
  disconnectedAt: number | null;
  /** The last problem the client reported. */
  lastError: JobSocketError | null;
  /** The `requestId` query parameter of the current (or last) attempt, for server logs. */
  requestId: string | null;
  /** The id the server gave this connection. */
  clientId: string | null;
  /** How often the server expects a ping, in milliseconds. */
  serverHeartbeatMs: number | null;
  /** Messages waiting in the outbox for the server's ack. */
  outboxSize: number;
  /**
   * The open session resumed the previous one and got the events it missed (Socket.IO
   * connection state recovery). Always false for the other dialects, which resubscribe.
   */
  recovered: boolean;
}

/**
 * A snapshot of the connection (`socket.state`), discriminated on `status`: `transport` (where
 * job events come from now) and `nextRetryAt` (when the next attempt starts, in epoch
 * milliseconds) are typed for each status as the client sets them. While polling, `nextRetryAt`
 * is the next socket probe's time, or null while a probe is opening or with no socket to probe.
 */
export type ConnectionState =
  | (ConnectionStateBase & { status: "idle"; transport: null; nextRetryAt: null })
  | (ConnectionStateBase & { status: "connecting"; transport: null; nextRetryAt: null })
  | (ConnectionStateBase & { status: "open"; transport: "websocket"; nextRetryAt: null })
  | (ConnectionStateBase & { status: "reconnecting"; transport: null; nextRetryAt: number })
  | (ConnectionStateBase & { status: "polling"; transport: "polling"; nextRetryAt: number | null })
  | (ConnectionStateBase & { status: "offline"; transport: null; nextRetryAt: null })
  | (ConnectionStateBase & { status: "closed"; transport: null; nextRetryAt: null });

/**
 * Passed to `onStateChange` callbacks. A change always changes the status, so `previous` is
 * typed as any status but `status`.
 */
export type StateChangeEvent = {
  [S in ConnectionStatus]: { status: S; previous: Exclude<ConnectionStatus, S>; reason: StateReason };
}[ConnectionStatus];

/**
 * Every `code` a `JobSocketError` can have: a closed set, so a `switch` over it is checked. What
 * the server reports in its own error frames is "server_error", its own code in `serverCode`.
 */
export type ErrorCode =
  // A frame the client could not use: dropped, the connection stays up.
  | "malformed_frame" | "unknown_frame" | "missing_field" | "unknown_event" | "invalid_payload"
  | "frame_too_large" | "batch_too_large" | "binary_frame" | "unknown_namespace" | "binary_packet"
  // The server's own error frame.
  | "server_error"
  // The connection.
  | "connect_timeout" | "socket_closed" | "heartbeat_timeout" | "token_failed" | "unauthorized"
  | "reconnect_failing" | "connect_error" | "server_disconnect" | "no_transport"
  // Job events, polling and the outbox's storage.
  | "sequence_gap" | "sequence_backward" | "poll_failed" | "message_rejected" | "storage_degraded" | "storage_corrupt"
  // The app's side: a handler threw; the React provider could not create the client; the
  // JobSocket constructor refused its options, or a ws:// URL on an https: page (thrown, not
  // passed to onError).
  | "handler_error" | "setup_failed" | "invalid_options" | "mixed_content";

/** An error the server reported in its own error frame. */
export interface ServerReportedError {
  code: "server_error";
  message: string;
  /** The server's own code, e.g. "unknown_job": any string, the server's to define. */
  serverCode: string;
  /** For an error about one job (an answer to its subscribe, say): the job's channel. */
  channel?: Channel;
  /** For an error about one job: the job's id. */
  jobId?: string;
}

/** A problem the client found itself. */
export interface ClientReportedError {
  code: Exclude<ErrorCode, "server_error">;
  message: string;
  serverCode?: never;
  channel?: never;
  jobId?: never;
}

/**
 * A problem the client hit and survived; passed to `onError` callbacks. Narrow on `code`:
 * `serverCode` is a string exactly when `code` is "server_error".
 */
export type JobSocketError = ServerReportedError | ClientReportedError;

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
  /** The event's data, the handler's first argument again (see `EventArgs`). */
  data: unknown;
}

/**
 * The arguments of an `onEvent` callback: one `[data, meta]` pair per event of `M`, so a data
 * and a meta always belong to the same event, and `meta.event` narrows `meta.data`:
 * `if (meta.event === "progress") meta.data.percentage`. (TypeScript narrows a parameter by a
 * sibling parameter itself, never by a property of one, so `data` stays the union.)
 */
export type EventArgs<M, Meta extends { event: string }> = {
  [E in keyof M & string]: [data: M[E], meta: Meta & { event: E; data: M[E] }];
}[keyof M & string];

/** One optional callback per event name, plus `onEvent` for every event. */
export type HandlerMap<M> = {
  [E in keyof M & string]?: (data: M[E], meta: EventMeta<E>) => void;
} & {
  onEvent?: (...args: EventArgs<M, EventMeta>) => void;
};

export type GenerationHandlers = HandlerMap<GenerationEventMap>;
export type CompositionHandlers = HandlerMap<CompositionEventMap>;

/** What a handler of an app channel or an event name is told besides the data. */
export interface ChannelEventMeta<E extends string = string> {
  /** The channel's name; null when the wire does not say (Socket.IO rooms, plain JSON). */
  channel: string | null;
  /** The channel's id; null likewise. */
  id: string | null;
  /** The same as `id`, as job handlers have it. */
  jobId: string | null;
  /** The channel's seq where the wire numbers events (protocol v1); else the client's own numbering on arrival. */
  seq: number;
  event: E;
  /** The event's data, the handler's first argument again (see `EventArgs`). */
  data: unknown;
}

/** One optional callback per event of the app's event map `M`, plus `onEvent` for every one. */
export type ChannelHandlers<M> = {
  [E in keyof M & string]?: (data: M[E], meta: ChannelEventMeta<E>) => void;
} & {
  onEvent?: (...args: EventArgs<M, ChannelEventMeta>) => void;
};
"#;
