// Servers nobody here wrote the protocol of, for the dialect tests: the npm `socket.io` 4.8
// server configured as ep-080 and story-16-15 configure theirs, and `ws` servers written to
// phase-7's and story-007's design documents. Each listens on a free port of 127.0.0.1, and
// a control API (CORS open, so browser tests can call it) starts jobs, drops connections and
// sends bad frames. Tests never share state: every test uses its own user, project and job ids.
//
// Run as a program (scripts/test-browser.sh), it prints `listening on {json of addresses}` and
// serves until SIGTERM; imported (the end-to-end tests), startDialectServers() does the same.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
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

export async function startDialectServers({ pingInterval = 300, pingTimeout = 200 } = {}) {
  const { sign, verify } = signer(randomBytes(32));
  const received = []; // every app message a server got: { server, user, event, data }
  const now = () => new Date().toISOString();

  // ---- Socket.IO 4.8: auth middleware on a signed token, user and workspace rooms the server
  // joins itself, connection state recovery, acks for the client's emits.
  const ioHttp = createServer();
  const io = new Server(ioHttp, {
    pingInterval,
    pingTimeout,
    connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true },
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
  const ioSockets = (user) => [...io.of("/").sockets.values()].filter((s) => s.data.user === user);

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

  // ---- The control API.
  const control = createServer(async (request, response) => {
    response.setHeader("access-control-allow-origin", "*");
    response.setHeader("access-control-allow-headers", "content-type");
    if (request.method === "OPTIONS") return response.end();
    let body = "";
    for await (const chunk of request) body += chunk;
    const input = body ? JSON.parse(body) : {};
    const reply = (value) => {
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify(value ?? {}));
    };
    const { pathname } = new URL(request.url, "http://x");
    switch (pathname) {
      case "/token":
        return reply({ token: sign(input) });
      case "/received":
        return reply(received.filter((message) => message.user === input.user || message.data?.user === input.user));
      case "/socket.io/job":
        runJob(input, (kind, fields) => {
          const name = { queued: "generation:queued", progress: "generation:progress", completed: "generation:complete", failed: "generation:error" }[kind];
          io.to(`user-${input.user}`).emit(name, { jobId: input.job, ...fields });
        });
        return reply();
      case "/socket.io/emit":
        io.to(input.room ?? `user-${input.user}`).emit(input.event, ...(input.binary ? [Buffer.from([1, 2, 3])] : [input.data]));
        return reply();
      case "/socket.io/drop":
        ioSockets(input.user).forEach((socket) => socket.conn.close());
        return reply();
      case "/socket.io/kick":
        ioSockets(input.user).forEach((socket) => socket.disconnect(true));
        return reply();
      case "/socket.io/raw":
        ioSockets(input.user).forEach((socket) => socket.conn.write(input.text));
        return reply();
      case "/phase-7/job":
        runJob(input, (kind, fields) => {
          const frame = JSON.stringify({ type: "progress", jobId: input.job, userId: input.user, ...fields, timestamp: now() });
          phase7Clients(input.user).filter((ws) => ws.jobs.has(input.job)).forEach((ws) => ws.send(frame));
        });
        return reply();
      case "/phase-7/drop":
        phase7Clients(input.user).forEach((ws) => ws.terminate());
        return reply();
      case "/phase-7/raw":
        phase7Clients(input.user).forEach((ws) => ws.send(input.text));
        return reply();
      case "/story-007/job":
        runJob(input, (kind, fields) => {
          const common = { jobId: input.job, jobType: "video", sentenceId: input.sentence ?? "s1" };
          if (kind === "progress") broadcastToProject(input.project, { type: "progress", ...common, progress: fields.progress, message: fields.message });
          if (kind === "completed") broadcastToProject(input.project, { type: "job_complete", ...common, result: { file: "/out/video.mp4", duration: 4 } });
          if (kind === "failed") broadcastToProject(input.project, { type: "job_failed", ...common, error: fields.error });
        });
        return reply();
      case "/story-007/drop":
        projects.get(input.project)?.forEach((ws) => ws.terminate());
        return reply();
      case "/story-007/raw":
        projects.get(input.project)?.forEach((ws) => ws.send(input.text));
        return reply();
      default:
        response.statusCode = 404;
        return reply({ error: `no ${pathname}` });
    }
  });

  const ports = {
    socketIo: await listen(ioHttp),
    phase7: await listen(phase7Http),
    story007: await listen(story007Http),
    control: await listen(control),
  };
  const addresses = {
    socketIo: `http://127.0.0.1:${ports.socketIo}`,
    phase7: `ws://127.0.0.1:${ports.phase7}/ws`,
    story007: `ws://127.0.0.1:${ports.story007}/ws`,
    control: `http://127.0.0.1:${ports.control}`,
  };
  const stop = async () => {
    io.close();
    for (const server of [phase7, story007]) server.clients.forEach((ws) => ws.terminate());
    await Promise.all(
      [phase7Http, story007Http, control].map((server) => new Promise((resolve) => server.close(resolve))),
    );
  };
  return { addresses, sign, received, stop };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const servers = await startDialectServers();
  console.log(`listening on ${JSON.stringify(servers.addresses)}`);
  process.once("SIGTERM", async () => {
    await servers.stop();
    process.exit(0);
  });
}
