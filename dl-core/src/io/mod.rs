//! Files: checkpoints in the safetensors format, readable and writable by PyTorch.

pub mod safetensors;

pub use self::safetensors::{load, save};
