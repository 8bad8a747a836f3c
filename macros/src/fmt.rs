//! Message templates: `message = "Try again in {retry_after} seconds."`.
//!
//! Placeholders are checked against the variant's fields here, so a typo is
//! reported in the user's words; the literal is then handed to
//! `core::write!` with its original span, so rustc checks the format specs
//! and points inside the user's string.

use syn::LitStr;

use crate::ast::Field;
use crate::ctxt::Ctxt;
use crate::suggest::list;
use crate::symbol::MESSAGE;

pub(crate) struct Template {
    /// The literal to pass to `write!`, placeholders renamed where needed.
    pub(crate) lit: LitStr,
    /// `(name in the literal, index of the field)`, each name once.
    pub(crate) args: Vec<(String, usize)>,
    /// `(index of the field, name of the core::fmt trait it is formatted with)`.
    pub(crate) uses: Vec<(usize, &'static str)>,
    /// Indexes of the fields a width or precision names (`{v:>width$}`):
    /// not displayed, yet what the client reads depends on them.
    pub(crate) counts: Vec<usize>,
    /// The text itself when there is no placeholder (braces unescaped).
    pub(crate) constant: Option<String>,
}

pub(crate) fn parse(
    cx: &Ctxt,
    lit: &LitStr,
    variant: &str,
    fields: &[Field<'_>],
) -> Option<Template> {
    let text = lit.value();
    if text.trim().is_empty() {
        cx.error_spanned_by(lit, format!("the message is empty; write what the client should read, e.g. `{MESSAGE} = \"Lead not found\"`"));
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut constant = String::with_capacity(text.len());
    let mut args: Vec<(String, usize)> = Vec::new();
    let mut uses = Vec::new();
    let mut counts = Vec::new();
    let mut ok = true;
    let mut rest = text.as_str();

    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        constant.push_str(&rest[..at]);
        let brace = &rest[at..];
        if brace.starts_with("{{") || brace.starts_with("}}") {
            out.push_str(&brace[..2]);
            constant.push_str(&brace[..1]);
            rest = &brace[2..];
            continue;
        }
        if brace.starts_with('}') {
            cx.error_spanned_by(
                lit,
                "unmatched `}` in the message; write `}}` for a literal brace",
            );
            return None;
        }
        let Some(close) = brace.find('}') else {
            cx.error_spanned_by(
                lit,
                "unclosed `{` in the message; write `{{` for a literal brace",
            );
            return None;
        };
        let inner = &brace[1..close];
        rest = &brace[close + 1..];
        let (name, spec) = match inner.split_once(':') {
            Some((name, spec)) => (name.trim(), Some(spec)),
            None => (inner.trim(), None),
        };
        let shown = spec.map_or("Display", formatting_trait);
        let Some(arg) = field_ref(cx, lit, name, variant, fields, &mut args, &mut uses, shown)
        else {
            ok = false;
            continue;
        };
        out.push('{');
        out.push_str(&arg);
        if let Some(spec) = spec {
            if spec.contains(".*") {
                cx.error_spanned_by(lit, "`.*` precision is not supported in messages; name the field holding the precision: `{value:.prec$}`");
                ok = false;
                continue;
            }
            out.push(':');
            out.push_str(&rewrite_spec_refs(
                cx,
                lit,
                spec,
                variant,
                fields,
                &mut args,
                &mut counts,
                &mut ok,
            ));
        }
        out.push('}');
    }
    out.push_str(rest);
    constant.push_str(rest);
    if !ok {
        return None;
    }
    Some(Template {
        lit: LitStr::new(&out, lit.span()),
        constant: if args.is_empty() {
            Some(constant)
        } else {
            None
        },
        args,
        uses,
        counts,
    })
}

/// The `core::fmt` trait a format spec formats with: its last character is
/// its type (`?` for `Debug`, `x` for `LowerHex`, ...), if it has one.
fn formatting_trait(spec: &str) -> &'static str {
    match spec.trim_end().chars().last() {
        Some('?') => "Debug",
        Some('x') => "LowerHex",
        Some('X') => "UpperHex",
        Some('o') => "Octal",
        Some('b') => "Binary",
        Some('e') => "LowerExp",
        Some('E') => "UpperExp",
        Some('p') => "Pointer",
        _ => "Display",
    }
}

/// Resolves a placeholder name to a field, returning the name to use in the
/// rewritten literal.
#[allow(clippy::too_many_arguments)]
fn field_ref(
    cx: &Ctxt,
    lit: &LitStr,
    name: &str,
    variant: &str,
    fields: &[Field<'_>],
    args: &mut Vec<(String, usize)>,
    uses: &mut Vec<(usize, &'static str)>,
    shown: &'static str,
) -> Option<String> {
    if name.is_empty() {
        cx.error_spanned_by(
            lit,
            "`{}` does not say which field to show; name it: `{field}`, or `{0}` for a tuple field",
        );
        return None;
    }
    let name = name.strip_prefix("r#").unwrap_or(name);
    let Some(index) = fields.iter().position(|f| f.name() == name) else {
        let have = if fields.is_empty() {
            format!("`{variant}` has no fields")
        } else {
            format!(
                "the fields of `{variant}` are {}",
                list(fields.iter().map(Field::name))
            )
        };
        cx.error_spanned_by(
            lit,
            format!("`{{{name}}}` is not a field of `{variant}`; {have}"),
        );
        return None;
    };
    // Positional names cannot be named arguments of `write!`.
    let arg = if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("__rebuff_{name}")
    } else {
        name.to_owned()
    };
    if !args.iter().any(|(a, _)| *a == arg) {
        args.push((arg.clone(), index));
    }
    uses.push((index, shown));
    Some(arg)
}

/// Width and precision may name a field too: `{value:>width$}`.
#[allow(clippy::too_many_arguments)]
fn rewrite_spec_refs(
    cx: &Ctxt,
    lit: &LitStr,
    spec: &str,
    variant: &str,
    fields: &[Field<'_>],
    args: &mut Vec<(String, usize)>,
    counts: &mut Vec<usize>,
    ok: &mut bool,
) -> String {
    let mut out = String::with_capacity(spec.len());
    let mut word = String::new();
    for c in spec.chars() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if c == '$' && !word.is_empty() {
            // The field is used as a count, not displayed.
            let mut used = Vec::new();
            match field_ref(cx, lit, &word, variant, fields, args, &mut used, "Display") {
                Some(arg) => out.push_str(&arg),
                None => *ok = false,
            }
            counts.extend(used.into_iter().map(|(index, _)| index));
        } else {
            out.push_str(&word);
        }
        word.clear();
        out.push(c);
    }
    out.push_str(&word);
    out
}
