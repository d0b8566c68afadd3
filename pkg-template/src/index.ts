// The client: `createJobSocket(options)` loads the wasm once and returns a `JobSocketClient`
// with plain-function unsubscribes, exact types, and `[Symbol.dispose]`. Importing this module
// touches no browser global, so server-side rendering can import it.
import init, { JobSocket } from "./jobsocket.js";
import type {
  ChannelEventMeta,
  ChannelHandlers,
  CompositionHandlers,
  ConnectionState,
  GenerationHandlers,
  JobSocketError,
  JobSocketOptions,
  JobSubscription,
  JsonProtocolOptions,
  OutboxDropped,
  Protocol,
  SocketIoProtocolOptions,
  StateChangeEvent,
  TabRole,
  Unsubscribe,
} from "./types.js";

export type * from "./types.js";
/** The wasm class `JobSocketClient` wraps, for code that wants it directly (after `initialize()`). */
export { JobSocket } from "./jobsocket.js";

let ready: Promise<unknown> | undefined;

/**
 * Loads and instantiates the wasm module, once per page; later calls share the first. By
 * default the `.wasm` file is fetched next to this module (bundlers copy it); pass a URL,
 * `Response`, `BufferSource` or `WebAssembly.Module` to load it from elsewhere. A failed load
 * is forgotten, so the next call tries again (a flaky network, a deploy in progress).
 */
export function initialize(wasm?: Parameters<typeof init>[0]): Promise<unknown> {
  ready ??= init(wasm === undefined ? undefined : { module_or_path: wasm as never }).catch((error: unknown) => {
    ready = undefined;
    throw error;
  });
  return ready;
}

/** The `protocol` option for a Socket.IO v4 server (Engine.IO v4 over WebSocket). */
export function socketIo(options: SocketIoProtocolOptions = {}): Protocol {
  return { ...options, dialect: "socket.io" };
}

/** The `protocol` option for a WebSocket server with its own flat JSON frames. */
export function jsonProtocol(options: JsonProtocolOptions): Protocol {
  return { ...options, dialect: "json" };
}

/** The `protocol` option for jobsocket's own protocol v1, the default. */
export function protocolV1(): Protocol {
  return { dialect: "v1" };
}

/**
 * Creates a client; it connects with the first subscription, message or `connect()`. `Events`
 * is the app's own event map, `{ "approval.created": Approval, … }`, which types `subscribe`
 * and `on`.
 */
export async function createJobSocket<Events extends object = Record<string, unknown>>(
  options: JobSocketOptions,
): Promise<JobSocketClient<Events>> {
  await initialize();
  return new JobSocketClient<Events>(new JobSocket(options));
}

/** A connection to a job server. See the README for the tour. */
export class JobSocketClient<Events extends object = Record<string, unknown>> {
  #socket: JobSocket;
  #freed = false;

  constructor(socket: JobSocket) {
    this.#socket = socket;
  }

  /** The connection now. */
  get state(): ConnectionState {
    return this.#socket.state;
  }

  /** What this tab is to the app's other tabs (see `shareAcrossTabs`). */
  get tabRole(): TabRole {
    return this.#socket.tabRole;
  }

  /** Watches a generation job with one optional handler per event (plus `onEvent`). */
  subscribeGeneration(id: string, handlers: GenerationHandlers): JobSubscription {
    return wrap(this.#socket.subscribeGeneration(id, handlers));
  }

  /** Watches a composition job with one optional handler per event (plus `onEvent`). */
  subscribeComposition(id: string, handlers: CompositionHandlers): JobSubscription {
    return wrap(this.#socket.subscribeComposition(id, handlers));
  }

  /**
   * Watches an app channel (any name but "generation" and "composition"), such as a
   * workspace, with one optional handler per event of `Events` (plus `onEvent`).
   */
  subscribe(channel: string, id: string, handlers: ChannelHandlers<Events>): JobSubscription {
    return wrap(this.#socket.subscribeChannel(channel, id, handlers as Record<string, unknown>));
  }

  /**
   * Calls `callback` for every event named `event`, whichever channel it comes from, or none
   * (a Socket.IO server's own rooms, a plain-JSON frame type). An idle client connects.
   */
  on<E extends keyof Events & string>(
    event: E,
    callback: (data: Events[E], meta: ChannelEventMeta<E>) => void,
  ): Unsubscribe {
    return remover(this.#socket.onEvent(event, callback as (data: unknown, meta: ChannelEventMeta) => void));
  }

  /** Sends a message; it waits in the offline outbox until the server acks it. */
  send(event: string, data: unknown): string {
    return this.#socket.send(event, data);
  }

  /**
   * Drops every message waiting in the outbox, in memory and in storage (each reported to
   * `onOutboxDropped` as "cleared"). Call it when the user signs out.
   */
  clearOutbox(): void {
    this.#socket.clearOutbox();
  }

  onStateChange(callback: (change: StateChangeEvent) => void): Unsubscribe {
    return remover(this.#socket.onStateChange(callback));
  }

  onError(callback: (error: JobSocketError) => void): Unsubscribe {
    return remover(this.#socket.onError(callback));
  }

  onOutboxDropped(callback: (dropped: OutboxDropped) => void): Unsubscribe {
    return remover(this.#socket.onOutboxDropped(callback));
  }

  /** Called with the outbox's size whenever a message is queued, acked or dropped. */
  onOutboxChange(callback: (size: number) => void): Unsubscribe {
    return remover(this.#socket.onOutboxChange(callback));
  }

  connect(): void {
    this.#socket.connect();
  }

  reconnect(): void {
    this.#socket.reconnect();
  }

  close(): void {
    this.#socket.close();
  }

  /** Closes the connection and releases the wasm memory; the client is unusable after. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#socket.close();
    this.#socket.free();
  }

  [Symbol.dispose](): void {
    this.free();
  }
}

function wrap(subscription: { jobId: string; unsubscribe(): void; free(): void }): JobSubscription {
  let active = true;
  return {
    jobId: subscription.jobId,
    unsubscribe() {
      if (!active) return;
      active = false;
      subscription.unsubscribe();
      subscription.free();
    },
  };
}

function remover(listener: { remove(): void; free(): void }): Unsubscribe {
  let active = true;
  return () => {
    if (!active) return;
    active = false;
    listener.remove();
    listener.free();
  };
}
