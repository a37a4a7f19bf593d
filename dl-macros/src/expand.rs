//! Code generation for checked models: a struct with one field per layer, a buffer struct with
//! one activation per layer output and per gradient, straight-line forward and backward passes
//! with every shape written as a literal type, and the `Parameters`, `Model` and `Layer` impls.

use crate::check::{CheckedLayer, CheckedModel, Ctxt};
use crate::layers::{Dims, Kind};
use crate::shape::Pad;
use crate::{check, fallback, parse};
use proc_macro2::{Literal, TokenStream, TokenTree};
use quote::{format_ident, quote};

/// The whole macro: parse, check, then expand every correct model and a fallback for the others.
pub fn sequential(input: TokenStream) -> TokenStream {
    let mut cx = Ctxt::default();
    let Some(inv) = parse::parse(input, &mut cx) else {
        return cx.to_compile_errors();
    };
    let checked = check::check(&inv.models, &mut cx);
    let mut out = cx.to_compile_errors();
    for m in &checked {
        if m.ok {
            out.extend(expand_model(&inv.krate, m));
        } else {
            out.extend(fallback::fallback_model(&inv.krate, m));
        }
    }
    out
}

fn lit(n: usize) -> TokenStream {
    TokenTree::Literal(Literal::usize_unsuffixed(n)).into()
}

