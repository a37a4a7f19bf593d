//! Compute kernels: the only place in `dl-core` where `unsafe` is allowed.
//!
//! Everything here is exported as safe, slice-based functions that check lengths and strides
//! before calling into `matrixmultiply`.

pub mod conv_direct;
pub mod gemm;
pub mod im2col;
pub mod peak;
