//! The CPU core of `dl`: tensors with compile-time per-sample shapes, layers with forward and
//! backward passes that match PyTorch, losses, optimizers, initialisers and the GEMM kernel.
//!
//! Most users reach this crate through the `dl` facade and its `sequential!` macro.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod data;
pub mod error;
pub mod init;
pub mod io;
#[allow(unsafe_code)]
pub mod kernels;
pub mod layers;
pub mod loss;
pub mod model;
pub mod optim;
pub mod param;
pub mod shape;
pub mod tensor;
pub mod testing;
pub mod train;

pub use error::{Error, Result};
pub use layers::*;
pub use loss::{BceWithLogits, CrossEntropy, KlDiv, Loss, Mse, Penalty};
pub use model::Model;
pub use optim::{Adagrad, Adam, Optimizer, RmsProp, Sgd};
pub use param::{Param, ParamKind, ParamName, Parameters};
pub use tensor::{Act, Chw, Dims, Flat, SameShape, Shape};
pub use train::{
    Callback, EarlyStopping, Evaluation, Fit, FitConfig, History, Metric, ModelCheckpoint,
    Verbosity,
};

/// Everything a model author needs in scope.
pub mod prelude {
    pub use crate::layers::*;
    pub use crate::loss::{BceWithLogits, CrossEntropy, KlDiv, Loss, Mse, Penalty};
    pub use crate::model::Model;
    pub use crate::optim::{Adagrad, Adam, Optimizer, RmsProp, Sgd};
    pub use crate::sequential;
    pub use crate::tensor::{Act, Chw, Flat, Shape};
    pub use crate::train::{
        Callback, CosineAnnealingLr, EarlyStopping, ExponentialLr, Fit, FitConfig, History, Metric,
        ModelCheckpoint, ReduceLrOnPlateau, StepLr, Verbosity,
    };
    pub use crate::{Error, Param, Parameters, Result};
}

/// Declares statically shaped networks; see the `dl-macros` crate docs for the syntax.
///
/// This wrapper hands the path of this crate to the proc macro, so the generated code resolves
/// through whichever crate the user depends on (`dl` or `dl_core`).
#[macro_export]
macro_rules! sequential {
    ($($body:tt)*) => {
        $crate::__private::sequential_impl! { $crate; $($body)* }
    };
}

/// Paths used by code that `sequential!` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::layers::*;
    pub use crate::layers::{Layer, Mode};
    pub use crate::model::Model;
    pub use crate::param::{Param, ParamName, Parameters};
    pub use crate::shape;
    pub use crate::tensor::{Act, Chw, Flat, SameShape, Shape};
    pub use dl_macros::sequential_impl;
    pub use rand::rngs::StdRng;
    pub use rand::{Rng, SeedableRng};
}
