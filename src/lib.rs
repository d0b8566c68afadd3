//! jobsocket: a resilient realtime client for job-progress servers.
//!
//! - [`core`]: the sans-IO state machine and the wire protocol, plain Rust, tested on the host.
//! - `web` (wasm32 only): the browser driver, the only code that touches browser APIs.
//! - `bindings` (wasm32 only): the `#[wasm_bindgen]` surface JavaScript sees.

pub mod core;

#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
pub mod web;

/// The package's allocator: talc, smaller than the standard library's dlmalloc (see
/// `Cargo.toml`). The package runs on one thread (no wasm threads, no shared memory).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
