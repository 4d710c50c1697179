// Over 600 lines: the relay book's reading, deciding and applying share its private indexes; to be split by decision (lease, deposit, recall) next.
//! [`RelayBook`]: the relay's state in one shard (1DB, 2DB and 3DB of INSTRUMENTS.md
//! §2.2), and its decisions.
//!
//! Every decision reads the book and returns the [`RelayChange`] to write; the book
//! changes only when a change is applied (after it is durable, on the engine's side).
//! A change carries whole entities (the partner, the VAs, the lease and the deposit it
//! touches), so that one record makes a match atomic: the deposit, its lease completed
//! and its VA cooling are durable together or not at all.

use std::collections::{BTreeMap, BTreeSet};

use super::deposit::{Deposit, DepositId, DepositNotice, DepositState};
use super::lease::{Judgement, Lease, LeaseId, LeaseRequest, LeaseState};
use super::partner::{Partner, PartnerId, Region};
use super::virtual_account::{VaNo, VaState, VirtualAccount};
use super::{LOW_WATERMARK_PERCENT, MAX_LEASE_LIFE_MS};
use crate::ids::BankCode;
use crate::payments::codes::RefusalCode;

/// What one decision writes: whole entities, applied by overwriting.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct RelayChange {
    pub partner: Option<Partner>,
    pub vas: Vec<VirtualAccount>,
    pub lease: Option<Lease>,
    pub deposit: Option<Deposit>,
}

/// Why the relay turns a request down; nothing is written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RelayRefusal {
    #[error("{0}")]
    Invalid(String),
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("the partner has no virtual accounts at bank {0}")]
    BankNotAvailable(BankCode),
    #[error("no virtual account is free at bank {bank}, region {region}")]
    NoVirtualAccountAvailable { bank: BankCode, region: Region },
    #[error("order {0:?} has an open lease with other fields")]
    IdempotencyConflict(String),
    #[error("order {0:?} is paid")]
    OrderAlreadyPaid(String),
    #[error("{0}")]
    InvalidState(String),
}

impl RelayRefusal {
    pub fn code(&self) -> RefusalCode {
        match self {
            RelayRefusal::Invalid(_) => RefusalCode::InvalidRequest,
            RelayRefusal::NotFound(_) => RefusalCode::NotFound,
            RelayRefusal::BankNotAvailable(_) => RefusalCode::BankNotAvailable,
            RelayRefusal::NoVirtualAccountAvailable { .. } => {
                RefusalCode::NoVirtualAccountAvailable
            }
            RelayRefusal::IdempotencyConflict(_) => RefusalCode::IdempotencyConflict,
            RelayRefusal::OrderAlreadyPaid(_) => RefusalCode::OrderAlreadyPaid,
            RelayRefusal::InvalidState(_) => RefusalCode::InvalidState,
        }
    }
}

/// The answer to a lease request (S16–S20).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// D-2.12: the order's open lease, asked for again with the same fields.
    Existing(Box<Lease>),
    /// A new lease on a VA of the pool: write the change, then answer.
    New(Box<RelayChange>),
    /// The pool has no free VA, and the bank may number one in real time (D-2.9): ask
    /// it, then [`RelayBook::lease_on_real_time`].
    RealTime,
}

/// The answer to a deposit notice (S22–S30).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DepositOutcome {
    /// D-2.12: (bank, `bank_tx_id`) was noticed before; the same result, nothing new.
    Duplicate(Box<Deposit>),
    /// Write the change, then notify the partner.
    New(Box<RelayChange>),
}

/// How a pool stands at a moment (D-2.9).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Every VA that is not RETIRED.
    pub size: u32,
    pub free: u32,
    pub leased: u32,
    pub cooling: u32,
    pub target: u32,
}

impl PoolStatus {
    /// D-2.9: how many VAs to ask the bank for now (S10): while the free VAs are below
    /// the low watermark and the size below the target, up to the target.
    pub fn top_up(&self) -> u32 {
        let low = self.target * LOW_WATERMARK_PERCENT / 100;
        if self.free < low.max(1) && self.size < self.target {
            self.target - self.size
        } else {
            0
        }
    }
}

