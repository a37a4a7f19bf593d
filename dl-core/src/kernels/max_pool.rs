//! The 2 × 2, stride-2 max pool (LeNet's and the CIFAR AlexNet's): AVX-512 intrinsics, or the
//! portable body compiled for AVX2 or the x86-64 baseline, the widest the CPU supports picked at
//! run time.
//!
//! The window rule is [`MaxPool2d`](crate::MaxPool2d)'s: the first maximum in row-major order
//! wins, and a NaN wins over any number (the last NaN over earlier ones). Each output row reads
//! one pair of input rows, 16 windows per step, and selects without branches. Built for the
//! x86-64 baseline only, the per-window loop ran SSE2 code (or scalar code on LeNet's rows of 14
//! and 5 windows, shorter than the vector loop), and the pool took 10% of a LeNet training step.
//!
//! ```
//! use dl_core::kernels::max_pool::pool_2x2;
//! // One 2 × 4 plane: two windows.
//! let x = [1.0, 5.0, 2.0, 0.0, 3.0, 4.0, -1.0, 7.0];
//! let (mut y, mut at) = ([0.0; 2], [0; 2]);
//! pool_2x2(&x, (2, 4), (1, 2), 100, &mut y, Some(&mut at));
//! assert_eq!(y, [5.0, 7.0]);
//! assert_eq!(at, [101, 107]); // positions in `x` plus the base 100
//! ```

/// Pools the planes of `x` (each `h × w`, outputs `oh × ow`, `oh ≤ h/2`, `ow ≤ w/2`) with 2 × 2
/// windows 2 apart into `y`, and when given writes each maximum's position in `x` plus `base`
/// into `argmax` (both `planes·oh·ow` long).
///
/// # Panics
/// If a length disagrees with the geometry (a caller bug).
pub fn pool_2x2(
    x: &[f32],
    (h, w): (usize, usize),
    (oh, ow): (usize, usize),
    base: usize,
    y: &mut [f32],
    argmax: Option<&mut [usize]>,
) {
    assert!(
        2 * oh <= h && 2 * ow <= w,
        "pool_2x2: output larger than the input allows"
    );
    assert_eq!(x.len() % (h * w), 0, "pool_2x2: input length");
    assert_eq!(
        y.len(),
        x.len() / (h * w) * oh * ow,
        "pool_2x2: output length"
    );
    if let Some(am) = &argmax {
        assert_eq!(am.len(), y.len(), "pool_2x2: argmax length");
    }
    let geom = ((h, w), (oh, ow), base);
    #[cfg(target_arch = "x86_64")]
    {
        /// # Safety
        /// The CPU must support AVX2.
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(x: &[f32], geom: Geom, y: &mut [f32], argmax: Option<&mut [usize]>) {
            planes(x, geom, y, argmax);
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F detected on the line above; the lengths were checked above.
            return unsafe { avx512::planes(x, geom, y, argmax) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 detected on the line above.
            return unsafe { avx2(x, geom, y, argmax) };
        }
    }
    planes(x, geom, y, argmax);
}

/// The AVX-512 variant, in intrinsics: the compiler's vectorisation of [`planes`] split its
/// vectors in halves and went through the stack (the pool took 10% of LeNet inference).
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Geom, LANES};
    use std::arch::x86_64::*;

    /// [`super::planes`]: 16 windows per step, the input read and the results written under
    /// masks (no padding, nothing past a row's end).
    ///
    /// # Safety
    /// The CPU must support AVX-512F, and the lengths must be [`super::pool_2x2`]'s checked ones.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn planes(
        x: &[f32],
        ((h, w), (oh, ow), base): Geom,
        y: &mut [f32],
        mut argmax: Option<&mut [usize]>,
    ) {
        let plane = h * w;
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
        let lanes = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
        // The places of the window's second to fourth values relative to the first.
        let places = [1, w, w + 1].map(|d| _mm512_set1_epi64(d as i64));
        for p in 0..x.len() / plane {
            for i in 0..oh {
                let r0 = p * plane + 2 * i * w;
                let o = (p * oh + i) * ow;
                for j0 in (0..ow).step_by(LANES) {
                    let n = LANES.min(ow - j0);
                    let (lo, hi) = (mask16(2 * n), mask16((2 * n).saturating_sub(16)));
                    // SAFETY: 2·ow ≤ w and 2·oh ≤ h, so both rows' 2·n values from column
                    // 2·j0 lie inside the plane; masked-off lanes are not accessed (the
                    // addresses past the row are formed with `wrapping_add`, never read).
                    let [t0, t1, b0, b1] = unsafe {
                        let top = x.as_ptr().add(r0 + 2 * j0);
                        let bottom = top.add(w);
                        [
                            _mm512_maskz_loadu_ps(lo, top),
                            _mm512_maskz_loadu_ps(hi, top.wrapping_add(16)),
                            _mm512_maskz_loadu_ps(lo, bottom),
                            _mm512_maskz_loadu_ps(hi, bottom.wrapping_add(16)),
                        ]
                    };
                    let candidates = [
                        _mm512_permutex2var_ps(t0, odd, t1),
                        _mm512_permutex2var_ps(b0, even, b1),
                        _mm512_permutex2var_ps(b0, odd, b1),
                    ];
                    // The first value, then each later one where it is greater or NaN.
                    let mut best = _mm512_permutex2var_ps(t0, even, t1);
                    let mut takes = [0u16; 3];
                    for (take, v) in takes.iter_mut().zip(candidates) {
                        *take = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, best)
                            | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
                        best = _mm512_mask_blend_ps(*take, best, v);
                    }
                    let out = mask16(n);
                    // SAFETY: outputs o + j0 .. o + j0 + n lie inside y (checked length).
                    unsafe { _mm512_mask_storeu_ps(y.as_mut_ptr().add(o + j0), out, best) };
                    if let Some(am) = argmax.as_deref_mut() {
                        // Eight positions per register: the window's first value, moved to the
                        // last candidate taken.
                        let start = _mm512_set1_epi64((base + r0 + 2 * j0) as i64);
                        for half in 0..2 {
                            let first = _mm512_add_epi64(start, lanes);
                            let first =
                                _mm512_add_epi64(first, _mm512_set1_epi64(16 * half as i64));
                            let mut at = first;
                            for (take, place) in takes.iter().zip(&places) {
                                let k = (*take >> (8 * half)) as u8;
                                at = _mm512_mask_add_epi64(at, k, first, *place);
                            }
                            let k = (out >> (8 * half)) as u8;
                            // SAFETY: as for y (argmax has y's length); lanes past n are masked
                            // off and not accessed.
                            unsafe {
                                let dst = am.as_mut_ptr().wrapping_add(o + j0 + 8 * half);
                                _mm512_mask_storeu_epi64(dst.cast::<i64>(), k, at);
                            }
                        }
                    }
                }
            }
        }
    }

    /// The mask of the first `n` (at most 16) lanes.
    fn mask16(n: usize) -> u16 {
        ((1u32 << n.min(16)) - 1) as u16
    }
}

