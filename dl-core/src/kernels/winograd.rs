//! Winograd convolution `F(2×2, 3×3)` (Lavin and Gray, "Fast Algorithms for Convolutional Neural
//! Networks", 2016): the forward pass of a stride-1 3 × 3 convolution with 16 multiplications per
//! 2 × 2 output tile and input channel instead of 36 (2.25× fewer).
//!
//! Each 2 × 2 output tile `Y` of channel `o` is `Aᵀ [Σ_c (G g_oc Gᵀ) ⊙ (Bᵀ d_c B)] A`, where
//! `g_oc` is the 3 × 3 filter and `d_c` the 4 × 4 input patch under the tile (zeros outside the
//! input). The sum over channels, for each of the 16 positions `ξ` of the 4 × 4 products, is one
//! matrix product `M_ξ [OC × T] = U_ξ [OC × C] · V_ξ [C × T]` over all `T` tiles of the batch, so
//! the work is three cheap transforms and 16 GEMMs. A right or bottom tile that sticks out of an
//! odd-sized output reads zeros and its extra outputs are dropped. The filter transform `U`
//! ([`transform_filters`]) is written straight into the panels in which the GEMM reads it
//! ([`gemm_packed_a`]); it depends only on the weights and the panel height, so a caller can keep
//! it between calls of [`forward`] while both stay the same. The input gradient is the same
//! algorithm on `dY` with the turned filters (the caller's job); the weight gradient
//! ([`weight_grad`]) is its adjoint: 16 GEMMs over the tiles between the transforms of `dY` and
//! of the input.
//!
//! The result is the convolution up to rounding: the transforms add and subtract values before
//! the products (a relative difference of about 1e-6 from the direct sum, tested against an f64
//! reference). oneDNN, which PyTorch uses on CPUs, picks Winograd for such layers as well.
//!
//! ```
//! use dl_core::kernels::im2col::ConvGeom;
//! use dl_core::kernels::winograd;
//! use dl_core::shape::Pad;
//! // One 4×4 channel, one filter that sums its 3×3 window, no padding: a 2×2 output.
//! let g = ConvGeom::new(1, 4, 4, 3, 1, Pad::Valid).unwrap();
//! let x: Vec<f32> = (0..16).map(|v| v as f32).collect();
//! let (w, b) = ([1.0; 9], [0.5]);
//! let mr = winograd::filter_rows(&g, 1, 1);
//! let mut u = vec![0.0; winograd::filters_len(1, 1, mr)];
//! winograd::transform_filters(1, 1, mr, &w, &mut u);
//! let (cl, ol) = winograd::workspace(&g, 1, 1);
//! let (mut col, mut out, mut y) = (vec![0.0; cl], vec![0.0; ol], [0.0; 4]);
//! winograd::forward(&g, 1, 1, &x, &u, &b, &mut y, &mut col, &mut out);
//! // Window sums 45, 54, 81, 90 (0+1+2+4+5+6+8+9+10 = 45, …), plus the bias.
//! assert_eq!(y, [45.5, 54.5, 81.5, 90.5]);
//! ```

use super::gemm::{Trans, gemm, gemm_packed_a, num_threads, packed_a_rows, packed_len};
use super::im2col::ConvGeom;
use super::{BATCH_PARTS, run_batch_parts};
#[cfg(target_arch = "x86_64")]
use super::{Isa, allowed};
use std::ops::Range;

/// Defines a private function whose body is compiled three times (AVX-512F, AVX2, and the
/// baseline: SSE2 on x86-64; see [`Isa`](super::Isa)) and dispatched on the CPU's features at run time, for the
/// transforms: loops over the samples of a tile position that the compiler vectorises, with
/// SSE2 four lanes at a time and a scalar remainder. The helpers the body calls are
/// `#[inline(always)]`, so that they are compiled with the features of each variant.
macro_rules! vectorised {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$doc])*
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                /// # Safety
                /// The CPU must support AVX-512F.
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512($($arg: $ty),*) $body
                /// # Safety
                /// The CPU must support AVX2 and FMA.
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $body
                if allowed(Isa::Avx512) {
                    // SAFETY: `allowed` detected AVX-512F.
                    return unsafe { avx512($($arg),*) };
                }
                if allowed(Isa::Avx2) {
                    // SAFETY: `allowed` detected AVX2.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body
        }
    };
}

