// Over 600 lines: one frozen layout per snapshot version, each with its conversion; splitting them would scatter one history.
//! Archived layouts of earlier snapshot versions, kept so that old snapshots stay
//! readable (docs/wal-format.md, "Payload versions"). Never change a type here: each is
//! the exact layout some version wrote. Each converts into today's type.
//!
//! - Version 1 (and the unversioned version 0): requests without reservations; entries
//!   that always held their own amount; answers without a reason.
//! - Version 2: the snapshot before two-phase holds.
//! - Version 3: the snapshot before merchants.
//! - Version 4: the snapshot before prepaid cards.
//! - Versions 5 to 8: payments without their payer's kind (`PaymentEntryV1`).
//! - Version 8: the snapshot before division accounts.

use super::{
    BooksSnapshot, CustomerEntry, DecimalCell, Hold, Incoming, Lsn, MerchantEntry, Outgoing,
    RequestState, SliceEntry,
};
use crate::ids::{AccountId, BankCode, CustomerId, MerchantNo, ParentAccount, RequestNo};
use crate::money::Amount;
use crate::record::frozen::AnswerV1;
use crate::request_log::{EntryState, Step};
use crate::saga::{Accepted, Answer, EntryId, LogEntry};

/// [`RequestState`] before reservations.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct RequestStateV1 {
    pub accepted: Accepted,
    pub answer: Option<AnswerV1>,
    pub entries: Vec<EntryId>,
}

impl From<RequestStateV1> for RequestState {
    fn from(r: RequestStateV1) -> RequestState {
        RequestState {
            accepted: r.accepted,
            answer: r.answer.map(Answer::from),
            entries: r.entries,
            reserved: None,
        }
    }
}

/// [`LogEntry`] before entries could be covered by their request's reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct LogEntryV1 {
    pub id: EntryId,
    pub customer: CustomerId,
    pub request_no: RequestNo,
    pub step: Step,
    pub state: EntryState,
    pub attempt: u32,
    pub failures: u32,
    pub amount: Amount,
    pub debit: AccountId,
    pub credit: AccountId,
    pub requested_at_ms: u64,
    pub updated_at_ms: u64,
}

impl From<LogEntryV1> for LogEntry {
    fn from(e: LogEntryV1) -> LogEntry {
        LogEntry {
            id: e.id,
            customer: e.customer,
            request_no: e.request_no,
            step: e.step,
            state: e.state,
            attempt: e.attempt,
            failures: e.failures,
            amount: e.amount,
            debit: e.debit,
            credit: e.credit,
            requested_at_ms: e.requested_at_ms,
            updated_at_ms: e.updated_at_ms,
            covered: false,
        }
    }
}

/// [`BooksSnapshot`] of versions 0 and 1.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct BooksSnapshotV1 {
    pub shard: u16,
    pub shards: u16,
    pub last_lsn: u64,
    pub genesis_done: bool,
    pub customers: Vec<CustomerEntry>,
    pub slices: Vec<(ParentAccount, SliceEntry)>,
    pub designated: Vec<(BankCode, DecimalCell)>,
    pub funding: DecimalCell,
    pub in_transit: DecimalCell,
    pub outgoing: Vec<Outgoing>,
    pub incoming: Vec<(u16, Incoming)>,
    pub next_transfer_seq: u64,
    pub requests: Vec<RequestStateV1>,
    pub entries: Vec<LogEntryV1>,
    pub next_entry_seq: u64,
}

