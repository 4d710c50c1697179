//! The money of the virtual-account relay's mode B (issue 15; INSTRUMENTS.md §2.6's
//! fixture, §2.7's postings): partner P, a newspaper, collects for the onboarded merchant
//! `p-news`; its VAs are opened under omnibus's `va_parent[bank]`, booked as the withdrawal
//! firm parent account of the bank (§0.3 allows it). A matched deposit is booked
//! `va_payer[K] → va_parent[K]` (observed) with its record, then credited `fin_parent →
//! merchant[P]` by the securities firm (A2, SPEC §4's rules), or `→ suspense` when it does
//! not match.
//!
//! P's pool: bank K (004) region SEOUL, 20 VAs `0040000001…`; leases due after 72 h, exact.
//! The engine runs on a clock moved by hand.

mod support;

use std::sync::Arc;

use omnibus_actors::rails::sim::{Rail, Simulator};
use omnibus_actors::{Engine, EngineParts, ManualClock};
use omnibus_core::ids::MerchantId;
use omnibus_core::payments::relay::{
    DepositState, LeaseRequest, LeaseState, Partner, PartnerId, PartnerMode, PoolSpec, Region, VaNo,
};
use omnibus_core::payments::RefusalCode;
use omnibus_core::{AccountId, BankCode, Money, ParentAccount};
use support::cards::{refusal_code, QUICK};
use support::*;

const T0: u64 = 1_800_000_000_000;
const MINUTE: u64 = 60_000;

fn k() -> BankCode {
    BankCode::new("004").unwrap()
}
fn p() -> PartnerId {
    PartnerId::new("P").unwrap()
}
fn won(n: i64) -> Money {
    Money::krw(n).unwrap()
}
fn va_payer() -> AccountId {
    AccountId::VaPayer { bank: k() }
}
fn va_parent() -> AccountId {
    AccountId::parent(ParentAccount::WithdrawalFirm(k()))
}
fn fin_parent() -> AccountId {
    AccountId::parent(ParentAccount::FinParent)
}

struct World {
    engine: Engine,
    sim: Simulator,
    clock: Arc<ManualClock>,
    merchant: AccountId,
    dir: tempfile::TempDir,
}

impl World {
    async fn balance(&self, account: AccountId) -> Money {
        self.engine.account_balance(account).await.unwrap()
    }

    async fn lease(&self, order: &str, amount: u64) -> omnibus_core::payments::relay::Lease {
        self.engine
            .va_lease(LeaseRequest {
                partner: p(),
                order_no: order.into(),
                customer: "김철수".into(),
                bank: k(),
                region: Region::new("SEOUL").unwrap(),
                match_mode: None,
                expected_krw: Some(amount),
                min_krw: None,
                max_krw: None,
                due_at_ms: None,
            })
            .await
            .unwrap_or_else(|e| panic!("lease {order}: {e}"))
    }

    async fn pay(&self, va: &VaNo, amount: u64) -> omnibus_actors::DepositReceipt {
        let notice = self
            .sim
            .va_deposit(k(), va, amount, "김철수", self.engine.now_ms())
            .expect("the bank opened that VA");
        self.engine.va_deposit(notice, false).await.unwrap()
    }

    /// Runs the supervisors' passes, moving the clock a minute before each, until every
    /// entry is final and nothing is owed.
    async fn settle(&self) {
        for _ in 0..40 {
            self.clock.advance_ms(MINUTE);
            let r = self.engine.supervise_once().await.unwrap();
            if std::env::var("DEBUG_SETTLE").is_ok() {
                eprintln!("{r:?}");
            }
            if r.settled() {
                return;
            }
        }
        panic!("not settled after 40 passes");
    }

    async fn finish(self) {
        let totals = self.engine.totals().await.unwrap();
        assert!(totals.sum.is_zero(), "the books balance: {totals:?}");
        assert!(
            self.sim.truth().is_conserved(),
            "the outside world's money is conserved"
        );
        let _dir = self.dir;
        self.engine.shutdown().unwrap();
    }
}

fn partner(merchant: omnibus_core::ids::MerchantNo) -> Partner {
    let mut partner = Partner::new(p(), PartnerMode::B);
    partner.merchant = Some(merchant);
    partner.pools = vec![PoolSpec {
        bank: k(),
        region: Region::new("SEOUL").unwrap(),
        target: 20,
        real_time: false,
    }];
    partner
}

