//! Throughput of the zoo's models (`dl::zoo`) on synthetic data, the counterpart of
//! `bench/pytorch_reference.py` (same models, batch sizes, optimizers and timing protocol).
//!
//! ```text
//! cargo run --release --example bench -- --model lenet --threads 1
//! cargo run --release --example bench -- --gemm --threads 1   # GFLOP/s on the models' GEMM shapes
//! cargo run --release --example bench -- --conv --threads 1   # Conv2d forward/backward GFLOP/s per zoo conv layer
//! ```
//!
//! A model run prints its peak resident memory (`VmHWM`) and, as its last two lines,
//! `train_samples_per_sec=<v>` and `infer_samples_per_sec=<v>`. A training step is forward,
//! cross-entropy, backward and optimizer step; inference is an evaluation-mode forward. Each is
//! timed as `warmup` steps, then `repeats` timings of `steps` consecutive steps; the figure is
//! `batch·steps / median(timing)`.
//!
//! `--threads N` sets `DL_NUM_THREADS` (read by the GEMM kernel at its first call): the example
//! runs itself again with the variable set, so the thread count is fixed before any GEMM.

use dl::kernels::aligned::AlignedVec;
use dl::kernels::gemm::{Trans, gemm, num_threads};
use dl::loss::CrossEntropy;
use dl::optim::{Adam, Sgd};
use dl::zoo::alexnet::{AlexNet, AlexNetCifar};
use dl::zoo::lenet5::LeNet5Cifar;
use dl::zoo::mlp::{DigitsMlp, MnistMlp};
use dl::{Act, Chw, Conv2d, Flat, Layer, Loss, Mode, Model, Optimizer, Shape};
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

/// Warm-up steps, timed steps per repeat, repeats.
type Timing = (usize, usize, usize);

/// Batch size and timing of training and inference; the same table is in
/// `bench/pytorch_reference.py` (`PROTOCOL`).
fn protocol(model: &str) -> Option<(usize, Timing, Timing)> {
    Some(match model {
        "mlp" => (100, (20, 50, 15), (50, 200, 15)),
        "digits_mlp" => (32, (50, 200, 15), (100, 500, 15)),
        "lenet" => (32, (5, 20, 11), (10, 50, 11)),
        "alexnet_cifar" => (32, (2, 2, 7), (3, 5, 7)),
        "alexnet_imagenet" => (16, (1, 1, 3), (1, 1, 5)),
        _ => return None,
    })
}

/// `samples_per_call · steps / median(time of steps calls)` after `warmup` calls.
fn median_rate(
    mut f: impl FnMut(),
    samples_per_call: usize,
    (warmup, steps, repeats): Timing,
) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..steps {
                f();
            }
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (samples_per_call * steps) as f64 / times[times.len() / 2]
}

/// Peak resident memory of this process in KiB (`VmHWM` of /proc/self/status), if readable.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Times training and inference of model `M` on a synthetic batch and prints the figures.
fn bench_model<M, const C: usize>(
    name: &str,
    opt: &mut dyn Optimizer,
    (batch, train, infer): (usize, Timing, Timing),
) -> dl::Result<()>
where
    M: Model<Output = Flat<C>>,
    CrossEntropy: Loss<Flat<C>, Target = [usize]>,
{
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut model = M::new(&mut rng);
    let x = Act::<M::Input>::from_vec(
        (0..batch * M::Input::SIZE)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect(),
    )?;
    let labels: Vec<usize> = (0..batch).map(|i| i % 10).collect();
    let mut grad = Act::<Flat<C>>::default();
    let mut status = Ok(());
    let train_rate = median_rate(
        || {
            let logits = model.forward_mode(&x, Mode::Train);
            match CrossEntropy.loss_and_grad(logits, &labels, &mut grad) {
                Ok(loss) => {
                    black_box(loss);
                }
                Err(e) => status = Err(e),
            }
            model.backward_mode(&x, &grad, false);
            opt.step(&mut model);
        },
        batch,
        train,
    );
    status?;
    let infer_rate = median_rate(
        || {
            black_box(model.forward_mode(&x, Mode::Eval));
        },
        batch,
        infer,
    );
    println!(
        "model={name} threads={} batch={batch} params={}",
        num_threads(),
        M::NUM_PARAMS
    );
    if let Some(kib) = peak_rss_kib() {
        println!("peak_rss_kib={kib}");
    }
    println!("train_samples_per_sec={train_rate:.1}");
    println!("infer_samples_per_sec={infer_rate:.1}");
    Ok(())
}

