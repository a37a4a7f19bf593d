//! Parameters and buffers, and the one visitor through which optimizers, checkpoints and
//! parameter counting reach them.

use crate::kernels::aligned::AlignedVec;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The source of [`Param::version`]s: every construction and every mutable access takes the
/// next number, so no two states of any parameters of the process share one.
static NEXT_VERSION: AtomicU64 = AtomicU64::new(1);

fn next_version() -> u64 {
    NEXT_VERSION.fetch_add(1, Ordering::Relaxed)
}

/// What a [`Param`] is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// Trained by the optimizer (`weight`, `bias`, RBF `centres`, `gamma`).
    Trainable,
    /// State kept but not trained (`running_mean`, `running_var`).
    Buffer,
    /// An integer counter kept as `f32` and saved as `i64` (`num_batches_tracked`).
    Counter,
}

/// One named tensor of a layer: its value, its gradient (trainable only) and its PyTorch shape.
///
/// The values are read through [`Param::value`] and written through [`Param::value_mut`], which
/// gives the parameter a new [`Param::version`]: layers that keep something computed from their
/// weights between calls (the Winograd filter transforms of [`Conv2d`](crate::Conv2d) in
/// inference) check it to know whether it is still up to date.
///
/// ```
/// use dl_core::Param;
/// let mut p = Param::trainable(&[2], vec![1.0, 2.0]);
/// let v = p.version();
/// assert_eq!(p.value(), [1.0, 2.0]);
/// assert_eq!(p.version(), v); // reading keeps the version
/// p.value_mut()[0] = 3.0;
/// assert_ne!(p.version(), v);
/// assert_eq!(p.value(), [3.0, 2.0]);
/// ```
#[derive(Clone, Debug)]
pub struct Param {
    /// The values, row-major in the PyTorch layout given by [`Param::shape`].
    value: AlignedVec,
    /// The gradient of the last backward pass (same length as `value`; empty for buffers).
    /// `backward` overwrites it, so there is no `zero_grad`.
    pub grad: AlignedVec,
    shape: Vec<usize>,
    kind: ParamKind,
    /// See [`Param::version`].
    version: u64,
}

impl Param {
    /// A trainable parameter with the given PyTorch shape and values.
    pub fn trainable(shape: &[usize], value: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), value.len());
        Param {
            grad: AlignedVec::zeros(value.len()),
            value: value.into(),
            shape: shape.to_vec(),
            kind: ParamKind::Trainable,
            version: next_version(),
        }
    }

    /// A buffer (not trained) with the given shape and values.
    pub fn buffer(shape: &[usize], value: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), value.len());
        Param {
            grad: AlignedVec::new(),
            value: value.into(),
            shape: shape.to_vec(),
            kind: ParamKind::Buffer,
            version: next_version(),
        }
    }

    /// A scalar counter (saved as `i64`, shape `[]` as in PyTorch).
    pub fn counter() -> Self {
        Param {
            grad: AlignedVec::new(),
            value: AlignedVec::zeros(1),
            shape: Vec::new(),
            kind: ParamKind::Counter,
            version: next_version(),
        }
    }

    /// The values, row-major in the PyTorch layout given by [`Param::shape`].
    pub fn value(&self) -> &[f32] {
        &self.value
    }

    /// The values, to write them; gives the parameter a new [`Param::version`].
    pub fn value_mut(&mut self) -> &mut [f32] {
        self.version = next_version();
        &mut self.value
    }

    /// A number that identifies the current values: it changes with every [`Param::value_mut`]
    /// (and [`Param::value_and_grad`]) call and is never shared with another parameter, except
    /// a clone holding the same values.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The PyTorch shape (`[out, in]` for a dense weight, `[]` for a counter).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Trainable, buffer or counter.
    pub fn kind(&self) -> ParamKind {
        self.kind
    }

    /// Whether optimizers update it.
    pub fn is_trainable(&self) -> bool {
        self.kind == ParamKind::Trainable
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.value.len()
    }

    /// Whether it holds no values.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// The gradient, to write it, and the values: for a backward pass that reads the values
    /// while it fills the gradient (the version stays).
    pub fn grad_mut_and_value(&mut self) -> (&mut [f32], &[f32]) {
        (&mut self.grad, &self.value)
    }

    /// The value and gradient, split for an optimizer update; gives the parameter a new
    /// [`Param::version`].
    pub fn value_and_grad(&mut self) -> (&mut [f32], &[f32]) {
        self.version = next_version();
        (&mut self.value, &self.grad)
    }
}

