// Servers nobody here wrote the protocol of, for the dialect tests: the npm `socket.io` 4.8
// server configured as ep-080 and story-16-15 configure theirs, and `ws` servers written to
// phase-7's and story-007's design documents. Each listens on a free port of 127.0.0.1, and
// a control API (CORS open, so browser tests can call it) starts jobs, drops connections and
// sends bad frames. Tests never share state: every test uses its own user, project and job ids.
//
// Given a Redis, there are also two more instances of the socket.io server, A and B, joined
// as ep-080 joins its instances: `@socket.io/redis-adapter` on Redis pub/sub. Each has a
// control API of its own, so a test emits on A while its client is connected to B.
//
// Run as a program (scripts/test-browser.sh), it prints `listening on {json of addresses}` and
// serves until SIGTERM (`--redis redis://…` adds the two instances); imported (the end-to-end
// tests), startDialectServers({ redis }) does the same.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";
import { WebSocketServer } from "ws";

/** A signed token: the claims in base64url, a dot, their HMAC-SHA256. */
function signer(secret) {
  const mac = (body) => createHmac("sha256", secret).update(body).digest("base64url");
  return {
    sign: (claims) => {
      const body = Buffer.from(JSON.stringify(claims)).toString("base64url");
      return `${body}.${mac(body)}`;
    },
    verify: (token) => {
      if (typeof token !== "string") return null;
      const [body, signature = ""] = token.split(".");
      const expected = Buffer.from(mac(body ?? ""));
      const given = Buffer.from(signature);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      try {
        return JSON.parse(Buffer.from(body, "base64url").toString());
      } catch {
        return null;
      }
    },
  };
}

const listen = (server) =>
  new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Emits a job's life through `emit(kind, fields)`: queued, progress per step, then the end. */
async function runJob({ steps = 4, stepMs = 30, fail = false }, emit) {
  emit("queued", { position: 1, status: "queued" });
  for (let step = 1; step <= steps; step += 1) {
    await wait(stepMs);
    emit("progress", {
      status: "processing",
      progress: Math.round((step * 100) / (steps + 1)),
      stage: `step ${step}`,
      message: `step ${step} of ${steps}`,
    });
  }
  await wait(stepMs);
  if (fail) emit("failed", { status: "failed", error: "the GPU went away" });
  else emit("completed", { status: "completed", progress: 100, result: { url: "/out/video.mp4", duration: 4 } });
}

/**
 * ep-080's and story-16-15's Socket.IO 4.8 gateway: auth middleware on a signed token, user
 * and workspace rooms the server joins itself, acks for the client's emits. In memory it
 * offers connection state recovery; on `redis` (a URL) it joins the other instances on that
 * Redis through the Redis adapter, which keeps no sessions, so it offers no recovery.
 * Resolves with its address, the control API's routes for it (`/socket.io/…`), and stop().
 */
async function startSocketIo({ verify, received, pingInterval, pingTimeout, redis }) {
  const http = createServer();
  const clients = redis ? await redisClients(redis) : null;
  const io = new Server(http, {
    pingInterval,
    pingTimeout,
    ...(clients
      ? { adapter: createAdapter(clients.pub, clients.sub) }
      : { connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true } }),
    cors: { origin: "*" },
  });
  io.use((socket, next) => {
    const claims = verify(socket.handshake.auth?.token);
    if (!claims) return next(new Error("unauthorized"));
    socket.data.user = claims.user;
    socket.data.workspace = claims.workspace;
    next();
  });
  io.on("connection", (socket) => {
    if (!socket.recovered) {
      socket.join(`user-${socket.data.user}`);
      if (socket.data.workspace) socket.join(`workspace:${socket.data.workspace}`);
    }
    socket.onAny((event, ...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      received.push({ server: "socket.io", user: socket.data.user, event, data: args[0] });
      ack?.({ ok: true });
    });
  });
  // This instance's sockets of a user (the control API drops only its own).
  const sockets = (user) => [...io.of("/").sockets.values()].filter((s) => s.data.user === user);
  const generationEvents = {
    queued: "generation:queued",
    progress: "generation:progress",
    completed: "generation:complete",
    failed: "generation:error",
  };
  const routes = {
    "/socket.io/job": (input) => {
      runJob(input, (kind, fields) => {
        io.to(`user-${input.user}`).emit(generationEvents[kind], { jobId: input.job, ...fields });
      });
    },
    "/socket.io/emit": (input) => {
      io.to(input.room ?? `user-${input.user}`).emit(input.event, ...(input.binary ? [Buffer.from([1, 2, 3])] : [input.data]));
    },
    "/socket.io/drop": (input) => sockets(input.user).forEach((socket) => socket.conn.close()),
    "/socket.io/kick": (input) => sockets(input.user).forEach((socket) => socket.disconnect(true)),
    "/socket.io/raw": (input) => sockets(input.user).forEach((socket) => socket.conn.write(input.text)),
  };
  const port = await listen(http);
  const stop = async () => {
    // Closes the sockets and the HTTP server, and the adapter (which unsubscribes).
    await io.close();
    await clients?.close();
  };
  return { address: `http://127.0.0.1:${port}`, routes, stop };
}

