// The chaos panel: dropped connections, and refused WebSockets forcing the polling fallback,
// while a generation and a composition run. The jobs must finish with nothing missing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, inDemo, openDemo, describePage } from "./support.mjs";

let server;
let browser;

before(async () => {
  server = await startServer(["--step-ms", "250"]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function finished(page, kind) {
  const card = page.locator(`.job[data-kind=${kind}]`).first();
  await card.locator(".job-result").waitFor({ state: "visible", timeout: 60_000 });
  assert.equal(await card.locator(".bar").getAttribute("aria-valuenow"), "100");
  return card;
}

test("dropped connections: the status goes through reconnecting back to connected and the jobs finish with every clip", () =>
  inDemo(browser, server.demoUrl, async ({ page, problems }) => {
    await page.waitForSelector(".connection[data-status=connected]");
    await page.click("#start-generation");
    await page.click("#start-composition");
    await page.waitForFunction(() => Number(document.querySelector(".job .bar")?.getAttribute("aria-valuenow")) > 0);
    await page.click("#drop");
    await page.waitForFunction(() => window.__statuses.length >= 3 && window.__statuses.at(-1) === "connected");
    const statuses = await page.evaluate(() => window.__statuses);
    assert.ok(
      statuses.slice(1, -1).some((status) => status === "reconnecting" || status === "connecting"),
      `statuses: ${statuses}`,
    );
    const generation = await finished(page, "generation");
    assert.equal(await generation.locator(".clips img").count(), 3);
    await finished(page, "composition");
    assert.deepEqual(problems, []);
  }));

test("refused WebSockets: the status shows polling and the jobs still finish", () =>
  inDemo(browser, server.demoUrl, async ({ page, problems }) => {
    await page.waitForSelector(".connection[data-status=connected]");
    await page.click("#start-generation");
    await page.click("#start-composition");
    await page.click("#refuse-ws");
    await page.waitForSelector("#refuse-ws[aria-pressed=true]");
    await page.click("#drop");
    await page.waitForSelector(".connection[data-status=polling]", { timeout: 60_000 });
    assert.equal(await page.locator("#transport").textContent(), "polling");
    const generation = await finished(page, "generation");
    assert.equal(await generation.locator(".clips img").count(), 3);
    await finished(page, "composition");
    await page.click("#refuse-ws");
    // The browser logs each refused handshake; that is the point of this test.
    const unexpected = problems.filter((problem) => !/WebSocket connection to .* failed/.test(problem));
    assert.deepEqual(unexpected, []);
  }));

test("offline: messages wait in the outbox and are acked once the page is back online", () =>
  inDemo(browser, server.demoUrl, async ({ page }) => {
    await page.waitForSelector(".connection[data-status=connected]");
    await page.click("#go-offline");
    await page.waitForSelector(".connection[data-status=offline]");
    await page.click("#send-message");
    await page.click("#send-message");
    assert.equal(await page.locator("#outbox-size").textContent(), "2");
    await page.click("#go-online");
    await page.waitForSelector(".connection[data-status=connected]");
    await page.waitForFunction(() => document.querySelector("#outbox-size")?.textContent === "0");
  }));

test("the chaos panel breaks its own tab only: another tab on the same server stays connected", async () => {
  const other = await openDemo(browser, server.demoUrl);
  try {
    await other.page.waitForSelector(".connection[data-status=connected]");
    await inDemo(browser, server.demoUrl, async ({ page }) => {
      await page.waitForSelector(".connection[data-status=connected]");
      await page.click("#refuse-ws");
      await page.waitForSelector("#refuse-ws[aria-pressed=true]");
      await page.click("#drop");
      await page.waitForSelector(".connection:not([data-status=connected])");
    });
    // The other tab's socket was neither dropped nor refused: a message sent now is acked
    // over it, and its status never left `connected`.
    await other.page.click("#send-message");
    await other.page.waitForFunction(() => document.querySelector("#outbox-size")?.textContent === "0");
    const statuses = await other.page.evaluate(() => window.__statuses);
    assert.deepEqual(statuses.slice(statuses.indexOf("connected")), ["connected"], `statuses: ${statuses}`);
  } catch (error) {
    error.message += `\nthe other tab: ${await describePage(other.page, other.problems)}`;
    throw error;
  } finally {
    await other.page.close();
  }
});