/// Positions of the 4 × 4 transformed tile.
const XI: usize = 16;

/// The distance between consecutive planes of `len` values in the workspaces: an odd number of
/// 64-byte lines. The 16 planes are walked together (element `k` of each in turn), and planes a
/// multiple of 4 KiB apart (CIFAR's `384 · 256` filters) would all map to the same L1 sets, more
/// lines than its 12 ways hold, so that every access missed (bench/NOTES.md, section 23).
fn plane(len: usize) -> usize {
    (len.div_ceil(16) | 1) * 16
}

/// Output tiles of the geometry: `(tile rows, tile columns)`.
fn tiles(g: &ConvGeom) -> (usize, usize) {
    (g.out_h.div_ceil(2), g.out_w.div_ceil(2))
}

/// The scratch one part of the transforms needs for `n` samples: a padded input plane of every
/// sample (samples innermost) and the 16 rows of a tile's row transform; the output transform's
/// 12 rows and its staged output channel (`OH·OW·n ≤ (PH·PW − 4)·n`) fit in it too.
fn scratch_len(g: &ConvGeom, n: usize) -> usize {
    let (th, tw) = tiles(g);
    ((2 * th + 2) * (2 * tw + 2) + XI) * n
}

/// The workspace [`forward`] needs for `oc` output channels and `n` samples: `(col, out)` lengths
/// (`col` holds the transformed input tiles and one scratch per part of the batch split; `out`
/// the 16 products).
pub fn workspace(g: &ConvGeom, oc: usize, n: usize) -> (usize, usize) {
    let (th, tw) = tiles(g);
    let t = n * th * tw;
    (
        XI * plane(g.channels * t) + BATCH_PARTS * scratch_len(g, n),
        XI * plane(oc * t),
    )
}

/// The panel height of the transformed filters that [`forward`] needs for `oc` output channels
/// and `n` samples of `g` (the GEMM's tile height for its products, see [`packed_a_rows`]).
pub fn filter_rows(g: &ConvGeom, oc: usize, n: usize) -> usize {
    let (th, tw) = tiles(g);
    packed_a_rows(oc, n * th * tw)
}

/// The length of the transformed filters of `c` input and `oc` output channels in panels of
/// `mr` rows (see [`transform_filters`]).
pub fn filters_len(c: usize, oc: usize, mr: usize) -> usize {
    XI * plane(packed_len(oc, c, mr))
}

/// `U`, the transforms of the 3 × 3 filters `w` `[oc, c, 3, 3]`, into `u` (at least
/// [`filters_len`] long) for [`forward`]: 16 planes `U_ξ` `[oc, c]`, each packed in panels of
/// `mr` rows as [`pack_a_panels`](super::gemm::pack_a_panels) lays them out; in
/// [`BATCH_PARTS`] parts (halves of the panels) on the worker pool.
///
/// # Panics
/// If `w` or `u` is too short, or `mr` is 0.
pub fn transform_filters(c: usize, oc: usize, mr: usize, w: &[f32], u: &mut [f32]) {
    const { assert!(BATCH_PARTS == 2, "the transform splits in halves") };
    let len = packed_len(oc, c, mr);
    assert!(
        w.len() >= oc * c * 9 && u.len() >= XI * plane(len),
        "winograd: filters too short"
    );
    let panels = halves(oc.div_ceil(mr));
    let us = split_planes(planes(u, plane(len), len), panels[1].start * mr * c);
    let parts = panels.into_iter().zip(us);
    run_batch_parts(parts, &|(panels, us)| {
        transform_panels(w, (oc, c, mr), panels, us)
    });
}

/// The 16 planes of `len` values, `stride` apart, at the start of `buf`.
fn planes(buf: &mut [f32], stride: usize, len: usize) -> [&mut [f32]; XI] {
    let mut it = buf.chunks_exact_mut(stride);
    std::array::from_fn(|_| {
        let p = it
            .next()
            .expect("invariant: the workspace holds 16 planes (checked by forward)");
        &mut p[..len]
    })
}

