//! Members and the wallet of flow B (INSTRUMENTS.md §5.3 b4–b9, §5.7; D-5.17):
//! `POST /v1/members`, `POST /v1/wallet/sessions`, `POST /v1/wallet/checkouts`. The
//! merchant then pays a checkout with `POST /v1/payments` and `instrument: {type:
//! "wallet", checkout_id}`, and learns nothing of the card or the customer. Passwords
//! travel only in request bodies, and no answer carries one.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use omnibus_core::ids::{MemberId, MerchantId};
use omnibus_core::payments::payment_request::SecretText;
use omnibus_core::payments::prepaid_card::CardId;
use omnibus_core::CustomerId;
use serde_json::json;

use super::body::{read_json_body, Fields};
use super::errors::ApiError;
use super::merchants::parse;
use super::AppState;

/// `POST /v1/members` `{member_id, password, customer}` (a1, as far as built: the
/// operator registers a customer's member ID and login password). 201 with the member,
/// never its password or hash.
pub async fn create_member(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let id: MemberId = parse("member_id", &f.required_string("member_id")?)?;
    let password = f.required_string("password")?;
    let customer: CustomerId = parse("customer", &f.required_number_text("customer")?)?;
    f.finish()?;
    omnibus_core::payments::member::Member::password_text(&password)
        .map_err(|e| ApiError::invalid_field("password", e))?;
    let member = state.engine.create_member(id, &password, customer).await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(json!({
        "member_id": member.id.to_string(),
        "customer": member.customer.to_string(),
        "status": member.status,
    })))
}

/// `POST /v1/wallet/sessions` `{member_id, password}` (b4): 201 with the session token.
pub async fn login(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let id: MemberId = parse(
        "member_id",
        &f.required_string("member_id")?.to_ascii_lowercase(),
    )?;
    let password = f.required_string("password")?;
    f.finish()?;
    let session = state.engine.login(id, &password).await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(json!({
        "session": session.token,
        "member_id": session.member.to_string(),
        "expires_at_ms": session.expires_at_ms,
    })))
}

/// `POST /v1/wallet/checkouts` `{session, merchant_id, amount_krw, card?, card_password}`
/// (b5, D-5.17): 201 with the checkout the merchant pays, bound to it, the amount and the
/// card, for `payments.checkout_ttl_ms`, once.
pub async fn checkout(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let session = f.required_string("session")?;
    let merchant: MerchantId = parse("merchant_id", &f.required_string("merchant_id")?)?;
    let amount_krw = f
        .unsigned("amount_krw")?
        .ok_or_else(|| ApiError::missing_field("amount_krw"))?;
    let card = f
        .string("card")?
        .map(|c| parse::<CardId>("card", &c))
        .transpose()?;
    let password = SecretText::new(f.required_string("card_password")?);
    f.finish()?;
    let checkout = state
        .engine
        .checkout(
            &session,
            merchant,
            amount_krw,
            card.map(|c| c.seq),
            password,
        )
        .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(json!({
        "checkout_id": checkout.checkout_id,
        "merchant_id": checkout.merchant.to_string(),
        "amount_krw": checkout.amount_krw,
        "card": checkout.card.to_string(),
        "expires_at_ms": checkout.expires_at_ms,
    })))
}
