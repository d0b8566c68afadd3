// `jobsocket/testing`: a client for the app's own tests. It loads no wasm and opens no socket:
// the test plays the server (`emit`), moves the connection (`setStatus`), and reads what the
// app sent (`sent`) and what it watches (`subscriptions`). Pass it to
// `<JobSocketProvider client={mock}>`.
import { IDLE } from "./connection-state.js";
import type { HookClient } from "./store.js";
import type {
  ChannelEventMeta,
  CompositionEventMap,
  CompositionHandlers,
  ConnectionState,
  GenerationEventMap,
  GenerationHandlers,
  JobSocketError,
  JobSubscription,
  StateChangeEvent,
  Unsubscribe,
} from "./types.js";

type AnyCallback = (data: unknown, meta: unknown) => void;
type AnyHandlers = Record<string, AnyCallback | undefined>;

/** A message the app sent, in the order it sent them. */
export interface SentMessage {
  id: string;
  event: string;
  data: unknown;
}

export class MockClient implements HookClient {
  state: ConnectionState = IDLE;
  /** Every message `send` took, oldest first. */
  readonly sent: SentMessage[] = [];
  /** What is watched now: "generation:g1", "composition:c1", "workspace:w1". */
  readonly subscriptions = new Set<string>();
  /** How many times each key was subscribed and unsubscribed, for tests of the hooks. */
  readonly subscribes = new Map<string, number>();
  readonly unsubscribes = new Map<string, number>();
  /** How many times `on(event)` was called, per event name. */
  readonly listens = new Map<string, number>();
  /** How many times `connect()` was called. */
  connects = 0;
  /** How many times `clearOutbox()` was called. */
  outboxClears = 0;
  freed = false;
  readonly #handlers = new Map<string, Set<AnyHandlers>>();
  readonly #named = new Map<string, Set<AnyCallback>>();
  readonly #stateListeners = new Set<(change: StateChangeEvent) => void>();
  readonly #errorListeners = new Set<(error: JobSocketError) => void>();
  readonly #outboxListeners = new Set<(size: number) => void>();
  #seq = new Map<string, number>();

  subscribeGeneration(id: string, handlers: GenerationHandlers): JobSubscription {
    return this.#subscribe("generation", id, handlers as AnyHandlers);
  }

  subscribeComposition(id: string, handlers: CompositionHandlers): JobSubscription {
    return this.#subscribe("composition", id, handlers as AnyHandlers);
  }

  subscribe(channel: string, id: string, handlers: object): JobSubscription {
    // As the real client: the job channels have their own verbs.
    if (channel === "generation" || channel === "composition") {
      throw new Error(`"${channel}" is a job channel: use subscribe${channel === "generation" ? "Generation" : "Composition"}`);
    }
    return this.#subscribe(channel, id, handlers as AnyHandlers);
  }

  on<E extends string>(event: E, callback: (data: unknown, meta: ChannelEventMeta<E>) => void): Unsubscribe {
    this.listens.set(event, (this.listens.get(event) ?? 0) + 1);
    const set = this.#named.get(event) ?? new Set();
    set.add(callback as AnyCallback);
    this.#named.set(event, set);
    return () => set.delete(callback as AnyCallback);
  }

  /**
   * Plays one event as the server would send it: to the handlers of that job or channel, and
   * to `on(event)` listeners. `seq` counts up per job unless given.
   */
  emit<E extends keyof GenerationEventMap>(channel: "generation", id: string, event: E, data: GenerationEventMap[E], seq?: number): void;
  emit<E extends keyof CompositionEventMap>(channel: "composition", id: string, event: E, data: CompositionEventMap[E], seq?: number): void;
  emit(channel: string, id: string, event: string, data: unknown, seq?: number): void;
  emit(channel: string, id: string, event: string, data: unknown, seq?: number): void {
    const key = `${channel}:${id}`;
    const next = seq ?? (this.#seq.get(key) ?? 0) + 1;
    this.#seq.set(key, next);
    const meta = { channel, jobId: id, id, seq: next, event, data };
    for (const handlers of [...(this.#handlers.get(key) ?? [])]) {
      handlers[event]?.(data, meta);
      handlers.onEvent?.(data, meta);
    }
    for (const callback of [...(this.#named.get(event) ?? [])]) callback(data, meta);
  }

  /** Moves the connection to `status`, as `onStateChange` listeners and `state` show it. */
  setStatus(status: ConnectionState["status"], reason: StateChangeEvent["reason"] = "socket_opened"): void {
    const previous = this.state.status;
    const transport = status === "open" ? "websocket" : status === "polling" ? "polling" : null;
    const nextRetryAt = status === "reconnecting" ? Date.now() + 1000 : null;
    this.state = { ...this.state, status, transport, nextRetryAt, reason } as ConnectionState;
    for (const listener of [...this.#stateListeners]) listener({ status, previous, reason } as StateChangeEvent);
  }

  /** Reports an error, as the client's `onError` listeners (and the provider's `onError`) see it. */
  emitError(error: JobSocketError): void {
    this.state = { ...this.state, lastError: error };
    for (const listener of [...this.#errorListeners]) listener(error);
  }

  send(event: string, data: unknown): string {
    const id = `m_${this.sent.length + 1}`;
    this.sent.push({ id, event, data });
    this.state = { ...this.state, outboxSize: this.state.outboxSize + 1 };
    for (const listener of [...this.#outboxListeners]) listener(this.state.outboxSize);
    return id;
  }

  /** Empties the outbox, as the real client does when the app signs its user out. */
  clearOutbox(): void {
    this.outboxClears += 1;
    this.state = { ...this.state, outboxSize: 0 };
    for (const listener of [...this.#outboxListeners]) listener(0);
  }

  onStateChange(callback: (change: StateChangeEvent) => void): Unsubscribe {
    this.#stateListeners.add(callback);
    return () => this.#stateListeners.delete(callback);
  }

  onError(callback: (error: JobSocketError) => void): Unsubscribe {
    this.#errorListeners.add(callback);
    return () => this.#errorListeners.delete(callback);
  }

  onOutboxChange(callback: (size: number) => void): Unsubscribe {
    this.#outboxListeners.add(callback);
    return () => this.#outboxListeners.delete(callback);
  }

  connect(): void {
    this.connects += 1;
  }

  reconnect(): void {
    this.connects += 1;
  }

  close(): void {
    if (this.state.status !== "closed") this.setStatus("closed", "closed_by_app");
  }

  free(): void {
    this.freed = true;
  }

  #subscribe(channel: string, id: string, handlers: AnyHandlers): JobSubscription {
    if (id === "" || id === "." || id === "..") throw new Error(`the job id "${id}" is refused`);
    const key = `${channel}:${id}`;
    this.subscribes.set(key, (this.subscribes.get(key) ?? 0) + 1);
    this.subscriptions.add(key);
    const set = this.#handlers.get(key) ?? new Set();
    set.add(handlers);
    this.#handlers.set(key, set);
    let active = true;
    return {
      jobId: id,
      unsubscribe: () => {
        if (!active) return;
        active = false;
        set.delete(handlers);
        if (set.size === 0) this.subscriptions.delete(key);
        this.unsubscribes.set(key, (this.unsubscribes.get(key) ?? 0) + 1);
      },
    };
  }
}
