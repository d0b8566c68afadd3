import { defineConfig } from "vite";

// No React plugin: esbuild's automatic JSX runtime is all the demo needs.
export default defineConfig({
  esbuild: { jsx: "automatic" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // The demo, and the same hooks on the servers of other dialects.
    rollupOptions: { input: { main: "index.html", dialects: "dialects.html" } },
  },
});
