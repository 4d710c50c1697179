//! The SPEC §4 table, row by row: for each step, what a FAIL and a timeout tell the
//! customer, what the request-log entries say, and the balances on both sides (the
//! engine's books and the simulated outside systems' truth). What confirmation leads to
//! afterwards is the supervisors' part (tests/supervisors.rs).

mod support;

use omnibus_actors::rails::sim::Rail;
use omnibus_actors::{EngineError, Rejection};
use omnibus_core::request_log::{EntryState, Step, Told};
use omnibus_core::{AccountNo, BankCode, Money, ParentAccount};
use support::world::World;
use support::*;

fn world(funded: i64) -> World {
    World::new(2, FAST, funded)
}

/// Rails answer within 100 ms or time out; nothing else changes.
const FAST: &str = "[rails.bank_firm]\ntimeout_ms = 100\n[rails.securities_firm]\ntimeout_ms = 100\n[rails.financial_company]\ntimeout_ms = 100\n";

#[test]
fn charge_bank_withdrawal_fail_fails_the_charge_and_moves_nothing() {
    let w = world(0);
    let before = w.linked_truth();
    w.sim.set_rates(Rail::BankFirm, always("fail"));
    let outcome =
        w.rt.block_on(w.engine.charge(charge(1, "C-1", 10_000)))
            .unwrap();
    assert_eq!(
        (outcome.told, outcome.decided_by, outcome.timed_out),
        (Told::Failed, Step::ChargeWithdrawal, false)
    );
    assert_eq!(
        w.entries("C-1"),
        vec![(Step::ChargeWithdrawal, EntryState::Fail)]
    );
    assert_eq!(w.engine_won(), 0);
    assert_eq!(w.linked_truth(), before, "the bank drew nothing");
    w.finish();
}

#[test]
fn charge_bank_withdrawal_timeout_is_reported_failed_and_left_unknown() {
    let w = world(0);
    let before = w.linked_truth();
    w.sim.set_rates(Rail::BankFirm, always("timeout"));
    let outcome =
        w.rt.block_on(w.engine.charge(charge(1, "C-1", 10_000)))
            .unwrap();
    assert_eq!(
        (outcome.told, outcome.decided_by, outcome.timed_out),
        (Told::Failed, Step::ChargeWithdrawal, true)
    );
    assert_eq!(
        w.entries("C-1"),
        vec![(Step::ChargeWithdrawal, EntryState::Unknown)]
    );
    assert_eq!(w.engine_won(), 0);
    assert_eq!(w.linked_truth(), before);
    w.finish();
}

#[test]
fn charge_securities_credit_fail_is_reported_success_and_left_to_reprocessing() {
    let w = world(0);
    let before = w.linked_truth();
    w.sim.set_rates(Rail::SecuritiesFirm, always("fail"));
    let outcome =
        w.rt.block_on(w.engine.charge(charge(1, "C-1", 10_000)))
            .unwrap();
    assert_eq!(
        (outcome.told, outcome.decided_by),
        (Told::Succeeded, Step::ChargeCredit)
    );
    assert_eq!(
        w.entries("C-1"),
        vec![
            (Step::ChargeWithdrawal, EntryState::Success),
            (Step::ChargeCredit, EntryState::FailTryAgain)
        ]
    );
    // The money left the linked account and sits in the withdrawal firm account; the
    // securities account was not credited (yet): on both sides.
    assert_eq!(
        w.linked_truth(),
        before.checked_sub(Money::krw(10_000).unwrap()).unwrap()
    );
    assert_eq!(
        w.parent_won(ParentAccount::WithdrawalFirm(BankCode::new("004").unwrap())),
        10_000
    );
    assert_eq!((w.engine_won(), w.truth_won()), (0, 0));
    w.finish();
}

