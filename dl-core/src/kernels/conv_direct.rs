//! Direct (im2col-free) stride-1 convolution for layers with few channels.
//!
//! With few output channels the im2col route spends most of its time copying: the column matrix
//! (`C·K·K` rows × `N·OH·OW` columns) is written, packed by the GEMM and read back, several times
//! the size of the input, for a product whose small dimension (the output channels) fills a
//! fraction of the GEMM's register tile. These kernels work on one sample at a time straight from
//! its (zero-padded, when the layer pads) planes. The trick is the "wide" output row: with a
//! padded input plane `Wp` values wide, output `(i, j)` of tap `(u, v)` reads input
//! `(i + u)·Wp + j + v`, so if the output is laid out with the same row length `Wp` (its last
//! `K − 1` columns are junk, dropped at the end), one tap is a single multiply-add of two
//! contiguous spans of `(OH − 1)·Wp + OW` values: forward and input gradient are `axpy`s, the
//! weight gradient a dot product. The spans stay in L1 and the loops vectorise; every function is
//! compiled for AVX-512F, for AVX2+FMA and portably, and the widest the CPU supports is picked at
//! run time.
//!
//! Every sum runs in a fixed order, so results are the same on every run on the same CPU path.
//! Shapes follow [`ConvGeom`] with `stride = 1`; the weight layout is `[OC, C, K, K]` and
//! activations are NCHW, as in the rest of the crate. The caller provides a scratch slice of at
//! least [`scratch_len`] values (its content is overwritten).
//!
//! ```
//! use dl_core::kernels::conv_direct::{forward, scratch_len};
//! use dl_core::kernels::im2col::ConvGeom;
//! use dl_core::shape::Pad;
//! // One 3×3 channel, a 2×2 kernel summing the diagonal, bias 0.5 (as in `Conv2d`'s example).
//! let g = ConvGeom::new(1, 3, 3, 2, 1, Pad::Valid).unwrap();
//! let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
//! let (mut y, mut scratch) = (vec![0.0; 4], vec![0.0; scratch_len(&g)]);
//! forward(&g, 1, &x, &[1.0, 0.0, 0.0, 1.0], &[0.5], &mut y, &mut scratch);
//! assert_eq!(y, [6.5, 8.5, 12.5, 14.5]);
//! ```

use crate::kernels::im2col::{ConvGeom, copy_short};
#[cfg(target_arch = "x86_64")]
use crate::kernels::{Isa, allowed};
use crate::kernels::{array, fold, lane_sum};

/// Positions one register block holds per channel (4 AVX-512 registers): the input gradient's
/// blocks, and the forward pass's where they fit its span best (see [`forward_lanes`]).
const LANES: usize = 64;

/// The forward pass's other block length (3 AVX-512 registers per channel), see
/// [`forward_lanes`].
const SHORT_LANES: usize = 48;

/// The block length of the forward pass: whichever of [`LANES`] and [`SHORT_LANES`] computes
/// fewer positions past the span (ties: the longer). LeNet-5's conv2 (span 136) computes 144
/// instead of 192 in blocks of 48, and its 16 channels fit two blocks of 8 instead of 6 + 6 + 4:
/// its forward pass 0.180 → 0.135 ms; conv1 (span 892) stays at 64, which it ran 9% faster
/// (bench/NOTES.md section 48).
fn forward_lanes(g: &ConvGeom) -> usize {
    let (_, _, span) = dims(g);
    let computed = |l: usize| span.div_ceil(l) * l;
    if computed(SHORT_LANES) < computed(LANES) {
        SHORT_LANES
    } else {
        LANES
    }
}

