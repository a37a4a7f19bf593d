//! Test support: a finite-difference gradient checker and the PyTorch golden-file loader.
//!
//! Used by the unit tests of every layer and loss, and available to users who write layers.

use crate::error::{Error, Result};
use crate::kernels::im2col::ConvGeom;
use crate::layers::{Layer, Mode};
use crate::tensor::{Act, Shape};
use rand::Rng;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Relative tolerance of the finite-difference checks (f32 forward passes, f64 sums).
pub const GRAD_RTOL: f64 = 2e-2;
/// Absolute tolerance of the finite-difference checks.
pub const GRAD_ATOL: f64 = 2e-3;
/// Step of the central differences.
pub const GRAD_EPS: f32 = 1e-2;

fn random_vec<R: Rng + ?Sized>(n: usize, rng: &mut R) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// `Σ r·y` in f64: the scalar whose gradient the checker compares.
fn weighted_sum(r: &[f32], y: &[f32]) -> f64 {
    r.iter().zip(y).map(|(&a, &b)| a as f64 * b as f64).sum()
}

/// Compares an analytic gradient with a numerical one; panics naming the first mismatch.
fn compare(what: &str, analytic: &[f32], numeric: &[f64]) {
    assert_eq!(analytic.len(), numeric.len(), "{what}: lengths differ");
    for (i, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
        let a = a as f64;
        let tol = GRAD_ATOL + GRAD_RTOL * a.abs().max(n.abs());
        assert!(
            (a - n).abs() <= tol,
            "{what}[{i}]: analytic {a:.6} but finite differences give {n:.6}"
        );
    }
}

/// The convolution `y = conv(x, w) + b` by its definition, summed in f64: `x` `[n, C, H, W]`,
/// `w` `[oc, C, K, K]`, `b` `[oc]`, zeros outside the input (the geometry's top and left
/// padding), `y` `[n, oc, OH, OW]`. The reference the convolution kernels are tested against.
///
/// ```
/// use dl_core::kernels::im2col::ConvGeom;
/// use dl_core::shape::Pad;
/// // A 2×2 window of ones over [1 2; 3 4] padded by 1: the 3×3 sums, plus 0.5.
/// let g = ConvGeom::new(1, 2, 2, 2, 1, Pad::Explicit(1)).unwrap();
/// let y = dl_core::testing::conv2d_reference(&g, 1, 1, &[1.0, 2.0, 3.0, 4.0], &[1.0; 4], &[0.5]);
/// assert_eq!(y, [1.5, 3.5, 2.5, 4.5, 10.5, 6.5, 3.5, 7.5, 4.5]);
/// ```
pub fn conv2d_reference(
    g: &ConvGeom,
    oc: usize,
    n: usize,
    x: &[f32],
    w: &[f32],
    b: &[f32],
) -> Vec<f64> {
    let (c, k, h, wd) = (g.channels, g.kernel, g.height, g.width);
    let mut y = Vec::with_capacity(n * oc * g.pixels());
    for s in 0..n {
        for o in 0..oc {
            for i in 0..g.out_h {
                for j in 0..g.out_w {
                    let mut acc = b[o] as f64;
                    for (ci, u, v) in
                        (0..c).flat_map(|ci| (0..k * k).map(move |t| (ci, t / k, t % k)))
                    {
                        let r = (g.stride * i + u).checked_sub(g.pad_top).filter(|&r| r < h);
                        let q = (g.stride * j + v)
                            .checked_sub(g.pad_left)
                            .filter(|&q| q < wd);
                        if let (Some(r), Some(q)) = (r, q) {
                            let xv = x[((s * c + ci) * h + r) * wd + q] as f64;
                            acc += xv * w[((o * c + ci) * k + u) * k + v] as f64;
                        }
                    }
                    y.push(acc);
                }
            }
        }
    }
    y
}

/// Checks a layer's backward pass against central finite differences on random inputs in
/// `[-1, 1)` and a random output weighting, in training mode.
///
/// Panics with the first parameter or input element whose gradient disagrees.
pub fn check_layer_gradients<I: Shape, O: Shape, L: Layer<I, O>>(
    layer: &mut L,
    batch: usize,
    rng: &mut impl Rng,
) {
    let x = Act::<I>::from_vec(random_vec(batch * I::SIZE, rng)).expect("invariant: whole samples");
    check_layer_gradients_at(layer, &x, Mode::Train, rng);
}

/// [`check_layer_gradients`] at a given input and mode (for layers with kinks, pick an input away
/// from them; for Dropout, fix the mask first).
pub fn check_layer_gradients_at<I: Shape, O: Shape, L: Layer<I, O>>(
    layer: &mut L,
    x: &Act<I>,
    mode: Mode,
    rng: &mut impl Rng,
) {
    let mut y = Act::<O>::default();
    layer.forward(x, &mut y, mode);
    let r =
        Act::<O>::from_vec(random_vec(y.as_slice().len(), rng)).expect("invariant: whole samples");
    let mut dx = Act::<I>::default();
    layer.backward(x, &y, &r, Some(&mut dx));

    let objective = |layer: &mut L, x: &Act<I>| {
        let mut y = Act::<O>::default();
        layer.forward(x, &mut y, mode);
        weighted_sum(r.as_slice(), y.as_slice())
    };

    // Input gradient.
    let mut xp = x.clone();
    let mut numeric = vec![0.0; x.as_slice().len()];
    for (i, num) in numeric.iter_mut().enumerate() {
        let orig = xp.as_slice()[i];
        xp.as_mut_slice()[i] = orig + GRAD_EPS;
        let plus = objective(layer, &xp);
        xp.as_mut_slice()[i] = orig - GRAD_EPS;
        let minus = objective(layer, &xp);
        xp.as_mut_slice()[i] = orig;
        *num = (plus - minus) / (2.0 * GRAD_EPS as f64);
    }
    compare("input gradient", dx.as_slice(), &numeric);

    // Parameter gradients (trainable only), in visiting order.
    let mut analytic: Vec<(String, Vec<f32>)> = Vec::new();
    layer.visit(&mut |name, p| {
        if p.is_trainable() {
            analytic.push((name.to_string(), p.grad.to_vec()));
        }
    });
    for (index, (name, grad)) in analytic.iter().enumerate() {
        let mut numeric = vec![0.0; grad.len()];
        for (e, num) in numeric.iter_mut().enumerate() {
            let nudge = |layer: &mut L, delta: f32| {
                let mut k = 0;
                layer.visit_mut(&mut |_, p| {
                    if p.is_trainable() {
                        if k == index {
                            p.value_mut()[e] += delta;
                        }
                        k += 1;
                    }
                });
            };
            nudge(layer, GRAD_EPS);
            let plus = objective(layer, x);
            nudge(layer, -2.0 * GRAD_EPS);
            let minus = objective(layer, x);
            nudge(layer, GRAD_EPS);
            *num = (plus - minus) / (2.0 * GRAD_EPS as f64);
        }
        compare(&format!("gradient of {name}"), grad, &numeric);
    }
}

