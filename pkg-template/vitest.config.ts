import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The sources import the wasm-bindgen glue as "./jobsocket.js", which sits next to them only in
// the built package; in tests it comes from wasm-bindgen's output directory.
const glue = fileURLToPath(new URL("../target/wasm-pack/jobsocket.js", import.meta.url));

export default defineConfig({
  test: {
    environment: "jsdom",
    include: ["test/**/*.test.tsx"],
  },
  resolve: {
    alias: [
      { find: /^\.\/jobsocket\.js$/, replacement: glue },
      { find: /^jobsocket$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) },
    ],
  },
  esbuild: { jsx: "automatic" },
});
