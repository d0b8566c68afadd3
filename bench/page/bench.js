// Runs inside a directly launched headless Chromium. Every measure runs each client in turn,
// interleaved, `runs` times; the Node side takes medians. Results are POSTed to /result.

// Count every timer callback that fires, for the idle measure. Installed before jobsocket
// loads; the bench's own waits use the saved originals so they do not count.
const realSetTimeout = window.setTimeout.bind(window);
const timerFires = { count: 0 };
for (const name of ["setTimeout", "setInterval"]) {
  const original = window[name].bind(window);
  window[name] = (callback, ...rest) =>
    original((...args) => {
      timerFires.count += 1;
      if (typeof callback === "function") callback(...args);
    }, ...rest);
}

const config = JSON.parse(new URLSearchParams(location.search).get("config"));
const wsBase = `ws://${location.host}`;
const sleep = (ms) => new Promise((resolve) => realSetTimeout(resolve, ms));
const epochNow = () => performance.timeOrigin + performance.now();

const { default: init, JobSocket } = await import("/pkg/jobsocket.js");
const { io } = await import("/socket.io.esm.min.js");
const { growthSection } = await import("/growth.js");
const wasm = await init();

function floodUrl({ n, batch = 1, rate = 0 }) {
  return `${wsBase}/flood?n=${n}&batch=${batch}&rate=${rate}`;
}

/** The baseline: the browser's WebSocket, JSON.parse and a handler, nothing else. */
function runRaw({ n, batch, rate, onData }) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(floodUrl({ n, batch, rate }));
    let count = 0;
    let started = 0;
    const handle = (frame) => {
      if (frame.type === "event" && frame.event === "progress") {
        onData(frame.data);
        count += 1;
        if (count === n) {
          const elapsed = performance.now() - started;
          ws.close();
          resolve(elapsed);
        }
      }
    };
    ws.onopen = () => {
      started = performance.now();
      ws.send(JSON.stringify({ type: "subscribe", channel: "generation", id: "flood" }));
    };
    ws.onmessage = (message) => {
      const parsed = JSON.parse(message.data);
      if (Array.isArray(parsed)) parsed.forEach(handle);
      else handle(parsed);
    };
    ws.onerror = () => reject(new Error("raw WebSocket failed"));
  });
}

/**
 * jobsocket, subscribed to the job with a typed progress handler. Progress coalescing (10 a
 * second per job by default) is off: the bench measures the pipeline, not the pacing.
 */
function runJobsocket({ n, batch, rate, onData }) {
  const socket = new JobSocket({ url: floodUrl({ n, batch, rate }), maxProgressPerSecond: 0 });
  return timeJobsocket(socket, n, onData, () => {});
}

/**
 * Times `socket` from its opening until the job "flood" has delivered `n` progress events;
 * `opened` runs when it opens (to ask for the flood).
 */
function timeJobsocket(socket, n, onData, opened) {
  return new Promise((resolve) => {
    let count = 0;
    let started = 0;
    const subscription = socket.subscribeGeneration("flood", {
      progress(data) {
        onData(data);
        count += 1;
        if (count === n) {
          const elapsed = performance.now() - started;
          // Release after the handler returns: the client is still delivering.
          realSetTimeout(() => {
            subscription.unsubscribe();
            subscription.free();
            listener.free();
            socket.close();
            socket.free();
          }, 0);
          resolve(elapsed);
        }
      },
    });
    const listener = socket.onStateChange(({ status }) => {
      if (status !== "open") return;
      started = performance.now();
      opened();
    });
  });
}

/**
 * jobsocket's Socket.IO dialect on the same socket.io server and events as socket.io-client:
 * `progress` events become typed generation progress.
 */
function runJobsocketSocketIo({ n, onData }) {
  const socket = new JobSocket({
    url: `http://${location.host}`,
    maxProgressPerSecond: 0,
    protocol: {
      dialect: "socket.io",
      events: { progress: "generation.progress" },
      fields: { progress: "percentage", stage: "step" },
    },
  });
  return timeJobsocket(socket, n, onData, () => socket.send("flood", { count: n }));
}

/** socket.io-client over its WebSocket transport, the same payloads as socket.io events. */
function runSocketIo({ n, onData }) {
  return new Promise((resolve, reject) => {
    const socket = io(`http://${location.host}`, { transports: ["websocket"], reconnection: false });
    let count = 0;
    let started = 0;
    socket.on("connect", () => {
      started = performance.now();
      socket.emit("flood", { count: n });
    });
    socket.on("progress", (data) => {
      onData(data);
      count += 1;
      if (count === n) {
        const elapsed = performance.now() - started;
        socket.disconnect();
        resolve(elapsed);
      }
    });
    socket.on("connect_error", reject);
  });
}

