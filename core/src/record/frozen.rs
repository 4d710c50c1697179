//! Archived layouts of earlier record versions, kept so that old logs stay readable
//! (docs/wal-format.md, "Payload versions"). Never change a type here: each is the exact
//! layout some version wrote. Each converts into today's type. (The snapshot's old
//! layouts are the ledger's: `crate::ledger::frozen`.)
//!
//! - Version 1 (and the unversioned version 0): an answer without a reason.
//! - `payment_set` version 1: a payment without its payer's kind (always a prepaid card).

use crate::request_log::{Step, Told};
use crate::saga::{Answer, Reason};

/// [`Answer`] before it carried a reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct AnswerV1 {
    pub told: Told,
    pub decided_by: Step,
    pub timed_out: bool,
    pub at_ms: u64,
}

impl From<AnswerV1> for Answer {
    fn from(a: AnswerV1) -> Answer {
        Answer {
            told: a.told,
            decided_by: a.decided_by,
            timed_out: a.timed_out,
            at_ms: a.at_ms,
            // A reason was not recorded then; a timeout is the one thing the answer says.
            reason: match (a.told, a.timed_out) {
                (Told::Succeeded, _) => Reason::None,
                (Told::Failed, true) => Reason::Timeout,
                (Told::Failed, false) => Reason::Unrecorded,
            },
        }
    }
}

impl From<Answer> for AnswerV1 {
    fn from(a: Answer) -> AnswerV1 {
        AnswerV1 {
            told: a.told,
            decided_by: a.decided_by,
            timed_out: a.timed_out,
            at_ms: a.at_ms,
        }
    }
}

/// [`crate::payments::payment::PaymentEntry`] before it named its payer's kind: every
/// payment was a prepaid card's.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct PaymentEntryV1 {
    pub id: crate::payments::payment::PaymentId,
    pub version: u32,
    pub merchant: crate::ids::MerchantNo,
    pub merchant_request_no: crate::ids::RequestNo,
    pub order_no: Option<crate::ids::RequestNo>,
    pub fingerprint: [u8; 32],
    pub amount_krw: u64,
    pub card: Option<(crate::ids::CustomerId, crate::ids::CardSeq)>,
    pub state: crate::payments::payment::PaymentState,
    pub decline: Option<u8>,
    pub sale: Option<crate::ids::RequestNo>,
    pub created_at_ms: u64,
    pub approved_at_ms: u64,
    pub refunded_krw: u64,
    pub refunds: Vec<crate::payments::payment::RefundEntry>,
}

impl From<PaymentEntryV1> for crate::payments::payment::PaymentEntry {
    fn from(p: PaymentEntryV1) -> Self {
        Self {
            id: p.id,
            version: p.version,
            merchant: p.merchant,
            merchant_request_no: p.merchant_request_no,
            order_no: p.order_no,
            fingerprint: p.fingerprint,
            amount_krw: p.amount_krw,
            card: p.card,
            state: p.state,
            decline: p.decline,
            sale: p.sale,
            created_at_ms: p.created_at_ms,
            approved_at_ms: p.approved_at_ms,
            refunded_krw: p.refunded_krw,
            refunds: p.refunds,
            payer: crate::payments::payment::PayerKind::PrepaidCard,
        }
    }
}
