// The reference server process is killed in the middle of a job and started again on the same
// port: the demo page's client must notice, come back by itself and resubscribe.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, inDemo } from "./support.mjs";

let server;
let browser;

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("after the server is killed and restarted on the same port, the client reconnects and resubscribes", async () => {
  server = await startServer(["--step-ms", "300"]);
  const port = server.port;
  browser = await launchBrowser();
  await inDemo(browser, server.demoUrl, async ({ page }) => {
    await page.waitForSelector(".connection[data-status=connected]");
    await page.click("#start-generation");
    const card = page.locator(".job").first();
    await page.waitForFunction(() => Number(document.querySelector(".job .bar")?.getAttribute("aria-valuenow")) > 0);

    await server.kill();
    await page.waitForSelector(".connection:not([data-status=connected])");
    server = await startServer(["--step-ms", "300"], { port, adminKey: server.adminKey });
    await page.waitForSelector(".connection[data-status=connected]", { timeout: 30_000 });

    // The new process does not know the old job: its answer to the client's resubscription
    // is the proof that the client resubscribed by itself.
    await page.waitForFunction(() =>
      [...document.querySelectorAll("#event-log li")].some((item) => item.textContent.includes("error server_error (unknown_job)")),
    );
    assert.notEqual(await card.getAttribute("data-status"), "completed");
  });
});
