// Chaos across instances: two reference-server instances on one Redis, behind jobsocket-proxy
// (round robin, as a load balancer in front of them would be), and six clients in two pages of
// Chromium, each watching every job; the jobs are created on both instances. While they run,
// three faults in turn: every socket dropped (the admin API of each instance), instance `a`
// killed with SIGKILL and started again on its port with the same flags, and Redis restarted
// (it comes back empty: no persistence), the second page offline across that restart.
//
// At the end every client must have seen every event of every job exactly once, in order, up
// to the terminal event. The one exception allowed is a hole the client reported as a
// `sequence_gap`, and only across the Redis restart: the events a client had not fetched
// before it are gone from Redis. The offline page makes sure that exception is met, and
// reported. The table printed counts, per fault, events due, delivered, lost, lost in
// reported gaps, repeated and out of order, and how long until every client had the events
// due after the fault.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer, startProxy, launchBrowser } from "./support.mjs";
import { startRedis } from "./redis.mjs";

const SCOPE = `instances-${Math.random().toString(36).slice(2, 10)}`;
const PAGES = 2;
const CLIENTS_PER_PAGE = 3;

/**
 * The clients: sockets only, since polling skips progress events by design and this test
 * counts every event; a socket each, not one shared by the clients of a page; every progress
 * event delivered; quick retries, so a fault's cost is the server's, not the backoff's.
 */
const CLIENT_OPTIONS = {
  transports: ["websocket"],
  shareAcrossTabs: false,
  maxProgressPerSecond: 0,
  reconnectInitialDelayMs: 50,
  reconnectMaxDelayMs: 400,
  pingIntervalMs: 2_000,
  pongTimeoutMs: 2_000,
};

/** Terminal events: a job's subscription ends with them. */
const TERMINAL = new Set(["completed", "error"]);

const FAULTS = ["drop", "kill -9 a, restart", "restart Redis"];
/** The Redis restart as the clients offline across it saw it: a row of its own. */
const AWAY = "restart Redis, clients offline across it";
const BEFORE = "(before the faults)";

test("two instances on Redis behind a proxy: six clients see every event of every job once and in order through dropped sockets, a killed instance and a restarted Redis", async () => {
  // Every process started here, stopped in `finally` last first, each by its own handle (pid).
  const started = [];
  try {
    await run(started);
  } finally {
    for (const stop of started.reverse()) await stop().catch(() => {});
  }
});

