// Over 600 lines: the relay's endpoints of §2.7 with their views; to be split (partners and leases, bank notices, deposits) next.
//! The virtual-account relay of seed 001(b) (INSTRUMENTS.md §2.7): partners and their
//! pools, leases per order (S16–S20), the banks' inbound notices (S22, D-2.5, D-2.21),
//! suspense handling (D-2.4), the collection statement (S32) and the dispute history
//! (3DB, D-2.17).
//!
//! Until partner keys and the banks' signed notices are built (D-2.19), every route here
//! is an operator's: it takes the operator's key when authentication is on (docs/auth.md),
//! so nothing reaches the relay unauthenticated. Mode A only (`engine/relay.rs`).

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use omnibus_actors::{DepositReceipt, DepositRef, PartnerSetup};
use omnibus_core::ids::BankCode;
use omnibus_core::payments::kst::{date_of_day, day_of_date, kst_day, kst_day_start_ms};
use omnibus_core::payments::relay::book::PoolStatus;
use omnibus_core::payments::relay::{
    CollectionStatement, Deposit, DepositNotice, Lease, LeaseId, LeaseRequest, MatchMode, Partner,
    PartnerId, PartnerMode, PoolSpec, Region, VaNo,
};
use serde::Serialize;

use super::body::{read_json_body, Fields};
use super::errors::ApiError;
use super::merchants::parse;
use super::AppState;

/// The most pools one partner may name in one request.
const POOLS_PER_PARTNER_MAX: usize = 100;
const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;

#[derive(Serialize)]
pub struct PoolView {
    pub bank: String,
    pub region: String,
    pub target: u32,
    pub real_time: bool,
    /// Every VA that is not RETIRED.
    pub size: u32,
    pub free: u32,
    pub leased: u32,
    pub cooling: u32,
}

impl PoolView {
    fn of((spec, status): &(PoolSpec, PoolStatus)) -> Self {
        PoolView {
            bank: spec.bank.to_string(),
            region: spec.region.to_string(),
            target: spec.target,
            real_time: spec.real_time,
            size: status.size,
            free: status.free,
            leased: status.leased,
            cooling: status.cooling,
        }
    }
}

#[derive(Serialize)]
pub struct PartnerView {
    pub partner_id: String,
    pub mode: PartnerMode,
    /// Mode B: the onboarded merchant whose `merchant[m]` its deposits credit.
    pub merchant_id: Option<String>,
    pub default_match_mode: MatchMode,
    pub region_fallback: bool,
    pub cooldown_ms: u64,
    pub lease_life_ms: u64,
    pub expected_leases_per_day: Option<u32>,
    pub webhook_url: String,
    pub pools: Vec<PoolView>,
    /// D-2.9: a pool's target below what its daily volume needs.
    pub warnings: Vec<String>,
}

impl PartnerView {
    fn of(
        partner: &Partner,
        merchant_id: Option<String>,
        pools: &[(PoolSpec, PoolStatus)],
        warnings: Vec<String>,
    ) -> Self {
        PartnerView {
            partner_id: partner.id.to_string(),
            mode: partner.mode,
            merchant_id,
            default_match_mode: partner.default_match,
            region_fallback: partner.region_fallback,
            cooldown_ms: partner.cooldown_ms,
            lease_life_ms: partner.lease_life_ms,
            expected_leases_per_day: partner.expected_leases_per_day,
            webhook_url: partner.webhook_url.clone(),
            pools: pools.iter().map(PoolView::of).collect(),
            warnings,
        }
    }
}

#[derive(Serialize)]
pub struct LeaseView {
    pub lease_id: String,
    pub partner_id: String,
    pub order_no: String,
    pub customer: String,
    pub bank: String,
    pub region: String,
    pub va_no: String,
    pub match_mode: MatchMode,
    pub expected_amount_krw: Option<u64>,
    pub min_amount_krw: Option<u64>,
    pub max_amount_krw: Option<u64>,
    pub state: omnibus_core::payments::relay::LeaseState,
    pub paid_krw: u64,
    pub created_at_ms: u64,
    pub due_at_ms: u64,
    pub closed_at_ms: Option<u64>,
    pub deposit_ids: Vec<String>,
}

