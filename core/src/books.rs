//! The books of one shard: every account that lives in the shard, changed only by
//! applying [`LedgerRecord`]s in WAL order.
//!
//! [`ShardBooks::apply`] is the one place balances change. It validates the whole record
//! first and mutates only when every check passes, so a refused record changes nothing.
//! The live path applies a record before handing it to the write-ahead log, and replay
//! applies the same records in the same order, so the rebuilt books are the same books.
//!
//! Customers are stored densely (a `Vec` plus an id index) so that a passive customer
//! costs well under 300 bytes; parent slices, external aggregates and transfers in flight
//! are few and kept in ordered maps.

use std::collections::{BTreeMap, BTreeSet};

use crate::segmap::{ChunkedVec, MapCut, SegmentedMap};

use rust_decimal::Decimal;
use thiserror::Error;

use crate::archive::DecimalDef;
use crate::config::{Config, ParentConfig};
use crate::ids::{
    AccountId, AccountNo, BankCode, CustomerId, ParentAccount, RequestNo, TransferId,
};
use crate::ledger::{
    holds, owed_compensation, owed_step, reserves_credit_for_compensation, Accepted, EntryId,
    LogEntry, RequestKind, RequestState, Reserve,
};
use crate::money::{Amount, Currency, Money, MoneyError};
use crate::record::{CustomerOpened, LedgerRecord, SigningKey};
use crate::request_log::{transition, EntryState, Event, IllegalTransition, Step};

/// A log sequence number, as the write-ahead log assigns them (the first is 1).
pub type Lsn = u64;

const DAY_MS: u64 = 86_400_000;

/// The shard a customer lives in: a SplitMix64 mix of the customer number, modulo the
/// shard count. This decides where data is stored, so it must never change.
pub fn shard_of(customer: CustomerId, shards: u16) -> u16 {
    assert!(shards > 0, "there is at least one shard");
    let mut z = customer.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % u64::from(shards)) as u16
}

/// A transfer id names its source shard and a per-source sequence number.
pub fn transfer_id(source_shard: u16, seq: u64) -> TransferId {
    assert!(seq < 1 << 48, "transfer sequence fits in 48 bits");
    TransferId((u64::from(source_shard) << 48) | seq)
}

pub fn transfer_source(id: TransferId) -> (u16, u64) {
    ((id.0 >> 48) as u16, id.0 & ((1 << 48) - 1))
}

/// The parent accounts the configuration declares, and each slice's floor and opening.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentPlan {
    /// Every parent account, in a stable order.
    pub parents: Vec<ParentAccount>,
    /// Banks where customers may hold their linked account (withdrawal firm banks).
    pub linked_banks: BTreeSet<BankCode>,
    currency: Currency,
    shards: u16,
    kinds: ParentKinds,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ParentKinds {
    withdrawal_firm: ParentConfig,
    collection: ParentConfig,
    deposit_firm: ParentConfig,
    fin_parent: ParentConfig,
    fin_deposit: ParentConfig,
}

impl ParentPlan {
    pub fn from_config(config: &Config, shards: u16) -> Self {
        assert!(shards > 0);
        let mut parents = Vec::new();
        for bank in &config.banks.withdrawal_firm {
            parents.push(ParentAccount::WithdrawalFirm(*bank));
        }
        parents.push(ParentAccount::Collection);
        for bank in &config.banks.deposit_firm {
            parents.push(ParentAccount::DepositFirm(*bank));
        }
        parents.push(ParentAccount::FinParent);
        if config.parents.fin_deposit.enabled {
            parents.push(ParentAccount::FinDeposit);
        }
        let p = &config.parents;
        Self {
            parents,
            linked_banks: config.banks.withdrawal_firm.iter().copied().collect(),
            currency: config.engine.currency,
            shards,
            kinds: ParentKinds {
                withdrawal_firm: p.withdrawal_firm,
                collection: p.collection,
                deposit_firm: p.deposit_firm,
                fin_parent: p.fin_parent,
                fin_deposit: p.fin_deposit.parent(),
            },
        }
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn shards(&self) -> u16 {
        self.shards
    }

    /// The configuration of a parent account's kind (whole units, whole account).
    pub fn kind(&self, parent: ParentAccount) -> ParentConfig {
        match parent {
            ParentAccount::WithdrawalFirm(_) => self.kinds.withdrawal_firm,
            ParentAccount::Collection => self.kinds.collection,
            ParentAccount::DepositFirm(_) => self.kinds.deposit_firm,
            ParentAccount::FinParent => self.kinds.fin_parent,
            ParentAccount::FinDeposit => self.kinds.fin_deposit,
        }
    }

    /// A slice's share of a whole-account figure: split evenly, the remainder to shard 0.
    pub fn slice_share(&self, whole: i64, shard: u16) -> Decimal {
        let n = i64::from(self.shards);
        let base = whole / n;
        let rest = whole % n;
        Decimal::from(if shard == 0 { base + rest } else { base })
    }

    /// How low one slice may go: its share of the overdraft, below zero. The floors of all
    /// slices sum to `-overdraft`, so the whole account stays within its overdraft.
    pub fn slice_floor(&self, parent: ParentAccount, shard: u16) -> Decimal {
        -self.slice_share(self.kind(parent).overdraft, shard)
    }

    /// The genesis record of `shard`: each of its slices funded with its share of the
    /// configured opening balance.
    pub fn genesis(&self, shard: u16) -> LedgerRecord {
        let fundings = self
            .parents
            .iter()
            .filter_map(|p| {
                let share = self.slice_share(self.kind(*p).opening, shard);
                Amount::new(self.currency, share).ok().map(|a| (*p, a))
            })
            .collect();
        LedgerRecord::Genesis {
            shard,
            shards: self.shards,
            fundings,
        }
    }
}

/// Why a record cannot be applied. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum BooksError {
    #[error("customer {0} does not exist")]
    UnknownCustomer(CustomerId),
    #[error("customer {0} already exists")]
    CustomerExists(CustomerId),
    #[error("customer {customer} lives in shard {home}, not in shard {here}")]
    WrongShard {
        customer: CustomerId,
        home: u16,
        here: u16,
    },
    #[error("parent account {0} is not configured")]
    UnknownParent(ParentAccount),
    #[error("bank {0} holds no withdrawal firm parent account, so it cannot be a linked bank")]
    LinkedBankNotServed(BankCode),
    #[error("customer {customer} has {available} available, less than {amount}")]
    InsufficientFunds {
        customer: CustomerId,
        available: Money,
        amount: Amount,
    },
    #[error("{parent} slice would go to {would_be}, below its floor of {floor}")]
    BelowFloor {
        parent: ParentAccount,
        would_be: Money,
        floor: Money,
    },
    #[error("a posting must name two different accounts, both legs name {0}")]
    SameAccount(AccountId),
    #[error("{amount} is in {got}, the books are in {want}")]
    WrongCurrency {
        amount: Amount,
        got: Currency,
        want: Currency,
    },
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("the shard has no genesis record yet")]
    NoGenesis,
    #[error("genesis for shard {shard} of {shards} cannot be applied to shard {here} of {here_shards}: {what}")]
    Genesis {
        shard: u16,
        shards: u16,
        here: u16,
        here_shards: u16,
        what: &'static str,
    },
    #[error("transfer {0} was already credited")]
    DuplicateTransfer(TransferId),
    #[error("transfer {0} is not outstanding")]
    UnknownTransfer(TransferId),
    #[error("{0} cannot be a leg of a transfer between shards")]
    NotTransferable(AccountId),
    #[error("request {request_no} of customer {customer} already exists")]
    RequestExists {
        customer: CustomerId,
        request_no: RequestNo,
    },
    #[error("request {request_no} of customer {customer} does not exist")]
    UnknownRequest {
        customer: CustomerId,
        request_no: RequestNo,
    },
    #[error("{0} cannot be reserved: only parent accounts are")]
    NotReservable(AccountId),
    #[error("request-log entry {0} does not exist")]
    UnknownEntry(EntryId),
    #[error("request-log entry {0} already exists")]
    EntryExists(EntryId),
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    #[error("request {request_no} of customer {customer} was already answered")]
    AlreadyAnswered {
        customer: CustomerId,
        request_no: RequestNo,
    },
}

