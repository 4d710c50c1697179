//! The simulation's virtual-account relay (issue 15; INSTRUMENTS.md §2, §6.7): two
//! partners in mode A, each with a pool of VAs at bank 004 opened through the simulated
//! bank (S10). About one operation in six also leases a VA to a new order (exact or
//! accumulate), cancels an open lease, or has a payer pay at the bank: the right amount,
//! a short one, or into a VA nobody leased. Each notice the bank hands back is delivered
//! once, twice (a duplicate), later (after other operations and crashes), or never (a
//! lost notice); all under the seed's crashes and the clock's moves by hours, which expire
//! leases. Once the rails heal, the late notices are delivered and the relay is reconciled
//! with the bank's statement (D-2.15). Then:
//!
//! - every deposit the bank posted is on record exactly once, by (bank, `bank_tx_id`), and
//!   the lost ones are marked late (D-2.12, D-2.15);
//! - a deposit is matched at most once and is either credited to its lease or held in
//!   suspense, never both (§6.7.4); a lease's paid amount is the sum of its deposits'
//!   credits, and a COMPLETED exact lease was paid exactly its amount;
//! - a VA has at most one open lease (§6.7.4): no two live leases share a VA, and the
//!   pools count as leased exactly the live leases;
//! - every lease answered is found again with the same VA, order and amount.
//!
//! Mode A moves no money, so §6.7.5 (the merchant's account) has nothing to check yet.

use std::collections::{BTreeMap, BTreeSet};

use omnibus_actors::rails::sim::Simulator;
use omnibus_actors::{Engine, EngineError};
use omnibus_core::payments::relay::{
    DepositNotice, DepositState, Lease, LeaseId, LeaseRequest, LeaseState, MatchMode, Partner,
    PartnerId, PartnerMode, PoolSpec, Region, VaNo,
};
use omnibus_core::BankCode;
use rand::{rngs::StdRng, Rng, SeedableRng};

const POOL: u32 = 40;

fn bank() -> BankCode {
    BankCode::new("004").unwrap()
}

fn partners() -> [PartnerId; 2] {
    [PartnerId::new("pa").unwrap(), PartnerId::new("pb").unwrap()]
}

fn tolerated(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Refusal { .. } | EngineError::Overloaded(_) | EngineError::ShuttingDown
    )
}

pub struct Deposits {
    rng: StdRng,
    /// Every lease answered, as first answered.
    leases: BTreeMap<(PartnerId, LeaseId), Lease>,
    /// Notices held back, to be delivered later.
    late: Vec<DepositNotice>,
    pub notices: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub leased: u64,
}

impl Deposits {
    pub fn new(seed: u64) -> Deposits {
        Deposits {
            rng: StdRng::seed_from_u64(seed ^ 0xdead_0a0a),
            leases: BTreeMap::new(),
            late: Vec::new(),
            notices: 0,
            lost: 0,
            duplicated: 0,
            leased: 0,
        }
    }

    /// The partners and their pools (S10), once, before the operations.
    pub fn open(&mut self, rt: &tokio::runtime::Runtime, engine: &Engine, seed: u64) {
        for id in partners() {
            let mut partner = Partner::new(id.clone(), PartnerMode::A);
            partner.pools = vec![PoolSpec {
                bank: bank(),
                region: Region::any(),
                target: POOL,
                real_time: false,
            }];
            partner.cooldown_ms = 2 * 86_400_000;
            let setup = rt
                .block_on(engine.set_partner(partner))
                .unwrap_or_else(|e| panic!("seed {seed}: partner {id}: {e}"));
            assert_eq!(
                setup.pools[0].1.size, POOL,
                "seed {seed}: S10 filled {id}'s pool"
            );
        }
    }

    fn deliver(
        &mut self,
        rt: &tokio::runtime::Runtime,
        engine: &Engine,
        notice: DepositNotice,
        seed: u64,
    ) {
        self.notices += 1;
        match rt.block_on(engine.va_deposit(notice, false)) {
            Ok(_) => {}
            Err(e) if tolerated(&e) => {}
            Err(e) => panic!("seed {seed}: a notice: {e}"),
        }
    }

