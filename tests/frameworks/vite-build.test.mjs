// Vite's production build of the same app (the .wasm emitted as a hashed asset), served by
// `vite preview`.
import { test } from "node:test";
import path from "node:path";
import { here, freePort, run, startApp, pageQuery, runJobInBrowser } from "./support.mjs";

const app = path.join(here, "vite-app");
const vite = path.join(app, "node_modules/.bin/vite");

test("Vite production build (vite build + vite preview): StrictMode page runs a job to completion", async () => {
  // Into dist/ (gitignored); the dev server test, which may run meanwhile, does not use it.
  await run(vite, ["build", "--logLevel", "warn"], { cwd: app });
  const port = await freePort();
  const server = await startApp(
    vite,
    ["preview", "--port", String(port), "--strictPort", "--host", "127.0.0.1"],
    { cwd: app, url: `http://127.0.0.1:${port}/` },
  );
  try {
    await runJobInBrowser((jobs, job) => `${server.url}?${pageQuery(jobs, job)}`);
  } catch (error) {
    error.message += `\n--- output of vite preview ---\n${server.output()}`;
    throw error;
  } finally {
    await server.stop();
  }
});
