//! Compute kernels: the only place in `dl-core` where `unsafe` is allowed.
//!
//! Everything here is exported as safe, slice-based functions that check lengths and strides
//! before touching raw pointers. The GEMM is our own packed, register-tiled kernel with AVX-512,
//! AVX2 + FMA and portable micro-kernels chosen at run time, instead of the house style's
//! `matrixmultiply`: that crate allocates its packing buffers on every call (a steady-state
//! training step must allocate nothing) and trails MKL on our models' skinny shapes. It remains
//! the baseline in benchmarks only. Large products are split across our own persistent worker
//! pool (`pool.rs`), which hands jobs over without allocating; see [`gemm`]. Convolutions go
//! through [`im2col`] and the GEMM, the direct kernels of [`conv_direct`] (few output channels)
//! or Winograd `F(2×2, 3×3)` ([`winograd`], wide 3 × 3 layers); max pooling through
//! [`max_pool`].

pub mod conv_direct;
pub mod gemm;
pub mod im2col;
pub mod max_pool;
pub mod peak;
mod pool;
pub mod winograd;

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

/// The number of parts [`run_batch_parts`] splits a batch into: fixed (not the thread count), so
/// results do not depend on `DL_NUM_THREADS`; two, for the 2-core machines the project targets.
pub const BATCH_PARTS: usize = 2;

/// Runs `f` on each of the first [`BATCH_PARTS`] items (the parts of a batch, typically zipped
/// chunks of its inputs and outputs) through [`run_parts`], one part per item, and returns
/// when all have finished. Items past the first [`BATCH_PARTS`] are not taken. Allocates nothing.
///
/// ```
/// use dl_core::kernels::{BATCH_PARTS, run_batch_parts};
/// let mut y = [0.0f32; 6];
/// let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
/// let chunk = x.len().div_ceil(BATCH_PARTS);
/// run_batch_parts(x.chunks(chunk).zip(y.chunks_mut(chunk)), &|(xs, ys): (&[f32], &mut [f32])| {
///     for (a, b) in ys.iter_mut().zip(xs) {
///         *a = 2.0 * b;
///     }
/// });
/// assert_eq!(y, [2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
/// ```
pub fn run_batch_parts<T: Send>(mut items: impl Iterator<Item = T>, f: &(impl Fn(T) + Sync)) {
    use std::sync::{Mutex, PoisonError};
    let slots: [Mutex<Option<T>>; BATCH_PARTS] = std::array::from_fn(|_| Mutex::new(items.next()));
    run_parts(BATCH_PARTS, &|p| {
        // Each part runs once, so it finds its item in its slot.
        let item = slots[p]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(item) = item {
            f(item);
        }
    });
}
