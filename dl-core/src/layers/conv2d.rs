//! 2-D convolution, lowered to GEMM through `im2col` (the forward pass without storing the matrix).

use crate::init::{Init, uniform};
use crate::kernels::aligned::AlignedVec;
use crate::kernels::conv_direct;
use crate::kernels::gemm::{Trans, gemm, gemm_im2col};
use crate::kernels::im2col::{BatchColumns, ConvGeom, col2im};
use crate::kernels::{BATCH_PARTS, lane_sum, run_batch_parts, winograd};
use crate::layers::{Layer, Mode};
use crate::param::{Derived, Param, ParamName, Parameters};
use crate::shape;
use crate::tensor::{Act, Chw};
use rand::Rng;
use std::cell::RefCell;
use std::fmt;

/// 2-D convolution `Conv2d<IN_C, OUT_C, K, S, P>`: `IN_C → OUT_C` channels, square `K×K` kernel,
/// stride `S`, padding `P`.
///
/// `y[n, o, i, j] = b[o] + Σ_{c, u, v} W[o, c, u, v] · x[n, c, S·i + u − pad_top, S·j + v − pad_left]`
/// (cross-correlation, as in PyTorch), with zeros outside the input.
///
/// - Padding `P` is encoded as in [`crate::shape`]: `0` = none (`"valid"`),
///   [`shape::PAD_SAME`] = Keras `"same"` (`ceil(H/S)` outputs, the odd pixel of padding at the
///   bottom/right, per axis), any other `p` = `p` zeros on every side.
/// - Shape rule: `[IN_C, H, W] → [OUT_C, OH, OW]` with `OH = floor((H + pad_top + pad_bottom − K)/S) + 1`
///   ([`shape::window_out`]), likewise `OW`; checked at compile time.
/// - Parameters: `weight` `[OUT_C, IN_C, K, K]` and `bias` `[OUT_C]`, `OUT_C·IN_C·K·K + OUT_C` values.
/// - PyTorch: `nn.Conv2d(IN_C, OUT_C, K, stride=S, padding=P)` with the same names, layout and
///   default initialisation (Kaiming-uniform with a = √5, bias `U(±1/√fan_in)`,
///   `fan_in = IN_C·K·K`). Keras `"same"` padding has no direct PyTorch equivalent when the total
///   padding is odd (it equals `F.pad` by `(pad_left, pad_right, pad_top, pad_bottom)` then a
///   valid convolution).
/// - Computation: wide stride-1 3 × 3 and 5 × 5 layers on maps of at least 16 pixels run all
///   three directions as Winograd `F(2×2, 3×3)` or `F(2×2, 5×5)` ([`Conv2d::WINOGRAD`]; equal
///   to the sum below up to rounding, about 1e-6 and 1e-5 relative); in [`Mode::Eval`], the
///   3 × 3 layers run `F(4×4, 3×3)` instead (about 1e-5; see [`winograd::Alg::new`] for why
///   training does not), so evaluation and training outputs of such a layer differ in the last
///   bits. Otherwise all three directions are one GEMM each over the batch's `im2col` matrix `col`
///   `[IN_C·K·K, N·OH·OW]`: `Y = W·col`, `dW = dY·colᵀ`, `dcol = Wᵀ·dY` followed by `col2im`. The
///   forward pass never stores `col`: [`gemm_im2col`] packs its panels straight from the
///   (zero-padded) images; the backward pass builds it for the two gradients a few samples at a
///   time, in [`BATCH_PARTS`] parts of the batch on the worker pool, so that each chunk of the
///   matrix (about 256 KiB) stays in L2 from `im2col` to `col2im` (see `backward_chunk`). Layers
///   whose matrix exceeds 1 MiB per sample share their workspaces with each other, one set per
///   thread. Stride-1 layers with at most 8 output channels skip im2col and run the direct kernels
///   of [`conv_direct`] instead ([`Conv2d::DIRECT`]); with at most 16,
///   the forward pass only ([`Conv2d::DIRECT_FORWARD`]).
///
/// ```
/// use dl_core::{Act, Chw, Conv2d, Layer, Mode};
/// use rand::SeedableRng;
/// // One 3×3 input channel, a 2×2 kernel summing the diagonal, bias 0.5.
/// let mut conv = Conv2d::<1, 1, 2>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
/// conv.weight.value_mut().copy_from_slice(&[1.0, 0.0, 0.0, 1.0]);
/// conv.bias.value_mut()[0] = 0.5;
/// let x = Act::<Chw<1, 3, 3>>::from_vec((1..=9).map(|v| v as f32).collect()).unwrap();
/// let mut y = Act::<Chw<1, 2, 2>>::default();
/// conv.forward(&x, &mut y, Mode::Eval);
/// assert_eq!(y.as_slice(), &[6.5, 8.5, 12.5, 14.5]); // 1+5+0.5, 2+6+0.5, …
/// assert_eq!(Conv2d::<3, 6, 5>::PARAMS, 456);
/// ```
///
/// An output type that disagrees with the shape rule does not compile (a 3×3 kernel on 8×8 gives
/// 6×6, not 8×8, without padding):
///
/// ```compile_fail
/// use dl_core::{Act, Chw, Conv2d, Layer, Mode};
/// use rand::SeedableRng;
/// let mut conv = Conv2d::<1, 1, 3>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
/// let x = Act::<Chw<1, 8, 8>>::zeros(1);
/// let mut y = Act::<Chw<1, 8, 8>>::default();
/// conv.forward(&x, &mut y, Mode::Eval);
/// ```
#[derive(Clone)]
pub struct Conv2d<
    const IN_C: usize,
    const OUT_C: usize,
    const K: usize,
    const S: usize = 1,
    const P: usize = 0,
> {
    /// `[OUT_C, IN_C, K, K]`.
    pub weight: Param,
    /// `[OUT_C]`.
    pub bias: Param,
    /// Forward: the zero-padded input (split into stride phases), when the windows read
    /// padding or the stride exceeds 1. Backward: per part of the batch, the column matrix of
    /// a chunk of samples (then its gradient) and the chunk's `dY` as `[OUT_C, chunk·OH·OW]`;
    /// after them, the partial parameter gradients of the parts after the first.
    col: AlignedVec,
    /// Forward: the output before the bias, `[OUT_C, N·OH·OW]`. Backward: the zero-padded
    /// input, as `col` in the forward pass.
    out: AlignedVec,
    /// The Winograd transforms of `weight`, packed for the GEMM ([`winograd::transform_filters`]),
    /// kept between forward passes while the weights, the algorithm and the panel height stay the
    /// same (an evaluation loop transforms and packs them once).
    filters: Derived<(winograd::Alg, usize)>,
}

