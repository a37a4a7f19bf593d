//! Micro-kernels: `C[rows×cols] = alpha · Ã·B̃ + beta · C` for one register tile.
//!
//! `Ã` is a packed panel of `MR` rows: element `(i, p)` at `a[p·MR + i]`, zero-padded past the
//! valid rows; or, in the kernels instantiated with `ROWS = true`, `MR` rows of a row-major `A`
//! read in place: element `(i, p)` at `a[i·lda + p]` (all `MR` rows valid). `B̃` is a panel of
//! `NR` columns: element `(p, j)` at `b[p·ldb + j]` (`ldb = NR` when packed, the row length of
//! `B` when read in place). `C` is row-major with row length `ldc`; only
//! its `rows × cols` corner is read or written, and with `beta == 0` it is never read (so it may
//! hold NaN).
//!
//! Each instruction-set variant is generic over `MR` so the driver can match the tile height to
//! small `m` (6 output channels, 16, …) instead of computing mostly padding.

/// Where and how one register tile is written.
#[derive(Clone, Copy, Debug)]
pub(super) struct Tile {
    /// Top-left element of the tile in `C`.
    pub c: *mut f32,
    /// Row length of `C`.
    pub ldc: usize,
    /// Valid rows, `1..=MR`.
    pub rows: usize,
    /// Valid columns, `1..=NR`.
    pub cols: usize,
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of the old `C` (0: overwrite without reading).
    pub beta: f32,
}

/// Rows of each burst of a [`Prefetch`]: a line asked for from a page not in the TLB waits for
/// its page walk, and the rows of a large `B` are pages apart; one line at a time, the walks took
/// 16% of the kernel's time on `256 × 11664 × 2400` (`perf`: the instruction after
/// `prefetcht1`), the same line of 4 rows at once let them overlap (bench/NOTES.md section 53).
pub(super) const PREFETCH_ROWS: usize = 4;

/// Cache lines of a row-major matrix for a tile to ask for from memory (into L2) while it
/// computes, in bursts of one line in each of [`PREFETCH_ROWS`] consecutive rows, one burst every
/// `every` depth steps: `bursts` bursts, `width` floats of each group of rows from `row[col]` on
/// (`col` a multiple of 16: one 64-byte line per 16 floats), line by line, then the next group;
/// rows `stride` floats apart. A hint: addresses are never dereferenced, and bursts left when the
/// depth loop ends are not asked for.
#[derive(Clone, Copy, Debug)]
pub(super) struct Prefetch {
    /// The first row of the group of the next burst.
    pub row: *const f32,
    /// Row length of the matrix.
    pub stride: usize,
    /// Floats fetched of each row (a multiple of 16).
    pub width: usize,
    /// Offset of the next burst's line in its rows.
    pub col: usize,
    /// Bursts left.
    pub bursts: usize,
    /// Depth steps between two bursts (at least 1).
    pub every: usize,
}

impl Prefetch {
    /// No lines.
    pub const NONE: Prefetch = Prefetch {
        row: std::ptr::null(),
        stride: 0,
        width: 16,
        col: 0,
        bursts: 0,
        every: 1,
    };

    /// The next burst's line in the first row of its group (the others are `stride` floats
    /// apart); moves on to the burst after it.
    #[inline(always)]
    pub(super) fn step(&mut self) -> *const f32 {
        let at = self.row.wrapping_add(self.col);
        self.col += 16;
        if self.col >= self.width {
            self.col = 0;
            self.row = self.row.wrapping_add(PREFETCH_ROWS * self.stride);
        }
        self.bursts -= 1;
        at
    }
}

/// A micro-kernel: `(kc, Ã, lda, B̃, ldb, tile)`; `lda` is the row length of an `A` read in place
/// (ignored by the packed-panel kernels).
///
/// # Safety
/// `a` must hold `kc·MR` floats (packed), or `MR` rows of `kc` floats `lda` apart (in place),
/// `b` must address `kc` rows of `NR` floats `ldb` apart, the tile must address `rows` rows of
/// `cols` writable floats `ldc` apart that alias neither panel, and the CPU must support the
/// instruction set of the kernel.
pub(super) type Micro = unsafe fn(usize, *const f32, usize, *const f32, usize, Tile);

/// A micro-kernel on packed panels (`ldb = NR`) that also asks for the lines of a
/// [`Prefetch`] from memory, and for the tile's lines of `C`: `(kc, Ã, B̃, tile, lines)`.
///
/// # Safety
/// As [`Micro`] with packed panels.
pub(super) type PrefetchingMicro = unsafe fn(usize, *const f32, *const f32, Tile, &Prefetch);

