//! Dense linear least squares with a ridge term, through the normal equations and a Cholesky
//! factorisation, in `f64`: what the RBF network's two-stage training needs for its output layer,
//! without a linear-algebra dependency.
//!
//! For a design matrix `A` (`rows × cols`) and targets `B` (`rows × outs`), [`ridge`] returns the
//! `X` (`cols × outs`) minimising `‖A·X − B‖² + λ·‖X‖²`, the solution of
//! `(AᵀA + λI)·X = AᵀB`. With `λ > 0` the system is positive definite even when `A` has fewer
//! rows than columns or repeated columns (NumPy: `np.linalg.solve(A.T @ A + lam * np.eye(cols),
//! A.T @ B)`; scikit-learn: `Ridge(alpha=lam, fit_intercept=False)`).
//!
//! ```
//! use dl_zoo::lstsq;
//! # fn main() -> dl_core::Result<()> {
//! // y = 2·x + 1 from three exact points: columns [x, 1].
//! let a = [0.0, 1.0, 1.0, 1.0, 2.0, 1.0];
//! let b = [1.0, 3.0, 5.0];
//! let x = lstsq::ridge(&a, 3, 2, &b, 1, 0.0)?;
//! assert!((x[0] - 2.0).abs() < 1e-12 && (x[1] - 1.0).abs() < 1e-12);
//! # Ok(()) }
//! ```

use dl_core::{Error, Result};

/// Factorises the symmetric positive-definite `n × n` matrix `a` (row-major, lower triangle
/// read) in place into its Cholesky factor `L` (`a = L·Lᵀ`, lower triangle written, upper
/// triangle zeroed).
///
/// Errors when a pivot is not positive (the matrix is not positive definite, to rounding) or
/// when `a` does not hold `n·n` values.
///
/// ```
/// let mut a = [4.0, 2.0, 2.0, 3.0];
/// dl_zoo::lstsq::cholesky(&mut a, 2).unwrap();
/// assert_eq!(a, [2.0, 0.0, 1.0, 2.0_f64.sqrt()]);
/// ```
pub fn cholesky(a: &mut [f64], n: usize) -> Result<()> {
    if a.len() != n * n {
        return Err(Error::size(
            "Cholesky matrix",
            format!("{} values ({n}×{n})", n * n),
            format!("{} values", a.len()),
        ));
    }
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if !(d > 0.0 && d.is_finite()) {
            return Err(Error::config(
                "least-squares system",
                format!(
                    "not positive definite (pivot {j} is {d:e}); add a ridge term or remove duplicate columns"
                ),
            ));
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
        for k in j + 1..n {
            a[j * n + k] = 0.0;
        }
    }
    Ok(())
}

/// Solves `L·Lᵀ·X = B` in place for `m` right-hand sides: `l` is the factor from [`cholesky`],
/// `b` is `n × m` row-major and becomes `X`.
pub fn cholesky_solve(l: &[f64], n: usize, b: &mut [f64], m: usize) {
    debug_assert_eq!(l.len(), n * n);
    debug_assert_eq!(b.len(), n * m);
    for c in 0..m {
        // L·y = b.
        for i in 0..n {
            let mut s = b[i * m + c];
            for k in 0..i {
                s -= l[i * n + k] * b[k * m + c];
            }
            b[i * m + c] = s / l[i * n + i];
        }
        // Lᵀ·x = y.
        for i in (0..n).rev() {
            let mut s = b[i * m + c];
            for k in i + 1..n {
                s -= l[k * n + i] * b[k * m + c];
            }
            b[i * m + c] = s / l[i * n + i];
        }
    }
}

