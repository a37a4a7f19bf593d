//! Max pooling ([`MaxPool2d`](crate::MaxPool2d)'s kernel): the maximum of each `K × K` window,
//! windows `S` apart, and the position of that maximum for the backward pass.
//!
//! The window rule: the first maximum in row-major order wins, and a NaN wins over any number
//! (the last NaN over earlier ones). The zoo's pools have stride 2: 2 × 2 (LeNet, the CIFAR
//! AlexNet) and 3 × 3 (the ImageNet AlexNet). On AVX-512 both run in intrinsics, 16 windows per
//! step, selecting without branches; the 2 × 2 pool otherwise runs a portable body in the same
//! steps, compiled for AVX2 or the x86-64 baseline (run-time detection); other pools go window
//! by window. Built for the baseline only, the window-by-window loop ran SSE2 or scalar code
//! (LeNet's rows of 14 and 5 windows are shorter than the compiler's vector loop) and took 10%
//! of a LeNet training step.
//!
//! ```
//! use dl_core::kernels::max_pool::pool;
//! // One 2 × 4 plane: two 2 × 2 windows.
//! let x = [1.0, 5.0, 2.0, 0.0, 3.0, 4.0, -1.0, 7.0];
//! let (mut y, mut at) = ([0.0; 2], [0; 2]);
//! pool::<2, 2>(&x, (2, 4), (1, 2), 100, Some(&mut y), Some(&mut at));
//! assert_eq!(y, [5.0, 7.0]);
//! assert_eq!(at, [101, 107]); // positions in `x` plus the base 100
//! ```

/// Max-pools the planes of `x` (each `h × w`) with `K × K` windows `S` apart into `oh × ow`
/// outputs each: writes the maxima into `y` and their positions in `x` plus `base` into
/// `argmax`, each when given (both `planes·oh·ow` long).
///
/// Stride-2 pools of 2 × 2 and 3 × 3 windows run the AVX-512 kernel when the CPU has it; the
/// 2 × 2 one otherwise runs the portable vectorised body; everything else, and positions without
/// maxima, the window-by-window scan.
///
/// # Panics
/// If a length disagrees with the geometry (a caller bug).
pub fn pool<const K: usize, const S: usize>(
    x: &[f32],
    (h, w): (usize, usize),
    (oh, ow): (usize, usize),
    base: usize,
    y: Option<&mut [f32]>,
    argmax: Option<&mut [usize]>,
) {
    check_windows::<K, S>((h, w), (oh, ow));
    assert!(
        h * w > 0 && x.len().is_multiple_of(h * w),
        "max_pool: input length"
    );
    let len = x.len() / (h * w) * oh * ow;
    for out in [
        y.as_deref().map(<[f32]>::len),
        argmax.as_deref().map(<[usize]>::len),
    ] {
        assert!(out.is_none_or(|l| l == len), "max_pool: output length");
    }
    let geom = ((h, w), (oh, ow), base);
    let Some(y) = y else {
        if let Some(am) = argmax {
            scan::<K, S>(x, geom, |o, _, at| am[o] = at);
        }
        return;
    };
    #[cfg(target_arch = "x86_64")]
    {
        if S == 2 && (K == 2 || K == 3) && std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F detected; the lengths and the geometry were checked above.
            return unsafe { avx512::planes::<K>(x, geom, y, argmax) };
        }
        /// # Safety
        /// The CPU must support AVX2.
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(x: &[f32], geom: Geom, y: &mut [f32], argmax: Option<&mut [usize]>) {
            planes(x, geom, y, argmax);
        }
        if K == 2 && S == 2 && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 detected on the line above.
            return unsafe { avx2(x, geom, y, argmax) };
        }
    }
    match argmax {
        _ if K == 2 && S == 2 => planes(x, geom, y, argmax),
        Some(am) => scan::<K, S>(x, geom, |o, best, at| {
            y[o] = best;
            am[o] = at;
        }),
        None => scan::<K, S>(x, geom, |o, best, _| y[o] = best),
    }
}

