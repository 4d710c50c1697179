// Over 600 lines: 40 tests of the supervisors, each setting up the state a live call leaves, sharing one set of builders.
//! The supervisors (issue 6): confirmation of UNKNOWN entries by request id, reprocessing
//! with its three checks, refunds, recovery retried until done, and sweeps. Each test
//! sets up the state a live call leaves (tests/timeouts.rs), runs the supervisors, and
//! checks the "then" column of the SPEC §4 table on both sides.

mod support;

use std::sync::Arc;

use omnibus_actors::rails::sim::{Rail, Simulator};
use omnibus_actors::{Clock, Engine, EngineParts, ManualClock};
use omnibus_core::request_log::{EntryState, Step, Told};
use omnibus_core::{AccountNo, BankCode, Money, ParentAccount};
use support::world::World;
use support::*;

fn world_with(extra: &str, funded: i64) -> World {
    World::new(2, &format!("{SUPERVISED}\n---\n{extra}"), funded)
}

fn world(funded: i64) -> World {
    world_with("", funded)
}

fn world_on(engine: Engine, sim: Simulator, dir: tempfile::TempDir, funded: i64) -> World {
    World::on(engine, sim, dir, funded)
}

/// Fast timeouts, no window, immediate retries; the supervisors' own timers are parked
/// far away, and parent slices are not refilled on demand, so only `supervise_once`
/// moves things.
const SUPERVISED: &str = "[rails.bank_firm]\ntimeout_ms = 100\n[rails.securities_firm]\ntimeout_ms = 100\n[rails.financial_company]\ntimeout_ms = 100\n\
[supervisor]\nwindow_min_age_ms = 0\nretry_backoff_min_ms = 1\nretry_backoff_max_ms = 1\nnon_reflected_interval_ms = 86_400_000\nreprocess_interval_ms = 86_400_000\nrecovery_interval_ms = 86_400_000\nsweep_interval_ms = 86_400_000\nrefill_on_demand = false\n";

#[test]
fn bank_withdrawal_confirmed_done_after_a_timeout_continues_with_the_credit() {
    let w = world(0);
    let before = w.linked_truth();
    w.sim.set_rates(Rail::BankFirm, always("lost"));
    let told =
        w.rt.block_on(w.engine.charge(charge(1, "C-1", 10_000)))
            .unwrap();
    assert_eq!(
        told.told,
        Told::Failed,
        "a withdrawal timeout is reported as failed ([0140])"
    );
    let r = w.settle();
    assert_eq!(r.confirmed_done, 1);
    assert_eq!(
        w.entries("C-1"),
        vec![
            (Step::ChargeWithdrawal, EntryState::Success),
            (Step::ChargeCredit, EntryState::Success)
        ]
    );
    assert_eq!(
        (w.engine_won(), w.truth_won()),
        (10_000, 10_000),
        "the charge completed ([0231])"
    );
    assert_eq!(
        w.linked_truth(),
        before.checked_sub(Money::krw(10_000).unwrap()).unwrap()
    );
    w.finish();
}

#[test]
fn bank_withdrawal_confirmed_not_done_fails_and_moves_nothing() {
    let w = world(0);
    w.sim.set_rates(Rail::BankFirm, always("timeout"));
    w.rt.block_on(w.engine.charge(charge(1, "C-1", 10_000)))
        .unwrap();
    let r = w.settle();
    assert_eq!(r.confirmed_not_done, 1);
    assert_eq!(
        w.entries("C-1"),
        vec![(Step::ChargeWithdrawal, EntryState::Fail)]
    );
    assert_eq!((w.engine_won(), w.truth_won()), (0, 0));
    w.finish();
}

