//! The transposing copy of packing: rows of a row-major matrix (contiguous along the depth `p`)
//! into a panel stored depth-major, `panel[p·width + i] = x[(r0 + i)·rs + p0 + p]`.
//!
//! Every row-major `A` panel and every transposed `B` panel (a Dense forward `x·Wᵀ`, the weight
//! gradients) goes through this copy. Element by element it took as long as the product itself
//! on small products (`perf`: 46% of a 100 × 128 × 784 `A·Bᵀ` in packing), so on CPUs with AVX it
//! moves 8 × 8 blocks through registers: 8 row loads, the classic 24-shuffle transpose, 8 stores,
//! with masked loads and stores at the ragged edges (a partial depth block, a last block of
//! fewer than 8 rows, a panel width that is not a multiple of 8). Elsewhere, and for the ragged
//! rest of the portable path, 8 × 8 blocks of plain arrays and then single elements.

use std::ops::Range;

/// Writes `x[(r0 + i)·rs + p0 + p]` (for `i < rows`, `p < kc`) to `panel[p·width + i]`, and zero
/// for `rows ≤ i < width`.
///
/// # Panics
/// If `rows > width`, if the block is not inside `x`, or if `panel` is shorter than `kc·width`.
pub(super) fn pack_rows(
    panel: &mut [f32],
    x: &[f32],
    rs: usize,
    (r0, p0): (usize, usize),
    (rows, kc): (usize, usize),
    width: usize,
) {
    assert!(
        rows <= width,
        "a panel of {width} holds at most {width} rows, not {rows}"
    );
    let panel = &mut panel[..kc * width];
    if rows == 0 || kc == 0 {
        panel.fill(0.0);
        return;
    }
    let last = (r0 + rows - 1) * rs + p0 + kc;
    assert!(
        last <= x.len(),
        "the block ends at {last}, past the {} values of x",
        x.len()
    );
    #[cfg(target_arch = "x86_64")]
    if has_avx() {
        // SAFETY: AVX is available (checked); the block's rows `r0..r0+rows`, depths
        // `p0..p0+kc` lie inside `x` and `panel` holds `kc·width` values (asserted above).
        unsafe { avx::pack(panel, x.as_ptr(), rs, (r0, p0), (rows, kc), width) };
        return;
    }
    pack_portable(panel, x, rs, (r0, p0), (rows, kc), width);
}

/// Whether the CPU has AVX (detected once).
#[cfg(target_arch = "x86_64")]
fn has_avx() -> bool {
    static AVX: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVX.get_or_init(|| is_x86_feature_detected!("avx"))
}

