//! Winograd convolution (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
//! 2016) for stride-1 layers: `F(2×2, 3×3)` for 3 × 3 kernels (16 multiplications per 2 × 2
//! output tile and input channel instead of 36: 2.25× fewer), `F(4×4, 3×3)` for 3 × 3 kernels
//! when the caller asks for large tiles (36 instead of 144: 4× fewer, see [`Alg::new`]) and `F(2×2, 5×5)` for 5 × 5 kernels (36 instead of 100:
//! 2.78× fewer).
//!
//! With `F(m×m, r×r)` and tiles of `α = m + r − 1`, each `m × m` output tile `Y` of channel `o`
//! is `Aᵀ [Σ_c (G g_oc Gᵀ) ⊙ (Bᵀ d_c B)] A`, where `g_oc` is the `r × r` filter and `d_c` the
//! `α × α` input patch under the tile (zeros outside the input). The sum over channels, for each
//! of the `α²` positions `ξ` of the products, is one matrix product
//! `M_ξ [OC × T] = U_ξ [OC × C] · V_ξ [C × T]` over all `T` tiles of the batch, so the work is
//! three cheap transforms and `α²` GEMMs. A right or bottom tile that sticks out of the output
//! reads zeros and its extra outputs are dropped. The filter transform `U`
//! ([`transform_filters`]) is written straight into the panels in which the GEMM reads it
//! ([`gemm_packed_a`]); it depends only on the weights and the panel height, so a caller can keep
//! it between calls of [`forward`] while both stay the same. The input gradient is the same
//! algorithm on `dY` with the turned filters (the caller's job); the weight gradient
//! ([`weight_grad`]) is its adjoint, with `F(2×2, k×k)`: `α²` GEMMs over the tiles between the
//! transforms of `dY` and of the input.
//!
//! The matrices are Lavin and Gray's, from the points 0, ±1 (and ±2 for `α = 6`) and ∞; the
//! `F(2×2, 5×5)` ones share `Bᵀ` with their `F(4×4, 3×3)`. The result is the convolution up to
//! rounding: the transforms add and subtract (and scale) values before the products, a relative
//! difference from the direct sum of about 1e-6 for `F(2×2, 3×3)` and about 1e-5 for
//! `F(4×4, 3×3)` and `F(2×2, 5×5)`, tested against an f64 reference. oneDNN, which PyTorch uses on CPUs, has
//! Winograd kernels too.
//!
//! ```
//! use dl_core::kernels::im2col::ConvGeom;
//! use dl_core::kernels::winograd;
//! use dl_core::shape::Pad;
//! // One 4×4 channel, one filter that sums its 3×3 window, no padding: a 2×2 output.
//! let g = ConvGeom::new(1, 4, 4, 3, 1, Pad::Valid).unwrap();
//! let x: Vec<f32> = (0..16).map(|v| v as f32).collect();
//! let (w, b) = ([1.0; 9], [0.5]);
//! let alg = winograd::Alg::new(&g, false); // F(2×2, 3×3)
//! let mr = winograd::filter_rows(&g, alg, 1, 1);
//! let mut u = vec![0.0; winograd::filters_len(alg, 1, 1, mr)];
//! winograd::transform_filters(alg, 1, 1, mr, &w, &mut u);
//! let (cl, ol) = winograd::workspace(&g, alg, 1, 1);
//! let (mut col, mut out, mut y) = (vec![0.0; cl], vec![0.0; ol], [0.0; 4]);
//! winograd::forward(&g, alg, 1, 1, &x, &u, &b, &mut y, &mut col, &mut out);
//! // Window sums 45, 54, 81, 90 (0+1+2+4+5+6+8+9+10 = 45, …), plus the bias.
//! assert_eq!(y, [45.5, 54.5, 81.5, 90.5]);
//! ```

use super::gemm::{Trans, gemm, gemm_packed_a, num_threads, packed_a_rows, packed_len};
use super::im2col::ConvGeom;
use super::pool::in_job;
use super::{BATCH_PARTS, array, run_batch_parts};
#[cfg(target_arch = "x86_64")]
use super::{Isa, allowed};
use std::ops::Range;

/// Whether [`forward`] and [`weight_grad`] have an algorithm for `k × k` kernels (3 and 5).
pub const fn supports(k: usize) -> bool {
    matches!(k, 3 | 5)
}

/// A Winograd algorithm `F(m×m, r×r)` (`m × m` output tiles, `r × r` kernels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    /// `F(2×2, 3×3)`: 16 products per 4 outputs (36 direct).
    F2x3,
    /// `F(4×4, 3×3)`: 36 products per 16 outputs (144 direct), but 36 filter values to
    /// transform instead of 16, and rounding errors about 10 times larger.
    F4x3,
    /// `F(2×2, 5×5)`: 36 products per 4 outputs (100 direct).
    F2x5,
}

impl Alg {
    /// The algorithm for `g` (a stride-1 geometry whose kernel is [`supported`](supports)):
    /// `F(2×2, k×k)`, or with `large_tiles` `F(4×4, 3×3)` for 3 × 3 kernels. On any map,
    /// `F(4×4, 3×3)` needs at most the products of `F(2×2, 3×3)` even with its cropped tiles
    /// (AlexNet ImageNet's 13 × 13: 16 tiles of 36 against 49 of 16; CIFAR's 8 × 8 and 4 × 4:
    /// none cropped, 4× fewer than direct). Large tiles pay off when the filter transforms are
    /// reused (evaluation): a training step transforms the filters twice (forward, and the
    /// turned ones for the input gradient), and on CIFAR's maps the `F(4×4, 3×3)` filter
    /// transform cost as much as the products it saved (`bench/NOTES.md`, section 37).
    ///
    /// # Panics
    /// If `g`'s kernel has no algorithm.
    pub fn new(g: &ConvGeom, large_tiles: bool) -> Alg {
        match g.kernel {
            3 if large_tiles => Alg::F4x3,
            3 => Alg::F2x3,
            5 => Alg::F2x5,
            k => panic!("winograd: no algorithm for {k}×{k} kernels"),
        }
    }

    /// The output tile size `m` and the tile size `α`.
    fn sizes(self) -> (usize, usize) {
        match self {
            Alg::F2x3 => (2, 4),
            Alg::F4x3 => (4, 6),
            Alg::F2x5 => (2, 6),
        }
    }

    /// The kernel size `r`.
    fn kernel(self) -> usize {
        match self {
            Alg::F2x3 | Alg::F4x3 => 3,
            Alg::F2x5 => 5,
        }
    }
}

/// `$f::<M, R, A, W>(args)` with the algorithm `W` = `F(M×M, R×R)` (tiles of `A`) of `$alg`.
macro_rules! by_alg {
    ($alg:expr, $f:ident($($arg:expr),* $(,)?)) => {
        match $alg {
            Alg::F2x3 => $f::<2, 3, 4, F2x3>($($arg),*),
            Alg::F4x3 => $f::<4, 3, 6, F4x3>($($arg),*),
            Alg::F2x5 => $f::<2, 5, 6, F2x5>($($arg),*),
        }
    };
}

