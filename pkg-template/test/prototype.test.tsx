// A server's `__proto__` key in event data: JSON.parse makes it an own property, and nothing on
// the way to the app (deliver.js's delivery, the hooks' reducers) may assign it to a plain
// object, which would call the `__proto__` setter and give that object (or, through a merge,
// Object.prototype) the server's prototype.
import { afterEach, expect, test } from "vitest";
// @ts-expect-error: plain JS without types, bundled into the wasm-bindgen glue.
import { deliver, deliverSlice } from "../../src/bindings/deliver.js";
import {
  INITIAL_CHANNEL,
  INITIAL_COMPOSITION,
  INITIAL_GENERATION,
  reduceChannel,
  reduceComposition,
  reduceGeneration,
} from "../src/job-state.js";

const HOSTILE = '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},';

afterEach(() => {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype).not.toHaveProperty("polluted");
});

test("a payload with a __proto__ key reaches handlers as an own property and pollutes nothing", () => {
  const frame =
    '{"type":"event","channel":"generation","id":"g1","seq":1,"event":"error","data":' +
    HOSTILE +
    '"code":"x","message":"m","recoverable":true}}';
  const start = frame.indexOf('{"__proto__"');
  const seen: unknown[] = [];
  const thrown = deliverSlice(
    [{ error: (data: unknown, meta: unknown) => seen.push(data, meta), onEvent: (data: unknown) => seen.push(data) }],
    "error",
    frame,
    start,
    frame.length - 1,
    "generation",
    "g1",
    1,
  );
  expect(thrown).toBeUndefined();
  const data = seen[0] as Record<string, unknown>;
  expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
  expect(Object.prototype.hasOwnProperty.call(data, "__proto__")).toBe(true);
  expect((seen[1] as { data: unknown }).data).toBe(data);
});

test("the hooks' reducers keep a __proto__ key of the data as data", () => {
  const data = JSON.parse(HOSTILE + '"code":"x","message":"m","recoverable":false}');
  const generation = reduceGeneration(INITIAL_GENERATION, "error", data, 1);
  expect(Object.getPrototypeOf(generation)).toBe(Object.prototype);
  expect(Object.getPrototypeOf(generation.error)).toBe(Object.prototype);
  const composition = reduceComposition(INITIAL_COMPOSITION, "error", data, 1);
  expect(Object.getPrototypeOf(composition)).toBe(Object.prototype);
  const channel = reduceChannel(INITIAL_CHANNEL, "note", data, 1);
  expect(Object.getPrototypeOf(channel.last)).toBe(Object.prototype);
  expect(channel.last?.data).toBe(data);
  const progress = JSON.parse(HOSTILE + '"step":"s","clip_number":1,"total_clips":1,"percentage":5,"message":""}');
  const moving = reduceGeneration(INITIAL_GENERATION, "progress", progress, 2);
  expect(Object.getPrototypeOf(moving)).toBe(Object.prototype);
  expect(moving).not.toHaveProperty("polluted");
  // deliver() builds `meta` from named fields only.
  const seen: unknown[] = [];
  deliver([{ onEvent: (_: unknown, meta: unknown) => seen.push(meta) }], "note", data, "workspace", "w1", 3);
  expect(Object.getPrototypeOf(seen[0])).toBe(Object.prototype);
});