/// Depth steps per iteration of the SIMD kernels' depth loop (its counter, pointer updates and
/// branch once per 4 steps). With `B` streamed from L2, an AVX-512 12 × 32 probe ran 170 → 184
/// GFLOP/s, the models' GEMM table 1.00–1.12× its rate with one step; 2 and 8 steps gained less.
/// The AVX2 kernels: 1.00–1.07× (bench/NOTES.md section 55). Each kernel writes the loop out: a
/// shared helper taking the step as a closure was not inlined into the prefetching 8- and
/// 10-row kernels, which then kept their accumulators on the stack.
#[cfg(target_arch = "x86_64")]
const UNROLL: usize = 4;

/// Element `(i, p)` of the `A` operand of a micro-kernel: packed (`a[p·MR + i]`) or, with `ROWS`,
/// in place (`a[i·lda + p]`).
///
/// # Safety
/// The element must be inside the operand (see [`Micro`]).
#[inline(always)]
unsafe fn a_at<const MR: usize, const ROWS: bool>(
    a: *const f32,
    lda: usize,
    i: usize,
    p: usize,
) -> f32 {
    // SAFETY: forwarded caller contract.
    unsafe { *a.add(if ROWS { i * lda + p } else { p * MR + i }) }
}

/// Writes a computed `rows × cols` corner of `acc` (row length `nr`) into the tile.
///
/// # Safety
/// The tile must address `rows` rows of `cols` writable floats `ldc` apart.
unsafe fn write_tile(acc: &[f32], nr: usize, t: Tile) {
    for i in 0..t.rows {
        // SAFETY: row `i < rows` of the tile is `cols` writable floats (caller contract).
        let row = unsafe { std::slice::from_raw_parts_mut(t.c.add(i * t.ldc), t.cols) };
        let src = &acc[i * nr..i * nr + t.cols];
        if t.beta == 0.0 {
            for (c, v) in row.iter_mut().zip(src) {
                *c = t.alpha * v;
            }
        } else {
            for (c, v) in row.iter_mut().zip(src) {
                *c = t.alpha * v + t.beta * *c;
            }
        }
    }
}

/// Portable kernel (`NR = 8`): plain arrays the compiler vectorises with the baseline SIMD.
pub(super) mod portable {
    use super::{Tile, a_at, write_tile};

    /// Columns per tile.
    pub const NR: usize = 8;

    /// # Safety
    /// See [`super::Micro`].
    pub unsafe fn kernel<const MR: usize, const ROWS: bool>(
        kc: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        ldb: usize,
        t: Tile,
    ) {
        let mut acc = [[0.0f32; NR]; MR];
        for p in 0..kc {
            // SAFETY: `p < kc`, so the MR floats of column p of Ã and the NR floats of row p of
            // B̃ are inside the panels (caller contract).
            let (ap, bp) = unsafe {
                (
                    std::array::from_fn::<f32, MR, _>(|i| a_at::<MR, ROWS>(a, lda, i, p)),
                    &*b.add(p * ldb).cast::<[f32; NR]>(),
                )
            };
            for (row, &ai) in acc.iter_mut().zip(&ap) {
                for (c, &bj) in row.iter_mut().zip(bp) {
                    *c += ai * bj;
                }
            }
        }
        // SAFETY: forwarded caller contract on the tile.
        unsafe { write_tile(acc.as_flattened(), NR, t) };
    }
}

/// AVX2 + FMA kernel (`NR = 8·NV`: `NV` 8-lane registers per row).
#[cfg(target_arch = "x86_64")]
pub(super) mod avx2 {
    use super::{Tile, UNROLL, a_at, write_tile};
    use std::arch::x86_64::*;

