//! Single-precision matrix multiply: the one GEMM entry point of the crate.
//!
//! Row-major, BLAS-like: `C = alpha · op(A) · op(B) + beta · C` where `op` is the identity or the
//! transpose (PyTorch: `torch.addmm(C, op(A), op(B), beta=beta, alpha=alpha)`). Transposes are
//! expressed with strides, never copies. `beta = 0` overwrites `C` (its old content is never
//! read, so it may hold NaN), `beta = 1` accumulates.
//!
//! # Why our own kernel (a deviation from the house style's "call `matrixmultiply`")
//! `matrixmultiply` allocates its packing buffers on every call, which breaks the rule that a
//! steady-state training step allocates nothing, and it is 1.2–3× behind MKL on the skinny shapes
//! of our models (6 or 16 output channels, `k` = batch size). So this module has its own packed
//! GEMM in the BLIS layout: `B` is packed into panels of `NR` columns (`KC` rows deep), `A` into
//! panels of `MR` rows, and a register-tiled micro-kernel computes each `MR × NR` tile of `C`.
//! The packing buffers are thread-locals that grow to the largest shape seen and are then reused:
//! after warm-up a call allocates nothing. The micro-kernel is chosen at run time
//! (`is_x86_feature_detected!`): AVX-512 (`NR = 32`), AVX2 + FMA (`NR = 16`) or a portable one
//! the compiler vectorises (`NR = 8`); the tile (`MR` rows, one or two vector widths of columns)
//! is picked per call to waste the fewest lanes on small `m` or `n`. When `m` fits in at most two
//! panels and a row-major `B` is small (≤ 4 Mi floats), full `B` panels are read in place instead
//! of packed (in depth blocks of at most 48 past L2, see `DIRECT_KC`). `A·Bᵀ` with both operands
//! contiguous along `k`, a thin `A` (16 to 160 rows: a Dense forward's batch) and a large `B` (its
//! weights) runs as `(B·Aᵀ)ᵀ`, the weights streamed once through deep depth blocks (see
//! `use_transposed`) and read in place: a row-major `A` whose panels each meet one `B` panel
//! (`n ≤ NR`) is not packed, the micro-kernels have a
//! variant that broadcasts from `MR` rows of `A` as stored (at most 8 rows on that path, see
//! `pick_streaming_tile`). On AVX-512, other such products with
//! `k ≥ 64` and one side thin (≤ 16) or the other operand past L2 (Conv2d weight gradients) run
//! as 4 × 4 tiles of dot products with no packing at all (see `use_dot`). Elsewhere the transposed
//! panels are packed through 8 × 8 register transposes (`transpose.rs`). [`gemm_im2col`] is
//! the same product with `B` the column matrix of a batch of images, its panels packed straight
//! from the images (an implicit GEMM: the convolution's forward pass).
//!
//! # Threads
//! The thread count comes from the environment variable `DL_NUM_THREADS` (default: all cores),
//! see [`num_threads`]. Products of at least [`PARALLEL_MIN_MNK`] multiply-adds are split across
//! our own persistent worker pool (`kernels/pool.rs`, started on first need): `C` is cut into
//! blocks of whole register tiles, by columns when it is at least as wide as tall, else by rows,
//! and each block is computed by one thread with the tile plan chosen for the whole product.
//! Every element of `C` therefore goes through exactly the same operations as at one thread:
//! results are bit-identical whatever the thread count. Jobs are handed to the workers without
//! allocating, and each worker packs into its own thread-local buffers, so a steady-state call
//! allocates nothing at any thread count. Smaller products stay on the calling thread, where
//! waking a worker costs more than it saves. [`gemm_threaded`] takes an explicit thread count.
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

mod micro;
mod transpose;

use super::aligned::AlignedVec;
use super::im2col::BatchColumns;
use super::pool::{MAX_WORKERS, POOL};
use micro::{Micro, PREFETCH_ROWS, Prefetch, PrefetchingMicro, Tile};
use std::cell::RefCell;
use std::ops::Range;

/// The number of threads [`gemm`] may use: `DL_NUM_THREADS` if set, else all cores
/// (`std::thread::available_parallelism`), clamped to 1..=4 (the `matrixmultiply` baseline is
/// given the same count). Read once, at the first call of this function or of [`gemm`]; later
/// changes of the variable have no effect.
///
/// ```
/// let t = dl_core::kernels::gemm::num_threads();
/// assert!((1..=4).contains(&t));
/// ```
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

/// Products with at least this many multiply-adds (`m·n·k`, about 4.2 M) are split across
/// [`num_threads`] threads by [`gemm`]; smaller ones run on the calling thread.
///
/// Measured with `DL_NUM_THREADS=2 cargo run --release -p dl-core --example gemm_shapes` on the
/// shared 2-core development machine (loaded by other jobs, so the figures are noisy): split over
/// 2 threads, LeNet-5's 32 × 120 × 400 products (1.5 M) ran at 37–41 GFLOP/s against 52–85 on
/// one thread (waking a worker costs more than half the product saves), while the 7.7 M of
/// 16 × 3200 × 150 ran at 104 against 87 and the MLP's 100 × 128 × 784 (10 M) at 116 against 88.
pub const PARALLEL_MIN_MNK: usize = 1 << 22;

/// Whether an operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trans {
    /// As stored.
    N,
    /// Transposed.
    T,
}

/// One GEMM implementation that this CPU can run. Holding a `Kernel` proves that the CPU
/// supports its instructions: the SIMD ones are only handed out after run-time detection.
///
/// ```
/// use dl_core::kernels::gemm::Kernel;
/// // The portable kernel and the matrixmultiply baseline run everywhere; `best` is one of the
/// // available own kernels.
/// let all: Vec<Kernel> = Kernel::available().collect();
/// assert!(all.contains(&Kernel::PORTABLE) && all.contains(&Kernel::MATRIXMULTIPLY));
/// assert!(all.contains(&Kernel::best()) && Kernel::best() != Kernel::MATRIXMULTIPLY);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel(Kind);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2Fma,
    Portable,
    MatrixMultiply,
}

impl Kernel {
    /// The portable micro-kernel (plain Rust the compiler vectorises with the baseline SIMD).
    pub const PORTABLE: Kernel = Kernel(Kind::Portable);
    /// `matrixmultiply::sgemm`: the baseline, which allocates its packing buffers per call.
    pub const MATRIXMULTIPLY: Kernel = Kernel(Kind::MatrixMultiply);

    /// The AVX-512 micro-kernel (14 × 32 tiles and shorter), if the CPU has AVX-512F.
    pub fn avx512() -> Option<Kernel> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Some(Kernel(Kind::Avx512));
        }
        None
    }

    /// The AVX2 + FMA micro-kernel (6 × 16 tiles and shorter), if the CPU has both.
    pub fn avx2_fma() -> Option<Kernel> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Some(Kernel(Kind::Avx2Fma));
        }
        None
    }

    /// The widest own kernel the CPU supports: AVX-512, else AVX2 + FMA, else portable. This is
    /// what [`gemm`] uses.
    pub fn best() -> Kernel {
        static BEST: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| {
            Kernel::avx512()
                .or_else(Kernel::avx2_fma)
                .unwrap_or(Kernel::PORTABLE)
        })
    }

    /// Every kernel this CPU can run, the widest first, `matrixmultiply` last.
    pub fn available() -> impl Iterator<Item = Kernel> {
        [
            Kernel::avx512(),
            Kernel::avx2_fma(),
            Some(Kernel::PORTABLE),
            Some(Kernel::MATRIXMULTIPLY),
        ]
        .into_iter()
        .flatten()
    }

    /// A short name for reports: `avx512`, `avx2+fma`, `portable` or `matrixmultiply`.
    ///
    /// ```
    /// assert_eq!(dl_core::kernels::gemm::Kernel::PORTABLE.name(), "portable");
    /// ```
    pub fn name(self) -> &'static str {
        match self.0 {
            #[cfg(target_arch = "x86_64")]
            Kind::Avx512 => "avx512",
            #[cfg(target_arch = "x86_64")]
            Kind::Avx2Fma => "avx2+fma",
            Kind::Portable => "portable",
            Kind::MatrixMultiply => "matrixmultiply",
        }
    }
}

/// Row and column strides of `op(X)` for a row-major `X` with leading dimension `ld`.
fn strides(t: Trans, ld: usize) -> (usize, usize) {
    match t {
        Trans::N => (ld, 1),
        Trans::T => (1, ld),
    }
}

/// Smallest slice length holding a `rows × cols` row-major matrix with row length `ld`.
fn needed(rows: usize, cols: usize, ld: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * ld + cols
    }
}

/// `C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C`, all row-major, on [`Kernel::best`],
/// split over [`num_threads`] threads when `m·n·k ≥` [`PARALLEL_MIN_MNK`] (see the module docs).
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
    gemm_threaded(
        Kernel::best(),
        threads_for(m, n, k),
        ta,
        tb,
        m,
        n,
        k,
        alpha,
        a,
        lda,
        b,
        ldb,
        beta,
        c,
        ldc,
    );
}

/// The threads [`gemm`] and [`gemm_im2col`] use for an `m × n × k` product: [`num_threads`] from
/// [`PARALLEL_MIN_MNK`] multiply-adds on, else 1; 1 also when called from a part of a job on the
/// pool (products already split between threads, as the Winograd planes): the blocks of a
/// split would run one after the other on that thread, each packing its own copy of `B`.
fn threads_for(m: usize, n: usize, k: usize) -> usize {
    if m * n * k >= PARALLEL_MIN_MNK && !super::pool::in_job() {
        num_threads()
    } else {
        1
    }
}

/// `C[m×n] = alpha · A[m×k] · col + beta · C` where `col` (`k × n`) is the column matrix of a
/// batch of images ([`BatchColumns`]: `k = C·K·K`, `n = N·OH·OW`): the convolution of the batch
/// with the filters in the rows of `A` (row length `lda`), as [`gemm`] would compute it from the
/// stored matrix — the same packed panels, tiles and threads, so the same bits — but with the
/// panels of `B` packed straight from the images. See [`BatchColumns`] for an example.
///
/// # Panics
/// As [`gemm`].
#[allow(clippy::too_many_arguments)]
pub fn gemm_im2col(
    m: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    b: &BatchColumns,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    let threads = threads_for(m, b.cols(), b.rows());
    gemm_im2col_threaded(threads, m, alpha, a, lda, b, beta, c, ldc);
}

/// The plan [`gemm`] runs a product `A·B` of `m × n` with a row-major `B` on.
fn packed_plan(m: usize, n: usize) -> Plan {
    pick_tile(best_candidates(), m, n)
}

/// The tiles of this CPU's best own kernel.
fn best_candidates() -> &'static [Candidate] {
    candidates(Kernel::best()).unwrap_or(&PORTABLE)
}

/// The panel height that [`gemm_packed_a`] needs `A` packed with for an `m × n` product on this
/// CPU (the tile height [`gemm`] picks for it): packed panels kept between calls stay valid while
/// it is the same.
pub fn packed_a_rows(m: usize, n: usize) -> usize {
    packed_plan(m, n).mr
}

/// The length of `m` rows of depth `k` packed in panels of `mr` rows ([`pack_a_panels`],
/// [`pack_weights`]): `⌈m/mr⌉·mr·k`.
pub fn packed_len(m: usize, k: usize, mr: usize) -> usize {
    m.div_ceil(mr) * mr * k
}

/// Packs the row-major `A` (`m × k`, row length `lda`) into `dst` in panels of `mr` rows over
/// the whole depth, for [`gemm_packed_a`]: element `(i, p)` at `⌊i/mr⌋·mr·k + p·mr + i mod mr`,
/// rows past `m` zero.
///
/// # Panics
/// If `a` or `dst` is too short, or `mr` is 0.
pub fn pack_a_panels(m: usize, k: usize, a: &[f32], lda: usize, mr: usize, dst: &mut [f32]) {
    assert!(lda >= k.max(1), "gemm: leading dimension too small");
    assert!(a.len() >= needed(m, k, lda), "gemm: A too short");
    let a = Operand::new(a, (lda, 1));
    for (q, panel) in dst[..packed_len(m, k, mr)]
        .chunks_exact_mut(k * mr)
        .enumerate()
    {
        pack_panel(panel, a, q * mr, 0, mr.min(m - q * mr), k, mr);
    }
}