    /// Maybe a relay operation before operation `op_index`.
    pub fn step(
        &mut self,
        rt: &tokio::runtime::Runtime,
        engine: &Engine,
        sim: &Simulator,
        seed: u64,
        op_index: u64,
    ) {
        if self.rng.random_range(0..6) != 0 {
            return;
        }
        let partner = partners()[self.rng.random_range(0..2)].clone();
        let live: Vec<Lease> = self
            .leases
            .values()
            .filter(|l| l.partner == partner)
            .cloned()
            .collect();
        match self.rng.random_range(0..10) {
            0..=3 => {
                let accumulate = self.rng.random_range(0..4) == 0;
                let request = LeaseRequest {
                    partner: partner.clone(),
                    order_no: format!("O{seed}-{op_index}"),
                    customer: "SIM PAYER".into(),
                    bank: bank(),
                    region: Region::any(),
                    match_mode: accumulate.then_some(MatchMode::Accumulate),
                    expected_krw: Some(self.rng.random_range(1_000..=100_000)),
                    min_krw: None,
                    max_krw: None,
                    due_at_ms: None,
                };
                match rt.block_on(engine.va_lease(request)) {
                    Ok(lease) => {
                        self.leased += 1;
                        self.leases.insert((partner, lease.id), lease);
                    }
                    Err(e) if tolerated(&e) => {}
                    Err(e) => panic!("seed {seed}: a lease: {e}"),
                }
            }
            4 if !live.is_empty() => {
                let lease = &live[self.rng.random_range(0..live.len())];
                match rt.block_on(engine.va_cancel(&partner, lease.id)) {
                    Ok(_) => {}
                    Err(e) if tolerated(&e) => {}
                    Err(e) => panic!("seed {seed}: a cancel: {e}"),
                }
            }
            _ => {
                // A payer pays at the bank: mostly a leased VA's amount, sometimes short,
                // sometimes into a VA of the pool nobody may have leased.
                let (va, amount) = match (live.is_empty(), self.rng.random_range(0..10)) {
                    (false, 0..=6) => {
                        let lease = &live[self.rng.random_range(0..live.len())];
                        let expected = lease.expected_krw.unwrap_or(1_000);
                        (lease.va_no.clone(), expected)
                    }
                    (false, 7) => {
                        let lease = &live[self.rng.random_range(0..live.len())];
                        (
                            lease.va_no.clone(),
                            lease.expected_krw.unwrap_or(2_000) / 2 + 1,
                        )
                    }
                    _ => {
                        let n = self.rng.random_range(1..=2 * POOL);
                        (VaNo::new(&format!("004{n:07}")).unwrap(), 5_000)
                    }
                };
                let Some(notice) =
                    sim.va_deposit(bank(), &va, amount, "SIM PAYER", engine.now_ms())
                else {
                    return;
                };
                match self.rng.random_range(0..8) {
                    0 => self.lost += 1,
                    1 => self.late.push(notice),
                    2 => {
                        self.duplicated += 1;
                        self.deliver(rt, engine, notice.clone(), seed);
                        self.deliver(rt, engine, notice, seed);
                    }
                    _ => self.deliver(rt, engine, notice, seed),
                }
                if !self.late.is_empty() && self.rng.random_range(0..4) == 0 {
                    let notice = self.late.remove(0);
                    self.deliver(rt, engine, notice, seed);
                }
            }
        }
    }

    /// Once the rails heal: the late notices, then the reconciliation with the bank's
    /// statement, which brings the lost ones.
    pub fn finish(&mut self, rt: &tokio::runtime::Runtime, engine: &Engine, seed: u64) {
        for notice in std::mem::take(&mut self.late) {
            self.deliver(rt, engine, notice, seed);
        }
        let report = rt
            .block_on(engine.va_reconcile(bank(), 0, u64::MAX))
            .unwrap_or_else(|e| panic!("seed {seed}: the reconciliation: {e}"));
        assert_eq!(
            report.unknown_va, 0,
            "seed {seed}: every VA paid is the relay's"
        );
    }

    pub fn check(&self, rt: &tokio::runtime::Runtime, engine: &Engine, sim: &Simulator, seed: u64) {
        let posted: BTreeSet<String> = sim
            .va_deposits()
            .into_iter()
            .filter(|d| d.bank == bank())
            .map(|d| d.bank_tx_id)
            .collect();
        let mut on_record = BTreeSet::new();
        let mut credited: BTreeMap<(PartnerId, LeaseId), u64> = BTreeMap::new();
        for partner in partners() {
            let deposits = rt
                .block_on(engine.va_history(&partner, None, None, 0, u64::MAX, usize::MAX))
                .unwrap();
            for d in deposits {
                assert!(
                    on_record.insert(d.bank_tx_id.clone()),
                    "seed {seed}: deposit {} on record twice",
                    d.bank_tx_id
                );
                match d.state {
                    DepositState::Matched | DepositState::Assigned => {
                        let lease = d.lease.expect("a matched deposit names its lease");
                        *credited.entry((partner.clone(), lease)).or_default() += d.credited_krw;
                        assert_eq!(
                            d.credited_krw + d.excess_krw,
                            d.amount_krw,
                            "seed {seed}: {} is credited or in suspense, all of it",
                            d.bank_tx_id
                        );
                    }
                    state => {
                        assert!(
                            d.lease.is_none() && d.credited_krw == 0,
                            "seed {seed}: {state:?} credited"
                        );
                    }
                }
            }
        }
        assert_eq!(
            on_record, posted,
            "seed {seed}: every posted deposit is on record once"
        );
        let mut vas_live = BTreeSet::new();
        let mut live_by_partner: BTreeMap<PartnerId, u32> = BTreeMap::new();
        for ((partner, id), first) in &self.leases {
            let lease = rt
                .block_on(engine.va_lease_of(partner, *id))
                .unwrap_or_else(|e| panic!("seed {seed}: lease {id} answered, now {e}"));
            assert_eq!(
                (&lease.va_no, &lease.order_no, lease.expected_krw),
                (&first.va_no, &first.order_no, first.expected_krw),
                "seed {seed}: lease {id} changed"
            );
            let paid = credited.get(&(partner.clone(), *id)).copied().unwrap_or(0);
            assert_eq!(lease.paid_krw, paid, "seed {seed}: lease {id}'s deposits");
            if lease.state == LeaseState::Completed && lease.match_mode == MatchMode::Exact {
                assert_eq!(
                    Some(paid),
                    lease.expected_krw,
                    "seed {seed}: lease {id} paid exactly"
                );
            }
            if lease.state.is_live() {
                assert!(
                    vas_live.insert(lease.va_no.clone()),
                    "seed {seed}: VA {} has two open leases",
                    lease.va_no
                );
                *live_by_partner.entry(partner.clone()).or_default() += 1;
            }
        }
        for partner in partners() {
            let pools = rt.block_on(engine.va_pools(&partner)).unwrap();
            let leased: u32 = pools.iter().map(|(_, s)| s.leased).sum();
            // Leases answered to a caller a crash cut off are live too, unknown here.
            assert!(
                leased >= live_by_partner.get(&partner).copied().unwrap_or(0),
                "seed {seed}: {partner}'s pool counts {leased} leased"
            );
        }
    }
}
