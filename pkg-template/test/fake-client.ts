// A test double of the client with the same typed interface the hooks use: it records
// subscriptions and lets a test play job events and state changes.
import type { HookClient } from "../src/react.js";
import type {
  CompositionHandlers,
  ConnectionState,
  GenerationHandlers,
  JobSubscription,
  StateChangeEvent,
} from "../src/types.js";

type Handlers = Record<string, ((data: never, meta: never) => void) | undefined>;

export class FakeClient implements HookClient {
  state: ConnectionState = {
    status: "idle",
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
  /** Server-level subscriptions: how many times each job was subscribed, unsubscribed. */
  subscribes = new Map<string, number>();
  unsubscribes = new Map<string, number>();
  connects = 0;
  freed = false;
  #handlers = new Map<string, Set<Handlers>>();
  #stateListeners = new Set<(change: StateChangeEvent) => void>();

  #subscribe(key: string, handlers: Handlers): JobSubscription {
    this.subscribes.set(key, (this.subscribes.get(key) ?? 0) + 1);
    const set = this.#handlers.get(key) ?? new Set();
    set.add(handlers);
    this.#handlers.set(key, set);
    let active = true;
    return {
      jobId: key.split(":")[1] ?? "",
      unsubscribe: () => {
        if (!active) return;
        active = false;
        set.delete(handlers);
        this.unsubscribes.set(key, (this.unsubscribes.get(key) ?? 0) + 1);
      },
    };
  }

  subscribeGeneration(id: string, handlers: GenerationHandlers): JobSubscription {
    return this.#subscribe(`generation:${id}`, handlers as Handlers);
  }

  subscribeComposition(id: string, handlers: CompositionHandlers): JobSubscription {
    return this.#subscribe(`composition:${id}`, handlers as Handlers);
  }

  subscribe(channel: string, id: string, handlers: object): JobSubscription {
    return this.#subscribe(`${channel}:${id}`, handlers as Handlers);
  }

  /** Plays one event to every handler of a job or app channel (and their `onEvent`). */
  emit(channel: string, id: string, event: string, data: unknown, seq = 1): void {
    for (const handlers of this.#handlers.get(`${channel}:${id}`) ?? []) {
      const meta = { channel, jobId: id, id, seq, event };
      (handlers[event] as ((data: unknown, meta: unknown) => void) | undefined)?.(data, meta);
      (handlers.onEvent as ((data: unknown, meta: unknown) => void) | undefined)?.(data, meta);
    }
  }

  setStatus(status: ConnectionState["status"]): void {
    const previous = this.state.status;
    this.state = { ...this.state, status, transport: status === "open" ? "websocket" : status === "polling" ? "polling" : null } as ConnectionState;
    for (const listener of this.#stateListeners) listener({ status, previous, reason: "test" } as StateChangeEvent);
  }

  send(): string {
    return "m_1";
  }

  onStateChange(callback: (change: StateChangeEvent) => void): () => void {
    this.#stateListeners.add(callback);
    return () => this.#stateListeners.delete(callback);
  }

  onError(): () => void {
    return () => {};
  }

  onOutboxChange(): () => void {
    return () => {};
  }

  connect(): void {
    this.connects += 1;
  }

  reconnect(): void {}

  close(): void {}

  free(): void {
    this.freed = true;
  }
}