/// Label, `op(A)`, `op(B)`, m, n, k of the GEMMs the models run (forward, weight gradient, input
/// gradient); the same list is in `bench/pytorch_reference.py` (`GEMM_SHAPES`).
const GEMM_SHAPES: &[(&str, Trans, Trans, usize, usize, usize)] = {
    use Trans::{N, T};
    &[
        ("mlp fc1 fwd", N, T, 100, 128, 784),
        ("mlp fc1 dW", T, N, 128, 784, 100),
        ("mlp fc2 fwd", N, T, 100, 10, 128),
        ("digits fc1 fwd", N, T, 32, 128, 64),
        ("digits fc1 dW", T, N, 128, 64, 32),
        ("lenet conv1 fwd", N, N, 6, 25088, 75),
        ("lenet conv1 dW", N, T, 6, 75, 25088),
        ("lenet conv2 fwd", N, N, 16, 3200, 150),
        ("lenet conv2 dX", T, N, 150, 3200, 16),
        ("lenet fc1 fwd", N, T, 32, 120, 400),
        ("cifar conv1 fwd", N, N, 64, 8192, 27),
        ("cifar conv2 fwd", N, N, 192, 2048, 576),
        ("cifar conv3 fwd", N, N, 384, 512, 1728),
        ("cifar conv4 fwd", N, N, 256, 512, 3456),
        ("cifar conv4 dW", N, T, 256, 3456, 512),
        ("cifar conv4 dX", T, N, 3456, 512, 256),
        ("cifar fc2 fwd", N, T, 32, 4096, 4096),
        ("cifar fc2 dW", T, N, 4096, 4096, 32),
        ("imagenet conv1 fwd", N, N, 96, 48400, 363),
        ("imagenet conv2 fwd", N, N, 256, 11664, 2400),
        ("imagenet conv3 fwd", N, N, 384, 2704, 2304),
        ("imagenet fc1 fwd", N, T, 16, 4096, 9216),
        ("imagenet fc1 dW", T, N, 4096, 9216, 16),
        ("square 1024", N, N, 1024, 1024, 1024),
    ]
};

/// GFLOP/s (2·m·n·k / t) of `dl::kernels::gemm::gemm` on every shape of [`GEMM_SHAPES`].
fn bench_gemm() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut random =
        |len: usize| -> Vec<f32> { (0..len).map(|_| rng.random_range(-1.0..1.0)).collect() };
    for &(label, ta, tb, m, n, k) in GEMM_SHAPES {
        // 64-byte aligned, as the library's tensors and PyTorch's are.
        let (a, b) = (
            AlignedVec::from(random(m * k)),
            AlignedVec::from(random(k * n)),
        );
        let mut c = AlignedVec::zeros(m * n);
        let lda = if ta == Trans::N { k } else { m };
        let ldb = if tb == Trans::N { n } else { k };
        let flop = 2.0 * (m * n * k) as f64;
        let reps = ((2e8 / flop) as usize).max(1);
        let rate = median_rate(
            || gemm(ta, tb, m, n, k, 1.0, &a, lda, &b, ldb, 0.0, &mut c, n),
            1,
            (reps, reps, 7),
        );
        println!(
            "gemm {label:<20} {ta:?}{tb:?} m={m} n={n} k={k} gflops={:.1}",
            rate * flop / 1e9
        );
    }
}

/// Forward and backward (weight and input gradient) GFLOP/s of one convolution layer on a
/// batch of `n` samples.
fn conv_layer<
    const IC: usize,
    const OC: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
>(
    label: &str,
    n: usize,
) where
    Conv2d<IC, OC, K, S, P>: Layer<Chw<IC, H, W>, Chw<OC, OH, OW>>,
{
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut conv = Conv2d::<IC, OC, K, S, P>::new(&mut rng);
    let mut random =
        |len: usize| -> Vec<f32> { (0..len).map(|_| rng.random_range(-1.0..1.0)).collect() };
    let x = Act::<Chw<IC, H, W>>::from_vec(random(n * IC * H * W)).expect("whole samples");
    let dy = Act::<Chw<OC, OH, OW>>::from_vec(random(n * OC * OH * OW)).expect("whole samples");
    let mut y = Act::default();
    let mut dx = Act::default();
    let flop = 2.0 * (n * OC * IC * K * K * OH * OW) as f64;
    let reps = ((2e8 / flop) as usize).max(1);
    let fwd = median_rate(|| conv.forward(&x, &mut y, Mode::Eval), 1, (reps, reps, 7));
    // Backward after a training forward, as in a training step: time both, subtract the forward.
    let both = median_rate(
        || {
            conv.forward(&x, &mut y, Mode::Train);
            conv.backward(&x, &y, &dy, Some(&mut dx));
        },
        1,
        (reps, reps, 7),
    );
    let train_fwd = median_rate(|| conv.forward(&x, &mut y, Mode::Train), 1, (reps, reps, 7));
    let bwd = 1.0 / (1.0 / both - 1.0 / train_fwd);
    println!(
        "conv {label:<16} fwd_gflops={:.1} bwd_gflops={:.1}",
        fwd * flop / 1e9,
        bwd * 2.0 * flop / 1e9
    );
}

