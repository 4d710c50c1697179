// Over 600 lines: the worked examples E1–E11 of INSTRUMENTS.md §1.6 with their fixtures, one test each, kept together as the spec lists them.
//! Division accounts of seed 001(a) (issue 15; INSTRUMENTS.md §1.6's worked examples, over
//! the engine's API): the master's balance pays within each slave's budget, the PIN with
//! its lock, the master's changes, the slave's activation, idempotent resubmission, and a
//! refund giving back to the master and the budget.
//!
//! Fixture (§1.6): master M (customer 1) with 300,000 in its balance; slave S1 with a
//! monthly budget of 100,000 and `per_tx_max` 50,000, slave S2 with 200,000 and 300,000,
//! both ACTIVE with their own PINs; merchant m, a content mall taking `division`, paid
//! out D+1. E5 and E6 (the top-up from the master's bank) and E10 (`BS.verify_account`
//! at issue) start from fixtures of their own; E8b runs on a clock moved by hand to the
//! D+1 payout. The endpoints of §1.7 are walked in `division_accounts_http.rs`.

mod support;

use omnibus_actors::rails::sim::Rail;
use omnibus_actors::{DivisionApplication, DivisionIssue, Engine, IssuedDivision};
use omnibus_core::ids::{MerchantId, PayeeName, RequestNo, Tag};
use omnibus_core::payments::controls::Period;
use omnibus_core::payments::division::{
    BirthDate, DivisionAction, DivisionControls, DivisionId, DivisionStatus, Slave,
};
use omnibus_core::payments::merchant::InstrumentType;
use omnibus_core::payments::payment::{PaymentEntry, PaymentState};
use omnibus_core::payments::payment_request::{
    InstrumentRef, Leg, NumberText, PaymentRequest, SecretText,
};
use omnibus_core::payments::{DeclineCode, RefusalCode};
use omnibus_core::AccountId;
use support::cards::{balance, money, refusal_code, QUICK};
use support::*;

const PIN_S1: &str = "135790";
const PIN_S2: &str = "246801";

fn slave(name: &str, phone: &str) -> Slave {
    Slave {
        name: PayeeName::new(name).unwrap(),
        birth_date: BirthDate::parse("1995-04-01").unwrap(),
        phone: phone.into(),
        guardian_consent_at_ms: None,
    }
}

fn controls(per_tx_max_krw: u64, budget_krw: u64) -> DivisionControls {
    DivisionControls {
        per_tx_max_krw: Some(per_tx_max_krw),
        period: Period::Month,
        period_budget_krw: budget_krw,
        valid_from_ms: None,
        valid_until_ms: None,
        blocked_categories: Vec::new(),
        allowed_merchants: Vec::new(),
    }
}

fn application(name: &str, phone: &str, per_tx: u64, budget: u64) -> DivisionApplication {
    DivisionApplication {
        slave: slave(name, phone),
        controls: controls(per_tx, budget),
        auto_top_up: false,
    }
}

/// The master's holder name, as its bank holds the linked account.
const MASTER_NAME: &str = "김부모";

/// An issue to customer 1 from its linked account (D-1.2), in the master's name.
fn issue(slaves: Vec<DivisionApplication>) -> DivisionIssue {
    let linked = opened(1);
    DivisionIssue {
        bank: linked.linked_bank,
        account_no: linked.linked_account,
        holder_name: PayeeName::new(MASTER_NAME).unwrap(),
        slaves,
    }
}

/// The fixture's world: the engine, and S1's and S2's numbers.
struct World {
    s1: IssuedDivision,
    s2: IssuedDivision,
}

async fn activate(engine: &Engine, issued: &IssuedDivision, slave: Slave, pin: &str) {
    let entry = engine
        .activate_division(
            &issued.number.ascii(),
            issued.activation_code.clone(),
            slave,
            SecretText::new(pin.into()),
        )
        .await
        .unwrap();
    assert_eq!(entry.account.status, DivisionStatus::Active);
}

async fn fixture(engine: &Engine) -> World {
    fixture_reserving(engine, 0).await
}

/// The fixture with merchant m keeping `payout_reserve_krw` back at its payouts.
async fn fixture_reserving(engine: &Engine, payout_reserve_krw: u64) -> World {
    engine.open_customer(opened(1)).await.unwrap();
    engine.charge(charge(1, "C-1", 300_000)).await.unwrap();
    let mut m = merchant_taking("m", &[InstrumentType::Division]);
    m.payout_reserve_krw = payout_reserve_krw;
    engine.onboard_merchant(m).await.unwrap();
    let mut issued = engine
        .issue_division_accounts(
            customer(1),
            issue(vec![
                application("김하나", "01011112222", 50_000, 100_000),
                application("김두리", "01033334444", 300_000, 200_000),
            ]),
        )
        .await
        .unwrap();
    let s2 = issued.pop().unwrap();
    let s1 = issued.pop().unwrap();
    activate(engine, &s1, slave("김하나", "01011112222"), PIN_S1).await;
    activate(engine, &s2, slave("김두리", "01033334444"), PIN_S2).await;
    World { s1, s2 }
}

