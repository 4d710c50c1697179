//! Who may call what (docs/auth.md): signed requests, checked before any handler runs.
//!
//! A caller sends three headers: `Omnibus-Key` (the key id), `Omnibus-Timestamp` (Unix
//! milliseconds) and `Omnibus-Signature` (`v1=` and the hex HMAC-SHA-256, under the key's
//! secret, of the method, the path with its query, the timestamp and the SHA-256 of the
//! body: `omnibus_core::payments::api_key::canonical`). The check:
//!
//! 1. the route's audience ([`audience`]): `/health` and `/openapi.json` are open; a
//!    merchant's routes (payments, its own merchant and payouts, its own keys) take a
//!    merchant's key or the operator's; every other route takes the operator's only;
//! 2. the key exists, is active, and its server key is still in the key file;
//! 3. the timestamp lies within `server.auth_window_ms` of the engine's clock;
//! 4. the signature checks (in constant time);
//! 5. the signature has not been seen in the window (`replays.rs`).
//!
//! Any failure answers 401 `unauthorized` (a merchant's key on an operator's route, 403
//! `forbidden`) and nothing reaches the engine. The caller, once known, rides in the
//! request's extensions ([`Caller`]) for the handlers, which keep a merchant to its own
//! payments: another merchant's is `not_found`, as if it did not exist.
//!
//! With authentication off (`server.auth`, loopback only) every caller is
//! [`Caller::Anyone`] and the merchant routes take the merchant from the body, as before.

use std::net::SocketAddr;

use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest};
use omnibus_actors::Engine;
use omnibus_core::config::AuthMode;
use omnibus_core::ids::{MerchantId, MerchantNo};
use omnibus_core::payments::api_key::{
    canonical, parse_signature_header, verify, ApiKeyId, ApiKeyOwner,
};

use super::errors::ApiError;
use super::replays::{Replays, Seen, Signer};
use super::routes::IDEMPOTENCY_KEY;
use super::AppState;

/// The key id header.
pub const KEY_HEADER: &str = "Omnibus-Key";
/// The timestamp header, Unix milliseconds.
pub const TIMESTAMP_HEADER: &str = "Omnibus-Timestamp";
/// The signature header, `v1=<64 hex digits>`.
pub const SIGNATURE_HEADER: &str = "Omnibus-Signature";

/// Whether the server asks for signed requests on `address` under `mode`; an address
/// beyond loopback without authentication is refused.
pub fn required(mode: AuthMode, address: SocketAddr) -> Result<bool, String> {
    let loopback = address.ip().is_loopback();
    match mode {
        AuthMode::Required => Ok(true),
        AuthMode::Auto => Ok(!loopback),
        AuthMode::Off if loopback => Ok(false),
        AuthMode::Off => Err(format!(
            "refusing to listen on {address} without authentication: server.auth is \"off\", which only a loopback address may have; set it to \"required\" or \"auto\" (docs/auth.md)"
        )),
    }
}

/// Who is calling, as the check found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// Authentication is off: anyone may call anything, naming any merchant.
    Anyone,
    Operator(ApiKeyId),
    Merchant {
        key: ApiKeyId,
        no: MerchantNo,
        id: MerchantId,
    },
}

impl Caller {
    /// The caller of `request`, as the check left it. A request the check did not see
    /// (a route outside the middleware) is refused, never taken as anyone's.
    pub fn of(request: &HttpRequest) -> Result<Caller, ApiError> {
        request
            .extensions()
            .get::<Caller>()
            .copied()
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "this route was not checked for a caller",
                )
            })
    }

    /// What the engine calls this caller when it revokes or lists keys.
    pub fn as_owner(self) -> ApiKeyOwner {
        match self {
            Caller::Anyone | Caller::Operator(_) => ApiKeyOwner::Operator,
            Caller::Merchant { no, .. } => ApiKeyOwner::Merchant(no),
        }
    }

    /// The merchant a merchant's route acts for: the key's merchant for a merchant's key
    /// (a body naming another is refused 403, as `what` says), else the one the body
    /// names, which it must.
    pub fn merchant_for_request(
        self,
        named: Option<MerchantId>,
        what: &str,
    ) -> Result<MerchantId, ApiError> {
        match (self, named) {
            (Caller::Merchant { id, .. }, None) => Ok(id),
            (Caller::Merchant { id, .. }, Some(named)) if named == id => Ok(id),
            (Caller::Merchant { id, .. }, Some(named)) => Err(forbidden(format!(
                "this key is merchant {id}'s; it cannot {what} for merchant {named}"
            ))),
            (_, Some(named)) => Ok(named),
            (_, None) => Err(ApiError::missing_field("merchant_id")),
        }
    }

    /// The merchant a merchant's read or change of something already there acts for:
    /// another merchant's is `not_found`, so that its ids do not leak.
    pub fn merchant_for_existing(
        self,
        named: Option<MerchantId>,
        not_found: impl FnOnce() -> String,
    ) -> Result<MerchantId, ApiError> {
        match (self, named) {
            (Caller::Merchant { id, .. }, None) => Ok(id),
            (Caller::Merchant { id, .. }, Some(named)) if named == id => Ok(id),
            (Caller::Merchant { .. }, Some(_)) => Err(ApiError::not_found(not_found())),
            (_, Some(named)) => Ok(named),
            (_, None) => Err(ApiError::missing_field("merchant_id")),
        }
    }
}