/// `C = alpha · A·B + beta · C` for a row-major `B` (`k × n`, row length `ldb`) and an `A`
/// (`m × k`) packed by [`pack_a_panels`] in panels of `mr` rows, a tile height of this CPU's
/// kernels ([`packed_a_rows`] gives the best one for a shape; the product takes the best tile
/// of that height for `m × n`): the same product as [`gemm`] on the unpacked `A` (bit for bit
/// and with the same threads when `n ≥ 2`, whatever the tile; a single column may take `gemm`'s
/// dot-product path), without packing `A` again (a layer's weights packed once for many calls,
/// or for products of several widths).
///
/// ```
/// use dl_core::kernels::gemm::{gemm, gemm_packed_a, pack_a_panels, packed_len, packed_a_rows, Trans};
/// let (m, n, k) = (5, 3, 4);
/// let a: Vec<f32> = (0..m * k).map(|v| v as f32).collect();
/// let b: Vec<f32> = (0..k * n).map(|v| 1.0 - v as f32).collect();
/// let mr = packed_a_rows(m, n);
/// let mut packed = vec![0.0; packed_len(m, k, mr)];
/// pack_a_panels(m, k, &a, k, mr, &mut packed);
/// let (mut c, mut want) = (vec![0.0; m * n], vec![0.0; m * n]);
/// gemm_packed_a(m, n, k, 1.0, (&packed, mr), &b, n, 0.0, &mut c, n);
/// gemm(Trans::N, Trans::N, m, n, k, 1.0, &a, k, &b, n, 0.0, &mut want, n);
/// assert_eq!(c, want);
/// ```
///
/// # Panics
/// As [`gemm`], if `a` is shorter than [`packed_len`], and if no kernel tile of this CPU has
/// `mr` rows.
#[allow(clippy::too_many_arguments)]
pub fn gemm_packed_a(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    (a, mr): (&[f32], usize),
    b: &[f32],
    ldb: usize,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    let threads = threads_for(m, n, k);
    gemm_packed_a_threaded(threads, m, n, k, alpha, (a, mr), b, ldb, beta, c, ldc);
}

/// [`gemm_packed_a`] split over `threads` threads, bit-identical at every count.
#[allow(clippy::too_many_arguments)]
fn gemm_packed_a_threaded(
    threads: usize,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    (a, mr): (&[f32], usize),
    b: &[f32],
    ldb: usize,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    let candidates = best_candidates();
    assert!(
        candidates.iter().any(|c| c.mr == mr),
        "gemm: no kernel tile of {mr} rows"
    );
    let plan = Plan {
        a_packed: true,
        ..pick_tile_among(candidates, |c| c.mr == mr, m, n)
    };
    assert!(
        ldb >= n.max(1) && ldc >= n.max(1),
        "gemm: leading dimension too small"
    );
    assert!(
        a.len() >= packed_len(m, k, plan.mr),
        "gemm: packed A too short"
    );
    assert!(b.len() >= needed(k, n, ldb), "gemm: B too short");
    let (a, b) = (Operand::new(a, (k, plan.mr)), Operand::new(b, (ldb, 1)));
    run_packed(plan, threads, (m, n, k), alpha, a, b, beta, c, ldc);
}

/// The panel width in which [`gemm_packed_weights`] needs the weights `W` (`n × k`) of
/// `x·Wᵀ` (`x`: `m × k`) packed: `Some(NR)` when [`gemm`] runs that product on its packed path,
/// packing the weights on every call (a Dense forward with small weights), `None` when it
/// streams them in place or takes dot products (nothing to save).
pub fn packed_weights_cols(m: usize, n: usize, k: usize) -> Option<usize> {
    match path_for(Kernel::best(), true, m, n, k)? {
        Path::Packed(plan) => Some(plan.nr),
        _ => None,
    }
}

/// Packs the weights `w` (`n × k`, row length `ldw`) for [`gemm_packed_weights`]: `Wᵀ` in panels
/// of `nr` columns (rows of `W`) over the whole depth, element `(p, j)` of `Wᵀ` at
/// `⌊j/nr⌋·nr·k + p·nr + j mod nr`, columns past `n` zero.
///
/// # Panics
/// If `w` or `dst` is too short, or `nr` is 0.
pub fn pack_weights(n: usize, k: usize, w: &[f32], ldw: usize, nr: usize, dst: &mut [f32]) {
    // The panels of Wᵀ's columns are the panels of W's rows.
    pack_a_panels(n, k, w, ldw, nr, dst);
}

/// `C = alpha · x·Wᵀ + beta · C` (`x`: `m × k`, row length `ldx`) with the weights `W` (`n × k`)
/// packed by [`pack_weights`] in panels of [`packed_weights_cols`]`(m, n, k)` columns: the same
/// bits as [`gemm`]`(Trans::N, Trans::T, …)` on the unpacked weights, with the same threads,
/// without packing them again.
///
/// ```
/// use dl_core::kernels::gemm::{gemm, gemm_packed_weights, pack_weights, packed_len, packed_weights_cols, Trans};
/// let (m, n, k) = (20, 24, 100);
/// let x: Vec<f32> = (0..m * k).map(|v| (v % 7) as f32 - 3.0).collect();
/// let w: Vec<f32> = (0..n * k).map(|v| (v % 5) as f32 * 0.5).collect();
/// let nr = packed_weights_cols(m, n, k).expect("a packed product");
/// let mut packed = vec![0.0; packed_len(n, k, nr)];
/// pack_weights(n, k, &w, k, nr, &mut packed);
/// let (mut y, mut want) = (vec![0.0; m * n], vec![0.0; m * n]);
/// gemm_packed_weights(m, n, k, 1.0, &x, k, &packed, 0.0, &mut y, n);
/// gemm(Trans::N, Trans::T, m, n, k, 1.0, &x, k, &w, k, 0.0, &mut want, n);
/// assert_eq!(y, want);
/// ```
///
/// # Panics
/// As [`gemm`], if `packed` is shorter than [`packed_len`], or if [`packed_weights_cols`] is
/// `None` for this product.
#[allow(clippy::too_many_arguments)]
pub fn gemm_packed_weights(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    x: &[f32],
    ldx: usize,
    packed: &[f32],
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    let threads = threads_for(m, n, k);
    gemm_packed_weights_threaded(threads, m, n, k, alpha, x, ldx, packed, beta, c, ldc);
}

/// [`gemm_packed_weights`] split over `threads` threads, bit-identical at every count.
#[allow(clippy::too_many_arguments)]
fn gemm_packed_weights_threaded(
    threads: usize,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    x: &[f32],
    ldx: usize,
    packed: &[f32],
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    let Some(Path::Packed(plan)) = path_for(Kernel::best(), true, m, n, k) else {
        panic!("gemm: {m} × {n} × {k} does not run on packed weights");
    };
    let plan = Plan {
        b_packed: true,
        ..plan
    };
    assert!(
        ldx >= k.max(1) && ldc >= n.max(1),
        "gemm: leading dimension too small"
    );
    assert!(x.len() >= needed(m, k, ldx), "gemm: A too short");
    assert!(
        packed.len() >= packed_len(n, k, plan.nr),
        "gemm: packed weights too short"
    );
    let (a, b) = (
        Operand::new(x, (ldx, 1)),
        Operand::new(packed, (plan.nr, k)),
    );
    run_packed(plan, threads, (m, n, k), alpha, a, b, beta, c, ldc);
}

/// The tail of [`gemm_packed_a`] and [`gemm_packed_weights`]: checks `C`, then nothing for an
/// empty `C`, `C = beta·C` for an empty depth, else the product on `plan`'s packed path with
/// the operands as the plan reads them.
#[allow(clippy::too_many_arguments)]
fn run_packed(
    plan: Plan,
    threads: usize,
    (m, n, k): (usize, usize, usize),
    alpha: f32,
    a: Operand,
    b: Operand,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    assert!(c.len() >= needed(m, n, ldc), "gemm: C too short");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        scale(m, n, beta, c, ldc);
        return;
    }
    let b = Source::Matrix(b);
    run_blocks(
        Path::Packed(plan),
        threads,
        (m, n, k),
        alpha,
        a,
        b,
        beta,
        c,
        ldc,
    );
}

/// [`gemm_im2col`] split over `threads` threads, bit-identical at every count.
#[allow(clippy::too_many_arguments)]
fn gemm_im2col_threaded(
    threads: usize,
    m: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    b: &BatchColumns,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    let (n, k) = (b.cols(), b.rows());
    assert!(
        lda >= k.max(1) && ldc >= n.max(1),
        "gemm: leading dimension too small"
    );
    assert!(a.len() >= needed(m, k, lda), "gemm: A too short");
    assert!(c.len() >= needed(m, n, ldc), "gemm: C too short");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        scale(m, n, beta, c, ldc);
        return;
    }
    let plan = packed_plan(m, n);
    let a = Operand::new(a, (lda, 1));
    run_blocks(
        Path::Packed(plan),
        threads,
        (m, n, k),
        alpha,
        a,
        Source::Columns(*b, 0),
        beta,
        c,
        ldc,
    );
}

/// The micro-kernel candidates of an own kernel (`None` for `matrixmultiply`).
fn candidates(kernel: Kernel) -> Option<&'static [Candidate]> {
    match kernel.0 {
        #[cfg(target_arch = "x86_64")]
        Kind::Avx512 => Some(&AVX512),
        #[cfg(target_arch = "x86_64")]
        Kind::Avx2Fma => Some(&AVX2),
        Kind::Portable => Some(&PORTABLE),
        Kind::MatrixMultiply => None,
    }
}

/// `C = beta·C` over `m × n` (the product of an empty depth); `beta = 0` does not read `C`.
fn scale(m: usize, n: usize, beta: f32, c: &mut [f32], ldc: usize) {
    for row in c.chunks_mut(ldc).take(m) {
        let row = &mut row[..n];
        if beta == 0.0 {
            row.fill(0.0);
        } else {
            row.iter_mut().for_each(|v| *v *= beta);
        }
    }
}

/// [`gemm`] on a chosen [`Kernel`], on the calling thread only (for tests and benchmarks that
/// compare kernels).
///
/// ```
/// use dl_core::kernels::gemm::{gemm_with, Kernel, Trans};
/// // Aᵀ·B with A = [1 2 3] stored 1×3 (so Aᵀ is 3×1) and B = [4 5]: the outer product.
/// for kernel in Kernel::available() {
///     let mut c = [f32::NAN; 6];
///     gemm_with(kernel, Trans::T, Trans::N, 3, 2, 1, 1.0, &[1.0, 2.0, 3.0], 3, &[4.0, 5.0], 2, 0.0, &mut c, 2);
///     assert_eq!(c, [4.0, 5.0, 8.0, 10.0, 12.0, 15.0], "{}", kernel.name());
/// }
/// ```
///
/// # Panics
/// As [`gemm`].
#[allow(clippy::too_many_arguments)]
pub fn gemm_with(
    kernel: Kernel,
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
    gemm_threaded(
        kernel, 1, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
    );
}

/// [`gemm_with`] split over `threads` threads (the caller and `threads − 1` workers of the
/// pool, spawned on first need, at most 64 threads in all): `C` is cut into `threads` blocks
/// of whole register tiles (fewer if it has fewer tiles), each computed by one thread exactly
/// as at one thread, so the result is bit-identical to [`gemm_with`] for every `threads`.
/// `Kernel::MATRIXMULTIPLY` ignores `threads` (it uses its own pool with [`num_threads`]).
///
/// ```
/// use dl_core::kernels::gemm::{gemm_threaded, gemm_with, Kernel, Trans};
/// let (m, n, k) = (40, 300, 50);
/// let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 - 3.0).collect();
/// let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.3).collect();
/// let (mut c1, mut c3) = (vec![0.0; m * n], vec![0.0; m * n]);
/// let kr = Kernel::best();
/// gemm_with(kr, Trans::N, Trans::N, m, n, k, 1.0, &a, k, &b, n, 0.0, &mut c1, n);
/// gemm_threaded(kr, 3, Trans::N, Trans::N, m, n, k, 1.0, &a, k, &b, n, 0.0, &mut c3, n);
/// assert_eq!(c1, c3);
/// ```
///
/// # Panics
/// As [`gemm`].
#[allow(clippy::too_many_arguments)]
pub fn gemm_threaded(
    kernel: Kernel,
    threads: usize,
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
    let (a_rows, a_cols) = if ta == Trans::N { (m, k) } else { (k, m) };
    let (b_rows, b_cols) = if tb == Trans::N { (k, n) } else { (n, k) };
    assert!(
        lda >= a_cols.max(1) && ldb >= b_cols.max(1) && ldc >= n.max(1),
        "gemm: leading dimension too small"
    );
    assert!(a.len() >= needed(a_rows, a_cols, lda), "gemm: A too short");
    assert!(b.len() >= needed(b_rows, b_cols, ldb), "gemm: B too short");
    assert!(c.len() >= needed(m, n, ldc), "gemm: C too short");
    if m == 0 || n == 0 {
        return;
    }
    num_threads();
    if k == 0 {
        scale(m, n, beta, c, ldc);
        return;
    }
    let a = Operand::new(a, strides(ta, lda));
    let b = Operand::new(b, strides(tb, ldb));
    let Some(path) = path_for(kernel, a.cs == 1 && b.rs == 1, m, n, k) else {
        matrixmultiply_sgemm(m, n, k, alpha, a, b, beta, c, ldc);
        return;
    };
    run_blocks(
        path,
        threads,
        (m, n, k),
        alpha,
        a,
        Source::Matrix(b),
        beta,
        c,
        ldc,
    );
}

/// The path [`gemm_with`] takes for an `m × n × k` product on `kernel` (`along_k`: both operands
/// contiguous along `k`), or `None` for the `matrixmultiply` baseline. The path and tile are
/// chosen for the whole product, never per block, so that every block computes its elements
/// exactly as the whole product on one thread would.
fn path_for(kernel: Kernel, along_k: bool, m: usize, n: usize, k: usize) -> Option<Path> {
    let candidates = candidates(kernel)?;
    Some(match kernel.0 {
        _ if along_k && use_transposed(m, n, k) => {
            Path::Transposed(pick_streaming_tile(candidates, n, m))
        }
        #[cfg(target_arch = "x86_64")]
        Kind::Avx512 if along_k && use_dot(m, n, k) => Path::Dot,
        _ => Path::Packed(pick_tile(candidates, m, n)),
    })
}

