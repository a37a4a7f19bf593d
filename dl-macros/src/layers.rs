//! The one table of layer kinds: their syntax (what goes in `<...>` and in `(...)`), the input
//! they accept, their shape rule and their parameter count.
//!
//! Shape arithmetic itself comes from `dl-core/src/shape.rs` (compiled into this crate as
//! [`crate::shape`]), so the macro and the runtime's compile-time assertions cannot disagree.

use crate::shape::{self, Pad};
use std::fmt;

/// A per-sample shape, as the macro infers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dims {
    /// `[F]`.
    Flat(usize),
    /// `[C, H, W]`.
    Chw(usize, usize, usize),
}

impl Dims {
    pub fn to_vec(self) -> Vec<usize> {
        match self {
            Dims::Flat(f) => vec![f],
            Dims::Chw(c, h, w) => vec![c, h, w],
        }
    }
}

impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dims::Flat(n) => write!(f, "[{n}]"),
            Dims::Chw(c, h, w) => write!(f, "[{c}, {h}, {w}]"),
        }
    }
}

/// Every layer kind the DSL knows (named as in the DSL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms)]
pub enum Kind {
    Dense,
    Conv2d,
    MaxPool2d,
    AvgPool2d,
    Flatten,
    BatchNorm1d,
    BatchNorm2d,
    Rbf,
    Dropout,
    ReLU,
    LeakyReLU,
    ELU,
    GELU,
    Sigmoid,
    Tanh,
    Softmax,
    LogSoftmax,
    Sign,
}

/// What input shape a layer accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepts {
    Flat,
    Image,
    Any,
}

/// A named compile-time option (`stride = 2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opt {
    Stride,
    Padding,
    Activation,
}

impl Opt {
    pub fn name(self) -> &'static str {
        match self {
            Opt::Stride => "stride",
            Opt::Padding => "padding",
            Opt::Activation => "activation",
        }
    }
}

/// One row of the table.
pub struct Spec {
    pub kind: Kind,
    /// The name in the DSL, which is also the runtime type's name.
    pub name: &'static str,
    /// Names of the required positional arguments in `<...>` (in words, for messages).
    pub positional: &'static [&'static str],
    /// Whether an optional trailing positional argument is allowed (`BatchNorm2d<6>`).
    pub optional_positional: Option<&'static str>,
    /// Whether the first positional argument may be written `in => out`.
    pub in_arrow: bool,
    /// Named options allowed in `<...>`.
    pub options: &'static [Opt],
    /// The run-time argument in `(...)`: its name and default (`None` = required).
    pub runtime: Option<(&'static str, Option<f64>)>,
    pub accepts: Accepts,
    /// A correct example, for `help:` lines.
    pub example: &'static str,
    /// Whether it may be used as a fused `activation = ...`.
    pub is_activation: bool,
    /// Whether the layer has parameters or buffers to visit.
    pub has_params: bool,
}

const fn act(kind: Kind, name: &'static str, runtime: Option<(&'static str, Option<f64>)>) -> Spec {
    Spec {
        kind,
        name,
        positional: &[],
        optional_positional: None,
        in_arrow: false,
        options: &[],
        runtime,
        accepts: Accepts::Any,
        example: name,
        is_activation: true,
        has_params: false,
    }
}

