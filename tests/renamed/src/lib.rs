//! rebuff's macros in a crate that depends on rebuff as `errs`, where no
//! `::rebuff` path resolves: `#[api(crate = errs)]` and
//! `#[retry(crate = errs)]` name it.

use errs::{ApiError, retry};

/// An API's errors.
#[derive(Debug, thiserror::Error, ApiError)]
#[api(crate = errs, envelope = errs::envelope::Nested, decode)]
pub enum LeadError {
    /// No lead has this id.
    #[error("lead {lead_id} not found")]
    #[api(status = 404, message = "Lead {lead_id} not found")]
    LeadNotFound {
        /// The id asked for.
        lead_id: String,
    },
    /// Try again.
    #[error("unavailable")]
    #[api(status = 503, timeout)]
    Unavailable,
    /// Anything else.
    #[error("other")]
    #[api(status = 500, other)]
    Other,
}

/// A generic error: its impls' headers (`impl<T> ::rebuff::...`) start at
/// the renamed crate too.
#[derive(Debug, thiserror::Error, ApiError)]
#[api(crate = errs)]
pub enum Wrapped<T: std::fmt::Display + std::fmt::Debug + errs::serde::Serialize> {
    /// Refused, with what was asked.
    #[error("refused {asked}")]
    #[api(status = 409, message = "Refused {asked}")]
    Refused {
        /// What was asked.
        asked: T,
    },
}

/// Fails `fails` times, then answers.
#[retry(crate = errs, max_retries = 3, initial_delay = "1ms", attempt_timeout = "1s")]
pub async fn fetch(calls: &std::sync::atomic::AtomicU32, fails: u32) -> Result<u32, LeadError> {
    let call = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    if call <= fails {
        Err(LeadError::Unavailable)
    } else {
        Ok(call)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use errs::Context;
    use errs::envelope::{Envelope, Nested};

    use super::*;

    #[test]
    fn the_derive_renders_through_the_renamed_crate() {
        let err = LeadError::LeadNotFound {
            lead_id: "lead_1".to_owned(),
        };
        let body: serde_json::Value =
            serde_json::from_slice(&Nested::to_vec(&err, &Context::new())).unwrap();
        assert_eq!(body["error"]["code"], "lead_not_found");
        assert_eq!(body["error"]["message"], "Lead lead_1 not found");
        assert_eq!(err.status(), 404);
    }

    #[test]
    fn a_generic_type_derives_through_the_renamed_crate() {
        let err = Wrapped::Refused { asked: 7u32 };
        let body: serde_json::Value =
            serde_json::from_slice(&errs::to_vec(&err, &Context::new())).unwrap();
        assert_eq!(body["error"]["message"], "Refused 7");
        assert_eq!(body["error"]["details"]["asked"], 7);
    }

    #[tokio::test]
    async fn retry_retries_through_the_renamed_crate() {
        let calls = AtomicU32::new(0);
        assert_eq!(fetch(&calls, 2).await.unwrap(), 3);
    }
}
