//! The rejection tables and their rendering.

use super::kind::*;
use super::*;

#[test]
fn the_tables_follow_the_kinds() {
    for (i, kind) in RejectionKind::ALL.iter().enumerate() {
        assert_eq!(*kind as usize, i);
        assert!(CLASH[i].contains(&format!("`{kind:?}`")), "{kind:?}");
        assert_eq!(NAMES[i], format!("{kind:?}"));
        assert_eq!(
            RejectionKind::with_code(kind.code_in(Case::Camel), Case::Camel),
            Some(*kind)
        );
    }
    assert_eq!(
        RejectionKind::NotFound.code_in(Case::ScreamingSnake),
        "NOT_FOUND"
    );
    assert_eq!(
        RejectionKind::with_code("not_found", Case::ScreamingSnake),
        None
    );
}

#[test]
fn a_code_clashes_unless_the_variant_answers_that_rejection() {
    assert!(clash("NOT_FOUND", Case::ScreamingSnake, None).is_some());
    assert!(
        clash(
            "NOT_FOUND",
            Case::ScreamingSnake,
            Some(RejectionKind::NotFound)
        )
        .is_none()
    );
    assert!(
        clash(
            "NOT_FOUND",
            Case::ScreamingSnake,
            Some(RejectionKind::BadRequest)
        )
        .is_some()
    );
    assert!(clash("LEAD_NOT_FOUND", Case::ScreamingSnake, None).is_none());
}

#[test]
fn details_by_key() {
    let too_large = Rejection::PayloadTooLarge {
        file_size: Some(5),
        max_size: 4,
    };
    assert_eq!(too_large.detail("max_size"), Some(4.into()));
    assert_eq!(too_large.detail("file_size"), Some(5.into()));
    assert_eq!(too_large.detail("path"), None);
    let unsized_body = Rejection::PayloadTooLarge {
        file_size: None,
        max_size: 4,
    };
    assert_eq!(unsized_body.detail("file_size"), None);
}

/// A limit no one told the surface (a layer inside it refused the body)
/// is not shown as the largest number there is.
#[test]
fn an_unknown_limit_is_left_out() {
    let unknown = Rejection::PayloadTooLarge {
        file_size: None,
        max_size: u64::MAX,
    };
    assert_eq!(unknown.detail("max_size"), None);
    let response = crate::Context::new().render_rejection(&unknown);
    let body = String::from_utf8(response.body().to_vec()).unwrap();
    assert!(!body.contains("18446744073709551615"), "{body}");
    assert!(
        body.contains("Request body exceeds the maximum size"),
        "{body}"
    );
    assert_eq!(unknown.to_string(), "body over the limit");
}
