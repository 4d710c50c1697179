//! The settlement statement a merchant gets for each payout, through the notification
//! sink (INSTRUMENTS.md §6.6: "Every merchant gets one per payout"; the notification rail:
//! "each delivery logged and retried").
//!
//! Made by the payout supervisor when it starts a payout, from what the shard's books
//! hold then: the period the payout covers, the totals of its payments (approved, taken
//! back by cancels and refunds), the share of the payout reserve the slice keeps back,
//! and the amount paid. The lines stay with the payout's statement on request
//! (`GET /v1/merchants/{id}/payouts`): a notice is bounded, whatever the day's volume.
//! Its delivery is kept as a card statement's is (`statement::Notice`): each attempt on
//! record before the sink is asked, delivered once the sink took it, the sink idempotent
//! by `key`, the payout's number.

use crate::ids::{MerchantNo, RequestNo};
use crate::payments::kst::{date_of_day, kst_day, kst_day_start_ms};

/// A payout's settlement statement for the merchant, with its delivery.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct PayoutNotice {
    /// The payout's request number: the notice's key at the sink.
    pub key: RequestNo,
    pub merchant: MerchantNo,
    /// The period the payout covers, `[from, to)`, engine-clock milliseconds.
    pub period_from_ms: u64,
    pub period_to_ms: u64,
    /// The period's payments in this shard: how many were approved, for how much, and
    /// what cancels and refunds have taken back of them so far.
    pub approvals: u64,
    pub approved_krw: u64,
    pub refunded_krw: u64,
    /// The share of the payout reserve this slice keeps back.
    pub reserve_kept_krw: u64,
    /// What the payout pays.
    pub paid_krw: u64,
    pub created_at_ms: u64,
    /// Deliveries asked of the sink so far, each put on record before it is asked.
    pub attempts: u32,
    pub last_attempt_ms: u64,
    /// 0 until the sink took it.
    pub delivered_at_ms: u64,
}

impl PayoutNotice {
    pub fn delivered(&self) -> bool {
        self.delivered_at_ms > 0
    }

    /// What the period's payments leave the merchant: approved less taken back.
    pub fn net_krw(&self) -> u64 {
        self.approved_krw.saturating_sub(self.refunded_krw)
    }

    /// The notice as text for the merchant's channel.
    pub fn text(&self) -> String {
        let when = |ms: u64| {
            let day = kst_day(ms);
            let d = date_of_day(day);
            let in_day = ms.saturating_sub(kst_day_start_ms(day)) / 1_000;
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                d.year,
                d.month,
                d.day,
                in_day / 3600,
                in_day / 60 % 60,
                in_day % 60
            )
        };
        let carried = i128::from(self.paid_krw) - i128::from(self.net_krw());
        format!(
            "Settlement statement for payout {} (merchant no {})\nperiod {} to {} (KST)\n\
             approvals {} for {} won\ntaken back by cancels and refunds {} won\nnet {} won\n\
             reserve kept {} won\ncarried from other periods {} won\npaid {} won\n",
            self.key,
            self.merchant.0,
            when(self.period_from_ms),
            when(self.period_to_ms),
            self.approvals,
            self.approved_krw,
            self.refunded_krw,
            self.net_krw(),
            self.reserve_kept_krw,
            carried,
            self.paid_krw
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payout_notice_reads_its_period_in_kst_and_its_totals() {
        let notice = PayoutNotice {
            key: RequestNo::new("PO-1-20261127-0").unwrap(),
            merchant: MerchantNo(1),
            // 2026-11-26 00:00 and 2026-11-27 00:00 KST.
            period_from_ms: 1_795_618_800_000,
            period_to_ms: 1_795_705_200_000,
            approvals: 2,
            approved_krw: 50_000,
            refunded_krw: 5_000,
            reserve_kept_krw: 0,
            paid_krw: 40_000,
            created_at_ms: 1_795_705_500_000,
            attempts: 0,
            last_attempt_ms: 0,
            delivered_at_ms: 0,
        };
        let text = notice.text();
        assert!(text.contains("payout PO-1-20261127-0"), "{text}");
        assert!(
            text.contains("period 2026-11-26 00:00:00 to 2026-11-27 00:00:00 (KST)"),
            "{text}"
        );
        assert!(text.contains("net 45000 won"), "{text}");
        assert!(
            text.contains("carried from other periods -5000 won"),
            "{text}"
        );
        assert!(text.contains("paid 40000 won"), "{text}");
        assert!(!notice.delivered());
    }
}
