// The page side of the adversarial tests (served by hostile-server.mjs): one client of the real
// package, and an ordered record of what it told the app, read back by the test through
// window.harness. Runs in the browser.
import { initialize, createJobSocket } from "/pkg/index.js";

// What the client said, in order: { event: seq, mark, channel, polluted } for each event, and
// runs of errors squeezed into one entry { errors: n, codes: { code: n }, first: message }, so
// a storm of a million errors reads back as one line.
const log = [];
const states = [];
let client;
let wasm;
let tokenCalls = 0;

function recordError(error) {
  const last = log.at(-1);
  const run = last && "errors" in last ? last : log[log.push({ errors: 0, codes: {}, first: null }) - 1];
  run.errors += 1;
  const code = error?.serverCode ? `server_error:${error.serverCode}` : String(error?.code);
  run.codes[code] = (run.codes[code] ?? 0) + 1;
  run.first ??= `${code}: ${String(error?.message).slice(0, 200)}`;
}

function recordEvent(channel, data, meta) {
  log.push({
    channel,
    event: meta.event,
    seq: meta.seq,
    mark: typeof data?.message === "string" ? data.message : data?.mark ?? null,
    // What the app read: a progress's percentage, an error's recoverable (for duplicate keys).
    detail: data?.percentage ?? data?.recoverable ?? null,
    // Set only if `__proto__` in the JSON became the data's prototype.
    polluted: data == null || typeof data !== "object" ? null : data.polluted ?? null,
  });
}

/** The wasm memory's size now, in bytes. */
const memoryBytes = () => wasm.memory.buffer.byteLength;

window.harness = {
  /**
   * Creates the client with `options` (url included) and subscribes to generation `job` and,
   * if given, to app channel `[channel, id]`. With `token`, the token option is a function that
   * counts its calls.
   */
  async start({ options, job, channel, token }) {
    wasm = await initialize();
    const all = { ...options };
    if (token) {
      all.token = () => {
        tokenCalls += 1;
        return `token-${tokenCalls}`;
      };
    }
    client = await createJobSocket(all);
    client.onError(recordError);
    client.onStateChange((change) => states.push(`${change.status} (${change.reason})`));
    if (job) client.subscribeGeneration(job, { onEvent: (data, meta) => recordEvent("generation", data, meta) });
    if (channel) {
      client.subscribe(channel[0], channel[1], { onEvent: (data, meta) => recordEvent(channel[0], data, meta) });
    }
    if (!job && !channel) client.connect();
    return { memoryAtStart: memoryBytes() };
  },

  /** Sends an app message (it waits in the outbox until the server acks it). */
  send(event, data) {
    return client.send(event, data);
  },

  /** Everything the test asserts on, as plain JSON. */
  read() {
    let state;
    try {
      const now = client.state;
      state = { status: now.status, reason: now.reason, outboxSize: now.outboxSize, attempt: now.attempt };
    } catch (error) {
      state = { threw: String(error?.stack ?? error) };
    }
    const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    return {
      log,
      states,
      state,
      tokenCalls,
      memoryBytes: wasm ? memoryBytes() : null,
      pageErrors: window.__pageErrors,
      addedProtoKeys: protoKeys.filter((key) => !window.__protoKeysAtStart.includes(key)),
      emptyObjectPolluted: ({}).polluted ?? null,
      // The page's storm is over once the server's closing error frame has been reported.
      stormOver: log.some((entry) => entry.codes?.["server_error:storm_over"]),
    };
  },
};
document.body.dataset.ready = "true";