/// A pool: its partner, bank and region.
type PoolKey = (PartnerId, BankCode, Region);
/// A VA in a pool's free set, in D-2.11's order (`VirtualAccount::pick_order`).
type FreeKey = (bool, u64, VaNo);

/// The relay's state in one shard.
#[derive(Clone, Debug, Default)]
pub struct RelayBook {
    partners: BTreeMap<PartnerId, Partner>,
    vas: BTreeMap<(BankCode, VaNo), VirtualAccount>,
    pools: BTreeMap<PoolKey, BTreeSet<VaNo>>,
    /// Each pool's AVAILABLE and COOLING VAs in D-2.11's order, so that a lease picks in
    /// O(log n) whatever the pool's size. Derived from `vas`.
    free: BTreeMap<PoolKey, BTreeSet<FreeKey>>,
    leases: BTreeMap<LeaseId, Lease>,
    /// Each order's latest lease (D-2.12).
    orders: BTreeMap<(PartnerId, String), LeaseId>,
    /// The OPEN and PARTIAL leases by due date, for the expirer.
    live_by_due: BTreeSet<(u64, LeaseId)>,
    deposits: BTreeMap<DepositId, Deposit>,
    by_tx: BTreeMap<(BankCode, String), DepositId>,
    next_lease: u64,
    next_deposit: u64,
}

impl RelayBook {
    // ---- reading ----

    pub fn partner(&self, id: &PartnerId) -> Option<&Partner> {
        self.partners.get(id)
    }

    pub fn partners(&self) -> impl Iterator<Item = &Partner> {
        self.partners.values()
    }

    pub fn va(&self, bank: BankCode, va_no: &VaNo) -> Option<&VirtualAccount> {
        self.vas.get(&(bank, va_no.clone()))
    }

    pub fn vas(&self) -> impl Iterator<Item = &VirtualAccount> {
        self.vas.values()
    }

    pub fn lease(&self, id: LeaseId) -> Option<&Lease> {
        self.leases.get(&id)
    }

    pub fn leases(&self) -> impl Iterator<Item = &Lease> {
        self.leases.values()
    }

    /// An order's latest lease.
    pub fn lease_of_order(&self, partner: &PartnerId, order_no: &str) -> Option<&Lease> {
        let id = self.orders.get(&(partner.clone(), order_no.to_owned()))?;
        self.leases.get(id)
    }

    pub fn deposit(&self, id: DepositId) -> Option<&Deposit> {
        self.deposits.get(&id)
    }

    pub fn deposits(&self) -> impl Iterator<Item = &Deposit> {
        self.deposits.values()
    }

    pub fn deposit_by_tx(&self, bank: BankCode, bank_tx_id: &str) -> Option<&Deposit> {
        let id = self.by_tx.get(&(bank, bank_tx_id.to_owned()))?;
        self.deposits.get(id)
    }

    /// A pool's VAs as they stand at `now_ms`.
    pub fn pool_status(
        &self,
        partner: &PartnerId,
        bank: BankCode,
        region: &Region,
        now_ms: u64,
    ) -> PoolStatus {
        let target = self
            .partners
            .get(partner)
            .and_then(|p| p.pool(bank, region))
            .map_or(0, |p| p.target);
        let mut status = PoolStatus {
            target,
            ..PoolStatus::default()
        };
        for va in self.pool_vas(partner, bank, region) {
            match va.state_at(now_ms) {
                VaState::Available => status.free += 1,
                VaState::Leased => status.leased += 1,
                VaState::Cooling => status.cooling += 1,
                VaState::Retired => continue,
            }
            status.size += 1;
        }
        status
    }

