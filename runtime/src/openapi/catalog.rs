//! The catalog of an error type as an OpenAPI document of reusable
//! components, named as OpenAPI allows.

use utoipa::openapi::OpenApi;

use super::Documented;
use super::docs::group;
use super::responses::Responses;
use crate::RejectionKind;

/// A code as the name of a component, which OpenAPI 3.1 spells with
/// letters, digits, `.`, `-` and `_` only: any other character (the `/` of
/// `auth/invalid-email`) becomes `_`.
fn component_key(code: &str) -> String {
    code.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A type's name as the start of its components' names: each path's last
/// segment, generic arguments kept (`Page<Item>` is `Page_Item`, so that
/// two of one generic type do not share names), anything OpenAPI does
/// not allow in a name (`<`, `, `, letters past ASCII) as one `_`.
fn type_key(type_name: &str) -> String {
    let mut short = String::with_capacity(type_name.len());
    let mut segment = String::new();
    let mut chars = type_name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            segment.clear();
        } else if c.is_alphanumeric() || c == '_' {
            segment.push(c);
        } else {
            short.push_str(&segment);
            segment.clear();
            short.push(c);
        }
    }
    short.push_str(&segment);
    let mut key = String::with_capacity(short.len());
    for c in component_key(&short).chars() {
        if c != '_' || !key.ends_with('_') {
            key.push(c);
        }
    }
    let key = key.trim_matches('_');
    if key.is_empty() {
        "Error".to_owned()
    } else {
        key.to_owned()
    }
}

/// The catalog of `E` as an OpenAPI document: every error and rejection
/// as a reusable response per status (with each code's example), and each
/// code's body schema, as components.
pub(crate) fn catalog<E: Documented>() -> OpenApi {
    use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApiBuilder, Paths};
    let docs = Responses::<E>::new()
        .rejections(&RejectionKind::ALL)
        .errors();
    let name = type_key(core::any::type_name::<E>());
    let mut components = ComponentsBuilder::new();
    for (status, response) in group(&docs) {
        components = components.response(format!("{name}.{status}"), response);
    }
    for doc in &docs {
        if let Some(body) = doc.bodies.first() {
            components = components.schema(
                format!("{name}.{}", component_key(&doc.code)),
                body.schema.clone(),
            );
        }
    }
    let components = components.build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(format!("{name} errors"))
                .version("1")
                .description(Some(crate::catalog::markdown::<E>())),
        )
        .paths(Paths::new())
        .components(Some(components))
        .build()
}

#[cfg(test)]
mod tests {
    use super::type_key;

    #[test]
    fn a_types_components_are_named_legally_and_apart() {
        assert_eq!(type_key("my_app::users::LeadError"), "LeadError");
        assert_eq!(
            type_key("my_app::Page<alloc::string::String>"),
            "Page_String"
        );
        assert_ne!(type_key("a::Page<a::X>"), type_key("a::Page<a::Y>"));
        assert_eq!(
            type_key("m::Pair<m::A, core::option::Option<m::B>>"),
            "Pair_A_Option_B"
        );
        assert_eq!(type_key("m::Błąd"), "B_d");
        assert_eq!(type_key("m::ł"), "Error");
        for name in ["a::Vec<a::B<'static>>", "a::Arr<[u8; 4]>", "m::Błąd<m::ż>"] {
            let key = type_key(name);
            assert!(
                key.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')),
                "{key}"
            );
        }
    }
}
