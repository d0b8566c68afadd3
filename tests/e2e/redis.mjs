// Debian's redis-server for the tests: started on a free port of 127.0.0.1, without
// persistence (no RDB snapshots, no AOF), in a scratch directory, and stopped by its process id.
//
// Run as a program (scripts/test-browser.sh), it prints `listening on redis://127.0.0.1:PORT`
// and stops Redis on SIGTERM; the script stops its process group, Redis included, on exit.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** A port the kernel says is free now (it may be taken again before it is used). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts redis-server on `port` (a free one unless given) and resolves once it accepts
 * connections, with its `url` (`redis://127.0.0.1:PORT`), `port`, `pid`, `stop()` (SIGTERM,
 * waits for the exit) and `kill()` (SIGKILL). Restarting Redis is `stop()` then
 * `startRedis({ port })`: it comes back empty, as a Redis without persistence does.
 */
export async function startRedis({ port } = {}) {
  const binary = process.env.REDIS_SERVER ?? "/usr/bin/redis-server";
  for (let attempt = 0; ; attempt += 1) {
    const chosen = port ?? (await freePort());
    try {
      return await launch(binary, chosen);
    } catch (error) {
      // A free port taken between the probe and the bind: take another one, unless the
      // caller asked for this one.
      if (port !== undefined || attempt >= 4) throw error;
    }
  }
}

async function launch(binary, port) {
  const dir = mkdtempSync(path.join(tmpdir(), "jobsocket-redis-"));
  const child = spawn(
    binary,
    [
      "--port", String(port),
      "--bind", "127.0.0.1",
      "--save", "",
      "--appendonly", "no",
      "--dir", dir,
      "--daemonize", "no",
      "--logfile", "",
      "--loglevel", "warning",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const collect = (chunk) => {
    output += chunk;
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  exited.then(cleanup);
  const end = async (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  try {
    await waitForPort(port, exited, () => output);
  } catch (error) {
    await end("SIGKILL");
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    stop: () => end("SIGTERM"),
    kill: () => end("SIGKILL"),
  };
}

/** Resolves when something accepts TCP connections on the port; rejects if Redis exits first. */
async function waitForPort(port, exited, output) {
  let gone = false;
  exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`redis-server exited before it listened on ${port}: ${output()}`);
    const open = await new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`redis-server did not listen on ${port} within 10 s: ${output()}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const redis = await startRedis();
  console.log(`listening on ${redis.url}`);
  process.once("SIGTERM", async () => {
    await redis.stop();
    process.exit(0);
  });
}
