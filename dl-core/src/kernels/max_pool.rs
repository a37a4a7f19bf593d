//! The 2 × 2, stride-2 max pool (LeNet's and the CIFAR AlexNet's), compiled for AVX-512F, for
//! AVX2 and portably, the widest the CPU supports picked at run time.
//!
//! The window rule is [`MaxPool2d`](crate::MaxPool2d)'s: the first maximum in row-major order
//! wins, and a NaN wins over any number (the last NaN over earlier ones). Each output row reads
//! one pair of input rows in pairs of values and selects without branches, a loop the compiler
//! turns into vector compares and blends; built for the x86-64 baseline only it used SSE2, and
//! the pool took 10% of a LeNet training step.
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
    let geom = ((h, w), (oh, ow), base);
    #[cfg(target_arch = "x86_64")]
    {
        /// # Safety
        /// The CPU must support AVX-512F.
        #[target_feature(enable = "avx512f,avx2")]
        unsafe fn avx512(x: &[f32], geom: Geom, y: &mut [f32], argmax: Option<&mut [usize]>) {
            planes(x, geom, y, argmax);
        }
        /// # Safety
        /// The CPU must support AVX2.
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(x: &[f32], geom: Geom, y: &mut [f32], argmax: Option<&mut [usize]>) {
            planes(x, geom, y, argmax);
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F (and with it AVX2) detected on the line above.
            return unsafe { avx512(x, geom, y, argmax) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 detected on the line above.
            return unsafe { avx2(x, geom, y, argmax) };
        }
    }
    planes(x, geom, y, argmax);
}

/// Plane size, output size and the base added to positions.
type Geom = ((usize, usize), (usize, usize), usize);

/// Outputs per vector step: one AVX-512 register of maxima.
const LANES: usize = 16;

/// The body of [`pool_2x2`], inlined into each of its variants: each output row in steps of
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
            let (mut y, mut at) = (vec![0.0; len], vec![0; len]);
            pool_2x2(&x, (h, w), (oh, ow), 7, &mut y, Some(&mut at));
            let mut y_only = vec![0.0; len];
            pool_2x2(&x, (h, w), (oh, ow), 7, &mut y_only, None);
            for o in 0..len {
                let (p, i, j) = (o / (oh * ow), o / ow % oh, o % ow);
                let mut want = None::<usize>;
                for (u, v) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let q = p * h * w + (2 * i + u) * w + 2 * j + v;
                    if want.is_none_or(|a| x[q] > x[a] || x[q].is_nan()) {
                        want = Some(q);
                    }
                }
                let want = want.unwrap();
                assert_eq!(at[o], want + 7, "{h}×{w} window {o}");
                assert_eq!(y[o].to_bits(), x[want].to_bits(), "{h}×{w} window {o}");
                assert_eq!(y_only[o].to_bits(), x[want].to_bits(), "{h}×{w} window {o}");
            }
        }
    }
}
