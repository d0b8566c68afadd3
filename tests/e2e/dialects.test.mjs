// The React hooks, unchanged, on each server kind of the design documents: the demo's
// dialects page (www-demo/dialects.html) with the README's configuration, against the npm
// `socket.io` 4.8 server and `ws` servers written to phase-7's and story-007's documents. Each
// test drops the connection in the middle and still sees everything it must. Then the same
// page on instance B of a socket.io server that runs as two instances on Redis (the Redis
// adapter, as ep-080 runs it), its jobs and events started on instance A.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, inDemo } from "./support.mjs";
import { startDialectServers } from "./dialect-servers.mjs";
import { startRedis } from "./redis.mjs";

let server;
let redis;
let dialects;
let browser;

before(async () => {
  server = await startServer();
  redis = await startRedis();
  dialects = await startDialectServers({ redis: redis.url });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await dialects?.stop();
  await redis?.stop();
  await server?.stop();
});

/**
 * The dialects page for `kind`, pointed at its server; with `across: true` (socket.io only),
 * at instance B, with the page's controls (jobs, events) acting on instance A.
 */
function pageFor(kind, { across = false } = {}) {
  const socketIo = across ? dialects.addresses.socketIoB : dialects.addresses.socketIo;
  const address = {
    ep080: socketIo,
    story1615: socketIo,
    phase7: dialects.addresses.phase7,
    story007: dialects.addresses.story007,
  }[kind];
  const control = across ? dialects.addresses.controlA : dialects.addresses.control;
  const query = new URLSearchParams({ dialect: kind, server: address, control });
  return `${server.url}/dialects.html?${query}`;
}

/** A generation job to completion through useGeneration, with a drop in the middle. */
async function jobThroughADrop(kind) {
  return inDemo(browser, pageFor(kind), async ({ page, problems }) => {
    await page.waitForSelector(".connection[data-status=connected]");
    await page.click("#start-job");
    const card = page.locator(".job").first();
    await page.waitForFunction(
      () => Number(document.querySelector(".job .bar")?.getAttribute("aria-valuenow")) >= 25,
    );
    await page.click("#drop");
    await page.waitForSelector(".job[data-status=completed]", { timeout: 20_000 });
    assert.equal(await card.locator(".bar").getAttribute("aria-valuenow"), "100");
    assert.deepEqual(problems, []);
    return page.locator("#recovered").textContent();
  });
}

test("ep-080 (Socket.IO): useGeneration follows a job to completion through a dropped connection, recovered", async () => {
  assert.equal(await jobThroughADrop("ep080"), "true");
});

test("phase-7 (plain JSON): useGeneration follows a job to completion through a dropped connection", async () => {
  await jobThroughADrop("phase7");
});

test("story-007 (plain JSON): useChannel follows a project's job to job_complete through a dropped connection", () =>
  inDemo(browser, pageFor("story007"), async ({ page, problems }) => {
    await page.waitForSelector(".connection[data-status=connected]");
    await page.click("#start-job");
    await page.waitForFunction(() => document.querySelectorAll("#channel-events li").length >= 3);
    await page.click("#drop");
    await page.waitForSelector("#channel-events li[data-event=job_complete]", { timeout: 20_000 });
    const events = await page.locator("#channel-events li").evaluateAll((items) =>
      items.map((item) => item.getAttribute("data-event")),
    );
    assert.equal(events.at(-1), "job_complete");
    assert.ok(events.slice(0, -1).every((event) => event === "progress"), events.join());
    assert.deepEqual(problems, []);
  }));

test("story-16-15 (Socket.IO): useChannel gets every workspace event once, in order, through a dropped connection", () =>
  inDemo(browser, pageFor("story1615"), async ({ page, problems }) => {
    await page.waitForSelector(".connection[data-status=connected]");
    for (let n = 0; n < 3; n += 1) await page.click("#publish");
    await page.waitForFunction(() => document.querySelectorAll("#channel-events li").length === 3);
    await page.click("#drop");
    for (let n = 0; n < 3; n += 1) await page.click("#publish");
    await page.waitForFunction(() => document.querySelectorAll("#channel-events li").length >= 6);
    await page.waitForSelector(".connection[data-status=connected]");
    const titles = await page.locator("#channel-events li").evaluateAll((items) =>
      items.map((item) => /"title":"([^"]+)"/.exec(item.textContent)?.[1]),
    );
    assert.deepEqual(titles, [1, 2, 3, 4, 5, 6].map((n) => `Approval ${n}`));
    assert.equal(await page.locator("#recovered").textContent(), "true");
    assert.deepEqual(problems, []);
  }));

test("ep-080 (Socket.IO on two instances and Redis): useGeneration on instance B follows a job run on instance A to completion", () =>
  inDemo(browser, pageFor("ep080", { across: true }), async ({ page, problems }) => {
    await page.waitForSelector(".connection[data-status=connected]");
    // Every percentage the card shows, in order: a step repeated or out of order on the way
    // from A through Redis to B would show (the client may coalesce steps, so some may be skipped).
    await page.evaluate(() => {
      const seen = (window.__percentages = []);
      new MutationObserver(() => {
        const now = document.querySelector(".job .bar")?.getAttribute("aria-valuenow");
        if (now !== undefined && now !== null && seen[seen.length - 1] !== now) seen.push(now);
      }).observe(document.body, { attributes: true, subtree: true, childList: true });
    });
    await page.click("#start-job");
    await page.waitForSelector(".job[data-status=completed]", { timeout: 20_000 });
    const percentages = (await page.evaluate(() => window.__percentages)).map(Number);
    assert.ok(
      percentages.every((value, at) => at === 0 || value > percentages[at - 1]),
      `rising: ${percentages}`,
    );
    assert.equal(percentages.at(-1), 100);
    assert.deepEqual(problems, []);
  }));

test("story-16-15 (Socket.IO on two instances and Redis): useChannel on instance B gets every workspace event emitted on instance A once, in order", () =>
  inDemo(browser, pageFor("story1615", { across: true }), async ({ page, problems }) => {
    await page.waitForSelector(".connection[data-status=connected]");
    for (let n = 0; n < 6; n += 1) await page.click("#publish");
    await page.waitForFunction(() => document.querySelectorAll("#channel-events li").length >= 6);
    const titles = await page.locator("#channel-events li").evaluateAll((items) =>
      items.map((item) => /"title":"([^"]+)"/.exec(item.textContent)?.[1]),
    );
    assert.deepEqual(titles, [1, 2, 3, 4, 5, 6].map((n) => `Approval ${n}`));
    assert.deepEqual(problems, []);
  }));
