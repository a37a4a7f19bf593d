//! Validation and shape inference: every layer's arguments are checked against the table in
//! [`crate::layers`], every shape is computed with the rules of `dl-core/src/shape.rs`, and every
//! problem is recorded in a [`Ctxt`] so that all of them are reported in one build.
//!
//! Messages follow the house style: lowercase, no final period, the construct in backticks,
//! expected and found with numbers, then a `help:` line.

use crate::layers::{self, Accepts, Args, Dims, Kind, Opt, ShapeError, Spec};
use crate::parse::{Arg, LayerAst, ModelAst, Number, Value};
use crate::shape::Pad;
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident};
use std::fmt::Display;
use syn::Ident;

/// Collects every error of an invocation.
#[derive(Default)]
pub struct Ctxt {
    errors: Vec<syn::Error>,
}

impl Ctxt {
    fn message(msg: impl Display, help: impl Display) -> String {
        format!("{msg}\nhelp: {help}")
    }

    /// An error at `span`.
    pub fn error(&mut self, span: Span, msg: impl Display, help: impl Display) {
        self.errors
            .push(syn::Error::new(span, Self::message(msg, help)));
    }

    /// An error spanning all of `tokens`.
    pub fn error_spanned(&mut self, tokens: impl ToTokens, msg: impl Display, help: impl Display) {
        self.errors
            .push(syn::Error::new_spanned(tokens, Self::message(msg, help)));
    }

    /// An error built elsewhere (a syntax error from `syn`).
    pub fn push(&mut self, e: syn::Error) {
        self.errors.push(e);
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// One `compile_error!` per error.
    pub fn to_compile_errors(&self) -> TokenStream {
        self.errors
            .iter()
            .map(syn::Error::to_compile_error)
            .collect()
    }
}

/// A model whose layers all checked out (or as much of it as could be checked).
pub struct CheckedModel<'a> {
    pub ast: &'a ModelAst,
    /// Whether the model is complete and correct: then `input`, `output` are `Some` and every
    /// layer is in `layers`.
    pub ok: bool,
    pub input: Option<Dims>,
    pub output: Option<Dims>,
    pub layers: Vec<CheckedLayer>,
    pub params: usize,
    pub buffers: usize,
}

/// One layer of the generated struct (a fused activation is a layer of its own).
pub struct CheckedLayer {
    pub kind: Kind,
    pub args: Args,
    /// The struct field: the user's name or `l{index}_{kind}`.
    pub field: Ident,
    /// The state-dict prefix: the user's name or the position in the list.
    pub state_name: String,
    pub input: Dims,
    pub output: Dims,
    pub params: usize,
    pub buffers: usize,
    /// Canonical text with every size written out: `Conv2d<3 => 6, 5, stride = 2>`.
    pub text: String,
}

/// What a layer's arguments declare, before shapes are known.
struct Resolved {
    args: Args,
    /// `in =>` of Dense/Conv2d/Rbf, or the width written in `BatchNorm2d<6>`, with its tokens.
    declared_in: Option<(usize, TokenStream)>,
    /// A fused `activation = ...`.
    activation: Option<(Kind, Args)>,
}

/// Checks every model; errors go to `cx`.
pub fn check<'a>(models: &'a [ModelAst], cx: &mut Ctxt) -> Vec<CheckedModel<'a>> {
    models.iter().map(|m| check_model(m, cx)).collect()
}

fn describe(field: Option<&Ident>, text: &str, index: usize) -> String {
    match field {
        Some(f) => format!("`{f}: {text}` (layer {index})"),
        None => format!("`{text}` (layer {index})"),
    }
}

