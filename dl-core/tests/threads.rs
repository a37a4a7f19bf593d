//! Results do not depend on the thread count: the layers that split their batch over the
//! worker pool (LeNet-5's first layer, a direct convolution, a max-pool, a Winograd
//! convolution, whose transforms run in parts in all three directions, and the backward pass of an im2col convolution,
//! whose parts split their GEMMs again) give bit-identical
//! outputs and gradients with `DL_NUM_THREADS=1` and `DL_NUM_THREADS=2`. The thread count is read once per
//! process, so the test runs itself twice as a child process, once per count.

use dl_core::kernels::gemm::num_threads;
use dl_core::{Act, Chw, Conv2d, Layer, MaxPool2d, Mode, Shape};
use rand::{Rng, SeedableRng};

/// Set in the child processes; they print their results instead of spawning.
const CHILD: &str = "DL_THREADS_TEST_CHILD";

/// `n` samples of shape `S` with values drawn uniformly from [-1, 1).
fn random<S: Shape>(n: usize, rng: &mut impl Rng) -> Act<S> {
    Act::from_vec(
        (0..n * S::SIZE)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect(),
    )
    .expect("whole samples")
}

/// One forward and backward pass at an odd batch (uneven parts), as the bits of every value.
fn step_bits() -> Vec<u32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut conv = Conv2d::<3, 6, 5, 1, 2>::new(&mut rng);
    const { assert!(Conv2d::<3, 6, 5, 1, 2>::DIRECT) };
    let n = 7;
    let x = random::<Chw<3, 16, 16>>(n, &mut rng);
    let dy = random::<Chw<6, 16, 16>>(n, &mut rng);
    let (mut y, mut dx) = (Act::default(), Act::default());
    conv.forward(&x, &mut y, Mode::Train);
    conv.backward(&x, &y, &dy, Some(&mut dx));
    // The max-pool on the convolution's output, its gradient taken from the start of `dy`.
    let mut pool = MaxPool2d::<2, 2>::default();
    let dz =
        Act::<Chw<6, 8, 8>>::from_vec(dy.as_slice()[..n * 6 * 64].to_vec()).expect("valid batch");
    let (mut z, mut dpool) = (Act::default(), Act::<Chw<6, 16, 16>>::default());
    pool.forward(&y, &mut z, Mode::Train);
    pool.backward(&y, &z, &dz, Some(&mut dpool));
    // A Winograd forward and backward pass on an odd batch and an odd map.
    let mut wino = Conv2d::<32, 33, 3, 1, 1>::new(&mut rng);
    const { assert!(Conv2d::<32, 33, 3, 1, 1>::WINOGRAD) };
    let xw = random::<Chw<32, 11, 10>>(n, &mut rng);
    let dw = random::<Chw<33, 11, 10>>(n, &mut rng);
    let (mut yw, mut dxw) = (Act::<Chw<33, 11, 10>>::default(), Act::default());
    wino.forward(&xw, &mut yw, Mode::Train);
    wino.backward(&xw, &yw, &dw, Some(&mut dxw));
    // The im2col backward pass: two parts of chunks of one sample, each chunk's GEMMs large
    // enough (64 × 576 × 256) to be split in two inside its part.
    let mut wide = Conv2d::<64, 64, 3, 2, 1>::new(&mut rng);
    let xs = random::<Chw<64, 32, 32>>(n, &mut rng);
    let ds = random::<Chw<64, 16, 16>>(n, &mut rng);
    let (mut ys, mut dxs) = (Act::default(), Act::default());
    wide.forward(&xs, &mut ys, Mode::Train);
    wide.backward(&xs, &ys, &ds, Some(&mut dxs));
    [
        y.as_slice(),
        dx.as_slice(),
        &conv.weight.grad,
        &conv.bias.grad,
        z.as_slice(),
        dpool.as_slice(),
        yw.as_slice(),
        dxw.as_slice(),
        &wino.weight.grad,
        &wino.bias.grad,
        dxs.as_slice(),
        &wide.weight.grad,
        &wide.bias.grad,
    ]
    .concat()
    .iter()
    .map(|v| v.to_bits())
    .collect()
}

#[test]
fn one_and_two_threads_give_the_same_bits() {
    if std::env::var_os(CHILD).is_some() {
        let bits: Vec<String> = step_bits().iter().map(|b| format!("{b:08x}")).collect();
        println!("threads={} bits={}", num_threads(), bits.join(""));
        return;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let run = |threads: &str| {
        let out = std::process::Command::new(&exe)
            .args([
                "--exact",
                "one_and_two_threads_give_the_same_bits",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .env("DL_NUM_THREADS", threads)
            .output()
            .expect("the test binary runs");
        assert!(
            out.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        // The harness may print "test NAME ... " on the same line first.
        let line = stdout
            .lines()
            .find_map(|l| l.find("threads=").map(|at| l[at..].to_owned()));
        line.expect("the child printed its results")
    };
    let (one, two) = (run("1"), run("2"));
    let (t1, bits1) = one.split_once(' ').expect("two fields");
    let (t2, bits2) = two.split_once(' ').expect("two fields");
    assert_eq!((t1, t2), ("threads=1", "threads=2"));
    assert_eq!(
        bits1.len(),
        8 * (7 * (3 + 6 + 6) * 256
            + 6 * 3 * 25
            + 6
            + 7 * 6 * 64
            + 7 * 33 * 110
            + 7 * 32 * 110
            + 33 * 32 * 9
            + 33
            + 7 * 64 * 1024
            + 64 * 64 * 9
            + 64)
            + "bits=".len()
    );
    assert!(bits1 == bits2, "results differ between 1 and 2 threads");
}
