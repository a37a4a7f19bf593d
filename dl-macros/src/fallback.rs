//! What is emitted for a model with errors: the errors themselves (from [`crate::check::Ctxt`])
//! and a stand-in declaration of the struct with the declared shapes, its inherent items and a
//! `Model` impl, so that code using the model produces no follow-on errors.

use crate::check::CheckedModel;
use crate::expand::{private, shape_ty};
use crate::layers::Dims;
use proc_macro2::{TokenStream, TokenTree};
use quote::quote;

fn declared(dims: Option<&[usize]>) -> Option<Dims> {
    match dims? {
        [f] => Some(Dims::Flat(*f)),
        [c, h, w] => Some(Dims::Chw(*c, *h, *w)),
        _ => None,
    }
}

pub fn fallback_model(krate: &TokenTree, m: &CheckedModel) -> TokenStream {
    let p = private(krate);
    let ast = m.ast;
    let attrs = &ast.attrs;
    let vis = &ast.vis;
    let name = &ast.name;
    let input = declared(ast.input.as_ref().map(|s| &s.dims[..])).unwrap_or(Dims::Flat(1));
    let output = declared(ast.output.as_ref().map(|s| &s.dims[..]))
        .or(m.output)
        .unwrap_or(Dims::Flat(1));
    let in_ty = shape_ty(&p, input);
    let out_ty = shape_ty(&p, output);
    let unreachable = quote!(::core::unreachable!(
        "`sequential!` reported errors for this model"
    ));
    quote! {
        #(#attrs)*
        #vis struct #name {}

        impl #name {
            pub const INPUT_SHAPE: &'static [usize] = &[];
            pub const OUTPUT_SHAPE: &'static [usize] = &[];
            pub const PARAMS: usize = 0;
            pub const SUMMARY: &'static str = "";
            pub fn new<R: #p Rng + ?Sized>(_rng: &mut R) -> Self {
                #unreachable
            }
            pub fn forward<S: #p SameShape<#in_ty>>(&mut self, _x: &#p Act<S>) -> &#p Act<#out_ty> {
                #unreachable
            }
            pub fn forward_train<S: #p SameShape<#in_ty>>(&mut self, _x: &#p Act<S>) -> &#p Act<#out_ty> {
                #unreachable
            }
            pub fn backward<S: #p SameShape<#in_ty>>(&mut self, _x: &#p Act<S>, _dy: &#p Act<#out_ty>) -> &#p Act<#in_ty> {
                #unreachable
            }
            pub fn backward_params<S: #p SameShape<#in_ty>>(&mut self, _x: &#p Act<S>, _dy: &#p Act<#out_ty>) {
                #unreachable
            }
        }

        impl ::core::default::Default for #name {
            fn default() -> Self {
                #unreachable
            }
        }

        impl #p Parameters for #name {
            fn visit(&self, _f: &mut dyn FnMut(#p ParamName<'_>, &#p Param)) {}
            fn visit_mut(&mut self, _f: &mut dyn FnMut(#p ParamName<'_>, &mut #p Param)) {}
        }

        impl #p Model for #name {
            type Input = #in_ty;
            type Output = #out_ty;
            const NUM_PARAMS: usize = 0;
            const SUMMARY: &'static str = "";
            fn new<R: #p Rng + ?Sized>(_rng: &mut R) -> Self {
                #unreachable
            }
            fn forward_mode(&mut self, _x: &#p Act<#in_ty>, _mode: #p Mode) -> &#p Act<#out_ty> {
                #unreachable
            }
            fn backward_mode(
                &mut self,
                _x: &#p Act<#in_ty>,
                _dy: &#p Act<#out_ty>,
                _input_grad: bool,
            ) -> Option<&#p Act<#in_ty>> {
                #unreachable
            }
        }
    }
}