/// Every convolution of the zoo's LeNet-5, CIFAR AlexNet and ImageNet AlexNet at its batch size;
/// the same list is in `bench/pytorch_reference.py` (`CONV_LAYERS`).
fn bench_conv() {
    conv_layer::<3, 6, 5, 1, 0, 32, 32, 28, 28>("lenet conv1", 32);
    conv_layer::<6, 16, 5, 1, 0, 14, 14, 10, 10>("lenet conv2", 32);
    conv_layer::<3, 64, 3, 2, 1, 32, 32, 16, 16>("cifar conv1", 32);
    conv_layer::<64, 192, 3, 1, 1, 8, 8, 8, 8>("cifar conv2", 32);
    conv_layer::<192, 384, 3, 1, 1, 4, 4, 4, 4>("cifar conv3", 32);
    conv_layer::<384, 256, 3, 1, 1, 4, 4, 4, 4>("cifar conv4", 32);
    conv_layer::<256, 256, 3, 1, 1, 4, 4, 4, 4>("cifar conv5", 32);
    conv_layer::<3, 96, 11, 4, 0, 227, 227, 55, 55>("imagenet conv1", 16);
    conv_layer::<96, 256, 5, 1, 2, 27, 27, 27, 27>("imagenet conv2", 16);
    conv_layer::<256, 384, 3, 1, 1, 13, 13, 13, 13>("imagenet conv3", 16);
    conv_layer::<384, 384, 3, 1, 1, 13, 13, 13, 13>("imagenet conv4", 16);
    conv_layer::<384, 256, 3, 1, 1, 13, 13, 13, 13>("imagenet conv5", 16);
}

const USAGE: &str = "usage: bench (--model NAME | --gemm | --conv) [--threads N]\n\
                     models: mlp, digits_mlp, lenet, alexnet_cifar, alexnet_imagenet";

/// What to run.
enum Task {
    Model(String),
    Gemm,
    Conv,
}

/// Parses the command line: the task and the thread count.
fn parse(args: &[String]) -> Result<(Task, Option<usize>), String> {
    let (mut task, mut threads) = (None, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--model" => {
                let name = it.next().ok_or("`--model` needs a name")?;
                if protocol(name).is_none() {
                    return Err(format!("unknown model `{name}`"));
                }
                task = Some(Task::Model(name.clone()));
            }
            "--gemm" => task = Some(Task::Gemm),
            "--conv" => task = Some(Task::Conv),
            "--threads" => {
                let v = it.next().ok_or("`--threads` needs a number")?;
                let n =
                    v.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
                        format!("`--threads` expects a positive number, found `{v}`")
                    })?;
                threads = Some(n);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok((task.ok_or("nothing to run")?, threads))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, threads) = match parse(&args) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some(n) = threads {
        let wanted = n.to_string();
        if std::env::var("DL_NUM_THREADS").ok().as_deref() != Some(wanted.as_str()) {
            // Run again with the variable set: the GEMM kernel reads it once, at its first call.
            let status = std::env::current_exe().and_then(|exe| {
                std::process::Command::new(exe)
                    .args(&args)
                    .env("DL_NUM_THREADS", &wanted)
                    .status()
            });
            return match status {
                Ok(s) if s.success() => ExitCode::SUCCESS,
                Ok(_) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("error: cannot run the benchmark again with DL_NUM_THREADS={n}: {e}");
                    ExitCode::FAILURE
                }
            };
        }
    }
    println!("threads={}", num_threads());
    let result = match task {
        Task::Gemm => {
            bench_gemm();
            Ok(())
        }
        Task::Conv => {
            bench_conv();
            Ok(())
        }
        Task::Model(name) => {
            let p = protocol(&name).expect("invariant: checked by parse");
            match name.as_str() {
                "mlp" => bench_model::<MnistMlp, 10>(&name, &mut Sgd::new(0.01).momentum(0.9), p),
                "digits_mlp" => bench_model::<DigitsMlp, 10>(&name, &mut Sgd::new(0.01), p),
                "lenet" => bench_model::<LeNet5Cifar, 10>(&name, &mut Sgd::new(0.01), p),
                "alexnet_cifar" => bench_model::<AlexNetCifar, 10>(&name, &mut Adam::new(1e-3), p),
                _ => bench_model::<AlexNet, 1000>(&name, &mut Sgd::new(0.01), p),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
