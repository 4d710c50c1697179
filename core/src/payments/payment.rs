//! A payment's state in `payment_log` (INSTRUMENTS.md §6.5) and what a cancel or a refund
//! may do to it (§6.4).
//!
//! `REQUESTED → APPROVED | DECLINED`. While a leg's outcome is unknown the entry is
//! `PENDING_CONFIRM`, though the merchant was told DECLINED (D-0.2); it becomes DECLINED
//! once the confirm, and any reversal, is done. After approval, `APPROVED → CANCELLED |
//! PARTIALLY_REFUNDED | REFUNDED` and `PARTIALLY_REFUNDED → PARTIALLY_REFUNDED |
//! REFUNDED`. Settlement is an attribute (the payout that covered it), not a state.

use serde::{Deserialize, Serialize};

use super::codes::RefusalCode;
use super::kst::kst_day;

/// The state of a payment.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub enum PaymentState {
    Requested,
    /// A leg's outcome is unknown; the merchant was told DECLINED `TIMEOUT`.
    PendingConfirm,
    Approved,
    Declined,
    Cancelled,
    PartiallyRefunded,
    Refunded,
}

impl PaymentState {
    /// What the merchant was told, once it was told anything: a payment is APPROVED from
    /// its approval on, whatever refunds follow, and DECLINED otherwise.
    pub const fn answered_approved(self) -> Option<bool> {
        match self {
            PaymentState::Requested => None,
            PaymentState::PendingConfirm | PaymentState::Declined => Some(false),
            PaymentState::Approved
            | PaymentState::Cancelled
            | PaymentState::PartiallyRefunded
            | PaymentState::Refunded => Some(true),
        }
    }
}

/// A payment's id: the shard that holds it in its top 16 bits, a number within the
/// shard below; written `pay_<16 hex digits>`. It names no customer: a merchant learns
/// nothing about who paid from it (D-5.5).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord))]
pub struct PaymentId(pub u64);

impl PaymentId {
    pub const fn new(shard: u16, seq: u64) -> Self {
        Self(((shard as u64) << 48) | (seq & ((1 << 48) - 1)))
    }

    pub const fn shard(self) -> u16 {
        (self.0 >> 48) as u16
    }

    pub const fn seq(self) -> u64 {
        self.0 & ((1 << 48) - 1)
    }

    /// The approval number a merchant prints (§6.4): 8 digits from the id.
    pub fn approval_no(self) -> String {
        format!("{:08}", (self.0 ^ (self.0 >> 29)) % 100_000_000)
    }
}

impl std::fmt::Display for PaymentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pay_{:016x}", self.0)
    }
}

impl std::str::FromStr for PaymentId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s
            .strip_prefix("pay_")
            .filter(|h| h.len() == 16)
            .ok_or_else(|| format!("payment id {s:?} is not pay_<16 hex digits>"))?;
        u64::from_str_radix(hex, 16)
            .map(PaymentId)
            .map_err(|_| format!("payment id {s:?} is not pay_<16 hex digits>"))
    }
}

/// A payment as `payment_log` keeps it (§6.5), in the shard of its payer (or, declined
/// before a payer was known, of its merchant's request number): one `payment_set` record
/// per change, carrying the whole payment at a new version.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct PaymentEntry {
    pub id: PaymentId,
    pub version: u32,
    pub merchant: crate::ids::MerchantNo,
    /// The merchant's idempotency key (§6.4).
    pub merchant_request_no: crate::ids::RequestNo,
    /// Metadata only.
    pub order_no: Option<crate::ids::RequestNo>,
    /// The request's fingerprint, secrets excluded (`payment_request.rs`).
    pub fingerprint: [u8; 32],
    pub amount_krw: u64,
    /// The instrument that pays: its owner (the payer) and its number among the owner's
    /// instruments of its kind (`payer`): a prepaid card, or a division account of a
    /// master. `None` when declined before an instrument was found (an unknown number),
    /// or cancelled by the merchant before it arrived.
    pub card: Option<(crate::ids::CustomerId, crate::ids::CardSeq)>,
    pub state: PaymentState,
    /// Why it was declined (`DeclineCode::byte`), once it was.
    pub decline: Option<u8>,
    /// The request number of its sale (the money leg, a saga of the payer's), once
    /// authorized.
    pub sale: Option<crate::ids::RequestNo>,
    pub created_at_ms: u64,
    /// When it was approved; 0 before.
    pub approved_at_ms: u64,
    /// What its refunds and cancel have taken back so far.
    pub refunded_krw: u64,
    /// Its refunds (§6.5), each under the merchant's `refund_request_no`.
    pub refunds: Vec<RefundEntry>,
    /// The kind of instrument `card` names (from `payment_set` version 2; before, every
    /// payment was a prepaid card's).
    pub payer: PayerKind,
}

/// The kind of instrument that pays a payment: where its money came from, and so where a
/// cancel or refund pays it back and what it gives back to the instrument's counters.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub enum PayerKind {
    /// A prepaid card's pocket (seed 004), directly or through a wallet checkout.
    #[default]
    PrepaidCard,
    /// A division account (seed 001(a)): its master's balance, within the slave's budget.
    Division,
}

