//! The division accounts of seed 001(a) (INSTRUMENTS.md §1.7): the master's issue (I1–I4)
//! and list, the slave's activation (I5), the master's changes (F3), the PIN's reset by the
//! master or change by the slave, and an account's authorizations. Numbers, codes and PINs
//! travel only in request and response bodies, never in a path; the number shows in full
//! once, in the issue's answer to the master, and masked everywhere else. A payment is
//! `POST /v1/payments` with `instrument: {type: "division", number, pin}` (`payments.rs`).
//!
//! Until members and their sessions are built, these are operator calls, made for the
//! master (issue, list, change, reset) or for the slave (activation, PIN change).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use omnibus_actors::{DivisionApplication, DivisionIssue};
use omnibus_core::ids::{MerchantId, PayeeName, Tag};
use omnibus_core::ledger::DivisionEntry;
use omnibus_core::payments::controls::Period;
use omnibus_core::payments::division::{
    BirthDate, DivisionAction, DivisionControls, DivisionId, DivisionStatus, Slave,
};
use omnibus_core::payments::payment_request::SecretText;
use omnibus_core::CustomerId;
use serde::Serialize;

use super::body::{read_json_body, Fields};
use super::errors::ApiError;
use super::merchants::parse;
use super::payments::PaymentView;
use super::AppState;

/// The most slaves one issue may name, whatever `payments.divisions_per_master_max` is
/// (the engine refuses past that bound; this one only keeps a body from being huge).
const SLAVES_PER_REQUEST_MAX: usize = 1_000;
/// The most categories or merchants one account's controls may list.
const LIST_MAX: usize = 100;

/// A division account as the API shows it: its number masked to the last 4 digits, no
/// PIN, no activation code, no phone.
#[derive(Serialize)]
pub struct DivisionView {
    pub instrument_id: String,
    pub master: String,
    pub division_no: String,
    pub status: &'static str,
    pub slave_name: String,
    pub slave_birth_date: String,
    pub controls: ControlsView,
    /// Spent in the current period (KST calendar month or day).
    pub spent_in_period_krw: u64,
    /// Reserved for payments being made.
    pub reserved_krw: u64,
    pub failed_pin_count: u8,
    pub auto_top_up: bool,
    pub issued_at_ms: u64,
    pub version: u32,
}

#[derive(Serialize)]
pub struct ControlsView {
    pub per_tx_max_krw: Option<u64>,
    pub period: &'static str,
    pub period_budget_krw: u64,
    pub valid_from_ms: Option<u64>,
    pub valid_until_ms: Option<u64>,
    pub blocked_categories: Vec<String>,
    pub allowed_merchants: Vec<String>,
}

fn status_name(status: DivisionStatus) -> &'static str {
    match status {
        DivisionStatus::PendingActivation => "PENDING_ACTIVATION",
        DivisionStatus::Active => "ACTIVE",
        DivisionStatus::Suspended => "SUSPENDED",
        DivisionStatus::Locked => "LOCKED",
        DivisionStatus::Closed => "CLOSED",
    }
}

fn period_name(period: Period) -> &'static str {
    match period {
        Period::Month => "MONTH",
        Period::Day => "DAY",
    }
}

impl DivisionView {
    fn of(e: &DivisionEntry, now_ms: u64) -> Self {
        let a = &e.account;
        let c = &a.controls;
        Self {
            instrument_id: a.instrument_id().to_string(),
            master: a.master.to_string(),
            division_no: a.masked(),
            status: status_name(a.status),
            slave_name: a.slave.name.to_string(),
            slave_birth_date: format!(
                "{:04}-{:02}-{:02}",
                a.slave.birth_date.year, a.slave.birth_date.month, a.slave.birth_date.day
            ),
            controls: ControlsView {
                per_tx_max_krw: c.per_tx_max_krw,
                period: period_name(c.period),
                period_budget_krw: c.period_budget_krw,
                valid_from_ms: c.valid_from_ms,
                valid_until_ms: c.valid_until_ms,
                blocked_categories: c.blocked_categories.iter().map(|t| t.to_string()).collect(),
                allowed_merchants: c.allowed_merchants.iter().map(|m| m.to_string()).collect(),
            },
            spent_in_period_krw: a.counters.spent_in(c.period, now_ms),
            reserved_krw: a.counters.reserved_krw,
            failed_pin_count: a.counters.failed_secret_count,
            auto_top_up: a.auto_top_up,
            issued_at_ms: a.issued_at_ms,
            version: e.version,
        }
    }
}

fn division_id(text: &str) -> Result<DivisionId, ApiError> {
    parse("instrument_id", text)
}

fn now_ms(state: &AppState) -> u64 {
    state.engine.now_ms()
}

