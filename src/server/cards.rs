//! `/v1/customers/{id}/prepaid-cards` and `/v1/prepaid-cards/{instrument_id}`: the prepaid
//! card of seed 004 (INSTRUMENTS.md §5.7, a1–a5, D-5.2). Card numbers and passwords travel
//! only in request and response bodies, never in a path; every answer shows the last 4
//! digits, except `reveal`, the one answer that shows the card to its owner.
//!
//! Until members and their sessions are built (§5.7 `POST /v1/members`), a card is issued
//! to a customer by the operator, and `reveal` is an operator call made for the owner.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use omnibus_actors::CardApplication;
use omnibus_core::ids::CardName;
use omnibus_core::ledger::CardEntry;
use omnibus_core::payments::payment_request::SecretText;
use omnibus_core::payments::prepaid_card::{CardId, CardStatus};
use omnibus_core::CustomerId;
use serde::Serialize;

use super::body::{read_json_body, Fields};
use super::errors::ApiError;
use super::merchants::parse;
use super::AppState;

/// A prepaid card as the API shows it: never its number beyond the last 4 digits.
#[derive(Serialize)]
pub struct CardView {
    pub instrument_id: String,
    pub customer: String,
    pub card_name: String,
    pub last4: String,
    pub status: CardStatus,
    pub physical: bool,
    pub notify_by_email: bool,
    /// `pocket[c,card]`, the card's prepaid balance, in won.
    pub pocket_balance: String,
    /// The pocket less what is held on it for payments in progress.
    pub pocket_available: String,
    pub issued_at_ms: u64,
    /// When it expires (D-5.2): five years on, at the end of its issue's KST month.
    pub expires_at_ms: u64,
    pub version: u32,
}

impl From<&CardEntry> for CardView {
    fn from(e: &CardEntry) -> Self {
        let c = &e.card;
        Self {
            instrument_id: c.instrument_id().to_string(),
            customer: c.owner.to_string(),
            card_name: c.name.to_string(),
            last4: c.last4().to_owned(),
            status: c.status,
            physical: c.physical,
            notify_by_email: c.notify_by_email,
            pocket_balance: e.pocket.balance.normalize().to_string(),
            pocket_available: (e.pocket.balance - e.pocket.held).normalize().to_string(),
            issued_at_ms: c.issued_at_ms,
            expires_at_ms: c.expires_at_ms(),
            version: e.version,
        }
    }
}

fn card_id(text: &str) -> Result<CardId, ApiError> {
    parse("instrument_id", text)
}

/// `POST /v1/customers/{id}/prepaid-cards` `{card_name, card_password, physical?,
/// notify_by_email?}`: issues a card (a1–a5) under the configured IIN. 201 with the card,
/// its last 4 digits only.
pub async fn issue(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let customer: CustomerId = parse("id", &path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let name: CardName = parse("card_name", &f.required_string("card_name")?)?;
    let password = SecretText::new(f.required_string("card_password")?);
    let physical = f.bool("physical")?.unwrap_or(false);
    let notify_by_email = f.bool("notify_by_email")?.unwrap_or(true);
    f.finish()?;
    if password.expose().len() != 4 || !password.expose().bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid_field("card_password", "4 digits"));
    }
    let entry = state
        .engine
        .issue_prepaid_card(
            customer,
            CardApplication {
                name,
                password,
                physical,
                notify_by_email,
            },
        )
        .await?;
    let location = format!("/v1/prepaid-cards/{}", entry.card.instrument_id());
    Ok(HttpResponse::build(StatusCode::CREATED)
        .insert_header((header::LOCATION, location))
        .json(CardView::from(&entry)))
}

/// `GET /v1/prepaid-cards/{instrument_id}`.
pub async fn get(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let card = card_id(&path)?;
    let entry = state.engine.prepaid_card(card).await?;
    Ok(HttpResponse::Ok().json(CardView::from(&entry)))
}

