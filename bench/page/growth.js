// The growth section of the bench page: what one client costs as what it holds grows. Per event
// with 1, 100 and 1,000 jobs subscribed on one socket; resubscribing 1,000 jobs after a
// reconnect; restoring an outbox of 100 queued messages. All against the bench server's growth
// endpoint (servers.mjs), which counts the frames it receives.
//
// Client CPU here is main-thread time inside the client's own WebSocket handlers, read with
// performance.now() before and after each call (SocketMeter): everything the client does for
// a frame (wasm decoding, bookkeeping, the app's handlers, the frames it sends back) runs
// synchronously in those handlers. Outside cross-origin isolation Chromium coarsens
// performance.now() to 100 µs with a random threshold per step, so one reading of a short
// handler is 0 or 100 µs but a sum over many is right on average; the per-event figure is such
// a sum over every event of a run.

/**
 * Times the handlers a client sets on the WebSockets it opens while the meter is installed:
 * the `onopen` and `onmessage` setters of WebSocket.prototype are replaced, so that each
 * handler set through them runs between two performance.now() readings. Per socket, in the
 * order they were opened: time in the open handler, in the message handlers of event frames
 * and of every other frame, how many of each, and when the first event and the last frame
 * were handled. Installed only around a growth measure: the other measures run on the
 * browser's own setters.
 */
class SocketMeter {
  sockets = [];
  #saved = [];

  install() {
    for (const name of ["onopen", "onmessage"]) {
      const own = Object.getOwnPropertyDescriptor(WebSocket.prototype, name);
      this.#saved.push([name, own]);
      const meter = this;
      Object.defineProperty(WebSocket.prototype, name, {
        ...own,
        set(handler) {
          own.set.call(this, typeof handler === "function" ? meter.#timed(this, name, handler) : handler);
        },
      });
    }
  }

  uninstall() {
    for (const [name, own] of this.#saved) Object.defineProperty(WebSocket.prototype, name, own);
    this.#saved = [];
  }

  /** Sums over every socket seen. */
  total(key) {
    return this.sockets.reduce((sum, record) => sum + record[key], 0);
  }

  #record(ws) {
    let record = this.sockets.find((known) => known.ws === ws);
    if (!record) {
      record = { ws, openMs: 0, eventMs: 0, events: 0, otherMs: 0, others: 0, firstEventAt: null, lastAt: null };
      this.sockets.push(record);
    }
    return record;
  }

  #timed(ws, name, handler) {
    const record = this.#record(ws);
    return function (event) {
      const isEvent = name === "onmessage" && typeof event.data === "string" && event.data.startsWith('{"type":"event"');
      const started = performance.now();
      try {
        return handler.call(this, event);
      } finally {
        const ended = performance.now();
        record.lastAt = ended;
        if (name === "onopen") {
          record.openMs += ended - started;
        } else if (isEvent) {
          record.eventMs += ended - started;
          record.events += 1;
          record.firstEventAt ??= started;
        } else {
          record.otherMs += ended - started;
          record.others += 1;
        }
      }
    };
  }
}

/** Runs `measure(meter)` with a fresh meter installed, and uninstalls it whatever happens. */
async function metered(measure) {
  const meter = new SocketMeter();
  meter.install();
  try {
    return await measure(meter);
  } finally {
    meter.uninstall();
  }
}

