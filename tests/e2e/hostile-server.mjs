// A hostile job server for the adversarial tests: a node http server on a free port of
// 127.0.0.1 that serves a small test page (hostile-page.js) and the built package from
// target/package under /pkg/, and accepts WebSockets at /ws, where the test decides every frame.
// Each test starts its own, so no two tests share a socket, a counter or a script.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { WebSocketServer } from "ws";

const here = path.dirname(fileURLToPath(import.meta.url));
const packageDir = path.resolve(here, "../../target/package");

const TYPES = { ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json", ".html": "text/html" };

// Records Object.prototype's own keys before the package loads, so the page can tell whether
// anything added one; then loads the harness, which loads the package.
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>jobsocket under a hostile server</title>
<script>
  window.__protoKeysAtStart = Object.getOwnPropertyNames(Object.prototype).sort();
  window.__pageErrors = [];
  addEventListener("error", (event) => window.__pageErrors.push(String(event.message)));
  addEventListener("unhandledrejection", (event) => window.__pageErrors.push(String(event.reason?.stack ?? event.reason)));
</script>
<script type="module" src="/hostile-page.js"></script>
<body></body>`;

/**
 * Starts the server. `onSocket(peer)` is called for every WebSocket; `peer` sends frames,
 * waits for the client's frames, and closes. Resolves with the page's URL, the socket URL, the
 * peers so far (in order) and stop(), which closes every socket and the server.
 */
export async function startHostileServer(onSocket) {
  const peers = [];
  const http = createServer((request, response) => {
    serve(request.url).then(
      ({ status, type, body }) => {
        response.writeHead(status, { "content-type": type, "cache-control": "no-store" });
        response.end(body);
      },
      (error) => {
        response.writeHead(500, { "content-type": "text/plain" });
        response.end(String(error));
      },
    );
  });
  // The client's own frames are small; a big one from it would be a bug worth a close.
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  http.on("upgrade", (request, socket, head) => {
    const url = new URL(request.url, "http://127.0.0.1");
    if (url.pathname !== "/ws") {
      socket.destroy();
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) => {
      const peer = makePeer(ws, url, peers.length);
      peers.push(peer);
      Promise.resolve(onSocket(peer)).catch((error) => {
        peer.failure = error;
        ws.terminate();
      });
    });
  });
  await new Promise((resolve, reject) => {
    http.once("error", reject);
    http.listen(0, "127.0.0.1", resolve);
  });
  const base = `http://127.0.0.1:${http.address().port}`;
  return {
    pageUrl: `${base}/`,
    socketUrl: `ws://127.0.0.1:${http.address().port}/ws`,
    peers,
    async stop() {
      for (const client of sockets.clients) client.terminate();
      sockets.close();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

async function serve(rawUrl) {
  const { pathname } = new URL(rawUrl, "http://127.0.0.1");
  if (pathname === "/") return { status: 200, type: TYPES[".html"], body: PAGE };
  if (pathname === "/hostile-page.js") {
    return { status: 200, type: TYPES[".js"], body: await readFile(path.join(here, "hostile-page.js")) };
  }
  if (pathname.startsWith("/pkg/")) {
    const file = path.resolve(packageDir, `.${pathname.slice("/pkg".length)}`);
    if (file.startsWith(packageDir + path.sep)) {
      try {
        const body = await readFile(file);
        return { status: 200, type: TYPES[path.extname(file)] ?? "application/octet-stream", body };
      } catch {
        // Falls through to 404.
      }
    }
  }
  return { status: 404, type: "text/plain", body: "not found" };
}

/** One WebSocket from the page, as the test drives it. */
function makePeer(ws, url, index) {
  const received = [];
  const waiters = [];
  const closed = new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: String(reason) })));
  const peer = {
    index,
    query: url.searchParams,
    openedAt: Date.now(),
    received,
    closed,
    failure: null,
    /** Answer `ping` with `pong` and `message` with `ack`, as a server must (on by default). */
    answers: true,
    /** Sends a text frame, or a binary one for a Buffer. Resolves once it is written. */
    send(frame) {
      return new Promise((resolve, reject) => {
        if (ws.readyState !== ws.OPEN) {
          resolve(false);
          return;
        }
        const binary = Buffer.isBuffer(frame);
        ws.send(frame, { binary }, (error) => (error ? reject(error) : resolve(true)));
      });
    },
    /** Resolves with the client's next frame (parsed) for which `match(frame)` holds. */
    next(match) {
      const seen = received.find((frame) => !frame.taken && match(frame.json));
      if (seen) {
        seen.taken = true;
        return Promise.resolve(seen.json);
      }
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    close(code, reason) {
      if (ws.readyState === ws.OPEN) ws.close(code, reason);
      return closed;
    },
  };
  ws.on("message", (data, binary) => {
    let json = null;
    if (!binary) {
      try {
        json = JSON.parse(String(data));
      } catch {
        // A client frame that is not JSON is recorded as null.
      }
    }
    if (peer.answers && json?.type === "ping") void peer.send(JSON.stringify({ type: "pong", t: json.t }));
    if (peer.answers && json?.type === "message") void peer.send(JSON.stringify({ type: "ack", id: json.id }));
    const frame = { json, taken: false };
    received.push(frame);
    const waiter = waiters.findIndex((entry) => entry.match(json));
    if (waiter >= 0) {
      frame.taken = true;
      waiters.splice(waiter, 1)[0].resolve(json);
    }
  });
  ws.on("error", () => {});
  return peer;
}
