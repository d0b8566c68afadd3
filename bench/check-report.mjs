// Checks that the bench produced every number the report promises (not that they are fast),
// and prints the result in the plain "N passed, N failed" form test logs are read for.
import { readFile } from "node:fs/promises";

const report = JSON.parse(await readFile(new URL("../target/bench/report.json", import.meta.url)));
const keys = [
  "per_frame.ratio_vs_raw",
  "per_frame.ratio_vs_socketio",
  "per_frame.socketio_dialect_ratio",
  "batched.ratio_vs_raw",
  "latency.p99_added_ms",
  "size.total_gzip_bytes",
  "size.total_brotli_bytes",
  "size.socketio_gzip_bytes",
  "size.with_react_gzip_bytes",
  "memory.wasm_bytes_after_cycles",
  "idle.timer_wakeups_per_minute",
  "idle.heartbeat_wakeups_per_minute",
  "idle.expected_wakeups_in_window",
  "growth.per_event_us.1",
  "growth.per_event_us.100",
  "growth.per_event_us.1000",
  "growth.per_event_most_vs_fewest",
  "growth.events_per_s.1000",
  "growth.resubscribe.frames",
  "growth.resubscribe.subscribe_frames",
  "growth.resubscribe.cpu_ms",
  "growth.outbox_restore.loaded_ms",
  "growth.outbox_restore.delivered_ms",
  "tabs.sockets_shared",
  "tabs.sockets_off",
  "tabs.leader_task_us_per_event",
  "tabs.follower_task_us_per_event",
  "tabs.off_task_us_per_event",
  "tabs.leader_vs_off",
  "tabs.follower_vs_off",
  "tabs.all_tabs_shared_vs_off",
];
let passed = 0;
let failed = 0;
for (const key of keys) {
  const value = key.split(".").reduce((object, part) => object?.[part], report);
  if (typeof value === "number" && Number.isFinite(value)) {
    passed += 1;
  } else {
    failed += 1;
    console.error(`bench report: ${key} is ${JSON.stringify(value)}, not a number`);
  }
}
console.log(`bench: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
