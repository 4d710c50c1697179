//! Which payout settled a payment, and which one each of its refunds and its cancel
//! netted into (INSTRUMENTS.md §6.5: settlement is an attribute, not a state; "each refund
//! and cancel carries its own `settled_at` and `payout_id`, set by the payout it nets
//! into"). Derived when read from the payouts' index of the payer's shard, nothing stored:
//! the payment's record and its format stay as they are.
//!
//! A movement of the merchant's slice at `t` (the sale's approval, a refund, the cancel)
//! is carried by the first payout of that slice which **paid out** and was made once the
//! movement was payable: from 00:00 KST the day after `t` for a daily merchant (the payout
//! of day D covers day D, D-5.11), after `t` for a realtime one. A payout whose deposit
//! failed for good (recovered into `merchant[m]`) carried nothing; the next one did. Money
//! leaves a slice as a whole, so this attributes payouts first in, first out; the share of
//! the payout reserve a slice keeps back is not traced to movements.
//!
//! A daily merchant's movement is carried by the payout of the day after it, or by none
//! if that day paid nothing (a sale and its same-day cancel net to nothing; a day's sales
//! can fund older payments' refunds): a later payout did not carry it, unless the day's
//! deposit failed and its money came back to the slice for the next one. A payment
//! cancelled before a payout carried its sale netted with its cancel in the slice: no
//! payout carried either. A refund funded from the merchant's slice in another shard is
//! attributed in the payer's shard, where its money left the merchant: the payout it
//! made smaller is the other shard's (not traced).
//!
//! The payouts' index forgets a payout with the settled requests once it is older than
//! `actors.idempotency_retention_days`: a movement payable before that horizon is
//! answered `None` rather than with a later payout that did not carry it (review
//! finding 7). The horizon is today's retention; raising it after a prune ran brings
//! back, for a while, payments whose payout the shorter one forgot.

use std::collections::BTreeMap;

use omnibus_core::ledger::{MerchantEntry, DAY_MS};
use omnibus_core::payments::kst::{kst_day, kst_day_start_ms};
use omnibus_core::payments::merchant::PayoutSchedule;
use omnibus_core::payments::payment::{PayBack, PaymentEntry, PaymentState};
use omnibus_core::saga::Settled;
use omnibus_core::RequestNo;

use super::Engine;
use crate::error::EngineError;
use crate::shard::{Query, QueryAnswer, QueryKind};

/// The payout that carried a movement of a merchant's slice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    pub payout_id: RequestNo,
    /// When that payout was made (its acceptance, on the engine's clock).
    pub settled_at_ms: u64,
}

/// A payment's settlements: its own, its cancel's, and each refund's, in the order of
/// `PaymentEntry::refunds`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PaymentSettlements {
    pub payment: Option<Settlement>,
    /// When a cancelled payment's money went back (its first cancel leg's acceptance),
    /// and the payout that cancel netted into: none when the cancel came before any
    /// payout carried the sale (the two netted in the slice; then `payment` is `None`
    /// too).
    pub cancel: Option<(u64, Option<Settlement>)>,
    pub refunds: Vec<Option<Settlement>>,
}

/// The most payouts of a slice looked at for one movement: past a few that paid nothing
/// (recovered deposits), the answer is "not settled yet".
const SETTLEMENT_CANDIDATES_MAX: usize = 16;

impl Engine {
    /// The payout that settled `payment` (§6.5), `None` while none has, for a payment
    /// never approved, and for one payable before the retention horizon (module docs).
    /// A payment cancelled before a payout carried its sale was settled by none (module
    /// docs). A payout
    /// accepted in the very millisecond of a realtime merchant's approval is not counted
    /// as its settlement; the next one is.
    pub async fn payment_settlement(
        &self,
        payment: &PaymentEntry,
    ) -> Result<Option<Settlement>, EngineError> {
        Ok(self.payment_settlements(payment).await?.payment)
    }

    /// [`Engine::payment_settlement`], with the payout each refund and the cancel netted
    /// into. Movements of one payable instant are looked up once.
    pub async fn payment_settlements(
        &self,
        payment: &PaymentEntry,
    ) -> Result<PaymentSettlements, EngineError> {
        let Some((merchant, shard)) = self.settling(payment) else {
            return Ok(PaymentSettlements::default());
        };
        let mut known: BTreeMap<u64, Option<Settlement>> = BTreeMap::new();
        let mut answer = PaymentSettlements {
            payment: self
                .carried_once(&mut known, &merchant, shard, payment.approved_at_ms)
                .await?,
            ..PaymentSettlements::default()
        };
        for refund in &payment.refunds {
            let s = self
                .carried_once(&mut known, &merchant, shard, refund.at_ms)
                .await?;
            answer.refunds.push(s);
        }
        if payment.state == PaymentState::Cancelled {
            let at_ms = self
                .legs_accepted_at(|leg, attempt| payment.id.cancel_request_no(leg, attempt))
                .await?;
            if let Some(at_ms) = at_ms {
                // Cancelled before a payout carried the sale: the two netted in the slice
                // and no payout carried either.
                if answer
                    .payment
                    .as_ref()
                    .is_some_and(|s| s.settled_at_ms >= at_ms)
                {
                    answer.payment = None;
                }
                let s = match answer.payment {
                    Some(_) => {
                        self.carried_once(&mut known, &merchant, shard, at_ms)
                            .await?
                    }
                    None => None,
                };
                answer.cancel = Some((at_ms, s));
            } else {
                answer.payment = None;
            }
        }
        Ok(answer)
    }

