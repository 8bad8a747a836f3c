//! The input as the derive sees it: borrowed from syn's tree (so every error
//! can point at the original tokens) with the attributes parsed.

use proc_macro2::Span;
use syn::{DeriveInput, Ident, Member, Type};

use crate::attr::{self, Attrs, Keyed, Place};
use crate::case::Case;
use crate::ctxt::Ctxt;

pub(crate) struct Input<'a> {
    pub(crate) original: &'a DeriveInput,
    pub(crate) attrs: Attrs,
    pub(crate) data: Data<'a>,
}

pub(crate) enum Data<'a> {
    Enum(Vec<Variant<'a>>),
    /// A struct is one error: its attributes hold both the type's keys and
    /// the variant's, and this variant borrows them.
    Struct(Box<Variant<'a>>),
}

pub(crate) struct Variant<'a> {
    pub(crate) ident: &'a Ident,
    /// The variant's own attributes (the struct's, for a struct).
    pub(crate) original_attrs: &'a [syn::Attribute],
    /// Variant-level keys; for a struct, taken from the type's attribute.
    pub(crate) attrs: Attrs,
    /// The code clients match on: `code = "..."`, or the variant's name in
    /// the type's `code_case`. Computed once here; validation and every
    /// generated method read it.
    pub(crate) code: String,
    pub(crate) fields: Vec<Field<'a>>,
    pub(crate) docs: String,
    /// thiserror's `#[error("...")]` text, for the catalog.
    pub(crate) error_text: Option<String>,
    pub(crate) in_enum: bool,
}

pub(crate) struct Field<'a> {
    pub(crate) member: Member,
    pub(crate) attrs: Attrs,
    pub(crate) ty: &'a Type,
    /// A `#[source]`/`#[from]`/`source` field, or the one field of an
    /// `#[error(transparent)]` variant: never in details.
    pub(crate) is_cause: bool,
}

impl<'a> Input<'a> {
    pub(crate) fn from_syn(cx: &Ctxt, node: &'a DeriveInput) -> Self {
        match &node.data {
            syn::Data::Enum(data) => {
                let attrs = attr::parse(cx, &node.attrs, Place::Enum);
                let variants = data
                    .variants
                    .iter()
                    .map(|v| {
                        let variant_attrs = attr::parse(cx, &v.attrs, Place::Variant);
                        let wraps_cause = wraps_cause(&v.attrs, &variant_attrs);
                        Variant {
                            ident: &v.ident,
                            original_attrs: &v.attrs,
                            code: code_of(&variant_attrs, &v.ident, attrs.code_case.as_ref()),
                            attrs: variant_attrs,
                            fields: Field::multiple(cx, &v.fields, wraps_cause),
                            docs: attr::docs(&v.attrs),
                            error_text: attr::error_text(&v.attrs),
                            in_enum: true,
                        }
                    })
                    .collect();
                Input {
                    original: node,
                    attrs,
                    data: Data::Enum(variants),
                }
            }
            syn::Data::Struct(data) => {
                let all = attr::parse(cx, &node.attrs, Place::Struct);
                let (type_attrs, variant_attrs) = split_struct_attrs(all);
                let wraps_cause = wraps_cause(&node.attrs, &type_attrs)
                    && wraps_cause(&node.attrs, &variant_attrs);
                let variant = Variant {
                    ident: &node.ident,
                    original_attrs: &node.attrs,
                    code: code_of(&variant_attrs, &node.ident, type_attrs.code_case.as_ref()),
                    attrs: variant_attrs,
                    fields: Field::multiple(cx, &data.fields, wraps_cause),
                    docs: attr::docs(&node.attrs),
                    error_text: attr::error_text(&node.attrs),
                    in_enum: false,
                };
                Input {
                    original: node,
                    attrs: type_attrs,
                    data: Data::Struct(Box::new(variant)),
                }
            }
            syn::Data::Union(data) => {
                cx.error_at(
                    data.union_token.span,
                    "`ApiError` cannot be derived for a union; use an enum (one error per variant) or a struct",
                );
                Input {
                    original: node,
                    attrs: Attrs::default(),
                    data: Data::Enum(Vec::new()),
                }
            }
        }
    }