/// Defines a public function whose body is compiled three times (AVX-512F, AVX2+FMA, portable)
/// and dispatched on the CPU's features at run time. In the body, `madd(a, b, c)` is `a·b + c`,
/// fused on the FMA paths, `OB` is how many channels one register block accumulates at once
/// (output channels in the weight gradient, input channels in the input gradient; as many as the
/// variant's registers hold, all sharing each load), and `ACC` how many values the forward pass's
/// register blocks hold (its channels per block: `ACC` over the block length).
macro_rules! multiversion {
    ($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                /// # Safety
                /// The CPU must support AVX-512F.
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) {
                    #[inline(always)]
                    fn madd(a: f32, b: f32, c: f32) -> f32 {
                        a.mul_add(b, c)
                    }
                    /// Channels per register block: 6 × 4 registers of accumulators.
                    #[allow(dead_code)] // (each body uses `OB` or `ACC`)
                    const OB: usize = 6;
                    /// Accumulator values of the forward pass's register blocks: 24 registers.
                    #[allow(dead_code)] // (each body uses `OB` or `ACC`)
                    const ACC: usize = 24 * 16;
                    $body
                }
                /// # Safety
                /// The CPU must support AVX2 and FMA.
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) {
                    #[inline(always)]
                    fn madd(a: f32, b: f32, c: f32) -> f32 {
                        a.mul_add(b, c)
                    }
                    /// Channels per register block: 8 registers of accumulators.
                    #[allow(dead_code)] // (each body uses `OB` or `ACC`)
                    const OB: usize = 1;
                    /// Accumulator values of the forward pass's register blocks: 8 registers.
                    #[allow(dead_code)] // (each body uses `OB` or `ACC`)
                    const ACC: usize = 8 * 8;
                    $body
                }
                if allowed(Isa::Avx512) {
                    // SAFETY: `allowed` detected AVX-512F (and with it AVX2 and FMA).
                    return unsafe { avx512($($arg),*) };
                }
                if allowed(Isa::Avx2) {
                    // SAFETY: `allowed` detected AVX2 and FMA.
                    return unsafe { avx2($($arg),*) };
                }
            }
            #[inline(always)]
            fn madd(a: f32, b: f32, c: f32) -> f32 {
                a * b + c
            }
            /// Channels per register block.
            #[allow(dead_code)] // (each body uses `OB` or `ACC`)
            const OB: usize = 1;
            /// Accumulator values of the forward pass's register blocks.
            #[allow(dead_code)] // (each body uses `OB` or `ACC`)
            const ACC: usize = 64;
            $body
        }
    };
}

/// `f::<B>(args)` (or `f::<B, L>(args)`) for a register block of `B = count` channels: the block
/// sizes 1 to 7 for the last, partial block, `max` (the full block) otherwise.
macro_rules! in_block {
    ($count:expr, $max:expr, $f:ident $(::<$l:ident>)? ($($arg:expr),* $(,)?)) => {
        match $count {
            1 => $f::<1 $(, $l)?>($($arg),*),
            2 => $f::<2 $(, $l)?>($($arg),*),
            3 => $f::<3 $(, $l)?>($($arg),*),
            4 => $f::<4 $(, $l)?>($($arg),*),
            5 => $f::<5 $(, $l)?>($($arg),*),
            6 => $f::<6 $(, $l)?>($($arg),*),
            7 => $f::<7 $(, $l)?>($($arg),*),
            _ => $f::<{ $max } $(, $l)?>($($arg),*),
        }
    };
}

/// Lanes of one weight-gradient accumulator (one AVX-512 register).
const WG_LANES: usize = 16;

/// Taps per register block of the weight gradient: with `OB` = 6 channels, 24 accumulators and
/// 4 input vectors, which leaves AVX-512's 32 registers room for the gradient vector.
const TAPS: usize = 4;

/// The most channels of a register block in any variant (the forward pass's 8 in blocks of
/// [`SHORT_LANES`] on AVX-512): the scratch holds that many wide output planes.
const OB_MAX: usize = 8;

