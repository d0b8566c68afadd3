// The size budget of `make test`: fails when the package (wasm + JS, minified, gzip -9) grows
// past bench/size-budget.json. Size is deterministic, unlike time, so this can be a test: a
// change that makes the package bigger must raise the budget in the same commit, on purpose.
import { readFile } from "node:fs/promises";
import { packageSizes } from "./size.mjs";

const budget = JSON.parse(await readFile(new URL("./size-budget.json", import.meta.url)));
const sizes = await packageSizes();
let failed = 0;
for (const [key, limit] of Object.entries(budget.bytes)) {
  const size = sizes[key];
  const verdict = size <= limit ? "ok" : "OVER BUDGET";
  if (size > limit) failed += 1;
  console.log(`size: ${key.padEnd(24)} ${String(size).padStart(8)} B of ${String(limit).padStart(8)} B  ${verdict}`);
}
console.log(
  `size: wasm + JS ${sizes.total_gzip_bytes} B gzip, ${sizes.total_brotli_bytes} B brotli ` +
    `(socket.io-client ${sizes.socketio_gzip_bytes} B gzip, ${sizes.socketio_brotli_bytes} B brotli)`,
);
console.log(`size budget: ${Object.keys(budget.bytes).length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