    /// `alpha · x`, without the multiply for `alpha = 1` (see the AVX-512 kernel's `scaled`).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn scaled(alpha: f32, splat: __m256, x: __m256) -> __m256 {
        if alpha == 1.0 {
            x
        } else {
            _mm256_mul_ps(splat, x)
        }
    }

    /// Tallest tile whose depth loop is unrolled: unrolled, the 12-row one spilled registers to
    /// the stack (16 registers of 8 lanes: 12 accumulators, the `B` row and a broadcast).
    const UNROLLED_MAX_MR: usize = 8;

    /// # Safety
    /// See [`super::Micro`] with `NR = 8·NV`; the CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn kernel<const MR: usize, const NV: usize, const ROWS: bool>(
        kc: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        ldb: usize,
        t: Tile,
    ) {
        let mut acc = [[_mm256_setzero_ps(); NV]; MR];
        // The MR × NV multiply-adds of depth step p.
        let step = |acc: &mut [[__m256; NV]; MR], p: usize| {
            // SAFETY: `p < kc`: row p of B̃ (8·NV floats) and column p of Ã (MR floats) are
            // inside the panels (caller contract); unaligned loads need no alignment.
            unsafe {
                let bp = b.add(p * ldb);
                let mut bv = [_mm256_setzero_ps(); NV];
                for (v, x) in bv.iter_mut().enumerate() {
                    *x = _mm256_loadu_ps(bp.add(8 * v));
                }
                for (i, row) in acc.iter_mut().enumerate() {
                    let ai = _mm256_set1_ps(a_at::<MR, ROWS>(a, lda, i, p));
                    for (c, &x) in row.iter_mut().zip(&bv) {
                        *c = _mm256_fmadd_ps(ai, x, *c);
                    }
                }
            }
        };
        let unroll = if MR > UNROLLED_MAX_MR { 1 } else { UNROLL };
        let whole = kc / unroll * unroll;
        for p in (0..whole).step_by(unroll) {
            for u in 0..unroll {
                step(&mut acc, p + u);
            }
        }
        for p in whole..kc {
            step(&mut acc, p);
        }
        if t.rows == MR && t.cols == 8 * NV {
            let alpha = _mm256_set1_ps(t.alpha);
            let beta = _mm256_set1_ps(t.beta);
            for (i, row) in acc.iter().enumerate() {
                for (v, &x) in row.iter().enumerate() {
                    // SAFETY: a full tile: row i, columns 8v..8v+8 are inside it.
                    unsafe {
                        let c = t.c.add(i * t.ldc + 8 * v);
                        let mut r = scaled(t.alpha, alpha, x);
                        if t.beta != 0.0 {
                            r = _mm256_fmadd_ps(beta, _mm256_loadu_ps(c), r);
                        }
                        _mm256_storeu_ps(c, r);
                    }
                }
            }
        } else {
            // Edge tile: spill to a buffer, then write the valid corner.
            let mut buf = [[[0.0f32; 8]; NV]; MR];
            for (dst, row) in buf.iter_mut().zip(&acc) {
                for (d, &x) in dst.iter_mut().zip(row) {
                    // SAFETY: `d` holds 8 floats, one unaligned 8-lane store.
                    unsafe { _mm256_storeu_ps(d.as_mut_ptr(), x) };
                }
            }
            // SAFETY: forwarded caller contract on the tile.
            unsafe { write_tile(buf.as_flattened().as_flattened(), 8 * NV, t) };
        }
    }
}

/// AVX-512 kernel (`NR = 16·NV`: `NV` 16-lane registers per row; masked stores for edge columns).
#[cfg(target_arch = "x86_64")]
pub(super) mod avx512 {
    use super::{Prefetch, Tile, UNROLL, a_at};
    use std::arch::x86_64::*;

    /// `alpha · x` (`splat` holds `alpha` in every lane), without the multiply for `alpha = 1`,
    /// what every caller but a scaled `gemm` passes: a tile's `MR·NV` multiplies are 4–6% of the
    /// multiply-adds of a 27- or 16-deep one (`TN 150 3200 16`, medians of 4 pairs: 198.0 → 201.0
    /// GFLOP/s; bench/NOTES.md section 60).
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn scaled(alpha: f32, splat: __m512, x: __m512) -> __m512 {
        if alpha == 1.0 {
            x
        } else {
            _mm512_mul_ps(splat, x)
        }
    }

    /// Tallest tile on rows of `A` read in place whose depth loop is unrolled: unrolled, the 12-
    /// and 14-row ones spilled accumulators to the stack (the row addresses take the registers;
    /// `NT 256 96 3136`, a Winograd weight gradient, ran 155 → 69–89 GFLOP/s).
    const ROWS_UNROLLED_MAX_MR: usize = 10;

