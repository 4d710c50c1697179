//! Merchants' payouts as the operator and the merchant read them (INSTRUMENTS.md §6.6):
//! the payouts made on a KST day, one per shard that held money for the merchant, each
//! with its settlement statement; a payout request as its shard or archive holds it (for
//! `settlements.rs`, which payout carried what). The payouts themselves are the
//! supervisors' (`supervisors/payout.rs`).

use omnibus_core::ids::MerchantId;
use omnibus_core::payments::kst::{day_of_date, kst_day, kst_day_start_ms};
use omnibus_core::payments::merchant::PayoutSchedule;
use omnibus_core::payments::payout::{reserve_share, PeriodPayments};
use omnibus_core::payments::RefusalCode;
use omnibus_core::saga::HOUSE;
use omnibus_core::{RequestDate, RequestNo};

use super::Engine;
use crate::api::RequestView;
use crate::error::EngineError;
use crate::shard::{Query, QueryAnswer, QueryKind, ViewRequest};

/// A payout and its settlement statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayoutView {
    pub payout_id: RequestNo,
    pub merchant: MerchantId,
    /// The shard whose slice of `merchant[m]` it paid.
    pub shard: u16,
    /// The payout request: its amount, its X1/X2 (and recovery) entries, where it stands.
    pub request: RequestView,
    /// The period its statement covers, `[from, to)`: the KST day before a daily payout;
    /// for a realtime payout, since the shard's payout before it.
    pub period_from_ms: u64,
    pub period_to_ms: u64,
    /// The payments of the period in this shard, with their cancels and refunds so far.
    pub payments: PeriodPayments,
    /// The share of `payout_reserve_krw` this slice kept back.
    pub reserve_kept_krw: u64,
}

impl PayoutView {
    /// What the payout paid beyond the day's net: money held back before (sales not final,
    /// the reserve), less refunds of earlier days' payments. Negative when it paid less.
    pub fn carried_krw(&self) -> i128 {
        let paid: i128 = self
            .request
            .accepted
            .amount
            .value()
            .try_into()
            .unwrap_or_default();
        paid - i128::from(self.payments.net_krw())
    }
}

impl Engine {
    /// A payout request of `shard`, from its books or its archive.
    pub(super) async fn payout_request(
        &self,
        shard: u16,
        payout_id: RequestNo,
    ) -> Result<RequestView, EngineError> {
        if let Some(view) = self
            .ask(shard, |reply| ViewRequest {
                customer: HOUSE,
                request_no: payout_id,
                reply,
            })
            .await?
        {
            return Ok(view);
        }
        match self.inner.archives[usize::from(shard)]
            .get(payout_id, true)
            .map_err(|cause| EngineError::Storage {
                shard,
                cause: format!("archive: {cause}"),
            })? {
            Some(settled) => Ok(RequestView::from_archived(settled)),
            None => Err(EngineError::Internal(format!(
                "payout {payout_id} is indexed but neither in the books nor in the archive"
            ))),
        }
    }

    /// The payouts of `merchant` made on the KST day `date` (daily and realtime), each
    /// with its statement. Refused `NOT_FOUND` for an unknown merchant; empty when no
    /// shard paid it that day.
    pub async fn payouts(
        &self,
        merchant: MerchantId,
        date: RequestDate,
    ) -> Result<Vec<PayoutView>, EngineError> {
        let (y, m, d) = date.ymd();
        let day = day_of_date(y, m, d);
        self.payouts_between(merchant, kst_day_start_ms(day), kst_day_start_ms(day + 1))
            .await
    }

    /// The payouts of `merchant` the engine made in `[from_ms, to_ms)`, by shard, oldest
    /// first, each with its statement: a daily payout's covers the KST day before it, a
    /// realtime payout's the time since the shard's payout before it (in the window).
    pub async fn payouts_between(
        &self,
        merchant: MerchantId,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<PayoutView>, EngineError> {
        let Some(entry) = self.merchant(merchant) else {
            return Err(EngineError::refusal(
                RefusalCode::NotFound,
                format!("no merchant {merchant}"),
            ));
        };
        let lines_max = self.inner.config.payments.statement_lines_max;
        let shards = self.shard_count();
        let reserve_kept_krw = reserve_share(&entry.merchant, shards)
            .try_into()
            .unwrap_or_default();
        let mut out = Vec::new();
        for shard in 0..shards {
            let QueryAnswer::MerchantPayouts(numbers) = self
                .ask(shard, |reply| Query {
                    kind: QueryKind::MerchantPayouts {
                        merchant: entry.no,
                        from_ms,
                        to_ms,
                    },
                    reply,
                })
                .await?
            else {
                unreachable!("a payouts query answers with payouts");
            };
            let mut previous_ms = None;
            for payout_id in numbers {
                let request = self.payout_request(shard, payout_id).await?;
                let at_ms = request.accepted.at_ms;
                let (period_from_ms, period_to_ms) = match entry.merchant.payout_schedule {
                    PayoutSchedule::Daily => {
                        let day = kst_day(at_ms);
                        (
                            kst_day_start_ms(day.saturating_sub(1)),
                            kst_day_start_ms(day),
                        )
                    }
                    PayoutSchedule::Realtime => (previous_ms.unwrap_or(from_ms), at_ms),
                };
                previous_ms = Some(at_ms);
                let QueryAnswer::MerchantPayments(payments) = self
                    .ask(shard, |reply| Query {
                        kind: QueryKind::MerchantPayments {
                            merchant: entry.no,
                            from_ms: period_from_ms,
                            to_ms: period_to_ms,
                            lines_max,
                        },
                        reply,
                    })
                    .await?
                else {
                    unreachable!("a payments query answers with payments");
                };
                out.push(PayoutView {
                    payout_id,
                    merchant,
                    shard,
                    request,
                    period_from_ms,
                    period_to_ms,
                    payments,
                    reserve_kept_krw,
                });
            }
        }
        Ok(out)
    }
}
