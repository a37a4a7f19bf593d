//! Parsing: tokens → our own AST. Every node keeps the tokens it came from, so later errors can
//! be spanned on exactly the offending layer or argument.
//!
//! Grammar (one invocation holds one or more models):
//! ```text
//! model  := attr* vis 'struct' Ident ':' shape ('->' shape)? '{' (layer (',' layer)* ','?)? '}'
//! shape  := '[' int (',' int)* ']'
//! layer  := (Ident ':')? Ident ('<' args? '>')? ('(' args? ')')?
//! args   := arg (',' arg)* ','?
//! arg    := value | value '=>' value | Ident '=' value
//! value  := '-'? number | Ident ('(' args? ')')?
//! ```
//! A syntax error inside one layer is recorded and parsing goes on with the next layer, so every
//! layer's errors are reported in one build.

use crate::check::Ctxt;
use proc_macro2::{Spacing, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Ident, LitInt, Token, Visibility};

/// `$crate; model*`.
pub struct Invocation {
    /// The runtime crate's path (`$crate` of `dl_core::sequential!`), one token tree.
    pub krate: TokenTree,
    pub models: Vec<ModelAst>,
}

pub struct ModelAst {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub input: Option<ShapeAst>,
    pub output: Option<ShapeAst>,
    pub layers: Vec<LayerAst>,
    /// The `{ ... }` of the layer list.
    pub body_span: Span,
    /// Whether a layer failed to parse (its error is already recorded).
    pub had_syntax_errors: bool,
}

/// `[3, 32, 32]`.
pub struct ShapeAst {
    pub dims: Vec<usize>,
    pub tokens: TokenStream,
}

/// One entry of the layer list, as written.
pub struct LayerAst {
    pub field: Option<Ident>,
    pub name: Ident,
    /// `<...>`, if written.
    pub generics: Option<ArgList>,
    /// `(...)`, if written.
    pub runtime: Option<ArgList>,
    /// All tokens of the entry (without the field name), for spans.
    pub tokens: TokenStream,
}

pub struct ArgList {
    pub args: Vec<Arg>,
    /// The delimiters and everything inside.
    pub tokens: TokenStream,
}

pub enum Arg {
    Pos(Value),
    InOut(Value, Value),
    Named(Ident, Value),
}

pub enum Value {
    Num(Number),
    /// A word, possibly with its own run-time arguments: `same`, `ReLU`, `LeakyReLU(0.2)`.
    Word(Box<LayerAst>),
}

/// A numeric literal, with an optional minus sign.
pub struct Number {
    pub value: f64,
    /// Set when the literal is an integer without sign.
    pub int: Option<usize>,
    /// As written (without suffix), for summaries.
    pub text: String,
    pub tokens: TokenStream,
}