fn division_payment(no: &str, won: u64, issued: &IssuedDivision, pin: &str) -> PaymentRequest {
    PaymentRequest {
        merchant: MerchantId::new("m").unwrap(),
        terminal: None,
        merchant_request_no: RequestNo::new(no).unwrap(),
        order_no: None,
        amount_krw: won,
        category: Tag::new("content").unwrap(),
        region: None,
        legs: vec![Leg {
            instrument: InstrumentRef::Division {
                number: NumberText::new(issued.number.ascii()),
                pin: SecretText::new(pin.into()),
            },
            amount_krw: won,
        }],
    }
}

fn id(issued: &IssuedDivision) -> DivisionId {
    issued.entry.account.instrument_id()
}

/// What the slave has spent this month.
async fn spent(engine: &Engine, issued: &IssuedDivision, at_ms: u64) -> u64 {
    let entry = engine.division_account(id(issued)).await.unwrap();
    entry.account.counters.spent_in(Period::Month, at_ms)
}

async fn master_balance(engine: &Engine) -> omnibus_core::Money {
    balance(engine, AccountId::customer(customer(1))).await
}

fn declined(p: &PaymentEntry) -> Option<DeclineCode> {
    assert_eq!(p.state, PaymentState::Declined, "{p:?}");
    p.decline_code()
}

