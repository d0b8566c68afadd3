// `make bench`, the tabs section (issue 13): ten tabs of one app, each watching the same ten
// jobs, once with the tabs sharing one connection (shareAcrossTabs, the default) and once with
// each tab on its own (shareAcrossTabs: false). Measured: the sockets the reference server
// counts, and the client CPU per event delivered, per tab (the leader's, the followers', and
// each tab's own when nobody shares), from Chromium's own per-page counters.
//
// Why this design: every tab of an app watches what the app shows, so ten tabs of one app
// watch the same jobs; that is the case sharing is for (without it, each event crosses the
// network ten times and is parsed ten times). Ten jobs at once give the leader a real fan-out.
//
// How: the reference server (target/debug/jobsocket-server, scope per mode, its /admin/stats
// counting sockets) serves the package; one directly launched headless Chromium (no
// Playwright: over CDP it would forward every WebSocket frame) opens ten pages in one browser
// context per mode, driven over a bare CDP connection (`ws`) that enables nothing but the
// Performance domain (in thread time: CPU of the page's main thread, not wall time, so ten
// renderers on two cores do not inflate it). Per page: ScriptDuration and TaskDuration before
// the subscriptions and after the last `completed`, divided by the events that page delivered.
// The CPU of all of Chromium's processes and of the server (from /proc) is reported too: a
// BroadcastChannel message crosses the browser process, which no page counter sees.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import WebSocket from "ws";

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Plan of the run: `tabs` tabs, each watching `jobs` jobs of clips × steps progress events (and
 * five more), stepMs apart; the modes run in `order` (shared first and last, so a drift of the
 * machine over the run weighs on both modes alike).
 */
export function tabsConfig(quick) {
  return quick
    ? { tabs: 10, jobs: 10, clips: 2, steps: 20, stepMs: 10, order: ["shared", "off", "off", "shared"] }
    : { tabs: 10, jobs: 10, clips: 10, steps: 30, stepMs: 10, order: ["shared", "off", "off", "shared"] };
}

/** What a run has started and not yet stopped, for stopTabsBench(). */
const running = new Set();

/** Stops the browser and the server of a run still going (Ctrl-C). */
export async function stopTabsBench() {
  await Promise.all([...running].map((stop) => stop()));
}

// True while any process of group `pgid` is alive (signal 0 checks without sending).
function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

/** CPU time (user + system, ms) of the processes whose process group is `pgid`, from /proc. */
async function groupCpuMs(pgid) {
  const { readdir } = await import("node:fs/promises");
  let ticks = 0;
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => null);
    if (!stat) continue;
    // Fields after the command name (which may hold spaces), counted from field 3 (state).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== pgid) continue; // pgrp
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

