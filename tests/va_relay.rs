//! The virtual-account relay of seed 001(b) (issue 15; INSTRUMENTS.md §2.6's worked
//! examples, over the engine's API; the endpoints of §2.7 are walked in
//! `va_relay_http.rs`).
//!
//! Fixture (§2.6), with one deviation: partner P is in mode A (the patent: the deposits
//! land in P's own representative accounts and omnibus moves no money), because the
//! credits of modes B and C are not built yet; the examples' postings are therefore not
//! checked, only the relay's states and answers. P's pools: bank K (004) region SEOUL,
//! 100 VAs `0040000001…0040000100` (the simulated bank numbers them so), and bank S (088)
//! region BUSAN, 50 VAs `0880000001…0880000050`, none leased before; leases due after
//! 72 h, exact, cooling 30 days. The engine runs on a clock moved by hand. Deposits are
//! made at the simulated bank (`Simulator::va_deposit`), which hands back the notice the
//! test then delivers, once, twice or never.

mod support;

use std::sync::Arc;

use omnibus_actors::rails::sim::Simulator;
use omnibus_actors::{Engine, EngineParts, ManualClock};
use omnibus_core::payments::relay::{
    DepositNotice, DepositState, LeaseRequest, LeaseState, MatchMode, Partner, PartnerId,
    PartnerMode, PoolSpec, Region, VaNo,
};
use omnibus_core::payments::RefusalCode;
use omnibus_core::BankCode;
use support::cards::{refusal_code, QUICK};
use support::*;

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;
const T0: u64 = 1_800_000_000_000;

fn k() -> BankCode {
    BankCode::new("004").unwrap()
}
fn s() -> BankCode {
    BankCode::new("088").unwrap()
}
/// `K-0001` of §2.6 is `0040000001` here.
fn k_va(n: u32) -> VaNo {
    VaNo::new(&format!("004{n:07}")).unwrap()
}
fn s_va(n: u32) -> VaNo {
    VaNo::new(&format!("088{n:07}")).unwrap()
}
fn p() -> PartnerId {
    PartnerId::new("P").unwrap()
}
fn seoul() -> Region {
    Region::new("SEOUL").unwrap()
}
fn busan() -> Region {
    Region::new("BUSAN").unwrap()
}

struct World {
    engine: Engine,
    sim: Simulator,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

impl World {
    async fn lease(
        &self,
        order: &str,
        amount: u64,
        bank: BankCode,
    ) -> omnibus_core::payments::relay::Lease {
        self.engine
            .va_lease(request(order, amount, bank))
            .await
            .unwrap_or_else(|e| panic!("lease {order}: {e}"))
    }

    /// A payer deposits into `va` at the bank now; the notice, delivered.
    async fn pay(
        &self,
        bank: BankCode,
        va: &VaNo,
        amount: u64,
        name: &str,
    ) -> omnibus_actors::DepositReceipt {
        let notice = self.made(bank, va, amount, name);
        self.engine.va_deposit(notice, false).await.unwrap()
    }

    /// A payer deposits at the bank; the notice, not delivered yet.
    fn made(&self, bank: BankCode, va: &VaNo, amount: u64, name: &str) -> DepositNotice {
        self.sim
            .va_deposit(bank, va, amount, name, self.engine.now_ms())
            .expect("the bank opened that VA")
    }
}

fn request(order: &str, amount: u64, bank: BankCode) -> LeaseRequest {
    LeaseRequest {
        partner: p(),
        order_no: order.into(),
        customer: "김철수".into(),
        bank,
        region: if bank == k() { seoul() } else { busan() },
        match_mode: None,
        expected_krw: Some(amount),
        min_krw: None,
        max_krw: None,
        due_at_ms: None,
    }
}

fn partner(real_time_at_s: bool) -> Partner {
    let mut partner = Partner::new(p(), PartnerMode::A);
    partner.pools = vec![
        PoolSpec {
            bank: k(),
            region: seoul(),
            target: 100,
            real_time: false,
        },
        PoolSpec {
            bank: s(),
            region: busan(),
            target: 50,
            real_time: real_time_at_s,
        },
    ];
    partner
}

fn world(rt: &tokio::runtime::Runtime, real_time_at_s: bool) -> World {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 2, QUICK);
    let sim = Simulator::new(&config);
    let clock = Arc::new(ManualClock::new(T0));
    let engine = Engine::start_with(config, EngineParts::new(sim.rails(), clock.clone())).unwrap();
    let setup = rt
        .block_on(engine.set_partner(partner(real_time_at_s)))
        .unwrap();
    let sizes: Vec<_> = setup.pools.iter().map(|(_, s)| (s.size, s.free)).collect();
    assert_eq!(sizes, vec![(100, 100), (50, 50)], "S10 filled both pools");
    World {
        engine,
        sim,
        clock,
        _dir: dir,
    }
}