impl From<BooksSnapshotV1> for BooksSnapshot {
    fn from(s: BooksSnapshotV1) -> BooksSnapshot {
        BooksSnapshot {
            shard: s.shard,
            shards: s.shards,
            last_lsn: s.last_lsn,
            genesis_done: s.genesis_done,
            customers: s.customers,
            slices: s.slices,
            designated: s.designated,
            funding: s.funding,
            in_transit: s.in_transit,
            outgoing: s.outgoing,
            incoming: s.incoming,
            next_transfer_seq: s.next_transfer_seq,
            requests: s.requests.into_iter().map(RequestState::from).collect(),
            entries: s.entries.into_iter().map(LogEntry::from).collect(),
            next_entry_seq: s.next_entry_seq,
            holds: Vec::new(),
            merchants: Vec::new(),
            merchant_slices: Vec::new(),
            cards: Vec::new(),
            payments: Vec::new(),
            named: Vec::new(),
            payouts: Vec::new(),
            pocket_days: Vec::new(),
            notices: Vec::new(),
            merchant_days: Vec::new(),
            members: Vec::new(),
            api_keys: Vec::new(),
            payout_notices: Vec::new(),
            divisions: Vec::new(),
            relay: Default::default(),
            pooled: Vec::new(),
            va_credits_due: Vec::new(),
        }
    }
}

/// [`BooksSnapshot`] of version 2: before two-phase holds.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct BooksSnapshotV2 {
    pub shard: u16,
    pub shards: u16,
    pub last_lsn: u64,
    pub genesis_done: bool,
    pub customers: Vec<CustomerEntry>,
    pub slices: Vec<(ParentAccount, SliceEntry)>,
    pub designated: Vec<(BankCode, DecimalCell)>,
    pub funding: DecimalCell,
    pub in_transit: DecimalCell,
    pub outgoing: Vec<Outgoing>,
    pub incoming: Vec<(u16, Incoming)>,
    pub next_transfer_seq: u64,
    pub requests: Vec<RequestState>,
    pub entries: Vec<LogEntry>,
    pub next_entry_seq: u64,
}

impl From<BooksSnapshotV2> for BooksSnapshot {
    fn from(s: BooksSnapshotV2) -> BooksSnapshot {
        BooksSnapshot {
            shard: s.shard,
            shards: s.shards,
            last_lsn: s.last_lsn,
            genesis_done: s.genesis_done,
            customers: s.customers,
            slices: s.slices,
            designated: s.designated,
            funding: s.funding,
            in_transit: s.in_transit,
            outgoing: s.outgoing,
            incoming: s.incoming,
            next_transfer_seq: s.next_transfer_seq,
            requests: s.requests,
            entries: s.entries,
            next_entry_seq: s.next_entry_seq,
            // No hold existed before version 3.
            holds: Vec::new(),
            merchants: Vec::new(),
            merchant_slices: Vec::new(),
            cards: Vec::new(),
            payments: Vec::new(),
            named: Vec::new(),
            payouts: Vec::new(),
            pocket_days: Vec::new(),
            notices: Vec::new(),
            merchant_days: Vec::new(),
            members: Vec::new(),
            api_keys: Vec::new(),
            payout_notices: Vec::new(),
            divisions: Vec::new(),
            relay: Default::default(),
            pooled: Vec::new(),
            va_credits_due: Vec::new(),
        }
    }
}

/// [`BooksSnapshot`] before merchants (version 3).
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct BooksSnapshotV3 {
    pub shard: u16,
    pub shards: u16,
    pub last_lsn: Lsn,
    pub genesis_done: bool,
    pub customers: Vec<CustomerEntry>,
    pub slices: Vec<(ParentAccount, SliceEntry)>,
    pub designated: Vec<(BankCode, DecimalCell)>,
    pub funding: DecimalCell,
    pub in_transit: DecimalCell,
    pub outgoing: Vec<Outgoing>,
    pub incoming: Vec<(u16, Incoming)>,
    pub next_transfer_seq: u64,
    pub requests: Vec<RequestState>,
    pub entries: Vec<LogEntry>,
    pub next_entry_seq: u64,
    pub holds: Vec<Hold>,
}