#[test]
fn a_failed_charge_credit_is_reprocessed_once_the_securities_firm_recovers() {
    let w = world(0);
    w.sim.set_rates(Rail::SecuritiesFirm, always("fail"));
    let told =
        w.rt.block_on(w.engine.charge(charge(1, "C-1", 10_000)))
            .unwrap();
    assert_eq!(told.told, Told::Succeeded);
    w.after_turn();
    w.sim.set_rates(Rail::SecuritiesFirm, healthy());
    let r = w.settle();
    assert_eq!(r.reprocessed, 1);
    let view =
        w.rt.block_on(w.engine.request("C-1".parse().unwrap()))
            .unwrap();
    let credit = view
        .entries
        .iter()
        .find(|e| e.step == Step::ChargeCredit)
        .unwrap();
    assert_eq!(
        (credit.state, credit.attempt, credit.failures),
        (EntryState::Success, 2, 1)
    );
    assert_eq!((w.engine_won(), w.truth_won()), (10_000, 10_000));
    w.finish();
}

#[test]
fn a_charge_credit_that_keeps_failing_is_given_up_and_refunded_to_the_linked_account() {
    let w = world_with("[supervisor]\nreprocess_failures_max = 2\n", 0);
    let before = w.linked_truth();
    w.sim.set_rates(Rail::SecuritiesFirm, always("fail"));
    w.rt.block_on(w.engine.charge(charge(1, "C-1", 10_000)))
        .unwrap();
    let r = w.settle();
    assert_eq!((r.reprocessed, r.gave_up), (2, 1), "{r:?}");
    assert_eq!(
        w.entries("C-1"),
        vec![
            (Step::ChargeWithdrawal, EntryState::Success),
            (Step::ChargeCredit, EntryState::Fail),
            (Step::Refund, EntryState::Success)
        ]
    );
    assert_eq!(
        w.linked_truth(),
        before,
        "the linked account got its money back"
    );
    assert_eq!((w.engine_won(), w.truth_won()), (0, 0));
    assert_eq!(
        w.parent_won(ParentAccount::WithdrawalFirm(BankCode::new("004").unwrap())),
        0
    );
    w.finish();
}

#[test]
fn a_charge_credit_is_not_reprocessed_for_a_customer_whose_subscription_is_no_longer_valid() {
    let w = world(0);
    let before = w.linked_truth();
    w.sim.set_rates(Rail::SecuritiesFirm, always("fail"));
    w.rt.block_on(w.engine.charge(charge(1, "C-1", 10_000)))
        .unwrap();
    w.after_turn();
    w.sim.set_rates(Rail::SecuritiesFirm, healthy());
    w.rt.block_on(w.engine.set_customer_status(customer(1), true, false))
        .unwrap();
    let r = w.settle();
    assert_eq!((r.reprocessed, r.gave_up), (0, 1));
    assert_eq!(
        w.entries("C-1").last(),
        Some(&(Step::Refund, EntryState::Success))
    );
    assert_eq!(w.linked_truth(), before);
    w.finish();
}

#[test]
fn a_charge_credit_that_timed_out_but_happened_is_confirmed_not_paid_twice() {
    let w = world(0);
    w.sim.set_rates(Rail::SecuritiesFirm, always("lost"));
    assert_eq!(
        w.rt.block_on(w.engine.charge(charge(1, "C-1", 10_000)))
            .unwrap()
            .told,
        Told::Succeeded
    );
    w.after_turn();
    w.sim.set_rates(Rail::SecuritiesFirm, healthy());
    let r = w.settle();
    assert_eq!((r.confirmed_done, r.reprocessed), (1, 0));
    assert_eq!(
        (w.engine_won(), w.truth_won()),
        (10_000, 10_000),
        "credited exactly once"
    );
    w.finish();
}