/// Defines a private function, generic over the algorithm (`M`, `R`, `A`, `W`), whose body is
/// compiled three times (AVX-512F, AVX2, and the baseline: SSE2 on x86-64; see
/// [`Isa`]) and dispatched on the CPU's features at run time, for the transforms:
/// loops over the samples of a tile position that the compiler vectorises, with SSE2 four lanes
/// at a time. The helpers the body calls are `#[inline(always)]`, so that they are compiled with
/// the features of each variant.
macro_rules! vectorised {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$doc])*
        fn $name<const M: usize, const R: usize, const A: usize, W: Algorithm<M, R, A>>(
            $($arg: $ty),*
        ) {
            #[cfg(target_arch = "x86_64")]
            {
                /// # Safety
                /// The CPU must support AVX-512F.
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512<
                    const M: usize,
                    const R: usize,
                    const A: usize,
                    W: Algorithm<M, R, A>,
                >($($arg: $ty),*) $body
                /// # Safety
                /// The CPU must support AVX2 and FMA.
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2<
                    const M: usize,
                    const R: usize,
                    const A: usize,
                    W: Algorithm<M, R, A>,
                >($($arg: $ty),*) $body
                if allowed(Isa::Avx512) {
                    // SAFETY: `allowed` detected AVX-512F.
                    return unsafe { avx512::<M, R, A, W>($($arg),*) };
                }
                if allowed(Isa::Avx2) {
                    // SAFETY: `allowed` detected AVX2 and FMA.
                    return unsafe { avx2::<M, R, A, W>($($arg),*) };
                }
            }
            $body
        }
    };
}

/// One algorithm `F(M×M, R×R)` with tiles of `A = M + R − 1`: its matrices applied to lines of
/// values (each line holds one value of a tile for every sample, see `combine!`), or to single
/// values for the filters.
trait Algorithm<const M: usize, const R: usize, const A: usize> {
    /// `out = Bᵀ·d`: the input transform of `A` lines.
    fn bt(out: [&mut [f32]; A], d: [&[f32]; A]);
    /// `out = Aᵀ·d + bias`: the output transform of `A` lines.
    fn at(out: [&mut [f32]; M], d: [&[f32]; A], bias: f32);
    /// `out = A·d`: the adjoint of [`Algorithm::at`] (the output gradient's transform).
    fn a(out: [&mut [f32]; A], d: [&[f32]; M]);
    /// `G·f`: the filter transform of one line of a filter.
    fn g(f: [f32; R]) -> [f32; A];
    /// `Gᵀ·u`: the adjoint of [`Algorithm::g`] (the weight gradient's transform).
    fn gt(u: [f32; A]) -> [f32; R];
}

/// `F(2×2, 3×3)`: `Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]`,
/// `Aᵀ = [1 1 1 0; 0 1 −1 −1]`, `G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]`.
struct F2x3;

impl Algorithm<2, 3, 4> for F2x3 {
    #[inline(always)]
    fn bt([o0, o1, o2, o3]: [&mut [f32]; 4], d: [&[f32]; 4]) {
        combine4(o0, d, |[a, _, c, _]| a - c);
        combine4(o1, d, |[_, b, c, _]| b + c);
        combine4(o2, d, |[_, b, c, _]| c - b);
        combine4(o3, d, |[_, b, _, d]| b - d);
    }
    #[inline(always)]
    fn at([o0, o1]: [&mut [f32]; 2], d: [&[f32]; 4], bias: f32) {
        combine4(o0, d, |[a, b, c, _]| a + b + c + bias);
        combine4(o1, d, |[_, b, c, d]| b - c - d + bias);
    }
    #[inline(always)]
    fn a([o0, o1, o2, o3]: [&mut [f32]; 4], d: [&[f32]; 2]) {
        combine2(o0, d, |[a, _]| a);
        combine2(o1, d, |[a, b]| a + b);
        combine2(o2, d, |[a, b]| a - b);
        combine2(o3, d, |[_, b]| -b);
    }
    #[inline(always)]
    fn g([f0, f1, f2]: [f32; 3]) -> [f32; 4] {
        [f0, 0.5 * (f0 + f1 + f2), 0.5 * (f0 - f1 + f2), f2]
    }
    #[inline(always)]
    fn gt([u0, u1, u2, u3]: [f32; 4]) -> [f32; 3] {
        let h = 0.5 * (u1 + u2);
        [u0 + h, 0.5 * (u1 - u2), h + u3]
    }
}

/// `F(2×2, 5×5)`: `Bᵀ` the 6 × 6 one of `F(4×4, 3×3)` (rows `[4 0 −5 0 1 0]`,
/// `[0 −4 −4 1 1 0]`, `[0 4 −4 −1 1 0]`, `[0 −2 −1 2 1 0]`, `[0 2 −1 −2 1 0]`,
/// `[0 4 0 −5 0 1]`), `Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 1]`, and `G` with rows `[¼ 0 0 0 0]`,
/// `−⅙ [1 1 1 1 1]`, `−⅙ [1 −1 1 −1 1]`, `1/24 [1 2 4 8 16]`, `1/24 [1 −2 4 −8 16]`,
/// `[0 0 0 0 1]`.
struct F2x5;

impl Algorithm<2, 5, 6> for F2x5 {
    #[inline(always)]
    fn bt([o0, o1, o2, o3, o4, o5]: [&mut [f32]; 6], d: [&[f32]; 6]) {
        combine6(o0, d, |[a, _, c, _, e, _]| 4.0 * a - 5.0 * c + e);
        combine6(o1, d, |[_, b, c, d, e, _]| -4.0 * (b + c) + (d + e));
        combine6(o2, d, |[_, b, c, d, e, _]| 4.0 * (b - c) + (e - d));
        combine6(o3, d, |[_, b, c, d, e, _]| 2.0 * (d - b) + (e - c));
        combine6(o4, d, |[_, b, c, d, e, _]| 2.0 * (b - d) + (e - c));
        combine6(o5, d, |[_, b, _, d, _, f]| 4.0 * b - 5.0 * d + f);
    }
    #[inline(always)]
    fn at([o0, o1]: [&mut [f32]; 2], d: [&[f32]; 6], bias: f32) {
        combine6(o0, d, |[a, b, c, d, e, _]| a + (b + c) + (d + e) + bias);
        combine6(o1, d, |[_, b, c, d, e, f]| {
            (b - c) + 2.0 * (d - e) + f + bias
        });
    }
    #[inline(always)]
    fn a([o0, o1, o2, o3, o4, o5]: [&mut [f32]; 6], d: [&[f32]; 2]) {
        combine2(o0, d, |[a, _]| a);
        combine2(o1, d, |[a, b]| a + b);
        combine2(o2, d, |[a, b]| a - b);
        combine2(o3, d, |[a, b]| a + 2.0 * b);
        combine2(o4, d, |[a, b]| a - 2.0 * b);
        combine2(o5, d, |[_, b]| b);
    }
    #[inline(always)]
    fn g(f: [f32; 5]) -> [f32; 6] {
        g6(f)
    }
    #[inline(always)]
    fn gt(u: [f32; 6]) -> [f32; 5] {
        g6t(u)
    }
}

/// `F(4×4, 3×3)`: the `Bᵀ` of [`F2x5`], `Aᵀ` with rows `[1 1 1 1 1 0]`, `[0 1 −1 2 −2 0]`,
/// `[0 1 1 4 4 0]`, `[0 1 −1 8 −8 1]`, and `G` with rows `[¼ 0 0]`, `−⅙ [1 1 1]`, `−⅙ [1 −1 1]`,
/// `1/24 [1 2 4]`, `1/24 [1 −2 4]`, `[0 0 1]` (Lavin and Gray's).
struct F4x3;