/// The slave's data (I1, or the identity check at I5) from an object's fields.
fn slave(f: &mut Fields<'_>, at: &str) -> Result<Slave, ApiError> {
    let field = |name: &str| format!("{at}.{name}");
    let name = f.required_string("name")?;
    let name = PayeeName::new(&name).map_err(|e| ApiError::invalid_field(&field("name"), e))?;
    let birth = f.required_string("birth_date")?;
    let birth_date = BirthDate::parse(&birth)
        .ok_or_else(|| ApiError::invalid_field(&field("birth_date"), "YYYY-MM-DD"))?;
    let phone = f.required_string("phone")?;
    Ok(Slave {
        name,
        birth_date,
        phone,
        guardian_consent_at_ms: None,
    })
}

/// The controls of one account (I1, or a change by the master).
fn controls(mut f: Fields<'_>) -> Result<DivisionControls, ApiError> {
    let period_budget_krw = f
        .unsigned("period_budget_krw")?
        .ok_or_else(|| ApiError::missing_field("controls.period_budget_krw"))?;
    let per_tx_max_krw = f.unsigned("per_tx_max_krw")?;
    let period = match f.string("period")?.as_deref() {
        None => Period::Month,
        Some(p) if p.eq_ignore_ascii_case("month") => Period::Month,
        Some(p) if p.eq_ignore_ascii_case("day") => Period::Day,
        Some(p) => {
            return Err(ApiError::invalid_field(
                "controls.period",
                format!("MONTH or DAY, got {p:?}"),
            ))
        }
    };
    let valid_from_ms = f.unsigned("valid_from_ms")?;
    let valid_until_ms = f.unsigned("valid_until_ms")?;
    let blocked_categories = f
        .string_list("blocked_categories", LIST_MAX)?
        .unwrap_or_default()
        .iter()
        .map(|t| parse::<Tag>("controls.blocked_categories", t))
        .collect::<Result<_, _>>()?;
    let allowed_merchants = f
        .string_list("allowed_merchants", LIST_MAX)?
        .unwrap_or_default()
        .iter()
        .map(|m| parse::<MerchantId>("controls.allowed_merchants", m))
        .collect::<Result<_, _>>()?;
    f.finish()?;
    Ok(DivisionControls {
        per_tx_max_krw,
        period,
        period_budget_krw,
        valid_from_ms,
        valid_until_ms,
        blocked_categories,
        allowed_merchants,
    })
}

/// An account just issued, shown to the master this once: its full number and its
/// activation code.
#[derive(Serialize)]
struct IssuedView {
    #[serde(flatten)]
    account: DivisionView,
    division_no: String,
    activation_code: String,
}

/// `POST /v1/customers/{id}/division-accounts` `{bank, account_no, holder_name, slaves:
/// [{name, birth_date, phone, guardian_consent?, auto_top_up?, controls:
/// {period_budget_krw, per_tx_max_krw?, period?, valid_from_ms?, valid_until_ms?,
/// blocked_categories?, allowed_merchants?}}]}` (I1–I4): 201 with each account's full
/// number and activation code, shown this once; no PIN exists yet.
pub async fn issue(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let master: CustomerId = parse("id", &path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let bank = parse("bank", &f.required_string("bank")?)?;
    let account_no = parse("account_no", &f.required_string("account_no")?)?;
    let holder_name = f.required_string("holder_name")?;
    let holder_name =
        PayeeName::new(&holder_name).map_err(|e| ApiError::invalid_field("holder_name", e))?;
    let raw_slaves = f
        .objects("slaves", SLAVES_PER_REQUEST_MAX)?
        .ok_or_else(|| ApiError::missing_field("slaves"))?;
    f.finish()?;
    let now = now_ms(&state);
    let mut slaves = Vec::with_capacity(raw_slaves.len());
    for (i, mut s) in raw_slaves.into_iter().enumerate() {
        let at = format!("slaves[{i}]");
        let mut person = slave(&mut s, &at)?;
        if s.bool("guardian_consent")?.unwrap_or(false) {
            person.guardian_consent_at_ms = Some(now);
        }
        let auto_top_up = s.bool("auto_top_up")?.unwrap_or(false);
        let c = s
            .object("controls")?
            .ok_or_else(|| ApiError::missing_field(&format!("{at}.controls")))?;
        let controls = controls(c)?;
        s.finish()?;
        slaves.push(DivisionApplication {
            slave: person,
            controls,
            auto_top_up,
        });
    }
    let issued = state
        .engine
        .issue_division_accounts(
            master,
            DivisionIssue {
                bank,
                account_no,
                holder_name,
                slaves,
            },
        )
        .await?;
    let accounts: Vec<IssuedView> = issued
        .iter()
        .map(|i| IssuedView {
            account: DivisionView::of(&i.entry, now),
            division_no: i.number.ascii(),
            activation_code: i.activation_code.expose().to_owned(),
        })
        .collect();
    Ok(HttpResponse::build(StatusCode::CREATED)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "accounts": accounts })))
}