impl From<BooksSnapshotV3> for BooksSnapshot {
    fn from(s: BooksSnapshotV3) -> BooksSnapshot {
        BooksSnapshot {
            shard: s.shard,
            shards: s.shards,
            last_lsn: s.last_lsn,
            genesis_done: s.genesis_done,
            customers: s.customers,
            slices: s.slices,
            designated: s.designated,
            funding: s.funding,
            in_transit: s.in_transit,
            outgoing: s.outgoing,
            incoming: s.incoming,
            next_transfer_seq: s.next_transfer_seq,
            requests: s.requests,
            entries: s.entries,
            next_entry_seq: s.next_entry_seq,
            holds: s.holds,
            // No merchant existed before version 4.
            merchants: Vec::new(),
            merchant_slices: Vec::new(),
            cards: Vec::new(),
            payments: Vec::new(),
            named: Vec::new(),
            payouts: Vec::new(),
            pocket_days: Vec::new(),
            notices: Vec::new(),
            merchant_days: Vec::new(),
            members: Vec::new(),
            api_keys: Vec::new(),
            payout_notices: Vec::new(),
            divisions: Vec::new(),
            relay: Default::default(),
            pooled: Vec::new(),
            va_credits_due: Vec::new(),
        }
    }
}

/// [`BooksSnapshot`] before prepaid cards (version 4).
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct BooksSnapshotV4 {
    pub shard: u16,
    pub shards: u16,
    pub last_lsn: Lsn,
    pub genesis_done: bool,
    pub customers: Vec<CustomerEntry>,
    pub slices: Vec<(ParentAccount, SliceEntry)>,
    pub designated: Vec<(BankCode, DecimalCell)>,
    pub funding: DecimalCell,
    pub in_transit: DecimalCell,
    pub outgoing: Vec<Outgoing>,
    pub incoming: Vec<(u16, Incoming)>,
    pub next_transfer_seq: u64,
    pub requests: Vec<RequestState>,
    pub entries: Vec<LogEntry>,
    pub next_entry_seq: u64,
    pub holds: Vec<Hold>,
    pub merchants: Vec<MerchantEntry>,
    pub merchant_slices: Vec<(MerchantNo, SliceEntry)>,
}

impl From<BooksSnapshotV4> for BooksSnapshot {
    fn from(s: BooksSnapshotV4) -> BooksSnapshot {
        BooksSnapshot {
            shard: s.shard,
            shards: s.shards,
            last_lsn: s.last_lsn,
            genesis_done: s.genesis_done,
            customers: s.customers,
            slices: s.slices,
            designated: s.designated,
            funding: s.funding,
            in_transit: s.in_transit,
            outgoing: s.outgoing,
            incoming: s.incoming,
            next_transfer_seq: s.next_transfer_seq,
            requests: s.requests,
            entries: s.entries,
            next_entry_seq: s.next_entry_seq,
            holds: s.holds,
            merchants: s.merchants,
            merchant_slices: s.merchant_slices,
            // No card existed before version 5.
            cards: Vec::new(),
            payments: Vec::new(),
            named: Vec::new(),
            payouts: Vec::new(),
            pocket_days: Vec::new(),
            notices: Vec::new(),
            merchant_days: Vec::new(),
            members: Vec::new(),
            api_keys: Vec::new(),
            payout_notices: Vec::new(),
            divisions: Vec::new(),
            relay: Default::default(),
            pooled: Vec::new(),
            va_credits_due: Vec::new(),
        }
    }
}

/// [`BooksSnapshot`] before the acceptance named accounts (version 5).
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct BooksSnapshotV5 {
    pub shard: u16,
    pub shards: u16,
    pub last_lsn: Lsn,
    pub genesis_done: bool,
    pub customers: Vec<CustomerEntry>,
    pub slices: Vec<(ParentAccount, SliceEntry)>,
    pub designated: Vec<(BankCode, DecimalCell)>,
    pub funding: DecimalCell,
    pub in_transit: DecimalCell,
    pub outgoing: Vec<Outgoing>,
    pub incoming: Vec<(u16, Incoming)>,
    pub next_transfer_seq: u64,
    pub requests: Vec<RequestState>,
    pub entries: Vec<LogEntry>,
    pub next_entry_seq: u64,
    pub holds: Vec<Hold>,
    pub merchants: Vec<MerchantEntry>,
    pub merchant_slices: Vec<(MerchantNo, SliceEntry)>,
    pub cards: Vec<super::CardEntry>,
    pub payments: Vec<crate::record::frozen::PaymentEntryV1>,
}

