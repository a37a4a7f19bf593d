//! `dl`: declare a network with `sequential!`, get statically shaped, compile-time-checked
//! forward and backward code over a hand-written CPU core.
//!
//! This facade re-exports [`dl_core`] (tensors, layers, losses, optimizers, training, I/O) and the
//! model zoo; `use dl::prelude::*;` brings what a model author needs into scope.

pub use dl_core::*;
pub use dl_zoo as zoo;

/// Everything a model author needs in scope.
pub mod prelude {
    pub use dl_core::prelude::*;
}
