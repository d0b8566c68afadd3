// One small page interface over two browsers, so a test can run the same steps in each:
// Chromium through playwright-core (support.mjs), and Firefox ESR through geckodriver's W3C
// WebDriver endpoints (Playwright drives only its own patched Firefox, which the registries do
// not serve). A page offers goto(url), evaluate(fn, arg) and close(); fn must be
// self-contained, as it is sent to the browser as source text.
//
// For tests of several tabs of one app (they must share localStorage, Web Locks and
// BroadcastChannel), newContext() gives a browser with a profile of its own whose newTab()s
// all share it, one window per tab (a background tab of a window is hidden, and browsers
// throttle hidden pages' timers, which tests of timing would then measure instead of the
// client). In Chromium, a Chromium of its own reached with playwright-core's connectOverCDP;
// in Firefox, windows of the launch's one WebDriver session (so the contexts of one launch
// share a profile there: see firefoxContext). A tab adds reload(), and close() really closes
// it; a Chromium tab also freeze() and resume().
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createInterface } from "node:readline";
import path from "node:path";
import os from "node:os";
import { chromium } from "playwright-core";
import { launchBrowser } from "./support.mjs";

/** The browsers these tests run in, by name: JOBSOCKET_BROWSERS=chromium skips Firefox. */
export const BROWSERS = (process.env.JOBSOCKET_BROWSERS ?? "chromium firefox")
  .split(/\s+/)
  .filter((name) => name === "chromium" || name === "firefox");

/** Launches `name`; resolves with { newPage(), newContext(), close() }. */
export async function launch(name) {
  if (name === "chromium") return launchChromium();
  if (name === "firefox") return launchFirefox();
  throw new Error(`unknown browser ${name}`);
}

async function launchChromium() {
  const browser = await launchBrowser();
  return {
    async newPage() {
      const page = await browser.newPage();
      const problems = [];
      page.on("pageerror", (error) => problems.push(error.message));
      return {
        problems,
        goto: (url) => page.goto(url),
        evaluate: (fn, arg) => page.evaluate(fn, arg),
        close: () => page.close().catch(() => {}),
      };
    },
    newContext: () => chromiumContext(),
    close: () => browser.close(),
  };
}

// True while any process of group `pgid` is alive (signal 0 checks without sending).
function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

/**
 * Tabs in Chromium: a Chromium started here (in a process group of its own, with a profile of
 * its own), driven by playwright-core over CDP in its default context with `noDefaults`.
 * Not a context of launch()'s browser: Playwright turns on focus emulation in every page of
 * the contexts it makes, which keeps a page visible and awake, and Chromium then ignores
 * Page.setWebLifecycleState "frozen" (no freeze event, timers keep running); its own default
 * context with noDefaults has none. Each tab is a window of its own (Target.createTarget
 * newWindow), so every tab is visible, as in launch()'s contexts.
 */