/// Padded plane `(Hp, Wp)` and the span length `(OH − 1)·Wp + OW` of one tap.
fn dims(g: &ConvGeom) -> (usize, usize, usize) {
    let (hp, wp) = (g.out_h + g.kernel - 1, g.out_w + g.kernel - 1);
    (hp, wp, (g.out_h - 1) * wp + g.out_w)
}

/// Values of the padded sample at the start of the scratch: the planes plus [`LANES`] values of
/// slack, so the forward pass can read whole blocks of `LANES` past the last tap's span.
fn padded_len(g: &ConvGeom) -> usize {
    g.channels * padded_plane(g) + LANES
}

/// One padded plane `Hp·Wp` rounded up to whole blocks of [`LANES`] (the input gradient's plane
/// stride, so that its blocks never spill into the next plane).
fn padded_plane(g: &ConvGeom) -> usize {
    let (hp, wp, _) = dims(g);
    (hp * wp).div_ceil(LANES) * LANES
}

/// Zeros in front of the input gradient's wide `dy` plane: tap `(u, v)` reads it `u·Wp + v`
/// values before the position it adds to.
fn front(g: &ConvGeom) -> usize {
    let (_, wp, _) = dims(g);
    (g.kernel - 1) * (wp + 1)
}

/// Values of one wide output plane in the scratch: `OH` rows of `Wp`, rounded up to whole blocks
/// of [`LANES`] (which also covers the span, in blocks of `LANES` or, where the forward pass
/// takes them, of [`SHORT_LANES`]: it does only when they end before blocks of `LANES`).
fn plane_len(g: &ConvGeom) -> usize {
    let (_, wp, _) = dims(g);
    (g.out_h * wp).div_ceil(LANES) * LANES
}

/// Values of scratch space the functions of this module need for geometry `g`.
pub fn scratch_len(g: &ConvGeom) -> usize {
    padded_len(g) + (OB_MAX * plane_len(g)).max(front(g) + padded_plane(g))
}

/// Checks the stride and the slice lengths shared by the three directions.
fn check(g: &ConvGeom, n: usize, x: usize, w: usize, oc: usize, y: usize, scratch: usize) {
    assert_eq!(g.stride, 1, "conv_direct: stride must be 1");
    assert_eq!(x, n * g.input_size(), "conv_direct: input length");
    assert_eq!(w, oc * g.rows(), "conv_direct: weight length");
    assert_eq!(y, n * oc * g.pixels(), "conv_direct: output length");
    assert!(scratch >= scratch_len(g), "conv_direct: scratch too short");
}

/// Adds the `K` taps of one kernel row to `B` channels' accumulators: tap `v` multiplies the
/// `L` values of `row` from offset `v` (`mirrored`: from `K − 1 − v`, the flipped kernel of
/// the input gradient) by `ws[j][t + v]`; `row` holds `K − 1 + L` values. One load of the
/// row feeds the `B` channels. `madd` is the calling variant's multiply-add.
#[inline(always)]
fn kernel_row<const B: usize, const L: usize>(
    acc: &mut [[f32; L]; B],
    row: &[f32],
    ws: &[&[f32]; B],
    t: usize,
    mirrored: bool,
    madd: impl Fn(f32, f32, f32) -> f32,
) {
    let k = row.len() + 1 - L;
    for v in 0..k {
        let at = if mirrored { k - 1 - v } else { v };
        let src = row[at..]
            .first_chunk::<L>()
            .expect("invariant: the row holds K − 1 + L values");
        for (a, wj) in acc.iter_mut().zip(ws) {
            let wv = wj[t + v];
            for (a, &x) in a.iter_mut().zip(src) {
                *a = madd(wv, x, *a);
            }
        }
    }
}

/// Copies one sample into zero-bordered planes `[C, Hp, Wp]` (and zeroes the slack after them).
fn pad_sample(g: &ConvGeom, x: &[f32], xp: &mut [f32]) {
    let (hp, wp, _) = dims(g);
    xp.fill(0.0);
    for (xc, pc) in x
        .chunks_exact(g.height * g.width)
        .zip(xp.chunks_exact_mut(hp * wp))
    {
        for (r, row) in xc.chunks_exact(g.width).enumerate() {
            let at = (r + g.pad_top) * wp + g.pad_left;
            copy_short(&mut pc[at..at + g.width], row);
        }
    }
}

