//! `GET /v1/merchants/{merchant_id}/payouts?date=YYYY-MM-DD`: the payouts made to a
//! merchant on a KST day, each with its settlement statement (INSTRUMENTS.md §6.6). The
//! payouts are the supervisors' (`omnibus_actors::supervisors`); this only reads them.

use actix_web::{http::header, web, HttpResponse};
use omnibus_actors::PayoutView;
use serde::Serialize;

use super::errors::ApiError;
use super::merchants::parse;
use super::views::RequestViewJson;
use super::AppState;

#[derive(Serialize)]
struct PaymentLineJson {
    payment_id: String,
    merchant_request_no: String,
    amount_krw: u64,
    refunded_krw: u64,
    state: omnibus_core::payments::payment::PaymentState,
    approved_at_ms: u64,
}

/// A payout's settlement statement: the period's payments in the shard it paid from,
/// what they left the merchant, the reserve kept, what was paid, and what the payout
/// carried beyond the period's net (money held back before, less refunds of earlier
/// payments).
#[derive(Serialize)]
struct StatementJson {
    period_from_ms: u64,
    period_to_ms: u64,
    approvals: u64,
    approved_krw: u64,
    refunded_krw: u64,
    net_krw: u64,
    reserve_kept_krw: u64,
    paid_krw: String,
    carried_krw: i128,
    lines: Vec<PaymentLineJson>,
    lines_left_out: u64,
}

#[derive(Serialize)]
struct PayoutJson {
    payout_id: String,
    merchant_id: String,
    shard: u16,
    /// `pending` while its calls are open; `paid_out`; `recovered` (the deposit failed
    /// for good and the money is back in `merchant[m]`, for the next payout);
    /// `nothing_moved` (the deduction failed).
    outcome: &'static str,
    request: RequestViewJson,
    statement: StatementJson,
}

impl From<&PayoutView> for PayoutJson {
    fn from(p: &PayoutView) -> Self {
        let request = RequestViewJson::from(&p.request);
        Self {
            payout_id: p.payout_id.to_string(),
            merchant_id: p.merchant.to_string(),
            shard: p.shard,
            outcome: p.request.outcome.as_str(),
            statement: StatementJson {
                period_from_ms: p.period_from_ms,
                period_to_ms: p.period_to_ms,
                approvals: p.payments.approvals,
                approved_krw: p.payments.approved_krw,
                refunded_krw: p.payments.refunded_krw,
                net_krw: p.payments.net_krw(),
                reserve_kept_krw: p.reserve_kept_krw,
                paid_krw: request.amount.clone(),
                carried_krw: p.carried_krw(),
                lines: p
                    .payments
                    .lines
                    .iter()
                    .map(|l| PaymentLineJson {
                        payment_id: l.payment.to_string(),
                        merchant_request_no: l.merchant_request_no.to_string(),
                        amount_krw: l.amount_krw,
                        refunded_krw: l.refunded_krw,
                        state: l.state,
                        approved_at_ms: l.approved_at_ms,
                    })
                    .collect(),
                lines_left_out: p.payments.lines_left_out,
            },
            request,
        }
    }
}

/// `GET /v1/merchants/{merchant_id}/payouts?date=YYYY-MM-DD` (the KST day the payouts
/// were made): 404 for an unknown merchant; an empty list when nothing was paid that day.
pub async fn list(
    state: web::Data<AppState>,
    request: actix_web::HttpRequest,
    path: web::Path<String>,
    query: web::Query<std::collections::BTreeMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let merchant: omnibus_core::ids::MerchantId = parse("merchant_id", &path)?;
    let merchant = super::auth::Caller::of(&request)?
        .merchant_for_existing(Some(merchant), || format!("no merchant {merchant}"))?;
    let mut date = None;
    for (key, value) in query.into_inner() {
        match key.as_str() {
            "date" => date = Some(parse::<omnibus_core::RequestDate>("date", &value)?),
            other => return Err(ApiError::unknown_field(other)),
        }
    }
    let date = date.ok_or_else(|| ApiError::missing_field("date"))?;
    let payouts = state.engine.payouts(merchant, date).await?;
    let body: Vec<PayoutJson> = payouts.iter().map(PayoutJson::from).collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "payouts": body })))
}
