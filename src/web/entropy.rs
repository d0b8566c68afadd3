//! The platform's cryptographic randomness, for the secrets the core takes as inputs: the key
//! of its message and request ids, and the seed of its jitter.

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues` on the global object: a window, a worker, or Node 20.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buffer: &mut [u8]);
}

/// Fills the config's secrets. Every browser and worker since 2014 has `crypto`; a page
/// without it fails at construction here rather than sending guessable ids.
pub fn fill_secrets(config: &mut crate::core::Config) {
    let mut bytes = [0u8; 24];
    get_random_values(&mut bytes);
    let (key, seed) = bytes.split_at(16);
    config.id_key.copy_from_slice(key);
    let mut seed_bytes = [0u8; 8];
    seed_bytes.copy_from_slice(seed);
    config.rng_seed = u64::from_le_bytes(seed_bytes);
}