impl LeaseView {
    fn of(lease: &Lease, shard: u16) -> Self {
        LeaseView {
            lease_id: lease.id.to_string(),
            partner_id: lease.partner.to_string(),
            order_no: lease.order_no.clone(),
            customer: lease.customer.clone(),
            bank: lease.bank.to_string(),
            region: lease.region.to_string(),
            va_no: lease.va_no.to_string(),
            match_mode: lease.match_mode,
            expected_amount_krw: lease.expected_krw,
            min_amount_krw: (lease.match_mode == MatchMode::Open).then_some(lease.min_krw),
            max_amount_krw: lease.max_krw,
            state: lease.state,
            paid_krw: lease.paid_krw,
            created_at_ms: lease.created_at_ms,
            due_at_ms: lease.due_at_ms,
            closed_at_ms: lease.closed_at_ms,
            deposit_ids: lease
                .deposits
                .iter()
                .map(|id| DepositRef { shard, id: *id }.to_string())
                .collect(),
        }
    }
}

#[derive(Serialize)]
pub struct DepositView {
    pub deposit_id: String,
    pub partner_id: String,
    pub bank: String,
    pub bank_tx_id: String,
    pub va_no: String,
    pub amount_krw: u64,
    pub depositor_name: String,
    pub channel: String,
    pub state: omnibus_core::payments::relay::DepositState,
    pub lease_id: Option<String>,
    /// UNLEASED or MISMATCH: the lease the VA had (D-2.7's annotation).
    pub previous_lease_id: Option<String>,
    pub credited_krw: u64,
    pub excess_krw: u64,
    /// The depositor's name differs from the lease's customer: flagged, not refused.
    pub name_differs: bool,
    /// Found by the reconciliation with the bank's statement, not by a notice.
    pub late: bool,
    pub at_ms: u64,
    pub received_at_ms: u64,
    pub settled_at_ms: Option<u64>,
}

impl DepositView {
    fn of(deposit: &Deposit, shard: u16) -> Self {
        DepositView {
            deposit_id: DepositRef {
                shard,
                id: deposit.id,
            }
            .to_string(),
            partner_id: deposit.partner.to_string(),
            bank: deposit.bank.to_string(),
            bank_tx_id: deposit.bank_tx_id.clone(),
            va_no: deposit.va_no.to_string(),
            amount_krw: deposit.amount_krw,
            depositor_name: deposit.depositor_name.clone(),
            channel: deposit.channel.clone(),
            state: deposit.state,
            lease_id: deposit.lease.map(|l| l.to_string()),
            previous_lease_id: deposit.previous_lease.map(|l| l.to_string()),
            credited_krw: deposit.credited_krw,
            excess_krw: deposit.excess_krw,
            name_differs: deposit.name_differs,
            late: deposit.late,
            at_ms: deposit.at_ms,
            received_at_ms: deposit.received_at_ms,
            settled_at_ms: deposit.settled_at_ms,
        }
    }
}

#[derive(Serialize)]
pub struct ReceiptView {
    #[serde(flatten)]
    pub deposit: DepositView,
    /// The same (bank, bank_tx_id) was noticed before: nothing changed (D-2.12).
    pub duplicate: bool,
    pub lease: Option<LeaseView>,
}

impl ReceiptView {
    fn of(receipt: &DepositReceipt) -> Self {
        ReceiptView {
            deposit: DepositView::of(&receipt.deposit, receipt.id.shard),
            duplicate: receipt.duplicate,
            lease: receipt
                .lease
                .as_ref()
                .map(|l| LeaseView::of(l, receipt.id.shard)),
        }
    }
}

fn partner_id(text: &str) -> Result<PartnerId, ApiError> {
    PartnerId::new(text).map_err(|e| ApiError::invalid_field("partner_id", e))
}

fn bank(field: &str, text: &str) -> Result<BankCode, ApiError> {
    BankCode::new(text).map_err(|e| ApiError::invalid_field(field, e))
}