impl Algorithm<4, 3, 6> for F4x3 {
    #[inline(always)]
    fn bt(out: [&mut [f32]; 6], d: [&[f32]; 6]) {
        F2x5::bt(out, d);
    }
    #[inline(always)]
    fn at([o0, o1, o2, o3]: [&mut [f32]; 4], d: [&[f32]; 6], bias: f32) {
        combine6(o0, d, |[a, b, c, d, e, _]| a + (b + c) + (d + e) + bias);
        combine6(o1, d, |[_, b, c, d, e, _]| (b - c) + 2.0 * (d - e) + bias);
        combine6(o2, d, |[_, b, c, d, e, _]| (b + c) + 4.0 * (d + e) + bias);
        combine6(o3, d, |[_, b, c, d, e, f]| {
            (b - c) + 8.0 * (d - e) + f + bias
        });
    }
    #[inline(always)]
    fn a([o0, o1, o2, o3, o4, o5]: [&mut [f32]; 6], d: [&[f32]; 4]) {
        combine4(o0, d, |[a, ..]| a);
        combine4(o1, d, |[a, b, c, d]| a + (b + c) + d);
        combine4(o2, d, |[a, b, c, d]| (a + c) - (b + d));
        combine4(o3, d, |[a, b, c, d]| a + 2.0 * b + 4.0 * c + 8.0 * d);
        combine4(o4, d, |[a, b, c, d]| a - 2.0 * b + 4.0 * c - 8.0 * d);
        combine4(o5, d, |[.., d]| d);
    }
    #[inline(always)]
    fn g(f: [f32; 3]) -> [f32; 6] {
        g6(f)
    }
    #[inline(always)]
    fn gt(u: [f32; 6]) -> [f32; 3] {
        g6t(u)
    }
}

/// `G f` for the tiles of 6 (`F(2×2, 5×5)` and `F(4×4, 3×3)`, `R` taps): the filter
/// polynomial `f₀ + f₁x + …` at the points 0, −1, 1, 2, −2 and ∞, scaled by ¼, −⅙, −⅙, 1/24,
/// 1/24 and 1 (Lavin and Gray's `G`; the rows listed at [`F2x5`]).
#[inline(always)]
fn g6<const R: usize>(f: [f32; R]) -> [f32; 6] {
    // Even and odd terms at x = 1 and at x = 2.
    let (mut even, mut odd, mut even2, mut odd2, mut power) = (0.0, 0.0, 0.0, 0.0, 1.0);
    for (i, &v) in f.iter().enumerate() {
        if i % 2 == 0 {
            (even, even2) = (even + v, even2 + power * v);
        } else {
            (odd, odd2) = (odd + v, odd2 + power * v);
        }
        power *= 2.0;
    }
    [
        0.25 * f[0],
        -(even + odd) / 6.0,
        -(even - odd) / 6.0,
        (even2 + odd2) / 24.0,
        (even2 - odd2) / 24.0,
        f[R - 1],
    ]
}

/// `Gᵀ u` for [`g6`]: tap `i` gets `¼u₀` (for `i = 0`), `−(u₁ + (−1)ⁱu₂)/6`,
/// `2ⁱ(u₃ + (−1)ⁱu₄)/24` and `u₅` (for `i = R − 1`).
#[inline(always)]
fn g6t<const R: usize>([u0, u1, u2, u3, u4, u5]: [f32; 6]) -> [f32; R] {
    let (s12, d12, s34, d34) = (u1 + u2, u2 - u1, u3 + u4, u3 - u4);
    array(|i| {
        let (one, two) = if i % 2 == 0 { (-s12, s34) } else { (d12, d34) };
        let mut v = one / 6.0 + (1 << i) as f32 * two / 24.0;
        if i == 0 {
            v += 0.25 * u0;
        }
        if i == R - 1 {
            v += u5;
        }
        v
    })
}

/// The most positions of a transformed tile (`α²` for `α = 6`).
const MAX_XI: usize = 36;

/// The distance between consecutive planes of `len` values in the workspaces: an odd number of
/// 64-byte lines. The planes are walked together (element `k` of each in turn), and planes a
/// multiple of 4 KiB apart (CIFAR's `384 · 256` filters) would all map to the same L1 sets, more
/// lines than its 12 ways hold, so that every access missed (bench/NOTES.md, section 23).
fn plane(len: usize) -> usize {
    (len.div_ceil(16) | 1) * 16
}

/// Output tiles of `m × m` of the geometry: `(tile rows, tile columns)`.
fn tiles(g: &ConvGeom, m: usize) -> (usize, usize) {
    (g.out_h.div_ceil(m), g.out_w.div_ceil(m))
}

/// The output tiles of `alg` in `n` samples of the geometry (`T`, the depth or width of the
/// products).
fn batch_tiles(g: &ConvGeom, alg: Alg, n: usize) -> usize {
    let (th, tw) = tiles(g, alg.sizes().0);
    n * th * tw
}

/// The scratch one part of the transforms needs for `n` samples: the largest of the input
/// transform's (a padded input plane of every sample, samples innermost, and the row transforms
/// of `α` plane rows: `α` lines per tile column), the output transform's (`α·m + m²` rows and
/// its staged output channel) and the output gradient's (its plane and `m·α` rows).
fn scratch_len(g: &ConvGeom, alg: Alg, n: usize) -> usize {
    let (m, a) = alg.sizes();
    let (th, tw) = tiles(g, m);
    let input = (m * th + a - m) * (m * tw + a - m) + a * tw * a;
    let output = a * m + m * m + g.pixels();
    let output_grad = m * th * m * tw + m * a;
    input.max(output).max(output_grad) * n
}

/// The length of `α²` planes of `rows · T` values for `n` samples (`T` their tiles) in
/// [`forward`]'s parts of the batch: each part's planes hold its own tiles, rounded up by
/// [`plane`] (less than 32 values).
fn parts_len(g: &ConvGeom, alg: Alg, rows: usize, n: usize) -> usize {
    let (_, a) = alg.sizes();
    a * a * (rows * batch_tiles(g, alg, n) + BATCH_PARTS * 32)
}

/// The workspace [`forward`] needs with `alg` for `oc` output channels and `n` samples: `(col,
/// out)` lengths (`col` holds the transformed input tiles and one scratch per part of the batch;
/// `out` the `α²` products, in the parts' planes).
pub fn workspace(g: &ConvGeom, alg: Alg, oc: usize, n: usize) -> (usize, usize) {
    (
        parts_len(g, alg, g.channels, n) + BATCH_PARTS * scratch_len(g, alg, n),
        parts_len(g, alg, oc, n),
    )
}

/// The panel height of the transformed filters that [`forward`] needs with `alg` for `oc`
/// output channels and `n` samples of `g` (the GEMM's best tile height for the products of the
/// whole batch, see [`packed_a_rows`]; a part of the batch takes the best tile of that height).
pub fn filter_rows(g: &ConvGeom, alg: Alg, oc: usize, n: usize) -> usize {
    packed_a_rows(oc, batch_tiles(g, alg, n))
}

