// The webpack 5 build must bundle the glue and emit the .wasm next to it.
import { readdirSync } from "node:fs";
import assert from "node:assert/strict";

const files = readdirSync(new URL("./dist/", import.meta.url));
assert.ok(files.some((file) => file.endsWith(".wasm")), `no .wasm emitted: ${files}`);
assert.ok(files.some((file) => /\.m?js$/.test(file)), `no bundle: ${files}`);
console.log("webpack: 2 passed, 0 failed");
