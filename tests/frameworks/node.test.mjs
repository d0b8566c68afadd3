// Plain Node 20: the tarball imported and rendered on the server (node-app/check.mjs), in a
// process of its own so nothing this runner loaded (or a global it set) can help it.
import { test } from "node:test";
import path from "node:path";
import { here, run } from "./support.mjs";

test("plain Node: jobsocket and jobsocket/react import without window, renderToString says connecting", async () => {
  await run(process.execPath, ["check.mjs"], { cwd: path.join(here, "node-app") });
});