async function processCpuMs(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The reference server on a free port, with the admin API; resolves with { url, adminKey, pid, stop() }. */
async function startReferenceServer(root) {
  const adminKey = randomBytes(16).toString("hex");
  const child = spawn(
    process.env.SERVER_BIN ?? path.join(root, "target/debug/jobsocket-server"),
    ["--port", "0", "--admin", "--pkg", path.join(root, "target/package")],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, JOBSOCKET_ADMIN_KEY: adminKey } },
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  try {
    const firstLine = await new Promise((resolve, reject) => {
      createInterface({ input: child.stdout }).once("line", resolve);
      child.once("error", reject);
      child.once("exit", (code) => reject(new Error(`the reference server exited with ${code} (make server builds it)`)));
    });
    const match = /^listening on (http:\/\/\S+)$/.exec(firstLine);
    if (!match) throw new Error(`unexpected first line from the server: ${firstLine}`);
    child.stdout.resume();
    return { url: match[1], adminKey, pid: child.pid, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Chromium with a CDP port, in a process group of its own; resolves with { cdp, pgid, stop() }. */
async function startChromium() {
  const profile = await mkdtemp(path.join(tmpdir(), "jobsocket-bench-tabs-"));
  const child = spawn(
    process.env.CHROMIUM_BINARY ?? "/usr/lib/chromium/chromium",
    [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--no-first-run", "--disable-extensions",
      // Ten tabs, one shown: none of them may be throttled for being in the background.
      "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
      "--disable-backgrounding-occluded-windows",
      "--remote-debugging-port=0", `--user-data-dir=${profile}`, "about:blank",
    ],
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  let stopping;
  const stop = () => {
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
  };
  try {
    // Chromium writes the port it took, and the browser target's path, to DevToolsActivePort.
    let active;
    for (let waited = 0; !active; waited += 50) {
      if (child.exitCode !== null) throw new Error(`Chromium exited (${child.exitCode}): ${stderr}`);
      if (waited > 20_000) throw new Error(`Chromium gave no DevTools port within 20 s: ${stderr}`);
      active = await readFile(path.join(profile, "DevToolsActivePort"), "utf8").catch(() => null);
      if (active && active.split("\n").length < 2) active = null;
      if (!active) await pause(50);
    }
    const [port, browserPath] = active.split("\n");
    const cdp = await connectCdp(`ws://127.0.0.1:${port}${browserPath}`);
    return { cdp, pgid: child.pid, stop: async () => (cdp.close(), stop()) };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A bare CDP client: send(method, params, sessionId) resolves with the result. */
function connectCdp(url) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 << 20 });
    const pending = new Map();
    let next = 0;
    socket.once("error", reject);
    socket.on("message", (raw) => {
      const message = JSON.parse(String(raw));
      const waiting = message.id !== undefined && pending.get(message.id);
      if (!waiting) return;
      pending.delete(message.id);
      if (message.error) waiting.reject(new Error(`${waiting.method}: ${message.error.message}`));
      else waiting.resolve(message.result);
    });
    socket.on("close", () => {
      for (const waiting of pending.values()) waiting.reject(new Error(`CDP closed during ${waiting.method}`));
      pending.clear();
    });
    socket.once("open", () =>
      resolve({
        send(method, params = {}, sessionId) {
          const id = ++next;
          socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
          return new Promise((resolve, reject) => pending.set(id, { method, resolve, reject }));
        },
        close: () => socket.close(),
      }),
    );
  });
}

/** Runs `fn(arg)` in the page of `sessionId` and resolves with its (JSON) value. */
async function evaluate(cdp, sessionId, fn, arg) {
  const { result, exceptionDetails } = await cdp.send(
    "Runtime.evaluate",
    { expression: `(${fn})(${JSON.stringify(arg ?? null)})`, awaitPromise: true, returnByValue: true },
    sessionId,
  );
  if (exceptionDetails) throw new Error(`in the page: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
  return result.value;
}

/** In a page: makes the client and counts what it delivers. */
async function setUpTab({ url, share }) {
  const { initialize, JobSocket } = await import("/pkg/index.js");
  await initialize();
  const options = { url, storageKey: "bench", maxProgressPerSecond: 0, shareAcrossTabs: share };
  const socket = (window.__socket = new JobSocket(options));
  const seen = (window.__seen = { events: 0, completed: 0, errors: [] });
  socket.onError((error) => seen.errors.push(`${error.code}: ${error.message}`));
  window.__watch = (jobs) => {
    for (const job of jobs) {
      socket.subscribeGeneration(job, {
        onEvent: (_data, meta) => {
          seen.events += 1;
          if (meta.event === "completed") seen.completed += 1;
        },
      });
    }
    return true;
  };
  return true;
}

const metric = (metrics, name) => metrics.find((entry) => entry.name === name)?.value ?? NaN;

async function runMode({ cdp, chromiumPgid, server, config, share }) {
  const scope = `bench-tabs-${share ? "shared" : "off"}-${randomBytes(3).toString("hex")}`;
  const api = async (method, route, body) => {
    const response = await fetch(`${server.url}${route}`, {
      method,
      headers: { "content-type": "application/json", "x-admin-key": server.adminKey },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${route}: HTTP ${response.status}`);
    return response.json();
  };
  // One browser context per mode: the ten pages share its storage, locks and channels.
  const { browserContextId } = await cdp.send("Target.createBrowserContext");
  try {
    const pages = [];
    for (let n = 0; n < config.tabs; n++) {
      const { targetId } = await cdp.send("Target.createTarget", { url: `${server.url}/healthz`, browserContextId });
      const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
      pages.push({ targetId, sessionId });
    }
    for (const { sessionId } of pages) {
      for (let waited = 0; ; waited += 50) {
        if ((await evaluate(cdp, sessionId, () => document.readyState)) === "complete") break;
        if (waited > 20_000) throw new Error("a bench tab did not load within 20 s");
        await pause(50);
      }
      await cdp.send("Performance.enable", { timeDomain: "threadTicks" }, sessionId);
    }
    const url = `${server.url.replace("http", "ws")}/ws?scope=${scope}`;
    for (const { sessionId } of pages) await evaluate(cdp, sessionId, setUpTab, { url, share });
    const roles = async () => Promise.all(pages.map(({ sessionId }) => evaluate(cdp, sessionId, () => window.__socket.tabRole)));
    let seenRoles;
    for (let waited = 0; ; waited += 50) {
      seenRoles = await roles();
      const leaders = seenRoles.filter((role) => role === "leader").length;
      if (share ? leaders === 1 && seenRoles.every((role) => role === "leader" || role === "follower") : seenRoles.every((role) => role === "off")) break;
      if (waited > 20_000) throw new Error(`the tabs' roles did not settle within 20 s: ${seenRoles}`);
      await pause(50);
    }
    const jobs = [];
    for (let n = 0; n < config.jobs; n++) {
      const { id } = await api("POST", `/api/v1/generations?scope=${scope}`, {
        clips: config.clips,
        steps_per_clip: config.steps,
        step_ms: config.stepMs,
      });
      jobs.push(id);
    }
    const before = await Promise.all(pages.map(({ sessionId }) => cdp.send("Performance.getMetrics", {}, sessionId)));
    const cpuBefore = { chromium: await groupCpuMs(chromiumPgid), server: await processCpuMs(server.pid) };
    const started = performance.now();
    await Promise.all(pages.map(({ sessionId }) => evaluate(cdp, sessionId, (ids) => window.__watch(ids), jobs)));
    let during;
    for (let waited = 0; ; waited += 100) {
      const seen = await Promise.all(pages.map(({ sessionId }) => evaluate(cdp, sessionId, () => window.__seen)));
      // The sockets open while every tab watches the jobs (read once, half way or so).
      if (!during && seen.every((page) => page.events > 0)) during = await api("GET", `/admin/stats?scope=${scope}`);
      if (seen.every((page) => page.completed === config.jobs)) break;
      if (waited > 60_000) throw new Error(`the jobs did not complete in every tab within 60 s: ${JSON.stringify(seen)}`);
      await pause(100);
    }
    const elapsedMs = performance.now() - started;
    // Figures over events lost or repeated would mean nothing: every tab must have delivered
    // every event of every job once (a generation of c clips of s steps has c × (s + 1) + 4).
    const expected = config.jobs * (config.clips * (config.steps + 1) + 4);
    const counts = (await Promise.all(pages.map(({ sessionId }) => evaluate(cdp, sessionId, () => window.__seen)))).map((page) => page.events);
    if (counts.some((n) => n !== expected)) {
      throw new Error(`${share ? "shared" : "not shared"}: the tabs delivered ${counts.join(", ")} events, not ${expected} each`);
    }
    const after = await Promise.all(pages.map(({ sessionId }) => cdp.send("Performance.getMetrics", {}, sessionId)));
    const cpuAfter = { chromium: await groupCpuMs(chromiumPgid), server: await processCpuMs(server.pid) };
    const seen = await Promise.all(pages.map(({ sessionId }) => evaluate(cdp, sessionId, () => window.__seen)));
    const ended = await api("GET", `/admin/stats?scope=${scope}`);
    const tabs = pages.map((_, n) => {
      const delta = (name) => metric(after[n].metrics, name) - metric(before[n].metrics, name);
      return {
        role: seenRoles[n],
        events: seen[n].events,
        errors: seen[n].errors.length,
        script_ms: delta("ScriptDuration") * 1000,
        task_ms: delta("TaskDuration") * 1000,
        script_us_per_event: (delta("ScriptDuration") * 1e6) / seen[n].events,
        task_us_per_event: (delta("TaskDuration") * 1e6) / seen[n].events,
      };
    });
    return {
      share,
      sockets_open_while_watching: during.ws_open,
      sockets_total: ended.ws_connections_total,
      elapsed_ms: elapsedMs,
      events_per_tab: seen[0].events,
      chromium_cpu_ms: cpuAfter.chromium - cpuBefore.chromium,
      server_cpu_ms: cpuAfter.server - cpuBefore.server,
      tabs,
    };
  } finally {
    await cdp.send("Target.disposeBrowserContext", { browserContextId }).catch(() => {});
  }
}

