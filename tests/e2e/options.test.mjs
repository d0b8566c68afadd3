// The package's constructor refuses bad options with an Error an app can recognize by its
// `code`, "invalid_options", and a message naming the option. The refusal comes before the
// client touches any browser API, so plain Node runs the built package (target/package).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";

const pkg = new URL("../../target/package/", import.meta.url);
const { createJobSocket, initialize, JobSocket } = await import(new URL("index.js", pkg).href);
await initialize(await readFile(new URL("jobsocket_bg.wasm", pkg)));

const refusals = [
  [{ url: "ws://localhost:1/ws", pingIntervalMs: -1 }, /pingIntervalMs must be a whole number/],
  [{ url: "ws://localhost:1/ws", reconectMaxDelayMs: 100 }, /unknown option "reconectMaxDelayMs"/],
  [{}, /url is required/],
];

test("new JobSocket throws an Error with code invalid_options and a message naming the option", () => {
  for (const [options, message] of refusals) {
    assert.throws(
      () => new JobSocket(options),
      (error) => error instanceof Error && error.code === "invalid_options" && message.test(error.message),
    );
  }
});

test("createJobSocket rejects with the same error", async () => {
  await assert.rejects(createJobSocket({ url: 42 }), { code: "invalid_options", message: /url is required/ });
});