fn lease_id(text: &str) -> Result<LeaseId, ApiError> {
    LeaseId::parse(text).ok_or_else(|| ApiError::not_found(format!("no lease {text:?}")))
}

fn deposit_ref(text: &str) -> Result<DepositRef, ApiError> {
    DepositRef::parse(text).ok_or_else(|| ApiError::not_found(format!("no deposit {text:?}")))
}

fn match_mode(text: &str) -> Result<MatchMode, ApiError> {
    match text {
        "exact" => Ok(MatchMode::Exact),
        "accumulate" => Ok(MatchMode::Accumulate),
        "open" => Ok(MatchMode::Open),
        other => Err(ApiError::invalid_field(
            "match_mode",
            format!("exact, accumulate or open, got {other:?}"),
        )),
    }
}

fn u32_field(f: &mut Fields<'_>, name: &str) -> Result<Option<u32>, ApiError> {
    f.unsigned(name)?
        .map(|v| u32::try_from(v).map_err(|_| ApiError::invalid_field(name, "at most 4294967295")))
        .transpose()
}

/// The id of the merchant a partner in mode B collects for.
fn merchant_id_of(state: &AppState, partner: &Partner) -> Option<String> {
    partner
        .merchant
        .and_then(|no| state.engine.merchant_id_of(no))
        .map(|id| id.to_string())
}

/// `POST /v1/partners` `{partner_id, mode, merchant_id? (mode B), pools: [{bank, region, target, real_time?}],
/// default_match_mode?, region_fallback?, cooldown_days?, lease_life_hours?,
/// expected_leases_per_day?, webhook_url?}`: configures a partner (new or changed) and
/// tops its pools up from the banks (S10–S12).
pub async fn set_partner(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let id = partner_id(&f.required_string("partner_id")?)?;
    let mode = match f.required_string("mode")?.as_str() {
        "A" => PartnerMode::A,
        "B" => PartnerMode::B,
        "C" => PartnerMode::C,
        other => {
            return Err(ApiError::invalid_field(
                "mode",
                format!("A, B or C, got {other:?}"),
            ))
        }
    };
    let mut partner = Partner::new(id, mode);
    if let Some(merchant) = f.string("merchant_id")? {
        let merchant_id = omnibus_core::ids::MerchantId::new(&merchant)
            .map_err(|e| ApiError::invalid_field("merchant_id", e))?;
        let entry = state.engine.merchant(merchant_id).ok_or_else(|| {
            ApiError::invalid_field("merchant_id", format!("no onboarded merchant {merchant}"))
        })?;
        partner.merchant = Some(entry.no);
    }
    partner.expected_leases_per_day = u32_field(&mut f, "expected_leases_per_day")?;
    if let Some(days) = f.unsigned("cooldown_days")? {
        if days > 3_650 {
            return Err(ApiError::invalid_field("cooldown_days", "at most 3,650"));
        }
        partner.cooldown_ms = days * DAY_MS;
    }
    if let Some(hours) = f.unsigned("lease_life_hours")? {
        partner.lease_life_ms = hours.saturating_mul(HOUR_MS);
    }
    let pools = f
        .objects("pools", POOLS_PER_PARTNER_MAX)?
        .ok_or_else(|| ApiError::missing_field("pools"))?;
    for mut p in pools {
        let spec = PoolSpec {
            bank: bank("pools.bank", &p.required_string("bank")?)?,
            region: Region::new(&p.string("region")?.unwrap_or_else(|| Region::ANY.into()))
                .map_err(|e| ApiError::invalid_field("pools.region", e))?,
            // D-2.9: the formula's target when the partner gives its daily volume.
            target: u32_field(&mut p, "target")?.unwrap_or_else(|| partner.minimum_target()),
            real_time: p.bool("real_time")?.unwrap_or(false),
        };
        p.finish()?;
        partner.pools.push(spec);
    }
    if let Some(mode) = f.string("default_match_mode")? {
        partner.default_match = match_mode(&mode)?;
    }
    partner.region_fallback = f.bool("region_fallback")?.unwrap_or(false);
    if let Some(url) = f.string("webhook_url")? {
        if !url.starts_with("https://") || url.len() > 512 {
            return Err(ApiError::invalid_field(
                "webhook_url",
                "an https:// URL of at most 512 characters",
            ));
        }
        partner.webhook_url = url;
    }
    f.finish()?;
    let PartnerSetup {
        partner,
        warnings,
        pools,
    } = state.engine.set_partner(partner).await?;
    let merchant_id = merchant_id_of(&state, &partner);
    Ok(HttpResponse::Ok().json(PartnerView::of(&partner, merchant_id, &pools, warnings)))
}