/// Runs `body` on a fresh engine with the fixture.
fn with_fixture<F, Fut>(body: F)
where
    F: FnOnce(Engine, World) -> Fut,
    Fut: std::future::Future<Output = Engine>,
{
    let dir = tempfile::tempdir().unwrap();
    let (engine, _sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    let engine = rt.block_on(async {
        let world = fixture(&engine).await;
        body(engine, world).await
    });
    engine.shutdown().unwrap();
}

#[test]
fn division_sale_debits_master_and_counts_against_budget() {
    with_fixture(|engine, w| async move {
        let paid = engine
            .pay(division_payment("E1", 30_000, &w.s1, PIN_S1))
            .await
            .unwrap();
        assert_eq!(paid.state, PaymentState::Approved, "{paid:?}");
        assert_eq!(master_balance(&engine).await, money(270_000));
        let m = engine.merchant(MerchantId::new("m").unwrap()).unwrap();
        assert_eq!(
            balance(&engine, AccountId::merchant(m.no)).await,
            money(30_000)
        );
        assert_eq!(spent(&engine, &w.s1, paid.created_at_ms).await, 30_000);
        let account = engine.division_account(id(&w.s1)).await.unwrap().account;
        assert_eq!(account.counters.reserved_krw, 0);
        engine
    });
}

#[test]
fn division_over_per_tx_limit_declines_and_moves_nothing() {
    with_fixture(|engine, w| async move {
        let p = engine
            .pay(division_payment("E2", 60_000, &w.s1, PIN_S1))
            .await
            .unwrap();
        assert_eq!(declined(&p), Some(DeclineCode::AmountCapExceeded));
        assert_eq!(master_balance(&engine).await, money(300_000));
        assert_eq!(spent(&engine, &w.s1, p.created_at_ms).await, 0);
        engine
    });
}

#[test]
fn division_budget_exhausted_declines() {
    with_fixture(|engine, w| async move {
        for no in ["E1", "E3-1"] {
            let won = if no == "E1" { 30_000 } else { 45_000 };
            let p = engine
                .pay(division_payment(no, won, &w.s1, PIN_S1))
                .await
                .unwrap();
            assert_eq!(p.state, PaymentState::Approved, "{p:?}");
        }
        let p = engine
            .pay(division_payment("E3-2", 45_000, &w.s1, PIN_S1))
            .await
            .unwrap();
        assert_eq!(declined(&p), Some(DeclineCode::BudgetExceeded));
        assert_eq!(spent(&engine, &w.s1, p.created_at_ms).await, 75_000);
        assert_eq!(master_balance(&engine).await, money(225_000));
        engine
    });
}

#[test]
fn division_locks_after_five_wrong_pins() {
    with_fixture(|engine, w| async move {
        for i in 1..=5 {
            let p = engine
                .pay(division_payment(&format!("E4-{i}"), 1_000, &w.s1, "000000"))
                .await
                .unwrap();
            assert_eq!(declined(&p), Some(DeclineCode::WrongSecret), "try {i}");
        }
        let account = engine.division_account(id(&w.s1)).await.unwrap().account;
        assert_eq!(account.status, DivisionStatus::Locked);
        let p = engine
            .pay(division_payment("E4-6", 1_000, &w.s1, PIN_S1))
            .await
            .unwrap();
        assert_eq!(declined(&p), Some(DeclineCode::Locked));
        let account = engine.division_account(id(&w.s1)).await.unwrap().account;
        assert_eq!(
            account.counters.failed_secret_count, 5,
            "a locked account's tries do not count"
        );
        let (unlocked, _) = engine
            .change_division(id(&w.s1), Some(DivisionAction::Unlock), None)
            .await
            .unwrap();
        assert_eq!(unlocked.account.status, DivisionStatus::Active);
        assert_eq!(unlocked.account.counters.failed_secret_count, 0);
        let p = engine
            .pay(division_payment("E4-7", 1_000, &w.s1, PIN_S1))
            .await
            .unwrap();
        assert_eq!(p.state, PaymentState::Approved, "{p:?}");
        assert_eq!(master_balance(&engine).await, money(299_000));
        assert_eq!(spent(&engine, &w.s1, p.created_at_ms).await, 1_000);
        engine
    });
}

#[test]
fn division_suspended_declines() {
    with_fixture(|engine, w| async move {
        engine
            .change_division(id(&w.s2), Some(DivisionAction::Suspend), None)
            .await
            .unwrap();
        let p = engine
            .pay(division_payment("E7", 1_000, &w.s2, PIN_S2))
            .await
            .unwrap();
        assert_eq!(declined(&p), Some(DeclineCode::Suspended));
        assert_eq!(master_balance(&engine).await, money(300_000));
        engine
    });
}

#[test]
fn division_refund_restores_master_and_budget() {
    with_fixture(|engine, w| async move {
        let paid = engine
            .pay(division_payment("E1", 30_000, &w.s1, PIN_S1))
            .await
            .unwrap();
        let m = engine.merchant(MerchantId::new("m").unwrap()).unwrap();
        let refunded = engine
            .refund_payment(m.merchant.id, paid.id, "RF-E8".parse().unwrap(), 10_000)
            .await
            .unwrap();
        assert_eq!(refunded.state, PaymentState::PartiallyRefunded);
        assert_eq!(
            balance(&engine, AccountId::merchant(m.no)).await,
            money(20_000)
        );
        assert_eq!(master_balance(&engine).await, money(280_000));
        assert_eq!(spent(&engine, &w.s1, paid.created_at_ms).await, 20_000);
        engine
    });
}

#[test]
fn division_idempotent_resubmission() {
    with_fixture(|engine, w| async move {
        let first = engine
            .pay(division_payment("E1", 30_000, &w.s1, PIN_S1))
            .await
            .unwrap();
        assert_eq!(first.state, PaymentState::Approved);
        // The same number, a mistyped PIN: the same answer, the count of wrong PINs alone.
        let again = engine
            .pay(division_payment("E1", 30_000, &w.s1, "999999"))
            .await
            .unwrap();
        assert_eq!((again.id, again.state), (first.id, PaymentState::Approved));
        assert_eq!(master_balance(&engine).await, money(270_000));
        let account = engine.division_account(id(&w.s1)).await.unwrap().account;
        assert_eq!(account.counters.failed_secret_count, 0);
        // The same number with another amount.
        let e = engine
            .pay(division_payment("E1", 31_000, &w.s1, PIN_S1))
            .await
            .unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::IdempotencyConflict);
        engine
    });
}