#[test]
fn lease_assigns_a_free_va_of_the_chosen_bank_and_region() {
    let rt = runtime();
    let w = world(&rt, false);
    rt.block_on(async {
        let l1 = w.lease("O-1001", 15_000, k()).await;
        assert_eq!((l1.va_no.clone(), l1.state), (k_va(1), LeaseState::Open));
        assert_eq!((l1.bank, l1.expected_krw), (k(), Some(15_000)));
        assert_eq!(l1.due_at_ms, T0 + 72 * HOUR);
        let pools = w.engine.va_pools(&p()).await.unwrap();
        assert_eq!(
            (pools[0].1.leased, pools[0].1.free),
            (1, 99),
            "1DB: K-0001 LEASED"
        );
        let read = w.engine.va_lease_of(&p(), l1.id).await.unwrap();
        assert_eq!(
            read, l1,
            "2DB: L1 OPEN with its VA, order, customer, amount, due date"
        );
    });
}

#[test]
fn leased_va_is_never_given_twice() {
    let rt = runtime();
    let w = world(&rt, false);
    rt.block_on(async {
        let l1 = w.lease("O-1001", 15_000, k()).await;
        let l2 = w.lease("O-1002", 20_000, k()).await;
        assert_eq!((l1.va_no, l2.va_no), (k_va(1), k_va(2)));
    });
}

#[test]
fn repeat_lease_for_same_order_returns_same_va() {
    let rt = runtime();
    let w = world(&rt, false);
    rt.block_on(async {
        let l1 = w.lease("O-1001", 15_000, k()).await;
        let again = w.lease("O-1001", 15_000, k()).await;
        assert_eq!(again, l1, "the same lease, no new one");
        let other = w
            .engine
            .va_lease(request("O-1001", 16_000, k()))
            .await
            .unwrap_err();
        assert_eq!(refusal_code(other), RefusalCode::IdempotencyConflict);
        assert_eq!(w.engine.va_pools(&p()).await.unwrap()[0].1.leased, 1);
    });
}

#[test]
fn exact_deposit_completes_lease_and_notifies_partner() {
    let rt = runtime();
    let w = world(&rt, false);
    rt.block_on(async {
        let l1 = w.lease("O-1001", 15_000, k()).await;
        let receipt = w.pay(k(), &k_va(1), 15_000, "김철수").await;
        let d = &receipt.deposit;
        assert_eq!(
            (d.state, d.lease, d.credited_krw),
            (DepositState::Matched, Some(l1.id), 15_000)
        );
        let lease = receipt.lease.clone().expect("the matched lease");
        assert_eq!(
            (lease.order_no.as_str(), lease.state),
            ("O-1001", LeaseState::Completed)
        );
        // 3DB: the deposit is on record for disputes, by VA and by order.
        let by_order = w
            .engine
            .va_history(&p(), None, Some("O-1001".into()), 0, u64::MAX, 10)
            .await
            .unwrap();
        assert_eq!(by_order, vec![d.clone()]);
        let pools = w.engine.va_pools(&p()).await.unwrap();
        assert_eq!(
            (pools[0].1.cooling, pools[0].1.leased),
            (1, 0),
            "K-0001 COOLING"
        );
        let paid = w
            .engine
            .va_lease(request("O-1001", 15_000, k()))
            .await
            .unwrap_err();
        assert_eq!(refusal_code(paid), RefusalCode::OrderAlreadyPaid);
    });
}

