// Issue 12's client findings that only a real page can show, in Chromium and in Firefox, on the
// built package served by the reference server: a subscription made inside a terminal event's
// handler, the outbox cleared at sign-out across a reload, a token kept out of every error a
// browser quotes the socket URL in, and a token sent as the socket's first frame instead of in
// its URL to a server started with --token.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "./support.mjs";
import { BROWSERS, launch, waitUntil } from "./browsers.mjs";

const TOKEN = "s3cret-e2e-token";

async function startGeneration(server, token) {
  const response = await fetch(`${server.url}/api/v1/generations`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ clips: 1, steps_per_clip: 2, step_ms: 40 }),
  });
  assert.ok(response.ok, `starting a generation: HTTP ${response.status}`);
  return (await response.json()).id;
}

/** Opens a same-origin page and loads the package into it as `window.__jobsocket`. */
async function openPage(browser, server) {
  const page = await browser.newPage();
  await page.goto(`${server.url}/healthz`);
  await page.evaluate(async () => {
    window.__jobsocket = await import("/pkg/index.js");
    await window.__jobsocket.initialize();
    return true;
  });
  return page;
}

for (const name of BROWSERS) {
  describe(`client security in ${name}`, () => {
    let browser;
    let server;
    let tokenServer;
    before(async () => {
      server = await startServer();
      // The token through the environment, as the README advises (a flag shows in `ps`).
      process.env.JOBSOCKET_TOKEN = TOKEN;
      try {
        tokenServer = await startServer();
      } finally {
        delete process.env.JOBSOCKET_TOKEN;
      }
      browser = await launch(name);
    });
    after(async () => {
      await browser?.close();
      await server?.stop();
      await tokenServer?.stop();
    });

    test("tokenTransport frame: the token is the socket's first frame and never in a URL", async () => {
      const page = await openPage(browser, tokenServer);
      try {
        const job = await startGeneration(tokenServer, TOKEN);
        await page.evaluate(
          async ([job, token]) => {
            const seen = (window.__seen = { urls: [], firstFrames: [], events: [], states: [] });
            const Native = window.WebSocket;
            window.WebSocket = class extends Native {
              constructor(url, protocols) {
                super(url, protocols);
                seen.urls.push(String(url));
                let first = true;
                const send = this.send.bind(this);
                this.send = (text) => {
                  if (first) seen.firstFrames.push(String(text));
                  first = false;
                  send(text);
                };
              }
            };
            const client = (window.__client = await window.__jobsocket.createJobSocket({
              url: `${location.origin}/ws`,
              token: () => Promise.resolve(token),
              tokenTransport: "frame",
              storageKey: "user:frame",
              maxProgressPerSecond: 0,
            }));
            client.onStateChange((change) => seen.states.push(change.status));
            client.subscribeGeneration(job, { onEvent: (_data, meta) => seen.events.push(meta.event) });
            return true;
          },
          [job, TOKEN],
        );
        const describe = async () => JSON.stringify(await page.evaluate(() => window.__seen));
        await waitUntil(page, () => window.__seen.events.includes("completed"), null, { describe });
        const seen = await page.evaluate(() => window.__seen);
        assert.equal(seen.urls.length, 1, await describe());
        assert.ok(!seen.urls[0].includes(TOKEN) && seen.urls[0].includes("requestId="), seen.urls[0]);
        assert.deepEqual(seen.firstFrames.map((text) => JSON.parse(text)), [{ type: "auth", token: TOKEN }]);
        assert.ok(!seen.states.includes("closed"), await describe());
      } finally {
        await page.evaluate(() => window.__client?.free()).catch(() => {});
        await page.close();
      }
    });

    test("a subscription made inside a completed handler gets every event of its job, even when another subscriber lets go", async () => {
      const page = await openPage(browser, server);
      try {
        const [first, second] = [await startGeneration(server), await startGeneration(server)];
        await page.evaluate(
          async ([first, second]) => {
            const seen = (window.__seen = { first: [], again: [], second: [] });
            const client = (window.__client = await window.__jobsocket.createJobSocket({
              url: `${location.origin}/ws`,
              maxProgressPerSecond: 0,
            }));
            const record = (list) => ({ onEvent: (_data, meta) => list.push(`${meta.seq}:${meta.event}`) });
            client.subscribeGeneration(first, {
              onEvent: (_data, meta) => seen.first.push(`${meta.seq}:${meta.event}`),
              completed: () => {
                // The same job again (its log is replayed) and another job, from the handler.
                client.subscribeGeneration(first, record(seen.again));
                client.subscribeGeneration(second, record(seen.second));
              },
            });
            // A second subscriber of the same job lets go in its own completed handler, after
            // the first one subscribed again: that must not end the new subscription.
            const other = client.subscribeGeneration(first, { completed: () => other.unsubscribe() });
            return true;
          },
          [first, second],
        );
        const describe = async () => JSON.stringify(await page.evaluate(() => window.__seen));
        await waitUntil(
          page,
          () => ["again", "second"].every((list) => window.__seen[list].some((entry) => entry.endsWith(":completed"))),
          null,
          { describe },
        );
        const seen = await page.evaluate(() => window.__seen);
        assert.deepEqual(seen.again, seen.first, "the resubscription replays the job from its first event, once each");
        const seqs = seen.second.map((entry) => Number(entry.split(":")[0]));
        assert.deepEqual(seqs, seqs.map((_, index) => index + 1), "the other job's events, each once, in order");
        assert.deepEqual(page.problems, []);
      } finally {
        await page.evaluate(() => window.__client?.free()).catch(() => {});
        await page.close();
      }
    });

    test("clearOutbox at sign-out leaves nothing for the next page; without it, the queue comes back", async () => {
      const page = await openPage(browser, server);
      try {
        const restored = await page.evaluate(async () => {
          // Port 1 refuses: the messages wait in the outbox, stored in localStorage.
          const options = (user) => ({ url: "ws://127.0.0.1:1/ws", storageKey: `user:${user}`, reconnectInitialDelayMs: 60_000 });
          const { JobSocket } = window.__jobsocket;
          const counts = {};
          for (const [user, clear] of [["a", true], ["b", false]]) {
            const client = new JobSocket(options(user));
            client.send("note", { from: user });
            client.send("note", { from: user });
            counts[`${user}Queued`] = client.state.outboxSize;
            if (clear) client.clearOutbox();
            client.close();
            client.free();
            const reloaded = new JobSocket(options(user));
            // Tabs share one outbox: the new client restores it once it holds the lock.
            while (reloaded.tabRole !== "leader") await new Promise((resolve) => setTimeout(resolve, 10));
            counts[`${user}Restored`] = reloaded.state.outboxSize;
            reloaded.clearOutbox();
            reloaded.close();
            reloaded.free();
          }
          return counts;
        });
        assert.deepEqual(restored, { aQueued: 2, aRestored: 0, bQueued: 2, bRestored: 2 });
      } finally {
        await page.close();
      }
    });

    test("a socket URL the browser refuses is reported without the token in it", async () => {
      const page = await openPage(browser, server);
      try {
        const reported = await page.evaluate(async () => {
          const errors = [];
          const client = new window.__jobsocket.JobSocket({
            // A port out of range: the WebSocket constructor throws, quoting the URL in Chromium.
            url: "ws://127.0.0.1:99999/ws",
            token: "s3cret-token",
            storageKey: "user:token",
            reconnectInitialDelayMs: 60_000,
          });
          client.onError((error) => errors.push(error.message));
          client.connect();
          await new Promise((resolve) => setTimeout(resolve, 200));
          const last = JSON.stringify(client.state.lastError);
          client.close();
          client.free();
          return { errors, last };
        });
        assert.ok(reported.errors.length > 0, "the refused socket was reported");
        const text = JSON.stringify(reported);
        assert.ok(!text.includes("s3cret"), text);
      } finally {
        await page.close();
      }
    });
  });
}
