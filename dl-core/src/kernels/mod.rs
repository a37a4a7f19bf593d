//! Compute kernels: the only place in `dl-core` where `unsafe` is allowed.
//!
//! Everything here is exported as safe, slice-based functions that check lengths and strides
//! before touching raw pointers. The GEMM is our own packed, register-tiled kernel with AVX-512,
//! AVX2 + FMA and portable micro-kernels chosen at run time, instead of the house style's
//! `matrixmultiply`: that crate allocates its packing buffers on every call (a steady-state
//! training step must allocate nothing) and trails MKL on our models' skinny shapes. It remains
//! the baseline in benchmarks only. Large products are split across our own persistent worker
//! pool (`pool.rs`), which hands jobs over without allocating; see [`gemm`].

pub mod conv_direct;
pub mod gemm;
pub mod im2col;
pub mod peak;
mod pool;

/// Runs `f(0)`, …, `f(parts − 1)`, each exactly once, and returns when all have finished: on the
/// persistent worker pool of the GEMM (part 0 on the calling thread, part `p` always on the same
/// worker) when [`gemm::num_threads`] is at least 2, one after the other on the calling thread
/// otherwise. Allocates nothing once the workers exist. Callers that split work into a fixed
/// number of parts, independent of the thread count, get the same results at every thread count.
///
/// PyTorch equivalent: `at::parallel_for` on the intra-op pool.
///
/// # Panics
/// If `f` panics (after every part has finished).
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let hits = [AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)];
/// dl_core::kernels::run_parts(3, &|p| {
///     hits[p].fetch_add(p + 1, Ordering::Relaxed);
/// });
/// assert_eq!(hits.map(AtomicUsize::into_inner), [1, 2, 3]);
/// ```
pub fn run_parts<F: Fn(usize) + Sync>(parts: usize, f: &F) {
    if gemm::num_threads() >= 2 {
        pool::POOL.run(parts, f);
    } else {
        (0..parts).for_each(f);
    }
}