/// Checks a loss gradient against central finite differences at `pred`.
///
/// `loss` returns the loss and writes its gradient with respect to the prediction into the
/// second argument.
pub fn check_loss_gradients<S: Shape>(
    pred: &Act<S>,
    mut loss: impl FnMut(&Act<S>, &mut Act<S>) -> f32,
) {
    let mut grad = Act::<S>::default();
    loss(pred, &mut grad);
    let mut scratch = Act::<S>::default();
    let mut p = pred.clone();
    let mut numeric = vec![0.0; pred.as_slice().len()];
    for (i, num) in numeric.iter_mut().enumerate() {
        let orig = p.as_slice()[i];
        p.as_mut_slice()[i] = orig + GRAD_EPS;
        let plus = loss(&p, &mut scratch) as f64;
        p.as_mut_slice()[i] = orig - GRAD_EPS;
        let minus = loss(&p, &mut scratch) as f64;
        p.as_mut_slice()[i] = orig;
        *num = (plus - minus) / (2.0 * GRAD_EPS as f64);
    }
    compare("loss gradient", grad.as_slice(), &numeric);
}

/// Relative tolerance of golden comparisons against PyTorch (f32 arithmetic).
pub const GOLDEN_RTOL: f32 = 1e-4;

/// One tensor of a golden case.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct GoldenTensor {
    /// PyTorch shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// One reference case computed with PyTorch (format: `tests/golden/README.md`).
#[derive(Clone, Debug, serde::Deserialize)]
pub struct GoldenCase {
    /// Case name.
    pub case: String,
    /// The operation (`dense`, `conv2d`, `optimizer:Adam`, `sequential`, …).
    pub op: String,
    /// Hyper-parameters.
    pub config: serde_json::Value,
    /// Named tensors.
    pub tensors: BTreeMap<String, GoldenTensor>,
}

impl GoldenCase {
    /// Reads one case file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::format(path, format!("not a golden case: {e}")))
    }

    /// A tensor's values; panics naming the case if it is missing (a broken golden file is a test failure).
    pub fn t(&self, name: &str) -> &[f32] {
        &self.tensor(name).data
    }

    /// A tensor; panics naming the case if it is missing.
    pub fn tensor(&self, name: &str) -> &GoldenTensor {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("golden case {}: no tensor {name:?}", self.case))
    }

    /// A numeric config value; panics naming the case if it is missing.
    pub fn cfg_f64(&self, key: &str) -> f64 {
        self.config
            .get(key)
            .and_then(|v| v.as_f64())
            .unwrap_or_else(|| panic!("golden case {}: no numeric config {key:?}", self.case))
    }

    /// An integer config value; panics naming the case if it is missing.
    pub fn cfg_usize(&self, key: &str) -> usize {
        self.config
            .get(key)
            .and_then(|v| v.as_u64())
            .unwrap_or_else(|| panic!("golden case {}: no integer config {key:?}", self.case))
            as usize
    }
}

/// The golden folder: `$DL_GOLDEN_DIR`, or `dl-core/tests/golden` in this repository.
pub fn golden_dir() -> PathBuf {
    std::env::var_os("DL_GOLDEN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden"))
}

/// Every `*.json` case in `dir`, sorted by file name.
pub fn load_golden_dir(dir: &Path) -> Result<Vec<GoldenCase>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| GoldenCase::load(p)).collect()
}

/// Checks `got` against `want` elementwise: `|g − w| ≤ rtol·(|w| + max|want|)`, i.e. a relative
/// error with the tensor's magnitude as the floor for values near zero. Returns a message naming
/// the worst element on failure.
pub fn check_close(
    what: &str,
    got: &[f32],
    want: &[f32],
    rtol: f32,
) -> std::result::Result<(), String> {
    if got.len() != want.len() {
        return Err(format!(
            "{what}: {} values, expected {}",
            got.len(),
            want.len()
        ));
    }
    let scale = want.iter().fold(0.0f32, |m, w| m.max(w.abs()));
    let mut worst: Option<(usize, f32)> = None;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let excess = (g - w).abs() / (rtol * (w.abs() + scale)).max(f32::MIN_POSITIVE);
        if (excess.is_nan() || excess > 1.0) && worst.is_none_or(|(_, e)| excess > e) {
            worst = Some((i, excess));
        }
    }
    match worst {
        None => Ok(()),
        Some((i, _)) => Err(format!(
            "{what}[{i}]: got {} but PyTorch gives {}",
            got[i], want[i]
        )),
    }
}
