// Issue 12's adversarial suite: the real package, in Chromium and in Firefox, against a hostile
// server (hostile-server.mjs) that sends malformed, oversized, deeply nested and duplicate-key
// frames, `__proto__` keys, impossible seqs, binary frames, floods and batches, with valid
// progress events 1, 2, 3, … between them (storm.mjs lays the wire out). In every case the page
// must survive (no trap, no page error, the client open and still answering and acking), the
// wasm memory must stay under MEMORY_BOUND, every valid event must arrive once and in order,
// each hostile frame must cost exactly one error (or none for valid ones, such as a pong), and
// Object.prototype must be untouched.
//
// Each test reports every check that failed at once, with its numbers, and a diagnostic line
// with the memory, the error counts and the time, so a run shows the whole picture.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { BROWSERS, launch } from "./browsers.mjs";
import { eventFrame, progressData, runStorm, JOB } from "./storm.mjs";

/** The small frame limit most cases set. */
const SMALL_LIMIT = 64 * 1024;
/** The client's default frame limit. */
const DEFAULT_LIMIT = 1024 * 1024;
/**
 * The most wasm memory a page may have after a storm. A fresh client has 1.1 MiB; the calm run
 * below (63 valid events plus a 1 MiB batch of 5,649 valid events, the largest frame the client
 * accepts by default) ends at 6.2 MiB in both browsers, and a fix that reads JSON more thriftily
 * can only lower that. 16 MiB is two and a half times the calm peak, room for allocator slack,
 * yet far under what a storm costs when errors, reserved members or a frame over the limit
 * grow with the input (a 40 MiB frame copied before its size check is 40 MiB).
 */
const MEMORY_BOUND = 16 * 1024 * 1024;
/** Errors expected per hostile frame: one, whatever its code, for the cases below. */
const ONE = 1;
/** Errors expected for a seq that jumps backward (the fix reports it). */
const BACKWARD_JUMP_ERRORS = 1;

const pad = (bytes) => "x".repeat(bytes);
/** A pong of exactly `bytes` bytes. */
const pongOf = (bytes) => {
  const head = '{"type":"pong","t":1,"pad":"';
  return `${head}${pad(bytes - head.length - 2)}"}`;
};
const step = (name, errors, frames) => ({ name, errors, frames: typeof frames === "function" ? frames : () => frames });
/** One hostile frame, one error. */
const bad = (name, frame) => step(name, ONE, typeof frame === "function" ? (ctx) => [frame(ctx)] : [frame]);

/** Runs every check, then fails once with every message, so one run shows each failure. */
function checkAll(t, browserName, report, checks) {
  const failures = [];
  for (const [label, check] of Object.entries(checks)) {
    try {
      check();
    } catch (error) {
      failures.push(`${label}: ${error.message.split("\n").slice(0, 30).join("\n")}`);
    }
  }
  // Steps that should cost no error and cost none (the calm run's live events) are counted, not listed.
  const quiet = report.perStep.filter(({ expected, got }) => expected === 0 && got === 0);
  const listed = report.perStep.filter((entry) => !quiet.includes(entry)).map(({ name, got }) => [name, got]);
  t.diagnostic(
    `${browserName}: memory ${(report.memoryBytes / 2 ** 20).toFixed(1)} MiB (at start ${(report.memoryAtStart / 2 ** 20).toFixed(1)}), ` +
      `${report.totalErrors} errors, ${report.delivered.length} job events, storm ${report.stormMs} ms, ` +
      `errors per step ${JSON.stringify(listed)}${quiet.length ? ` and ${quiet.length} step(s) with none, as expected` : ""}`,
  );
  if (failures.length) assert.fail(`${failures.length} check(s) failed in ${browserName}:\n- ${failures.join("\n- ")}`);
}