#[test]
fn charge_securities_credit_timeout_is_reported_success_and_left_unknown() {
    let w = world(0);
    w.sim.set_rates(Rail::SecuritiesFirm, always("timeout"));
    let outcome =
        w.rt.block_on(w.engine.charge(charge(1, "C-1", 10_000)))
            .unwrap();
    // Told with the credit's entry, before the credit timed out (issue 13: the answer
    // every result of the credit gives), so not a timeout's answer.
    assert_eq!(
        (outcome.told, outcome.decided_by, outcome.timed_out),
        (Told::Succeeded, Step::ChargeCredit, false)
    );
    assert_eq!(
        w.entries("C-1"),
        vec![
            (Step::ChargeWithdrawal, EntryState::Success),
            (Step::ChargeCredit, EntryState::Unknown)
        ]
    );
    assert_eq!((w.engine_won(), w.truth_won()), (0, 0));
    w.finish();
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
        w.entries("R-1"),
        vec![(Step::RemitDeduction, EntryState::Fail)]
    );
    assert_eq!(
        (w.engine_won(), w.available_won(), w.truth_won()),
        (100_000, 100_000, 100_000)
    );
    w.finish();
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
        w.entries("R-1"),
        vec![(Step::RemitDeduction, EntryState::Unknown)]
    );
    // Until it is confirmed, the amount stays held: it cannot be spent twice.
    assert_eq!(
        (w.engine_won(), w.available_won(), w.truth_won()),
        (100_000, 70_000, 100_000)
    );
    w.finish();
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
    while w.entries("R-1").last() != Some(&(Step::Recovery, EntryState::Success)) {
        assert!(
            std::time::Instant::now() < deadline,
            "recovery did not finish: {:?}",
            w.entries("R-1")
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        w.entries("R-1"),
        vec![
            (Step::RemitDeduction, EntryState::Success),
            (Step::RemitDeposit, EntryState::Fail),
            (Step::Recovery, EntryState::Success),
        ]
    );
    assert_eq!((w.engine_won(), w.truth_won()), (100_000, 100_000));
    w.finish();
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
        w.entries("R-1"),
        vec![
            (Step::RemitDeduction, EntryState::Success),
            (Step::RemitDeposit, EntryState::Unknown)
        ]
    );
    assert_eq!((w.engine_won(), w.truth_won()), (70_000, 70_000));
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
        w.parent_won(ParentAccount::DepositFirm(BankCode::new("088").unwrap())),
        omnibus_core::Config::embedded()
            .parents
            .deposit_firm
            .opening
    );
    w.finish();
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
        w.entries("R-PI"),
        vec![(Step::PaymentInstruction, EntryState::Fail)]
    );
    assert_eq!(
        (w.engine_won(), w.available_won(), w.truth_won()),
        (3_000_000, 3_000_000, 3_000_000)
    );
    w.finish();
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
        w.entries("R-PI"),
        vec![(Step::PaymentInstruction, EntryState::Unknown)]
    );
    assert_eq!(
        (w.engine_won(), w.available_won(), w.truth_won()),
        (3_000_000, 500_000, 3_000_000)
    );
    w.finish();
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
        w.entries("C-LATE"),
        vec![(Step::ChargeWithdrawal, EntryState::Unknown)]
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while w.entries("C-LATE")
        != vec![
            (Step::ChargeWithdrawal, EntryState::Success),
            (Step::ChargeCredit, EntryState::Success),
        ]
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the late answer was not reflected: {:?}",
            w.entries("C-LATE")
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!((w.engine_won(), w.truth_won()), (10_000, 10_000));
    // A resubmission returns what the customer was told, not a second charge.
    let again =
        w.rt.block_on(w.engine.charge(charge(1, "C-LATE", 10_000)))
            .unwrap();
    assert_eq!(again.told, Told::Failed);
    assert_eq!(w.engine_won(), 10_000);
    w.finish();
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
    assert_eq!((w.engine_won(), w.truth_won()), (3_000_000, 3_000_000));
    w.finish();
}
