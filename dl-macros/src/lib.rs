//! The `sequential!` proc macro of `dl`.
//!
//! Users call it as `dl::sequential!` (or `dl_core::sequential!`): that `macro_rules!` wrapper
//! passes the runtime crate's path as the first token, followed by `;` and the user's input, so
//! generated code resolves through whichever crate the user depends on.
//!
//! The macro is a pipeline: `parse` (tokens → our AST, spans kept) → `check` (argument
//! validation and shape inference with the rules of `dl-core/src/shape.rs`, all errors collected)
//! → `expand` (the generated struct and impls), with `fallback` declaring a stand-in struct for
//! models with errors so that user code gets no follow-on errors. `layers` is the one table of
//! layer kinds (all private modules of this crate).
//!
//! # State-dict names
//! A named layer (`conv1: Conv2d<6, 5>`) has the parameters `conv1.weight`, `conv1.bias`; an unnamed
//! one uses its position in the list, counting every layer as PyTorch's `nn.Sequential` does. A
//! fused activation (`Dense<120, activation = ReLU>`) becomes two layers, the dense layer and then
//! the activation, and the activation takes the next position, exactly as in the equivalent
//! `nn.Sequential(..., nn.Linear(400, 120), nn.ReLU(), ...)`.
//!
//! # Execution order
//! The generated passes run the layers in the declared order, with one exception: a `ReLU`
//! directly followed by a `MaxPool2d` runs after the pool, on 4× fewer values for a 2 × 2 pool
//! (LeNet-5 training 1.07× faster). The values and gradients are those of the declared order (see
//! `steps` in `expand`); the struct, the summary and the state-dict names keep the declared
//! order.
#![forbid(unsafe_code)]

mod check;
mod expand;
mod fallback;
mod layers;
mod parse;
#[path = "../../dl-core/src/shape.rs"]
#[allow(dead_code)]
mod shape;

use proc_macro::TokenStream;

/// Implementation of `sequential!`; call it through `dl::sequential!`.
#[proc_macro]
pub fn sequential_impl(input: TokenStream) -> TokenStream {
    expand::sequential(input.into()).into()
}
