//! The next-day statement of a prepaid card (INSTRUMENTS.md §5.4, D-5.10; P7) and the
//! notice that carries it: a pocket's KST day ([`PocketDay`], which the books keep in
//! `ledger/pocket_days.rs`) as the customer reads it, its lines sorted into charges, approvals, cancels and refunds,
//! and the rest; and where its delivery through the notification sink stands. Pure: the
//! engine's statement supervisor decides when, and the sink delivers.

use rust_decimal::Decimal;

use crate::archive::DecimalDef;
use crate::ids::{CardSeq, CustomerId, RequestNo};
use crate::money::Amount;
use crate::payments::kst::{date_of_day, kst_day_start_ms};
use crate::request_log::Step;

/// A movement of a pocket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct PocketLine {
    pub at_ms: u64,
    pub step: Step,
    pub request_no: RequestNo,
    pub amount: Amount,
    /// Into the pocket (a charge, a cancel or refund, a sale's reversal), or out of it.
    pub into_pocket: bool,
}

/// A pocket's KST day.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct PocketDay {
    pub customer: CustomerId,
    pub card: CardSeq,
    /// Days since 1970-01-01 in KST.
    pub day: u32,
    /// The balance before the day's first movement.
    #[rkyv(with = DecimalDef)]
    pub opening: Decimal,
    #[rkyv(with = DecimalDef)]
    pub credits: Decimal,
    #[rkyv(with = DecimalDef)]
    pub debits: Decimal,
    pub lines: Vec<PocketLine>,
    /// Movements in the sums but not listed (past `crate::ledger::POCKET_DAY_LINES_MAX`).
    pub lines_left_out: u32,
}

impl PocketDay {
    /// The balance after the day's last movement.
    pub fn closing(&self) -> Decimal {
        self.opening + self.credits - self.debits
    }
}

/// When a day's statement is sent: 09:00 KST the next day.
pub const STATEMENT_HOUR_KST: u64 = 9;

/// The instant the statement of `day` falls due.
pub const fn statement_due_ms(day: u32) -> u64 {
    kst_day_start_ms(day + 1) + STATEMENT_HOUR_KST * 3_600_000
}

/// The notice's key: `ST-<customer>-<card>-<yyyymmdd>`.
pub fn statement_key(customer: CustomerId, card: CardSeq, day: u32) -> RequestNo {
    let d = date_of_day(day);
    RequestNo::new(&format!(
        "ST-{customer}-{card}-{:04}{:02}{:02}",
        d.year, d.month, d.day
    ))
    .expect("a statement key is at most 32 printable characters")
}

/// What a line of a statement is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// Money into the pocket: from the balance, the bank, later a credit card.
    Charge,
    /// A payment approved from the pocket.
    Approval,
    /// A merchant's cancel or refund back into the pocket.
    CancelOrRefund,
    /// A reversal of a payment or charge that was told it failed.
    Reversal,
    /// The pocket emptied into the owner's balance as the card closed.
    Release,
}

impl LineKind {
    pub fn of(step: Step) -> LineKind {
        match step {
            Step::ChargeCredit | Step::PocketCharge => LineKind::Charge,
            Step::Sale => LineKind::Approval,
            Step::MerchantRefund => LineKind::CancelOrRefund,
            Step::PocketRelease => LineKind::Release,
            _ => LineKind::Reversal,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            LineKind::Charge => "charge",
            LineKind::Approval => "approval",
            LineKind::CancelOrRefund => "cancel_or_refund",
            LineKind::Reversal => "reversal",
            LineKind::Release => "release",
        }
    }
}

/// A line's amount as the statement shows it: positive into the pocket.
pub fn signed(line: &PocketLine) -> Decimal {
    if line.into_pocket {
        line.amount.value()
    } else {
        -line.amount.value()
    }
}

/// A statement notice and its delivery: the day's statement as it was when the notice
/// was made (a later read shows the same), its attempts, and when it was delivered.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Notice {
    pub key: RequestNo,
    /// The card's last 4 digits, the only part of its number a notice shows.
    pub last4: [u8; 4],
    pub statement: PocketDay,
    pub created_at_ms: u64,
    /// Deliveries asked of the sink so far, each put on record before it is asked.
    pub attempts: u32,
    pub last_attempt_ms: u64,
    /// 0 until the sink took it.
    pub delivered_at_ms: u64,
}

impl Notice {
    pub fn delivered(&self) -> bool {
        self.delivered_at_ms > 0
    }

    /// The notice as text for the customer's channel: the card masked to its last 4 digits.
    pub fn text(&self) -> String {
        let s = &self.statement;
        let d = date_of_day(s.day);
        let won = |v: Decimal| v.normalize().to_string();
        let mut out = format!(
            "Prepaid card ****{} statement for {:04}-{:02}-{:02} (KST)\nopening {}\n",
            String::from_utf8_lossy(&self.last4),
            d.year,
            d.month,
            d.day,
            won(s.opening)
        );
        for line in &s.lines {
            out.push_str(&format!(
                "{} {} {}\n",
                LineKind::of(line.step).as_str(),
                line.request_no,
                won(signed(line))
            ));
        }
        if s.lines_left_out > 0 {
            out.push_str(&format!("({} more not listed)\n", s.lines_left_out));
        }
        out.push_str(&format!("closing {}\n", won(s.closing())));
        out
    }
}