/// `0..len` cut in two parts for [`run_batch_parts`], the first one the larger; at one thread,
/// all of it in the first part: twice as long loops over the samples in the output transform
/// (its share of AlexNet CIFAR inference 8.6% → 6.7%). The transforms add nothing across parts,
/// so the cut does not change the results.
fn halves(len: usize) -> [Range<usize>; 2] {
    let mid = if num_threads() == 1 {
        len
    } else {
        len.div_ceil(2)
    };
    [0..mid, mid..len]
}

/// Every plane cut at `at`: the heads and the tails.
fn split_planes(ps: [&mut [f32]; XI], at: usize) -> [[&mut [f32]; XI]; 2] {
    let mut heads: [&mut [f32]; XI] = Default::default();
    let mut tails: [&mut [f32]; XI] = Default::default();
    for ((h, t), p) in heads.iter_mut().zip(&mut tails).zip(ps) {
        (*h, *t) = p.split_at_mut(at);
    }
    [heads, tails]
}

/// `y = conv(x, w) + b` for `n` samples of a stride-1 3 × 3 geometry `g` with `oc` output
/// channels: `x` `[n, C, H, W]`, `u` the filters `w` `[oc, C, 3, 3]` transformed by
/// [`transform_filters`] in panels of [`filter_rows`]`(g, oc, n)` rows, `b` `[oc]`, `y`
/// `[n, oc, OH, OW]`; `col` and `out` are workspaces of at least the lengths given by
/// [`workspace`]. The transforms run in [`BATCH_PARTS`] parts on the worker pool (input by
/// channels, output by samples), the products through [`gemm_packed_a`]'s own split; the result
/// is the same at every thread count.
///
/// # Panics
/// If `g` is not a stride-1 3 × 3 geometry or a slice is shorter than its shape needs.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    g: &ConvGeom,
    oc: usize,
    n: usize,
    x: &[f32],
    u: &[f32],
    b: &[f32],
    y: &mut [f32],
    col: &mut [f32],
    out: &mut [f32],
) {
    const { assert!(BATCH_PARTS == 2, "the transforms split in halves") };
    assert!(
        g.kernel == 3 && g.stride == 1,
        "winograd: a stride-1 3×3 geometry"
    );
    let c = g.channels;
    let (th, tw) = tiles(g);
    let t = n * th * tw;
    let (cl, ol) = workspace(g, oc, n);
    assert!(
        col.len() >= cl && out.len() >= ol,
        "winograd: workspace too short"
    );
    let su = plane(packed_len(oc, c, filter_rows(g, oc, n)));
    let (sv, sm) = (plane(c * t), plane(oc * t));
    assert!(
        x.len() >= n * g.input_size()
            && u.len() >= XI * su
            && b.len() >= oc
            && y.len() >= n * oc * g.pixels(),
        "winograd: operand too short"
    );
    let (v, scratch) = col.split_at_mut(XI * sv);
    let scratches = scratch.chunks_exact_mut(scratch_len(g, n));
    // Input tiles by halves of the input channels.
    let cs = halves(c);
    let vs = split_planes(planes(v, sv, c * t), cs[1].start * t);
    let parts = cs.into_iter().zip(vs).zip(scratches);
    run_batch_parts(parts, &|((cs, vs), sc)| {
        transform_input(g, n, x, cs, vs, sc)
    });
    let m = &mut out[..XI * sm];
    for ((u, v), m) in u
        .chunks_exact(su)
        .zip(v.chunks_exact(sv))
        .zip(m.chunks_exact_mut(sm))
    {
        // M_ξ = U_ξ · V_ξ.
        gemm_packed_a(oc, t, c, 1.0, u, v, t, 0.0, m, t);
    }
    let m = &*m;
    // Output by halves of the batch.
    let ss = halves(n);
    let (y0, y1) = y[..n * oc * g.pixels()].split_at_mut(ss[1].start * oc * g.pixels());
    let scratches = scratch.chunks_exact_mut(scratch_len(g, n));
    let parts = ss.into_iter().zip([y0, y1]).zip(scratches);
    run_batch_parts(parts, &|((ss, ys), sc)| {
        transform_output(g, n, oc, m, sm, b, ss, ys, sc)
    });
}

