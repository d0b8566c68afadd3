// The fault matrix: one page watches several jobs while faults hit it in turn — dropped
// connections, muted pongs, refused upgrades (polling) and their return, failing polls,
// offline and online, a reload with a queued outbox, a killed and restarted server. For each
// fault it counts, over every job's delivered events, the milestones lost, the seqs repeated
// and the seqs out of order, and the messages sent against those the server handled; it
// prints the table and expects every loss, repeat and disorder to be zero and every message
// handled once.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser } from "./support.mjs";

const SCOPE = `faults-${Math.random().toString(36).slice(2, 10)}`;
const JOB = { clips: 3, steps_per_clip: 4, step_ms: 120 };
/** Every event but `queued` and `progress` (which polling may skip), in the job's order. */
const milestonesOf = (clips) => ["status_change", ...Array(clips).fill("clip_completed"), "status_change", "completed"];

let server;
let browser;

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("a long job through refused upgrades, polling and back: each seq once, polling announced", async () => {
  // As a user first saw it: polls every 400 ms, probes up to 1.5 s, retries 150 to 800 ms,
  // one generation of 8 clips of 12 steps, 90 ms apart; refused upgrades plus a drop while it
  // runs, then upgrades allowed again.
  server = await startServer(["--step-ms", "90"]);
  const ownBrowser = await launchBrowser();
  const page = await ownBrowser.newPage();
  try {
    await startClient(page, { pollIntervalMs: 400, probeMaxDelayMs: 1_500, reconnectInitialDelayMs: 150, reconnectMaxDelayMs: 800 });
    const job = (await post("/api/v1/generations", { clips: 8, steps_per_clip: 12, step_ms: 90 })).id;
    await page.evaluate((id) => window.__watch(id), job);
    await delivered(page, job, 10);
    await admin("refuse-ws", true);
    await admin("drop");
    await until(page, () => window.__record.states.includes("polling (polling_fallback)"));
    // Several polls' worth of events, instead of a fixed wait.
    const before = await page.evaluate(() => window.__record.events.length);
    await until(page, (n) => window.__record.events.length >= n + 6, before);
    await admin("refuse-ws", false);
    await until(page, () => window.__record.states.some((s) => s.startsWith("open (websocket_restored)")));
    await finished(page, [job]);
    const counts = await tally(page, [job]);
    assert.deepEqual(
      { lost: counts.lost, repeated: counts.repeated, disorder: counts.disorder, lastSeqWrong: counts.lastSeqWrong },
      { lost: 0, repeated: 0, disorder: 0, lastSeqWrong: 0 },
    );
  } catch (error) {
    error.message += `\n${JSON.stringify(await describe(page), null, 2)}`;
    throw error;
  } finally {
    await ownBrowser.close();
    await server.stop();
  }
});