/// One customer's entry: the customer financial company account, the net flow with the
/// linked account, validity, and the signature key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct CustomerEntry {
    pub id: CustomerId,
    /// The balance the customer sees.
    #[rkyv(with = DecimalDef)]
    pub balance: Decimal,
    /// Part of `balance` held by debits in flight; `balance - held` is available.
    #[rkyv(with = DecimalDef)]
    pub held: Decimal,
    /// The engine's side of the linked account: minus what charges drew, plus refunds.
    #[rkyv(with = DecimalDef)]
    pub linked_net: Decimal,
    pub linked_bank: BankCode,
    pub linked_account: AccountNo,
    pub tradable: bool,
    pub subscription_valid: bool,
    pub signing_key: Option<SigningKey>,
    /// The sequence number of the customer actor's last record in the write-ahead log
    /// (the frame's actor sequence). Kept by the layer that writes frames; `apply` never
    /// touches it.
    pub log_seq: u32,
}

/// One shard's slice of a parent account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct SliceEntry {
    #[rkyv(with = DecimalDef)]
    pub balance: Decimal,
    #[rkyv(with = DecimalDef)]
    pub held: Decimal,
    #[rkyv(with = DecimalDef)]
    pub floor: Decimal,
}

/// A transfer this shard has debited and the destination has not yet confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Outgoing {
    pub id: TransferId,
    pub debit: AccountId,
    pub credit: AccountId,
    pub dest_shard: u16,
    pub amount: Amount,
}

/// Which transfers from one source shard have been credited here: every sequence number
/// up to `watermark`, and those in `above`. Robust to transfers arriving out of order.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Incoming {
    pub watermark: u64,
    pub above: Vec<u64>,
}

impl Incoming {
    fn contains(&self, seq: u64) -> bool {
        seq <= self.watermark || self.above.binary_search(&seq).is_ok()
    }

    fn insert(&mut self, seq: u64) {
        debug_assert!(!self.contains(seq));
        if let Err(at) = self.above.binary_search(&seq) {
            self.above.insert(at, seq);
        }
        self.advance();
    }

    /// The source settled (or returned) every transfer below `seq`: none of them will be
    /// delivered again, so they need not be told apart any more. Without this, a source
    /// that also sends to other shards leaves gaps here that the watermark never passes,
    /// and `above` grows with every transfer.
    fn forget_below(&mut self, seq: u64) {
        if seq > self.watermark + 1 {
            self.watermark = seq - 1;
            let keep = self.above.partition_point(|s| *s <= self.watermark);
            self.above.drain(..keep);
            self.advance();
        }
    }

    fn advance(&mut self) {
        let run = self
            .above
            .iter()
            .zip(self.watermark + 1..)
            .take_while(|(s, want)| **s == *want)
            .count();
        if run > 0 {
            self.above.drain(..run);
            self.watermark += run as u64;
        }
    }
}

/// The hasher of ids moved to [`crate::hash`]; re-exported here under its old path.
pub use crate::hash::{IdBuild, IdHasher};

/// What applying a record did, for the caller that planned it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Done,
    /// A transfer was debited here and must be delivered to `dest_shard`.
    TransferOut(Outgoing),
}

/// The books of one shard.
#[derive(Clone, Debug)]
pub struct ShardBooks {
    shard: u16,
    plan: ParentPlan,
    genesis_done: bool,
    customers: ChunkedVec<CustomerEntry>,
    index: SegmentedMap<CustomerId, u32>,
    slices: BTreeMap<ParentAccount, SliceEntry>,
    designated: BTreeMap<BankCode, Decimal>,
    funding: Decimal,
    /// Debited here or credited here by transfers not yet matched on both sides. Across
    /// all shards the in-transit amounts sum to the money truly on its way.
    in_transit: Decimal,
    /// The running sum of every balance above, in-transit included (see `sum`).
    total: Decimal,
    outgoing: BTreeMap<TransferId, Outgoing>,
    incoming: BTreeMap<u16, Incoming>,
    next_transfer_seq: u64,
    last_lsn: Lsn,
    requests: SegmentedMap<(CustomerId, RequestNo), RequestState>,
    /// The requests by the day the engine accepted them (Unix day of `at_ms`), so that the
    /// daily prune visits only the requests old enough to be forgotten, not all of them (a
    /// scan of every request took ~200 ms of the shard's thread with 700,000 on the
    /// books). Derived from `requests`.
    by_day: BTreeMap<u64, Vec<(CustomerId, RequestNo)>>,
    entries: SegmentedMap<EntryId, LogEntry>,
    /// Open entries by state, ordered by age, for the supervisors and for restart.
    requested: BTreeSet<(u64, EntryId)>,
    unknown: BTreeSet<(u64, EntryId)>,
    try_again: BTreeSet<(u64, EntryId)>,
    next_entry_seq: u64,
    /// Customers' requests nobody has been told about yet, by acceptance time: the
    /// deadline supervisor answers those whose callers waited too long, and those a crash
    /// left without an answer. Derived from `requests`.
    unanswered: BTreeSet<(u64, CustomerId, RequestNo)>,
}

impl ShardBooks {
    pub fn new(shard: u16, plan: ParentPlan) -> Self {
        assert!(shard < plan.shards, "shard {shard} of {}", plan.shards);
        let slices = plan
            .parents
            .iter()
            .map(|p| {
                let floor = plan.slice_floor(*p, shard);
                (
                    *p,
                    SliceEntry {
                        balance: Decimal::ZERO,
                        held: Decimal::ZERO,
                        floor,
                    },
                )
            })
            .collect();
        Self {
            shard,
            plan,
            genesis_done: false,
            customers: ChunkedVec::new(),
            index: SegmentedMap::new(),
            slices,
            designated: BTreeMap::new(),
            funding: Decimal::ZERO,
            in_transit: Decimal::ZERO,
            total: Decimal::ZERO,
            outgoing: BTreeMap::new(),
            incoming: BTreeMap::new(),
            next_transfer_seq: 1,
            last_lsn: 0,
            requests: SegmentedMap::new(),
            by_day: BTreeMap::new(),
            entries: SegmentedMap::new(),
            requested: BTreeSet::new(),
            unknown: BTreeSet::new(),
            try_again: BTreeSet::new(),
            next_entry_seq: 1,
            unanswered: BTreeSet::new(),
        }
    }

    pub fn shard(&self) -> u16 {
        self.shard
    }

    pub fn plan(&self) -> &ParentPlan {
        &self.plan
    }

    pub fn currency(&self) -> Currency {
        self.plan.currency
    }

    pub fn genesis_done(&self) -> bool {
        self.genesis_done
    }

    /// The LSN of the last record applied.
    pub fn last_lsn(&self) -> Lsn {
        self.last_lsn
    }

    pub fn customer_count(&self) -> usize {
        self.customers.len()
    }

    pub fn customer(&self, id: CustomerId) -> Option<&CustomerEntry> {
        self.index.get(&id).map(|&i| &self.customers[i as usize])
    }

    pub fn customers(&self) -> impl Iterator<Item = &CustomerEntry> {
        self.customers.iter()
    }

    /// Records the customer actor's WAL sequence number (see [`CustomerEntry::log_seq`]).
    pub fn set_customer_log_seq(&mut self, id: CustomerId, seq: u32) {
        if let Some(&i) = self.index.get(&id) {
            self.customers[i as usize].log_seq = seq;
        }
    }

    pub fn slice(&self, parent: ParentAccount) -> Option<&SliceEntry> {
        self.slices.get(&parent)
    }

    pub fn slices(&self) -> impl Iterator<Item = (&ParentAccount, &SliceEntry)> {
        self.slices.iter()
    }

    pub fn outgoing(&self) -> impl Iterator<Item = &Outgoing> {
        self.outgoing.values()
    }

    /// Whether a transfer this shard debited is still unsettled.
    pub fn is_outgoing(&self, id: TransferId) -> bool {
        self.outgoing.contains_key(&id)
    }

    pub fn money(&self, value: Decimal) -> Money {
        Money::new(self.plan.currency, value).expect("books hold valid values")
    }

    /// The balance of an account as this shard books it (its slice, for a parent).
    pub fn balance(&self, account: AccountId) -> Result<Money, BooksError> {
        let value = match account {
            AccountId::Customer { customer } => self.customer_checked(customer)?.balance,
            AccountId::Linked { customer } => self.customer_checked(customer)?.linked_net,
            AccountId::Parent { parent } => {
                self.slices
                    .get(&parent)
                    .ok_or(BooksError::UnknownParent(parent))?
                    .balance
            }
            AccountId::Designated { bank } => {
                self.designated.get(&bank).copied().unwrap_or_default()
            }
            AccountId::Funding => self.funding,
        };
        Ok(self.money(value))
    }