    /// # Safety
    /// See [`super::Micro`] with `NR = 16·NV`; the CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn kernel<const MR: usize, const NV: usize, const ROWS: bool>(
        kc: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        ldb: usize,
        t: Tile,
    ) {
        // SAFETY: forwarded caller contract.
        unsafe { body::<MR, NV, ROWS, false>(kc, a, lda, b, ldb, t, Prefetch::NONE) }
    }

    /// [`kernel`] on packed panels that also asks for `lines` from memory (into L2), a burst
    /// every `lines.every` depth steps, and for the tile's lines of `C` (into L1) first.
    ///
    /// # Safety
    /// See [`super::PrefetchingMicro`] with `NR = 16·NV`; the CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn prefetching<const MR: usize, const NV: usize>(
        kc: usize,
        a: *const f32,
        b: *const f32,
        t: Tile,
        lines: &Prefetch,
    ) {
        // SAFETY: forwarded caller contract.
        unsafe { body::<MR, NV, false, true>(kc, a, 0, b, 16 * NV, t, *lines) }
    }

    /// The kernels' code; with `PREFETCH`, `lines` are asked for during the depth loop. (Each
    /// instantiation has one caller, which inlines it.)
    ///
    /// # Safety
    /// See [`super::Micro`] with `NR = 16·NV`; the CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn body<const MR: usize, const NV: usize, const ROWS: bool, const PREFETCH: bool>(
        kc: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        ldb: usize,
        t: Tile,
        mut lines: Prefetch,
    ) {
        let mut acc = [[_mm512_setzero_ps(); NV]; MR];
        // The tile's lines of `C` asked for into L1 first: in the products that prefetch `B`
        // (large ones), `C` is past L2 and its first depth block's stores waited for their
        // lines (pairs: `NN 96 48400 363` 1.03–1.14×, `NN 256 11664 2400` 1.03–1.07×; in the
        // other products, within noise: bench/NOTES.md section 61). Rows past the tile's are
        // asked for too: a hint is never dereferenced.
        if PREFETCH {
            for i in 0..MR {
                for v in 0..NV {
                    _mm_prefetch::<_MM_HINT_T0>(t.c.wrapping_add(i * t.ldc + 16 * v).cast());
                }
            }
        }
        let mut next = if PREFETCH && lines.bursts > 0 {
            0
        } else {
            usize::MAX
        };
        // The burst of lines due at depth step p. (Tested at every step: the bursts of a group of
        // steps issued at its start cost the large products 2–4%, a loop over the bursts due
        // spilled accumulators of the 6- to 12-row tiles; bench/NOTES.md section 55.)
        let mut due = |p: usize| {
            if PREFETCH && p == next {
                let line = lines.step();
                for r in 0..super::PREFETCH_ROWS {
                    _mm_prefetch::<_MM_HINT_T1>(line.wrapping_add(r * lines.stride).cast());
                }
                next = if lines.bursts > 0 {
                    p + lines.every
                } else {
                    usize::MAX
                };
            }
        };
        // The MR × NV multiply-adds of depth step p.
        let step = |acc: &mut [[__m512; NV]; MR], p: usize| {
            // SAFETY: `p < kc`: row p of B̃ (16·NV floats) and column p of Ã (MR floats) are
            // inside the panels (caller contract); unaligned loads need no alignment.
            unsafe {
                let bp = b.add(p * ldb);
                let mut bv = [_mm512_undefined_ps(); NV];
                for (v, x) in bv.iter_mut().enumerate() {
                    *x = _mm512_loadu_ps(bp.add(16 * v));
                }
                for (i, row) in acc.iter_mut().enumerate() {
                    let ai = _mm512_set1_ps(a_at::<MR, ROWS>(a, lda, i, p));
                    for (c, &x) in row.iter_mut().zip(&bv) {
                        *c = _mm512_fmadd_ps(ai, x, *c);
                    }
                }
            }
        };
        let unroll = if ROWS && MR > ROWS_UNROLLED_MAX_MR {
            1
        } else {
            UNROLL
        };
        let whole = kc / unroll * unroll;
        for p in (0..whole).step_by(unroll) {
            for u in 0..unroll {
                due(p + u);
                step(&mut acc, p + u);
            }
        }
        for p in whole..kc {
            due(p);
            step(&mut acc, p);
        }
        let alpha = _mm512_set1_ps(t.alpha);
        let beta = _mm512_set1_ps(t.beta);
        if t.rows == MR && t.cols == 16 * NV {
            // Full tile: constant trip counts keep the accumulators in registers.
            for (i, row) in acc.iter().enumerate() {
                for (v, &x) in row.iter().enumerate() {
                    // SAFETY: a full tile: row i, columns 16v..16v+16 are inside it.
                    unsafe {
                        let c = t.c.add(i * t.ldc + 16 * v);
                        let mut r = scaled(t.alpha, alpha, x);
                        if t.beta != 0.0 {
                            r = _mm512_fmadd_ps(beta, _mm512_loadu_ps(c), r);
                        }
                        _mm512_storeu_ps(c, r);
                    }
                }
            }
            return;
        }
        // Edge tile. Lane masks of the valid columns of each register of a row.
        let mut masks = [0 as __mmask16; NV];
        for (v, m) in masks.iter_mut().enumerate() {
            let n = t.cols.saturating_sub(16 * v).min(16);
            *m = ((1u32 << n) - 1) as __mmask16;
        }
        // All MR rows with a test, not `take(t.rows)`: a loop with a run-time trip count
        // indexes `acc` with a variable, which keeps it in memory for the whole kernel (stored
        // and reloaded around the depth loop at every call; bench/NOTES.md section 49).
        for (i, row) in acc.iter().enumerate() {
            for (v, (&x, &m)) in row.iter().zip(&masks).enumerate() {
                if i >= t.rows || m == 0 {
                    continue;
                }
                // SAFETY: row `i < rows` and `16v < cols`, so `c` points into the tile; the mask
                // enables only lanes `16v + l < cols`, and masked loads and stores do not touch
                // disabled lanes (no fault past the tile).
                unsafe {
                    let c = t.c.add(i * t.ldc + 16 * v);
                    let mut r = scaled(t.alpha, alpha, x);
                    if t.beta != 0.0 {
                        r = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(m, c), r);
                    }
                    _mm512_mask_storeu_ps(c, m, r);
                }
            }
        }
    }
}

