//! A counting global allocator for the allocation tests (`gemm_alloc.rs`, `alloc.rs`,
//! `train_fit.rs`).
//!
//! Counts the allocations (and reallocations) made by the current thread, so tests running in
//! parallel on other threads do not disturb the count, and also those of all threads together
//! (for work handed to other threads, such as the GEMM's worker pool). Implementing `GlobalAlloc` needs
//! `unsafe`: this file is the one place outside `dl-core/src/kernels/` that has it, and it only
//! forwards to the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Allocations and reallocations made by every thread of the process.
static ALL_THREADS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

/// Records one allocation of the current thread.
fn count() {
    ALLOCATIONS.with(|n| n.set(n.get() + 1));
    ALL_THREADS.fetch_add(1, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees hold; the counter is a `const`-initialised thread-local `Cell` without destructor,
// whose access never allocates, and an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded caller contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded caller contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded caller contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded caller contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// The number of allocations and reallocations the current thread has made so far; the
/// difference of two readings counts what happened between them.
#[allow(dead_code)] // each test binary uses its own subset of the helpers
pub fn allocations_so_far() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// The number of allocations and reallocations the current thread made while running `f`.
pub fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// The number of allocations and reallocations made by all threads of the process while `f`
/// ran on the current one (including those of unrelated threads running at the same time).
#[allow(dead_code)] // each test binary uses its own subset of the helpers
pub fn allocations_anywhere_in(f: impl FnOnce()) -> usize {
    let before = ALL_THREADS.load(Ordering::SeqCst);
    f();
    ALL_THREADS.load(Ordering::SeqCst) - before
}

/// `allocations_in` must see an allocation, or the allocator is not installed and a zero count
/// proves nothing.
#[allow(dead_code)] // each test binary uses its own subset of the helpers
pub fn assert_counting_works() {
    let n = allocations_in(|| {
        std::hint::black_box(vec![1u8; 64]);
    });
    assert_eq!(n, 1, "the counting allocator is not active");
}

/// Allocations of a model in steady state, as `(training, inference)`: of the second and third
/// calls of `step` (one training step: forward, loss, backward, optimizer) and of two inference
/// passes on `x`, after one warm-up step and one warm-up inference.
#[allow(dead_code)] // each test binary uses its own subset of the helpers
pub fn steady_state_allocations<M: dl_core::Model>(
    model: &mut M,
    x: &dl_core::Act<M::Input>,
    mut step: impl FnMut(&mut M),
) -> (usize, usize)
where
    M::Input: dl_core::SameShape<M::Input>,
{
    step(model);
    model.forward(x);
    let train = allocations_in(|| {
        step(model);
        step(model);
    });
    let infer = allocations_in(|| {
        model.forward(x);
        model.forward(x);
    });
    (train, infer)
}
