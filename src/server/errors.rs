//! Errors as the HTTP API answers them: a status and a JSON body
//! `{ "error": { "code": "stable_code", "message": "...", "field": "..." } }`.
//!
//! The `code` is the contract: clients match on it, so a code is never renamed. The
//! message is for people and may change. Every engine error maps to exactly one code
//! ([`engine_error`]), which the load generator also uses to count outcomes, so the
//! embedded and the HTTP runs name failures alike.

use std::fmt;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use omnibus_actors::{EngineError, Rejection};
use omnibus_core::ledger::BooksError;
use omnibus_core::payments::RefusalCode;
use omnibus_core::signing::SigningError;
use omnibus_core::InvalidField;

/// Seconds a client is asked to wait before retrying an overloaded or unavailable call.
const RETRY_AFTER_SECS: u32 = 1;

/// An error answer of the API.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The request field at fault, when one is.
    pub field: Option<String>,
    /// Set on 503 answers: the `Retry-After` header, in seconds.
    pub retry_after_secs: Option<u32>,
    /// Set on 405 answers: the `Allow` header, the methods the resource takes.
    pub allow: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after_secs: None,
            allow: None,
        }
    }

    pub fn with_allow(mut self, methods: &'static str) -> Self {
        self.allow = Some(methods);
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn retry_after(mut self) -> Self {
        self.retry_after_secs = Some(RETRY_AFTER_SECS);
        self
    }

    pub fn malformed_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_json", message)
    }

    pub fn missing_field(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "missing_field",
            format!("{field}: this field is required"),
        )
        .with_field(field)
    }

    pub fn unknown_field(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unknown_field",
            format!("{field}: no such field in this request"),
        )
        .with_field(field)
    }

    pub fn invalid_field(field: &str, problem: impl fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            format!("{field}: {problem}"),
        )
        .with_field(field)
    }

    pub fn body_too_large(limit_bytes: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than the limit of {limit_bytes} bytes"),
        )
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    pub fn shutting_down() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down and takes no new work",
        )
        .retry_after()
    }

    pub fn too_many_event_streams(max: u32) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_event_streams",
            format!("{max} event streams are open already (server.event_streams_max)"),
        )
        .retry_after()
    }
}

impl From<InvalidField> for ApiError {
    fn from(e: InvalidField) -> Self {
        ApiError::invalid_field(e.field.as_str(), e.problem)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        engine_error(&e)
    }
}

/// A refusal of the instruments layer (INSTRUMENTS.md §6.2): its code as the API writes
/// codes (the spec's name in lowercase: `IDEMPOTENCY_CONFLICT` is `idempotency_conflict`),
/// and its status.
fn refusal_status_and_code(code: RefusalCode) -> (StatusCode, &'static str) {
    use StatusCode as S;
    static LOWERCASE: std::sync::LazyLock<Vec<(RefusalCode, &'static str)>> =
        std::sync::LazyLock::new(|| {
            RefusalCode::ALL
                .iter()
                .map(|c| (*c, &*c.as_str().to_ascii_lowercase().leak()))
                .collect()
        });
    let text = LOWERCASE
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, text)| *text)
        .expect("every code is in the table");
    let status = match code {
        RefusalCode::InvalidRequest => S::BAD_REQUEST,
        RefusalCode::NotFound => S::NOT_FOUND,
        RefusalCode::IdempotencyConflict | RefusalCode::InvalidState => S::CONFLICT,
        RefusalCode::Overloaded | RefusalCode::RailUnavailable => S::SERVICE_UNAVAILABLE,
        _ => S::UNPROCESSABLE_ENTITY,
    };
    (status, text)
}