fn check_model<'a>(ast: &'a ModelAst, cx: &mut Ctxt) -> CheckedModel<'a> {
    let mut ok = !ast.had_syntax_errors;
    let input = ast.input.as_ref().and_then(|s| {
        let dims = match s.dims[..] {
            [f] => Dims::Flat(f),
            [c, h, w] => Dims::Chw(c, h, w),
            _ => {
                cx.error_spanned(
                    &s.tokens,
                    format!(
                        "the input shape of `{}` has {} dimensions, expected 1 (`[features]`) or 3 (`[channels, height, width]`)",
                        ast.name,
                        s.dims.len()
                    ),
                    "write `[784]` for vectors or `[3, 32, 32]` for images; the batch dimension is not written",
                );
                return None;
            }
        };
        if dims.to_vec().contains(&0) {
            cx.error_spanned(
                &s.tokens,
                format!("the input shape {dims} of `{}` has a zero size", ast.name),
                "every dimension must be at least 1",
            );
            return None;
        }
        Some(dims)
    });
    ok &= input.is_some();

    if ast.layers.is_empty() && !ast.had_syntax_errors {
        cx.error(
            ast.body_span,
            format!("`{}` has no layers", ast.name),
            "list the layers between the braces, e.g. `{ Flatten, Dense<10> }`",
        );
        ok = false;
    }

    let mut cur = input;
    let mut prev: Option<String> = None;
    let mut flatten_at: Option<String> = None;
    let mut index = 0;
    let mut layers = Vec::new();
    let mut names: Vec<Ident> = Vec::new();
    for layer in &ast.layers {
        if let Some(f) = &layer.field {
            if f == "buffers" {
                cx.error(
                    f.span(),
                    "the layer name `buffers` is reserved for the model's activation buffers",
                    "choose another name",
                );
                ok = false;
            } else if names.iter().any(|n| n == f) {
                cx.error(
                    f.span(),
                    format!("the layer name `{f}` is used twice in `{}`", ast.name),
                    "give every named layer its own name; it becomes the field and the state-dict prefix",
                );
                ok = false;
            }
            names.push(f.clone());
        }
        let Some(spec) = lookup(layer, cx) else {
            ok = false;
            cur = None;
            index += 1;
            continue;
        };
        let Some(res) = resolve(spec, layer, cx) else {
            ok = false;
            cur = None;
            index += 1;
            continue;
        };
        let this = describe(layer.field.as_ref(), &layer.text(), index);
        let Some(input) = cur else {
            index += 1 + usize::from(res.activation.is_some());
            continue;
        };
        match check_shape(
            spec,
            &res,
            layer,
            input,
            &this,
            prev.as_deref(),
            flatten_at.as_deref(),
            cx,
        ) {
            Some(output) => {
                let field = layer
                    .field
                    .clone()
                    .unwrap_or_else(|| format_ident!("l{}_{}", index, spec.name.to_lowercase()));
                let state_name = match &layer.field {
                    Some(f) => f.to_string(),
                    None => index.to_string(),
                };
                layers.push(CheckedLayer {
                    kind: spec.kind,
                    params: layers::params(spec.kind, &res.args, input),
                    buffers: layers::buffers(spec.kind, input),
                    args: res.args.clone(),
                    field,
                    state_name,
                    input,
                    output,
                    text: canonical(spec.kind, &res.args, Some(input)),
                });
                cur = Some(output);
            }
            None => {
                ok = false;
                cur = recover(spec.kind, &res.args, input);
            }
        }
        if spec.kind == Kind::Flatten {
            flatten_at = Some(this.clone());
        }
        prev = Some(this);
        index += 1;
        if let Some((kind, args)) = res.activation {
            let text = canonical(kind, &args, None);
            if let Some(shape) = cur {
                layers.push(CheckedLayer {
                    kind,
                    field: format_ident!("l{}_{}", index, layers::spec(kind).name.to_lowercase()),
                    state_name: index.to_string(),
                    args,
                    input: shape,
                    output: shape,
                    params: 0,
                    buffers: 0,
                    text: text.clone(),
                });
            }
            prev = Some(describe(None, &text, index));
            index += 1;
        }
    }

    let output = cur;
    if let (Some(decl), Some(out), false) = (&ast.output, output, ast.layers.is_empty())
        && decl.dims != out.to_vec()
    {
        let last = prev.unwrap_or_default();
        cx.error_spanned(
            &decl.tokens,
            format!(
                "`{}` declares the output shape {} but its last layer {last} outputs {out}",
                ast.name,
                Dims::list(&decl.dims),
            ),
            format!(
                "declare `-> {out}`, or change the last layer so that it outputs {}",
                Dims::list(&decl.dims)
            ),
        );
        ok = false;
    }
    if output.is_none() || layers.is_empty() {
        ok = false;
    }
    let params = layers.iter().map(|l| l.params).sum();
    let buffers = layers.iter().map(|l| l.buffers).sum();
    CheckedModel {
        ast,
        ok,
        input,
        output,
        layers,
        params,
        buffers,
    }
}

