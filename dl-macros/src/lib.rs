//! The `sequential!` proc macro of `dl`.
//!
//! Users call it as `dl::sequential!` (or `dl_core::sequential!`): that `macro_rules!` wrapper
//! passes the runtime crate's path as the first token, followed by `;` and the user's input.
#![forbid(unsafe_code)]

use proc_macro::TokenStream;

/// Implementation of `sequential!`; call it through `dl::sequential!`.
#[proc_macro]
pub fn sequential_impl(input: TokenStream) -> TokenStream {
    let _ = input;
    TokenStream::new()
}
