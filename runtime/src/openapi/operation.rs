//! What rebuff's responses add to an operation of a document, which may
//! document some statuses already: a status it has gains the errors it
//! lacks (the server can answer with either), and behind a server surface,
//! the operation shows what the surface does to every response it sends.

use std::collections::BTreeMap;

use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Content, RefOr, Required};

use super::docs::{TABLE_HEAD, limit_headers, replayed_header, request_id_header};
use crate::envelope::{Envelope, Problem};
use crate::rate_limit::Families;

/// What a server surface does to every response it sends, as the
/// operations of a document show it.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(any(feature = "axum", feature = "actix")), allow(dead_code))]
pub(super) struct Served {
    /// Whether clients that prefer problem details get them.
    pub(super) negotiates: bool,
    /// The rate limiter's header families, when it has one.
    pub(super) families: Option<Families>,
    /// The longest idempotency key, when it has keys.
    pub(super) max_key: Option<usize>,
}

/// What [`add`] adds to an operation.
pub(super) struct Additions<'a> {
    /// Its errors, by status.
    pub(super) responses: &'a BTreeMap<String, RefOr<Response>>,
    /// The rate-limit header families every response carries.
    pub(super) every: Families,
    /// The surface the operation is served behind, if known.
    pub(super) served: Option<Served>,
    /// Whether idempotency keys apply to the operation's method.
    pub(super) keyed: bool,
    /// The content type of the API's envelope.
    pub(super) envelope: &'static str,
}

/// Adds `additions` to `operation`: each status it lacks, and into each it
/// has (unless a reference, documented elsewhere), the errors, examples,
/// content types and headers it lacks. Then the headers every response
/// carries; behind a surface, no problem details beside the envelope
/// where it does not negotiate them, no rate-limit header its limiter
/// does not send, and where its keys apply, the `Idempotency-Key`
/// parameter and the `Idempotent-Replayed` header of a success.
pub(super) fn add(operation: &mut Operation, additions: &Additions<'_>) {
    let own = &mut operation.responses.responses;
    for (status, ours) in additions.responses {
        match (own.get_mut(status), ours) {
            (None, _) => {
                own.insert(status.clone(), ours.clone());
            }
            (Some(RefOr::T(have)), RefOr::T(ours)) => merge(have, ours),
            _ => {}
        }
    }
    let served = additions.served;
    let mut every = limit_headers(additions.every.legacy, additions.every.ietf);
    if served.is_some() {
        every.push(("X-Request-Id", request_id_header()));
    }
    let keys = served
        .and_then(|served| served.max_key)
        .filter(|_| additions.keyed);
    for (status, response) in own.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        for (name, header) in &every {
            add_header(response, name, header);
        }
        let Some(served) = served else { continue };
        if !served.negotiates
            && additions.envelope != Problem::CONTENT_TYPE
            && response.content.contains_key(additions.envelope)
        {
            response.content.shift_remove(Problem::CONTENT_TYPE);
        }
        if let Some(families) = served.families {
            for (name, _) in limit_headers(!families.legacy, !families.ietf) {
                response
                    .headers
                    .retain(|have, _| !have.eq_ignore_ascii_case(name));
            }
        }
        if keys.is_some() && replayable(status) {
            add_header(response, "Idempotent-Replayed", &replayed_header());
        }
    }
    if let Some(max_key) = keys {
        add_key_parameter(operation, max_key);
    }
}

/// Whether an answer of `status` (`"201"`, `"4XX"`, `"default"`) can be
/// one kept for its key and replayed: not a 5xx, nor one that asks to be
/// retried (408, 429, ...), as the keys keep them.
fn replayable(status: &str) -> bool {
    match status
        .parse::<u16>()
        .ok()
        .and_then(|code| http::StatusCode::from_u16(code).ok())
    {
        Some(code) => crate::api_error::replayable_status(code),
        None => status.starts_with(['2', '3', '4']),
    }
}

/// `ours` merged into `have`, a response of the same status.
fn merge(have: &mut Response, ours: &Response) {
    describe(&mut have.description, &ours.description);
    for (content_type, content) in &ours.content {
        match have.content.get_mut(content_type) {
            Some(have) => merge_content(have, content),
            None => {
                have.content.insert(content_type.clone(), content.clone());
            }
        }
    }
    for (name, header) in &ours.headers {
        add_header(have, name, header);
    }
}