    /// Whether `account` is booked in this shard (customers and linked accounts live in
    /// one shard; parent slices and external aggregates exist in every shard).
    pub fn is_local(&self, account: AccountId) -> bool {
        match account {
            AccountId::Customer { customer } | AccountId::Linked { customer } => {
                shard_of(customer, self.plan.shards) == self.shard
            }
            AccountId::Parent { .. } | AccountId::Designated { .. } | AccountId::Funding => true,
        }
    }

    /// The sum over every account of the shard, in-transit included. Zero for books that
    /// started at zero (SPEC §6.1), summed over all shards. Kept as records apply (every
    /// balance change adds its difference), so reading it costs nothing: a metrics scrape
    /// never walks the customers on the shard's thread. [`ShardBooks::sum_by_scan`] adds
    /// every account up instead, and must agree.
    pub fn sum(&self) -> Result<Money, MoneyError> {
        Money::new(self.plan.currency, self.total)
    }

    /// The sum over every account, added up account by account: O(customers), for audits
    /// and tests. An overflow is an error, never a zero.
    pub fn sum_by_scan(&self) -> Result<Money, MoneyError> {
        let mut total = self
            .funding
            .checked_add(self.in_transit)
            .ok_or(MoneyError::Overflow)?;
        for c in self.customers.iter() {
            total = total
                .checked_add(c.balance)
                .and_then(|t| t.checked_add(c.linked_net))
                .ok_or(MoneyError::Overflow)?;
        }
        for s in self.slices.values() {
            total = total.checked_add(s.balance).ok_or(MoneyError::Overflow)?;
        }
        for d in self.designated.values() {
            total = total.checked_add(*d).ok_or(MoneyError::Overflow)?;
        }
        Money::new(self.plan.currency, total)
    }

    /// The money on its way out of this shard (debited, credit not yet confirmed) minus
    /// the money credited here whose source has not yet forgotten it.
    pub fn in_transit(&self) -> Money {
        self.money(self.in_transit)
    }

    /// The next transfer id this shard would allocate.
    pub fn next_transfer_id(&self) -> TransferId {
        transfer_id(self.shard, self.next_transfer_seq)
    }

    pub fn request(&self, customer: CustomerId, request_no: RequestNo) -> Option<&RequestState> {
        self.requests.get(&(customer, request_no))
    }

    pub fn requests(&self) -> impl Iterator<Item = &RequestState> {
        self.requests.values()
    }

    pub fn request_count(&self) -> usize {
        self.requests.len()
    }

    pub fn entry(&self, id: EntryId) -> Option<&LogEntry> {
        self.entries.get(&id)
    }

    pub fn entries(&self) -> impl Iterator<Item = &LogEntry> {
        self.entries.values()
    }

    /// Whether a request is settled: answered (or the house's own), every entry final,
    /// nothing owed.
    fn settled(&self, request: &RequestState) -> bool {
        let entries = self.request_entries(request);
        (request.answer.is_some() || request.accepted.kind == RequestKind::Settlement)
            && entries.iter().all(|e| e.state.is_final())
            && owed_step(&request.accepted, request.answer.is_some(), &entries).is_none()
    }

    /// The requests a `Forgotten { accepted_before_ms }` record forgets: accepted by the
    /// engine before that time, and settled.
    pub fn forgettable(&self, accepted_before_ms: u64) -> Vec<(CustomerId, RequestNo)> {
        let days_before = accepted_before_ms.div_ceil(DAY_MS);
        let mut keys: Vec<(CustomerId, RequestNo)> = self
            .by_day
            .range(..days_before)
            .flat_map(|(_, keys)| keys.iter())
            .filter_map(|key| self.requests.get(key).map(|r| (key, r)))
            .filter(|(_, r)| r.accepted.at_ms < accepted_before_ms && self.settled(r))
            .map(|(k, _)| *k)
            .collect();
        keys.sort();
        keys
    }

    /// The requests a `Pruned { before }` record (the first retention rule, by the
    /// client's request date) forgets: of a request date before `before`, answered (or the
    /// house's own), every entry final, and no compensation owed. Only old logs hold such
    /// records, so this scans every request rather than keeping an index for them.
    pub fn prunable(&self, before: crate::request::RequestDate) -> Vec<(CustomerId, RequestNo)> {
        let mut keys: Vec<(CustomerId, RequestNo)> = self
            .requests
            .iter()
            .filter(|(_, r)| {
                let entries = self.request_entries(r);
                r.accepted.request_date < before
                    && (r.answer.is_some() || r.accepted.kind == RequestKind::Settlement)
                    && entries.iter().all(|e| e.state.is_final())
                    && owed_compensation(&entries).is_none()
            })
            .map(|(k, _)| *k)
            .collect();
        keys.sort();
        keys
    }

    fn forget(&mut self, keys: Vec<(CustomerId, RequestNo)>) {
        for key in keys {
            if let Some(request) = self.requests.remove(&key) {
                let day = request.accepted.at_ms / DAY_MS;
                if let Some(of_day) = self.by_day.get_mut(&day) {
                    of_day.retain(|k| *k != key);
                    if of_day.is_empty() {
                        self.by_day.remove(&day);
                    }
                }
                for id in request.entries {
                    if let Some(entry) = self.entries.remove(&id) {
                        debug_assert!(entry.state.is_final());
                    }
                }
            }
        }
    }

    /// The id the next entry of this shard gets.
    pub fn next_entry_id(&self) -> EntryId {
        EntryId::new(self.shard, self.next_entry_seq)
    }