const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;

/** The runs of one mode taken together: their tabs, the highest socket counts, summed times. */
function combine(runs) {
  const sum = (key) => runs.reduce((total, run) => total + run[key], 0);
  return {
    tabs: runs.flatMap((run) => run.tabs),
    sockets_open_while_watching: Math.max(...runs.map((run) => run.sockets_open_while_watching)),
    sockets_total: Math.max(...runs.map((run) => run.sockets_total)),
    events_per_tab: Math.min(...runs.map((run) => run.events_per_tab)),
    chromium_cpu_ms: sum("chromium_cpu_ms") / runs.length,
    server_cpu_ms: sum("server_cpu_ms") / runs.length,
    elapsed_ms: sum("elapsed_ms") / runs.length,
  };
}

/** Runs both modes; resolves with the report's `tabs` section. */
export async function benchTabs({ root, quick }) {
  const config = tabsConfig(quick);
  const server = await startReferenceServer(root);
  running.add(server.stop);
  let chromium;
  try {
    chromium = await startChromium();
    running.add(chromium.stop);
    const runs = { shared: [], off: [] };
    for (const mode of config.order) {
      runs[mode].push(await runMode({ cdp: chromium.cdp, chromiumPgid: chromium.pgid, server, config, share: mode === "shared" }));
    }
    const shared = combine(runs.shared);
    const off = combine(runs.off);
    const leader = shared.tabs.filter((tab) => tab.role === "leader");
    const followers = shared.tabs.filter((tab) => tab.role === "follower");
    const totalEvents = (mode) => mode.tabs.reduce((sum, tab) => sum + tab.events, 0);
    const per = (mode, key) => (mode.tabs.reduce((sum, tab) => sum + tab[key], 0) * 1000) / totalEvents(mode);
    const summary = {
      config,
      sockets_shared: shared.sockets_open_while_watching,
      sockets_shared_total: shared.sockets_total,
      sockets_off: off.sockets_open_while_watching,
      sockets_off_total: off.sockets_total,
      events_per_tab: shared.events_per_tab,
      events_per_tab_off: off.events_per_tab,
      leader_script_us_per_event: mean(leader.map((tab) => tab.script_us_per_event)),
      leader_task_us_per_event: mean(leader.map((tab) => tab.task_us_per_event)),
      follower_script_us_per_event: mean(followers.map((tab) => tab.script_us_per_event)),
      follower_task_us_per_event: mean(followers.map((tab) => tab.task_us_per_event)),
      off_script_us_per_event: mean(off.tabs.map((tab) => tab.script_us_per_event)),
      off_task_us_per_event: mean(off.tabs.map((tab) => tab.task_us_per_event)),
      // Over all ten tabs: the pages' CPU per event delivered (per tab and event).
      all_tabs_task_us_per_event_shared: per(shared, "task_ms"),
      all_tabs_task_us_per_event_off: per(off, "task_ms"),
      chromium_cpu_ms_shared: shared.chromium_cpu_ms,
      chromium_cpu_ms_off: off.chromium_cpu_ms,
      server_cpu_ms_shared: shared.server_cpu_ms,
      server_cpu_ms_off: off.server_cpu_ms,
      elapsed_ms_shared: shared.elapsed_ms,
      elapsed_ms_off: off.elapsed_ms,
      errors: shared.tabs.concat(off.tabs).reduce((sum, tab) => sum + tab.errors, 0),
      runs,
    };
    summary.leader_vs_off = summary.leader_task_us_per_event / summary.off_task_us_per_event;
    summary.follower_vs_off = summary.follower_task_us_per_event / summary.off_task_us_per_event;
    summary.all_tabs_shared_vs_off = summary.all_tabs_task_us_per_event_shared / summary.all_tabs_task_us_per_event_off;
    summary.chromium_cpu_shared_vs_off = summary.chromium_cpu_ms_shared / summary.chromium_cpu_ms_off;
    return summary;
  } finally {
    await chromium?.stop();
    await server.stop();
    running.delete(chromium?.stop);
    running.delete(server.stop);
  }
}