/// Lays one output channel `[OH, OW]` out as wide rows of `Wp` values, zeros in the extra columns.
fn widen(g: &ConvGeom, d: &[f32], wide: &mut [f32]) {
    let (_, wp, _) = dims(g);
    for (src, dst) in d.chunks_exact(g.out_w).zip(wide.chunks_mut(wp)) {
        copy_short(&mut dst[..g.out_w], src);
        dst[g.out_w..].fill(0.0);
    }
}

multiversion! {
    /// `y[s, o, i, j] = b[o] + Σ_{c,u,v} w[o, c, u, v] · x[s, c, i + u − pad_top, j + v − pad_left]`
    /// (zero outside the input) for the `n` samples of `x` (`n·C·H·W` values); `y`
    /// (`n·OC·OH·OW` values, `OC = b.len()`) is overwritten.
    ///
    /// # Panics
    /// If the stride is not 1 or a slice length disagrees with `g` and `n` (a caller bug).
    pub fn forward(
        g: &ConvGeom,
        n: usize,
        x: &[f32],
        w: &[f32],
        b: &[f32],
        y: &mut [f32],
        scratch: &mut [f32],
    ) {
        /// Output channels `o0..o0 + B` of one padded sample `xp`: the span in blocks of `L`
        /// values, each accumulated for the `B` channels over every tap in registers (one load
        /// of the input feeds `B` multiply-adds) and stored once in the `B` wide planes (values
        /// past the span are junk, never read).
        #[inline(always)]
        fn channels<const B: usize, const L: usize>(
            g: &ConvGeom,
            xp: &[f32],
            w: &[f32],
            b: &[f32],
            o0: usize,
            wide: &mut [f32],
        ) {
            let (hp, wp, span) = dims(g);
            let plane = plane_len(g);
            let taps = g.rows();
            let ws: [&[f32]; B] = array(|j| &w[(o0 + j) * taps..][..taps]);
            for start in (0..span).step_by(L) {
                let mut acc: [[f32; L]; B] = array(|j| [b[o0 + j]; L]);
                // Tap t = (c, u, v) reads the span shifted by c·Hp·Wp + u·Wp + v.
                let mut t = 0;
                for c in 0..g.channels {
                    for u in 0..g.kernel {
                        // (The padded sample has LANES ≥ L values of slack past the last row.)
                        let row = &xp[c * hp * wp + u * wp + start..][..g.kernel - 1 + L];
                        kernel_row(&mut acc, row, &ws, t, false, madd);
                        t += g.kernel;
                    }
                }
                for (j, a) in acc.iter().enumerate() {
                    wide[j * plane + start..][..L].copy_from_slice(a);
                }
            }
        }

        let oc = b.len();
        check(g, n, x.len(), w.len(), oc, y.len(), scratch.len());
        let (_, wp, _) = dims(g);
        let plane = plane_len(g);
        let (xp, wide) = scratch.split_at_mut(padded_len(g));
        let lanes = forward_lanes(g);
        // Channels per register block: as many as the accumulator registers hold.
        let block = ACC / lanes;
        let wide = &mut wide[..block * plane];
        for (xs, ys) in x.chunks_exact(g.input_size()).zip(y.chunks_exact_mut(oc * g.pixels())) {
            // Always the padded copy: its slack lets every block be whole.
            pad_sample(g, xs, xp);
            // Blocks of `block` channels, the last one (of fewer) with its own instance.
            for o0 in (0..oc).step_by(block) {
                let count = block.min(oc - o0);
                if lanes == SHORT_LANES {
                    in_block!(count, ACC / SHORT_LANES, channels::<SHORT_LANES>(g, xp, w, b, o0, wide));
                } else {
                    in_block!(count, ACC / LANES, channels::<LANES>(g, xp, w, b, o0, wide));
                }
                for (j, yo) in ys.chunks_exact_mut(g.pixels()).skip(o0).take(count).enumerate() {
                    for (dst, src) in yo.chunks_exact_mut(g.out_w).zip(wide[j * plane..].chunks(wp)) {
                        copy_short(dst, &src[..g.out_w]);
                    }
                }
            }
        }
    }
}

