// A webpack 5 production build as an app has it, with webpack's defaults for everything the
// package relies on: the glue's `new URL("jobsocket_bg.wasm", import.meta.url)` becomes an
// emitted asset (dist/[hash].wasm) whose URL is resolved against the page at run time.
const path = require("node:path");

module.exports = {
  mode: "production",
  entry: "./src/index.js",
  output: { path: path.resolve(__dirname, "dist"), filename: "main.js", clean: true },
  performance: { hints: false },
};