impl From<BooksSnapshotV5> for BooksSnapshot {
    fn from(s: BooksSnapshotV5) -> BooksSnapshot {
        BooksSnapshot {
            shard: s.shard,
            shards: s.shards,
            last_lsn: s.last_lsn,
            genesis_done: s.genesis_done,
            customers: s.customers,
            slices: s.slices,
            designated: s.designated,
            funding: s.funding,
            in_transit: s.in_transit,
            outgoing: s.outgoing,
            incoming: s.incoming,
            next_transfer_seq: s.next_transfer_seq,
            requests: s.requests,
            entries: s.entries,
            next_entry_seq: s.next_entry_seq,
            holds: s.holds,
            merchants: s.merchants,
            merchant_slices: s.merchant_slices,
            cards: s.cards,
            payments: s.payments.into_iter().map(Into::into).collect(),
            // Before version 6 a request found what it named in its entries.
            named: Vec::new(),
            payouts: Vec::new(),
            pocket_days: Vec::new(),
            notices: Vec::new(),
            merchant_days: Vec::new(),
            members: Vec::new(),
            api_keys: Vec::new(),
            payout_notices: Vec::new(),
            divisions: Vec::new(),
            relay: Default::default(),
            pooled: Vec::new(),
            va_credits_due: Vec::new(),
        }
    }
}

/// [`BooksSnapshot`] before the API keys (version 6).
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct BooksSnapshotV6 {
    pub shard: u16,
    pub shards: u16,
    pub last_lsn: Lsn,
    pub genesis_done: bool,
    pub customers: Vec<CustomerEntry>,
    pub slices: Vec<(ParentAccount, SliceEntry)>,
    pub designated: Vec<(BankCode, DecimalCell)>,
    pub funding: DecimalCell,
    pub in_transit: DecimalCell,
    pub outgoing: Vec<Outgoing>,
    pub incoming: Vec<(u16, Incoming)>,
    pub next_transfer_seq: u64,
    pub requests: Vec<RequestState>,
    pub entries: Vec<LogEntry>,
    pub next_entry_seq: u64,
    pub holds: Vec<Hold>,
    pub merchants: Vec<MerchantEntry>,
    pub merchant_slices: Vec<(MerchantNo, SliceEntry)>,
    pub cards: Vec<super::CardEntry>,
    pub payments: Vec<crate::record::frozen::PaymentEntryV1>,
    pub named: Vec<(CustomerId, RequestNo, crate::saga::Named)>,
    pub payouts: Vec<(MerchantNo, u64, RequestNo)>,
    pub pocket_days: Vec<crate::statement::PocketDay>,
    pub notices: Vec<crate::statement::Notice>,
    pub merchant_days: Vec<(u32, MerchantNo, DecimalCell)>,
    pub members: Vec<(u32, crate::payments::member::Member)>,
}

impl From<BooksSnapshotV6> for BooksSnapshot {
    fn from(s: BooksSnapshotV6) -> BooksSnapshot {
        BooksSnapshot {
            shard: s.shard,
            shards: s.shards,
            last_lsn: s.last_lsn,
            genesis_done: s.genesis_done,
            customers: s.customers,
            slices: s.slices,
            designated: s.designated,
            funding: s.funding,
            in_transit: s.in_transit,
            outgoing: s.outgoing,
            incoming: s.incoming,
            next_transfer_seq: s.next_transfer_seq,
            requests: s.requests,
            entries: s.entries,
            next_entry_seq: s.next_entry_seq,
            holds: s.holds,
            merchants: s.merchants,
            merchant_slices: s.merchant_slices,
            cards: s.cards,
            payments: s.payments.into_iter().map(Into::into).collect(),
            named: s.named,
            payouts: s.payouts,
            pocket_days: s.pocket_days,
            notices: s.notices,
            merchant_days: s.merchant_days,
            members: s.members,
            // Before version 7 there were no API keys.
            api_keys: Vec::new(),
            payout_notices: Vec::new(),
            divisions: Vec::new(),
            relay: Default::default(),
            pooled: Vec::new(),
            va_credits_due: Vec::new(),
        }
    }
}