/// The workspace [`weight_grad`] needs for `oc` output channels and `n` samples: `(col, out)`
/// lengths (`col` as for [`forward`]: the input tiles and the scratch; `out` the transformed
/// output gradients `[16, oc, T]`, then the 16 products `[16, oc, C]`).
pub fn weight_grad_workspace(g: &ConvGeom, oc: usize, n: usize) -> (usize, usize) {
    let (th, tw) = tiles(g);
    let t = n * th * tw;
    (
        workspace(g, oc, n).0,
        XI * plane(oc * t) + XI * plane(oc * g.channels),
    )
}

/// `dW`, the weight gradient of [`forward`] for the output gradient `dy` `[n, oc, OH, OW]` and
/// the input `x` `[n, C, H, W]` of a stride-1 3 × 3 geometry `g`, into `dw` `[oc, C, 3, 3]`
/// (overwritten): `dW[o, c, u, v] = Σ_{s,i,j} dY[s, o, i, j] · x[s, c, i + u − pad_top,
/// j + v − pad_left]`, as the adjoint of the forward algorithm: `dW = Gᵀ [Σ_t (A dY_t Aᵀ) ⊙
/// (Bᵀ d_t B)] G` over the output tiles `t`, the sum for each of the 16 positions `ξ` one
/// product `dU_ξ [oc × C] = dM_ξ [oc × T] · V_ξᵀ [T × C]` (16 products of depth `T` where im2col
/// needs one with 9 times the columns and 4 times the depth: 2.25× fewer multiplications, and no
/// column matrix). `col` and `out` are workspaces of at least the lengths given by [`weight_grad_workspace`].
/// The transforms run in [`BATCH_PARTS`] parts on the worker pool (by channels), the products
/// through [`gemm`]'s own split; the result is the same at every thread count.
///
/// # Panics
/// If `g` is not a stride-1 3 × 3 geometry or a slice is shorter than its shape needs.
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
    assert!(
        g.kernel == 3 && g.stride == 1,
        "winograd: a stride-1 3×3 geometry"
    );
    let c = g.channels;
    let (th, tw) = tiles(g);
    let t = n * th * tw;
    let (cl, ol) = weight_grad_workspace(g, oc, n);
    assert!(
        col.len() >= cl && out.len() >= ol,
        "winograd: workspace too short"
    );
    assert!(
        x.len() >= n * g.input_size() && dy.len() >= n * oc * g.pixels() && dw.len() >= oc * c * 9,
        "winograd: operand too short"
    );
    let (sv, sm, su) = (plane(c * t), plane(oc * t), plane(oc * c));
    let (v, scratch) = col.split_at_mut(XI * sv);
    let cs = halves(c);
    let vs = split_planes(planes(v, sv, c * t), cs[1].start * t);
    let parts = cs
        .into_iter()
        .zip(vs)
        .zip(scratch.chunks_exact_mut(scratch_len(g, n)));
    run_batch_parts(parts, &|((cs, vs), sc)| {
        transform_input(g, n, x, cs, vs, sc)
    });
    let (m, du) = out.split_at_mut(XI * sm);
    let os = halves(oc);
    let ms = split_planes(planes(m, sm, oc * t), os[1].start * t);
    let parts = os
        .into_iter()
        .zip(ms)
        .zip(scratch.chunks_exact_mut(scratch_len(g, n)));
    run_batch_parts(parts, &|((os, ms), sc)| {
        transform_output_grad(g, n, oc, dy, os, ms, sc)
    });
    let du = &mut du[..XI * su];
    for ((m, v), du) in m
        .chunks_exact(sm)
        .zip(v.chunks_exact(sv))
        .zip(du.chunks_exact_mut(su))
    {
        // dU_ξ = dM_ξ · V_ξᵀ.
        gemm(Trans::N, Trans::T, oc, c, t, 1.0, m, t, v, t, 0.0, du, c);
    }
    let du = &*du;
    let os = halves(oc);
    let (dw0, dw1) = dw[..oc * c * 9].split_at_mut(os[1].start * c * 9);
    run_batch_parts(os.into_iter().zip([dw0, dw1]), &|(os, dws)| {
        transform_filter_grads(c, du, su, os, dws)
    });
}