/// The table.
pub const SPECS: &[Spec] = &[
    Spec {
        kind: Kind::Dense,
        name: "Dense",
        positional: &["output features"],
        optional_positional: None,
        in_arrow: true,
        options: &[Opt::Activation],
        runtime: None,
        accepts: Accepts::Flat,
        example: "Dense<120>",
        is_activation: false,
        has_params: true,
    },
    Spec {
        kind: Kind::Conv2d,
        name: "Conv2d",
        positional: &["output channels", "kernel size"],
        optional_positional: None,
        in_arrow: true,
        options: &[Opt::Stride, Opt::Padding, Opt::Activation],
        runtime: None,
        accepts: Accepts::Image,
        example: "Conv2d<16, 5>",
        is_activation: false,
        has_params: true,
    },
    Spec {
        kind: Kind::MaxPool2d,
        name: "MaxPool2d",
        positional: &["window size"],
        optional_positional: None,
        in_arrow: false,
        options: &[Opt::Stride],
        runtime: None,
        accepts: Accepts::Image,
        example: "MaxPool2d<2>",
        is_activation: false,
        has_params: false,
    },
    Spec {
        kind: Kind::AvgPool2d,
        name: "AvgPool2d",
        positional: &["window size"],
        optional_positional: None,
        in_arrow: false,
        options: &[Opt::Stride],
        runtime: None,
        accepts: Accepts::Image,
        example: "AvgPool2d<2>",
        is_activation: false,
        has_params: false,
    },
    Spec {
        kind: Kind::Flatten,
        name: "Flatten",
        positional: &[],
        optional_positional: None,
        in_arrow: false,
        options: &[],
        runtime: None,
        accepts: Accepts::Image,
        example: "Flatten",
        is_activation: false,
        has_params: false,
    },
    Spec {
        kind: Kind::BatchNorm1d,
        name: "BatchNorm1d",
        positional: &[],
        optional_positional: Some("features"),
        in_arrow: false,
        options: &[],
        runtime: None,
        accepts: Accepts::Flat,
        example: "BatchNorm1d",
        is_activation: false,
        has_params: true,
    },
    Spec {
        kind: Kind::BatchNorm2d,
        name: "BatchNorm2d",
        positional: &[],
        optional_positional: Some("channels"),
        in_arrow: false,
        options: &[],
        runtime: None,
        accepts: Accepts::Image,
        example: "BatchNorm2d",
        is_activation: false,
        has_params: true,
    },
    Spec {
        kind: Kind::Rbf,
        name: "Rbf",
        positional: &["centres"],
        optional_positional: None,
        in_arrow: true,
        options: &[],
        runtime: None,
        accepts: Accepts::Flat,
        example: "Rbf<10>",
        is_activation: false,
        has_params: true,
    },
    Spec {
        kind: Kind::Dropout,
        name: "Dropout",
        positional: &[],
        optional_positional: None,
        in_arrow: false,
        options: &[],
        runtime: Some(("p", None)),
        accepts: Accepts::Any,
        example: "Dropout(0.5)",
        is_activation: false,
        has_params: false,
    },
    act(Kind::ReLU, "ReLU", None),
    act(Kind::LeakyReLU, "LeakyReLU", Some(("slope", Some(0.01)))),
    act(Kind::ELU, "ELU", Some(("alpha", Some(1.0)))),
    act(Kind::GELU, "GELU", None),
    act(Kind::Sigmoid, "Sigmoid", None),
    act(Kind::Tanh, "Tanh", None),
    act(Kind::Softmax, "Softmax", None),
    act(Kind::LogSoftmax, "LogSoftmax", None),
    act(Kind::Sign, "Sign", None),
];

/// The row of a DSL name, if it is one.
pub fn lookup(name: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.name == name)
}

/// The row of a kind.
pub fn spec(kind: Kind) -> &'static Spec {
    SPECS
        .iter()
        .find(|s| s.kind == kind)
        .expect("invariant: every kind has a row in SPECS")
}

/// A layer's arguments once checked: every size known, every default filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Args {
    /// Output features / channels / centres (or the declared BatchNorm width).
    pub out: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: Pad,
    /// The run-time value (`p`, `slope`, `alpha`), if the kind has one.
    pub runtime: Option<f64>,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            out: 0,
            kernel: 0,
            stride: 1,
            padding: Pad::Valid,
            runtime: None,
        }
    }
}

/// Why a layer cannot take its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShapeError {
    /// Needs `[F]`, got an image.
    NeedsFlat,
    /// Needs `[C, H, W]`, got `[F]`.
    NeedsImage,
    /// The (padded) window does not fit in the input map.
    WindowTooLarge,
}