/// [`BooksSnapshot`] before the payouts' notices (version 7).
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct BooksSnapshotV7 {
    pub shard: u16,
    pub shards: u16,
    pub last_lsn: Lsn,
    pub genesis_done: bool,
    pub customers: Vec<CustomerEntry>,
    pub slices: Vec<(ParentAccount, SliceEntry)>,
    pub designated: Vec<(BankCode, DecimalCell)>,
    pub funding: DecimalCell,
    pub in_transit: DecimalCell,
    pub outgoing: Vec<Outgoing>,
    pub incoming: Vec<(u16, Incoming)>,
    pub next_transfer_seq: u64,
    pub requests: Vec<RequestState>,
    pub entries: Vec<LogEntry>,
    pub next_entry_seq: u64,
    pub holds: Vec<Hold>,
    pub merchants: Vec<MerchantEntry>,
    pub merchant_slices: Vec<(MerchantNo, SliceEntry)>,
    pub cards: Vec<super::CardEntry>,
    pub payments: Vec<crate::record::frozen::PaymentEntryV1>,
    pub named: Vec<(CustomerId, RequestNo, crate::saga::Named)>,
    pub payouts: Vec<(MerchantNo, u64, RequestNo)>,
    pub pocket_days: Vec<crate::statement::PocketDay>,
    pub notices: Vec<crate::statement::Notice>,
    pub merchant_days: Vec<(u32, MerchantNo, DecimalCell)>,
    pub members: Vec<(u32, crate::payments::member::Member)>,
    pub api_keys: Vec<crate::payments::api_key::ApiKey>,
}

impl From<BooksSnapshotV7> for BooksSnapshot {
    fn from(s: BooksSnapshotV7) -> BooksSnapshot {
        BooksSnapshot {
            shard: s.shard,
            shards: s.shards,
            last_lsn: s.last_lsn,
            genesis_done: s.genesis_done,
            customers: s.customers,
            slices: s.slices,
            designated: s.designated,
            funding: s.funding,
            in_transit: s.in_transit,
            outgoing: s.outgoing,
            incoming: s.incoming,
            next_transfer_seq: s.next_transfer_seq,
            requests: s.requests,
            entries: s.entries,
            next_entry_seq: s.next_entry_seq,
            holds: s.holds,
            merchants: s.merchants,
            merchant_slices: s.merchant_slices,
            cards: s.cards,
            payments: s.payments.into_iter().map(Into::into).collect(),
            named: s.named,
            payouts: s.payouts,
            pocket_days: s.pocket_days,
            notices: s.notices,
            merchant_days: s.merchant_days,
            members: s.members,
            api_keys: s.api_keys,
            // Before version 8 there were no payout notices.
            payout_notices: Vec::new(),
            divisions: Vec::new(),
            relay: Default::default(),
            pooled: Vec::new(),
            va_credits_due: Vec::new(),
        }
    }
}

/// The snapshot before division accounts, its payments without their payer's kind.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct BooksSnapshotV8 {
    pub shard: u16,
    pub shards: u16,
    pub last_lsn: Lsn,
    pub genesis_done: bool,
    pub customers: Vec<CustomerEntry>,
    pub slices: Vec<(ParentAccount, SliceEntry)>,
    pub designated: Vec<(BankCode, DecimalCell)>,
    pub funding: DecimalCell,
    pub in_transit: DecimalCell,
    pub outgoing: Vec<Outgoing>,
    pub incoming: Vec<(u16, Incoming)>,
    pub next_transfer_seq: u64,
    pub requests: Vec<RequestState>,
    pub entries: Vec<LogEntry>,
    pub next_entry_seq: u64,
    pub holds: Vec<Hold>,
    pub merchants: Vec<MerchantEntry>,
    pub merchant_slices: Vec<(MerchantNo, SliceEntry)>,
    pub cards: Vec<super::CardEntry>,
    pub payments: Vec<crate::record::frozen::PaymentEntryV1>,
    pub named: Vec<(CustomerId, RequestNo, crate::saga::Named)>,
    pub payouts: Vec<(MerchantNo, u64, RequestNo)>,
    pub pocket_days: Vec<crate::statement::PocketDay>,
    pub notices: Vec<crate::statement::Notice>,
    pub merchant_days: Vec<(u32, MerchantNo, DecimalCell)>,
    pub members: Vec<(u32, crate::payments::member::Member)>,
    pub api_keys: Vec<crate::payments::api_key::ApiKey>,
    pub payout_notices: Vec<crate::payments::payout_notice::PayoutNotice>,
}

