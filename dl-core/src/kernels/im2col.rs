//! `im2col` and its adjoint `col2im`: the index arithmetic that lowers a 2-D convolution to GEMM.
//!
//! For one `[C, H, W]` sample and a `K×K` window with stride `S` and padding (`pad_top`,
//! `pad_left`; bottom/right padding is implied by the output size), `im2col` writes the matrix
//!
//! `col[(c·K + ki)·K + kj, oy·OW + ox] = x[c, oy·S + ki − pad_top, ox·S + kj − pad_left]`
//!
//! (zero where the index falls in the padding), with `C·K·K` rows and `OH·OW` columns. A
//! convolution is then `W[OUT_C, C·K·K] · col`. The columns of a sample can start at any `offset`
//! inside rows of any length `ld`, so a whole batch can share one matrix (sample `i` at
//! `offset = i·OH·OW`, `ld = N·OH·OW`) and one GEMM covers the batch.
//!
//! `col2im` is the adjoint (transpose) of `im2col`: it sums every column entry back onto the input
//! pixel it was read from, which turns the gradient of `col` into the gradient of `x`.
//!
//! [`BatchColumns`] is a whole batch's matrix without storing it: the GEMM packs its panels
//! straight from the images (the convolution's forward pass), or it writes the matrix row by
//! row (the backward pass, which needs it for two products).
//!
//! Plain safe slice code: no `unsafe`.
//!
//! ```
//! use dl_core::kernels::im2col::{im2col, ConvGeom};
//! use dl_core::shape::Pad;
//! // One 3×3 channel, 2×2 window, stride 1, no padding: 4 rows (window offsets) × 4 columns (outputs).
//! let g = ConvGeom::new(1, 3, 3, 2, 1, Pad::Valid).unwrap();
//! let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
//! let mut col = vec![0.0; g.rows() * g.pixels()];
//! im2col(&g, &x, &mut col, g.pixels(), 0);
//! assert_eq!(&col[..4], &[1.0, 2.0, 4.0, 5.0]); // top-left tap of each window
//! assert_eq!(&col[12..], &[5.0, 6.0, 8.0, 9.0]); // bottom-right tap
//! ```

use super::aligned::AlignedVec;
use super::{BATCH_PARTS, run_batch_parts};
use crate::shape::{Pad, pads, window_out};
use std::cell::RefCell;

/// The geometry of a square-window operation (convolution, pooling) over one `[C, H, W]` sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    /// Input channels `C`.
    pub channels: usize,
    /// Input height `H`.
    pub height: usize,
    /// Input width `W`.
    pub width: usize,
    /// Window side `K`.
    pub kernel: usize,
    /// Stride `S` (at least 1).
    pub stride: usize,
    /// Zero rows above the input.
    pub pad_top: usize,
    /// Zero columns left of the input.
    pub pad_left: usize,
    /// Output height `OH`.
    pub out_h: usize,
    /// Output width `OW`.
    pub out_w: usize,
}

impl ConvGeom {
    /// The geometry given by the shape rules of [`crate::shape`], or `None` when the window does
    /// not fit the padded input or the stride is zero.
    ///
    /// ```
    /// use dl_core::kernels::im2col::ConvGeom;
    /// use dl_core::shape::Pad;
    /// let g = ConvGeom::new(3, 13, 13, 5, 4, Pad::Same).unwrap();
    /// assert_eq!((g.pad_top, g.pad_left, g.out_h, g.out_w), (2, 2, 4, 4));
    /// assert_eq!(ConvGeom::new(1, 2, 2, 3, 1, Pad::Valid), None);
    /// ```
    pub const fn new(
        channels: usize,
        height: usize,
        width: usize,
        kernel: usize,
        stride: usize,
        pad: Pad,
    ) -> Option<Self> {
        let (Some(out_h), Some(out_w)) = (
            window_out(height, kernel, stride, pad),
            window_out(width, kernel, stride, pad),
        ) else {
            return None;
        };
        Some(ConvGeom {
            channels,
            height,
            width,
            kernel,
            stride,
            pad_top: pads(height, kernel, stride, pad).0,
            pad_left: pads(width, kernel, stride, pad).0,
            out_h,
            out_w,
        })
    }

    /// Rows of the column matrix: `C·K·K`.
    pub const fn rows(&self) -> usize {
        self.channels * self.kernel * self.kernel
    }

