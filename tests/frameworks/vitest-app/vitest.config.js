import { defineConfig } from "vitest/config";

// The user's test setup: jsdom for the DOM, React's automatic JSX runtime.
export default defineConfig({
  test: { environment: "jsdom" },
  esbuild: { jsx: "automatic" },
});