impl From<BooksSnapshotV8> for BooksSnapshot {
    fn from(s: BooksSnapshotV8) -> BooksSnapshot {
        let payout_notices = s.payout_notices;
        let v7 = BooksSnapshotV7 {
            shard: s.shard,
            shards: s.shards,
            last_lsn: s.last_lsn,
            genesis_done: s.genesis_done,
            customers: s.customers,
            slices: s.slices,
            designated: s.designated,
            funding: s.funding,
            in_transit: s.in_transit,
            outgoing: s.outgoing,
            incoming: s.incoming,
            next_transfer_seq: s.next_transfer_seq,
            requests: s.requests,
            entries: s.entries,
            next_entry_seq: s.next_entry_seq,
            holds: s.holds,
            merchants: s.merchants,
            merchant_slices: s.merchant_slices,
            cards: s.cards,
            payments: s.payments,
            named: s.named,
            payouts: s.payouts,
            pocket_days: s.pocket_days,
            notices: s.notices,
            merchant_days: s.merchant_days,
            members: s.members,
            api_keys: s.api_keys,
        };
        BooksSnapshot {
            payout_notices,
            ..BooksSnapshot::from(v7)
        }
    }
}

/// The snapshot before the virtual-account relay.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct BooksSnapshotV9 {
    pub shard: u16,
    pub shards: u16,
    pub last_lsn: Lsn,
    pub genesis_done: bool,
    pub customers: Vec<CustomerEntry>,
    pub slices: Vec<(ParentAccount, SliceEntry)>,
    pub designated: Vec<(BankCode, DecimalCell)>,
    pub funding: DecimalCell,
    pub in_transit: DecimalCell,
    pub outgoing: Vec<Outgoing>,
    pub incoming: Vec<(u16, Incoming)>,
    pub next_transfer_seq: u64,
    pub requests: Vec<RequestState>,
    pub entries: Vec<LogEntry>,
    pub next_entry_seq: u64,
    pub holds: Vec<Hold>,
    pub merchants: Vec<MerchantEntry>,
    pub merchant_slices: Vec<(MerchantNo, SliceEntry)>,
    pub cards: Vec<super::CardEntry>,
    pub payments: Vec<crate::payments::payment::PaymentEntry>,
    pub named: Vec<(CustomerId, RequestNo, crate::saga::Named)>,
    pub payouts: Vec<(MerchantNo, u64, RequestNo)>,
    pub pocket_days: Vec<crate::statement::PocketDay>,
    pub notices: Vec<crate::statement::Notice>,
    pub merchant_days: Vec<(u32, MerchantNo, DecimalCell)>,
    pub members: Vec<(u32, crate::payments::member::Member)>,
    pub api_keys: Vec<crate::payments::api_key::ApiKey>,
    pub payout_notices: Vec<crate::payments::payout_notice::PayoutNotice>,
    pub divisions: Vec<super::DivisionEntry>,
}

