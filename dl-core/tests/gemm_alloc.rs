//! Repeated GEMMs allocate nothing once the thread-local packing buffers have grown: every own
//! kernel, every path (packed, `B` read in place, dot products), every transpose pattern, on the
//! models' shapes (scaled down where the product would take long in a debug build).

mod common;

use common::{allocations_in, assert_counting_works};
use dl_core::kernels::gemm::{Kernel, Trans, gemm, gemm_with};

/// (op(A), op(B), m, n, k): Dense forward / weight / input gradients (MLP 784-128-10 at batch
/// 20) and Conv2d products (LeNet-5's second conv at batch 4), plus odd sizes.
const SHAPES: &[(Trans, Trans, usize, usize, usize)] = {
    use Trans::{N, T};
    &[
        (N, T, 20, 128, 784), // dot products
        (T, N, 128, 784, 20), // packed
        (N, N, 20, 784, 128), // packed
        (N, T, 20, 10, 128),
        (N, N, 6, 3136, 75),  // B packed by rows (too big to read in place)
        (N, N, 16, 400, 150), // B read in place
        (N, T, 16, 150, 400),
        (T, N, 150, 400, 16),
        (T, T, 37, 41, 300),
    ]
};

/// Runs every shape once on `kernel` (`None`: through `gemm`).
fn run_all(kernel: Option<Kernel>, bufs: &mut [(Vec<f32>, Vec<f32>, Vec<f32>)]) {
    for (&(ta, tb, m, n, k), (a, b, c)) in SHAPES.iter().zip(bufs.iter_mut()) {
        let lda = if ta == Trans::N { k } else { m };
        let ldb = if tb == Trans::N { n } else { k };
        match kernel {
            Some(kr) => gemm_with(kr, ta, tb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, n),
            None => gemm(ta, tb, m, n, k, 1.0, a, lda, b, ldb, 1.0, c, n),
        }
    }
}

#[test]
fn repeated_gemms_allocate_nothing_after_warm_up() {
    assert_counting_works();
    let mut bufs: Vec<_> = SHAPES
        .iter()
        .map(|&(_, _, m, n, k)| (vec![0.5f32; m * k], vec![0.25f32; k * n], vec![0.0; m * n]))
        .collect();
    let own: Vec<Option<Kernel>> = Kernel::available()
        .filter(|&k| k != Kernel::MATRIXMULTIPLY)
        .map(Some)
        .chain([None])
        .collect();
    for &kernel in &own {
        run_all(kernel, &mut bufs); // warm-up: the packing buffers grow here
    }
    for &kernel in &own {
        let name = kernel.map_or("gemm", Kernel::name);
        let n = allocations_in(|| {
            run_all(kernel, &mut bufs);
            run_all(kernel, &mut bufs);
        });
        assert_eq!(n, 0, "{name}: {n} allocations in steady state");
    }
    // The baseline does allocate per call: the count above would have seen it.
    let n = allocations_in(|| run_all(Some(Kernel::MATRIXMULTIPLY), &mut bufs));
    assert!(
        n > 0,
        "matrixmultiply allocated nothing: is the counter blind?"
    );
}
