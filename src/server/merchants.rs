//! `/v1/merchants`: onboarding merchants and their terminals (INSTRUMENTS.md §6.1, §6.4;
//! docs/payments.md). Operator endpoints: a merchant is written to every shard and
//! answered once all hold it.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use omnibus_actors::EngineError;
use omnibus_core::ids::{MerchantId, Tag, TerminalId};
use omnibus_core::ledger::MerchantEntry;
use omnibus_core::payments::merchant::{
    InstrumentType, InstrumentTypes, Merchant, MerchantStatus, PayoutSchedule, Terminal,
};
use omnibus_core::payments::RefusalCode;
use omnibus_core::{AccountNo, BankCode};
use serde::Serialize;

use super::body::{read_json_body, Fields};
use super::errors::ApiError;
use super::metrics::OutcomeLabel;
use super::AppState;

/// The most terminals one request may name, and one merchant may have.
pub const TERMINALS_MAX: usize = 256;

/// A merchant as the API shows it.
#[derive(Serialize)]
pub struct MerchantView {
    pub merchant_id: String,
    pub merchant_no: u32,
    pub version: u32,
    pub status: MerchantStatus,
    pub category: String,
    pub accepts: Vec<InstrumentType>,
    pub payout_bank: String,
    pub payout_account: String,
    pub payout_schedule: PayoutSchedule,
    pub payout_reserve_krw: u64,
    pub terminals: Vec<TerminalView>,
}

#[derive(Serialize)]
pub struct TerminalView {
    pub terminal_id: String,
    pub active: bool,
}

impl From<&MerchantEntry> for MerchantView {
    fn from(e: &MerchantEntry) -> Self {
        let m = &e.merchant;
        Self {
            merchant_id: m.id.to_string(),
            merchant_no: e.no.0,
            version: e.version,
            status: m.status,
            category: m.category.to_string(),
            accepts: m.accepts.iter().collect(),
            payout_bank: m.payout_bank.to_string(),
            payout_account: m.payout_account.to_string(),
            payout_schedule: m.payout_schedule,
            payout_reserve_krw: m.payout_reserve_krw,
            terminals: m
                .terminals
                .iter()
                .map(|t| TerminalView {
                    terminal_id: t.id.to_string(),
                    active: t.active,
                })
                .collect(),
        }
    }
}

pub(super) fn parse<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| ApiError::invalid_field(field, e))
}

/// A JSON string of an enum the API writes in words (`prepaid_card`, `ACTIVE`).
fn word<T: serde::de::DeserializeOwned>(
    field: &str,
    text: &str,
    expected: &str,
) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| {
        ApiError::invalid_field(field, format!("must be one of {expected}, got {text:?}"))
    })
}

fn merchant_id(text: &str) -> Result<MerchantId, ApiError> {
    parse("merchant_id", text)
}

fn created_or_ok(entry: &MerchantEntry, created: bool, location: String) -> HttpResponse {
    let (status, outcome) = if created {
        (StatusCode::CREATED, "created")
    } else {
        (StatusCode::OK, "exists")
    };
    let mut response = HttpResponse::build(status);
    if created {
        response.insert_header((header::LOCATION, location));
    }
    let mut response = response.json(MerchantView::from(entry));
    response.extensions_mut().insert(OutcomeLabel(outcome));
    response
}

