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

use crate::kernels::im2col::ConvGeom;

/// Independent accumulator lanes of the dot products (enough to hide the FMA latency).
const LANES: usize = 64;

/// Defines a public function whose body is compiled three times (AVX-512F, AVX2+FMA, portable)
/// and dispatched on the CPU's features at run time. In the body, `madd(a, b, c)` is `a·b + c`,
/// fused on the FMA paths.
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
                    $body
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: AVX-512F (and with it AVX2 and FMA) detected on the line above.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: AVX2 and FMA detected on the lines above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            #[inline(always)]
            fn madd(a: f32, b: f32, c: f32) -> f32 {
                a * b + c
            }
            $body
        }
    };
}

/// Padded plane `(Hp, Wp)` and the span length `(OH − 1)·Wp + OW` of one tap.
fn dims(g: &ConvGeom) -> (usize, usize, usize) {
    let (hp, wp) = (g.out_h + g.kernel - 1, g.out_w + g.kernel - 1);
    (hp, wp, (g.out_h - 1) * wp + g.out_w)
}

/// Values of the padded sample at the start of the scratch: the planes plus [`LANES`] values of
/// slack, so the forward pass can read whole blocks of `LANES` past the last tap's span.
fn padded_len(g: &ConvGeom) -> usize {
    let (hp, wp, _) = dims(g);
    g.channels * hp * wp + LANES
}

/// Values of scratch space the functions of this module need for geometry `g`.
pub fn scratch_len(g: &ConvGeom) -> usize {
    let (_, wp, span) = dims(g);
    padded_len(g) + (g.out_h * wp).max(span.div_ceil(LANES) * LANES)
}

/// Checks the stride and the slice lengths shared by the three directions.
fn check(g: &ConvGeom, n: usize, x: usize, w: usize, oc: usize, y: usize, scratch: usize) {
    assert_eq!(g.stride, 1, "conv_direct: stride must be 1");
    assert_eq!(x, n * g.input_size(), "conv_direct: input length");
    assert_eq!(w, oc * g.rows(), "conv_direct: weight length");
    assert_eq!(y, n * oc * g.pixels(), "conv_direct: output length");
    assert!(scratch >= scratch_len(g), "conv_direct: scratch too short");
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
            pc[at..at + g.width].copy_from_slice(row);
        }
    }
}

