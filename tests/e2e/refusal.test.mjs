// Issue 12's refusal loop, in a real browser (Chromium and Firefox): a server that accepts
// every upgrade, greets, then closes with 4001. Over 10 s of real time, the client may open no
// more sockets than its backoff allows, fetches one fresh token after the backoff, and ends
// closed with reason "unauthorized" (a greeting is not a connection that stayed up).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { BROWSERS, launch, waitUntil } from "./browsers.mjs";
import { startHostileServer } from "./hostile-server.mjs";

/** Default-like options with the backoff shortened; no jitter, so the bound is exact. */
const OPTIONS = { reconnectInitialDelayMs: 250, reconnectMaxDelayMs: 2_000, minUptimeMs: 1_000, jitter: false };
const WINDOW_MS = 10_000;

/**
 * The sockets the backoff alone allows in `windowMs`: the first at once, then one after each
 * step, a step doubling the last up to the maximum (with no time spent connecting).
 */
function socketsTheBackoffAllows(windowMs, { reconnectInitialDelayMs, reconnectMaxDelayMs }) {
  let sockets = 1;
  let at = 0;
  for (let delay = reconnectInitialDelayMs; at + delay <= windowMs; delay = Math.min(delay * 2, reconnectMaxDelayMs)) {
    at += delay;
    sockets += 1;
  }
  return sockets;
}

/** The refusal rule: the first socket, then one more with a fresh token, then "unauthorized". */
const SOCKETS_THE_RULE_ALLOWS = 2;

for (const name of BROWSERS) {
  describe(`a server that greets then refuses the token, in ${name}`, () => {
    let browser;
    before(async () => {
      browser = await launch(name);
    });
    after(async () => {
      await browser?.close();
    });

    test("over 10 s: two sockets, two token calls, the second after the backoff, then closed unauthorized", async (t) => {
      const closedAt = [];
      const server = await startHostileServer(async (peer) => {
        await peer.send(JSON.stringify({ type: "connected", clientId: `c_${peer.index}`, heartbeatMs: 30000 }));
        await peer.close(4001, "unauthorized");
        closedAt[peer.index] = Date.now();
      });
      const page = await browser.newPage();
      try {
        await page.goto(server.pageUrl);
        await waitUntil(page, () => document.body?.dataset.ready === "true" && Boolean(window.harness));
        const startedAt = Date.now();
        await page.evaluate((arg) => window.harness.start(arg), { options: { url: server.socketUrl, storageKey: "user:refusal", ...OPTIONS }, token: true });
        await new Promise((resolve) => setTimeout(resolve, WINDOW_MS - (Date.now() - startedAt)));
        const seen = await page.evaluate(() => window.harness.read());
        const sockets = server.peers.length;
        const backoffBound = socketsTheBackoffAllows(WINDOW_MS, OPTIONS);
        const wait = server.peers[1] ? server.peers[1].openedAt - closedAt[0] : null;
        t.diagnostic(
          `${name}: ${sockets} sockets, ${seen.tokenCalls} token calls in ${WINDOW_MS} ms (the backoff allows ${backoffBound}, ` +
            `the refusal rule ${SOCKETS_THE_RULE_ALLOWS}); the second ${wait} ms after the refusal; states ${seen.states.join(" → ")}`,
        );
        assert.deepEqual([...page.problems, ...seen.pageErrors], [], "no page errors");
        assert.ok(sockets <= backoffBound, `${sockets} sockets, the backoff allows ${backoffBound}`);
        assert.equal(sockets, SOCKETS_THE_RULE_ALLOWS, "the first socket and one with a fresh token");
        assert.equal(seen.tokenCalls, sockets, "one token call per socket");
        assert.deepEqual(
          server.peers.map((peer) => peer.query.get("token")),
          ["token-1", "token-2"],
          "each socket carries the token fetched for it",
        );
        assert.ok(wait >= OPTIONS.reconnectInitialDelayMs - 50, `the second socket came ${wait} ms after the refusal`);
        assert.deepEqual([seen.state.status, seen.state.reason], ["closed", "unauthorized"], JSON.stringify(seen.state));
      } finally {
        await page.close();
        await server.stop();
      }
    });
  });
}
