//! Single-precision matrix multiply: the one entry point to `matrixmultiply::sgemm`.
//!
//! Row-major, BLAS-like: `C = alpha · op(A) · op(B) + beta · C` where `op` is the identity or the
//! transpose. Transposes are expressed with strides, never copies. `beta = 0` overwrites `C`
//! (its old content is never read, so it may hold NaN), `beta = 1` accumulates.
//!
//! `matrixmultiply` picks its AVX-512, AVX2+FMA or portable kernel by run-time CPU detection.
//!
//! # Threads
//! The thread count comes from the environment variable `DL_NUM_THREADS` (default: all physical
//! cores, at most 4, `matrixmultiply`'s own limit). `matrixmultiply` splits a GEMM across threads
//! only when it is large enough to gain from it. See [`num_threads`].
//!
//! ```
//! use dl_core::kernels::gemm::{gemm, Trans};
//! // [1 2; 3 4] · [5 6; 7 8]ᵀ = [17 23; 39 53]
//! let a = [1.0, 2.0, 3.0, 4.0];
//! let b = [5.0, 6.0, 7.0, 8.0];
//! let mut c = [0.0; 4];
//! gemm(Trans::N, Trans::T, 2, 2, 2, 1.0, &a, 2, &b, 2, 0.0, &mut c, 2);
//! assert_eq!(c, [17.0, 23.0, 39.0, 53.0]);
//! ```

/// The number of threads GEMMs may use: `DL_NUM_THREADS` if set, else all physical cores
/// (clamped to 1..=4 by `matrixmultiply`). Read once, at the first call of this function or of
/// [`gemm`]; later changes of the variable have no effect.
pub fn num_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        let requested = std::env::var("DL_NUM_THREADS")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok());
        match requested {
            Some(n) => {
                let n = n.clamp(1, 4);
                // SAFETY: `matrixmultiply` reads MATMUL_NUM_THREADS once, when its thread pool is
                // first used, which is after this point because every GEMM of this crate calls
                // `num_threads` first. `set_var` is unsound only if another thread reads the
                // environment through libc concurrently; Rust's own `env::var` takes the same
                // lock as `set_var`, and this runs once, at the first matrix multiply.
                unsafe { std::env::set_var("MATMUL_NUM_THREADS", n.to_string()) };
                n
            }
            None => std::env::var("MATMUL_NUM_THREADS")
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
                .clamp(1, 4),
        }
    })
}

/// Whether an operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trans {
    /// As stored.
    N,
    /// Transposed.
    T,
}

/// Row and column strides of `op(X)` for a row-major `X` with leading dimension `ld`.
fn strides(t: Trans, ld: usize) -> (isize, isize) {
    match t {
        Trans::N => (ld as isize, 1),
        Trans::T => (1, ld as isize),
    }
}

/// Smallest slice length holding a `rows × cols` matrix with strides `(rs, cs)`.
fn needed(rows: usize, cols: usize, (rs, cs): (isize, isize)) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs as usize + (cols - 1) * cs as usize + 1
    }
}

/// `C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C`, all row-major.
///
/// `lda`, `ldb`, `ldc` are the row lengths of `A`, `B`, `C` as stored (for `Trans::T`, `A` is
/// stored `k × m` and `lda ≥ m`).
///
/// # Panics
/// If a slice is too short for its dimensions or a leading dimension is too small: that is a bug
/// in the caller, never a user error.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    ta: Trans,
    tb: Trans,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    let sa = strides(ta, lda);
    let sb = strides(tb, ldb);
    let sc = (ldc as isize, 1);
    let (a_rows, a_cols) = if ta == Trans::N { (m, k) } else { (k, m) };
    let (b_rows, b_cols) = if tb == Trans::N { (k, n) } else { (n, k) };
    assert!(
        lda >= a_cols.max(1) && ldb >= b_cols.max(1) && ldc >= n.max(1),
        "gemm: leading dimension too small"
    );
    assert!(
        a.len() >= needed(a_rows, a_cols, (lda as isize, 1)),
        "gemm: A too short"
    );
    assert!(
        b.len() >= needed(b_rows, b_cols, (ldb as isize, 1)),
        "gemm: B too short"
    );
    assert!(c.len() >= needed(m, n, sc), "gemm: C too short");
    if m == 0 || n == 0 {
        return;
    }
    num_threads();
    if k == 0 {
        // matrixmultiply handles k = 0 as C = beta·C; keep beta = 0 from reading C.
        if beta == 0.0 {
            for row in 0..m {
                c[row * ldc..row * ldc + n].fill(0.0);
            }
            return;
        }
    }
    // SAFETY: the assertions above check that every element addressed through the strides
    // (rows-1)·rs + (cols-1)·cs lies inside the slices; `c` is borrowed mutably and cannot alias
    // `a` or `b`; all strides are positive and fit in isize because they come from slice lengths.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            sa.0,
            sa.1,
            b.as_ptr(),
            sb.0,
            sb.1,
            beta,
            c.as_mut_ptr(),
            sc.0,
            sc.1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive reference product on explicit strides.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        ta: Trans,
        tb: Trans,
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        b: &[f32],
        ldb: usize,
    ) -> Vec<f32> {
        let at = |i: usize, p: usize| {
            if ta == Trans::N {
                a[i * lda + p]
            } else {
                a[p * lda + i]
            }
        };
        let bt = |p: usize, j: usize| {
            if tb == Trans::N {
                b[p * ldb + j]
            } else {
                b[j * ldb + p]
            }
        };
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k)
                    .map(|p| at(i, p) as f64 * bt(p, j) as f64)
                    .sum::<f64>() as f32;
            }
        }
        c
    }

    #[test]
    fn all_transpose_combinations_match_the_naive_product() {
        let (m, n, k) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.91).cos()).collect();
        for ta in [Trans::N, Trans::T] {
            for tb in [Trans::N, Trans::T] {
                let lda = if ta == Trans::N { k } else { m };
                let ldb = if tb == Trans::N { n } else { k };
                let want = reference(ta, tb, m, n, k, &a, lda, &b, ldb);
                let mut c = vec![f32::NAN; m * n];
                gemm(ta, tb, m, n, k, 1.0, &a, lda, &b, ldb, 0.0, &mut c, n);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - y).abs() < 1e-5, "{ta:?}{tb:?}: {x} vs {y}");
                }
                // beta = 1 accumulates.
                gemm(ta, tb, m, n, k, 2.0, &a, lda, &b, ldb, 1.0, &mut c, n);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - 3.0 * y).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "A too short")]
    fn short_slices_are_rejected() {
        let mut c = [0.0; 4];
        gemm(
            Trans::N,
            Trans::N,
            2,
            2,
            2,
            1.0,
            &[0.0; 3],
            2,
            &[0.0; 4],
            2,
            0.0,
            &mut c,
            2,
        );
    }
}
