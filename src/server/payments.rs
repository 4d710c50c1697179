//! `/v1/payments`: a merchant's payment (INSTRUMENTS.md §6.4) and its lookup by the
//! merchant's own request number. A payment answers 200 with APPROVED or DECLINED and
//! the decline code (a decline is an answer, not an error); refusals (a malformed
//! request, an unknown merchant, another body under a known number) are errors, and
//! record nothing. Card numbers and passwords travel only in the body.

use actix_web::{web, HttpRequest, HttpResponse};
use omnibus_core::ids::{MerchantId, RequestNo, Tag, TerminalId};
use omnibus_core::payments::card_number::CardNumber;
use omnibus_core::payments::payment::{PayerKind, PaymentEntry, PaymentState};
use omnibus_core::payments::payment_request::{
    InstrumentRef, Leg, NumberText, PaymentRequest, SecretText,
};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::body::{read_json_body, Fields};
use super::errors::ApiError;
use super::merchants::parse;
use super::AppState;

/// One leg of a payment as answered.
#[derive(Serialize)]
pub struct LegView {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub amount_krw: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_no: Option<String>,
    pub rail: &'static str,
}

/// A payment as the merchant sees it (§6.4): no card number, no payer.
#[derive(Serialize)]
pub struct PaymentView {
    pub payment_id: String,
    /// APPROVED or DECLINED: what the merchant was told.
    pub status: &'static str,
    /// Where `payment_log` stands (§6.5): REQUESTED, APPROVED, DECLINED, CANCELLED,
    /// PARTIALLY_REFUNDED, REFUNDED.
    pub state: PaymentState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_no: Option<String>,
    pub merchant_id: String,
    pub merchant_request_no: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_no: Option<String>,
    pub amount_krw: u64,
    pub legs: Vec<LegView>,
    /// The payout that settled it and when that was made (§6.5: settlement is an
    /// attribute, not a state); absent until a payout has, and past the retention window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payout_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled_at_ms: Option<u64>,
    /// What its refunds and cancel have taken back so far.
    pub refunded_krw: u64,
    /// Its refunds (§6.5), oldest first, each with the payout it netted into.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refunds: Vec<RefundView>,
    /// A cancelled payment's cancel, with the payout it netted into.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel: Option<CancelOfPayment>,
}

/// A refund of a payment as answered: the merchant's number for it, its amount, when it
/// was accepted, and the payout it netted into once one has (§6.5).
#[derive(Serialize)]
pub struct RefundView {
    pub refund_request_no: String,
    pub amount_krw: u64,
    pub at_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payout_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled_at_ms: Option<u64>,
}

/// A payment's cancel as answered: when its money went back, and the payout it netted
/// into once one has (§6.5).
#[derive(Serialize)]
pub struct CancelOfPayment {
    pub cancelled_at_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payout_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled_at_ms: Option<u64>,
}

impl PaymentView {
    pub fn of(p: &PaymentEntry, merchant: MerchantId) -> Self {
        let approved = p.state.answered_approved() == Some(true);
        let approval_no = approved.then(|| p.id.approval_no());
        Self {
            payment_id: p.id.to_string(),
            status: if approved { "APPROVED" } else { "DECLINED" },
            state: p.state,
            decline_code: p.decline_code().map(|c| c.as_str().to_owned()),
            approval_no: approval_no.clone(),
            merchant_id: merchant.to_string(),
            merchant_request_no: p.merchant_request_no.to_string(),
            order_no: p.order_no.map(|o| o.to_string()),
            amount_krw: p.amount_krw,
            legs: vec![LegView {
                kind: match p.payer {
                    PayerKind::PrepaidCard => "prepaid_card",
                    PayerKind::Division => "division",
                },
                amount_krw: p.amount_krw,
                approval_no,
                rail: "securities_firm",
            }],
            payout_id: None,
            settled_at_ms: None,
            refunded_krw: p.refunded_krw,
            refunds: p
                .refunds
                .iter()
                .map(|r| RefundView {
                    refund_request_no: r.refund_request_no.to_string(),
                    amount_krw: r.amount_krw,
                    at_ms: r.at_ms,
                    payout_id: None,
                    settled_at_ms: None,
                })
                .collect(),
            cancel: None,
        }
    }

