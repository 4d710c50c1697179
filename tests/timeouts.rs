//! The SPEC §4 table, row by row: for each step, what a FAIL and a timeout tell the
//! customer, what the request-log entries say, and the balances on both sides (the
//! engine's books and the simulated outside systems' truth). What confirmation leads to
//! afterwards is the supervisors' part (tests/supervisors.rs).

mod support;

use omnibus_actors::rails::sim::{Rail, Simulator};
use omnibus_actors::{Engine, EngineError, Rejection};
use omnibus_core::request_log::{EntryState, Step, Told};
use omnibus_core::{AccountNo, BankCode, Money, ParentAccount};
use support::*;

/// Rails answer within 100 ms or time out; nothing else changes.
const FAST: &str = "[rails.bank_firm]\ntimeout_ms = 100\n[rails.securities_firm]\ntimeout_ms = 100\n[rails.financial_company]\ntimeout_ms = 100\n";

struct World {
    engine: Engine,
    sim: Simulator,
    key: ed25519_dalek::SigningKey,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// Customer 1, linked at bank 004, opened; `funded` won charged on healthy rails.
fn world(funded: i64) -> World {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 2, FAST);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (opened, key) = opened_with_key(1);
    rt.block_on(async {
        engine.open_customer(opened).await.unwrap();
        if funded > 0 {
            assert_eq!(
                engine.charge(charge(1, "FUND", funded)).await.unwrap().told,
                Told::Succeeded
            );
        }
    });
    World {
        engine,
        sim,
        key,
        rt,
        _dir: dir,
    }
}

fn entries(w: &World, request_no: &str) -> Vec<(Step, EntryState)> {
    let view =
        w.rt.block_on(w.engine.request(request_no.parse().unwrap()))
            .unwrap();
    view.entries.iter().map(|e| (e.step, e.state)).collect()
}

fn linked_truth(w: &World) -> Money {
    w.sim.truth().linked(
        BankCode::new("004").unwrap(),
        AccountNo::new("110-000000001").unwrap(),
    )
}

fn engine_won(w: &World) -> i64 {
    w.rt.block_on(won(&w.engine, 1))
}

fn available_won(w: &World) -> i64 {
    w.rt.block_on(w.engine.customer_balance(customer(1)))
        .unwrap()
        .available
        .value()
        .try_into()
        .unwrap()
}

fn truth_won(w: &World) -> i64 {
    w.sim
        .truth()
        .customer(customer(1))
        .value()
        .try_into()
        .unwrap()
}

fn parent_won(w: &World, parent: ParentAccount) -> i64 {
    w.rt.block_on(w.engine.parent_balance(parent))
        .unwrap()
        .total
        .value()
        .try_into()
        .unwrap()
}

fn finish(w: World) {
    let totals = w.rt.block_on(w.engine.totals()).unwrap();
    assert!(
        totals.sum.is_zero(),
        "the engine's books balance: {totals:?}"
    );
    assert!(
        w.sim.truth().is_conserved(),
        "the outside world's money is conserved"
    );
    w.engine.shutdown().unwrap();
}

#[test]
fn charge_bank_withdrawal_fail_fails_the_charge_and_moves_nothing() {
    let w = world(0);
    let before = linked_truth(&w);
    w.sim.set_rates(Rail::BankFirm, always("fail"));
    let outcome =
        w.rt.block_on(w.engine.charge(charge(1, "C-1", 10_000)))
            .unwrap();
    assert_eq!(
        (outcome.told, outcome.decided_by, outcome.timed_out),
        (Told::Failed, Step::ChargeWithdrawal, false)
    );
    assert_eq!(
        entries(&w, "C-1"),
        vec![(Step::ChargeWithdrawal, EntryState::Fail)]
    );
    assert_eq!(engine_won(&w), 0);
    assert_eq!(linked_truth(&w), before, "the bank drew nothing");
    finish(w);
}

#[test]
fn charge_bank_withdrawal_timeout_is_reported_failed_and_left_unknown() {
    let w = world(0);
    let before = linked_truth(&w);
    w.sim.set_rates(Rail::BankFirm, always("timeout"));
    let outcome =
        w.rt.block_on(w.engine.charge(charge(1, "C-1", 10_000)))
            .unwrap();
    assert_eq!(
        (outcome.told, outcome.decided_by, outcome.timed_out),
        (Told::Failed, Step::ChargeWithdrawal, true)
    );
    assert_eq!(
        entries(&w, "C-1"),
        vec![(Step::ChargeWithdrawal, EntryState::Unknown)]
    );
    assert_eq!(engine_won(&w), 0);
    assert_eq!(linked_truth(&w), before);
    finish(w);
}