impl Dims {
    /// Formats a declared dimension list like a shape.
    pub fn list(dims: &[usize]) -> String {
        let inner: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
        format!("[{}]", inner.join(", "))
    }
}

/// After a shape error, the best guess of the layer's output, so later layers are still checked.
fn recover(kind: Kind, args: &Args, input: Dims) -> Option<Dims> {
    match kind {
        Kind::Dense | Kind::Rbf => Some(Dims::Flat(args.out)),
        Kind::Flatten | Kind::BatchNorm1d | Kind::BatchNorm2d => Some(input),
        _ => None,
    }
}

fn lookup(layer: &LayerAst, cx: &mut Ctxt) -> Option<&'static Spec> {
    let name = layer.name.to_string();
    if let Some(spec) = layers::lookup(&name) {
        return Some(spec);
    }
    let names = layers::SPECS.iter().map(|s| s.name);
    let help = match layers::suggest(&name, names) {
        Some(s) => format!("did you mean `{s}`?"),
        None => match pytorch_name(&name) {
            Some(s) => format!("`dl` calls this layer `{s}`"),
            None => format!(
                "the layers are {}",
                layers::SPECS
                    .iter()
                    .map(|s| format!("`{}`", s.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    };
    cx.error(layer.name.span(), format!("unknown layer `{name}`"), help);
    None
}

/// Names from PyTorch and Keras that mean one of our layers.
fn pytorch_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "Linear" => "Dense",
        "Conv2D" | "Convolution2D" => "Conv2d",
        "MaxPooling2D" | "MaxPool2D" => "MaxPool2d",
        "AveragePooling2D" | "AvgPool2D" => "AvgPool2d",
        "BatchNormalization" => "BatchNorm1d` or `BatchNorm2d",
        _ => return None,
    })
}

fn int_arg(n: &Number, what: &str, layer: &str, min: usize, cx: &mut Ctxt) -> Option<usize> {
    match n.int {
        Some(v) if v >= min => Some(v),
        Some(v) => {
            cx.error_spanned(
                &n.tokens,
                format!("the {what} of `{layer}` must be at least {min}, found {v}"),
                match what {
                    "stride" => "stride 1 moves the window one pixel at a time",
                    "kernel size" | "window size" => "the smallest window is 1×1",
                    "input size" => "write the inferred size, or leave out `in =>`",
                    _ => "a layer needs at least one output",
                },
            );
            None
        }
        None => {
            cx.error_spanned(
                &n.tokens,
                format!(
                    "the {what} of `{layer}` must be a whole number, found `{}`",
                    n.text
                ),
                format!(
                    "sizes in `<...>` are whole numbers, e.g. `{}`",
                    layers::lookup(layer).map_or("Dense<10>", |s| s.example)
                ),
            );
            None
        }
    }
}

