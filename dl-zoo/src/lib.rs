//! Ready models for `dl`, each declared with `sequential!`, with the training rules that belong
//! to them (the perceptron rule, the RBF network's two-stage training).
//!
//! Every model is built from a seeded RNG with `Model::new(&mut rng)`; every file uses only the
//! public API of `dl_core`, so it can be copied into an application unchanged.
//!
//! | model | input → output | parameters |
//! | --- | --- | --- |
//! | [`lenet5::LeNet5Mnist`] | `[1, 28, 28] → [10]` | 61,706 |
//! | [`lenet5::LeNet5Cifar`] | `[3, 32, 32] → [10]` | 62,006 |
//! | [`alexnet::AlexNet`] | `[3, 227, 227] → [1000]` | 62,378,344 |
//! | [`alexnet::AlexNetCifar`] | `[3, 32, 32] → [10]` | 23,272,266 |
//! | [`mlp::DigitsMlp`] | `[64] → [10]` | 9,610 |
//! | [`mlp::MnistMlp`] | `[784] → [10]` | 101,770 |
//! | [`mlp::KerasMnistMlp`] | `[784] → [10]` | 55,050 |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alexnet;
pub mod classify;
pub mod lenet5;
pub mod lstsq;
pub mod mlp;
pub mod numpy_random;
pub mod perceptron;
pub mod rbf;

#[cfg(test)]
mod tests {
    /// `summary` as it appears in a file's `//!` docs: each line behind `//! `, in a text block.
    fn as_module_doc(summary: &str) -> String {
        let mut doc = String::from("//! ```text\n");
        for line in summary.lines() {
            doc.push_str(format!("//! {line}").trim_end());
            doc.push('\n');
        }
        doc + "//! ```\n"
    }

    /// Each zoo file's module docs carry every model's layer table exactly as `SUMMARY` prints
    /// it, so the docs cannot drift from the declarations.
    #[test]
    fn module_docs_hold_each_models_summary_table() {
        use crate::{alexnet::*, lenet5::*, mlp::*, perceptron::*, rbf::*};
        let files: [(&str, &str, &[&str]); 5] = [
            (
                "lenet5.rs",
                include_str!("lenet5.rs"),
                &[LeNet5Mnist::SUMMARY, LeNet5Cifar::SUMMARY],
            ),
            (
                "alexnet.rs",
                include_str!("alexnet.rs"),
                &[AlexNet::SUMMARY, AlexNetCifar::SUMMARY],
            ),
            (
                "mlp.rs",
                include_str!("mlp.rs"),
                &[
                    DigitsMlp::SUMMARY,
                    MnistMlp::SUMMARY,
                    KerasMnistMlp::SUMMARY,
                ],
            ),
            (
                "perceptron.rs",
                include_str!("perceptron.rs"),
                &[IrisPerceptron::SUMMARY, Perceptron2::SUMMARY],
            ),
            (
                "rbf.rs",
                include_str!("rbf.rs"),
                &[RbfXor::SUMMARY, RbfSine::SUMMARY, RbfIris::SUMMARY],
            ),
        ];
        for (file, src, summaries) in files {
            for summary in summaries {
                let doc = as_module_doc(summary);
                assert!(
                    src.contains(&doc),
                    "{file} lacks this table in its `//!` docs:\n{doc}"
                );
            }
        }
    }
}
