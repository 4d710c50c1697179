//! No money stranded (issue 11, item 1; SPEC §4, §6.4): what a request's later steps need
//! from the parent accounts is set aside before its first outside call, so a withdrawal
//! from `linked` always ends credited or refunded, and a slice that cannot fund a request
//! refuses it with nothing moved.

mod support;

use omnibus_actors::rails::sim::Rail;
use omnibus_core::request_log::{EntryState, Step, Told};
use omnibus_core::saga::{Reason, Settled};
use omnibus_core::ParentAccount;
use support::world::World;
use support::*;

/// One shard, a `fin_parent` of 100,000 won, supervisors parked.
fn small_fin_parent() -> World {
    World::new(
        1,
        "[parents.fin_parent]\nopening = 100_000\nlow_mark = 0\ntarget = 100_000\nhigh_mark = 1_000_000\n\
         [supervisor]\nnon_reflected_interval_ms = 86_400_000\nreprocess_interval_ms = 86_400_000\nrecovery_interval_ms = 86_400_000\nsweep_interval_ms = 86_400_000\n",
        0,
    )
}

#[test]
fn a_charge_the_fin_parent_slice_cannot_fund_is_told_failed_and_nothing_moves() {
    // The reproduction of the issue: charges of 40,000 three times against 100,000.
    let w = small_fin_parent();
    let linked_before = w.linked_truth();
    for no in ["D-1", "D-2"] {
        let outcome =
            w.rt.block_on(w.engine.charge(charge(1, no, 40_000)))
                .unwrap();
        assert_eq!(outcome.told, Told::Succeeded, "{no}");
    }
    let third =
        w.rt.block_on(w.engine.charge(charge(1, "D-3", 40_000)))
            .unwrap();
    assert_eq!(third.told, Told::Failed);
    assert_eq!(third.reason, Reason::ParentSliceShort);
    assert_eq!(third.decided_by, Step::ChargeWithdrawal);
    // Nothing was called for it: no entry, the bank paid for two charges only.
    let view =
        w.rt.block_on(w.engine.request("D-3".parse().unwrap()))
            .unwrap();
    assert!(view.entries.is_empty(), "{:?}", view.entries);
    assert_eq!(view.outcome, Settled::NothingMoved);
    let drawn = linked_before.value() - w.linked_truth().value();
    assert_eq!(
        drawn,
        rust_decimal::Decimal::from(80_000),
        "the customer's bank paid for the two charges credited, not a third"
    );
    assert_eq!(w.engine_won(), 80_000);
    assert_eq!(w.truth_won(), 80_000);
    // A resubmission gets the same answer and moves nothing either.
    let again =
        w.rt.block_on(w.engine.charge(charge(1, "D-3", 40_000)))
            .unwrap();
    assert_eq!(
        (again.told, again.reason),
        (Told::Failed, Reason::ParentSliceShort)
    );
    assert_eq!(w.engine_won(), 80_000);
    w.finish();
}

#[test]
fn a_credit_that_fails_for_good_is_refunded_though_a_sweep_emptied_the_withdrawal_firm_account() {
    // The withdrawal firm account keeps nothing above its high mark of 0: the B1 sweep
    // would hand every won it receives to collection. The money a withdrawal brought in
    // stays set aside for its refund.
    let w = World::new(
        1,
        "[parents.withdrawal_firm]\nopening = 0\nlow_mark = 0\ntarget = 0\nhigh_mark = 0\n\
         [rails.securities_firm]\ntimeout_ms = 100\n\
         [supervisor]\nwindow_min_age_ms = 0\nretry_backoff_min_ms = 1\nretry_backoff_max_ms = 1\nreprocess_failures_max = 1\n\
         non_reflected_interval_ms = 86_400_000\nreprocess_interval_ms = 86_400_000\nrecovery_interval_ms = 86_400_000\nsweep_interval_ms = 86_400_000\n",
        0,
    );
    let linked_before = w.linked_truth();
    w.sim.set_rates(Rail::SecuritiesFirm, always("fail"));
    let outcome =
        w.rt.block_on(w.engine.charge(charge(1, "R-1", 30_000)))
            .unwrap();
    // SPEC §4: a credit that fails is FAIL_TRY_AGAIN, and the customer is told succeeded.
    assert_eq!(outcome.told, Told::Succeeded);
    // The first pass reprocesses the credit once more (it fails again) and sweeps; the
    // next gives up on it and refunds the linked account from the withdrawal firm account.
    w.supervise();
    let report = w.settle();
    assert_eq!(report.owed, 0, "{report:?}");
    assert_eq!(
        w.entries("R-1"),
        vec![
            (Step::ChargeWithdrawal, EntryState::Success),
            (Step::ChargeCredit, EntryState::Fail),
            (Step::Refund, EntryState::Success)
        ]
    );
    let view =
        w.rt.block_on(w.engine.request("R-1".parse().unwrap()))
            .unwrap();
    assert_eq!(view.outcome, Settled::Refunded);
    assert_eq!(w.linked_truth(), linked_before, "every won came back");
    w.finish();
}

#[test]
fn a_remittance_its_deposit_firm_slice_cannot_pay_is_refused_before_the_deduction() {
    let w = World::new(
        1,
        "[parents.deposit_firm]\nopening = 10_000\nlow_mark = 0\ntarget = 10_000\nhigh_mark = 1_000_000\n\
         [supervisor]\nnon_reflected_interval_ms = 86_400_000\nreprocess_interval_ms = 86_400_000\nrecovery_interval_ms = 86_400_000\nsweep_interval_ms = 86_400_000\n",
        100_000,
    );
    let outcome =
        w.rt.block_on(w.engine.remit(remit(1, "X-1", 20_000)))
            .unwrap();
    assert_eq!(outcome.told, Told::Failed);
    assert_eq!(outcome.reason, Reason::ParentSliceShort);
    // The customer's money never left: no deduction was made.
    assert_eq!(w.engine_won(), 100_000);
    assert_eq!(w.truth_won(), 100_000);
    assert_eq!(
        w.parent_won(ParentAccount::DepositFirm("004".parse().unwrap())),
        10_000
    );
    w.finish();
}
