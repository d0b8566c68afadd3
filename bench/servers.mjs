// The servers of the benchmark, all in this one Node process and all on 127.0.0.1:0:
// - an HTTP server for the bench page, the built package and socket.io-client's browser bundle;
// - a `ws` flood endpoint speaking jobsocket's protocol, used by both the raw WebSocket baseline
//   and jobsocket (the very same frames, so the two differ only in the client);
// - a socket.io 4 server flooding the same payloads as socket.io events, read by socket.io-client
//   and by jobsocket's Socket.IO dialect alike;
// - the growth endpoint (`/growth`, see growthEndpoint), which floods events over many jobs and
//   counts, per bench key, the frames each connection received.
import http from "node:http";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { WebSocketServer } from "ws";
import { Server as SocketIoServer } from "socket.io";

const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
};

/** A clock comparable with the page's `performance.timeOrigin + performance.now()`. */
export const epochMs = () => performance.timeOrigin + performance.now();

/** The progress payload every client receives: the same object for all three. */
export function progressData(seq, message = "Rendering clip 1 of 4") {
  return { step: "rendering", clip_number: 1, total_clips: 4, percentage: seq % 100, message };
}

/**
 * The `seq`-th event of the flood. With `jobs`, the events go round the jobs in turn, each job
 * numbering its own events from 1; without, they all go to the job "flood".
 */
function eventFrame(seq, message, jobs) {
  const turn = jobs ? (seq - 1) % jobs.length : 0;
  return {
    type: "event",
    channel: "generation",
    id: jobs ? jobs[turn] : "flood",
    seq: jobs ? Math.floor((seq - 1) / jobs.length) + 1 : seq,
    event: "progress",
    data: progressData(seq, message),
  };
}

/**
 * Sends `count` events, `batch` per WebSocket frame, as fast as the socket drains them, or at
 * `rate` events per second (stamping each with the send time, for the latency measure); over
 * the ids of `jobs` in turn when given.
 */
function flood(socket, { count, batch, rate, jobs }) {
  let seq = 0;
  const started = performance.now();
  const sendDue = () => {
    if (socket.readyState !== socket.OPEN) return;
    const due = rate > 0 ? Math.min(count, Math.floor(((performance.now() - started) * rate) / 1000) + 1) : count;
    let sentThisTurn = 0;
    while (seq < due && sentThisTurn < 2000 && socket.bufferedAmount < 4 << 20) {
      if (batch > 1) {
        const frames = [];
        for (let i = 0; i < batch && seq < due; i++) frames.push(eventFrame(++seq, undefined, jobs));
        socket.send(JSON.stringify(frames));
        sentThisTurn += frames.length;
      } else {
        seq += 1;
        socket.send(JSON.stringify(eventFrame(seq, rate > 0 ? String(epochMs()) : undefined, jobs)));
        sentThisTurn += 1;
      }
    }
    if (seq < count) {
      if (rate > 0) setTimeout(sendDue, 1);
      else setImmediate(sendDue);
    }
  };
  sendDue();
}

/** The server's greeting of protocol v1. */
function greet(ws) {
  ws.send(JSON.stringify({ type: "connected", clientId: "bench", heartbeatMs: 30000 }));
}

/**
 * Answers a client frame of protocol v1 as a server must: a `pong` to a `ping`, `subscribed`
 * to a `subscribe`, an `ack` to a `message`. Returns the frame, or null when it is not JSON.
 */
function answer(ws, raw) {
  let frame;
  try {
    frame = JSON.parse(String(raw));
  } catch {
    return null;
  }
  if (frame.type === "ping") ws.send(JSON.stringify({ type: "pong", t: frame.t }));
  if (frame.type === "subscribe") {
    ws.send(JSON.stringify({ type: "subscribed", channel: frame.channel, id: frame.id, seq: 0 }));
  }
  if (frame.type === "message") ws.send(JSON.stringify({ type: "ack", id: frame.id }));
  return frame;
}

/**
 * The growth endpoint, `/growth?key=K&jobs=N&n=E`, for the bench's growth section: once N
 * distinct jobs are subscribed on a connection it sends E progress events over them in turn
 * (none when E is 0). It keeps, per key, what each connection received (frames, `subscribe`
 * frames, `message` frames and whether those came in the order sent), for
 * `GET /growth/stats?key=K`: the frames a client sends are counted here, at the server.
 */