    /// The view with the payout that settled the payment, and those its refunds and its
    /// cancel netted into, where one has. The payment's own answer stands whatever the
    /// lookup of its payouts meets: an error there is logged and those fields left out
    /// (a cancel without its time too).
    pub async fn settled(mut self, p: &PaymentEntry, engine: &omnibus_actors::Engine) -> Self {
        let settlements = match engine.payment_settlements(p).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(payment = %p.id, error = %e, "the payouts that settled a payment could not be looked up; answered without them");
                return self;
            }
        };
        let ids = |s: Option<omnibus_actors::Settlement>| match s {
            Some(s) => (Some(s.payout_id.to_string()), Some(s.settled_at_ms)),
            None => (None, None),
        };
        (self.payout_id, self.settled_at_ms) = ids(settlements.payment);
        for (view, s) in self.refunds.iter_mut().zip(settlements.refunds) {
            (view.payout_id, view.settled_at_ms) = ids(s);
        }
        self.cancel = settlements.cancel.map(|(cancelled_at_ms, s)| {
            let (payout_id, settled_at_ms) = ids(s);
            CancelOfPayment {
                cancelled_at_ms,
                payout_id,
                settled_at_ms,
            }
        });
        self
    }
}

/// `POST /v1/payments`: `{merchant_id, terminal_id?, merchant_request_no, order_no?,
/// amount_krw, category, region?, instrument: {type: "prepaid_card", number, password} |
/// {type: "division", number, pin} | {type: "wallet", checkout_id}}`.
pub async fn pay(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let merchant = Caller::of(&request)?.merchant_for_request(named_merchant(&mut f)?, "pay")?;
    let terminal = f
        .string("terminal_id")?
        .map(|t| parse::<TerminalId>("terminal_id", &t))
        .transpose()?;
    let merchant_request_no: RequestNo = parse(
        "merchant_request_no",
        &f.required_string("merchant_request_no")?,
    )?;
    let order_no = f
        .string("order_no")?
        .map(|o| parse::<RequestNo>("order_no", &o))
        .transpose()?;
    let amount_krw = f
        .unsigned("amount_krw")?
        .ok_or_else(|| ApiError::missing_field("amount_krw"))?;
    let category: Tag = parse("category", &f.required_string("category")?)?;
    let region = f
        .string("region")?
        .map(|r| parse::<Tag>("region", &r))
        .transpose()?;
    let mut i = f
        .object("instrument")?
        .ok_or_else(|| ApiError::missing_field("instrument"))?;
    f.finish()?;
    let kind = i.required_string("type")?;
    let instrument = match kind.as_str() {
        "prepaid_card" => {
            let number = CardNumber::parse(&i.required_string("number")?)
                .map_err(|e| ApiError::invalid_field("instrument.number", e))?;
            let password = SecretText::new(i.required_string("password")?);
            i.finish().map_err(|_| {
                ApiError::invalid_field("instrument", "only type, number and password")
            })?;
            InstrumentRef::PrepaidCard { number, password }
        }
        "division" => {
            let number = NumberText::new(i.required_string("number")?);
            let pin = SecretText::new(i.required_string("pin")?);
            i.finish()
                .map_err(|_| ApiError::invalid_field("instrument", "only type, number and pin"))?;
            InstrumentRef::Division { number, pin }
        }
        "wallet" => {
            let checkout_id = i.required_string("checkout_id")?;
            i.finish()
                .map_err(|_| ApiError::invalid_field("instrument", "only type and checkout_id"))?;
            InstrumentRef::Wallet { checkout_id }
        }
        _ => {
            return Err(ApiError::invalid_field(
                "instrument",
                format!("type {kind:?} is not built yet; prepaid_card, division and wallet are"),
            ))
        }
    };
    let payment = state
        .engine
        .pay(PaymentRequest {
            merchant,
            terminal,
            merchant_request_no,
            order_no,
            amount_krw,
            category,
            region,
            legs: vec![Leg {
                instrument,
                amount_krw,
            }],
        })
        .await?;
    // The payment's own answer, on the hot path: which payout settled it is the lookup's.
    Ok(HttpResponse::Ok().json(PaymentView::of(&payment, merchant)))
}