/// A refund of a payment (§6.5): the merchant's number for it, its amount, when it was
/// accepted.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct RefundEntry {
    pub refund_request_no: crate::ids::RequestNo,
    pub amount_krw: u64,
    pub at_ms: u64,
}

impl PaymentEntry {
    pub fn decline_code(&self) -> Option<super::DeclineCode> {
        self.decline.and_then(super::DeclineCode::from_byte)
    }

    /// What a cancel or refund reads of it.
    pub const fn book(&self) -> PaymentBook {
        PaymentBook {
            state: self.state,
            amount_krw: self.amount_krw,
            refunded_krw: self.refunded_krw,
            approved_at_ms: self.approved_at_ms,
        }
    }
}

/// Which account a refund's or cancel's leg pays back into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayBack {
    /// The pocket that paid.
    Pocket,
    /// The payer's balance: what the pocket's cap cannot take, or a closed card's share.
    Customer,
}

impl PaymentId {
    /// The request number of a payment's sale (a request of the payer's): `PAY-` and the
    /// payment's id in hex, unique engine-wide since the id is.
    pub fn sale_request_no(self) -> crate::ids::RequestNo {
        crate::ids::RequestNo::new(&format!("PAY-{:016X}", self.0)).expect("20 key characters")
    }

    /// The payment whose sale `no` is (`PAY-` and 16 hex digits), if it is one.
    pub fn of_sale_request_no(no: crate::ids::RequestNo) -> Option<PaymentId> {
        let hex = no.as_str().strip_prefix("PAY-")?;
        (hex.len() == 16)
            .then(|| u64::from_str_radix(hex, 16).ok())
            .flatten()
            .map(PaymentId)
    }

    /// The request number of a division payment's top-up charge (§1.3 step 9, the SPEC
    /// §3 deficit charge from the master's linked account): `TU-` and the payment's id in
    /// hex. A charge of its own, which the payment only refers to.
    pub fn top_up_request_no(self) -> crate::ids::RequestNo {
        crate::ids::RequestNo::new(&format!("TU-{:016X}", self.0)).expect("19 key characters")
    }

    /// The request number of a cancel's leg (a request of the payer's) at its `attempt`:
    /// `CX-` (to the pocket) or `CY-` (to the balance) and the payment's id in hex for the
    /// first; `CX` or `CY`, the attempt as one hex digit and the id for a later one (a leg
    /// refused with nothing moved is asked again under the next, `Engine::pay_back`). A
    /// cancel asked again finds them on record instead of paying twice.
    pub fn cancel_request_no(self, leg: PayBack, attempt: u8) -> crate::ids::RequestNo {
        let leg = match leg {
            PayBack::Pocket => 'X',
            PayBack::Customer => 'Y',
        };
        let no = match attempt {
            0 => format!("C{leg}-{:016X}", self.0),
            n => format!("C{leg}{:X}{:016X}", n & 0xF, self.0),
        };
        crate::ids::RequestNo::new(&no).expect("19 key characters")
    }

    /// The request number of a refund's leg at its `attempt`: `RP` (to the pocket) or `RC`
    /// (to the balance), the payment's id, and 56 bits of SHA-256 of the merchant's
    /// `refund_request_no` (stable across builds, unlike the standard library's hasher), 32
    /// characters, for the first; `RQ` or `RD`, the attempt as one hex digit, the id and
    /// 52 bits of that hash for a later one.
    pub fn refund_request_no(
        self,
        refund_request_no: &crate::ids::RequestNo,
        leg: PayBack,
        attempt: u8,
    ) -> crate::ids::RequestNo {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(refund_request_no.as_str().as_bytes());
        let mut tail = [0u8; 8];
        tail[1..].copy_from_slice(&digest[..7]);
        let tail = u64::from_be_bytes(tail);
        let no = match (attempt, leg) {
            (0, PayBack::Pocket) => format!("RP{:016X}{tail:014X}", self.0),
            (0, PayBack::Customer) => format!("RC{:016X}{tail:014X}", self.0),
            (n, leg) => format!(
                "R{}{:X}{:016X}{:013X}",
                if leg == PayBack::Pocket { 'Q' } else { 'D' },
                n & 0xF,
                self.0,
                tail >> 4
            ),
        };
        crate::ids::RequestNo::new(&no).expect("32 key characters")
    }
}

/// The part of a payment a cancel or refund reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaymentBook {
    pub state: PaymentState,
    pub amount_krw: u64,
    /// What its refunds have taken back so far.
    pub refunded_krw: u64,
    /// When it was approved (the engine's clock).
    pub approved_at_ms: u64,
}

impl PaymentBook {
    /// What is left to refund.
    pub const fn refundable_krw(&self) -> u64 {
        self.amount_krw.saturating_sub(self.refunded_krw)
    }