multiversion! {
    /// The weight and bias gradients of [`forward`] given `dy` (`n·OC·OH·OW` values):
    /// `dw[o, c, u, v] = Σ_{s,i,j} dy[s, o, i, j] · x[s, c, i + u − pad_top, j + v − pad_left]`,
    /// `db[o] = Σ_{s,i,j} dy[s, o, i, j]`; both overwritten.
    ///
    /// # Panics
    /// If the stride is not 1 or a slice length disagrees with `g` and `n` (a caller bug).
    pub fn weight_grad(
        g: &ConvGeom,
        n: usize,
        x: &[f32],
        dy: &[f32],
        dw: &mut [f32],
        db: &mut [f32],
        scratch: &mut [f32],
    ) {
        /// Adds one padded sample's share to the weight gradients of `B` output channels whose
        /// `dy` planes are laid out wide in `wide` (`plane` apart): one dot product over the span
        /// per channel and tap, [`TAPS`] taps at a time (the last block with its own instance).
        #[inline(always)]
        fn channels<const B: usize>(g: &ConvGeom, xp: &[f32], wide: &[f32], dw: &mut [f32]) {
            let taps = g.rows();
            for t0 in (0..taps).step_by(TAPS) {
                match taps - t0 {
                    1 => tap_block::<B, 1>(g, xp, wide, t0, dw),
                    2 => tap_block::<B, 2>(g, xp, wide, t0, dw),
                    3 => tap_block::<B, 3>(g, xp, wide, t0, dw),
                    _ => tap_block::<B, TAPS>(g, xp, wide, t0, dw),
                }
            }
        }

        /// The dot products of `B` channels' wide `dy` planes with taps `t0..t0 + T` of the
        /// padded sample, added to `dw[j·taps + t0 + i]` for channel `j` and tap `t0 + i`. The
        /// `B × T` accumulators of [`WG_LANES`] values stay in registers over the span: each
        /// block loads `T` input and `B` gradient vectors for `B·T` multiply-adds.
        #[inline(always)]
        fn tap_block<const B: usize, const T: usize>(
            g: &ConvGeom,
            xp: &[f32],
            wide: &[f32],
            t0: usize,
            dw: &mut [f32],
        ) {
            let ((hp, wp, span), k) = (dims(g), g.kernel);
            // Tap t = (c, u, v) reads the padded sample from c·Hp·Wp + u·Wp + v.
            let offsets: [usize; T] = array(|i| {
                let t = t0 + i;
                (t / (k * k)) * hp * wp + (t / k % k) * wp + t % k
            });
            let (plane, blocks, taps) = (plane_len(g), span.div_ceil(WG_LANES), g.rows());
            // Whole blocks, sliced to `blocks` up front so the loop has no bounds checks, and all
            // loads before the multiply-adds: with either a bounds check in the loop or the loads
            // interleaved (iterator zips), the compiler stored every accumulator on each pass.
            let xs: [&[[f32; WG_LANES]]; T] =
                array(|t| &xp[offsets[t]..].as_chunks().0[..blocks]);
            let ds: [&[[f32; WG_LANES]]; B] =
                array(|j| &wide[j * plane..].as_chunks().0[..blocks]);
            let mut acc = [[[0.0f32; WG_LANES]; T]; B];
            for i in 0..blocks {
                let x: [[f32; WG_LANES]; T] = array(|t| xs[t][i]);
                let d: [[f32; WG_LANES]; B] = array(|j| ds[j][i]);
                for j in 0..B {
                    for t in 0..T {
                        for l in 0..WG_LANES {
                            acc[j][t][l] = madd(x[t][l], d[j][l], acc[j][t][l]);
                        }
                    }
                }
            }
            for (j, aj) in acc.iter().enumerate() {
                for (t, a) in aj.iter().enumerate() {
                    dw[j * taps + t0 + t] += fold(*a);
                }
            }
        }

        let oc = db.len();
        check(g, n, x.len(), dw.len(), oc, dy.len(), scratch.len());
        let (_, wp, _) = dims(g);
        let plane = plane_len(g);
        let (xp, wide) = scratch.split_at_mut(padded_len(g));
        let wide = &mut wide[..OB * plane];
        // Past the wide rows the planes hold zeros, so junk input values there add nothing.
        for p in wide.chunks_exact_mut(plane) {
            p[g.out_h * wp..].fill(0.0);
        }
        dw.fill(0.0);
        db.fill(0.0);
        let taps = g.rows();
        for (xs, ds) in x.chunks_exact(g.input_size()).zip(dy.chunks_exact(oc * g.pixels())) {
            // Always the padded copy: its slack lets every block be whole.
            pad_sample(g, xs, xp);
            for o0 in (0..oc).step_by(OB) {
                let count = OB.min(oc - o0);
                for (j, d) in ds.chunks_exact(g.pixels()).skip(o0).take(count).enumerate() {
                    db[o0 + j] += lane_sum(d);
                    widen(g, d, &mut wide[j * plane..][..g.out_h * wp]);
                }
                let dw = &mut dw[o0 * taps..];
                in_block!(count, OB, channels(g, xp, wide, dw));
            }
        }
    }
}

