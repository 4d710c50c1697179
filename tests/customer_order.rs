//! A customer's account actor serializes its customer's charges and remittances (issue 12,
//! "account actors that do their job"): each request's balance and deficit checks see the
//! outcome of the one before. Before, two remittances of one customer submitted at once
//! both charged their deficit against the same balance, and the second found it taken.

mod support;

use std::time::{Duration, Instant};

use std::sync::Arc;

use omnibus_actors::rails::sim::{Rail, Simulator};
use omnibus_actors::{Bound, Engine, EngineError, EngineParts, ManualClock};
use omnibus_core::request_log::{Step, Told};
use omnibus_core::saga::Reason;
use omnibus_core::{AccountId, RemitPath};
use support::*;

/// The bank firm system answers every call after `ms` milliseconds, and never fails.
fn bank_latency(sim: &omnibus_actors::rails::sim::Simulator, ms: u64) {
    sim.set_rates(
        Rail::BankFirm,
        omnibus_core::config::SimulatedRailConfig {
            latency_us_min: ms * 1_000,
            latency_us_max: ms * 1_000,
            failure_rate: 0.0,
            timeout_rate: 0.0,
            lost_response_rate: 0.0,
        },
    );
}

/// The books balance: every shard's kept sum agrees with its accounts added up, and both
/// are zero.
async fn books_balance(engine: &omnibus_actors::Engine) {
    for (shard, (kept, scanned)) in engine.audit().await.unwrap().into_iter().enumerate() {
        assert_eq!(kept, scanned, "shard {shard}: kept and scanned sums agree");
        assert!(kept.is_zero(), "shard {shard}: the books balance: {kept}");
    }
    assert!(engine.totals().await.unwrap().sum.is_zero());
}

/// SPEC §3's deficit top-up, twice at once: 500,000 held, two remittances of 1,500,000.
/// The first charges a deficit of 1,000,000, the second (which sees the first's outcome)
/// one of 1,500,000: both succeed, 2,500,000 is charged as deficits in all.
#[test]
fn two_remittances_of_one_customer_submitted_at_once_both_succeed_charging_2_500_000_of_deficits() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 1, "");
    let rt = runtime();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        let funded = engine.charge(charge(1, "FUND", 500_000)).await.unwrap();
        assert_eq!(funded.told, Told::Succeeded);
        let linked = AccountId::Linked {
            customer: customer(1),
        };
        let linked_before = engine.account_balance(linked).await.unwrap();
        // Deficit charges slow enough (100 ms a bank call) that the two truly overlap.
        bank_latency(&sim, 100);
        let (first, second) = tokio::join!(
            engine.remit(remit(1, "OVER-1", 1_500_000)),
            engine.remit(remit(1, "OVER-2", 1_500_000)),
        );
        let (first, second) = (first.unwrap(), second.unwrap());
        assert_eq!(
            [first.told, second.told],
            [Told::Succeeded, Told::Succeeded],
            "both remittances are decided on the balance the other left: {first:?} {second:?}"
        );
        assert_eq!(first.path, Some(RemitPath::First));
        assert_eq!(second.path, Some(RemitPath::First));
        let deficits: i64 = [first.deficit, second.deficit]
            .into_iter()
            .map(|d| i64::try_from(d.expect("a deficit charged").value()).unwrap())
            .sum();
        assert_eq!(deficits, 2_500_000, "{first:?} {second:?}");
        let mut each = [first.deficit.unwrap(), second.deficit.unwrap()];
        each.sort_by_key(|a| a.value());
        assert_eq!(each, [krw(1_000_000), krw(1_500_000)]);
        // The customer's linked account paid the deficits, and the customer holds nothing.
        let linked_after = engine.account_balance(linked).await.unwrap();
        assert_eq!(
            i64::try_from(linked_before.checked_sub(linked_after).unwrap().value()).unwrap(),
            2_500_000
        );
        assert_eq!(won(&engine, 1).await, 0);
        let balance = engine.customer_balance(customer(1)).await.unwrap();
        assert!(balance.available.is_zero(), "{balance:?}");
        books_balance(&engine).await;
        let report = engine.supervise_once().await.unwrap();
        assert!(report.settled(), "{report:?}");
    });
    engine.halt();
}

