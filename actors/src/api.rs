//! The engine's public vocabulary: what a host sends in and what it is answered. Plain
//! data over the core's types, named by every layer and depending on none of them, so
//! that a type a caller sees never pulls the module that builds it into the one that
//! uses it (the shard builds a `CustomerBalance`, the engine hands it out).

use omnibus_core::ledger::Lsn;
use omnibus_core::request_log::{EntryState, Step, Told};
use omnibus_core::saga::{Accepted, Answer, EntryId, LogEntry, Reason, RequestKind, Settled};
use omnibus_core::{
    AccountNo, Amount, BankCode, ChargeRequest, CustomerId, Money, ParentAccount, RemitPath,
    RemitRequest, RequestNo, TransferId,
};

/// What a caller learns about a charge or remittance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub customer: CustomerId,
    pub request_no: RequestNo,
    pub kind: RequestKind,
    pub amount: Amount,
    /// What the customer is told (SPEC §4: on a timeout this is chosen per step).
    pub told: Told,
    pub path: Option<RemitPath>,
    /// The deficit charged before a remittance (claim 13), if the balance was short.
    pub deficit: Option<Amount>,
    /// The step whose result decided the answer, and whether it had timed out.
    pub decided_by: Step,
    pub timed_out: bool,
    /// Why it was told failed ([`Reason::None`] when told succeeded).
    pub reason: Reason,
}

impl Outcome {
    pub(crate) fn new(accepted: &Accepted, answer: &Answer) -> Self {
        Outcome {
            customer: accepted.customer,
            request_no: accepted.request_no,
            kind: accepted.kind,
            amount: accepted.amount,
            told: answer.told,
            path: accepted.path,
            deficit: accepted.deficit,
            decided_by: answer.decided_by,
            timed_out: answer.timed_out,
            reason: answer.reason,
        }
    }
}

/// A card's statement of a KST day (D-5.10): the pocket's day, and the notice that
/// carries it once made (09:00 KST the next day), with its delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardStatement {
    pub last4: [u8; 4],
    pub statement: omnibus_core::statement::PocketDay,
    pub notice: Option<omnibus_core::statement::Notice>,
}

/// A request with all its request-log entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestView {
    pub accepted: Accepted,
    pub answer: Option<Answer>,
    pub entries: Vec<LogEntry>,
    /// Where it stands for good: what moved, whatever the caller was told (pending while
    /// a call is open, a step owed, or nobody answered yet).
    pub outcome: Settled,
}

impl RequestView {
    /// A settled request as its shard's archive holds it.
    pub fn from_archived(settled: omnibus_core::ledger::archived::SettledRequest) -> RequestView {
        let outcome = omnibus_core::instruments::settled_outcome(
            &settled.accepted,
            settled.answer.map(|a| a.told),
            &settled.entries,
        );
        RequestView {
            accepted: settled.accepted,
            answer: settled.answer,
            entries: settled.entries,
            outcome,
        }
    }
}

/// A transaction original text issued for signing (S3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningText {
    pub text: String,
    pub expires_at_ms: u64,
}

/// The customer terminal's signature over an issued text (S5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signed {
    pub cert_serial: u64,
    pub signature: [u8; 64],
}

/// A sale (INSTRUMENTS.md §6.3): the customer's balance, or the pocket of one of the
/// customer's prepaid cards, pays a merchant, `SS.transfer` `customer` (or
/// `pocket[c,card]`) → `merchant[m]`. The payments layer's authorization (the merchant's
/// checks, the instrument's controls) comes before it; this is its money leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaleRequest {
    pub header: omnibus_core::RequestHeader,
    pub merchant: omnibus_core::ids::MerchantNo,
    /// The card whose pocket pays; `None`: the customer's balance.
    pub pocket: Option<omnibus_core::ids::CardSeq>,
}