#[test]
fn securities_deduction_confirmed_done_after_a_timeout_is_recovered() {
    let w = world(100_000);
    w.sim.set_rates(Rail::SecuritiesFirm, always("lost"));
    let told =
        w.rt.block_on(w.engine.remit(remit(1, "R-1", 30_000)))
            .unwrap();
    assert_eq!(told.told, Told::Failed);
    w.sim.set_rates(Rail::SecuritiesFirm, healthy());
    let r = w.settle();
    assert_eq!(r.confirmed_done, 1);
    assert_eq!(
        w.entries("R-1"),
        vec![
            (Step::RemitDeduction, EntryState::Success),
            (Step::Recovery, EntryState::Success)
        ],
        "the deduction happened; the customer, told it failed, gets it back ([0226])"
    );
    assert_eq!(
        (w.engine_won(), w.available_won(), w.truth_won()),
        (100_000, 100_000, 100_000)
    );
    w.finish();
}

#[test]
fn securities_deduction_confirmed_not_done_fails_and_releases_the_hold() {
    let w = world(100_000);
    w.sim.set_rates(Rail::SecuritiesFirm, always("timeout"));
    w.rt.block_on(w.engine.remit(remit(1, "R-1", 30_000)))
        .unwrap();
    assert_eq!(w.available_won(), 70_000);
    let r = w.settle();
    assert_eq!(r.confirmed_not_done, 1);
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
fn bank_deposit_confirmed_done_after_a_timeout_books_the_deposit() {
    let w = world(100_000);
    w.sim.set_rates(Rail::BankFirm, always("lost"));
    assert_eq!(
        w.rt.block_on(w.engine.remit(remit(1, "R-1", 30_000)))
            .unwrap()
            .told,
        Told::Succeeded
    );
    let r = w.settle();
    assert_eq!(r.confirmed_done, 1);
    assert_eq!(
        w.entries("R-1"),
        vec![
            (Step::RemitDeduction, EntryState::Success),
            (Step::RemitDeposit, EntryState::Success)
        ]
    );
    assert_eq!(
        w.parent_won(ParentAccount::DepositFirm(BankCode::new("088").unwrap())),
        omnibus_core::Config::embedded()
            .parents
            .deposit_firm
            .opening
            - 30_000
    );
    assert_eq!((w.engine_won(), w.truth_won()), (70_000, 70_000));
    w.finish();
}

#[test]
fn bank_deposit_confirmed_not_done_fails_and_the_customer_is_recovered() {
    let w = world(100_000);
    w.sim.set_rates(Rail::BankFirm, always("timeout"));
    assert_eq!(
        w.rt.block_on(w.engine.remit(remit(1, "R-1", 30_000)))
            .unwrap()
            .told,
        Told::Succeeded
    );
    let r = w.settle();
    assert_eq!(r.confirmed_not_done, 1);
    assert_eq!(
        w.entries("R-1"),
        vec![
            (Step::RemitDeduction, EntryState::Success),
            (Step::RemitDeposit, EntryState::Fail),
            (Step::Recovery, EntryState::Success)
        ]
    );
    assert_eq!((w.engine_won(), w.truth_won()), (100_000, 100_000));
    let payee = w.sim.truth().designated(
        BankCode::new("088").unwrap(),
        AccountNo::new("220-33-44444").unwrap(),
    );
    assert!(payee.is_zero(), "nobody was paid");
    w.finish();
}

#[test]
fn a_recovery_is_retried_until_it_succeeds() {
    let w = world(100_000);
    // The deposit gets no answer; by the time it is confirmed not done, the securities
    // firm refuses everything, so the recovery fails and must be retried.
    w.sim.set_rates(Rail::BankFirm, always("timeout"));
    assert_eq!(
        w.rt.block_on(w.engine.remit(remit(1, "R-1", 30_000)))
            .unwrap()
            .told,
        Told::Succeeded
    );
    w.sim.set_rates(Rail::SecuritiesFirm, always("fail"));
    let mut retried = 0;
    for _ in 0..3 {
        // Let the (1 ms) retry backoff elapse between passes.
        std::thread::sleep(std::time::Duration::from_millis(5));
        retried += w.supervise().retried;
    }
    let recovery = |w: &World| {
        let view =
            w.rt.block_on(w.engine.request("R-1".parse().unwrap()))
                .unwrap();
        *view
            .entries
            .iter()
            .find(|e| e.step == Step::Recovery)
            .unwrap()
    };
    let failing = recovery(&w);
    assert_eq!(failing.state, EntryState::FailTryAgain);
    assert!(
        retried >= 2 && failing.attempt >= 3,
        "retried {retried} times: {failing:?}"
    );
    assert_eq!(
        (w.engine_won(), w.truth_won()),
        (70_000, 70_000),
        "not yet recovered"
    );
    w.sim.set_rates(Rail::SecuritiesFirm, healthy());
    w.settle();
    assert_eq!(recovery(&w).state, EntryState::Success);
    assert_eq!((w.engine_won(), w.truth_won()), (100_000, 100_000));
    w.finish();
}

#[test]
fn payment_instruction_confirmed_done_after_a_timeout_deducts_the_customer() {
    let w = world(3_000_000);
    w.sim.set_rates(Rail::FinancialCompany, always("lost"));
    let request = remit(1, "R-PI", 2_500_000);
    let told = w.rt.block_on(async {
        let text = w.engine.signing_text(request).await.unwrap();
        w.engine
            .remit_signed(request, sign(&text.text, &w.key, 9_001))
            .await
            .unwrap()
    });
    assert_eq!(told.told, Told::Failed);
    let r = w.settle();
    assert_eq!(r.confirmed_done, 1);
    assert_eq!(
        w.entries("R-PI"),
        vec![(Step::PaymentInstruction, EntryState::Success)]
    );
    assert_eq!((w.engine_won(), w.truth_won()), (500_000, 500_000));
    w.finish();
}

#[test]
fn sweeps_keep_the_parent_accounts_between_their_marks() {
    // One shard; fin_parent opens below its low mark and the withdrawal firm account at
    // bank 004 collects above its high mark.
    let extra = "[parents.fin_parent]\nopening = 50_000_000\nlow_mark = 100_000_000\ntarget = 200_000_000\nhigh_mark = 500_000_000\n\
[parents.withdrawal_firm]\nhigh_mark = 1_000_000\ntarget = 0\n[parents.collection]\nopening = 1_000_000_000\nlow_mark = 10_000_000\ntarget = 100_000_000\nhigh_mark = 1_000_000_000\n";
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 1, &format!("{SUPERVISED}\n---\n{extra}"));
    let w = world_on(engine, sim, dir, 5_000_000);
    let wf = ParentAccount::WithdrawalFirm(BankCode::new("004").unwrap());
    assert_eq!(w.parent_won(wf), 5_000_000);
    let r = w.supervise();
    assert!(r.sweeps >= 2, "{r:?}");
    // B1: the withdrawal firm account went back to its target; B2: collection refilled
    // fin_parent to its target.
    assert_eq!(w.parent_won(wf), 0);
    assert_eq!(w.parent_won(ParentAccount::FinParent), 200_000_000);
    assert_eq!(
        w.parent_won(ParentAccount::Collection),
        1_000_000_000 + 5_000_000 - (200_000_000 - 45_000_000)
    );
    // Inside their bands, nothing moves.
    assert_eq!(w.supervise().sweeps, 0);
    assert_parents_match_the_banks(&w);
    w.finish();
}