    /// Output positions per channel: `OH·OW` (the columns of one sample).
    pub const fn pixels(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Values in one input sample: `C·H·W`.
    pub const fn input_size(&self) -> usize {
        self.channels * self.height * self.width
    }
}

/// `dst.copy_from_slice(src)` for the short rows of small feature maps: rows of exactly 4, 8 or
/// 16 values are one fixed-size move, other rows of 4 to 32 values two overlapping fixed-size
/// blocks and shorter ones a loop, inline, instead of one `memcpy` call each (which dominated
/// `im2col` on LeNet's 10-wide rows, and was 4% of a LeNet-5 training step in the direct
/// kernels' row copies, bench/NOTES.md section 45).
#[inline(always)]
pub(crate) fn copy_short(dst: &mut [f32], src: &[f32]) {
    /// Copies the first and the last `N` values (together: all of them when `N ≤ len ≤ 2N`).
    fn two_blocks<const N: usize>(dst: &mut [f32], src: &[f32]) {
        let len = src.len();
        let (Some(a), Some(b)) = (src.first_chunk::<N>(), src.last_chunk::<N>()) else {
            unreachable!("invariant: called with at least N values")
        };
        dst[..N].copy_from_slice(a);
        dst[len - N..].copy_from_slice(b);
    }
    /// Copies exactly `N` values.
    fn exact<const N: usize>(dst: &mut [f32], src: &[f32]) {
        let (Some(d), Some(s)) = (dst.first_chunk_mut::<N>(), src.first_chunk::<N>()) else {
            unreachable!("invariant: called with exactly N values")
        };
        *d = *s;
    }
    debug_assert_eq!(dst.len(), src.len());
    match src.len() {
        4 => exact::<4>(dst, src),
        8 => exact::<8>(dst, src),
        16 => exact::<16>(dst, src),
        17..=32 => two_blocks::<16>(dst, src),
        9..=15 => two_blocks::<8>(dst, src),
        5..8 => two_blocks::<4>(dst, src),
        1..4 => {
            for (d, v) in dst.iter_mut().zip(src) {
                *d = *v;
            }
        }
        _ => dst.copy_from_slice(src),
    }
}

/// `dst += src` elementwise; rows of exactly 4, 8 or 16 values as one fixed-size block (the
/// small maps of CIFAR AlexNet's last convolutions), others in a plain loop.
#[inline(always)]
fn add_short(dst: &mut [f32], src: &[f32]) {
    /// Adds exactly `N` values.
    fn exact<const N: usize>(dst: &mut [f32], src: &[f32]) {
        let (Some(d), Some(s)) = (dst.first_chunk_mut::<N>(), src.first_chunk::<N>()) else {
            unreachable!("invariant: called with exactly N values")
        };
        for (d, v) in d.iter_mut().zip(s) {
            *d += *v;
        }
    }
    debug_assert_eq!(dst.len(), src.len());
    match src.len() {
        4 => exact::<4>(dst, src),
        8 => exact::<8>(dst, src),
        16 => exact::<16>(dst, src),
        _ => {
            for (d, v) in dst.iter_mut().zip(src) {
                *d += *v;
            }
        }
    }
}

fn check_args(g: &ConvGeom, x_len: usize, col_len: usize, ld: usize, offset: usize) {
    assert!(g.stride > 0, "im2col: stride must be positive");
    assert_eq!(x_len, g.input_size(), "im2col: sample length");
    assert!(offset + g.pixels() <= ld, "im2col: columns exceed the row");
    assert!(
        g.rows() == 0 || col_len >= (g.rows() - 1) * ld + offset + g.pixels(),
        "im2col: column matrix too short"
    );
}

/// The part of a channel plane the windows read: `((OH−1)·S + K) × ((OW−1)·S + K)` values of
/// the zero-padded plane, starting at its top-left corner.
fn window_dims(g: &ConvGeom) -> (usize, usize) {
    (
        (g.out_h - 1) * g.stride + g.kernel,
        (g.out_w - 1) * g.stride + g.kernel,
    )
}

/// Whether the windows read only inside the input (no padding is ever read), so a channel
/// plane can be used in place, `W` values per row.
fn in_place(g: &ConvGeom) -> bool {
    let (hp, wp) = window_dims(g);
    g.pad_top == 0 && g.pad_left == 0 && hp <= g.height && wp <= g.width
}

/// The input rows and columns that land inside the `hp × wp` padded plane.
fn inside(g: &ConvGeom, (hp, wp): (usize, usize)) -> (usize, usize) {
    (
        g.height.min(hp.saturating_sub(g.pad_top)),
        g.width.min(wp.saturating_sub(g.pad_left)),
    )
}

thread_local! {
    /// One zero-padded channel plane (see [`window_dims`]), grown to the largest seen and reused.
    static PLANE: RefCell<AlignedVec> = const { RefCell::new(AlignedVec::new()) };
}

/// Runs `f(plane)` on this thread's padded-plane scratch of exactly `len` values (allocates
/// only when it never held that many).
fn with_plane<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    PLANE.with_borrow_mut(|p| f(p.at_least(len)))
}

