// Shared pieces of the end-to-end tests: the reference server started on a free port, and
// Debian's Chromium launched through playwright-core.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { chromium } from "playwright-core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * Starts the reference server, on a free port unless `port` is given; resolves with its base
 * URL, its port, its process id, its admin key (`adminKey`, random unless given: the admin
 * API wants it in `x-admin-key`), the demo page's address with the key in its fragment
 * (`demoUrl`), and stop() / kill() (SIGTERM / SIGKILL). Flags such as `--redis URL` and
 * `--instance NAME` go in `extraArgs`; a restart is the same call with the same flags, `port`
 * and `adminKey`.
 */
export async function startServer(extraArgs = [], { port = 0, adminKey = randomBytes(16).toString("hex") } = {}) {
  const binary = process.env.SERVER_BIN ?? path.join(root, "target/debug/jobsocket-server");
  const args = [
    "--port", String(port),
    "--static", path.join(root, "www-demo/dist"),
    "--admin",
    "--pkg", path.join(root, "target/package"),
    ...extraArgs,
  ];
  // The key through the environment: a flag would show in `ps`.
  const env = { ...process.env, JOBSOCKET_ADMIN_KEY: adminKey };
  const server = await startAnnounced(binary, args, /^listening on (http:\/\/\S+)$/, { env, stderr: "inherit" });
  return {
    url: server.address,
    adminKey,
    demoUrl: `${server.address}/#adminKey=${adminKey}`,
    port: Number(new URL(server.address).port),
    pid: server.pid,
    stop: server.stop,
    kill: server.kill,
  };
}

/**
 * Starts `jobsocket-proxy` (the reference server crate's TCP proxy, built with it) on a free
 * port of 127.0.0.1, in front of the upstream `ports` of 127.0.0.1, taken in turn for each
 * connection, skipping those that are down. Resolves with its base `url` (http://), `port`,
 * `pid`, `log()` (the last lines it wrote to stderr: which upstreams it skipped) and stop().
 */
export async function startProxy(ports) {
  const binary = process.env.PROXY_BIN ?? path.join(root, "target/debug/jobsocket-proxy");
  const args = ["--port", "0", ...ports.flatMap((port) => ["--upstream", `127.0.0.1:${port}`])];
  const proxy = await startAnnounced(binary, args, /^listening on (127\.0\.0\.1:\d+)$/, { stderr: "pipe" });
  let log = "";
  proxy.stderr.on("data", (chunk) => (log = (log + chunk).slice(-4000)));
  return {
    url: `http://${proxy.address}`,
    port: Number(proxy.address.split(":")[1]),
    pid: proxy.pid,
    log: () => log,
    stop: proxy.stop,
  };
}

/**
 * Spawns `binary` and waits for its first stdout line, which announces where it listens and
 * must match `pattern`; resolves with the pattern's first group (`address`), the `pid`, its
 * `stderr` stream when piped, and stop() / kill() (SIGTERM / SIGKILL, each waiting for the exit).
 */
async function startAnnounced(binary, args, pattern, { env = process.env, stderr }) {
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", stderr], env });
  const firstLine = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once("line", resolve);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`${path.basename(binary)} exited with ${code}`)));
  });
  const match = pattern.exec(firstLine);
  if (!match) {
    child.kill("SIGKILL");
    throw new Error(`unexpected first line from ${path.basename(binary)}: ${firstLine}`);
  }
  const end = async (signal) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    await exited;
  };
  // The lines after the first (the server's admin key and demo address) are not needed: keep
  // reading so they never fill the pipe.
  child.stdout.resume();
  return {
    address: match[1],
    pid: child.pid,
    stderr: child.stderr,
    stop: () => end("SIGTERM"),
    kill: () => end("SIGKILL"),
  };
}

/** Launches headless Chromium from Debian's package. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** Opens the demo in a new page; collects page errors and console errors. */
export async function openDemo(browser, url) {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]");
  // Every status the connection shows, in order, for tests of transitions.
  await page.evaluate(() => {
    const seen = (window.__statuses = []);
    const record = () => {
      const status = document.querySelector(".connection")?.getAttribute("data-status");
      if (status && seen[seen.length - 1] !== status) seen.push(status);
    };
    new MutationObserver(record).observe(document.body, {
      attributes: true,
      subtree: true,
      childList: true,
      attributeFilter: ["data-status"],
    });
    record();
  });
  return { page, problems };
}

/**
 * Opens the demo in a new page, runs `body({ page, problems })`, and closes the page whatever
 * the outcome. A failure's message gains what the page showed: every connection status in
 * order, the event log, and each job card, so it can be understood from CI output alone.
 */
export async function inDemo(browser, url, body) {
  const { page, problems } = await openDemo(browser, url);
  try {
    return await body({ page, problems });
  } catch (error) {
    error.message += `\n${await describePage(page, problems)}`;
    throw error;
  } finally {
    await page.close().catch(() => {});
  }
}

/** What the demo page shows now, for a failure message. */
export async function describePage(page, problems = []) {
  const seen = await page
    .evaluate(() => ({
      statuses: window.__statuses,
      transport: document.querySelector("#transport")?.textContent,
      outbox: document.querySelector("#outbox-size")?.textContent,
      jobs: [...document.querySelectorAll(".job")].map((card) => ({
        kind: card.getAttribute("data-kind"),
        status: card.getAttribute("data-status"),
        progress: card.querySelector(".bar")?.getAttribute("aria-valuenow"),
        clips: card.querySelectorAll(".clips img").length,
      })),
      eventLog: [...document.querySelectorAll("#event-log li")].map((item) => item.textContent),
    }))
    .catch((error) => `(the page could not be read: ${error.message})`);
  return `what the page showed: ${JSON.stringify({ ...seen, problems }, null, 2)}`;
}