/// AVX-512 dot-product kernel for `C = A·Bᵀ` with both operands contiguous along `k` (no packing).
#[cfg(target_arch = "x86_64")]
pub(super) mod avx512_dot {
    use super::Tile;
    use std::arch::x86_64::*;

    /// Rows of `A` and of `B` per tile.
    pub const T: usize = 4;

    /// `C[i, j] = alpha · Σ_p a[i][p]·b[j][p] + beta · C[i, j]` for `i < t.rows`, `j < t.cols`
    /// (`≤ 4` each); rows past the valid ones must repeat a valid row pointer.
    ///
    /// # Safety
    /// Each of the 4 `a` and 4 `b` pointers must address `kc` readable floats, the tile must
    /// address `rows` rows of `cols` writable floats `ldc` apart that alias no input, and the CPU
    /// must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn kernel(kc: usize, a: [*const f32; T], b: [*const f32; T], t: Tile) {
        let mut acc = [[_mm512_setzero_ps(); T]; T];
        let full = kc / 16;
        for s in 0..full {
            // SAFETY: `16s + 16 ≤ kc` floats of each row are readable (caller contract).
            unsafe {
                let bv = b.map(|r| _mm512_loadu_ps(r.add(16 * s)));
                for (row, &ar) in acc.iter_mut().zip(&a) {
                    let av = _mm512_loadu_ps(ar.add(16 * s));
                    for (c, &x) in row.iter_mut().zip(&bv) {
                        *c = _mm512_fmadd_ps(av, x, *c);
                    }
                }
            }
        }
        let rest = kc - 16 * full;
        if rest > 0 {
            let m = ((1u32 << rest) - 1) as __mmask16;
            // SAFETY: the mask enables only the `rest` floats left in each row; masked loads do
            // not touch disabled lanes.
            unsafe {
                let bv = b.map(|r| _mm512_maskz_loadu_ps(m, r.add(16 * full)));
                for (row, &ar) in acc.iter_mut().zip(&a) {
                    let av = _mm512_maskz_loadu_ps(m, ar.add(16 * full));
                    for (c, &x) in row.iter_mut().zip(&bv) {
                        *c = _mm512_fmadd_ps(av, x, *c);
                    }
                }
            }
        }
        // Horizontal sums, four at a time: fold each 16-lane sum to 8 lanes, then two rounds of
        // pairwise adds and a fold of the 128-bit halves give row i's 4 dot products in order.
        let half = |v: __m512| {
            let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
            _mm256_add_ps(_mm512_castps512_ps256(v), hi)
        };
        let alpha = _mm_set1_ps(t.alpha);
        let beta = _mm_set1_ps(t.beta);
        for (i, row) in acc.iter().enumerate().take(t.rows) {
            let h = row.map(half);
            let x = _mm256_hadd_ps(_mm256_hadd_ps(h[0], h[1]), _mm256_hadd_ps(h[2], h[3]));
            let sums = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
            let mut r = _mm_mul_ps(alpha, sums);
            // SAFETY: row `i < rows` of the tile holds `cols` writable floats.
            unsafe {
                let c = t.c.add(i * t.ldc);
                if t.cols == T {
                    if t.beta != 0.0 {
                        r = _mm_fmadd_ps(beta, _mm_loadu_ps(c), r);
                    }
                    _mm_storeu_ps(c, r);
                } else {
                    let mut v = [0.0f32; T];
                    _mm_storeu_ps(v.as_mut_ptr(), r);
                    for (j, &x) in v.iter().enumerate().take(t.cols) {
                        let c = c.add(j);
                        *c = if t.beta == 0.0 { x } else { x + t.beta * *c };
                    }
                }
            }
        }
    }
}