impl<const IN_C: usize, const OUT_C: usize, const K: usize, const S: usize, const P: usize>
    Conv2d<IN_C, OUT_C, K, S, P>
{
    /// Parameter count.
    pub const PARAMS: usize = shape::conv_params(IN_C, OUT_C, K);

    /// Whether this layer runs the direct kernels of [`conv_direct`] instead of im2col + GEMM:
    /// stride 1 and at most 8 output channels (few output channels fill the GEMM's tile badly
    /// while im2col copies the input `K·K` times; measurements in `bench/NOTES.md`).
    pub const DIRECT: bool = S == 1 && OUT_C <= DIRECT_MAX_OUT_C;

    /// Whether the forward pass runs the direct kernel: stride 1 and at most 16 output channels.
    /// Between 9 and 16 channels the backward pass still goes through im2col + GEMM (it builds
    /// the column matrix the weight gradient needs, which the forward pass then never did):
    /// LeNet-5's second convolution, measurements in `bench/NOTES.md` (sections 9 and 14).
    pub const DIRECT_FORWARD: bool = S == 1 && OUT_C <= DIRECT_FORWARD_MAX_OUT_C;

    /// Whether the forward pass of a stride-1 3 × 3 or 5 × 5 layer with at least 32 input and
    /// output channels may run as Winograd `F(2×2, 3×3)` or `F(2×2, 5×5)` ([`winograd`], 2.25×
    /// and 2.78× fewer multiplications); it does when the output map also has at least 16 pixels
    /// (AlexNet's 3 × 3 layers, ImageNet's 13 × 13 and CIFAR's 8 × 8 and 4 × 4 maps, and
    /// ImageNet's 5 × 5 layer on 27 × 27; measurements in `bench/NOTES.md`, sections 23, 24 and
    /// 36; on a 3 × 3 map a single cropped tile wastes 44% of the products). The input gradient
    /// of such a layer (equal padding of at most `K − 1` on every side) runs through the same
    /// kernel, as the convolution of `dY` with the turned filters, and the weight gradient
    /// through its adjoint ([`winograd::weight_grad`]): no column matrix.
    pub const WINOGRAD: bool =
        winograd::supports(K) && S == 1 && IN_C >= WINOGRAD_MIN_C && OUT_C >= WINOGRAD_MIN_C;

    /// PyTorch's default initialisation.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::with_init(Init::PytorchDefault, rng)
    }

    /// Weights drawn with `init` (`fan_in = IN_C·K·K`, `fan_out = OUT_C·K·K`), bias with PyTorch's
    /// default `U(±1/√fan_in)`.
    pub fn with_init<R: Rng + ?Sized>(init: Init, rng: &mut R) -> Self {
        let fan_in = IN_C * K * K;
        let mut w = vec![0.0; OUT_C * fan_in];
        init.fill(&mut w, fan_in, OUT_C * K * K, rng);
        let mut b = vec![0.0; OUT_C];
        uniform(&mut b, 1.0 / (fan_in.max(1) as f32).sqrt(), rng);
        Conv2d {
            weight: Param::trainable(&[OUT_C, IN_C, K, K], w),
            bias: Param::trainable(&[OUT_C], b),
            col: AlignedVec::new(),
            out: AlignedVec::new(),
            filters: Derived::default(),
        }
    }

    /// The im2col geometry for an `H×W` input.
    fn geom(h: usize, w: usize) -> ConvGeom {
        ConvGeom::new(IN_C, h, w, K, S, shape::pad_from_const(P))
            .expect("invariant: the output size was checked at compile time")
    }

    /// The forward pass of the batch `x` into `y` through [`gemm_im2col`], then the bias.
    fn forward_gemm(&mut self, g: &ConvGeom, x: &[f32], y: &mut [f32]) {
        let (rows, p) = (g.rows(), g.pixels());
        let cols = BatchColumns::new(g, x, &mut self.col);
        let np = cols.cols();
        self.out.at_least(OUT_C * np);
        gemm_im2col(
            OUT_C,
            1.0,
            self.weight.value(),
            rows,
            &cols,
            0.0,
            &mut self.out,
            np,
        );
        // [OUT_C, n·P] → [n, OUT_C, P], adding the bias on the way.
        for (i, ys) in y.chunks_exact_mut(OUT_C * p).enumerate() {
            for ((dst, src), b) in ys
                .chunks_exact_mut(p)
                .zip(self.out.chunks_exact(np))
                .zip(self.bias.value())
            {
                for (d, s) in dst.iter_mut().zip(&src[i * p..(i + 1) * p]) {
                    *d = s + b;
                }
            }
        }
    }
}