/// A prepaid card's charge from the customer's balance (INSTRUMENTS.md D-5.7):
/// `SS.transfer` `customer[c]` → `pocket[c,card]`, refused `OVER_BALANCE_CAP` when the
/// pocket would hold more than `payments.pocket_balance_cap_krw`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PocketChargeRequest {
    pub header: omnibus_core::RequestHeader,
    pub card: omnibus_core::ids::CardSeq,
}

/// A merchant's cancel paid back to the payer (INSTRUMENTS.md §6.4): `SS.transfer`
/// `merchant[m]` → `pocket[c,card]` (or → `customer[c]` when `pocket` is `None`), a
/// request of the payer's, retried until it is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MerchantRefundRequest {
    pub header: omnibus_core::RequestHeader,
    pub merchant: omnibus_core::ids::MerchantNo,
    pub pocket: Option<omnibus_core::ids::CardSeq>,
}

/// A request as submitted to the engine.
#[derive(Clone, Debug)]
pub enum Submission {
    Charge(ChargeRequest),
    Remit(RemitRequest),
    RemitSigned(RemitRequest, Signed),
    Sale(SaleRequest),
    PocketCharge(PocketChargeRequest),
    /// A prepaid card's charge from the customer's linked bank account (D-5.7,
    /// Charge-to(`pocket[c,card]`)): a charge whose A2 credits the pocket.
    PocketFill(PocketChargeRequest),
    MerchantRefund(MerchantRefundRequest),
    /// A closed card's pocket back to its owner (D-5.13): `pocket[c,card]` → `customer[c]`.
    PocketRelease(PocketChargeRequest),
}

impl Submission {
    pub fn customer(&self) -> CustomerId {
        self.header().customer
    }

    pub fn request_no(&self) -> RequestNo {
        self.header().request_no
    }

    /// The kind of request it asks for: which instrument carries it out.
    pub fn kind(&self) -> RequestKind {
        match self {
            Submission::Charge(_) | Submission::PocketFill(_) => RequestKind::Charge,
            Submission::Remit(_) | Submission::RemitSigned(..) => RequestKind::Remit,
            Submission::Sale(_) => RequestKind::Sale,
            Submission::PocketCharge(_) => RequestKind::PocketCharge,
            Submission::MerchantRefund(_) => RequestKind::MerchantRefund,
            Submission::PocketRelease(_) => RequestKind::PocketRelease,
        }
    }

    /// The accounts beyond the customer's own its legs name: the merchant a sale pays,
    /// the card whose pocket it draws on or fills.
    pub fn named(&self) -> omnibus_core::saga::Named {
        use omnibus_core::saga::Named;
        match self {
            Submission::Sale(s) => Named {
                merchant: Some(s.merchant),
                pocket: s.pocket,
            },
            Submission::PocketCharge(c)
            | Submission::PocketRelease(c)
            | Submission::PocketFill(c) => Named {
                merchant: None,
                pocket: Some(c.card),
            },
            Submission::MerchantRefund(r) => Named {
                merchant: Some(r.merchant),
                pocket: r.pocket,
            },
            _ => Named::default(),
        }
    }

    /// Whom it pays, if anyone.
    pub fn payee(&self) -> Option<omnibus_core::Payee> {
        match self {
            Submission::Charge(_)
            | Submission::Sale(_)
            | Submission::PocketCharge(_)
            | Submission::PocketFill(_)
            | Submission::MerchantRefund(_)
            | Submission::PocketRelease(_) => None,
            Submission::Remit(r) | Submission::RemitSigned(r, _) => Some(r.payee),
        }
    }

    pub(crate) fn header(&self) -> &omnibus_core::RequestHeader {
        match self {
            Submission::Charge(c) => &c.header,
            Submission::Remit(r) | Submission::RemitSigned(r, _) => &r.header,
            Submission::Sale(s) => &s.header,
            Submission::PocketCharge(c)
            | Submission::PocketRelease(c)
            | Submission::PocketFill(c) => &c.header,
            Submission::MerchantRefund(r) => &r.header,
        }
    }
}

