// The React adapter: one client per provider, job subscriptions shared and reference-counted,
// snapshots through useSyncExternalStore so a component re-renders only when its job changed.
// StrictMode's mount–unmount–mount is absorbed by releasing a little later than asked: the
// remount re-acquires what the unmount released, so one socket and one subscription per job.
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useRef,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from "react";
import { createJobSocket, type JobSocketClient } from "./index.js";
import type {
  ClipCompletedData,
  ConnectionState,
  JobErrorData,
  JobResultData,
  JobSocketOptions,
  JobStatus,
  JobSubscription,
} from "./types.js";

/** What a client must offer the hooks: `JobSocketClient`, or a test double of it. */
export type HookClient = Pick<
  JobSocketClient,
  | "state"
  | "subscribeGeneration"
  | "subscribeComposition"
  | "subscribe"
  | "send"
  | "onStateChange"
  | "onError"
  | "onOutboxChange"
  | "connect"
  | "reconnect"
  | "close"
  | "free"
>;

const CONNECTING: ConnectionState = {
  status: "connecting",
  transport: null,
  nextRetryAt: null,
  reason: null,
  attempt: 0,
  connectedAt: null,
  disconnectedAt: null,
  lastError: null,
  requestId: null,
  clientId: null,
  serverHeartbeatMs: null,
  outboxSize: 0,
  recovered: false,
};

/** How long a release waits for a re-acquire (StrictMode remounts at once). */
const RELEASE_DELAY_MS = 50;

type Listener = () => void;

/** A job's state for a hook, replaced (never mutated) on every change. */
interface JobEntry<S> {
  refs: number;
  state: S;
  listeners: Set<Listener>;
  subscription: JobSubscription | null;
  releaseTimer: ReturnType<typeof setTimeout> | null;
}

/** The provider's store: the client (once loaded), its state, and the jobs being watched. */
class Store {
  client: HookClient | null = null;
  state: ConnectionState = CONNECTING;
  readonly listeners = new Set<Listener>();
  readonly jobs = new Map<string, JobEntry<unknown>>();
  #ready: Array<(client: HookClient) => void> = [];
  #stopState: (() => void) | null = null;
  #stopErrors: (() => void) | null = null;
  #stopOutbox: (() => void) | null = null;

  #detachTimer: ReturnType<typeof setTimeout> | null = null;

  attach(client: HookClient): void {
    if (this.#detachTimer !== null) {
      clearTimeout(this.#detachTimer);
      this.#detachTimer = null;
      if (this.client === client) return;
      this.detach();
    }
    this.client = client;
    this.#stopState = client.onStateChange(() => this.#setState(client.state));
    // Errors change `lastError` without a status change: a new snapshot all the same.
    this.#stopErrors = client.onError(() => this.#setState(client.state));
    this.#stopOutbox = client.onOutboxChange(() => this.#setState(client.state));
    this.#setState(client.state);
    client.connect();
    for (const waiting of this.#ready.splice(0)) waiting(client);
  }

  /** Detaches a little later, so StrictMode's remount finds everything still in place. */
  detachSoon(then: () => void): void {
    this.#detachTimer = setTimeout(() => {
      this.#detachTimer = null;
      this.detach();
      then();
    }, RELEASE_DELAY_MS);
  }

  detach(): void {
    this.#stopState?.();
    this.#stopState = null;
    this.#stopErrors?.();
    this.#stopErrors = null;
    this.#stopOutbox?.();
    this.#stopOutbox = null;
    for (const entry of this.jobs.values()) entry.subscription?.unsubscribe();
    this.jobs.clear();
    this.client = null;
  }

  whenReady(run: (client: HookClient) => void): void {
    if (this.client) run(this.client);
    else this.#ready.push(run);
  }

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  #setState(state: ConnectionState): void {
    this.state = state;
    for (const listener of this.listeners) listener();
  }

  /** Shares one subscription per job between every hook that watches it. */
  acquire<S>(key: string, initial: S, start: (client: HookClient, update: (change: (s: S) => S) => void) => JobSubscription): JobEntry<S> {
    let entry = this.jobs.get(key) as JobEntry<S> | undefined;
    if (!entry) {
      const created: JobEntry<S> = {
        refs: 0,
        state: initial,
        listeners: new Set(),
        subscription: null,
        releaseTimer: null,
      };
      const update = (change: (s: S) => S) => {
        created.state = change(created.state);
        for (const listener of created.listeners) listener();
      };
      this.jobs.set(key, created as JobEntry<unknown>);
      this.whenReady((client) => {
        if (this.jobs.get(key) === created) created.subscription = start(client, update);
      });
      entry = created;
    }
    if (entry.releaseTimer !== null) {
      clearTimeout(entry.releaseTimer);
      entry.releaseTimer = null;
    }
    entry.refs += 1;
    return entry;
  }

  release(key: string): void {
    const entry = this.jobs.get(key);
    if (!entry) return;
    entry.refs -= 1;
    if (entry.refs > 0) return;
    entry.releaseTimer = setTimeout(() => {
      if (entry.refs > 0 || this.jobs.get(key) !== entry) return;
      entry.subscription?.unsubscribe();
      this.jobs.delete(key);
    }, RELEASE_DELAY_MS);
  }
}