fn resolve(spec: &'static Spec, layer: &LayerAst, cx: &mut Ctxt) -> Option<Resolved> {
    let mut ok = true;
    let mut res = Resolved {
        args: Args::default(),
        declared_in: None,
        activation: None,
    };
    let name = spec.name;
    if let Some(g) = &layer.generics {
        let takes_generics = !spec.positional.is_empty()
            || spec.optional_positional.is_some()
            || !spec.options.is_empty();
        if !takes_generics {
            let help = match (&spec.runtime, &g.args[..]) {
                (Some(_), [Arg::Pos(v)]) => format!("write `{name}({})`", v.text()),
                (Some((arg, _)), _) => format!("write `{name}({arg})`, e.g. `{}`", spec.example),
                (None, _) => format!("write `{name}`"),
            };
            let msg = if spec.runtime.is_some() {
                format!("`{name}` takes its run-time value in parentheses, not in `<...>`")
            } else {
                format!(
                    "`{name}` takes no arguments, found `<{}>`",
                    crate::parse::args_text(&g.args)
                )
            };
            cx.error_spanned(&g.tokens, msg, help);
            return None;
        }
        let mut positional = 0;
        let mut seen: Vec<Opt> = Vec::new();
        for arg in &g.args {
            match arg {
                Arg::Named(opt_name, value) => {
                    let Some(opt) = spec.options.iter().copied().find(|o| opt_name == o.name())
                    else {
                        let candidates = spec.options.iter().map(|o| o.name());
                        let help = match layers::suggest(&opt_name.to_string(), candidates) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None if spec.options.is_empty() => format!("`{name}` has no options"),
                            None => format!(
                                "the options of `{name}` are {}",
                                spec.options
                                    .iter()
                                    .map(|o| format!("`{}`", o.name()))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        };
                        cx.error(
                            opt_name.span(),
                            format!("unknown option `{opt_name}` for `{name}`"),
                            help,
                        );
                        ok = false;
                        continue;
                    };
                    if seen.contains(&opt) {
                        cx.error(
                            opt_name.span(),
                            format!("the option `{opt_name}` of `{name}` is given twice"),
                            "keep one of them",
                        );
                        ok = false;
                        continue;
                    }
                    seen.push(opt);
                    ok &= resolve_option(spec, opt, value, &mut res, cx);
                }
                Arg::Pos(_) | Arg::InOut(..) => {
                    let what = spec
                        .positional
                        .get(positional)
                        .copied()
                        .or(if positional == 0 {
                            spec.optional_positional
                        } else {
                            None
                        });
                    let Some(what) = what else {
                        let n = spec.positional.len();
                        let msg = if n == 0 && spec.optional_positional.is_some() {
                            format!(
                                "`{name}` takes at most one size in `<...>`, found another: `{}`",
                                arg.tokens()
                            )
                        } else {
                            format!(
                                "`{name}` takes {n} size{} in `<...>` ({}), found another: `{}`",
                                if n == 1 { "" } else { "s" },
                                spec.positional.join(", "),
                                crate::parse::args_text(std::slice::from_ref(arg))
                            )
                        };
                        cx.error_spanned(
                            arg.tokens(),
                            msg,
                            format!(
                                "write e.g. `{}`; options are written `name = value`",
                                spec.example
                            ),
                        );
                        ok = false;
                        positional += 1;
                        continue;
                    };
                    let (declared_in, value) = match arg {
                        Arg::InOut(i, o) if spec.in_arrow && positional == 0 => (Some(i), o),
                        Arg::Pos(v) | Arg::Named(_, v) => (None, v),
                        Arg::InOut(..) => {
                            cx.error_spanned(
                                arg.tokens(),
                                format!("`{name}` does not take an `in =>` size here"),
                                format!("write e.g. `{}`", spec.example),
                            );
                            ok = false;
                            positional += 1;
                            continue;
                        }
                    };
                    let v = match value {
                        Value::Num(n) => int_arg(n, what, name, 1, cx),
                        Value::Word(w) => {
                            cx.error_spanned(
                                &w.tokens,
                                format!(
                                    "expected a number ({what}) in `{name}<...>`, found `{}`",
                                    w.text()
                                ),
                                format!("write e.g. `{}`", spec.example),
                            );
                            None
                        }
                    };
                    if let Some(i) = declared_in {
                        match i {
                            Value::Num(n) => {
                                if let Some(v) = int_arg(n, "input size", name, 1, cx) {
                                    res.declared_in = Some((v, n.tokens.clone()));
                                } else {
                                    ok = false;
                                }
                            }
                            Value::Word(w) => {
                                cx.error_spanned(
                                    &w.tokens,
                                    format!("expected a number before `=>` in `{name}<...>`, found `{}`", w.text()),
                                    "write `in => out` with numbers, or leave out `in =>` to have it inferred",
                                );
                                ok = false;
                            }
                        }
                    }
                    match (v, spec.kind, positional) {
                        (None, ..) => ok = false,
                        (Some(v), Kind::BatchNorm1d | Kind::BatchNorm2d, _) => {
                            res.declared_in = Some((v, value.tokens()));
                        }
                        (Some(v), Kind::MaxPool2d | Kind::AvgPool2d, 0) => res.args.kernel = v,
                        (Some(v), _, 0) => res.args.out = v,
                        (Some(v), _, _) => res.args.kernel = v,
                    }
                    positional += 1;
                }
            }
        }
        if positional < spec.positional.len() {
            let n = spec.positional.len();
            cx.error_spanned(
                &g.tokens,
                format!(
                    "`{name}` needs {n} size{} in `<...>` ({}), found {positional}",
                    if n == 1 { "" } else { "s" },
                    spec.positional.join(", "),
                ),
                format!("write e.g. `{}`", spec.example),
            );
            ok = false;
        }
        if matches!(spec.kind, Kind::MaxPool2d | Kind::AvgPool2d) && !seen.contains(&Opt::Stride) {
            res.args.stride = res.args.kernel;
        }
    } else if !spec.positional.is_empty() && (layer.runtime.is_none() || spec.runtime.is_some()) {
        cx.error(
            layer.name.span(),
            format!(
                "`{name}` needs {} in `<...>`",
                spec.positional.join(" and ")
            ),
            format!("write e.g. `{}`", spec.example),
        );
        ok = false;
    }

    match (&layer.runtime, spec.runtime) {
        (Some(r), None) => {
            let help = if spec.positional.is_empty()
                && spec.options.is_empty()
                && spec.optional_positional.is_none()
            {
                format!("write `{name}`")
            } else {
                format!(
                    "sizes go in angle brackets: write `{name}<{}>`",
                    crate::parse::args_text(&r.args)
                )
            };
            cx.error_spanned(
                &r.tokens,
                format!("`{name}` takes no run-time arguments in parentheses"),
                help,
            );
            ok = false;
        }
        (r, Some((arg_name, default))) => {
            let args = r.as_ref().map_or(&[][..], |r| &r.args[..]);
            let value = match args {
                [] => match default {
                    Some(d) => Some(d),
                    None => {
                        cx.error(
                            layer.name.span(),
                            format!(
                                "`{name}` needs its {} in parentheses",
                                runtime_word(spec.kind)
                            ),
                            format!("write e.g. `{}`", spec.example),
                        );
                        None
                    }
                },
                [Arg::Pos(Value::Num(n))] => Some(n.value),
                [Arg::Named(k, Value::Num(n))] if k == arg_name => Some(n.value),
                [Arg::Named(k, _)] if k != arg_name => {
                    cx.error(
                        k.span(),
                        format!("unknown argument `{k}` for `{name}`"),
                        format!(
                            "write `{name}({arg_name} = ...)` or just the value, e.g. `{}`",
                            spec.example
                        ),
                    );
                    None
                }
                [one] => {
                    cx.error_spanned(
                        one.tokens(),
                        format!(
                            "expected a number as the {} of `{name}`, found `{}`",
                            runtime_word(spec.kind),
                            crate::parse::args_text(std::slice::from_ref(one))
                        ),
                        format!("write e.g. `{}`", spec.example),
                    );
                    None
                }
                [_, extra, ..] => {
                    cx.error_spanned(
                        extra.tokens(),
                        format!(
                            "`{name}` takes one run-time argument ({}), found {}",
                            runtime_word(spec.kind),
                            args.len()
                        ),
                        format!("write e.g. `{}`", spec.example),
                    );
                    None
                }
            };
            match value {
                Some(p) if spec.kind == Kind::Dropout && !(0.0..1.0).contains(&p) => {
                    let tokens = r.as_ref().map(|r| r.tokens.clone()).unwrap_or_default();
                    cx.error_spanned(
                        tokens,
                        format!("the dropout probability must be in [0, 1), found {}", fmt_num(p)),
                        "`p` is the fraction of activations zeroed during training, e.g. `Dropout(0.5)`",
                    );
                    ok = false;
                }
                Some(v) => res.args.runtime = Some(v),
                None => ok = false,
            }
        }
        (None, None) => {}
    }
    ok.then_some(res)
}