multiversion! {
    /// The input gradient of [`forward`] given `dy` (`n·OC·OH·OW` values):
    /// `dx[s, c, y, x] = Σ_{o,u,v} w[o, c, u, v] · dy[s, o, y − u + pad_top, x − v + pad_left]`
    /// (terms outside `dy` dropped); `dx` (`n·C·H·W` values) is overwritten.
    ///
    /// # Panics
    /// If the stride is not 1 or a slice length disagrees with `g` and `n` (a caller bug).
    pub fn input_grad(
        g: &ConvGeom,
        n: usize,
        dy: &[f32],
        w: &[f32],
        oc: usize,
        dx: &mut [f32],
        scratch: &mut [f32],
    ) {
        /// Adds output channel `o`'s share to the padded input-gradient planes of channels
        /// `c0..c0 + B` (`stride` apart in `dxp`): each block of [`LANES`] positions is held in
        /// registers for the `B` channels over every tap, one load of the shifted `dy` feeding
        /// `B` multiply-adds. `d` is the wide `dy` plane after [`front`] zeros.
        #[inline(always)]
        fn channels<const B: usize, const L: usize>(
            g: &ConvGeom,
            d: &[f32],
            w: &[f32],
            o: usize,
            c0: usize,
            dxp: &mut [f32],
        ) {
            let (hp, wp, _) = dims(g);
            let (stride, front, kk) = (padded_plane(g), front(g), g.kernel * g.kernel);
            let ws: [&[f32]; B] = array(|j| &w[(o * g.channels + c0 + j) * kk..][..kk]);
            for start in (0..hp * wp).step_by(L) {
                let mut acc: [[f32; L]; B] = array(|j| {
                    *dxp[(c0 + j) * stride + start..]
                        .first_chunk::<L>()
                        .expect("invariant: planes are whole blocks")
                });
                let mut t = 0;
                for u in 0..g.kernel {
                    // Taps (u, 0..K) read d[front + start − u·Wp − v ..], v = 0..K (the wide
                    // plane has a block of slack).
                    let row = &d[front + start - u * wp - (g.kernel - 1)..][..g.kernel - 1 + L];
                    kernel_row(&mut acc, row, &ws, t, true, madd);
                    t += g.kernel;
                }
                for (j, a) in acc.iter().enumerate() {
                    dxp[(c0 + j) * stride + start..][..L].copy_from_slice(a);
                }
            }
        }

        check(g, n, dx.len(), w.len(), oc, dy.len(), scratch.len());
        let (_, wp, _) = dims(g);
        let (stride, front) = (padded_plane(g), front(g));
        let (dxp, wide) = scratch.split_at_mut(padded_len(g));
        let dxp = &mut dxp[..g.channels * stride];
        let d = &mut wide[..front + stride];
        // Zeros before and after the wide plane; `widen` rewrites the middle for every channel.
        d.fill(0.0);
        for (dxs, ds) in dx.chunks_exact_mut(g.input_size()).zip(dy.chunks_exact(oc * g.pixels())) {
            dxp.fill(0.0);
            for (o, dyo) in ds.chunks_exact(g.pixels()).enumerate() {
                widen(g, dyo, &mut d[front..front + g.out_h * wp]);
                for c0 in (0..g.channels).step_by(OB) {
                    in_block!(OB.min(g.channels - c0), OB, channels::<LANES>(g, d, w, o, c0, dxp));
                }
            }
            // Crop the padded planes back to the input.
            for (dc, pc) in dxs.chunks_exact_mut(g.height * g.width).zip(dxp.chunks_exact(stride)) {
                for (r, row) in dc.chunks_exact_mut(g.width).enumerate() {
                    let at = (r + g.pad_top) * wp + g.pad_left;
                    copy_short(row, &pc[at..at + g.width]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Pad;
    use rand::{Rng, SeedableRng};

    /// Input value at `(s, c, iy, ix)` of the padded image (zero outside), in f64.
    fn at(g: &ConvGeom, x: &[f32], s: usize, c: usize, iy: isize, ix: isize) -> f64 {
        if iy < 0 || ix < 0 || iy >= g.height as isize || ix >= g.width as isize {
            return 0.0;
        }
        x[s * g.input_size() + (c * g.height + iy as usize) * g.width + ix as usize] as f64
    }

    /// Forward, weight, bias and input gradients straight from the formulas, in f64.
    #[allow(clippy::type_complexity)]
    fn naive(
        g: &ConvGeom,
        n: usize,
        oc: usize,
        x: &[f32],
        w: &[f32],
        b: &[f32],
        dy: &[f32],
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
        let (k, p) = (g.kernel, g.pixels());
        let mut y = vec![0.0; n * oc * p];
        let mut dw = vec![0.0; oc * g.rows()];
        let mut db = vec![0.0; oc];
        let mut dx = vec![0.0; n * g.input_size()];
        for s in 0..n {
            for o in 0..oc {
                for i in 0..g.out_h {
                    for j in 0..g.out_w {
                        let yi = (s * oc + o) * p + i * g.out_w + j;
                        let mut acc = b[o] as f64;
                        db[o] += dy[yi] as f64;
                        for c in 0..g.channels {
                            for u in 0..k {
                                for v in 0..k {
                                    let iy = (i + u) as isize - g.pad_top as isize;
                                    let ix = (j + v) as isize - g.pad_left as isize;
                                    let wi = (o * g.channels + c) * k * k + u * k + v;
                                    let xv = at(g, x, s, c, iy, ix);
                                    acc += w[wi] as f64 * xv;
                                    dw[wi] += dy[yi] as f64 * xv;
                                    let inside = (0..g.height as isize).contains(&iy)
                                        && (0..g.width as isize).contains(&ix);
                                    if inside {
                                        let xi = s * g.input_size()
                                            + (c * g.height + iy as usize) * g.width
                                            + ix as usize;
                                        dx[xi] += w[wi] as f64 * dy[yi] as f64;
                                    }
                                }
                            }
                        }
                        y[yi] = acc;
                    }
                }
            }
        }
        (y, dw, db, dx)
    }

    fn close(what: &str, got: &[f32], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
            assert!(
                (a as f64 - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "{what}[{i}]: {a} vs {b}"
            );
        }
    }

    #[test]
    fn all_three_directions_match_the_formulas_with_and_without_padding() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        // (channels, height, width, kernel, padding, out channels, batch)
        let cases = [
            (2, 5, 4, 3, Pad::Valid, 3, 2),
            (3, 6, 5, 2, Pad::Same, 2, 3), // odd total padding: the extra row/column at the bottom/right
            (1, 7, 9, 5, Pad::Explicit(2), 4, 2),
            (3, 12, 11, 5, Pad::Valid, 6, 2), // spans longer than the accumulator lanes
            (2, 3, 3, 3, Pad::Explicit(1), 1, 1),
            // Channel counts that cut into register blocks of 6 + 1, 4 and 6 + 4 (AVX-512; the
            // forward pass in blocks of SHORT_LANES: 7, 4, 8 + 2).
            (7, 6, 5, 3, Pad::Explicit(1), 7, 2),
            (4, 5, 5, 2, Pad::Valid, 4, 1),
            (10, 5, 6, 3, Pad::Same, 10, 2),
            // The forward pass in blocks of LANES (span 118: 6 + 6 + 1 channels), and LeNet-5's
            // conv2 in blocks of SHORT_LANES (span 136: 8 + 8).
            (2, 12, 12, 3, Pad::Valid, 13, 2),
            (6, 14, 14, 5, Pad::Valid, 16, 2),
        ];
        // Every variant: the portable one and those this CPU supports.
        crate::kernels::for_each_variant(|variant| check_cases(&mut rng, &cases, variant));
    }

    /// Runs the three directions on `cases` and compares them with [`naive`].
    #[allow(clippy::type_complexity)]
    fn check_cases(
        rng: &mut rand::rngs::StdRng,
        cases: &[(usize, usize, usize, usize, Pad, usize, usize)],
        variant: &str,
    ) {
        for &(c, h, w, k, pad, oc, n) in cases {
            let g = ConvGeom::new(c, h, w, k, 1, pad).expect("valid geometry");
            let mut random = |len: usize| -> Vec<f32> {
                (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
            };
            let x = random(n * g.input_size());
            let wt = random(oc * g.rows());
            let b = random(oc);
            let dy = random(n * oc * g.pixels());
            let (y_want, dw_want, db_want, dx_want) = naive(&g, n, oc, &x, &wt, &b, &dy);
            let mut scratch = vec![f32::NAN; scratch_len(&g)];
            let mut y = vec![f32::NAN; n * oc * g.pixels()];
            forward(&g, n, &x, &wt, &b, &mut y, &mut scratch);
            close(&format!("{variant} y"), &y, &y_want);
            let (mut dw, mut db) = (vec![f32::NAN; wt.len()], vec![f32::NAN; oc]);
            weight_grad(&g, n, &x, &dy, &mut dw, &mut db, &mut scratch);
            close(&format!("{variant} dw"), &dw, &dw_want);
            close(&format!("{variant} db"), &db, &db_want);
            let mut dx = vec![f32::NAN; x.len()];
            input_grad(&g, n, &dy, &wt, oc, &mut dx, &mut scratch);
            close(&format!("{variant} dx"), &dx, &dx_want);
        }
    }

    #[test]
    #[should_panic(expected = "stride must be 1")]
    fn strided_geometries_are_rejected() {
        let g = ConvGeom::new(1, 4, 4, 2, 2, Pad::Valid).expect("valid geometry");
        forward(
            &g,
            1,
            &[0.0; 16],
            &[0.0; 4],
            &[0.0],
            &mut [0.0; 4],
            &mut [0.0; 64],
        );
    }
}
