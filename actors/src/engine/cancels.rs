//! A merchant's cancels (INSTRUMENTS.md §6.4, D-5.12): `POST /v1/payments/{id}/cancel`
//! and the network cancel by the merchant's own request number,
//! `POST /v1/payments/cancel-by-request`.
//!
//! A cancel is full, of an APPROVED payment with no refund yet, on the KST day of its
//! approval (`PaymentBook::cancel`). Its money goes back as a request of the payer's,
//! `merchant[m]` → the pocket that paid, and → `customer[c]` for what the pocket's cap
//! cannot take (D-5.6); funded from the merchant's slice in the payer's shard, topped up
//! from the merchant's other slices when short (§6.6, `fund_payers_slice`), and refused
//! `REFUND_EXCEEDS_MERCHANT_BALANCE` when all of them are. The requests' numbers come from the
//! payment's id (`CX-`, and `CY-` for the overflow), so a cancel asked again after a crash
//! finds them on record instead of paying twice; the payment is CANCELLED on record once
//! they are accepted, since they are then owed and retried until done.

use omnibus_core::ids::{MerchantId, MerchantNo, RequestNo};
use omnibus_core::payments::payment::{PayBack, PaymentEntry, PaymentId, PaymentState};
use omnibus_core::payments::prepaid_card::{CardId, CardStatus};
use omnibus_core::payments::{DeclineCode, RefusalCode};
use omnibus_core::request_log::Told;
use omnibus_core::AccountId;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::Engine;
use crate::api::MerchantRefundRequest;
use crate::error::EngineError;
use crate::shard::{Query, QueryAnswer, QueryKind, RecordPayment};

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
        payment
            .book()
            .cancel(self.now_ms())
            .map_err(|(code, why)| EngineError::refusal(code, format!("{id}: {why}")))?;
        self.pay_back(merchant, &payment, payment.amount_krw, |leg| {
            id.cancel_request_no(leg)
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

    /// Pays `won` of `payment` back to its payer (a cancel, a refund): to the pocket that
    /// paid what its cap allows, to the payer's balance the rest (all of it for a closed
    /// or expired card, D-5.12), as requests of the payer's numbered by `numbers`, funded
    /// from the merchant's slice in the payer's shard. Asked again (after a crash, or a
    /// retry), the requests on record are found, not made twice, and the split is theirs.
    pub(super) async fn pay_back(
        &self,
        merchant: MerchantId,
        payment: &PaymentEntry,
        won: u64,
        numbers: impl Fn(PayBack) -> RequestNo,
    ) -> Result<(), EngineError> {
        let (Some((customer, seq)), Some(_)) = (payment.card, payment.sale) else {
            return Err(EngineError::refusal(
                RefusalCode::InvalidState,
                format!("{} paid nothing", payment.id),
            ));
        };
        let pocket_leg = self.request(numbers(PayBack::Pocket)).await.ok();
        let customer_leg = self.request(numbers(PayBack::Customer)).await.ok();
        let to_pocket = match (&pocket_leg, &customer_leg) {
            (Some(view), _) => view.accepted.amount.value().to_u64().unwrap_or(0),
            (None, Some(_)) => 0,
            (None, None) => {
                let card = self.prepaid_card(CardId { customer, seq }).await?;
                if matches!(card.card.status, CardStatus::Closed | CardStatus::Expired) {
                    0
                } else {
                    // What is on its way into the pocket (charges in flight among it) takes
                    // its share of the cap first (D-5.6).
                    let card_id = CardId { customer, seq };
                    let crate::shard::QueryAnswer::Account(incoming) = self
                        .ask(self.shard_of(customer), |reply| crate::shard::Query {
                            kind: crate::shard::QueryKind::PocketIncoming { card: card_id },
                            reply,
                        })
                        .await?
                    else {
                        unreachable!("a pocket's incoming is answered as an amount");
                    };
                    let cap = Decimal::from(self.inner.config.payments.pocket_balance_cap_krw);
                    let headroom =
                        (cap - card.pocket.balance - incoming.value()).max(Decimal::ZERO);
                    headroom.to_u64().unwrap_or(0).min(won)
                }
            }
        };
        if pocket_leg.is_none() && customer_leg.is_none() {
            self.fund_payers_slice(merchant, payment.merchant, self.shard_of(customer), won)
                .await?;
        }
        for (to, amount, leg) in [
            (Some(seq), to_pocket, PayBack::Pocket),
            (None, won - to_pocket, PayBack::Customer),
        ] {
            if amount == 0 {
                continue;
            }
            let outcome = self
                .merchant_refund(MerchantRefundRequest {
                    header: self.payment_header(payment, numbers(leg), amount, self.now_ms())?,
                    merchant: payment.merchant,
                    pocket: to,
                })
                .await?;
            // Refused before any call (the merchant's slice could not hold it): nothing
            // on record moves. A request with an entry is owed and retried until done,
            // whatever its caller heard.
            let refused = outcome.told == Told::Failed
                && self
                    .request(numbers(leg))
                    .await
                    .is_ok_and(|view| view.entries.is_empty());
            if refused {
                return Err(EngineError::refusal(
                    RefusalCode::RefundExceedsMerchantBalance,
                    format!("merchant {merchant}'s slice could not fund it"),
                ));
            }
        }
        Ok(())
    }

    /// §6.6 refund funding: a cancel or refund is funded from `merchant[m]` summed over
    /// its slices. The slice in the payer's shard is topped up from the others, largest
    /// first, each by a transfer between shards (durable at both ends, answered once the
    /// payer's shard credited it). Only money free of payouts in flight counts. Short in
    /// total, it is refused `REFUND_EXCEEDS_MERCHANT_BALANCE` before anything moves. If a
    /// slice changes meanwhile (a payout takes it), the next is tried; money moved and then
    /// not used stays the merchant's, in the payer's slice.
    async fn fund_payers_slice(
        &self,
        merchant: MerchantId,
        no: MerchantNo,
        shard: u16,
        won: u64,
    ) -> Result<(), EngineError> {
        let won = Decimal::from(won);
        let here = self.merchant_available(shard, no).await?;
        if here >= won {
            return Ok(());
        }
        let mut others = Vec::new();
        for other in (0..self.shard_count()).filter(|s| *s != shard) {
            others.push((other, self.merchant_available(other, no).await?));
        }
        let total = here + others.iter().map(|(_, b)| *b).sum::<Decimal>();
        if total < won {
            return Err(EngineError::refusal(
                RefusalCode::RefundExceedsMerchantBalance,
                format!(
                    "merchant {merchant} holds {} free over its slices, short of {}",
                    total.normalize(),
                    won.normalize()
                ),
            ));
        }
        others.sort_by_key(|o| std::cmp::Reverse(o.1));
        let mut missing = won - here;
        for (from, free) in others {
            if missing <= Decimal::ZERO {
                break;
            }
            let take = free.min(missing);
            if take <= Decimal::ZERO {
                continue;
            }
            let amount = omnibus_core::Amount::new(self.inner.config.engine.currency, take)
                .map_err(|e| EngineError::refusal(RefusalCode::InvalidRequest, e.to_string()))?;
            let moved = self
                .ask(from, |reply| crate::shard::MoveSlice {
                    account: AccountId::merchant(no),
                    dest_shard: shard,
                    amount,
                    reply,
                })
                .await;
            match moved {
                Ok(_) => missing -= take,
                // The slice changed meanwhile (a payout took it): try the next one.
                Err(EngineError::Refused(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if missing > Decimal::ZERO {
            // What did move stays the merchant's, in the payer's slice.
            return Err(EngineError::refusal(
                RefusalCode::RefundExceedsMerchantBalance,
                format!(
                    "merchant {merchant}'s slices changed while the refund was funded; {} short",
                    missing.normalize()
                ),
            ));
        }
        Ok(())
    }

    /// What merchant `no`'s slice in `shard` holds free (less payouts in flight).
    async fn merchant_available(&self, shard: u16, no: MerchantNo) -> Result<Decimal, EngineError> {
        let QueryAnswer::Account(free) = self
            .ask(shard, |reply| Query {
                kind: QueryKind::MerchantAvailable(no),
                reply,
            })
            .await?
        else {
            unreachable!("a merchant's free slice is answered as an amount");
        };
        Ok(free.value())
    }
}