/// The stable code and status of an engine error.
pub fn engine_error(e: &EngineError) -> ApiError {
    use StatusCode as S;
    let message = e.to_string();
    let (status, code) = match e {
        EngineError::Overloaded(_) => (S::SERVICE_UNAVAILABLE, "overloaded"),
        EngineError::ShuttingDown => (S::SERVICE_UNAVAILABLE, "shutting_down"),
        EngineError::Storage { .. } => (S::INTERNAL_SERVER_ERROR, "storage_failed"),
        EngineError::Invalid(_) => (S::BAD_REQUEST, "invalid_request"),
        EngineError::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal"),
        EngineError::RailUnavailable(_) => (S::SERVICE_UNAVAILABLE, "rail_unavailable"),
        EngineError::Refusal { code, .. } => refusal_status_and_code(*code),
        EngineError::Refused(b) => match b {
            BooksError::UnknownCustomer(_) => (S::NOT_FOUND, "unknown_customer"),
            BooksError::CustomerExists(_) => (S::CONFLICT, "customer_exists"),
            BooksError::LinkedBankNotServed(_) => {
                (S::UNPROCESSABLE_ENTITY, "linked_bank_not_served")
            }
            BooksError::InsufficientFunds { .. } => (S::UNPROCESSABLE_ENTITY, "insufficient_funds"),
            BooksError::BelowFloor { .. } => (S::UNPROCESSABLE_ENTITY, "parent_below_floor"),
            BooksError::UnknownRequest { .. } => (S::NOT_FOUND, "unknown_request"),
            BooksError::RequestExists { .. } => (S::CONFLICT, "request_no_reused"),
            _ => (S::UNPROCESSABLE_ENTITY, "refused"),
        },
        EngineError::Rejected(r) => match r {
            Rejection::NotTradable(_) => (S::UNPROCESSABLE_ENTITY, "not_tradable"),
            Rejection::SubscriptionInvalid(_) => (S::UNPROCESSABLE_ENTITY, "subscription_invalid"),
            Rejection::RequestNoReused { .. } => (S::CONFLICT, "request_no_reused"),
            Rejection::UnknownRequest(_) => (S::NOT_FOUND, "unknown_request"),
            Rejection::SignatureRequired => (S::UNPROCESSABLE_ENTITY, "signature_required"),
            Rejection::NotOverLimit => (S::UNPROCESSABLE_ENTITY, "not_over_limit"),
            Rejection::NoSigningKey(_) => (S::UNPROCESSABLE_ENTITY, "no_signing_key"),
            Rejection::NoSigningText(_) => (S::UNPROCESSABLE_ENTITY, "no_signing_text"),
            Rejection::UnknownCertificate { .. } => {
                (S::UNPROCESSABLE_ENTITY, "unknown_certificate")
            }
            Rejection::Signing(s) => match s {
                SigningError::Expired { .. } => (S::UNPROCESSABLE_ENTITY, "signing_text_expired"),
                SigningError::Altered { .. } | SigningError::Malformed(_) => {
                    (S::UNPROCESSABLE_ENTITY, "signing_text_mismatch")
                }
                SigningError::BadSignature { .. }
                | SigningError::BadKey { .. }
                | SigningError::NotAKey
                | SigningError::WeakKey => (S::UNPROCESSABLE_ENTITY, "signature_invalid"),
            },
            Rejection::KeyNotValid(_) => (S::UNPROCESSABLE_ENTITY, "key_not_valid"),
            Rejection::AuthenticationUnavailable(_) => {
                (S::SERVICE_UNAVAILABLE, "authentication_unavailable")
            }
            Rejection::RequestDateOutsideWindow { .. } => (S::BAD_REQUEST, "invalid_field"),
        },
    };
    if let EngineError::Rejected(r @ Rejection::RequestDateOutsideWindow { .. }) = e {
        // The rejection's own text already names the field.
        return ApiError::new(status, code, r.to_string()).with_field("request_date");
    }
    let message = match e {
        EngineError::Refusal { message, .. } => message.clone(),
        _ => message,
    };
    let error = ApiError::new(status, code, message);
    if status == S::SERVICE_UNAVAILABLE {
        error.retry_after()
    } else {
        error
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut error = serde_json::json!({
            "code": self.code,
            "message": self.message,
        });
        if let Some(field) = &self.field {
            error["field"] = serde_json::Value::String(field.clone());
        }
        let mut response = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(secs)));
        }
        if let Some(methods) = self.allow {
            response.insert_header((header::ALLOW, HeaderValue::from_static(methods)));
        }
        response.json(serde_json::json!({ "error": error }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnibus_core::{Amount, CustomerId, Money, ParentAccount, RequestNo};

    /// Every engine error maps to a code the OpenAPI document lists, with its status.
    #[test]
    fn every_engine_error_has_a_documented_code_and_status() {
        let c = CustomerId::new(1).unwrap();
        let no: RequestNo = "R-1".parse().unwrap();
        let errors = vec![
            EngineError::Overloaded(omnibus_actors::Bound::ShardQueue),
            EngineError::ShuttingDown,
            EngineError::Storage {
                shard: 0,
                cause: "disk".into(),
            },
            EngineError::Invalid("bad".into()),
            BooksError::UnknownCustomer(c).into(),
            BooksError::CustomerExists(c).into(),
            BooksError::LinkedBankNotServed("999".parse().unwrap()).into(),
            BooksError::InsufficientFunds {
                customer: c,
                available: Money::krw(0).unwrap(),
                amount: Amount::krw(1).unwrap(),
            }
            .into(),
            BooksError::BelowFloor {
                parent: ParentAccount::FinParent,
                would_be: Money::krw(-1).unwrap(),
                floor: Money::krw(0).unwrap(),
            }
            .into(),
            BooksError::NoGenesis.into(),
            Rejection::NotTradable(c).into(),
            Rejection::SubscriptionInvalid(c).into(),
            Rejection::RequestNoReused { request_no: no }.into(),
            Rejection::UnknownRequest(no).into(),
            Rejection::SignatureRequired.into(),
            Rejection::NotOverLimit.into(),
            Rejection::NoSigningKey(c).into(),
            Rejection::NoSigningText(no).into(),
            Rejection::UnknownCertificate { given: 1 }.into(),
            Rejection::Signing(SigningError::Expired {
                expires_at_ms: 1,
                now_ms: 2,
            })
            .into(),
            Rejection::Signing(SigningError::Altered { field: "amount" }).into(),
            Rejection::Signing(SigningError::BadSignature { cert_serial: 1 }).into(),
            Rejection::KeyNotValid(1).into(),
            Rejection::AuthenticationUnavailable("down".into()).into(),
            Rejection::RequestDateOutsideWindow {
                date: "2026-01-01".parse().unwrap(),
                today: "2026-11-30".into(),
                window_days: 1,
            }
            .into(),
            EngineError::Internal("a sum overflowed".into()),
            EngineError::RailUnavailable("bank firm statement".into()),
            EngineError::Refusal {
                code: RefusalCode::IdempotencyConflict,
                message: "merchant m1 is on record with other fields".into(),
            },
            EngineError::Refusal {
                code: RefusalCode::NotFound,
                message: "no merchant m9".into(),
            },
            EngineError::Refusal {
                code: RefusalCode::InvalidRequest,
                message: "accepts: at least one".into(),
            },
        ];
        for e in errors {
            let api = engine_error(&e);
            let documented = crate::server::openapi::ERROR_CODES
                .iter()
                .find(|(code, _)| *code == api.code)
                .unwrap_or_else(|| panic!("{} is not in ERROR_CODES", api.code));
            assert_eq!(documented.1, api.status.as_u16(), "{}", api.code);
            assert_eq!(
                api.retry_after_secs.is_some(),
                api.status == StatusCode::SERVICE_UNAVAILABLE,
                "{}",
                api.code
            );
            assert!(!api.message.is_empty());
        }
    }
}
