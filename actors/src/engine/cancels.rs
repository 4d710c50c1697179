//! A merchant's cancels (INSTRUMENTS.md §6.4, D-5.12): `POST /v1/payments/{id}/cancel`
//! and the network cancel by the merchant's own request number,
//! `POST /v1/payments/cancel-by-request`.
//!
//! A cancel is full, of an APPROVED payment with no refund yet, on the KST day of its
//! approval (`PaymentBook::cancel`). Its money goes back as a request of the payer's,
//! `merchant[m]` → the pocket that paid, and → `customer[c]` for what the pocket's cap
//! cannot take (D-5.6); funded from the merchant's slice in the payer's shard, topped up
//! from the merchant's other slices when short (§6.6, `fund_payers_slice`), and refused
//! `REFUND_EXCEEDS_MERCHANT_BALANCE` when all of them are (`pay_backs.rs`). The requests'
//! numbers come from the payment's id (`CX-`, and `CY-` for the overflow), so a cancel
//! asked again after a crash finds them on record instead of paying twice, and finishes
//! what is left; the payment is CANCELLED on record once they are accepted, since they are
//! then owed and retried until done.

use omnibus_core::ids::{MerchantId, RequestNo};
use omnibus_core::payments::payment::{PayBack, PaymentEntry, PaymentId, PaymentState};
use omnibus_core::payments::{DeclineCode, RefusalCode};

use super::Engine;
use crate::error::EngineError;
use crate::shard::RecordPayment;

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
    /// `CANCEL_WINDOW_CLOSED` or `REFUND_EXCEEDS_MERCHANT_BALANCE`, with nothing moved,
    /// except a cancel cut short between its legs, whose refusal says what went back
    /// already; asked again, even on a later day, it finishes (`pay_backs.rs`).
    /// `merchant`: the merchant asking; another merchant's payment is `NOT_FOUND`.
    pub async fn cancel_payment(
        &self,
        merchant: MerchantId,
        id: PaymentId,
    ) -> Result<PaymentEntry, EngineError> {
        let _one_at_a_time = self.inner.pay_backs.lock().await;
        let mut payment = self.payment(id).await?;
        let asking = self.merchant(merchant).map(|m| m.no);
        if asking != Some(payment.merchant) {
            return Err(EngineError::refusal(
                RefusalCode::NotFound,
                format!("no payment {id}"),
            ));
        }
        if payment.state == PaymentState::Cancelled {
            return Ok(payment);
        }
        if payment.state == PaymentState::Requested {
            payment = self.complete(payment).await?;
        }
        // A cancel under way (a leg of it on record: its engine stopped, or the merchant
        // could not fund the rest) is finished whatever the day: its KST day was checked
        // when it began.
        let numbers = |leg, attempt| id.cancel_request_no(leg, attempt);
        let mut under_way = false;
        for leg in [PayBack::Pocket, PayBack::Customer] {
            under_way |= self.leg_on_record(&numbers, leg).await?.made.is_some();
        }
        let on_its_day = if under_way {
            payment.approved_at_ms
        } else {
            self.now_ms()
        };
        payment
            .book()
            .cancel(on_its_day)
            .map_err(|(code, why)| EngineError::refusal(code, format!("{id}: {why}")))?;
        self.pay_back(merchant, &payment, payment.amount_krw, |leg, attempt| {
            id.cancel_request_no(leg, attempt)
        })
        .await?;
        let mut cancelled = payment.clone();
        cancelled.version += 1;
        cancelled.state = PaymentState::Cancelled;
        cancelled.refunded_krw = payment.amount_krw;
        self.ask(id.shard(), |reply| RecordPayment {
            payment: cancelled,
            new_id: false,
            fixed: false,
            unless_sale_asked: false,
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
            .ok_or_else(|| {
                EngineError::refusal(RefusalCode::NotFound, format!("no merchant {merchant}"))
            })?
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
                    refunds: Vec::new(),
                    payer: omnibus_core::payments::payment::PayerKind::PrepaidCard,
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
}
