//! The slot tables: which members of an error body are read, and into
//! which slot. One table ([`Fields`]) serves every object that describes an
//! error (the body's top level, a nested `error` object, an entry of an
//! `errors` list), so the rules of `pick` read them all alike.

use serde_json::value::RawValue;

use super::json::{self, Member, RetryAfterSecs, Slot, Slots};
use super::names;

/// The members of an object describing an error, borrowed unparsed. Several
/// names that mean the same thing share a slot (the first in the body
/// wins); request ids are ranked by [`names::REQUEST_ID_MEMBERS`].
#[derive(Default)]
pub(super) struct Fields<'a> {
    /// `code`, `Code`.
    pub(super) code: Option<&'a RawValue>,
    /// `error_code`, `errorCode`, `serviceErrorCode`, `ErrorCode`,
    /// `errorcode`.
    pub(super) error_code: Option<&'a RawValue>,
    pub(super) status: Option<&'a RawValue>,
    /// `type`.
    pub(super) kind: Option<&'a RawValue>,
    pub(super) name: Option<&'a RawValue>,
    pub(super) reason: Option<&'a RawValue>,
    pub(super) category: Option<&'a RawValue>,
    pub(super) id: Option<&'a RawValue>,
    /// `__type` (AWS JSON protocols).
    pub(super) aws_type: Option<&'a RawValue>,
    /// `message`, `Message`.
    pub(super) message: Option<&'a RawValue>,
    pub(super) detail: Option<&'a RawValue>,
    pub(super) title: Option<&'a RawValue>,
    /// `description`, `error_description`, `errorSummary`, `error_summary`,
    /// `msg`, `err`, `error_message`, `errorMessage`, `ErrorMessage`,
    /// `faultstring`: the text under another name.
    pub(super) description: Option<&'a RawValue>,
    pub(super) details: Option<&'a RawValue>,
    /// `errors`; `Error` (the entries of `QuickBooks`' `Fault`).
    pub(super) errors: Option<&'a RawValue>,
    /// `error_codes`, `errorCodes`.
    pub(super) error_codes: Option<&'a RawValue>,
    /// `errorMessages`, `error_messages`.
    pub(super) error_messages: Option<&'a RawValue>,
    pub(super) issue: Option<&'a RawValue>,
    pub(super) extensions: Option<&'a RawValue>,
    pub(super) locations: Option<&'a RawValue>,
    pub(super) path: Option<&'a RawValue>,
    pub(super) request_id: Option<(u8, &'a RawValue)>,
    /// `innerError` (Microsoft Graph), which holds the request id.
    pub(super) inner_error: Option<&'a RawValue>,
    /// `retry_after`, `retryAfter`, `retryDelay`, `estimated_time` (Hugging
    /// Face's seconds until a model is loaded).
    pub(super) retry_after: Option<RetryAfterSecs>,
    /// `parameters` (Telegram's `ResponseParameters`), which holds a
    /// `retry_after`.
    pub(super) parameters: Option<&'a RawValue>,
    /// Which raw slots a member was read into ([`bit`]): the rules skip an
    /// object that has none of the members they look at in one test.
    pub(super) filled: u32,
}

/// One bit per raw slot of [`Fields`], for [`Fields::filled`].
pub(super) mod bit {
    pub(in super::super) const MESSAGE: u32 = 1;
    pub(in super::super) const CODE: u32 = 1 << 1;
    pub(in super::super) const DETAILS: u32 = 1 << 2;
    pub(in super::super) const STATUS: u32 = 1 << 3;
    pub(in super::super) const KIND: u32 = 1 << 4;
    pub(in super::super) const TITLE: u32 = 1 << 5;
    pub(in super::super) const DETAIL: u32 = 1 << 6;
    pub(in super::super) const ERRORS: u32 = 1 << 7;
    pub(in super::super) const ERROR_CODE: u32 = 1 << 8;
    pub(in super::super) const NAME: u32 = 1 << 9;
    pub(in super::super) const REASON: u32 = 1 << 10;
    pub(in super::super) const CATEGORY: u32 = 1 << 11;
    pub(in super::super) const ID: u32 = 1 << 12;
    pub(in super::super) const AWS_TYPE: u32 = 1 << 13;
    pub(in super::super) const DESCRIPTION: u32 = 1 << 14;
    pub(in super::super) const ERROR_CODES: u32 = 1 << 15;
    pub(in super::super) const ERROR_MESSAGES: u32 = 1 << 16;
    pub(in super::super) const ISSUE: u32 = 1 << 17;
    pub(in super::super) const EXTENSIONS: u32 = 1 << 18;
    pub(in super::super) const LOCATIONS: u32 = 1 << 19;
    pub(in super::super) const PATH: u32 = 1 << 20;
    pub(in super::super) const INNER_ERROR: u32 = 1 << 21;
    pub(in super::super) const PARAMETERS: u32 = 1 << 22;
}