/// Computes `C = alpha · op(A)·B + beta · C` (`m × n × k`, operands checked by the caller to hold
/// their elements) along `path`, split into the blocks of [`Split`] over `threads` threads.
///
/// The path's kernel must come from a [`Kernel`] (which proves the CPU supports it), and a
/// `Path::Dot` or a `Path::Transposed` must come with a `Source::Matrix`.
#[allow(clippy::too_many_arguments)]
fn run_blocks(
    path: Path,
    threads: usize,
    (m, n, k): (usize, usize, usize),
    alpha: f32,
    a: Operand,
    b: Source,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    // Weights packed by the caller are shared as they are: split the rows (the batch), so that
    // each thread packs only its own rows of `x` (MNIST MLP inference at 2 threads 1.16×; the
    // same for a caller-packed A, splitting the columns, measured 0.98× on AlexNet CIFAR).
    let by_cols = match path {
        Path::Packed(plan) if plan.b_packed => false,
        _ => n >= m,
    };
    let split = Split::new(
        by_cols,
        m,
        n,
        path.tile(),
        threads.clamp(1, MAX_WORKERS + 1),
    );
    let out = Out {
        c: c.as_mut_ptr(),
        ldc,
    };
    let block = |part: usize| {
        let (rows, cols) = split.block(part);
        // SAFETY: A, B and C were checked by the callers to hold m × k, k × n and m × n
        // elements (`c` here); the blocks of `split` are disjoint and inside m × n, each is
        // computed by exactly one call, and `c` stays mutably borrowed until all calls have
        // returned; the path's kernel comes from a `Kernel`, which proves the CPU supports it.
        unsafe { path.run(rows, cols, k, alpha, a, b, beta, out) };
    };
    if split.parts == 1 {
        block(0);
    } else {
        POOL.run(split.parts, &block);
    }
}

/// A matrix operand: `op(X)[i, p] = data[i·rs + p·cs]`.
#[derive(Clone, Copy)]
struct Operand<'a> {
    data: &'a [f32],
    rs: usize,
    cs: usize,
}

impl<'a> Operand<'a> {
    fn new(data: &'a [f32], (rs, cs): (usize, usize)) -> Self {
        Operand { data, rs, cs }
    }

    /// The operand whose element `(0, 0)` is this one's `(i, j)`.
    ///
    /// # Panics
    /// If `(i, j)` is past the end of the data.
    fn shifted(self, i: usize, j: usize) -> Self {
        Operand {
            data: &self.data[i * self.rs + j * self.cs..],
            ..self
        }
    }
}

/// The `B` operand: a stored matrix, or the column matrix of a batch of images packed straight
/// from the images (with the column its column 0 stands for).
#[derive(Clone, Copy)]
enum Source<'a> {
    Matrix(Operand<'a>),
    Columns(BatchColumns<'a>, usize),
}

impl Source<'_> {
    /// The operand whose column 0 is this one's column `j`.
    fn shifted_cols(self, j: usize) -> Self {
        match self {
            Source::Matrix(b) => Source::Matrix(b.shifted(0, j)),
            Source::Columns(cols, j0) => Source::Columns(cols, j0 + j),
        }
    }

    /// Packs rows `p0..p0+kc` and columns `j0..j0+nc` into panels of `nr` columns, see
    /// [`pack_b`].
    fn pack(&self, dst: &mut [f32], p0: usize, j0: usize, kc: usize, nc: usize, nr: usize) {
        match self {
            Source::Matrix(b) => pack_b(dst, *b, p0, j0, kc, nc, nr),
            Source::Columns(cols, first) => cols.pack(dst, p0, first + j0, kc, nc, nr),
        }
    }
}

/// `C` as seen by the threads computing its blocks: a pointer to element `(0, 0)` and the row
/// length.
#[derive(Clone, Copy)]
struct Out {
    c: *mut f32,
    ldc: usize,
}

// SAFETY: `Out` is only shared between the threads of one `gemm_threaded` call, which write
// disjoint blocks of `C` (see `Split`) while the call holds `C`'s mutable borrow.
unsafe impl Sync for Out {}

/// How a product is computed: one plan for the whole product, run block by block.
#[derive(Clone, Copy)]
enum Path {
    /// 4 × 4 tiles of dot products, see [`use_dot`].
    #[cfg(target_arch = "x86_64")]
    Dot,
    /// Packed panels and a register-tiled micro-kernel, see [`Plan::run`].
    Packed(Plan),
    /// `A·Bᵀ` as `(B·Aᵀ)ᵀ`: the plan (on the swapped operands) computes each block's transpose
    /// into a thread-local buffer, which is then written transposed into `C`; see
    /// [`use_transposed`].
    Transposed(Plan),
}

impl Path {
    /// The tile height and width: blocks are cut at multiples of these, so that a block's tiles
    /// are exactly the whole product's tiles.
    fn tile(self) -> (usize, usize) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Path::Dot => (micro::avx512_dot::T, micro::avx512_dot::T),
            Path::Packed(plan) => (plan.mr, plan.nr),
            Path::Transposed(plan) => (plan.nr, plan.mr),
        }
    }

    /// Computes the block `rows × cols` of `C = alpha · op(A)·op(B) + beta · C`.
    ///
    /// # Safety
    /// `a`, `b` and `out` must hold the whole `m × k`, `k × n` and `m × n` operands, the block
    /// must be inside `m × n`, no other thread may access the block during the call, the CPU
    /// must support the path's instructions, and `Path::Dot` and `Path::Transposed` need a
    /// `Source::Matrix`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn run(
        self,
        rows: Range<usize>,
        cols: Range<usize>,
        k: usize,
        alpha: f32,
        a: Operand,
        b: Source,
        beta: f32,
        out: Out,
    ) {
        let (m, n) = (rows.len(), cols.len());
        let a = a.shifted(rows.start, 0);
        let b = b.shifted_cols(cols.start);
        // SAFETY: the block's corner is inside C (caller contract).
        let c = unsafe { out.c.add(rows.start * out.ldc + cols.start) };
        match (self, b) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: forwarded caller contract: C's m × n block at `c` is ours alone.
            (Path::Dot, Source::Matrix(b)) => unsafe {
                dot_avx512(m, n, k, alpha, a, b, beta, c, out.ldc)
            },
            #[cfg(target_arch = "x86_64")]
            (Path::Dot, Source::Columns(..)) => {
                unreachable!("invariant: only a stored B takes the dot-product path")
            }
            (Path::Transposed(plan), Source::Matrix(b)) => PACKS.with(|packs| {
                let packs = &mut packs.borrow_mut();
                // Bᵀ's rows and Aᵀ as the operands of T = alpha · Bᵀ·Aᵀ (n × m).
                let bt = Operand::new(b.data, (b.cs, b.rs));
                let at = Operand::new(a.data, (a.cs, a.rs));
                let mut t = std::mem::take(&mut packs.t);
                let tt = t.at_least(n * m);
                // SAFETY: `bt` and `at` hold n × k and k × m elements (forwarded caller contract
                // on B and A); `tt` holds n rows of m floats, is ours alone and aliases no
                // operand; the CPU supports the plan's micro-kernel (caller contract).
                unsafe {
                    plan.run(
                        n,
                        m,
                        k,
                        alpha,
                        bt,
                        Source::Matrix(at),
                        0.0,
                        tt.as_mut_ptr(),
                        m,
                        packs,
                    )
                };
                for i in 0..m {
                    // SAFETY: row i < m of C's m × n block at `c` (row length `out.ldc`), which
                    // no other thread accesses (caller contract).
                    let row = unsafe { std::slice::from_raw_parts_mut(c.add(i * out.ldc), n) };
                    let col = tt[i..].iter().step_by(m);
                    if beta == 0.0 {
                        row.iter_mut().zip(col).for_each(|(c, &v)| *c = v);
                    } else {
                        row.iter_mut()
                            .zip(col)
                            .for_each(|(c, &v)| *c = v + beta * *c);
                    }
                }
                packs.t = t;
            }),
            (Path::Transposed(_), Source::Columns(..)) => {
                unreachable!("invariant: only a stored B takes the transposed path")
            }
            (Path::Packed(plan), b) => PACKS.with(|packs| {
                let packs = &mut packs.borrow_mut();
                // SAFETY: forwarded caller contract: C's m × n block at `c` is ours alone.
                unsafe { plan.run(m, n, k, alpha, a, b, beta, c, out.ldc, packs) };
            }),
        }
    }
}

/// A fixed partition of `C` (`m × n`) into `parts` blocks of whole tiles, by columns or by rows
/// (by columns when `n ≥ m`, except for weights packed by the caller, see [`run_blocks`]),
/// the tiles of the split dimension shared out as evenly as possible.
#[derive(Clone, Copy)]
struct Split {
    m: usize,
    n: usize,
    by_cols: bool,
    /// Tile size along the split dimension.
    unit: usize,
    /// Tiles along the split dimension.
    units: usize,
    parts: usize,
}

impl Split {
    fn new(by_cols: bool, m: usize, n: usize, (mr, nr): (usize, usize), threads: usize) -> Self {
        let (len, unit) = if by_cols { (n, nr) } else { (m, mr) };
        let units = len.div_ceil(unit);
        Split {
            m,
            n,
            by_cols,
            unit,
            units,
            parts: threads.clamp(1, units.max(1)),
        }
    }

    /// The rows and columns of block `part` (`< parts`).
    fn block(&self, part: usize) -> (Range<usize>, Range<usize>) {
        let len = if self.by_cols { self.n } else { self.m };
        let edge = |p: usize| (p * self.units / self.parts * self.unit).min(len);
        let span = edge(part)..edge(part + 1);
        if self.by_cols {
            (0..self.m, span)
        } else {
            (span, 0..self.n)
        }
    }
}

/// `matrixmultiply::sgemm` on checked operands.
#[allow(clippy::too_many_arguments)]
fn matrixmultiply_sgemm(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: Operand,
    b: Operand,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    // SAFETY: `gemm_with` checked that every element (rows-1)·rs + (cols-1)·cs addressed through
    // the strides lies inside the slices; `c` is borrowed mutably and cannot alias `a` or `b`;
    // all strides fit in isize because they are bounded by slice lengths.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            a.rs as isize,
            a.cs as isize,
            b.data.as_ptr(),
            b.rs as isize,
            b.cs as isize,
            beta,
            c.as_mut_ptr(),
            ldc as isize,
            1,
        );
    }
}

/// Whether `A·Bᵀ` (both contiguous along `k`) runs faster as dot products than packed: when
/// `k` is long enough to amortise the horizontal sums and one side is thin (≤ 16: packing costs
/// a copy of both operands for every 16 or fewer outputs per value), or the other operand is
/// large (`k` × the long side ≥ 1 Mi floats, past L2: packing would stream it through memory
/// twice). Measured on the models' shapes, alternating both paths (bench/NOTES.md, section 10):
/// 100 × 128 × 784 runs 60 → 78 GFLOP/s packed, 16 × 150 × 3200 runs 45 → 31. Products that
/// [`use_transposed`] takes never get here.
fn use_dot(m: usize, n: usize, k: usize) -> bool {
    let (thin, long) = (m.min(n), m.max(n));
    k >= DOT_MIN_K
        && (thin <= DOT_MAX_THIN || (thin <= DOT_MAX_SIDE && k * long >= DOT_MIN_STREAMED))
}

/// Whether `A·Bᵀ` (both contiguous along `k`) runs as [`Path::Transposed`]: `A` thin
/// ([`TRANSPOSED_MIN_M`] to [`DOT_MAX_SIDE`] rows, the batch of a Dense forward) and `B` at
/// least as long and large ([`DOT_MIN_STREAMED`] floats or more: the layer's weights). Its rows
/// then become the packed `A` panels of `B·Aᵀ`, which stream through the micro-kernel once, in
/// deep depth blocks ([`STREAM_KC`]) with `Aᵀ` packed into an L2-resident block. Measured on
/// this path against the dot products (bench/NOTES.md, section 17): 32 × 4096 × 4096 43 → 70
/// GFLOP/s, 16 × 4096 × 9216 43 → 48; with fewer than 16 rows the tile wastes lanes and the dot
/// products stay faster.
fn use_transposed(m: usize, n: usize, k: usize) -> bool {
    (TRANSPOSED_MIN_M..=DOT_MAX_SIDE).contains(&m) && n >= m && n * k >= DOT_MIN_STREAMED
}

/// See [`use_transposed`].
const TRANSPOSED_MIN_M: usize = 16;
/// Depth block of [`Path::Transposed`].
const STREAM_KC: usize = 2048;
/// Rows of the swapped `A` (the weights) packed at once in [`Path::Transposed`].
const STREAM_MC: usize = 48;