/// The input gradient of max pooling: `dx` (planes of `h × w`) receives `dy[o]` at position
/// `argmax[o]` of every window `o` (positions in `dx`, as [`pool`] writes them with base 0 over
/// the same planes) and zero everywhere else; overwritten.
///
/// Non-overlapping 2 × 2 windows (stride 2, LeNet's and the CIFAR AlexNet's pools) run on
/// AVX-512 in one pass that writes every window whole, 8 windows (both input rows) per step;
/// other pools, or other CPUs, zero `dx` and add each `dy` at its position (a `memset` of `dx`
/// and a scatter, which the one pass made 1.02–1.05× faster on LeNet-5 training; bench/NOTES.md
/// section 50). Both give the same bits.
///
/// ```
/// use dl_core::kernels::max_pool::unpool;
/// // One 2 × 4 plane, two 2 × 2 windows whose maxima were at positions 1 and 7.
/// let mut dx = [9.0; 8];
/// unpool::<2, 2>(&[0.5, -2.0], &[1, 7], (2, 4), (1, 2), &mut dx);
/// assert_eq!(dx, [0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, -2.0]);
/// ```
///
/// # Panics
/// If a length disagrees with the geometry, or (on the scatter) a position is outside `dx` (a
/// caller bug).
pub fn unpool<const K: usize, const S: usize>(
    dy: &[f32],
    argmax: &[usize],
    (h, w): (usize, usize),
    (oh, ow): (usize, usize),
    dx: &mut [f32],
) {
    check_windows::<K, S>((h, w), (oh, ow));
    assert!(
        h * w > 0 && dx.len().is_multiple_of(h * w),
        "max_pool: input gradient length"
    );
    let planes = dx.len() / (h * w);
    assert!(
        dy.len() == planes * oh * ow && argmax.len() == dy.len(),
        "max_pool: output gradient length"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if K == 2 && S == 2 && is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F detected; the lengths and the geometry were checked above.
            return unsafe { avx512::unpool2(dy, argmax, (h, w), (oh, ow), dx) };
        }
    }
    scatter(dy, argmax, dx);
}

/// Asserts that `oh × ow` windows of `K × K`, `S` apart, lie inside an `h × w` plane.
fn check_windows<const K: usize, const S: usize>((h, w): (usize, usize), (oh, ow): (usize, usize)) {
    let fits = |out: usize, len: usize| out == 0 || (out - 1) * S + K <= len;
    assert!(
        fits(oh, h) && fits(ow, w),
        "max_pool: windows past the input"
    );
}

/// `dx = 0`, then `dx[argmax[o]] += dy[o]` for every window `o`.
fn scatter(dy: &[f32], argmax: &[usize], dx: &mut [f32]) {
    dx.fill(0.0);
    for (&at, &g) in argmax.iter().zip(dy) {
        dx[at] += g;
    }
}

/// Calls `emit(o, max, at)` for every window, `o` the output index and `at` the position in `x`
/// (plus `base`) of the window's maximum (the first one; a NaN wins over any number, the last
/// NaN over earlier ones). The comparison selects without branching (`cmov`), since on real data
/// the position of the maximum is unpredictable.
#[inline(always)]
fn scan<const K: usize, const S: usize>(
    x: &[f32],
    ((h, w), (oh, ow), base): Geom,
    mut emit: impl FnMut(usize, f32, usize),
) {
    let plane = h * w;
    for (pi, xp) in x.chunks_exact(plane).enumerate() {
        for i in 0..oh {
            for j in 0..ow {
                let mut best = f32::NEG_INFINITY;
                let mut at = (S * i) * w + S * j;
                for u in 0..K {
                    let row = (S * i + u) * w + S * j;
                    let Some(window_row) = xp[row..].first_chunk::<K>() else {
                        unreachable!("invariant: the window lies inside the plane")
                    };
                    for (v, &val) in window_row.iter().enumerate() {
                        let take = val > best || val.is_nan();
                        best = if take { val } else { best };
                        at = if take { row + v } else { at };
                    }
                }
                emit((pi * oh + i) * ow + j, best, base + pi * plane + at);
            }
        }
    }
}