function growthEndpoint() {
  const sockets = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const connectionsByKey = new Map();
  return {
    upgrade(url, request, socket, head) {
      sockets.handleUpgrade(request, socket, head, (ws) => {
        const key = url.searchParams.get("key") ?? "";
        const jobCount = Number(url.searchParams.get("jobs") ?? 1);
        const count = Number(url.searchParams.get("n") ?? 0);
        const seen = { frames: 0, subscribes: 0, messages: 0, messages_in_order: true };
        if (!connectionsByKey.has(key)) connectionsByKey.set(key, []);
        connectionsByKey.get(key).push(seen);
        const jobs = new Set();
        let lastIndex = -1;
        greet(ws);
        ws.on("message", (raw) => {
          seen.frames += 1;
          const frame = answer(ws, raw);
          if (frame?.type === "message") {
            seen.messages += 1;
            // The bench numbers its messages 0, 1, 2…: each must come after the one before.
            if (!(frame.data?.index > lastIndex)) seen.messages_in_order = false;
            lastIndex = frame.data?.index;
          }
          if (frame?.type !== "subscribe") return;
          seen.subscribes += 1;
          if (jobs.has(frame.id)) return;
          jobs.add(frame.id);
          if (count > 0 && jobs.size === jobCount) flood(ws, { count, batch: 1, rate: 0, jobs: [...jobs] });
        });
      });
    },
    /** What each connection of `key` received so far, oldest connection first. */
    stats: (key) => connectionsByKey.get(key) ?? [],
    close: () => sockets.close(),
  };
}

export async function startServers({ root }) {
  const files = {
    "/": path.join(root, "bench/page/bench.html"),
    "/bench.js": path.join(root, "bench/page/bench.js"),
    "/growth.js": path.join(root, "bench/page/growth.js"),
    "/socket.io.esm.min.js": path.join(root, "bench/node_modules/socket.io-client/dist/socket.io.esm.min.js"),
  };
  let onResult = () => {};
  const results = new Promise((resolve) => (onResult = resolve));

  const server = http.createServer(async (request, response) => {
    const url = new URL(request.url, "http://localhost");
    if (url.pathname === "/growth/stats") {
      response.writeHead(200, { "content-type": types[".json"] });
      response.end(JSON.stringify(growth.stats(url.searchParams.get("key") ?? "")));
      return;
    }
    if (request.method === "POST" && url.pathname === "/result") {
      let body = "";
      for await (const chunk of request) body += chunk;
      response.writeHead(204).end();
      onResult(JSON.parse(body));
      return;
    }
    let file = files[url.pathname];
    if (!file && url.pathname.startsWith("/pkg/")) {
      const pkg = path.join(root, "target/package");
      const candidate = path.resolve(pkg, `.${decodeURIComponent(url.pathname.slice(4))}`);
      if (candidate.startsWith(pkg + path.sep)) file = candidate;
    }
    if (!file) return response.writeHead(404).end();
    try {
      const body = await readFile(file);
      response.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });

  const flooder = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const growth = growthEndpoint();
  server.on("upgrade", (request, socket, head) => {
    const url = new URL(request.url, "http://localhost");
    if (url.pathname === "/growth") return growth.upgrade(url, request, socket, head);
    if (url.pathname !== "/flood") return; // socket.io handles its own path
    flooder.handleUpgrade(request, socket, head, (ws) => {
      const plan = {
        count: Number(url.searchParams.get("n") ?? 1000),
        batch: Number(url.searchParams.get("batch") ?? 1),
        rate: Number(url.searchParams.get("rate") ?? 0),
      };
      greet(ws);
      ws.on("message", (raw) => {
        const frame = answer(ws, raw);
        if (frame?.type === "subscribe" && frame.id === "flood") flood(ws, plan);
      });
    });
  });

  const io = new SocketIoServer(server, { transports: ["websocket"], perMessageDeflate: false });
  io.on("connection", (socket) => {
    socket.on("flood", ({ count }, ack) => {
      // jobsocket's outbox emits with an ack id; socket.io-client's plain emit has none.
      if (typeof ack === "function") ack();
      let sent = 0;
      const sendSome = () => {
        if (!socket.connected) return;
        for (let i = 0; i < 2000 && sent < count; i++) {
          sent += 1;
          socket.emit("progress", { jobId: "flood", ...progressData(sent) });
        }
        if (sent < count) setImmediate(sendSome);
      };
      sendSome();
    });
  });

  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    results,
    async stop() {
      io.close();
      flooder.close();
      growth.close();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
