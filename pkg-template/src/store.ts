// The React provider's store, kept free of React so its life cycle reads in one place.
//
// It owns two things with different lives:
// - the client, which comes and goes: loaded from options (the wasm loads asynchronously),
//   handed in by the app, swapped, or failed to load;
// - the watches (one per job or app channel a hook looks at) and the named-event listeners,
//   which live as long as some hook wants them, whatever the client does.
// Every time a client arrives, each live watch subscribes on it; every time a client leaves,
// each watch unsubscribes from it. So a hook subscribes exactly once per client, whether it
// mounted before the wasm loaded, during a StrictMode double mount, or across a swap.
import { createJobSocket, type JobSocketClient } from "./index.js";
import {
  INITIAL_CHANNEL,
  INITIAL_COMPOSITION,
  INITIAL_GENERATION,
  reduceChannel,
  reduceComposition,
  reduceGeneration,
  unwatchable,
  type Reducer,
} from "./job-state.js";
import { CONNECTING, IDLE } from "./connection-state.js";
import type { ConnectionState, JobSocketError, JobSocketOptions, JobSubscription, Unsubscribe } from "./types.js";

/** What a client must offer the hooks: `JobSocketClient`, or `MockClient` from `jobsocket/testing`. */
export type HookClient = Pick<
  JobSocketClient,
  | "state"
  | "subscribeGeneration"
  | "subscribeComposition"
  | "subscribe"
  | "on"
  | "send"
  | "clearOutbox"
  | "onStateChange"
  | "onError"
  | "onOutboxChange"
  | "connect"
  | "reconnect"
  | "close"
  | "free"
>;

/**
 * How long a released watch or client waits for someone to take it back. StrictMode unmounts
 * and remounts at once, and a component moving in the tree does the same: neither should cost
 * an unsubscribe and a subscribe on the wire.
 */
const RELEASE_DELAY_MS = 50;

type Listener = () => void;

/** What an event listener is told besides the data. */
export interface DeliveredMeta {
  event: string;
  seq: number;
}
export type EventListener = (data: unknown, meta: DeliveredMeta) => void;

/** What a watch folds its events into: a generation's, a composition's or a channel's state. */
export type WatchKind = "generation" | "composition" | "channel";

/** One job or app channel that hooks watch, with its state folded from its events. */
interface Watch {
  readonly kind: WatchKind;
  readonly channel: string;
  readonly id: string;
  readonly initial: unknown;
  readonly reduce: Reducer<unknown>;
  state: unknown;
  refs: number;
  /** Hooks showing `state`. */
  readonly listeners: Set<Listener>;
  /** Hooks handed every event as it comes (`useJobEvents`). */
  readonly eventListeners: Set<EventListener>;
  /** The client this watch last subscribed on (even if that threw), and what it returned. */
  client: HookClient | null;
  subscription: JobSubscription | null;
  releaseTimer: ReturnType<typeof setTimeout> | null;
}

/** Listeners of one event name, whichever channel it comes from (`client.on`). */
interface NamedEvent {
  readonly listeners: Set<EventListener>;
  stop: Unsubscribe | null;
}

interface PendingSend {
  event: string;
  data: unknown;
  resolve: (id: string) => void;
  reject: (error: unknown) => void;
}

/** Where the provider's client comes from. */
export type ClientSource = { client: HookClient } | { options: JobSocketOptions; key: string } | null;

export class Store {
  /** The connection as hooks see it. */
  state: ConnectionState = CONNECTING;
  client: HookClient | null = null;
  /** The provider's `onError`, current as of its last commit. */
  onError: ((error: JobSocketError) => void) | undefined;
  /** The provider's `options`, current as of its last commit: the token is read from here. */
  options: JobSocketOptions | undefined;
  readonly #listeners = new Set<Listener>();
  readonly #watches = new Map<string, Watch>();
  readonly #named = new Map<string, NamedEvent>();
  /** The client object or the options key in use; `undefined` when none was ever set. */
  #sourceKey: unknown = undefined;
  #owned = false;
  /** Set once the provider has unmounted: a send then rejects at once instead of waiting. */
  #disposed = false;
  /** Bumped by every load and teardown: a load that finishes after either is discarded. */
  #loads = 0;
  #setupFailed = false;
  /** What the app asked before a client existed: true connect, false close. */
  #wanted: boolean | null = null;
  #stops: Unsubscribe[] = [];
  #teardownTimer: ReturnType<typeof setTimeout> | null = null;
  #pendingSends: PendingSend[] = [];
  #clearOnAttach = false;