async function run(started) {
  const adminKey = Math.random().toString(36).slice(2);
  let redis = await startRedis();
  started.push(() => redis.stop());
  const instanceArgs = (name) => ["--redis", redis.url, "--instance", name, "--step-ms", "50"];
  const instances = {};
  for (const name of ["a", "b"]) {
    instances[name] = await startServer(instanceArgs(name), { adminKey });
    started.push(() => instances[name].stop());
  }
  const proxy = await startProxy([instances.a.port, instances.b.port]);
  started.push(() => proxy.stop());
  const browser = await launchBrowser();
  started.push(() => browser.close());

  const pages = [];
  for (let p = 0; p < PAGES; p++) pages.push(await openClients(browser, proxy.url, p * CLIENTS_PER_PAGE));
  const clients = () => readClients(pages);
  const jobs = [];
  const faults = [];
  const awayClients = [];
  const watch = async (specs) => {
    const made = [];
    for (const spec of specs) made.push(await createJob(instances[spec.on], spec));
    await Promise.all(pages.map((page) => page.evaluate((list) => window.__watch(list), made)));
    jobs.push(...made);
    return made;
  };
  try {
    await until(clients, "every client is connected", (all) => all.every((client) => client.instances.length > 0));
    const landed = (await clients()).map((client) => client.instances[0].split(".")[0]);
    assert.deepEqual(new Set(landed), new Set(["a", "b"]), `the proxy spread the clients: ${landed}`);

    // Jobs that run across all three faults, and short ones that end before the first.
    await watch([
      { on: "a", kind: "composition", steps: 100, step_ms: 80 },
      { on: "b", kind: "composition", steps: 100, step_ms: 80 },
      { on: "a", kind: "generation", clips: 2, steps_per_clip: 4, step_ms: 40 },
      { on: "b", kind: "generation", clips: 2, steps_per_clip: 4, step_ms: 40, fail: true },
    ]);
    await until(clients, "the short jobs ended in every client", (all) => endedEverywhere(all, jobs.slice(2)));

    // Each fault gets a pair of fresh jobs, one on each instance, 8 events into their run
    // when it strikes; after it, every client must get the events due after it.
    const hit = async (name, fault) => {
      const pair = await watch([
        { on: "a", kind: "generation", clips: 4, steps_per_clip: 12, step_ms: 50 },
        { on: "b", kind: "generation", clips: 4, steps_per_clip: 12, step_ms: 50 },
      ]);
      await until(clients, `every client has 8 events of the jobs before "${name}"`, (all) => hasEvents(all, pair, 8));
      const struck = { name, at: Date.now() };
      faults.push(struck);
      await fault(pair);
      await until(clients, `every client has events due after "${name}"`, hasEventsDueAfter(pair, Date.now()), 20_000);
      struck.recoveredMs = Date.now() - struck.at;
    };

    await hit(FAULTS[0], () => Promise.all(["a", "b"].map((name) => admin(instances[name], "drop"))));
    await hit(FAULTS[1], async () => {
      const { port } = instances.a;
      await instances.a.kill();
      instances.a = await startServer(instanceArgs("a"), { port, adminKey });
    });
    // Redis restarts empty. The second page's clients are offline across the restart
    // (Chromium's offline emulation): the events they missed before it are gone from Redis, so
    // they come back to a sequence_gap, the one loss allowed; the first page's stay connected.
    // A job that ended while they were away and before Redis came back would be gone whole
    // (unknown_job): so each job has ended everywhere, or has well over the restart's time left.
    await until(clients, "every job has ended everywhere or has 3 s left", (all) =>
      jobs.every((job) => endedEverywhere(all, [job]) || dueAt(job, job.lastSeq) - Date.now() > 3_000),
    );
    const [present, away] = [() => readClients(pages.slice(0, 1)), () => readClients(pages.slice(1))];
    await hit(FAULTS[2], async (pair) => {
      await pages[1].context().setOffline(true);
      await until(away, "the second page's clients are offline", (some) => some.every((client) => client.status === "offline"));
      await until(present, "the first page's clients have events due after that", hasEventsDueAfter(pair, Date.now()));
      const { port } = redis;
      await redis.stop();
      redis = await startRedis({ port });
      await until(present, "the first page's clients have events due after the restart", hasEventsDueAfter(pair, Date.now()), 20_000);
      await pages[1].context().setOffline(false);
    });
    awayClients.push(...(await away()).map((client) => client.name));

    await until(clients, "every job ended in every client", (all) => endedEverywhere(all, jobs), 30_000);
    const all = await clients();
    await checkPlans(instances.b, jobs);
    const table = tally(all, jobs, faults, new Set(awayClients));
    console.log(formatTable(table));
    console.log(`instances each client was on, in order:\n${all.map((c) => `  ${c.name}: ${c.instances.join(" → ")}`).join("\n")}`);

    const problems = pages.flatMap((page) => page.problems);
    assert.deepEqual(problems, [], "page errors");
    for (const client of all) {
      assert.deepEqual(client.unparsedGaps, [], `${client.name}: sequence_gap errors that name no job`);
      assert.equal(client.errors.sequence_backward ?? 0, 0, `${client.name}: a seq went back`);
      assert.equal(client.errors.server_error ?? 0, 0, `${client.name}: server errors ${JSON.stringify(client.serverErrors)}`);
      for (const job of jobs) {
        assert.ok(TERMINAL.has(client.ended[job.id]), `${client.name} never got the end of ${job.id}`);
        assert.equal(lastSeq(client, job), job.lastSeq, `${client.name}: ${job.id} ended at another seq than the job's last`);
      }
    }
    for (const row of table) {
      assert.equal(row.duplicated, 0, `${row.fault}: events delivered twice`);
      assert.equal(row.disorder, 0, `${row.fault}: events out of order`);
      assert.equal(row.lostUnreported, 0, `${row.fault}: events missing with no sequence_gap reported`);
      if (row.fault !== FAULTS[2] && row.fault !== AWAY) assert.equal(row.gapReports, 0, `${row.fault}: a sequence_gap outside the Redis restart`);
      if (row.fault !== BEFORE) assert.ok(row.due > 0, `"${row.fault}" struck while no job ran: nothing was due during it`);
    }
    // The exception is real and reported: each client away across the restart lost events
    // (those Redis lost) and said so.
    for (const client of all.filter((client) => awayClients.includes(client.name))) {
      assert.ok(client.gaps.length > 0, `${client.name} was away across the Redis restart and reported no sequence_gap`);
    }
  } catch (error) {
    error.message += `\njobs: ${JSON.stringify(jobs)}\nfaults: ${JSON.stringify(faults)}\nproxy log: ${proxy.log()}`;
    error.message += `\nclients: ${JSON.stringify(summarize(await clients().catch(() => [])), null, 1)}`;
    throw error;
  }
}