/// The length of the `alg` transforms of the filters of `c` input and `oc` output channels in
/// panels of `mr` rows (see [`transform_filters`]).
pub fn filters_len(alg: Alg, c: usize, oc: usize, mr: usize) -> usize {
    let (_, a) = alg.sizes();
    a * a * plane(packed_len(oc, c, mr))
}

/// `U`, the `alg` transforms of the `r × r` filters `w` `[oc, c, r, r]`, into `u` (at least
/// [`filters_len`] long) for [`forward`]: `α²` planes `U_ξ` `[oc, c]`, each packed in panels of
/// `mr` rows as [`pack_a_panels`](super::gemm::pack_a_panels) lays them out; in
/// [`BATCH_PARTS`] parts (halves of the panels) on the worker pool.
///
/// # Panics
/// If `w` or `u` is too short, or `mr` is 0.
pub fn transform_filters(alg: Alg, c: usize, oc: usize, mr: usize, w: &[f32], u: &mut [f32]) {
    const { assert!(BATCH_PARTS == 2, "the transform splits in halves") };
    let (k, (_, a)) = (alg.kernel(), alg.sizes());
    let len = packed_len(oc, c, mr);
    assert!(
        w.len() >= oc * c * k * k && u.len() >= a * a * plane(len),
        "winograd: filters too short"
    );
    let panels = halves(oc.div_ceil(mr));
    let us = split_planes(planes(u, plane(len), len, a * a), panels[1].start * mr * c);
    let parts = panels.into_iter().zip(us);
    run_batch_parts(parts, &|(panels, us)| {
        by_alg!(alg, transform_panels(w, (oc, c, mr), panels, us))
    });
}

/// The first `xi` planes of `len` values, `stride` apart, at the start of `buf` (the others
/// empty).
fn planes(buf: &mut [f32], stride: usize, len: usize, xi: usize) -> [&mut [f32]; MAX_XI] {
    let mut it = buf.chunks_exact_mut(stride).take(xi);
    std::array::from_fn(|_| match it.next() {
        Some(p) => &mut p[..len],
        None => &mut [],
    })
}

/// `0..len` cut in two parts for [`run_batch_parts`], the first one the larger; at one thread,
/// or inside a part of a pool job (where both parts run on the calling thread), all of it in the
/// first part: twice as long loops over the samples in the output transform (its share of
/// AlexNet CIFAR inference 8.6% → 6.7%). The transforms add nothing across parts, so the cut
/// does not change the results.
fn halves(len: usize) -> [Range<usize>; 2] {
    let mid = if num_threads() == 1 || in_job() {
        len
    } else {
        len.div_ceil(2)
    };
    [0..mid, mid..len]
}

/// Every plane cut at `at` (empty planes stay empty): the heads and the tails.
fn split_planes(ps: [&mut [f32]; MAX_XI], at: usize) -> [[&mut [f32]; MAX_XI]; 2] {
    let mut heads: [&mut [f32]; MAX_XI] = std::array::from_fn(|_| Default::default());
    let mut tails: [&mut [f32]; MAX_XI] = std::array::from_fn(|_| Default::default());
    for ((h, t), p) in heads.iter_mut().zip(&mut tails).zip(ps) {
        let at = at.min(p.len());
        (*h, *t) = p.split_at_mut(at);
    }
    [heads, tails]
}

/// `f(a_ξ, b_ξ, c_ξ)` for the first `xi` planes of `a`, `b` and `c` (`sa`, `sb` and `sc` apart),
/// in halves of the planes on the worker pool ([`halves`]): each thread runs whole products, one
/// after the other, instead of a share of each (at 2 threads, a product split by rows has both
/// threads pack all of `B`, and `α²` small products synchronise `α²` times: CIFAR AlexNet's
/// `F(4×4, 3×3)` products are 32 columns wide).
fn per_plane(
    xi: usize,
    (a, sa): (&[f32], usize),
    (b, sb): (&[f32], usize),
    (c, sc): (&mut [f32], usize),
    f: &(impl Fn(&[f32], &[f32], &mut [f32]) + Sync),
) {
    let at = halves(xi)[1].start;
    let (a0, a1) = a.split_at(at * sa);
    let (b0, b1) = b.split_at(at * sb);
    let (c0, c1) = c[..xi * sc].split_at_mut(at * sc);
    run_batch_parts([(a0, b0, c0), (a1, b1, c1)].into_iter(), &|(a, b, c)| {
        for ((a, b), c) in a
            .chunks_exact(sa)
            .zip(b.chunks_exact(sb))
            .zip(c.chunks_exact_mut(sc))
        {
            f(a, b, c);
        }
    });
}

/// Checks that `g` is a stride-1 geometry with the kernel of `alg`.
fn check_geometry(g: &ConvGeom, alg: Alg) {
    assert!(
        g.kernel == alg.kernel() && g.stride == 1,
        "winograd: a stride-1 geometry with the algorithm's kernel"
    );
}

/// `y = conv(x, w) + b` through the algorithm `alg` for `n` samples of a stride-1 `k × k`
/// geometry `g` (`k` the kernel of `alg`, see [`Alg::new`]) with `oc` output channels: `x`
/// `[n, C, H, W]`, `u` the filters `w` `[oc, C, k, k]` transformed by [`transform_filters`]
/// with `alg` in panels of [`filter_rows`]`(g, alg, oc, n)` rows, `b` `[oc]`, `y`
/// `[n, oc, OH, OW]`; `col` and `out` are workspaces of at least the lengths given by
/// [`workspace`].
///
/// The batch runs in [`BATCH_PARTS`] parts of samples (`halves`) on the worker pool, each on
/// its own from input to output (`forward_steps` on one thread): its input transform, its
/// `α²` products, its output transform, with no meeting between them. When the transformed
/// filters are larger than the transformed inputs and products of the batch (CIFAR AlexNet's
/// 4 × 4 maps), or at one thread, the whole batch goes through each step in turn instead, each
/// step split on the pool, the products by planes: each thread reads half of the filters. The
/// result is the same either way and at every thread count.
///
/// # Panics
/// If `g` is not such a geometry or a slice is shorter than its shape needs.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    g: &ConvGeom,
    alg: Alg,
    oc: usize,
    n: usize,
    x: &[f32],
    u: &[f32],
    b: &[f32],
    y: &mut [f32],
    col: &mut [f32],
    out: &mut [f32],
) {
    const { assert!(BATCH_PARTS == 2, "the batch splits in halves") };
    check_geometry(g, alg);
    let (c, (_, a)) = (g.channels, alg.sizes());
    let (cl, ol) = workspace(g, alg, oc, n);
    assert!(
        col.len() >= cl && out.len() >= ol,
        "winograd: workspace too short"
    );
    let mr = filter_rows(g, alg, oc, n);
    let su = plane(packed_len(oc, c, mr));
    let (xs, ys) = (g.input_size(), oc * g.pixels());
    assert!(
        x.len() >= n * xs && u.len() >= a * a * su && b.len() >= oc && y.len() >= n * ys,
        "winograd: operand too short"
    );
    let filters = (u, su, mr, b);
    let (v, scratch) = col[..cl].split_at_mut(parts_len(g, alg, c, n));
    let ss = halves(n);
    if ss[1].is_empty() || oc * c > (oc + c) * batch_tiles(g, alg, n) {
        return forward_steps(g, alg, oc, n, x, filters, y, (v, scratch), out);
    }
    // Each part with its planes and two scratches (scratch_len is proportional to the samples).
    let (x0, x1) = x[..n * xs].split_at(ss[1].start * xs);
    let (y0, y1) = y[..n * ys].split_at_mut(ss[1].start * ys);
    let t0 = batch_tiles(g, alg, ss[0].len());
    let (v0, v1) = v.split_at_mut(a * a * plane(c * t0));
    let (s0, s1) = scratch.split_at_mut(BATCH_PARTS * scratch_len(g, alg, ss[0].len()));
    let (m0, m1) = out[..ol].split_at_mut(a * a * plane(oc * t0));
    let parts = ss
        .into_iter()
        .zip([(x0, y0), (x1, y1)])
        .zip([((v0, s0), m0), ((v1, s1), m1)]);
    run_batch_parts(parts, &|((ss, (x, y)), (col, m))| {
        forward_steps(g, alg, oc, ss.len(), x, filters, y, col, m)
    });
}

