// One small page interface over two browsers, so a test can run the same steps in each:
// Chromium through playwright-core (support.mjs), and Firefox ESR through geckodriver's W3C
// WebDriver endpoints (Playwright drives only its own patched Firefox, which the registries do
// not serve). A page offers goto(url), evaluate(fn, arg) and close(); fn must be
// self-contained, as it is sent to the browser as source text.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import path from "node:path";
import os from "node:os";
import { launchBrowser } from "./support.mjs";

/** The browsers these tests run in, by name: JOBSOCKET_BROWSERS=chromium skips Firefox. */
export const BROWSERS = (process.env.JOBSOCKET_BROWSERS ?? "chromium firefox")
  .split(/\s+/)
  .filter((name) => name === "chromium" || name === "firefox");

/** Launches `name`; resolves with { newPage(), close() }. */
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
    close: () => browser.close(),
  };
}

/** Starts geckodriver on a free port (it prints the one it took) and opens a session. */
async function launchFirefox() {
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
          "moz:firefoxOptions": { binary: process.env.FIREFOX ?? "/usr/bin/firefox-esr", args: ["-headless"] },
        },
      },
    });
    const session = `/session/${sessionId}`;
    return {
      // One session is one window: a test uses one page at a time.
      async newPage() {
        return {
          problems: [],
          goto: (url) => call("POST", `${session}/url`, { url }),
          evaluate: (fn, arg) =>
            call("POST", `${session}/execute/sync`, { script: `return (${fn})(arguments[0]);`, args: [arg ?? null] }),
          close: async () => {
            await call("POST", `${session}/url`, { url: "about:blank" }).catch(() => {});
          },
        };
      },
      async close() {
        await call("DELETE", session).catch(() => {});
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
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