fn runtime_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Dropout => "probability",
        Kind::LeakyReLU => "negative slope",
        Kind::ELU => "alpha",
        _ => "value",
    }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

fn resolve_option(spec: &Spec, opt: Opt, value: &Value, res: &mut Resolved, cx: &mut Ctxt) -> bool {
    let name = spec.name;
    match (opt, value) {
        (Opt::Stride, Value::Num(n)) => match int_arg(n, "stride", name, 1, cx) {
            Some(s) => {
                res.args.stride = s;
                true
            }
            None => false,
        },
        (Opt::Padding, Value::Num(n)) => match n.int {
            Some(p) => {
                res.args.padding = if p == 0 { Pad::Valid } else { Pad::Explicit(p) };
                true
            }
            None => {
                cx.error_spanned(
                    &n.tokens,
                    format!("the padding of `{name}` must be `same`, `valid` or a whole number of pixels, found `{}`", n.text),
                    "write e.g. `padding = 2` or `padding = same`",
                );
                false
            }
        },
        (Opt::Padding, Value::Word(w))
            if w.runtime.is_none() && (w.name == "same" || w.name == "valid") =>
        {
            res.args.padding = if w.name == "same" {
                Pad::Same
            } else {
                Pad::Valid
            };
            true
        }
        (Opt::Padding, Value::Word(w)) => {
            let help = match layers::suggest(&w.name.to_string(), ["same", "valid"]) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "`same` keeps the size (stride 1), `valid` is no padding, a number pads that many pixels on each side".to_string(),
            };
            cx.error_spanned(
                &w.tokens,
                format!("the padding of `{name}` must be `same`, `valid` or a whole number of pixels, found `{}`", w.text()),
                help,
            );
            false
        }
        (Opt::Activation, Value::Word(w)) => {
            let act_name = w.name.to_string();
            let Some(act) = layers::lookup(&act_name).filter(|s| s.is_activation) else {
                let acts = layers::SPECS
                    .iter()
                    .filter(|s| s.is_activation)
                    .map(|s| s.name);
                let help = match layers::suggest(&act_name, acts.clone()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if layers::lookup(&act_name).is_some() => {
                        format!("write `{act_name}` as a layer of its own after `{name}`")
                    }
                    None => format!(
                        "the activations are {}",
                        acts.map(|a| format!("`{a}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                cx.error(
                    w.name.span(),
                    format!("`{act_name}` is not an activation"),
                    help,
                );
                return false;
            };
            match resolve(act, w, cx) {
                Some(r) => {
                    res.activation = Some((act.kind, r.args));
                    true
                }
                None => false,
            }
        }
        (Opt::Activation, Value::Num(n)) => {
            cx.error_spanned(
                &n.tokens,
                format!(
                    "expected an activation after `activation =`, found `{}`",
                    n.text
                ),
                "write e.g. `activation = ReLU`",
            );
            false
        }
        (Opt::Stride, Value::Word(w)) => {
            cx.error_spanned(
                &w.tokens,
                format!(
                    "the stride of `{name}` must be a whole number, found `{}`",
                    w.text()
                ),
                "write e.g. `stride = 2`",
            );
            false
        }
    }
}

/// The layer with every size written out, as the summary shows it.
fn canonical(kind: Kind, args: &Args, input: Option<Dims>) -> String {
    let name = layers::spec(kind).name;
    let inw = input.map(layers::input_width);
    let with_in = |out: usize| match inw {
        Some(i) => format!("{i} => {out}"),
        None => out.to_string(),
    };
    match kind {
        Kind::Dense | Kind::Rbf => format!("{name}<{}>", with_in(args.out)),
        Kind::Conv2d => {
            let mut s = format!("{name}<{}, {}", with_in(args.out), args.kernel);
            if args.stride != 1 {
                s.push_str(&format!(", stride = {}", args.stride));
            }
            match args.padding {
                Pad::Valid => {}
                Pad::Same => s.push_str(", padding = same"),
                Pad::Explicit(p) => s.push_str(&format!(", padding = {p}")),
            }
            s + ">"
        }
        Kind::MaxPool2d | Kind::AvgPool2d => {
            if args.stride == args.kernel {
                format!("{name}<{}>", args.kernel)
            } else {
                format!("{name}<{}, stride = {}>", args.kernel, args.stride)
            }
        }
        Kind::BatchNorm1d | Kind::BatchNorm2d => match inw {
            Some(c) => format!("{name}<{c}>"),
            None => name.to_string(),
        },
        Kind::Dropout | Kind::LeakyReLU | Kind::ELU => match args.runtime {
            Some(v) => format!("{name}({})", fmt_num(v)),
            None => name.to_string(),
        },
        _ => name.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn check_shape(
    spec: &Spec,
    res: &Resolved,
    layer: &LayerAst,
    input: Dims,
    this: &str,
    prev: Option<&str>,
    flatten_at: Option<&str>,
    cx: &mut Ctxt,
) -> Option<Dims> {
    let name = spec.name;
    let source = match prev {
        Some(p) => format!("{p} outputs {input}"),
        None => format!("the model input is {input}"),
    };
    let mut ok = true;
    let accepted = !matches!(
        (spec.accepts, input),
        (Accepts::Flat, Dims::Chw(..)) | (Accepts::Image, Dims::Flat(_))
    );
    if let (Some((declared, tokens)), true) = (&res.declared_in, accepted) {
        let actual = layers::input_width(input);
        if *declared != actual {
            let (unit, units) = match input {
                Dims::Flat(_) => ("input feature", "features"),
                Dims::Chw(..) => ("input channel", "channels"),
            };
            let plural = if *declared == 1 { "" } else { "s" };
            let fixed = match spec.kind {
                Kind::BatchNorm1d | Kind::BatchNorm2d => {
                    format!("write `{name}<{actual}>`, or `{name}` to have it inferred")
                }
                _ => {
                    format!("write `{actual} =>`, or leave out `{declared} =>` to have it inferred")
                }
            };
            cx.error_spanned(
                tokens,
                format!("{this} declares {declared} {unit}{plural} but its input has {actual} {units}: {source}"),
                fixed,
            );
            ok = false;
        }
    }
    match layers::output_shape(spec.kind, &res.args, input) {
        Ok(out) => ok.then_some(out),
        Err(ShapeError::NeedsFlat) => {
            let help = match spec.kind {
                Kind::BatchNorm1d => "use `BatchNorm2d` for [C, H, W] feature maps".to_string(),
                _ => format!("insert `Flatten` before `{}`", layer.text()),
            };
            cx.error_spanned(
                &layer.tokens,
                format!("{this} needs a flat input but {source}"),
                help,
            );
            None
        }
        Err(ShapeError::NeedsImage) if spec.kind == Kind::Flatten => {
            cx.error_spanned(
                &layer.tokens,
                format!("{this} gets an input that is already flat: {source}"),
                "remove this `Flatten`",
            );
            None
        }
        Err(ShapeError::NeedsImage) => {
            let help = match (spec.kind, flatten_at) {
                (Kind::BatchNorm2d, _) => "use `BatchNorm1d` for flat features".to_string(),
                (_, Some(f)) => format!("move `{}` before {f}", layer.text()),
                (_, None) => "convolutions and pools need a [channels, height, width] input: declare the model input as `[C, H, W]`".to_string(),
            };
            cx.error_spanned(
                &layer.tokens,
                format!("{this} needs a [channels, height, width] input but {source}"),
                help,
            );
            None
        }
        Err(ShapeError::WindowTooLarge) => {
            let Dims::Chw(_, h, w) = input else {
                return None;
            };
            let k = res.args.kernel;
            let padded = match spec.kind {
                Kind::Conv2d => {
                    let (lo, hi) =
                        crate::shape::pads(h, k, res.args.stride.max(1), res.args.padding);
                    let (l2, h2) =
                        crate::shape::pads(w, k, res.args.stride.max(1), res.args.padding);
                    (h + lo + hi, w + l2 + h2)
                }
                _ => (h, w),
            };
            let map = if padded != (h, w) {
                format!("{}×{} (padded from {h}×{w})", padded.0, padded.1)
            } else {
                format!("{h}×{w}")
            };
            let (what, help) = match spec.kind {
                Kind::Conv2d => (
                    "kernel",
                    format!(
                        "use a kernel of at most {}×{}, add `padding = same`, or remove a pool before this layer",
                        padded.0.min(padded.1),
                        padded.0.min(padded.1)
                    ),
                ),
                _ => (
                    "window",
                    format!(
                        "remove this pool, or keep the map at least {k}×{k} before it (e.g. `padding = same` on the convolutions before it)"
                    ),
                ),
            };
            cx.error_spanned(
                &layer.tokens,
                format!("{this} has a {k}×{k} {what} but its input map is only {map}: {source}"),
                help,
            );
            None
        }
    }
}