impl<const IN_C: usize, const OUT_C: usize, const K: usize, const S: usize, const P: usize>
    Conv2d<IN_C, OUT_C, K, S, P>
{
    /// Whether the forward pass on the geometry `g` runs as Winograd: a [`Conv2d::WINOGRAD`] layer
    /// with at least [`WINOGRAD_MIN_PIXELS`] output pixels.
    fn uses_winograd(g: &ConvGeom) -> bool {
        Self::WINOGRAD && g.pixels() >= WINOGRAD_MIN_PIXELS
    }

    /// The forward pass of the batch `x` into `y` through [`winograd::forward`], with the filter
    /// transforms of the last call when the weights and the algorithm have not changed since.
    /// Evaluation passes of 3 × 3 layers use large tiles (`F(4×4, 3×3)`, see
    /// [`winograd::Alg::new`]): their filter transforms are kept across an evaluation loop,
    /// while a training step needs new ones every step.
    fn forward_winograd(&mut self, g: &ConvGeom, n: usize, x: &[f32], y: &mut [f32], mode: Mode) {
        let alg = winograd::Alg::new(g, mode == Mode::Eval);
        let (cl, ol) = winograd::workspace(g, alg, OUT_C, n);
        self.col.at_least(cl);
        self.out.at_least(ol);
        let mr = winograd::filter_rows(g, alg, OUT_C, n);
        let len = winograd::filters_len(alg, IN_C, OUT_C, mr);
        let u = self.filters.get(&self.weight, (alg, mr), len, |w, u| {
            winograd::transform_filters(alg, IN_C, OUT_C, mr, w, u)
        });
        let b = self.bias.value();
        winograd::forward(g, alg, OUT_C, n, x, u, b, y, &mut self.col, &mut self.out);
    }

    /// The geometry of the input gradient as a convolution, when it runs as Winograd: for a
    /// layer whose forward pass does ([`Conv2d::uses_winograd`]) with the same padding
    /// `p ≤ K − 1` on every side, `dX` is the stride-1 `K × K` convolution of `dY` (`OUT_C`
    /// channels, `OH × OW`) with the filters transposed and turned by 180°, padded by
    /// `K − 1 − p`.
    fn winograd_adjoint(g: &ConvGeom) -> Option<ConvGeom> {
        if !Self::uses_winograd(g) {
            return None;
        }
        let (pb, pr) = (
            g.out_h + K - 1 - g.height - g.pad_top,
            g.out_w + K - 1 - g.width - g.pad_left,
        );
        let p = g.pad_top;
        if g.pad_left != p || pb != p || pr != p || p > K - 1 {
            return None;
        }
        ConvGeom::new(
            OUT_C,
            g.out_h,
            g.out_w,
            K,
            1,
            shape::Pad::Explicit(K - 1 - p),
        )
    }

    /// `dX` of `n` samples through [`winograd::forward`] on the adjoint geometry `gt` (see
    /// [`Conv2d::winograd_adjoint`]): the turned filters
    /// `W'[c, o, u, v] = W[o, c, K − 1 − u, K − 1 − v]`,
    /// a zero bias and the transforms of the turned filters go after the workspace in `col` (the
    /// weight gradient's input tiles, used up by then).
    fn input_grad_winograd(&mut self, gt: &ConvGeom, n: usize, dy: &[f32], dx: &mut [f32]) {
        let alg = winograd::Alg::new(gt, false);
        let (cl, ol) = winograd::workspace(gt, alg, IN_C, n);
        let mr = winograd::filter_rows(gt, alg, IN_C, n);
        let (fl, ul) = (
            IN_C * OUT_C * K * K,
            winograd::filters_len(alg, OUT_C, IN_C, mr),
        );
        self.col.at_least(cl + fl + IN_C + ul);
        self.out.at_least(ol);
        let (ws, rest) = self.col.split_at_mut(cl);
        let (turned, rest) = rest.split_at_mut(fl);
        let (zero, u) = rest.split_at_mut(IN_C);
        zero.fill(0.0);
        for (o, wo) in self.weight.value().chunks_exact(IN_C * K * K).enumerate() {
            for (c, f) in wo.chunks_exact(K * K).enumerate() {
                let dst = &mut turned[(c * OUT_C + o) * K * K..][..K * K];
                for (d, &v) in dst.iter_mut().zip(f.iter().rev()) {
                    *d = v;
                }
            }
        }
        winograd::transform_filters(alg, OUT_C, IN_C, mr, turned, u);
        winograd::forward(gt, alg, IN_C, n, dy, u, zero, dx, ws, &mut self.out);
    }

    /// The backward pass of a [`Conv2d::DIRECT`] layer over [`BATCH_PARTS`] fixed parts of the
    /// batch (see [`run_batch_parts`]), the partial parameter gradients in `out` (see
    /// [`part_grads`]).
    fn direct_backward<A: crate::tensor::Shape>(
        &mut self,
        g: &ConvGeom,
        n: usize,
        x: &[f32],
        dy: &[f32],
        dx: Option<&mut Act<A>>,
    ) {
        let sl = conv_direct::scratch_len(g);
        let (wl, bl) = (self.weight.grad.len(), self.bias.grad.len());
        self.col.at_least(BATCH_PARTS * sl);
        self.out.at_least((BATCH_PARTS - 1) * (wl + bl));
        let (is, os) = (g.input_size(), OUT_C * g.pixels());
        let chunk = n.div_ceil(BATCH_PARTS);
        let used = n.div_ceil(chunk);
        let grads = part_grads(&mut self.weight.grad, &mut self.bias.grad, &mut self.out);
        let parts = x
            .chunks(chunk * is)
            .zip(dy.chunks(chunk * os))
            .zip(grads)
            .zip(self.col.chunks_exact_mut(sl));
        run_batch_parts(parts, &|(((xs, ds), (dw, db)), sc)| {
            conv_direct::weight_grad(g, xs.len() / is, xs, ds, dw, db, sc);
        });
        add_partials(&mut self.weight.grad, &mut self.bias.grad, &self.out, used);
        if let Some(dx) = dx {
            dx.set_batch(n);
            let w = self.weight.value();
            let parts = dy
                .chunks(chunk * os)
                .zip(dx.as_mut_slice().chunks_mut(chunk * is))
                .zip(self.col.chunks_exact_mut(sl));
            run_batch_parts(parts, &|((ds, dxs), sc): (
                (&[f32], &mut [f32]),
                &mut [f32],
            )| {
                conv_direct::input_grad(g, dxs.len() / is, ds, w, OUT_C, dxs, sc);
            });
        }
    }
}

impl<const IN_C: usize, const OUT_C: usize, const K: usize, const S: usize, const P: usize>
    fmt::Debug for Conv2d<IN_C, OUT_C, K, S, P>
{
    /// The parameters; the workspaces are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conv2d")
            .field("in_channels", &IN_C)
            .field("out_channels", &OUT_C)
            .field("kernel", &K)
            .field("stride", &S)
            .field("padding", &shape::pad_from_const(P))
            .field("weight", &self.weight)
            .field("bias", &self.bias)
            .finish_non_exhaustive()
    }
}

/// Stride-1 convolutions with at most this many output channels use the direct kernels (see
/// `bench/NOTES.md` for the measurements behind the threshold).
const DIRECT_MAX_OUT_C: usize = 8;

/// See [`Conv2d::DIRECT_FORWARD`].
const DIRECT_FORWARD_MAX_OUT_C: usize = 16;

/// See [`Conv2d::WINOGRAD`].
const WINOGRAD_MIN_C: usize = 32;

/// See [`Conv2d::WINOGRAD`].
const WINOGRAD_MIN_PIXELS: usize = 16;

/// Layers whose column matrix holds at least this many values per sample (1 MiB) borrow their
/// workspaces (`col` and `out`) from one set per thread, shared by all such layers, instead of
/// owning them: AlexNet's five ImageNet convolutions then hold one set as large as the largest
/// instead of five.
const SHARE_MIN_COL_VALUES: usize = 1 << 18;

thread_local! {
    /// The shared column matrix and GEMM output (see [`SHARE_MIN_COL_VALUES`]); they grow to the
    /// largest layer and are reused.
    static SHARED: RefCell<(AlignedVec, AlignedVec)> =
        const { RefCell::new((AlignedVec::new(), AlignedVec::new())) };
}

/// Swaps a layer's (empty) workspaces with the shared ones: once to borrow them, once more to
/// give them back. Swapping moves no data and allocates nothing.
fn swap_shared(col: &mut AlignedVec, out: &mut AlignedVec) {
    SHARED.with_borrow_mut(|(c, o)| {
        std::mem::swap(col, c);
        std::mem::swap(out, o);
    });
}

/// The slots of the parameter gradients of the [`BATCH_PARTS`] parts of a backward pass: part 0
/// writes `dw` and `db` themselves, the others partial sums in `partials` (`BATCH_PARTS − 1`
/// blocks of `dw.len() + db.len()` values), which [`add_partials`] then adds in part order, so
/// that any thread count gives the same bits.
fn part_grads<'a>(
    dw: &'a mut [f32],
    db: &'a mut [f32],
    partials: &'a mut [f32],
) -> impl Iterator<Item = (&'a mut [f32], &'a mut [f32])> {
    let (wl, bl) = (dw.len(), db.len());
    std::iter::once((dw, db)).chain(
        partials
            .chunks_exact_mut(wl + bl)
            .map(move |c| c.split_at_mut(wl)),
    )
}