impl From<BooksSnapshotV9> for BooksSnapshot {
    fn from(s: BooksSnapshotV9) -> BooksSnapshot {
        BooksSnapshot {
            shard: s.shard,
            shards: s.shards,
            last_lsn: s.last_lsn,
            genesis_done: s.genesis_done,
            customers: s.customers,
            slices: s.slices,
            designated: s.designated,
            funding: s.funding,
            in_transit: s.in_transit,
            outgoing: s.outgoing,
            incoming: s.incoming,
            next_transfer_seq: s.next_transfer_seq,
            requests: s.requests,
            entries: s.entries,
            next_entry_seq: s.next_entry_seq,
            holds: s.holds,
            merchants: s.merchants,
            merchant_slices: s.merchant_slices,
            cards: s.cards,
            payments: s.payments,
            named: s.named,
            payouts: s.payouts,
            pocket_days: s.pocket_days,
            notices: s.notices,
            merchant_days: s.merchant_days,
            members: s.members,
            api_keys: s.api_keys,
            payout_notices: s.payout_notices,
            divisions: s.divisions,
            // Before version 10 there was no relay.
            relay: Default::default(),
            pooled: Vec::new(),
            va_credits_due: Vec::new(),
        }
    }
}

/// The snapshot before the accounts of the relay's modes B and C (version 10).
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct BooksSnapshotV10 {
    pub shard: u16,
    pub shards: u16,
    pub last_lsn: Lsn,
    pub genesis_done: bool,
    pub customers: Vec<CustomerEntry>,
    pub slices: Vec<(ParentAccount, SliceEntry)>,
    pub designated: Vec<(BankCode, DecimalCell)>,
    pub funding: DecimalCell,
    pub in_transit: DecimalCell,
    pub outgoing: Vec<Outgoing>,
    pub incoming: Vec<(u16, Incoming)>,
    pub next_transfer_seq: u64,
    pub requests: Vec<RequestState>,
    pub entries: Vec<LogEntry>,
    pub next_entry_seq: u64,
    pub holds: Vec<Hold>,
    pub merchants: Vec<MerchantEntry>,
    pub merchant_slices: Vec<(MerchantNo, SliceEntry)>,
    pub cards: Vec<super::CardEntry>,
    pub payments: Vec<crate::payments::payment::PaymentEntry>,
    pub named: Vec<(CustomerId, RequestNo, crate::saga::Named)>,
    pub payouts: Vec<(MerchantNo, u64, RequestNo)>,
    pub pocket_days: Vec<crate::statement::PocketDay>,
    pub notices: Vec<crate::statement::Notice>,
    pub merchant_days: Vec<(u32, MerchantNo, DecimalCell)>,
    pub members: Vec<(u32, crate::payments::member::Member)>,
    pub api_keys: Vec<crate::payments::api_key::ApiKey>,
    pub payout_notices: Vec<crate::payments::payout_notice::PayoutNotice>,
    pub divisions: Vec<super::DivisionEntry>,
    pub relay: crate::payments::relay::book::RelaySnapshot,
}

impl From<BooksSnapshotV10> for BooksSnapshot {
    fn from(s: BooksSnapshotV10) -> BooksSnapshot {
        BooksSnapshot {
            shard: s.shard,
            shards: s.shards,
            last_lsn: s.last_lsn,
            genesis_done: s.genesis_done,
            customers: s.customers,
            slices: s.slices,
            designated: s.designated,
            funding: s.funding,
            in_transit: s.in_transit,
            outgoing: s.outgoing,
            incoming: s.incoming,
            next_transfer_seq: s.next_transfer_seq,
            requests: s.requests,
            entries: s.entries,
            next_entry_seq: s.next_entry_seq,
            holds: s.holds,
            merchants: s.merchants,
            merchant_slices: s.merchant_slices,
            cards: s.cards,
            payments: s.payments,
            named: s.named,
            payouts: s.payouts,
            pocket_days: s.pocket_days,
            notices: s.notices,
            merchant_days: s.merchant_days,
            members: s.members,
            api_keys: s.api_keys,
            payout_notices: s.payout_notices,
            divisions: s.divisions,
            relay: s.relay,
            // Before version 11 no deposit moved money.
            pooled: Vec::new(),
            va_credits_due: Vec::new(),
        }
    }
}