/// The examples and schema of `ours` added to `have`'s. An example of a
/// code `have` shows too is replaced: rebuff's of a surface's rejection is
/// rendered as that surface sends it (with its body limit, say).
fn merge_content(have: &mut Content, ours: &Content) {
    for (name, example) in &ours.examples {
        have.examples.insert(name.clone(), example.clone());
    }
    // A content without a schema says nothing of its bodies' shape, and
    // stays so.
    let (Some(have), Some(ours)) = (&mut have.schema, &ours.schema) else {
        return;
    };
    let mut items = match ours {
        RefOr::T(Schema::AnyOf(any)) => any.items.clone(),
        one => vec![one.clone()],
    };
    match have {
        RefOr::T(Schema::AnyOf(any)) => {
            items.retain(|item| !any.items.contains(item));
            any.items.extend(items);
        }
        one => {
            items.retain(|item| item != one);
            if !items.is_empty() {
                let any = items
                    .into_iter()
                    .fold(AnyOfBuilder::new().item(one.clone()), AnyOfBuilder::item);
                *one = RefOr::T(any.into());
            }
        }
    }
}

/// `ours`'s table rows of codes `have` lacks, added at the end of its
/// table, or as a table after its text.
fn describe(have: &mut String, ours: &str) {
    let Some(table) = ours.find(TABLE_HEAD).map(|at| &ours[at..]) else {
        return;
    };
    let mut lines = table.lines();
    let (Some(head), Some(rule)) = (lines.next(), lines.next()) else {
        return;
    };
    let rows: Vec<&str> = lines
        .filter(|row| {
            row.starts_with('|')
                && !have
                    .lines()
                    .any(|line| line.starts_with('|') && code(line) == code(row))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let mut added = String::new();
    for row in &rows {
        added.push_str(row);
        added.push('\n');
    }
    match have.find(TABLE_HEAD) {
        Some(at) => {
            // After the table's last row: the first line past it that is
            // not one.
            let mut end = at;
            for line in have[at..].split_inclusive('\n') {
                if !line.starts_with('|') {
                    break;
                }
                end += line.len();
            }
            if !have[..end].ends_with('\n') {
                added.insert(0, '\n');
            }
            have.insert_str(end, &added);
        }
        None => {
            let trimmed = have.trim_end().len();
            have.truncate(trimmed);
            if !have.is_empty() {
                have.push_str("\n\n");
            }
            have.push_str(head);
            have.push('\n');
            have.push_str(rule);
            have.push('\n');
            have.push_str(&added);
        }
    }
}

/// A table row's code: its first cell.
fn code(row: &str) -> Option<&str> {
    row.split('|').nth(1).map(str::trim)
}

/// `header` on `response` unless it has one of that name, in any case.
fn add_header(response: &mut Response, name: &str, header: &Header) {
    if !response
        .headers
        .keys()
        .any(|have| have.eq_ignore_ascii_case(name))
    {
        response.headers.insert(name.to_owned(), header.clone());
    }
}

/// The `Idempotency-Key` request header, unless the operation has it.
fn add_key_parameter(operation: &mut Operation, max_key: usize) {
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    if parameters.iter().any(|parameter| {
        parameter.parameter_in == ParameterIn::Header
            && parameter.name.eq_ignore_ascii_case("Idempotency-Key")
    }) {
        return;
    }
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max_key));
    parameters.push(
        ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(format!(
                "A key of the client's choosing, 1 to {max_key} printable ASCII characters \
                 (a UUID, say): the request sent again with the same key and body gets the \
                 first answer, marked `Idempotent-Replayed: true`, instead of being done twice."
            )))
            .schema(Some(schema))
            .build(),
    );
}

#[cfg(test)]
mod tests {
    use super::describe;

    const OURS: &str = "Internal Server Error.\n\n| Code | Message | Retry | Description |\n|---|---|---|---|\n| `INTERNAL_ERROR` | Internal error | Yes, with backoff | A panic. |\n";

    #[test]
    fn a_description_gains_the_rows_it_lacks() {
        let mut have = "Internal Server Error.\n\n| Code | Message | Retry | Description |\n|---|---|---|---|\n| `STORAGE` | Storage failed | Yes, with backoff |  |\nSee the runbook.".to_owned();
        describe(&mut have, OURS);
        assert_eq!(
            have,
            "Internal Server Error.\n\n| Code | Message | Retry | Description |\n|---|---|---|---|\n| `STORAGE` | Storage failed | Yes, with backoff |  |\n| `INTERNAL_ERROR` | Internal error | Yes, with backoff | A panic. |\nSee the runbook."
        );
        let once = have.clone();
        describe(&mut have, OURS);
        assert_eq!(have, once, "a row it has is not added again");
    }

    #[test]
    fn a_description_of_its_own_gets_the_table_after_it() {
        let mut have = "Ours.\n".to_owned();
        describe(&mut have, OURS);
        assert_eq!(
            have,
            "Ours.\n\n| Code | Message | Retry | Description |\n|---|---|---|---|\n| `INTERNAL_ERROR` | Internal error | Yes, with backoff | A panic. |\n"
        );
        let mut empty = String::new();
        describe(&mut empty, OURS);
        assert!(empty.starts_with(super::TABLE_HEAD), "{empty}");
    }
}