/// The shape rule: the output shape for `input`, or why there is none.
pub fn output_shape(kind: Kind, args: &Args, input: Dims) -> Result<Dims, ShapeError> {
    let s = spec(kind);
    match (s.accepts, input) {
        (Accepts::Flat, Dims::Chw(..)) => return Err(ShapeError::NeedsFlat),
        (Accepts::Image, Dims::Flat(_)) => return Err(ShapeError::NeedsImage),
        _ => {}
    }
    Ok(match (kind, input) {
        (Kind::Dense | Kind::Rbf, _) => Dims::Flat(args.out),
        (Kind::Conv2d, Dims::Chw(_, h, w)) => {
            let oh = shape::window_out(h, args.kernel, args.stride, args.padding);
            let ow = shape::window_out(w, args.kernel, args.stride, args.padding);
            match (oh, ow) {
                (Some(oh), Some(ow)) => Dims::Chw(args.out, oh, ow),
                _ => return Err(ShapeError::WindowTooLarge),
            }
        }
        (Kind::MaxPool2d | Kind::AvgPool2d, Dims::Chw(c, h, w)) => {
            let oh = shape::window_out(h, args.kernel, args.stride, Pad::Valid);
            let ow = shape::window_out(w, args.kernel, args.stride, Pad::Valid);
            match (oh, ow) {
                (Some(oh), Some(ow)) => Dims::Chw(c, oh, ow),
                _ => return Err(ShapeError::WindowTooLarge),
            }
        }
        (Kind::Flatten, Dims::Chw(c, h, w)) => Dims::Flat(shape::flat(c, h, w)),
        _ => input,
    })
}

/// The number of trainable parameters for `input`.
pub fn params(kind: Kind, args: &Args, input: Dims) -> usize {
    match (kind, input) {
        (Kind::Dense, Dims::Flat(f)) => shape::dense_params(f, args.out),
        (Kind::Rbf, Dims::Flat(f)) => shape::rbf_params(f, args.out),
        (Kind::Conv2d, Dims::Chw(c, _, _)) => shape::conv_params(c, args.out, args.kernel),
        (Kind::BatchNorm1d, Dims::Flat(c)) | (Kind::BatchNorm2d, Dims::Chw(c, _, _)) => {
            shape::batchnorm_params(c)
        }
        _ => 0,
    }
}

/// Values kept but not trained (batch-norm running mean and variance), for the summary.
pub fn buffers(kind: Kind, input: Dims) -> usize {
    match (kind, input) {
        (Kind::BatchNorm1d, Dims::Flat(c)) | (Kind::BatchNorm2d, Dims::Chw(c, _, _)) => 2 * c,
        _ => 0,
    }
}

/// The number of input channels/features a layer reads (what `in =>` declares).
pub fn input_width(input: Dims) -> usize {
    match input {
        Dims::Flat(f) => f,
        Dims::Chw(c, _, _) => c,
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate to `word`: same letters up to case, or at most a third of it edited.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = if c.to_lowercase() == lower {
            0
        } else {
            edit_distance(&lower, &c.to_lowercase())
        };
        let limit = (word.chars().count().max(3)) / 3;
        if d <= limit.max(1) && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenet_shapes_follow_the_rules() {
        let conv = Args {
            out: 6,
            kernel: 5,
            ..Args::default()
        };
        assert_eq!(
            output_shape(Kind::Conv2d, &conv, Dims::Chw(3, 32, 32)),
            Ok(Dims::Chw(6, 28, 28))
        );
        assert_eq!(params(Kind::Conv2d, &conv, Dims::Chw(3, 32, 32)), 456);
        let pool = Args {
            kernel: 3,
            stride: 2,
            ..Args::default()
        };
        assert_eq!(
            output_shape(Kind::MaxPool2d, &pool, Dims::Chw(256, 1, 1)),
            Err(ShapeError::WindowTooLarge)
        );
        assert_eq!(
            output_shape(Kind::Dense, &conv, Dims::Chw(16, 5, 5)),
            Err(ShapeError::NeedsFlat)
        );
    }

    #[test]
    fn suggestions_find_near_misses_only() {
        assert_eq!(
            suggest("Conv2D", SPECS.iter().map(|s| s.name)),
            Some("Conv2d")
        );
        assert_eq!(suggest("Relu", SPECS.iter().map(|s| s.name)), Some("ReLU"));
        assert_eq!(suggest("Linear", SPECS.iter().map(|s| s.name)), None);
        assert_eq!(suggest("strde", ["stride", "padding"]), Some("stride"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
