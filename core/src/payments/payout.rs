//! What a merchant's payout pays, and under which number (INSTRUMENTS.md §6.6, D-5.11):
//! pure rules the payout supervisor applies to one shard's slice of `merchant[m]`.
//!
//! - **Daily (D+1, the default).** From 00:00 KST, a payout pays what the slice holds free
//!   (balance less what is held for sales, refunds and payouts not final) less what the
//!   slice took in net on the current KST day (its sales less their reversals, cancels and
//!   refunds: that is tomorrow's) less the slice's share of the payout reserve. One per merchant, shard and KST day:
//!   `PO-<merchant>-<yyyymmdd>-<shard>`; a pass that finds it on record pays nothing
//!   more that day.
//! - **Realtime.** Each pass pays what the slice holds free less its share of the reserve,
//!   one payout at a time per slice, numbered by the entry that starts it.
//!
//! One payout per slice, not one per merchant: each shard pays its own slice on its own
//! thread, with no money moved between shards first. A merchant paid from several shards
//! gets one deposit per shard that held money for it.

use rust_decimal::Decimal;

use super::kst::date_of_day;
use super::merchant::{Merchant, PayoutSchedule};
use super::payment::PaymentEntry;
use crate::ids::MerchantNo;

/// The payout number of a daily payout: merchant, the KST day it is made (days since
/// 1970-01-01 in KST), the shard.
pub fn daily_payout_no(merchant: MerchantNo, day: u32, shard: u16) -> String {
    let d = date_of_day(day);
    format!(
        "PO-{}-{:04}{:02}{:02}-{shard}",
        merchant.0, d.year, d.month, d.day
    )
}

/// The payout number of a realtime payout: merchant and the entry that starts it.
pub fn realtime_payout_no(merchant: MerchantNo, entry: u64) -> String {
    format!("PO-{}-{entry:016x}", merchant.0)
}

/// A slice's share of the merchant's payout reserve: the reserve over the shards,
/// rounded up, so that the slices together keep at least the whole reserve.
pub fn reserve_share(merchant: &Merchant, shards: u16) -> Decimal {
    Decimal::from(
        merchant
            .payout_reserve_krw
            .div_ceil(u64::from(shards.max(1))),
    )
}

/// What a slice pays now: `free` (its balance less what it holds), less the reserve's
/// share, less (daily) what the slice took in net on the current KST day (`today_net`,
/// payouts aside; nothing when negative: refunds already left `free`). Never below zero;
/// whole won.
pub fn payable(
    merchant: &Merchant,
    free: Decimal,
    reserve: Decimal,
    today_net: Decimal,
) -> Decimal {
    let today = match merchant.payout_schedule {
        PayoutSchedule::Realtime => Decimal::ZERO,
        PayoutSchedule::Daily => today_net.max(Decimal::ZERO),
    };
    (free - reserve - today).max(Decimal::ZERO).trunc()
}

/// A payment on a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentLine {
    pub payment: crate::payments::payment::PaymentId,
    pub merchant_request_no: crate::ids::RequestNo,
    pub amount_krw: u64,
    /// What its cancel and refunds took back, as of the statement.
    pub refunded_krw: u64,
    pub state: crate::payments::payment::PaymentState,
    pub approved_at_ms: u64,
}

/// A merchant's payments approved in a period, in one shard: the totals over all of
/// them, and the first `lines_max` as lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeriodPayments {
    pub approvals: u64,
    pub approved_krw: u64,
    pub refunded_krw: u64,
    pub lines: Vec<PaymentLine>,
    /// Payments counted in the totals but not listed (past `lines_max`).
    pub lines_left_out: u64,
}

impl PeriodPayments {
    /// What the period's payments leave the merchant: approved less taken back.
    pub fn net_krw(&self) -> u64 {
        self.approved_krw.saturating_sub(self.refunded_krw)
    }
}

/// The payments of `merchant` approved in `[from_ms, to_ms)`, oldest first.
pub fn period_payments<'a>(
    payments: impl Iterator<Item = &'a PaymentEntry>,
    merchant: MerchantNo,
    from_ms: u64,
    to_ms: u64,
    lines_max: usize,
) -> PeriodPayments {
    let mut chosen: Vec<&PaymentEntry> = payments
        .filter(|p| p.merchant == merchant && p.approved_at_ms > 0)
        .filter(|p| (from_ms..to_ms).contains(&p.approved_at_ms))
        .collect();
    chosen.sort_by_key(|p| (p.approved_at_ms, p.id.0));
    let mut out = PeriodPayments::default();
    for p in &chosen {
        out.approvals += 1;
        out.approved_krw += p.amount_krw;
        out.refunded_krw += p.refunded_krw;
    }
    out.lines = chosen
        .iter()
        .take(lines_max)
        .map(|p| PaymentLine {
            payment: p.id,
            merchant_request_no: p.merchant_request_no,
            amount_krw: p.amount_krw,
            refunded_krw: p.refunded_krw,
            state: p.state,
            approved_at_ms: p.approved_at_ms,
        })
        .collect();
    out.lines_left_out = (chosen.len() - out.lines.len()) as u64;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountNo, BankCode, MerchantId, RequestNo, Tag};
    use crate::payments::kst::{kst_day, kst_day_start_ms};
    use crate::payments::merchant::{InstrumentType, InstrumentTypes, MerchantStatus};

    fn merchant() -> Merchant {
        Merchant {
            id: MerchantId::new("m1").unwrap(),
            status: MerchantStatus::Active,
            category: Tag::new("books").unwrap(),
            accepts: InstrumentTypes::of(&[InstrumentType::PrepaidCard]),
            payout_bank: BankCode::new("004").unwrap(),
            payout_account: AccountNo::new("110-222-333").unwrap(),
            payout_schedule: PayoutSchedule::Daily,
            payout_reserve_krw: 1_001,
            terminals: Vec::new(),
        }
    }

    #[test]
    fn a_daily_payout_keeps_todays_payments_and_the_reserve() {
        let mut m = merchant();
        // 2026-11-22 01:00 KST.
        let now = kst_day_start_ms(kst_day(1_795_276_800_000)) + 3_600_000;
        let reserve = reserve_share(&m, 2);
        assert_eq!(reserve, Decimal::from(501));
        let free = Decimal::from(34_000);
        let today = Decimal::from(4_000);
        // 34,000 free, 4,000 of it taken today, 501 kept back.
        assert_eq!(
            payable(&m, free, reserve, today),
            Decimal::from(34_000 - 4_000 - 501)
        );
        // Refunds today left `free` already: they keep nothing more back.
        let refunds = Decimal::from(-3_000);
        assert_eq!(
            payable(&m, free, reserve, refunds),
            Decimal::from(34_000 - 501)
        );
        m.payout_schedule = PayoutSchedule::Realtime;
        assert_eq!(
            payable(&m, free, reserve, today),
            Decimal::from(34_000 - 501)
        );
        assert!(payable(&m, Decimal::from(100), reserve, today).is_zero());
        let d = date_of_day(kst_day(now));
        let no = daily_payout_no(MerchantNo(7), kst_day(now), 1);
        assert_eq!(
            no,
            format!("PO-7-{:04}{:02}{:02}-1", d.year, d.month, d.day)
        );
        assert!(RequestNo::new(&daily_payout_no(
            MerchantNo(u32::MAX),
            u32::MAX / 2,
            u16::MAX
        ))
        .is_ok());
        assert!(RequestNo::new(&realtime_payout_no(MerchantNo(u32::MAX), u64::MAX)).is_ok());
    }
}