#[test]
fn division_slave_activates_and_sets_own_pin() {
    with_fixture(|engine, _w| async move {
        let mut issued = engine
            .issue_division_accounts(
                customer(1),
                issue(vec![application("김세나", "01055556666", 50_000, 50_000)]),
            )
            .await
            .unwrap();
        let s3 = issued.pop().unwrap();
        // I4: a number and an activation code, no PIN.
        assert_eq!(s3.entry.account.status, DivisionStatus::PendingActivation);
        assert!(s3.entry.account.pin.is_none());
        assert_eq!(s3.activation_code.expose().len(), 8);
        let p = engine
            .pay(division_payment("E11-1", 1_000, &s3, "123456"))
            .await
            .unwrap();
        assert_eq!(declined(&p), Some(DeclineCode::NotActivated));
        // A wrong identity or code is refused; the right ones activate.
        let e = engine
            .activate_division(
                &s3.number.ascii(),
                s3.activation_code.clone(),
                slave("김세나", "01000000000"),
                SecretText::new("112233".into()),
            )
            .await
            .unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::IdentityCheckFailed);
        let e = engine
            .activate_division(
                &s3.number.ascii(),
                SecretText::new("00000000".into()),
                slave("김세나", "01055556666"),
                SecretText::new("112233".into()),
            )
            .await
            .unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::ActivationCodeInvalid);
        activate(&engine, &s3, slave("김세나", "01055556666"), "112233").await;
        let p = engine
            .pay(division_payment("E11-2", 1_000, &s3, "112233"))
            .await
            .unwrap();
        assert_eq!(p.state, PaymentState::Approved, "{p:?}");
        assert_eq!(master_balance(&engine).await, money(299_000));
        assert_eq!(spent(&engine, &s3, p.created_at_ms).await, 1_000);
        engine
    });
}

/// D-1.9: two slaves of one master paying at once never overspend the balance (the
/// master's thread judges them one after the other).
#[test]
fn two_slaves_paying_at_once_never_overspend_the_masters_balance() {
    with_fixture(|engine, w| async move {
        // 300,000 in the balance; S2 asks 200,000 twice at once and S1 50,000.
        let (a, b, c) = tokio::join!(
            engine.pay(division_payment("C-a", 200_000, &w.s2, PIN_S2)),
            engine.pay(division_payment("C-b", 200_000, &w.s2, PIN_S2)),
            engine.pay(division_payment("C-c", 50_000, &w.s1, PIN_S1)),
        );
        let approved: u64 = [a.unwrap(), b.unwrap(), c.unwrap()]
            .iter()
            .filter(|p| p.state == PaymentState::Approved)
            .map(|p| p.amount_krw)
            .sum();
        assert!(approved <= 250_000, "S2's budget is 200,000: {approved}");
        let left = 300_000 - i64::try_from(approved).unwrap();
        assert_eq!(master_balance(&engine).await, money(left));
        engine
    });
}

/// After a restart the division accounts are as they were: the number still finds its
/// account (the credential index is rebuilt from the books), the PIN still pays, the
/// budget counts what was spent before, and a resubmission answers the payment on record.
#[test]
fn division_accounts_and_their_budgets_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // The engine's own simulated rails, which keep their world in its data directory.
    let engine = start(dir.path(), 2, QUICK);
    let rt = runtime();
    let (world, first) = rt.block_on(async {
        let world = fixture(&engine).await;
        let first = engine
            .pay(division_payment("E1", 30_000, &world.s1, PIN_S1))
            .await
            .unwrap();
        assert_eq!(first.state, PaymentState::Approved);
        (world, first)
    });
    engine.shutdown().unwrap();
    let engine = start(dir.path(), 2, QUICK);
    rt.block_on(async {
        let again = engine
            .pay(division_payment("E1", 30_000, &world.s1, PIN_S1))
            .await
            .unwrap();
        assert_eq!(again, first);
        let p = engine
            .pay(division_payment("E3-1", 45_000, &world.s1, PIN_S1))
            .await
            .unwrap();
        assert_eq!(p.state, PaymentState::Approved, "{p:?}");
        let p = engine
            .pay(division_payment("E3-2", 45_000, &world.s1, PIN_S1))
            .await
            .unwrap();
        assert_eq!(declined(&p), Some(DeclineCode::BudgetExceeded));
        assert_eq!(spent(&engine, &world.s1, p.created_at_ms).await, 75_000);
        assert_eq!(master_balance(&engine).await, money(225_000));
        let _ = world.s2;
    });
    engine.shutdown().unwrap();
}