    /// Entries whose call was made and not yet answered (REQUESTED), oldest request
    /// first: `(requested_at_ms, id)`.
    pub fn requested_entries(&self) -> impl Iterator<Item = (u64, EntryId)> + '_ {
        self.requested.iter().copied()
    }

    /// Customers' requests not answered yet, oldest acceptance first: `(at_ms, customer,
    /// request number)`.
    pub fn unanswered_requests(&self) -> impl Iterator<Item = (u64, CustomerId, RequestNo)> + '_ {
        self.unanswered.iter().copied()
    }

    /// The entries numbered `from_seq .. from_seq + count` that are on the books, and the
    /// number the next page starts at (`None` past the last entry made).
    pub fn entries_page(&self, from_seq: u64, count: u64) -> (Vec<LogEntry>, Option<u64>) {
        let from_seq = from_seq.max(1);
        let end = from_seq.saturating_add(count).min(self.next_entry_seq);
        let entries = (from_seq..end)
            .filter_map(|seq| self.entries.get(&EntryId::new(self.shard, seq)).copied())
            .collect();
        (entries, (end < self.next_entry_seq).then_some(end))
    }

    /// How many customers' requests are not answered yet.
    pub fn unanswered_count(&self) -> usize {
        self.unanswered.len()
    }

    /// The entries of a request, in the order they were created.
    pub fn request_entries(&self, request: &RequestState) -> Vec<LogEntry> {
        request
            .entries
            .iter()
            .filter_map(|id| self.entries.get(id).copied())
            .collect()
    }

    /// UNKNOWN entries, oldest request first: `(requested_at_ms, id)`.
    pub fn unknown_entries(&self) -> impl Iterator<Item = (u64, EntryId)> + '_ {
        self.unknown.iter().copied()
    }

    /// FAIL_TRY_AGAIN entries, least recently changed first: `(updated_at_ms, id)`.
    pub fn try_again_entries(&self) -> impl Iterator<Item = (u64, EntryId)> + '_ {
        self.try_again.iter().copied()
    }

    /// Counts of open entries: (REQUESTED, UNKNOWN, FAIL_TRY_AGAIN).
    pub fn open_entry_counts(&self) -> (usize, usize, usize) {
        (
            self.requested.len(),
            self.unknown.len(),
            self.try_again.len(),
        )
    }

    /// How many transfer ids from other shards this shard remembers individually (above
    /// each source's watermark): it stays as small as the transfers in flight.
    pub fn transfers_remembered(&self) -> usize {
        self.incoming.values().map(|i| i.above.len()).sum()
    }

    /// Whether a transfer from another shard was already credited here.
    pub fn transfer_credited(&self, id: TransferId) -> bool {
        let (source, seq) = transfer_source(id);
        self.incoming.get(&source).is_some_and(|i| i.contains(seq))
    }

    fn customer_checked(&self, id: CustomerId) -> Result<&CustomerEntry, BooksError> {
        let home = shard_of(id, self.plan.shards);
        if home != self.shard {
            return Err(BooksError::WrongShard {
                customer: id,
                home,
                here: self.shard,
            });
        }
        self.customer(id).ok_or(BooksError::UnknownCustomer(id))
    }

    fn check_amount(&self, amount: Amount) -> Result<(), BooksError> {
        if amount.currency() != self.plan.currency {
            return Err(BooksError::WrongCurrency {
                amount,
                got: amount.currency(),
                want: self.plan.currency,
            });
        }
        Ok(())
    }

    /// The value of `account` after `delta`, if the account may take it.
    fn leg_after(
        &self,
        account: AccountId,
        delta: Decimal,
        amount: Amount,
    ) -> Result<Decimal, BooksError> {
        let add = |v: Decimal| -> Result<Decimal, BooksError> {
            let after = v.checked_add(delta).ok_or(MoneyError::Overflow)?;
            Money::new(self.plan.currency, after)?;
            Ok(after)
        };
        match account {
            AccountId::Customer { customer } => {
                let c = self.customer_checked(customer)?;
                let after = add(c.balance)?;
                if delta.is_sign_negative() && after - c.held < Decimal::ZERO {
                    return Err(BooksError::InsufficientFunds {
                        customer,
                        available: self.money(c.balance - c.held),
                        amount,
                    });
                }
                Ok(after)
            }
            AccountId::Linked { customer } => add(self.customer_checked(customer)?.linked_net),
            AccountId::Parent { parent } => {
                let s = self
                    .slices
                    .get(&parent)
                    .ok_or(BooksError::UnknownParent(parent))?;
                let after = add(s.balance)?;
                if delta.is_sign_negative() && after - s.held < s.floor {
                    return Err(BooksError::BelowFloor {
                        parent,
                        would_be: self.money(after - s.held),
                        floor: self.money(s.floor),
                    });
                }
                Ok(after)
            }
            AccountId::Designated { bank } => {
                add(self.designated.get(&bank).copied().unwrap_or_default())
            }
            AccountId::Funding => add(self.funding),
        }
    }

    /// Checks that `amount` can be held on `account`: available balance for a customer,
    /// the floor for a parent slice. External accounts take no hold.
    fn check_hold(&self, account: AccountId, amount: Amount) -> Result<(), BooksError> {
        match account {
            AccountId::Customer { customer } => {
                let c = self.customer_checked(customer)?;
                if c.balance - c.held < amount.value() {
                    return Err(BooksError::InsufficientFunds {
                        customer,
                        available: self.money(c.balance - c.held),
                        amount,
                    });
                }
            }
            AccountId::Parent { parent } => {
                let s = self
                    .slices
                    .get(&parent)
                    .ok_or(BooksError::UnknownParent(parent))?;
                let after = s.balance - s.held - amount.value();
                if after < s.floor {
                    return Err(BooksError::BelowFloor {
                        parent,
                        would_be: self.money(after),
                        floor: self.money(s.floor),
                    });
                }
            }
            AccountId::Linked { customer } => {
                self.customer_checked(customer)?;
            }
            AccountId::Designated { .. } | AccountId::Funding => {}
        }
        Ok(())
    }

    /// Adds `delta` (positive to hold, negative to release) to the account's held amount.
    fn adjust_hold(&mut self, account: AccountId, delta: Decimal) {
        match account {
            AccountId::Customer { customer } => {
                let i = self.index[&customer] as usize;
                self.customers[i].held += delta;
                debug_assert!(self.customers[i].held >= Decimal::ZERO);
            }
            AccountId::Parent { parent } => {
                let s = self.slices.get_mut(&parent).expect("checked");
                s.held += delta;
                debug_assert!(s.held >= Decimal::ZERO);
            }
            AccountId::Linked { .. } | AccountId::Designated { .. } | AccountId::Funding => {}
        }
    }

    fn index_entry(&mut self, entry: &LogEntry, add: bool) {
        let (set, key) = match entry.state {
            EntryState::Requested => (&mut self.requested, (entry.requested_at_ms, entry.id)),
            EntryState::Unknown => (&mut self.unknown, (entry.requested_at_ms, entry.id)),
            EntryState::FailTryAgain => (&mut self.try_again, (entry.updated_at_ms, entry.id)),
            EntryState::Success | EntryState::Fail => return,
        };
        if add {
            set.insert(key);
        } else {
            set.remove(&key);
        }
    }

    fn apply_accepted(
        &mut self,
        accepted: &Accepted,
        reserves: Option<&[Reserve]>,
    ) -> Result<(), BooksError> {
        // The house's own requests (sweeps) have no customer account.
        if accepted.kind != RequestKind::Settlement {
            self.customer_checked(accepted.customer)?;
        }
        self.check_amount(accepted.amount)?;
        let key = (accepted.customer, accepted.request_no);
        if self.requests.contains_key(&key) {
            return Err(BooksError::RequestExists {
                customer: accepted.customer,
                request_no: accepted.request_no,
            });
        }
        let reserved = self.check_reserves(reserves.unwrap_or(&[]))?;
        for (account, amount) in &reserved {
            self.adjust_hold(*account, amount.value());
        }
        self.requests.insert(
            key,
            RequestState {
                accepted: *accepted,
                answer: None,
                entries: Vec::new(),
                reserved: reserves.map(|_| reserved),
            },
        );
        self.by_day
            .entry(accepted.at_ms / DAY_MS)
            .or_default()
            .push(key);
        if accepted.kind != RequestKind::Settlement {
            self.unanswered
                .insert((accepted.at_ms, accepted.customer, accepted.request_no));
        }
        Ok(())
    }

    /// What a request would set aside, summed by account, if every account can hold it in
    /// full; else why not (a slice below its floor, typically). Changes nothing.
    pub fn check_reserves(&self, reserves: &[Reserve]) -> Result<Vec<Reserve>, BooksError> {
        let mut reserved: Vec<Reserve> = Vec::new();
        for (account, amount) in reserves {
            self.check_amount(*amount)?;
            match reserved.iter_mut().find(|(a, _)| a == account) {
                Some((_, sum)) => *sum = sum.checked_add(*amount)?,
                None => reserved.push((*account, *amount)),
            }
        }
        for (account, amount) in &reserved {
            if !matches!(account, AccountId::Parent { .. }) {
                return Err(BooksError::NotReservable(*account));
            }
            self.check_hold(*account, *amount)?;
        }
        Ok(reserved)
    }

    /// How much a request has set aside on `account`.
    fn reserved_on(&self, key: &(CustomerId, RequestNo), account: AccountId) -> Decimal {
        self.requests
            .get(key)
            .and_then(|r| r.reserved.as_ref())
            .and_then(|reserved| reserved.iter().find(|(a, _)| *a == account))
            .map_or(Decimal::ZERO, |(_, amount)| amount.value())
    }

    /// Sets `amount` more aside on `account` for a request (the account's hold grows too).
    /// The caller has checked the account can hold it.
    fn add_reserve(&mut self, key: &(CustomerId, RequestNo), account: AccountId, amount: Amount) {
        let Some(reserved) = self.requests.get_mut(key).and_then(|r| r.reserved.as_mut()) else {
            return;
        };
        match reserved.iter_mut().find(|(a, _)| *a == account) {
            Some((_, sum)) => *sum = sum.checked_add(amount).expect("within the books' range"),
            None => reserved.push((account, amount)),
        }
        self.adjust_hold(account, amount.value());
    }

    /// Gives back `amount` of what a request set aside on `account` (its hold shrinks).
    fn release_reserve(
        &mut self,
        key: &(CustomerId, RequestNo),
        account: AccountId,
        amount: Decimal,
    ) {
        let Some(reserved) = self.requests.get_mut(key).and_then(|r| r.reserved.as_mut()) else {
            return;
        };
        let Some(at) = reserved.iter().position(|(a, _)| *a == account) else {
            return;
        };
        let left = reserved[at].1.value() - amount;
        debug_assert!(left >= Decimal::ZERO, "a reservation never goes below zero");
        match Amount::new(reserved[at].1.currency(), left) {
            Ok(rest) => reserved[at].1 = rest,
            Err(_) => {
                reserved.swap_remove(at);
            }
        }
        self.adjust_hold(account, -amount);
    }

    /// A request that holds a reservation and is settled (every entry final, nothing
    /// owed) needs none of it any more: all of it is given back.
    fn release_if_settled(&mut self, key: &(CustomerId, RequestNo)) {
        let Some(request) = self.requests.get(key) else {
            return;
        };
        let Some(reserved) = request.reserved.as_ref().filter(|r| !r.is_empty()) else {
            return;
        };
        let entries = self.request_entries(request);
        let open = entries.iter().any(|e| !e.state.is_final());
        let owed = owed_step(&request.accepted, request.answer.is_some(), &entries).is_some();
        // A request nobody was told about may still go on (a continuation owed after an
        // answer is written); one with no entry at all has nothing to go on with.
        if open || owed || (request.answer.is_none() && !entries.is_empty()) {
            return;
        }
        let reserved = reserved.clone();
        for (account, amount) in reserved {
            self.release_reserve(key, account, amount.value());
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_entry_requested(
        &mut self,
        entry: EntryId,
        customer: CustomerId,
        request_no: RequestNo,
        step: Step,
        amount: Amount,
        debit: AccountId,
        credit: AccountId,
        at_ms: u64,
    ) -> Result<(), BooksError> {
        self.check_amount(amount)?;
        if entry.shard() != self.shard || self.entries.contains_key(&entry) {
            return Err(BooksError::EntryExists(entry));
        }
        if !self.requests.contains_key(&(customer, request_no)) {
            return Err(BooksError::UnknownRequest {
                customer,
                request_no,
            });
        }
        if debit == credit {
            return Err(BooksError::SameAccount(debit));
        }
        // Both legs must be accounts of this shard, so that SUCCESS can book them.
        self.leg_after(credit, amount.value(), amount)?;
        // A request that set money aside on the debit account pays this step from it; any
        // other entry holds its own amount.
        let key = (customer, request_no);
        let covered = self.reserved_on(&key, debit) >= amount.value();
        if !covered {
            self.check_hold(debit, amount)?;
            self.adjust_hold(debit, amount.value());
        }
        let log_entry = LogEntry {
            id: entry,
            customer,
            request_no,
            step,
            state: EntryState::Requested,
            attempt: 1,
            failures: 0,
            amount,
            debit,
            credit,
            requested_at_ms: at_ms,
            updated_at_ms: at_ms,
            covered,
        };
        self.index_entry(&log_entry, true);
        self.entries.insert(entry, log_entry);
        self.requests
            .get_mut(&(customer, request_no))
            .expect("checked")
            .entries
            .push(entry);
        self.next_entry_seq = self.next_entry_seq.max(entry.seq() + 1);
        Ok(())
    }

    fn apply_entry_event(
        &mut self,
        id: EntryId,
        event: Event,
        at_ms: u64,
    ) -> Result<(), BooksError> {
        let entry = *self.entries.get(&id).ok_or(BooksError::UnknownEntry(id))?;
        let t = transition(entry.step, entry.state, event)?;
        let key = (entry.customer, entry.request_no);
        // A covered entry's amount is held by its request's reservation, for as long as the
        // entry is not final; any other entry holds while REQUESTED or UNKNOWN.
        let (held_before, held_after) = if entry.covered {
            (!entry.state.is_final(), !t.to.is_final())
        } else {
            (holds(entry.state), holds(t.to))
        };
        let amount = entry.amount;
        let reserving = self
            .requests
            .get(&key)
            .is_some_and(|r| r.reserved.is_some());
        let reserve_credit = reserving
            && t.to == EntryState::Success
            && reserves_credit_for_compensation(entry.step);
        // Validate everything before changing anything.
        let mut posting = None;
        if t.to == EntryState::Success {
            // The hold (if any) is released as the posting debits the same amount.
            let release = if held_before {
                amount.value()
            } else {
                Decimal::ZERO
            };
            let debit_after = self.leg_after_releasing(entry.debit, release, amount)?;
            let credit_after = self.leg_after(entry.credit, amount.value(), amount)?;
            posting = Some((debit_after, credit_after));
        } else if !held_before && held_after {
            self.check_hold(entry.debit, amount)?;
        }
        self.index_entry(&entry, false);
        if held_before && !held_after {
            if entry.covered {
                self.release_reserve(&key, entry.debit, amount.value());
            } else {
                self.adjust_hold(entry.debit, -amount.value());
            }
        }
        if !held_before && held_after {
            self.adjust_hold(entry.debit, amount.value());
        }
        if let Some((debit_after, credit_after)) = posting {
            self.set(entry.debit, debit_after);
            self.set(entry.credit, credit_after);
        }
        // The money a withdrawal or a deduction brought in stays set aside for the refund
        // or recovery that may have to give it back (it is the same money: the hold can
        // always be taken).
        if reserve_credit {
            self.add_reserve(&key, entry.credit, amount);
        }
        let updated = self.entries.get_mut(&id).expect("checked");
        if entry.state == EntryState::FailTryAgain && t.to == EntryState::Requested {
            updated.attempt += 1;
            updated.requested_at_ms = at_ms;
        }
        if t.to == EntryState::FailTryAgain {
            updated.failures += 1;
        }
        updated.state = t.to;
        updated.updated_at_ms = at_ms;
        let updated = *updated;
        self.index_entry(&updated, true);
        if reserving && t.to.is_final() {
            self.release_if_settled(&key);
        }
        Ok(())
    }

    /// The debit leg of an entry's posting, with `release` of its hold given back first.
    fn leg_after_releasing(
        &self,
        account: AccountId,
        release: Decimal,
        amount: Amount,
    ) -> Result<Decimal, BooksError> {
        if release.is_zero() {
            return self.leg_after(account, -amount.value(), amount);
        }
        // A held amount is already set aside; only overflow can fail.
        let current = self.balance(account)?.value();
        let after = current
            .checked_sub(amount.value())
            .ok_or(MoneyError::Overflow)?;
        Money::new(self.plan.currency, after)?;
        Ok(after)
    }

    fn set(&mut self, account: AccountId, value: Decimal) {
        // The running sum follows every balance as it changes (see `sum`).
        let before = self.balance_value(account);
        self.total += value - before;
        match account {
            AccountId::Customer { customer } => {
                let i = self.index[&customer] as usize;
                self.customers[i].balance = value;
            }
            AccountId::Linked { customer } => {
                let i = self.index[&customer] as usize;
                self.customers[i].linked_net = value;
            }
            AccountId::Parent { parent } => {
                self.slices.get_mut(&parent).expect("checked").balance = value;
            }
            AccountId::Designated { bank } => {
                self.designated.insert(bank, value);
            }
            AccountId::Funding => self.funding = value,
        }
    }

    /// An account's booked value (its slice, for a parent); zero for an account with none.
    fn balance_value(&self, account: AccountId) -> Decimal {
        match account {
            AccountId::Customer { customer } => self
                .index
                .get(&customer)
                .map_or(Decimal::ZERO, |&i| self.customers[i as usize].balance),
            AccountId::Linked { customer } => self
                .index
                .get(&customer)
                .map_or(Decimal::ZERO, |&i| self.customers[i as usize].linked_net),
            AccountId::Parent { parent } => self
                .slices
                .get(&parent)
                .map_or(Decimal::ZERO, |s| s.balance),
            AccountId::Designated { bank } => {
                self.designated.get(&bank).copied().unwrap_or_default()
            }
            AccountId::Funding => self.funding,
        }
    }

    fn set_in_transit(&mut self, value: Decimal) {
        self.total += value - self.in_transit;
        self.in_transit = value;
    }

    /// Applies one record at `lsn`: all of it, or nothing with an error.
    pub fn apply(&mut self, lsn: Lsn, record: &LedgerRecord) -> Result<Applied, BooksError> {
        if !self.genesis_done && !matches!(record, LedgerRecord::Genesis { .. }) {
            return Err(BooksError::NoGenesis);
        }
        let applied = match record {
            LedgerRecord::Genesis {
                shard,
                shards,
                fundings,
            } => {
                let err = |what| BooksError::Genesis {
                    shard: *shard,
                    shards: *shards,
                    here: self.shard,
                    here_shards: self.plan.shards,
                    what,
                };
                if self.genesis_done {
                    return Err(err("the shard already has its genesis"));
                }
                if *shard != self.shard || *shards != self.plan.shards {
                    return Err(err("the shard layout differs"));
                }
                let mut total = Decimal::ZERO;
                for (parent, amount) in fundings {
                    self.check_amount(*amount)?;
                    if !self.slices.contains_key(parent) {
                        return Err(BooksError::UnknownParent(*parent));
                    }
                    total = total
                        .checked_add(amount.value())
                        .ok_or(MoneyError::Overflow)?;
                }
                for (parent, amount) in fundings {
                    self.slices.get_mut(parent).expect("checked").balance += amount.value();
                }
                self.funding -= total;
                self.genesis_done = true;
                Applied::Done
            }
            LedgerRecord::CustomerOpened(opened) => {
                self.open(opened)?;
                Applied::Done
            }
            LedgerRecord::CustomerStatus {
                customer,
                tradable,
                subscription_valid,
            } => {
                self.customer_checked(*customer)?;
                let i = self.index[customer] as usize;
                self.customers[i].tradable = *tradable;
                self.customers[i].subscription_valid = *subscription_valid;
                Applied::Done
            }
            LedgerRecord::Posted {
                debit,
                credit,
                amount,
            } => {
                self.check_amount(*amount)?;
                if debit == credit {
                    return Err(BooksError::SameAccount(*debit));
                }
                let debit_after = self.leg_after(*debit, -amount.value(), *amount)?;
                let credit_after = self.leg_after(*credit, amount.value(), *amount)?;
                self.set(*debit, debit_after);
                self.set(*credit, credit_after);
                Applied::Done
            }
            LedgerRecord::TransferOut {
                id,
                debit,
                credit,
                dest_shard,
                amount,
            } => {
                self.check_amount(*amount)?;
                let (source, seq) = transfer_source(*id);
                if source != self.shard || self.outgoing.contains_key(id) || seq == 0 {
                    return Err(BooksError::DuplicateTransfer(*id));
                }
                if !self.is_local(*debit)
                    || *dest_shard >= self.plan.shards
                    || *dest_shard == self.shard
                {
                    return Err(BooksError::NotTransferable(*debit));
                }
                let debit_after = self.leg_after(*debit, -amount.value(), *amount)?;
                let in_transit = self
                    .in_transit
                    .checked_add(amount.value())
                    .ok_or(MoneyError::Overflow)?;
                self.set(*debit, debit_after);
                self.set_in_transit(in_transit);
                let out = Outgoing {
                    id: *id,
                    debit: *debit,
                    credit: *credit,
                    dest_shard: *dest_shard,
                    amount: *amount,
                };
                self.outgoing.insert(*id, out);
                self.next_transfer_seq = self.next_transfer_seq.max(seq + 1);
                Applied::TransferOut(out)
            }
            LedgerRecord::TransferIn {
                id,
                credit,
                amount,
                settled_below,
            } => {
                self.check_amount(*amount)?;
                let (source, seq) = transfer_source(*id);
                if source == self.shard || !self.is_local(*credit) {
                    return Err(BooksError::NotTransferable(*credit));
                }
                if self.transfer_credited(*id) {
                    return Err(BooksError::DuplicateTransfer(*id));
                }
                let credit_after = self.leg_after(*credit, amount.value(), *amount)?;
                let in_transit = self
                    .in_transit
                    .checked_sub(amount.value())
                    .ok_or(MoneyError::Overflow)?;
                self.set(*credit, credit_after);
                self.set_in_transit(in_transit);
                let incoming = self.incoming.entry(source).or_default();
                incoming.insert(seq);
                incoming.forget_below(*settled_below);
                Applied::Done
            }
            LedgerRecord::TransferSettled { id } => {
                if self.outgoing.remove(id).is_none() {
                    return Err(BooksError::UnknownTransfer(*id));
                }
                Applied::Done
            }
            LedgerRecord::RequestAccepted { accepted, reserves } => {
                self.apply_accepted(accepted, reserves.as_deref())?;
                Applied::Done
            }
            LedgerRecord::EntryRequested {
                entry,
                customer,
                request_no,
                step,
                amount,
                debit,
                credit,
                at_ms,
            } => {
                self.apply_entry_requested(
                    *entry,
                    *customer,
                    *request_no,
                    *step,
                    *amount,
                    *debit,
                    *credit,
                    *at_ms,
                )?;
                Applied::Done
            }
            LedgerRecord::EntryEvent {
                entry,
                event,
                at_ms,
            } => {
                self.apply_entry_event(*entry, *event, *at_ms)?;
                Applied::Done
            }
            LedgerRecord::Answered {
                customer,
                request_no,
                answer,
            } => {
                let request = self.requests.get_mut(&(*customer, *request_no)).ok_or(
                    BooksError::UnknownRequest {
                        customer: *customer,
                        request_no: *request_no,
                    },
                )?;
                if request.answer.is_some() {
                    return Err(BooksError::AlreadyAnswered {
                        customer: *customer,
                        request_no: *request_no,
                    });
                }
                request.answer = Some(*answer);
                let at_ms = request.accepted.at_ms;
                self.unanswered.remove(&(at_ms, *customer, *request_no));
                // Told it failed, a remittance no longer goes on: what it set aside for
                // its further steps may be free now.
                self.release_if_settled(&(*customer, *request_no));
                Applied::Done
            }
            LedgerRecord::Pruned { before } => {
                let keys = self.prunable(*before);
                self.forget(keys);
                Applied::Done
            }
            LedgerRecord::Forgotten { accepted_before_ms } => {
                let keys = self.forgettable(*accepted_before_ms);
                self.forget(keys);
                Applied::Done
            }
            LedgerRecord::TransferReturned { id } => {
                let out = *self
                    .outgoing
                    .get(id)
                    .ok_or(BooksError::UnknownTransfer(*id))?;
                let debit_after = self.leg_after(out.debit, out.amount.value(), out.amount)?;
                let in_transit = self
                    .in_transit
                    .checked_sub(out.amount.value())
                    .ok_or(MoneyError::Overflow)?;
                self.set(out.debit, debit_after);
                self.set_in_transit(in_transit);
                self.outgoing.remove(id);
                Applied::Done
            }
        };
        debug_assert!(
            lsn > self.last_lsn,
            "records apply in LSN order: {lsn} after {}",
            self.last_lsn
        );
        self.last_lsn = lsn;
        Ok(applied)
    }

    fn open(&mut self, opened: &CustomerOpened) -> Result<(), BooksError> {
        let home = shard_of(opened.customer, self.plan.shards);
        if home != self.shard {
            return Err(BooksError::WrongShard {
                customer: opened.customer,
                home,
                here: self.shard,
            });
        }
        if self.index.contains_key(&opened.customer) {
            return Err(BooksError::CustomerExists(opened.customer));
        }
        if !self.plan.linked_banks.contains(&opened.linked_bank) {
            return Err(BooksError::LinkedBankNotServed(opened.linked_bank));
        }
        let at = u32::try_from(self.customers.len()).expect("fewer than 2^32 customers per shard");
        self.customers.push(CustomerEntry {
            id: opened.customer,
            balance: Decimal::ZERO,
            held: Decimal::ZERO,
            linked_net: Decimal::ZERO,
            linked_bank: opened.linked_bank,
            linked_account: opened.linked_account,
            tradable: opened.tradable,
            subscription_valid: opened.subscription_valid,
            signing_key: opened.signing_key,
            log_seq: 0,
        });
        self.index.insert(opened.customer, at);
        Ok(())
    }

    /// The books as a snapshot at `last_lsn`.
    pub fn snapshot(&self) -> BooksSnapshot {
        self.cut().into_snapshot()
    }

    /// A consistent view of the books at `last_lsn`, cheap to take (the customers,
    /// requests and entries are shared copy-on-write, see `segmap`), to be turned into a
    /// [`BooksSnapshot`] on another thread: the shard's thread only pays for the cut, and
    /// later for copying each segment it writes while the cut is alive.
    pub fn cut(&self) -> BooksCut {
        let head = BooksSnapshot {
            shard: self.shard,
            shards: self.plan.shards,
            last_lsn: self.last_lsn,
            genesis_done: self.genesis_done,
            customers: Vec::new(),
            slices: self.slices.iter().map(|(p, s)| (*p, *s)).collect(),
            designated: self
                .designated
                .iter()
                .map(|(b, v)| (*b, DecimalCell(*v)))
                .collect(),
            funding: DecimalCell(self.funding),
            in_transit: DecimalCell(self.in_transit),
            outgoing: self.outgoing.values().copied().collect(),
            incoming: self.incoming.iter().map(|(s, i)| (*s, i.clone())).collect(),
            next_transfer_seq: self.next_transfer_seq,
            requests: Vec::new(),
            entries: Vec::new(),
            next_entry_seq: self.next_entry_seq,
        };
        BooksCut {
            head,
            customers: self.customers.clone(),
            requests: self.requests.cut(),
            entries: self.entries.cut(),
        }
    }

    /// Books rebuilt from a snapshot taken with the same shard layout.
    pub fn from_snapshot(plan: ParentPlan, snapshot: BooksSnapshot) -> Result<Self, BooksError> {
        let mut books = ShardBooks::new(snapshot.shard, plan);
        if snapshot.shards != books.plan.shards {
            return Err(BooksError::Genesis {
                shard: snapshot.shard,
                shards: snapshot.shards,
                here: books.shard,
                here_shards: books.plan.shards,
                what: "the snapshot was taken with another shard count",
            });
        }
        books.genesis_done = snapshot.genesis_done;
        books.last_lsn = snapshot.last_lsn;
        books.index.reserve(snapshot.customers.len());
        for (i, c) in snapshot.customers.iter().enumerate() {
            books.index.insert(c.id, i as u32);
        }
        books.customers = snapshot.customers.into_iter().collect();
        for (parent, slice) in snapshot.slices {
            // The floor follows the configuration in force now, not the one at snapshot time.
            let floor = books.plan.slice_floor(parent, books.shard);
            books.slices.insert(parent, SliceEntry { floor, ..slice });
        }
        books.designated = snapshot
            .designated
            .into_iter()
            .map(|(b, v)| (b, v.0))
            .collect();
        books.funding = snapshot.funding.0;
        books.in_transit = snapshot.in_transit.0;
        books.outgoing = snapshot.outgoing.into_iter().map(|o| (o.id, o)).collect();
        books.incoming = snapshot.incoming.into_iter().collect();
        books.next_transfer_seq = snapshot.next_transfer_seq;
        books.requests = snapshot
            .requests
            .into_iter()
            .map(|r| ((r.accepted.customer, r.accepted.request_no), r))
            .collect();
        for (key, request) in books.requests.iter() {
            books
                .by_day
                .entry(request.accepted.at_ms / DAY_MS)
                .or_default()
                .push(*key);
            if request.answer.is_none() && request.accepted.kind != RequestKind::Settlement {
                books
                    .unanswered
                    .insert((request.accepted.at_ms, key.0, key.1));
            }
        }
        for entry in snapshot.entries {
            books.index_entry(&entry, true);
            books.entries.insert(entry.id, entry);
        }
        books.next_entry_seq = snapshot.next_entry_seq;
        books.total = books.sum_by_scan()?.value();
        Ok(books)
    }
}

/// A `Decimal` that rkyv can archive on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct DecimalCell(#[rkyv(with = DecimalDef)] pub Decimal);

/// Everything a shard's books hold, as of `last_lsn`.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct BooksSnapshot {
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
}