#[test]
fn charge_securities_credit_fail_is_reported_success_and_left_to_reprocessing() {
    let w = world(0);
    let before = linked_truth(&w);
    w.sim.set_rates(Rail::SecuritiesFirm, always("fail"));
    let outcome =
        w.rt.block_on(w.engine.charge(charge(1, "C-1", 10_000)))
            .unwrap();
    assert_eq!(
        (outcome.told, outcome.decided_by),
        (Told::Succeeded, Step::ChargeCredit)
    );
    assert_eq!(
        entries(&w, "C-1"),
        vec![
            (Step::ChargeWithdrawal, EntryState::Success),
            (Step::ChargeCredit, EntryState::FailTryAgain)
        ]
    );
    // The money left the linked account and sits in the withdrawal firm account; the
    // securities account was not credited (yet): on both sides.
    assert_eq!(
        linked_truth(&w),
        before.checked_sub(Money::krw(10_000).unwrap()).unwrap()
    );
    assert_eq!(
        parent_won(
            &w,
            ParentAccount::WithdrawalFirm(BankCode::new("004").unwrap())
        ),
        10_000
    );
    assert_eq!((engine_won(&w), truth_won(&w)), (0, 0));
    finish(w);
}

#[test]
fn charge_securities_credit_timeout_is_reported_success_and_left_unknown() {
    let w = world(0);
    w.sim.set_rates(Rail::SecuritiesFirm, always("timeout"));
    let outcome =
        w.rt.block_on(w.engine.charge(charge(1, "C-1", 10_000)))
            .unwrap();
    assert_eq!(
        (outcome.told, outcome.decided_by, outcome.timed_out),
        (Told::Succeeded, Step::ChargeCredit, true)
    );
    assert_eq!(
        entries(&w, "C-1"),
        vec![
            (Step::ChargeWithdrawal, EntryState::Success),
            (Step::ChargeCredit, EntryState::Unknown)
        ]
    );
    assert_eq!((engine_won(&w), truth_won(&w)), (0, 0));
    finish(w);
}

#[test]
fn remit_securities_deduction_fail_fails_the_remittance_and_moves_nothing() {
    let w = world(100_000);
    w.sim.set_rates(Rail::SecuritiesFirm, always("fail"));
    let outcome =
        w.rt.block_on(w.engine.remit(remit(1, "R-1", 30_000)))
            .unwrap();
    assert_eq!(
        (outcome.told, outcome.decided_by),
        (Told::Failed, Step::RemitDeduction)
    );
    assert_eq!(
        entries(&w, "R-1"),
        vec![(Step::RemitDeduction, EntryState::Fail)]
    );
    assert_eq!(
        (engine_won(&w), available_won(&w), truth_won(&w)),
        (100_000, 100_000, 100_000)
    );
    finish(w);
}

#[test]
fn remit_securities_deduction_timeout_is_reported_failed_and_left_unknown() {
    let w = world(100_000);
    w.sim.set_rates(Rail::SecuritiesFirm, always("timeout"));
    let outcome =
        w.rt.block_on(w.engine.remit(remit(1, "R-1", 30_000)))
            .unwrap();
    assert_eq!(
        (outcome.told, outcome.decided_by, outcome.timed_out),
        (Told::Failed, Step::RemitDeduction, true)
    );
    assert_eq!(
        entries(&w, "R-1"),
        vec![(Step::RemitDeduction, EntryState::Unknown)]
    );
    // Until it is confirmed, the amount stays held: it cannot be spent twice.
    assert_eq!(
        (engine_won(&w), available_won(&w), truth_won(&w)),
        (100_000, 70_000, 100_000)
    );
    finish(w);
}

#[test]
fn remit_bank_deposit_fail_is_reported_failed_and_the_customer_is_recovered() {
    let w = world(100_000);
    w.sim.set_rates(Rail::BankFirm, always("fail"));
    let outcome =
        w.rt.block_on(w.engine.remit(remit(1, "R-1", 30_000)))
            .unwrap();
    assert_eq!(
        (outcome.told, outcome.decided_by),
        (Told::Failed, Step::RemitDeposit)
    );
    // The recovery is asynchronous; it re-credits through the securities firm.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while entries(&w, "R-1").last() != Some(&(Step::Recovery, EntryState::Success)) {
        assert!(
            std::time::Instant::now() < deadline,
            "recovery did not finish: {:?}",
            entries(&w, "R-1")
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        entries(&w, "R-1"),
        vec![
            (Step::RemitDeduction, EntryState::Success),
            (Step::RemitDeposit, EntryState::Fail),
            (Step::Recovery, EntryState::Success),
        ]
    );
    assert_eq!((engine_won(&w), truth_won(&w)), (100_000, 100_000));
    finish(w);
}