/// Review findings 4 and 5 (2026-12-02): a master's change of the budget's period from a
/// month to a day keeps the budget in force (the counters kept the month's number, which
/// no day's reaches, so nothing counted); an account suspended and resumed before its
/// slave activated it waits for the activation, never ACTIVE without a PIN.
#[test]
fn the_masters_changes_never_switch_a_budget_off_nor_activate_an_account_without_a_pin() {
    with_fixture(|engine, w| async move {
        let paid = engine
            .pay(division_payment("E1", 30_000, &w.s1, PIN_S1))
            .await
            .unwrap();
        assert_eq!(paid.state, PaymentState::Approved);
        let mut daily = controls(50_000, 60_000);
        daily.period = Period::Day;
        engine
            .change_division(id(&w.s1), None, Some(daily))
            .await
            .unwrap();
        let mut approved = 0;
        for no in ["D-1", "D-2"] {
            let p = engine
                .pay(division_payment(no, 40_000, &w.s1, PIN_S1))
                .await
                .unwrap();
            approved += u64::from(p.state == PaymentState::Approved);
        }
        assert_eq!(approved, 1, "60,000 a day: one of the two 40,000s");
        assert_eq!(master_balance(&engine).await, money(230_000));
        let mut issued = engine
            .issue_division_accounts(
                customer(1),
                issue(vec![application("김세나", "01055556666", 50_000, 50_000)]),
            )
            .await
            .unwrap();
        let s3 = issued.pop().unwrap();
        engine
            .change_division(id(&s3), Some(DivisionAction::Suspend), None)
            .await
            .unwrap();
        let (resumed, _) = engine
            .change_division(id(&s3), Some(DivisionAction::Resume), None)
            .await
            .unwrap();
        assert_eq!(resumed.account.status, DivisionStatus::PendingActivation);
        activate(&engine, &s3, slave("김세나", "01055556666"), "112233").await;
        engine
    });
}

/// Master M with `won` in its balance, its linked account holding `linked_won`, merchant
/// m, and one ACTIVE slave S2 (budget 200,000, `per_tx_max` 300,000) with `auto_top_up` on.
async fn top_up_fixture(
    engine: &Engine,
    sim: &omnibus_actors::rails::sim::Simulator,
    won: i64,
    linked_won: i64,
) -> IssuedDivision {
    engine.open_customer(opened(1)).await.unwrap();
    engine.charge(charge(1, "C-1", won)).await.unwrap();
    let linked = opened(1);
    sim.set_linked_balance(linked.linked_bank, linked.linked_account, money(linked_won));
    engine
        .onboard_merchant(merchant_taking("m", &[InstrumentType::Division]))
        .await
        .unwrap();
    let mut s2 = application("김두리", "01033334444", 300_000, 200_000);
    s2.auto_top_up = true;
    let s2 = engine
        .issue_division_accounts(customer(1), issue(vec![s2]))
        .await
        .unwrap()
        .pop()
        .unwrap();
    activate(engine, &s2, slave("김두리", "01033334444"), PIN_S2).await;
    s2
}

fn linked_balance(sim: &omnibus_actors::rails::sim::Simulator) -> omnibus_core::Money {
    let linked = opened(1);
    sim.truth()
        .linked(linked.linked_bank, linked.linked_account)
}

#[test]
fn division_deficit_is_topped_up_from_masters_bank() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    rt.block_on(async {
        let s2 = top_up_fixture(&engine, &sim, 20_000, 1_000_000).await;
        let paid = engine
            .pay(division_payment("E5", 50_000, &s2, PIN_S2))
            .await
            .unwrap();
        assert_eq!(paid.state, PaymentState::Approved, "{paid:?}");
        // A1 30,000 from the linked account, A2 30,000 into the balance, then the sale.
        let top_up = engine.request(paid.id.top_up_request_no()).await.unwrap();
        assert_eq!(top_up.outcome, omnibus_core::saga::Settled::Credited);
        assert!(master_balance(&engine).await.is_zero());
        assert_eq!(linked_balance(&sim), money(970_000));
        let m = engine.merchant(MerchantId::new("m").unwrap()).unwrap();
        assert_eq!(
            balance(&engine, AccountId::merchant(m.no)).await,
            money(50_000)
        );
        assert_eq!(spent(&engine, &s2, paid.created_at_ms).await, 50_000);
    });
    engine.shutdown().unwrap();
}

#[test]
fn division_topup_withdrawal_timeout_declines_sale() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(
        dir.path(),
        2,
        &format!("{QUICK}[rails.bank_firm]\ntimeout_ms = 100\n"),
    );
    let rt = runtime();
    rt.block_on(async {
        let s2 = top_up_fixture(&engine, &sim, 20_000, 1_000_000).await;
        // The bank withdraws, and its answer is lost.
        sim.set_rates(Rail::BankFirm, always("lost"));
        let p = engine
            .pay(division_payment("E6", 50_000, &s2, PIN_S2))
            .await
            .unwrap();
        sim.set_rates(Rail::BankFirm, healthy());
        assert_eq!(declined(&p), Some(DeclineCode::Timeout));
        // The sale was never sent: the budget's reservation is released at the answer.
        let account = engine.division_account(id(&s2)).await.unwrap().account;
        assert_eq!(account.counters.reserved_krw, 0);
        assert_eq!(spent(&engine, &s2, p.created_at_ms).await, 0);
        let sale = engine.request(p.id.sale_request_no()).await;
        assert!(sale.is_err(), "no sale was asked: {sale:?}");
        // The top-up's A1 is confirmed done: A2 runs, and only the balance grows.
        let top_up = p.id.top_up_request_no();
        assert_eq!(
            settle(&engine, top_up.as_str()).await,
            omnibus_core::saga::Settled::Credited
        );
        assert_eq!(master_balance(&engine).await, money(50_000));
        assert_eq!(linked_balance(&sim), money(970_000));
        let m = engine.merchant(MerchantId::new("m").unwrap()).unwrap();
        assert!(balance(&engine, AccountId::merchant(m.no)).await.is_zero());
    });
    engine.shutdown().unwrap();
}