/** The checks every case makes. */
function standardChecks(report) {
  return {
    "no trap, no page error": () => assert.deepEqual(report.problems, []),
    "the storm was read to its end": () => assert.equal(report.stormOver, true),
    "the client still answers state, open": () => assert.equal(report.state.status, "open", JSON.stringify(report.state)),
    "the client still sends and hears its ack after the storm": () => assert.equal(report.acked, true),
    "wasm memory below the bound": () =>
      assert.ok(report.memoryBytes < MEMORY_BOUND, `${report.memoryBytes} bytes, bound ${MEMORY_BOUND}`),
    "every valid event once and in order, nothing else": () => assertEveryValidEventOnce(report),
    "errors per hostile frame": () =>
      assert.deepEqual(
        Object.fromEntries(report.perStep.map(({ name, got }) => [name, got])),
        Object.fromEntries(report.perStep.map(({ name, expected }) => [name, expected])),
      ),
    "Object.prototype untouched": () => {
      assert.deepEqual(report.addedProtoKeys, []);
      assert.equal(report.emptyObjectPolluted, null);
    },
  };
}

/** Compares the job's delivered events with the valid ones, and says what differs in short. */
function assertEveryValidEventOnce(report) {
  const expected = report.validSeqs.map((seq) => `${seq}:valid ${seq}`);
  const wanted = new Set(expected);
  const got = new Set(report.delivered);
  const missing = expected.filter((entry) => !got.has(entry));
  const unexpected = report.delivered.filter((entry) => !wanted.has(entry));
  const once = new Set();
  const repeated = report.delivered.filter((entry) => once.has(entry) || !once.add(entry));
  const valid = report.delivered.filter((entry) => wanted.has(entry));
  const inOrder = valid.every((entry, index) => index === 0 || Number(entry.split(":")[0]) > Number(valid[index - 1].split(":")[0]));
  const short = (list) => `${list.length} ${JSON.stringify(list.slice(0, 12))}${list.length > 12 ? "…" : ""}`;
  assert.ok(
    !missing.length && !unexpected.length && !repeated.length && inOrder,
    `missing ${short(missing)}; unexpected (seq:mark percentage/recoverable) ${short(
      report.log.filter((entry) => entry.channel === "generation" && !wanted.has(`${entry.seq}:${entry.mark}`)).map((entry) => `${entry.seq}:${entry.mark} ${entry.detail}`),
    )}; repeated ${short(repeated)}; valid ones in order: ${inOrder}`,
  );
}

const deepArray = (depth) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