    fn pool_vas<'a>(
        &'a self,
        partner: &PartnerId,
        bank: BankCode,
        region: &Region,
    ) -> impl Iterator<Item = &'a VirtualAccount> + 'a {
        self.pools
            .get(&(partner.clone(), bank, region.clone()))
            .into_iter()
            .flatten()
            .filter_map(move |no| self.vas.get(&(bank, no.clone())))
    }

    // ---- deciding ----

    /// A partner as configured (new or changed), with the warnings of D-2.9.
    pub fn set_partner(
        &self,
        partner: Partner,
    ) -> Result<(RelayChange, Vec<String>), RelayRefusal> {
        let warnings = partner.validate().map_err(RelayRefusal::Invalid)?;
        if let Some(known) = self.partners.get(&partner.id) {
            // The money of its deposits was booked by them (`credit.rs`): a recall must
            // undo what its deposit did.
            if known.mode != partner.mode || known.merchant != partner.merchant {
                return Err(RelayRefusal::Invalid(format!(
                    "partner {}'s mode and merchant are fixed once configured (mode {:?})",
                    partner.id, known.mode
                )));
            }
        }
        Ok((
            RelayChange {
                partner: Some(partner),
                ..RelayChange::default()
            },
            warnings,
        ))
    }

    /// S12: the VAs a bank granted to a partner's pool. A VA the book knows already (at
    /// that bank) is refused: the bank's numbers are unique.
    pub fn grant(
        &self,
        partner: &PartnerId,
        bank: BankCode,
        region: &Region,
        numbers: &[VaNo],
    ) -> Result<RelayChange, RelayRefusal> {
        let known = self
            .partners
            .get(partner)
            .ok_or(RelayRefusal::NotFound("partner"))?;
        if known.pool(bank, region).is_none() {
            return Err(RelayRefusal::BankNotAvailable(bank));
        }
        let mut seen = BTreeSet::new();
        let mut vas = Vec::with_capacity(numbers.len());
        for no in numbers {
            if self.vas.contains_key(&(bank, no.clone())) || !seen.insert(no) {
                return Err(RelayRefusal::Invalid(format!(
                    "virtual account {bank} {no} is known already"
                )));
            }
            vas.push(VirtualAccount::granted(
                bank,
                no.clone(),
                region.clone(),
                partner.clone(),
            ));
        }
        Ok(RelayChange {
            vas,
            ..RelayChange::default()
        })
    }

    /// S16–S20: a lease for an order (D-2.12 for a repeat).
    pub fn lease_for(
        &self,
        request: &LeaseRequest,
        now_ms: u64,
    ) -> Result<LeaseOutcome, RelayRefusal> {
        let (partner, mode) = self.admit(request, now_ms)?;
        if let Some(open) = self.open_lease_for(request, mode)? {
            return Ok(LeaseOutcome::Existing(Box::new(open)));
        }
        let Some(va) = self.pick(partner, request.bank, &request.region, now_ms) else {
            let real_time = partner
                .pool(request.bank, &request.region)
                .is_some_and(|p| p.real_time);
            if real_time {
                return Ok(LeaseOutcome::RealTime);
            }
            return Err(RelayRefusal::NoVirtualAccountAvailable {
                bank: request.bank,
                region: request.region.clone(),
            });
        };
        let change = self.new_lease(request, mode, va.clone(), now_ms, partner);
        Ok(LeaseOutcome::New(Box::new(change)))
    }

    /// D-2.9, V9b: a lease on a VA the bank numbered in real time for it. The request is
    /// checked again (the book may have changed while the bank was asked).
    pub fn lease_on_real_time(
        &self,
        request: &LeaseRequest,
        va_no: VaNo,
        now_ms: u64,
    ) -> Result<LeaseOutcome, RelayRefusal> {
        let (partner, mode) = self.admit(request, now_ms)?;
        if let Some(open) = self.open_lease_for(request, mode)? {
            return Ok(LeaseOutcome::Existing(Box::new(open)));
        }
        if self.vas.contains_key(&(request.bank, va_no.clone())) {
            return Err(RelayRefusal::InvalidState(format!(
                "the bank numbered {} {va_no}, which is known already",
                request.bank
            )));
        }
        let mut va = VirtualAccount::granted(
            request.bank,
            va_no,
            request.region.clone(),
            partner.id.clone(),
        );
        va.real_time = true;
        Ok(LeaseOutcome::New(Box::new(
            self.new_lease(request, mode, va, now_ms, partner),
        )))
    }

    fn admit(
        &self,
        request: &LeaseRequest,
        now_ms: u64,
    ) -> Result<(&Partner, super::MatchMode), RelayRefusal> {
        let partner = self
            .partners
            .get(&request.partner)
            .ok_or(RelayRefusal::NotFound("partner"))?;
        let mode = request.match_mode.unwrap_or(partner.default_match);
        request.validate(mode).map_err(RelayRefusal::Invalid)?;
        if let Some(due) = request.due_at_ms {
            if due <= now_ms || due - now_ms > MAX_LEASE_LIFE_MS {
                return Err(RelayRefusal::Invalid(
                    "due_at is after now and at most 30 days ahead (D-2.6)".into(),
                ));
            }
        }
        let served = partner.pool(request.bank, &request.region).is_some()
            || (partner.region_fallback && partner.serves_bank(request.bank))
            || (request.region.is_any() && partner.serves_bank(request.bank));
        if !served {
            return Err(RelayRefusal::BankNotAvailable(request.bank));
        }
        Ok((partner, mode))
    }

    /// D-2.12: the order's live lease if the request is the same, a refusal if it differs
    /// or the order is paid, `None` if a new lease is due.
    fn open_lease_for(
        &self,
        request: &LeaseRequest,
        mode: super::MatchMode,
    ) -> Result<Option<Lease>, RelayRefusal> {
        let Some(last) = self.lease_of_order(&request.partner, &request.order_no) else {
            return Ok(None);
        };
        match last.state {
            LeaseState::Open | LeaseState::Partial => {
                let holds_va = self
                    .va(last.bank, &last.va_no)
                    .is_some_and(|va| va.state == VaState::Leased && va.lease == Some(last.id));
                if !holds_va {
                    // Reopened by a recall that found no VA free (D-2.21).
                    return Err(RelayRefusal::InvalidState(format!(
                        "order {:?}'s lease was reopened by a recall with no virtual account free; cancel it and lease again",
                        request.order_no
                    )));
                }
                if last.same_request(request, mode) {
                    Ok(Some(last.clone()))
                } else {
                    Err(RelayRefusal::IdempotencyConflict(request.order_no.clone()))
                }
            }
            LeaseState::Completed => Err(RelayRefusal::OrderAlreadyPaid(request.order_no.clone())),
            LeaseState::Expired | LeaseState::Cancelled => Ok(None),
        }
    }

    /// D-2.10, D-2.11: the VA to lease: of the asked region (every region for `any`),
    /// else, if the partner allows it, of any region at the bank.
    fn pick(
        &self,
        partner: &Partner,
        bank: BankCode,
        region: &Region,
        now_ms: u64,
    ) -> Option<&VirtualAccount> {
        // In D-2.11's order a VA still cooling comes after every VA freed before it: with
        // one cooldown per partner, the first one found cooling ends the search. (A
        // cooldown made shorter frees the VAs freed after the change in their turn.)
        let first_free = |region: &Region| {
            let key = (partner.id.clone(), bank, region.clone());
            self.free
                .get(&key)?
                .iter()
                .map(|(_, _, no)| self.vas.get(&(bank, no.clone())))
                .take_while(|va| va.is_some_and(|va| va.state_at(now_ms) != VaState::Cooling))
                .flatten()
                .find(|va| va.state_at(now_ms) == VaState::Available)
        };
        let best = |regions: &mut dyn Iterator<Item = &Region>| {
            regions
                .filter_map(first_free)
                .min_by(|a, b| a.pick_order().cmp(&b.pick_order()))
        };
        let every = || {
            partner
                .pools
                .iter()
                .filter(|p| p.bank == bank)
                .map(|p| &p.region)
        };
        if region.is_any() {
            return best(&mut every());
        }
        best(&mut std::iter::once(region)).or_else(|| {
            if partner.region_fallback {
                best(&mut every())
            } else {
                None
            }
        })
    }

    fn new_lease(
        &self,
        request: &LeaseRequest,
        mode: super::MatchMode,
        va: VirtualAccount,
        now_ms: u64,
        partner: &Partner,
    ) -> RelayChange {
        let id = LeaseId(self.next_lease.max(1));
        let lease = Lease {
            id,
            partner: request.partner.clone(),
            order_no: request.order_no.clone(),
            customer: request.customer.clone(),
            bank: request.bank,
            region: request.region.clone(),
            va_no: va.va_no.clone(),
            match_mode: mode,
            expected_krw: request.expected_krw,
            min_krw: if mode == super::MatchMode::Open {
                request.min_krw.unwrap_or(1)
            } else {
                0
            },
            max_krw: request.max_krw,
            created_at_ms: now_ms,
            due_at_ms: request
                .due_at_ms
                .unwrap_or(now_ms.saturating_add(partner.lease_life_ms)),
            due_given: request.due_at_ms.is_some(),
            state: LeaseState::Open,
            paid_krw: 0,
            deposits: Vec::new(),
            closed_at_ms: None,
        };
        RelayChange {
            vas: vec![va.leased(id)],
            lease: Some(lease),
            ..RelayChange::default()
        }
    }

    /// S22–S30: a bank's notice, matched by its VA (S24) or sent to suspense (S26).
    /// `late`: found by the daily reconciliation instead of noticed (D-2.15).
    pub fn deposit_for(
        &self,
        notice: &DepositNotice,
        now_ms: u64,
        late: bool,
    ) -> Result<DepositOutcome, RelayRefusal> {
        notice.validate().map_err(RelayRefusal::Invalid)?;
        if let Some(seen) = self.deposit_by_tx(notice.bank, &notice.bank_tx_id) {
            return Ok(DepositOutcome::Duplicate(Box::new(seen.clone())));
        }
        let va = self
            .va(notice.bank, &notice.va_no)
            .ok_or(RelayRefusal::NotFound("virtual account"))?;
        let id = DepositId(self.next_deposit.max(1));
        let mut deposit = Deposit {
            id,
            partner: va.partner.clone(),
            bank: notice.bank,
            bank_tx_id: notice.bank_tx_id.clone(),
            va_no: notice.va_no.clone(),
            amount_krw: notice.amount_krw,
            depositor_name: notice.depositor_name.clone(),
            depositor_account: notice.depositor_account.clone(),
            channel: notice.channel.clone(),
            at_ms: notice.at_ms,
            received_at_ms: now_ms,
            state: DepositState::Unleased,
            lease: None,
            previous_lease: va.lease,
            credited_krw: 0,
            excess_krw: 0,
            name_differs: false,
            late,
            settled_at_ms: None,
        };
        let live = (va.state == VaState::Leased)
            .then(|| va.lease.and_then(|id| self.leases.get(&id)))
            .flatten()
            .filter(|lease| lease.state.is_live());
        let Some(lease) = live else {
            return Ok(DepositOutcome::New(Box::new(RelayChange {
                deposit: Some(deposit),
                ..RelayChange::default()
            })));
        };
        deposit.name_differs =
            !notice.depositor_name.is_empty() && notice.depositor_name != lease.customer;
        let mut change = RelayChange::default();
        match self.credit(lease, va, &mut deposit, now_ms) {
            Some((lease, va)) => {
                change.lease = Some(lease);
                change.vas.extend(va);
            }
            None => deposit.state = DepositState::Mismatch,
        }
        change.deposit = Some(deposit);
        Ok(DepositOutcome::New(Box::new(change)))
    }

    /// A deposit credited to a live lease by the amount rule (D-2.3): the lease and, if it
    /// completes, its VA freed; `None` on a mismatch.
    fn credit(
        &self,
        lease: &Lease,
        va: &VirtualAccount,
        deposit: &mut Deposit,
        now_ms: u64,
    ) -> Option<(Lease, Option<VirtualAccount>)> {
        let mut lease = lease.clone();
        let (credited, excess, completes) = match lease.judge(deposit.amount_krw) {
            Judgement::Mismatch => return None,
            Judgement::Partial { credited } => (credited, 0, false),
            Judgement::Completes { credited, excess } => (credited, excess, true),
        };
        deposit.state = DepositState::Matched;
        deposit.lease = Some(lease.id);
        deposit.previous_lease = None;
        deposit.credited_krw = credited;
        deposit.excess_krw = excess;
        lease.paid_krw += credited;
        lease.deposits.push(deposit.id);
        let freed = if completes {
            lease.state = LeaseState::Completed;
            lease.closed_at_ms = Some(now_ms);
            Some(va.freed(now_ms, self.cooldown(&lease.partner)))
        } else {
            lease.state = LeaseState::Partial;
            None
        };
        Some((lease, freed))
    }

    fn cooldown(&self, partner: &PartnerId) -> u64 {
        self.partners
            .get(partner)
            .map_or(super::DEFAULT_COOLDOWN_MS, |p| p.cooldown_ms)
    }

    /// D-2.5: whether a deposit of `amount_krw` into VA (bank, number) would be matched
    /// now: the VA is leased to a live lease whose amount rule holds; why not otherwise.
    pub fn check(
        &self,
        bank: BankCode,
        va_no: &VaNo,
        amount_krw: u64,
        now_ms: u64,
    ) -> Result<(), String> {
        let va = self.va(bank, va_no).ok_or("no such virtual account")?;
        let lease = (va.state_at(now_ms) == VaState::Leased)
            .then(|| va.lease.and_then(|id| self.leases.get(&id)))
            .flatten()
            .filter(|l| l.state.is_live())
            .ok_or("the virtual account is not leased")?;
        if amount_krw == 0 || lease.judge(amount_krw) == Judgement::Mismatch {
            return Err(format!(
                "{amount_krw} won does not meet the lease's amount rule"
            ));
        }
        Ok(())
    }

    /// D-2.6: the live leases due at `now_ms` (at most `max`), EXPIRED, their VAs cooling.
    pub fn expire_due(&self, now_ms: u64, max: usize) -> Vec<RelayChange> {
        self.live_by_due
            .range(..=(now_ms, LeaseId(u64::MAX)))
            .take(max)
            .filter_map(|(_, id)| self.leases.get(id))
            .map(|lease| self.close(lease, LeaseState::Expired, now_ms))
            .collect()
    }

    fn close(&self, lease: &Lease, state: LeaseState, now_ms: u64) -> RelayChange {
        let mut closed = lease.clone();
        closed.state = state;
        closed.closed_at_ms = Some(now_ms);
        let vas = self
            .va(lease.bank, &lease.va_no)
            .filter(|va| va.state == VaState::Leased && va.lease == Some(lease.id))
            .map(|va| va.freed(now_ms, self.cooldown(&lease.partner)))
            .into_iter()
            .collect();
        RelayChange {
            vas,
            lease: Some(closed),
            ..RelayChange::default()
        }
    }

    /// D-2.18: the partner cancels an OPEN lease; `None` if it is cancelled already.
    pub fn cancel(
        &self,
        partner: &PartnerId,
        id: LeaseId,
        now_ms: u64,
    ) -> Result<Option<RelayChange>, RelayRefusal> {
        let lease = self
            .leases
            .get(&id)
            .filter(|l| &l.partner == partner)
            .ok_or(RelayRefusal::NotFound("lease"))?;
        match lease.state {
            LeaseState::Open => Ok(Some(self.close(lease, LeaseState::Cancelled, now_ms))),
            LeaseState::Cancelled => Ok(None),
            state => Err(RelayRefusal::InvalidState(format!(
                "a lease {state:?} cannot be cancelled; only an OPEN one can"
            ))),
        }
    }

    /// D-2.4: operations assign a suspense deposit to a live lease of the same partner,
    /// as if it had been paid into that lease's VA (the amount rule holds or it is refused).
    pub fn assign(
        &self,
        deposit: DepositId,
        lease: LeaseId,
        now_ms: u64,
    ) -> Result<RelayChange, RelayRefusal> {
        let mut deposit = self
            .deposits
            .get(&deposit)
            .cloned()
            .ok_or(RelayRefusal::NotFound("deposit"))?;
        if !deposit.state.in_suspense() {
            return Err(RelayRefusal::InvalidState(format!(
                "deposit {} is {:?}, not in suspense",
                deposit.id, deposit.state
            )));
        }
        let target = self
            .leases
            .get(&lease)
            .filter(|l| l.partner == deposit.partner && l.state.is_live())
            .ok_or(RelayRefusal::NotFound(
                "open lease of the deposit's partner",
            ))?;
        let va = self
            .va(target.bank, &target.va_no)
            .ok_or(RelayRefusal::NotFound("virtual account"))?;
        let (lease, freed) = self
            .credit(target, va, &mut deposit, now_ms)
            .ok_or_else(|| {
                RelayRefusal::InvalidState(format!(
                    "{} won does not meet lease {}'s amount rule",
                    deposit.amount_krw, target.id
                ))
            })?;
        deposit.state = DepositState::Assigned;
        deposit.settled_at_ms = Some(now_ms);
        Ok(RelayChange {
            vas: freed.into_iter().collect(),
            lease: Some(lease),
            deposit: Some(deposit),
            ..RelayChange::default()
        })
    }

    /// D-2.4: operations refund a suspense deposit to its payer; `None` if refunded
    /// already.
    pub fn refund(
        &self,
        deposit: DepositId,
        now_ms: u64,
    ) -> Result<Option<RelayChange>, RelayRefusal> {
        let mut deposit = self
            .deposits
            .get(&deposit)
            .cloned()
            .ok_or(RelayRefusal::NotFound("deposit"))?;
        match deposit.state {
            DepositState::Refunded => return Ok(None),
            state if state.in_suspense() => {}
            state => {
                return Err(RelayRefusal::InvalidState(format!(
                    "deposit {} is {state:?}, not in suspense",
                    deposit.id
                )))
            }
        }
        deposit.state = DepositState::Refunded;
        deposit.settled_at_ms = Some(now_ms);
        Ok(Some(RelayChange {
            deposit: Some(deposit),
            ..RelayChange::default()
        }))
    }

    /// D-2.21: the bank recalls a deposit; `None` for a repeat. A lease it completed is
    /// live again (PARTIAL if other deposits remain), due one lease life later, on its VA
    /// again if that VA was not leased since, else on a free one of its pool (kept on
    /// its old number, unleased, when the pool has none: operations are told).
    pub fn recall(
        &self,
        bank: BankCode,
        bank_tx_id: &str,
        now_ms: u64,
    ) -> Result<Option<RelayChange>, RelayRefusal> {
        let mut deposit = self
            .deposit_by_tx(bank, bank_tx_id)
            .cloned()
            .ok_or(RelayRefusal::NotFound("deposit"))?;
        if deposit.state == DepositState::Reversed {
            return Ok(None);
        }
        let credited_lease = matches!(
            deposit.state,
            DepositState::Matched | DepositState::Assigned
        )
        .then_some(deposit.lease)
        .flatten();
        deposit.state = DepositState::Reversed;
        deposit.settled_at_ms = Some(now_ms);
        let mut change = RelayChange::default();
        if let Some(lease) = credited_lease.and_then(|id| self.leases.get(&id)) {
            let mut lease = lease.clone();
            lease.paid_krw = lease.paid_krw.saturating_sub(deposit.credited_krw);
            lease.deposits.retain(|id| *id != deposit.id);
            // Only a lease the deposit completed or paid in part comes back to life; an
            // EXPIRED or CANCELLED one keeps its state, the credit taken back (review).
            let was_completed = lease.state == LeaseState::Completed;
            if matches!(lease.state, LeaseState::Completed | LeaseState::Partial) {
                lease.state = if lease.paid_krw > 0 {
                    LeaseState::Partial
                } else {
                    LeaseState::Open
                };
            }
            if was_completed {
                let life = self
                    .partners
                    .get(&lease.partner)
                    .map_or(super::DEFAULT_LEASE_LIFE_MS, |p| p.lease_life_ms);
                lease.due_at_ms = now_ms.saturating_add(life);
                lease.closed_at_ms = None;
                // Its own VA only if no other lease had it since (D-2.21: "if the VA has
                // been leased again, the lease gets a new VA"; D-2.7).
                let own = self
                    .va(lease.bank, &lease.va_no)
                    .filter(|va| va.lease == Some(lease.id) && va.state != VaState::Retired);
                let partner = self.partners.get(&lease.partner);
                let va = own.or_else(|| {
                    partner.and_then(|p| self.pick(p, lease.bank, &lease.region, now_ms))
                });
                // None free: the lease stays live on its old number, which is not its
                // VA any more: no deposit reaches it, a repeat is refused
                // (`open_lease_for`), and it expires at its due date.
                if let Some(va) = va {
                    lease.va_no = va.va_no.clone();
                    change.vas.push(va.leased(lease.id));
                }
            }
            change.lease = Some(lease);
        }
        change.deposit = Some(deposit);
        Ok(Some(change))
    }

    // ---- applying ----

    /// Applies a change that is durable (or replayed from the log).
    pub fn apply(&mut self, change: &RelayChange) {
        if let Some(partner) = &change.partner {
            self.partners.insert(partner.id.clone(), partner.clone());
        }
        for va in &change.vas {
            let pool = (va.partner.clone(), va.bank, va.region.clone());
            if let Some(old) = self.vas.get(&(va.bank, va.va_no.clone())) {
                let (never, at, no) = old.pick_order();
                let key = (never, at, no.clone());
                if let Some(free) = self.free.get_mut(&pool) {
                    free.remove(&key);
                }
            }
            if matches!(va.state, VaState::Available | VaState::Cooling) {
                let (never, at, no) = va.pick_order();
                let key = (never, at, no.clone());
                self.free.entry(pool.clone()).or_default().insert(key);
            }
            self.pools.entry(pool).or_default().insert(va.va_no.clone());
            self.vas.insert((va.bank, va.va_no.clone()), va.clone());
        }
        if let Some(lease) = &change.lease {
            if let Some(old) = self.leases.get(&lease.id) {
                self.live_by_due.remove(&(old.due_at_ms, old.id));
            }
            if lease.state.is_live() {
                self.live_by_due.insert((lease.due_at_ms, lease.id));
            }
            let order = (lease.partner.clone(), lease.order_no.clone());
            if self.orders.get(&order).is_none_or(|id| *id <= lease.id) {
                self.orders.insert(order, lease.id);
            }
            self.next_lease = self.next_lease.max(lease.id.0 + 1);
            self.leases.insert(lease.id, lease.clone());
        }
        if let Some(deposit) = &change.deposit {
            self.by_tx
                .insert((deposit.bank, deposit.bank_tx_id.clone()), deposit.id);
            self.next_deposit = self.next_deposit.max(deposit.id.0 + 1);
            self.deposits.insert(deposit.id, deposit.clone());
        }
    }

    /// The whole book as one change (a snapshot's part); applying it to an empty book
    /// rebuilds this one.
    pub fn snapshot(&self) -> RelaySnapshot {
        RelaySnapshot {
            partners: self.partners.values().cloned().collect(),
            vas: self.vas.values().cloned().collect(),
            leases: self.leases.values().cloned().collect(),
            deposits: self.deposits.values().cloned().collect(),
        }
    }

    pub fn from_snapshot(snapshot: &RelaySnapshot) -> Self {
        let mut book = RelayBook::default();
        for partner in &snapshot.partners {
            book.partners.insert(partner.id.clone(), partner.clone());
        }
        book.apply(&RelayChange {
            vas: snapshot.vas.clone(),
            ..RelayChange::default()
        });
        for lease in &snapshot.leases {
            book.apply(&RelayChange {
                lease: Some(lease.clone()),
                ..RelayChange::default()
            });
        }
        for deposit in &snapshot.deposits {
            book.apply(&RelayChange {
                deposit: Some(deposit.clone()),
                ..RelayChange::default()
            });
        }
        book
    }

    pub fn is_empty(&self) -> bool {
        self.partners.is_empty()
    }
}

/// The relay's part of a shard's snapshot.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct RelaySnapshot {
    pub partners: Vec<Partner>,
    pub vas: Vec<VirtualAccount>,
    pub leases: Vec<Lease>,
    pub deposits: Vec<Deposit>,
}