/// Every parent account: the engine's total over its slices is what the outside systems
/// hold (sweeps are executed at the banks, not only booked).
fn assert_parents_match_the_banks(w: &World) {
    let truth = w.sim.truth();
    for p in w.rt.block_on(w.engine.parent_balances()).unwrap() {
        let at_bank = truth
            .parent(p.parent)
            .unwrap_or_else(|| panic!("the outside world has no {}", p.parent));
        assert_eq!(
            p.total, at_bank,
            "{}: the engine and the bank disagree",
            p.parent
        );
    }
}

fn sweep_world() -> World {
    // One shard; fin_parent opens below its low mark, so collection must refill it (B2).
    let extra = "[parents.fin_parent]\nopening = 50_000_000\nlow_mark = 100_000_000\ntarget = 200_000_000\nhigh_mark = 500_000_000\n\
[parents.collection]\nopening = 1_000_000_000\nlow_mark = 10_000_000\ntarget = 100_000_000\nhigh_mark = 1_000_000_000\n";
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 1, &format!("{SUPERVISED}\n---\n{extra}"));
    world_on(engine, sim, dir, 0)
}

#[test]
fn a_sweep_the_bank_refuses_moves_nothing_and_is_planned_again() {
    let w = sweep_world();
    w.sim.set_rates(Rail::BankFirm, always("fail"));
    assert_eq!(w.supervise().sweeps, 0);
    assert_eq!(w.parent_won(ParentAccount::FinParent), 50_000_000);
    assert_parents_match_the_banks(&w);
    w.sim.set_rates(Rail::BankFirm, healthy());
    assert_eq!(w.supervise().sweeps, 1);
    assert_eq!(w.parent_won(ParentAccount::FinParent), 200_000_000);
    assert_parents_match_the_banks(&w);
    let clean = w.rt.block_on(w.engine.reconciliation(None)).unwrap();
    assert!(clean.is_clean(), "{clean:?}");
    w.finish();
}

