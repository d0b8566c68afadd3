// Shared pieces of the framework tests: a free port, an app's server (next start, vite)
// stopped whatever the outcome, a small static server, a generation job on the reference
// server, and the check that a page runs that job to completion over the WebSocket, with a
// failure message that says what the page showed.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { createServer as createNetServer } from "node:net";
import { fileURLToPath } from "node:url";
import path from "node:path";
import assert from "node:assert/strict";
import { startServer, launchBrowser } from "../e2e/support.mjs";

export { startServer, launchBrowser };

export const here = path.dirname(fileURLToPath(import.meta.url));

/** The job every browser test runs: a few clips, quick steps, long enough to span the load. */
export const JOB = { clips: 3, steps_per_clip: 2, step_ms: 150 };

/** How long a page may take to run the job (it takes about 1.5 s of server time). */
const JOB_TIMEOUT_MS = 20_000;

/**
 * A port free now, for a tool that cannot listen on port 0 and report the one it got: bound
 * on 127.0.0.1 by the OS, then released. Another process could take it in between; the tools
 * are started with --strictPort (or its like) so that shows as a clear failure, not a server
 * on some other port.
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Runs `command args` in `cwd` and resolves once `url` answers HTTP; its output is kept for
 * failure messages. Resolves with { url, output(), stop() }: stop() sends SIGTERM, SIGKILL after
 * 5 s, and resolves once it exited. The process stays in the test runner's process group (as
 * the reference server does), so scripts/test-frameworks.sh's group stop also reaches it, and
 * whatever it spawned, if this test never gets to stop it (a timeout, Ctrl-C).
 */
export async function startApp(command, args, { cwd, url, env = {}, timeoutMs = 60_000 }) {
  const child = spawn(command, args, {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1", ...env },
  });
  let log = "";
  const keep = (chunk) => {
    log = (log + chunk).slice(-20_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitForHttp(url, timeoutMs, () =>
      child.exitCode !== null || child.signalCode !== null
        ? `${command} exited (${child.exitCode ?? child.signalCode})`
        : null,
    );
  } catch (error) {
    await stop();
    error.message += `\n--- output of ${command} ${args.join(" ")} ---\n${log}`;
    throw error;
  }
  return { url, output: () => log, stop };
}

/** Waits until `url` answers (any status); `gone()` names a reason to stop waiting early. */
async function waitForHttp(url, timeoutMs, gone) {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    const reason = gone();
    if (reason) throw new Error(`${url} never answered: ${reason}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      await response.arrayBuffer();
      return;
    } catch (error) {
      last = error.cause?.code ?? error.message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms (last: ${last})`);
}

/** Runs `command args` in `cwd` to completion; rejects with its output if it fails. */
export function run(command, args, { cwd, env = {} }) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1", ...env },
    });
    let log = "";
    child.stdout.on("data", (chunk) => (log += chunk));
    child.stderr.on("data", (chunk) => (log += chunk));
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (code === 0) resolve(log);
      else reject(new Error(`${command} ${args.join(" ")} failed (${code ?? signal}):\n${log}`));
    });
  });
}

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".css": "text/css",
  ".json": "application/json",
  ".map": "application/json",
  // WebAssembly.instantiateStreaming wants this type; the glue falls back to a slower path
  // (with a console warning) without it, which a user's server would not make it take.
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
};

/**
 * Serves the files of `dirs` (the first that has a path wins) on a free port of 127.0.0.1, as
 * a static host would; resolves with { url, close() }.
 */
