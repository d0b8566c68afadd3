// The public types of the package, built on the ones the wasm bindings declare (generated
// from src/bindings/types.rs), so the payload shapes are written once.
import type { CompositionEventMap, GenerationEventMap, JobSocketError, JobStatus } from "./jobsocket.js";

export type {
  ChannelEventMeta,
  ChannelHandlers,
  ClipCompletedData,
  CompositionEventMap,
  CompositionHandlers,
  ConnectionState,
  ConnectionStateBase,
  ConnectionStatus,
  ClientReportedError,
  EncodingProgressData,
  ErrorCode,
  EventArgs,
  EventMeta,
  GenerationEventMap,
  GenerationHandlers,
  JobErrorData,
  JobResultData,
  JobSocketError,
  FieldNames,
  JobSocketOptions,
  JobStatus,
  JsonProtocolOptions,
  JsonValue,
  OutboxDropped,
  Protocol,
  SocketIoEmit,
  SocketIoProtocolOptions,
  TypedEventName,
  ProgressData,
  QueuedData,
  ServerReportedError,
  StatusChangeData,
  StateChangeEvent,
  StateReason,
  TabRole,
} from "./jobsocket.js";

/** One event of a map, discriminated on `event`. */
export type EventOf<M> = {
  [E in keyof M & string]: { event: E; data: M[E]; jobId: string; seq: number };
}[keyof M & string];

/** A generation event: `{ event: "progress", data: ProgressData, … } | …`. */
export type GenerationEvent = EventOf<GenerationEventMap>;
/** A composition event: `{ event: "encoding_progress", data: EncodingProgressData, … } | …`. */
export type CompositionEvent = EventOf<CompositionEventMap>;

/** Unsubscribes what it came from. */
export type Unsubscribe = () => void;

export interface JobSubscription {
  readonly jobId: string;
  unsubscribe(): void;
}

export type ErrorListener = (error: JobSocketError) => void;
export type Status = JobStatus;
