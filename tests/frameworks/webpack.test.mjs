// webpack 5 (production): the app bundled with the .wasm emitted as an asset, served by a
// plain static server, run in Chromium.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { here, run, serveStatic, pageQuery, runJobInBrowser } from "./support.mjs";

const app = path.join(here, "webpack-app");

test("webpack 5 production bundle, served statically: StrictMode page runs a job to completion", async () => {
  const log = await run(path.join(app, "node_modules/.bin/webpack"), ["--config", "webpack.config.cjs"], { cwd: app });
  // A warning about the package (a directive, a dynamic require) is a user's problem too.
  assert.doesNotMatch(log, /WARNING|compiled with/, log);
  // The bundle and its .wasm from dist/, the page from public/.
  const server = await serveStatic(path.join(app, "dist"), path.join(app, "public"));
  try {
    await runJobInBrowser((jobs, job) => `${server.url}?${pageQuery(jobs, job)}`);
  } finally {
    await server.close();
  }
});