/// Who a route is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Open,
    /// A merchant's key (for its own merchant) or the operator's.
    Merchant,
    Operator,
}

/// The audience of a route, by its pattern (`None`: no route matched, which only the
/// operator may learn).
pub fn audience(method: &Method, pattern: Option<&str>) -> Audience {
    let Some(pattern) = pattern else {
        return Audience::Operator;
    };
    match pattern {
        "/health" | "/openapi.json" => Audience::Open,
        "/v1/payments"
        | "/v1/payments/cancel-by-request"
        | "/v1/payments/{payment_id}/cancel"
        | "/v1/payments/{payment_id}/refunds"
        | "/v1/merchants/{merchant_id}/payouts"
        | "/v1/api-keys"
        | "/v1/api-keys/{key_id}/revoke" => Audience::Merchant,
        "/v1/merchants/{merchant_id}" if method == Method::GET || method == Method::HEAD => {
            Audience::Merchant
        }
        _ => Audience::Operator,
    }
}

fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

fn header<'a>(request: &'a ServiceRequest, name: &str) -> Result<&'a str, ApiError> {
    request
        .headers()
        .get(name)
        .ok_or_else(|| {
            unauthorized(format!(
                "the {name} header is missing: sign the request (docs/auth.md)"
            ))
        })?
        .to_str()
        .map_err(|_| unauthorized(format!("the {name} header is not printable ASCII")))
}

/// The middleware: checks the signature of a request that needs one, then hands it on
/// with its [`Caller`] (and its body, read here to be hashed, put back).
pub async fn check(
    mut request: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .expect("the app has its state")
        .clone();
    let audience = audience(request.method(), request.match_pattern().as_deref());
    if !state.auth.required || audience == Audience::Open {
        request.extensions_mut().insert(Caller::Anyone);
        return next.call(request).await;
    }
    let caller = match authenticate(&mut request, &state, audience).await {
        Ok(caller) => caller,
        Err(e) => return Ok(request.error_response(e)),
    };
    request.extensions_mut().insert(caller);
    next.call(request).await
}

