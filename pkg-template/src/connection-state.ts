// The connection states the adapter shows before a client says otherwise. Kept apart from the
// store so `jobsocket/testing` can use them without importing the wasm glue.
import type { ConnectionState } from "./types.js";

/** Before a client exists: on the server, and while the wasm loads. */
export const CONNECTING: ConnectionState = {
  status: "connecting",
  transport: null,
  nextRetryAt: null,
  reason: null,
  attempt: 0,
  connectedAt: null,
  disconnectedAt: null,
  lastError: null,
  requestId: null,
  clientId: null,
  serverHeartbeatMs: null,
  outboxSize: 0,
  recovered: false,
};

/** A client that has nothing to do yet: it connects at the first subscription or message. */
export const IDLE: ConnectionState = { ...CONNECTING, status: "idle" };