/// Ridge least squares (see the module docs): `a` is `rows × cols`, `b` is `rows × outs`, both
/// row-major; returns `X` as `cols × outs`, row-major. `ridge` (λ) must be non-negative; with
/// `λ = 0` this is ordinary least squares and needs `A` of full column rank.
pub fn ridge(
    a: &[f64],
    rows: usize,
    cols: usize,
    b: &[f64],
    outs: usize,
    ridge: f64,
) -> Result<Vec<f64>> {
    if a.len() != rows * cols {
        return Err(Error::size(
            "least-squares design matrix",
            format!("{} values ({rows}×{cols})", rows * cols),
            format!("{} values", a.len()),
        ));
    }
    if b.len() != rows * outs {
        return Err(Error::size(
            "least-squares targets",
            format!("{} values ({rows}×{outs})", rows * outs),
            format!("{} values", b.len()),
        ));
    }
    if !(ridge >= 0.0 && ridge.is_finite()) {
        return Err(Error::config(
            "ridge term",
            format!("must be non-negative, found {ridge}"),
        ));
    }
    // Normal equations: AᵀA + λI and AᵀB, summed row by row in a fixed order.
    let mut ata = vec![0.0; cols * cols];
    let mut atb = vec![0.0; cols * outs];
    for (ar, br) in a.chunks_exact(cols).zip(b.chunks_exact(outs.max(1))) {
        for i in 0..cols {
            for j in 0..=i {
                ata[i * cols + j] += ar[i] * ar[j];
            }
            for (o, &bv) in br.iter().enumerate() {
                atb[i * outs + o] += ar[i] * bv;
            }
        }
    }
    for i in 0..cols {
        ata[i * cols + i] += ridge;
    }
    cholesky(&mut ata, cols)?;
    cholesky_solve(&ata, cols, &mut atb, outs);
    Ok(atb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reconstructs_the_matrix_and_solves_a_known_system() {
        // A = M·Mᵀ + I for a fixed M: symmetric positive definite.
        let a0 = [
            6.0, 3.0, 1.0, //
            3.0, 5.0, 2.0, //
            1.0, 2.0, 4.0,
        ];
        let mut l = a0;
        cholesky(&mut l, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((v - a0[i * 3 + j]).abs() < 1e-12, "({i}, {j})");
            }
            for j in i + 1..3 {
                assert_eq!(l[i * 3 + j], 0.0);
            }
        }
        // x = (1, −2, 3): b = A·x = (6−6+3, 3−10+6, 1−4+12).
        let mut b = [3.0, -1.0, 9.0];
        cholesky_solve(&l, 3, &mut b, 1);
        for (got, want) in b.iter().zip([1.0, -2.0, 3.0]) {
            assert!((got - want).abs() < 1e-12, "{b:?}");
        }
    }

    #[test]
    fn least_squares_fits_noisy_overdetermined_data_like_the_closed_form() {
        // Simple regression y ≈ w·x + c on 5 points: the closed form is
        // w = Σ(x−x̄)(y−ȳ)/Σ(x−x̄)², c = ȳ − w·x̄.
        let xs = [0.0, 1.0, 2.0, 3.0, 4.0];
        let ys = [1.1, 2.9, 5.2, 6.8, 9.1];
        let a: Vec<f64> = xs.iter().flat_map(|&x| [x, 1.0]).collect();
        let sol = ridge(&a, 5, 2, &ys, 1, 0.0).unwrap();
        let (xm, ym) = (2.0, ys.iter().sum::<f64>() / 5.0);
        let w = xs
            .iter()
            .zip(&ys)
            .map(|(x, y)| (x - xm) * (y - ym))
            .sum::<f64>()
            / xs.iter().map(|x| (x - xm) * (x - xm)).sum::<f64>();
        assert!((sol[0] - w).abs() < 1e-12 && (sol[1] - (ym - w * xm)).abs() < 1e-12);
    }

    #[test]
    fn ridge_shrinks_like_its_one_dimensional_closed_form_and_makes_rank_deficiency_solvable() {
        // One column: x = Σ a·b / (Σ a² + λ), for two outputs at once.
        let a = [1.0, 2.0, 3.0];
        let b = [1.0, -1.0, 2.0, 0.0, 2.0, 5.0];
        let sol = ridge(&a, 3, 1, &b, 2, 4.0).unwrap();
        assert!((sol[0] - (1.0 + 4.0 + 6.0) / (14.0 + 4.0)).abs() < 1e-12);
        assert!((sol[1] - (-1.0 + 0.0 + 15.0) / (14.0 + 4.0)).abs() < 1e-12);

        // Two identical columns: singular without ridge, split evenly with it.
        let a = [1.0, 1.0, 2.0, 2.0];
        let b = [2.0, 4.0];
        let err = ridge(&a, 2, 2, &b, 1, 0.0).unwrap_err();
        assert!(err.to_string().contains("not positive definite"), "{err}");
        let sol = ridge(&a, 2, 2, &b, 1, 1e-9).unwrap();
        assert!(
            (sol[0] - 1.0).abs() < 1e-6 && (sol[1] - 1.0).abs() < 1e-6,
            "{sol:?}"
        );
    }

    #[test]
    fn wrong_sizes_and_negative_ridge_are_errors() {
        let err = ridge(&[1.0; 5], 3, 2, &[0.0; 3], 1, 0.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "least-squares design matrix: expected 6 values (3×2), found 5 values"
        );
        let err = ridge(&[1.0; 6], 3, 2, &[0.0; 3], 1, -1.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid ridge term: must be non-negative, found -1"
        );
        let mut m = [1.0; 3];
        assert!(cholesky(&mut m, 2).is_err());
    }
}
