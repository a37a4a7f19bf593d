//! Ready models for `dl`, each declared with `sequential!`, with the training rules that belong
//! to them (the perceptron rule, the RBF network's two-stage training).
//!
//! Every model is built from a seeded RNG with `Model::new(&mut rng)`; every file uses only the
//! public API of `dl_core`, so it can be copied into an application unchanged.
//!
//! | model | input → output | parameters |
//! | --- | --- | --- |
//! | [`lenet5::LeNet5Mnist`] | [1, 28, 28] → [10] | 61,706 |
//! | [`lenet5::LeNet5Cifar`] | [3, 32, 32] → [10] | 62,006 |
//! | [`alexnet::AlexNet`] | [3, 227, 227] → [1000] | 62,378,344 |
//! | [`alexnet::AlexNetCifar`] | [3, 32, 32] → [10] | 23,272,266 |
//! | [`mlp::DigitsMlp`] | [64] → [10] | 9,610 |
//! | [`mlp::MnistMlp`] | [784] → [10] | 101,770 |
//! | [`mlp::KerasMnistMlp`] | [784] → [10] | 55,050 |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alexnet;
pub mod classify;
pub mod lenet5;
pub mod lstsq;
pub mod mlp;
pub mod perceptron;
pub mod rbf;
