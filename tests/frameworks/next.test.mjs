// Next.js (app router, production): `next build`, then `next start`. The page is a server
// component rendering the provider around a client component that calls useGeneration; the
// server's HTML must show the connecting state, and the hydrated page must run a job.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { here, freePort, run, startApp, pageQuery, runJobInBrowser } from "./support.mjs";

const app = path.join(here, "next-app");
const next = path.join(app, "node_modules/.bin/next");

test("Next.js app router: server HTML says connecting, the hydrated page runs a job to completion", async () => {
  await run(next, ["build"], { cwd: app });
  const port = await freePort();
  const server = await startApp(next, ["start", "--port", String(port), "--hostname", "127.0.0.1"], {
    cwd: app,
    url: `http://127.0.0.1:${port}/`,
  });
  try {
    // The server's own output, before any script runs: a plain fetch, no browser. Rendering
    // connects nowhere, so the address needs no server behind it.
    const query = new URLSearchParams({ url: "ws://127.0.0.1:9/ws", job: "gen_ssr" });
    const response = await fetch(`${server.url}?${query}`);
    const html = await response.text();
    assert.equal(response.status, 200, html.slice(0, 2_000));
    const tag = (marker) => html.match(new RegExp(`<[^>]*${marker}[^>]*>`))?.[0] ?? `(no tag with ${marker})`;
    assert.match(tag('class="connection"'), /data-status="connecting"/, html.slice(0, 4_000));
    assert.match(tag('id="job"'), /data-status="none"/, html.slice(0, 4_000));

    await runJobInBrowser((jobs, job) => `${server.url}?${pageQuery(jobs, job)}`);
  } catch (error) {
    error.message += `\n--- output of next start ---\n${server.output()}`;
    throw error;
  } finally {
    await server.stop();
  }
});