    /// [`Engine::carried_by`], answered from `known` for a payable instant looked up
    /// before.
    async fn carried_once(
        &self,
        known: &mut BTreeMap<u64, Option<Settlement>>,
        merchant: &MerchantEntry,
        shard: u16,
        at_ms: u64,
    ) -> Result<Option<Settlement>, EngineError> {
        let from_ms = payable_from(merchant, at_ms);
        if let Some(s) = known.get(&from_ms) {
            return Ok(s.clone());
        }
        let s = self.carried_by(merchant, shard, at_ms).await?;
        known.insert(from_ms, s.clone());
        Ok(s)
    }

    /// The merchant and the payer's shard of an approved payment; `None` for one never
    /// approved or whose merchant is gone.
    fn settling(&self, payment: &PaymentEntry) -> Option<(MerchantEntry, u16)> {
        let (Some((customer, _)), true) = (payment.card, payment.approved_at_ms > 0) else {
            return None;
        };
        let entry = self
            .merchant_id_of(payment.merchant)
            .and_then(|id| self.merchant(id))?;
        Some((entry, self.shard_of(customer)))
    }

    /// When the money of a cancel or refund went back: the earliest acceptance of its
    /// legs on record with their money moving or moved (`numbers` names them by leg and
    /// attempt); `None` if none is (forgotten past the retention window).
    pub(super) async fn legs_accepted_at(
        &self,
        numbers: impl Fn(PayBack, u8) -> RequestNo,
    ) -> Result<Option<u64>, EngineError> {
        let mut at = None;
        for leg in [PayBack::Pocket, PayBack::Customer] {
            if let Some(view) = self.leg_on_record(&numbers, leg).await?.made {
                let t = view.accepted.at_ms;
                at = Some(at.map_or(t, |a: u64| a.min(t)));
            }
        }
        Ok(at)
    }

    /// The payout of `merchant`'s slice in `shard` that carried a movement at `at_ms`
    /// (module docs).
    async fn carried_by(
        &self,
        merchant: &MerchantEntry,
        shard: u16,
        at_ms: u64,
    ) -> Result<Option<Settlement>, EngineError> {
        let from_ms = payable_from(merchant, at_ms);
        let now = self.now_ms();
        if from_ms > now {
            // A daily merchant's movement of today: no payout can have carried it.
            return Ok(None);
        }
        let horizon = omnibus_core::ledger::forgotten_before_ms(
            now,
            self.inner.config.actors.idempotency_retention_days,
        );
        if from_ms < horizon {
            return Ok(None);
        }
        let QueryAnswer::MerchantPayouts(numbers) = self
            .ask(shard, |reply| Query {
                kind: QueryKind::MerchantPayouts {
                    merchant: merchant.no,
                    from_ms,
                    to_ms: u64::MAX,
                },
                reply,
            })
            .await?
        else {
            unreachable!("a payouts query answers with payouts");
        };
        // A daily merchant's movement is carried by the payout of the day after it; if
        // there was none (the day's net was nothing to pay: a sale and its cancel, a
        // refund funded by the day's sales), no later payout carried it, unless that
        // day's deposit failed and the money came back for the next one.
        let day_after_ms = match merchant.merchant.payout_schedule {
            PayoutSchedule::Daily => Some(from_ms + DAY_MS),
            PayoutSchedule::Realtime => None,
        };
        let mut came_back = false;
        for payout_id in numbers.into_iter().take(SETTLEMENT_CANDIDATES_MAX) {
            let view = self.payout_request(shard, payout_id).await?;
            if day_after_ms.is_some_and(|end| view.accepted.at_ms >= end) && !came_back {
                return Ok(None);
            }
            came_back |= view.outcome == Settled::Recovered;
            match view.outcome {
                Settled::PaidOut => {
                    return Ok(Some(Settlement {
                        payout_id,
                        settled_at_ms: view.accepted.at_ms,
                    }))
                }
                Settled::Pending => return Ok(None),
                _ => {}
            }
        }
        Ok(None)
    }
}

/// From when a movement of the merchant's slice at `at_ms` can be paid out.
fn payable_from(merchant: &MerchantEntry, at_ms: u64) -> u64 {
    match merchant.merchant.payout_schedule {
        PayoutSchedule::Daily => kst_day_start_ms(kst_day(at_ms) + 1),
        PayoutSchedule::Realtime => at_ms + 1,
    }
}
