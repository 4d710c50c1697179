//! Every accepted request is answered (issue 11, item 5): a caller never waits past
//! `actors.answer_deadline_ms`, and a request whose answer a crash took away is answered
//! after the restart, each as SPEC §4 tells for the step it was in.

mod support;

use std::time::{Duration, Instant};

use omnibus_actors::rails::sim::Rail;
use omnibus_core::request_log::{Step, Told};
use support::*;

#[test]
fn a_caller_waiting_past_the_deadline_is_told_the_timeout_answer_of_the_step_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    // The bank never answers, and the engine would wait 20 s for it; callers wait 300 ms.
    let (engine, sim) = start_sim(
        dir.path(),
        1,
        "[rails.bank_firm]\ntimeout_ms = 20_000\n[actors]\nanswer_deadline_ms = 300\n[supervisor]\nrequested_max_age_ms = 30_000\n",
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        sim.set_rates(Rail::BankFirm, always("timeout"));
        let started = Instant::now();
        let outcome = tokio::time::timeout(
            Duration::from_secs(5),
            engine.charge(charge(1, "SLOW-BANK", 10_000)),
        )
        .await
        .expect("the caller is answered at the deadline, not when the bank's 20 s are up")
        .unwrap();
        // SPEC §4: a charge's withdrawal that timed out is told failed.
        assert_eq!(outcome.told, Told::Failed);
        assert_eq!(outcome.decided_by, Step::ChargeWithdrawal);
        assert!(outcome.timed_out);
        assert!(started.elapsed() < Duration::from_secs(5));
        // A resubmission gets the same answer at once.
        let again = engine.charge(charge(1, "SLOW-BANK", 10_000)).await.unwrap();
        assert_eq!(again.told, Told::Failed);
    });
    engine.halt();
}

#[test]
fn a_request_a_crash_left_without_its_answer_is_answered_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "[actors]\nanswer_deadline_ms = 200\n[supervisor]\nwindow_min_age_ms = 0\n";
    {
        let (engine, _sim) = start_sim(dir.path(), 1, extra);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            engine.open_customer(opened(1)).await.unwrap();
            let outcome = engine.charge(charge(1, "TORN", 5_000)).await.unwrap();
            assert_eq!(outcome.told, Told::Succeeded);
        });
        engine.shutdown().unwrap();
    }
    // The charge is answered with its credit's entry (the answer that entry fixes, issue
    // 13), and the credit's result follows in a group of its own: the crash kept the
    // credit's entry and lost the answer and the result.
    support::cut::tear_last_records(dir.path(), 2);
    let (engine, _sim) = start_sim(dir.path(), 1, extra);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let again = tokio::time::timeout(
            Duration::from_secs(5),
            engine.charge(charge(1, "TORN", 5_000)),
        )
        .await
        .expect("the resubmission of a request left without its answer is answered")
        .unwrap();
        // The credit happened: SPEC §4 tells a charge whose credit succeeded "succeeded".
        assert_eq!(again.told, Told::Succeeded);
        assert_eq!(again.decided_by, Step::ChargeCredit);
        let view = engine.request("TORN".parse().unwrap()).await.unwrap();
        assert_eq!(view.answer.map(|a| a.told), Some(Told::Succeeded));
        // The credit that went out before the crash is confirmed (SPEC §5), and booked.
        engine.supervise_once().await.unwrap();
        assert_eq!(won(&engine, 1).await, 5_000);
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_charge_told_failed_on_a_timeout_and_later_credited_shows_credited() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(
        dir.path(),
        1,
        "[rails.bank_firm]\ntimeout_ms = 100\n[supervisor]\nwindow_min_age_ms = 0\nnon_reflected_interval_ms = 86_400_000\nreprocess_interval_ms = 86_400_000\nrecovery_interval_ms = 86_400_000\nsweep_interval_ms = 86_400_000\n",
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        // The bank executes the withdrawal but its answer is lost.
        sim.set_rates(Rail::BankFirm, always("lost"));
        let outcome = engine.charge(charge(1, "LATE", 10_000)).await.unwrap();
        assert_eq!(outcome.told, Told::Failed);
        assert_eq!(outcome.reason, omnibus_core::saga::Reason::Timeout);
        assert_eq!(outcome.decided_by, Step::ChargeWithdrawal);
        let pending = engine.request("LATE".parse().unwrap()).await.unwrap();
        assert_eq!(pending.outcome, omnibus_core::saga::Settled::Pending);
        // The confirm finds it done; SPEC §4 goes on with the credit ([0231]).
        sim.heal();
        engine.supervise_once().await.unwrap();
        let settled = engine.request("LATE".parse().unwrap()).await.unwrap();
        assert_eq!(
            settled.outcome,
            omnibus_core::saga::Settled::Credited,
            "told failed, but credited: the client can tell from the outcome"
        );
        assert_eq!(settled.answer.map(|a| a.told), Some(Told::Failed));
        assert_eq!(won(&engine, 1).await, 10_000);
    });
    engine.shutdown().unwrap();
}