#[test]
fn a_sweep_whose_answer_is_lost_is_confirmed_and_booked() {
    let w = sweep_world();
    w.sim.set_rates(Rail::BankFirm, always("lost"));
    // The bank transferred, the answer was lost: the engine holds the amount, books nothing.
    assert_eq!(w.supervise().sweeps, 0);
    assert_eq!(w.parent_won(ParentAccount::FinParent), 50_000_000);
    let open = w.rt.block_on(w.engine.reconciliation(None)).unwrap();
    assert_eq!(open.logs[0].open, 1, "{open:?}");
    // The next pass confirms it by request id and books it; no second sweep is planned
    // meanwhile, because the first one's amount is held.
    w.sim.set_rates(Rail::BankFirm, healthy());
    let r = w.supervise();
    assert_eq!(r.confirmed_done, 1, "{r:?}");
    assert_eq!(w.parent_won(ParentAccount::FinParent), 200_000_000);
    assert_parents_match_the_banks(&w);
    w.finish();
}

#[test]
fn collection_refills_only_with_what_it_holds_above_its_low_mark() {
    let extra = "[parents.fin_parent]\nopening = 50_000_000\nlow_mark = 100_000_000\ntarget = 200_000_000\nhigh_mark = 500_000_000\n\
[parents.collection]\nopening = 100_000_000\nlow_mark = 10_000_000\ntarget = 100_000_000\n";
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 1, &format!("{SUPERVISED}\n---\n{extra}"));
    let w = world_on(engine, sim, dir, 0);
    w.supervise();
    // Collection opens at 100,000,000 with a low mark of 10,000,000: it gives 90,000,000.
    assert_eq!(w.parent_won(ParentAccount::FinParent), 140_000_000);
    assert_eq!(w.parent_won(ParentAccount::Collection), 10_000_000);
    w.finish();
}

/// The seed's 15 to 20 minute window, on a clock the test moves.
fn windowed_world() -> (World, Arc<ManualClock>) {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 2, &format!("{SUPERVISED}\n---\n[supervisor]\nwindow_min_age_ms = 900_000\nwindow_max_age_ms = 1_200_000\n"));
    let sim = Simulator::new(&config);
    let clock = Arc::new(ManualClock::new(now_ms()));
    let engine = Engine::start_with(config, EngineParts::new(sim.rails(), clock.clone())).unwrap();
    (world_on(engine, sim, dir, 0), clock)
}