/// Lays one output channel `[OH, OW]` out as wide rows of `Wp` values, zeros in the extra columns.
fn widen(g: &ConvGeom, d: &[f32], wide: &mut [f32]) {
    let (_, wp, _) = dims(g);
    for (src, dst) in d.chunks_exact(g.out_w).zip(wide.chunks_mut(wp)) {
        dst[..g.out_w].copy_from_slice(src);
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
        let oc = b.len();
        check(g, n, x.len(), w.len(), oc, y.len(), scratch.len());
        let (hp, wp, span) = dims(g);
        let (xp, wide) = scratch.split_at_mut(padded_len(g));
        let wide = &mut wide[..span.div_ceil(LANES) * LANES];
        for (xs, ys) in x.chunks_exact(g.input_size()).zip(y.chunks_exact_mut(oc * g.pixels())) {
            // Always the padded copy: its slack lets every block below be whole.
            pad_sample(g, xs, xp);
            for ((yo, wo), &bo) in ys.chunks_exact_mut(g.pixels()).zip(w.chunks_exact(g.rows())).zip(b) {
                // The span in blocks of LANES values, each accumulated over every tap in
                // registers and stored once (values past the span are junk, never read).
                for (start, block) in (0..span).step_by(LANES).zip(wide.chunks_exact_mut(LANES)) {
                    let mut acc = [bo; LANES];
                    for (c, wc) in wo.chunks_exact(g.kernel * g.kernel).enumerate() {
                        for (t, &wv) in wc.iter().enumerate() {
                            let at = c * hp * wp + (t / g.kernel) * wp + t % g.kernel + start;
                            let src = xp[at..]
                                .first_chunk::<LANES>()
                                .expect("invariant: the padded sample has LANES values of slack");
                            for (a, &xv) in acc.iter_mut().zip(src) {
                                *a = madd(wv, xv, *a);
                            }
                        }
                    }
                    block.copy_from_slice(&acc);
                }
                for (dst, src) in yo.chunks_exact_mut(g.out_w).zip(wide.chunks(wp)) {
                    dst.copy_from_slice(&src[..g.out_w]);
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
        let oc = db.len();
        check(g, n, x.len(), dw.len(), oc, dy.len(), scratch.len());
        let (hp, wp, span) = dims(g);
        let (xp, wide) = scratch.split_at_mut(padded_len(g));
        let wide = &mut wide[..span.div_ceil(LANES) * LANES];
        // Past the wide rows the blocks hold zeros, so junk input values there add nothing.
        wide[g.out_h * wp..].fill(0.0);
        dw.fill(0.0);
        db.fill(0.0);
        for (xs, ds) in x.chunks_exact(g.input_size()).zip(dy.chunks_exact(oc * g.pixels())) {
            // Always the padded copy: its slack lets every block below be whole.
            pad_sample(g, xs, xp);
            for ((d, dwo), dbo) in ds.chunks_exact(g.pixels()).zip(dw.chunks_exact_mut(g.rows())).zip(db.iter_mut()) {
                *dbo += d.iter().sum::<f32>();
                widen(g, d, &mut wide[..g.out_h * wp]);
                for (c, dwc) in dwo.chunks_exact_mut(g.kernel * g.kernel).enumerate() {
                    for (t, dwv) in dwc.iter_mut().enumerate() {
                        let at = c * hp * wp + (t / g.kernel) * wp + t % g.kernel;
                        let mut acc = [0.0f32; LANES];
                        for (i, dblock) in wide.chunks_exact(LANES).enumerate() {
                            let xblock = xp[at + i * LANES..]
                                .first_chunk::<LANES>()
                                .expect("invariant: the padded sample has LANES values of slack");
                            for ((a, &xv), &dv) in acc.iter_mut().zip(xblock).zip(dblock) {
                                *a = madd(xv, dv, *a);
                            }
                        }
                        *dwv += acc.iter().sum::<f32>();
                    }
                }
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
        check(g, n, dx.len(), w.len(), oc, dy.len(), scratch.len());
        let (hp, wp, span) = dims(g);
        let (dxp, wide) = scratch.split_at_mut(padded_len(g));
        let dxp = &mut dxp[..g.channels * hp * wp];
        let wide = &mut wide[..g.out_h * wp];
        for (dxs, ds) in dx.chunks_exact_mut(g.input_size()).zip(dy.chunks_exact(oc * g.pixels())) {
            dxp.fill(0.0);
            for (d, wo) in ds.chunks_exact(g.pixels()).zip(w.chunks_exact(g.rows())) {
                widen(g, d, wide);
                let d = &wide[..span];
                for (pc, wc) in dxp.chunks_exact_mut(hp * wp).zip(wo.chunks_exact(g.kernel * g.kernel)) {
                    for (t, &wv) in wc.iter().enumerate() {
                        let dst = &mut pc[(t / g.kernel) * wp + t % g.kernel..][..span];
                        for (a, &dv) in dst.iter_mut().zip(d) {
                            *a = madd(wv, dv, *a);
                        }
                    }
                }
            }
            // Crop the padded planes back to the input.
            for (dc, pc) in dxs.chunks_exact_mut(g.height * g.width).zip(dxp.chunks_exact(hp * wp)) {
                for (r, row) in dc.chunks_exact_mut(g.width).enumerate() {
                    let at = (r + g.pad_top) * wp + g.pad_left;
                    row.copy_from_slice(&pc[at..at + g.width]);
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
        ];
        for (c, h, w, k, pad, oc, n) in cases {
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
            close("y", &y, &y_want);
            let (mut dw, mut db) = (vec![f32::NAN; wt.len()], vec![f32::NAN; oc]);
            weight_grad(&g, n, &x, &dy, &mut dw, &mut db, &mut scratch);
            close("dw", &dw, &dw_want);
            close("db", &db, &db_want);
            let mut dx = vec![f32::NAN; x.len()];
            input_grad(&g, n, &dy, &wt, oc, &mut dx, &mut scratch);
            close("dx", &dx, &dx_want);
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