/// [`forward`] of the `n` samples `x` into `y` step after step: the input transform into the
/// planes at the start of `v` (by halves of the input channels, with the two scratches at the
/// start of `scratch`), the products into `m` (by halves of the planes), the output transform
/// (by halves of the samples). Each step splits on the worker pool, or runs on the calling thread
/// inside a part of the batch ([`halves`]). `(u, su, mr, b)` are the transformed filters, their
/// plane stride and panel height, and the bias.
#[allow(clippy::too_many_arguments)]
fn forward_steps(
    g: &ConvGeom,
    alg: Alg,
    oc: usize,
    n: usize,
    x: &[f32],
    (u, su, mr, b): (&[f32], usize, usize, &[f32]),
    y: &mut [f32],
    (v, scratch): (&mut [f32], &mut [f32]),
    m: &mut [f32],
) {
    let (c, (_, a)) = (g.channels, alg.sizes());
    let (xi, t) = (a * a, batch_tiles(g, alg, n));
    let (sv, sm) = (plane(c * t), plane(oc * t));
    input_tiles(g, alg, n, x, v, sv, scratch);
    let m = &mut m[..xi * sm];
    per_plane(xi, (u, su), (v, sv), (m, sm), &|u, v, m| {
        // M_ξ = U_ξ · V_ξ.
        gemm_packed_a(oc, t, c, 1.0, (u, mr), v, t, 0.0, m, t);
    });
    let m = &*m;
    let ss = halves(n);
    let (y0, y1) = y[..n * oc * g.pixels()].split_at_mut(ss[1].start * oc * g.pixels());
    let scratches = scratch.chunks_exact_mut(scratch_len(g, alg, n));
    let parts = ss.into_iter().zip([y0, y1]).zip(scratches);
    run_batch_parts(parts, &|((ss, ys), sc)| {
        by_alg!(alg, transform_output(g, n, oc, m, sm, b, ss, ys, sc))
    });
}

/// `V`, the transformed input tiles of `x` (`[n, C, H, W]`), into the planes of `v` (`sv`
/// apart), by halves of the input channels on the worker pool, with the scratches in `scratch`.
fn input_tiles(
    g: &ConvGeom,
    alg: Alg,
    n: usize,
    x: &[f32],
    v: &mut [f32],
    sv: usize,
    scratch: &mut [f32],
) {
    let (c, (_, a)) = (g.channels, alg.sizes());
    let t = batch_tiles(g, alg, n);
    let cs = halves(c);
    let vs = split_planes(planes(v, sv, c * t, a * a), cs[1].start * t);
    let scratches = scratch.chunks_exact_mut(scratch_len(g, alg, n));
    let parts = cs.into_iter().zip(vs).zip(scratches);
    run_batch_parts(parts, &|((cs, vs), sc)| {
        by_alg!(alg, transform_input(g, n, x, cs, vs, sc))
    });
}

/// The workspace [`weight_grad`] needs for `oc` output channels and `n` samples: `(col, out)`
/// lengths (`col` as for [`forward`]: the input tiles and the scratch; `out` the transformed
/// output gradients `[α², oc, T]`, then the `α²` products `[α², oc, C]`).
pub fn weight_grad_workspace(g: &ConvGeom, oc: usize, n: usize) -> (usize, usize) {
    let alg = Alg::new(g, false);
    let (_, a) = alg.sizes();
    let t = batch_tiles(g, alg, n);
    (
        workspace(g, alg, oc, n).0,
        a * a * (plane(oc * t) + plane(oc * g.channels)),
    )
}

/// `dW`, the weight gradient of [`forward`] (through `F(2×2, k×k)`) for the output gradient `dy` `[n, oc, OH, OW]` and
/// the input `x` `[n, C, H, W]` of a stride-1 `k × k` geometry `g`, into `dw` `[oc, C, k, k]`
/// (overwritten): `dW[o, c, u, v] = Σ_{s,i,j} dY[s, o, i, j] · x[s, c, i + u − pad_top,
/// j + v − pad_left]`, as the adjoint of the forward algorithm: `dW = Gᵀ [Σ_t (A dY_t Aᵀ) ⊙
/// (Bᵀ d_t B)] G` over the output tiles `t`, the sum for each of the `α²` positions `ξ` one
/// product `dU_ξ [oc × C] = dM_ξ [oc × T] · V_ξᵀ [T × C]` (for 3 × 3 kernels, 16 products of
/// depth `T` where im2col needs one with 9 times the columns and 4 times the depth: 2.25× fewer
/// multiplications, and no column matrix). `col` and `out` are workspaces of at least the
/// lengths given by [`weight_grad_workspace`]. The transforms run in [`BATCH_PARTS`] parts on
/// the worker pool (by channels), the products through [`gemm`]'s own split; the result is the
/// same at every thread count.
///
/// # Panics
/// If `g` is not a stride-1 geometry with an algorithm or a slice is shorter than its shape
/// needs.
#[allow(clippy::too_many_arguments)]
pub fn weight_grad(
    g: &ConvGeom,
    oc: usize,
    n: usize,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    col: &mut [f32],
    out: &mut [f32],
) {
    const { assert!(BATCH_PARTS == 2, "the transforms split in halves") };
    let alg = Alg::new(g, false);
    check_geometry(g, alg);
    let (c, k, (_, a)) = (g.channels, g.kernel, alg.sizes());
    let xi = a * a;
    let t = batch_tiles(g, alg, n);
    let (cl, ol) = weight_grad_workspace(g, oc, n);
    assert!(
        col.len() >= cl && out.len() >= ol,
        "winograd: workspace too short"
    );
    assert!(
        x.len() >= n * g.input_size()
            && dy.len() >= n * oc * g.pixels()
            && dw.len() >= oc * c * k * k,
        "winograd: operand too short"
    );
    let (sv, sm, su) = (plane(c * t), plane(oc * t), plane(oc * c));
    let (v, scratch) = col.split_at_mut(xi * sv);
    input_tiles(g, alg, n, x, v, sv, scratch);
    let (m, du) = out.split_at_mut(xi * sm);
    let os = halves(oc);
    let ms = split_planes(planes(m, sm, oc * t, xi), os[1].start * t);
    let parts = os
        .into_iter()
        .zip(ms)
        .zip(scratch.chunks_exact_mut(scratch_len(g, alg, n)));
    run_batch_parts(parts, &|((os, ms), sc)| {
        by_alg!(alg, transform_output_grad(g, n, oc, dy, os, ms, sc))
    });
    let du = &mut du[..xi * su];
    per_plane(xi, (m, sm), (v, sv), (du, su), &|m, v, du| {
        // dU_ξ = dM_ξ · V_ξᵀ.
        gemm(Trans::N, Trans::T, oc, c, t, 1.0, m, t, v, t, 0.0, du, c);
    });
    let du = &*du;
    let os = halves(oc);
    let (dw0, dw1) = dw[..oc * c * k * k].split_at_mut(os[1].start * c * k * k);
    run_batch_parts(os.into_iter().zip([dw0, dw1]), &|(os, dws)| {
        by_alg!(alg, transform_filter_grads(c, du, su, os, dws))
    });
}

