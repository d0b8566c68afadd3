// The demo page, as a new user sees it: open it, start jobs, watch them finish.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, inDemo } from "./support.mjs";

let server;
let browser;

before(async () => {
  server = await startServer(["--step-ms", "15"]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the demo connects and shows the connection as connected", () =>
  inDemo(browser, server.demoUrl, async ({ page, problems }) => {
    await page.waitForSelector(".connection[data-status=connected]");
    assert.deepEqual(problems, []);
  }));

test("a generation started from the demo reaches 100% and shows its result and clips", () =>
  inDemo(browser, server.demoUrl, async ({ page, problems }) => {
    await page.click("#start-generation");
    const card = page.locator(".job").first();
    await card.locator(".job-result").waitFor({ state: "visible" });
    assert.equal(await card.getAttribute("data-status"), "completed");
    assert.equal(await card.locator(".bar").getAttribute("aria-valuenow"), "100");
    assert.equal(await card.locator(".job-progress").textContent(), "100%");
    assert.equal(await card.locator(".clips img").count(), 3);
    assert.match(await card.locator(".job-result a").textContent(), /\.mp4$/);
    assert.deepEqual(problems, []);
  }));

test("a composition started from the demo reaches 100% and shows its result", () =>
  inDemo(browser, server.demoUrl, async ({ page, problems }) => {
    await page.click("#start-composition");
    const card = page.locator(".job").first();
    await card.locator(".job-result").waitFor({ state: "visible" });
    assert.equal(await card.locator(".bar").getAttribute("aria-valuenow"), "100");
    assert.deepEqual(problems, []);
  }));

test("a failing generation shows its error and the failed status", () =>
  inDemo(browser, server.demoUrl, async ({ page, problems }) => {
    await page.click("#start-failing-generation");
    const card = page.locator(".job").first();
    await card.locator(".job-error").waitFor({ state: "visible" });
    assert.equal(await card.getAttribute("data-status"), "failed");
    assert.match(await card.locator(".job-error").textContent(), /generation_failed/);
    assert.deepEqual(problems, []);
  }));