/// `GET /v1/partners/{p}`: the partner and its pools as they stand.
pub async fn get_partner(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = partner_id(&path)?;
    let partner = state.engine.partner(&id).await?;
    let pools = state.engine.va_pools(&id).await?;
    let merchant_id = merchant_id_of(&state, &partner);
    Ok(HttpResponse::Ok().json(PartnerView::of(&partner, merchant_id, &pools, Vec::new())))
}

/// `POST /v1/partners/{p}/va-leases` `{order_no, customer, bank, region?,
/// expected_amount_krw?, match_mode?, min_amount_krw?, max_amount_krw?, due_at_ms?}`
/// (S16–S20): the lease and its VA; the same order asked again with the same fields gets
/// the same lease (D-2.12).
pub async fn lease(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let partner = partner_id(&path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let lease_request = LeaseRequest {
        partner: partner.clone(),
        order_no: f.required_string("order_no")?,
        customer: f.required_string("customer")?,
        bank: bank("bank", &f.required_string("bank")?)?,
        region: Region::new(&f.string("region")?.unwrap_or_else(|| Region::ANY.into()))
            .map_err(|e| ApiError::invalid_field("region", e))?,
        match_mode: f
            .string("match_mode")?
            .map(|m| match_mode(&m))
            .transpose()?,
        expected_krw: f.unsigned("expected_amount_krw")?,
        min_krw: f.unsigned("min_amount_krw")?,
        max_krw: f.unsigned("max_amount_krw")?,
        due_at_ms: f.unsigned("due_at_ms")?,
    };
    f.finish()?;
    let lease = state.engine.va_lease(lease_request).await?;
    let shard = state.engine.shard_of_partner(&partner);
    Ok(HttpResponse::Ok().json(LeaseView::of(&lease, shard)))
}

/// `GET /v1/partners/{p}/va-leases/{lease_id}`.
pub async fn get_lease(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let partner = partner_id(&path.0)?;
    let id = lease_id(&path.1)?;
    let lease = state.engine.va_lease_of(&partner, id).await?;
    let shard = state.engine.shard_of_partner(&partner);
    Ok(HttpResponse::Ok().json(LeaseView::of(&lease, shard)))
}

/// `DELETE /v1/partners/{p}/va-leases/{lease_id}` (D-2.18): the lease CANCELLED, its VA
/// cooling; a repeat answers the same.
pub async fn cancel_lease(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let partner = partner_id(&path.0)?;
    let id = lease_id(&path.1)?;
    let lease = state.engine.va_cancel(&partner, id).await?;
    let shard = state.engine.shard_of_partner(&partner);
    Ok(HttpResponse::Ok().json(LeaseView::of(&lease, shard)))
}

/// A KST date `YYYY-MM-DD` as its day number.
fn kst_date(field: &str, text: &str) -> Result<u32, ApiError> {
    let bad = || ApiError::invalid_field(field, format!("a date YYYY-MM-DD, got {text:?}"));
    let mut parts = text.splitn(3, '-');
    let mut next = |len: usize| {
        parts
            .next()
            .filter(|p| p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u32>().ok())
            .ok_or_else(bad)
    };
    let (year, month, day) = (next(4)?, next(2)?, next(2)?);
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(bad());
    }
    let n = day_of_date(year, month, day);
    // Not a calendar day (30 February) comes back as another date.
    let back = date_of_day(n);
    if (back.year as u32, back.month, back.day) != (year, month, day) {
        return Err(bad());
    }
    Ok(n)
}