vectorised! {
/// `dM_ξ[o, t] = (A dY_ot Aᵀ)_ξ` with `A = [1 0; 1 1; 1 −1; 0 −1]` (the adjoint of the output
/// transform of [`transform_output`]) for the output channels `os` (`ms[ξ]` holds their rows
/// `[os.len(), T]`), tiles ordered as in [`transform_input`], outputs past `OH × OW` zero. Each
/// channel's gradient is first copied into `scratch` with the samples innermost, as the input in
/// [`transform_input`].
fn transform_output_grad(
    g: &ConvGeom,
    n: usize,
    oc: usize,
    dy: &[f32],
    os: Range<usize>,
    ms: [&mut [f32]; XI],
    scratch: &mut [f32],
) {
    let mut ms = ms;
    let (th, tw) = tiles(g);
    let t = n * th * tw;
    let (oh, ow) = (g.out_h, g.out_w);
    let (ph, pw) = (2 * th, 2 * tw);
    let (plane, e) = scratch.split_at_mut(ph * pw * n);
    let e = &mut e[..8 * n];
    let ohw = oh * ow;
    for (ol, o) in os.enumerate() {
        // Rows and columns past the output (an odd size) stay zero.
        plane.fill(0.0);
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
                let d = |k: usize, l: usize| &plane[((2 * ty + k) * pw + 2 * tx + l) * n..][..n];
                // dY·Aᵀ along the 2 rows of the tile: e[4k + j].
                for (k, ek) in e.chunks_exact_mut(4 * n).enumerate() {
                    let mut ek = ek.chunks_exact_mut(n);
                    let out = std::array::from_fn(|_| ek.next().expect("4 rows of n"));
                    apply_a(out, [d(k, 0), d(k, 1)]);
                }
                // A·(dY·Aᵀ) down the columns, into dM_ξ.
                let t0 = ol * t + (ty * tw + tx) * n;
                for j in 0..4 {
                    let out = ms
                        .get_disjoint_mut([j, 4 + j, 8 + j, 12 + j])
                        .expect("invariant: four distinct planes")
                        .map(|m| &mut m[t0..][..n]);
                    apply_a(out, [&e[j * n..][..n], &e[(4 + j) * n..][..n]]);
                }
            }
        }
    }
}
}

/// `out = A·d` for two lines `d`: `d0`, `d0 + d1`, `d0 − d1`, `−d1`.
#[inline(always)]
fn apply_a(out: [&mut [f32]; 4], [d0, d1]: [&[f32]; 2]) {
    let [o0, o1, o2, o3] = out;
    let d = [d0, d1, d0, d1];
    combine(o0, d, |[a, ..]| a);
    combine(o1, d, |[a, b, ..]| a + b);
    combine(o2, d, |[a, b, ..]| a - b);
    combine(o3, d, |[_, b, ..]| -b);
}

/// `dW[o, c] = Gᵀ dU_oc G` (3 × 3) with `Gᵀ = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1]`, the adjoint of the
/// filter transform of [`transform_filter`], for the output channels `os` (`dws` holds their
/// filters `[os.len(), C, 3, 3]`), from the 16 planes `dU_ξ` `[oc, C]` `su` apart in `du`.
fn transform_filter_grads(c: usize, du: &[f32], su: usize, os: Range<usize>, dws: &mut [f32]) {
    let gt = |r: [f32; 4]| {
        let h = 0.5 * (r[1] + r[2]);
        [r[0] + h, 0.5 * (r[1] - r[2]), h + r[3]]
    };
    for (k, f) in (os.start * c..os.end * c).zip(dws.chunks_exact_mut(9)) {
        // Gᵀ·dU (3 × 4), column by column of dU.
        let mut gu = [[0.0f32; 4]; 3];
        for j in 0..4 {
            let col = gt(std::array::from_fn(|i| du[(4 * i + j) * su + k]));
            for (row, v) in gu.iter_mut().zip(col) {
                row[j] = v;
            }
        }
        // (Gᵀ·dU)·G.
        for (fr, r) in f.chunks_exact_mut(3).zip(gu) {
            fr.copy_from_slice(&gt(r));
        }
    }
}

