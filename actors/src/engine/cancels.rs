//! A merchant's cancels (INSTRUMENTS.md §6.4, D-5.12): `POST /v1/payments/{id}/cancel`
//! and the network cancel by the merchant's own request number,
//! `POST /v1/payments/cancel-by-request`.
//!
//! A cancel is full, of an APPROVED payment with no refund yet, on the KST day of its
//! approval (`PaymentBook::cancel`). Its money goes back as a request of the payer's,
//! `merchant[m]` → the pocket that paid, and → `customer[c]` for what the pocket's cap
//! cannot take (D-5.6); funded from the merchant's slice in the payer's shard (a slice
//! short of it is refused `REFUND_EXCEEDS_MERCHANT_BALANCE`; topping it up from the
//! merchant's other slices, §6.6, is not built yet). The requests' numbers come from the
//! payment's id (`CX-`, and `CY-` for the overflow), so a cancel asked again after a crash
//! finds them on record instead of paying twice; the payment is CANCELLED on record once
//! they are accepted, since they are then owed and retried until done.

use omnibus_core::ids::{CardSeq, MerchantId, RequestNo};
use omnibus_core::payments::payment::{PaymentEntry, PaymentId, PaymentState};
use omnibus_core::payments::prepaid_card::CardId;
use omnibus_core::payments::{DeclineCode, RefusalCode};
use omnibus_core::request_log::Told;
use omnibus_core::saga::Reason;
use omnibus_core::{AccountId, Amount, RequestDate, RequestHeader};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::Engine;
use crate::api::MerchantRefundRequest;
use crate::error::EngineError;
use crate::shard::{Query, QueryAnswer, QueryKind, RecordPayment};

fn refusal(code: RefusalCode, message: impl Into<String>) -> EngineError {
    EngineError::Refusal {
        code,
        message: message.into(),
    }
}

/// What the network cancel answers (§6.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelByRequest {
    /// The payment was approved, and is cancelled now (or was already).
    Cancelled(PaymentEntry),
    /// It was declined (the engine's own reversal of any leg goes on as usual), or never
    /// arrived: then its number is on record as cancelled, and a payment that arrives
    /// under it later is declined `CANCELLED_BY_MERCHANT`.
    NotApproved(Option<PaymentEntry>),
}

/// The tombstone of a number the merchant cancelled before it arrived.
pub(super) fn is_cancelled_before_arrival(p: &PaymentEntry) -> bool {
    p.card.is_none() && p.decline_code() == Some(DeclineCode::CancelledByMerchant)
}

impl Engine {
    /// Cancels a merchant's payment (§6.4): full, same KST day, no refund yet. Answers the
    /// payment CANCELLED; asked again, the same. Refused `INVALID_STATE`,
    /// `CANCEL_WINDOW_CLOSED` or `REFUND_EXCEEDS_MERCHANT_BALANCE`, with nothing moved.
    /// `merchant`: the merchant asking; another merchant's payment is `NOT_FOUND`.
    pub async fn cancel_payment(
        &self,
        merchant: MerchantId,
        id: PaymentId,
    ) -> Result<PaymentEntry, EngineError> {
        let mut payment = self.payment(id).await?;
        let asking = self.merchant(merchant).map(|m| m.no);
        if asking != Some(payment.merchant) {
            return Err(refusal(RefusalCode::NotFound, format!("no payment {id}")));
        }
        if payment.state == PaymentState::Cancelled {
            return Ok(payment);
        }
        if payment.state == PaymentState::Requested {
            payment = self.complete(payment).await?;
        }
        payment
            .book()
            .cancel(self.now_ms())
            .map_err(|(code, why)| refusal(code, format!("{id}: {why}")))?;
        let (Some((customer, seq)), Some(_)) = (payment.card, payment.sale) else {
            return Err(refusal(
                RefusalCode::InvalidState,
                format!("{id} paid nothing"),
            ));
        };
        let (to_pocket, overflow) = self.cancel_split(&payment, customer, seq).await?;
        let shard = self.shard_of(customer);
        let slice = self
            .slice_of(shard, AccountId::merchant(payment.merchant))
            .await?;
        let already = self.request(cancel_no(id, 'X')).await.is_ok()
            || self.request(cancel_no(id, 'Y')).await.is_ok();
        if !already && slice < Decimal::from(payment.amount_krw) {
            return Err(refusal(
                RefusalCode::RefundExceedsMerchantBalance,
                format!(
                    "merchant {merchant} holds {} in the payer's shard, short of {}",
                    slice.normalize(),
                    payment.amount_krw
                ),
            ));
        }
        for (to, won, leg) in [(Some(seq), to_pocket, 'X'), (None, overflow, 'Y')] {
            if won == 0 {
                continue;
            }
            let outcome = self
                .merchant_refund(MerchantRefundRequest {
                    header: self.payment_header(&payment, cancel_no(id, leg), won)?,
                    merchant: payment.merchant,
                    pocket: to,
                })
                .await?;
            if outcome.told == Told::Failed && outcome.reason == Reason::NotCarriedOut {
                return Err(refusal(
                    RefusalCode::RefundExceedsMerchantBalance,
                    format!("merchant {merchant}'s slice could not fund the cancel of {id}"),
                ));
            }
        }
        let mut cancelled = payment.clone();
        cancelled.version += 1;
        cancelled.state = PaymentState::Cancelled;
        cancelled.refunded_krw = payment.amount_krw;
        self.ask(id.shard(), |reply| RecordPayment {
            payment: cancelled,
            new_id: false,
            reply,
        })
        .await
    }

