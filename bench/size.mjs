// The package's size as a page pays for it: the wasm, and the JS a bundler keeps (esbuild,
// minified), each compressed as servers send them (gzip -9, brotli 11). Shared by the bench
// (run.mjs) and the size budget check of `make test` (check-size.mjs).
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const gzipBytes = (buffer) => gzipSync(buffer, { level: 9 }).length;
const brotliBytes = (buffer) =>
  brotliCompressSync(buffer, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

async function minified(entryContents, resolveDir, external = []) {
  const built = await esbuild.build({
    external,
    stdin: { contents: entryContents, resolveDir, loader: "js" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    write: false,
    logLevel: "silent",
  });
  const code = built.outputFiles[0].contents;
  return { min: code.length, gzip: gzipBytes(code), brotli: brotliBytes(code) };
}

/** Sizes in bytes of target/package (jobsocket alone and with its React adapter) and of socket.io-client. */
export async function packageSizes() {
  const pkg = path.join(root, "target/package");
  const wasm = await readFile(path.join(pkg, "jobsocket_bg.wasm"));
  const glue = await minified(`export * from "./index.js";`, pkg);
  const withReact = await minified(`export * from "./index.js"; export * from "./react.js";`, pkg, [
    "react",
    "react/jsx-runtime",
  ]);
  const socketio = await minified(`export { io } from "socket.io-client";`, path.join(root, "bench"));
  const wasmGzip = gzipBytes(wasm);
  const wasmBrotli = brotliBytes(wasm);
  return {
    wasm_bytes: wasm.length,
    wasm_gzip_bytes: wasmGzip,
    wasm_brotli_bytes: wasmBrotli,
    glue_min_bytes: glue.min,
    glue_gzip_bytes: glue.gzip,
    glue_brotli_bytes: glue.brotli,
    total_gzip_bytes: wasmGzip + glue.gzip,
    total_brotli_bytes: wasmBrotli + glue.brotli,
    // The client plus the React adapter, React itself external (the app has it).
    with_react_gzip_bytes: wasmGzip + withReact.gzip,
    with_react_brotli_bytes: wasmBrotli + withReact.brotli,
    socketio_min_bytes: socketio.min,
    socketio_gzip_bytes: socketio.gzip,
    socketio_brotli_bytes: socketio.brotli,
  };
}