async function post(path, body = {}) {
  const separator = path.includes("?") ? "&" : "?";
  const isAdmin = path.startsWith("/admin");
  const response = await fetch(`${server.url}${path}${isAdmin ? `${separator}scope=${SCOPE}` : ""}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(isAdmin ? { "x-admin-key": server.adminKey } : {}) },
    body: JSON.stringify(body),
  });
  assert.ok(response.ok, `POST ${path}: HTTP ${response.status}`);
  return response.json();
}

const admin = (route, on) => post(`/admin/${route}`, on === undefined ? {} : { on });
const handled = async () => (await post("/admin/stats")).handled_messages;

const QUICK = {
  pingIntervalMs: 400,
  pongTimeoutMs: 400,
  reconnectInitialDelayMs: 50,
  reconnectMaxDelayMs: 300,
  pollIntervalMs: 200,
  probeMaxDelayMs: 600,
  // While polling, messages go over HTTP, retried at the reconnect backoff (at most 300 ms
  // here): a phase that fails the message endpoint must not see them dropped for their retries.
  outboxMaxRetries: 10_000,
};

/** Loads the package into a same-origin page with a client that records everything. */
async function startClient(page, options = QUICK) {
  await page.goto(`${server.url}/healthz`);
  await page.evaluate(async ([scope, options]) => {
    const { createJobSocket } = await import("/pkg/index.js");
    const record = (window.__record = { events: [], states: [], errors: [], jobErrors: [] });
    const client = await createJobSocket({
      url: `${location.origin}/ws?scope=${scope}`,
      generationUrl: `/api/v1/generations/{id}?scope=${scope}`,
      compositionUrl: `/api/v1/compositions/{id}?scope=${scope}`,
      messagesUrl: `/api/v1/messages?scope=${scope}`,
      storageKey: "faults",
      maxProgressPerSecond: 0,
      ...options,
    });
    client.onStateChange((change) => record.states.push(`${change.status} (${change.reason})`));
    client.onError((error) => {
      record.errors.push(error.code);
      if (error.jobId) record.jobErrors.push({ code: error.code, serverCode: error.serverCode, channel: error.channel, jobId: error.jobId });
    });
    window.__client = client;
    window.__watch = (id) =>
      client.subscribeGeneration(id, {
        onEvent: (_data, meta) => record.events.push({ job: meta.jobId, seq: meta.seq, event: meta.event }),
      });
    window.__send = (n) => client.send("note", { n });
  }, [SCOPE, options]);
}

const status = (page) => page.evaluate(() => window.__client.state.status);
const until = (page, predicate, arg) => page.waitForFunction(predicate, arg, { timeout: 30_000 });

async function startJobs(page, count) {
  const ids = [];
  for (let n = 0; n < count; n++) ids.push((await post("/api/v1/generations", JOB)).id);
  await page.evaluate((jobs) => jobs.forEach((id) => window.__watch(id)), ids);
  return ids;
}

/** Waits until `job` delivered at least `count` events. */
const delivered = (page, job, count) =>
  until(page, ([id, n]) => window.__record.events.filter((e) => e.job === id).length >= n, [job, count]);

const finished = (page, jobs) =>
  until(page, (ids) => ids.every((id) => window.__record.events.some((e) => e.job === id && e.event === "completed")), jobs);

async function sendMessages(page, count) {
  await page.evaluate((n) => {
    for (let i = 0; i < n; i++) window.__send(i);
  }, count);
  return count;
}

/** Lost milestones, repeated seqs and seqs out of order, over `jobs`. */
async function tally(page, jobs) {
  const events = await page.evaluate(() => window.__record.events);
  const counts = { jobs: jobs.length, events: 0, lost: 0, repeated: 0, disorder: 0, lastSeqWrong: 0 };
  for (const job of jobs) {
    // The server's own last seq for the job: the app's last event must carry it.
    const snapshot = await (await fetch(`${server.url}/api/v1/generations/${job}`)).json();
    const mine = events.filter((e) => e.job === job);
    const seqs = mine.map((e) => e.seq);
    counts.events += mine.length;
    counts.repeated += seqs.length - new Set(seqs).size;
    counts.disorder += seqs.filter((seq, i) => i > 0 && seq < seqs[i - 1]).length;
    const milestones = mine.map((e) => e.event).filter((name) => name !== "queued" && name !== "progress");
    const left = [...milestones];
    // Milestones in the job's order, each once: a repeat or a swap counts as disorder.
    if (milestones.join() !== milestonesOf(snapshot.clips.length).join()) counts.disorder += 1;
    for (const expected of milestonesOf(snapshot.clips.length)) {
      const at = left.indexOf(expected);
      if (at === -1) counts.lost += 1;
      else left.splice(at, 1);
    }
    if (seqs.at(-1) !== snapshot.seq) counts.lastSeqWrong += 1;
  }
  return counts;
}

async function describe(page) {
  return page
    .evaluate(() => ({ states: window.__record.states.slice(-20), errors: window.__record.errors.slice(-20), status: window.__client.state.status }))
    .catch((error) => `(the page could not be read: ${error.message})`);
}

test("every fault in turn: nothing lost, repeated or out of order, every message handled once", async () => {
  server = await startServer(["--step-ms", "120"]);
  const port = server.port;
  browser = await launchBrowser();
  const context = await browser.newContext();
  const page = await context.newPage();
  const rows = [];
  await startClient(page);
  await page.evaluate(() => window.__client.connect());
  await until(page, () => window.__client.state.status === "open");

  // Runs one fault while two jobs run and three messages are sent; records its row.
  const phase = async (name, fault, { jobsAfter = false } = {}) => {
    const handledBefore = await handled();
    let jobs = jobsAfter ? [] : await startJobs(page, 2);
    const sent = { count: 0 };
    try {
      jobs = jobs.concat((await fault({ jobs, sent })) ?? []);
      await finished(page, jobs);
      await until(page, () => window.__client.state.outboxSize === 0);
    } catch (error) {
      error.message += `\nduring "${name}": ${JSON.stringify(await describe(page), null, 2)}`;
      throw error;
    }
    const counts = await tally(page, jobs);
    rows.push({ fault: name, ...counts, sent: sent.count, handled: (await handled()) - handledBefore });
  };

  await phase("dropped connections", async ({ jobs, sent }) => {
    for (const seen of [3, 8]) {
      await delivered(page, jobs[0], seen);
      await admin("drop");
      sent.count += await sendMessages(page, 1);
    }
  });

  await phase("muted pongs", async ({ jobs, sent }) => {
    await delivered(page, jobs[0], 3);
    await admin("mute-pongs", true);
    sent.count += await sendMessages(page, 2);
    await until(page, () => window.__record.errors.includes("heartbeat_timeout"));
    await admin("mute-pongs", false);
  });

  await phase("refused upgrades: polling, then the socket again", async ({ jobs, sent }) => {
    await delivered(page, jobs[0], 3);
    await admin("refuse-ws", true);
    await admin("drop");
    await until(page, () => window.__client.state.status === "polling");
    // Announced, not only readable in the state.
    await until(page, () => window.__record.states.includes("polling (polling_fallback)"));
    sent.count += await sendMessages(page, 2);
    await delivered(page, jobs[0], 8);
    await admin("refuse-ws", false);
    await until(page, () => window.__record.states.some((s) => s.startsWith("open (websocket_restored)")));
  });

  await phase("failing polls", async ({ jobs, sent }) => {
    await delivered(page, jobs[0], 3);
    await admin("refuse-ws", true);
    await admin("fail-polls", true);
    await admin("drop");
    await until(page, () => window.__record.errors.includes("poll_failed"));
    sent.count += await sendMessages(page, 2);
    await admin("fail-polls", false);
    await delivered(page, jobs[0], 10);
    await admin("refuse-ws", false);
  });

  await phase("offline, then online", async ({ jobs, sent }) => {
    await delivered(page, jobs[0], 3);
    await context.setOffline(true);
    await until(page, () => window.__client.state.status === "offline");
    sent.count += await sendMessages(page, 3);
    await context.setOffline(false);
  });

  await phase("a reload with a queued outbox", async ({ jobs, sent }) => {
    await delivered(page, jobs[0], 3);
    // Nothing can deliver the messages before the reload: the socket is refused, and the
    // message endpoint fails (a client that falls back to polling posts its messages there).
    await admin("fail-messages", true);
    await admin("refuse-ws", true);
    await admin("drop");
    await until(page, () => window.__client.state.status !== "open");
    sent.count += await sendMessages(page, 3);
    await until(page, () => window.__client.state.outboxSize === 3);
    await page.reload();
    await startClient(page);
    // The new page watches the same jobs; its outbox came back from localStorage once the
    // tab took the lead (tabs share one outbox: it is restored by the leader, a moment after
    // the client starts).
    await page.evaluate((ids) => ids.forEach((id) => window.__watch(id)), jobs);
    await until(page, () => window.__client.tabRole === "leader");
    assert.equal(await page.evaluate(() => window.__client.state.outboxSize), 3, "restored");
    await admin("refuse-ws", false);
    await admin("fail-messages", false);
  });

  // The server process dies mid-job and comes back on the same port with nothing: its jobs
  // are gone (the server answers unknown_job), messages sent meanwhile reach the new process.
  const handledBeforeKill = await handled();
  const doomed = await startJobs(page, 1);
  await delivered(page, doomed[0], 3);
  await server.kill();
  await until(page, () => window.__client.state.status !== "open");
  const sentDuringOutage = await sendMessages(page, 3);
  server = await startServer(["--step-ms", "120"], { port });
  await until(page, () => window.__client.state.status === "open");
  await until(page, () => window.__client.state.outboxSize === 0);
  // The new process answers the resubscription with an error that names the lost job.
  await until(page, (id) => window.__record.jobErrors.some((e) => e.code === "server_error" && e.serverCode === "unknown_job" && e.jobId === id && e.channel === "generation"), doomed[0]);
  const restartJobs = await startJobs(page, 2);
  await finished(page, restartJobs);
  rows.push({
    fault: "server killed and restarted",
    ...(await tally(page, restartJobs)),
    sent: sentDuringOutage,
    // The new process counts from zero.
    handled: await handled(),
  });
  assert.ok(handledBeforeKill >= 0);
  assert.equal(await status(page), "open");

  console.log(
    [
      "| fault | jobs | events | milestones lost | seqs repeated | out of order | last seq wrong | messages sent | handled by the server |",
      "|---|---|---|---|---|---|---|---|---|",
      ...rows.map((r) => `| ${r.fault} | ${r.jobs} | ${r.events} | ${r.lost} | ${r.repeated} | ${r.disorder} | ${r.lastSeqWrong} | ${r.sent} | ${r.handled} |`),
    ].join("\n"),
  );
  for (const row of rows) {
    assert.deepEqual(
      { lost: row.lost, repeated: row.repeated, disorder: row.disorder, lastSeqWrong: row.lastSeqWrong, handled: row.handled },
      { lost: 0, repeated: 0, disorder: 0, lastSeqWrong: 0, handled: row.sent },
      row.fault,
    );
  }
  await context.close();
});