#[test]
fn division_issue_refused_on_holder_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, QUICK);
    let rt = runtime();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        let linked = opened(1);
        sim.set_linked_holder(linked.linked_bank, linked.linked_account, Some("박다른"));
        let refused = engine
            .issue_division_accounts(
                customer(1),
                issue(vec![application("김세나", "01055556666", 50_000, 50_000)]),
            )
            .await
            .unwrap_err();
        assert_eq!(refusal_code(refused), RefusalCode::HolderMismatch);
        assert!(engine
            .division_accounts(customer(1))
            .await
            .unwrap()
            .is_empty());
        // A closed account: ACCOUNT_NOT_VERIFIED. The bank not answering: RAIL_UNAVAILABLE.
        sim.set_linked_holder(linked.linked_bank, linked.linked_account, None);
        let closed = engine
            .issue_division_accounts(
                customer(1),
                issue(vec![application("김세나", "01055556666", 50_000, 50_000)]),
            )
            .await
            .unwrap_err();
        assert_eq!(refusal_code(closed), RefusalCode::AccountNotVerified);
        sim.set_linked_holder(linked.linked_bank, linked.linked_account, Some(MASTER_NAME));
        sim.set_rates(Rail::BankFirm, always("timeout"));
        let silent = engine
            .issue_division_accounts(
                customer(1),
                issue(vec![application("김세나", "01055556666", 50_000, 50_000)]),
            )
            .await
            .unwrap_err();
        sim.set_rates(Rail::BankFirm, healthy());
        assert_eq!(refusal_code(silent), RefusalCode::RailUnavailable);
        assert!(engine
            .division_accounts(customer(1))
            .await
            .unwrap()
            .is_empty());
        // Another account than the master's linked one: ACCOUNT_NOT_LINKED, before the
        // bank is asked.
        let mut elsewhere = issue(vec![application("김세나", "01055556666", 50_000, 50_000)]);
        elsewhere.account_no = omnibus_core::AccountNo::new("999-000000001").unwrap();
        let not_linked = engine
            .issue_division_accounts(customer(1), elsewhere)
            .await
            .unwrap_err();
        assert_eq!(refusal_code(not_linked), RefusalCode::AccountNotLinked);
        // In the holder's name: issued.
        let issued = engine
            .issue_division_accounts(
                customer(1),
                issue(vec![application("김세나", "01055556666", 50_000, 50_000)]),
            )
            .await
            .unwrap();
        assert_eq!(issued.len(), 1);
    });
    engine.shutdown().unwrap();
}

/// Review finding 2 (2026-12-02): a payment and the budget counters it moves are durable
/// together or not at all. A crash that tears the log's last records anywhere after a
/// division payment leaves, once the payment is asked again, the budget counted once: the
/// slave has spent exactly what the approved payments took, with nothing left reserved.
/// (Before, the counters and the payment were two records: a tear between them committed
/// the budget twice.)
#[test]
fn a_torn_log_never_counts_a_division_payment_twice_against_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let engine = start(dir.path(), 1, QUICK);
    let world = rt.block_on(async {
        let world = fixture(&engine).await;
        let paid = engine
            .pay(division_payment("E1", 30_000, &world.s1, PIN_S1))
            .await
            .unwrap();
        assert_eq!(paid.state, PaymentState::Approved);
        world
    });
    engine.shutdown().unwrap();
    let records = support::cut::record_count(dir.path());
    for torn in 1..=8.min(records - 1) {
        let copy = tempfile::tempdir().unwrap();
        support::cut::copy_dir(dir.path(), copy.path());
        support::cut::tear_last_records(copy.path(), torn);
        let engine = start(copy.path(), 1, QUICK);
        rt.block_on(async {
            let again = engine
                .pay(division_payment("E1", 30_000, &world.s1, PIN_S1))
                .await
                .unwrap();
            // A sale whose answer was torn is confirmed, and reversed if it was done
            // after a DECLINED answer.
            if let Some(sale) = again.sale {
                settle(&engine, sale.as_str()).await;
            }
            let account = engine
                .division_account(id(&world.s1))
                .await
                .unwrap()
                .account;
            let spent = account
                .counters
                .spent_in(Period::Month, again.created_at_ms);
            let approved = again.state == PaymentState::Approved;
            assert_eq!(
                (spent, account.counters.reserved_krw),
                (if approved { 30_000 } else { 0 }, 0),
                "{torn} records torn: {again:?}"
            );
            let expected = if approved { 270_000 } else { 300_000 };
            assert_eq!(
                master_balance(&engine).await,
                money(expected),
                "{torn} torn"
            );
        });
        engine.shutdown().unwrap();
    }
}

