// Copies a browser string into wasm memory with the engine's own UTF-8 encoder. wasm-bindgen's
// generic string passing walks the string in JS one character at a time before it encodes;
// for a socket's frames, which are the client's hot path and may be hundreds of kilobytes,
// one native `encodeInto` is several times faster.

const encoder = new TextEncoder();

/**
 * Encodes `text` into `target`, a view of wasm memory. Returns the bytes written, or -1 when
 * the text did not fit (the caller gives it more room).
 */
export function encodeTextInto(text, target) {
  const { read, written } = encoder.encodeInto(text, target);
  return read === text.length ? written : -1;
}
