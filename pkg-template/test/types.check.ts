// Compile-time tests of the public types (tsc --noEmit over this file in `make test`): each
// `@ts-expect-error` line must fail to type-check, or tsc reports the directive as unused.
import type { JobSocket, JobSocketClient } from "../src/index.js";
import type {
  ConnectionState,
  ConnectionStatus,
  ErrorCode,
  EventMeta,
  GenerationEvent,
  GenerationHandlers,
  JobSocketError,
  ProgressData,
  QueuedData,
  StateChangeEvent,
  StateReason,
} from "../src/types.js";

/** True when `A` and `B` are the same type (not merely assignable either way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

declare const client: JobSocketClient;

client.subscribeGeneration("g1", {
  progress: (data, meta) => {
    const percentage: number = data.percentage;
    const clip: number = data.clip_number;
    const event: "progress" = meta.event;
    void [percentage, clip, event];
    // @ts-expect-error a progress payload has no video_url
    void data.video_url;
  },
  completed: ({ video_url }) => void video_url,
  // @ts-expect-error there is no generation event "encoding_progress"
  encoding_progress: () => {},
});

client.subscribeComposition("c1", {
  encoding_progress: ({ frames_processed, estimated_remaining }) =>
    void [frames_processed, estimated_remaining],
  // @ts-expect-error composition events have no "clip_completed"
  clip_completed: () => {},
});

client.subscribeGeneration("g1", {
  // @ts-expect-error a handler of the wrong payload type
  queued: (data: { position: string }) => void data,
});

declare const state: ConnectionState;
if (state.status === "reconnecting") {
  const next: number = state.nextRetryAt;
  void next;
}
if (state.status === "open") {
  const transport: "websocket" = state.transport;
  void transport;
}
if (state.status === "polling") {
  const transport: "polling" = state.transport;
  // @ts-expect-error no retry time while a probe opens, or with no socket to probe
  const next: number = state.nextRetryAt;
  void [transport, next];
}
if (state.status === "closed") {
  // @ts-expect-error a closed client has no transport
  const transport: "websocket" = state.transport;
  void transport;
}
// @ts-expect-error "connected" is not a status
const wrong: ConnectionState["status"] = "connected";
void wrong;

// One `ConnectionState`: the wasm class's getter, the client's, and the statuses it covers.
const sameState: Equal<JobSocket["state"], JobSocketClient["state"]> = true;
const everyStatus: Equal<ConnectionState["status"], ConnectionStatus> = true;
void [sameState, everyStatus];

// A state's reason is one of a closed set; "setup_failed" is the React provider's.
const reason: StateReason | null = state.reason;
const setupFailed: StateReason = "setup_failed";
// @ts-expect-error not a reason the client gives
const bogusReason: StateReason = "connected";
void [reason, setupFailed, bogusReason];

// A change always changes the status.
client.onStateChange((change: StateChangeEvent) => {
  const why: StateReason = change.reason;
  if (change.status === "open") {
    const from: Exclude<ConnectionStatus, "open"> = change.previous;
    // @ts-expect-error an open change never comes from open
    const same: "open" = change.previous;
    void [from, same];
  }
  void why;
});

// Error codes are a closed set; the server's own code is `serverCode`, on server errors only.
client.onError((error) => {
  const code: ErrorCode = error.code;
  // @ts-expect-error `serverCode` may be absent until `code` says "server_error"
  const unchecked: string = error.serverCode;
  if (error.code === "server_error") {
    const serverCode: string = error.serverCode;
    const job: string | undefined = error.jobId;
    void [serverCode, job];
  } else {
    const none: undefined = error.serverCode;
    void none;
  }
  void [code, unchecked];
});
const setupError: JobSocketError = { code: "setup_failed", message: "the wasm did not load" };
const optionsCode: ErrorCode = "invalid_options";
// @ts-expect-error a server's own code is not a client code
const bogusCode: ErrorCode = "unknown_job";
// @ts-expect-error a server error carries the server's code
const noServerCode: JobSocketError = { code: "server_error", message: "boom" };
// @ts-expect-error only server errors carry a server code
const strayServerCode: JobSocketError = { code: "socket_closed", message: "gone", serverCode: "x" };
void [setupError, optionsCode, bogusCode, noServerCode, strayServerCode];

// `onEvent` gets a data and a meta of the same event.
client.subscribeGeneration("g2", {
  onEvent: (data, meta) => {
    if (meta.event === "progress") {
      const narrowed: EventMeta<"progress"> = meta;
      // `meta.event` narrows `meta.data`, the same payload as `data`.
      const percentage: number = meta.data.percentage;
      // @ts-expect-error a progress payload has no video_url
      void meta.data.video_url;
      // TypeScript narrows a dependent parameter by a sibling parameter, not by a property of
      // one (see EventArgs): `data` itself stays every event's.
      // @ts-expect-error data is not narrowed by meta.event
      void data.percentage;
      void [narrowed, percentage];
    }
    if (meta.event === "completed") {
      const url: string = meta.data.video_url;
      void url;
    }
    // @ts-expect-error without a check, data is any generation event's
    void data.percentage;
  },
});
declare const handlers: GenerationHandlers;
declare const progressData: ProgressData;
declare const queuedData: QueuedData;
declare const progressMeta: EventMeta<"progress"> & { data: ProgressData };
handlers.onEvent?.(progressData, progressMeta);
// @ts-expect-error a queued payload with a progress meta
handlers.onEvent?.(queuedData, progressMeta);
client.subscribeGeneration("g3", {
  // @ts-expect-error onEvent is called for every event, not only progress
  onEvent: (data: ProgressData, meta: EventMeta<"progress">) => void [data, meta],
});

declare const event: GenerationEvent;
if (event.event === "clip_completed") {
  const id: string = event.data.clip_id;
  void id;
}

const unsubscribe: () => void = client.onStateChange(({ status }) => void status);
unsubscribe();

// The app's own event map types channel handlers and event listeners.
interface WorkspaceEvents {
  "approval.created": { approvalId: string; title: string };
  "notification.new": { text: string };
}
declare const workspace: JobSocketClient<WorkspaceEvents>;
workspace.subscribe("workspace", "w_1", {
  "approval.created": (data, meta) => {
    const title: string = data.title;
    const seq: number = meta.seq;
    const channel: string | null = meta.channel;
    void [title, seq, channel];
    // @ts-expect-error an approval has no text
    void data.text;
  },
  // @ts-expect-error not an event of the map
  "approval.exploded": () => {},
});
workspace.subscribe("workspace", "w_1", {
  onEvent: (data, meta) => {
    if (meta.event === "notification.new") {
      const event: "notification.new" = meta.event;
      const text: string = (data as WorkspaceEvents["notification.new"]).text;
      void [event, text];
    }
    // @ts-expect-error not an event of the map
    if (meta.event === "chat.message") void data;
  },
});
const stop: () => void = workspace.on("notification.new", ({ text }) => void text);
stop();
// @ts-expect-error not an event of the map
workspace.on("chat.message", () => {});