#[test]
fn duplicate_bank_notice_is_ignored() {
    let rt = runtime();
    let w = world(&rt, false);
    rt.block_on(async {
        w.lease("O-1001", 15_000, k()).await;
        let notice = w.made(k(), &k_va(1), 15_000, "김철수");
        let first = w.engine.va_deposit(notice.clone(), false).await.unwrap();
        let again = w.engine.va_deposit(notice, false).await.unwrap();
        assert!(!first.duplicate && again.duplicate);
        assert_eq!(
            (again.id, again.deposit.clone()),
            (first.id, first.deposit.clone())
        );
        let all = w
            .engine
            .va_history(&p(), None, None, 0, u64::MAX, 10)
            .await
            .unwrap();
        assert_eq!(all.len(), 1, "one deposit on record");
    });
}

#[test]
fn short_deposit_is_a_mismatch_held_in_suspense() {
    let rt = runtime();
    let w = world(&rt, false);
    rt.block_on(async {
        w.lease("O-1001", 15_000, k()).await;
        let l2 = w.lease("O-1002", 20_000, k()).await;
        let receipt = w.pay(k(), &k_va(2), 10_000, "김철수").await;
        assert_eq!(receipt.deposit.state, DepositState::Mismatch);
        assert_eq!(receipt.deposit.previous_lease, Some(l2.id));
        assert_eq!(
            w.engine.va_lease_of(&p(), l2.id).await.unwrap().state,
            LeaseState::Open
        );

        // In accumulate mode instead: PARTIAL, then COMPLETED with 20,000 in all.
        let mut acc = request("O-1003", 20_000, k());
        acc.match_mode = Some(MatchMode::Accumulate);
        let l3 = w.engine.va_lease(acc).await.unwrap();
        let first = w.pay(k(), &l3.va_no, 10_000, "김철수").await;
        assert_eq!(first.lease.unwrap().state, LeaseState::Partial);
        let second = w.pay(k(), &l3.va_no, 10_000, "김철수").await;
        let done = second.lease.unwrap();
        assert_eq!((done.state, done.paid_krw), (LeaseState::Completed, 20_000));
    });
}

#[test]
fn deposit_to_unleased_va_goes_to_suspense_and_is_refunded() {
    let rt = runtime();
    let w = world(&rt, false);
    rt.block_on(async {
        let mut notice = w.made(k(), &k_va(50), 5_000, "박영희");
        notice.depositor_account = Some("K-123-456".into());
        let receipt = w.engine.va_deposit(notice, false).await.unwrap();
        assert_eq!(
            (receipt.deposit.state, receipt.deposit.previous_lease),
            (DepositState::Unleased, None)
        );
        let refunded = w.engine.va_refund(receipt.id).await.unwrap();
        assert_eq!(refunded.deposit.state, DepositState::Refunded);
        let again = w.engine.va_refund(receipt.id).await.unwrap();
        assert_eq!(again.deposit, refunded.deposit, "a repeat changes nothing");
        let statement = w
            .engine
            .va_collection(&p(), T0 - DAY, T0 + DAY)
            .await
            .unwrap();
        assert_eq!(
            (statement.total_krw, statement.suspense_total_krw),
            (0, 5_000)
        );
    });
}

#[test]
fn expired_lease_frees_va_only_after_cooling() {
    let rt = runtime();
    let w = world(&rt, false);
    rt.block_on(async {
        w.lease("O-1001", 15_000, k()).await;
        w.lease("O-1002", 20_000, k()).await;
        let l3 = w.lease("O-1003", 10_000, k()).await;
        assert_eq!(l3.va_no, k_va(3));
        w.clock.advance_ms(72 * HOUR);
        let report = w.engine.supervise_once().await.unwrap();
        assert_eq!(report.leases_expired, 3);
        assert_eq!(
            w.engine.va_lease_of(&p(), l3.id).await.unwrap().state,
            LeaseState::Expired
        );
        let expired_at = T0 + 72 * HOUR;
        // Day 5: UNLEASED, annotated with O-1003's lease.
        w.clock.advance_ms(2 * DAY);
        let late = w.pay(k(), &k_va(3), 10_000, "김철수").await;
        assert_eq!(
            (late.deposit.state, late.deposit.previous_lease),
            (DepositState::Unleased, Some(l3.id))
        );
        // Every never-leased VA goes first; K-0001…K-0003 come back after 30 days.
        let cooling = w.engine.va_pools(&p()).await.unwrap()[0].1;
        assert_eq!((cooling.cooling, cooling.free), (3, 97));
        w.clock.set_ms(expired_at + 30 * DAY);
        let cooled = w.engine.va_pools(&p()).await.unwrap()[0].1;
        assert_eq!(
            (cooled.cooling, cooled.free),
            (0, 100),
            "K-0003 AVAILABLE on day 31"
        );
    });
}