/// `Chw<6, 28, 28>` or `Flat<10>`, with the given path prefix (empty inside bodies, where the
/// names are imported).
pub fn shape_ty(prefix: &TokenStream, dims: Dims) -> TokenStream {
    match dims {
        Dims::Flat(f) => {
            let f = lit(f);
            quote!(#prefix Flat<#f>)
        }
        Dims::Chw(c, h, w) => {
            let (c, h, w) = (lit(c), lit(h), lit(w));
            quote!(#prefix Chw<#c, #h, #w>)
        }
    }
}

/// `$crate::__private::`.
pub fn private(krate: &TokenTree) -> TokenStream {
    quote!(#krate::__private::)
}

/// The layer's runtime type; `turbofish` writes `Dense::<400, 120>` for expression position.
fn layer_ty(krate: &TokenTree, l: &CheckedLayer, turbofish: bool) -> TokenStream {
    let p = private(krate);
    let name = format_ident!("{}", crate::layers::spec(l.kind).name);
    let a = &l.args;
    let generics: Vec<TokenStream> = match (l.kind, l.input) {
        (Kind::Dense | Kind::Rbf, Dims::Flat(f)) => vec![lit(f), lit(a.out)],
        (Kind::Conv2d, Dims::Chw(c, _, _)) => {
            let pad = match a.padding {
                Pad::Valid => quote!(0),
                Pad::Explicit(p) => lit(p),
                Pad::Same => quote!({ #p shape::PAD_SAME }),
            };
            vec![lit(c), lit(a.out), lit(a.kernel), lit(a.stride), pad]
        }
        (Kind::MaxPool2d | Kind::AvgPool2d, _) => vec![lit(a.kernel), lit(a.stride)],
        (Kind::BatchNorm1d, Dims::Flat(f)) => vec![lit(f)],
        (Kind::BatchNorm2d, Dims::Chw(c, _, _)) => vec![lit(c)],
        _ => vec![],
    };
    if generics.is_empty() {
        quote!(#p #name)
    } else if turbofish {
        quote!(#p #name::<#(#generics),*>)
    } else {
        quote!(#p #name<#(#generics),*>)
    }
}

/// The expression that builds the layer in `Model::new`.
fn layer_ctor(krate: &TokenTree, l: &CheckedLayer) -> TokenStream {
    let ty = layer_ty(krate, l, true);
    let value = l.args.runtime.map(|v| Literal::f32_suffixed(v as f32));
    match l.kind {
        Kind::Dense | Kind::Conv2d | Kind::Rbf => quote!(#ty::new(rng)),
        Kind::BatchNorm1d | Kind::BatchNorm2d => quote!(#ty::new()),
        Kind::Dropout => quote! {
            #ty::new(#value, rng).expect("invariant: p checked by sequential!")
        },
        Kind::LeakyReLU | Kind::ELU => quote!(#ty::new(#value)),
        _ => quote!(<#ty as ::core::default::Default>::default()),
    }
}

fn group_digits(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The Keras-style table: layer (type), output shape, parameter count, total.
pub fn summary(m: &CheckedModel) -> String {
    let mut rows: Vec<[String; 3]> = Vec::new();
    if let Some(input) = m.input {
        rows.push(["input".into(), input.to_string(), "0".into()]);
    }
    for l in &m.layers {
        rows.push([
            format!("{} ({})", l.state_name, l.text),
            l.output.to_string(),
            group_digits(l.params),
        ]);
    }
    let head = ["Layer (type)", "Output shape", "Param #"];
    let w0 = rows
        .iter()
        .map(|r| r[0].chars().count())
        .chain([head[0].len()])
        .max()
        .unwrap_or(0);
    let w1 = rows
        .iter()
        .map(|r| r[1].len())
        .chain([head[1].len()])
        .max()
        .unwrap_or(0);
    let w2 = rows
        .iter()
        .map(|r| r[2].len())
        .chain([head[2].len()])
        .max()
        .unwrap_or(0);
    let width = w0 + w1 + w2 + 4;
    let mut s = format!("Model: {}\n", m.ast.name);
    s.push_str(&format!(
        "{:<w0$}  {:<w1$}  {:>w2$}\n",
        head[0], head[1], head[2]
    ));
    s.push_str(&"=".repeat(width));
    s.push('\n');
    for r in &rows {
        s.push_str(&format!("{:<w0$}  {:<w1$}  {:>w2$}\n", r[0], r[1], r[2]));
    }
    s.push_str(&"=".repeat(width));
    s.push('\n');
    s.push_str(&format!("Total params: {}\n", group_digits(m.params)));
    if m.buffers > 0 {
        s.push_str(&format!(
            "Non-trainable buffers: {} (batch-norm running statistics)\n",
            group_digits(m.buffers)
        ));
    }
    s
}

fn dims_lits(d: Dims) -> TokenStream {
    let v = d.to_vec().into_iter().map(lit);
    quote!(&[#(#v),*])
}

/// The doc comment of a layer field.
fn field_doc(l: &CheckedLayer) -> String {
    format!(
        "`{}`: {} → {}, {} parameters (state-dict prefix `{}`).",
        l.text,
        l.input,
        l.output,
        group_digits(l.params),
        l.state_name
    )
}

/// One statement of the generated passes: `layer` from `input` to `output`.
struct Step<'a> {
    layer: &'a CheckedLayer,
    input: Dims,
    output: Dims,
}

/// The order the generated passes run the layers in: the declared one, except that a `ReLU`
/// directly before a `MaxPool2d` runs after it, on the pooled values (4× fewer for a 2 × 2 pool).
/// The two orders give the same values and gradients: the maximum of a window is positive exactly
/// when ReLU keeps it, and ReLU leaves positive values as they are, so the pool picks the same
/// position either way and ReLU's derivative at it is the same (0 where the window holds no
/// positive value). NaN propagates through both. `dl-core/tests/model_gradients.rs` checks this
/// against the declared order. The struct, its fields, the summary and the state-dict names
/// keep the declared order.
fn steps(layers: &[CheckedLayer]) -> Vec<Step<'_>> {
    let mut out = Vec::with_capacity(layers.len());
    let mut rest = layers;
    while let Some((l, tail)) = rest.split_first() {
        match tail.first() {
            Some(pool) if l.kind == Kind::ReLU && pool.kind == Kind::MaxPool2d => {
                out.push(Step {
                    layer: pool,
                    input: l.input,
                    output: pool.output,
                });
                out.push(Step {
                    layer: l,
                    input: pool.output,
                    output: pool.output,
                });
                rest = &tail[1..];
            }
            _ => {
                out.push(Step {
                    layer: l,
                    input: l.input,
                    output: l.output,
                });
                rest = tail;
            }
        }
    }
    out
}

fn expand_model(krate: &TokenTree, m: &CheckedModel) -> TokenStream {
    let p = private(krate);
    let none = TokenStream::new();
    let ast = m.ast;
    let attrs = &ast.attrs;
    let vis = &ast.vis;
    let name = &ast.name;
    let buffers = format_ident!("{}Buffers", name);
    let (input, output) = (
        m.input.expect("invariant: ok models have an input shape"),
        m.output.expect("invariant: ok models have an output shape"),
    );
    let in_ty = shape_ty(&p, input);
    let out_ty = shape_ty(&p, output);
    let n = m.layers.len();
    let table = summary(m);
    let has_user_docs = attrs.iter().any(|a| a.path().is_ident("doc"));
    let intro = (!has_user_docs).then(|| {
        let line = format!(" A network declared with `sequential!`: {input} → {output}.");
        quote!(#[doc = #line])
    });
    let doc_table = format!(" ```text\n{table}```");

    // The struct.
    let fields = m.layers.iter().map(|l| {
        let f = &l.field;
        let ty = layer_ty(krate, l, false);
        let doc = format!(" {}", field_doc(l));
        quote!(#[doc = #doc] pub #f: #ty,)
    });
    let steps = steps(&m.layers);
    let buffer_fields = steps.iter().enumerate().map(|(i, s)| {
        let y = format_ident!("y{}", i);
        let ty = shape_ty(&p, s.output);
        let doc = format!(" Output of `{}` ({}).", s.layer.field, s.layer.text);
        quote!(#[doc = #doc] #y: #p Act<#ty>,)
    });
    let grad_fields = steps.iter().enumerate().take(n - 1).map(|(i, s)| {
        let dy = format_ident!("dy{}", i);
        let ty = shape_ty(&p, s.output);
        let doc = format!(" Gradient of the loss with respect to `y{i}`.");
        quote!(#[doc = #doc] #dy: #p Act<#ty>,)
    });
    let buffers_doc = format!(
        " Activation and gradient buffers of [`{name}`], grown on the first call with a batch size and reused."
    );

    // Forward: one statement per layer.
    let forward = steps.iter().enumerate().map(|(i, s)| {
        let f = &s.layer.field;
        let (i_ty, o_ty) = (shape_ty(&none, s.input), shape_ty(&none, s.output));
        let x = if i == 0 {
            quote!(x)
        } else {
            let prev = format_ident!("y{}", i - 1);
            quote!(&b.#prev)
        };
        let y = format_ident!("y{}", i);
        quote!(Layer::<#i_ty, #o_ty>::forward(&mut self.#f, #x, &mut b.#y, mode);)
    });
    let last = format_ident!("y{}", n - 1);

    // Backward: the same statements in reverse.
    let backward = steps.iter().enumerate().rev().map(|(i, s)| {
        let f = &s.layer.field;
        let (i_ty, o_ty) = (shape_ty(&none, s.input), shape_ty(&none, s.output));
        let y = format_ident!("y{}", i);
        let x = if i == 0 {
            quote!(x)
        } else {
            let prev = format_ident!("y{}", i - 1);
            quote!(&b.#prev)
        };
        let dy = if i == n - 1 {
            quote!(dy)
        } else {
            let d = format_ident!("dy{}", i);
            quote!(&b.#d)
        };
        let dx = if i == 0 {
            quote!(dx)
        } else {
            let d = format_ident!("dy{}", i - 1);
            quote!(Some(&mut b.#d))
        };
        let call = quote!(Layer::<#i_ty, #o_ty>::backward(&mut self.#f, #x, &b.#y, #dy, #dx););
        if i == 0 {
            quote! {
                let dx = if input_grad { Some(&mut b.dx) } else { None };
                #call
            }
        } else {
            call
        }
    });

    // Parameters: every layer with parameters, under its state-dict prefix.
    let with_params: Vec<&CheckedLayer> = m
        .layers
        .iter()
        .filter(|l| crate::layers::spec(l.kind).has_params)
        .collect();
    let visit = with_params.iter().map(|l| {
        let f = &l.field;
        let s = &l.state_name;
        quote! {
            self.#f.visit(&mut |n, p| f(ParamName { layer: #s, name: n.name }, p));
        }
    });
    let visit_mut = with_params.iter().map(|l| {
        let f = &l.field;
        let s = &l.state_name;
        quote! {
            self.#f.visit_mut(&mut |n, p| f(ParamName { layer: #s, name: n.name }, p));
        }
    });
    let (visit_f, visit_use) = if with_params.is_empty() {
        (quote!(_f), quote!())
    } else {
        (quote!(f), quote!(use #p {ParamName, Parameters};))
    };

    let ctors = m.layers.iter().map(|l| {
        let f = &l.field;
        let c = layer_ctor(krate, l);
        quote!(#f: #c,)
    });
    let params = lit(m.params);
    let in_dims = dims_lits(input);
    let out_dims = dims_lits(output);
    let in_doc = format!(" Shape of one input sample: `{input}`.");
    let out_doc = format!(" Shape of one output sample: `{output}`.");
    let params_doc = format!(
        " Number of trainable parameters: {}.",
        group_digits(m.params)
    );
    let rng_ty = quote!(#p Rng);
    let all_dims = || std::iter::once(input).chain(m.layers.iter().map(|l| l.output));
    let mut body_names = vec![quote!(Layer)];
    if all_dims().any(|d| matches!(d, Dims::Chw(..))) {
        body_names.insert(0, quote!(Chw));
    }
    if all_dims().any(|d| matches!(d, Dims::Flat(..))) {
        body_names.insert(body_names.len() - 1, quote!(Flat));
    }
    let body_use = quote!(use #p {#(#body_names),*};);

    quote! {
        #(#attrs)*
        #intro
        #[doc = ""]
        #[doc = #doc_table]
        #vis struct #name {
            #(#fields)*
            buffers: #buffers,
        }

        #[doc = #buffers_doc]
        #[doc(hidden)]
        #[derive(Clone, Debug, Default)]
        #vis struct #buffers {
            #(#buffer_fields)*
            #(#grad_fields)*
            /// Gradient with respect to the model input.
            dx: #p Act<#in_ty>,
        }

        impl #name {
            #[doc = #in_doc]
            pub const INPUT_SHAPE: &'static [usize] = #in_dims;
            #[doc = #out_doc]
            pub const OUTPUT_SHAPE: &'static [usize] = #out_dims;
            #[doc = #params_doc]
            pub const PARAMS: usize = #params;
            /// The Keras-style summary table (also in this type's documentation).
            pub const SUMMARY: &'static str = #table;

            /// A model with freshly initialised parameters drawn from `rng` (see [`Model::new`](#p Model::new)).
            pub fn new<R: #rng_ty + ?Sized>(rng: &mut R) -> Self {
                <Self as #p Model>::new(rng)
            }

            /// Inference on a batch (evaluation mode); the result lives in the model's buffers.
            pub fn forward<S: #p SameShape<#in_ty>>(&mut self, x: &#p Act<S>) -> &#p Act<#out_ty> {
                <Self as #p Model>::forward(self, x)
            }

            /// Training-mode forward: keeps what [`Self::backward`] needs.
            pub fn forward_train<S: #p SameShape<#in_ty>>(&mut self, x: &#p Act<S>) -> &#p Act<#out_ty> {
                <Self as #p Model>::forward_train(self, x)
            }

            /// Fills every parameter gradient and returns the gradient with respect to `x`.
            pub fn backward<S: #p SameShape<#in_ty>>(&mut self, x: &#p Act<S>, dy: &#p Act<#out_ty>) -> &#p Act<#in_ty> {
                <Self as #p Model>::backward(self, x, dy)
            }

            /// Fills every parameter gradient, without the input gradient.
            pub fn backward_params<S: #p SameShape<#in_ty>>(&mut self, x: &#p Act<S>, dy: &#p Act<#out_ty>) {
                <Self as #p Model>::backward_params(self, x, dy)
            }
        }

        /// The model [`Self::new`] builds from `StdRng::seed_from_u64(0)`: the same weights on
        /// every run, like PyTorch after `torch.manual_seed(0)`. Seed an RNG yourself for others.
        #[automatically_derived]
        impl ::core::default::Default for #name {
            fn default() -> Self {
                Self::new(&mut <#p StdRng as #p SeedableRng>::seed_from_u64(0))
            }
        }

        #[automatically_derived]
        impl #p Parameters for #name {
            fn visit(&self, #visit_f: &mut dyn FnMut(#p ParamName<'_>, &#p Param)) {
                #visit_use
                #(#visit)*
            }

            fn visit_mut(&mut self, #visit_f: &mut dyn FnMut(#p ParamName<'_>, &mut #p Param)) {
                #visit_use
                #(#visit_mut)*
            }
        }

        #[automatically_derived]
        impl #p Model for #name {
            type Input = #in_ty;
            type Output = #out_ty;
            const NUM_PARAMS: usize = #params;
            const SUMMARY: &'static str = #name::SUMMARY;

            fn new<R: #rng_ty + ?Sized>(rng: &mut R) -> Self {
                #name {
                    #(#ctors)*
                    buffers: ::core::default::Default::default(),
                }
            }

            fn forward_mode(&mut self, x: &#p Act<#in_ty>, mode: #p Mode) -> &#p Act<#out_ty> {
                #body_use
                let b = &mut self.buffers;
                #(#forward)*
                &b.#last
            }

            fn backward_mode(
                &mut self,
                x: &#p Act<#in_ty>,
                dy: &#p Act<#out_ty>,
                input_grad: bool,
            ) -> Option<&#p Act<#in_ty>> {
                #body_use
                let b = &mut self.buffers;
                #(#backward)*
                if input_grad { Some(&b.dx) } else { None }
            }
        }

        /// The whole model as one layer, so it can be gradient-checked and nested.
        #[automatically_derived]
        impl #p Layer<#in_ty, #out_ty> for #name {
            fn forward(&mut self, x: &#p Act<#in_ty>, y: &mut #p Act<#out_ty>, mode: #p Mode) {
                y.copy_from(<Self as #p Model>::forward_mode(self, x, mode));
            }

            fn backward(
                &mut self,
                x: &#p Act<#in_ty>,
                _y: &#p Act<#out_ty>,
                dy: &#p Act<#out_ty>,
                dx: Option<&mut #p Act<#in_ty>>,
            ) {
                match dx {
                    Some(dx) => {
                        if let Some(g) = <Self as #p Model>::backward_mode(self, x, dy, true) {
                            dx.copy_from(g);
                        }
                    }
                    None => {
                        <Self as #p Model>::backward_mode(self, x, dy, false);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expansion of `input` (with `dl` as the runtime crate), pretty-printed.
    pub(crate) fn expand_pretty(input: TokenStream) -> String {
        let tokens = sequential(quote!(dl; #input));
        match syn::parse2::<syn::File>(tokens.clone()) {
            Ok(file) => prettyplease::unparse(&file),
            Err(e) => format!("// not a file: {e}\n{tokens}"),
        }
    }

    #[test]
    fn forward_is_one_statement_per_layer_with_literal_shapes() {
        let s = expand_pretty(quote! {
            pub struct Mlp: [784] -> [10] {
                Dense<128>,
                out: Dense<128 => 10>,
            }
        });
        assert!(
            s.contains(
                "Layer::<Flat<784>, Flat<128>>::forward(&mut self.l0_dense, x, &mut b.y0, mode);"
            ),
            "{s}"
        );
        assert!(
            s.contains(
                "Layer::<Flat<128>, Flat<10>>::forward(&mut self.out, &b.y0, &mut b.y1, mode);"
            ),
            "{s}"
        );
        assert!(s.contains("const NUM_PARAMS: usize = 101770;"), "{s}");
    }

    /// LeNet-5 as the issue declares it (named layers, `in =>`, a fused activation, Dropout).
    fn lenet5() -> TokenStream {
        quote! {
            /// LeNet-5 for 32×32 colour images.
            #[derive(Clone)]
            pub struct LeNet5: [3, 32, 32] -> [10] {
                conv1: Conv2d<6, 5>,
                ReLU,
                MaxPool2d<2>,
                conv2: Conv2d<6 => 16, 5>,
                ReLU,
                MaxPool2d<2, stride = 2>,
                Flatten,
                fc1: Dense<400 => 120, activation = ReLU>,
                fc2: Dense<84>,
                ReLU,
                Dropout(0.5),
                fc3: Dense<10>,
            }
        }
    }

    /// The reviewed expansion of LeNet-5 in `tests/expand/lenet5.expanded.rs`: any change to the
    /// generated code shows up as a diff of that file. Regenerate it with
    /// `UPDATE_EXPAND=1 cargo test -p dl-macros --lib` and review the diff like code.
    #[test]
    fn lenet5_expansion_matches_the_snapshot() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/expand/lenet5.expanded.rs");
        let actual = expand_pretty(lenet5());
        if std::env::var_os("UPDATE_EXPAND").is_some() {
            std::fs::write(&path, &actual).expect("write the snapshot");
        }
        let expected = std::fs::read_to_string(&path).expect("read the snapshot");
        assert!(
            actual == expected,
            "the expansion of LeNet-5 differs from {}; rerun with UPDATE_EXPAND=1 and review the diff",
            path.display()
        );
    }

    /// Measures the macro's own cost (parse, check, expand) per model; run it on purpose with
    /// `cargo test -p dl-macros --release --lib -- --ignored --nocapture expansion_time`.
    /// It prints the median of 200 expansions of each model and asserts nothing about time.
    #[test]
    #[ignore = "a measurement, run on purpose"]
    fn expansion_time() {
        let alexnet = quote! {
            pub struct AlexNet: [3, 227, 227] -> [1000] {
                Conv2d<96, 11, stride = 4>, ReLU, MaxPool2d<3, stride = 2>,
                Conv2d<256, 5, padding = 2>, ReLU, MaxPool2d<3, stride = 2>,
                Conv2d<384, 3, padding = 1>, ReLU,
                Conv2d<384, 3, padding = 1>, ReLU,
                Conv2d<256, 3, padding = 1>, ReLU, MaxPool2d<3, stride = 2>,
                Flatten, Dropout(0.5), Dense<4096>, ReLU, Dropout(0.5), Dense<4096>, ReLU,
                Dense<1000>,
            }
        };
        let mlp = quote! { pub struct Mlp: [784] -> [10] { Dense<128>, ReLU, Dense<10> } };
        for (name, input) in [("LeNet-5", lenet5()), ("AlexNet", alexnet), ("MLP", mlp)] {
            let mut times: Vec<f64> = (0..200)
                .map(|_| {
                    let input = quote!(dl; #input);
                    let t = std::time::Instant::now();
                    let out = sequential(input);
                    let dt = t.elapsed().as_secs_f64();
                    assert!(!out.to_string().contains("compile_error"), "{name}: {out}");
                    dt
                })
                .collect();
            times.sort_by(f64::total_cmp);
            println!("{name}: median expansion {:.3} ms", times[100] * 1e3);
        }
    }
}
