// `make bench`: measures jobsocket against the raw browser WebSocket and socket.io-client in
// one directly launched headless Chromium (Playwright over CDP would slow WebSockets ~2.4x),
// then ten tabs of one app with and without a shared connection (tabs.mjs, against the
// reference server), writes target/bench/report.json and prints markdown tables. QUICK=1 runs
// small numbers.
import { spawn } from "node:child_process";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fmt, median } from "./figures.mjs";
import { growthConfig, growthTable, summarizeGrowth } from "./growth.mjs";
import { startServers } from "./servers.mjs";
import { packageSizes } from "./size.mjs";
import { benchTabs, stopTabsBench, tabsTable } from "./tabs.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const quick = process.env.QUICK === "1";

const config = quick
  ? { runs: 3, perFrameEvents: 5_000, batchedEvents: 20_000, batchSize: 100, latencyEvents: 300,
      latencyRate: 1_000, memoryEvents: 10_000, memoryCycles: 2_000, idleSeconds: 2, ...growthConfig(true) }
  : { runs: 3, perFrameEvents: 200_000, batchedEvents: 500_000, batchSize: 100, latencyEvents: 3_000,
      latencyRate: 1_000, memoryEvents: 100_000, memoryCycles: 10_000, idleSeconds: 60, ...growthConfig(false) };

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
// True while any process of group `pgid` is alive (signal 0 checks without sending).
function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function runBrowser(url) {
  const profile = await mkdtemp(path.join(tmpdir(), "jobsocket-bench-"));
  const chromium = process.env.CHROMIUM_BINARY ?? "/usr/lib/chromium/chromium";
  // A process group of its own (detached): Chromium's zygote, renderer and GPU processes write
  // into the profile too, and all of them must be gone before the profile is removed.
  const child = spawn(
    chromium,
    [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--no-first-run", "--disable-extensions", "--disable-background-timer-throttling",
      "--enable-precise-memory-info", "--js-flags=--expose-gc",
      `--user-data-dir=${profile}`, url,
    ],
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise((resolve) => child.once("exit", (code) => resolve({ code, stderr })));
  let stopping;
  return {
    /** Kills the whole group, waits until every process of it is gone, then removes the profile. */
    stop() {
      stopping ??= (async () => {
        if (groupAlive(child.pid)) {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {
            // Gone between the check and the kill.
          }
        }
        await exited;
        while (groupAlive(child.pid)) await pause(20);
        await rm(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      })();
      return stopping;
    },
    exited,
  };
}

function summarize(raw, size) {
  const pf = raw.perFrame;
  const perFrame = {
    events: config.perFrameEvents,
    raw_events_per_s: median(pf.raw),
    jobsocket_events_per_s: median(pf.jobsocket),
    socketio_events_per_s: median(pf.socketio),
    jobsocket_socketio_events_per_s: median(pf.jobsocket_socketio),
    runs: pf,
  };
  // The Socket.IO dialect against socket.io-client, on the same server and events.
  perFrame.socketio_dialect_ratio = perFrame.jobsocket_socketio_events_per_s / perFrame.socketio_events_per_s;
  perFrame.ratio_vs_raw = perFrame.jobsocket_events_per_s / perFrame.raw_events_per_s;
  perFrame.ratio_vs_socketio = perFrame.jobsocket_events_per_s / perFrame.socketio_events_per_s;

  const batched = {
    events: config.batchedEvents,
    events_per_frame: config.batchSize,
    raw_events_per_s: median(raw.batched.raw),
    jobsocket_events_per_s: median(raw.batched.jobsocket),
    runs: raw.batched,
  };
  batched.ratio_vs_raw = batched.jobsocket_events_per_s / batched.raw_events_per_s;

  const lat = raw.latency;
  const latency = {
    events_per_run: config.latencyEvents,
    rate_per_s: config.latencyRate,
    raw_p50_ms: percentile(lat.raw, 50),
    raw_p99_ms: percentile(lat.raw, 99),
    jobsocket_p50_ms: percentile(lat.jobsocket, 50),
    jobsocket_p99_ms: percentile(lat.jobsocket, 99),
  };
  latency.p50_added_ms = latency.jobsocket_p50_ms - latency.raw_p50_ms;
  latency.p99_added_ms = latency.jobsocket_p99_ms - latency.raw_p99_ms;

  const m = raw.memory;
  const growth = (a, b, key) => (a[key] == null || b[key] == null ? null : b[key] - a[key]);
  const memory = {
    events: config.memoryEvents,
    subscribe_cycles: config.memoryCycles,
    wasm_bytes_before: m.before.wasmMemoryBytes,
    wasm_bytes_after_events: m.afterEvents.wasmMemoryBytes,
    wasm_bytes_after_cycles: m.afterCycles.wasmMemoryBytes,
    js_heap_bytes_before: m.before.jsHeapBytes,
    js_heap_bytes_after_events: m.afterEvents.jsHeapBytes,
    js_heap_bytes_after_cycles: m.afterCycles.jsHeapBytes,
    // Growth over the second half of the cycles: flat means no per-cycle leak.
    wasm_growth_second_half_bytes: growth(m.afterHalfCycles, m.afterCycles, "wasmMemoryBytes"),
    js_heap_growth_second_half_bytes: growth(m.afterHalfCycles, m.afterCycles, "jsHeapBytes"),
  };

  const i = raw.idle;
  const idle = {
    seconds: i.seconds,
    timer_wakeups: i.timerFires,
    timer_wakeups_per_minute: (i.timerFires * 60) / i.seconds,
    status_after: i.statusAfter,
    tab_role: i.tabRole,
    ping_interval_ms: i.pingIntervalMs,
    tab_heartbeat_ms: i.tabHeartbeatMs,
    min_uptime_ms: i.minUptimeMs,
    // What the heartbeat alone would fire: the pings. A tab alone sends no tab heartbeat (a
    // leading tab beats only while other tabs follow it).
    heartbeat_wakeups_per_minute: 60_000 / i.pingIntervalMs,
    ...expectedIdleWakeups(i),
  };
  const growthSummary = summarizeGrowth(raw.growth, config);
  return { quick, config, user_agent: raw.userAgent, per_frame: perFrame, batched, latency, size, memory, idle, growth: growthSummary };
}


/**
 * The wake-ups the idle window (from windowStartMs to windowEndMs after the socket opened) should
 * hold: the pings due in it, and the one stability check minUptimeMs after opening, if it falls
 * in. The tab is alone, so it sends no tab heartbeat.
 */
function expectedIdleWakeups(i) {
  const due = (period, offset = 0) =>
    Math.floor((i.windowEndMs - offset) / period) - Math.floor((i.windowStartMs - offset) / period);
  const pings = due(i.pingIntervalMs);
  const stabilityCheck = i.windowStartMs < i.minUptimeMs && i.minUptimeMs <= i.windowEndMs ? 1 : 0;
  return {
    expected_wakeups_in_window: pings + stabilityCheck,
    expected_pings: pings,
    expected_stability_checks: stabilityCheck,
  };
}

/** What the idle measure's heartbeats are, in words. */
function heartbeats(i) {
  const ping = `a ping every ${fmt(i.ping_interval_ms / 1000)} s`;
  return i.tab_role === "leader" ? `${ping}; a ${i.tab_role} tab alone sends no tab heartbeat` : ping;
}

function table(report) {
  const { per_frame: pf, batched: b, latency: l, size: s, memory: m, idle: i } = report;
  return [
    `| measure | jobsocket | raw WebSocket | socket.io-client | ratio |`,
    `|---|---|---|---|---|`,
    `| per-frame throughput (events/s, ${fmt(pf.events)} frames) | ${fmt(pf.jobsocket_events_per_s)} | ${fmt(pf.raw_events_per_s)} | ${fmt(pf.socketio_events_per_s)} | ${fmt(pf.ratio_vs_raw, 3)}× raw, ${fmt(pf.ratio_vs_socketio, 3)}× socket.io |`,
    `| per-frame throughput, Socket.IO server (events/s): jobsocket's Socket.IO dialect vs socket.io-client | ${fmt(pf.jobsocket_socketio_events_per_s)} | — | ${fmt(pf.socketio_events_per_s)} | ${fmt(pf.socketio_dialect_ratio, 3)}× socket.io |`,
    `| batched throughput (events/s, ${b.events_per_frame}/frame) | ${fmt(b.jobsocket_events_per_s)} | ${fmt(b.raw_events_per_s)} | — | ${fmt(b.ratio_vs_raw, 3)}× raw |`,
    `| latency p50 / p99 (ms, ${fmt(l.rate_per_s)}/s) | ${fmt(l.jobsocket_p50_ms, 3)} / ${fmt(l.jobsocket_p99_ms, 3)} | ${fmt(l.raw_p50_ms, 3)} / ${fmt(l.raw_p99_ms, 3)} | — | +${fmt(l.p50_added_ms, 3)} / +${fmt(l.p99_added_ms, 3)} ms |`,
    `| size, min + gzip (bytes) | ${fmt(s.total_gzip_bytes)} (wasm ${fmt(s.wasm_gzip_bytes)} + JS ${fmt(s.glue_gzip_bytes)}); with the React adapter ${fmt(s.with_react_gzip_bytes)} | — | ${fmt(s.socketio_gzip_bytes)} | ${fmt(s.total_gzip_bytes / s.socketio_gzip_bytes, 2)}× socket.io |`,
    `| size, min + brotli (bytes) | ${fmt(s.total_brotli_bytes)} (wasm ${fmt(s.wasm_brotli_bytes)} + JS ${fmt(s.glue_brotli_bytes)}); with the React adapter ${fmt(s.with_react_brotli_bytes)} | — | ${fmt(s.socketio_brotli_bytes)} | ${fmt(s.total_brotli_bytes / s.socketio_brotli_bytes, 2)}× socket.io |`,
    `| wasm memory before / after events / after cycles (bytes) | ${fmt(m.wasm_bytes_before)} / ${fmt(m.wasm_bytes_after_events)} / ${fmt(m.wasm_bytes_after_cycles)} | — | — | second-half growth ${fmt(m.wasm_growth_second_half_bytes)} |`,
    `| JS heap before / after events / after cycles (bytes) | ${fmt(m.js_heap_bytes_before)} / ${fmt(m.js_heap_bytes_after_events)} / ${fmt(m.js_heap_bytes_after_cycles)} | — | — | second-half growth ${fmt(m.js_heap_growth_second_half_bytes)} |`,
    `| idle timer wake-ups per minute (open socket, no traffic) | ${fmt(i.timer_wakeups_per_minute, 1)} | — | — | heartbeats alone: ${fmt(i.heartbeat_wakeups_per_minute, 1)} (${heartbeats(i)}); ${i.timer_wakeups} in ${i.seconds} s, where ${i.expected_wakeups_in_window} ±1 were due (${i.expected_pings} pings, ${i.expected_stability_checks} stability check ${fmt(i.min_uptime_ms / 1000)} s after opening) |`,
  ].join("\n");
}

async function main() {
  const size = await packageSizes();
  const servers = await startServers({ root });
  let browser;
  // Ctrl-C or a SIGTERM from a test script still stops the browser and the servers.
  const interrupted = async (signal) => {
    await browser?.stop();
    await servers.stop();
    await stopTabsBench();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  let outcome;
  try {
    const url = `${servers.url}/?config=${encodeURIComponent(JSON.stringify(config))}`;
    browser = await runBrowser(url);
    const limitMs = quick ? 110_000 : 1_500_000;
    let timer;
    outcome = await Promise.race([
      servers.results,
      browser.exited.then(({ code, stderr }) => ({ ok: false, error: `Chromium exited (${code}): ${stderr}` })),
      new Promise((resolve) => (timer = setTimeout(() => resolve({ ok: false, error: `no result within ${limitMs / 1000} s` }), limitMs))),
    ]);
    clearTimeout(timer);
  } finally {
    await browser?.stop();
    await servers.stop();
  }
  if (!outcome.ok) throw new Error(`the bench page failed: ${outcome.error}`);
  const report = summarize(outcome.result, size);
  // Issue 13: ten tabs of one app, sharing one connection or not (bench/tabs.mjs).
  report.tabs = await benchTabs({ root, quick });
  const out = path.join(root, "target/bench");
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, "report.json"), JSON.stringify(report, null, 2));
  console.log(`\n${quick ? "QUICK " : ""}bench, ${report.user_agent}\n`);
  console.log(table(report));
  console.log(`\n### Growth\n\n${growthTable(report.growth)}`);
  console.log(`\n### Tabs sharing one connection\n\n${tabsTable(report.tabs)}`);
  console.log(`\nwritten to target/bench/report.json`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