#[test]
fn pool_exhaustion_is_refused() {
    let rt = runtime();
    let w = world(&rt, false);
    rt.block_on(async {
        for i in 0..50 {
            w.lease(&format!("B-{i}"), 1_000, s()).await;
        }
        let refused = w
            .engine
            .va_lease(request("B-50", 1_000, s()))
            .await
            .unwrap_err();
        assert_eq!(
            refusal_code(refused),
            RefusalCode::NoVirtualAccountAvailable
        );
        let pools = w.engine.va_pools(&p()).await.unwrap();
        assert_eq!(
            (pools[1].1.leased, pools[1].1.free),
            (50, 0),
            "nothing more leased"
        );
    });
}

#[test]
fn pool_exhaustion_falls_back_to_real_time_numbering() {
    let rt = runtime();
    let w = world(&rt, true);
    w.sim.set_va_real_time(s(), true);
    rt.block_on(async {
        for i in 0..50 {
            w.lease(&format!("B-{i}"), 1_000, s()).await;
        }
        let l51 = w.lease("B-50", 1_000, s()).await;
        assert_eq!(l51.state, LeaseState::Open);
        assert!(
            (1..=50).all(|n| l51.va_no != s_va(n)),
            "{} is not of the pool",
            l51.va_no
        );
        // The bank knows it: a payer can pay into it, and it matches.
        let paid = w.pay(s(), &l51.va_no, 1_000, "김철수").await;
        assert_eq!(paid.deposit.state, DepositState::Matched);
    });
}

#[test]
fn collection_statement_consolidates_all_banks() {
    let rt = runtime();
    let w = world(&rt, false);
    rt.block_on(async {
        let mut leases = Vec::new();
        for (order, amount) in [
            ("O-1001", 15_000),
            ("O-1002", 20_000),
            ("O-1003", 10_000),
            ("O-1004", 15_000),
        ] {
            leases.push(w.lease(order, amount, k()).await);
        }
        let l5 = w.lease("O-2001", 30_000, s()).await;
        for l in leases.iter().filter(|l| l.order_no != "O-1003") {
            w.pay(k(), &l.va_no, l.expected_krw.unwrap(), "김철수")
                .await;
        }
        w.pay(s(), &l5.va_no, 30_000, "김철수").await;
        w.pay(k(), &k_va(50), 10_000, "누군가").await;
        let statement = w.engine.va_collection(&p(), T0, T0 + DAY).await.unwrap();
        let banks: Vec<_> = statement
            .banks
            .iter()
            .map(|b| (b.bank, b.count, b.total_krw))
            .collect();
        assert_eq!(banks, vec![(k(), 3, 50_000), (s(), 1, 30_000)]);
        assert_eq!(statement.total_krw, 80_000);
        assert_eq!(
            (statement.suspense.len(), statement.suspense_total_krw),
            (1, 10_000)
        );
    });
}