/// Past `actors.customer_queue_max` requests of one customer waiting their turn, one more
/// is answered "overloaded" naming the bound, and nothing changes for it.
#[test]
fn a_request_past_the_customer_queue_bound_is_answered_overloaded_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 1, "[actors]\ncustomer_queue_max = 1\n");
    let rt = runtime();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        bank_latency(&sim, 300);
        // The first runs, the second waits its turn, the third finds the queue full.
        let running = tokio::spawn({
            let engine = engine.clone();
            async move { engine.charge(charge(1, "Q-1", 1_000)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let queued = tokio::spawn({
            let engine = engine.clone();
            async move { engine.charge(charge(1, "Q-2", 2_000)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let refused = engine.charge(charge(1, "Q-3", 4_000)).await;
        assert_eq!(
            refused.unwrap_err(),
            EngineError::Overloaded(Bound::CustomerQueue)
        );
        assert!(
            engine.request("Q-3".parse().unwrap()).await.is_err(),
            "nothing is on record for the refused request"
        );
        // A resubmission of a queued request joins it: it is not queued twice.
        let joined = engine.charge(charge(1, "Q-2", 2_000)).await.unwrap();
        assert_eq!(joined.told, Told::Succeeded);
        assert_eq!(running.await.unwrap().unwrap().told, Told::Succeeded);
        assert_eq!(queued.await.unwrap().unwrap().told, Told::Succeeded);
        assert_eq!(won(&engine, 1).await, 3_000);
        // The refused number is free: submitted again, it is carried out.
        let again = engine.charge(charge(1, "Q-3", 4_000)).await.unwrap();
        assert_eq!(again.told, Told::Succeeded);
        assert_eq!(won(&engine, 1).await, 7_000);
        books_balance(&engine).await;
    });
    engine.halt();
}

/// A request still waiting its turn at `actors.answer_deadline_ms` is answered then, as
/// SPEC §4 tells a request that did not start: failed, `not_carried_out`. It is on record
/// so, and never starts later: a resubmission gets the same answer. (The engine's clock is
/// moved by hand, so that the deadline passes while the request before it is in progress.)
#[test]
fn a_request_still_queued_at_its_deadline_is_told_failed_not_carried_out_and_never_starts() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        1,
        "[actors]\nanswer_deadline_ms = 1_000\n[rails.bank_firm]\ntimeout_ms = 20_000\n[supervisor]\nrequested_max_age_ms = 3_600_000\n",
    );
    let sim = Simulator::new(&config);
    let clock = Arc::new(ManualClock::new(now_ms()));
    let engine = Engine::start_with(config, EngineParts::new(sim.rails(), clock.clone())).unwrap();
    let rt = runtime();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        // The running charge's withdrawal takes 1.5 s (real time).
        bank_latency(&sim, 1_500);
        let running = tokio::spawn({
            let engine = engine.clone();
            async move { engine.charge(charge(1, "D-1", 1_000)).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let queued = tokio::spawn({
            let engine = engine.clone();
            async move { engine.charge(charge(1, "D-2", 2_000)).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!queued.is_finished(), "D-2 waits its turn");
        // Both reach their deadline (the clock the engine reads moves past it).
        clock.advance_ms(1_500);
        let queued = tokio::time::timeout(Duration::from_secs(1), queued)
            .await
            .expect("the waiting request is answered at its deadline")
            .unwrap()
            .unwrap();
        assert_eq!(queued.told, Told::Failed);
        assert_eq!(queued.reason, Reason::NotCarriedOut);
        assert_eq!(queued.decided_by, Step::ChargeWithdrawal);
        assert!(!queued.timed_out);
        // The running one was answered at its deadline too, as its step in flight tells.
        let first = running.await.unwrap().unwrap();
        assert_eq!(first.told, Told::Failed);
        assert!(first.timed_out);
        // Its withdrawal goes through later, and its credit follows ("told failed, but
        // credited"); the one that waited never ran: no entry, nothing moved.
        let started = Instant::now();
        while engine
            .request("D-1".parse().unwrap())
            .await
            .unwrap()
            .outcome
            != omnibus_core::saga::Settled::Credited
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "D-1 is credited"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let view = engine.request("D-2".parse().unwrap()).await.unwrap();
        assert!(view.entries.is_empty(), "{view:?}");
        assert_eq!(view.outcome, omnibus_core::saga::Settled::NothingMoved);
        let again = engine.charge(charge(1, "D-2", 2_000)).await.unwrap();
        assert_eq!(again.told, Told::Failed);
        assert_eq!(again.reason, Reason::NotCarriedOut);
        assert_eq!(
            won(&engine, 1).await,
            1_000,
            "only the first charge's credit"
        );
        books_balance(&engine).await;
    });
    engine.halt();
}

/// The actor of a customer with a request in progress, or one waiting, is busy: its shard
/// does not passivate it however short the idle period, and both requests are answered.
#[test]
fn a_customer_actor_with_requests_in_progress_or_waiting_is_not_passivated() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 1, "[actors]\npassivate_idle_ms = 8\n");
    let rt = runtime();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        bank_latency(&sim, 400);
        let (first, second, live) = tokio::join!(
            engine.charge(charge(1, "P-1", 1_000)),
            engine.charge(charge(1, "P-2", 2_000)),
            async {
                // Sampled while the two run one after the other (about 800 ms).
                let mut live = Vec::new();
                for _ in 0..8 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    live.push(engine.totals().await.unwrap().shards[0].live_customers);
                }
                live
            }
        );
        assert_eq!(first.unwrap().told, Told::Succeeded);
        assert_eq!(second.unwrap().told, Told::Succeeded);
        assert!(live.iter().all(|n| *n == 1), "live while busy: {live:?}");
        // Idle, it is passivated.
        let started = Instant::now();
        while engine.totals().await.unwrap().shards[0].live_customers != 0 {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "passivated once idle"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(won(&engine, 1).await, 3_000);
    });
    engine.halt();
}