  /** Starts using `source`; the same source again (StrictMode's remount) changes nothing. */
  use(source: ClientSource): void {
    this.#disposed = false;
    if (this.#teardownTimer !== null) {
      clearTimeout(this.#teardownTimer);
      this.#teardownTimer = null;
    }
    const key = source === null ? null : "client" in source ? source.client : source.key;
    if (key === this.#sourceKey) return;
    this.#teardown();
    this.#sourceKey = key;
    if (source === null) {
      this.#setState(IDLE);
      return;
    }
    if ("client" in source) this.#attach(source.client, false);
    else this.#load();
  }

  /** Stops using the source a little later, unless `use` takes it back first. */
  unuseSoon(): void {
    this.#teardownTimer = setTimeout(() => {
      this.#teardownTimer = null;
      this.#teardown();
      this.#sourceKey = undefined;
      this.#disposed = true;
      for (const pending of this.#pendingSends.splice(0)) pending.reject(unmounted());
    }, RELEASE_DELAY_MS);
  }

  subscribe = (listener: Listener): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** Shows a watch's state to `listener` while it is subscribed; starts watching if needed. */
  watchState(kind: WatchKind, channel: string, id: string, listener: Listener): () => void {
    const watch = this.#acquire(kind, channel, id);
    watch.listeners.add(listener);
    return () => {
      watch.listeners.delete(listener);
      this.#release(watch);
    };
  }

  /** Hands every event of a job or app channel to `listener` while it is subscribed. */
  watchEvents(kind: WatchKind, channel: string, id: string, listener: EventListener): () => void {
    const watch = this.#acquire(kind, channel, id);
    watch.eventListeners.add(listener);
    return () => {
      watch.eventListeners.delete(listener);
      this.#release(watch);
    };
  }

  /** A watch's state now, or `initial` when nothing watches it yet. */
  snapshot<S>(kind: WatchKind, channel: string, id: string, initial: S): S {
    const watch = this.#watches.get(watchKey(kind, channel, id));
    return watch ? (watch.state as S) : initial;
  }

  /** Hands every event named `event` to `listener`, whichever channel it comes from. */
  listen(event: string, listener: EventListener): () => void {
    let named = this.#named.get(event);
    if (!named) {
      const created: NamedEvent = { listeners: new Set(), stop: null };
      this.#named.set(event, created);
      if (this.client) this.#startNamed(event, created, this.client);
      named = created;
    }
    named.listeners.add(listener);
    const kept = named;
    return () => {
      kept.listeners.delete(listener);
      if (kept.listeners.size > 0 || this.#named.get(event) !== kept) return;
      kept.stop?.();
      this.#named.delete(event);
    };
  }

  /**
   * Puts a message in the client's outbox, or holds it until the client has loaded: resolves
   * with the outbox id. It rejects only if the message could not be queued at all (the
   * provider unmounted first, or the client refused the data); nobody has to catch that.
   */
  send(event: string, data: unknown): Promise<string> {
    const queued = new Promise<string>((resolve, reject) => {
      if (this.client) resolve(this.client.send(event, data));
      else if (this.#disposed) reject(unmounted());
      else this.#pendingSends.push({ event, data, resolve, reject });
    });
    queued.catch(() => {});
    return queued;
  }

  /**
   * Drops every message waiting to be sent: those held for a client still loading (their
   * promises reject) and the client's outbox, in memory and in storage. Before the client has
   * loaded, it is cleared as soon as it has, before it restores and sends a stored outbox.
   */
  clearOutbox(): void {
    for (const pending of this.#pendingSends.splice(0)) pending.reject(cleared());
    if (this.client) this.client.clearOutbox();
    else this.#clearOnAttach = true;
  }

  connect(): void {
    if (this.client) this.client.connect();
    else this.#wanted = true;
  }

  close(): void {
    if (this.client) this.client.close();
    else this.#wanted = false;
  }

  /** Reconnects now; after a failed setup, tries the setup again. */
  reconnect(): void {
    if (this.client) this.client.reconnect();
    else if (this.#setupFailed && this.options) this.#load();
    else this.#wanted = true;
  }

  #load(): void {
    const load = ++this.#loads;
    this.#setupFailed = false;
    this.#setState(CONNECTING);
    createJobSocket(this.#clientOptions()).then(
      (client) => {
        if (load === this.#loads) this.#attach(client, true);
        else client.free();
      },
      (error: unknown) => {
        if (load === this.#loads) this.#failSetup(error);
      },
    );
  }

  /**
   * The options the client is made with: a token (a string or a function) is read through the
   * provider's latest options at each attempt, so a new token needs no new client. Anything
   * else (none, null, a wrong type) goes to the client as it is, to mean what it means there.
   */
  #clientOptions(): JobSocketOptions {
    const options = this.options as JobSocketOptions;
    if (typeof options.token !== "string" && typeof options.token !== "function") return options;
    return {
      ...options,
      token: () => {
        const token = this.options?.token;
        return typeof token === "function" ? token() : (token as string);
      },
    };
  }

  #failSetup(cause: unknown): void {
    this.#setupFailed = true;
    // The constructor's own refusals keep their code; anything else is a failed setup.
    const thrown = (cause as { code?: unknown } | null)?.code;
    const error: JobSocketError = {
      code: thrown === "invalid_options" || thrown === "mixed_content" ? thrown : "setup_failed",
      message: cause instanceof Error ? cause.message : String(cause),
    };
    this.#setState({ ...CONNECTING, status: "closed", transport: null, nextRetryAt: null, reason: "setup_failed", lastError: error });
    this.onError?.(error);
  }

  #attach(client: HookClient, owned: boolean): void {
    this.client = client;
    this.#owned = owned;
    this.#stops = [
      client.onStateChange(() => this.#setState(client.state)),
      // An error changes `lastError` without a status change: a new snapshot all the same.
      client.onError((error) => {
        this.#setState(client.state);
        this.onError?.(error);
      }),
      client.onOutboxChange(() => this.#setState(client.state)),
    ];
    this.#setState(client.state);
    // A hook mounted by a notification above may already have started on this client.
    for (const watch of this.#watches.values()) {
      if (watch.refs > 0 && watch.client !== client) this.#start(watch, client);
    }
    for (const [event, named] of this.#named) if (named.stop === null) this.#startNamed(event, named, client);
    if (this.#clearOnAttach) {
      this.#clearOnAttach = false;
      client.clearOutbox();
    }
    for (const pending of this.#pendingSends.splice(0)) {
      try {
        pending.resolve(client.send(pending.event, pending.data));
      } catch (error) {
        pending.reject(error);
      }
    }
    if (this.#wanted === true) client.connect();
    if (this.#wanted === false) client.close();
    this.#wanted = null;
  }

  /** Lets go of the client: every watch unsubscribes, an owned client is freed. */
  #teardown(): void {
    this.#loads += 1;
    for (const stop of this.#stops.splice(0)) stop();
    for (const watch of this.#watches.values()) {
      unsubscribeQuietly(watch.subscription);
      watch.subscription = null;
      watch.client = null;
      // Nothing of the old client's shows while the next one loads (another user's jobs).
      if (watch.state !== watch.initial) {
        watch.state = watch.initial;
        notify(watch.listeners);
      }
    }
    for (const named of this.#named.values()) {
      named.stop?.();
      named.stop = null;
    }
    if (this.client && this.#owned) this.client.free();
    this.client = null;
    this.#owned = false;
    this.#setupFailed = false;
    this.#setState(CONNECTING);
  }

  #acquire(kind: WatchKind, channel: string, id: string): Watch {
    const key = watchKey(kind, channel, id);
    let watch = this.#watches.get(key);
    if (!watch) {
      const [initial, reduce] = KINDS[kind];
      watch = {
        kind,
        channel,
        id,
        initial,
        reduce,
        state: initial,
        refs: 0,
        listeners: new Set(),
        eventListeners: new Set(),
        client: null,
        subscription: null,
        releaseTimer: null,
      };
      this.#watches.set(key, watch);
    }
    if (watch.releaseTimer !== null) {
      clearTimeout(watch.releaseTimer);
      watch.releaseTimer = null;
    }
    watch.refs += 1;
    if (this.client && watch.client !== this.client) this.#start(watch, this.client);
    return watch;
  }

  #release(watch: Watch): void {
    watch.refs -= 1;
    if (watch.refs > 0) return;
    watch.releaseTimer = setTimeout(() => {
      watch.releaseTimer = null;
      if (watch.refs > 0) return;
      unsubscribeQuietly(watch.subscription);
      this.#watches.delete(watchKey(watch.kind, watch.channel, watch.id));
    }, RELEASE_DELAY_MS);
  }

  /** Subscribes a watch on `client`; a new client replays the job, so its state starts over. */
  #start(watch: Watch, client: HookClient): void {
    watch.client = client;
    watch.state = watch.initial;
    const handlers = {
      onEvent: (data: unknown, meta: DeliveredMeta) => {
        watch.state = watch.reduce(watch.state, meta.event, data, meta.seq);
        notify(watch.listeners);
        callEach(watch.eventListeners, data, meta);
      },
    };
    try {
      watch.subscription =
        watch.kind === "generation"
          ? client.subscribeGeneration(watch.id, handlers)
          : watch.kind === "composition"
            ? client.subscribeComposition(watch.id, handlers)
            : client.subscribe(watch.channel, watch.id, handlers);
    } catch (error) {
      // One bad id fails its own hooks, never the others.
      watch.subscription = null;
      watch.state = unwatchable(watch.initial as never, error instanceof Error ? error.message : String(error));
    }
    notify(watch.listeners);
  }

  #startNamed(event: string, named: NamedEvent, client: HookClient): void {
    named.stop = client.on(event, (data, meta) => callEach(named.listeners, data, meta));
  }

  #setState(state: ConnectionState): void {
    if (state === this.state) return;
    this.state = state;
    notify(this.#listeners);
  }
}

function watchKey(kind: WatchKind, channel: string, id: string): string {
  return JSON.stringify([kind, channel, id]);
}

const KINDS: Record<WatchKind, [unknown, Reducer<unknown>]> = {
  generation: [INITIAL_GENERATION, reduceGeneration as Reducer<unknown>],
  composition: [INITIAL_COMPOSITION, reduceComposition as Reducer<unknown>],
  channel: [INITIAL_CHANNEL, reduceChannel as Reducer<unknown>],
};

/**
 * Calls every listener even if one throws (hooks sharing a subscription must not stop each
 * other), then throws the first error, so the client still reports it as a handler_error.
 */
function callEach(listeners: Set<EventListener>, data: unknown, meta: DeliveredMeta): void {
  let thrown: { error: unknown } | null = null;
  for (const listener of listeners) {
    try {
      listener(data, meta);
    } catch (error) {
      thrown ??= { error };
    }
  }
  if (thrown) throw thrown.error;
}

function cleared(): Error {
  return new Error("clearOutbox() dropped the message before the client took it; it was not queued");
}

function unmounted(): Error {
  return new Error("the JobSocketProvider unmounted before its client took the message; it was not queued");
}

function notify(listeners: Set<Listener>): void {
  for (const listener of listeners) listener();
}

/** An unsubscribe that throws (a client already freed) has nothing left to undo. */
function unsubscribeQuietly(subscription: JobSubscription | null): void {
  try {
    subscription?.unsubscribe();
  } catch {
    // Nothing to undo.
  }
}

/**
 * The options' identity: their values, with the token only present or not (a new token, or a
 * new token function, is read at the next attempt without a new client).
 */
export function optionsKey(options: JobSocketOptions): string {
  const { token, ...rest } = options;
  const identity = typeof token === "string" || typeof token === "function" ? { ...rest, token: "<token>" } : options;
  return JSON.stringify(identity, (_key, value: unknown) =>
    // Keys in order, so the same values written in another order are the same options.
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}
