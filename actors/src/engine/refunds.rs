//! A merchant's refunds of a payment (INSTRUMENTS.md §6.4, §6.6, D-5.12):
//! `POST /v1/payments/{id}/refunds` `{refund_request_no, amount_krw}`, partial or full, at
//! any time after approval, never more than is left, idempotent by (merchant,
//! `refund_request_no`). The money goes back as a cancel's does (`cancels.rs`,
//! `Engine::pay_back`): to the pocket what its cap allows, to the payer's balance the
//! rest; the payment is PARTIALLY_REFUNDED or REFUNDED on record once the requests are
//! accepted (they are owed, and retried until done).

use omnibus_core::ids::{MerchantId, RequestNo};
use omnibus_core::payments::payment::{
    PayBack, PaymentEntry, PaymentId, PaymentState, RefundEntry,
};
use omnibus_core::payments::RefusalCode;

use super::Engine;
use crate::error::EngineError;
use crate::shard::RecordPayment;

impl Engine {
    /// Refunds `amount_krw` of a merchant's payment under the merchant's
    /// `refund_request_no`. Answers the payment with the refund on record; the same number
    /// again answers the same, another amount under it is `IDEMPOTENCY_CONFLICT`. Refused
    /// `INVALID_STATE` (not approved, cancelled, fully refunded, a cancel under way),
    /// `REFUND_EXCEEDS_PAYMENT`, `REFUND_EXCEEDS_MERCHANT_BALANCE`, with nothing moved,
    /// except a refund cut short between its legs, whose refusal says what went back
    /// already: asked again under its number, it finishes. (Not covered: such a refund
    /// followed by a cancel or another refund instead, docs/payments.md.) Another
    /// merchant's payment is `NOT_FOUND`.
    pub async fn refund_payment(
        &self,
        merchant: MerchantId,
        id: PaymentId,
        refund_request_no: RequestNo,
        amount_krw: u64,
    ) -> Result<PaymentEntry, EngineError> {
        let _one_at_a_time = self.inner.pay_backs.lock().await;
        let mut payment = self.payment(id).await?;
        if self.merchant(merchant).map(|m| m.no) != Some(payment.merchant) {
            return Err(EngineError::refusal(
                RefusalCode::NotFound,
                format!("no payment {id}"),
            ));
        }
        if let Some(done) = payment
            .refunds
            .iter()
            .find(|r| r.refund_request_no == refund_request_no)
        {
            if done.amount_krw != amount_krw {
                return Err(EngineError::refusal(
                    RefusalCode::IdempotencyConflict,
                    format!(
                        "refund_request_no {refund_request_no} is on record with another amount"
                    ),
                ));
            }
            return Ok(payment);
        }
        if payment.state == PaymentState::Requested {
            payment = self.complete(payment).await?;
        }
        let state = payment
            .book()
            .refund(amount_krw)
            .map_err(|(code, why)| EngineError::refusal(code, format!("{id}: {why}")))?;
        self.refuse_while_a_cancel_is_under_way(&payment).await?;
        self.pay_back(merchant, &payment, amount_krw, |leg, attempt| {
            id.refund_request_no(&refund_request_no, leg, attempt)
        })
        .await?;
        let mut refunded = payment.clone();
        refunded.version += 1;
        refunded.state = state;
        refunded.refunded_krw += amount_krw;
        // When its money went back (its legs' acceptance), not when this call got here:
        // the same after a retry that finishes a refund begun before a crash.
        let at_ms = self
            .legs_accepted_at(|leg, attempt| id.refund_request_no(&refund_request_no, leg, attempt))
            .await?
            .unwrap_or_else(|| self.now_ms());
        refunded.refunds.push(RefundEntry {
            refund_request_no,
            amount_krw,
            at_ms,
        });
        self.ask(id.shard(), |reply| RecordPayment {
            payment: refunded,
            new_id: false,
            fixed: false,
            unless_sale_asked: false,
            reply,
        })
        .await
    }

    /// A refund of a payment whose cancel is under way (a leg of it on record, the cancel
    /// stopped before it was done: its engine stopped, or the merchant could not fund the
    /// rest) is refused `INVALID_STATE`: the cancel asked again finishes it, and a refund
    /// on top would pay the same won back twice.
    async fn refuse_while_a_cancel_is_under_way(
        &self,
        payment: &PaymentEntry,
    ) -> Result<(), EngineError> {
        let id = payment.id;
        let numbers = |leg, attempt| id.cancel_request_no(leg, attempt);
        for leg in [PayBack::Pocket, PayBack::Customer] {
            if self.leg_on_record(&numbers, leg).await?.made.is_some() {
                return Err(EngineError::refusal(
                    RefusalCode::InvalidState,
                    format!("{id}: a cancel of it is under way; ask the cancel again to finish it"),
                ));
            }
        }
        Ok(())
    }
}