let sink = 0;
const touch = (data) => {
  sink += data.percentage;
};

async function throughput(clients, n, batch) {
  const runs = Object.fromEntries(Object.keys(clients).map((name) => [name, []]));
  for (let run = 0; run < config.runs; run++) {
    for (const [name, client] of Object.entries(clients)) {
      const elapsed = await client({ n, batch, rate: 0, onData: touch });
      runs[name].push((n / elapsed) * 1000);
      await sleep(50);
    }
  }
  return runs;
}

async function latency(clients, n) {
  const samples = {};
  for (const [name, client] of Object.entries(clients)) samples[name] = [];
  for (let run = 0; run < config.runs; run++) {
    for (const [name, client] of Object.entries(clients)) {
      await client({
        n,
        batch: 1,
        rate: config.latencyRate,
        onData: (data) => samples[name].push(epochNow() - Number(data.message)),
      });
      await sleep(50);
    }
  }
  return samples;
}

function heap() {
  globalThis.gc?.();
  return {
    jsHeapBytes: performance.memory?.usedJSHeapSize ?? null,
    wasmMemoryBytes: wasm.memory.buffer.byteLength,
  };
}

async function memory() {
  const before = heap();
  const socket = new JobSocket({ url: floodUrl({ n: config.memoryEvents }), maxProgressPerSecond: 0 });
  let count = 0;
  await new Promise((resolve) => {
    socket.subscribeGeneration("flood", {
      progress(data) {
        touch(data);
        if (++count === config.memoryEvents) realSetTimeout(resolve, 0);
      },
    });
  });
  const afterEvents = heap();
  const cycle = (i) => {
    const subscription = socket.subscribeGeneration(`job_${i}`, { progress: touch });
    subscription.unsubscribe();
    subscription.free();
  };
  const half = config.memoryCycles / 2;
  for (let i = 0; i < half; i++) cycle(i);
  await sleep(100);
  const afterHalfCycles = heap();
  for (let i = half; i < config.memoryCycles; i++) cycle(i);
  await sleep(100);
  const afterCycles = heap();
  socket.close();
  socket.free();
  return { before, afterEvents, afterHalfCycles, afterCycles };
}

/**
 * An open socket with no subscription and no traffic, for `idleSeconds`: the timer callbacks
 * that fire. The timing options are set to their defaults explicitly, so that what they alone
 * would fire is known here, to compare with: a ping every pingIntervalMs and once, when the
 * socket has been open minUptimeMs, the check that it counts as stable. The tab is alone, so
 * it sends no tab heartbeat (tabHeartbeatMs applies only while other tabs follow it).
 */
async function idle() {
  const timing = { pingIntervalMs: 30_000, tabHeartbeatMs: 1_000, minUptimeMs: 5_000 };
  const socket = new JobSocket({ url: floodUrl({ n: 0 }), ...timing });
  let openedAt = 0;
  await new Promise((resolve) => {
    const listener = socket.onStateChange(({ status }) => {
      if (status === "open") {
        openedAt = performance.now();
        listener.free();
        resolve();
      }
    });
    socket.connect();
  });
  await sleep(200);
  const firedBefore = timerFires.count;
  const windowStartMs = performance.now() - openedAt;
  await sleep(config.idleSeconds * 1000);
  const windowEndMs = performance.now() - openedAt;
  const fired = timerFires.count - firedBefore;
  const status = socket.state.status;
  const tabRole = socket.tabRole;
  socket.close();
  socket.free();
  return { seconds: config.idleSeconds, timerFires: fired, statusAfter: status, tabRole, windowStartMs, windowEndMs, ...timing };
}

async function main() {
  const status = document.getElementById("status");
  const step = (label) => (status.textContent = label);
  const result = {};
  step("per-frame throughput");
  result.perFrame = await throughput(
    { raw: runRaw, jobsocket: runJobsocket, socketio: runSocketIo, jobsocket_socketio: runJobsocketSocketIo },
    config.perFrameEvents,
    1,
  );
  step("batched throughput");
  result.batched = await throughput(
    { raw: runRaw, jobsocket: runJobsocket },
    config.batchedEvents,
    config.batchSize,
  );
  step("latency");
  result.latency = await latency({ raw: runRaw, jobsocket: runJobsocket }, config.latencyEvents);
  step("memory");
  result.memory = await memory();
  step("growth");
  result.growth = await growthSection({ JobSocket, config, sleep })();
  step("idle");
  result.idle = await idle();
  result.userAgent = navigator.userAgent;
  result.sink = sink;
  return result;
}

let body;
try {
  body = JSON.stringify({ ok: true, result: await main() });
} catch (error) {
  body = JSON.stringify({ ok: false, error: String(error?.stack ?? error) });
}
await fetch("/result", { method: "POST", body });
document.getElementById("status").textContent = "done";