/// Writes the column matrix of sample `x` (`C·H·W` values) into `col`: row `r` of the matrix
/// occupies `col[r·ld + offset ..][.. OH·OW]`. Other entries of `col` are left untouched.
///
/// Each channel is read from a zero-padded copy of its plane (or in place when no window
/// touches the padding), so every output row of every tap is one branch-free copy of `OW`
/// values (strided by `S`).
///
/// # Panics
/// If `x` is not one sample long or `col` cannot hold the rows (a caller bug).
pub fn im2col(g: &ConvGeom, x: &[f32], col: &mut [f32], ld: usize, offset: usize) {
    check_args(g, x.len(), col.len(), ld, offset);
    if g.pixels() == 0 {
        return;
    }
    let plane = g.height * g.width;
    if in_place(g) {
        for (c, xc) in x.chunks_exact(plane).enumerate() {
            gather_channel(g, c, xc, g.width, col, ld, offset);
        }
        return;
    }
    let (hp, wp) = window_dims(g);
    with_plane(hp * wp, |xp| {
        xp.fill(0.0);
        for (c, xc) in x.chunks_exact(plane).enumerate() {
            pad_channel(g, xc, xp);
            gather_channel(g, c, xp, wp, col, ld, offset);
        }
    });
}

/// Copies the part of channel plane `xc` that the windows read into the zero-padded plane `xp`
/// (`hp × wp`, see [`window_dims`]), whose padding must already be zero.
fn pad_channel(g: &ConvGeom, xc: &[f32], xp: &mut [f32]) {
    let (hp, wp) = window_dims(g);
    let (rows, cols) = inside(g, (hp, wp));
    if cols > 0 {
        for (r, src) in xc.chunks_exact(g.width).take(rows).enumerate() {
            let at = (r + g.pad_top) * wp + g.pad_left;
            copy_short(&mut xp[at..at + cols], &src[..cols]);
        }
    }
}

/// The column matrix of a batch of samples, `[C·K·K, N·OH·OW]` with sample `i` in the columns
/// from `i·OH·OW` (what [`im2col`] writes with `ld = N·OH·OW`, `offset = i·OH·OW`), never
/// stored: [`gemm_im2col`](crate::kernels::gemm::gemm_im2col) packs its panels straight from the
/// images, so the matrix (`K·K` times the input) is neither written nor read back. Building a
/// batch's matrix scatters every sample over all its rows, which cost as much as the GEMM itself
/// on CIFAR AlexNet's 8 × 8 and 4 × 4 maps (bench/NOTES.md, section 16).
///
/// ```
/// use dl_core::kernels::aligned::AlignedVec;
/// use dl_core::kernels::gemm::{gemm, gemm_im2col, Trans};
/// use dl_core::kernels::im2col::{im2col, BatchColumns, ConvGeom};
/// use dl_core::shape::Pad;
/// // Two 1×3×3 samples, a 2×2 window with padding 1: 4 rows, 2 × 16 columns.
/// let g = ConvGeom::new(1, 3, 3, 2, 1, Pad::Explicit(1)).unwrap();
/// let x: Vec<f32> = (1..=18).map(|v| v as f32).collect();
/// let mut scratch = AlignedVec::new();
/// let cols = BatchColumns::new(&g, &x, &mut scratch);
/// assert_eq!((cols.rows(), cols.cols()), (4, 32));
/// // W · col without the matrix equals W · col with it.
/// let w = [1.0, -2.0, 0.5, 3.0];
/// let mut y = vec![0.0; 32];
/// gemm_im2col(1, 1.0, &w, 4, &cols, 0.0, &mut y, 32);
/// let mut col = vec![0.0; 4 * 32];
/// for (i, xs) in x.chunks_exact(9).enumerate() {
///     im2col(&g, xs, &mut col, 32, i * 16);
/// }
/// let mut want = vec![0.0; 32];
/// gemm(Trans::N, Trans::N, 1, 32, 4, 1.0, &w, 4, &col, 32, 0.0, &mut want, 32);
/// assert_eq!(y, want);
/// ```
#[derive(Clone, Copy)]
pub struct BatchColumns<'a> {
    g: ConvGeom,
    /// The samples as the windows read them, per channel `S × S` phase planes of `hq × wq`
    /// values: phase `(py, px)` holds the zero-padded plane's `[i·S + py, j·S + px]` at
    /// `[i, j]`, so that every output-row run of a tap is contiguous whatever the stride. With
    /// stride 1 that is the zero-padded plane itself, or the input when no window reads
    /// padding (read in place).
    data: &'a [f32],
    hq: usize,
    wq: usize,
    samples: usize,
}