/// Review finding 1 (2026-12-02): a payment left REQUESTED by a crash (its authorization on
/// record, its sale's answer not on it) and never asked for again is finished by the
/// supervisors once `payments.requested_finish_after_ms` has passed: from its sale's
/// answer if its sale was asked, else DECLINED `TIMEOUT` with its sale refused from then
/// on. Its budget reservation goes with it (before, it stayed reserved for good). Sent
/// again afterwards, it answers what it was finished as, and moves nothing more.
#[test]
fn a_payment_left_requested_by_a_crash_is_finished_by_the_supervisors() {
    let config = format!("{QUICK}[payments]\nrequested_finish_after_ms = 1_000\n");
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let engine = start(dir.path(), 1, &config);
    let (world, paid) = rt.block_on(async {
        let world = fixture(&engine).await;
        let paid = engine
            .pay(division_payment("E1", 30_000, &world.s1, PIN_S1))
            .await
            .unwrap();
        (world, paid)
    });
    engine.shutdown().unwrap();
    let records = support::cut::record_count(dir.path());
    let mut never_asked = 0;
    let mut left_requested = 0;
    for torn in 1..=10.min(records - 1) {
        let copy = tempfile::tempdir().unwrap();
        support::cut::copy_dir(dir.path(), copy.path());
        support::cut::tear_last_records(copy.path(), torn);
        let engine = start(copy.path(), 1, &config);
        rt.block_on(async {
            let Ok(after) = engine.payment(paid.id).await else {
                return;
            };
            if after.state != PaymentState::Requested {
                return;
            }
            left_requested += 1;
            let sale = paid.id.sale_request_no();
            // Asked: on record with its first call made.
            let asked = engine
                .request(sale)
                .await
                .is_ok_and(|v| !v.entries.is_empty());
            never_asked += u64::from(!asked);
            // Nobody asks for it again: the supervisors finish it.
            let mut now = after;
            for _ in 0..100 {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                engine.supervise_once().await.unwrap();
                now = engine.payment(paid.id).await.unwrap();
                if now.state != PaymentState::Requested {
                    break;
                }
            }
            assert_ne!(now.state, PaymentState::Requested, "{torn} torn: {now:?}");
            if !asked {
                assert_eq!(declined(&now), Some(DeclineCode::Timeout), "{torn} torn");
            }
            let account = engine
                .division_account(id(&world.s1))
                .await
                .unwrap()
                .account;
            let approved = now.state == PaymentState::Approved;
            assert_eq!(
                (
                    account.counters.spent_in(Period::Month, now.created_at_ms),
                    account.counters.reserved_krw
                ),
                (if approved { 30_000 } else { 0 }, 0),
                "{torn} torn: {now:?}"
            );
            // Sent again: the answer it was finished with; nothing moves.
            let again = engine
                .pay(division_payment("E1", 30_000, &world.s1, PIN_S1))
                .await
                .unwrap();
            assert_eq!(again.state, now.state, "{torn} torn");
            if !asked {
                let sale = engine.request(sale).await;
                assert!(
                    sale.as_ref().is_err() || sale.as_ref().is_ok_and(|v| v.entries.is_empty()),
                    "{torn} torn: a sale was asked: {sale:?}"
                );
            }
            let expected = if approved { 270_000 } else { 300_000 };
            assert_eq!(
                master_balance(&engine).await,
                money(expected),
                "{torn} torn"
            );
        });
        engine.shutdown().unwrap();
    }
    assert!(
        never_asked > 0 && left_requested > never_asked,
        "the cuts left {left_requested} REQUESTED, {never_asked} with no sale asked"
    );
}

