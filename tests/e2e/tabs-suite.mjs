// Issue 13, one connection for all tabs of an app, in Chromium and in Firefox (a file for
// each, tabs-chromium.test.mjs and tabs-firefox.test.mjs, so each stays within the runner's
// time limit per file): same-origin tabs with the same `url` and `storageKey` elect one leader
// (Web Locks), which holds the one socket and serves the others over BroadcastChannel. Every
// tab of a test is a tab of ONE profile (browsers.mjs newContext()), so they share
// localStorage, Web Locks and BroadcastChannel.
//
// Each test has a scope of its own on the one reference server (the socket URL, the REST API
// and the admin counters all name it), so the server's counters are the test's own:
// `ws_connections_total` and `ws_open` say how many sockets the tabs opened, and
// `handled_messages` / `acked_messages` how often the server saw each message.
//
// What every tab must see is the server's own record of the job: its events replayed from the
// start over a plain WebSocket (from Node, in a scope of its own) once the job is over.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { startServer } from "./support.mjs";
import { BROWSERS, launch } from "./browsers.mjs";

/** Short tab timers, so a frozen leader is replaced in about a second instead of five. */
const TAB_TIMERS = { tabHeartbeatMs: 200, tabTimeoutMs: 1000 };
/**
 * For a leader that closes or reloads: its lock is released at once, so a follower takes over
 * within about a second whatever tabTimeoutMs says. A long one here tells that apart from a
 * takeover after silence (at least tabTimeoutMs − tabHeartbeatMs).
 */
const HANDOFF_TIMERS = { tabHeartbeatMs: 200, tabTimeoutMs: 5000 };
/** The longest handoff, from the close or reload command, these tests accept. */
const HANDOFF_LIMIT_MS = 1_000;
/** Every event delivered (no progress coalescing), and quick reconnects. */
const BASE = { maxProgressPerSecond: 0, reconnectInitialDelayMs: 50, reconnectMaxDelayMs: 300 };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const newScope = (label) => `tabs-${label}-${randomBytes(4).toString("hex")}`;

let server;
/** Where a failing test leaves its tabs' full records. */
const failures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../target/e2e-failures");

