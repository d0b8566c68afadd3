"use client";
// The React adapter: one client per provider (see store.ts for its life cycle), job state
// through useSyncExternalStore so a component re-renders only when what it shows changed, and
// event hooks that always call the latest handlers without resubscribing.
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useInsertionEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from "react";
import {
  INITIAL_CHANNEL,
  INITIAL_COMPOSITION,
  INITIAL_GENERATION,
  type ChannelState,
  type CompositionState,
  type GenerationState,
} from "./job-state.js";
import { CONNECTING } from "./connection-state.js";
import { optionsKey, Store, type HookClient, type WatchKind } from "./store.js";
import type {
  EventArgs,
  ChannelEventMeta,
  ChannelHandlers,
  CompositionHandlers,
  ConnectionState,
  GenerationHandlers,
  JobSocketError,
  JobSocketOptions,
  JobSubscription,
} from "./types.js";

export type { ChannelEntry, ChannelState, CompositionState, GenerationState } from "./job-state.js";
export type { HookClient } from "./store.js";

const StoreContext = createContext<Store | null>(null);

export interface JobSocketProviderProps {
  /**
   * Options for the client the provider creates (and frees when it unmounts). Compared by
   * value: a new `url`, `storageKey` or any other value makes a new client; a new `token` (a
   * string or a function) is read at the next connection attempt, without reconnecting.
   */
  options?: JobSocketOptions;
  /** A client made elsewhere, which the provider never closes; a new one replaces the old. */
  client?: HookClient;
  /**
   * Every error: the client's (`malformed_frame`, `socket_closed`, …) and the provider's own
   * setup failures, `setup_failed` (the wasm did not load) and `invalid_options`. After a setup
   * failure the state is `closed` with reason `setup_failed`; `reconnect()` tries again.
   */
  onError?: (error: JobSocketError) => void;
  children?: ReactNode;
}

