// Vite's dev server, with dependency pre-bundling on (the default): the package is bundled
// into node_modules/.vite/deps, and the glue's `new URL("jobsocket_bg.wasm", import.meta.url)`
// must still find the .wasm. StrictMode runs its mount, unmount, mount here (a development
// build of React), before the wasm has loaded.
import { test } from "node:test";
import path from "node:path";
import { here, freePort, startApp, pageQuery, runJobInBrowser } from "./support.mjs";

const app = path.join(here, "vite-app");

test("Vite dev server (pre-bundling on): StrictMode page runs a job to completion", async () => {
  // Vite takes port 0 for "unset" and listens on 5173 (or the next free one): a free port
  // is picked here, and --strictPort makes a port taken in between fail instead of moving.
  const port = await freePort();
  // --force: the pre-bundle is made afresh from the tarball just installed, never a cache.
  const server = await startApp(
    path.join(app, "node_modules/.bin/vite"),
    ["--port", String(port), "--strictPort", "--host", "127.0.0.1", "--force", "--clearScreen", "false"],
    { cwd: app, url: `http://127.0.0.1:${port}/` },
  );
  try {
    await runJobInBrowser((jobs, job) => `${server.url}?${pageQuery(jobs, job)}`);
  } catch (error) {
    error.message += `\n--- output of vite ---\n${server.output()}`;
    throw error;
  } finally {
    await server.stop();
  }
});
