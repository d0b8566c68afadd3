// A user's own test suite: vitest + jsdom + Testing Library in vitest-app, testing a component
// that uses the hooks with the mock client of `jobsocket/testing`. Its output is kept for the
// failure message (vitest names the failing expectation).
import { test } from "node:test";
import path from "node:path";
import { here, run } from "./support.mjs";

const app = path.join(here, "vitest-app");

test("Vitest in a user's project: useGeneration with jobsocket/testing's MockClient in StrictMode", async () => {
  await run(path.join(app, "node_modules/.bin/vitest"), ["run", "--reporter=dot"], { cwd: app });
});