const StoreContext = createContext<Store | null>(null);

export interface JobSocketProviderProps {
  /** Options for the client the provider creates (and closes when it unmounts). */
  options?: JobSocketOptions;
  /** A client made elsewhere; the provider does not close it. */
  client?: HookClient;
  children?: ReactNode;
}

/** Provides one client to the hooks below it. */
export function JobSocketProvider({ options, client, children }: JobSocketProviderProps) {
  const [store] = useState(() => new Store());
  const optionsRef = useRef(options);
  useEffect(() => {
    let cancelled = false;
    let owned: HookClient | null = null;
    if (client) {
      store.attach(client);
    } else if (optionsRef.current) {
      void createJobSocket(optionsRef.current).then((created) => {
        if (cancelled) {
          created.free();
          return;
        }
        owned = created;
        store.attach(created);
      });
    }
    return () => {
      cancelled = true;
      store.detachSoon(() => owned?.free());
    };
  }, [client, store]);
  return <StoreContext.Provider value={store}>{children}</StoreContext.Provider>;
}

function useStore(): Store {
  const store = useContext(StoreContext);
  if (!store) throw new Error("jobsocket hooks must be used inside <JobSocketProvider>");
  return store;
}

/** The thin hook apps build on: the connection state and the client's verbs. */
export function useWebSocket() {
  const store = useStore();
  const state = useSyncExternalStore(store.subscribe, () => store.state, () => CONNECTING);
  const send = useCallback(
    (event: string, data: unknown) => store.client?.send(event, data) ?? null,
    [store],
  );
  const reconnect = useCallback(() => store.client?.reconnect(), [store]);
  const disconnect = useCallback(() => store.client?.close(), [store]);
  const subscribe = useCallback(
    (channel: "generation" | "composition", id: string, handlers: object) => {
      const client = store.client;
      if (!client) return null;
      return channel === "generation"
        ? client.subscribeGeneration(id, handlers)
        : client.subscribeComposition(id, handlers);
    },
    [store],
  );
  const unsubscribe = useCallback((subscription: JobSubscription | null) => subscription?.unsubscribe(), []);
  return {
    state,
    isConnected: state.status === "open",
    isPolling: state.status === "polling",
    send,
    subscribe,
    unsubscribe,
    reconnect,
    disconnect,
  };
}

/** What `useGeneration` returns. */
export interface GenerationState {
  status: JobStatus | null;
  /** 0 to 100. */
  progress: number;
  step: string | null;
  clips: ClipCompletedData[];
  result: JobResultData | null;
  error: JobErrorData | null;
  lastEvent: string | null;
}

const GENERATION: GenerationState = {
  status: null,
  progress: 0,
  step: null,
  clips: [],
  result: null,
  error: null,
  lastEvent: null,
};

/** What `useComposition` returns. */
export interface CompositionState {
  status: JobStatus | null;
  progress: number;
  framesProcessed: number;
  totalFrames: number;
  estimatedRemaining: number | null;
  result: JobResultData | null;
  error: JobErrorData | null;
}

const COMPOSITION: CompositionState = {
  status: null,
  progress: 0,
  framesProcessed: 0,
  totalFrames: 0,
  estimatedRemaining: null,
  result: null,
  error: null,
};

function useJob<S>(
  key: string | null,
  initial: S,
  start: (client: HookClient, update: (change: (s: S) => S) => void) => JobSubscription,
): S {
  const store = useStore();
  const startRef = useRef(start);
  startRef.current = start;
  const subscribe = useCallback(
    (listener: Listener) => {
      if (key === null) return () => {};
      const entry = store.acquire<S>(key, initial, (client, update) => startRef.current(client, update));
      entry.listeners.add(listener);
      return () => {
        entry.listeners.delete(listener);
        store.release(key);
      };
    },
    // `initial` is a module constant.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [store, key],
  );
  const getSnapshot = () => {
    if (key === null) return initial;
    const entry = store.jobs.get(key) as JobEntry<S> | undefined;
    return entry ? entry.state : initial;
  };
  return useSyncExternalStore(subscribe, getSnapshot, () => initial);
}