#[test]
fn the_non_reflected_search_waits_for_the_window_before_confirming() {
    let (w, clock) = windowed_world();
    w.sim.set_rates(Rail::BankFirm, always("lost"));
    w.rt.block_on(w.engine.charge(charge(1, "C-1", 10_000)))
        .unwrap();
    // Younger than 15 minutes: a late answer may still come; it is left alone.
    clock.advance_ms(14 * 60_000);
    assert_eq!(w.supervise().confirmed_done, 0);
    assert_eq!(
        w.entries("C-1"),
        vec![(Step::ChargeWithdrawal, EntryState::Unknown)]
    );
    // Inside the window: confirmed.
    clock.advance_ms(2 * 60_000);
    let r = w.supervise();
    assert_eq!((r.confirmed_done, r.overdue), (1, 0));
    w.finish();
}

#[test]
fn an_unknown_entry_past_the_window_is_still_confirmed_and_reported_overdue() {
    let (w, clock) = windowed_world();
    w.sim.set_rates(Rail::BankFirm, always("timeout"));
    w.rt.block_on(w.engine.charge(charge(1, "C-1", 10_000)))
        .unwrap();
    clock.advance_ms(60 * 60_000);
    let r = w.supervise();
    assert_eq!((r.confirmed_not_done, r.overdue), (1, 1));
    w.finish();
}