export function growthSection({ JobSocket, config, sleep }) {
  const wsBase = `ws://${location.host}`;
  let keys = 0;
  // A key of its own per client: the server counts per key, and the outbox is stored per URL.
  const growthUrl = ({ jobs, events }) => `${wsBase}/growth?key=g${++keys}&jobs=${jobs}&n=${events}`;
  const serverStats = async (url) => {
    const key = new URL(url).searchParams.get("key");
    return (await fetch(`/growth/stats?key=${key}`)).json();
  };

  /** Waits, polling every 5 ms, until `done()`; throws naming `what` after `limitMs`. */
  async function until(done, what, limitMs = 60_000) {
    for (let waited = 0; !done(); waited += 5) {
      if (waited > limitMs) throw new Error(`growth: ${what} did not happen within ${limitMs / 1000} s`);
      await sleep(5);
    }
  }

  const jobIds = (count) => Array.from({ length: count }, (_, index) => `job_${index}`);

  /**
   * `events` progress events over `jobs` jobs in turn, on one socket: the client's handler time
   * per event, the events per second from the first event to the last delivered, and the time
   * the app's `subscribeGeneration` calls took.
   */
  const perEvent = (jobs, events) =>
    metered(async (meter) => {
      const socket = new JobSocket({ url: growthUrl({ jobs, events }), maxProgressPerSecond: 0 });
      let delivered = 0;
      let lastDeliveredAt = 0;
      const handlers = {
        progress() {
          delivered += 1;
          lastDeliveredAt = performance.now();
        },
      };
      const started = performance.now();
      const subscriptions = jobIds(jobs).map((id) => socket.subscribeGeneration(id, handlers));
      const subscribeMs = performance.now() - started;
      await until(() => delivered >= events, `${events} events over ${jobs} jobs`);
      await sleep(0);
      for (const subscription of subscriptions) subscription.free();
      socket.close();
      socket.free();
      const handled = meter.total("events");
      if (delivered !== events || handled !== events) {
        throw new Error(`growth: ${jobs} jobs: ${delivered} events delivered from ${handled} frames, not ${events}`);
      }
      const firstEventAt = Math.min(...meter.sockets.map((record) => record.firstEventAt ?? Infinity));
      return {
        jobs,
        events,
        handler_us_per_event: (meter.total("eventMs") * 1000) / handled,
        events_per_s: (events * 1000) / (lastDeliveredAt - firstEventAt),
        subscribe_ms: subscribeMs,
      };
    });

  /**
   * `jobs` jobs subscribed and answered on a first socket, then `reconnect()`: the frames the
   * server received on the second socket (all of them, and the `subscribe`s among them), and
   * the client's CPU from the reconnect() call to the last answer handled.
   */
  const resubscribe = (jobs) =>
    metered(async (meter) => {
      const url = growthUrl({ jobs, events: 0 });
      const socket = new JobSocket({ url, maxProgressPerSecond: 0 });
      const subscriptions = jobIds(jobs).map((id) => socket.subscribeGeneration(id, {}));
      // The server's greeting and one `subscribed` per job: every subscription is confirmed.
      const answered = (index) => meter.sockets[index]?.others === jobs + 1;
      await until(() => answered(0), `the first socket's ${jobs} answers`);
      const started = performance.now();
      socket.reconnect();
      const reconnectCallMs = performance.now() - started;
      await until(() => answered(1), `the ${jobs} answers after the reconnect`);
      const second = meter.sockets[1];
      const received = (await serverStats(url))[1];
      for (const subscription of subscriptions) subscription.free();
      socket.close();
      socket.free();
      return {
        jobs,
        frames: received.frames,
        subscribe_frames: received.subscribes,
        cpu_ms: reconnectCallMs + second.openMs + second.otherMs,
        reconnect_call_ms: reconnectCallMs,
        open_handler_ms: second.openMs,
        answers_ms: second.otherMs,
        elapsed_ms: second.lastAt - started,
      };
    });

  /**
   * A page queues `messages` messages and goes before its socket opens (they are left in
   * localStorage); the next client with the same URL and storageKey, with default options:
   * from its construction to the outbox restored (the first state change, when the restored
   * outbox makes the idle client connect), and to every message acked by the server.
   */
  const outboxRestore = (messages) =>
    metered(async (meter) => {
      const url = growthUrl({ jobs: 0, events: 0 });
      const options = { url, storageKey: "growth" };
      const writer = new JobSocket({ ...options, shareAcrossTabs: false });
      for (let index = 0; index < messages; index++) writer.send("growth.note", { index });
      const queued = writer.state.outboxSize;
      writer.close();
      writer.free();
      if (queued !== messages) throw new Error(`growth: ${queued} messages queued, not ${messages}`);

      let loadedAt = null;
      let deliveredAt = null;
      const started = performance.now();
      const reader = new JobSocket(options);
      const constructMs = performance.now() - started;
      const noteLoaded = () => {
        if (loadedAt === null && reader.state.outboxSize === messages) loadedAt = performance.now();
      };
      noteLoaded();
      const stateListener = reader.onStateChange(noteLoaded);
      const sizeListener = reader.onOutboxChange((size) => {
        if (size === 0) deliveredAt = performance.now();
      });
      await until(() => deliveredAt !== null, `the restored outbox's ${messages} acks`);
      const received = (await serverStats(url)).reduce(
        (sum, connection) => ({
          messages: sum.messages + connection.messages,
          inOrder: sum.inOrder && connection.messages_in_order,
        }),
        { messages: 0, inOrder: true },
      );
      stateListener.free();
      sizeListener.free();
      reader.close();
      reader.free();
      if (loadedAt === null) throw new Error("growth: the restored outbox never showed in state.outboxSize");
      if (received.messages !== messages || !received.inOrder) {
        throw new Error(`growth: the server received ${received.messages} messages (in order: ${received.inOrder}), not ${messages}`);
      }
      return {
        messages,
        construct_ms: constructMs,
        loaded_ms: loadedAt - started,
        delivered_ms: deliveredAt - started,
        socket_handlers_ms: meter.total("openMs") + meter.total("otherMs"),
      };
    });

  /** Every measure `config.runs` times, interleaved; the Node side takes medians. */
  return async function growth() {
    const runs = { perEvent: [], resubscribe: [], outboxRestore: [] };
    // Wall time of each measure over all its runs, pauses included: what it adds to the bench.
    const seconds = { perEvent: 0, resubscribe: 0, outboxRestore: 0 };
    const timed = async (name, measure) => {
      const started = performance.now();
      runs[name].push(await measure());
      await sleep(50);
      seconds[name] += (performance.now() - started) / 1000;
    };
    for (let run = 0; run < config.runs; run++) {
      for (const jobs of config.growthJobs) await timed("perEvent", () => perEvent(jobs, config.growthEvents));
      await timed("resubscribe", () => resubscribe(config.resubscribeJobs));
      await timed("outboxRestore", () => outboxRestore(config.outboxMessages));
    }
    return { ...runs, seconds };
  };
}
