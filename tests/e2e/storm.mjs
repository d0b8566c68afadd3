// The storm runner of the adversarial tests: a hostile server (hostile-server.mjs) greets the
// page's client, confirms its subscription, then sends a script of steps, each a hostile frame
// (or several) between two valid progress events, and a closing error frame. The runner reads
// back what the client told the app and works out, per step, how many errors the client
// reported for it: those between the valid event before the step and the valid event after.
import { startHostileServer } from "./hostile-server.mjs";
import { waitUntil } from "./browsers.mjs";

export const JOB = "gen_storm";
/** The server's last frame; the page knows the storm is over once it is reported. */
const STORM_OVER = JSON.stringify({ type: "error", code: "storm_over", message: "the storm is over" });

/** A progress event's data, with `extra` members appended (text starting with a comma). */
export const progressData = (seq, message, extra = "") =>
  `{"step":"rendering","clip_number":1,"total_clips":1,"percentage":${seq % 100},"message":"${message}"${extra}}`;

/** A progress event of the storm's job; `seqText` and `data` let a step write them as it likes. */
export const eventFrame = (seq, message, { seqText = String(seq), data = progressData(seq, message) } = {}) =>
  `{"type":"event","channel":"generation","id":"${JOB}","seq":${seqText},"event":"progress","data":${data}}`;

/**
 * Lays out the wire: valid event 1, then each step between two valid events, then two more.
 * A step is { name, errors, frames(ctx) }: `errors` is how many errors the client should
 * report for it; `ctx.next` is the seq the next valid event will have, `ctx.valid(extra)` makes
 * that valid event (for steps that carry valid events inside them).
 */
function layOut(steps) {
  let seq = 0;
  const validSeqs = [];
  const valid = (extra = "") => {
    seq += 1;
    validSeqs.push(seq);
    return eventFrame(seq, `valid ${seq}`, { data: progressData(seq, `valid ${seq}`, extra) });
  };
  const wire = [valid()];
  const plan = [];
  for (const step of steps) {
    const before = seq;
    wire.push(...step.frames({ next: seq + 1, valid }));
    wire.push(valid());
    plan.push({ name: step.name, expected: step.errors, before, after: seq });
  }
  wire.push(valid(), valid());
  return { wire, plan, validSeqs };
}

/** The errors the client reported for each step, from the page's ordered log. */
function errorsPerStep(log, plan) {
  const indexOf = new Map();
  log.forEach((entry, index) => {
    if (entry.channel === "generation" && /^valid \d+$/.test(entry.mark ?? "")) indexOf.set(Number(entry.mark.slice(6)), index);
  });
  const errorsBetween = (start, end) =>
    log.slice(start + 1, end).reduce((sum, entry) => sum + (entry.errors ?? 0) - (entry.codes?.["server_error:storm_over"] ?? 0), 0);
  return plan.map(({ name, expected, before, after }) => {
    // When a boundary event was not delivered, the nearest delivered one stands in for it.
    const starts = [...indexOf.keys()].filter((seq) => seq <= before);
    const ends = [...indexOf.keys()].filter((seq) => seq >= after);
    const start = starts.length ? indexOf.get(Math.max(...starts)) : -1;
    const end = ends.length ? indexOf.get(Math.min(...ends)) : log.length;
    const got = errorsBetween(start, end);
    if (indexOf.has(before) && indexOf.has(after)) return { name, expected, got };
    // Errors between the nearest delivered valid events, shared with the steps around.
    const from = starts.length ? `valid ${Math.max(...starts)}` : "the start";
    const to = ends.length ? `valid ${Math.min(...ends)}` : "the end";
    return { name, expected, got: `${got}, counted from ${from} to ${to} (valid events between were lost)` };
  });
}

/**
 * Runs `steps` against a client with `options` (merged over { url, maxProgressPerSecond: 0 })
 * in a fresh page of `browser` and a server of its own; with `channel` ([name, id]), the page
 * subscribes to that app channel too, before the storm starts. Resolves with the
 * report: what was delivered, errors per step, memory, state, page errors and prototype checks.
 */
export async function runStorm(browser, { options = {}, steps = [], channel = null }) {
  const { wire, plan, validSeqs } = layOut(steps);
  const server = await startHostileServer(async (peer) => {
    await peer.send(JSON.stringify({ type: "connected", clientId: "c_hostile", heartbeatMs: 30000 }));
    await peer.next((frame) => frame?.type === "subscribe" && frame.channel === "generation");
    await peer.send(JSON.stringify({ type: "subscribed", channel: "generation", id: JOB, seq: 0 }));
    if (channel) {
      await peer.next((frame) => frame?.type === "subscribe" && frame.channel === channel[0]);
      await peer.send(JSON.stringify({ type: "subscribed", channel: channel[0], id: channel[1], seq: 0 }));
    }
    const sent = wire.map((frame) => peer.send(frame));
    sent.push(peer.send(STORM_OVER));
    await Promise.all(sent);
  });
  const page = await browser.newPage();
  const startedAt = Date.now();
  try {
    await page.goto(server.pageUrl);
    await waitUntil(page, () => document.body?.dataset.ready === "true" && Boolean(window.harness));
    const { memoryAtStart } = await page.evaluate(
      (arg) => window.harness.start(arg),
      {
        options: { url: server.socketUrl, maxProgressPerSecond: 0, ...options },
        job: JOB,
        channel,
      },
    );
    // A client that trapped never reports the closing frame: the checks then say what it did.
    const stormOver = await waitUntil(page, () => window.harness.read().stormOver).then(() => true, () => false);
    const stormMs = Date.now() - startedAt;
    // Still working after the storm: a message goes out and its ack comes back.
    let acked = false;
    if (stormOver) {
      await page.evaluate(() => window.harness.send("after_storm", { ok: true })).catch(() => {});
      acked = await waitUntil(page, () => window.harness.read().state.outboxSize === 0, null, { timeoutMs: 5_000 })
        .then(() => true, () => false);
    }
    const seen = await page.evaluate(() => window.harness.read());
    return {
      ...seen,
      problems: [...page.problems, ...(seen.pageErrors ?? [])],
      memoryAtStart,
      stormOver,
      stormMs,
      acked,
      validSeqs,
      delivered: seen.log.filter((entry) => entry.channel === "generation").map((entry) => `${entry.seq}:${entry.mark}`),
      channelDelivered: seen.log.filter((entry) => channel && entry.channel === channel[0]),
      perStep: errorsPerStep(seen.log, plan),
      totalErrors: seen.log.reduce((sum, entry) => sum + (entry.errors ?? 0) - (entry.codes?.["server_error:storm_over"] ?? 0), 0),
    };
  } finally {
    await page.close();
    await server.stop();
  }
}