async function api(method, route, body) {
  const response = await fetch(`${server.url}${route}`, {
    method,
    headers: { "content-type": "application/json", ...(route.startsWith("/admin") ? { "x-admin-key": server.adminKey } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${route}: HTTP ${response.status}`);
  return response.json();
}

/** Starts a generation of `clips` × `steps` progress events, `stepMs` apart; resolves with its id. */
async function startJob(scope, { clips, steps, stepMs }) {
  const { id } = await api("POST", `/api/v1/generations?scope=${scope}`, { clips, steps_per_clip: steps, step_ms: stepMs });
  return id;
}

/** The scope's counters: ws_connections_total, ws_open, handled_messages, acked_messages, … */
const stats = (scope) => api("GET", `/admin/stats?scope=${scope}`);

/**
 * The job's events as the server logged them, `seq:event` each, read by subscribing from the
 * start over a WebSocket of another scope (so the test's own counters do not move).
 */
function serverEvents(scope, job) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${server.url.replace("http", "ws")}/ws?scope=${scope}-reference`);
    const events = [];
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`the server's replay of ${job} did not end within 10 s: ${events.join(" ")}`));
    }, 10_000);
    socket.on("message", (raw) => {
      const frames = [JSON.parse(String(raw))].flat();
      for (const frame of frames) {
        if (frame.type === "connected") socket.send(JSON.stringify({ type: "subscribe", channel: "generation", id: job, since: 0 }));
        if (frame.type === "event" && frame.id === job) {
          events.push(`${frame.seq}:${frame.event}`);
          if (frame.event === "completed" || frame.event === "error") {
            clearTimeout(timer);
            socket.close();
            resolve(events);
          }
        }
      }
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Runs in a tab (after every load): loads the package, makes a JobSocket and records what it
 * does, with the page's clock (`performance.timeOrigin + performance.now()`, milliseconds since
 * the epoch like Node's Date.now()): its tab role on every change (read every 10 ms), the
 * WebSockets the page opens (the constructor is wrapped first), its states, errors, dropped
 * messages, each job's events, the ids `send` returned, and the gaps of more than 100 ms
 * between two runs of a 20 ms timer (a page that did not run).
 */
async function setUpTab({ url, storageKey, options }) {
  const now = () => performance.timeOrigin + performance.now();
  const record = (window.__tab = {
    roles: [],
    sockets: [],
    states: [],
    errors: [],
    dropped: [],
    events: {},
    ids: [],
    stalls: [],
    loadedAt: now(),
  });
  // Every frame of the page's sockets, in short (the last 500), for failure messages.
  record.frames = [];
  const note = (socket, direction, text) => {
    let frames;
    try {
      frames = [JSON.parse(text)].flat();
    } catch {
      frames = [{ type: `(not JSON: ${String(text).slice(0, 40)})` }];
    }
    for (const frame of frames) {
      const parts = [frame.type, frame.channel, frame.id?.slice?.(0, 12), frame.seq, frame.event, frame.since !== undefined ? `since=${frame.since}` : undefined];
      record.frames.push(`${socket}${direction} ${parts.filter((part) => part !== undefined).join(" ")} @${Math.round(now())}`);
    }
    if (record.frames.length > 500) record.frames.splice(0, record.frames.length - 500);
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(socketUrl, protocols) {
      super(socketUrl, protocols);
      const entry = { url: String(socketUrl), created: now() };
      const index = (this.index = record.sockets.push(entry));
      this.addEventListener("open", () => (entry.opened = now()));
      this.addEventListener("close", () => (entry.closed = now()));
      this.addEventListener("message", (message) => note(index, "<", message.data));
    }
    send(text) {
      note(this.index, ">", text);
      super.send(text);
    }
  };
  // For failure messages only, never for assertions: what the tabs say to each other, heard on
  // the channel the client names after its outbox's key (the URL without its query, and the
  // storageKey; an internal name: if it changes, this hears nothing and says so).
  record.channel = [];
  const snoop = new BroadcastChannel(`jobsocket:v1:outbox:${url.split("?")[0]}${storageKey ? `:${storageKey}` : ""}`);
  snoop.onmessage = (message) => {
    record.channel.push(`${String(message.data).slice(0, 200)} @${Math.round(now())}`);
    if (record.channel.length > 500) record.channel.splice(0, record.channel.length - 500);
  };
  const { initialize, JobSocket } = await import("/pkg/index.js");
  await initialize();
  const socket = (window.__socket = new JobSocket({ url, storageKey, ...options }));
  socket.onStateChange((change) => record.states.push({ at: now(), status: change.status, reason: change.reason }));
  socket.onError((error) => record.errors.push({ at: now(), code: error.code, message: error.message }));
  socket.onOutboxDropped((dropped) => record.dropped.push(dropped));
  const role = () => {
    const current = socket.tabRole;
    if (record.roles[record.roles.length - 1]?.role !== current) record.roles.push({ role: current, at: now() });
  };
  role();
  setInterval(role, 10);
  let tick = now();
  setInterval(() => {
    const at = now();
    if (at - tick > 100) record.stalls.push({ from: tick, to: at });
    tick = at;
  }, 20);
  window.__watch = (job) => {
    const list = (record.events[job] = []);
    socket.subscribeGeneration(job, { onEvent: (_data, meta) => list.push({ seq: meta.seq, event: meta.event, at: now() }) });
    return true;
  };
  window.__send = ({ count, tag }) => {
    for (let n = 0; n < count; n++) record.ids.push(socket.send("note", { tag, n }));
    return record.ids.length;
  };
  return true;
}

/** What a tab holds now, small enough for a failure message. */
const summary = (tab) =>
  tab.evaluate(() => {
    const record = window.__tab;
    if (!record) return "(not set up)";
    // Per job: how many events, the seqs missing below the highest, the repeated ones.
    const events = Object.fromEntries(
      Object.entries(record.events).map(([job, list]) => {
        const seqs = list.map((e) => e.seq);
        const highest = Math.max(0, ...seqs);
        const missing = [];
        for (let seq = 1; seq <= highest; seq++) if (!seqs.includes(seq)) missing.push(seq);
        const repeated = seqs.filter((seq, at) => seqs.indexOf(seq) !== at);
        return [job.slice(0, 12), { count: list.length, highest, missing: missing.slice(0, 30), repeated: repeated.slice(0, 30), last: list.at(-1)?.event }];
      }),
    );
    return {
      role: window.__socket?.tabRole,
      state: window.__socket?.state?.status,
      outbox: window.__socket?.state?.outboxSize,
      roles: record.roles.map((r) => `${r.role}@${Math.round(r.at)}`),
      sockets: record.sockets,
      states: record.states.map((s) => `${s.status}(${s.reason})@${Math.round(s.at)}`),
      errors: record.errors,
      dropped: record.dropped,
      sent: record.ids.length,
      stalls: record.stalls,
      events,
      firstEvents: Object.fromEntries(
        Object.entries(record.events).map(([job, list]) => [job.slice(0, 12), list.slice(0, 5).map((e) => `${e.seq}:${e.event}@${Math.round(e.at)}`)]),
      ),
      // Socket number, direction, and the frame in short; the last 12 (all: the file).
      frames: record.frames.slice(-12),
      // The tab channel as this page heard it (all tabs' messages, its own too); the last 12.
      loadedAt: Math.round(record.loadedAt),
      channel: record.channel.slice(-12).map((message) => message.slice(0, 120)),
    };
  });

/**
 * Opens `count` tabs of one new profile of `browser` on the server's origin, runs
 * `body({ context, tabs })`, and closes the profile whatever the outcome; a failure's message
 * gains what every tab still open holds, and its full records go to
 * target/e2e-failures/SCOPE.json.
 */
async function withTabs(browser, scope, count, body) {
  const context = await browser.newContext();
  const tabs = [];
  try {
    for (let n = 0; n < count; n++) {
      const tab = await context.newTab();
      await tab.goto(`${server.url}/healthz`);
      tabs.push(tab);
    }
    return await body({ context, tabs });
  } catch (error) {
    const full = {};
    for (const tab of tabs) {
      if (tab.closed) continue;
      const answer = (read) =>
        Promise.race([read(tab), sleep(5_000).then(() => "(no answer within 5 s)")]).catch((problem) => `(could not be read: ${problem.message})`);
      error.message += `\n${tab.name}: ${JSON.stringify(await answer(summary))}; page errors: ${JSON.stringify(tab.problems)}`;
      full[tab.name] = await answer(recordOf);
    }
    // Every record in full (each event's arrival time, every frame and channel message kept).
    const file = path.join(failures, `${scope}.json`);
    await mkdir(failures, { recursive: true });
    await writeFile(file, JSON.stringify(full, null, 1));
    error.message += `\nthe tabs' full records: ${file}`;
    throw error;
  } finally {
    await context.close();
  }
}

/** Sets up `tab` as a client of `url` with `storageKey` and `options`. */
const client = (tab, url, storageKey, options) => tab.evaluate(setUpTab, { url, storageKey, options });

const socketUrl = (scope, extra = "") => `${server.url.replace("http", "ws")}/ws?scope=${scope}${extra}`;

/** Polls `check()` (async) until it returns a truthy value; fails with `what` after `timeoutMs`. */
async function eventually(what, check, { timeoutMs = 20_000, interval = 25 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(interval);
  }
}

const roleOf = (tab) => tab.evaluate(() => window.__socket.tabRole);
const roles = (tabs) => Promise.all(tabs.map(roleOf));

/** Waits until exactly one of `tabs` leads and the others follow; resolves with the leader's index. */
async function settled(tabs) {
  let last;
  await eventually(
    "one leader and the other tabs following",
    async () => {
      last = await roles(tabs);
      return last.filter((role) => role === "leader").length === 1 && last.every((role) => role === "leader" || role === "follower");
    },
    { timeoutMs: 10_000 },
  ).catch((error) => {
    error.message += `: roles ${JSON.stringify(last)}`;
    throw error;
  });
  return last.indexOf("leader");
}

const watch = (tab, job) => tab.evaluate((id) => window.__watch(id), job);

/** The job's events a tab delivered, `seq:event` each, in delivery order. */
const delivered = (tab, job) =>
  tab.evaluate((id) => (window.__tab.events[id] ?? []).map((e) => `${e.seq}:${e.event}`), job);

const count = (tab, job) => tab.evaluate((id) => window.__tab.events[id]?.length ?? 0, job);

const done = (tab, job) => tab.evaluate((id) => (window.__tab.events[id] ?? []).some((e) => e.event === "completed"), job);

/** Waits until every one of `tabs` delivered the job's `completed`. */
const finished = (tabs, job) =>
  eventually(`every tab to deliver ${job}'s completed`, async () => (await Promise.all(tabs.map((tab) => done(tab, job)))).every(Boolean), {
    timeoutMs: 30_000,
  });

/** Asserts that `tab` delivered exactly the server's events of `job`: each once, in seq order. */
async function assertEveryEventOnce(tab, job, expected, label = tab.name) {
  const got = await delivered(tab, job);
  const seqs = got.map((entry) => Number(entry.split(":")[0]));
  const missing = expected.map((_, index) => index + 1).filter((seq) => !seqs.includes(seq));
  const repeated = seqs.filter((seq, at) => seqs.indexOf(seq) !== at);
  const backward = seqs.filter((seq, at) => at > 0 && seq < seqs[at - 1]);
  assert.deepEqual(
    seqs,
    expected.map((_, index) => index + 1),
    `${label}: seqs 1..${expected.length}, each once, in order; it delivered ${seqs.length} events, first ${seqs.slice(0, 3)}, ` +
      `missing ${JSON.stringify(missing)}, repeated ${JSON.stringify(repeated)}, after a higher one ${JSON.stringify(backward)}`,
  );
  assert.deepEqual(got, expected, `${label}: the server's events`);
}

/** The tab's record: role changes, sockets, events with arrival times, stalls. */
const recordOf = (tab) => tab.evaluate(() => window.__tab);

/**
 * How long a handoff took, from `since` (Node's clock when the leader was closed, reloaded or
 * frozen): until a remaining tab became leader, until that tab's socket opened, and until the
 * first event of `job` it delivered after that.
 */
async function handoff(tabs, since, job) {
  for (const tab of tabs) {
    const record = await recordOf(tab);
    const became = record.roles.find((entry) => entry.role === "leader" && entry.at >= since);
    if (!became) continue;
    const socket = record.sockets.find((entry) => entry.opened >= since);
    const firstEvent = socket && (record.events[job] ?? []).find((entry) => entry.at >= socket.opened);
    return {
      tab: tab.name,
      leaderAfterMs: Math.round(became.at - since),
      socketOpenAfterMs: socket ? Math.round(socket.opened - since) : null,
      firstEventAfterMs: firstEvent ? Math.round(firstEvent.at - since) : null,
    };
  }
  return null;
}

/** The longest time between two events of `job` `tab` delivered (the stall its user saw). */
async function longestGap(tab, job) {
  const events = (await recordOf(tab)).events[job] ?? [];
  let gap = 0;
  for (let n = 1; n < events.length; n++) gap = Math.max(gap, events[n].at - events[n - 1].at);
  return Math.round(gap);
}

/** The suite in browser `name` (tabs-chromium.test.mjs, tabs-firefox.test.mjs). */
export function tabsSuite(name) {
  if (!BROWSERS.includes(name)) return;
  describe(`tabs share one connection in ${name}`, () => {
    let browser;
    before(async () => {
      // The pages are of http://127.0.0.1:PORT; this lets them open sockets to localhost:PORT.
      server = await startServer(["--allow-origin", "http://127.0.0.1:*"]);
      browser = await launch(name);
    });
    after(async () => {
      await browser?.close();
      await server?.stop();
    });

    test("three tabs with the same url and storageKey: one socket at the server, one leader, every event once in each tab", async () => {
      const scope = newScope("one-socket");
      await withTabs(browser, scope, 3, async ({ tabs }) => {
        // shareAcrossTabs is left out: it is on by default where Web Locks and BroadcastChannel exist.
        for (const tab of tabs) await client(tab, socketUrl(scope), "app", { ...BASE, ...TAB_TIMERS });
        await settled(tabs);
        const job = await startJob(scope, { clips: 2, steps: 10, stepMs: 40 });
        for (const tab of tabs) await watch(tab, job);
        // While the three watch the job: one socket.
        await eventually("the job's first events in every tab", async () => (await Promise.all(tabs.map((tab) => count(tab, job)))).every((n) => n >= 3));
        const during = await stats(scope);
        assert.deepEqual({ total: during.ws_connections_total, open: during.ws_open }, { total: 1, open: 1 }, "while the job runs");
        await finished(tabs, job);
        const expected = await serverEvents(scope, job);
        for (const tab of tabs) await assertEveryEventOnce(tab, job, expected);
        const ended = await stats(scope);
        assert.deepEqual({ total: ended.ws_connections_total, open: ended.ws_open }, { total: 1, open: 1 }, "after the job");
        const final = await roles(tabs);
        assert.equal(final.filter((role) => role === "leader").length, 1, `one leader: ${final}`);
        assert.equal(final.filter((role) => role === "follower").length, 2, `two followers: ${final}`);
        // The socket was opened by the leader's page and by no other.
        const opened = await Promise.all(tabs.map(async (tab) => (await recordOf(tab)).sockets.length));
        assert.deepEqual(opened, final.map((role) => (role === "leader" ? 1 : 0)), "WebSockets each page opened");
        for (const tab of tabs) assert.deepEqual(tab.problems, [], `${tab.name}: page errors`);
      });
    });

    test("the leader tab closes in the middle of a job: the other tabs still get every event once, in order", async () => {
      const scope = newScope("close");
      await withTabs(browser, scope, 3, async ({ tabs }) => {
        for (const tab of tabs) await client(tab, socketUrl(scope), "app", { ...BASE, ...HANDOFF_TIMERS, shareAcrossTabs: true });
        const leader = await settled(tabs);
        // About 66 events, 50 ms apart: 3.3 s, the handoff well inside it.
        const job = await startJob(scope, { clips: 3, steps: 20, stepMs: 50 });
        for (const tab of tabs) await watch(tab, job);
        await eventually("ten events in every tab", async () => (await Promise.all(tabs.map((tab) => count(tab, job)))).every((n) => n >= 10));
        const rest = tabs.filter((_, index) => index !== leader);
        const closedAt = Date.now();
        await tabs[leader].close();
        await settled(rest);
        await finished(rest, job);
        const stillRunning = await Promise.all(rest.map(async (tab) => (await recordOf(tab)).events[job].find((e) => e.event === "completed").at > closedAt));
        assert.ok(stillRunning.every(Boolean), "the job was still running when the leader closed");
        const expected = await serverEvents(scope, job);
        for (const tab of rest) await assertEveryEventOnce(tab, job, expected);
        const took = await handoff(rest, closedAt, job);
        assert.ok(took, "a remaining tab became leader after the close");
        const gaps = await Promise.all(rest.map((tab) => longestGap(tab, job)));
        console.log(`[${name}] handoff after closing the leader: ${JSON.stringify(took)}; longest gap between two events per remaining tab: ${gaps.join(", ")} ms (events 50 ms apart)`);
        assert.ok(took.leaderAfterMs <= HANDOFF_LIMIT_MS, `a follower led ${took.leaderAfterMs} ms after the close (tabTimeoutMs ${HANDOFF_TIMERS.tabTimeoutMs})`);
        const counters = await stats(scope);
        // One socket per leader: the old one's and the new one's, and only the new one open.
        assert.deepEqual({ total: counters.ws_connections_total, open: counters.ws_open }, { total: 2, open: 1 });
        for (const tab of rest) assert.deepEqual(tab.problems, [], `${tab.name}: page errors`);
      });
    });

    test("each tab reloads in turn while a job runs: the reloaded page gets the whole job once, the others lose nothing", async () => {
      const scope = newScope("reload");
      const options = { ...BASE, ...HANDOFF_TIMERS, shareAcrossTabs: true };
      await withTabs(browser, scope, 3, async ({ tabs }) => {
        for (const tab of tabs) await client(tab, socketUrl(scope), "app", options);
        await settled(tabs);
        // About 166 events, 40 ms apart: 6.6 s for three reloads.
        const job = await startJob(scope, { clips: 4, steps: 40, stepMs: 40 });
        for (const tab of tabs) await watch(tab, job);
        const reloads = [];
        for (const [index, tab] of tabs.entries()) {
          // Ten more events everywhere since the last reload, then this tab goes.
          const counts = await Promise.all(tabs.map((other) => count(other, job)));
          await eventually("ten more events in every tab", async () =>
            (await Promise.all(tabs.map((other) => count(other, job)))).every((n, at) => n >= counts[at] + 10),
          );
          // What the tab has so far is the start of the job: seqs 1..k, once each, in order.
          const before = await delivered(tab, job);
          assert.deepEqual(before.map((entry) => Number(entry.split(":")[0])), before.map((_, at) => at + 1), `${tab.name} before its reload`);
          assert.ok(!before.some((entry) => entry.endsWith(":completed")), `the job still ran when ${tab.name} reloaded`);
          const wasLeader = (await roleOf(tab)) === "leader";
          const reloadedAt = Date.now();
          await tab.reload();
          await client(tab, socketUrl(scope), "app", options);
          await watch(tab, job);
          await settled(tabs);
          if (wasLeader) {
            // Measured now: a tab reloaded later loses its record.
            await eventually("an event through the new leader's socket", async () => (await handoff(tabs, reloadedAt, job))?.firstEventAfterMs != null);
            reloads.push({ tab: tab.name, handoff: await handoff(tabs, reloadedAt, job) });
          }
        }
        await finished(tabs, job);
        const expected = await serverEvents(scope, job);
        for (const tab of tabs) await assertEveryEventOnce(tab, job, expected);
        for (const { tab, handoff: took } of reloads) console.log(`[${name}] handoff after reloading the leader (${tab}): ${JSON.stringify(took)}`);
        // There is always a leader, and each tab reloads once: one of them at least led then.
        assert.ok(reloads.length >= 1, "one of the reloaded tabs was the leader when it reloaded");
        for (const { tab, handoff: took } of reloads) {
          assert.ok(took.leaderAfterMs <= HANDOFF_LIMIT_MS, `a tab led ${took.leaderAfterMs} ms after ${tab} (the leader) reloaded`);
        }
        const counters = await stats(scope);
        assert.equal(counters.ws_open, 1, "one socket open at the end");
        for (const tab of tabs) assert.deepEqual(tab.problems, [], `${tab.name}: page errors`);
      });
    });

    test("messages sent from followers and the leader are handled and acked once each", async () => {
      const scope = newScope("send");
      await withTabs(browser, scope, 3, async ({ tabs }) => {
        for (const tab of tabs) await client(tab, socketUrl(scope), "app", { ...BASE, ...TAB_TIMERS, shareAcrossTabs: true });
        const leader = await settled(tabs);
        const plan = tabs.map((_, index) => (index === leader ? 5 : 20));
        await Promise.all(tabs.map((tab, index) => tab.evaluate(sendFromTab, { count: plan[index], tag: tab.name })));
        const sent = plan.reduce((a, b) => a + b, 0);
        await eventually("every tab's outbox to empty", async () =>
          (await Promise.all(tabs.map((tab) => tab.evaluate(() => window.__socket.state.outboxSize)))).every((size) => size === 0),
        );
        const ids = (await Promise.all(tabs.map(async (tab) => (await recordOf(tab)).ids))).flat();
        assert.equal(new Set(ids).size, sent, "send returned a different id for every message");
        // The server counts distinct ids as handled and every `message` frame it acks. No socket
        // dropped here (one connection in all), so nothing had a reason to be sent twice: one
        // ack per message, exactly, also a second later (a late duplicate would show there).
        const expected = { handled: sent, acked: sent, sockets: 1 };
        const read = async () => {
          const counters = await stats(scope);
          return { handled: counters.handled_messages, acked: counters.acked_messages, sockets: counters.ws_connections_total };
        };
        assert.deepEqual(await read(), expected, "when the outboxes emptied");
        await sleep(1_000);
        assert.deepEqual(await read(), expected, "a second later");
        const dropped = (await Promise.all(tabs.map(async (tab) => (await recordOf(tab)).dropped))).flat();
        assert.deepEqual(dropped, [], "no message dropped");
      });
    });

    test("messages a follower sends while the leader closes are handled once each", async () => {
      const scope = newScope("send-handoff");
      await withTabs(browser, scope, 3, async ({ tabs }) => {
        for (const tab of tabs) await client(tab, socketUrl(scope), "app", { ...BASE, ...HANDOFF_TIMERS, shareAcrossTabs: true });
        const leader = await settled(tabs);
        const rest = tabs.filter((_, index) => index !== leader);
        // Ten just before the close (some may be in the old leader's hands, sent or not, acked
        // or not, when it goes) and ten while no tab leads.
        await rest[0].evaluate(sendFromTab, { count: 10, tag: "before" });
        await tabs[leader].close();
        await rest[0].evaluate(sendFromTab, { count: 10, tag: "after" });
        await settled(rest);
        await eventually("the followers' outboxes to empty", async () =>
          (await Promise.all(rest.map((tab) => tab.evaluate(() => window.__socket.state.outboxSize)))).every((size) => size === 0),
        );
        const counters = await eventually("20 messages handled", async () => {
          const now = await stats(scope);
          return now.handled_messages >= 20 && now;
        });
        await sleep(1_000);
        const later = await stats(scope);
        // A message the old leader sent whose ack it never read is sent again by the new one:
        // the server acks it again (acked_messages counts that) but handles it once.
        assert.equal(later.handled_messages, 20, "each message handled once");
        assert.ok(later.acked_messages >= 20 && later.acked_messages <= 30, `acks: ${later.acked_messages} (20, plus at most the 10 in flight at the close)`);
        console.log(`[${name}] 20 messages across the leader's close: handled ${counters.handled_messages}, acked ${later.acked_messages}`);
        const dropped = (await Promise.all(rest.map(async (tab) => (await recordOf(tab)).dropped))).flat();
        assert.deepEqual(dropped, [], "no message dropped");
      });
    });

    test("a frozen leader is replaced within about tabTimeoutMs, and follows once it runs again", async () => {
      const scope = newScope("frozen");
      await withTabs(browser, scope, 3, async ({ tabs }) => {
        for (const tab of tabs) await client(tab, socketUrl(scope), "app", { ...BASE, ...TAB_TIMERS, shareAcrossTabs: true });
        const leader = await settled(tabs);
        const rest = tabs.filter((_, index) => index !== leader);
        // About 166 events 40 ms apart: 6.6 s, for the 3 s freeze and the recovery.
        const job = await startJob(scope, { clips: 4, steps: 40, stepMs: 40 });
        for (const tab of tabs) await watch(tab, job);
        await eventually("ten events in every tab", async () => (await Promise.all(tabs.map((tab) => count(tab, job)))).every((n) => n >= 10));
        const freezeMs = 3_000;
        const frozenAt = Date.now();
        if (name === "chromium") {
          // CDP's page lifecycle: the page's task queues stop (timers, socket and channel
          // messages, lock callbacks all wait), as Chromium does to a background tab; its lock
          // stays held.
          await tabs[leader].freeze();
        } else {
          // Firefox has no freeze that WebDriver can reach. The nearest honest stand-in: a
          // synchronous busy loop in the leader's page, started from a timer so the WebDriver
          // call returns first. The page runs nothing else for `freezeMs` and keeps its lock;
          // only its socket's bytes still arrive (read by the browser, queued for the page).
          // Firefox runs these windows in content processes of their own: the followers keep
          // running (checked below from their stall records, since a loop that blocked them too
          // would test nothing).
          await tabs[leader].evaluate((ms) => {
            setTimeout(() => {
              const end = Date.now() + ms;
              while (Date.now() < end);
              window.__busyEnded = performance.timeOrigin + performance.now();
            }, 0);
            return true;
          }, freezeMs);
        }
        await eventually("a follower to take over", async () => (await roles(rest)).includes("leader"), { timeoutMs: 10_000 });
        const took = await handoff(rest, frozenAt, job);
        const { tabTimeoutMs, tabHeartbeatMs } = TAB_TIMERS;
        assert.ok(took.leaderAfterMs <= tabTimeoutMs + 1_000, `took over ${took.leaderAfterMs} ms after the freeze (tabTimeoutMs ${tabTimeoutMs})`);
        // Not before the leader could have fallen silent: its last heartbeat came at most
        // tabHeartbeatMs before the freeze (50 ms for the timers' own lateness).
        assert.ok(took.leaderAfterMs >= tabTimeoutMs - tabHeartbeatMs - 50, `took over ${took.leaderAfterMs} ms after the freeze, before tabTimeoutMs`);
        // Events keep flowing to the other tabs while the old leader is still frozen.
        const counts = await Promise.all(rest.map((tab) => count(tab, job)));
        await eventually("five more events in the other tabs", async () =>
          (await Promise.all(rest.map((tab) => count(tab, job)))).every((n, at) => n >= counts[at] + 5),
        );
        let resumedAt;
        if (name === "chromium") {
          const remaining = freezeMs - (Date.now() - frozenAt);
          if (remaining > 0) await sleep(remaining);
          resumedAt = Date.now();
          await tabs[leader].resume();
        } else {
          // Answers once the loop is over; the page noted when that was.
          resumedAt = await tabs[leader].evaluate(() => window.__busyEnded);
          const stalls = (await Promise.all(rest.map(async (tab) => (await recordOf(tab)).stalls))).flat();
          assert.deepEqual(stalls.filter((stall) => stall.to - stall.from > 500), [], "the followers ran while the leader was busy (other processes)");
        }
        await eventually("the old leader to follow", async () => (await roleOf(tabs[leader])) === "follower", { timeoutMs: 10_000 });
        const followed = (await recordOf(tabs[leader])).roles.find((entry) => entry.role === "follower" && entry.at >= resumedAt);
        const followedAfter = Math.round(followed.at - resumedAt);
        await finished(tabs, job);
        assert.ok(
          (await recordOf(rest[0])).events[job].find((e) => e.event === "completed").at > resumedAt,
          "the job was still running when the old leader came back",
        );
        const expected = await serverEvents(scope, job);
        for (const tab of tabs) await assertEveryEventOnce(tab, job, expected, tab === tabs[leader] ? `${tab.name} (the old leader)` : tab.name);
        assert.deepEqual((await roles(tabs)).filter((role) => role === "leader").length, 1, "one leader at the end");
        const counters = await stats(scope);
        assert.deepEqual({ total: counters.ws_connections_total, open: counters.ws_open }, { total: 2, open: 1 }, "the old leader's socket closed");
        const gaps = await Promise.all(rest.map((tab) => longestGap(tab, job)));
        // Again now that the new leader's socket has opened and brought events.
        const measured = await handoff(rest, frozenAt, job);
        console.log(
          `[${name}] handoff from a ${name === "chromium" ? "frozen" : "busy"} leader: ${JSON.stringify(measured)}; it followed ${followedAfter} ms after it ran again; longest gap between two events in the other tabs: ${gaps.join(", ")} ms (events 40 ms apart)`,
        );
      });
    });

    /**
     * Two groups of two tabs, each group with its own url and storageKey, watching one job of
     * `scope`: each group elects its own leader, and the scope counts a socket per group.
     */
    async function twoGroups(scope, [first, second]) {
      await withTabs(browser, scope, 4, async ({ tabs }) => {
        const options = { ...BASE, ...TAB_TIMERS, shareAcrossTabs: true };
        const groups = [
          [[tabs[0], tabs[1]], ...first],
          [[tabs[2], tabs[3]], ...second],
        ];
        for (const [members, url, key] of groups) for (const tab of members) await client(tab, url, key, options);
        for (const [members] of groups) await settled(members);
        const job = await startJob(scope, { clips: 1, steps: 10, stepMs: 30 });
        for (const tab of tabs) await watch(tab, job);
        await finished(tabs, job);
        const expected = await serverEvents(scope, job);
        for (const tab of tabs) await assertEveryEventOnce(tab, job, expected);
        const counters = await stats(scope);
        assert.deepEqual({ total: counters.ws_connections_total, open: counters.ws_open }, { total: 2, open: 2 }, "a socket per group");
        // And each group's socket was opened by its leader's page.
        for (const [members, url] of groups) {
          const opened = (await Promise.all(members.map(async (tab) => (await recordOf(tab)).sockets))).flat();
          assert.deepEqual(opened.map((socket) => socket.url.split("&requestId=")[0]), [url], "the group's one socket, to its url");
        }
      });
    }

    test("tabs with another storageKey never share: a leader and a socket for each", async () => {
      const scope = newScope("apart-key");
      await twoGroups(scope, [
        [socketUrl(scope), "user-a"],
        [socketUrl(scope), "user-b"],
      ]);
    });

    test("tabs with another url (another host) never share: a leader and a socket for each", async () => {
      const scope = newScope("apart-host");
      // The pages are of 127.0.0.1; the server lets them reach it as localhost too
      // (--allow-origin below), one scope for both names.
      await twoGroups(scope, [
        [socketUrl(scope), "user"],
        [socketUrl(scope).replace("127.0.0.1", "localhost"), "user"],
      ]);
    });

    test("tabs with another url (another query) never share: a leader and a socket for each", async () => {
      const scope = newScope("apart-query");
      // One scope: the server ignores the other query parameter. A query can name what the
      // server serves (this server's scope, a tenant, an API version), so another query is
      // another url.
      await twoGroups(scope, [
        [socketUrl(scope, "&app=1"), "user"],
        [socketUrl(scope, "&app=2"), "user"],
      ]);
    });

    test("shareAcrossTabs: false gives each tab a socket of its own", async () => {
      const scope = newScope("off");
      await withTabs(browser, scope, 3, async ({ tabs }) => {
        for (const tab of tabs) await client(tab, socketUrl(scope), "app", { ...BASE, ...TAB_TIMERS, shareAcrossTabs: false });
        assert.deepEqual(await roles(tabs), ["off", "off", "off"]);
        const job = await startJob(scope, { clips: 1, steps: 10, stepMs: 30 });
        for (const tab of tabs) await watch(tab, job);
        await finished(tabs, job);
        const expected = await serverEvents(scope, job);
        for (const tab of tabs) await assertEveryEventOnce(tab, job, expected);
        const counters = await stats(scope);
        assert.deepEqual({ total: counters.ws_connections_total, open: counters.ws_open }, { total: 3, open: 3 });
        assert.deepEqual(await roles(tabs), ["off", "off", "off"]);
      });
    });
  });
}

/** In a tab: sends `count` messages tagged `tag`; resolves with how many the tab sent in all. */
function sendFromTab(arg) {
  return window.__send(arg);
}