/// The books at one LSN, shared with the live books copy-on-write: see
/// [`ShardBooks::cut`].
#[derive(Clone, Debug)]
pub struct BooksCut {
    head: BooksSnapshot,
    customers: ChunkedVec<CustomerEntry>,
    requests: MapCut<(CustomerId, RequestNo), RequestState>,
    entries: MapCut<EntryId, LogEntry>,
}

impl BooksCut {
    pub fn last_lsn(&self) -> Lsn {
        self.head.last_lsn
    }

    /// Copies the shared parts out: the expensive half of a snapshot, for a thread other
    /// than the shard's.
    pub fn into_snapshot(self) -> BooksSnapshot {
        BooksSnapshot {
            customers: self.customers.copy_out(),
            requests: self.requests.copy_values(),
            entries: self.entries.copy_values(),
            ..self.head
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(shards: u16) -> ParentPlan {
        ParentPlan::from_config(&Config::embedded(), shards)
    }

    fn krw(won: i64) -> Amount {
        Amount::krw(won).unwrap()
    }

    fn customer_in(shard: u16, shards: u16, skip: usize) -> CustomerId {
        (1..)
            .map(|n| CustomerId::new(n).unwrap())
            .filter(|c| shard_of(*c, shards) == shard)
            .nth(skip)
            .unwrap()
    }

    fn opened(customer: CustomerId) -> LedgerRecord {
        LedgerRecord::CustomerOpened(CustomerOpened {
            customer,
            linked_bank: BankCode::new("004").unwrap(),
            linked_account: AccountNo::new("110-123-456789").unwrap(),
            tradable: true,
            subscription_valid: true,
            signing_key: None,
        })
    }

    fn books_with_genesis(shard: u16, shards: u16) -> (ShardBooks, Lsn) {
        let mut books = ShardBooks::new(shard, plan(shards));
        books.apply(1, &books.plan().genesis(shard)).unwrap();
        (books, 1)
    }

    /// Books of shard 0 of 1 with their genesis and one opened customer, and a function
    /// applying the next record at the next LSN.
    #[allow(clippy::type_complexity)]
    fn one_customer_books() -> (
        ShardBooks,
        CustomerId,
        impl FnMut(&mut ShardBooks, LedgerRecord) -> Result<Applied, BooksError>,
    ) {
        let (mut books, mut lsn) = books_with_genesis(0, 1);
        let c = customer_in(0, 1, 0);
        lsn += 1;
        books.apply(lsn, &opened(c)).unwrap();
        let next = move |books: &mut ShardBooks, record: LedgerRecord| {
            lsn += 1;
            books.apply(lsn, &record)
        };
        (books, c, next)
    }

    const FIN: AccountId = AccountId::Parent {
        parent: ParentAccount::FinParent,
    };

    #[test]
    fn genesis_funds_the_slices_and_the_books_sum_to_zero() {
        let (books, _) = books_with_genesis(0, 2);
        let opening = Config::embedded().parents.fin_parent.opening;
        assert_eq!(
            books.balance(FIN).unwrap(),
            Money::krw(opening / 2).unwrap()
        );
        assert!(books.sum().unwrap().is_zero());
    }

    #[test]
    fn a_customer_balance_never_goes_below_zero() {
        let (mut books, lsn) = books_with_genesis(0, 1);
        let c = customer_in(0, 1, 0);
        books.apply(lsn + 1, &opened(c)).unwrap();
        let credit = LedgerRecord::Posted {
            debit: FIN,
            credit: AccountId::customer(c),
            amount: krw(100),
        };
        books.apply(lsn + 2, &credit).unwrap();
        let overdraw = LedgerRecord::Posted {
            debit: AccountId::customer(c),
            credit: FIN,
            amount: krw(101),
        };
        let before = books.snapshot();
        assert!(matches!(
            books.apply(lsn + 3, &overdraw),
            Err(BooksError::InsufficientFunds { .. })
        ));
        assert_eq!(books.snapshot(), before, "a refused record changes nothing");
    }

    #[test]
    fn a_parent_slice_goes_below_zero_only_within_its_overdraft() {
        let (mut books, lsn) = books_with_genesis(0, 1);
        let c = customer_in(0, 1, 0);
        books.apply(lsn + 1, &opened(c)).unwrap();
        let drain = LedgerRecord::Posted {
            debit: FIN,
            credit: AccountId::customer(c),
            amount: krw(Config::embedded().parents.fin_parent.opening + 1),
        };
        assert!(matches!(
            books.apply(lsn + 2, &drain),
            Err(BooksError::BelowFloor { .. })
        ));
    }

    #[test]
    fn a_transfer_between_shards_is_credited_once_and_conserves_money() {
        let shards = 2;
        let (mut a, mut la) = books_with_genesis(0, shards);
        let (mut b, mut lb) = books_with_genesis(1, shards);
        let (ca, cb) = (customer_in(0, shards, 0), customer_in(1, shards, 0));
        la += 1;
        a.apply(la, &opened(ca)).unwrap();
        lb += 1;
        b.apply(lb, &opened(cb)).unwrap();
        la += 1;
        a.apply(
            la,
            &LedgerRecord::Posted {
                debit: FIN,
                credit: AccountId::customer(ca),
                amount: krw(1_000),
            },
        )
        .unwrap();
        let id = a.next_transfer_id();
        let out = LedgerRecord::TransferOut {
            id,
            debit: AccountId::customer(ca),
            credit: AccountId::customer(cb),
            dest_shard: 1,
            amount: krw(400),
        };
        la += 1;
        assert!(matches!(a.apply(la, &out), Ok(Applied::TransferOut(_))));
        let total = |a: &ShardBooks, b: &ShardBooks| {
            a.sum().unwrap().checked_add(b.sum().unwrap()).unwrap()
        };
        assert!(total(&a, &b).is_zero());
        let credit = LedgerRecord::TransferIn {
            id,
            credit: AccountId::customer(cb),
            amount: krw(400),
            settled_below: 0,
        };
        lb += 1;
        b.apply(lb, &credit).unwrap();
        lb += 1;
        assert_eq!(b.apply(lb, &credit), Err(BooksError::DuplicateTransfer(id)));
        la += 1;
        a.apply(la, &LedgerRecord::TransferSettled { id }).unwrap();
        assert!(total(&a, &b).is_zero());
        assert_eq!(
            b.balance(AccountId::customer(cb)).unwrap(),
            Money::krw(400).unwrap()
        );
        assert_eq!(
            a.balance(AccountId::customer(ca)).unwrap(),
            Money::krw(600).unwrap()
        );
    }

    #[test]
    fn a_refused_transfer_returns_to_its_debit_account() {
        let shards = 2;
        let (mut a, la) = books_with_genesis(0, shards);
        let before = a.balance(FIN).unwrap();
        let id = a.next_transfer_id();
        let nobody = customer_in(1, shards, 5);
        let out = LedgerRecord::TransferOut {
            id,
            debit: FIN,
            credit: AccountId::customer(nobody),
            dest_shard: 1,
            amount: krw(10),
        };
        a.apply(la + 1, &out).unwrap();
        assert_eq!(a.in_transit(), Money::krw(10).unwrap());
        a.apply(la + 2, &LedgerRecord::TransferReturned { id })
            .unwrap();
        assert_eq!(a.balance(FIN).unwrap(), before);
        assert!(a.in_transit().is_zero());
        assert!(a.outgoing().next().is_none());
    }

    #[test]
    fn transfers_arriving_out_of_order_are_each_credited_once() {
        let mut incoming = Incoming::default();
        for seq in [3, 1, 4, 2] {
            assert!(!incoming.contains(seq));
            incoming.insert(seq);
        }
        assert_eq!(
            incoming,
            Incoming {
                watermark: 4,
                above: vec![]
            }
        );
        assert!(!incoming.contains(5));
    }

    #[test]
    fn a_snapshot_rebuilds_the_same_books() {
        let (mut books, lsn) = books_with_genesis(0, 1);
        let c = customer_in(0, 1, 3);
        books.apply(lsn + 1, &opened(c)).unwrap();
        books
            .apply(
                lsn + 2,
                &LedgerRecord::Posted {
                    debit: FIN,
                    credit: AccountId::customer(c),
                    amount: krw(77),
                },
            )
            .unwrap();
        let snap = books.snapshot();
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&snap).unwrap();
        let back = rkyv::from_bytes::<BooksSnapshot, rkyv::rancor::Error>(&bytes).unwrap();
        let rebuilt = ShardBooks::from_snapshot(plan(1), back).unwrap();
        assert_eq!(rebuilt.snapshot(), snap);
        assert_eq!(
            rebuilt.balance(AccountId::customer(c)).unwrap(),
            Money::krw(77).unwrap()
        );
    }

    /// The daily prune forgets settled requests older than its date and keeps the rest
    /// (open ones, newer ones); it finds them through the date index, which a snapshot
    /// rebuilds.
    #[test]
    fn prune_forgets_only_settled_requests_older_than_its_date() {
        use crate::ledger::{Accepted, Answer, RequestKind};
        use crate::request::RequestDate;
        use crate::request_log::{Step, Told};
        let (mut books, c, mut next) = one_customer_books();
        let date = |d: u32| RequestDate::from_ymd(2026, 11, d).unwrap();
        let no = |n: &str| RequestNo::new(n).unwrap();
        for (request_no, day, answered) in [
            ("OLD-SETTLED", 1, true),
            ("OLD-OPEN", 1, false),
            ("MID-SETTLED", 10, true),
            ("NEW-SETTLED", 21, true),
        ] {
            let accepted = Accepted {
                customer: c,
                request_no: no(request_no),
                request_date: date(day),
                kind: RequestKind::Charge,
                amount: krw(100),
                payee: None,
                path: None,
                deficit: None,
                at_ms: 1,
            };
            next(
                &mut books,
                LedgerRecord::RequestAccepted {
                    accepted,
                    reserves: None,
                },
            )
            .unwrap();
            if answered {
                let answer = Answer {
                    told: Told::Failed,
                    decided_by: Step::ChargeWithdrawal,
                    timed_out: false,
                    at_ms: 2,
                    reason: crate::ledger::Reason::RailRefused,
                };
                next(
                    &mut books,
                    LedgerRecord::Answered {
                        customer: c,
                        request_no: no(request_no),
                        answer,
                    },
                )
                .unwrap();
            }
        }
        let key = |n: &str| (c, no(n));
        let mut expected = vec![key("OLD-SETTLED"), key("MID-SETTLED")];
        expected.sort();
        assert_eq!(books.prunable(date(15)), expected);
        next(&mut books, LedgerRecord::Pruned { before: date(15) }).unwrap();
        assert!(books.request(c, no("OLD-SETTLED")).is_none());
        assert!(books.request(c, no("MID-SETTLED")).is_none());
        assert!(books.request(c, no("OLD-OPEN")).is_some());
        assert!(books.prunable(date(15)).is_empty());
        let restored = ShardBooks::from_snapshot(plan(1), books.snapshot()).unwrap();
        assert!(restored.prunable(date(15)).is_empty());
        assert_eq!(restored.prunable(date(22)), vec![key("NEW-SETTLED")]);
    }

    #[test]
    fn an_open_entry_holds_its_amount_until_it_is_final() {
        use crate::ledger::{Accepted, EntryId, RequestKind};
        use crate::request::RequestDate;
        use crate::request_log::{Event, Step};
        let (mut books, c, mut next) = one_customer_books();
        next(
            &mut books,
            LedgerRecord::Posted {
                debit: FIN,
                credit: AccountId::customer(c),
                amount: krw(1_000),
            },
        )
        .unwrap();
        let request_no = RequestNo::new("R-1").unwrap();
        let accepted = Accepted {
            customer: c,
            request_no,
            request_date: RequestDate::from_ymd(2026, 11, 21).unwrap(),
            kind: RequestKind::Remit,
            amount: krw(700),
            payee: None,
            path: None,
            deficit: None,
            at_ms: 1,
        };
        next(
            &mut books,
            LedgerRecord::RequestAccepted {
                accepted,
                reserves: None,
            },
        )
        .unwrap();
        let x1 = |entry: u64, won: i64| LedgerRecord::EntryRequested {
            entry: EntryId::new(0, entry),
            customer: c,
            request_no,
            step: Step::RemitDeduction,
            amount: krw(won),
            debit: AccountId::customer(c),
            credit: FIN,
            at_ms: 2,
        };
        next(&mut books, x1(1, 700)).unwrap();
        assert_eq!(books.customer(c).unwrap().held, Decimal::from(700));
        // A second deduction beyond what is available is refused while the first is open.
        assert!(matches!(
            next(&mut books, x1(2, 301)),
            Err(BooksError::InsufficientFunds { .. })
        ));
        let event = |e: u64, event| LedgerRecord::EntryEvent {
            entry: EntryId::new(0, e),
            event,
            at_ms: 3,
        };
        // A timeout leaves the outcome open: the hold stays.
        next(&mut books, event(1, Event::TimedOut)).unwrap();
        assert_eq!(books.customer(c).unwrap().held, Decimal::from(700));
        assert_eq!(books.unknown_entries().count(), 1);
        // Confirmed done: the posting is booked and the hold released in the same record.
        next(&mut books, event(1, Event::ConfirmedDone)).unwrap();
        let entry = books.customer(c).unwrap();
        assert_eq!(
            (entry.balance, entry.held),
            (Decimal::from(300), Decimal::ZERO)
        );
        assert!(books.sum().unwrap().is_zero());
        // A final entry takes no more events.
        assert!(matches!(
            next(&mut books, event(1, Event::Failed)),
            Err(BooksError::IllegalTransition(_))
        ));
    }

    #[test]
    fn customers_spread_over_shards() {
        let mut counts = [0u32; 4];
        for n in 1..=40_000 {
            counts[shard_of(CustomerId::new(n).unwrap(), 4) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..=11_000).contains(&c), "{counts:?}");
        }
    }
}