/**
 * node-redis clients for the Redis adapter: one publishes, the other stays subscribed. A
 * Redis that cannot be reached for 2 s is an error (at start: the program exits with it),
 * not endless retries.
 */
async function redisClients(url) {
  const reconnectStrategy = (retries, cause) => (retries < 20 ? 100 : cause);
  const pub = createClient({ url, socket: { reconnectStrategy } });
  const sub = pub.duplicate();
  // Without a listener a client's error would crash the process; it is logged instead.
  for (const client of [pub, sub]) client.on("error", (error) => console.error(`redis ${url}: ${error.message}`));
  await Promise.all([pub.connect(), sub.connect()]);
  // close(), not destroy(): the adapter unsubscribes as the server closes, without waiting;
  // close() lets those commands finish, destroy() would reject them with nobody to catch it.
  // (So Redis must outlive the servers: the e2e tests and test-browser.sh stop it last.)
  return { pub, sub, close: () => Promise.all([pub, sub].map((client) => client.close())) };
}

/**
 * A control API on a free port: CORS open, a JSON body in, `routes[pathname](input)`'s value
 * (or `{}`) out as JSON, 404 for any other path. A route that starts a job answers at once.
 */
async function startControl(routes) {
  const server = createServer(async (request, response) => {
    response.setHeader("access-control-allow-origin", "*");
    response.setHeader("access-control-allow-headers", "content-type");
    if (request.method === "OPTIONS") return response.end();
    let body = "";
    for await (const chunk of request) body += chunk;
    const reply = (value) => {
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify(value ?? {}));
    };
    const { pathname } = new URL(request.url, "http://x");
    const route = Object.hasOwn(routes, pathname) ? routes[pathname] : null;
    if (!route) {
      response.statusCode = 404;
      return reply({ error: `no ${pathname}` });
    }
    return reply(route(body ? JSON.parse(body) : {}));
  });
  const port = await listen(server);
  return {
    address: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

export async function startDialectServers({ pingInterval = 300, pingTimeout = 200, redis } = {}) {
  const { sign, verify } = signer(randomBytes(32));
  const received = []; // every app message a server got: { server, user, event, data }
  const now = () => new Date().toISOString();
  // Every control API signs with the same key and reads the same record.
  const common = {
    "/token": (input) => ({ token: sign(input) }),
    "/received": (input) =>
      received.filter((message) => message.user === input.user || message.data?.user === input.user),
  };

  // ---- Instances A and B of the Socket.IO server on one Redis, each with its control API;
  // first, so that a Redis out of reach fails the start before anything else listens.
  const startInstance = async () => {
    const instance = await startSocketIo({ verify, received, pingInterval, pingTimeout, redis });
    return { instance, control: await startControl({ ...common, ...instance.routes }) };
  };
  const cluster = redis ? { a: await startInstance(), b: await startInstance() } : null;

  // ---- Socket.IO 4.8 in memory, as one instance.
  const socketIo = await startSocketIo({ verify, received, pingInterval, pingTimeout });

  // ---- phase-7: `ws` on /ws, the JWT in the query, {type:'subscribe', data:{jobId}}, progress
  // frames {type:'progress', jobId, userId, status, progress, stage, message, timestamp} to the
  // user's clients subscribed to the job, errors {type:'error', error, timestamp}, ping.
  const phase7Http = createServer();
  const phase7 = new WebSocketServer({ server: phase7Http, path: "/ws" });
  phase7.on("connection", (ws, request) => {
    const claims = verify(new URL(request.url, "http://x").searchParams.get("token"));
    if (!claims) {
      ws.close(1008, "Invalid token");
      return;
    }
    ws.user = claims.user;
    ws.jobs = new Set();
    const send = (frame) => ws.send(JSON.stringify({ ...frame, timestamp: now() }));
    send({ type: "connected", message: "Connected to live updates" });
    ws.on("message", (data) => {
      let message;
      try {
        message = JSON.parse(data.toString());
      } catch {
        return send({ type: "error", error: "Invalid message format" });
      }
      if (message?.type === "subscribe" && message.data?.jobId) ws.jobs.add(message.data.jobId);
      else if (message?.type === "unsubscribe" && message.data?.jobId) ws.jobs.delete(message.data.jobId);
      else if (message?.type === "ping") send({ type: "pong" });
      else {
        received.push({ server: "phase-7", user: ws.user, event: message?.type, data: message?.data });
        send({ type: "error", error: "Invalid message format" });
      }
    });
  });
  const phase7Clients = (user) => [...phase7.clients].filter((ws) => ws.user === user);

  // ---- story-007: `ws` on /ws, no auth, {type:'connected', clientId}, project channels with
  // {type:'subscribe'|'unsubscribe', projectId}, {type:'subscribed', projectId}, and progress,
  // job_complete, job_failed broadcast to the project.
  const story007Http = createServer();
  const story007 = new WebSocketServer({ server: story007Http, path: "/ws" });
  const projects = new Map();
  story007.on("connection", (ws) => {
    ws.send(JSON.stringify({ type: "connected", clientId: randomBytes(8).toString("hex") }));
    ws.on("message", (data) => {
      const message = JSON.parse(data.toString());
      if (message.type === "subscribe") {
        if (!projects.has(message.projectId)) projects.set(message.projectId, new Set());
        projects.get(message.projectId).add(ws);
        ws.send(JSON.stringify({ type: "subscribed", projectId: message.projectId }));
      } else if (message.type === "unsubscribe") {
        projects.get(message.projectId)?.delete(ws);
      } else {
        received.push({ server: "story-007", event: message.type, data: message.data });
      }
    });
    ws.on("close", () => projects.forEach((clients) => clients.delete(ws)));
  });
  const broadcastToProject = (projectId, event) => {
    const message = JSON.stringify(event);
    projects.get(projectId)?.forEach((ws) => ws.readyState === ws.OPEN && ws.send(message));
  };

  // ---- The control API of the in-memory servers.
  const control = await startControl({
    ...common,
    ...socketIo.routes,
    "/phase-7/job": (input) => {
      runJob(input, (kind, fields) => {
        const frame = JSON.stringify({ type: "progress", jobId: input.job, userId: input.user, ...fields, timestamp: now() });
        phase7Clients(input.user).filter((ws) => ws.jobs.has(input.job)).forEach((ws) => ws.send(frame));
      });
    },
    "/phase-7/drop": (input) => phase7Clients(input.user).forEach((ws) => ws.terminate()),
    "/phase-7/raw": (input) => phase7Clients(input.user).forEach((ws) => ws.send(input.text)),
    "/story-007/job": (input) => {
      runJob(input, (kind, fields) => {
        const job = { jobId: input.job, jobType: "video", sentenceId: input.sentence ?? "s1" };
        if (kind === "progress") broadcastToProject(input.project, { type: "progress", ...job, progress: fields.progress, message: fields.message });
        if (kind === "completed") broadcastToProject(input.project, { type: "job_complete", ...job, result: { file: "/out/video.mp4", duration: 4 } });
        if (kind === "failed") broadcastToProject(input.project, { type: "job_failed", ...job, error: fields.error });
      });
    },
    "/story-007/drop": (input) => projects.get(input.project)?.forEach((ws) => ws.terminate()),
    "/story-007/raw": (input) => projects.get(input.project)?.forEach((ws) => ws.send(input.text)),
  });

  const addresses = {
    socketIo: socketIo.address,
    phase7: `ws://127.0.0.1:${await listen(phase7Http)}/ws`,
    story007: `ws://127.0.0.1:${await listen(story007Http)}/ws`,
    control: control.address,
    ...(cluster && {
      socketIoA: cluster.a.instance.address,
      controlA: cluster.a.control.address,
      socketIoB: cluster.b.instance.address,
      controlB: cluster.b.control.address,
    }),
  };
  const stop = async () => {
    for (const server of [phase7, story007]) server.clients.forEach((ws) => ws.terminate());
    await Promise.all([
      socketIo.stop(),
      control.stop(),
      ...Object.values(cluster ?? {}).flatMap(({ instance, control }) => [instance.stop(), control.stop()]),
      ...[phase7Http, story007Http].map((server) => new Promise((resolve) => server.close(resolve))),
    ]);
  };
  return { addresses, sign, received, stop };
}

/** `--redis URL` from the command line, if given. */
function redisArgument(args) {
  const at = args.indexOf("--redis");
  if (at === -1) return undefined;
  const url = args[at + 1];
  if (!url?.startsWith("redis://")) throw new Error(`--redis wants a redis:// URL, not ${url}`);
  return url;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const servers = await startDialectServers({ redis: redisArgument(process.argv.slice(2)) });
  console.log(`listening on ${JSON.stringify(servers.addresses)}`);
  process.once("SIGTERM", async () => {
    await servers.stop();
    process.exit(0);
  });
}