/// Values a layer computes from one of its parameters (Winograd filter transforms, packed
/// weights) and keeps between calls while the parameter's [`Param::version`] and the layout they
/// were computed for (`L`: a panel size, or an algorithm and a panel size) stay the same. Cloned
/// with its layer (the clone's parameter keeps the version, so the values stay valid).
#[derive(Clone, Debug)]
pub(crate) struct Derived<L = usize> {
    values: AlignedVec,
    /// The parameter version and layout of `values`, once computed.
    key: Option<(u64, L)>,
}

impl<L> Default for Derived<L> {
    fn default() -> Self {
        Derived {
            values: AlignedVec::new(),
            key: None,
        }
    }
}

impl<L: Copy + PartialEq> Derived<L> {
    /// The `len` values derived from `param` in layout `layout`, computed by
    /// `fill(param's values, destination)` only when either changed since the last call. Grows
    /// its buffer when needed and otherwise allocates nothing.
    pub(crate) fn get(
        &mut self,
        param: &Param,
        layout: L,
        len: usize,
        fill: impl FnOnce(&[f32], &mut [f32]),
    ) -> &[f32] {
        let key = Some((param.version(), layout));
        if self.key != key || self.values.len() < len {
            fill(param.value(), self.values.at_least(len));
            self.key = key;
        }
        &self.values[..len]
    }
}

/// A parameter's state-dict name: `layer.name`, e.g. `0.weight` or `conv1.bias`.
///
/// Kept as two parts so visiting parameters allocates nothing; `Display` joins them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamName<'a> {
    /// The layer's name: its field name, or its position in the layer list (`"0"`, `"3"`).
    pub layer: &'a str,
    /// The parameter's name within the layer (`"weight"`, `"running_mean"`).
    pub name: &'a str,
}

impl ParamName<'static> {
    /// The name of a parameter of a single layer (no layer prefix): `ParamName::local("weight")`.
    /// Models prefix it with the layer's name when they visit their layers.
    ///
    /// ```
    /// assert_eq!(dl_core::ParamName::local("bias").to_string(), "bias");
    /// ```
    pub const fn local(name: &'static str) -> Self {
        ParamName { layer: "", name }
    }
}

impl fmt::Display for ParamName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.layer.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}.{}", self.layer, self.name)
        }
    }
}

/// Anything that holds parameters: a layer or a whole model.
///
/// Every parameter and buffer is visited in a fixed order with its name; optimizers rely on the
/// order staying the same between calls.
///
/// ```
/// use dl_core::{Dense, Parameters};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let dense = Dense::<4, 3>::new(&mut rng);
/// let mut names = Vec::new();
/// dense.visit(&mut |name, p| names.push(format!("{name} {:?}", p.shape())));
/// assert_eq!(names, ["weight [3, 4]", "bias [3]"]);
/// assert_eq!(dense.num_params(), 15);
/// ```
pub trait Parameters {
    /// Calls `f` on every parameter and buffer, in a fixed order.
    fn visit(&self, f: &mut dyn FnMut(ParamName<'_>, &Param));
    /// Calls `f` on every parameter and buffer, mutably, in the same order as [`Parameters::visit`].
    fn visit_mut(&mut self, f: &mut dyn FnMut(ParamName<'_>, &mut Param));

    /// Number of trainable values (what Keras and PyTorch call the parameter count).
    fn num_params(&self) -> usize {
        let mut n = 0;
        self.visit(&mut |_, p| {
            if p.is_trainable() {
                n += p.len();
            }
        });
        n
    }
}