/// The panels `panels` (of `mr` output channels each, out of `oc`, over `c` input channels) of
/// every `U_ξ`, packed as [`transform_filters`] says (`us[ξ]` holds these panels, rows past `oc`
/// zero): panel by panel, input channel by input channel, so that the writes are contiguous and
/// the panel's `mr` filter rows are read in step.
fn transform_panels(
    w: &[f32],
    (oc, c, mr): (usize, usize, usize),
    panels: Range<usize>,
    mut us: [&mut [f32]; XI],
) {
    for (q, panel) in panels.enumerate() {
        for ci in 0..c {
            let at = (q * c + ci) * mr;
            for r in 0..mr {
                let o = panel * mr + r;
                let u = if o < oc {
                    transform_filter(&w[(o * c + ci) * 9..][..9])
                } else {
                    [0.0; XI]
                };
                for (plane, val) in us.iter_mut().zip(u) {
                    plane[at + r] = val;
                }
            }
        }
    }
}

/// `G g Gᵀ` (4 × 4, row-major) for the 3 × 3 filter `g`, with
/// `G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]`.
fn transform_filter(g: &[f32]) -> [f32; XI] {
    // G·g (4 × 3), column by column of g.
    let mut gg = [[0.0f32; 3]; 4];
    for j in 0..3 {
        let (g0, g1, g2) = (g[j], g[3 + j], g[6 + j]);
        gg[0][j] = g0;
        gg[1][j] = 0.5 * (g0 + g1 + g2);
        gg[2][j] = 0.5 * (g0 - g1 + g2);
        gg[3][j] = g2;
    }
    // (G·g)·Gᵀ.
    let mut u = [0.0; XI];
    for (ui, r) in u.chunks_exact_mut(4).zip(&gg) {
        ui.copy_from_slice(&[
            r[0],
            0.5 * (r[0] + r[1] + r[2]),
            0.5 * (r[0] - r[1] + r[2]),
            r[2],
        ]);
    }
    u
}

vectorised! {
/// `V_ξ[c, t] = (Bᵀ d_ct B)_ξ` with `Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]` for the input
/// channels `cs` (`vs[ξ]` holds their rows `[cs.len(), T]`), tiles ordered
/// `t = (ty·TW + tx)·n + sample`. Each channel is first copied, zero-padded, into `scratch` with
/// the samples innermost (`plane[(row·PW + col)·n + sample]`); every step of the transform is then
/// a loop over the `n` samples of one tile position, which the compiler vectorises, and writes
/// `n` contiguous values of a `V_ξ` row (CIFAR's 4 × 4 maps have only 2 × 2 tiles per sample).
fn transform_input(
    g: &ConvGeom,
    n: usize,
    x: &[f32],
    cs: Range<usize>,
    vs: [&mut [f32]; XI],
    scratch: &mut [f32],
) {
    let mut vs = vs;
    let c = g.channels;
    let (th, tw) = tiles(g);
    let t = n * th * tw;
    let (ph, pw) = (2 * th + 2, 2 * tw + 2);
    let (plane, e) = scratch.split_at_mut(ph * pw * n);
    let e = &mut e[..XI * n];
    let hw = g.height * g.width;
    for (cl, ci) in cs.enumerate() {
        plane.fill(0.0);
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
        for ty in 0..th {
            for tx in 0..tw {
                let d = |k: usize, l: usize| &plane[((2 * ty + k) * pw + 2 * tx + l) * n..][..n];
                // d·B along the 4 rows of the patch: e[4k + j].
                for (k, ek) in e.chunks_exact_mut(4 * n).enumerate() {
                    let mut ek = ek.chunks_exact_mut(n);
                    let out = std::array::from_fn(|_| ek.next().expect("4 rows of n"));
                    apply_bt(out, [d(k, 0), d(k, 1), d(k, 2), d(k, 3)]);
                }
                // Bᵀ·(d·B) down the columns, into V_ξ.
                let t0 = cl * t + (ty * tw + tx) * n;
                for j in 0..4 {
                    let col = |k: usize| &e[(4 * k + j) * n..][..n];
                    let out = vs
                        .get_disjoint_mut([j, 4 + j, 8 + j, 12 + j])
                        .expect("invariant: four distinct planes")
                        .map(|v| &mut v[t0..][..n]);
                    apply_bt(out, [col(0), col(1), col(2), col(3)]);
                }
            }
        }
    }
}
}