#[test]
fn a_parent_slice_below_its_low_mark_is_refilled_from_another_shard() {
    // fin_parent: 1,000,000,000 over two slices; each slice's low mark is 100,000,000 and
    // its target 300,000,000. Collection has nothing to spare and the withdrawal firm keeps
    // what it collects (no B1), so only another shard's slice can refill.
    let extra = "[parents.fin_parent]\nopening = 1_000_000_000\nlow_mark = 200_000_000\ntarget = 600_000_000\nhigh_mark = 5_000_000_000\n\
[parents.collection]\nopening = 100_000_000\nlow_mark = 100_000_000\ntarget = 100_000_000\n\
[parents.withdrawal_firm]\nhigh_mark = 10_000_000_000\n";
    let dir = tempfile::tempdir().unwrap();
    let (engine, _sim) = start_sim(dir.path(), 2, &format!("{SUPERVISED}\n---\n{extra}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let n = customers_in(0, 2, 1, 1)[0].get();
    rt.block_on(async {
        engine.open_customer(opened(n)).await.unwrap();
        assert_eq!(
            engine
                .charge(charge(n, "C-BIG", 450_000_000))
                .await
                .unwrap()
                .told,
            Told::Succeeded
        );
        // Told with the credit's entry (issue 13); the customer's balance waits for the
        // credit, the parent accounts' does not.
        assert_eq!(won(&engine, n).await, 450_000_000);
        let before = engine
            .parent_balance(ParentAccount::FinParent)
            .await
            .unwrap();
        assert_eq!(
            before.slices,
            vec![
                Money::krw(50_000_000).unwrap(),
                Money::krw(500_000_000).unwrap()
            ]
        );
        let report = engine.supervise_once().await.unwrap();
        assert_eq!(report.sweeps, 1, "{report:?}");
        let after = engine
            .parent_balance(ParentAccount::FinParent)
            .await
            .unwrap();
        assert_eq!(
            after.slices,
            vec![
                Money::krw(250_000_000).unwrap(),
                Money::krw(300_000_000).unwrap()
            ]
        );
        assert_eq!(
            after.total, before.total,
            "moving between slices moves nothing out of the account"
        );
        let totals = engine.totals().await.unwrap();
        assert!(
            totals.sum.is_zero() && totals.in_transit.is_zero(),
            "{totals:?}"
        );
    });
    engine.shutdown().unwrap();
}

mod reconciliation {
    use super::*;
    use omnibus_actors::rails::{RailRequestId, Withdrawal};
    use omnibus_core::reconcile::MismatchKind;
    use omnibus_core::request_log::LogKind;

    #[test]
    fn an_unconfirmed_entry_is_open_and_once_confirmed_the_logs_match_the_statements() {
        let w = world(100_000);
        w.sim.set_rates(Rail::BankFirm, always("lost"));
        w.rt.block_on(w.engine.remit(remit(1, "R-1", 30_000)))
            .unwrap();
        let before = w.rt.block_on(w.engine.reconciliation(None)).unwrap();
        let bank = before
            .logs
            .iter()
            .find(|l| l.log == LogKind::BankFirmRequestLog)
            .unwrap();
        assert_eq!(bank.open, 1, "{before:?}");
        assert!(
            before.is_clean(),
            "an open entry is not a mismatch: {before:?}"
        );
        w.settle();
        let after = w.rt.block_on(w.engine.reconciliation(None)).unwrap();
        assert!(after.is_clean(), "{after:?}");
        let counts: Vec<(LogKind, u64, u64)> = after
            .logs
            .iter()
            .map(|l| (l.log, l.matched, l.open))
            .collect();
        assert_eq!(
            counts,
            vec![
                (LogKind::BankFirmRequestLog, 2, 0),
                (LogKind::SecuritiesFirmRequestLog, 2, 0),
                (LogKind::PaymentInstructionLog, 0, 0),
            ],
            "the funding charge's withdrawal and the deposit; its credit and the deduction"
        );
        w.finish();
    }

    #[test]
    fn a_request_the_rail_executed_but_the_engine_never_made_is_listed() {
        let w = world(0);
        let stray = Withdrawal {
            id: RailRequestId {
                entry: 0xdead_beef,
                attempt: 1,
            },
            customer: customer(1),
            bank: BankCode::new("004").unwrap(),
            linked_account: AccountNo::new("110-000000001").unwrap(),
            amount: krw(777),
        };
        w.rt.block_on(w.sim.rails().bank_firm.withdraw(stray))
            .unwrap();
        let report = w.rt.block_on(w.engine.reconciliation(None)).unwrap();
        let mismatches: Vec<_> = report
            .logs
            .iter()
            .flat_map(|l| l.mismatches.iter())
            .collect();
        assert_eq!(mismatches.len(), 1, "{report:?}");
        assert_eq!(
            (mismatches[0].kind, mismatches[0].log),
            (MismatchKind::UnknownToEngine, LogKind::BankFirmRequestLog)
        );
        assert_eq!(mismatches[0].rail_amount.as_deref(), Some("777 KRW"));
        w.engine.shutdown().unwrap();
    }

    #[test]
    fn a_rails_statement_of_the_day_lists_what_it_executed_for_that_date() {
        let w = world(0);
        let tomorrow = omnibus_core::ChargeRequest::parse(
            omnibus_core::Currency::Krw,
            "1",
            &day(1),
            "C-TOMORROW",
            "5000",
        )
        .unwrap();
        w.rt.block_on(w.engine.charge(charge(1, "C-TODAY", 3_000)))
            .unwrap();
        w.rt.block_on(w.engine.charge(tomorrow)).unwrap();
        let statement = |log, d: &str| {
            w.rt.block_on(w.engine.statement(log, d.parse().unwrap()))
                .unwrap()
        };
        let bank = statement(LogKind::BankFirmRequestLog, &today());
        assert_eq!(bank.lines.len(), 1, "today's withdrawal only: {bank:?}");
        assert_eq!(bank.lines[0].amount, krw(3_000));
        assert!(bank.unknown_to_engine.is_empty());
        let securities = statement(LogKind::SecuritiesFirmRequestLog, &day(1));
        assert_eq!(
            securities.lines.len(),
            1,
            "tomorrow's credit only: {securities:?}"
        );
        assert_eq!(securities.lines[0].amount, krw(5_000));
        w.finish();
    }

    #[test]
    fn the_report_of_a_day_covers_that_request_date_only() {
        let w = world(0);
        let other_day = omnibus_core::ChargeRequest::parse(
            omnibus_core::Currency::Krw,
            "1",
            &day(1),
            "C-TOMORROW",
            "5000",
        )
        .unwrap();
        w.rt.block_on(w.engine.charge(other_day)).unwrap();
        let report = |d: &str| {
            w.rt.block_on(w.engine.reconciliation(Some(d.parse().unwrap())))
                .unwrap()
        };
        let matched = |r: &omnibus_core::reconcile::ReconciliationReport| {
            r.logs.iter().map(|l| l.matched).sum::<u64>()
        };
        assert_eq!(matched(&report(&day(1))), 2);
        assert_eq!(matched(&report(&day(-1))), 0);
        w.engine.shutdown().unwrap();
    }
}

#[test]
fn settled_requests_are_forgotten_after_the_idempotency_window_and_open_ones_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let config = config(
        &root,
        2,
        &format!("{SUPERVISED}\n---\n[actors]\nidempotency_retention_days = 30\n"),
    );
    let sim = Simulator::new(&config);
    // Now: the requests are dated today.
    let clock = Arc::new(ManualClock::new(now_ms()));
    let parts = EngineParts::new(sim.rails(), clock.clone());
    let engine = Engine::start_with(config.clone(), parts.clone()).unwrap();
    let w = world_on(engine, sim, dir, 0);
    w.rt.block_on(async {
        assert_eq!(
            w.engine
                .charge(charge(1, "C-OLD", 1_000))
                .await
                .unwrap()
                .told,
            Told::Succeeded
        );
    });
    w.sim.set_rates(Rail::BankFirm, always("timeout"));
    w.rt.block_on(w.engine.charge(charge(1, "C-OPEN", 2_000)))
        .unwrap();
    w.sim.set_rates(Rail::BankFirm, healthy());
    // C-OPEN's withdrawal stays UNKNOWN: its confirm inquiry gets no answer.
    w.sim.set_confirm_unreachable(Rail::BankFirm, true);
    // Within the window: nothing is forgotten.
    assert_eq!(w.supervise().pruned, 0);
    // Forty days later, the settled charge is forgotten; the open one is kept.
    clock.advance_ms(40 * 86_400_000);
    let r = w.supervise();
    assert_eq!(r.pruned, 1, "{r:?}");
    let forgotten =
        w.rt.block_on(w.engine.request("C-OLD".parse().unwrap()))
            .unwrap_err();
    assert!(
        matches!(
            forgotten,
            omnibus_actors::EngineError::Rejected(omnibus_actors::Rejection::UnknownRequest(_))
        ),
        "{forgotten}"
    );
    assert!(w
        .rt
        .block_on(w.engine.request("C-OPEN".parse().unwrap()))
        .is_ok());
    // The balance stays; the forgotten number may be used again, as a new request (dated
    // the engine's day, forty days on).
    assert_eq!(w.engine_won(), 1_000);
    let forty_days_on = omnibus_core::RequestDate::from_unix_ms(clock.now_ms())
        .unwrap()
        .to_string();
    let again = omnibus_core::ChargeRequest::parse(
        omnibus_core::Currency::Krw,
        "1",
        &forty_days_on,
        "C-OLD",
        "1000",
    )
    .unwrap();
    assert_eq!(
        w.rt.block_on(w.engine.charge(again)).unwrap().told,
        Told::Succeeded
    );
    assert_eq!(w.engine_won(), 2_000);
    // The prune is in the log: a restart forgets the same requests.
    w.sim.set_confirm_unreachable(Rail::BankFirm, false);
    let World {
        engine, sim, rt, ..
    } = w;
    engine.shutdown().unwrap();
    let engine = Engine::start_with(config, parts).unwrap();
    rt.block_on(async {
        let view = engine.request("C-OLD".parse().unwrap()).await.unwrap();
        assert_eq!(view.accepted.request_date.to_string(), forty_days_on);
        assert_eq!(
            view.entries.len(),
            2,
            "the new C-OLD, not the forgotten one"
        );
        assert!(engine.totals().await.unwrap().sum.is_zero());
    });
    let _ = sim;
    engine.shutdown().unwrap();
}
