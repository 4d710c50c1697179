//! Paying a payment back to its payer, for a cancel or a refund (INSTRUMENTS.md §6.4,
//! §6.6, D-5.6, D-5.12): in up to two legs, each a request of the payer's, `SS.transfer`
//! `merchant[m]` → the pocket that paid (what its cap allows) and → `customer[c]` (the
//! rest), funded from the merchant's slice in the payer's shard, topped up from its other
//! slices.
//!
//! The legs are found on record by their numbers (`PaymentId::cancel_request_no`,
//! `refund_request_no`), so a cancel or refund asked again after a crash, an overload or a
//! refusal goes on from where it stopped: a leg on record with its money moving or moved
//! is never asked twice; a leg refused with nothing moved (the merchant's slices could not
//! fund it then) is asked again under its next attempt's number, up to
//! `payments.pay_back_attempts`; what the legs not yet made need is funded afresh each
//! time. A leg accepted is owed and retried until done, whatever its caller heard.
//!
//! Not covered: a *refund* cut short between its legs and then followed, instead of being
//! asked again, by a cancel or another refund of the payment pays its first leg's part
//! twice (a refund's legs are found only by its own number); docs/payments.md. A cancel
//! cut short is covered: a refund of its payment is refused until it is finished.

use omnibus_core::ids::{MerchantId, MerchantNo, RequestNo};
use omnibus_core::payments::payment::{PayBack, PayerKind, PaymentEntry};
use omnibus_core::payments::prepaid_card::{CardId, CardStatus};
use omnibus_core::payments::RefusalCode;
use omnibus_core::request_log::Told;
use omnibus_core::AccountId;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::Engine;
use crate::api::{MerchantRefundRequest, RequestView};
use crate::error::EngineError;
use crate::shard::{Query, QueryAnswer, QueryKind};
use crate::Rejection;

/// One leg of a pay back as it stands on record.
pub(super) struct LegOnRecord {
    /// The attempt to ask it under next, if it is not on record yet.
    pub attempt: u8,
    /// The leg on record with its money moving or moved (not refused), if any.
    pub made: Option<RequestView>,
}

impl LegOnRecord {
    /// What the leg on record pays back, in won.
    pub fn won(&self) -> u64 {
        self.made
            .as_ref()
            .map_or(0, |v| v.accepted.amount.value().to_u64().unwrap_or(0))
    }
}

/// A leg refused before any call: told `failed` with no entry, so nothing moved.
fn refused_with_nothing_moved(view: &RequestView) -> bool {
    view.entries.is_empty() && view.answer.is_some_and(|a| a.told == Told::Failed)
}

impl Engine {
    /// Leg `leg` of the pay back whose legs `numbers` names (by leg and attempt).
    pub(super) async fn leg_on_record(
        &self,
        numbers: &impl Fn(PayBack, u8) -> RequestNo,
        leg: PayBack,
    ) -> Result<LegOnRecord, EngineError> {
        let attempts = self.inner.config.payments.pay_back_attempts;
        for attempt in 0..attempts {
            match self.request(numbers(leg, attempt)).await {
                Ok(view) if refused_with_nothing_moved(&view) => {}
                Ok(view) => {
                    return Ok(LegOnRecord {
                        attempt,
                        made: Some(view),
                    })
                }
                Err(EngineError::Rejected(Rejection::UnknownRequest(_))) => {
                    return Ok(LegOnRecord {
                        attempt,
                        made: None,
                    })
                }
                Err(e) => return Err(e),
            }
        }
        Ok(LegOnRecord {
            attempt: attempts,
            made: None,
        })
    }