#[test]
fn remit_bank_deposit_timeout_is_reported_success_and_left_unknown() {
    let w = world(100_000);
    // The deposit happens at the bank but its answer is lost: what the confirm inquiry
    // will find (tests/supervisors.rs).
    w.sim.set_rates(Rail::BankFirm, always("lost"));
    let outcome =
        w.rt.block_on(w.engine.remit(remit(1, "R-1", 30_000)))
            .unwrap();
    assert_eq!(
        (outcome.told, outcome.decided_by, outcome.timed_out),
        (Told::Succeeded, Step::RemitDeposit, true)
    );
    assert_eq!(
        entries(&w, "R-1"),
        vec![
            (Step::RemitDeduction, EntryState::Success),
            (Step::RemitDeposit, EntryState::Unknown)
        ]
    );
    assert_eq!((engine_won(&w), truth_won(&w)), (70_000, 70_000));
    let payee = w.sim.truth().designated(
        BankCode::new("088").unwrap(),
        AccountNo::new("220-33-44444").unwrap(),
    );
    assert_eq!(
        payee,
        Money::krw(30_000).unwrap(),
        "the bank paid the payee"
    );
    // The engine holds the deposit firm's amount until the deposit is confirmed.
    assert_eq!(
        parent_won(
            &w,
            ParentAccount::DepositFirm(BankCode::new("088").unwrap())
        ),
        500_000_000
    );
    finish(w);
}

fn signed_remit(
    w: &World,
    request_no: &str,
    won: i64,
) -> Result<omnibus_actors::Outcome, EngineError> {
    let request = remit(1, request_no, won);
    w.rt.block_on(async {
        let text = w.engine.signing_text(request).await?;
        w.engine
            .remit_signed(request, sign(&text.text, &w.key, 9_001))
            .await
    })
}

#[test]
fn payment_instruction_fail_fails_the_remittance() {
    let w = world(3_000_000);
    w.sim.set_rates(Rail::FinancialCompany, always("fail"));
    let outcome = signed_remit(&w, "R-PI", 2_500_000).unwrap();
    assert_eq!(
        (outcome.told, outcome.decided_by),
        (Told::Failed, Step::PaymentInstruction)
    );
    assert_eq!(
        entries(&w, "R-PI"),
        vec![(Step::PaymentInstruction, EntryState::Fail)]
    );
    assert_eq!(
        (engine_won(&w), available_won(&w), truth_won(&w)),
        (3_000_000, 3_000_000, 3_000_000)
    );
    finish(w);
}

#[test]
fn payment_instruction_timeout_is_reported_failed_and_left_unknown() {
    let w = world(3_000_000);
    w.sim.set_rates(Rail::FinancialCompany, always("timeout"));
    let outcome = signed_remit(&w, "R-PI", 2_500_000).unwrap();
    assert_eq!(
        (outcome.told, outcome.decided_by, outcome.timed_out),
        (Told::Failed, Step::PaymentInstruction, true)
    );
    assert_eq!(
        entries(&w, "R-PI"),
        vec![(Step::PaymentInstruction, EntryState::Unknown)]
    );
    assert_eq!(
        (engine_won(&w), available_won(&w), truth_won(&w)),
        (3_000_000, 500_000, 3_000_000)
    );
    finish(w);
}

#[test]
fn a_late_answer_is_still_reflected() {
    let w = world(0);
    // The bank answers after 300 ms; the engine waits 100 ms, tells the customer the
    // charge failed ([0140]), and reflects the late success when it comes, going on with
    // the securities credit ([0231]).
    let mut slow = always("fail");
    slow.failure_rate = 0.0;
    slow.latency_us_min = 300_000;
    slow.latency_us_max = 300_000;
    w.sim.set_rates(Rail::BankFirm, slow);
    let outcome =
        w.rt.block_on(w.engine.charge(charge(1, "C-LATE", 10_000)))
            .unwrap();
    assert_eq!((outcome.told, outcome.timed_out), (Told::Failed, true));
    assert_eq!(
        entries(&w, "C-LATE"),
        vec![(Step::ChargeWithdrawal, EntryState::Unknown)]
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while entries(&w, "C-LATE")
        != vec![
            (Step::ChargeWithdrawal, EntryState::Success),
            (Step::ChargeCredit, EntryState::Success),
        ]
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the late answer was not reflected: {:?}",
            entries(&w, "C-LATE")
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!((engine_won(&w), truth_won(&w)), (10_000, 10_000));
    // A resubmission returns what the customer was told, not a second charge.
    let again =
        w.rt.block_on(w.engine.charge(charge(1, "C-LATE", 10_000)))
            .unwrap();
    assert_eq!(again.told, Told::Failed);
    assert_eq!(engine_won(&w), 10_000);
    finish(w);
}

#[test]
fn a_key_the_authentication_server_says_is_not_valid_is_refused() {
    let w = world(3_000_000);
    w.sim.revoke(9_001);
    let err = signed_remit(&w, "R-PI", 2_500_000).unwrap_err();
    assert_eq!(err, EngineError::Rejected(Rejection::KeyNotValid(9_001)));
    assert!(
        w.rt.block_on(w.engine.request("R-PI".parse().unwrap()))
            .is_err(),
        "nothing is on record"
    );
    assert_eq!((engine_won(&w), truth_won(&w)), (3_000_000, 3_000_000));
    finish(w);
}
