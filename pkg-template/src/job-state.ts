// What the job hooks return, and how each event changes it: pure reducers, so the state a hook
// shows is a function of the events delivered, whoever delivered them (the wasm client or a
// test's MockClient).
import type {
  ClipCompletedData,
  CompositionEventMap,
  EncodingProgressData,
  GenerationEventMap,
  JobErrorData,
  JobResultData,
} from "./types.js";

interface GenerationProgress {
  /** 0 to 100. */
  progress: number;
  step: string | null;
  clips: ClipCompletedData[];
  lastEvent: keyof GenerationEventMap | null;
  /**
   * The latest recoverable error (the job goes on); the next event that shows the job moving
   * again clears it, so a passing problem never hides live progress.
   */
  warning: JobErrorData | null;
}

/**
 * What `useGeneration` returns, discriminated on `status`: `null` before the first event,
 * `result` set exactly when completed, `error` only when the job ended without a result.
 */
export type GenerationState =
  | (GenerationProgress & { status: null | "queued" | "processing"; result: null; error: null })
  | (GenerationProgress & { status: "completed"; result: JobResultData; error: null })
  | (GenerationProgress & { status: "failed" | "cancelled"; result: null; error: JobErrorData | null });

interface CompositionProgress {
  progress: number;
  framesProcessed: number;
  totalFrames: number;
  /** Seconds, while encoding. */
  estimatedRemaining: number | null;
  lastEvent: keyof CompositionEventMap | null;
  /** As for generations: the latest recoverable error, cleared when encoding moves on. */
  warning: JobErrorData | null;
}

/** What `useComposition` returns, discriminated on `status` like `GenerationState`. */
export type CompositionState =
  | (CompositionProgress & { status: null | "processing"; result: null; error: null })
  | (CompositionProgress & { status: "completed"; result: JobResultData; error: null })
  | (CompositionProgress & { status: "failed"; result: null; error: JobErrorData });

/** One event of an app channel, as `useChannel` keeps it: `event` narrows `data`. */
export type ChannelEntry<M> = {
  [E in keyof M & string]: { event: E; data: M[E]; seq: number };
}[keyof M & string];

/** What `useChannel` returns: the channel's latest events (at most 100), oldest first. */
export interface ChannelState<M> {
  events: ReadonlyArray<ChannelEntry<M>>;
  last: ChannelEntry<M> | null;
  /** Why the channel could not be watched (an empty name or id), else null. */
  error: JobErrorData | null;
}

export const INITIAL_GENERATION: GenerationState = {
  status: null,
  progress: 0,
  step: null,
  clips: [],
  result: null,
  error: null,
  lastEvent: null,
  warning: null,
};

export const INITIAL_COMPOSITION: CompositionState = {
  status: null,
  progress: 0,
  framesProcessed: 0,
  totalFrames: 0,
  estimatedRemaining: null,
  result: null,
  error: null,
  lastEvent: null,
  warning: null,
};

export const INITIAL_CHANNEL: ChannelState<Record<string, unknown>> = { events: [], last: null, error: null };

const CHANNEL_KEEP = 100;

/** A state change: the state before, one event's name and data, the state after. */
export type Reducer<S> = (state: S, event: string, data: unknown, seq: number) => S;

/** A generation's state after one more event. */
export const reduceGeneration: Reducer<GenerationState> = (state, event, data) => {
  switch (event) {
    case "queued":
      return inFlight(state, "queued", "queued");
    case "status_change": {
      const next = (data as GenerationEventMap["status_change"]).new_status;
      // "completed" waits for the completed event, which carries the result.
      if (next === "queued" || next === "processing") return inFlight(state, next, "status_change");
      if (next === "failed" || next === "cancelled") return ended(state, next, null, "status_change");
      return { ...state, lastEvent: "status_change" };
    }
    case "progress": {
      const { percentage, step } = data as GenerationEventMap["progress"];
      return { ...inFlight(state, "processing", "progress"), progress: percentage, step };
    }
    case "clip_completed": {
      const clip = data as GenerationEventMap["clip_completed"];
      return { ...state, clips: [...state.clips, clip], lastEvent: "clip_completed", warning: null } as GenerationState;
    }
    case "completed": {
      const result = data as JobResultData;
      return { ...state, status: "completed", progress: 100, result, error: null, lastEvent: "completed", warning: null };
    }
    case "error": {
      const error = data as JobErrorData;
      if (error.recoverable) return { ...state, warning: error, lastEvent: "error" };
      return ended(state, "failed", error, "error");
    }
    default:
      return state;
  }
};

function inFlight(
  state: GenerationState,
  status: "queued" | "processing",
  lastEvent: keyof GenerationEventMap,
): GenerationState {
  return { ...state, status, result: null, error: null, lastEvent, warning: null };
}

function ended(
  state: GenerationState,
  status: "failed" | "cancelled",
  error: JobErrorData | null,
  lastEvent: keyof GenerationEventMap,
): GenerationState {
  return { ...state, status, result: null, error, lastEvent, warning: null };
}

/** A composition's state after one more event. */
export const reduceComposition: Reducer<CompositionState> = (state, event, data) => {
  switch (event) {
    case "encoding_progress": {
      const progress = data as EncodingProgressData;
      return {
        ...state,
        status: "processing",
        result: null,
        error: null,
        progress: progress.percentage,
        framesProcessed: progress.frames_processed,
        totalFrames: progress.total_frames,
        estimatedRemaining: progress.estimated_remaining,
        lastEvent: "encoding_progress",
        warning: null,
      };
    }
    case "completed":
      return {
        ...state,
        status: "completed",
        progress: 100,
        result: data as JobResultData,
        error: null,
        lastEvent: "completed",
        warning: null,
      };
    case "error": {
      const error = data as JobErrorData;
      if (error.recoverable) return { ...state, warning: error, lastEvent: "error" };
      return { ...state, status: "failed", result: null, error, lastEvent: "error", warning: null };
    }
    default:
      return state;
  }
};

/** An app channel's state after one more event: the last 100 events, oldest first. */
export const reduceChannel: Reducer<ChannelState<Record<string, unknown>>> = (state, event, data, seq) => {
  const entry = { event, data, seq };
  return { events: [...state.events, entry].slice(-CHANNEL_KEEP), last: entry, error: null };
};

/**
 * The state of a job that could not be watched at all (an empty id, say): failed with the
 * reason, so the one bad hook shows it and the others carry on.
 */
export function unwatchable<S extends GenerationState | CompositionState | ChannelState<Record<string, unknown>>>(
  initial: S,
  message: string,
): S {
  const error: JobErrorData = { code: "invalid_subscription", message, recoverable: false };
  if ("events" in initial) return { ...initial, error };
  return { ...initial, status: "failed", error, result: null };
}