    /// Pays `won` of `payment` back to its payer (a cancel, a refund): to the pocket that
    /// paid what its cap allows, to the payer's balance the rest (all of it for a closed
    /// or expired card, D-5.12), as requests of the payer's numbered by `numbers`, funded
    /// from the merchant's slice in the payer's shard. Asked again (after a crash, or a
    /// retry), the legs on record are found, not made twice, and the split is theirs.
    /// Refused `REFUND_EXCEEDS_MERCHANT_BALANCE` when the merchant cannot fund what is
    /// left (the message says what of it went back already, if any).
    pub(super) async fn pay_back(
        &self,
        merchant: MerchantId,
        payment: &PaymentEntry,
        won: u64,
        numbers: impl Fn(PayBack, u8) -> RequestNo,
    ) -> Result<(), EngineError> {
        let (Some((customer, seq)), Some(_)) = (payment.card, payment.sale) else {
            return Err(EngineError::refusal(
                RefusalCode::InvalidState,
                format!("{} paid nothing", payment.id),
            ));
        };
        let pocket_leg = self.leg_on_record(&numbers, PayBack::Pocket).await?;
        let customer_leg = self.leg_on_record(&numbers, PayBack::Customer).await?;
        let to_pocket = match (&pocket_leg.made, &customer_leg.made) {
            (Some(_), _) => pocket_leg.won(),
            (None, Some(_)) => 0,
            // A division account's payment goes back to its master's balance (D-1.7).
            (None, None) if payment.payer == PayerKind::Division => 0,
            (None, None) => self.pocket_share(customer, seq, won).await?,
        };
        let gone = pocket_leg.won() + customer_leg.won();
        let short = |why: String| {
            let why = if gone == 0 {
                why
            } else {
                format!("{why}; {gone} of the {won} went back already: ask again to finish it")
            };
            EngineError::refusal(RefusalCode::RefundExceedsMerchantBalance, why)
        };
        if gone < won {
            self.fund_payers_slice(
                merchant,
                payment.merchant,
                self.shard_of(customer),
                won - gone,
            )
            .await
            .map_err(|e| match e {
                EngineError::Refusal { message, .. } => short(message),
                e => e,
            })?;
        }
        for (on_record, to, amount, leg) in [
            (pocket_leg, Some(seq), to_pocket, PayBack::Pocket),
            (customer_leg, None, won - to_pocket, PayBack::Customer),
        ] {
            if amount == 0 || on_record.made.is_some() {
                continue;
            }
            if on_record.attempt >= self.inner.config.payments.pay_back_attempts {
                return Err(EngineError::refusal(
                    RefusalCode::InvalidState,
                    format!(
                        "a leg of this pay back of {} was refused {} times \
                         (payments.pay_back_attempts)",
                        payment.id, on_record.attempt
                    ),
                ));
            }
            let number = numbers(leg, on_record.attempt);
            let outcome = self
                .merchant_refund(MerchantRefundRequest {
                    header: self.payment_header(payment, number, amount, self.now_ms())?,
                    merchant: payment.merchant,
                    pocket: to,
                })
                .await?;
            // A leg with an entry is owed and told `succeeded` at once (`fixed_answer`):
            // `failed` is a refusal before any call (the merchant's slice could not hold
            // it), with nothing of this leg moved; it is asked again under its next number.
            if outcome.told == Told::Failed {
                return Err(short(format!(
                    "merchant {merchant}'s slice could not fund it"
                )));
            }
        }
        Ok(())
    }

    /// What of `won` goes back to card `seq`'s pocket: what its cap leaves room for, once
    /// what is on its way into it (charges in flight among it) takes its share (D-5.6);
    /// nothing for a closed or expired card (D-5.12).
    async fn pocket_share(
        &self,
        customer: omnibus_core::CustomerId,
        seq: omnibus_core::ids::CardSeq,
        won: u64,
    ) -> Result<u64, EngineError> {
        let card_id = CardId { customer, seq };
        let card = self.prepaid_card(card_id).await?;
        if matches!(
            card.card.status_at(self.now_ms()),
            CardStatus::Closed | CardStatus::Expired
        ) {
            return Ok(0);
        }
        let QueryAnswer::Account(incoming) = self
            .ask(self.shard_of(customer), |reply| Query {
                kind: QueryKind::PocketIncoming { card: card_id },
                reply,
            })
            .await?
        else {
            unreachable!("a pocket's incoming is answered as an amount");
        };
        let cap = Decimal::from(self.inner.config.payments.pocket_balance_cap_krw);
        let headroom = (cap - card.pocket.balance - incoming.value()).max(Decimal::ZERO);
        Ok(headroom.to_u64().unwrap_or(0).min(won))
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