/// Adds the partial gradients of parts `1..used` (see [`part_grads`]) to part 0's, in part
/// order.
fn add_partials(dw: &mut [f32], db: &mut [f32], partials: &[f32], used: usize) {
    let (wl, bl) = (dw.len(), db.len());
    for part in partials.chunks_exact(wl + bl).take(used.saturating_sub(1)) {
        let (pw, pb) = part.split_at(wl);
        for (a, v) in dw.iter_mut().zip(pw) {
            *a += v;
        }
        for (a, v) in db.iter_mut().zip(pb) {
            *a += v;
        }
    }
}

/// Values of the column matrix the backward pass builds at once, per part of the batch (256 KiB:
/// it stays in L2 from `im2col` through both GEMMs to `col2im`), see [`backward_chunk`].
const CHUNK_COL_VALUES: usize = 1 << 16;

/// Least number of output pixels per chunk: the depth of the weight gradient's GEMM, which
/// reads and writes all of `dW` once per chunk.
const CHUNK_MIN_PIXELS: usize = 256;

/// Samples per chunk of the backward pass of an im2col layer, for parts of `part ≥ 1` samples:
/// as many as [`CHUNK_COL_VALUES`] hold, at least [`CHUNK_MIN_PIXELS`] output pixels (so at
/// least one sample), at most the part. LeNet-5's conv2: 4 samples; ImageNet AlexNet's conv2: 1.
fn backward_chunk(g: &ConvGeom, part: usize) -> usize {
    // Output maps have at least one pixel (the shape rule, checked at compile time); a layer
    // without input channels has no matrix rows.
    let p = g.pixels();
    (CHUNK_COL_VALUES / (g.rows() * p).max(1))
        .max(CHUNK_MIN_PIXELS.div_ceil(p))
        .min(part)
}