impl<'a> BatchColumns<'a> {
    /// The column matrix of the samples in `x` (whole samples of `C·H·W` values). When the
    /// windows read padding or the stride exceeds 1, the samples are first copied into
    /// zero-padded phase planes in `scratch` (grown when too short, never shrunk; the copy is
    /// split over the worker pool by samples); otherwise `x` is read in place.
    ///
    /// # Panics
    /// If `x` is not a whole number of samples (a caller bug).
    pub fn new(g: &ConvGeom, x: &'a [f32], scratch: &'a mut AlignedVec) -> Self {
        assert!(g.stride > 0, "im2col: stride must be positive");
        let size = g.input_size();
        assert!(
            size > 0 && x.len().is_multiple_of(size),
            "im2col: not a whole number of samples"
        );
        let samples = x.len() / size;
        if g.pixels() == 0 || (g.stride == 1 && in_place(g)) {
            return BatchColumns {
                g: *g,
                data: x,
                hq: g.height,
                wq: g.width,
                samples,
            };
        }
        let s = g.stride;
        let (hp, wp) = window_dims(g);
        let (hq, wq) = (hp.div_ceil(s), wp.div_ceil(s));
        let channel = s * s * hq * wq;
        let len = samples * g.channels * channel;
        let padded = scratch.at_least(len);
        // The samples in BATCH_PARTS blocks on the worker pool.
        let chunk = samples.div_ceil(BATCH_PARTS).max(1);
        let parts = x
            .chunks(chunk * size)
            .zip(padded.chunks_mut(chunk * g.channels * channel));
        run_batch_parts(parts, &|(xs, xps): (&[f32], &mut [f32])| {
            xps.fill(0.0);
            for (xc, xp) in xs
                .chunks_exact(g.height * g.width)
                .zip(xps.chunks_exact_mut(channel))
            {
                if s == 1 {
                    pad_channel(g, xc, xp);
                } else {
                    split_phases(g, xc, xp, (hq, wq));
                }
            }
        });
        BatchColumns {
            g: *g,
            data: &scratch[..len],
            hq,
            wq,
            samples,
        }
    }

    /// The columns of samples `first..first + count` alone: the matrix [`BatchColumns::new`]
    /// would give for those samples.
    ///
    /// # Panics
    /// If the samples are not all in the batch.
    pub fn samples(&self, first: usize, count: usize) -> BatchColumns<'a> {
        assert!(
            first + count <= self.samples,
            "im2col: samples outside the batch"
        );
        let len = self.sample_len();
        BatchColumns {
            data: &self.data[first * len..(first + count) * len],
            samples: count,
            ..*self
        }
    }

    /// The offsets in `data` of taps `r0, r0 + 1, …` (output `(0, 0)` of sample 0), see
    /// [`Taps`].
    fn taps(&self, r0: usize) -> Taps {
        let (k, s) = (self.g.kernel, self.g.stride);
        let (ki, kj) = (r0 / k % k, r0 % k);
        Taps {
            k,
            s,
            plane: self.hq * self.wq,
            wq: self.wq,
            c: r0 / (k * k),
            ki: (ki / s, ki % s),
            kj: (kj / s, kj % s),
        }
    }

    /// Values of one sample in `data`.
    fn sample_len(&self) -> usize {
        let s = self.g.stride;
        self.g.channels * s * s * self.hq * self.wq
    }

    /// Rows of the matrix: `C·K·K`.
    pub fn rows(&self) -> usize {
        self.g.rows()
    }

    /// Columns of the matrix: `N·OH·OW`.
    pub fn cols(&self) -> usize {
        self.samples * self.g.pixels()
    }

    /// Packs rows `p0..p0 + kc` and columns `j0..j0 + nc` of the matrix into panels of `nr`
    /// columns, the layout of the GEMM's packed `B`: element `(p, j)` of panel `q` at
    /// `dst[(q·kc + p − p0)·nr + j − j0 − q·nr]`, the columns past `nc` of the last panel zero.
    /// Each panel is filled run by run, a run being the columns of one output row (one short
    /// copy per matrix row and run).
    ///
    /// # Panics
    /// If the block is outside the matrix or `dst` holds fewer than `nc.div_ceil(nr)` panels.
    pub(crate) fn pack(
        &self,
        dst: &mut [f32],
        p0: usize,
        j0: usize,
        kc: usize,
        nc: usize,
        nr: usize,
    ) {
        assert!(
            p0 + kc <= self.rows() && j0 + nc <= self.cols(),
            "im2col: block outside the column matrix"
        );
        let g = &self.g;
        let (ow, pixels, sample_len) = (g.out_w, g.pixels(), self.sample_len());
        let panels = nc.div_ceil(nr);
        assert!(
            dst.len() >= panels * kc * nr,
            "im2col: packing buffer too short"
        );
        for (q, panel) in dst.chunks_exact_mut(kc * nr).take(panels).enumerate() {
            let first = j0 + q * nr;
            let width = nr.min(j0 + nc - first);
            let mut d = 0;
            while d < width {
                let (sample, pixel) = ((first + d) / pixels, (first + d) % pixels);
                let (oy, ox) = (pixel / ow, pixel % ow);
                let len = (ow - ox).min(width - d);
                // The run's first value in tap r is at `start + self.tap(r)`.
                let start = sample * sample_len + oy * self.wq + ox;
                for (tap, row) in self.taps(p0).zip(panel.chunks_exact_mut(nr)) {
                    let src = &self.data[start + tap..];
                    copy_short(&mut row[d..d + len], &src[..len]);
                }
                d += len;
            }
            if width < nr {
                for row in panel.chunks_exact_mut(nr) {
                    row[width..].fill(0.0);
                }
            }
        }
    }

    /// Writes the whole matrix into `col` (row `r` at `col[r·ld..][..self.cols()]`), row by row:
    /// each matrix row is written as one sequential run over the batch, the rows in
    /// [`BATCH_PARTS`] blocks on the worker pool. (Calling [`im2col`]
    /// sample by sample writes a sample into every row at once, `C·K·K` interleaved write
    /// streams that missed the caches: 10% of a LeNet-5 training step, bench/NOTES.md section
    /// 18.)
    ///
    /// # Panics
    /// If `ld < self.cols()` or `col` cannot hold the rows (a caller bug).
    pub fn write(&self, col: &mut [f32], ld: usize) {
        let (g, n) = (&self.g, self.cols());
        assert!(
            ld >= n && (self.rows() == 0 || col.len() >= (self.rows() - 1) * ld + n),
            "im2col: column matrix too short"
        );
        if n == 0 || self.rows() == 0 {
            return;
        }
        let (ow, sample, wq) = (g.out_w, self.sample_len(), self.wq);
        #[cfg(target_arch = "x86_64")]
        let short = ow <= 16 && super::allowed(super::Isa::Avx512);
        // The rows in BATCH_PARTS blocks, on the worker pool (each row depends on nothing else).
        let block = self.rows().div_ceil(BATCH_PARTS);
        let parts = col.chunks_mut(block * ld).enumerate();
        run_batch_parts(parts, &|(part, rows): (usize, &mut [f32])| {
            let first = part * block;
            let count = block.min(self.rows() - first);
            for (tap, row) in self.taps(first).zip(rows.chunks_mut(ld).take(count)) {
                let tap = &self.data[tap..];
                for (i, runs) in row[..n].chunks_exact_mut(g.pixels()).enumerate() {
                    let src = &tap[i * sample..];
                    #[cfg(target_arch = "x86_64")]
                    if short {
                        // SAFETY: the CPU supports AVX-512F; runs of at most 16 values.
                        unsafe { avx512::copy_runs(runs, src, ow, wq) };
                        continue;
                    }
                    for (oy, out) in runs.chunks_exact_mut(ow).enumerate() {
                        copy_short(out, &src[oy * wq..][..ow]);
                    }
                }
            }
        });
    }
}

