//! Ready models for `dl`, each declared with `sequential!`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