fn world(rt: &tokio::runtime::Runtime) -> World {
    world_with(rt, QUICK)
}

/// QUICK, with a credit tried again up to 1,000 times before it fails for good.
const PATIENT: &str = "[supervisor]\nwindow_min_age_ms = 0\nretry_backoff_min_ms = 1\nretry_backoff_max_ms = 10\nreprocess_failures_max = 1000\n";

fn world_with(rt: &tokio::runtime::Runtime, extra: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 2, extra);
    let sim = Simulator::new(&config);
    let clock = Arc::new(ManualClock::new(T0));
    let engine = Engine::start_with(config, EngineParts::new(sim.rails(), clock.clone())).unwrap();
    let merchant = rt.block_on(async {
        let entry = engine
            .onboard_merchant(merchant_taking(
                "p-news",
                &[omnibus_core::payments::merchant::InstrumentType::PrepaidCard],
            ))
            .await
            .unwrap()
            .0;
        let setup = engine.set_partner(partner(entry.no)).await.unwrap();
        assert_eq!(setup.pools[0].1.free, 20, "S10 filled the pool");
        AccountId::merchant(entry.no)
    });
    World {
        engine,
        sim,
        clock,
        merchant,
        dir,
    }
}

#[test]
fn exact_deposit_completes_lease_and_notifies_partner() {
    let rt = runtime();
    let w = world(&rt);
    rt.block_on(async {
        let parent_before = w.balance(va_parent()).await;
        let fin_before = w.balance(fin_parent()).await;
        let l1 = w.lease("O-1001", 15_000).await;
        let receipt = w.pay(&l1.va_no, 15_000).await;
        assert_eq!(receipt.deposit.state, DepositState::Matched);
        assert_eq!(receipt.lease.unwrap().state, LeaseState::Completed);
        // Observed with the deposit's record: va_payer[K] → va_parent[K] 15,000.
        assert_eq!(w.balance(va_payer()).await, won(-15_000));
        assert_eq!(
            w.balance(va_parent()).await,
            parent_before.checked_add(won(15_000)).unwrap()
        );
        w.settle().await;
        // A2: fin_parent → merchant[P] 15,000.
        assert_eq!(w.balance(w.merchant).await, won(15_000));
        assert_eq!(
            w.balance(fin_parent()).await,
            fin_before.checked_sub(won(15_000)).unwrap()
        );
        assert_eq!(w.balance(AccountId::Suspense).await, won(0));
        // A repeat of the notice moves nothing more.
        let notice = w.sim.va_deposits().pop().unwrap();
        let again = w.engine.va_deposit(notice, false).await.unwrap();
        assert!(again.duplicate);
        w.settle().await;
        assert_eq!(w.balance(w.merchant).await, won(15_000));
        assert_eq!(w.balance(va_payer()).await, won(-15_000));
    });
    rt.block_on(w.finish());
}

#[test]
fn short_deposit_is_a_mismatch_held_in_suspense() {
    let rt = runtime();
    let w = world(&rt);
    rt.block_on(async {
        let _l1 = w.lease("O-1001", 15_000).await;
        let l2 = w.lease("O-1002", 20_000).await;
        let receipt = w.pay(&l2.va_no, 10_000).await;
        assert_eq!(receipt.deposit.state, DepositState::Mismatch);
        w.settle().await;
        // fin_parent → suspense 10,000; P's merchant account is not credited.
        assert_eq!(w.balance(AccountId::Suspense).await, won(10_000));
        assert_eq!(w.balance(w.merchant).await, won(0));
        let l2 = w.engine.va_lease_of(&p(), l2.id).await.unwrap();
        assert_eq!(
            l2.state,
            LeaseState::Open,
            "L2 stays OPEN until its due date"
        );
    });
    rt.block_on(w.finish());
}

