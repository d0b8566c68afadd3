// The React adapter's hard cases (www-demo/react-cases.html) on the real wasm client and the
// reference server, in Chromium and in Firefox: in each, every hook subscribes exactly once per
// client and its job's state is built from every event exactly once.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "./support.mjs";
import { BROWSERS, launch, waitUntil } from "./browsers.mjs";

const CLIPS = 3;

async function startGeneration(server) {
  const response = await fetch(`${server.url}/api/v1/generations`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    // Long enough (about 3 s) that a swap or a remount happens while the job runs.
    body: JSON.stringify({ clips: CLIPS, steps_per_clip: 2, step_ms: 300 }),
  });
  assert.ok(response.ok, `starting a generation: HTTP ${response.status}`);
  return (await response.json()).id;
}

/** What the page shows: each job's element, the frames it sent, the seqs its hooks saw. */
function readPage() {
  return {
    jobs: [...document.querySelectorAll(".job")].map((element) => ({ ...element.dataset })),
    frames: window.__frames,
    events: window.__events,
    switchedWhile: window.__switchedWhile,
    errors: window.__errors,
    strictMounts: window.__strictMounts,
    switchedAt: window.__switchedAt,
    pageErrors: window.__pageErrors,
    connection: document.querySelector("[data-status]:not(.job)")?.dataset.status ?? null,
  };
}

/**
 * Opens `case` on a fresh server with one job, runs `steps(page, describe)` if given, and
 * resolves with what the page showed once the job completed.
 */
async function runCase(browser, name, steps = async () => {}) {
  const server = await startServer();
  const page = await browser.newPage();
  try {
    const job = await startGeneration(server);
    await page.goto(`${server.url}/react-cases/react-cases.html?case=${name}&jobs=${job}`);
    const describe = async () =>
      `what the page showed: ${JSON.stringify(await page.evaluate(readPage).catch((error) => error.message))}; page errors: ${page.problems}`;
    await steps(page, describe);
    await waitUntil(
      page,
      (id) => document.querySelector(`.job[data-id="${id}"]`)?.dataset.status === "completed",
      job,
      { describe },
    );
    const shown = await page.evaluate(readPage);
    assert.deepEqual([...page.problems, ...shown.pageErrors], [], "no page errors");
    // The page is React's development build, where StrictMode mounts, unmounts and mounts.
    assert.equal(shown.strictMounts, 2, "StrictMode double-mounted the root");
    return { job, shown, describe };
  } finally {
    await page.close();
    await server.stop();
  }
}

const count = (frames, frame) => frames.filter((sent) => sent === frame).length;

/** The seqs a hook saw are 1, 2, … with none missing or repeated, restarting once per client. */
function assertEveryEventOnce(seqs, clients) {
  const runs = [];
  for (const seq of seqs) {
    if (seq === 1) runs.push([]);
    runs.at(-1)?.push(seq);
  }
  assert.equal(runs.length, clients, `expected ${clients} replay(s) from seq 1: ${seqs}`);
  for (const run of runs) assert.deepEqual(run, run.map((_, index) => index + 1), `a gap or a repeat: ${seqs}`);
}

function assertCompleted(shown, job) {
  const element = shown.jobs.find((entry) => entry.id === job);
  assert.equal(element?.status, "completed");
  assert.equal(element.progress, "100");
  assert.equal(element.clips, String(CLIPS), "each clip exactly once");
}

for (const name of BROWSERS) {
  describe(`React cases in ${name}`, () => {
    let browser;
    before(async () => {
      browser = await launch(name);
    });
    after(async () => {
      await browser?.close();
    });

    test("StrictMode with options, the hook mounted before the wasm loads: one subscribe, every event once", async () => {
      const { job, shown } = await runCase(browser, "strict-options");
      assertCompleted(shown, job);
      assert.equal(count(shown.frames, `subscribe:${job}`), 1, shown.frames.join());
      assertEveryEventOnce(shown.events[job], 1);
    });

    test("StrictMode with a client prop: one subscribe, every event once", async () => {
      const { job, shown } = await runCase(browser, "strict-client");
      assertCompleted(shown, job);
      assert.equal(count(shown.frames, `subscribe:${job}`), 1, shown.frames.join());
      assertEveryEventOnce(shown.events[job], 1);
    });

    test("a client swap mid-job: one subscribe per client, the new one replays into a fresh state", async () => {
      const { job, shown } = await runCase(browser, "swap");
      assertCompleted(shown, job);
      assert.equal(shown.switchedAt, "processing", "the swap came while the job ran");
      // The first client lets go before the second subscribes (a job that ends unsubscribes too).
      assert.deepEqual(shown.frames.slice(0, 3), [`subscribe:${job}`, `unsubscribe:${job}`, `subscribe:${job}`]);
      assert.equal(count(shown.frames, `subscribe:${job}`), 2, shown.frames.join());
      assertEveryEventOnce(shown.events[job], 2);
    });

    test("an id change before the wasm has loaded subscribes to the new id only", async () => {
      const { job, shown } = await runCase(browser, "id-change");
      assert.equal(shown.switchedWhile, "connecting:null", "the switch happened before the client existed");
      assertCompleted(shown, job);
      assert.equal(count(shown.frames, "subscribe:never-subscribed"), 0, shown.frames.join());
      assert.equal(count(shown.frames, `subscribe:${job}`), 1, shown.frames.join());
      assertEveryEventOnce(shown.events[job], 1);
    });

    test("a provider unmounted and remounted mid-job: its new client subscribes once and replays", async () => {
      const { job, shown } = await runCase(browser, "remount");
      assertCompleted(shown, job);
      assert.equal(shown.switchedAt, "processing", "the remount came while the job ran");
      // The new provider's client shares its key with the old one, which is released 50 ms
      // after its unmount: if the new one asks before then, it follows the old one (which
      // subscribes the job again for it, to replay its history) and then takes the lead and
      // subscribes on a socket of its own. So two subscribes, or three.
      const subscribes = count(shown.frames, `subscribe:${job}`);
      assert.ok(subscribes === 2 || subscribes === 3, shown.frames.join());
      assertEveryEventOnce(shown.events[job], 2);
    });

    test("a hook whose id is refused fails alone; the hook next to it runs its job", async () => {
      const { job, shown } = await runCase(browser, "refused-id");
      assertCompleted(shown, job);
      const refused = shown.jobs.find((entry) => entry.id === "");
      assert.deepEqual([refused?.status, refused?.error], ["failed", "invalid_subscription"]);
      assert.equal(count(shown.frames, `subscribe:${job}`), 1, shown.frames.join());
    });

    test("a .wasm whose first load fails: onError hears setup_failed, Reconnect loads it again", async () => {
      const { job, shown } = await runCase(browser, "setup-retry", async (page, describe) => {
        await waitUntil(page, () => document.querySelector("[data-status=closed]") !== null, null, { describe });
        assert.deepEqual(await page.evaluate(() => window.__errors), ["setup_failed"]);
        await page.evaluate(() => document.querySelector("[data-status=closed] button").click());
      });
      assertCompleted(shown, job);
      assert.deepEqual(shown.errors, ["setup_failed"]);
      assertEveryEventOnce(shown.events[job], 1);
    });
  });
}