/// See [`use_dot`].
const DOT_MIN_K: usize = 64;
/// See [`use_dot`].
const DOT_MAX_THIN: usize = 16;
/// See [`use_dot`].
const DOT_MAX_SIDE: usize = 160;
/// See [`use_dot`].
const DOT_MIN_STREAMED: usize = 1 << 20;
/// Depth block of the dot-product path: 4 rows of `B` (8 KiB) stay in L1 across all of `A`,
/// and an `A` of up to 16 rows (32 KiB, LeNet-5 conv2's weight gradient `16 × 150 × 3200`) stays
/// there too across the groups of `B` (with 1024, 64 KiB of `A` came from L2 for every group:
/// that product ran at 92 GFLOP/s, 99 with 512; bench/NOTES.md section 44).
const DOT_KC: usize = 512;

/// `C = alpha · A·Bᵀ + beta · C` with `A` (`m × k`, row length `a.rs`) and `B` (stored `n × k`,
/// row length `b.cs`) row-major, as 4 × 4 tiles of dot products (no packing).
///
/// # Safety
/// `a` and `b` must hold `m × k` and `n × k` elements, `c_ptr` must address `m` rows of `n`
/// writable floats `ldc` apart that no other thread accesses during the call, and the CPU must
/// have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
unsafe fn dot_avx512(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: Operand,
    b: Operand,
    beta: f32,
    c_ptr: *mut f32,
    ldc: usize,
) {
    use micro::avx512_dot::{T, kernel};
    // Pointers to column p0 of up to 4 stored rows (`ld` apart) of `x`; missing rows repeat the
    // last valid one.
    let rows = |x: &[f32], ld: usize, first: usize, count: usize, p0: usize| -> [*const f32; T] {
        std::array::from_fn(|r| x[(first + r.min(count - 1)) * ld + p0..].as_ptr())
    };
    for p0 in (0..k).step_by(DOT_KC) {
        let kc = DOT_KC.min(k - p0);
        let beta = if p0 == 0 { beta } else { 1.0 };
        for j0 in (0..n).step_by(T) {
            let cols = T.min(n - j0);
            let bp = rows(b.data, b.cs, j0, cols, p0);
            for i0 in (0..m).step_by(T) {
                let tile_rows = T.min(m - i0);
                let ap = rows(a.data, a.rs, i0, tile_rows, p0);
                let tile = Tile {
                    // SAFETY: row i0 < m, column j0 < n: inside C (caller contract).
                    c: unsafe { c_ptr.add(i0 * ldc + j0) },
                    ldc,
                    rows: tile_rows,
                    cols,
                    alpha,
                    beta,
                };
                // SAFETY: every row pointer starts at column p0 of a valid row of A (m × k) or B
                // (n × k), so kc = min(DOT_KC, k − p0) floats are readable; the tile lies inside
                // C, which no other thread accesses; the CPU has AVX-512F (caller contract).
                unsafe { kernel(kc, ap, bp, tile) };
            }
        }
    }
}

/// Most bands of rows that read a `B` of at most [`B_BLOCK`] floats in place, band by band,
/// when its rows start cache lines (see [`Plan::run`]): packing `B` costs in proportion to its
/// size and is shared by the bands, while a `B` read in place is read from L2 by every band a
/// little slower than its packed panels. `zz_gemm`, 1 thread, median GFLOP/s, packed / in
/// place, rows 64-byte aligned: `NN 64 8192 27` (8 bands) 132–135 / 142–148, `TN 150 3200 16`
/// (11) 147–157 / 169–170, `TN 128 784 100` (11) 179–198 / 203–207, `NN 200 3200 32` (15)
/// 167 / 181; `TN 256 4096 32` (19) 168–171 / 172, `TN 512 4096 32` 168–169 / 161–165, `TN 4096
/// 4096 32` 165–169 / 154–160 (bench/NOTES.md section 54). With rows that do not start lines
/// (each 32-float run spans three lines), `NN 64 8192 27` ran 119–131 in place.
const IN_PLACE_MAX_BANDS: usize = 16;

/// Largest `B` (in floats) read in place, see [`Plan::run`]: 16 MiB. Up to 134 MB ran faster in
/// place than packed on the machine of bench/NOTES.md section 46, 151 MB (past its share of L3)
/// 1.8× slower; this bound keeps clear of that cliff on machines with less cache.
const DIRECT_MAX_B: usize = 1 << 22;
/// Largest depth block of a `B` read in place that does not fit in L2 (more than [`B_BLOCK`]
/// floats): its tiles read that many rows of `B` at once, and the hardware prefetchers follow
/// about that many streams (`6 × 25088 × 75` in 2 blocks of 38 rows instead of 1 of 75: 44 → 73
/// GFLOP/s; `16 × 3200 × 150` in 4 instead of 1: 120 → 144). A `B` in L2 keeps the deeper
/// blocks, which read and write `C` fewer times (`32 × 400 × 120` in 3 blocks: 195 → 176;
/// bench/NOTES.md section 46).
const DIRECT_KC: usize = 48;
/// Largest depth of a packed panel (rows of `B̃`, columns of `Ã`).
const KC: usize = 256;
/// Rows of `A` packed at once (rounded down to a multiple of `MR`).
const MC: usize = 168;
/// The most `B` panels for which [`Plan::run`] reads a row-major `A` in place (see there): the
/// weights of `Path::Transposed` (one panel), and the MNIST MLP's forward GEMM, its batch of 100
/// against 4 panels of its 128 outputs (packing the batch was 9.6% of its inference; reading it
/// in place 1.10× faster, bench/NOTES.md section 42).
const A_IN_PLACE_PANELS: usize = 4;

/// Floats of a packed `B` block (`kc × nc`, 1 MiB): every band of `MR` rows sweeps the whole
/// block, so it must stay in L2.
const B_BLOCK: usize = 1 << 18;

/// Smallest row-major `B` (in floats: 4 MiB, twice L2) whose blocks the tiles ask for from
/// memory one block ahead, see [`Plan::run`]. Just above it, `96 × 3025 × 363` (4.4 MB) gained
/// little (148 → 152 GFLOP/s), `96 × 12100 × 363` (17.6 MB) 130 → 139 (bench/NOTES.md section
/// 51).
const PREFETCH_MIN_B: usize = 4 * B_BLOCK;

/// Largest `A` (in floats: 4 MiB) packed whole, once, under a `B` whose next block the tiles ask
/// for (see [`Plan::run`]), so that the `B` blocks are packed for all its rows: in blocks of
/// [`MC`] rows, `A` was packed again for every `B` block, as many values as `B` holds in the
/// small blocks of prefetching. `256 × 11664 × 2400` 127 → 144 GFLOP/s, `384 × 2704 × 2304` 140 →
/// 152, with the bursts of [`PREFETCH_ROWS`] (bench/NOTES.md section 53).
const A_WHOLE_MAX: usize = 1 << 20;

/// Floats of a packed `B` block when the next one is asked for during it (256 KiB): this block,
/// the next one arriving and the block of `C` stay in L2 together. `96 × 48400 × 363` ran
/// 118 → 143 GFLOP/s in blocks of a quarter of [`B_BLOCK`], 131 in halves, 121 in whole ones, 105
/// in eighths (bench/NOTES.md section 51).
const PREFETCH_B_BLOCK: usize = B_BLOCK / 4;

/// How many tiles behind the one asking for a share of the next `B` block's lines that share's
/// rows are packed, when a row-major `B` is packed a block ahead (see [`Plan::run`]): a tile's
/// lines have arrived by the end of the tile after it. `96 × 48400 × 363` (`zz_gemm`, pairs,
/// against packing after the tiles): 1 tile behind 186.6/192.6, 185.6/194.6, 190.4/194.2
/// GFLOP/s; 2 tiles 188.8/187.6, 189.6/195.4, 189.3/194.1, 188.8/193.5; 4 and 8 no gain (the
/// shares left for after the tiles are not overlapped); bench/NOTES.md section 58.
const PACK_BEHIND: usize = 1;

/// Columns of `B` packed at once for depth blocks of `kc` in blocks of `block` floats: as many as
/// the block holds (1024 at `KC` in a [`B_BLOCK`], 8192 for a 32-deep weight gradient), a
/// multiple of every `NR`.
fn block_cols(kc: usize, block: usize) -> usize {
    (block / kc).max(32) / 32 * 32
}

/// A micro-kernel tile: `MR` rows, `NR` columns, the SIMD lanes, the kernel on packed `A` panels
/// and on `A` rows read in place, and (where the instruction set has one) the packed kernel that
/// also prefetches lines of memory ([`Prefetch`]).
struct Candidate {
    mr: usize,
    nr: usize,
    lanes: usize,
    packed: Micro,
    rows: Micro,
    prefetching: Option<PrefetchingMicro>,
}

/// The [`Candidate`] of `micro::<module>::kernel::<MR, NV, _>` (`NR = lanes·NV`); for AVX-512,
/// `micro::avx512::kernel::<MR, NV, _, _>` with its prefetching variant.
macro_rules! tile {
    (avx512, $mr:literal, $nv:literal) => {
        Candidate {
            mr: $mr,
            nr: 16 * $nv,
            lanes: 16,
            packed: micro::avx512::kernel::<$mr, $nv, false>,
            rows: micro::avx512::kernel::<$mr, $nv, true>,
            prefetching: Some(micro::avx512::prefetching::<$mr, $nv>),
        }
    };
    ($module:ident, $lanes:expr, $mr:literal, $nv:literal) => {
        Candidate {
            mr: $mr,
            nr: $lanes * $nv,
            lanes: $lanes,
            packed: micro::$module::kernel::<$mr, $nv, false>,
            rows: micro::$module::kernel::<$mr, $nv, true>,
            prefetching: None,
        }
    };
}

/// The AVX-512 tiles. 10 × 32 fits a batch of 100 (the MNIST MLP's) in 10 whole bands, where
/// 12 × 32 needs 9 with 8 rows of padding: the MLP's forward GEMM 1.05× (bench/NOTES.md,
/// section 41).
#[cfg(target_arch = "x86_64")]
const AVX512: [Candidate; 9] = [
    tile!(avx512, 14, 2),
    tile!(avx512, 12, 2),
    tile!(avx512, 10, 2),
    tile!(avx512, 8, 2),
    tile!(avx512, 6, 2),
    tile!(avx512, 4, 2),
    tile!(avx512, 16, 1),
    tile!(avx512, 8, 1),
    tile!(avx512, 4, 1),
];
#[cfg(target_arch = "x86_64")]
const AVX2: [Candidate; 4] = [
    tile!(avx2, 8, 6, 2),
    tile!(avx2, 8, 4, 2),
    tile!(avx2, 8, 12, 1),
    tile!(avx2, 8, 4, 1),
];
const PORTABLE: [Candidate; 1] = [Candidate {
    mr: 4,
    nr: micro::portable::NR,
    lanes: 4,
    packed: micro::portable::kernel::<4, false>,
    rows: micro::portable::kernel::<4, true>,
    prefetching: None,
}];

/// The tile that computes the fewest padded elements for an `m × n` product, counting per tile
/// and depth step its vector FMAs (`MR·NR / lanes`) plus three for the loads and loop; ties go to
/// the candidate listed first. (Counted with the last band on its [`tail_tile`], the choice moved
/// to taller tiles with a short last band, slower on small products: `NT 32 128 64` 0.89×, `NT
/// 100 128 784` 0.93×; bench/NOTES.md section 59.)
fn pick_tile(candidates: &'static [Candidate], m: usize, n: usize) -> Plan {
    pick_tile_among(candidates, |_| true, m, n)
}

/// [`pick_tile`] among the candidates that `allowed` accepts (at least one).
fn pick_tile_among(
    candidates: &'static [Candidate],
    allowed: impl Fn(&Candidate) -> bool,
    m: usize,
    n: usize,
) -> Plan {
    let cost = |c: &Candidate| m.div_ceil(c.mr) * n.div_ceil(c.nr) * (c.mr * c.nr / c.lanes + 3);
    let best = candidates
        .iter()
        .filter(|c| allowed(c))
        .reduce(|best, c| if cost(c) < cost(best) { c } else { best })
        .expect("invariant: the callers allow at least one candidate");
    Plan::new(best, candidates)
}