/// `GET /v1/customers/{id}/division-accounts`: the master's accounts, numbers masked.
pub async fn list(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let master: CustomerId = parse("id", &path)?;
    let now = now_ms(&state);
    let accounts: Vec<DivisionView> = state
        .engine
        .division_accounts(master)
        .await?
        .iter()
        .map(|e| DivisionView::of(e, now))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "accounts": accounts })))
}

/// `GET /v1/division-accounts/{instrument_id}`.
pub async fn get(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = division_id(&path)?;
    let entry = state.engine.division_account(id).await?;
    Ok(HttpResponse::Ok().json(DivisionView::of(&entry, now_ms(&state))))
}

/// `POST /v1/division-accounts/activations` `{division_no, activation_code,
/// identity_check: {name, birth_date, phone}, pin}` (I5, the slave): the account ACTIVE.
pub async fn activate(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let number = f.required_string("division_no")?;
    let code = SecretText::new(f.required_string("activation_code")?);
    let mut identity_fields = f
        .object("identity_check")?
        .ok_or_else(|| ApiError::missing_field("identity_check"))?;
    let identity = slave(&mut identity_fields, "identity_check")?;
    identity_fields.finish()?;
    let pin = SecretText::new(f.required_string("pin")?);
    f.finish()?;
    let entry = state
        .engine
        .activate_division(&number, code, identity, pin)
        .await?;
    Ok(HttpResponse::Ok().json(DivisionView::of(&entry, now_ms(&state))))
}

/// `PATCH /v1/division-accounts/{instrument_id}` `{action?: "suspend" | "resume" |
/// "unlock" | "close", controls?}` (F3, the master): the account after the change.
pub async fn change(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = division_id(&path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let action = match f.string("action")?.as_deref() {
        None => None,
        Some("suspend") => Some(DivisionAction::Suspend),
        Some("resume") => Some(DivisionAction::Resume),
        Some("unlock") => Some(DivisionAction::Unlock),
        Some("close") => Some(DivisionAction::Close),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "action",
                format!(
                    "suspend, resume, unlock or close, got {other:?} (a PIN reset is POST .../pin)"
                ),
            ))
        }
    };
    let new_controls = f.object("controls")?.map(controls).transpose()?;
    f.finish()?;
    if action.is_none() && new_controls.is_none() {
        return Err(ApiError::missing_field("action"));
    }
    let (entry, _) = state
        .engine
        .change_division(id, action, new_controls)
        .await?;
    Ok(HttpResponse::Ok().json(DivisionView::of(&entry, now_ms(&state))))
}

/// `POST /v1/division-accounts/{instrument_id}/pin`: `{action: "reset"}` by the master
/// (back to PENDING_ACTIVATION; the answer carries the new activation code, shown this
/// once), or `{current_pin, new_pin}` by the slave.
pub async fn pin(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = division_id(&path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let action = f.string("action")?;
    let current = f.string("current_pin")?;
    let new = f.string("new_pin")?;
    f.finish()?;
    let now = now_ms(&state);
    match (action.as_deref(), current, new) {
        (Some("reset"), None, None) => {
            let (entry, code) = state
                .engine
                .change_division(id, Some(DivisionAction::ResetPin), None)
                .await?;
            let code = code.map(|c| c.expose().to_owned()).unwrap_or_default();
            Ok(HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(serde_json::json!({
                    "account": DivisionView::of(&entry, now),
                    "activation_code": code,
                })))
        }
        (None, Some(current), Some(new)) => {
            let entry = state
                .engine
                .change_division_pin(id, SecretText::new(current), SecretText::new(new))
                .await?;
            Ok(HttpResponse::Ok().json(DivisionView::of(&entry, now)))
        }
        _ => Err(ApiError::invalid_field(
            "action",
            "send {\"action\": \"reset\"} (the master) or {\"current_pin\", \"new_pin\"} (the slave)",
        )),
    }
}

/// `GET /v1/division-accounts/{instrument_id}/authorizations?limit=N`: the account's
/// payments, approved and declined, newest first (at most
/// `payments.authorizations_list_max`).
pub async fn authorizations(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<std::collections::BTreeMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let id = division_id(&path)?;
    let mut limit = usize::MAX;
    for (key, value) in query.into_inner() {
        match key.as_str() {
            "limit" => limit = parse("limit", &value)?,
            other => return Err(ApiError::unknown_field(other)),
        }
    }
    let payments = state.engine.division_authorizations(id, limit).await?;
    let views: Vec<PaymentView> = payments
        .iter()
        .filter_map(|p| {
            let merchant = state.engine.merchant_id_of(p.merchant)?;
            Some(PaymentView::of(p, merchant))
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "authorizations": views })))
}