/**
 * A page of the proxy's origin (so its sockets are same-origin for every instance) with
 * CLIENTS_PER_PAGE clients, named from `first`, each recording, per job, the seqs it
 * delivered in order, its terminal event, its sequence gaps (from the error's message, which
 * names the job and the missing seqs), its error codes, and the instance of each connection
 * (the `connected` frame's client id, `NAME.c_N`). `window.__watch(jobs)` subscribes every
 * client to the jobs; `window.__read()` returns the records.
 */
async function openClients(browser, proxyUrl, first) {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));
  await page.goto(`${proxyUrl}/healthz`);
  await page.evaluate(
    async ({ scope, first, count, options }) => {
      const { createJobSocket } = await import("/pkg/index.js");
      const gap = /^(generation|composition) (\S+): events (\d+) to (\d+) are missing$/;
      const clients = [];
      for (let n = first; n < first + count; n++) {
        const record = { name: `client ${n}`, seqs: {}, ended: {}, gaps: [], unparsedGaps: [], errors: {}, serverErrors: [], instances: [], status: "idle" };
        const client = await createJobSocket({
          url: `${location.origin.replace(/^http/, "ws")}/ws?scope=${scope}`,
          generationUrl: `/api/v1/generations/{id}?scope=${scope}`,
          compositionUrl: `/api/v1/compositions/{id}?scope=${scope}`,
          storageKey: `instances-${n}`,
          ...options,
        });
        const noteInstance = () => {
          const id = client.state.clientId;
          if (id && id !== record.instances.at(-1)) record.instances.push(id);
        };
        client.onStateChange((change) => {
          record.status = change.status;
          noteInstance();
        });
        client.onError((error) => {
          record.errors[error.code] = (record.errors[error.code] ?? 0) + 1;
          if (error.code === "server_error") record.serverErrors.push(`${error.serverCode}: ${error.message}`);
          if (error.code !== "sequence_gap") return;
          const match = gap.exec(error.message);
          if (match) record.gaps.push({ job: match[2], from: Number(match[3]), to: Number(match[4]), at: Date.now() });
          else record.unparsedGaps.push(error.message);
        });
        clients.push({ client, record, noteInstance });
        client.connect();
      }
      window.__watch = (jobs) => {
        for (const { client, record, noteInstance } of clients) {
          for (const job of jobs) {
            const handlers = {
              onEvent: (_data, meta) => {
                noteInstance();
                (record.seqs[job.id] ??= []).push(meta.seq);
                if (meta.event === "completed" || meta.event === "error") record.ended[job.id] = meta.event;
              },
            };
            if (job.kind === "generation") client.subscribeGeneration(job.id, handlers);
            else client.subscribeComposition(job.id, handlers);
          }
        }
      };
      window.__read = () => clients.map(({ record }) => record);
      // `connected` may come after the state change to open: look again until it has.
      const poll = setInterval(() => clients.forEach(({ noteInstance }) => noteInstance()), 50);
      window.addEventListener("pagehide", () => clearInterval(poll));
    },
    { scope: SCOPE, first, count: CLIENTS_PER_PAGE, options: CLIENT_OPTIONS },
  );
  return Object.assign(page, { problems });
}