    /// A full cancel (§6.4): of an APPROVED payment with no refund yet, on the KST day of
    /// its approval. Answers the state it leaves.
    pub fn cancel(&self, at_ms: u64) -> Result<PaymentState, (RefusalCode, &'static str)> {
        if self.state != PaymentState::Approved || self.refunded_krw > 0 {
            return Err((
                RefusalCode::InvalidState,
                "only an approved payment with no refund can be cancelled",
            ));
        }
        if kst_day(at_ms) != kst_day(self.approved_at_ms) {
            return Err((
                RefusalCode::CancelWindowClosed,
                "a cancel is on the day of the payment (KST); use a refund",
            ));
        }
        Ok(PaymentState::Cancelled)
    }

    /// A refund of `amount_krw` (§6.4): partial or full, at any time after approval, never
    /// more than is left. Answers the state it leaves. (Whether the merchant can fund it is
    /// the books' question, §6.6.)
    pub fn refund(&self, amount_krw: u64) -> Result<PaymentState, (RefusalCode, &'static str)> {
        if !matches!(
            self.state,
            PaymentState::Approved | PaymentState::PartiallyRefunded
        ) {
            return Err((
                RefusalCode::InvalidState,
                "only an approved, not cancelled, not fully refunded payment can be refunded",
            ));
        }
        if amount_krw == 0 {
            return Err((RefusalCode::InvalidRequest, "amount_krw must be positive"));
        }
        if amount_krw > self.refundable_krw() {
            return Err((
                RefusalCode::RefundExceedsPayment,
                "more than is left to refund of the payment",
            ));
        }
        Ok(if amount_krw == self.refundable_krw() {
            PaymentState::Refunded
        } else {
            PaymentState::PartiallyRefunded
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01 12:00 KST.
    const NOON: u64 = 1_796_083_200_000 + 3 * 3_600_000;

    fn approved(amount_krw: u64) -> PaymentBook {
        PaymentBook {
            state: PaymentState::Approved,
            amount_krw,
            refunded_krw: 0,
            approved_at_ms: NOON,
        }
    }

    #[test]
    fn a_cancel_is_full_and_on_the_same_kst_day_else_a_refund() {
        let p = approved(35_000);
        assert_eq!(p.cancel(NOON + 3_600_000), Ok(PaymentState::Cancelled));
        // Noon + 12 h is midnight in Seoul: the next day.
        let next_day = NOON + 12 * 3_600_000;
        assert_eq!(
            p.cancel(next_day).unwrap_err().0,
            RefusalCode::CancelWindowClosed
        );
        let refunded_a_bit = PaymentBook {
            state: PaymentState::PartiallyRefunded,
            refunded_krw: 1,
            ..p
        };
        assert_eq!(
            refunded_a_bit.cancel(NOON).unwrap_err().0,
            RefusalCode::InvalidState
        );
        let declined = PaymentBook {
            state: PaymentState::Declined,
            ..p
        };
        assert_eq!(
            declined.cancel(NOON).unwrap_err().0,
            RefusalCode::InvalidState
        );
    }

    #[test]
    fn refunds_never_sum_to_more_than_the_payment() {
        let mut p = approved(35_000);
        assert_eq!(p.refund(10_000), Ok(PaymentState::PartiallyRefunded));
        p.refunded_krw = 10_000;
        p.state = PaymentState::PartiallyRefunded;
        assert_eq!(
            p.refund(25_001).unwrap_err().0,
            RefusalCode::RefundExceedsPayment
        );
        assert_eq!(p.refund(25_000), Ok(PaymentState::Refunded));
        p.refunded_krw = 35_000;
        p.state = PaymentState::Refunded;
        assert_eq!(p.refund(1).unwrap_err().0, RefusalCode::InvalidState);
        assert_eq!(
            approved(1).refund(0).unwrap_err().0,
            RefusalCode::InvalidRequest
        );
    }

    #[test]
    fn a_payment_pending_confirm_was_answered_declined() {
        assert_eq!(
            PaymentState::PendingConfirm.answered_approved(),
            Some(false)
        );
        assert_eq!(PaymentState::Refunded.answered_approved(), Some(true));
        assert_eq!(PaymentState::Requested.answered_approved(), None);
    }

    #[test]
    fn a_pay_back_legs_numbers_are_distinct_per_leg_and_attempt_and_the_first_unchanged() {
        let id = PaymentId(0x0123_4567_89AB_CDEF);
        assert_eq!(
            id.cancel_request_no(PayBack::Pocket, 0).as_str(),
            "CX-0123456789ABCDEF"
        );
        assert_eq!(
            id.cancel_request_no(PayBack::Customer, 3).as_str(),
            "CY30123456789ABCDEF"
        );
        let rf = crate::ids::RequestNo::new("RF-1").unwrap();
        let first = id.refund_request_no(&rf, PayBack::Pocket, 0);
        assert!(first.as_str().starts_with("RP0123456789ABCDEF"));
        let mut seen = std::collections::HashSet::new();
        for attempt in 0..16 {
            for leg in [PayBack::Pocket, PayBack::Customer] {
                let cancel = id.cancel_request_no(leg, attempt);
                let refund = id.refund_request_no(&rf, leg, attempt);
                assert_eq!(refund.as_str().len(), 32);
                assert!(seen.insert(cancel) && seen.insert(refund));
            }
        }
    }
}