async fn authenticate(
    request: &mut ServiceRequest,
    state: &AppState,
    audience: Audience,
) -> Result<Caller, ApiError> {
    let engine: &Engine = &state.engine;
    // The request number in a header would not be covered by the signature: someone on
    // the way could change it, and the client's retry would be a second request.
    if request.headers().contains_key(IDEMPOTENCY_KEY) {
        return Err(ApiError::invalid_field(
            "Idempotency-Key",
            "with authentication on, the request number goes in the body (request_no), which the signature covers",
        ));
    }
    let key_id: ApiKeyId = header(request, KEY_HEADER)?
        .parse()
        .map_err(|e| unauthorized(format!("{KEY_HEADER}: {e}")))?;
    let timestamp = header(request, TIMESTAMP_HEADER)?.to_owned();
    let signature =
        parse_signature_header(header(request, SIGNATURE_HEADER)?).ok_or_else(|| {
            unauthorized(format!(
                "{SIGNATURE_HEADER} must be v1= and 64 lowercase hex digits"
            ))
        })?;
    let key = engine
        .api_key(key_id)
        .ok_or_else(|| unauthorized(format!("no API key {key_id}")))?;
    let secret = engine
        .api_key_secret(&key)
        .ok_or_else(|| unauthorized(format!("API key {key_id} is revoked")))?;
    let at_ms: u64 = timestamp
        .parse()
        .map_err(|_| unauthorized(format!("{TIMESTAMP_HEADER} must be Unix milliseconds")))?;
    let now_ms = engine.clock_ms();
    // The replay memory starts empty: a request signed before this process started may
    // have been seen by the one before it.
    if at_ms < state.auth.started_ms {
        return Err(unauthorized(format!(
            "{TIMESTAMP_HEADER} {at_ms} is from before the server started ({}); sign the request anew",
            state.auth.started_ms
        )));
    }
    if at_ms.abs_diff(now_ms) > state.auth.window_ms {
        return Err(unauthorized(format!(
            "{TIMESTAMP_HEADER} {at_ms} is more than {} ms from the server's clock ({now_ms})",
            state.auth.window_ms
        )));
    }
    let body = super::body::read_limited(&mut request.take_payload(), state.body_limit_bytes)
        .await?
        .freeze();
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.path().to_owned(), |p| p.as_str().to_owned());
    let text = canonical(request.method().as_str(), &target, &timestamp, &body);
    request.set_payload(Payload::from(body));
    if !verify(&secret, &text, &signature) {
        return Err(unauthorized(
            "the signature does not match the request (method, path and query, timestamp, body)",
        ));
    }
    // A merchant's key on the operator's route is refused before its signature is
    // remembered, so that it cannot fill the replay memory with requests it may not make.
    if audience == Audience::Operator && key.owner != ApiKeyOwner::Operator {
        return Err(forbidden(format!(
            "{} {} is the operator's; this key is a merchant's",
            request.method(),
            request.path()
        )));
    }
    let signer = match key.owner {
        ApiKeyOwner::Operator => Signer::Operator,
        ApiKeyOwner::Merchant(no) => Signer::Merchant(no),
    };
    let overloaded =
        |why: &str| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", why).retry_after();
    match state.auth.replays.see(signer, &signature, at_ms, now_ms) {
        Seen::First => {}
        Seen::Again => {
            return Err(unauthorized(
                "this signed request was seen before: a replay is refused; sign each request anew",
            ))
        }
        Seen::Full => {
            return Err(overloaded(
                "too many signed requests in the window to remember (server.auth_replays_max)",
            ))
        }
        Seen::Stale => {
            return Err(unauthorized(format!(
                "{TIMESTAMP_HEADER} {at_ms} left the window while the request arrived; sign it anew"
            )))
        }
        Seen::MerchantFull => {
            return Err(overloaded(
                "this merchant sent more signed requests in the window than one merchant may (server.auth_replays_per_merchant_max); slow down",
            ))
        }
    }
    Ok(match key.owner {
        ApiKeyOwner::Operator => Caller::Operator(key_id),
        ApiKeyOwner::Merchant(no) => Caller::Merchant {
            key: key_id,
            no,
            id: engine
                .merchant_id_of(no)
                .ok_or_else(|| unauthorized(format!("API key {key_id}'s merchant is gone")))?,
        },
    })
}

/// What the server's check needs, made at start.
pub struct AuthState {
    pub required: bool,
    /// The engine's clock when the server started: earlier timestamps are refused.
    pub started_ms: u64,
    pub window_ms: u64,
    pub replays: Replays,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_is_refused_beyond_loopback_and_auto_follows_the_address() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(required(AuthMode::Auto, lo), Ok(false));
        assert_eq!(required(AuthMode::Auto, any), Ok(true));
        assert_eq!(required(AuthMode::Off, lo), Ok(false));
        assert!(required(AuthMode::Off, any).is_err());
        assert_eq!(required(AuthMode::Required, lo), Ok(true));
        assert_eq!(
            required(AuthMode::Auto, "[::1]:1".parse().unwrap()),
            Ok(false)
        );
    }

    #[test]
    fn routes_are_open_the_merchants_or_the_operators() {
        assert_eq!(audience(&Method::GET, Some("/health")), Audience::Open);
        assert_eq!(audience(&Method::GET, Some("/metrics")), Audience::Operator);
        assert_eq!(
            audience(&Method::POST, Some("/v1/payments")),
            Audience::Merchant
        );
        assert_eq!(
            audience(&Method::GET, Some("/v1/merchants/{merchant_id}")),
            Audience::Merchant
        );
        assert_eq!(
            audience(&Method::POST, Some("/v1/merchants")),
            Audience::Operator
        );
        assert_eq!(
            audience(&Method::POST, Some("/v1/charges")),
            Audience::Operator
        );
        assert_eq!(audience(&Method::GET, None), Audience::Operator);
    }
}