#[test]
fn recalled_deposit_is_taken_back_and_reopens_the_lease() {
    let rt = runtime();
    let w = world(&rt, false);
    rt.block_on(async {
        let l1 = w.lease("O-1001", 15_000, k()).await;
        let paid = w.pay(k(), &k_va(1), 15_000, "김철수").await;
        w.clock.advance_ms(HOUR);
        let recalled = w
            .engine
            .va_recall(k(), &paid.deposit.bank_tx_id)
            .await
            .unwrap();
        assert_eq!(recalled.deposit.state, DepositState::Reversed);
        let reopened = recalled.lease.expect("the lease it had completed");
        assert_eq!(
            (reopened.id, reopened.state, reopened.paid_krw),
            (l1.id, LeaseState::Open, 0)
        );
        assert_eq!(reopened.va_no, k_va(1), "K-0001 LEASED to L1 again");
        assert_eq!(reopened.due_at_ms, T0 + HOUR + 72 * HOUR);
        let again = w
            .engine
            .va_recall(k(), &paid.deposit.bank_tx_id)
            .await
            .unwrap();
        assert!(
            again.duplicate,
            "a repeat of the same recall changes nothing"
        );
        assert_eq!(w.engine.va_lease_of(&p(), l1.id).await.unwrap(), reopened);
        // The order can be paid again on its VA.
        let repaid = w.pay(k(), &k_va(1), 15_000, "김철수").await;
        assert_eq!(repaid.deposit.state, DepositState::Matched);
    });
}

#[test]
fn a_notice_that_never_arrives_is_ingested_from_the_bank_statement() {
    let rt = runtime();
    let w = world(&rt, false);
    rt.block_on(async {
        w.lease("O-1001", 15_000, k()).await;
        let delivered = w.pay(k(), &k_va(1), 15_000, "김철수").await;
        let l2 = w.lease("O-1002", 20_000, k()).await;
        let _lost = w.made(k(), &l2.va_no, 20_000, "김철수");
        let report = w.engine.va_reconcile(k(), T0, T0 + DAY).await.unwrap();
        assert_eq!(
            (report.known, report.ingested.len(), report.unknown_va),
            (1, 1, 0)
        );
        let late = &report.ingested[0];
        assert!(late.deposit.late);
        assert_eq!(
            (late.deposit.state, late.deposit.lease),
            (DepositState::Matched, Some(l2.id))
        );
        assert_ne!(late.id, delivered.id);
        let again = w.engine.va_reconcile(k(), T0, T0 + DAY).await.unwrap();
        assert_eq!(
            (again.known, again.ingested.len()),
            (2, 0),
            "a second run ingests nothing"
        );
    });
}

#[test]
fn leases_and_deposits_survive_a_restart() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 2, QUICK);
    let sim = Simulator::new(&config);
    let clock = Arc::new(ManualClock::new(T0));
    let start = || {
        Engine::start_with(config.clone(), EngineParts::new(sim.rails(), clock.clone())).unwrap()
    };
    let engine = start();
    let (l1, notice) = rt.block_on(async {
        engine.set_partner(partner(false)).await.unwrap();
        let l1 = engine
            .va_lease(request("O-1001", 15_000, k()))
            .await
            .unwrap();
        let notice = sim
            .va_deposit(k(), &l1.va_no, 15_000, "김철수", T0)
            .unwrap();
        engine.va_deposit(notice.clone(), false).await.unwrap();
        (l1, notice)
    });
    engine.shutdown().unwrap();
    drop(engine);
    let engine = start();
    rt.block_on(async {
        let lease = engine.va_lease_of(&p(), l1.id).await.unwrap();
        assert_eq!(lease.state, LeaseState::Completed);
        // The VA index is rebuilt by asking the shards: the repeat is still a repeat.
        let again = engine.va_deposit(notice, false).await.unwrap();
        assert!(again.duplicate);
        let l2 = engine
            .va_lease(request("O-1002", 1_000, k()))
            .await
            .unwrap();
        assert_eq!(
            l2.va_no,
            k_va(2),
            "K-0001 is still cooling, never given twice"
        );
    });
}

#[test]
fn modes_b_and_c_are_refused_until_their_credits_are_built() {
    let rt = runtime();
    let w = world(&rt, false);
    rt.block_on(async {
        let mut b = Partner::new(PartnerId::new("news").unwrap(), PartnerMode::B);
        b.merchant = Some(omnibus_core::ids::MerchantNo(1));
        let refused = w.engine.set_partner(b).await.unwrap_err();
        assert_eq!(refusal_code(refused), RefusalCode::InvalidRequest);
    });
}
