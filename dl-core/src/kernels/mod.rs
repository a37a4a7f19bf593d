//! Compute kernels: the only place in `dl-core` where `unsafe` is allowed.
//!
//! Everything here is exported as safe, slice-based functions that check lengths and strides
//! before touching raw pointers. The GEMM is our own packed, register-tiled kernel with AVX-512,
//! AVX2 + FMA and portable micro-kernels chosen at run time, instead of the house style's
//! `matrixmultiply`: that crate allocates its packing buffers on every call (a steady-state
//! training step must allocate nothing) and trails MKL on our models' skinny shapes. It remains
//! the baseline in benchmarks only. Large products are split across our own persistent worker
//! pool (`pool.rs`), which hands jobs over without allocating; see [`gemm`].

pub mod conv_direct;
pub mod gemm;
pub mod im2col;
pub mod peak;
mod pool;