/// The `A` lines of `lines` (each `n` long, one after the other) as an array.
#[inline(always)]
fn lines_mut<const A: usize>(lines: &mut [f32], n: usize) -> [&mut [f32]; A] {
    let mut it = lines.chunks_exact_mut(n);
    array(|_| it.next().expect("invariant: A lines of n"))
}

/// The lines `at(i)` of the planes `ps` for `i < A` (distinct planes), `n` values from `t0`.
#[inline(always)]
fn plane_lines<'a, const A: usize>(
    ps: &'a mut [&mut [f32]; MAX_XI],
    at: impl Fn(usize) -> usize,
    t0: usize,
    n: usize,
) -> [&'a mut [f32]; A] {
    let mut ps = ps
        .get_disjoint_mut(array::<usize, A>(at))
        .expect("invariant: distinct planes")
        .into_iter();
    array(|_| &mut ps.next().expect("invariant: A planes")[t0..][..n])
}

vectorised! {
/// `dM_ξ[o, t] = (A dY_ot Aᵀ)_ξ` (the adjoint of the output transform of [`transform_output`])
/// for the output channels `os` (`ms[ξ]` holds their rows `[os.len(), T]`), tiles ordered as in
/// [`transform_input`], outputs past `OH × OW` zero. Each channel's gradient is first copied into
/// `scratch` with the samples innermost, as the input in [`transform_input`].
fn transform_output_grad(
    g: &ConvGeom,
    n: usize,
    oc: usize,
    dy: &[f32],
    os: Range<usize>,
    ms: [&mut [f32]; MAX_XI],
    scratch: &mut [f32],
) {
    let mut ms = ms;
    let (th, tw) = tiles(g, M);
    let t = n * th * tw;
    let (oh, ow) = (g.out_h, g.out_w);
    let (ph, pw) = (M * th, M * tw);
    let (plane, e) = scratch.split_at_mut(ph * pw * n);
    let e = &mut e[..M * A * n];
    let ohw = oh * ow;
    // Rows and columns past the output stay zero: every channel writes the same positions.
    plane.fill(0.0);
    for (ol, o) in os.enumerate() {
        for s in 0..n {
            let src = &dy[(s * oc + o) * ohw..][..ohw];
            for (r, row) in src.chunks_exact(ow).enumerate() {
                let dst = &mut plane[r * pw * n..][..pw * n];
                for (q, &val) in row.iter().enumerate() {
                    dst[q * n + s] = val;
                }
            }
        }
        for ty in 0..th {
            for tx in 0..tw {
                let d = |k: usize, l: usize| &plane[((M * ty + k) * pw + M * tx + l) * n..][..n];
                // dY·Aᵀ along the M rows of the tile: e[A·k + j].
                for (k, ek) in e.chunks_exact_mut(A * n).enumerate() {
                    W::a(lines_mut(ek, n), array(|l| d(k, l)));
                }
                // A·(dY·Aᵀ) down the columns, into dM_ξ.
                let t0 = ol * t + (ty * tw + tx) * n;
                for j in 0..A {
                    let out = plane_lines(&mut ms, |i| A * i + j, t0, n);
                    W::a(out, array(|k| &e[(A * k + j) * n..][..n]));
                }
            }
        }
    }
}
}

/// `dW[o, c] = Gᵀ dU_oc G` (`R × R`), the adjoint of the filter transform of
/// [`transform_panels`], for the output channels `os` (`dws` holds their filters
/// `[os.len(), C, R, R]`), from the `A²` planes `dU_ξ` `[oc, C]` `su` apart in `du`.
fn transform_filter_grads<const M: usize, const R: usize, const A: usize, W: Algorithm<M, R, A>>(
    c: usize,
    du: &[f32],
    su: usize,
    os: Range<usize>,
    dws: &mut [f32],
) {
    for (k, f) in (os.start * c..os.end * c).zip(dws.chunks_exact_mut(R * R)) {
        // Gᵀ·dU (R × A), column by column of dU.
        let mut gu = [[0.0f32; A]; R];
        for j in 0..A {
            let col = W::gt(array(|i| du[(A * i + j) * su + k]));
            for (row, v) in gu.iter_mut().zip(col) {
                row[j] = v;
            }
        }
        // (Gᵀ·dU)·G.
        for (fr, r) in f.chunks_exact_mut(R).zip(gu) {
            fr.copy_from_slice(&W::gt(r));
        }
    }
}

/// The panels `panels` (of `mr` output channels each, out of `oc`, over `c` input channels) of
/// every `U_ξ`, packed as [`transform_filters`] says (`us[ξ]` holds these panels, rows past `oc`
/// zero): panel by panel, input channel by input channel, so that the writes are contiguous and
/// the panel's `mr` filter rows are read in step.
fn transform_panels<const M: usize, const R: usize, const A: usize, W: Algorithm<M, R, A>>(
    w: &[f32],
    (oc, c, mr): (usize, usize, usize),
    panels: Range<usize>,
    mut us: [&mut [f32]; MAX_XI],
) {
    for (q, panel) in panels.enumerate() {
        for ci in 0..c {
            let at = (q * c + ci) * mr;
            for r in 0..mr {
                let o = panel * mr + r;
                if o >= oc {
                    for plane in us.iter_mut().take(A * A) {
                        plane[at + r] = 0.0;
                    }
                    continue;
                }
                // G·g (A × R), column by column of g, then (G·g)·Gᵀ row by row.
                let g = &w[(o * c + ci) * R * R..][..R * R];
                let mut gg = [[0.0f32; R]; A];
                for j in 0..R {
                    let col = W::g(array(|i| g[R * i + j]));
                    for (row, v) in gg.iter_mut().zip(col) {
                        row[j] = v;
                    }
                }
                for (i, row) in gg.into_iter().enumerate() {
                    for (j, v) in W::g(row).into_iter().enumerate() {
                        us[A * i + j][at + r] = v;
                    }
                }
            }
        }
    }
}