async function readClients(pages) {
  return (await Promise.all(pages.map((page) => page.evaluate(() => window.__read())))).flat();
}

/** Polls the clients' records until `predicate` holds; fails after `timeoutMs` saying `what`. */
async function until(read, what, predicate, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await read();
    if (predicate(all)) return all;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const lastSeq = (client, job) => client.seqs[job.id]?.at(-1) ?? 0;
/** A predicate: every client has, of each of `jobs`, the events due up to 3 steps after `time`. */
const hasEventsDueAfter = (jobs, time) => {
  const due = jobs.map((job) => Math.min(seqDueAt(job, time) + 3, job.lastSeq));
  return (all) => all.every((client) => jobs.every((job, n) => lastSeq(client, job) >= due[n]));
};
const hasEvents = (all, jobs, count) => all.every((client) => jobs.every((job) => (client.seqs[job.id]?.length ?? 0) >= count));
const endedEverywhere = (all, jobs) => all.every((client) => jobs.every((job) => TERMINAL.has(client.ended[job.id])));

/**
 * Creates a job on `instance`; returns what the test needs of it: id, kind, instance, its
 * last seq (from its size), and its schedule (`startedAt`, `stepMs`, from the 201).
 */
async function createJob(instance, { on, kind, ...body }) {
  const response = await fetch(`${instance.url}/api/v1/${kind}s`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 201, `POST /api/v1/${kind}s on ${on}: ${await response.clone().text()}`);
  const created = await response.json();
  const lastSeq = kind === "generation" ? plannedGenerationEvents(body) : (body.fail ? Math.floor(body.steps / 2) : body.steps) + 1;
  return { id: created.id, kind, on, lastSeq, startedAt: created.startedAt, stepMs: created.stepMs };
}

/**
 * How many events a generation emits: queued, processing, each clip's steps and its
 * completion, then the final status change and `completed`; a failing one stops after half of
 * the clip after the first half with a status change and an error.
 */
function plannedGenerationEvents({ clips, steps_per_clip: steps, fail = false }) {
  if (!fail) return 2 + clips * (steps + 1) + 2;
  const failing = Math.floor(clips / 2) + 1;
  return 2 + (failing - 1) * (steps + 1) + Math.ceil(steps / 2) + 2;
}

/** When seq `seq` of `job` is due on its schedule (epoch ms). */
const dueAt = (job, seq) => job.startedAt + (job.kind === "generation" ? seq - 1 : seq) * job.stepMs;

/** The seq of `job` due last at or before `time`. */
const seqDueAt = (job, time) =>
  Math.max(0, Math.floor((time - job.startedAt) / job.stepMs) + (job.kind === "generation" ? 1 : 0));

/**
 * Checks the last seqs worked out from the jobs' sizes against the servers' snapshots, where
 * Redis still has them (it forgot the jobs that ended before its restart).
 */
async function checkPlans(instance, jobs) {
  let checked = 0;
  for (const job of jobs) {
    const response = await fetch(`${instance.url}/api/v1/${job.kind}s/${job.id}?scope=${SCOPE}`);
    if (response.status === 404) continue;
    assert.equal(response.status, 200, `GET ${job.id}`);
    assert.equal((await response.json()).seq, job.lastSeq, `${job.id}: the snapshot's seq is not the plan's`);
    checked += 1;
  }
  assert.ok(checked > 0, "no snapshot to check the plans against");
}

/**
 * Per fault (and before the first; the Redis restart split between the clients connected
 * across it and those `away`), over every client and job: events due in its window, delivered,
 * missing without a reported gap covering them, delivered twice, delivered after a higher seq,
 * each put down to the window in which its seq was due; but sequence_gap reports and the
 * events they cover go to the window in which the client reported them (an event due just
 * before a fault may be in flight when it strikes, and lost by it). So a row's events due are
 * those delivered once, plus those lost, plus those in reported gaps.
 */
function tally(all, jobs, faults, away) {
  const windows = [BEFORE, ...faults.map((fault) => fault.name), AWAY];
  const recovered = (fault) => faults.find((struck) => struck.name === (fault === AWAY ? FAULTS[2] : fault))?.recoveredMs;
  const rows = new Map(windows.map((fault) => [fault, { fault, recoveredMs: recovered(fault), due: 0, delivered: 0, lostUnreported: 0, lostInGaps: 0, duplicated: 0, disorder: 0, gapReports: 0 }]));
  for (const client of all) {
    const windowAt = (time) => {
      const fault = faults.findLast((fault) => fault.at <= time)?.name ?? BEFORE;
      return rows.get(fault === FAULTS[2] && away.has(client.name) ? AWAY : fault);
    };
    for (const job of jobs) {
      const seen = new Set();
      let highest = 0;
      for (const seq of client.seqs[job.id] ?? []) {
        const row = windowAt(dueAt(job, seq));
        row.delivered += 1;
        if (seen.has(seq)) row.duplicated += 1;
        else if (seq < highest) row.disorder += 1;
        seen.add(seq);
        highest = Math.max(highest, seq);
      }
      const gaps = client.gaps.filter((gap) => gap.job === job.id);
      for (let seq = 1; seq <= job.lastSeq; seq++) {
        const gap = seen.has(seq) ? undefined : gaps.find((gap) => gap.from <= seq && seq <= gap.to);
        const row = windowAt(gap ? gap.at : dueAt(job, seq));
        row.due += 1;
        if (gap) row.lostInGaps += 1;
        else if (!seen.has(seq)) row.lostUnreported += 1;
      }
      for (const gap of gaps) windowAt(gap.at).gapReports += 1;
    }
  }
  return [...rows.values()];
}

function formatTable(rows) {
  const header = ["fault", "events due", "delivered", "lost", "lost in reported gaps", "duplicated", "out of order", "sequence_gap reports", "recovered in (ms)"];
  const lines = rows.map((row) =>
    [row.fault, row.due, row.delivered, row.lostUnreported, row.lostInGaps, row.duplicated, row.disorder, row.gapReports, row.recoveredMs ?? "-"].map(String),
  );
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column].length)));
  const format = (cells) => `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(" | ")} |`;
  return [format(header), format(widths.map((width) => "-".repeat(width))), ...lines.map(format)].join("\n");
}

/** What each client had, short enough for a failure message. */
function summarize(all) {
  return all.map((client) => ({
    name: client.name,
    instances: client.instances,
    errors: client.errors,
    serverErrors: client.serverErrors.slice(0, 5),
    gaps: client.gaps,
    jobs: Object.fromEntries(Object.entries(client.seqs).map(([id, seqs]) => [id, `${seqs.length} events, last ${seqs.at(-1)}, ${client.ended[id] ?? "running"}`])),
  }));
}

/** POSTs to the admin route `route` of `instance` (admin routes act on that instance only). */
async function admin(instance, route) {
  const response = await fetch(`${instance.url}/admin/${route}?scope=${SCOPE}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-admin-key": instance.adminKey },
    body: "{}",
  });
  assert.ok(response.ok, `POST /admin/${route}: HTTP ${response.status}`);
}