/// A state change, published to subscribers once it is durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineEvent {
    Accepted {
        shard: u16,
        customer: CustomerId,
        request_no: RequestNo,
        kind: RequestKind,
        amount: Amount,
        at_ms: u64,
    },
    EntryChanged {
        shard: u16,
        entry: EntryId,
        customer: CustomerId,
        request_no: RequestNo,
        step: Step,
        from: Option<EntryState>,
        to: EntryState,
        at_ms: u64,
    },
    Answered {
        shard: u16,
        customer: CustomerId,
        request_no: RequestNo,
        told: Told,
        at_ms: u64,
    },
}

/// What the caller of a posting learns once it is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The shard that wrote the (debit) record, and its LSN there.
    pub shard: u16,
    pub lsn: Lsn,
    /// For a posting between shards, the transfer that carried it.
    pub transfer: Option<TransferId>,
}

/// A customer's account as the engine books it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerBalance {
    pub customer: CustomerId,
    /// The balance the customer sees.
    pub balance: Money,
    /// The balance less what debits in flight hold.
    pub available: Money,
    pub tradable: bool,
    pub subscription_valid: bool,
    /// The customer-linked account charges are drawn from.
    pub linked_bank: BankCode,
    pub linked_account: AccountNo,
    /// The serial of the registered signature key's certificate, if any.
    pub cert_serial: Option<u64>,
}

/// A parent account's balance: the sum of its slices, and each slice. Money on its way
/// from one slice to another (a refill between shards) is in neither slice until it is
/// credited; [`Totals::in_transit`] counts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentBalance {
    pub parent: ParentAccount,
    pub total: Money,
    /// Indexed by shard.
    pub slices: Vec<Money>,
}

/// The engine-wide conservation check (SPEC §6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Totals {
    /// The sum over every account of every shard, external accounts and money in transit
    /// between shards included. Zero while the books balance.
    pub sum: Money,
    /// Money debited by one shard and not yet credited by another.
    pub in_transit: Money,
    pub customers: u64,
    pub shards: Vec<ShardTotals>,
}

/// One shard's contribution to the conservation check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardTotals {
    pub shard: u16,
    /// Every account of the shard, in-transit included: zero when the books balance. Kept
    /// as records apply, so a metrics scrape costs the shard nothing (`QueryKind::Audit`
    /// adds every account up instead).
    pub sum: Money,
    pub in_transit: Money,
    pub customers: u64,
    pub live_customers: u64,
    pub outgoing_transfers: u64,
    /// Transfer ids from other shards remembered one by one (bounded by those in flight).
    pub transfers_remembered: u64,
    pub durable_lsn: Lsn,
    /// Flows being driven live.
    pub sagas_in_flight: u64,
    /// Requests owing a step not yet created (a recovery, a refund, a credit due).
    pub steps_owed: u64,
    /// Accepted requests not answered yet.
    pub requests_unanswered: u64,
    /// Requests told failed at acceptance because a parent slice could not fund them.
    pub refused_parent_slice_short: u64,
    pub requests: u64,
    /// Open request-log entries: REQUESTED, UNKNOWN, FAIL_TRY_AGAIN.
    pub entries_requested: u64,
    pub entries_unknown: u64,
    pub entries_try_again: u64,
    pub activations: u64,
    pub passivations: u64,
    pub snapshots: u64,
    /// The longest a snapshot's cut stopped the shard's thread, in microseconds.
    pub snapshot_pause_max_us: u64,
    /// Settled requests still in memory (at most about `archive.recent_max` once the
    /// archive keeps up); `requests` counts them among the others.
    pub settled_in_memory: u64,
    /// Records in the shard's archive (a request in two runs counts twice until a merge),
    /// and the archive's memory (its filters).
    pub archived_requests: u64,
    pub archive_heap_bytes: u64,
    /// The shard's write-ahead-log counters.
    pub wal: omnibus_wal::WalStats,
}