#[derive(Deserialize)]
pub struct Lookup {
    merchant_id: Option<String>,
    merchant_request_no: String,
}

/// `GET /v1/payments?merchant_id&merchant_request_no`: the merchant's lookup after its
/// client timed out (D-0.2); 404 if no such request arrived.
pub async fn lookup(
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<Lookup>,
) -> Result<HttpResponse, ApiError> {
    let named = query
        .merchant_id
        .as_deref()
        .map(|m| parse::<MerchantId>("merchant_id", m))
        .transpose()?;
    let no: RequestNo = parse("merchant_request_no", &query.merchant_request_no)?;
    let merchant = Caller::of(&request)?
        .merchant_for_existing(named, || format!("no payment under request number {no}"))?;
    let payment = state.engine.payment_by_request(merchant, no).await?;
    let view = PaymentView::of(&payment, merchant)
        .settled(&payment, &state.engine)
        .await;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /v1/payments/{payment_id}/cancel` `{merchant_id}`: the full, same-day cancel
/// (§6.4); the payment CANCELLED, asked again the same. A merchant's key acts for its own
/// merchant; the operator (or anyone, with authentication off) names it in `merchant_id`.
pub async fn cancel(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id: omnibus_core::payments::payment::PaymentId = parse("payment_id", &path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let named = named_merchant(&mut f)?;
    f.finish()?;
    let merchant =
        Caller::of(&request)?.merchant_for_existing(named, || format!("no payment {id}"))?;
    let payment = state.engine.cancel_payment(merchant, id).await?;
    let view = PaymentView::of(&payment, merchant)
        .settled(&payment, &state.engine)
        .await;
    Ok(HttpResponse::Ok().json(view))
}

/// The network cancel's answer (§6.4).
#[derive(Serialize)]
struct CancelView {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_id: Option<String>,
}

/// `POST /v1/payments/cancel-by-request` `{merchant_id, merchant_request_no}`: the
/// network cancel, whatever the engine answered; `CANCELLED` or `NOT_APPROVED`.
pub async fn cancel_by_request(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let named = named_merchant(&mut f)?;
    let no: RequestNo = parse(
        "merchant_request_no",
        &f.required_string("merchant_request_no")?,
    )?;
    f.finish()?;
    let merchant = Caller::of(&request)?
        .merchant_for_existing(named, || format!("no payment under request number {no}"))?;
    let answer = match state.engine.cancel_by_request(merchant, no).await? {
        omnibus_actors::CancelByRequest::Cancelled(p) => CancelView {
            status: "CANCELLED",
            payment_id: Some(p.id.to_string()),
        },
        omnibus_actors::CancelByRequest::NotApproved(p) => CancelView {
            status: "NOT_APPROVED",
            payment_id: p.filter(|p| p.card.is_some()).map(|p| p.id.to_string()),
        },
    };
    Ok(HttpResponse::Ok().json(answer))
}

/// `POST /v1/payments/{payment_id}/refunds` `{merchant_id, refund_request_no,
/// amount_krw}`: a partial or full refund (§6.4); the payment with the refund on record.
pub async fn refund(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id: omnibus_core::payments::payment::PaymentId = parse("payment_id", &path)?;
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let named = named_merchant(&mut f)?;
    let no: RequestNo = parse(
        "refund_request_no",
        &f.required_string("refund_request_no")?,
    )?;
    let amount_krw = f
        .unsigned("amount_krw")?
        .ok_or_else(|| ApiError::missing_field("amount_krw"))?;
    f.finish()?;
    let merchant =
        Caller::of(&request)?.merchant_for_existing(named, || format!("no payment {id}"))?;
    let payment = state
        .engine
        .refund_payment(merchant, id, no, amount_krw)
        .await?;
    let view = PaymentView::of(&payment, merchant)
        .settled(&payment, &state.engine)
        .await;
    Ok(HttpResponse::Ok().json(view))
}

/// The body's `merchant_id`, if it names one: required of the operator (and of anyone with
/// authentication off), optional for a merchant's key, which names its merchant itself.
fn named_merchant(f: &mut Fields<'_>) -> Result<Option<MerchantId>, ApiError> {
    f.string("merchant_id")?
        .map(|m| parse::<MerchantId>("merchant_id", &m))
        .transpose()
}