/** A generation job's live state; `null` watches nothing. Follows `id` changes. */
export function useGeneration(id: string | null): GenerationState {
  return useJob(id === null ? null : `generation:${id}`, GENERATION, (client, update) =>
    client.subscribeGeneration(id ?? "", {
      queued: () => update((s) => ({ ...s, status: "queued", lastEvent: "queued" })),
      status_change: ({ new_status }) =>
        update((s) => ({ ...s, status: new_status, lastEvent: "status_change" })),
      progress: ({ percentage, step }) =>
        update((s) => ({ ...s, status: "processing", progress: percentage, step, lastEvent: "progress" })),
      clip_completed: (clip) =>
        update((s) => ({ ...s, clips: [...s.clips, clip], lastEvent: "clip_completed" })),
      completed: (result) =>
        update((s) => ({ ...s, status: "completed", progress: 100, result, lastEvent: "completed" })),
      error: (error) =>
        update((s) => ({
          ...s,
          error,
          status: error.recoverable ? s.status : "failed",
          lastEvent: "error",
        })),
    }),
  );
}

/** A composition job's live state; `null` watches nothing. Follows `id` changes. */
export function useComposition(id: string | null): CompositionState {
  return useJob(id === null ? null : `composition:${id}`, COMPOSITION, (client, update) =>
    client.subscribeComposition(id ?? "", {
      encoding_progress: (data) =>
        update((s) => ({
          ...s,
          status: "processing",
          progress: data.percentage,
          framesProcessed: data.frames_processed,
          totalFrames: data.total_frames,
          estimatedRemaining: data.estimated_remaining,
        })),
      completed: (result) => update((s) => ({ ...s, status: "completed", progress: 100, result })),
      error: (error) =>
        update((s) => ({ ...s, error, status: error.recoverable ? s.status : "failed" })),
    }),
  );
}

/** One event of an app channel, as `useChannel` keeps it. */
export interface ChannelEntry<M> {
  event: keyof M & string;
  data: M[keyof M];
  seq: number;
}

/** What `useChannel` returns: the channel's latest events (at most 100), oldest first. */
export interface ChannelState<M> {
  events: ReadonlyArray<ChannelEntry<M>>;
  last: ChannelEntry<M> | null;
}

const CHANNEL: ChannelState<Record<string, unknown>> = { events: [], last: null };
const CHANNEL_KEEP = 100;

/**
 * An app channel's events (a workspace, a project), typed by the app's event map `M`; `null`
 * watches nothing. Shared and reference-counted like the job hooks.
 */
export function useChannel<M extends object = Record<string, unknown>>(
  channel: string | null,
  id: string | null,
): ChannelState<M> {
  const key = channel === null || id === null ? null : `channel:${channel}:${id}`;
  return useJob<ChannelState<M>>(key, CHANNEL as unknown as ChannelState<M>, (client, update) =>
    client.subscribe(channel ?? "", id ?? "", {
      onEvent: (data: unknown, meta: { event: string; seq: number }) =>
        update((s) => {
          const entry = { event: meta.event, data, seq: meta.seq } as ChannelEntry<M>;
          return { events: [...s.events, entry].slice(-CHANNEL_KEEP), last: entry };
        }),
    } as never),
  );
}

const LABELS: Record<string, string> = {
  connected: "Connected",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  polling: "Polling",
  offline: "Offline",
  closed: "Disconnected",
};

export interface ConnectionStatusProps {
  className?: string;
}

/**
 * The connection, unstyled: `data-status` is connected, connecting, reconnecting, polling,
 * offline or closed; a live region announces changes; a reconnect button shows while
 * disconnected; the title gives the last connected time.
 */
export function ConnectionStatus({ className }: ConnectionStatusProps) {
  const { state, reconnect } = useWebSocket();
  const status =
    state.status === "open" ? "connected" : state.status === "idle" ? "closed" : state.status;
  const disconnected = status === "reconnecting" || status === "offline" || status === "closed";
  const title =
    state.connectedAt === null ? "Never connected" : `Last connected ${new Date(state.connectedAt).toLocaleString()}`;
  return (
    <div className={className} data-status={status} title={title}>
      <span role="status" aria-live="polite">
        {LABELS[status]}
      </span>
      {status === "polling" ? <span data-polling="">Polling</span> : null}
      {disconnected ? (
        <button type="button" onClick={reconnect}>
          Reconnect
        </button>
      ) : null}
    </div>
  );
}