/** Provides one client to the hooks below it. */
export function JobSocketProvider({ options, client, onError, children }: JobSocketProviderProps) {
  const [store] = useState(() => new Store());
  const source = client ?? (options === undefined ? null : optionsKey(options));
  // Runs before the effect below on every commit, so the store reads the latest props.
  useEffect(() => {
    store.onError = onError;
    store.options = options;
  });
  useEffect(() => {
    store.use(client ? { client } : store.options ? { options: store.options, key: source as string } : null);
    return () => store.unuseSoon();
    // `source` stands for `client` and `options` by identity and by value.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store, source]);
  return <StoreContext.Provider value={store}>{children}</StoreContext.Provider>;
}

function useStore(): Store {
  const store = useContext(StoreContext);
  if (!store) throw new Error("jobsocket hooks must be used inside <JobSocketProvider>");
  return store;
}

/** The client's verbs, stable for the provider's life. */
export interface JobSocketVerbs {
  /**
   * Puts a message in the offline outbox; before the wasm has loaded it is held and queued
   * when it has. Resolves with the message's outbox id.
   */
  send(event: string, data: unknown): Promise<string>;
  /** Imperative subscription (the hooks are usually simpler); null before the client loaded. */
  subscribe(channel: "generation", id: string, handlers: GenerationHandlers): JobSubscription | null;
  subscribe(channel: "composition", id: string, handlers: CompositionHandlers): JobSubscription | null;
  subscribe(channel: string, id: string, handlers: ChannelHandlers<Record<string, unknown>>): JobSubscription | null;
  unsubscribe(subscription: JobSubscription | null): void;
  /** Connects now rather than at the first subscription or message. */
  connect(): void;
  /** Reconnects now; after a setup failure, loads the client again. */
  reconnect(): void;
  /** Closes the connection; a later subscription, message or `connect()` opens it again. */
  disconnect(): void;
  /**
   * Drops every message waiting to be sent, also those stored for the next page load. Call it
   * when the user signs out, before the next user's token or `storageKey` takes over.
   */
  clearOutbox(): void;
}

function useVerbs(store: Store): JobSocketVerbs {
  return useMemo(
    () => ({
      send: (event: string, data: unknown) => store.send(event, data),
      subscribe: (channel: string, id: string, handlers: object) => {
        const client = store.client;
        if (!client) return null;
        if (channel === "generation") return client.subscribeGeneration(id, handlers);
        if (channel === "composition") return client.subscribeComposition(id, handlers);
        return client.subscribe(channel, id, handlers);
      },
      unsubscribe: (subscription: JobSubscription | null) => subscription?.unsubscribe(),
      connect: () => store.connect(),
      reconnect: () => store.reconnect(),
      disconnect: () => store.close(),
      clearOutbox: () => store.clearOutbox(),
    }),
    [store],
  ) as JobSocketVerbs;
}

/** The connection state and the client's verbs; re-renders on every state change. */
export function useWebSocket(): JobSocketVerbs & {
  state: ConnectionState;
  isConnected: boolean;
  isPolling: boolean;
} {
  const store = useStore();
  const state = useSyncExternalStore(store.subscribe, () => store.state, () => CONNECTING);
  const verbs = useVerbs(store);
  return { ...verbs, state, isConnected: state.status === "open", isPolling: state.status === "polling" };
}

/** The verbs alone: a component that only sends never re-renders for the connection. */
export function useSend(): JobSocketVerbs["send"] {
  return useVerbs(useStore()).send;
}

function useWatch<S>(kind: WatchKind, channel: string, id: string | null, initial: S): S {
  const store = useStore();
  const subscribe = useCallback(
    (listener: () => void) => (id === null ? () => {} : store.watchState(kind, channel, id, listener)),
    [store, kind, channel, id],
  );
  const getSnapshot = () => (id === null ? initial : store.snapshot(kind, channel, id, initial));
  return useSyncExternalStore(subscribe, getSnapshot, () => initial);
}

/**
 * A generation job's live state, discriminated on `status`; `null` watches nothing. Follows
 * `id` changes. An id the client refuses (empty) gives `status: "failed"` with the reason.
 */
export function useGeneration(id: string | null): GenerationState {
  return useWatch("generation", "generation", id, INITIAL_GENERATION);
}

/** A composition job's live state, discriminated on `status`; `null` watches nothing. */
export function useComposition(id: string | null): CompositionState {
  return useWatch("composition", "composition", id, INITIAL_COMPOSITION);
}

/**
 * An app channel's events (a workspace, a project), typed by the app's event map `M`; `null`
 * watches nothing. Shared and reference-counted like the job hooks.
 */
export function useChannel<M extends object = Record<string, unknown>>(
  channel: string | null,
  id: string | null,
): ChannelState<M> {
  return useWatch("channel", channel ?? "", channel === null ? null : id, INITIAL_CHANNEL as unknown as ChannelState<M>);
}

/** The handlers of a channel: the typed job events, or the app's event map `M`. */
export type JobEventHandlers<C extends string, M extends object = Record<string, unknown>> = C extends "generation"
  ? GenerationHandlers
  : C extends "composition"
    ? CompositionHandlers
    : ChannelHandlers<M>;

/**
 * Keeps a reference to the latest value, written as the commit starts (an insertion effect:
 * before any event can reach the committed tree, and without the server-render warning of a
 * layout effect in React 18).
 */
function useLatest<T>(value: T): { readonly current: T } {
  const ref = useRef(value);
  useInsertionEffect(() => {
    ref.current = value;
  });
  return ref;
}

/**
 * Calls `handlers` for every event of a job or app channel, as it arrives, with the handlers
 * of the latest render (new handler functions never resubscribe); `null` watches nothing.
 * Shares the subscription with the other hooks on that job.
 */
export function useJobEvents<M extends object = Record<string, unknown>, C extends string = string>(
  channel: C,
  id: string | null,
  handlers: JobEventHandlers<C, M>,
): void;
export function useJobEvents(channel: string, id: string | null, handlers: object): void {
  const store = useStore();
  const latest = useLatest(handlers as Record<string, ((data: unknown, meta: unknown) => void) | undefined>);
  useEffect(() => {
    if (id === null) return;
    const kind = channel === "generation" || channel === "composition" ? channel : "channel";
    return store.watchEvents(kind, channel, id, (data, meta) => {
      // The event's own handler and onEvent: one throwing does not skip the other.
      try {
        latest.current[meta.event]?.(data, meta);
      } finally {
        latest.current.onEvent?.(data, meta);
      }
    });
  }, [store, channel, id, latest]);
}

/**
 * Calls `callback` for every event named `event` (or any of several names), whichever channel
 * it comes from (a Socket.IO server's own rooms, a plain-JSON frame type), with the callback of
 * the latest render. With the app's event map `M` given, `meta.event` narrows `meta.data`;
 * give the event too (`useServerEvent<Events, "approval.created">`) to type `data` itself.
 */
export function useServerEvent<M extends object = Record<string, unknown>, E extends keyof M & string = keyof M & string>(
  event: E | readonly E[],
  callback: (...args: EventArgs<Pick<M, E>, ChannelEventMeta>) => void,
): void {
  const store = useStore();
  const latest = useLatest(callback as (data: unknown, meta: unknown) => void);
  // The names by value, so a new array of the same names does not listen again.
  const names = JSON.stringify(typeof event === "string" ? [event] : [...event].sort());
  useEffect(() => {
    const list = JSON.parse(names) as string[];
    const stops = list.map((name) => store.listen(name, (data, meta) => latest.current(data, meta)));
    return () => stops.forEach((stop) => stop());
  }, [store, names, latest]);
}

const LABELS = {
  idle: "Idle",
  connected: "Connected",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  polling: "Polling",
  offline: "Offline",
  closed: "Disconnected",
} as const;

export interface ConnectionStatusProps {
  className?: string;
}

/**
 * The connection, unstyled: `data-status` is idle (connects when something needs it),
 * connected, connecting, reconnecting, polling, offline or closed; a live region announces each
 * change once (a retry's connecting stays "Reconnecting…"); a reconnect button shows while
 * disconnected; the title gives the last connected time.
 */
export function ConnectionStatus({ className }: ConnectionStatusProps) {
  const { state, reconnect } = useWebSocket();
  const status = state.status === "open" ? "connected" : state.status;
  const announced = status === "connecting" && state.attempt > 0 ? "reconnecting" : status;
  // Within a retry streak the button stays, rather than blinking at every attempt.
  const disconnected = announced === "reconnecting" || status === "offline" || status === "closed";
  const title =
    state.connectedAt === null ? "Never connected" : `Last connected ${new Date(state.connectedAt).toLocaleString()}`;
  return (
    <div className={className} data-status={status} title={title}>
      <span role="status" aria-live="polite" aria-atomic="true">
        {LABELS[announced]}
      </span>
      {disconnected ? (
        <button type="button" onClick={reconnect}>
          Reconnect
        </button>
      ) : null}
    </div>
  );
}
