//! `/v1/api-keys`: making, listing and revoking the keys that sign requests
//! (docs/auth.md). The operator makes keys for itself and for any merchant; a merchant's
//! key makes and revokes its own merchant's keys only, which is how it rotates them. A
//! key's secret is in the answer that makes it, and nowhere else, ever.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use omnibus_core::ids::MerchantId;
use omnibus_core::payments::api_key::{ApiKey, ApiKeyId, ApiKeyOwner, ApiSecret};
use serde::Serialize;

use super::auth::Caller;
use super::body::{read_json_body, Fields};
use super::errors::ApiError;
use super::merchants::parse;
use super::AppState;

/// A key as answered: never its secret, but in the answer that makes it.
#[derive(Serialize)]
pub struct ApiKeyView {
    pub key_id: String,
    /// `operator` or `merchant`.
    pub owner: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_id: Option<String>,
    /// `active` or `revoked`.
    pub status: &'static str,
    pub created_at_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<u64>,
    /// `sk_` and 64 hex digits: shown once, when the key is made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl ApiKeyView {
    fn of(state: &AppState, key: &ApiKey, secret: Option<ApiSecret>) -> Self {
        let (owner, merchant_id) = match key.owner {
            ApiKeyOwner::Operator => ("operator", None),
            ApiKeyOwner::Merchant(no) => (
                "merchant",
                state.engine.merchant_id_of(no).map(|m| m.to_string()),
            ),
        };
        Self {
            key_id: key.id.to_string(),
            owner,
            merchant_id,
            status: if key.is_active() { "active" } else { "revoked" },
            created_at_ms: key.created_at_ms,
            revoked_at_ms: (!key.is_active()).then_some(key.revoked_at_ms),
            secret: secret.map(|s| s.reveal()),
        }
    }
}

/// `POST /v1/api-keys` `{owner: "operator"}` or `{merchant_id}`: a new key and, this once,
/// its secret. A merchant's key may leave the body empty (a key for its own merchant).
pub async fn create(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
    let mut f = Fields::parse(body)?;
    let owner = f.string("owner")?;
    let named = f
        .string("merchant_id")?
        .map(|m| parse::<MerchantId>("merchant_id", &m))
        .transpose()?;
    f.finish()?;
    let caller = Caller::of(&request)?;
    let owner = match (owner.as_deref(), named) {
        (Some("operator"), None) => {
            if let Caller::Merchant { .. } = caller {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "a merchant's key cannot make the operator's keys",
                ));
            }
            ApiKeyOwner::Operator
        }
        (Some("merchant") | None, named) => {
            let merchant = caller.merchant_for_request(named, "make keys")?;
            let entry = state
                .engine
                .merchant(merchant)
                .ok_or_else(|| ApiError::not_found(format!("no merchant {merchant}")))?;
            ApiKeyOwner::Merchant(entry.no)
        }
        (Some("operator"), Some(_)) => {
            return Err(ApiError::invalid_field(
                "merchant_id",
                "an operator's key belongs to no merchant",
            ))
        }
        (Some(other), _) => {
            return Err(ApiError::invalid_field(
                "owner",
                format!("must be \"operator\" or \"merchant\", got {other:?}"),
            ))
        }
    };
    let (key, secret) = state.engine.create_api_key(owner).await?;
    Ok(HttpResponse::build(StatusCode::CREATED)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ApiKeyView::of(&state, &key, Some(secret))))
}

/// `GET /v1/api-keys`: the operator sees every key, a merchant its own; no secrets.
pub async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let owner = match Caller::of(&request)? {
        Caller::Merchant { no, .. } => Some(ApiKeyOwner::Merchant(no)),
        Caller::Operator(_) | Caller::Anyone => None,
    };
    let keys: Vec<ApiKeyView> = state
        .engine
        .api_keys(owner)
        .iter()
        .map(|k| ApiKeyView::of(&state, k, None))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "api_keys": keys })))
}

/// `POST /v1/api-keys/{key_id}/revoke`: the key revoked for good (asked again, the same).
/// A merchant revoking another's key is `not_found`.
pub async fn revoke(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ApiKeyId = parse("key_id", &path)?;
    let key = state
        .engine
        .revoke_api_key(id, Caller::of(&request)?.as_owner())
        .await?;
    Ok(HttpResponse::Ok().json(ApiKeyView::of(&state, &key, None)))
}