    /// The network cancel (망취소, §6.4) by the merchant's own request number: accepted
    /// whatever the engine answered, and idempotent.
    pub async fn cancel_by_request(
        &self,
        merchant: MerchantId,
        merchant_request_no: RequestNo,
    ) -> Result<CancelByRequest, EngineError> {
        let no = self
            .merchant(merchant)
            .ok_or_else(|| refusal(RefusalCode::NotFound, format!("no merchant {merchant}")))?
            .no;
        let key = (no, merchant_request_no);
        let id = match self.claim_payment_key(key).await? {
            Some(id) => id,
            None => {
                // Never arrived: its number is on record as cancelled.
                let now = self.now_ms();
                let tombstone = PaymentEntry {
                    id: PaymentId(0),
                    version: 1,
                    merchant: no,
                    merchant_request_no,
                    order_no: None,
                    fingerprint: [0; 32],
                    amount_krw: 0,
                    card: None,
                    state: PaymentState::Declined,
                    decline: Some(DeclineCode::CancelledByMerchant.byte()),
                    sale: None,
                    created_at_ms: now,
                    approved_at_ms: 0,
                    refunded_krw: 0,
                };
                let recorded = self.record_new(self.key_shard(&key), tombstone).await;
                self.settle_payment_key(key, recorded.as_ref().ok().map(|p| p.id));
                return Ok(CancelByRequest::NotApproved(Some(recorded?)));
            }
        };
        let payment = self
            .payment_by_request(merchant, merchant_request_no)
            .await?;
        debug_assert_eq!(payment.id, id);
        match payment.state {
            PaymentState::Approved => self
                .cancel_payment(merchant, payment.id)
                .await
                .map(CancelByRequest::Cancelled),
            PaymentState::Cancelled => Ok(CancelByRequest::Cancelled(payment)),
            _ => Ok(CancelByRequest::NotApproved(Some(payment))),
        }
    }

    /// How a cancel's money splits between the pocket and the customer's balance: the
    /// pocket takes what its cap allows, with the charges on their way to it counted; a
    /// closed or expired card's share goes to the balance (D-5.12). On a cancel asked
    /// again, the split already on record.
    async fn cancel_split(
        &self,
        payment: &PaymentEntry,
        customer: omnibus_core::CustomerId,
        seq: CardSeq,
    ) -> Result<(u64, u64), EngineError> {
        if let Ok(view) = self.request(cancel_no(payment.id, 'X')).await {
            let to_pocket = view.accepted.amount.value().to_u64().unwrap_or(0);
            return Ok((to_pocket, payment.amount_krw - to_pocket));
        }
        if self.request(cancel_no(payment.id, 'Y')).await.is_ok() {
            return Ok((0, payment.amount_krw));
        }
        let card = self.prepaid_card(CardId { customer, seq }).await?;
        use omnibus_core::payments::prepaid_card::CardStatus;
        if matches!(card.card.status, CardStatus::Closed | CardStatus::Expired) {
            return Ok((0, payment.amount_krw));
        }
        let cap = Decimal::from(self.inner.config.payments.pocket_balance_cap_krw);
        let headroom = (cap - card.pocket.balance).max(Decimal::ZERO);
        let to_pocket = headroom.to_u64().unwrap_or(0).min(payment.amount_krw);
        Ok((to_pocket, payment.amount_krw - to_pocket))
    }

    /// One shard's slice of an account (a merchant's, a parent's).
    async fn slice_of(&self, shard: u16, account: AccountId) -> Result<Decimal, EngineError> {
        let QueryAnswer::Account(balance) = self
            .ask(shard, |reply| Query {
                kind: QueryKind::Account(account),
                reply,
            })
            .await?
        else {
            unreachable!("an account query answers with a balance");
        };
        Ok(balance.value())
    }

    /// The header of a request of the payer's made for a payment (its sale, its cancel).
    pub(super) fn payment_header(
        &self,
        payment: &PaymentEntry,
        request_no: RequestNo,
        won: u64,
    ) -> Result<RequestHeader, EngineError> {
        let (customer, _) = payment
            .card
            .ok_or_else(|| EngineError::Internal(format!("{} has no payer", payment.id)))?;
        let amount = Amount::new(self.inner.config.engine.currency, Decimal::from(won))
            .map_err(|e| refusal(RefusalCode::InvalidRequest, format!("amount_krw: {e}")))?;
        let request_date = RequestDate::from_unix_ms(self.now_ms())
            .ok_or_else(|| EngineError::Internal("the engine's date".into()))?;
        Ok(RequestHeader {
            customer,
            request_date,
            request_no,
            amount,
        })
    }
}

/// The request number of a cancel's leg: `CX-` (to the pocket) or `CY-` (to the balance)
/// and the payment's id in hex.
fn cancel_no(id: PaymentId, leg: char) -> RequestNo {
    RequestNo::new(&format!("C{leg}-{:016X}", id.0)).expect("19 key characters")
}