/// `out = Bᵀ·d` for four lines `d` (of a patch's rows or columns, each over the samples):
/// `d0 − d2`, `d1 + d2`, `d2 − d1`, `d1 − d3`.
#[inline(always)]
fn apply_bt(out: [&mut [f32]; 4], d: [&[f32]; 4]) {
    let [o0, o1, o2, o3] = out;
    combine(o0, d, |[a, _, c, _]| a - c);
    combine(o1, d, |[_, b, c, _]| b + c);
    combine(o2, d, |[_, b, c, _]| c - b);
    combine(o3, d, |[_, b, _, d]| b - d);
}

/// `out = Aᵀ·d + bias` for four lines `d`: `d0 + d1 + d2 + bias`, `d1 − d2 − d3 + bias`.
#[inline(always)]
fn apply_at(out: [&mut [f32]; 2], d: [&[f32]; 4], bias: f32) {
    let [o0, o1] = out;
    combine(o0, d, |[a, b, c, _]| a + b + c + bias);
    combine(o1, d, |[_, b, c, d]| b - c - d + bias);
}

/// `out[x] = f([d0[x], d1[x], d2[x], d3[x]])` for every `x < out.len()` (one line of a
/// transform, over the samples of a tile position). An indexed loop over lines cut to one length,
/// which the compiler vectorises with a vector epilogue (with AVX-512: 64 values a step, then 8;
/// a chain of `zip`s left 16 samples mostly to a scalar remainder).
#[inline(always)]
fn combine(out: &mut [f32], [d0, d1, d2, d3]: [&[f32]; 4], f: impl Fn([f32; 4]) -> f32) {
    let n = out.len();
    let (d0, d1, d2, d3) = (&d0[..n], &d1[..n], &d2[..n], &d3[..n]);
    for x in 0..n {
        out[x] = f([d0[x], d1[x], d2[x], d3[x]]);
    }
}