/// Walks the taps `(c, ki, kj)` of a [`BatchColumns`] in row order, yielding the offset of
/// each one's first value: `((c·S + ki mod S)·S + kj mod S)·hq·wq + (ki div S)·wq + kj div S`,
/// with the quotients and remainders counted up instead of divided per tap. Endless: callers
/// zip it with the rows they fill.
struct Taps {
    k: usize,
    s: usize,
    plane: usize,
    wq: usize,
    c: usize,
    /// `(ki div S, ki mod S)`.
    ki: (usize, usize),
    /// `(kj div S, kj mod S)`.
    kj: (usize, usize),
}

impl Taps {
    /// `(q, r)` one step on (`q·S + r + 1`); `true` when that reaches `K` (and resets to 0).
    fn step((q, r): &mut (usize, usize), s: usize, k: usize) -> bool {
        *r += 1;
        if *r == s {
            *r = 0;
            *q += 1;
        }
        if *q * s + *r == k {
            (*q, *r) = (0, 0);
            return true;
        }
        false
    }
}

impl Iterator for Taps {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let (s, (kiq, kir), (kjq, kjr)) = (self.s, self.ki, self.kj);
        let at = ((self.c * s + kir) * s + kjr) * self.plane + kiq * self.wq + kjq;
        if Self::step(&mut self.kj, s, self.k) && Self::step(&mut self.ki, s, self.k) {
            self.c += 1;
        }
        Some(at)
    }
}

/// Splits channel plane `xc` into the `S × S` phase planes (`hq × wq` each) of its zero-padded
/// plane (see [`BatchColumns`]); `xp` must be zero.
fn split_phases(g: &ConvGeom, xc: &[f32], xp: &mut [f32], (hq, wq): (usize, usize)) {
    let s = g.stride;
    let (hp, wp) = window_dims(g);
    for (y, src) in xc.chunks_exact(g.width).enumerate() {
        let yy = y + g.pad_top;
        if yy >= hp {
            break;
        }
        for px in 0..s {
            let phase = ((yy % s) * s + px) * hq * wq;
            let dst = &mut xp[phase + yy / s * wq..][..wq];
            // Column j of the phase row is padded column j·S + px, input column j·S + px − left.
            for (j, d) in dst.iter_mut().enumerate() {
                let xx = j * s + px;
                if (g.pad_left..wp).contains(&xx)
                    && let Some(&v) = src.get(xx - g.pad_left)
                {
                    *d = v;
                }
            }
        }
    }
}

