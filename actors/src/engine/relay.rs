//! The virtual-account relay of seed 001(b) on the engine (INSTRUMENTS.md §2): a partner
//! and its pools live in the partner's shard (a hash of its id); a VA notice goes to the
//! shard that holds the VA, found in `va_index` (filled as VAs are granted; after a
//! restart, a VA not in it yet is looked for in every shard once). The shard decides and
//! writes (`shard/relay.rs`); this file makes the banks' calls around it: S10 openings,
//! real-time numbering, the daily statement.
//!
//! Mode A only so far: omnibus records the deposits and moves no money. A partner in
//! mode B or C is refused until the credits of §2.7 (V-b2, V-c2, V-s, V-r, V-x) are built
//! (docs/relay.md).

use std::fmt;
use std::time::Duration;

use omnibus_core::ids::BankCode;
use omnibus_core::payments::relay::book::PoolStatus;
use omnibus_core::payments::relay::{
    CollectionStatement, Deposit, DepositId, DepositNotice, Lease, LeaseId, LeaseRequest, Partner,
    PartnerId, PartnerMode, PoolSpec, VaNo,
};
use omnibus_core::payments::RefusalCode;

use super::Engine;
use crate::error::EngineError;
use crate::rails::VaOpening;
use crate::shard::{RelayAnswer, RelayCommand, RelayOp};

/// A deposit's id across the engine: its partner's shard and its number there,
/// `vd_<shard>_<n>` in the API (the id a partner de-duplicates its notices by).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DepositRef {
    pub shard: u16,
    pub id: DepositId,
}

impl DepositRef {
    pub fn parse(text: &str) -> Option<Self> {
        let (shard, n) = text.strip_prefix("vd_")?.split_once('_')?;
        Some(DepositRef {
            shard: shard.parse().ok()?,
            id: DepositId(n.parse().ok()?),
        })
    }
}

impl fmt::Display for DepositRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vd_{}_{}", self.shard, self.id.0)
    }
}

/// A partner as configured, with the D-2.9 warnings and its pools after the S10 top-up.
#[derive(Clone, Debug)]
pub struct PartnerSetup {
    pub partner: Partner,
    pub warnings: Vec<String>,
    pub pools: Vec<(PoolSpec, PoolStatus)>,
}

/// A deposit as the relay holds it after a notice.
#[derive(Clone, Debug)]
pub struct DepositReceipt {
    pub id: DepositRef,
    pub deposit: Deposit,
    /// The same (bank, `bank_tx_id`) was noticed before: nothing changed.
    pub duplicate: bool,
    /// Its lease after the match, if it matched one.
    pub lease: Option<Lease>,
}

/// What one reconciliation against a bank's statement found (D-2.15).
#[derive(Clone, Debug, Default)]
pub struct VaReconciliation {
    /// Deposits on the statement that no notice had brought: ingested now, marked late.
    pub ingested: Vec<DepositReceipt>,
    /// Deposits on the statement the relay had already.
    pub known: usize,
    /// Deposits on the statement for a VA no shard holds.
    pub unknown_va: usize,
}

fn unexpected(answer: RelayAnswer) -> EngineError {
    EngineError::Internal(format!("the relay answered {answer:?}"))
}

fn rail_unavailable(what: impl fmt::Display) -> EngineError {
    EngineError::refusal(RefusalCode::RailUnavailable, what.to_string())
}

