// One small page interface over two browsers, so a test can run the same steps in each:
// Chromium through playwright-core (support.mjs), and Firefox ESR through geckodriver's W3C
// WebDriver endpoints (Playwright drives only its own patched Firefox, which the registries do
// not serve). A page offers goto(url), evaluate(fn, arg) and close(); fn must be
// self-contained, as it is sent to the browser as source text.
//
// For tests of several tabs of one app (they must share localStorage, Web Locks and
// BroadcastChannel), newContext() gives a profile of its own whose newTab()s all share it:
// in Chromium a browser context with a page per tab, in Firefox a WebDriver session of its
// own (geckodriver serves one session at a time, so a context is another geckodriver and
// Firefox) with a window per tab. A tab adds reload(), and close() really closes it.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import path from "node:path";
import os from "node:os";
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
    async newContext() {
      const context = await browser.newContext();
      let tabs = 0;
      return {
        browser: "chromium",
        async newTab() {
          const page = await context.newPage();
          const problems = [];
          page.on("pageerror", (error) => problems.push(error.message));
          page.on("console", (message) => {
            if (message.type() === "error") problems.push(message.text());
          });
          let cdp;
          const lifecycle = async (state) => {
            cdp ??= await context.newCDPSession(page);
            await cdp.send("Page.setWebLifecycleState", { state });
          };
          const tab = {
            name: `tab ${++tabs}`,
            closed: false,
            problems,
            goto: (url) => page.goto(url),
            reload: () => page.reload(),
            evaluate: (fn, arg) => page.evaluate(fn, arg),
            /** Chromium only: stops the page's task queues (CDP), as a browser does to a background tab. */
            freeze: () => lifecycle("frozen"),
            resume: () => lifecycle("active"),
            /** This tab's CDP session, made on first use (Chromium only). */
            cdp: async () => (cdp ??= await context.newCDPSession(page)),
            close: async () => {
              tab.closed = true;
              await page.close().catch(() => {});
            },
          };
          return tab;
        },
        close: () => context.close().catch(() => {}),
      };
    },
    close: () => browser.close(),
  };
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
  // The session of newPage() starts with the first page: a suite of tabs (newContext()) has no
  // use for it.
  let session;
  const call = async (...args) => (await (session ??= startGeckoSession())).call(...args);
  return {
    // One session is one window: a test uses one page at a time.
    async newPage() {
      await (session ??= startGeckoSession());
      return {
        problems: [],
        goto: (url) => call("POST", "/url", { url }),
        evaluate: (fn, arg) => call("POST", "/execute/sync", script(fn, arg)),
        close: async () => {
          await call("POST", "/url", { url: "about:blank" }).catch(() => {});
        },
      };
    },
    newContext: () => firefoxContext(),
    async close() {
      if (session) await (await session.catch(() => null))?.stop();
    },
  };
}

/**
 * Tabs in Firefox: a session of their own, one top-level window each (a window, not a tab of
 * one window: a tab in the background is hidden, and Firefox clamps a hidden page's timers to
 * one a second, which tests of timing would then measure instead of the client). The session's first
 * window stays open on about:blank, since closing a session's last window ends it. WebDriver
 * runs scripts in its current window, so each command switches first, one command at a time.
 */
async function firefoxContext() {
  const { call, stop } = await startGeckoSession();
  const home = await call("GET", "/window");
  let current = home;
  let queue = Promise.resolve();
  // One WebDriver command chain at a time, in the window `handle`.
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
  let tabs = 0;
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
          await inWindow(handle, async () => {
            await call("DELETE", "/window");
            current = undefined;
          }).catch(() => {});
        },
      };
      return tab;
    },
    close: stop,
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