impl<'a> Fields<'a> {
    /// The slot of a member, for any parent table.
    #[inline]
    pub(super) fn field<N>(&mut self, key: &str) -> Option<Slot<'_, 'a, N>> {
        // Compared in order: the members most bodies have come first.
        let (slot, bit) = match key {
            "message" | "Message" => (&mut self.message, bit::MESSAGE),
            "code" | "Code" => (&mut self.code, bit::CODE),
            "details" => (&mut self.details, bit::DETAILS),
            "retry_after" | "retryAfter" | "retryDelay" | "estimated_time" => {
                return Some(Slot::RetryAfter(&mut self.retry_after));
            }
            "status" => (&mut self.status, bit::STATUS),
            "type" => (&mut self.kind, bit::KIND),
            "title" => (&mut self.title, bit::TITLE),
            "detail" => (&mut self.detail, bit::DETAIL),
            "errors" | "Error" => (&mut self.errors, bit::ERRORS),
            "error_code" | "errorCode" | "serviceErrorCode" | "ErrorCode" | "errorcode" => {
                (&mut self.error_code, bit::ERROR_CODE)
            }
            "name" => (&mut self.name, bit::NAME),
            "reason" => (&mut self.reason, bit::REASON),
            "category" => (&mut self.category, bit::CATEGORY),
            "id" => (&mut self.id, bit::ID),
            "__type" => (&mut self.aws_type, bit::AWS_TYPE),
            "description" | "error_description" | "errorSummary" | "error_summary" | "msg"
            | "err" | "error_message" | "errorMessage" | "ErrorMessage" | "faultstring" => {
                (&mut self.description, bit::DESCRIPTION)
            }
            "error_codes" | "errorCodes" => (&mut self.error_codes, bit::ERROR_CODES),
            "errorMessages" | "error_messages" => (&mut self.error_messages, bit::ERROR_MESSAGES),
            "issue" => (&mut self.issue, bit::ISSUE),
            "extensions" => (&mut self.extensions, bit::EXTENSIONS),
            "locations" => (&mut self.locations, bit::LOCATIONS),
            "path" => (&mut self.path, bit::PATH),
            "innerError" => (&mut self.inner_error, bit::INNER_ERROR),
            "parameters" => (&mut self.parameters, bit::PARAMETERS),
            // RFC 9457's own, read by no shape.
            "instance" => return Some(Slot::Skip),
            other => {
                let rank = names::request_id_member(other)?;
                return Some(Slot::Ranked(&mut self.request_id, rank));
            }
        };
        self.filled |= bit;
        Some(Slot::Raw(slot))
    }

    /// The request id member, if the object had one.
    #[inline]
    pub(super) fn request_id(&self) -> Option<&'a RawValue> {
        self.request_id.map(|(_, raw)| raw)
    }
}

impl<'a> Slots<'a> for Fields<'a> {
    type Nested = Self;

    fn slot(&mut self, key: &str) -> Option<Slot<'_, 'a, Self>> {
        self.field(key)
    }
}

/// The top level of a body: its [`Fields`], the `error` member read in
/// place, and the members that tell the shape.
#[derive(Default)]
pub(super) struct Top<'a> {
    /// Read as it comes: an error object is read into its slots in the
    /// same pass over the body.
    pub(super) error: Option<ErrorMember<'a>>,
    pub(super) success: Option<&'a RawValue>,
    pub(super) ok: Option<&'a RawValue>,
    /// `JSend`'s `data`: on a `"fail"`, the rejected fields.
    pub(super) data: Option<&'a RawValue>,
    pub(super) fields: Fields<'a>,
}

impl Top<'_> {
    /// How many of the members read are not RFC 9457's own (nor rebuff's
    /// `code` and `request_id`): with the members no slot takes, a problem
    /// document's extension members. Counted only when a problem document
    /// is read, so no other shape pays for it.
    pub(super) fn extensions_read(&self) -> usize {
        let f = &self.fields;
        let raw = [
            f.error_code,
            f.name,
            f.reason,
            f.category,
            f.id,
            f.aws_type,
            f.message,
            f.description,
            f.details,
            f.errors,
            f.error_codes,
            f.error_messages,
            f.issue,
            f.extensions,
            f.locations,
            f.path,
            f.inner_error,
            f.parameters,
            self.success,
            self.ok,
            self.data,
        ];
        raw.iter().filter(|slot| slot.is_some()).count()
            + usize::from(self.error.is_some())
            + usize::from(f.retry_after.is_some())
            + usize::from(f.request_id.is_some_and(|(rank, _)| rank > 0))
    }
}

impl<'a> Slots<'a> for Top<'a> {
    type Nested = ErrorObject<'a>;

    fn slot(&mut self, key: &str) -> Option<Slot<'_, 'a, ErrorObject<'a>>> {
        match key {
            // The error object under other names: AWS's query protocols in
            // JSON (`Error`), Apigee (`fault`), QuickBooks (`Fault`),
            // OData v3 (`odata.error`). The first of them in the body wins.
            "error" | "Error" | "fault" | "Fault" | "odata.error" => {
                Some(Slot::Object(&mut self.error))
            }
            "success" => Some(Slot::Raw(&mut self.success)),
            "ok" => Some(Slot::Raw(&mut self.ok)),
            "data" => Some(Slot::Raw(&mut self.data)),
            _ => self.fields.field(key),
        }
    }
}

/// A nested `error` object: [`Fields`] whose `details` are parsed in the
/// same pass rather than kept raw (they are always kept).
#[derive(Default)]
pub(super) struct ErrorObject<'a> {
    pub(super) fields: Fields<'a>,
    pub(super) details: Option<serde_json::Value>,
}

impl<'a> Slots<'a> for ErrorObject<'a> {
    type Nested = Fields<'a>;

    fn slot(&mut self, key: &str) -> Option<Slot<'_, 'a, Fields<'a>>> {
        match key {
            "details" => Some(Slot::Value(&mut self.details)),
            _ => self.fields.field(key),
        }
    }
}

/// A top-level `error` member: an object, a string or number (a message or
/// a code), or anything else.
pub(super) type ErrorMember<'a> = Member<'a, ErrorObject<'a>>;

/// A raw JSON object read into [`Fields`] (an entry of a list, an object
/// inside one); `None` for anything else.
pub(super) fn object(raw: Option<&RawValue>) -> Option<Fields<'_>> {
    json::object(raw)
}
