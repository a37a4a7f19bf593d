//! GEMM GFLOP/s on the shapes of the project's models: our kernel against `matrixmultiply`.
//!
//! ```text
//! DL_NUM_THREADS=1 cargo run --release -p dl-core --example gemm_shapes
//! DL_NUM_THREADS=2 cargo run --release -p dl-core --example gemm_shapes
//! # with PyTorch figures from bench/gemm_shapes.py (same shapes, `name,threads,gflops` lines):
//! cargo run --release -p dl-core --example gemm_shapes -- --torch /tmp/torch_gemm.csv
//! # only the shapes whose name contains a substring:
//! cargo run --release -p dl-core --example gemm_shapes -- --filter lenet
//! ```
//!
//! Columns: `gemm` (what the layers call: our best kernel, split over `DL_NUM_THREADS` threads
//! for products of at least `PARALLEL_MIN_MNK` multiply-adds), `own` (our best kernel, always one
//! thread), `split` (our best kernel always split over `DL_NUM_THREADS` threads, whatever the
//! size: compare with `own` to place the threshold), `mm` (`matrixmultiply::sgemm` with
//! `DL_NUM_THREADS` threads), and with `--torch` PyTorch's
//! `torch.mm` at the same thread count and the ratio `gemm / torch`. Each figure is 2·m·n·k / t
//! with t the median of timed samples after a warm-up, taken interleaved across the columns so
//! they share the machine's load (`--best`: the fastest sample instead, steadier on a busy
//! machine).

use dl_core::kernels::gemm::{Kernel, Trans, gemm, gemm_threaded, gemm_with, num_threads};
use std::time::{Duration, Instant};

/// (name, op(A), op(B), m, n, k) — the products the Dense and Conv2d layers issue.
pub const SHAPES: &[(&str, Trans, Trans, usize, usize, usize)] = {
    use Trans::{N, T};
    &[
        ("mlp.fc1.fwd", N, T, 100, 128, 784),
        ("mlp.fc1.dw", T, N, 128, 784, 100),
        ("mlp.fc2.fwd", N, T, 100, 10, 128),
        ("mlp.fc2.dw", T, N, 10, 128, 100),
        ("mlp.fc2.dx", N, N, 100, 128, 10),
        ("digits.fc1.fwd", N, T, 32, 128, 64),
        ("digits.fc1.dw", T, N, 128, 64, 32),
        ("digits.fc2.fwd", N, T, 32, 10, 128),
        ("digits.fc2.dx", N, N, 32, 128, 10),
        ("lenet.conv1.fwd", N, N, 6, 25088, 75),
        ("lenet.conv1.dw", N, T, 6, 75, 25088),
        ("lenet.conv2.fwd", N, N, 16, 3200, 150),
        ("lenet.conv2.dw", N, T, 16, 150, 3200),
        ("lenet.conv2.dx", T, N, 150, 3200, 16),
        ("lenet.fc1.fwd", N, T, 32, 120, 400),
        ("lenet.fc1.dw", T, N, 120, 400, 32),
        ("alexc.conv1.fwd", N, N, 64, 32768, 27),
        ("alexc.conv2.fwd", N, N, 192, 8192, 576),
        ("alexc.conv3.fwd", N, N, 384, 2048, 1728),
        ("alexc.conv3.dw", N, T, 384, 1728, 2048),
        ("alexc.conv3.dx", T, N, 1728, 2048, 384),
        ("alexc.conv4.fwd", N, N, 256, 2048, 3456),
        ("alexi.conv1.fwd", N, N, 96, 48400, 363),
        ("alexi.conv2.fwd", N, N, 256, 11664, 2400),
        ("alexi.conv3.fwd", N, N, 384, 2704, 2304),
        ("alexi.conv4.dw", N, T, 384, 3456, 2704),
        ("alexi.conv4.dx", T, N, 3456, 2704, 384),
        ("alexi.fc6.fwd", N, T, 16, 4096, 9216),
        ("alexi.fc6.dw", T, N, 4096, 9216, 16),
        ("alexi.fc7.dx", N, N, 16, 4096, 4096),
    ]
};

