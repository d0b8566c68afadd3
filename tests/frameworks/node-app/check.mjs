// Importing `jobsocket` and `jobsocket/react` in plain Node (a server rendering) must not
// throw or touch `window`, and the provider with ConnectionStatus and a hook must render the
// connecting state on the server.
import assert from "node:assert/strict";
import { createElement as h } from "react";
import { renderToString } from "react-dom/server";

assert.equal(typeof globalThis.window, "undefined");
const client = await import("jobsocket");
const react = await import("jobsocket/react");
assert.equal(typeof client.createJobSocket, "function");
assert.equal(typeof react.useGeneration, "function");

function Job() {
  const { status, progress } = react.useGeneration("gen_1");
  return h("p", { id: "job", "data-status": status ?? "none", "data-progress": progress });
}

const html = renderToString(
  h(
    react.JobSocketProvider,
    { options: { url: "ws://127.0.0.1:1/ws" } },
    h(react.ConnectionStatus),
    h(Job),
  ),
);
assert.match(html, /data-status="connecting"/, html);
assert.match(html, /<p id="job" data-status="none" data-progress="0">/, html);
assert.equal(typeof globalThis.window, "undefined");
