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
 * URL, its port, its admin key (`adminKey`, random unless given: the admin API wants it in
 * `x-admin-key`), the demo page's address with the key in its fragment (`demoUrl`), and
 * stop() / kill() (SIGTERM / SIGKILL).
 */
export async function startServer(extraArgs = [], { port = 0, adminKey = randomBytes(16).toString("hex") } = {}) {
  const binary = process.env.SERVER_BIN ?? path.join(root, "target/debug/jobsocket-server");
  const child = spawn(
    binary,
    [
      "--port", String(port),
      "--static", path.join(root, "www-demo/dist"),
      "--admin",
      "--pkg", path.join(root, "target/package"),
      ...extraArgs,
    ],
    // The key through the environment: a flag would show in `ps`.
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, JOBSOCKET_ADMIN_KEY: adminKey } },
  );
  const firstLine = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once("line", resolve);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the server exited with ${code}`)));
  });
  const match = /^listening on (http:\/\/\S+)$/.exec(firstLine);
  if (!match) throw new Error(`unexpected first line from the server: ${firstLine}`);
  const end = async (signal) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    await exited;
  };
  // The lines after the first (the admin key, the demo address) are not needed: keep reading
  // so they never fill the pipe.
  child.stdout.resume();
  return {
    url: match[1],
    adminKey,
    demoUrl: `${match[1]}/#adminKey=${adminKey}`,
    port: Number(new URL(match[1]).port),
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
