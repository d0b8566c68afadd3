//! How much memory the JSON reader takes for hostile frames, measured with a counting
//! allocator (this test binary's own global allocator, so nothing else counts).
//!
//! A host test: on wasm32 the library brings its own global allocator (talc), and a binary
//! can have one only.
#![cfg(not(target_arch = "wasm32"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use jobsocket::core::json;
use jobsocket::core::protocol::MAX_BATCH_FRAMES;
use jobsocket::core::{DecodeError, ServerFrame};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }

    /// The system's own realloc (which may shrink or grow in place), counted as the change.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let now = CURRENT.fetch_add(new_size - layout.size(), Ordering::SeqCst)
                + (new_size - layout.size());
            PEAK.fetch_max(now, Ordering::SeqCst);
        } else {
            CURRENT.fetch_sub(layout.size() - new_size, Ordering::SeqCst);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One test at a time: the tests of this binary run on threads of one process, and each
/// counts every allocation of it.
static MEASURING: Mutex<()> = Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    MEASURING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The most memory held at once while `work` runs, beyond what was held before.
fn peak_during(work: impl FnOnce()) -> usize {
    let before = CURRENT.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    work();
    PEAK.load(Ordering::SeqCst) - before
}

fn empty_objects(bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + 3);
    text.push('[');
    while text.len() + 3 < bytes {
        text.push_str("{},");
    }
    text.push_str("{}]");
    text
}

/// The memory the reader's values take, on this target, per byte of a `[{},{},…]` text: one
/// value per three bytes.
fn values_per_byte_cost() -> usize {
    std::mem::size_of::<json::Value<'static>>() / 3 + 1
}

#[test]
fn a_megabyte_of_empty_objects_costs_a_small_multiple_of_what_its_values_take() {
    let _alone = alone();
    let text = empty_objects(1024 * 1024);
    let peak = peak_during(|| {
        let value = json::parse(&text).expect("valid JSON");
        std::hint::black_box(&value);
    });
    eprintln!("json::parse of 1 MiB of [{{}},{{}},…]: peak {peak} bytes");
    // The values themselves (17 bytes a byte of text on a 64-bit host, 9 on wasm32), and the
    // elements' list while it grows. It was 216 times the text when every object reserved
    // room for eight members.
    let bound = 3 * values_per_byte_cost() * text.len();
    assert!(peak < bound, "peak {peak} bytes, bound {bound}");
}

#[test]
fn a_megabyte_batch_of_empty_objects_is_refused_within_a_small_budget() {
    let _alone = alone();
    let text = empty_objects(1024 * 1024);
    let peak = peak_during(|| {
        let decoded = ServerFrame::decode_spanned(&text);
        assert_eq!(
            decoded,
            [Err(DecodeError::BatchTooLarge {
                limit: MAX_BATCH_FRAMES
            })]
        );
    });
    eprintln!("decoding a 1 MiB batch of [{{}},{{}},…]: peak {peak} bytes");
    // The first MAX_BATCH_FRAMES elements and their list (about 0.75 MiB on a 64-bit host,
    // half that on wasm32): less than the frame's own text, against 150 MB before the limit.
    assert!(peak < text.len(), "peak {peak} bytes");
}
