import { defineConfig } from "vite";

// No React plugin: esbuild's automatic JSX runtime is all the demo needs.
export default defineConfig({
  esbuild: { jsx: "automatic" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // The demo, the same hooks on the servers of other dialects, and the React adapter's hard
    // cases for the end-to-end tests.
    rollupOptions: {
      input: { main: "index.html", dialects: "dialects.html", reactCases: "react-cases.html" },
      // jobsocket/react starts with "use client" for React Server Components; a client-only
      // bundle has no use for it and Rollup says so on every build.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
});