/// [`pack_rows`] without SIMD intrinsics: 8 × 8 blocks of arrays, then element by element.
fn pack_portable(
    panel: &mut [f32],
    x: &[f32],
    rs: usize,
    (r0, p0): (usize, usize),
    (rows, kc): (usize, usize),
    width: usize,
) {
    let (rows8, kc8) = (rows / 8 * 8, kc / 8 * 8);
    for p in (0..kc8).step_by(8) {
        for i in (0..rows8).step_by(8) {
            let block: [[f32; 8]; 8] = std::array::from_fn(|ii| {
                let start = (r0 + i + ii) * rs + p0 + p;
                let Some(run) = x[start..].first_chunk::<8>() else {
                    unreachable!("invariant: the block lies inside x")
                };
                *run
            });
            for (pp, d) in panel[p * width..].chunks_mut(width).take(8).enumerate() {
                let Some(dst) = d[i..].first_chunk_mut::<8>() else {
                    unreachable!("invariant: i + 8 ≤ rows ≤ width")
                };
                *dst = std::array::from_fn(|ii| block[ii][pp]);
            }
        }
    }
    let single = |panel: &mut [f32], is: Range<usize>, ps: Range<usize>| {
        for p in ps {
            for i in is.clone() {
                panel[p * width + i] = x[(r0 + i) * rs + p0 + p];
            }
        }
    };
    single(panel, rows8..rows, 0..kc);
    single(panel, 0..rows8, kc8..kc);
    if rows < width {
        for d in panel.chunks_exact_mut(width) {
            d[rows..].fill(0.0);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::*;

    /// Lane mask of the first `n ≤ 8` lanes, for `maskload` / `maskstore`.
    #[target_feature(enable = "avx")]
    fn first_lanes(n: usize) -> __m256i {
        let lanes = _mm256_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
        _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(lanes, _mm256_set1_ps(n as f32)))
    }

    /// Transposes the 8 × 8 block `r` (row `ii` in `r[ii]`): lane `ii` of result `pp` is lane
    /// `pp` of `r[ii]`.
    #[target_feature(enable = "avx")]
    fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
        let t0 = _mm256_unpacklo_ps(r[0], r[1]);
        let t1 = _mm256_unpackhi_ps(r[0], r[1]);
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        [
            _mm256_permute2f128_ps::<0x20>(s0, s4),
            _mm256_permute2f128_ps::<0x20>(s1, s5),
            _mm256_permute2f128_ps::<0x20>(s2, s6),
            _mm256_permute2f128_ps::<0x20>(s3, s7),
            _mm256_permute2f128_ps::<0x31>(s0, s4),
            _mm256_permute2f128_ps::<0x31>(s1, s5),
            _mm256_permute2f128_ps::<0x31>(s2, s6),
            _mm256_permute2f128_ps::<0x31>(s3, s7),
        ]
    }

    /// [`super::pack_rows`] in 8 × 8 register blocks: for each block of 8 panel columns (rows of
    /// `x`), the depth in steps of 8 (the last one with masked loads). A block's rows past `rows`
    /// repeat its last valid row and are cleared after the transpose, and the stores of a block
    /// narrower than 8 are masked to the panel width, so the padding comes out zeroed without a
    /// branch per row.
    ///
    /// # Safety
    /// The CPU must have AVX; `x` must address the rows `r0..r0+rows` (`rs` apart) at depths
    /// `p0..p0+kc`, `panel` must hold `kc·width` values, and `1 ≤ rows ≤ width`.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn pack(
        panel: &mut [f32],
        x: *const f32,
        rs: usize,
        (r0, p0): (usize, usize),
        (rows, kc): (usize, usize),
        width: usize,
    ) {
        let full_depth = kc / 8 * 8;
        for i in (0..width).step_by(8) {
            let valid = rows.saturating_sub(i).min(8);
            let block = Block {
                out: panel[i..].as_mut_ptr(),
                width,
                keep: _mm256_castsi256_ps(first_lanes(valid)),
                valid,
                lanes: (width - i).min(8),
            };
            if valid == 0 {
                for p in 0..kc {
                    // SAFETY: panel row p < kc, block columns inside the width (see `Block`).
                    unsafe { block.store(p, _mm256_setzero_ps()) };
                }
                continue;
            }
            // SAFETY: rows r0+i..r0+i+valid lie inside x (caller contract), rows past them
            // repeat the last valid one.
            let src: [*const f32; 8] =
                std::array::from_fn(|ii| unsafe { x.add((r0 + i + ii.min(valid - 1)) * rs + p0) });
            for p in (0..full_depth).step_by(8) {
                // SAFETY: depths p..p+8 ≤ kc of each row are inside x (caller contract).
                let t = transpose8(src.map(|s| unsafe { _mm256_loadu_ps(s.add(p)) }));
                for (pp, &v) in t.iter().enumerate() {
                    // SAFETY: panel row p+pp < kc.
                    unsafe { block.store(p + pp, v) };
                }
            }
            if full_depth < kc {
                let m = first_lanes(kc - full_depth);
                // SAFETY: the mask enables only the depths full_depth..kc, inside x.
                let t =
                    transpose8(src.map(|s| unsafe { _mm256_maskload_ps(s.add(full_depth), m) }));
                for (pp, &v) in t.iter().enumerate().take(kc - full_depth) {
                    // SAFETY: panel row full_depth+pp < kc.
                    unsafe { block.store(full_depth + pp, v) };
                }
            }
        }
    }

    /// Where one block of (at most) 8 panel columns goes.
    struct Block {
        /// Column `i` of panel row 0.
        out: *mut f32,
        /// Row length of the panel.
        width: usize,
        /// All-ones lanes for the valid rows of `x`.
        keep: __m256,
        /// Rows of `x` in the block (the rest of its lanes must be zero).
        valid: usize,
        /// Columns of the panel in the block, `min(8, width − i)`.
        lanes: usize,
    }

    impl Block {
        /// Writes `v` (cleared past the valid rows) to the block's columns of panel row `p`.
        ///
        /// # Safety
        /// The CPU must have AVX and row `p` must be inside the panel; the block's `lanes`
        /// columns are inside its width by construction.
        #[target_feature(enable = "avx")]
        unsafe fn store(&self, p: usize, v: __m256) {
            let v = if self.valid < 8 {
                _mm256_and_ps(v, self.keep)
            } else {
                v
            };
            // SAFETY: row p of the panel (caller contract), columns i..i+lanes ≤ width; the mask
            // enables only those lanes.
            unsafe {
                let dst = self.out.add(p * self.width);
                if self.lanes == 8 {
                    _mm256_storeu_ps(dst, v);
                } else {
                    _mm256_maskstore_ps(dst, first_lanes(self.lanes), v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every panel width the GEMM tiles use, ragged row counts and depths, against the
    /// definition; the portable path too (the AVX one runs wherever the CPU has it).
    #[test]
    fn packed_panels_are_the_transposed_rows_with_zero_padding() {
        let rs = 45;
        let x: Vec<f32> = (0..rs * 40).map(|v| v as f32 + 0.5).collect();
        for width in [4, 6, 8, 10, 12, 14, 16, 32] {
            for rows in [1, 3, 7, 8, 9, width - 1, width] {
                if rows > width {
                    continue;
                }
                for kc in [1, 5, 8, 13, 16, 29] {
                    let (r0, p0) = (2, 3);
                    let expect: Vec<f32> = (0..kc * width)
                        .map(|e| {
                            let (p, i) = (e / width, e % width);
                            if i < rows {
                                x[(r0 + i) * rs + p0 + p]
                            } else {
                                0.0
                            }
                        })
                        .collect();
                    let mut fast = vec![f32::NAN; kc * width + 3];
                    pack_rows(&mut fast, &x, rs, (r0, p0), (rows, kc), width);
                    assert_eq!(
                        fast[..kc * width],
                        expect[..],
                        "{rows} rows, kc {kc}, {width}"
                    );
                    assert!(
                        fast[kc * width..].iter().all(|v| v.is_nan()),
                        "wrote past the panel"
                    );
                    let mut slow = vec![f32::NAN; kc * width];
                    pack_portable(&mut slow, &x, rs, (r0, p0), (rows, kc), width);
                    assert_eq!(
                        slow, expect,
                        "portable: {rows} rows, kc {kc}, width {width}"
                    );
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "past the")]
    fn a_block_outside_x_is_rejected() {
        let x = vec![0.0; 20];
        let mut panel = vec![0.0; 32];
        pack_rows(&mut panel, &x, 10, (1, 5), (2, 8), 4);
    }
}