/// Plane size, output size and the base added to positions.
type Geom = ((usize, usize), (usize, usize), usize);

/// Outputs per vector step: one AVX-512 register of maxima.
const LANES: usize = 16;

/// The portable body of [`pool_2x2`] (compiled for AVX2 and for the baseline): each output row in steps of
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
            let mut rng = rand::rngs::StdRng::seed_from_u64(h as u64);
            // Few distinct values (many ties) and some NaN.
            let x: Vec<f32> = (0..planes * h * w)
                .map(|_| match rng.random_range(0..10) {
                    0 => f32::NAN,
                    v => (v % 3) as f32,
                })
                .collect();
            let len = planes * oh * ow;
            // Every variant this CPU can run: the public dispatch, the portable body, and the
            // AVX-512 intrinsics when available (the dispatch picks only the widest).
            type Variant = Box<dyn Fn(&[f32], &mut [f32], Option<&mut [usize]>)>;
            let geom = ((h, w), (oh, ow), 7);
            let mut variants: Vec<(&str, Variant)> = vec![
                (
                    "pool_2x2",
                    Box::new(move |x, y, am| pool_2x2(x, (h, w), (oh, ow), 7, y, am)),
                ),
                (
                    "portable",
                    Box::new(move |x, y, am| super::planes(x, geom, y, am)),
                ),
            ];
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F detected; the lengths are the checked ones of pool_2x2.
                variants.push((
                    "avx512",
                    Box::new(move |x, y, am| unsafe { super::avx512::planes(x, geom, y, am) }),
                ));
            }
            for (name, pool) in &variants {
                let (mut y, mut at) = (vec![0.0; len], vec![0; len]);
                pool(&x, &mut y, Some(&mut at));
                let mut y_only = vec![0.0; len];
                pool(&x, &mut y_only, None);
                check(name, &x, (planes, h, w), &y, &at, &y_only);
            }
        }
    }

    /// Asserts the window rule (the first maximum in row-major order; a NaN wins, the last one)
    /// on one variant's maxima with positions (`y`, `at`, base 7) and without (`y_only`).
    fn check(
        name: &str,
        x: &[f32],
        (planes, h, w): (usize, usize, usize),
        y: &[f32],
        at: &[usize],
        y_only: &[f32],
    ) {
        let (oh, ow) = (h / 2, w / 2);
        for o in 0..planes * oh * ow {
            let (p, i, j) = (o / (oh * ow), o / ow % oh, o % ow);
            let mut want = None::<usize>;
            for (u, v) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let q = p * h * w + (2 * i + u) * w + 2 * j + v;
                if want.is_none_or(|a| x[q] > x[a] || x[q].is_nan()) {
                    want = Some(q);
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
