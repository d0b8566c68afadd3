import { defineConfig } from "vite";

// JOBSOCKET_REACT_CASES=1 builds the React adapter's hard cases (react-cases.html) alone, into
// dist/react-cases/, with React's development build: StrictMode mounts, unmounts and mounts
// again only there, and the cases are about exactly that. (scripts/build-demo.sh runs both.)
const reactCases = process.env.JOBSOCKET_REACT_CASES === "1";

// No React plugin: esbuild's automatic JSX runtime is all the demo needs.
export default defineConfig({
  base: reactCases ? "/react-cases/" : "/",
  esbuild: { jsx: "automatic" },
  build: {
    outDir: reactCases ? "dist/react-cases" : "dist",
    emptyOutDir: true,
    target: "es2022",
    minify: !reactCases,
    rollupOptions: {
      // The demo and the same hooks on the servers of other dialects; or the React cases.
      input: reactCases ? { reactCases: "react-cases.html" } : { main: "index.html", dialects: "dialects.html" },
      // jobsocket/react starts with "use client" for React Server Components; a client-only
      // bundle has no use for it and Rollup says so on every build.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
});
