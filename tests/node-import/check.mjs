// Importing `jobsocket` and `jobsocket/react` in plain Node (server-side rendering) must not
// throw or touch `window`, and the hooks must render a connecting state on the server.
import assert from "node:assert/strict";
import { createElement } from "react";
import { renderToString } from "react-dom/server";

assert.equal(typeof globalThis.window, "undefined");
const client = await import("jobsocket");
const react = await import("jobsocket/react");
assert.equal(typeof client.createJobSocket, "function");
assert.equal(typeof react.useGeneration, "function");

const html = renderToString(
  createElement(
    react.JobSocketProvider,
    { options: { url: "ws://localhost:1/ws" } },
    createElement(react.ConnectionStatus),
  ),
);
assert.match(html, /data-status="connecting"/);
assert.equal(typeof globalThis.window, "undefined");
console.log("node import: 3 passed, 0 failed");