impl<const IN_C: usize, const OUT_C: usize, const K: usize, const S: usize, const P: usize>
    Parameters for Conv2d<IN_C, OUT_C, K, S, P>
{
    fn visit(&self, f: &mut dyn FnMut(ParamName<'_>, &Param)) {
        f(ParamName::local("weight"), &self.weight);
        f(ParamName::local("bias"), &self.bias);
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(ParamName<'_>, &mut Param)) {
        f(ParamName::local("weight"), &mut self.weight);
        f(ParamName::local("bias"), &mut self.bias);
    }
}

impl<
    const IN_C: usize,
    const OUT_C: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
> Layer<Chw<IN_C, H, W>, Chw<OUT_C, OH, OW>> for Conv2d<IN_C, OUT_C, K, S, P>
{
    fn forward(&mut self, x: &Act<Chw<IN_C, H, W>>, y: &mut Act<Chw<OUT_C, OH, OW>>, mode: Mode) {
        const {
            assert!(
                OH == shape::window_out_or_max(H, K, S, shape::pad_from_const(P))
                    && OW == shape::window_out_or_max(W, K, S, shape::pad_from_const(P)),
                "Conv2d: output size disagrees with the shape rule"
            )
        };
        let n = x.batch();
        y.set_batch(n);
        if n == 0 {
            return;
        }
        let g = Self::geom(H, W);
        if Self::DIRECT_FORWARD {
            let sl = conv_direct::scratch_len(&g);
            self.col.at_least(BATCH_PARTS * sl);
            let (w, b) = (self.weight.value(), self.bias.value());
            let (xs, ys) = (x.as_slice(), y.as_mut_slice());
            let (is, os) = (g.input_size(), OUT_C * g.pixels());
            let chunk = n.div_ceil(BATCH_PARTS);
            let parts = xs
                .chunks(chunk * is)
                .zip(ys.chunks_mut(chunk * os))
                .zip(self.col.chunks_exact_mut(sl));
            run_batch_parts(parts, &|((xs, ys), sc): (
                (&[f32], &mut [f32]),
                &mut [f32],
            )| {
                conv_direct::forward(&g, xs.len() / is, xs, w, b, ys, sc);
            });
            return;
        }
        let shared = g.rows() * g.pixels() >= SHARE_MIN_COL_VALUES;
        if shared {
            swap_shared(&mut self.col, &mut self.out);
        }
        if Self::uses_winograd(&g) {
            self.forward_winograd(&g, n, x.as_slice(), y.as_mut_slice(), mode);
        } else {
            self.forward_gemm(&g, x.as_slice(), y.as_mut_slice());
        }
        if shared {
            swap_shared(&mut self.col, &mut self.out);
        }
    }

    fn backward(
        &mut self,
        x: &Act<Chw<IN_C, H, W>>,
        _y: &Act<Chw<OUT_C, OH, OW>>,
        dy: &Act<Chw<OUT_C, OH, OW>>,
        dx: Option<&mut Act<Chw<IN_C, H, W>>>,
    ) {
        const {
            assert!(
                OH == shape::window_out_or_max(H, K, S, shape::pad_from_const(P))
                    && OW == shape::window_out_or_max(W, K, S, shape::pad_from_const(P)),
                "Conv2d: output size disagrees with the shape rule"
            )
        };
        let n = x.batch();
        debug_assert_eq!(dy.batch(), n);
        if n == 0 {
            self.weight.grad.fill(0.0);
            self.bias.grad.fill(0.0);
            if let Some(dx) = dx {
                dx.set_batch(0);
            }
            return;
        }
        let g = Self::geom(H, W);
        if Self::DIRECT {
            self.direct_backward(&g, n, x.as_slice(), dy.as_slice(), dx);
            return;
        }
        let p = g.pixels();
        let shared = g.rows() * p >= SHARE_MIN_COL_VALUES;
        if shared {
            swap_shared(&mut self.col, &mut self.out);
        }
        let dx = dx.map(|dx| {
            dx.set_batch(n);
            dx.as_mut_slice()
        });
        let (x, dy) = (x.as_slice(), dy.as_slice());
        match Self::winograd_adjoint(&g) {
            Some(gt) => self.backward_winograd(&g, n, x, dy, dx.map(|dx| (&gt, dx))),
            None if Self::uses_winograd(&g) && dx.is_none() => {
                self.backward_winograd(&g, n, x, dy, None)
            }
            None => self.backward_gemm(&g, n, x, dy, dx),
        }
        if shared {
            swap_shared(&mut self.col, &mut self.out);
        }
    }
}

impl<const IN_C: usize, const OUT_C: usize, const K: usize, const S: usize, const P: usize>
    Conv2d<IN_C, OUT_C, K, S, P>
{
    /// The backward pass of a layer whose forward pass runs as Winograd
    /// ([`Conv2d::uses_winograd`]), when its input gradient does too (`dx` with the adjoint
    /// geometry, see [`Conv2d::winograd_adjoint`]) or is not wanted: the bias gradient as the
    /// sums of `dY`, `dW` through [`winograd::weight_grad`], `dX` through
    /// [`Conv2d::input_grad_winograd`]; no column matrix.
    fn backward_winograd(
        &mut self,
        g: &ConvGeom,
        n: usize,
        x: &[f32],
        dy: &[f32],
        dx: Option<(&ConvGeom, &mut [f32])>,
    ) {
        let p = g.pixels();
        // The bias gradient: per channel, the sum of each sample's map (in f32 lanes), then of
        // the samples in f64.
        let mut sums = [0f64; OUT_C];
        for maps in dy.chunks_exact(OUT_C * p) {
            for (s, map) in sums.iter_mut().zip(maps.chunks_exact(p)) {
                *s += lane_sum(map) as f64;
            }
        }
        for (db, s) in self.bias.grad.iter_mut().zip(sums) {
            *db = s as f32;
        }
        let (cl, ol) = winograd::weight_grad_workspace(g, OUT_C, n);
        self.col.at_least(cl);
        self.out.at_least(ol);
        let dw = &mut self.weight.grad;
        winograd::weight_grad(g, OUT_C, n, x, dy, dw, &mut self.col, &mut self.out);
        if let Some((gt, dx)) = dx {
            self.input_grad_winograd(gt, n, dy, dx);
        }
    }

    /// The backward pass through im2col + GEMM: per part of the batch ([`BATCH_PARTS`] on the
    /// worker pool), the column matrix of a chunk of samples (see [`backward_chunk`]), `dW (+)=
    /// dY·colᵀ`, and, when `dx` is wanted, `dcol = Wᵀ·dY` followed by `col2im`.
    fn backward_gemm(
        &mut self,
        g: &ConvGeom,
        n: usize,
        x: &[f32],
        dy: &[f32],
        dx: Option<&mut [f32]>,
    ) {
        let (rows, p) = (g.rows(), g.pixels());
        let part = n.div_ceil(BATCH_PARTS);
        let chunk = backward_chunk(g, part);
        // Per part: the column matrix of a chunk, then its gradient, and dY of the chunk as
        // [OUT_C, chunk·P]; after the parts, the partial parameter gradients of parts 1, 2, ….
        let work = (rows + OUT_C) * chunk * p;
        let (wl, bl) = (self.weight.grad.len(), self.bias.grad.len());
        self.col
            .at_least(BATCH_PARTS * work + (BATCH_PARTS - 1) * (wl + bl));
        let (works, partials) = self.col.split_at_mut(BATCH_PARTS * work);
        let cols = BatchColumns::new(g, x, &mut self.out);
        let (dw, w) = self.weight.grad_mut_and_value();
        let grads = part_grads(dw, &mut self.bias.grad, partials);
        let (is, os) = (g.input_size(), OUT_C * p);
        // The parts of dX (None for every part when it is not wanted).
        let mut scatter = dx.map(|dx| dx.chunks_mut(part * is));
        let dx_parts = std::iter::repeat_with(|| scatter.as_mut().and_then(Iterator::next));
        let parts = dy
            .chunks(part * os)
            .enumerate()
            .zip(works.chunks_exact_mut(work))
            .zip(grads)
            .zip(dx_parts);
        run_batch_parts(parts, &|((((q, ds), work), (dw, db)), mut dxs)| {
            let mut sums = [0f64; OUT_C];
            for (c, dyc) in ds.chunks(chunk * os).enumerate() {
                let (m, first) = (dyc.len() / os, q * part + c * chunk);
                let mp = m * p;
                let (col, dyt) = work.split_at_mut(rows * chunk * p);
                let (col, dyt) = (&mut col[..rows * mp], &mut dyt[..OUT_C * mp]);
                cols.samples(first, m).write(col, mp);
                // dY as [OUT_C, m·P], and the bias gradient as its row sums.
                for (i, d) in dyc.chunks_exact(os).enumerate() {
                    for (src, dst) in d.chunks_exact(p).zip(dyt.chunks_exact_mut(mp)) {
                        dst[i * p..(i + 1) * p].copy_from_slice(src);
                    }
                }
                for (s, row) in sums.iter_mut().zip(dyt.chunks_exact(mp)) {
                    *s += row.iter().map(|&v| v as f64).sum::<f64>();
                }
                // dW (+)= dY · colᵀ.
                let beta = if c == 0 { 0.0 } else { 1.0 };
                gemm(
                    Trans::N,
                    Trans::T,
                    OUT_C,
                    rows,
                    mp,
                    1.0,
                    dyt,
                    mp,
                    col,
                    mp,
                    beta,
                    dw,
                    rows,
                );
                if let Some(dxs) = dxs.as_deref_mut() {
                    // dcol = Wᵀ · dY, written over the column matrix, then col2im.
                    gemm(
                        Trans::T,
                        Trans::N,
                        rows,
                        mp,
                        OUT_C,
                        1.0,
                        w,
                        rows,
                        dyt,
                        mp,
                        0.0,
                        col,
                        mp,
                    );
                    let dxc = &mut dxs[c * chunk * is..][..m * is];
                    for (i, d) in dxc.chunks_exact_mut(is).enumerate() {
                        col2im(g, col, mp, i * p, d);
                    }
                }
            }
            for (b, s) in db.iter_mut().zip(sums) {
                *b = s as f32;
            }
        });
        add_partials(
            &mut self.weight.grad,
            &mut self.bias.grad,
            partials,
            n.div_ceil(part),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::PAD_SAME;
    use crate::tensor::Shape;
    use crate::testing::check_layer_gradients;
    use rand::SeedableRng;

    fn rng(seed: u64) -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(seed)
    }

    /// Direct convolution in f64, from the formula, with explicit top/left padding.
    /// The layer's convolution by its definition ([`crate::testing::conv2d_reference`]).
    fn reference<
        const IC: usize,
        const OC: usize,
        const K: usize,
        const S: usize,
        const P: usize,
    >(
        conv: &Conv2d<IC, OC, K, S, P>,
        x: &[f32],
        (h, w): (usize, usize),
    ) -> Vec<f32> {
        let g = Conv2d::<IC, OC, K, S, P>::geom(h, w);
        let n = x.len() / g.input_size();
        let (wt, b) = (conv.weight.value(), conv.bias.value());
        let y = crate::testing::conv2d_reference(&g, OC, n, x, wt, b);
        y.into_iter().map(|v| v as f32).collect()
    }

    fn matches_reference<
        const IC: usize,
        const OC: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
    >() {
        let mut r = rng(5);
        let mut conv = Conv2d::<IC, OC, K, S, P>::new(&mut r);
        let data: Vec<f32> = (0..3 * IC * H * W)
            .map(|_| r.random_range(-1.0..1.0))
            .collect();
        let x = Act::<Chw<IC, H, W>>::from_vec(data).unwrap();
        let check = |conv: &mut Conv2d<IC, OC, K, S, P>, mode: Mode| {
            let want = reference(conv, x.as_slice(), (H, W));
            let mut y = Act::<Chw<OC, OH, OW>>::default();
            conv.forward(&x, &mut y, mode);
            assert_eq!(y.as_slice().len(), want.len());
            for (a, b) in y.as_slice().iter().zip(&want) {
                assert!((a - b).abs() < 1e-5, "{mode:?}: {a} vs {b}");
            }
        };
        // Both modes: between 9 and 16 output channels they take different routes.
        for mode in [Mode::Eval, Mode::Train, Mode::Eval] {
            check(&mut conv, mode);
        }
        // New weights, written by a user or by an optimizer: the next pass uses them (the
        // Winograd layers keep their filter transforms between passes).
        let by_user = |p: &mut Param| p.value_mut().iter_mut().for_each(|v| *v = -*v);
        let by_optimizer = |p: &mut Param| p.value_and_grad().0.reverse();
        for change in [by_user, by_optimizer] {
            change(&mut conv.weight);
            check(&mut conv, Mode::Eval);
        }
    }

    #[test]
    fn forward_matches_a_hand_computed_convolution_with_padding() {
        // 1×2×2 input [1 2; 3 4], padding 1, 2×2 kernel of ones: every 2×2 window of the padded
        // 4×4 input, i.e. the 3×3 sums [1 3 2; 4 10 6; 3 7 4], plus bias -1.
        let mut conv = Conv2d::<1, 1, 2, 1, 1>::new(&mut rng(0));
        conv.weight.value_mut().fill(1.0);
        conv.bias.value_mut()[0] = -1.0;
        let x = Act::<Chw<1, 2, 2>>::from_vec(vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let mut y = Act::<Chw<1, 3, 3>>::default();
        conv.forward(&x, &mut y, Mode::Eval);
        assert_eq!(y.as_slice(), &[0.0, 2.0, 1.0, 3.0, 9.0, 5.0, 2.0, 6.0, 3.0]);
    }

    #[test]
    fn forward_sums_over_channels_and_keeps_samples_apart() {
        // Two samples, two input channels, two output channels with 1×1 kernels.
        let mut conv = Conv2d::<2, 2, 1>::new(&mut rng(0));
        conv.weight
            .value_mut()
            .copy_from_slice(&[1.0, 10.0, -1.0, 0.0]);
        conv.bias.value_mut().copy_from_slice(&[0.0, 100.0]);
        let x =
            Act::<Chw<2, 1, 2>>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]).unwrap();
        let mut y = Act::<Chw<2, 1, 2>>::default();
        conv.forward(&x, &mut y, Mode::Eval);
        assert_eq!(
            y.as_slice(),
            &[31.0, 42.0, 99.0, 98.0, 75.0, 86.0, 95.0, 94.0]
        );
    }

    #[test]
    fn forward_matches_the_direct_formula() {
        matches_reference::<3, 4, 3, 1, 0, 9, 8, 7, 6>();
        matches_reference::<2, 3, 3, 2, 1, 10, 10, 5, 5>();
        matches_reference::<3, 4, 5, 4, PAD_SAME, 13, 13, 4, 4>();
        matches_reference::<2, 3, 2, 1, PAD_SAME, 6, 5, 6, 5>(); // odd total: pad bottom/right
        matches_reference::<2, 2, 4, 3, PAD_SAME, 8, 10, 3, 4>(); // 8: total 2; 10: total 3
        matches_reference::<1, 2, 3, 2, 2, 5, 7, 4, 5>();
        // Stride 1 with more than `DIRECT_MAX_OUT_C` output channels: the direct forward up to 16
        // channels (blocks of 6 + 6 + 4 on AVX-512), the im2col route beyond.
        const { assert!(!Conv2d::<2, 9, 3, 1, 1>::DIRECT && Conv2d::<2, 8, 3, 1, 1>::DIRECT) };
        const {
            assert!(Conv2d::<2, 16, 3, 1, 1>::DIRECT_FORWARD && !Conv2d::<2, 17, 3>::DIRECT_FORWARD)
        };
        matches_reference::<2, 9, 3, 1, 1, 6, 5, 6, 5>();
        matches_reference::<2, 9, 2, 1, PAD_SAME, 6, 5, 6, 5>();
        matches_reference::<3, 16, 5, 1, 0, 14, 14, 10, 10>();
        matches_reference::<2, 17, 3, 1, 1, 6, 5, 6, 5>();
        // Winograd forward (`F(4×4, 3×3)` in evaluation, `F(2×2, 3×3)` in training: the filter
        // transforms kept must follow the mode): 32 channels in and out on an odd 11 × 10 map
        // (edge tiles cropped), with Keras "same" padding, and CIFAR's 8 × 8 and 4 × 4; 3 × 5
        // stays under `WINOGRAD_MIN_PIXELS` (im2col).
        const { assert!(Conv2d::<32, 32, 3, 1, 1>::WINOGRAD && !Conv2d::<31, 32, 3>::WINOGRAD) };
        matches_reference::<32, 32, 3, 1, 1, 11, 10, 11, 10>();
        matches_reference::<32, 33, 3, 1, PAD_SAME, 12, 9, 12, 9>();
        matches_reference::<32, 32, 3, 1, 1, 8, 8, 8, 8>();
        matches_reference::<32, 32, 3, 1, 1, 4, 4, 4, 4>();
        matches_reference::<32, 32, 3, 1, 0, 5, 7, 3, 5>();
        // F(2×2, 5×5): AlexNet's padding 2 on an odd map, and no padding.
        const { assert!(Conv2d::<32, 32, 5, 1, 2>::WINOGRAD && !Conv2d::<32, 32, 7>::WINOGRAD) };
        matches_reference::<32, 32, 5, 1, 2, 9, 9, 9, 9>();
        matches_reference::<32, 33, 5, 1, 0, 10, 9, 6, 5>();
    }

    #[test]
    fn winograd_filters_kept_between_batches_of_other_sizes_are_repacked() {
        // The packed filters' panel height follows the number of tiles: on AVX-512, 32 output
        // channels of 4 × 4 maps take panels of 8 rows at a batch of 16 and of 16 at a batch of 1.
        let mut r = rng(9);
        let mut conv = Conv2d::<32, 32, 3, 1, 1>::new(&mut r);
        for n in [16, 1, 16] {
            let data: Vec<f32> = (0..n * 32 * 16)
                .map(|_| r.random_range(-1.0..1.0))
                .collect();
            let x = Act::<Chw<32, 4, 4>>::from_vec(data).unwrap();
            let want = reference(&conv, x.as_slice(), (4, 4));
            let mut y = Act::<Chw<32, 4, 4>>::default();
            conv.forward(&x, &mut y, Mode::Eval);
            for (a, b) in y.as_slice().iter().zip(&want) {
                assert!((a - b).abs() < 1e-5, "batch {n}: {a} vs {b}");
            }
        }
    }

    /// The three gradients of a random `dY` (`dX`, `dW` and the bias's) against their
    /// definitions in f64, for a batch of `n`.
    fn gradients_match_definition<
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
        n: usize,
    ) where
        Conv2d<IC, OC, K, S, P>: Layer<Chw<IC, H, W>, Chw<OC, OH, OW>>,
    {
        let mut r = rng(7);
        let mut conv = Conv2d::<IC, OC, K, S, P>::new(&mut r);
        let mut values =
            |len: usize| -> Vec<f32> { (0..len).map(|_| r.random_range(-1.0..1.0)).collect() };
        let x = Act::<Chw<IC, H, W>>::from_vec(values(n * IC * H * W)).unwrap();
        let dy = Act::<Chw<OC, OH, OW>>::from_vec(values(n * OC * OH * OW)).unwrap();
        let mut y = Act::<Chw<OC, OH, OW>>::default();
        conv.forward(&x, &mut y, Mode::Train);
        let mut dx = Act::<Chw<IC, H, W>>::default();
        conv.backward(&x, &y, &dy, Some(&mut dx));
        let pad = shape::pad_from_const(P);
        let (pt, pl) = (shape::pads(H, K, S, pad).0, shape::pads(W, K, S, pad).0);
        let mut want_dx = vec![0.0f64; n * IC * H * W];
        let mut want_dw = vec![0.0f64; OC * IC * K * K];
        let mut want_db = vec![0.0f64; OC];
        for s in 0..n {
            for (o, db) in want_db.iter_mut().enumerate() {
                for (i, j) in (0..OH).flat_map(|i| (0..OW).map(move |j| (i, j))) {
                    let d = dy.as_slice()[((s * OC + o) * OH + i) * OW + j] as f64;
                    *db += d;
                    for (c, u, v) in
                        (0..IC).flat_map(|c| (0..K * K).map(move |t| (c, t / K, t % K)))
                    {
                        let (ry, rx) = (
                            (i * S + u) as isize - pt as isize,
                            (j * S + v) as isize - pl as isize,
                        );
                        if ry >= 0 && rx >= 0 && ry < H as isize && rx < W as isize {
                            let at = ((s * IC + c) * H + ry as usize) * W + rx as usize;
                            let wi = ((o * IC + c) * K + u) * K + v;
                            want_dx[at] += d * conv.weight.value()[wi] as f64;
                            want_dw[wi] += d * x.as_slice()[at] as f64;
                        }
                    }
                }
            }
        }
        let close = |name: &str, got: &[f32], want: &[f64]| {
            for (k, (&a, &b)) in got.iter().zip(want).enumerate() {
                assert!(
                    (a as f64 - b).abs() < 1e-4 * (1.0 + b.abs()),
                    "{name}[{k}] = {a}, expected {b}"
                );
            }
        };
        close("dx", dx.as_slice(), &want_dx);
        close("dw", &conv.weight.grad, &want_dw);
        close("db", &conv.bias.grad, &want_db);
    }

    #[test]
    fn gradients_match_the_definition() {
        // Winograd 3 × 3 (the adjoint convolution padded by 2 − p for p = 1, "same", 0 and 2) …
        gradients_match_definition::<32, 33, 3, 1, 1, 4, 4, 4, 4>(3);
        gradients_match_definition::<32, 32, 3, 1, PAD_SAME, 6, 5, 6, 5>(3);
        gradients_match_definition::<33, 32, 3, 1, 0, 7, 6, 5, 4>(3);
        gradients_match_definition::<32, 32, 3, 1, 2, 3, 3, 5, 5>(3);
        // … F(2×2, 5×5) (padded by 4 − p for p = 2 and 0) …
        gradients_match_definition::<32, 33, 5, 1, 2, 7, 7, 7, 7>(3);
        gradients_match_definition::<33, 32, 5, 1, 0, 9, 8, 5, 4>(2);
        // … and the GEMM with col2im (too few channels, too small a map).
        gradients_match_definition::<2, 9, 3, 1, 1, 5, 4, 5, 4>(3);
        gradients_match_definition::<32, 32, 3, 1, 1, 3, 3, 3, 3>(3);
        // A batch of 7 in two parts (4 + 3 samples) of chunks of 2 samples (the last one 1),
        // with stride 2 and padding.
        let g = Conv2d::<8, 10, 3, 2, 1>::geom(40, 40);
        assert_eq!(backward_chunk(&g, 4), 2);
        gradients_match_definition::<8, 10, 3, 2, 1, 40, 40, 20, 20>(7);
    }

    #[test]
    fn gradients_match_finite_differences_stride_1() {
        let mut r = rng(1);
        let mut conv = Conv2d::<2, 3, 3>::new(&mut r);
        check_layer_gradients::<Chw<2, 5, 4>, Chw<3, 3, 2>, _>(&mut conv, 2, &mut r);
        // The direct forward with the im2col backward at stride 1 (9 output channels).
        let mut conv = Conv2d::<2, 9, 3, 1, 1>::new(&mut r);
        check_layer_gradients::<Chw<2, 4, 4>, Chw<9, 4, 4>, _>(&mut conv, 2, &mut r);
    }

    #[test]
    fn gradients_match_finite_differences_stride_2_padding_1() {
        let mut r = rng(2);
        let mut conv = Conv2d::<2, 2, 3, 2, 1>::new(&mut r);
        check_layer_gradients::<Chw<2, 6, 5>, Chw<2, 3, 3>, _>(&mut conv, 2, &mut r);
    }

    #[test]
    fn gradients_match_finite_differences_same_padding_odd_total() {
        // K = 2, S = 1: total padding 1 on each axis, all of it bottom/right.
        let mut r = rng(3);
        let mut conv = Conv2d::<2, 2, 2, 1, PAD_SAME>::new(&mut r);
        check_layer_gradients::<Chw<2, 4, 5>, Chw<2, 4, 5>, _>(&mut conv, 2, &mut r);
        // K = 4, S = 3 on 8×10: totals 2 and 3.
        let mut conv = Conv2d::<1, 2, 4, 3, PAD_SAME>::new(&mut r);
        check_layer_gradients::<Chw<1, 8, 10>, Chw<2, 3, 4>, _>(&mut conv, 1, &mut r);
    }

    #[test]
    fn backward_depends_only_on_the_input_and_the_output_gradient() {
        let mut r = rng(4);
        let mut conv = Conv2d::<2, 3, 3, 2, 1>::new(&mut r);
        let x =
            Act::<Chw<2, 6, 6>>::from_vec((0..144).map(|i| (i as f32).sin()).collect()).unwrap();
        let dy =
            Act::<Chw<3, 3, 3>>::from_vec((0..54).map(|i| (i as f32).cos()).collect()).unwrap();
        let mut y = Act::default();
        let mut dx1 = Act::default();
        conv.forward(&x, &mut y, Mode::Train);
        conv.backward(&x, &y, &dy, Some(&mut dx1));
        let (gw, gb) = (conv.weight.grad.clone(), conv.bias.grad.clone());
        // Second backward: its workspace now holds the previous input gradient's matrix.
        let mut dx2 = Act::default();
        conv.backward(&x, &y, &dy, Some(&mut dx2));
        assert_eq!(dx1.as_slice(), dx2.as_slice());
        assert_eq!(conv.weight.grad, gw);
        assert_eq!(conv.bias.grad, gb);
        // After a forward on other data (which reused the workspace for its padded input).
        let other = Act::<Chw<2, 6, 6>>::zeros(2);
        conv.forward(&other, &mut y, Mode::Eval);
        conv.backward(&x, &y, &dy, None);
        assert_eq!(conv.weight.grad, gw);
    }

    #[test]
    fn layers_sharing_the_workspace_rebuild_their_column_matrix() {
        // 16·3·3 rows × 64·64 pixels per sample: both layers borrow the shared workspace.
        const { assert!(16 * 9 * 64 * 64 >= SHARE_MIN_COL_VALUES) };
        let mut r = rng(11);
        let mut a = Conv2d::<16, 9, 3, 1, 1>::new(&mut r);
        let mut b = Conv2d::<16, 10, 3, 1, 1>::new(&mut r);
        let mut random =
            |len: usize| -> Vec<f32> { (0..len).map(|_| r.random_range(-1.0..1.0)).collect() };
        let x = Act::<Chw<16, 64, 64>>::from_vec(random(16 * 64 * 64)).unwrap();
        let dy = Act::<Chw<9, 64, 64>>::from_vec(random(9 * 64 * 64)).unwrap();
        let (mut ya, mut yb) = (Act::default(), Act::<Chw<10, 64, 64>>::default());
        let (mut dx1, mut dx2) = (Act::default(), Act::default());
        a.forward(&x, &mut ya, Mode::Train);
        let want = reference(&a, x.as_slice(), (64, 64));
        for (got, want) in ya.as_slice().iter().zip(&want) {
            assert!((got - want).abs() < 1e-4, "{got} vs {want}");
        }
        a.backward(&x, &ya, &dy, Some(&mut dx1));
        let grad = a.weight.grad.clone();
        // Another sharing layer runs between `a`'s forward and backward and overwrites the
        // shared matrix: `a` must rebuild its own.
        a.forward(&x, &mut ya, Mode::Train);
        b.forward(&x, &mut yb, Mode::Train);
        a.backward(&x, &ya, &dy, Some(&mut dx2));
        assert_eq!(a.weight.grad, grad);
        assert_eq!(dx1.as_slice(), dx2.as_slice());
    }

    #[test]
    fn workspaces_are_not_reallocated_in_steady_state() {
        let mut r = rng(7);
        let mut conv = Conv2d::<2, 3, 3, 1, 1>::new(&mut r);
        let batch = |n: usize, r: &mut rand::rngs::StdRng| {
            Act::<Chw<2, 6, 5>>::from_vec((0..n * 60).map(|_| r.random_range(-1.0..1.0)).collect())
                .unwrap()
        };
        let (x4, x2) = (batch(4, &mut r), batch(2, &mut r));
        let dy4 = Act::<Chw<3, 6, 5>>::from_vec(vec![0.5; 4 * 90]).unwrap();
        let dy2 = Act::<Chw<3, 6, 5>>::from_vec(vec![0.5; 2 * 90]).unwrap();
        let (mut y, mut dx) = (Act::default(), Act::default());
        conv.forward(&x4, &mut y, Mode::Train);
        conv.backward(&x4, &y, &dy4, Some(&mut dx));
        let buffers = (conv.col.as_ptr(), conv.out.as_ptr());
        for _ in 0..2 {
            conv.forward(&x2, &mut y, Mode::Train);
            conv.backward(&x2, &y, &dy2, Some(&mut dx));
            conv.forward(&x4, &mut y, Mode::Eval);
            conv.forward(&x4, &mut y, Mode::Train);
            conv.backward(&x4, &y, &dy4, None);
        }
        assert_eq!((conv.col.as_ptr(), conv.out.as_ptr()), buffers);
    }

    #[test]
    fn debug_shows_the_configuration_not_the_workspaces() {
        let conv = Conv2d::<1, 1, 1, 2, { PAD_SAME }>::with_init(Init::Zeros, &mut rng(0));
        let text = format!("{conv:?}");
        assert!(text.starts_with("Conv2d { in_channels: 1, out_channels: 1, kernel: 1, stride: 2, padding: Same, weight: "), "{text}");
        assert!(text.ends_with(", .. }"), "{text}");
    }

    #[test]
    fn parameter_count_and_names_follow_pytorch() {
        let conv = Conv2d::<3, 6, 5>::new(&mut rng(0));
        assert_eq!(conv.num_params(), 6 * 3 * 25 + 6);
        assert_eq!(Conv2d::<3, 6, 5>::PARAMS, 456);
        assert_eq!(Conv2d::<64, 192, 5, 1, 2>::PARAMS, 307_392);
        let mut names = Vec::new();
        conv.visit(&mut |name, p| names.push(format!("{name} {:?}", p.shape())));
        assert_eq!(names, ["weight [6, 3, 5, 5]", "bias [6]"]);
    }

    #[test]
    fn default_init_is_bounded_by_one_over_root_fan_in() {
        let conv = Conv2d::<4, 8, 3>::new(&mut rng(9));
        let bound = 1.0 / ((4 * 9) as f32).sqrt();
        for v in conv.weight.value().iter().chain(conv.bias.value()) {
            assert!(v.abs() <= bound);
        }
        assert!(conv.weight.value().iter().any(|v| v.abs() > 0.9 * bound));
    }

    #[test]
    fn empty_batch_gives_empty_output() {
        let mut conv = Conv2d::<1, 2, 3>::new(&mut rng(0));
        let x = Act::<Chw<1, 4, 4>>::zeros(0);
        let mut y = Act::<Chw<2, 2, 2>>::zeros(3);
        conv.forward(&x, &mut y, Mode::Train);
        assert_eq!(y.batch(), 0);
        assert_eq!(<Chw<2, 2, 2> as Shape>::SIZE, 8);
    }
}