#[derive(Serialize)]
pub struct CollectionView {
    pub partner_id: String,
    pub from_ms: u64,
    pub to_ms: u64,
    pub banks: Vec<omnibus_core::payments::relay::collection::BankCollection>,
    pub total_krw: u64,
    pub matched: Vec<DepositView>,
    pub suspense: Vec<DepositView>,
    pub suspense_total_krw: u64,
}

/// `GET /v1/partners/{p}/collections?from=YYYY-MM-DD&to=YYYY-MM-DD` (S32, D-2.14): the
/// partner's collection over the KST days `from` to `to`, both included (default: today).
pub async fn collections(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<BTreeMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let partner = partner_id(&path)?;
    let today = kst_day(state.engine.now_ms());
    let (mut from, mut to) = (today, today);
    for (key, value) in query.into_inner() {
        match key.as_str() {
            "from" => from = kst_date("from", &value)?,
            "to" => to = kst_date("to", &value)?,
            other => return Err(ApiError::unknown_field(other)),
        }
    }
    if to < from {
        return Err(ApiError::invalid_field("to", "on or after from"));
    }
    let statement: CollectionStatement = state
        .engine
        .va_collection(&partner, kst_day_start_ms(from), kst_day_start_ms(to + 1))
        .await?;
    let shard = state.engine.shard_of_partner(&partner);
    Ok(HttpResponse::Ok().json(CollectionView {
        partner_id: partner.to_string(),
        from_ms: statement.from_ms,
        to_ms: statement.to_ms,
        banks: statement.banks,
        total_krw: statement.total_krw,
        matched: statement
            .matched
            .iter()
            .map(|d| DepositView::of(d, shard))
            .collect(),
        suspense: statement
            .suspense
            .iter()
            .map(|d| DepositView::of(d, shard))
            .collect(),
        suspense_total_krw: statement.suspense_total_krw,
    }))
}

/// `GET /v1/partners/{p}/va-history?va_no&order_no&from_ms&to_ms&limit` (3DB, D-2.17):
/// the partner's deposits, oldest first.
pub async fn history(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<BTreeMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let partner = partner_id(&path)?;
    let (mut va_no, mut order_no) = (None, None);
    let (mut from_ms, mut to_ms, mut limit) = (0, u64::MAX, usize::MAX);
    for (key, value) in query.into_inner() {
        match key.as_str() {
            "va_no" => {
                va_no = Some(VaNo::new(&value).map_err(|e| ApiError::invalid_field("va_no", e))?)
            }
            "order_no" => order_no = Some(value),
            "from_ms" => from_ms = parse("from_ms", &value)?,
            "to_ms" => to_ms = parse("to_ms", &value)?,
            "limit" => limit = parse("limit", &value)?,
            other => return Err(ApiError::unknown_field(other)),
        }
    }
    let found = state
        .engine
        .va_history(&partner, va_no, order_no, from_ms, to_ms, limit)
        .await?;
    let shard = state.engine.shard_of_partner(&partner);
    let views: Vec<_> = found.iter().map(|d| DepositView::of(d, shard)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "deposits": views })))
}