/// The AVX-512 variant, in intrinsics: the compiler's vectorisation of [`planes`] split its
/// vectors in halves and went through the stack (the pool took 10% of LeNet inference).
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Geom, LANES};
    use std::arch::x86_64::*;

    /// The stride-2 pool of `K × K` windows (`K` 2 or 3), 16 windows per step: each window
    /// column `c` of a row is the even lanes of the 32 values from column `2·j0 + c` (`c = 1`:
    /// the odd lanes of `c = 0`'s), read and written under masks (no padding, nothing past a
    /// row's end).
    ///
    /// # Safety
    /// The CPU must support AVX-512F, and the lengths and geometry must be the ones
    /// [`super::pool`] checked.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn planes<const K: usize>(
        x: &[f32],
        ((h, w), (oh, ow), base): Geom,
        y: &mut [f32],
        mut argmax: Option<&mut [usize]>,
    ) {
        const { assert!(K == 2 || K == 3) };
        let plane = h * w;
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
        let lanes = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
        // The window's values after the first, in row-major order, and their places relative
        // to it.
        let places: [__m512i; 8] = std::array::from_fn(|v| {
            let (r, c) = ((v + 1) / K, (v + 1) % K);
            _mm512_set1_epi64((r * w + c) as i64)
        });
        for p in 0..x.len() / plane {
            for i in 0..oh {
                let r0 = p * plane + 2 * i * w;
                let o = (p * oh + i) * ow;
                for j0 in (0..ow).step_by(LANES) {
                    let n = LANES.min(ow - j0);
                    let at = r0 + 2 * j0;
                    // The first value, then each later one where it is greater or NaN.
                    // SAFETY (both `column` calls): AVX-512F is enabled here; the windows lie
                    // inside the plane (checked geometry), so their values at + r·w + c + 2·l,
                    // l < n, are in `x`, and so is the value after the last of column 0 (it is
                    // in column 1).
                    let mut best = unsafe { column(x, at, 0, n, (even, odd)) };
                    let mut takes = [0u16; 8];
                    for v in 1..K * K {
                        let (r, c) = (v / K, v % K);
                        let val = unsafe { column(x, at + r * w, c, n, (even, odd)) };
                        let take = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(val, best)
                            | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(val, val);
                        best = _mm512_mask_blend_ps(take, best, val);
                        takes[v - 1] = take;
                    }
                    let out = mask16(n);
                    // SAFETY: outputs o + j0 .. o + j0 + n lie inside y (checked length).
                    unsafe { _mm512_mask_storeu_ps(y.as_mut_ptr().add(o + j0), out, best) };
                    if let Some(am) = argmax.as_deref_mut() {
                        // Eight positions per register: the window's first value, moved to the
                        // last value taken.
                        let start = _mm512_set1_epi64((base + at) as i64);
                        for half in 0..2 {
                            let first = _mm512_add_epi64(start, lanes);
                            let first =
                                _mm512_add_epi64(first, _mm512_set1_epi64(16 * half as i64));
                            let mut pos = first;
                            for v in 0..K * K - 1 {
                                let k = (takes[v] >> (8 * half)) as u8;
                                pos = _mm512_mask_add_epi64(pos, k, first, places[v]);
                            }
                            let k = (out >> (8 * half)) as u8;
                            // SAFETY: as for y (argmax has y's length); lanes past n are masked
                            // off and not accessed.
                            unsafe {
                                let dst = am.as_mut_ptr().wrapping_add(o + j0 + 8 * half);
                                _mm512_mask_storeu_epi64(dst.cast::<i64>(), k, pos);
                            }
                        }
                    }
                }
            }
        }
    }

    /// [`super::unpool`] for 2 × 2 windows of stride 2: the two input rows of each row of windows
    /// are written 16 values (8 windows) each per step, each value the window's `dy` where the
    /// window's position is that value's, else zero; rows and columns no window covers are
    /// zeroed.
    ///
    /// # Safety
    /// The CPU must support AVX-512F, and the lengths and geometry must be the ones
    /// [`super::unpool`] checked (so `2·oh ≤ h`, `2·ow ≤ w`).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn unpool2(
        dy: &[f32],
        argmax: &[usize],
        (h, w): (usize, usize),
        (oh, ow): (usize, usize),
        dx: &mut [f32],
    ) {
        let plane = h * w;
        // Lane 2l and 2l + 1 take window l's values.
        let pairs = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
        let cols = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let zero = _mm512_setzero_ps();
        let next_row = _mm512_set1_epi32(w as i32);
        for (p, dxp) in dx.chunks_exact_mut(plane).enumerate() {
            let (covered, rest) = dxp.split_at_mut(2 * oh * w);
            if !rest.is_empty() {
                rest.fill(0.0);
            }
            for (i, rows) in covered.chunks_exact_mut(2 * w).enumerate() {
                let o = (p * oh + i) * ow;
                // Positions as columns of the window row's first input row: the second row's
                // are w to 2w − 1.
                let start = _mm512_set1_epi64((p * plane + 2 * i * w) as i64);
                let (r0, r1) = rows.split_at_mut(w);
                for j0 in (0..ow).step_by(8) {
                    let n = 8.min(ow - j0);
                    let k8 = ((1u32 << n) - 1) as u8;
                    let k16 = ((1u32 << (2 * n)) - 1) as u16;
                    // SAFETY: windows o + j0 .. o + j0 + n lie inside dy and argmax (checked
                    // lengths), and values 2·j0 .. 2·(j0 + n) inside each row (2·ow ≤ w); lanes
                    // past n are masked off and not accessed.
                    unsafe {
                        let at = _mm512_maskz_loadu_epi64(k8, argmax.as_ptr().add(o + j0).cast());
                        let col = _mm512_cvtepi64_epi32(_mm512_sub_epi64(at, start));
                        let g = _mm512_maskz_loadu_ps(k8.into(), dy.as_ptr().add(o + j0));
                        let col = _mm512_permutexvar_epi32(pairs, _mm512_castsi256_si512(col));
                        let g = _mm512_permutexvar_ps(pairs, g);
                        let here = _mm512_add_epi32(cols, _mm512_set1_epi32(2 * j0 as i32));
                        for (row, here) in [
                            (&mut *r0, here),
                            (&mut *r1, _mm512_add_epi32(here, next_row)),
                        ] {
                            let hit = _mm512_cmpeq_epi32_mask(col, here);
                            // `+ 0` as the scatter's `0 + dy` (a `dy` of −0 gives +0).
                            let v = _mm512_add_ps(_mm512_maskz_mov_ps(hit, g), zero);
                            _mm512_mask_storeu_ps(row.as_mut_ptr().add(2 * j0), k16, v);
                        }
                    }
                }
                if 2 * ow < w {
                    // (Guarded: an empty `fill` is still a `memset` call.)
                    r0[2 * ow..].fill(0.0);
                    r1[2 * ow..].fill(0.0);
                }
            }
        }
    }

    /// Values `row + c + 2·l` of `x` for the `n` lanes `l` (the others zero), window column `c`
    /// of 16 windows whose first row starts at `row`: the even (`c` even) or odd lanes of the
    /// 32 values from `row + (c & !1)`, of which the windows use the first `2·n − (c & !1)/2`
    /// (columns 0 and 1 load the same values, once).
    ///
    /// # Safety
    /// The CPU must support AVX-512F, and `x` must hold the values `row + c + 2·l` for `l < n`
    /// and, for `c` 0, the value after the last of them.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn column(
        x: &[f32],
        row: usize,
        c: usize,
        n: usize,
        (even, odd): (__m512i, __m512i),
    ) -> __m512 {
        let skip = c & !1;
        let count = 2 * n - skip / 2;
        let (lo, hi) = (mask16(count), mask16(count.saturating_sub(16)));
        // SAFETY: the caller guarantees the `count` values from row + skip; masked-off lanes are
        // not accessed (their addresses are formed with `wrapping_add` and never read).
        let (v0, v1) = unsafe {
            let p = x.as_ptr().add(row + skip);
            (
                _mm512_maskz_loadu_ps(lo, p),
                _mm512_maskz_loadu_ps(hi, p.wrapping_add(16)),
            )
        };
        _mm512_permutex2var_ps(v0, if c & 1 == 0 { even } else { odd }, v1)
    }

    /// The mask of the first `n` (at most 16) lanes.
    #[inline(always)]
    fn mask16(n: usize) -> u16 {
        ((1u32 << n.min(16)) - 1) as u16
    }
}