/// Seconds per call of each closure: every closure is warmed up, then timed in interleaved
/// samples (so all see the same machine load) of enough calls to last about 2 ms, for at least 7
/// samples and 0.5 s in all. Returns the median (or, with `best`, the fastest) sample of each.
fn time_interleaved(fs: &mut [&mut dyn FnMut()], best: bool) -> Vec<f64> {
    let reps: Vec<usize> = fs
        .iter_mut()
        .map(|f| {
            f();
            let t = Instant::now();
            f();
            (2e-3 / t.elapsed().as_secs_f64().max(1e-9)).clamp(1.0, 10_000.0) as usize
        })
        .collect();
    let mut samples = vec![Vec::new(); fs.len()];
    let start = Instant::now();
    while samples[0].len() < 7 || start.elapsed() < Duration::from_millis(500) {
        for ((f, &r), s) in fs.iter_mut().zip(&reps).zip(&mut samples) {
            let t = Instant::now();
            for _ in 0..r {
                f();
            }
            s.push(t.elapsed().as_secs_f64() / r as f64);
        }
    }
    samples
        .iter_mut()
        .map(|s| {
            s.sort_by(f64::total_cmp);
            if best { s[0] } else { s[s.len() / 2] }
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let torch: Vec<(String, usize, f64)> = match args.iter().position(|a| a == "--torch") {
        Some(i) => {
            let path = args.get(i + 1).expect("--torch needs a file");
            std::fs::read_to_string(path)
                .expect("read the --torch file")
                .lines()
                .filter_map(|l| {
                    let mut it = l.split(',');
                    Some((
                        it.next()?.to_string(),
                        it.next()?.trim().parse().ok()?,
                        it.next()?.trim().parse().ok()?,
                    ))
                })
                .collect()
        }
        None => Vec::new(),
    };
    let best = args.iter().any(|a| a == "--best");

    let threads = num_threads();
    println!(
        "threads={threads} best_kernel={} (GFLOP/s, {} of interleaved samples)",
        Kernel::best().name(),
        if best { "fastest" } else { "median" }
    );
    print!(
        "{:<18} {:>22} {:>8} {:>8} {:>8} {:>8}",
        "shape", "m×n×k", "gemm", "own", "split", "mm"
    );
    if !torch.is_empty() {
        print!(" {:>8} {:>10}", "torch", "gemm/torch");
    }
    println!();
    let mut ratios = Vec::new();
    let filter = match args.iter().position(|a| a == "--filter") {
        Some(i) => args
            .get(i + 1)
            .expect("--filter needs a substring")
            .as_str(),
        None => "",
    };
    for &(name, ta, tb, m, n, k) in SHAPES.iter().filter(|s| s.0.contains(filter)) {
        let (a_len, b_len) = (m * k, k * n);
        let (lda, ldb) = (
            if ta == Trans::N { k } else { m },
            if tb == Trans::N { n } else { k },
        );
        let a: Vec<f32> = (0..a_len).map(|i| (i % 17) as f32 * 0.1 - 0.8).collect();
        let b: Vec<f32> = (0..b_len).map(|i| (i % 13) as f32 * 0.1 - 0.6).collect();
        let mut c = [
            vec![0.0f32; m * n],
            vec![0.0f32; m * n],
            vec![0.0f32; m * n],
            vec![0.0f32; m * n],
        ];
        let flops = 2.0 * (m * n * k) as f64;
        let [c0, c1, c2, c3] = &mut c;
        let secs = time_interleaved(
            &mut [
                &mut || gemm(ta, tb, m, n, k, 1.0, &a, lda, &b, ldb, 0.0, c0, n),
                &mut || {
                    let kr = Kernel::best();
                    gemm_with(kr, ta, tb, m, n, k, 1.0, &a, lda, &b, ldb, 0.0, c1, n)
                },
                &mut || {
                    let kr = Kernel::best();
                    gemm_threaded(
                        kr, threads, ta, tb, m, n, k, 1.0, &a, lda, &b, ldb, 0.0, c3, n,
                    )
                },
                &mut || {
                    let kr = Kernel::MATRIXMULTIPLY;
                    gemm_with(kr, ta, tb, m, n, k, 1.0, &a, lda, &b, ldb, 0.0, c2, n)
                },
            ],
            best,
        );
        let [ours, own, split, mm] = [0, 1, 2, 3].map(|i| flops / secs[i] / 1e9);
        print!(
            "{name:<18} {:>22} {ours:>8.1} {own:>8.1} {split:>8.1} {mm:>8.1}",
            format!("{m}×{n}×{k}")
        );
        if let Some((_, _, t)) = torch
            .iter()
            .find(|(tn, tt, _)| tn == name && *tt == threads)
        {
            print!(" {t:>8.1} {:>10.2}", ours / t);
            ratios.push(ours / t);
        }
        println!();
    }
    if !ratios.is_empty() {
        let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        println!("min gemm/torch ratio: {min:.2}");
    }
}