/// `POST /v1/prepaid-cards/{instrument_id}/charges` `{source: "balance" | "linked",
/// request_date, request_no, amount}`: charges the card's pocket from the owner's balance
/// or from the owner's linked bank account (D-5.7, a charge whose A2 credits the pocket),
/// an outcome like a charge's. Refused `over_balance_cap` past the pocket's cap (D-5.6).
pub async fn charge(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let card = card_id(&path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let source = f.required_string("source")?;
    let request_date = f.required_string("request_date")?;
    let request_no = f.required_string("request_no")?;
    let amount = f.required_number_text("amount")?;
    f.finish()?;
    let from_linked = match source.as_str() {
        "balance" => false,
        "linked" => true,
        _ => {
            return Err(ApiError::invalid_field(
                "source",
                format!(
                "must be \"balance\" or \"linked\", got {source:?} (a credit card comes with M5)"
            ),
            ))
        }
    };
    let header = omnibus_core::ChargeRequest::parse(
        state.currency,
        &card.customer.to_string(),
        &request_date,
        &request_no,
        &amount,
    )?
    .header;
    let started = std::time::Instant::now();
    let request = omnibus_actors::PocketChargeRequest {
        header,
        card: card.seq,
    };
    let outcome = if from_linked {
        state.engine.fill_pocket(request).await
    } else {
        state.engine.charge_pocket(request).await
    };
    super::routes::outcome_response(&state, "pocket_charge", started, outcome)
}

/// `PATCH /v1/prepaid-cards/{instrument_id}` `{action: "suspend" | "resume" | "unlock" |
/// "close"}`: the card after the change. Closing moves the pocket's money to the owner's
/// balance (D-5.13). Until members and their sessions are built, an operator call made
/// for the owner.
pub async fn change(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let card = card_id(&path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let action = f.required_string("action")?;
    f.finish()?;
    let action: omnibus_core::payments::prepaid_card::CardAction =
        serde_json::from_value(serde_json::Value::String(action.clone())).map_err(|_| {
            ApiError::invalid_field(
                "action",
                format!("must be one of suspend, resume, unlock, close, got {action:?}"),
            )
        })?;
    let entry = state.engine.change_prepaid_card(card, action).await?;
    Ok(HttpResponse::Ok().json(CardView::from(&entry)))
}

/// The owner's view of the full number (D-5.2).
#[derive(Serialize)]
struct Revealed {
    instrument_id: String,
    number: String,
}

/// `POST /v1/prepaid-cards/{instrument_id}/reveal`: the full number, the one answer that
/// carries it (a POST, so that no cache or access log keeps it).
pub async fn reveal(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let card = card_id(&path)?;
    let number = state.engine.reveal_prepaid_card(card).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Revealed {
            instrument_id: card.to_string(),
            number: number.reveal(),
        }))
}

#[derive(Serialize)]
struct StatementLineJson {
    at_ms: u64,
    kind: &'static str,
    request_no: String,
    /// Positive into the pocket, negative out of it, in won.
    amount_krw: String,
}

#[derive(Serialize)]
struct NoticeJson {
    key: String,
    made_at_ms: u64,
    attempts: u32,
    /// `null` until the notification sink took it.
    delivered_at_ms: Option<u64>,
}

#[derive(Serialize)]
struct StatementJson {
    instrument_id: String,
    date: String,
    last4: String,
    opening_krw: String,
    lines: Vec<StatementLineJson>,
    lines_left_out: u32,
    closing_krw: String,
    /// `null` before 09:00 KST of the next day: the day as it stands so far.
    notice: Option<NoticeJson>,
}

/// `GET /v1/prepaid-cards/{instrument_id}/statements?date=YYYY-MM-DD` (d13, D-5.10): the
/// card's statement of a KST day: the notice sent (or being sent) at 09:00 the next day,
/// or the day so far before that. 404 for a day the pocket did not move.
pub async fn statement(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<std::collections::BTreeMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let card = card_id(&path)?;
    let mut date = None;
    for (key, value) in query.into_inner() {
        match key.as_str() {
            "date" => date = Some(parse::<omnibus_core::RequestDate>("date", &value)?),
            other => return Err(ApiError::unknown_field(other)),
        }
    }
    let date = date.ok_or_else(|| ApiError::missing_field("date"))?;
    let found = state.engine.card_statement(card, date).await?;
    let s = &found.statement;
    let won = |v: rust_decimal::Decimal| v.normalize().to_string();
    let body = StatementJson {
        instrument_id: card.to_string(),
        date: date.to_string(),
        last4: String::from_utf8_lossy(&found.last4).into_owned(),
        opening_krw: won(s.opening),
        lines: s
            .lines
            .iter()
            .map(|l| StatementLineJson {
                at_ms: l.at_ms,
                kind: omnibus_core::statement::LineKind::of(l.step).as_str(),
                request_no: l.request_no.to_string(),
                amount_krw: won(omnibus_core::statement::signed(l)),
            })
            .collect(),
        lines_left_out: s.lines_left_out,
        closing_krw: won(s.closing()),
        notice: found.notice.as_ref().map(|n| NoticeJson {
            key: n.key.to_string(),
            made_at_ms: n.created_at_ms,
            attempts: n.attempts,
            delivered_at_ms: n.delivered().then_some(n.delivered_at_ms),
        }),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}