vectorised! {
/// `V_ξ[c, t] = (Bᵀ d_ct B)_ξ` for the input channels `cs` (`vs[ξ]` holds their rows
/// `[cs.len(), T]`), tiles ordered `t = (ty·TW + tx)·n + sample`. Each channel is first copied,
/// zero-padded, into `scratch` with the samples innermost (`plane[(row·PW + col)·n + sample]`);
/// every step of the transform is then a loop over the `n` samples of one tile position, which
/// the compiler vectorises, and writes `n` contiguous values of a `V_ξ` row (CIFAR's 4 × 4 maps
/// have only 2 × 2 tiles per sample). The row transforms of the plane rows that vertically
/// adjacent tiles share are computed once.
fn transform_input(
    g: &ConvGeom,
    n: usize,
    x: &[f32],
    cs: Range<usize>,
    vs: [&mut [f32]; MAX_XI],
    scratch: &mut [f32],
) {
    let mut vs = vs;
    let c = g.channels;
    let (th, tw) = tiles(g, M);
    let t = n * th * tw;
    let (ph, pw) = (M * th + A - M, M * tw + A - M);
    let (plane, e) = scratch.split_at_mut(ph * pw * n);
    let e = &mut e[..A * tw * A * n];
    let hw = g.height * g.width;
    // The padding stays zero: every channel writes the same positions of the plane.
    plane.fill(0.0);
    for (cl, ci) in cs.enumerate() {
        for s in 0..n {
            let src = &x[(s * c + ci) * hw..][..hw];
            // Input rows and columns past the plane are never read by a tile.
            for (r, row) in src
                .chunks_exact(g.width)
                .enumerate()
                .take(ph - g.pad_top.min(ph))
            {
                let dst = &mut plane[(r + g.pad_top) * pw * n..][..pw * n];
                for (q, &val) in row.iter().enumerate().take(pw - g.pad_left.min(pw)) {
                    dst[(q + g.pad_left) * n + s] = val;
                }
            }
        }
        // d·B along the plane rows, each computed once for the tiles that share it (they
        // overlap by A − M rows), in a ring of the last A rows: row r at e[((r % A)·TW + tx)·A + j].
        let mut done = 0;
        for ty in 0..th {
            while done < M * ty + A {
                let slot = &mut e[(done % A) * tw * A * n..][..tw * A * n];
                for (tx, et) in slot.chunks_exact_mut(A * n).enumerate() {
                    let d = |l: usize| &plane[(done * pw + M * tx + l) * n..][..n];
                    W::bt(lines_mut(et, n), array(d));
                }
                done += 1;
            }
            // Bᵀ·(d·B) down the columns of each tile, into V_ξ.
            for tx in 0..tw {
                let t0 = cl * t + (ty * tw + tx) * n;
                for j in 0..A {
                    let out = plane_lines(&mut vs, |i| A * i + j, t0, n);
                    let e = |k: usize| &e[((((M * ty + k) % A) * tw + tx) * A + j) * n..][..n];
                    W::bt(out, array(e));
                }
            }
        }
    }
}
}

/// `combine{N}(out, d, f)`: `out[x] = f([d_0[x], …, d_{N−1}[x]])` for every `x < out.len()` (one
/// line of a transform, over the samples of a tile position), for `N` lines. An indexed loop
/// over lines cut to one length, which the compiler vectorises with a vector epilogue (with
/// AVX-512: 64 values a step, then 8); a chain of `zip`s, or lines taken from an array inside
/// the loop, left it scalar.
macro_rules! combine {
    ($name:ident, $n:literal, $($d:ident),*) => {
        #[inline(always)]
        fn $name(out: &mut [f32], [$($d),*]: [&[f32]; $n], f: impl Fn([f32; $n]) -> f32) {
            let n = out.len();
            $(let $d = &$d[..n];)*
            for x in 0..n {
                out[x] = f([$($d[x]),*]);
            }
        }
    };
}
combine!(combine2, 2, d0, d1);
combine!(combine4, 4, d0, d1, d2, d3);
combine!(combine6, 6, d0, d1, d2, d3, d4, d5);