#[test]
fn requests_waiting_for_their_answer_are_counted_until_answered() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(
        dir.path(),
        1,
        "[rails.bank_firm]\ntimeout_ms = 20_000\n[actors]\nanswer_deadline_ms = 600\n[supervisor]\nrequested_max_age_ms = 30_000\n",
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        sim.set_rates(Rail::BankFirm, always("timeout"));
        let waiting = {
            let engine = engine.clone();
            tokio::spawn(async move { engine.charge(charge(1, "WAIT", 1_000)).await })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        let totals = engine.totals().await.unwrap();
        assert_eq!(totals.shards[0].requests_unanswered, 1);
        assert_eq!(totals.shards[0].steps_owed, 0);
        let outcome = waiting.await.unwrap().unwrap();
        assert_eq!(outcome.told, Told::Failed);
        let totals = engine.totals().await.unwrap();
        assert_eq!(totals.shards[0].requests_unanswered, 0);
    });
    engine.halt();
}

/// `omnibus_steps_owed` counts requests owing a step, never one that owes nothing. A
/// remittance charges its deficit; while the bank is slow, a raw posting (which its
/// customer's account actor does not order with the customer's requests) takes the
/// balance. The deduction's hold is then refused: the remittance is told failed and keeps
/// its credited deficit; nothing is owed for it. (This test used to make two remittances
/// of one customer overlap; the customer's actor now orders them, issue 12.)
#[test]
fn a_remittance_told_failed_because_another_took_the_balance_owes_no_step() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 1, "");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        let funded = engine.charge(charge(1, "FUND", 500_000)).await.unwrap();
        assert_eq!(funded.told, Told::Succeeded);
        // The credit is booked before the rails change (a read waits for it).
        assert_eq!(won(&engine, 1).await, 500_000);
        // A deficit charge slow enough for the posting to come first.
        sim.set_rates(
            Rail::BankFirm,
            omnibus_core::config::SimulatedRailConfig {
                latency_us_min: 100_000,
                latency_us_max: 100_000,
                failure_rate: 0.0,
                timeout_rate: 0.0,
                lost_response_rate: 0.0,
            },
        );
        let (remitted, posted) = tokio::join!(engine.remit(remit(1, "OVER-1", 1_500_000)), async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let account = omnibus_core::AccountId::customer(customer(1));
            engine.post(account, FIN_PARENT, krw(500_000)).await
        },);
        posted.expect("the posting takes the balance while the deficit is charged");
        let remitted = remitted.unwrap();
        assert_eq!(remitted.deficit, Some(krw(1_000_000)));
        assert_eq!(
            (remitted.told, remitted.decided_by),
            (Told::Failed, Step::RemitDeduction),
            "the deduction's hold was refused: {remitted:?}"
        );
        let view = engine.request("OVER-1".parse().unwrap()).await.unwrap();
        assert_eq!(view.outcome, omnibus_core::saga::Settled::DeficitCredited);
        assert_eq!(won(&engine, 1).await, 1_000_000);
        let totals = engine.totals().await.unwrap();
        assert_eq!(totals.shards[0].steps_owed, 0, "nothing is owed");
        assert_eq!(totals.shards[0].requests_unanswered, 0);
        let report = engine.supervise_once().await.unwrap();
        assert!(report.settled(), "{report:?}");
    });
    engine.halt();
}
