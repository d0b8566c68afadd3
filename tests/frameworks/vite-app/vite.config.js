import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  // The one line a Vite app needs for its dev server. Pre-bundling copies the package's
  // JavaScript into node_modules/.vite/deps but not the .wasm beside it, so the glue's
  // `new URL("jobsocket_bg.wasm", import.meta.url)` points at a file that is not there and the
  // dev server answers index.html ("expected magic word 00 61 73 6d, found 3c 21 64 6f").
  // Excluding the package (its subpaths too) serves it from node_modules as it is. Production
  // builds do not need it: Rollup emits the .wasm as an asset. (vitejs/vite#8427.)
  optimizeDeps: { exclude: ["jobsocket"] },
});