vectorised! {
/// `y[s, o, M·ty + a, M·tx + b] = (Aᵀ M_ot A)[a, b] + bias[o]` for the samples `ss` (`ys` holds
/// their outputs) and the outputs inside `OH × OW` (`M` stored `[A², OC, T]` for all `n` samples,
/// planes `sm` apart, tiles ordered as in [`transform_input`]): each step a loop over the samples
/// of one tile position, in `scratch` (`A·M` rows of `Aᵀ·M`, then the `M²` outputs, staged for
/// the whole channel), then each sample's output plane written in one run (storing sample by
/// sample at each tile hit the same L1 sets: 11.6% of AlexNet CIFAR inference).
#[allow(clippy::too_many_arguments)]
fn transform_output(
    g: &ConvGeom,
    n: usize,
    oc: usize,
    m: &[f32],
    sm: usize,
    bias: &[f32],
    ss: Range<usize>,
    ys: &mut [f32],
    scratch: &mut [f32],
) {
    let (th, tw) = tiles(g, M);
    let t = n * th * tw;
    let (oh, ow) = (g.out_h, g.out_w);
    let ns = ss.len();
    if ns == 0 {
        return;
    }
    let (r, rest) = scratch.split_at_mut(A * M * ns);
    let (out, stage) = rest.split_at_mut(M * M * ns);
    let ohw = oh * ow;
    let stage = &mut stage[..ohw * ns];
    for (o, &bo) in bias.iter().enumerate().take(oc) {
        for ty in 0..th {
            for tx in 0..tw {
                let t0 = o * t + (ty * tw + tx) * n + ss.start;
                // Aᵀ·M: r[M·j + a] for column j of the tile.
                for (j, rj) in r.chunks_exact_mut(M * ns).enumerate() {
                    let mk = |i: usize| &m[(A * i + j) * sm + t0..][..ns];
                    W::at(lines_mut(rj, ns), array(mk), 0.0);
                }
                // (Aᵀ·M)·A plus the bias: out[M·a + b].
                for (a, oa) in out.chunks_exact_mut(M * ns).enumerate() {
                    let ra = |j: usize| &r[(M * j + a) * ns..][..ns];
                    W::at(lines_mut(oa, ns), array(ra), bo);
                }
                for (k, vals) in out.chunks_exact(ns).enumerate() {
                    let (i, j) = (M * ty + k / M, M * tx + k % M);
                    if i >= oh || j >= ow {
                        continue;
                    }
                    stage[(i * ow + j) * ns..][..ns].copy_from_slice(vals);
                }
            }
        }
        // The channel's outputs, sample by sample: one contiguous plane each.
        for (sl, plane) in ys.chunks_exact_mut(oc * ohw).enumerate() {
            let plane = &mut plane[o * ohw..][..ohw];
            for (k, v) in plane.iter_mut().enumerate() {
                *v = stage[k * ns + sl];
            }
        }
    }
}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Pad;
    use crate::testing::conv2d_reference;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn values(len: usize, rng: &mut StdRng) -> Vec<f32> {
        (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    /// (kernel, channels, height, width, padding, output channels, batch), for the three
    /// algorithms ([`Alg::new`]): even and odd outputs (tiles partly outside the map), no padding, AlexNet's paddings (1 for 3 × 3, 2 for
    /// 5 × 5), Keras "same", paddings that make tiles read only zeros, and batches from 1 to 73
    /// (lines of samples shorter than a vector, and the vectorised loops' main steps, epilogues
    /// and remainders).
    const CASES: [(usize, usize, usize, usize, Pad, usize, usize); 17] = [
        (3, 1, 4, 4, Pad::Valid, 1, 1),
        (3, 3, 8, 8, Pad::Explicit(1), 5, 2),
        (3, 4, 13, 13, Pad::Explicit(1), 7, 3),
        (3, 2, 7, 10, Pad::Same, 3, 3),
        (3, 5, 5, 6, Pad::Valid, 4, 1),
        (3, 2, 4, 4, Pad::Explicit(2), 3, 2),
        (3, 2, 6, 5, Pad::Explicit(1), 3, 17),
        (3, 1, 4, 5, Pad::Valid, 2, 73),
        // Output sides multiples of 4 (no cropped tile of F(4×4, 3×3)).
        (3, 2, 4, 4, Pad::Explicit(1), 3, 17),
        (3, 2, 6, 6, Pad::Explicit(2), 3, 2),
        (3, 3, 10, 6, Pad::Valid, 2, 70),
        (5, 1, 6, 6, Pad::Valid, 1, 1),
        (5, 3, 9, 9, Pad::Explicit(2), 5, 3),
        (5, 4, 7, 10, Pad::Same, 3, 2),
        (5, 2, 5, 5, Pad::Explicit(4), 3, 17),
        (5, 2, 8, 7, Pad::Explicit(1), 2, 70),
        // Filters larger than the inputs and products (the whole batch in each step).
        (3, 16, 4, 4, Pad::Valid, 16, 3),
    ];

    /// Runs `check` on every case and every variant of the transforms.
    fn for_each_case(mut check: impl FnMut(ConvGeom, usize, usize, &str)) {
        crate::kernels::for_each_variant(|variant| {
            for (k, c, h, w, pad, oc, n) in CASES {
                let g = ConvGeom::new(c, h, w, k, 1, pad).unwrap();
                check(
                    g,
                    oc,
                    n,
                    &format!("{variant} {k}×{k} on {c}×{h}×{w} {pad:?}"),
                );
            }
        });
    }

    /// Whether `got` is `want` up to the Winograd rounding: a relative 1e-5 of the sum of the
    /// magnitudes of the products that make it (`scale`) plus 1e-6.
    fn close(got: f32, want: f64, scale: f64) -> bool {
        (got as f64 - want).abs() <= 1e-5 * scale + 1e-6
    }

    #[test]
    fn matches_the_definition_on_odd_and_even_maps_and_every_padding() {
        for_each_case(|g, oc, n, case| {
            let (c, k, rng) = (g.channels, g.kernel, &mut StdRng::seed_from_u64(1));
            let x = values(n * g.input_size(), rng);
            let wt = values(oc * c * k * k, rng);
            let b = values(oc, rng);
            let expect = conv2d_reference(&g, oc, n, &x, &wt, &b);
            let abs_x: Vec<f32> = x.iter().map(|v| v.abs()).collect();
            let abs_w: Vec<f32> = wt.iter().map(|v| v.abs()).collect();
            let abs_b: Vec<f32> = b.iter().map(|v| v.abs()).collect();
            let scale = conv2d_reference(&g, oc, n, &abs_x, &abs_w, &abs_b);
            for alg in [Alg::new(&g, false), Alg::new(&g, true)] {
                let y = forward_batch(&g, alg, oc, n, &x, &wt, &b);
                for (i, ((&got, &want), &s)) in y.iter().zip(&expect).zip(&scale).enumerate() {
                    assert!(
                        close(got, want, s),
                        "{case} {alg:?}: y[{i}] = {got}, expected {want}"
                    );
                }
            }
        });
    }

    /// `forward`'s output for `n` samples of `x` in one batch, filters `w` and bias `b`.
    fn forward_batch(
        g: &ConvGeom,
        alg: Alg,
        oc: usize,
        n: usize,
        x: &[f32],
        w: &[f32],
        b: &[f32],
    ) -> Vec<f32> {
        let mr = filter_rows(g, alg, oc, n);
        let mut u = vec![f32::NAN; filters_len(alg, g.channels, oc, mr)];
        transform_filters(alg, g.channels, oc, mr, w, &mut u);
        let (cl, ol) = workspace(g, alg, oc, n);
        let (mut col, mut out) = (vec![f32::NAN; cl], vec![f32::NAN; ol]);
        let mut y = vec![f32::NAN; n * oc * g.pixels()];
        forward(g, alg, oc, n, x, &u, b, &mut y, &mut col, &mut out);
        y
    }

    #[test]
    fn a_sample_has_the_same_bits_in_every_batch() {
        // At two threads, a batch splits into parts of samples, or goes whole through each
        // step when the filters are larger than the rest (the last case); one sample alone is
        // one part.
        for_each_case(|g, oc, n, case| {
            let rng = &mut StdRng::seed_from_u64(3);
            let x = values(n * g.input_size(), rng);
            let w = values(oc * g.channels * g.kernel * g.kernel, rng);
            let b = values(oc, rng);
            for alg in [Alg::new(&g, false), Alg::new(&g, true)] {
                let batch = forward_batch(&g, alg, oc, n, &x, &w, &b);
                let sample = oc * g.pixels();
                for (s, y) in batch.chunks_exact(sample).enumerate().take(3) {
                    let alone = &x[s * g.input_size()..][..g.input_size()];
                    let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(y),
                        bits(&forward_batch(&g, alg, oc, 1, alone, &w, &b)),
                        "{case} {alg:?}: sample {s} of {n}"
                    );
                }
            }
        });
    }

    #[test]
    fn weight_grad_matches_the_definition_on_odd_and_even_maps_and_every_padding() {
        for_each_case(|g, oc, n, case| {
            let (c, h, w, k) = (g.channels, g.height, g.width, g.kernel);
            let rng = &mut StdRng::seed_from_u64(2);
            let x = values(n * g.input_size(), rng);
            let dy = values(n * oc * g.pixels(), rng);
            let (cl, ol) = weight_grad_workspace(&g, oc, n);
            let mut col = vec![f32::NAN; cl];
            let mut out = vec![f32::NAN; ol];
            let mut dw = vec![f32::NAN; oc * c * k * k];
            weight_grad(&g, oc, n, &x, &dy, &mut dw, &mut col, &mut out);
            // dW[o, c, u, v] = Σ dY[s, o, i, j] · x[s, c, i + u − pad_top, j + v − pad_left].
            let (pt, pl) = (g.pad_top as isize, g.pad_left as isize);
            for (at, &got) in dw.iter().enumerate() {
                let (o, ci, u, v) = (at / (c * k * k), at / (k * k) % c, at / k % k, at % k);
                let (mut want, mut scale) = (0.0f64, 0.0f64);
                for (s, i, j) in (0..n).flat_map(|s| {
                    (0..g.out_h).flat_map(move |i| (0..g.out_w).map(move |j| (s, i, j)))
                }) {
                    let (r, q) = ((i + u) as isize - pt, (j + v) as isize - pl);
                    if (0..h as isize).contains(&r) && (0..w as isize).contains(&q) {
                        let d = dy[((s * oc + o) * g.out_h + i) * g.out_w + j] as f64;
                        let xv = x[((s * c + ci) * h + r as usize) * w + q as usize] as f64;
                        want += d * xv;
                        scale += (d * xv).abs();
                    }
                }
                assert!(
                    close(got, want, scale),
                    "{case}: dw[{at}] = {got}, expected {want}"
                );
            }
        });
    }
}