    pub(crate) fn variants(&self) -> &[Variant<'a>] {
        match &self.data {
            Data::Enum(variants) => variants,
            Data::Struct(variant) => core::slice::from_ref(&**variant),
        }
    }
}

impl Variant<'_> {
    /// Whether a field holds the error's cause (`#[source]`, `#[from]`, ...),
    /// which a client never sees: such a variant cannot be decoded.
    pub(crate) fn has_cause(&self) -> bool {
        self.fields.iter().any(|f| f.is_cause)
    }
}

/// The code of a variant: explicit, or its name in the type's `code_case`
/// (`snake_case` by default).
fn code_of(attrs: &Attrs, ident: &Ident, code_case: Option<&Keyed<Case>>) -> String {
    if let Some(code) = &attrs.code {
        return code.value.value();
    }
    let case = code_case.map_or(Case::Snake, |c| c.value);
    case.apply(&ident.to_string())
}

/// Moves the variant-level keys of a struct's attribute into their own set.
fn split_struct_attrs(mut all: Attrs) -> (Attrs, Attrs) {
    let written = all.written.clone();
    let meant = all.meant.clone();
    let variant = Attrs {
        written,
        meant,
        status: all.status.take(),
        code: all.code.take(),
        message: all.message.take(),
        retryable: all.retryable.take(),
        rejection: all.rejection.take(),
        timeout: all.timeout.take(),
        ..Attrs::default()
    };
    (all, variant)
}

/// Whether a variant (or struct) with these attributes is thiserror's
/// `#[error(transparent)]` around a cause of its own: not rebuff's
/// `#[api(transparent)]`, whose field is an API error it delegates to.
fn wraps_cause(original: &[syn::Attribute], attrs: &Attrs) -> bool {
    attrs.transparent.is_none() && attr::is_error_transparent(original)
}

impl<'a> Field<'a> {
    /// The fields of a variant; `wraps_cause`: its one field is its cause
    /// ([`wraps_cause`]).
    fn multiple(cx: &Ctxt, fields: &'a syn::Fields, wraps_cause: bool) -> Vec<Self> {
        let only = fields.len() == 1;
        fields
            .iter()
            .enumerate()
            .map(|(i, field)| Field {
                member: match &field.ident {
                    Some(ident) => Member::Named(ident.clone()),
                    None => Member::Unnamed(syn::Index {
                        index: u32::try_from(i).unwrap_or(u32::MAX),
                        span: Span::call_site(),
                    }),
                },
                attrs: attr::parse(cx, &field.attrs, Place::Field),
                ty: &field.ty,
                is_cause: attr::is_cause(field) || (wraps_cause && only),
            })
            .collect()
    }

    /// The name the field is bound to in generated match arms.
    pub(crate) fn binding(&self) -> Ident {
        let name = match &self.member {
            Member::Named(ident) => {
                let s = ident.to_string();
                format!("__rebuff_{}", s.strip_prefix("r#").unwrap_or(&s))
            }
            Member::Unnamed(index) => format!("__rebuff_{}", index.index),
        };
        Ident::new(&name, Span::mixed_site())
    }

    /// The binding, reported at the field's type: a trait error on the value
    /// points at the type that lacks the trait.
    pub(crate) fn binding_at_type(&self) -> Ident {
        let mut binding = self.binding();
        let at = syn::spanned::Spanned::span(self.ty);
        binding.set_span(Span::mixed_site().located_at(at));
        binding
    }

    /// The field's name as written (`lead_id`, `0`).
    pub(crate) fn name(&self) -> String {
        match &self.member {
            Member::Named(ident) => {
                let s = ident.to_string();
                s.strip_prefix("r#").map(str::to_owned).unwrap_or(s)
            }
            Member::Unnamed(index) => index.index.to_string(),
        }
    }
}