/** Cases: name → { options, steps, channel, extraChecks(report) }. */
const CASES = {
  "a calm run (the memory reference): every event once, no error": {
    options: {},
    steps: [
      // A replay batch as large as the default limit allows, all of it valid.
      step("a 1 MiB batch of valid events", 0, ({ valid }) => {
        const events = [];
        let bytes = 2;
        while (bytes < DEFAULT_LIMIT - 1_000) {
          events.push(valid());
          bytes += events.at(-1).length + 1;
        }
        return [`[${events.join(",")}]`];
      }),
      ...Array.from({ length: 60 }, (_, n) => step(`live event and pong ${n}`, 0, [JSON.stringify({ type: "pong", t: n })])),
    ],
  },

  "malformed frames cost one error each and nothing else": {
    options: { maxFrameBytes: SMALL_LIMIT },
    steps: [
      bad("not JSON", "hello, server"),
      bad("truncated JSON", ({ next }) => eventFrame(next, "hostile").slice(0, 70)),
      bad("a seq that is a string", ({ next }) => eventFrame(next, "hostile", { seqText: `"${next}"` })),
      bad("a percentage that is a string", ({ next }) =>
        eventFrame(next, "hostile", { data: progressData(next, "hostile").replace(/"percentage":\d+/, '"percentage":"high"') }),
      ),
      bad("data that is an array", ({ next }) => eventFrame(next, "hostile", { data: "[1,2,3]" })),
      bad("a type that is a number", '{"type":42}'),
      bad("null", "null"),
      bad("a bare string", '"event"'),
      bad("60,000 unclosed [", "[".repeat(60_000)),
      bad("60,000 nested arrays", deepArray(30_000)),
      bad("12,000 nested objects", `${'{"a":'.repeat(12_000)}1${"}".repeat(12_000)}`),
    ],
  },

  "frames over a 64 KiB maxFrameBytes are dropped with one error, without growing the memory": {
    options: { maxFrameBytes: SMALL_LIMIT },
    steps: [
      bad("one byte over the limit", pongOf(SMALL_LIMIT + 1)),
      bad("a valid event over the limit", ({ next }) =>
        eventFrame(next, "hostile", { data: progressData(next, "hostile", `,"pad":"${pad(SMALL_LIMIT)}"`) }),
      ),
      bad("a 40 MiB frame", pongOf(40 * 2 ** 20)),
      step("exactly the limit (a valid pong)", 0, [pongOf(SMALL_LIMIT)]),
    ],
  },

  "frames over the default 1 MiB limit are dropped with one error": {
    options: {},
    steps: [
      bad("1 MiB and one byte", pongOf(DEFAULT_LIMIT + 1)),
      bad("4 MiB", pongOf(4 * DEFAULT_LIMIT)),
      bad("100,000 unclosed [ (under the limit)", "[".repeat(100_000)),
      bad("100,000 nested arrays (under the limit)", deepArray(100_000)),
    ],
  },

  "frames with duplicate keys are refused with one error each": {
    options: { maxFrameBytes: SMALL_LIMIT },
    steps: [
      bad("type twice", ({ next }) => eventFrame(next, "hostile").replace('"type":"event"', '"type":"pong","t":1,"type":"event"')),
      bad("seq twice", ({ next }) => eventFrame(next, "hostile", { seqText: `${next},"seq":${next + 50}` })),
      bad("id twice", ({ next }) => eventFrame(next, "hostile").replace(`"id":"${JOB}"`, `"id":"${JOB}","id":"gen_other"`)),
      bad("data twice", ({ next }) =>
        eventFrame(next, "hostile", { data: `${progressData(next, "hostile")},"data":${progressData(next, "hostile twice")}` }),
      ),
      bad("percentage twice inside data, the second not a number", ({ next }) =>
        eventFrame(next, "hostile", { data: progressData(next, "hostile", ',"percentage":"not a number"') }),
      ),
      bad("__proto__ twice inside data", ({ next }) =>
        eventFrame(next, "hostile", { data: progressData(next, "hostile", ',"__proto__":1,"__proto__":{"polluted":1}') }),
      ),
      bad("recoverable false then true in an error event", ({ next }) =>
        `{"type":"event","channel":"generation","id":"${JOB}","seq":${next},"event":"error","data":{"code":"x","message":"hostile","recoverable":false,"recoverable":true}}`,
      ),
    ],
  },

  "__proto__ and constructor keys in event data reach the app as plain data": {
    options: { maxFrameBytes: SMALL_LIMIT },
    steps: [
      step("a valid event with __proto__ in its data", 0, ({ valid }) => [valid(',"__proto__":{"polluted":1}')]),
      step("a valid event with constructor.prototype in its data", 0, ({ valid }) => [
        valid(',"constructor":{"prototype":{"polluted":1}}'),
      ]),
      step("a valid event with both, nested", 0, ({ valid }) => [
        valid(',"nested":{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}'),
      ]),
      // App channel events are delivered with their data as it came: names and keys the
      // server picks, some of them Object.prototype's own method names.
      step("app channel events named like Object.prototype's methods, __proto__ in their data", 0,
        ["__proto__", "constructor", "__defineGetter__", "toString", "hasOwnProperty"].map((event, index) =>
          JSON.stringify({ type: "event", channel: "workspace", id: "w_storm", seq: index + 1, event, data: { mark: event } })
            .replace('"data":{', '"data":{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},'),
        ),
      ),
    ],
    channel: ["workspace", "w_storm"],
    extraChecks: (report) => ({
      "each app channel event once, in order, under its own name": () =>
        assert.deepEqual(
          report.channelDelivered.map(({ event, seq, mark }) => `${seq}:${event}:${mark}`),
          ["1:__proto__:__proto__", "2:constructor:constructor", "3:__defineGetter__:__defineGetter__", "4:toString:toString", "5:hasOwnProperty:hasOwnProperty"],
        ),
      "no data object inherits from the __proto__ it carried": () =>
        assert.deepEqual(report.log.filter((entry) => entry.polluted !== null && entry.polluted !== undefined), []),
      "no handler_error for events named like Object.prototype's methods": () =>
        assert.deepEqual(report.log.filter((entry) => entry.codes?.handler_error), []),
    }),
  },

  "seqs past 2^53 or not whole numbers are refused with one error each": {
    options: { maxFrameBytes: SMALL_LIMIT },
    steps: [
      ...[["-1", "-1"], ["1.5", "1.5"], ["1e400", "1e400"], ["2^64", "18446744073709551616"]].map(([name, text]) =>
        bad(`seq ${name}`, ({ next }) => eventFrame(next, "hostile", { seqText: text })),
      ),
      ...[["2^53", "9007199254740992"], ["2^53 + 1", "9007199254740993"], ["2^64 - 1", "18446744073709551615"]].map(([name, text]) =>
        bad(`seq ${name}`, ({ next }) => eventFrame(next, "hostile", { seqText: text })),
      ),
    ],
  },

  "a seq jumping backward is reported once and not delivered": {
    options: { maxFrameBytes: SMALL_LIMIT },
    steps: [
      step("valid 2 to 5", 0, ({ valid }) => [valid(), valid(), valid(), valid()]),
      step("seq 3 again, after 6", BACKWARD_JUMP_ERRORS, ({ next }) => [eventFrame(next - 4, "hostile")]),
      step("seq 1, after 7", BACKWARD_JUMP_ERRORS, [eventFrame(1, "hostile")]),
    ],
  },

  "binary frames cost one error each; floods of pongs and acks cost nothing": {
    options: { maxFrameBytes: SMALL_LIMIT },
    steps: [
      bad("an empty binary frame", Buffer.alloc(0)),
      bad("16 bytes of binary", Buffer.from("0123456789abcdef")),
      bad("1 MiB of binary", Buffer.alloc(DEFAULT_LIMIT, 7)),
      step("5,000 pongs", 0, Array.from({ length: 5_000 }, (_, n) => JSON.stringify({ type: "pong", t: n }))),
      step("5,000 acks of unknown ids", 0, Array.from({ length: 5_000 }, (_, n) => JSON.stringify({ type: "ack", id: `m_${n}` }))),
      step("a batch of 2,000 pongs", 0, [JSON.stringify(Array.from({ length: 2_000 }, (_, n) => ({ type: "pong", t: n })))]),
    ],
  },

  "batches: 1 MiB of empty objects is one error; a mixed batch delivers its valid events and one error": {
    options: {},
    steps: [
      bad("a batch of 349,000 {}", `[${Array(349_000).fill("{}").join(",")}]`),
      step("valid, {}, 42, \"x\", null, valid, a bad event, valid", ONE, ({ valid }) => {
        const [first, second] = [valid(), valid()];
        const badEvent = `{"type":"event","channel":"generation","id":"${JOB}","seq":"bad","event":"progress"}`;
        return [`[${first},{},42,"x",null,${second},${badEvent},${valid()}]`];
      }),
      bad("a batch of 20,000 unknown types", JSON.stringify(Array.from({ length: 20_000 }, () => ({ type: "surprise" })))),
    ],
  },
};

for (const name of BROWSERS) {
  describe(`a hostile server, in ${name}`, () => {
    let browser;
    before(async () => {
      browser = await launch(name);
    });
    after(async () => {
      await browser?.close();
    });

    for (const [title, { extraChecks, ...storm }] of Object.entries(CASES)) {
      test(title, async (t) => {
        const report = await runStorm(browser, storm);
        checkAll(t, name, report, { ...standardChecks(report), ...(extraChecks?.(report) ?? {}) });
      });
    }
  });
}