/// Writes the `K·K` column-matrix rows of channel `c` from its (padded) plane `xp`, `wp` values
/// per row.
fn gather_channel(
    g: &ConvGeom,
    c: usize,
    xp: &[f32],
    wp: usize,
    col: &mut [f32],
    ld: usize,
    offset: usize,
) {
    let (k, s, ow, p) = (g.kernel, g.stride, g.out_w, g.pixels());
    for ki in 0..k {
        for kj in 0..k {
            let r = (c * k + ki) * k + kj;
            let dst_row = &mut col[r * ld + offset..r * ld + offset + p];
            let src = &xp[ki * wp + kj..];
            for (oy, dst) in dst_row.chunks_exact_mut(ow).enumerate() {
                let from = oy * s * wp;
                if s == 1 {
                    copy_short(dst, &src[from..from + ow]);
                } else {
                    for (d, v) in dst.iter_mut().zip(src[from..].iter().step_by(s)) {
                        *d = *v;
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: **overwrites** `dx` (one sample, `C·H·W` values) with the sum, over
/// every column-matrix entry, of the entry added onto the input pixel it was read from (entries
/// read from the padding are dropped).
///
/// Each channel is accumulated in a zero-padded plane (or in place when no window touches the
/// padding) and cropped back to the input.
///
/// # Panics
/// If `dx` is not one sample long or `col` cannot hold the rows (a caller bug).
pub fn col2im(g: &ConvGeom, col: &[f32], ld: usize, offset: usize, dx: &mut [f32]) {
    check_args(g, dx.len(), col.len(), ld, offset);
    dx.fill(0.0);
    if g.pixels() == 0 {
        return;
    }
    let plane = g.height * g.width;
    if in_place(g) {
        for (c, dxc) in dx.chunks_exact_mut(plane).enumerate() {
            scatter_channel(g, c, col, ld, offset, dxc, g.width);
        }
        return;
    }
    let (hp, wp) = window_dims(g);
    let (rows, cols) = inside(g, (hp, wp));
    with_plane(hp * wp, |dp| {
        for (c, dxc) in dx.chunks_exact_mut(plane).enumerate() {
            dp.fill(0.0);
            scatter_channel(g, c, col, ld, offset, dp, wp);
            if cols > 0 {
                for (r, dst) in dxc.chunks_exact_mut(g.width).take(rows).enumerate() {
                    let at = (r + g.pad_top) * wp + g.pad_left;
                    copy_short(&mut dst[..cols], &dp[at..at + cols]);
                }
            }
        }
    });
}

/// Adds the `K·K` column-matrix rows of channel `c` onto its (padded) plane `dp`, `wp` values
/// per row, which holds zeros (the short rows of AVX-512 are written without reading them).
fn scatter_channel(
    g: &ConvGeom,
    c: usize,
    col: &[f32],
    ld: usize,
    offset: usize,
    dp: &mut [f32],
    wp: usize,
) {
    let (k, s, ow, p) = (g.kernel, g.stride, g.out_w, g.pixels());
    #[cfg(target_arch = "x86_64")]
    if s == 1 && ow + k - 1 <= 16 && super::allowed(super::Isa::Avx512) {
        // SAFETY: the CPU supports AVX-512F.
        unsafe { avx512::scatter_rows(g, &col[c * k * k * ld + offset..], ld, dp, wp) };
        return;
    }
    for ki in 0..k {
        for kj in 0..k {
            let r = (c * k + ki) * k + kj;
            let src_row = &col[r * ld + offset..r * ld + offset + p];
            let dst = &mut dp[ki * wp + kj..];
            for (oy, src) in src_row.chunks_exact(ow).enumerate() {
                let from = oy * s * wp;
                if s == 1 {
                    add_short(&mut dst[from..from + ow], src);
                } else {
                    for (d, v) in dst[from..].iter_mut().step_by(s).zip(src) {
                        *d += *v;
                    }
                }
            }
        }
    }
}

/// [`scatter_channel`] for stride 1 and padded rows of at most 16 values (LeNet-5's conv2:
/// 10 + 4), one register per plane row.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::ConvGeom;
    use std::arch::x86_64::*;

    /// Copies the runs of `ow ≤ 16` values that start every `wq` values of `src` one after the
    /// other into `dst` (one sample's part of a column-matrix row), each with one masked load
    /// and one masked store: the portable `copy_short` moves a 10-value run of LeNet-5's conv2
    /// as two overlapping 8-value blocks, and the row writes of its column matrix were 10% of a
    /// training step.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    ///
    /// # Panics
    /// If `ow` is 0 or above 16, `dst` is not whole runs, or `src` is shorter than they need.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn copy_runs(dst: &mut [f32], src: &[f32], ow: usize, wq: usize) {
        assert!(
            (1..=16).contains(&ow) && dst.len().is_multiple_of(ow),
            "im2col: not short runs"
        );
        let runs = dst.len() / ow;
        assert!(
            runs == 0 || src.len() >= (runs - 1) * wq + ow,
            "im2col: source too short"
        );
        let mask = ((1u32 << ow) - 1) as __mmask16;
        for (oy, out) in dst.chunks_exact_mut(ow).enumerate() {
            // SAFETY: run `oy` is `ow` values of `src` from `oy·wq` (checked above) and `out`
            // holds `ow` values; only those lanes are enabled.
            unsafe {
                let v = _mm512_maskz_loadu_ps(mask, src.as_ptr().add(oy * wq));
                _mm512_mask_storeu_ps(out.as_mut_ptr(), mask, v);
            }
        }
    }

    /// Sums every tap of each plane row in one register and stores the row once: tap `(u, v)`
    /// adds its output row `R − u` (`OW` values) at lanes `v..v + OW` of row `R` (a masked
    /// load from `v` values before them). The portable loop adds each tap's `OW` values in
    /// memory, one tap after the other over the same rows, and `scatter_channel` was 7% of a
    /// LeNet-5 training step. The rows are zero (see [`scatter_channel`](super::scatter_channel))
    /// and are not read: versions that loaded them (once per kernel row, then once per row)
    /// spent a third to half of their time waiting for those loads, right after the plane was
    /// zeroed. Each value receives its terms in the same order (`u`, then `v`) as in the
    /// portable loop, so the result is the same to the bit.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    ///
    /// `taps` is the channel's first column-matrix row at the sample's offset (its `K·K` rows
    /// `ld` apart).
    ///
    /// # Panics
    /// If `g`'s stride is not 1, `OW + K − 1` exceeds 16 or `wp`, or `dp` or `taps` is shorter
    /// than [`super::scatter_channel`] needs.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn scatter_rows(
        g: &ConvGeom,
        taps: &[f32],
        ld: usize,
        dp: &mut [f32],
        wp: usize,
    ) {
        let (k, oh, ow) = (g.kernel, g.out_h, g.out_w);
        let width = ow + k - 1;
        assert!(
            g.stride == 1 && width <= 16 && width <= wp,
            "im2col: not a short row"
        );
        let rows = oh + k - 1;
        assert!(
            dp.len() >= (rows - 1) * wp + width && taps.len() >= (k * k - 1) * ld + oh * ow,
            "im2col: plane or column matrix too short"
        );
        let row_mask = ((1u32 << width) - 1) as __mmask16;
        let tap_mask = ((1u32 << ow) - 1) as __mmask16;
        for r in 0..rows {
            let dst = dp[r * wp..][..width].as_mut_ptr();
            // Kernel rows u with an output row r − u.
            let us = r.saturating_sub(oh - 1)..k.min(r + 1);
            // SAFETY: the row's `width` values are inside `dp` (checked above); tap `(u, v)`'s
            // output row `r − u` is `ow` values inside `taps` at `(u·k + v)·ld + (r − u)·ow`;
            // its load starts `v` values before them but enables only the lanes
            // `v..v + ow`, and masked-off lanes are not accessed.
            unsafe {
                let mut acc = _mm512_setzero_ps();
                for u in us {
                    for v in 0..k {
                        let at = (u * k + v) * ld + (r - u) * ow;
                        let src = taps.as_ptr().add(at).wrapping_sub(v);
                        acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(tap_mask << v, src));
                    }
                }
                _mm512_mask_storeu_ps(dst, row_mask, acc);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `im2col` straight from its definition.
    fn naive(g: &ConvGeom, x: &[f32]) -> Vec<f32> {
        let (k, p) = (g.kernel, g.pixels());
        let mut col = vec![0.0; g.rows() * p];
        for c in 0..g.channels {
            for ki in 0..k {
                for kj in 0..k {
                    for oy in 0..g.out_h {
                        for ox in 0..g.out_w {
                            let iy = (oy * g.stride + ki) as isize - g.pad_top as isize;
                            let ix = (ox * g.stride + kj) as isize - g.pad_left as isize;
                            let inside = (0..g.height as isize).contains(&iy)
                                && (0..g.width as isize).contains(&ix);
                            col[((c * k + ki) * k + kj) * p + oy * g.out_w + ox] = if inside {
                                x[(c * g.height + iy as usize) * g.width + ix as usize]
                            } else {
                                0.0
                            };
                        }
                    }
                }
            }
        }
        col
    }

    fn geometries() -> Vec<ConvGeom> {
        let mut gs = Vec::new();
        for (c, h, w, k, s, pad) in [
            (1, 3, 3, 2, 1, Pad::Valid),
            (2, 5, 4, 3, 1, Pad::Valid),
            (2, 10, 10, 3, 2, Pad::Explicit(1)),
            (3, 13, 13, 5, 4, Pad::Same),
            (2, 6, 7, 2, 1, Pad::Same), // odd total padding: 0 top/left, 1 bottom/right
            (1, 7, 5, 3, 3, Pad::Explicit(2)),
            (2, 4, 6, 1, 2, Pad::Valid),
            (1, 2, 3, 5, 1, Pad::Explicit(3)), // taps that never touch the input
            (2, 14, 14, 5, 1, Pad::Valid),     // 10-value rows: two overlapping 8-blocks
            (1, 9, 18, 3, 1, Pad::Explicit(1)), // 17- and 18-value rows: plain copies
            (3, 4, 4, 3, 1, Pad::Explicit(1)), // rows of exactly 4, 8 and 16 values
            (2, 8, 8, 3, 1, Pad::Explicit(1)),
            (1, 16, 16, 3, 1, Pad::Explicit(1)),
            (2, 9, 9, 3, 2, Pad::Valid), // valid padding that leaves the last row and column unread
        ] {
            gs.push(ConvGeom::new(c, h, w, k, s, pad).expect("test geometry fits"));
        }
        gs
    }

    fn values(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 + seed) * 0.7).sin()).collect()
    }

    #[test]
    fn the_batch_matrix_is_the_samples_matrices_side_by_side() {
        for g in geometries() {
            let batch = 3;
            let x = values(batch * g.input_size(), 0.9);
            let (p, ld) = (g.pixels(), batch * g.pixels() + 5);
            let mut want = vec![7.0; g.rows() * ld];
            for (i, xs) in x.chunks_exact(g.input_size()).enumerate() {
                im2col(&g, xs, &mut want, ld, i * p);
            }
            let mut scratch = AlignedVec::new();
            let cols = BatchColumns::new(&g, &x, &mut scratch);
            let mut got = vec![7.0; g.rows() * ld];
            cols.write(&mut got, ld);
            assert_eq!(got, want, "{g:?}");
            // Samples 1 and 2 alone: the matrix of those samples.
            let mut want = vec![7.0; g.rows() * 2 * p];
            for (i, xs) in x.chunks_exact(g.input_size()).skip(1).enumerate() {
                im2col(&g, xs, &mut want, 2 * p, i * p);
            }
            let mut got = vec![7.0; g.rows() * 2 * p];
            cols.samples(1, 2).write(&mut got, 2 * p);
            assert_eq!(got, want, "samples 1..3 of {g:?}");
        }
    }

    #[test]
    fn im2col_matches_its_definition_at_any_offset() {
        for g in geometries() {
            let x = values(g.input_size(), 0.3);
            let want = naive(&g, &x);
            let p = g.pixels();
            // Sample 1 of a batch of 3 in a shared matrix; the rest must stay untouched.
            let ld = 3 * p;
            let mut col = vec![f32::NAN; g.rows() * ld];
            im2col(&g, &x, &mut col, ld, p);
            for r in 0..g.rows() {
                assert_eq!(&col[r * ld + p..r * ld + 2 * p], &want[r * p..(r + 1) * p]);
                assert!(col[r * ld..r * ld + p].iter().all(|v| v.is_nan()));
                assert!(col[r * ld + 2 * p..(r + 1) * ld].iter().all(|v| v.is_nan()));
            }
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> = <x, col2im(c)> for all x, c.
        for g in geometries() {
            let x = values(g.input_size(), 1.1);
            let c = values(g.rows() * g.pixels(), 2.9);
            let mut col = vec![0.0; c.len()];
            im2col(&g, &x, &mut col, g.pixels(), 0);
            let lhs: f64 = col.iter().zip(&c).map(|(a, b)| *a as f64 * *b as f64).sum();
            let mut dx = vec![f32::NAN; x.len()];
            col2im(&g, &c, g.pixels(), 0, &mut dx);
            let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| *a as f64 * *b as f64).sum();
            assert!(
                (lhs - rhs).abs() < 1e-4 * (1.0 + lhs.abs()),
                "{g:?}: {lhs} vs {rhs}"
            );
        }
    }

    #[test]
    fn col2im_gives_the_same_bits_in_every_variant() {
        // The AVX-512 rows of short stride-1 geometries add in the portable loop's order.
        for g in geometries() {
            let c = values(g.rows() * g.pixels(), 0.4);
            let mut want = None;
            crate::kernels::for_each_variant(|variant| {
                let mut dx = vec![f32::NAN; g.input_size()];
                col2im(&g, &c, g.pixels(), 0, &mut dx);
                let want = want.get_or_insert_with(|| dx.clone());
                assert_eq!(&dx, want, "{variant} {g:?}");
            });
        }
    }

    #[test]
    fn col2im_counts_each_pixel_once_per_window_covering_it() {
        // 1×3×3 input, 2×2 window, stride 1: the centre is in 4 windows, corners in 1.
        let g = ConvGeom::new(1, 3, 3, 2, 1, Pad::Valid).expect("fits");
        let ones = vec![1.0; g.rows() * g.pixels()];
        let mut dx = vec![0.0; 9];
        col2im(&g, &ones, g.pixels(), 0, &mut dx);
        assert_eq!(dx, [1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);
    }

    #[test]
    #[should_panic(expected = "im2col: column matrix too short")]
    fn short_column_matrix_is_rejected() {
        let g = ConvGeom::new(1, 3, 3, 2, 1, Pad::Valid).expect("fits");
        im2col(&g, &[0.0; 9], &mut [0.0; 15], 4, 0);
    }
}
