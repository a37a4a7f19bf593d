//! Layers: one file per layer, each a [`Layer`] from an input shape to an output shape.
//!
//! # The layer contract
//! - [`Layer::forward`] reads a batch `x` and writes `y`, setting `y`'s batch size. In
//!   [`Mode::Train`] it keeps what [`Layer::backward`] needs (a dropout mask, batch statistics, …)
//!   in buffers of the layer; in [`Mode::Eval`] it keeps nothing.
//! - [`Layer::backward`] follows a training-mode forward on the same `x`. Given `x`, `y` and the
//!   gradient `dy` of the loss with respect to `y`, it **overwrites** every parameter's gradient
//!   and, when `dx` is given, writes the gradient with respect to `x` (the first layer of a model
//!   skips it).
//! - Neither allocates once its buffers have seen the batch size (buffers only grow).
//! - Layers whose output shape is not their input shape check, at compile time, that the two
//!   agree with the rules of [`crate::shape`]; `sequential!` computes the same shapes while it
//!   expands, so this assertion is a backstop that fires only for hand-written code.

use crate::param::Parameters;
use crate::tensor::{Act, Shape};

mod activation;
mod avgpool2d;
mod batchnorm;
mod conv2d;
mod dense;
mod dropout;
mod elu;
mod flatten;
mod gelu;
mod leaky_relu;
mod log_softmax;
mod maxpool2d;
mod rbf;
mod relu;
mod sigmoid;
mod sign;
mod softmax;
mod tanh;
pub use avgpool2d::AvgPool2d;
pub use batchnorm::{BatchNorm, BatchNorm1d, BatchNorm2d};
pub use conv2d::Conv2d;
pub use dense::Dense;
pub use dropout::Dropout;
pub use elu::ELU;
pub use flatten::Flatten;
pub use gelu::GELU;
pub use leaky_relu::LeakyReLU;
pub use log_softmax::LogSoftmax;
pub use maxpool2d::MaxPool2d;
pub use rbf::Rbf;
pub use relu::ReLU;
pub use sigmoid::Sigmoid;
pub use sign::Sign;
pub use softmax::Softmax;
pub use tanh::Tanh;

/// Training or evaluation: Dropout and BatchNorm behave differently in each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Training: dropout is active, batch norm uses and updates batch statistics, caches are kept.
    Train,
    /// Evaluation: dropout is the identity, batch norm uses its running statistics, and the
    /// Winograd 3 × 3 convolutions use larger tiles (the same result up to rounding, see
    /// [`Conv2d`]).
    #[default]
    Eval,
}

/// A layer mapping batches of shape `I` to batches of shape `O` (see the module docs).
pub trait Layer<I: Shape, O: Shape>: Parameters {
    /// Computes `y` from `x`; sets `y`'s batch size to `x`'s.
    fn forward(&mut self, x: &Act<I>, y: &mut Act<O>, mode: Mode);

    /// Fills the parameter gradients and, if `dx` is given, the input gradient (its batch size is set).
    fn backward(&mut self, x: &Act<I>, y: &Act<O>, dy: &Act<O>, dx: Option<&mut Act<I>>);
}

/// Implements [`Parameters`] for a layer with no parameters.
macro_rules! no_params {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::param::Parameters for $t {
            fn visit(&self, _: &mut dyn FnMut($crate::param::ParamName<'_>, &$crate::param::Param)) {}
            fn visit_mut(
                &mut self,
                _: &mut dyn FnMut($crate::param::ParamName<'_>, &mut $crate::param::Param),
            ) {
            }
        }
    )*};
}
#[allow(unused_imports)]
pub(crate) use no_params;
