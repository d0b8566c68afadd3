// The package's constructor refuses bad options with an Error an app can recognize by its
// `code`, "invalid_options", and a message naming the option. The refusal comes before the
// client touches any browser API, so plain Node runs the built package (target/package).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";

const pkg = new URL("../../target/package/", import.meta.url);
const { createJobSocket, initialize, JobSocket, socketIo } = await import(new URL("index.js", pkg).href);
await initialize(await readFile(new URL("jobsocket_bg.wasm", pkg)));

const refusals = [
  [{ url: "ws://localhost:1/ws", pingIntervalMs: -1 }, /pingIntervalMs must be a whole number/],
  [{ url: "ws://localhost:1/ws", reconectMaxDelayMs: 100 }, /unknown option "reconectMaxDelayMs"/],
  [{}, /url is required/],
  // Issue 12: a token without a per-user storageKey would let one user's stored outbox be sent
  // on the next user's connection; a fragment would swallow the token appended to the query.
  [{ url: "ws://localhost:1/ws", token: "t" }, /storageKey is required with token/],
  [{ url: "ws://localhost:1/ws", token: () => "t", storageKey: "" }, /storageKey is required with token/],
  [{ url: "ws://localhost:1/ws#x" }, /must not have a #fragment/],
  [{ url: "ws://localhost:1/ws", tokenTransport: "header" }, /tokenTransport must be "query" or "frame"/],
  [{ url: "ws://localhost:1/ws", tokenTransport: "frame", protocol: socketIo() }, /tokenTransport "frame" is for protocol v1/],
  // Issue 17: where messages go while polling: a path or URL, or null for the socket only.
  [{ url: "ws://localhost:1/ws", messagesUrl: 42 }, /messagesUrl must be a string or null/],
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

test("a ws:// URL on an https: page throws mixed_content at once instead of retrying forever", () => {
  globalThis.location = { protocol: "https:" };
  try {
    assert.throws(() => new JobSocket({ url: "ws://jobs.example/ws" }), { code: "mixed_content", message: /use wss:\/\// });
    // The loopback host is exempt, as browsers exempt it.
    const local = new JobSocket({ url: "ws://127.0.0.1:1/ws" });
    local.free();
  } finally {
    delete globalThis.location;
  }
});

test("a job id that is a dot segment is refused, since it would leave the status URL's path", () => {
  const client = new JobSocket({ url: "ws://127.0.0.1:1/ws", storageKey: "dots" });
  try {
    for (const id of [".", ".."]) {
      assert.throws(() => client.subscribeGeneration(id, {}), /must not be "\." or "\.\."/);
      assert.throws(() => client.subscribeComposition(id, {}), /must not be "\." or "\.\."/);
    }
  } finally {
    client.close();
    client.free();
  }
});

test("message ids are 128 random bits, different for every client", () => {
  const ids = [];
  for (const key of ["a", "b"]) {
    const client = new JobSocket({ url: "ws://127.0.0.1:1/ws", storageKey: key, transports: ["polling"] });
    ids.push(client.send("note", 1));
    client.clearOutbox();
    client.close();
    client.free();
  }
  for (const id of ids) assert.match(id, /^m_[0-9a-f]{32}$/);
  assert.notEqual(ids[0], ids[1]);
});