/// `POST /v1/merchants`.
pub async fn onboard(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let id = f.required_string("merchant_id")?;
    let category = f.required_string("category")?;
    let accepts = f
        .string_list("accepts", InstrumentType::ALL.len())?
        .ok_or_else(|| ApiError::missing_field("accepts"))?;
    let payout_bank = f.required_string("payout_bank")?;
    let payout_account = f.required_string("payout_account")?;
    let schedule = f.string("payout_schedule")?;
    let reserve = f.unsigned("payout_reserve_krw")?.unwrap_or(0);
    let terminals = f
        .string_list("terminals", TERMINALS_MAX)?
        .unwrap_or_default();
    f.finish()?;

    let id = merchant_id(&id)?;
    let category: Tag = parse("category", &category)?;
    let accepts = accepts
        .iter()
        .map(|t| {
            word::<InstrumentType>(
                "accepts",
                t,
                "division, temp, prepaid_card, wallet, card_session",
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    if accepts.is_empty() {
        return Err(ApiError::invalid_field(
            "accepts",
            "a merchant accepts at least one instrument type",
        ));
    }
    let payout_bank: BankCode = parse("payout_bank", &payout_bank)?;
    let payout_account: AccountNo = parse("payout_account", &payout_account)?;
    let payout_schedule = match schedule {
        None => PayoutSchedule::default(),
        Some(s) => word("payout_schedule", &s, "daily, realtime")?,
    };
    let mut seen = Vec::new();
    for t in &terminals {
        let id: TerminalId = parse("terminals", t)?;
        if seen.iter().any(|s: &Terminal| s.id == id) {
            return Err(ApiError::invalid_field(
                "terminals",
                format!("terminal {id} is named twice"),
            ));
        }
        seen.push(Terminal { id, active: true });
    }
    let merchant = Merchant {
        id,
        status: MerchantStatus::Active,
        category,
        accepts: InstrumentTypes::of(&accepts),
        payout_bank,
        payout_account,
        payout_schedule,
        payout_reserve_krw: reserve,
        terminals: seen,
    };
    let (entry, created) = state.engine.onboard_merchant(merchant).await?;
    Ok(created_or_ok(
        &entry,
        created,
        format!("/v1/merchants/{id}"),
    ))
}

/// `GET /v1/merchants/{merchant_id}`.
pub async fn get(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = merchant_id(&path)?;
    let id = super::auth::Caller::of(&request)?
        .merchant_for_existing(Some(id), || format!("no merchant {id}"))?;
    match state.engine.merchant(id) {
        Some(entry) => Ok(HttpResponse::Ok().json(MerchantView::from(&entry))),
        None => Err(ApiError::not_found(format!("no merchant {id}"))),
    }
}

/// `POST /v1/merchants/{merchant_id}/terminals`: adds a terminal (idempotent by id: a
/// terminal the merchant has answers 200 with the merchant as it is).
pub async fn add_terminal(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = merchant_id(&path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let terminal: TerminalId = parse("terminal_id", &f.required_string("terminal_id")?)?;
    f.finish()?;
    let mut added = false;
    let entry = state
        .engine
        .change_merchant(id, |m| {
            if m.terminal(terminal).is_some() {
                return Ok(());
            }
            if m.terminals.len() >= TERMINALS_MAX {
                return Err(EngineError::Refusal {
                    code: RefusalCode::InvalidRequest,
                    message: format!(
                        "merchant {id} has {TERMINALS_MAX} terminals, the most it may have"
                    ),
                });
            }
            m.terminals.push(Terminal {
                id: terminal,
                active: true,
            });
            added = true;
            Ok(())
        })
        .await?;
    Ok(created_or_ok(&entry, added, format!("/v1/merchants/{id}")))
}

/// `POST /v1/merchants/{merchant_id}/status`: `{"status": "ACTIVE" | "SUSPENDED" |
/// "CLOSED"}`. A closed merchant stays closed.
pub async fn set_status(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = merchant_id(&path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let status: MerchantStatus = word(
        "status",
        &f.required_string("status")?,
        "ACTIVE, SUSPENDED, CLOSED",
    )?;
    f.finish()?;
    let entry = state
        .engine
        .change_merchant(id, |m| {
            if m.status == MerchantStatus::Closed && status != MerchantStatus::Closed {
                return Err(EngineError::Refusal {
                    code: RefusalCode::InvalidState,
                    message: format!("merchant {id} is closed; a closed merchant stays closed"),
                });
            }
            m.status = status;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(MerchantView::from(&entry)))
}