/// `POST /v1/banks/{bank}/va-deposits` `{bank_tx_id, va_no, amount_krw, depositor_name?,
/// depositor_account?, channel?, at_ms?}` (S22): a bank's deposit notice, matched (S24)
/// or held in suspense (S26); a repeat answers the same with `duplicate: true`.
pub async fn deposit(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bank = bank("bank", &path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let notice = DepositNotice {
        bank,
        bank_tx_id: f.required_string("bank_tx_id")?,
        va_no: VaNo::new(&f.required_string("va_no")?)
            .map_err(|e| ApiError::invalid_field("va_no", e))?,
        amount_krw: f
            .unsigned("amount_krw")?
            .ok_or_else(|| ApiError::missing_field("amount_krw"))?,
        depositor_name: f.string("depositor_name")?.unwrap_or_default(),
        depositor_account: f.string("depositor_account")?,
        channel: f.string("channel")?.unwrap_or_default(),
        at_ms: f
            .unsigned("at_ms")?
            .unwrap_or_else(|| state.engine.now_ms()),
    };
    f.finish()?;
    notice
        .validate()
        .map_err(|e| ApiError::invalid_field("notice", e))?;
    let receipt = state.engine.va_deposit(notice, false).await?;
    Ok(HttpResponse::Ok().json(ReceiptView::of(&receipt)))
}

/// `POST /v1/banks/{bank}/va-deposit-checks` `{va_no, amount_krw}` (D-2.5): whether the
/// bank should accept the deposit; nothing is written.
pub async fn deposit_check(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bank = bank("bank", &path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let va_no =
        VaNo::new(&f.required_string("va_no")?).map_err(|e| ApiError::invalid_field("va_no", e))?;
    let amount = f
        .unsigned("amount_krw")?
        .ok_or_else(|| ApiError::missing_field("amount_krw"))?;
    f.finish()?;
    let verdict = state.engine.va_deposit_check(bank, &va_no, amount).await?;
    Ok(HttpResponse::Ok().json(match verdict {
        Ok(()) => serde_json::json!({ "accept": true }),
        Err(reason) => serde_json::json!({ "accept": false, "reason": reason }),
    }))
}

/// `POST /v1/banks/{bank}/va-deposit-reversals` `{bank_tx_id}` (D-2.21): the bank recalls
/// a deposit; a repeat changes nothing.
pub async fn reversal(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bank = bank("bank", &path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let tx = f.required_string("bank_tx_id")?;
    f.finish()?;
    let receipt = state.engine.va_recall(bank, &tx).await?;
    Ok(HttpResponse::Ok().json(ReceiptView::of(&receipt)))
}

/// `POST /v1/banks/{bank}/va-reconciliations` `{from_ms, to_ms}` (D-2.15): the bank's
/// statement over the period against the relay; deposits no notice brought are ingested.
pub async fn reconcile(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bank = bank("bank", &path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let from_ms = f
        .unsigned("from_ms")?
        .ok_or_else(|| ApiError::missing_field("from_ms"))?;
    let to_ms = f
        .unsigned("to_ms")?
        .ok_or_else(|| ApiError::missing_field("to_ms"))?;
    f.finish()?;
    if to_ms <= from_ms {
        return Err(ApiError::invalid_field("to_ms", "after from_ms"));
    }
    let report = state.engine.va_reconcile(bank, from_ms, to_ms).await?;
    let ingested: Vec<_> = report.ingested.iter().map(ReceiptView::of).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "ingested": ingested,
        "known": report.known,
        "unknown_va": report.unknown_va,
    })))
}

/// `GET /v1/va-deposits/{deposit_id}`.
pub async fn get_deposit(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = deposit_ref(&path)?;
    let receipt = state.engine.va_deposit_of(id).await?;
    Ok(HttpResponse::Ok().json(DepositView::of(&receipt.deposit, id.shard)))
}

/// `POST /v1/va-deposits/{deposit_id}/assign` `{lease_id}` (D-2.4): a suspense deposit
/// matched to an open lease of its partner by operations.
pub async fn assign(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = deposit_ref(&path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let lease = LeaseId::parse(&f.required_string("lease_id")?)
        .ok_or_else(|| ApiError::invalid_field("lease_id", "vl_ and a number"))?;
    f.finish()?;
    let receipt = state.engine.va_assign(id, lease).await?;
    Ok(HttpResponse::Ok().json(ReceiptView::of(&receipt)))
}

/// `POST /v1/va-deposits/{deposit_id}/refund` `{}` (D-2.4): a suspense deposit refunded to
/// its payer. In mode A the money is in the partner's own account, so this records that
/// the partner refunded it; a repeat answers the same.
pub async fn refund(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = deposit_ref(&path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let f = Fields::parse(&body)?;
    f.finish()?;
    let receipt = state.engine.va_refund(id).await?;
    Ok(HttpResponse::Ok().json(DepositView::of(&receipt.deposit, id.shard)))
}