export async function serveStatic(...dirs) {
  const server = createServer(async (request, response) => {
    const { pathname } = new URL(request.url, "http://x");
    for (const dir of dirs) {
      let file = path.join(dir, decodeURIComponent(pathname));
      if (!file.startsWith(dir)) break;
      try {
        if ((await stat(file)).isDirectory()) file = path.join(file, "index.html");
        const body = await readFile(file);
        response.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
        response.end(body);
        return;
      } catch {
        // Not in this directory: the next one, or a 404.
      }
    }
    response.writeHead(404).end("not found");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

/** Creates a generation job on the reference server at `base`; resolves with its id. */
export async function createGeneration(base, spec = JOB) {
  const response = await fetch(new URL("/api/v1/generations", base), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(spec),
  });
  const body = await response.text();
  assert.equal(response.status, 201, `creating a generation: HTTP ${response.status} ${body}`);
  return JSON.parse(body).id;
}

/** The query an app page reads: the job server's WebSocket URL and the job's id. */
export function pageQuery(server, job) {
  const ws = new URL("/ws", server.url);
  ws.protocol = "ws:";
  return new URLSearchParams({ url: ws.href, job }).toString();
}

/**
 * Starts a reference server and a browser, creates a job, and opens `pageUrl(server, job)`;
 * checks that the page shows the job completed (progress 100, every clip) with the connection
 * open, that the job's events came over a WebSocket to that server, and that the page logged
 * no error. Stops the server and the browser whatever the outcome.
 */
export async function runJobInBrowser(pageUrl) {
  // The app's page comes from its own dev or static server, another origin on 127.0.0.1.
  const server = await startServer(["--allow-origin", "http://127.0.0.1:*", "--allow-origin", "http://localhost:*"]);
  let browser;
  try {
    browser = await launchBrowser();
    const job = await createGeneration(server.url);
    await checkJobPage(browser, pageUrl(server, job), server, JOB.clips);
  } finally {
    await browser?.close().catch(() => {});
    await server.stop();
  }
}

async function checkJobPage(browser, url, server, clips) {
  const page = await browser.newPage();
  const seen = { problems: [], failed: [], sockets: [] };
  page.on("pageerror", (error) => seen.problems.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") {
      const where = message.location()?.url;
      seen.problems.push(`console.${message.type()}: ${message.text()}${where ? ` (${where})` : ""}`);
    }
  });
  page.on("requestfailed", (request) =>
    seen.failed.push(`${request.url()}: ${request.failure()?.errorText}`),
  );
  page.on("response", (response) => {
    if (response.status() >= 400) seen.failed.push(`${response.url()}: HTTP ${response.status()}`);
  });
  page.on("websocket", (socket) => {
    // The last frames each way, shortened: enough to see whether the client subscribed.
    const entry = { url: socket.url(), received: 0, completed: false, closed: false, frames: [] };
    const keep = (direction, payload) => {
      entry.frames.push(`${direction} ${String(payload).slice(0, 160)}`);
      if (entry.frames.length > 12) entry.frames.shift();
    };
    seen.sockets.push(entry);
    socket.on("framesent", ({ payload }) => keep("sent", payload));
    socket.on("framereceived", ({ payload }) => {
      entry.received += 1;
      keep("received", payload);
      if (String(payload).includes('"completed"')) entry.completed = true;
    });
    socket.on("close", () => (entry.closed = true));
  });
  // A page error fails the test anyway: stop waiting for the job at the first one.
  const crashed = new Promise((_, reject) =>
    page.once("pageerror", (error) => reject(new Error(`the page threw: ${error.message}`))),
  );
  crashed.catch(() => {});
  // Every status the connection and the job show, in order, from the first paint: the
  // observer is installed before the page's own scripts run.
  await page.addInitScript(() => {
    const statuses = (window.__statuses = []);
    const record = () => {
      const connection = document.querySelector(".connection")?.getAttribute("data-status");
      const job = document.querySelector("#job")?.getAttribute("data-status");
      const now = `connection ${connection ?? "-"}, job ${job ?? "-"}`;
      if (statuses[statuses.length - 1] !== now) statuses.push(now);
    };
    new MutationObserver(record).observe(document, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ["data-status"],
    });
  });
  try {
    await page.goto(url);
    await Promise.race([
      crashed,
      page.waitForSelector('#job[data-status="completed"]', { timeout: JOB_TIMEOUT_MS }).catch(() => {
        throw new Error(`the job did not complete within ${JOB_TIMEOUT_MS} ms`);
      }),
    ]);
    const shown = await readJob(page);
    assert.equal(shown.progress, "100", "progress of the completed job");
    const ids = shown.clips.split(" ").filter(Boolean);
    assert.equal(ids.length, clips, `clips shown: ${shown.clips}`);
    assert.equal(new Set(ids).size, clips, `a clip shown twice: ${shown.clips}`);
    await page.waitForSelector('.connection[data-status="connected"]', { timeout: 5_000 });
    const wsUrl = new URL("/ws", server.url).host;
    assert.ok(
      seen.sockets.some((socket) => new URL(socket.url).host === wsUrl && socket.completed),
      "the job's completion came over a WebSocket to the job server",
    );
    assert.deepEqual(seen.problems, [], "errors or warnings the page logged");
  } catch (error) {
    error.message += `\nwhat the page at ${url} showed: ${JSON.stringify(
      { ...(await readJob(page).catch((e) => ({ unreadable: e.message }))), ...seen },
      null,
      2,
    )}`;
    throw error;
  } finally {
    await page.close().catch(() => {});
  }
}

/** The job paragraph's and the connection's attributes, and every status seen. */
function readJob(page) {
  return page.evaluate(() => {
    const job = document.querySelector("#job");
    return {
      status: job?.getAttribute("data-status") ?? "(no #job element)",
      progress: job?.getAttribute("data-progress"),
      clips: job?.getAttribute("data-clips") ?? "",
      error: job?.getAttribute("data-error"),
      connection: document.querySelector(".connection")?.getAttribute("data-status") ?? "(no .connection element)",
      statuses: window.__statuses,
      body: document.body?.innerText.slice(0, 500),
    };
  });
}