/// Plane size, output size and the base added to positions.
type Geom = ((usize, usize), (usize, usize), usize);

/// Outputs per vector step: one AVX-512 register of maxima.
const LANES: usize = 16;

/// The portable body of the 2 × 2 pool (compiled for AVX2 and for the baseline): each output row in steps of
/// [`LANES`] windows (LeNet's rows are 14 and 5 windows long, shorter than the compiler's vector
/// loops, which left them scalar). A step reads `2·LANES` values of each input row even where the
/// row has fewer windows left (the values after it are junk, their maxima overwritten by later
/// steps; see [`store`]), from a copy padded with −∞ only at the end of `x`.
#[inline(always)]
fn planes(
    x: &[f32],
    ((h, w), (oh, ow), base): Geom,
    y: &mut [f32],
    mut argmax: Option<&mut [usize]>,
) {
    let plane = h * w;
    let span = |at: usize| -> [f32; 2 * LANES] {
        match x[at..].first_chunk() {
            Some(v) => *v,
            None => {
                let mut v = [f32::NEG_INFINITY; 2 * LANES];
                v[..x.len() - at].copy_from_slice(&x[at..]);
                v
            }
        }
    };
    for p in 0..x.len() / plane {
        for i in 0..oh {
            let (r0, r1) = (p * plane + 2 * i * w, p * plane + (2 * i + 1) * w);
            let o = (p * oh + i) * ow;
            for j0 in (0..ow).step_by(LANES) {
                let n = LANES.min(ow - j0);
                let (best, code) = windows(&span(r0 + 2 * j0), &span(r1 + 2 * j0));
                store(y, o + j0, &best, n);
                if let Some(am) = argmax.as_deref_mut() {
                    // code: bit 0 the column, bit 1 the row within the window.
                    let start = base + r0 + 2 * j0;
                    let at: [usize; LANES] = std::array::from_fn(|l| {
                        start + 2 * l + (code[l] & 1) as usize + (code[l] >> 1) as usize * w
                    });
                    store(am, o + j0, &at, n);
                }
            }
        }
    }
}