async function chromiumContext() {
  const profile = await mkdtemp(path.join(os.tmpdir(), "jobsocket-tabs-"));
  const child = spawn(
    process.env.CHROMIUM_BINARY ?? "/usr/lib/chromium/chromium",
    [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--no-first-run", "--disable-extensions",
      // As playwright-core's launch() has them.
      "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
      "--disable-backgrounding-occluded-windows",
      "--remote-debugging-port=0", `--user-data-dir=${profile}`, "about:blank",
    ],
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  let browser;
  let stopping;
  // Kills the whole group (renderers write into the profile too), waits until every process
  // of it is gone, then removes the profile.
  const stop = () =>
    (stopping ??= (async () => {
      if (groupAlive(child.pid)) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // Gone between the check and the kill.
        }
      }
      await exited;
      while (groupAlive(child.pid)) await new Promise((resolve) => setTimeout(resolve, 20));
      // Playwright's end of the connection, already cut.
      await browser?.close().catch(() => {});
      await rm(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    })());
  try {
    // Chromium writes the port it took and the browser's CDP path to DevToolsActivePort.
    let active;
    for (const deadline = Date.now() + 20_000; !active; ) {
      if (child.exitCode !== null) throw new Error(`Chromium exited (${child.exitCode}): ${stderr}`);
      if (Date.now() > deadline) throw new Error(`Chromium gave no DevTools port within 20 s: ${stderr}`);
      const text = await readFile(path.join(profile, "DevToolsActivePort"), "utf8").catch(() => "");
      if (text.split("\n").length >= 2) active = text;
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const [port, browserPath] = active.split("\n");
    browser = await chromium.connectOverCDP(`ws://127.0.0.1:${port}${browserPath}`, { noDefaults: true });
    const context = browser.contexts()[0];
    const control = await browser.newBrowserCDPSession();
    let tabs = 0;
    return {
      browser: "chromium",
      async newTab() {
        const [page] = await Promise.all([
          context.waitForEvent("page"),
          control.send("Target.createTarget", { url: "about:blank", newWindow: true }),
        ]);
        const problems = [];
        page.on("pageerror", (error) => problems.push(error.message));
        page.on("console", (message) => {
          // A page of the server's origin asks for /favicon.ico, which it has not.
          if (message.type() === "error" && !message.location().url.endsWith("/favicon.ico")) problems.push(message.text());
        });
        let cdp;
        const session = async () => (cdp ??= await context.newCDPSession(page));
        const tab = {
          name: `tab ${++tabs}`,
          closed: false,
          problems,
          goto: (url) => page.goto(url),
          reload: () => page.reload(),
          evaluate: (fn, arg) => page.evaluate(fn, arg),
          /**
           * CDP's page lifecycle: Chromium hides the page and stops its task queues (timers,
           * socket and channel messages, lock callbacks wait), as it does to a background tab.
           */
          freeze: async () => (await session()).send("Page.setWebLifecycleState", { state: "frozen" }),
          /**
           * Runs the page again, and shows it (CDP's resume leaves it hidden; focus emulation
           * makes it visible again, as when its user comes back to it).
           */
          resume: async () => {
            await (await session()).send("Page.setWebLifecycleState", { state: "active" });
            await (await session()).send("Emulation.setFocusEmulationEnabled", { enabled: true });
          },
          /** This tab's CDP session, made on first use. */
          cdp: session,
          close: async () => {
            tab.closed = true;
            await page.close().catch(() => {});
          },
        };
        return tab;
      },
      close: stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Starts geckodriver on a free port (it prints the one it took) and opens a session of a new
 * Firefox with a profile of its own; `prefs` are Firefox preferences for that profile.
 * Resolves with call(method, route, body) on that session's routes (`route` after
 * /session/ID) and stop().
 */
async function startGeckoSession(prefs = {}) {
  const binary = process.env.GECKODRIVER ?? path.join(process.env.CARGO_HOME ?? path.join(os.homedir(), ".cargo"), "bin/geckodriver");
  // The port it took is in its first INFO line, so the log stays at info (read and dropped).
  const driver = spawn(binary, ["--port", "0", "--log", "info"], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise((resolve) => driver.once("exit", resolve));
  const stop = async () => {
    if (driver.exitCode === null && driver.signalCode === null) driver.kill("SIGTERM");
    await exited;
  };
  try {
    const base = await new Promise((resolve, reject) => {
      for (const stream of [driver.stdout, driver.stderr]) {
        createInterface({ input: stream }).on("line", (line) => {
          const match = /Listening on (\S+:\d+)/.exec(line);
          if (match) resolve(`http://${match[1]}`);
        });
      }
      driver.once("error", reject);
      driver.once("exit", (code) => reject(new Error(`geckodriver exited with ${code}`)));
      // Without its port line (another log level, a changed message) it would wait forever
      // and outlive the test; fail instead, and the catch below stops it.
      setTimeout(() => reject(new Error("geckodriver did not say which port it took within 20 s")), 20_000).unref();
    });
    const call = async (method, route, body) => {
      const response = await fetch(`${base}${route}`, {
        method,
        headers: { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const { value } = await response.json();
      if (!response.ok) throw new Error(`WebDriver ${method} ${route}: ${value?.error}: ${value?.message}`);
      return value;
    };
    const { sessionId } = await call("POST", "/session", {
      capabilities: {
        alwaysMatch: {
          "moz:firefoxOptions": { binary: process.env.FIREFOX ?? "/usr/bin/firefox-esr", args: ["-headless"], prefs },
        },
      },
    });
    const session = `/session/${sessionId}`;
    return {
      call: (method, route, body) => call(method, `${session}${route}`, body),
      async stop() {
        await call("DELETE", session).catch(() => {});
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A script for WebDriver's execute: runs `fn(arg)` and returns (or awaits) what it returns. */
const script = (fn, arg) => ({ script: `return (${fn})(arguments[0]);`, args: [arg ?? null] });

async function launchFirefox() {
  // The session starts with the first page or context.
  let windows;
  const start = () => (windows ??= firefoxWindows());
  return {
    // One window for newPage(): a test uses one page at a time.
    async newPage() {
      const { call, home, inWindow } = await start();
      return {
        problems: [],
        goto: (url) => inWindow(home, () => call("POST", "/url", { url })),
        evaluate: (fn, arg) => inWindow(home, () => call("POST", "/execute/sync", script(fn, arg))),
        close: async () => {
          await inWindow(home, () => call("POST", "/url", { url: "about:blank" })).catch(() => {});
        },
      };
    },
    newContext: async () => firefoxContext(await start()),
    async close() {
      if (windows) await (await windows.catch(() => null))?.stop();
    },
  };
}

/**
 * A WebDriver session and its windows. WebDriver runs every command in its current window,
 * so each command chain switches to its window first, one chain at a time. The first window
 * (`home`) stays open, since closing a session's last window ends the session.
 */
async function firefoxWindows() {
  const { call, stop } = await startGeckoSession();
  const home = await call("GET", "/window");
  let current = home;
  let queue = Promise.resolve();
  const inWindow = (handle, commands) => {
    const run = queue.then(async () => {
      if (current !== handle) {
        await call("POST", "/window", { handle });
        current = handle;
      }
      return commands();
    });
    queue = run.catch(() => {});
    return run;
  };
  const closeWindow = (handle) =>
    inWindow(handle, async () => {
      await call("DELETE", "/window");
      current = undefined;
    });
  return { call, stop, home, inWindow, closeWindow };
}

/**
 * Tabs in Firefox: top-level windows of launch()'s one session (a window each, not tabs of one
 * window: a background tab is hidden, and Firefox clamps a hidden page's timers to one a
 * second, which tests of timing would then measure instead of the client). geckodriver serves
 * one session at a time, so the contexts of one launch() share its profile (a Firefox for each
 * would cost some 4 s a test): tests keep apart by URL (a scope each), and close() closes the
 * context's windows, which ends their pages, locks and channels.
 */
function firefoxContext({ call, home, inWindow, closeWindow }) {
  let tabs = 0;
  const open = new Set();
  return {
    browser: "firefox",
    async newTab() {
      const { handle } = await inWindow(home, () => call("POST", "/window/new", { type: "window" }));
      const tab = {
        name: `tab ${++tabs}`,
        closed: false,
        problems: [],
        goto: (url) => inWindow(handle, () => call("POST", "/url", { url })),
        reload: () => inWindow(handle, () => call("POST", "/refresh", {})),
        evaluate: (fn, arg) => inWindow(handle, () => call("POST", "/execute/sync", script(fn, arg))),
        close: async () => {
          if (tab.closed) return;
          tab.closed = true;
          open.delete(tab);
          await closeWindow(handle).catch(() => {});
        },
      };
      open.add(tab);
      return tab;
    },
    async close() {
      for (const tab of [...open]) await tab.close();
    },
  };
}

/**
 * Polls `fn(arg)` in the page until it returns a truthy value; fails after `timeoutMs` with
 * `describe()`'s account of what the page showed.
 */
export async function waitUntil(page, fn, arg, { timeoutMs = 20_000, describe = async () => "" } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await page.evaluate(fn, arg);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${fn}\n${await describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
