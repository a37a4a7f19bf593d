//! Repeated GEMMs allocate nothing once the thread-local packing buffers have grown: every own
//! kernel, every path (packed, `B` read in place, dot products), every transpose pattern, on the
//! models' shapes (scaled down where the product would take long in a debug build), on one
//! thread and split across the worker pool.

mod common;

use common::{allocations_anywhere_in, allocations_in, assert_counting_works};
use dl_core::kernels::gemm::{Kernel, Trans, gemm, gemm_threaded, gemm_with};
use std::sync::Mutex;

/// Held by each test, so that the process-wide count of one test does not see the other's
/// allocations.
static SERIAL: Mutex<()> = Mutex::new(());

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
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
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

/// Every shape once on the best kernel, split over `threads` threads.
fn run_all_threaded(threads: usize, bufs: &mut [(Vec<f32>, Vec<f32>, Vec<f32>)]) {
    for (&(ta, tb, m, n, k), (a, b, c)) in SHAPES.iter().zip(bufs.iter_mut()) {
        let lda = if ta == Trans::N { k } else { m };
        let ldb = if tb == Trans::N { n } else { k };
        let kr = Kernel::best();
        gemm_threaded(kr, threads, ta, tb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, n);
    }
}

#[test]
fn threaded_gemms_allocate_nothing_on_any_thread_after_warm_up() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    assert_counting_works();
    // The process-wide count sees other threads' allocations.
    let n = allocations_anywhere_in(|| {
        std::thread::spawn(|| std::hint::black_box(vec![1u8; 64]))
            .join()
            .map(drop)
            .unwrap_or_default()
    });
    assert!(n >= 1, "the process-wide count missed another thread");
    let mut bufs: Vec<_> = SHAPES
        .iter()
        .map(|&(_, _, m, n, k)| (vec![0.5f32; m * k], vec![0.25f32; k * n], vec![0.0; m * n]))
        .collect();
    // A large product, so that each of the two blocks is a real GEMM.
    let (m, n, k) = (96, 1024, 300);
    let (a, b, mut c) = (
        vec![0.5f32; m * k],
        vec![0.25f32; k * n],
        vec![0.0f32; m * n],
    );
    let mut round = || {
        run_all_threaded(2, &mut bufs);
        let kr = Kernel::best();
        gemm_threaded(
            kr,
            2,
            Trans::N,
            Trans::N,
            m,
            n,
            k,
            1.0,
            &a,
            k,
            &b,
            n,
            0.0,
            &mut c,
            n,
        );
    };
    round(); // warm-up: the worker is spawned and the packing buffers grow here
    // The calling thread allocates nothing, ever; the whole process (the worker included)
    // allocates nothing in at least one round of three (another thread of the test harness may
    // allocate at the same moment, but a worker that allocated per call would do so in every
    // round).
    let mut anywhere = Vec::new();
    for _ in 0..3 {
        let mut here = usize::MAX;
        anywhere.push(allocations_anywhere_in(|| {
            here = allocations_in(|| {
                round();
                round();
            })
        }));
        assert_eq!(here, 0, "the calling thread allocated {here} times");
    }
    assert!(
        anywhere.contains(&0),
        "threaded GEMMs allocated in every round: {anywhere:?}"
    );
    // And the result is right: every element of C is 300 · 0.5 · 0.25.
    assert!(c.iter().all(|&v| v == 37.5));
}
