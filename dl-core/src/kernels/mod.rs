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
//! or Winograd `F(2×2, 3×3)` and `F(2×2, 5×5)` ([`winograd`], wide 3 × 3 and 5 × 5 layers);
//! max pooling through [`max_pool`].

pub mod aligned;
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

/// `[f(0), …, f(N − 1)]`, always inlined: `std::array::from_fn` and `array::map` were not inlined
/// into the kernels compiled for wider instruction sets than the crate's (`#[target_feature]`),
/// and the calls to them and to their closures, each with a `vzeroupper`, took a fifth of the time
/// of ImageNet AlexNet's 5 × 5 layer in the Winograd transforms and a fifth of LeNet-5 conv1's
/// direct forward pass (bench/NOTES.md, section 45).
#[inline(always)]
pub(crate) fn array<T, const N: usize>(mut f: impl FnMut(usize) -> T) -> [T; N] {
    let mut out = [const { std::mem::MaybeUninit::<T>::uninit() }; N];
    for (k, o) in out.iter_mut().enumerate() {
        o.write(f(k));
    }
    // SAFETY: every element was written above; `[MaybeUninit<T>; N]` and `[T; N]` have the same
    // layout, and `out` (of `MaybeUninit`s) drops nothing after the copy.
    unsafe { std::mem::transmute_copy(&out) }
}

/// The instruction sets of the kernels compiled several times and dispatched at run time
/// (`conv_direct`'s `multiversion!`, `winograd`'s `vectorised!`), widest first.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Isa {
    Avx512,
    Avx2,
}

#[cfg(all(test, target_arch = "x86_64"))]
thread_local! {
    /// In tests, the widest variant allowed to run on this thread, so that the narrower ones are
    /// tested on CPUs that have wider ones; `None` runs the portable variant.
    static WIDEST: std::cell::Cell<Option<Isa>> = const { std::cell::Cell::new(Some(Isa::Avx512)) };
}

/// Whether the variant for `isa` runs: the CPU supports it (and in tests, `WIDEST` allows it).
#[cfg(target_arch = "x86_64")]
pub(crate) fn allowed(isa: Isa) -> bool {
    #[cfg(test)]
    if WIDEST.get().is_none_or(|widest| isa < widest) {
        return false;
    }
    match isa {
        Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
        Isa::Avx2 => {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
    }
}

/// Runs `f` once per variant of the multiversioned kernels (named, for messages): the portable
/// one and each one this CPU supports, by capping [`WIDEST`] on the calling thread (parts of a
/// kernel that run on the worker pool keep the widest one).
#[cfg(test)]
pub(crate) fn for_each_variant(mut f: impl FnMut(&str)) {
    #[cfg(target_arch = "x86_64")]
    {
        for variant in [Some(Isa::Avx512), Some(Isa::Avx2), None] {
            WIDEST.set(variant);
            f(&format!("{variant:?}"));
        }
        WIDEST.set(Some(Isa::Avx512));
    }
    #[cfg(not(target_arch = "x86_64"))]
    f("portable");
}

/// The sum of the lanes by halving folds (`v[i] += v[i + n/2]`): the first folds are vector
/// adds, where a running sum would be a chain of `N − 1` dependent scalar adds (in the direct
/// convolution of LeNet's first layer those chains took more time than the weight gradient's
/// multiply-adds).
#[inline(always)]
pub(crate) fn fold<const N: usize>(mut v: [f32; N]) -> f32 {
    let mut n = N;
    while n > 1 {
        n /= 2;
        let (lo, hi) = v.split_at_mut(n);
        for (a, b) in lo.iter_mut().zip(&hi[..n]) {
            *a += *b;
        }
    }
    v[0]
}

/// The sum of `xs`, accumulated in 16 lanes and then [`fold`]ed (in a fixed order, so the
/// same at every thread count; a running sum would be one chain of dependent adds).
#[inline(always)]
pub(crate) fn lane_sum(xs: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let chunks = xs.chunks_exact(16);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    for (a, &x) in acc.iter_mut().zip(rest) {
        *a += x;
    }
    fold(acc)
}