#[test]
fn division_refund_after_payout_needs_merchant_funds() {
    use support::payout_days::{day_d_ten_am, payouts_of_day, start_with};
    // Without a reserve, then the variant with m keeping 10,000 back. One shard: m's
    // account is one slice, as §1.6 counts it (with more, the reserve is shared out among
    // m's slices, and the payer's slice keeps only its share).
    let one_shard = format!("[engine]\nshards = 1\n{QUICK}");
    for reserve in [0, 10_000] {
        let dir = tempfile::tempdir().unwrap();
        let d = day_d_ten_am();
        let (engine, _sim, clock) = start_with(dir.path(), d, &one_shard);
        let rt = runtime();
        rt.block_on(async {
            let w = fixture_reserving(&engine, reserve).await;
            let paid = engine
                .pay(division_payment("E1", 30_000, &w.s1, PIN_S1))
                .await
                .unwrap();
            assert_eq!(paid.state, PaymentState::Approved, "{paid:?}");
            // The D+1 payout pays m all but its reserve.
            payouts_of_day(&engine, &clock, omnibus_core::payments::kst::kst_day(d) + 1).await;
            let m = engine.merchant(MerchantId::new("m").unwrap()).unwrap();
            let merchant = AccountId::merchant(m.no);
            assert_eq!(balance(&engine, merchant).await, money(reserve as i64));
            let refund = engine
                .refund_payment(m.merchant.id, paid.id, "RF-E8b".parse().unwrap(), 10_000)
                .await;
            let now = engine.payment(paid.id).await.unwrap();
            let settled = engine.payment_settlements(&now).await.unwrap();
            assert!(
                settled.payment.is_some(),
                "the payout settled it: {settled:?}"
            );
            if reserve == 0 {
                assert_eq!(
                    refusal_code(refund.unwrap_err()),
                    RefusalCode::RefundExceedsMerchantBalance
                );
                assert_eq!(now.state, PaymentState::Approved);
                assert_eq!(master_balance(&engine).await, money(270_000));
                assert_eq!(spent(&engine, &w.s1, paid.created_at_ms).await, 30_000);
            } else {
                assert_eq!(refund.unwrap().state, PaymentState::PartiallyRefunded);
                assert!(balance(&engine, merchant).await.is_zero());
                assert_eq!(master_balance(&engine).await, money(280_000));
                assert_eq!(spent(&engine, &w.s1, paid.created_at_ms).await, 20_000);
            }
        });
        engine.shutdown().unwrap();
    }
}

/// I5 with the mobile identity check as a rail (D-1.6, D-1.12): the provider's verdict on
/// the phone's holder decides with the identity the master gave. A phone whose check
/// fails is refused `IDENTITY_CHECK_FAILED` (only wrong codes count toward voiding it,
/// D-1.12); a check that does not answer is refused `RAIL_UNAVAILABLE`; once the provider
/// vouches for the slave, the activation goes through.
#[test]
fn division_activation_asks_the_mobile_identity_check() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(
        dir.path(),
        2,
        &format!("{QUICK}[rails.authentication]\ntimeout_ms = 100\n"),
    );
    let rt = runtime();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        let s3 = engine
            .issue_division_accounts(
                customer(1),
                issue(vec![application("김세나", "01055556666", 50_000, 50_000)]),
            )
            .await
            .unwrap()
            .pop()
            .unwrap();
        let activate = |engine: &Engine| {
            let (number, code) = (s3.number.ascii(), s3.activation_code.clone());
            let engine = engine.clone();
            async move {
                engine
                    .activate_division(
                        &number,
                        code,
                        slave("김세나", "01055556666"),
                        SecretText::new("246810".into()),
                    )
                    .await
            }
        };
        let failed_tries = |engine: &Engine| {
            let engine = engine.clone();
            let id = id(&s3);
            async move {
                let account = engine.division_account(id).await.unwrap().account;
                account.activation.map(|(_, a)| a.failed_count)
            }
        };
        // The phone's holder did not pass the check.
        sim.set_phone_holder("01055556666", None);
        let refused = activate(&engine).await.unwrap_err();
        assert_eq!(refusal_code(refused), RefusalCode::IdentityCheckFailed);
        assert_eq!(failed_tries(&engine).await, Some(0));
        // The provider does not answer: not counted.
        sim.set_rates(Rail::Authentication, always("timeout"));
        let silent = activate(&engine).await.unwrap_err();
        sim.set_rates(Rail::Authentication, healthy());
        assert_eq!(refusal_code(silent), RefusalCode::RailUnavailable);
        assert_eq!(failed_tries(&engine).await, Some(0));
        // The provider vouches for the slave.
        sim.set_phone_holder("01055556666", Some(("김세나", "1995-04-01")));
        let active = activate(&engine).await.unwrap();
        assert_eq!(active.account.status, DivisionStatus::Active);
    });
    engine.shutdown().unwrap();
}
