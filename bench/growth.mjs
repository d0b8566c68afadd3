// `make bench`, the growth section (issue 15): what one client costs as what it holds grows.
// The page side is bench/page/growth.js (how each figure is taken); this is its plan, its
// summary (medians of the interleaved runs) and its markdown table.
import { fmt, median } from "./figures.mjs";

/**
 * The plan: `growthEvents` events per run for each job count of `growthJobs`; one reconnect
 * with `resubscribeJobs` jobs; an outbox of `outboxMessages` restored. QUICK=1 sends fewer
 * events, with the same job counts.
 */
export function growthConfig(quick) {
  return {
    growthJobs: [1, 100, 1_000],
    growthEvents: quick ? 2_000 : 20_000,
    resubscribeJobs: 1_000,
    outboxMessages: 100,
  };
}

/** The report's `growth` section from the page's runs. */
export function summarizeGrowth(runs, config) {
  const medianOf = (list, key) => median(list.map((run) => run[key]));
  const byJobs = (key) =>
    Object.fromEntries(
      config.growthJobs.map((jobs) => [jobs, medianOf(runs.perEvent.filter((run) => run.jobs === jobs), key)]),
    );
  const perEventUs = byJobs("handler_us_per_event");
  const fewest = config.growthJobs[0];
  const most = config.growthJobs.at(-1);
  const fields = (list, keys) => Object.fromEntries(keys.map((key) => [key, medianOf(list, key)]));
  return {
    events_per_run: config.growthEvents,
    jobs: config.growthJobs,
    per_event_us: perEventUs,
    events_per_s: byJobs("events_per_s"),
    subscribe_ms: byJobs("subscribe_ms"),
    // Flat is 1.
    per_event_most_vs_fewest: perEventUs[most] / perEventUs[fewest],
    resubscribe: {
      jobs: config.resubscribeJobs,
      ...fields(runs.resubscribe, [
        "frames",
        "subscribe_frames",
        "cpu_ms",
        "reconnect_call_ms",
        "open_handler_ms",
        "answers_ms",
        "elapsed_ms",
      ]),
    },
    outbox_restore: {
      messages: config.outboxMessages,
      ...fields(runs.outboxRestore, ["construct_ms", "loaded_ms", "delivered_ms", "socket_handlers_ms"]),
    },
    measure_seconds: runs.seconds,
    runs,
  };
}

/** The section's markdown table. */
export function growthTable(g) {
  const jobs = g.jobs.map((n) => fmt(n)).join(" / ");
  const each = (values, digits) => g.jobs.map((n) => fmt(values[n], digits)).join(" / ");
  const r = g.resubscribe;
  const o = g.outbox_restore;
  return [
    `One client, one socket, against the bench's growth endpoint (which counts the frames it receives). Client time is the page's main thread inside the client's WebSocket handlers (performance.now() around each call), which is where all of its work on a frame runs. Medians of the interleaved runs.`,
    ``,
    `| measure | jobsocket | compare with |`,
    `|---|---|---|`,
    `| per event, ${jobs} jobs subscribed: client time (µs; ${fmt(g.events_per_run)} events a run, over the jobs in turn) | ${each(g.per_event_us, 2)} | flat: ${fmt(g.per_event_most_vs_fewest, 2)}× from ${fmt(g.jobs[0])} to ${fmt(g.jobs.at(-1))} jobs |`,
    `| per event, ${jobs} jobs subscribed: events/s delivered | ${each(g.events_per_s)} | — |`,
    `| subscribing ${jobs} jobs: the app's subscribeGeneration calls (ms) | ${each(g.subscribe_ms, 2)} | — |`,
    `| resubscribing ${fmt(r.jobs)} jobs after reconnect(): frames the server received | ${fmt(r.frames)} (${fmt(r.subscribe_frames)} subscribe) | one subscribe per job: ${fmt(r.jobs)} |`,
    `| resubscribing ${fmt(r.jobs)} jobs after reconnect(): client time (ms) | ${fmt(r.cpu_ms, 2)} | reconnect() ${fmt(r.reconnect_call_ms, 2)}, socket opened (subscribes sent) ${fmt(r.open_handler_ms, 2)}, ${fmt(r.jobs)} answers handled ${fmt(r.answers_ms, 2)}; ${fmt(r.elapsed_ms, 1)} ms from reconnect() to the last answer |`,
    `| restoring an outbox of ${fmt(o.messages)} queued messages (ms from the new client) | loaded ${fmt(o.loaded_ms, 2)}, all acked ${fmt(o.delivered_ms, 2)} | constructor ${fmt(o.construct_ms, 2)}; socket handlers (sends, acks) ${fmt(o.socket_handlers_ms, 2)} |`,
  ].join("\n");
}