/// The tile that computes a last band of `rows` rows under tiles `nr` wide: the shortest of
/// `family` (the candidates of one instruction set) that holds them. On 14 × 32 tiles, `256 ×
/// 512 × 3456` (CIFAR AlexNet's conv4) ends in a band of 4 rows: on a 4 × 32 tile instead of a
/// zero-padded 14 × 32 one it computes 256 rows instead of 266 (bench/NOTES.md section 59).
///
/// # Panics
/// If no tile of `family` is `nr` wide and `rows` high (a plan's own tile always is).
fn tail_tile(family: &'static [Candidate], nr: usize, rows: usize) -> &'static Candidate {
    family
        .iter()
        .filter(|t| t.nr == nr && t.mr >= rows)
        .min_by_key(|t| t.mr)
        .expect("invariant: the plan's own tile holds the last band")
}

/// The tile of [`Path::Transposed`] for the swapped `m × n` product: at most [`STREAM_MAX_MR`]
/// rows, because with a batch of at most `NR` the weights are read in place (see [`Plan::run`]),
/// `MR` rows at a time, and weight rows a multiple of 4 KiB apart (4096 or 1024 inputs) share
/// one L1 set of 12 ways: 14 or 16 of them evict each other on every line. Measured with the
/// tile forced (`zz_gemm`, best of 7, 3 rounds, bench/NOTES.md section 25): 32 × 4096 × 4096
/// 14 × 32 91–102 GFLOP/s, 8 × 32 105–110; 16 × 4096 × 4096 16 × 16 56–66, 8 × 16 61–73.
fn pick_streaming_tile(candidates: &'static [Candidate], m: usize, n: usize) -> Plan {
    // The portable kernel's 4 rows at least are in every candidate set.
    pick_tile_among(candidates, |c| c.mr <= STREAM_MAX_MR, m, n).streaming()
}

/// See [`pick_streaming_tile`].
const STREAM_MAX_MR: usize = 8;

/// Packing buffers, and the transposed result of [`Path::Transposed`], grown to the largest
/// shape seen on this thread and reused.
struct Packs {
    a: AlignedVec,
    b: AlignedVec,
    t: AlignedVec,
}

thread_local! {
    static PACKS: RefCell<Packs> = const {
        RefCell::new(Packs {
            a: AlignedVec::new(),
            b: AlignedVec::new(),
            t: AlignedVec::new(),
        })
    };
}

/// A blocking plan: tile height and width, the micro-kernel, and the largest depth and row
/// blocks.
#[derive(Clone, Copy)]
struct Plan {
    mr: usize,
    nr: usize,
    /// Whether `A` comes packed by the caller ([`pack_a_panels`]): panel `q` over the whole
    /// depth at `q·MR·k`, read in place through an operand with `rs = k`, `cs = MR`.
    a_packed: bool,
    /// Whether `B` comes packed by the caller ([`pack_weights`]): panel `q` over the whole
    /// depth at `q·NR·k`, read in place through an operand with `rs = NR`, `cs = k`.
    b_packed: bool,
    /// The micro-kernel on packed `A` panels.
    micro: Micro,
    /// The same on `A` rows read in place.
    rows: Micro,
    /// The packed-panel kernel that also prefetches, if the instruction set has one.
    prefetching: Option<PrefetchingMicro>,
    /// The candidates of the tile's instruction set, for the last band of rows ([`tail_tile`]).
    family: &'static [Candidate],
    /// Largest depth block ([`KC`], or [`STREAM_KC`]).
    kc: usize,
    /// Rows of `A` packed at once ([`MC`] or [`STREAM_MC`], rounded down to a multiple of `mr`).
    mc: usize,
}

impl Plan {
    /// The plan of a candidate tile of `family` with the default blocking ([`KC`], [`MC`]).
    fn new(c: &Candidate, family: &'static [Candidate]) -> Plan {
        Plan {
            mr: c.mr,
            nr: c.nr,
            a_packed: false,
            b_packed: false,
            micro: c.packed,
            rows: c.rows,
            prefetching: c.prefetching,
            family,
            kc: KC,
            mc: MC / c.mr * c.mr,
        }
    }

    /// The same tile with the blocking of [`Path::Transposed`]: deep depth blocks
    /// ([`STREAM_KC`]) over few rows ([`STREAM_MC`]).
    fn streaming(self) -> Plan {
        Plan {
            kc: STREAM_KC,
            mc: (STREAM_MC / self.mr * self.mr).max(self.mr),
            ..self
        }
    }

    /// The blocked product: column blocks of `B` ([`block_cols`]), `KC` depth blocks with a packed
    /// `B` block, `MC` row blocks with a packed `A` block, then the `MR` × `NR` tiles band by
    /// band: each `MR`-row panel of `A` (in L1) sweeps the `B` block (in L2) left to right, so
    /// `C` is written in long row runs the prefetchers follow. (BLIS runs the tiles the other way
    /// round, one `B` panel in L1 across the `A` panels; on the Intel machine of bench/NOTES.md,
    /// section 12, this order was faster on every model shape, up to 3× on shallow products that
    /// write a large `C`.) A `B` read in place under one or two bands runs panel by panel, the
    /// bands under each panel while it is in L1 (under more, [`IN_PLACE_MAX_BANDS`], band by
    /// band). A large `B` stored row by row (row-major or transposed) under one block of rows
    /// (or all rows of an `A` of at most [`A_WHOLE_MAX`] floats) runs in smaller blocks whose
    /// tiles ask for the next block from memory ([`PREFETCH_B_BLOCK`]) and, for a row-major `B`,
    /// pack it between them ([`PACK_BEHIND`]); an `A` of one block of rows is packed once for all
    /// column blocks.
    ///
    /// # Safety
    /// `a` and `b` must hold `op(A)` (`m × k`) and `op(B)` (`k × n`), `c_ptr` must address `m`
    /// rows of `n` writable floats `ldc` apart that no other thread accesses during the call,
    /// and the CPU must support the micro-kernel's instructions.
    #[allow(clippy::too_many_arguments)]
    unsafe fn run(
        &self,
        m: usize,
        n: usize,
        k: usize,
        alpha: f32,
        a: Operand,
        b: Source,
        beta: f32,
        c_ptr: *mut f32,
        ldc: usize,
        packs: &mut Packs,
    ) {
        let (mr, nr) = (self.mr, self.nr);
        let bands = m.div_ceil(mr);
        // B is read in place when it is row-major and either each panel is used at most twice
        // (by one or two bands of rows, one after the other while it is in L1) and B is small
        // enough (≤ DIRECT_MAX_B floats) to come from cache, see DIRECT_KC; or B fits one B
        // block (in L2), its rows start cache lines, and the bands are few enough that packing
        // it costs more than reading it in place band by band (IN_PLACE_MAX_BANDS).
        let in_place = match b {
            Source::Matrix(op)
                if !self.b_packed
                    && op.cs == 1
                    && ((bands <= 2 && k * n <= DIRECT_MAX_B)
                        || (bands <= IN_PLACE_MAX_BANDS
                            && k * n <= B_BLOCK
                            && op.rs.is_multiple_of(16)
                            && (op.data.as_ptr() as usize).is_multiple_of(64))) =>
            {
                Some(op)
            }
            _ => None,
        };
        let direct = in_place.is_some();
        // Depth blocks of about equal size (784 = 208 + 208 + 208 + 160, not 3 × 256 + 16: a last
        // block that reads and writes all of C for a few multiply-adds); packed ones a multiple
        // of 16 so that the packing reads stay aligned to the rows' 64-byte lines.
        let kc_max = if direct && k * n > B_BLOCK {
            k.div_ceil(k.div_ceil(DIRECT_KC))
        } else {
            k.div_ceil(k.div_ceil(self.kc))
                .next_multiple_of(16)
                .min(self.kc)
        };
        // A row-major A whose panels each meet at most A_IN_PLACE_PANELS B panels is read in
        // place, its rows streamed through the kernel (and read again from L1 for the next B
        // panels), instead of being copied into panels read that few times; only a last panel
        // of fewer than MR rows is packed (zero-padded).
        let a_in_place = !self.a_packed && a.cs == 1 && n <= A_IN_PLACE_PANELS * nr;
        // The last band of rows, when shorter than MR, runs on the shortest tile as wide that
        // holds it, its A panel packed that high (a caller-packed A keeps its panels of MR).
        let (tail_mr, tail_micro, tail_prefetching) = match m % mr {
            rest if rest > 0 && !self.a_packed => {
                let t = tail_tile(self.family, nr, rest);
                (t.mr, t.packed, t.prefetching)
            }
            _ => (mr, self.micro, self.prefetching),
        };
        // A B that comes from memory, stored row-major (op(B) or its transpose), packed for one
        // block of rows of A, or for all of an A of at most A_WHOLE_MAX floats (whose bands then
        // take a third of the time or more to pack it, not overlapped with the products): the
        // tiles of each B block ask for the next block's lines, an equal share each, so that
        // packing it reads the cache; the blocks shrink so that both fit in L2 with C's. Not
        // under fewer than 3 bands (B would have to arrive faster than one core reads memory:
        // `16 × 4096 × 4096` 55 → 49 GFLOP/s) nor with stored rows a multiple of 4 KiB apart
        // (the lines asked for share a few cache sets and evict each other: `128 × 4096 × 4096`
        // 129 → 118).
        let prefetching = match (self.prefetching, b) {
            (Some(kernel), Source::Matrix(op))
                if !direct
                    && !self.a_packed
                    && !a_in_place
                    && !self.b_packed
                    && stored_rows(op).is_some_and(|(_, ld)| ld % 1024 != 0)
                    && k * n >= PREFETCH_MIN_B
                    && (m <= self.mc || m * k <= A_WHOLE_MAX)
                    && bands > 2 =>
            {
                Some((kernel, op))
            }
            _ => None,
        };
        // Rows of A per block: all of them (in whole panels) under a prefetched B.
        let mc_max = if prefetching.is_some() {
            self.mc.max(m.next_multiple_of(mr))
        } else {
            self.mc
        };
        let nc_max = block_cols(
            kc_max,
            if prefetching.is_some() {
                PREFETCH_B_BLOCK
            } else {
                B_BLOCK
            },
        );
        // One block of rows of A under several column blocks of B: A is packed once, every
        // depth block in its own part of the buffer, and read again for each column block
        // (repacked, it was 5% of `96 × 48400 × 363` in the small blocks of prefetching).
        let a_once = !a_in_place && !self.a_packed && m <= mc_max && n > nc_max;
        // One packed block of rows of A and depth kc_max; every depth block's when packed once.
        let a_part = mc_max.min(bands * mr) * kc_max;
        let a_pack = if a_in_place || self.a_packed {
            packs.a.at_least(mr * kc_max)
        } else {
            packs
                .a
                .at_least(a_part * if a_once { k.div_ceil(kc_max) } else { 1 })
        };
        let b_cols = if direct {
            nr
        } else {
            nc_max.min(n.div_ceil(nr) * nr)
        };
        // A row-major B under prefetching is packed a block ahead, a share of the next block's
        // rows after each tile (see PACK_BEHIND), into a second buffer: packed after the tiles,
        // each block's rows waited for the cache; between them, the copy overlaps the products.
        let pack_ahead = matches!(prefetching, Some((_, op)) if op.cs == 1);
        let b_len = b_cols * kc_max;
        let (mut b_pack, mut b_next) = packs
            .b
            .at_least(if pack_ahead { 2 * b_len } else { b_len })
            .split_at_mut(b_len);
        for jc in (0..n).step_by(nc_max) {
            let nc = nc_max.min(n - jc);
            for pc in (0..k).step_by(kc_max) {
                let kc = kc_max.min(k - pc);
                let beta = if pc == 0 { beta } else { 1.0 };
                let full_panels = if direct { nc / nr } else { 0 };
                // Pack the columns that are not read in place (all, or the last partial panel).
                let packed_from = full_panels * nr;
                if pack_ahead && (jc, pc) != (0, 0) {
                    // Packed into `b_next` during the block before (every block of such a
                    // product but the last takes the prefetching loop below, with mc = m).
                    std::mem::swap(&mut b_pack, &mut b_next);
                } else if packed_from < nc && !self.b_packed {
                    b.pack(b_pack, pc, jc + packed_from, kc, nc - packed_from, nr);
                }
                let b_pack = &*b_pack;
                for ic in (0..m).step_by(mc_max) {
                    let mc = mc_max.min(m - ic);
                    let full_bands = mc / mr * mr;
                    let a_at = if a_once { pc / kc_max * a_part } else { 0 };
                    if !a_in_place && !self.a_packed && (!a_once || jc == 0) {
                        pack_a(&mut a_pack[a_at..], a, ic, pc, (mc, kc), (mr, tail_mr));
                    } else if a_in_place && full_bands < mc {
                        pack_panel(a_pack, a, ic + full_bands, pc, mc - full_bands, kc, tail_mr);
                    }
                    let a_pack = &a_pack[a_at..];
                    // The B block after this one: the next depth block, or the next column
                    // block's first.
                    let next_block = if pc + kc < k {
                        Some((pc + kc, jc, kc_max.min(k - pc - kc), nc))
                    } else if jc + nc < n {
                        Some((0, jc + nc, kc_max.min(k), nc_max.min(n - jc - nc)))
                    } else {
                        None
                    };
                    let out = |ir: usize, jr: usize| Tile {
                        // SAFETY: row ic+ir < m, column jc+jr < n: inside C (caller contract).
                        c: unsafe { c_ptr.add((ic + ir) * ldc + jc + jr) },
                        ldc,
                        rows: mr.min(mc - ir),
                        cols: nr.min(nc - jr),
                        alpha,
                        beta,
                    };
                    let tile = |ir: usize, jr: usize| {
                        let rows = mr.min(mc - ir);
                        let packed = if rows < mr { tail_micro } else { self.micro };
                        let (micro, a_ptr, lda) = if self.a_packed {
                            let start = (ic + ir) * a.rs + pc * a.cs;
                            (self.micro, a.data[start..start + kc * mr].as_ptr(), 0)
                        } else if !a_in_place {
                            (packed, a_pack[ir * kc..].as_ptr(), 0)
                        } else if rows == mr {
                            let start = (ic + ir) * a.rs + pc;
                            (self.rows, a.data[start..].as_ptr(), a.rs)
                        } else {
                            (packed, a_pack.as_ptr(), 0)
                        };
                        let (b_ptr, ldb) = match in_place {
                            // SAFETY: a full panel inside B: rows pc..pc+kc < k, columns
                            // jc+jr..jc+jr+nr ≤ n, all inside `b` (caller contract).
                            Some(b) if jr < packed_from => {
                                (unsafe { b.data.as_ptr().add(pc * b.rs + jc + jr) }, b.rs)
                            }
                            _ if self.b_packed => {
                                let Source::Matrix(b) = b else {
                                    unreachable!("invariant: a caller-packed B is a matrix")
                                };
                                let start = (jc + jr) * b.cs + pc * b.rs;
                                (b.data[start..start + kc * nr].as_ptr(), nr)
                            }
                            _ => {
                                let panel = (jr - packed_from) / nr;
                                (b_pack[panel * kc * nr..].as_ptr(), nr)
                            }
                        };
                        // SAFETY: the A panel holds kc·mr packed floats at a_ptr, or (in
                        // place) mr full rows ic+ir.. < m of A from column pc, pc+kc ≤ k,
                        // lda apart; the B panel holds kc rows of nr floats ldb apart (packed,
                        // or a full panel in place); the tile's rows × cols lie inside C
                        // (m × n, row length ldc), which no other thread accesses and which
                        // aliases neither panel (the packs are ours, A and B are shared
                        // borrows); the CPU supports the micro-kernel (caller contract).
                        unsafe { micro(kc, a_ptr, lda, b_ptr, ldb, out(ir, jr)) };
                    };
                    if direct && bands <= 2 {
                        // Both bands of rows meet a panel of B while it is in L1.
                        for jr in (0..nc).step_by(nr) {
                            for ir in (0..mc).step_by(mr) {
                                tile(ir, jr);
                            }
                        }
                    } else if let (Some((kernel, stored)), Some(block)) = (prefetching, next_block)
                    {
                        // One block of rows (mc = m, see mc_max): the tiles of all the bands.
                        let panels = nc.div_ceil(nr);
                        let tiles = bands * panels;
                        // Share `s` of the next block's rows, packed into `b_next`.
                        let pack_share = |b_next: &mut [f32], s: usize| {
                            let kc = block.2;
                            pack_b_rows(
                                b_next,
                                stored,
                                block,
                                s * kc / tiles..(s + 1) * kc / tiles,
                                nr,
                            );
                        };
                        let tail_kernel = tail_prefetching
                            .expect("invariant: the tiles of one instruction set all prefetch");
                        for ir in (0..mc).step_by(mr) {
                            let kernel = if mc - ir < mr { tail_kernel } else { kernel };
                            for jr in (0..nc).step_by(nr) {
                                let t = ir / mr * panels + jr / nr;
                                let lines = prefetch_share(stored, block, (t, tiles), kc);
                                let (a_ptr, b_ptr) =
                                    (a_pack[ir * kc..].as_ptr(), b_pack[jr * kc..].as_ptr());
                                // SAFETY: as for `tile`, with A and B packed (see
                                // `prefetching`): panel jr / nr of B at jr·kc.
                                unsafe { kernel(kc, a_ptr, b_ptr, out(ir, jr), &lines) };
                                if pack_ahead && t >= PACK_BEHIND {
                                    pack_share(b_next, t - PACK_BEHIND);
                                }
                            }
                        }
                        if pack_ahead {
                            for s in tiles.saturating_sub(PACK_BEHIND)..tiles {
                                pack_share(b_next, s);
                            }
                        }
                    } else {
                        for ir in (0..mc).step_by(mr) {
                            for jr in (0..nc).step_by(nr) {
                                tile(ir, jr);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Whether `op` is stored row by row, `op` itself (`Some((false, rs))`) or its transpose
/// (`Some((true, cs))`), with the distance of its stored rows.
fn stored_rows(op: Operand) -> Option<(bool, usize)> {
    if op.cs == 1 {
        Some((false, op.rs))
    } else if op.rs == 1 {
        Some((true, op.cs))
    } else {
        None
    }
}

/// The share of tile `t` of `tiles` (`(t, tiles)`) in the lines of the `B` block `(p0, j0, kc,
/// nc)` (rows `p0..p0+kc`, columns `j0..j0+nc` of `b`, stored row by row: see [`stored_rows`]),
/// all asked for in bursts of [`PREFETCH_ROWS`] stored rows (the last group may reach past the
/// block's rows: hints are never dereferenced), the tile's spread over its `depth` steps. Each
/// stored row counts one line more than its floats in the block fill: a row that does not start
/// a line spans it (where it does, that is the line after the block, often the next block's).
fn prefetch_share(
    b: Operand,
    (p0, j0, kc, nc): (usize, usize, usize, usize),
    (t, tiles): (usize, usize),
    depth: usize,
) -> Prefetch {
    let Some((transposed, ld)) = stored_rows(b) else {
        unreachable!("invariant: a prefetched B is stored row by row")
    };
    // The block in the stored matrix: its first row and column, rows and columns.
    let (r0, c0, rows, cols) = if transposed {
        (j0, p0, nc, kc)
    } else {
        (p0, j0, kc, nc)
    };
    let per_row = cols.div_ceil(16) + 1;
    let total = rows.div_ceil(PREFETCH_ROWS) * per_row;
    let share = total.div_ceil(tiles);
    let first = t * share;
    if first >= total {
        return Prefetch::NONE;
    }
    Prefetch {
        row: b
            .data
            .as_ptr()
            .wrapping_add((r0 + first / per_row * PREFETCH_ROWS) * ld + c0),
        stride: ld,
        width: per_row * 16,
        col: first % per_row * 16,
        bursts: share.min(total - first),
        every: (depth / share).max(1),
    }
}

/// Packs `op(A)[i0..i0+mc, p0..p0+kc]` into panels of `mr` rows: element `(i, p)` of panel `q` at
/// `dst[(q·kc + p)·mr + i]`, padded rows zeroed; a last panel of fewer than `mr` rows is
/// `tail_mr` high instead (see [`tail_tile`]).
fn pack_a(
    dst: &mut [f32],
    a: Operand,
    i0: usize,
    p0: usize,
    (mc, kc): (usize, usize),
    (mr, tail_mr): (usize, usize),
) {
    for (q, panel) in dst.chunks_mut(kc * mr).take(mc.div_ceil(mr)).enumerate() {
        let rows = mr.min(mc - q * mr);
        let width = if rows < mr { tail_mr } else { mr };
        pack_panel(panel, a, i0 + q * mr, p0, rows, kc, width);
    }
}

/// Packs `op(B)[p0..p0+kc, j0..j0+nc]` into panels of `nr` columns: element `(p, j)` of panel
/// `q` at `dst[(q·kc + p)·nr + j]`, padded columns zeroed.
fn pack_b(dst: &mut [f32], b: Operand, p0: usize, j0: usize, kc: usize, nc: usize, nr: usize) {
    let panels = nc.div_ceil(nr);
    if b.cs == 1 {
        pack_b_rows(dst, b, (p0, j0, kc, nc), 0..kc, nr);
        return;
    }
    // A panel of op(B) columns is a panel of op(B)ᵀ rows: the same packing as A, strides swapped.
    let bt = Operand {
        data: b.data,
        rs: b.cs,
        cs: b.rs,
    };
    for (q, panel) in dst.chunks_exact_mut(kc * nr).take(panels).enumerate() {
        let c0 = j0 + q * nr;
        pack_panel(panel, bt, c0, p0, nr.min(nc - q * nr), kc, nr);
    }
}

/// Rows `rows` (of `0..kc`) of [`pack_b`]'s packing of the block `(p0, j0, kc, nc)` of a
/// row-major `B` (`b.cs == 1`): each row of the block streamed once and cut into the panels'
/// rows, the rest of `dst` untouched.
fn pack_b_rows(
    dst: &mut [f32],
    b: Operand,
    block: (usize, usize, usize, usize),
    rows: Range<usize>,
    nr: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if super::allowed(super::Isa::Avx512) {
        // SAFETY: the CPU has AVX-512F (checked).
        unsafe { avx512::cut_rows(dst, b, block, rows, nr) };
        return;
    }
    cut_rows(dst, b, block, rows, nr);
}

/// The code of [`pack_b_rows`].
#[inline(always)]
fn cut_rows(
    dst: &mut [f32],
    b: Operand,
    (p0, j0, kc, nc): (usize, usize, usize, usize),
    rows: Range<usize>,
    nr: usize,
) {
    for p in rows {
        let start = (p0 + p) * b.rs + j0;
        let row = &b.data[start..start + nc];
        for (q, chunk) in row.chunks(nr).enumerate() {
            let d = &mut dst[(q * kc + p) * nr..(q * kc + p + 1) * nr];
            copy_run(&mut d[..chunk.len()], chunk);
            if chunk.len() < nr {
                // (Guarded: an empty `fill` is still a `memset` call, one per run.)
                d[chunk.len()..].fill(0.0);
            }
        }
    }
}

/// [`cut_rows`] compiled for AVX-512: its runs of 32 values move as two 64-byte registers
/// instead of eight 16-byte ones (the bench's GEMM table, 10 alternated rounds twice: ImageNet
/// conv1 1.045×, 1.044×, CIFAR conv2–4 1.02–1.07×; bench/NOTES.md section 57).
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::Operand;
    use std::ops::Range;

    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn cut_rows(
        dst: &mut [f32],
        b: Operand,
        block: (usize, usize, usize, usize),
        rows: Range<usize>,
        nr: usize,
    ) {
        super::cut_rows(dst, b, block, rows, nr);
    }
}

/// `dst.copy_from_slice(src)` for the short runs of packing (one panel row of at most 32
/// values): the full-panel widths are fixed-size moves, inline, instead of one `memcpy` call per
/// run (which showed as 8% of an AlexNet training step).
#[inline(always)]
fn copy_run(dst: &mut [f32], src: &[f32]) {
    /// Copies exactly `N` values.
    fn exact<const N: usize>(dst: &mut [f32], src: &[f32]) {
        let (Some(d), Some(s)) = (dst.first_chunk_mut::<N>(), src.first_chunk::<N>()) else {
            unreachable!("invariant: called with exactly N values")
        };
        *d = *s;
    }
    match src.len() {
        32 => exact::<32>(dst, src),
        16 => exact::<16>(dst, src),
        14 => exact::<14>(dst, src),
        12 => exact::<12>(dst, src),
        8 => exact::<8>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// Writes `x[r0 + i, p0 + p]` (for `i < rows`, `p < kc`) to `panel[p·width + i]`, zero for
/// `rows ≤ i < width`.
///
/// # Panics
/// If the block is not inside `x.data` or `panel` is shorter than `kc·width`.
fn pack_panel(
    panel: &mut [f32],
    x: Operand,
    r0: usize,
    p0: usize,
    rows: usize,
    kc: usize,
    width: usize,
) {
    let panel = &mut panel[..kc * width];
    if x.rs == 1 {
        // Each depth step is a contiguous run of `rows` values.
        for (p, d) in panel.chunks_exact_mut(width).enumerate() {
            let start = (p0 + p) * x.cs + r0;
            copy_run(&mut d[..rows], &x.data[start..start + rows]);
            if rows < width {
                d[rows..].fill(0.0);
            }
        }
        return;
    }
    // Rows contiguous along the depth (a row-major `A`, a transposed `B`): every operand has
    // one unit stride (see `strides`), so this is the other case.
    assert_eq!(
        x.cs, 1,
        "invariant: an operand is contiguous along one axis"
    );
    transpose::pack_rows(panel, x.data, x.rs, (r0, p0), (rows, kc), width);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1] (a cheap hash, so no two operands look alike).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        (0..n as u64)
            .map(|i| {
                let h =
                    (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed.wrapping_mul(0xBF58_476D);
                ((h >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    struct Case {
        ta: Trans,
        tb: Trans,
        m: usize,
        n: usize,
        k: usize,
        /// Extra elements at the end of each stored row (leading dimension above the minimum).
        pad: usize,
        alpha: f32,
        beta: f32,
    }

    /// Runs one case on `kernel` and compares it with an f64 product.
    fn check(kernel: Kernel, t: &Case) {
        check_on(kernel.name(), t, &mut |t, a, lda, b, ldb, c, ldc| {
            gemm_with(
                kernel, t.ta, t.tb, t.m, t.n, t.k, t.alpha, a, lda, b, ldb, t.beta, c, ldc,
            )
        });
    }

    /// The signature of a GEMM under test: case, `a`, `lda`, `b`, `ldb`, `c`, `ldc`.
    type Run<'r> = dyn FnMut(&Case, &[f32], usize, &[f32], usize, &mut [f32], usize) + 'r;

    /// Runs one case with `run` and compares it with an f64 product, element by element, with
    /// a tolerance relative to the sum of the magnitudes of the terms.
    fn check_on(name: &str, t: &Case, run: &mut Run) {
        let (a_rows, a_cols) = if t.ta == Trans::N {
            (t.m, t.k)
        } else {
            (t.k, t.m)
        };
        let (b_rows, b_cols) = if t.tb == Trans::N {
            (t.k, t.n)
        } else {
            (t.n, t.k)
        };
        let (lda, ldb, ldc) = (a_cols + t.pad, b_cols + t.pad, t.n + t.pad);
        let a = values(a_rows * lda, 1);
        let b = values(b_rows * ldb, 2);
        let c0 = values(t.m * ldc, 3);
        let at = |i: usize, p: usize| match t.ta {
            Trans::N => a[i * lda + p],
            Trans::T => a[p * lda + i],
        } as f64;
        let bt = |p: usize, j: usize| match t.tb {
            Trans::N => b[p * ldb + j],
            Trans::T => b[j * ldb + p],
        } as f64;
        let mut c = if t.beta == 0.0 {
            vec![f32::NAN; c0.len()]
        } else {
            c0.clone()
        };
        run(t, &a, lda, &b, ldb, &mut c, ldc);
        let (m, n, k, ta, tb) = (t.m, t.n, t.k, t.ta, t.tb);
        for i in 0..t.m {
            for j in 0..t.n {
                let (mut dot, mut mag) = (0.0f64, 0.0f64);
                for p in 0..t.k {
                    dot += at(i, p) * bt(p, j);
                    mag += (at(i, p) * bt(p, j)).abs();
                }
                let old = if t.beta == 0.0 {
                    0.0
                } else {
                    t.beta as f64 * c0[i * ldc + j] as f64
                };
                let want = t.alpha as f64 * dot + old;
                let tol = 1e-6 * (1.0 + t.alpha.abs() as f64 * mag + old.abs()) * 4.0;
                let got = c[i * ldc + j] as f64;
                assert!(
                    (got - want).abs() <= tol,
                    "{name} {ta:?}{tb:?} m={m} n={n} k={k}: C[{i},{j}] = {got}, want {want}"
                );
            }
            // The padding after each row of C is never written.
            for j in t.n..ldc {
                let got = c[i * ldc + j];
                assert!(
                    got.to_bits() == c0[i * ldc + j].to_bits() || (t.beta == 0.0 && got.is_nan()),
                    "{name}: padding C[{i},{j}] overwritten"
                );
            }
        }
    }

    const TRANS: [(Trans, Trans); 4] = [
        (Trans::N, Trans::N),
        (Trans::N, Trans::T),
        (Trans::T, Trans::N),
        (Trans::T, Trans::T),
    ];

    #[test]
    fn every_kernel_matches_an_f64_product_on_edge_shapes() {
        let sizes = [1, 2, 5, 13, 17, 33];
        for kernel in Kernel::available() {
            for (ta, tb) in TRANS {
                for &m in &sizes {
                    for &n in &sizes {
                        for &k in &[1, 3, 16, 31] {
                            for (pad, alpha, beta) in [(0, 1.0, 0.0), (3, -0.5, 1.0)] {
                                let case = Case {
                                    ta,
                                    tb,
                                    m,
                                    n,
                                    k,
                                    pad,
                                    alpha,
                                    beta,
                                };
                                check(kernel, &case);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn every_kernel_handles_the_tile_heights_and_widths() {
        // Each height a kernel may choose (4, 6, 8, 10, 12, 14 rows and their neighbours), widths
        // around 8, 16 and 32 columns, with B row-major (read in place for small m) and transposed.
        for kernel in Kernel::available() {
            for m in [3, 4, 6, 7, 8, 10, 12, 14, 15, 16, 24, 28, 29] {
                for n in [7, 8, 9, 15, 16, 31, 32, 40, 64, 65] {
                    for tb in [Trans::N, Trans::T] {
                        let case = Case {
                            ta: Trans::N,
                            tb,
                            m,
                            n,
                            k: 9,
                            pad: 1,
                            alpha: 1.0,
                            beta: 0.5,
                        };
                        check(kernel, &case);
                    }
                }
            }
        }
    }

    #[test]
    fn every_kernel_crosses_its_block_boundaries() {
        // k > KC (several depth blocks: later ones accumulate), m > MC (several A blocks),
        // n > block_cols (several B blocks), with B packed and read in place; a B read in place
        // past B_BLOCK floats (depth blocks of DIRECT_KC) under two bands of rows, the last one
        // partial, and under one partial band of A read in place (n ≤ A_IN_PLACE_PANELS·NR).
        for kernel in Kernel::available() {
            for (ta, tb) in TRANS {
                for (m, n, k) in [
                    (3, 20, 2 * KC + 5),
                    (MC + 9, 35, 7),
                    (5, block_cols(KC, B_BLOCK) + 37, KC),
                    (40, block_cols(KC, B_BLOCK) + 1, KC + 3),
                    (19, 2100, 131),
                    (13, 100, B_BLOCK / 100 + 7),
                ] {
                    for beta in [0.0, 1.0] {
                        let case = Case {
                            ta,
                            tb,
                            m,
                            n,
                            k,
                            pad: 2,
                            alpha: 1.5,
                            beta,
                        };
                        check(kernel, &case);
                    }
                }
            }
        }
    }

    #[test]
    fn every_kernel_matches_with_the_next_b_block_prefetched() {
        // A B of PREFETCH_MIN_B floats or more, row-major or transposed, under one block of rows
        // of A, or under more rows than a block (A packed whole): B blocks of PREFETCH_B_BLOCK
        // floats (several column blocks, the last one partial, each of two depth blocks) whose
        // tiles ask for the next block; more than two bands of rows (fewer read B in place), the
        // last one partial. Only the kernels with a prefetching variant (AVX-512) take that path.
        let k = KC + 20;
        let n = PREFETCH_MIN_B / k + 45;
        let prefetches =
            |kernel: &Kernel| candidates(*kernel).is_some_and(|c| c[0].prefetching.is_some());
        for kernel in Kernel::available().filter(prefetches) {
            for (ta, tb, m, beta) in [
                (Trans::N, Trans::N, 40, 0.0),
                (Trans::T, Trans::N, 37, 1.0),
                (Trans::N, Trans::N, MC + 5, 1.0),
                (Trans::N, Trans::T, 40, 1.0),
                (Trans::T, Trans::T, MC + 5, 0.0),
            ] {
                let case = Case {
                    ta,
                    tb,
                    m,
                    n,
                    k,
                    pad: 2,
                    alpha: 1.5,
                    beta,
                };
                check(kernel, &case);
            }
        }
    }

    #[test]
    fn the_tiles_shares_ask_for_every_line_of_the_next_block_once() {
        // Stored rows of 100 floats. Row-major, the block's rows 3..8, columns 21..61 (one line
        // more than its 40 floats fill, per row); transposed, rows 3..43 and columns 21..26 of
        // op(B) are stored rows 21..26, columns 3..43. Shared among 3 tiles of 50 depth steps
        // (the second one's share runs on into the next group of rows).
        let b = vec![0.0f32; 10_000];
        for (strides, (p0, j0, kc, nc), (r0, c0, rows)) in [
            ((100, 1), (3, 21, 5, 40), (3, 21, 5usize)),
            ((1, 100), (3, 21, 40, 5), (21, 3, 5)),
        ] {
            let op = Operand::new(&b, strides);
            let mut asked = Vec::new();
            for t in 0..3 {
                let mut lines = prefetch_share(op, (p0, j0, kc, nc), (t, 3), 50);
                assert!(lines.bursts == 0 || lines.bursts * lines.every <= 50);
                while lines.bursts > 0 {
                    let line = (lines.step() as usize - b.as_ptr() as usize) / 4;
                    asked.extend((0..PREFETCH_ROWS).map(|r| line + r * 100));
                }
            }
            // Whole groups of rows (5 rows ask for 8 in groups of 4), each line once.
            asked.sort_unstable();
            let want: Vec<usize> = (r0..r0 + rows.next_multiple_of(PREFETCH_ROWS))
                .flat_map(|r| (0..4).map(move |l| r * 100 + c0 + 16 * l))
                .collect();
            assert_eq!(asked, want, "strides {strides:?}");
        }
    }

    /// The tile candidates of every instruction set this CPU has, by name.
    fn candidate_sets() -> Vec<(&'static str, &'static [Candidate])> {
        let mut sets: Vec<(&str, &[Candidate])> = vec![("portable", &PORTABLE)];
        #[cfg(target_arch = "x86_64")]
        {
            if Kernel::avx512().is_some() {
                sets.push(("avx512", &AVX512));
            }
            if Kernel::avx2_fma().is_some() {
                sets.push(("avx2+fma", &AVX2));
            }
        }
        sets
    }

    /// The plan of every tile candidate of every instruction set this CPU has, named
    /// `"<set> <MR>×<NR>"`.
    fn candidate_plans() -> impl Iterator<Item = (String, Plan)> {
        candidate_sets().into_iter().flat_map(|(set, candidates)| {
            candidates
                .iter()
                .map(move |c| (format!("{set} {}×{}", c.mr, c.nr), Plan::new(c, candidates)))
        })
    }

    /// A [`Run`] through `plan` (a candidate of a set detected on this CPU), whatever
    /// `pick_tile` would choose.
    fn forced(plan: Plan) -> Box<Run<'static>> {
        Box::new(move |t, a, lda, b, ldb, c, ldc| {
            let a = Operand::new(a, strides(t.ta, lda));
            let b = Operand::new(b, strides(t.tb, ldb));
            let c = c.as_mut_ptr();
            PACKS.with(|p| {
                let packs = &mut p.borrow_mut();
                // SAFETY: `check_on` sized a, b and c for the case; c is borrowed mutably; the
                // candidate set was detected on this CPU (caller contract).
                unsafe {
                    plan.run(
                        t.m,
                        t.n,
                        t.k,
                        t.alpha,
                        a,
                        Source::Matrix(b),
                        t.beta,
                        c,
                        ldc,
                        packs,
                    )
                }
            });
        })
    }

    #[test]
    fn every_candidate_matches_with_b_read_in_place_band_by_band() {
        // A row-major B of at most B_BLOCK floats whose rows start cache lines (a 64-byte
        // aligned copy, rows a multiple of 16 floats apart) under 3 to IN_PLACE_MAX_BANDS bands:
        // read in place, band by band, but for its last partial panel; one and two depth blocks,
        // a partial last band, more rows than a block of rows (MC).
        for (name, plan) in candidate_plans() {
            let (mr, nr) = (plan.mr, plan.nr);
            let n = 3 * nr + 5;
            for (ta, m, k, beta) in [
                (Trans::N, 5 * mr + 3, 27, 1.0),
                (Trans::T, IN_PLACE_MAX_BANDS * mr, 300, 0.0),
            ] {
                let case = Case {
                    ta,
                    tb: Trans::N,
                    m,
                    n,
                    k,
                    pad: (16 - n % 16) % 16,
                    alpha: 0.75,
                    beta,
                };
                let mut run = forced(plan);
                check_on(&name, &case, &mut |t, a, lda, b, ldb, c, ldc| {
                    run(t, a, lda, &AlignedVec::from_slice(b), ldb, c, ldc)
                });
            }
        }
    }

    #[test]
    fn every_micro_kernel_candidate_matches_an_f64_product() {
        // Force each tile shape of each detected instruction set through the packed path (with
        // B packed and, for row-major B, read in place; with a row-major A and n ≤ NR, A read in
        // place but for a last partial panel), whatever `pick_tile` would choose.
        for (name, plan) in candidate_plans() {
            let (mr, nr) = (plan.mr, plan.nr);
            for (ta, tb) in TRANS {
                for (m, n, k) in [
                    (1, 1, 1),
                    (mr, nr, 7),
                    (2 * mr + 1, nr - 1, 300),
                    (2 * mr + 1, 3 * nr - 1, 70),
                ] {
                    let case = Case {
                        ta,
                        tb,
                        m,
                        n,
                        k,
                        pad: 1,
                        alpha: 0.75,
                        beta: 1.0,
                    };
                    check_on(&name, &case, &mut *forced(plan));
                }
            }
        }
    }

    #[test]
    fn the_dot_product_path_matches_an_f64_product() {
        // A·Bᵀ with long k runs as dot products on AVX-512: ragged 4 × 4 tiles, k not a multiple
        // of 16, and k over one depth block (later blocks accumulate).
        let Some(kernel) = Kernel::avx512() else {
            return;
        };
        for (m, n, k) in [
            (1, 1, 64),
            (5, 7, 100),
            (3, 9, DOT_KC + 37),
            (6, 75, 2 * DOT_KC),
        ] {
            assert!(use_dot(m, n, k));
            for beta in [0.0, 1.0] {
                let case = Case {
                    ta: Trans::N,
                    tb: Trans::T,
                    m,
                    n,
                    k,
                    pad: 5,
                    alpha: -1.25,
                    beta,
                };
                check(kernel, &case);
            }
        }
    }

    #[test]
    fn products_with_a_batch_column_matrix_equal_those_with_the_stored_matrix() {
        use crate::kernels::im2col::{BatchColumns, ConvGeom, im2col};
        use crate::shape::Pad;
        // (channels, height, width, kernel, stride, padding, batch): padding read or not, strides
        // 1 to 4, output rows that cross the 32-column panels, depths past one `KC` block, and
        // a batch wider than one packed B block (576 rows: kc = 192, 1344 columns a block).
        for (ch, h, w, k, s, pad, batch) in [
            (1, 3, 3, 2, 1, Pad::Explicit(1), 2),
            (2, 10, 10, 3, 2, Pad::Explicit(1), 3),
            (3, 13, 13, 5, 4, Pad::Same, 2),
            (2, 6, 7, 2, 1, Pad::Same, 3),
            (1, 7, 5, 3, 3, Pad::Explicit(2), 4),
            (2, 9, 9, 3, 2, Pad::Valid, 2),
            (4, 27, 27, 5, 1, Pad::Explicit(2), 2),
            (64, 8, 8, 3, 1, Pad::Explicit(1), 24),
            (7, 4, 4, 3, 1, Pad::Explicit(1), 5),
        ] {
            let g = ConvGeom::new(ch, h, w, k, s, pad).expect("test geometry fits");
            let (rows, n) = (g.rows(), batch * g.pixels());
            let x = values(batch * g.input_size(), 4);
            let mut stored = vec![0.0; rows * n];
            for (i, xs) in x.chunks_exact(g.input_size()).enumerate() {
                im2col(&g, xs, &mut stored, n, i * g.pixels());
            }
            let mut scratch = AlignedVec::from_slice(&[f32::NAN; 3]);
            let cols = BatchColumns::new(&g, &x, &mut scratch);
            assert_eq!((cols.rows(), cols.cols()), (rows, n));
            for m in [1, 5, 14, 33] {
                let a = values(m * rows, 5);
                let c0 = values(m * n, 6);
                for threads in [1, 3] {
                    let mut want = c0.clone();
                    gemm_threaded(
                        Kernel::best(),
                        threads,
                        Trans::N,
                        Trans::N,
                        m,
                        n,
                        rows,
                        0.5,
                        &a,
                        rows,
                        &stored,
                        n,
                        0.25,
                        &mut want,
                        n,
                    );
                    let mut got = c0.clone();
                    gemm_im2col_threaded(threads, m, 0.5, &a, rows, &cols, 0.25, &mut got, n);
                    // The same bits, except where the stored matrix is read in place in
                    // shallower depth blocks (DIRECT_KC), which sum in another order.
                    let tol = if rows * n > B_BLOCK {
                        1e-6 * rows as f32
                    } else {
                        0.0
                    };
                    assert!(
                        got.iter().zip(&want).all(|(x, y)| (x - y).abs() <= tol),
                        "{g:?}, batch {batch}, m {m}, {threads} threads"
                    );
                }
            }
        }
    }

    #[test]
    fn the_transposed_path_matches_an_f64_product() {
        // `A·Bᵀ` as `(B·Aᵀ)ᵀ`, forced on each instruction set's tile for the swapped product
        // (the models' shapes are too large for an unoptimised test build): ragged tiles, depth
        // past one STREAM_KC block, rows of B past STREAM_MC, 1 and 3 threads, beta = 0 and 1.
        assert!(use_transposed(32, 4096, 4096) && !use_transposed(15, 4096, 4096));
        for (set, candidates) in candidate_sets() {
            for (m, n, k) in [
                (5, 3, 9),
                (17, 70, STREAM_KC + 37),
                (40, 2 * STREAM_MC + 5, 30),
            ] {
                let path = Path::Transposed(pick_streaming_tile(candidates, n, m));
                for (threads, beta) in [(1, 0.0), (3, 1.0)] {
                    let case = Case {
                        ta: Trans::N,
                        tb: Trans::T,
                        m,
                        n,
                        k,
                        pad: 3,
                        alpha: 0.75,
                        beta,
                    };
                    let name = format!("{set} {m}×{n}×{k} threads={threads}");
                    check_on(&name, &case, &mut |t, a, lda, b, ldb, c, ldc| {
                        let a = Operand::new(a, strides(t.ta, lda));
                        let b = Source::Matrix(Operand::new(b, strides(t.tb, ldb)));
                        let mnk = (t.m, t.n, t.k);
                        run_blocks(path, threads, mnk, t.alpha, a, b, t.beta, c, ldc);
                    });
                }
            }
        }
    }

    #[test]
    fn every_kernel_handles_empty_dimensions() {
        for kernel in Kernel::available() {
            // k = 0: C = beta·C, and beta = 0 must not read C.
            let mut c = [f32::NAN; 6];
            gemm_with(
                kernel,
                Trans::N,
                Trans::N,
                2,
                3,
                0,
                1.0,
                &[],
                1,
                &[],
                3,
                0.0,
                &mut c,
                3,
            );
            assert_eq!(c, [0.0; 6], "{}", kernel.name());
            let mut c = [2.0; 6];
            gemm_with(
                kernel,
                Trans::N,
                Trans::N,
                2,
                3,
                0,
                1.0,
                &[],
                1,
                &[],
                3,
                0.5,
                &mut c,
                3,
            );
            assert_eq!(c, [1.0; 6], "{}", kernel.name());
            // m = 0 or n = 0: nothing is touched.
            let mut c = [7.0; 2];
            gemm_with(
                kernel,
                Trans::N,
                Trans::N,
                0,
                2,
                3,
                1.0,
                &[],
                3,
                &[0.0; 6],
                2,
                0.0,
                &mut c,
                2,
            );
            gemm_with(
                kernel,
                Trans::N,
                Trans::N,
                2,
                0,
                3,
                1.0,
                &[0.0; 6],
                3,
                &[],
                1,
                0.0,
                &mut c,
                1,
            );
            assert_eq!(c, [7.0; 2]);
        }
    }

    #[test]
    fn the_model_shapes_match_an_f64_product_on_the_best_kernel() {
        // One case per transpose pattern used by Dense and Conv2d (forward, weight and input
        // gradients), at the models' sizes but a smaller batch to keep the reference cheap.
        for (ta, tb, m, n, k) in [
            (Trans::N, Trans::T, 10, 128, 784), // Dense forward x·Wᵀ
            (Trans::T, Trans::N, 128, 78, 10),  // Dense weight gradient dYᵀ·X
            (Trans::N, Trans::N, 10, 784, 128), // Dense input gradient dY·W
            (Trans::N, Trans::N, 6, 1568, 75),  // Conv2d forward W·col (B read in place)
            (Trans::N, Trans::T, 16, 150, 200), // Conv2d weight gradient dY·colᵀ
            (Trans::T, Trans::N, 150, 200, 16), // Conv2d input gradient Wᵀ·dY
        ] {
            let case = Case {
                ta,
                tb,
                m,
                n,
                k,
                pad: 0,
                alpha: 1.0,
                beta: 0.0,
            };
            check(Kernel::best(), &case);
        }
    }

    #[test]
    fn threaded_products_are_bit_identical_to_one_thread() {
        // Column and row splits, ragged last tiles, fewer tiles than threads, the dot-product
        // path, B read in place, several depth blocks, beta = 0 and 1, on every own kernel.
        use Trans::{N, T};
        for kernel in Kernel::available().filter(|&k| k != Kernel::MATRIXMULTIPLY) {
            for (ta, tb, m, n, k) in [
                (N, N, 6, 1000, 75),   // split by columns, B read in place (m ≤ 2 panels)
                (N, N, 37, 530, 300),  // by columns, packed B, two depth blocks
                (T, N, 300, 45, 20),   // by rows
                (N, T, 20, 300, 200),  // dot products on AVX-512, by columns
                (N, T, 170, 90, 100),  // dot products, by rows
                (T, T, 33, 41, 600),   // by columns, ragged tiles
                (N, N, 3, 5, 7),       // one tile: runs on one thread
                (N, N, MC + 20, 9, 5), // by rows across an MC block boundary
            ] {
                let (lda, ldb) = (if ta == N { k } else { m }, if tb == N { n } else { k });
                let a = values(m * k, 4);
                let b = values(k * n, 5);
                for beta in [0.0, 1.0] {
                    let c0 = values(m * n, 6);
                    let mut one = c0.clone();
                    gemm_with(
                        kernel, ta, tb, m, n, k, 0.5, &a, lda, &b, ldb, beta, &mut one, n,
                    );
                    for threads in [2, 3, 4, 7] {
                        let mut par = c0.clone();
                        gemm_threaded(
                            kernel, threads, ta, tb, m, n, k, 0.5, &a, lda, &b, ldb, beta,
                            &mut par, n,
                        );
                        let same = one
                            .iter()
                            .zip(&par)
                            .all(|(x, y)| x.to_bits() == y.to_bits());
                        assert!(
                            same,
                            "{} {ta:?}{tb:?} {m}×{n}×{k} beta={beta} threads={threads}",
                            kernel.name()
                        );
                    }
                }
            }
        }
    }

    /// `0.5 · A·op(B) + 0.25 · C` through `packed(threads, c)` and through [`gemm_threaded`] on
    /// the unpacked `B` (`k × n` for `Trans::N`, `n × k` for `Trans::T`), at 1 and 2 threads: the
    /// same bits.
    fn same_bits_as_gemm(
        tb: Trans,
        (m, n, k): (usize, usize, usize),
        (a, b): (&[f32], &[f32]),
        packed: impl Fn(usize, &mut [f32]),
    ) {
        let c0 = values(m * n, 3);
        let ldb = if tb == Trans::N { n } else { k };
        for threads in [1, 2] {
            let (mut c, mut want) = (c0.clone(), c0.clone());
            packed(threads, &mut c);
            let (alpha, beta, kernel) = (0.5, 0.25, Kernel::best());
            gemm_threaded(
                kernel,
                threads,
                Trans::N,
                tb,
                m,
                n,
                k,
                alpha,
                a,
                k,
                b,
                ldb,
                beta,
                &mut want,
                n,
            );
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&c), bits(&want), "{m}×{n}×{k}, {threads} threads");
        }
    }

    #[test]
    fn prepacked_a_gives_the_bits_of_gemm_at_one_and_two_threads_in_every_panel_height() {
        // A partial last panel, several depth blocks (k > KC), several column blocks, beta ≠ 0;
        // the best panel height for the shape and every other one the CPU's tiles have.
        let tiles = best_candidates();
        for (m, n, k) in [(5, 3, 4), (37, 70, 600), (100, 130, 50), (43, 1100, 513)] {
            let (a, b) = (values(m * k, 1), values(k * n, 2));
            let best = packed_a_rows(m, n);
            assert!(tiles.iter().any(|c| c.mr == best));
            for mr in tiles.iter().map(|c| c.mr) {
                let mut pa = vec![f32::NAN; packed_len(m, k, mr)];
                pack_a_panels(m, k, &a, k, mr, &mut pa);
                same_bits_as_gemm(Trans::N, (m, n, k), (&a, &b), |threads, c| {
                    gemm_packed_a_threaded(threads, m, n, k, 0.5, (&pa, mr), &b, n, 0.25, c, n)
                });
            }
        }
    }

    #[test]
    #[should_panic(expected = "gemm: no kernel tile of 5 rows")]
    fn prepacked_a_of_a_height_no_tile_has_is_refused() {
        let pa = vec![0.0; packed_len(8, 4, 5)];
        let mut c = vec![0.0; 8 * 3];
        gemm_packed_a(8, 3, 4, 1.0, (&pa, 5), &[0.0; 12], 3, 0.0, &mut c, 3);
    }

    #[test]
    fn prepacked_weights_give_the_bits_of_gemm_at_one_and_two_threads() {
        // The Dense forwards of the MLPs and LeNet, a partial last panel, several depth blocks
        // and column blocks, beta ≠ 0; products gemm runs otherwise have no panel width.
        assert_eq!(packed_weights_cols(32, 4096, 4096), None);
        for (m, n, k) in [
            (100, 128, 784),
            (32, 128, 64),
            (32, 120, 400),
            (50, 1030, 600),
        ] {
            let (x, w) = (values(m * k, 4), values(n * k, 5));
            let nr = packed_weights_cols(m, n, k).expect("a packed product");
            let mut pw = vec![f32::NAN; packed_len(n, k, nr)];
            pack_weights(n, k, &w, k, nr, &mut pw);
            same_bits_as_gemm(Trans::T, (m, n, k), (&x, &w), |threads, c| {
                gemm_packed_weights_threaded(threads, m, n, k, 0.5, &x, k, &pw, 0.25, c, n)
            });
        }
    }

    #[test]
    fn split_blocks_are_whole_tiles_covering_c_once() {
        for (m, n, tile, threads) in [
            (6, 1000, (6, 32), 3),
            (300, 45, (14, 32), 4),
            (5, 7, (4, 8), 4),
            (100, 100, (4, 16), 64),
        ] {
            let split = Split::new(n >= m, m, n, tile, threads);
            let units = if n >= m {
                n.div_ceil(tile.1)
            } else {
                m.div_ceil(tile.0)
            };
            assert_eq!(split.parts, threads.min(units));
            let mut covered = vec![0u8; m * n];
            for part in 0..split.parts {
                let (rows, cols) = split.block(part);
                assert!(!rows.is_empty() && !cols.is_empty());
                assert_eq!(rows.start % tile.0 + cols.start % tile.1, 0);
                for i in rows {
                    for j in cols.clone() {
                        covered[i * n + j] += 1;
                    }
                }
            }
            assert!(covered.iter().all(|&c| c == 1), "{m}×{n} tile {tile:?}");
        }
    }

    #[test]
    fn best_is_the_widest_detected_kernel() {
        let want = Kernel::avx512()
            .or_else(Kernel::avx2_fma)
            .unwrap_or(Kernel::PORTABLE);
        assert_eq!(Kernel::best(), want);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            Kernel::avx512().is_some(),
            std::arch::is_x86_feature_detected!("avx512f")
        );
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

    #[test]
    #[should_panic(expected = "leading dimension too small")]
    fn short_leading_dimensions_are_rejected() {
        let mut c = [0.0; 4];
        gemm(
            Trans::T,
            Trans::N,
            2,
            2,
            2,
            1.0,
            &[0.0; 4],
            1,
            &[0.0; 4],
            2,
            0.0,
            &mut c,
            2,
        );
    }
}