/// Stores the first `n` of `vals` at `dst[at..]`. Where `dst` has room, all [`LANES`] (one
/// vector store instead of a `memcpy` call): the values past `n` land on outputs of later steps,
/// which overwrite them.
#[inline(always)]
fn store<T: Copy>(dst: &mut [T], at: usize, vals: &[T; LANES], n: usize) {
    match dst[at..].first_chunk_mut::<LANES>() {
        Some(d) => *d = *vals,
        None => dst[at..][..n].copy_from_slice(&vals[..n]),
    }
}

/// The maxima of [`LANES`] windows (top pairs `t`, bottom pairs `b`) and their places `0..4` in
/// row-major order, selected without branches.
#[inline(always)]
fn windows(t: &[f32; 2 * LANES], b: &[f32; 2 * LANES]) -> ([f32; LANES], [u32; LANES]) {
    let mut best = [f32::NEG_INFINITY; LANES];
    let mut code = [0u32; LANES];
    let candidates: [[f32; LANES]; 4] = [
        std::array::from_fn(|l| t[2 * l]),
        std::array::from_fn(|l| t[2 * l + 1]),
        std::array::from_fn(|l| b[2 * l]),
        std::array::from_fn(|l| b[2 * l + 1]),
    ];
    for (c, vals) in (0u32..).zip(&candidates) {
        for l in 0..LANES {
            let take = vals[l] > best[l] || vals[l].is_nan();
            best[l] = if take { vals[l] } else { best[l] };
            code[l] = if take { c } else { code[l] };
        }
    }
    (best, code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn rows_longer_and_shorter_than_a_step_follow_the_window_rule() {
        // (planes, h, w): 18 windows a row (one whole step and a partial one), odd sizes whose
        // last row and column are in no window, and a plane of one window.
        for (planes, h, w) in [(3, 7, 37), (2, 5, 7), (1, 2, 2)] {
            let (oh, ow) = (h / 2, w / 2);
            let x = ties_and_nans(planes * h * w, h as u64);
            let len = planes * oh * ow;
            // Every variant this CPU can run: the public function, the portable body, and the
            // AVX-512 intrinsics when available (the public function picks only the widest).
            type Variant = Box<dyn Fn(&[f32], &mut [f32], Option<&mut [usize]>)>;
            let geom = ((h, w), (oh, ow), 7);
            let mut variants: Vec<(&str, Variant)> = vec![
                (
                    "pool",
                    Box::new(move |x, y, am| pool::<2, 2>(x, (h, w), (oh, ow), 7, Some(y), am)),
                ),
                (
                    "portable",
                    Box::new(move |x, y, am| super::planes(x, geom, y, am)),
                ),
            ];
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F detected; the lengths are the ones `pool` checks.
                variants.push((
                    "avx512",
                    Box::new(move |x, y, am| unsafe { avx512::planes::<2>(x, geom, y, am) }),
                ));
            }
            for (name, pool) in &variants {
                let (mut y, mut at) = (vec![0.0; len], vec![0; len]);
                pool(&x, &mut y, Some(&mut at));
                let mut y_only = vec![0.0; len];
                pool(&x, &mut y_only, None);
                check((2, 2), name, &x, (planes, h, w), &y, &at, &y_only);
            }
        }
    }

    #[test]
    fn unpool_puts_each_gradient_at_its_maximum_and_zeros_elsewhere() {
        // (planes, h, w): rows of 18 windows (two whole steps of 8 and a partial one), odd sizes
        // whose last row and column are in no window, a plane of one window. The positions come
        // from `pool` over the whole batch; the gradients include −0 (the scatter writes +0).
        for (planes, h, w) in [(3, 7, 37), (2, 5, 7), (1, 2, 2), (4, 28, 28)] {
            let (oh, ow) = (h / 2, w / 2);
            let x = ties_and_nans(planes * h * w, w as u64);
            let len = planes * oh * ow;
            let mut at = vec![0; len];
            pool::<2, 2>(&x, (h, w), (oh, ow), 0, None, Some(&mut at));
            let mut rng = rand::rngs::StdRng::seed_from_u64(h as u64);
            let dy: Vec<f32> = (0..len)
                .map(|o| {
                    if o % 5 == 0 {
                        -0.0
                    } else {
                        rng.random_range(-1.0..1.0)
                    }
                })
                .collect();
            let mut want = vec![f32::NAN; planes * h * w];
            scatter(&dy, &at, &mut want);
            let mut got = vec![f32::NAN; planes * h * w];
            unpool::<2, 2>(&dy, &at, (h, w), (oh, ow), &mut got);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "unpool {planes}×{h}×{w}");
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                let mut got = vec![f32::NAN; planes * h * w];
                // SAFETY: AVX-512F detected; the lengths are the ones `unpool` checks.
                unsafe { avx512::unpool2(&dy, &at, (h, w), (oh, ow), &mut got) };
                assert_eq!(bits(&got), bits(&want), "avx512 {planes}×{h}×{w}");
            }
            // The reference itself: each window's gradient at its maximum, zeros elsewhere.
            for (o, (&a, &g)) in at.iter().zip(&dy).enumerate() {
                assert_eq!(want[a], g + 0.0, "window {o}");
            }
            assert_eq!(
                want.iter().filter(|v| **v != 0.0).count(),
                dy.iter().filter(|v| **v != 0.0).count()
            );
        }
    }

    #[test]
    fn three_by_three_and_other_windows_follow_the_window_rule() {
        // 3 × 3 / stride 2 (the AVX-512 kernel where available; rows of 18 and 2 windows) and
        // 3 × 3 / stride 1 (window by window), with and without the maxima.
        for (planes, h, w) in [(3, 9, 37), (2, 5, 6)] {
            let x = ties_and_nans(planes * h * w, w as u64);
            for (k, s) in [(3, 2), (3, 1)] {
                let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
                let len = planes * oh * ow;
                let (mut y, mut at, mut y_only) = (vec![0.0; len], vec![0; len], vec![0.0; len]);
                let mut at_only = vec![0; len];
                let run = match s {
                    2 => pool::<3, 2>,
                    _ => pool::<3, 1>,
                };
                run(&x, (h, w), (oh, ow), 7, Some(&mut y), Some(&mut at));
                run(&x, (h, w), (oh, ow), 7, Some(&mut y_only), None);
                run(&x, (h, w), (oh, ow), 7, None, Some(&mut at_only));
                assert_eq!(at_only, at);
                check(
                    (k, s),
                    &format!("{k}×{k}/{s}"),
                    &x,
                    (planes, h, w),
                    &y,
                    &at,
                    &y_only,
                );
            }
        }
    }

    /// `len` values from a few distinct ones (many ties), some NaN.
    fn ties_and_nans(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..len)
            .map(|_| match rng.random_range(0..10) {
                0 => f32::NAN,
                v => (v % 3) as f32,
            })
            .collect()
    }

    /// Asserts the window rule (the first maximum in row-major order; a NaN wins, the last one)
    /// for `k × k` windows `s` apart on one variant's maxima with positions (`y`, `at`, base 7)
    /// and without (`y_only`).
    fn check(
        (k, s): (usize, usize),
        name: &str,
        x: &[f32],
        (planes, h, w): (usize, usize, usize),
        y: &[f32],
        at: &[usize],
        y_only: &[f32],
    ) {
        let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
        assert_eq!(y.len(), planes * oh * ow);
        for o in 0..y.len() {
            let (p, i, j) = (o / (oh * ow), o / ow % oh, o % ow);
            let mut want = None::<usize>;
            for u in 0..k {
                for v in 0..k {
                    let q = p * h * w + (s * i + u) * w + s * j + v;
                    if want.is_none_or(|a| x[q] > x[a] || x[q].is_nan()) {
                        want = Some(q);
                    }
                }
            }
            let want = want.unwrap();
            assert_eq!(at[o], want + 7, "{name} {h}×{w} window {o}");
            assert_eq!(
                y[o].to_bits(),
                x[want].to_bits(),
                "{name} {h}×{w} window {o}"
            );
            assert_eq!(
                y_only[o].to_bits(),
                x[want].to_bits(),
                "{name} {h}×{w} window {o}"
            );
        }
    }
}