#[test]
fn matched_deposit_credit_failure_is_reprocessed() {
    let rt = runtime();
    let w = world_with(&rt, PATIENT);
    rt.block_on(async {
        let l1 = w.lease("O-1001", 15_000).await;
        w.sim.set_rates(Rail::SecuritiesFirm, always("fail"));
        let receipt = w.pay(&l1.va_no, 15_000).await;
        // P is told MATCHED: the bank holds the money.
        assert_eq!(receipt.deposit.state, DepositState::Matched);
        let credit = w.engine.request("VC-1".parse().unwrap()).await;
        // The credit's A2 failed: FAIL_TRY_AGAIN, nothing credited yet.
        for _ in 0..20 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            if w.balance(w.merchant).await == won(0) && credit.is_ok() {
                break;
            }
        }
        assert_eq!(w.balance(w.merchant).await, won(0));
        w.sim.heal();
        w.settle().await;
        assert_eq!(
            w.balance(w.merchant).await,
            won(15_000),
            "reprocessing completed the credit (SPEC §5)"
        );
    });
    rt.block_on(w.finish());
}

#[test]
fn a_credit_that_fails_for_good_goes_to_suspense() {
    let rt = runtime();
    let w = world(&rt);
    rt.block_on(async {
        let l1 = w.lease("O-1001", 15_000).await;
        w.sim.set_rates(Rail::SecuritiesFirm, always("fail"));
        w.pay(&l1.va_no, 15_000).await;
        // Reprocessing gives up after `reprocess_failures_max` failures.
        for _ in 0..10 {
            w.clock.advance_ms(2 * MINUTE);
            w.engine.supervise_once().await.unwrap();
        }
        w.sim.heal();
        w.settle().await;
        assert_eq!(w.balance(w.merchant).await, won(0));
        assert_eq!(
            w.balance(AccountId::Suspense).await,
            won(15_000),
            "redirected to suspense (§2.7, CREDIT_FAILED)"
        );
    });
    rt.block_on(w.finish());
}

#[test]
fn an_owed_credit_is_carried_out_after_a_restart() {
    let rt = runtime();
    let w = world_with(&rt, PATIENT);
    let config = config(w.dir.path(), 2, PATIENT);
    rt.block_on(async {
        let l1 = w.lease("O-1001", 15_000).await;
        // The securities firm times out: the credit stays open across the restart.
        w.sim.set_rates(Rail::SecuritiesFirm, always("timeout"));
        w.pay(&l1.va_no, 15_000).await;
    });
    let World {
        engine,
        sim,
        clock,
        merchant,
        dir,
    } = w;
    engine.shutdown().unwrap();
    sim.heal();
    let engine = Engine::start_with(config, EngineParts::new(sim.rails(), clock.clone())).unwrap();
    let w = World {
        engine,
        sim,
        clock,
        merchant,
        dir,
    };
    rt.block_on(async {
        w.settle().await;
        assert_eq!(w.balance(w.merchant).await, won(15_000));
        assert_eq!(w.balance(va_payer()).await, won(-15_000));
    });
    rt.block_on(w.finish());
}

#[test]
fn a_partner_in_mode_b_names_an_onboarded_merchant_and_keeps_its_mode() {
    let rt = runtime();
    let w = world(&rt);
    rt.block_on(async {
        let mut no_merchant = partner(omnibus_core::ids::MerchantNo(1));
        no_merchant.id = PartnerId::new("Q").unwrap();
        no_merchant.merchant = None;
        let e = w.engine.set_partner(no_merchant).await.unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::InvalidRequest);
        let mut unknown = partner(omnibus_core::ids::MerchantNo(999));
        unknown.id = PartnerId::new("Q").unwrap();
        let e = w.engine.set_partner(unknown).await.unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::InvalidRequest);
        let no = w
            .engine
            .merchant(MerchantId::new("p-news").unwrap())
            .unwrap()
            .no;
        let mut as_a = partner(no);
        as_a.mode = PartnerMode::A;
        as_a.merchant = None;
        let e = w.engine.set_partner(as_a).await.unwrap_err();
        assert_eq!(
            refusal_code(e),
            RefusalCode::InvalidRequest,
            "a partner's mode is fixed once configured"
        );
        let mut at_unknown_bank = partner(no);
        at_unknown_bank.id = PartnerId::new("Q").unwrap();
        at_unknown_bank.pools[0].bank = BankCode::new("071").unwrap();
        let e = w.engine.set_partner(at_unknown_bank).await.unwrap_err();
        assert_eq!(
            refusal_code(e),
            RefusalCode::InvalidRequest,
            "no va_parent at a bank without a withdrawal firm account"
        );
    });
    rt.block_on(w.finish());
}