impl Arg {
    pub fn tokens(&self) -> TokenStream {
        match self {
            Arg::Pos(v) => v.tokens(),
            Arg::InOut(a, b) => {
                let (a, b) = (a.tokens(), b.tokens());
                quote::quote!(#a => #b)
            }
            Arg::Named(n, v) => {
                let v = v.tokens();
                quote::quote!(#n = #v)
            }
        }
    }
}

impl Value {
    pub fn tokens(&self) -> TokenStream {
        match self {
            Value::Num(n) => n.tokens.clone(),
            Value::Word(l) => l.tokens.clone(),
        }
    }

    /// As written, normalised (`LeakyReLU(0.2)`, `same`, `2`).
    pub fn text(&self) -> String {
        match self {
            Value::Num(n) => n.text.clone(),
            Value::Word(l) => l.text(),
        }
    }
}

impl LayerAst {
    /// The entry as written, normalised: `Dense<400 => 120, activation = ReLU>`.
    pub fn text(&self) -> String {
        let mut s = self.name.to_string();
        if let Some(g) = &self.generics {
            s.push('<');
            s.push_str(&args_text(&g.args));
            s.push('>');
        }
        if let Some(r) = &self.runtime {
            s.push('(');
            s.push_str(&args_text(&r.args));
            s.push(')');
        }
        s
    }
}

pub fn args_text(args: &[Arg]) -> String {
    args.iter()
        .map(|a| match a {
            Arg::Pos(v) => v.text(),
            Arg::InOut(a, b) => format!("{} => {}", a.text(), b.text()),
            Arg::Named(n, v) => format!("{n} = {}", v.text()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses a whole invocation. Errors go to `cx`; what could be parsed is returned.
pub fn parse(input: TokenStream, cx: &mut Ctxt) -> Option<Invocation> {
    let mut iter = input.into_iter();
    let krate = iter.next()?;
    match iter.next() {
        Some(TokenTree::Punct(p)) if p.as_char() == ';' => {}
        _ => {
            cx.error_spanned(
                &krate,
                "`sequential_impl!` is called through `dl::sequential!`, not directly",
                "write `dl::sequential! { ... }`",
            );
            return None;
        }
    }
    let rest: TokenStream = iter.collect();
    let mut models = Vec::new();
    let parser = |stream: ParseStream| -> syn::Result<()> {
        while !stream.is_empty() {
            models.push(parse_model(stream, cx)?);
        }
        Ok(())
    };
    if let Err(e) = parser.parse2(rest.clone()) {
        cx.push(e);
    }
    if models.is_empty() && !cx.has_errors() {
        cx.error(
            Span::call_site(),
            "`sequential!` declares no model",
            "write `sequential! { pub struct Net: [784] -> [10] { Dense<128>, ReLU, Dense<10> } }`",
        );
    }
    Some(Invocation { krate, models })
}

fn parse_model(input: ParseStream, cx: &mut Ctxt) -> syn::Result<ModelAst> {
    let attrs = input.call(Attribute::parse_outer)?;
    let vis: Visibility = input.parse()?;
    input.parse::<Token![struct]>()?;
    let name: Ident = input.parse()?;
    let mut model = ModelAst {
        attrs,
        vis,
        name,
        input: None,
        output: None,
        layers: Vec::new(),
        body_span: Span::call_site(),
        had_syntax_errors: false,
    };
    if !input.peek(Token![:]) {
        return Err(input.error(format!(
            "expected `:` and the input shape after `struct {}`\n\
             help: write the shape of one input sample, e.g. `struct {}: [3, 32, 32] -> [10] {{ ... }}`",
            model.name, model.name
        )));
    }
    input.parse::<Token![:]>()?;
    model.input = Some(parse_shape(input, "input")?);
    if input.peek(Token![->]) {
        input.parse::<Token![->]>()?;
        model.output = Some(parse_shape(input, "output")?);
    }
    let body;
    let brace = syn::braced!(body in input);
    model.body_span = brace.span.join();
    let stream: TokenStream = body.parse()?;
    for chunk in split_layers(stream) {
        match parse_layer_entry.parse2(chunk) {
            Ok(layer) => model.layers.push(layer),
            Err(e) => {
                cx.push(e);
                model.had_syntax_errors = true;
            }
        }
    }
    Ok(model)
}

fn parse_shape(input: ParseStream, what: &str) -> syn::Result<ShapeAst> {
    if !input.peek(syn::token::Bracket) {
        return Err(input.error(format!(
            "expected the {what} shape in brackets\n\
             help: write `[features]` for vectors or `[channels, height, width]` for images"
        )));
    }
    let group: proc_macro2::Group = match input.parse::<TokenTree>()? {
        TokenTree::Group(g) => g,
        other => return Err(syn::Error::new(other.span(), "expected `[`")),
    };
    let tokens = group.to_token_stream();
    let lits = Parser::parse2(
        syn::punctuated::Punctuated::<LitInt, Token![,]>::parse_terminated,
        group.stream(),
    )
    .map_err(|e| {
        syn::Error::new(
            e.span(),
            format!(
                "the {what} shape must be a list of sizes\n\
                 help: write `[features]` or `[channels, height, width]`, e.g. `[3, 32, 32]`"
            ),
        )
    })?;
    let mut dims = Vec::new();
    for lit in &lits {
        dims.push(lit.base10_parse::<usize>()?);
    }
    Ok(ShapeAst { dims, tokens })
}

/// Splits a layer list at its top-level commas (commas inside `<...>` belong to the layer).
fn split_layers(stream: TokenStream) -> Vec<TokenStream> {
    let mut chunks = Vec::new();
    let mut current = Vec::new();
    let mut depth = 0usize;
    let mut prev_joint: Option<char> = None;
    for tt in stream {
        let mut joint = None;
        if let TokenTree::Punct(p) = &tt {
            match p.as_char() {
                '<' => depth += 1,
                // `=>` and `->` are not closing brackets.
                '>' if !matches!(prev_joint, Some('=' | '-')) => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    chunks.push(std::mem::take(&mut current).into_iter().collect());
                    prev_joint = None;
                    continue;
                }
                _ => {}
            }
            if p.spacing() == Spacing::Joint {
                joint = Some(p.as_char());
            }
        }
        prev_joint = joint;
        current.push(tt);
    }
    if !current.is_empty() {
        chunks.push(current.into_iter().collect());
    }
    chunks
}

fn parse_layer_entry(input: ParseStream) -> syn::Result<LayerAst> {
    let field = if input.peek(Ident) && input.peek2(Token![:]) && !input.peek2(Token![::]) {
        let f: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        Some(f)
    } else {
        None
    };
    let mut layer = parse_layer(input, true)?;
    layer.field = field;
    if !input.is_empty() {
        let rest: TokenStream = input.parse()?;
        return Err(syn::Error::new_spanned(
            rest,
            format!(
                "unexpected tokens after `{}`\n\
                 help: separate layers with `,`; sizes go in `<...>`, run-time values in `(...)`",
                layer.text()
            ),
        ));
    }
    Ok(layer)
}

fn parse_layer(input: ParseStream, allow_generics: bool) -> syn::Result<LayerAst> {
    let start = input.fork();
    if !input.peek(Ident) {
        return Err(input.error(
            "expected a layer, e.g. `Dense<10>`, `Conv2d<6, 5>`, `ReLU` or `Dropout(0.5)`",
        ));
    }
    let name: Ident = input.parse()?;
    let generics = if allow_generics && input.peek(Token![<]) {
        Some(parse_angle_args(input)?)
    } else {
        None
    };
    let runtime = if input.peek(syn::token::Paren) {
        let group: proc_macro2::Group = match input.parse::<TokenTree>()? {
            TokenTree::Group(g) => g,
            other => return Err(syn::Error::new(other.span(), "expected `(`")),
        };
        let args = Parser::parse2(parse_args_until_end, group.stream())?;
        Some(ArgList {
            args,
            tokens: group.to_token_stream(),
        })
    } else {
        None
    };
    let tokens = tokens_between(&start, input);
    Ok(LayerAst {
        field: None,
        name,
        generics,
        runtime,
        tokens,
    })
}

/// The tokens consumed between a fork taken at `start` and the current position of `end`.
fn tokens_between(start: ParseStream, end: ParseStream) -> TokenStream {
    let mut out = TokenStream::new();
    let _ = start.step(|cursor| {
        let mut c = *cursor;
        while c != end.cursor() {
            match c.token_tree() {
                Some((tt, next)) => {
                    out.extend([tt]);
                    c = next;
                }
                None => break,
            }
        }
        Ok(((), c))
    });
    out
}

fn parse_angle_args(input: ParseStream) -> syn::Result<ArgList> {
    let start = input.fork();
    input.parse::<Token![<]>()?;
    let mut args = Vec::new();
    while !input.peek(Token![>]) {
        if input.is_empty() {
            return Err(input.error("expected `>` to close the layer's arguments"));
        }
        args.push(parse_arg(input)?);
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        } else if !input.peek(Token![>]) {
            return Err(input.error(
                "expected `,` or `>` after an argument\n\
                 help: arguments are numbers, `in => out`, or `name = value`, separated by `,`",
            ));
        }
    }
    input.parse::<Token![>]>()?;
    let tokens = tokens_between(&start, input);
    Ok(ArgList { args, tokens })
}

fn parse_args_until_end(input: ParseStream) -> syn::Result<Vec<Arg>> {
    let mut args = Vec::new();
    while !input.is_empty() {
        args.push(parse_arg(input)?);
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(args)
}

fn parse_arg(input: ParseStream) -> syn::Result<Arg> {
    if input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![=>]) {
        let name: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let value = parse_value(input)?;
        return Ok(Arg::Named(name, value));
    }
    let first = parse_value(input)?;
    if input.peek(Token![=>]) {
        input.parse::<Token![=>]>()?;
        let second = parse_value(input)?;
        return Ok(Arg::InOut(first, second));
    }
    Ok(Arg::Pos(first))
}

fn parse_value(input: ParseStream) -> syn::Result<Value> {
    if input.peek(Ident) {
        return Ok(Value::Word(Box::new(parse_layer(input, false)?)));
    }
    let start = input.fork();
    let negative = if input.peek(Token![-]) {
        input.parse::<Token![-]>()?;
        true
    } else {
        false
    };
    let lookahead = input.lookahead1();
    let (value, int, text) = if lookahead.peek(syn::LitInt) {
        let lit: syn::LitInt = input.parse()?;
        let v: u64 = lit.base10_parse()?;
        let int = (!negative).then(|| usize::try_from(v).ok()).flatten();
        (v as f64, int, lit.base10_digits().to_string())
    } else if lookahead.peek(syn::LitFloat) {
        let lit: syn::LitFloat = input.parse()?;
        let v: f64 = lit.base10_parse()?;
        (v, None, lit.base10_digits().to_string())
    } else {
        return Err(syn::Error::new(
            input.span(),
            "expected a number, `in => out`, or `name = value`",
        ));
    };
    let tokens = tokens_between(&start, input);
    Ok(Value::Num(Number {
        value: if negative { -value } else { value },
        int,
        text: if negative { format!("-{text}") } else { text },
        tokens,
    }))
}
