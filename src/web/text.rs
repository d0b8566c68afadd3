//! Browser strings into Rust, fast: a socket's text frames are copied with one native
//! `TextEncoder.encodeInto` (see `text.js`) rather than wasm-bindgen's generic string passing,
//! which walks the string in JS a character at a time first. On 100-event frames that walk
//! was an eighth of the client's time.

use js_sys::JsString;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/web/text.js")]
extern "C" {
    #[wasm_bindgen(js_name = encodeTextInto)]
    fn encode_text_into(text: &JsString, target: &mut [u8]) -> i32;
}

/// The UTF-8 of `text`, `units` UTF-16 code units long. ASCII text fits in `units` bytes; any
/// other fits in three bytes a unit, which the second try gives it. The encoder writes lone
/// surrogates as U+FFFD, as every other string from the browser arrives.
pub fn copy_text(text: &JsString, units: usize) -> String {
    for capacity in [units, units.saturating_mul(3)] {
        // Zeroed, so that every byte is initialised whatever the encoder writes; the encoder
        // writes the front through a view of this very memory (no copy).
        let mut bytes = vec![0u8; capacity];
        let written = encode_text_into(text, &mut bytes);
        if let Ok(written) = usize::try_from(written) {
            bytes.truncate(written);
            // The encoder writes UTF-8 only; should that ever fail, the slow path below.
            if let Ok(text) = String::from_utf8(bytes) {
                return text;
            }
            break;
        }
    }
    String::from(text)
}