vectorised! {
/// `y[s, o, 2ty + a, 2tx + b] = (Aᵀ M_ot A)[a, b] + bias[o]` with `Aᵀ = [1 1 1 0; 0 1 −1 −1]`,
/// for the samples `ss` (`ys` holds their outputs) and the outputs inside `OH × OW` (`M` stored
/// `[16, OC, T]` for all `n` samples, planes `sm` apart, tiles ordered as in
/// [`transform_input`]): each step a loop over the samples of one tile position, in `scratch`
/// (8 rows of `Aᵀ·M`, then the 4 outputs, staged for the whole channel), then each sample's
/// output plane written in one run (storing sample by sample at each tile hit the same L1 sets:
/// 11.6% of AlexNet CIFAR inference).
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
    let (th, tw) = tiles(g);
    let t = n * th * tw;
    let (oh, ow) = (g.out_h, g.out_w);
    let ns = ss.len();
    if ns == 0 {
        return;
    }
    let (r, rest) = scratch.split_at_mut(8 * ns);
    let (out, stage) = rest.split_at_mut(4 * ns);
    let ohw = oh * ow;
    let stage = &mut stage[..ohw * ns];
    for (o, &bo) in bias.iter().enumerate().take(oc) {
        for ty in 0..th {
            for tx in 0..tw {
                let t0 = o * t + (ty * tw + tx) * n + ss.start;
                // Aᵀ·M: r[2j + a] for column j of the tile.
                for (j, rj) in r.chunks_exact_mut(2 * ns).enumerate() {
                    let mk = |i: usize| &m[(4 * i + j) * sm + t0..][..ns];
                    let (r0, r1) = rj.split_at_mut(ns);
                    apply_at([r0, r1], [mk(0), mk(1), mk(2), mk(3)], 0.0);
                }
                // (Aᵀ·M)·A plus the bias: out[2a + b].
                for (a, oa) in out.chunks_exact_mut(2 * ns).enumerate() {
                    let ra = |j: usize| &r[(2 * j + a) * ns..][..ns];
                    let (y0, y1) = oa.split_at_mut(ns);
                    apply_at([y0, y1], [ra(0), ra(1), ra(2), ra(3)], bo);
                }
                for (k, vals) in out.chunks_exact(ns).enumerate() {
                    let (i, j) = (2 * ty + k / 2, 2 * tx + k % 2);
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

    /// (channels, height, width, padding, output channels, batch): even and odd outputs (tiles
    /// partly outside the map), no padding, AlexNet's 1, Keras "same", a padding of 2 (tiles
    /// reading only zeros), and batches from 1 to 73 (lines of samples shorter than a vector,
    /// and the vectorised loops' main steps, epilogues and remainders).
    const CASES: [(usize, usize, usize, Pad, usize, usize); 8] = [
        (1, 4, 4, Pad::Valid, 1, 1),
        (3, 8, 8, Pad::Explicit(1), 5, 2),
        (4, 13, 13, Pad::Explicit(1), 7, 3),
        (2, 7, 10, Pad::Same, 3, 3),
        (5, 5, 6, Pad::Valid, 4, 1),
        (2, 4, 4, Pad::Explicit(2), 3, 2),
        (2, 6, 5, Pad::Explicit(1), 3, 17),
        (1, 4, 5, Pad::Valid, 2, 73),
    ];

    /// Runs `check` on every case and every variant of the transforms.
    fn for_each_case(mut check: impl FnMut(ConvGeom, usize, usize, &str)) {
        crate::kernels::for_each_variant(|variant| {
            for (c, h, w, pad, oc, n) in CASES {
                let g = ConvGeom::new(c, h, w, 3, 1, pad).unwrap();
                check(g, oc, n, &format!("{variant} {c}×{h}×{w} {pad:?}"));
            }
        });
    }

    #[test]
    fn matches_the_definition_on_odd_and_even_maps_and_every_padding() {
        for_each_case(|g, oc, n, case| {
            let (c, rng) = (g.channels, &mut StdRng::seed_from_u64(1));
            let x = values(n * g.input_size(), rng);
            let wt = values(oc * c * 9, rng);
            let b = values(oc, rng);
            let mr = filter_rows(&g, oc, n);
            let mut u = vec![f32::NAN; filters_len(c, oc, mr)];
            transform_filters(c, oc, mr, &wt, &mut u);
            let (cl, ol) = workspace(&g, oc, n);
            let mut col = vec![f32::NAN; cl];
            let mut out = vec![f32::NAN; ol];
            let mut y = vec![f32::NAN; n * oc * g.pixels()];
            forward(&g, oc, n, &x, &u, &b, &mut y, &mut col, &mut out);
            let expect = conv2d_reference(&g, oc, n, &x, &wt, &b);
            for (k, (&got, &want)) in y.iter().zip(&expect).enumerate() {
                assert!(
                    (got as f64 - want).abs() <= 1e-5 * (1.0 + want.abs()),
                    "{case}: y[{k}] = {got}, expected {want}"
                );
            }
        });
    }

    #[test]
    fn weight_grad_matches_the_definition_on_odd_and_even_maps_and_every_padding() {
        for_each_case(|g, oc, n, case| {
            let (c, h, w, rng) = (g.channels, g.height, g.width, &mut StdRng::seed_from_u64(2));
            let x = values(n * g.input_size(), rng);
            let dy = values(n * oc * g.pixels(), rng);
            let (cl, ol) = weight_grad_workspace(&g, oc, n);
            let mut col = vec![f32::NAN; cl];
            let mut out = vec![f32::NAN; ol];
            let mut dw = vec![f32::NAN; oc * c * 9];
            weight_grad(&g, oc, n, &x, &dy, &mut dw, &mut col, &mut out);
            // dW[o, c, u, v] = Σ dY[s, o, i, j] · x[s, c, i + u − pad_top, j + v − pad_left].
            let (pt, pl) = (g.pad_top as isize, g.pad_left as isize);
            for (k, &got) in dw.iter().enumerate() {
                let (o, ci, u, v) = (k / (c * 9), k / 9 % c, k / 3 % 3, k % 3);
                let mut want = 0.0f64;
                for (s, i, j) in (0..n).flat_map(|s| {
                    (0..g.out_h).flat_map(move |i| (0..g.out_w).map(move |j| (s, i, j)))
                }) {
                    let (r, q) = ((i + u) as isize - pt, (j + v) as isize - pl);
                    if (0..h as isize).contains(&r) && (0..w as isize).contains(&q) {
                        let d = dy[((s * oc + o) * g.out_h + i) * g.out_w + j] as f64;
                        want += d * x[((s * c + ci) * h + r as usize) * w + q as usize] as f64;
                    }
                }
                assert!(
                    (got as f64 - want).abs() <= 1e-5 * (1.0 + want.abs()),
                    "{case}: dw[{k}] = {got}, expected {want}"
                );
            }
        });
    }
}