impl Engine {
    /// The shard that holds a partner's pools and leases: FNV-1a of its id.
    pub fn shard_of_partner(&self, partner: &PartnerId) -> u16 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in partner.as_str().bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        (hash % u64::from(self.shard_count())) as u16
    }

    async fn relay(&self, shard: u16, op: RelayOp) -> Result<RelayAnswer, EngineError> {
        self.ask(shard, |reply| RelayCommand { op, reply }).await
    }

    fn va_timeout(&self) -> Duration {
        Duration::from_millis(self.config().rails.va_bank.timeout_ms)
    }

    /// Configures a partner (new or changed) and tops its pools up from its banks (S10).
    /// Refused `INVALID_REQUEST` for a partner D-2.1 or D-2.9 rejects: in mode B, one
    /// that names no active onboarded merchant, or a pool at a bank where omnibus keeps
    /// no `va_parent` (booked as the withdrawal firm parent account, `banks.withdrawal_firm`
    /// in the configuration); and for mode C, which is not built yet.
    pub async fn set_partner(&self, partner: Partner) -> Result<PartnerSetup, EngineError> {
        let invalid = |why: String| EngineError::refusal(RefusalCode::InvalidRequest, why);
        match partner.mode {
            PartnerMode::A if partner.merchant.is_some() => {
                return Err(invalid(
                    "a partner in mode A keeps its money in its own account and names no merchant".into(),
                ))
            }
            PartnerMode::A => {}
            PartnerMode::B => {
                let Some(no) = partner.merchant else {
                    return Err(invalid(
                        "a partner in mode B collects for an onboarded merchant: merchant_id is required (D-2.1)".into(),
                    ));
                };
                let active = self
                    .merchant_id_of(no)
                    .and_then(|id| self.merchant(id))
                    .is_some_and(|m| m.merchant.status == omnibus_core::payments::merchant::MerchantStatus::Active);
                if !active {
                    return Err(invalid(format!(
                        "merchant {no} is not an active onboarded merchant (D-2.1)"
                    )));
                }
                let banks = &self.config().banks.withdrawal_firm;
                if let Some(pool) = partner.pools.iter().find(|p| !banks.contains(&p.bank)) {
                    return Err(invalid(format!(
                        "pool {} {}: omnibus keeps no va_parent at bank {} (its withdrawal firm account, banks.withdrawal_firm)",
                        pool.bank, pool.region, pool.bank
                    )));
                }
            }
            PartnerMode::C => {
                return Err(invalid(
                    "mode C (deposits that charge a customer's balance) is not built yet (docs/relay.md)".into(),
                ))
            }
        }
        let max = self.config().payments.va_pool_target_max;
        if let Some(pool) = partner.pools.iter().find(|p| p.target > max) {
            return Err(EngineError::refusal(
                RefusalCode::InvalidRequest,
                format!(
                    "pool {} {}: a target of {} is over payments.va_pool_target_max ({max})",
                    pool.bank, pool.region, pool.target
                ),
            ));
        }
        let shard = self.shard_of_partner(&partner.id);
        let id = partner.id.clone();
        let (partner, warnings) = match self.relay(shard, RelayOp::SetPartner(partner)).await? {
            RelayAnswer::Partner { partner, warnings } => (partner, warnings),
            other => return Err(unexpected(other)),
        };
        for warning in &warnings {
            tracing::warn!(partner = %id, "{warning}");
        }
        self.replenish_pools(&id).await?;
        Ok(PartnerSetup {
            partner,
            warnings,
            pools: self.va_pools(&id).await?,
        })
    }

    /// A partner's pools and how each stands now.
    pub async fn va_pools(
        &self,
        partner: &PartnerId,
    ) -> Result<Vec<(PoolSpec, PoolStatus)>, EngineError> {
        match self
            .relay(
                self.shard_of_partner(partner),
                RelayOp::Pools(partner.clone()),
            )
            .await?
        {
            RelayAnswer::Pools(pools) => Ok(pools),
            other => Err(unexpected(other)),
        }
    }

    pub async fn partner(&self, partner: &PartnerId) -> Result<Partner, EngineError> {
        match self
            .relay(
                self.shard_of_partner(partner),
                RelayOp::Partner(partner.clone()),
            )
            .await?
        {
            RelayAnswer::Partner { partner, .. } => Ok(partner),
            other => Err(unexpected(other)),
        }
    }

    /// The pool replenisher (S10, D-2.9): asks each bank for the VAs a pool lacks while
    /// its free VAs are below the low watermark. A bank that does not answer within
    /// `rails.va_bank.timeout_ms`, or refuses, is asked again at the next call. Answers
    /// how many VAs were granted.
    pub async fn replenish_pools(&self, partner: &PartnerId) -> Result<u32, EngineError> {
        let shard = self.shard_of_partner(partner);
        let mut granted = 0;
        let batch = self.config().payments.va_grant_batch_max;
        for (pool, status) in self.va_pools(partner).await? {
            let mut missing = status.top_up();
            while missing > 0 {
                let count = missing.min(batch);
                let opening = VaOpening {
                    bank: pool.bank,
                    partner: partner.clone(),
                    region: pool.region.clone(),
                    count,
                };
                let asked = self.inner.rails.va_bank.open_virtual_accounts(opening);
                let numbers = match tokio::time::timeout(self.va_timeout(), asked).await {
                    Ok(Ok(numbers)) => numbers,
                    Ok(Err(e)) => {
                        tracing::warn!(%partner, bank = %pool.bank, error = %e, "the bank did not open virtual accounts");
                        break;
                    }
                    Err(_) => {
                        tracing::warn!(%partner, bank = %pool.bank, "the bank's virtual-account opening timed out");
                        break;
                    }
                };
                let op = RelayOp::Grant {
                    partner: partner.clone(),
                    bank: pool.bank,
                    region: pool.region.clone(),
                    numbers: numbers.clone(),
                };
                self.relay(shard, op).await?;
                for no in numbers {
                    self.inner.va_index.insert((pool.bank, no), shard);
                }
                granted += count;
                missing -= count;
                tracing::info!(%partner, bank = %pool.bank, region = %pool.region, count, "virtual accounts granted (S12)");
            }
        }
        Ok(granted)
    }

    /// S16–S20: a VA for an order. The lease is durable before it is answered, so a crash
    /// can never lease one VA twice. An empty pool falls back to the bank's real-time
    /// numbering where it is on (D-2.9), else `NO_VIRTUAL_ACCOUNT_AVAILABLE`.
    pub async fn va_lease(&self, request: LeaseRequest) -> Result<Lease, EngineError> {
        let shard = self.shard_of_partner(&request.partner);
        match self.relay(shard, RelayOp::Lease(request.clone())).await? {
            RelayAnswer::Lease(lease) => Ok(lease),
            RelayAnswer::RealTime => {
                let why = format!(
                    "no virtual account is free at bank {}, region {}, and the bank does not number one in real time",
                    request.bank, request.region
                );
                let refused =
                    move || EngineError::refusal(RefusalCode::NoVirtualAccountAvailable, why);
                if !self.inner.rails.va_bank.supports_real_time(request.bank) {
                    return Err(refused());
                }
                let opening = VaOpening {
                    bank: request.bank,
                    partner: request.partner.clone(),
                    region: request.region.clone(),
                    count: 1,
                };
                let asked = self.inner.rails.va_bank.number_in_real_time(opening);
                let no = match tokio::time::timeout(self.va_timeout(), asked).await {
                    Ok(Ok(no)) => no,
                    Ok(Err(e)) => return Err(rail_unavailable(e)),
                    Err(_) => {
                        return Err(rail_unavailable(format!(
                            "bank {}'s real-time numbering did not answer",
                            request.bank
                        )))
                    }
                };
                self.inner
                    .va_index
                    .insert((request.bank, no.clone()), shard);
                match self
                    .relay(shard, RelayOp::LeaseRealTime(request, no))
                    .await?
                {
                    RelayAnswer::Lease(lease) => Ok(lease),
                    RelayAnswer::RealTime => Err(refused()),
                    other => Err(unexpected(other)),
                }
            }
            other => Err(unexpected(other)),
        }
    }

    pub async fn va_lease_of(
        &self,
        partner: &PartnerId,
        lease: LeaseId,
    ) -> Result<Lease, EngineError> {
        let op = RelayOp::LeaseOf {
            partner: partner.clone(),
            lease,
        };
        match self.relay(self.shard_of_partner(partner), op).await? {
            RelayAnswer::Lease(lease) => Ok(lease),
            other => Err(unexpected(other)),
        }
    }

    /// D-2.18: the partner cancels an OPEN lease; its VA cools. A repeat answers the
    /// cancelled lease.
    pub async fn va_cancel(
        &self,
        partner: &PartnerId,
        lease: LeaseId,
    ) -> Result<Lease, EngineError> {
        let op = RelayOp::Cancel {
            partner: partner.clone(),
            lease,
        };
        match self.relay(self.shard_of_partner(partner), op).await? {
            RelayAnswer::Lease(lease) => Ok(lease),
            other => Err(unexpected(other)),
        }
    }

    /// The shard that holds VA (bank, number): from the index, else asked of every shard
    /// (after a restart), else `NOT_FOUND`.
    async fn shard_of_va(&self, bank: BankCode, va_no: &VaNo) -> Result<u16, EngineError> {
        if let Some(shard) = self.inner.va_index.get(&(bank, va_no.clone())) {
            return Ok(*shard);
        }
        for shard in 0..self.shard_count() {
            let op = RelayOp::Knows {
                bank,
                va_no: va_no.clone(),
            };
            if let RelayAnswer::Knows(true) = self.relay(shard, op).await? {
                self.inner.va_index.insert((bank, va_no.clone()), shard);
                return Ok(shard);
            }
        }
        Err(EngineError::refusal(
            RefusalCode::NotFound,
            format!("no virtual account {va_no} at bank {bank}"),
        ))
    }

    /// S22–S30: a bank's deposit notice, written to `va_deposit_log` with its match
    /// before anything else is done with it; a repeat of (bank, `bank_tx_id`) answers the
    /// deposit on record and changes nothing (D-2.12). `late`: found by the
    /// reconciliation, not noticed (D-2.15).
    pub async fn va_deposit(
        &self,
        notice: DepositNotice,
        late: bool,
    ) -> Result<DepositReceipt, EngineError> {
        let shard = self.shard_of_va(notice.bank, &notice.va_no).await?;
        let answer = self.relay(shard, RelayOp::Deposit { notice, late }).await?;
        let receipt = Self::receipt(shard, answer)?;
        if !receipt.duplicate {
            tracing::info!(deposit = %receipt.id, state = ?receipt.deposit.state, partner = %receipt.deposit.partner, "virtual-account deposit");
        }
        Ok(receipt)
    }

    /// D-2.5: whether a deposit of `amount_krw` into VA (bank, number) would be matched
    /// (the VA is leased and its lease's amount rule holds); the reason if not.
    pub async fn va_deposit_check(
        &self,
        bank: BankCode,
        va_no: &VaNo,
        amount_krw: u64,
    ) -> Result<Result<(), String>, EngineError> {
        let shard = match self.shard_of_va(bank, va_no).await {
            Ok(shard) => shard,
            Err(EngineError::Refusal {
                code: RefusalCode::NotFound,
                ..
            }) => return Ok(Err("the virtual account is not one of the relay's".into())),
            Err(e) => return Err(e),
        };
        let op = RelayOp::Check {
            bank,
            va_no: va_no.clone(),
            amount_krw,
        };
        match self.relay(shard, op).await? {
            RelayAnswer::Checked(verdict) => Ok(verdict),
            other => Err(unexpected(other)),
        }
    }

    fn receipt(shard: u16, answer: RelayAnswer) -> Result<DepositReceipt, EngineError> {
        match answer {
            RelayAnswer::Deposit {
                deposit,
                duplicate,
                lease,
            } => Ok(DepositReceipt {
                id: DepositRef {
                    shard,
                    id: deposit.id,
                },
                deposit,
                duplicate,
                lease,
            }),
            other => Err(unexpected(other)),
        }
    }

    /// D-2.21: the bank recalls a deposit. A repeat changes nothing (`duplicate`).
    pub async fn va_recall(
        &self,
        bank: BankCode,
        bank_tx_id: &str,
    ) -> Result<DepositReceipt, EngineError> {
        for shard in 0..self.shard_count() {
            let op = RelayOp::Recall {
                bank,
                bank_tx_id: bank_tx_id.to_owned(),
            };
            match self.relay(shard, op).await {
                Ok(answer) => return Self::receipt(shard, answer),
                Err(EngineError::Refusal {
                    code: RefusalCode::NotFound,
                    ..
                }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(EngineError::refusal(
            RefusalCode::NotFound,
            format!("no deposit {bank_tx_id:?} of bank {bank}"),
        ))
    }

    pub async fn va_deposit_of(&self, id: DepositRef) -> Result<DepositReceipt, EngineError> {
        self.check_shard(id.shard)?;
        let answer = self.relay(id.shard, RelayOp::DepositOf(id.id)).await?;
        Self::receipt(id.shard, answer)
    }

    fn check_shard(&self, shard: u16) -> Result<(), EngineError> {
        if shard < self.shard_count() {
            Ok(())
        } else {
            Err(EngineError::refusal(
                RefusalCode::NotFound,
                "no such deposit",
            ))
        }
    }

    /// D-2.4: operations assign a suspense deposit to an open lease of its partner.
    pub async fn va_assign(
        &self,
        id: DepositRef,
        lease: LeaseId,
    ) -> Result<DepositReceipt, EngineError> {
        self.check_shard(id.shard)?;
        let op = RelayOp::Assign {
            deposit: id.id,
            lease,
        };
        let answer = self.relay(id.shard, op).await?;
        Self::receipt(id.shard, answer)
    }

    /// D-2.4: operations refund a suspense deposit to its payer. In mode A the money is in
    /// the partner's own account: this records that the partner settled it.
    pub async fn va_refund(&self, id: DepositRef) -> Result<DepositReceipt, EngineError> {
        self.check_shard(id.shard)?;
        match self
            .relay(id.shard, RelayOp::Refund { deposit: id.id })
            .await?
        {
            RelayAnswer::Unchanged => self.va_deposit_of(id).await,
            answer => Self::receipt(id.shard, answer),
        }
    }

    /// S32: a partner's collection statement over [`from_ms`, `to_ms`).
    pub async fn va_collection(
        &self,
        partner: &PartnerId,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<CollectionStatement, EngineError> {
        let op = RelayOp::Collection {
            partner: partner.clone(),
            from_ms,
            to_ms,
        };
        match self.relay(self.shard_of_partner(partner), op).await? {
            RelayAnswer::Collection(statement) => Ok(*statement),
            other => Err(unexpected(other)),
        }
    }

    /// 3DB for disputes (D-2.17): a partner's deposits by VA, order or period, at most
    /// `limit` (cut to `payments.va_history_list_max`).
    pub async fn va_history(
        &self,
        partner: &PartnerId,
        va_no: Option<VaNo>,
        order_no: Option<String>,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<Deposit>, EngineError> {
        let max = self.config().payments.va_history_list_max as usize;
        let op = RelayOp::History {
            partner: partner.clone(),
            va_no,
            order_no,
            from_ms,
            to_ms,
            limit: limit.min(max),
        };
        match self.relay(self.shard_of_partner(partner), op).await? {
            RelayAnswer::History(found) => Ok(found),
            other => Err(unexpected(other)),
        }
    }

    /// D-2.15: reconciles the relay against `bank`'s statement of deposits with `at_ms`
    /// in [`from_ms`, `to_ms`): each deposit no notice brought is ingested as a late
    /// notice.
    pub async fn va_reconcile(
        &self,
        bank: BankCode,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<VaReconciliation, EngineError> {
        let asked = self
            .inner
            .rails
            .va_bank
            .daily_statement(bank, from_ms, to_ms);
        let lines = match tokio::time::timeout(self.va_timeout(), asked).await {
            Ok(Ok(lines)) => lines,
            Ok(Err(e)) => return Err(rail_unavailable(e)),
            Err(_) => {
                return Err(rail_unavailable(format!(
                    "bank {bank}'s statement did not come"
                )))
            }
        };
        let mut report = VaReconciliation::default();
        for notice in lines {
            match self.va_deposit(notice, true).await {
                Ok(receipt) if receipt.duplicate => report.known += 1,
                Ok(receipt) => {
                    tracing::warn!(deposit = %receipt.id, "a deposit no notice brought, ingested from the bank's statement (D-2.15)");
                    report.ingested.push(receipt);
                }
                Err(EngineError::Refusal {
                    code: RefusalCode::NotFound,
                    ..
                }) => report.unknown_va += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }
}