const fmt = (n, digits = 0) => (n == null || Number.isNaN(n) ? "n/a" : Number(n).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }));

/** The section's markdown table. */
export function tabsTable(t) {
  const c = t.config;
  return [
    `${c.tabs} tabs of one app, each watching the same ${c.jobs} jobs (${fmt(t.events_per_tab)} events per tab; ${c.stepMs} ms between two events of a job; runs ${c.order.join(", ")}). CPU is the page's main thread (CDP Performance, thread time) per event it delivered; the Chromium, server and run figures are per run.`,
    ``,
    `| measure | shared (shareAcrossTabs) | not shared | ratio |`,
    `|---|---|---|---|`,
    `| sockets at the server while every tab watches (opened in all) | ${fmt(t.sockets_shared)} (${fmt(t.sockets_shared_total)}) | ${fmt(t.sockets_off)} (${fmt(t.sockets_off_total)}) | — |`,
    `| leader tab: task / script CPU per event (µs) | ${fmt(t.leader_task_us_per_event, 1)} / ${fmt(t.leader_script_us_per_event, 1)} | ${fmt(t.off_task_us_per_event, 1)} / ${fmt(t.off_script_us_per_event, 1)} (each tab) | ${fmt(t.leader_vs_off, 2)}× |`,
    `| follower tab: task / script CPU per event (µs) | ${fmt(t.follower_task_us_per_event, 1)} / ${fmt(t.follower_script_us_per_event, 1)} | ${fmt(t.off_task_us_per_event, 1)} / ${fmt(t.off_script_us_per_event, 1)} (each tab) | ${fmt(t.follower_vs_off, 2)}× |`,
    `| all ${c.tabs} tabs: task CPU per event delivered (µs) | ${fmt(t.all_tabs_task_us_per_event_shared, 1)} | ${fmt(t.all_tabs_task_us_per_event_off, 1)} | ${fmt(t.all_tabs_shared_vs_off, 2)}× |`,
    `| all Chromium processes, CPU over the run (ms) | ${fmt(t.chromium_cpu_ms_shared)} | ${fmt(t.chromium_cpu_ms_off)} | ${fmt(t.chromium_cpu_shared_vs_off, 2)}× |`,
    `| reference server (debug build), CPU over the run (ms) | ${fmt(t.server_cpu_ms_shared)} | ${fmt(t.server_cpu_ms_off)} | — |`,
    `| run, from the subscriptions to the last completed (ms) | ${fmt(t.elapsed_ms_shared)} | ${fmt(t.elapsed_ms_off)} | — |`,
  ].join("\n");
}
