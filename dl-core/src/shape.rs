//! Shape arithmetic, in one place, as dependency-free `const fn`s.
//!
//! `dl-macros` compiles this very file (through `#[path]`) to infer shapes while expanding
//! `sequential!`, and the layer types assert the same rules at compile time, so the macro and the
//! core cannot disagree. Keep this file free of dependencies and of anything but `const fn`s.

/// Padding of a convolution along one axis.
///
/// `Explicit(p)` pads `p` on both sides (PyTorch's `padding=p`); `Same` is Keras's `"same"`: the
/// output has `ceil(input / stride)` positions and the odd pixel of padding, if any, goes to the
/// bottom/right; `Valid` is no padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pad {
    /// No padding (`"valid"`).
    Valid,
    /// Keras `"same"`: extra padding at the bottom/right.
    Same,
    /// `p` zeros on each side.
    Explicit(usize),
}

/// Padding before and after the input along one axis: `(low, high)` = (top, bottom) or (left, right).
///
/// ```
/// use dl_core::shape::{pads, Pad};
/// assert_eq!(pads(13, 5, 4, Pad::Same), (2, 2));
/// assert_eq!(pads(8, 2, 2, Pad::Same), (0, 0));
/// assert_eq!(pads(6, 3, 1, Pad::Same), (1, 1));
/// assert_eq!(pads(6, 2, 1, Pad::Same), (0, 1));
/// assert_eq!(pads(10, 3, 2, Pad::Explicit(1)), (1, 1));
/// ```
pub const fn pads(input: usize, kernel: usize, stride: usize, pad: Pad) -> (usize, usize) {
    match pad {
        Pad::Valid => (0, 0),
        Pad::Explicit(p) => (p, p),
        Pad::Same => {
            let out = input.div_ceil(stride);
            let needed = (out - 1) * stride + kernel;
            let total = needed.saturating_sub(input);
            (total / 2, total - total / 2)
        }
    }
}

/// Output length of a convolution or pooling window along one axis, or `None` when the window
/// does not fit in the (padded) input or the stride is zero.
///
/// `floor((input + low + high - kernel) / stride) + 1`, PyTorch's floor mode.
///
/// ```
/// use dl_core::shape::{window_out, Pad};
/// assert_eq!(window_out(32, 5, 1, Pad::Valid), Some(28));
/// assert_eq!(window_out(227, 11, 4, Pad::Valid), Some(55));
/// assert_eq!(window_out(13, 5, 4, Pad::Same), Some(4));
/// assert_eq!(window_out(1, 3, 2, Pad::Valid), None);
/// ```
pub const fn window_out(input: usize, kernel: usize, stride: usize, pad: Pad) -> Option<usize> {
    if stride == 0 || kernel == 0 {
        return None;
    }
    let (lo, hi) = pads(input, kernel, stride, pad);
    let padded = input + lo + hi;
    if kernel > padded {
        None
    } else {
        Some((padded - kernel) / stride + 1)
    }
}

/// [`window_out`] for use in `const` assertions: `usize::MAX` when the window does not fit, so an
/// equality with a real size fails.
pub const fn window_out_or_max(input: usize, kernel: usize, stride: usize, pad: Pad) -> usize {
    match window_out(input, kernel, stride, pad) {
        Some(n) => n,
        None => usize::MAX,
    }
}

/// Pad encoding used in const generics: `PAD_SAME` stands for [`Pad::Same`], `PAD_VALID` (0) for
/// no padding, any other value `p` for [`Pad::Explicit`]`(p)`.
pub const PAD_SAME: usize = usize::MAX;
/// No padding, as a const generic value (see [`PAD_SAME`]).
pub const PAD_VALID: usize = 0;

/// Decode a const generic padding value (see [`PAD_SAME`]).
pub const fn pad_from_const(p: usize) -> Pad {
    if p == PAD_SAME {
        Pad::Same
    } else if p == 0 {
        Pad::Valid
    } else {
        Pad::Explicit(p)
    }
}

/// Number of features after flattening `[c, h, w]`.
pub const fn flat(c: usize, h: usize, w: usize) -> usize {
    c * h * w
}

/// Parameters of `Dense<in => out>`: weight `[out, in]` plus bias `[out]`.
pub const fn dense_params(input: usize, output: usize) -> usize {
    output * input + output
}

/// Parameters of `Conv2d<in => out, k>`: weight `[out, in, k, k]` plus bias `[out]`.
pub const fn conv_params(in_c: usize, out_c: usize, kernel: usize) -> usize {
    out_c * in_c * kernel * kernel + out_c
}

/// Trainable parameters of a batch norm over `c` channels or features: weight and bias.
pub const fn batchnorm_params(c: usize) -> usize {
    2 * c
}

/// Parameters of a Gaussian RBF layer: centres `[n, in]` plus one width per centre.
pub const fn rbf_params(input: usize, centres: usize) -> usize {
    centres * input + centres
}
