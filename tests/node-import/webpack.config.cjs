// Bundles src/entry.js the way a webpack 5 app would, React left external.
module.exports = {
  mode: "production",
  entry: "./src/entry.js",
  output: { path: require("node:path").resolve(__dirname, "dist"), clean: true, library: { type: "module" } },
  experiments: { outputModule: true },
  externals: { react: "react", "react/jsx-runtime": "react/jsx-runtime" },
  externalsType: "module",
  performance: { hints: false },
};
