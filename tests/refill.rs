//! Parent slices refilled on demand (issue 11, item 14; SPEC §5 "Settlement sweeps",
//! DESIGN "Threads and shards": a supervisor moves funds between slices when one runs
//! low). A slice that crosses its low mark is refilled at once, not at the next
//! `supervisor.sweep_interval_ms`: from collection by its shard's sweep (B2), or from
//! another shard's slice of the same account by the engine's balancer. Meanwhile a
//! request it cannot fund is told `failed` (`parent_slice_short`) with nothing moved.
//!
//! The sweep timer is parked far away (10 minutes) in every test, so a refill that lands
//! within the tests' few seconds was raised on demand.

mod support;

use std::time::{Duration, Instant};

use omnibus_actors::Engine;
use omnibus_core::request_log::Told;
use omnibus_core::saga::Reason;
use omnibus_core::{Money, ParentAccount, RequestNo};
use support::*;

/// The sweep timer parked; refills on demand as configured by `on_demand`.
fn supervisor(on_demand: bool) -> String {
    format!("[supervisor]\nsweep_interval_ms = 600_000\nrefill_on_demand = {on_demand}\n")
}

/// How long a refill raised on demand may take here: far less than the timer, and
/// generous for a loaded machine (a refill is a few group commits and a bank call).
const REFILL_WITHIN: Duration = Duration::from_secs(5);

/// Charges `won` again and again (each a new request) until one is told failed; answers
/// that request's number, or `None` if all `max` succeeded: a refill raised on demand
/// can keep up with charges made one at a time (on a loaded machine it often does).
async fn charge_until_refused(engine: &Engine, n: u64, won: i64, max: usize) -> Option<String> {
    for i in 0..max {
        let no = format!("DRAIN-{i}");
        let outcome = engine.charge(charge(n, &no, won)).await.unwrap();
        if outcome.told == Told::Failed {
            return Some(no);
        }
    }
    None
}

/// The reason a request was told what it was told.
async fn reason(engine: &Engine, no: &str) -> Reason {
    let view = engine.request(RequestNo::new(no).unwrap()).await.unwrap();
    assert!(view.entries.is_empty(), "refused before any call: {view:?}");
    view.answer.expect("answered").reason
}

/// Charges `won` (a new request each time) until one succeeds; answers how long it took.
async fn charge_until_accepted(engine: &Engine, n: u64, won: i64, within: Duration) -> Duration {
    let start = Instant::now();
    for i in 0.. {
        let outcome = engine
            .charge(charge(n, &format!("AGAIN-{i}"), won))
            .await
            .unwrap();
        if outcome.told == Told::Succeeded {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "no charge of {won} succeeded within {within:?}: the slice was not refilled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    unreachable!()
}

async fn fin_slices(engine: &Engine) -> Vec<Money> {
    engine
        .parent_balance(ParentAccount::FinParent)
        .await
        .unwrap()
        .slices
}

fn books_balance(rt: &tokio::runtime::Runtime, engine: &Engine) {
    let totals = rt.block_on(engine.totals()).unwrap();
    assert!(totals.sum.is_zero(), "{totals:?}");
}

#[test]
fn a_fin_parent_slice_below_its_low_mark_is_refilled_from_collection_at_once() {
    // One shard. fin_parent: 1,000,000, low mark 500,000; collection has plenty (the
    // defaults). Charges of 400,000 draw it below its low mark on the second.
    let extra = format!(
        "{}\n---\n[parents.fin_parent]\nopening = 1_000_000\nlow_mark = 500_000\ntarget = 1_000_000\nhigh_mark = 10_000_000\n",
        supervisor(true)
    );
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 1, &extra);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let collection_before = rt
        .block_on(engine.parent_balance(ParentAccount::Collection))
        .unwrap()
        .total;
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        match charge_until_refused(&engine, 1, 400_000, 50).await {
            Some(refused) => {
                assert_eq!(
                    reason(&engine, &refused).await,
                    Reason::ParentSliceShort,
                    "a slice that cannot fund a charge refuses it cleanly"
                );
                let took = charge_until_accepted(&engine, 1, 400_000, REFILL_WITHIN).await;
                eprintln!("refilled on demand: a charge succeeded {took:?} after the refusal");
            }
            None => eprintln!("refilled on demand: the refills kept up with 50 charges"),
        }
        // More than the slice's opening was charged: refills paid for the rest.
        assert!(won(&engine, 1).await > 1_000_000, "the slice was refilled");
    });
    // B2 moved money from collection to fin_parent, executed at the bank.
    let collection_after = rt
        .block_on(engine.parent_balance(ParentAccount::Collection))
        .unwrap()
        .total;
    assert!(
        collection_after < collection_before,
        "collection paid for the refill: {collection_before} -> {collection_after}"
    );
    let settled = sim
        .executed(omnibus_actors::rails::sim::Rail::BankFirm)
        .iter()
        .filter(|e| e.operation == omnibus_actors::rails::sim::Operation::Settle)
        .count();
    assert!(settled >= 1, "the refill is a sweep executed at the bank");
    books_balance(&rt, &engine);
    engine.shutdown().unwrap();
}

/// Two shards. fin_parent: 10,000,000 per slice, low mark 1,500,000 and target 2,000,000
/// per slice; collection has nothing to spare (its low mark is its opening) and the
/// withdrawal firm accounts keep what they collect, so only the other shard's slice can
/// refill a slice that runs low.
fn cross_shard_config(on_demand: bool) -> String {
    format!(
        "{}\n---\n[parents.fin_parent]\nopening = 20_000_000\nlow_mark = 3_000_000\ntarget = 4_000_000\nhigh_mark = 40_000_000\n\
[parents.collection]\nopening = 100_000_000\nlow_mark = 100_000_000\ntarget = 100_000_000\n\
[parents.withdrawal_firm]\nhigh_mark = 10_000_000_000\n",
        supervisor(on_demand)
    )
}

#[test]
fn a_slice_that_runs_low_gets_funds_from_another_shards_slice_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _sim) = start_sim(dir.path(), 2, &cross_shard_config(true));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let n = customers_in(0, 2, 1, 1)[0].get();
    let total_before = rt
        .block_on(engine.parent_balance(ParentAccount::FinParent))
        .unwrap()
        .total;
    rt.block_on(async {
        engine.open_customer(opened(n)).await.unwrap();
        // The drain ends with a refusal: either before the balancer's move landed, or
        // once shard 1 kept only its target (the moves kept up with every charge).
        let refused = charge_until_refused(&engine, n, 1_500_000, 50)
            .await
            .expect("the account runs short after 18,000,000");
        assert_eq!(reason(&engine, &refused).await, Reason::ParentSliceShort);
        let spare = fin_slices(&engine).await[1] > Money::krw(2_000_000).unwrap();
        if spare {
            let took = charge_until_accepted(&engine, n, 1_500_000, REFILL_WITHIN).await;
            eprintln!(
                "moved between shards on demand: a charge succeeded {took:?} after the refusal"
            );
        } else {
            eprintln!("moved between shards on demand: the moves kept up with every charge");
        }
        // More than shard 0's slice opened with was charged: shard 1's slice paid the rest.
        assert!(
            won(&engine, n).await > 10_000_000,
            "shard 1's slice gave to shard 0's"
        );
    });
    // The last charge may take shard 0's slice below its low mark again and raise another
    // move; a slice does not count money on its way to it, so the total is read once the
    // moves have settled: the charges alone moved money out of the account.
    let charged: i64 = rt.block_on(won(&engine, n));
    let expected = total_before
        .checked_sub(Money::krw(charged).unwrap())
        .unwrap();
    let start = Instant::now();
    let slices = loop {
        let fin = rt
            .block_on(engine.parent_balance(ParentAccount::FinParent))
            .unwrap();
        if fin.total == expected {
            break fin.slices;
        }
        assert!(
            start.elapsed() < REFILL_WITHIN,
            "moving between slices moves nothing out of the account; only the charges did: \
             {} after {charged} charged from {total_before}, slices {:?}",
            fin.total,
            fin.slices
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    // Shard 1 gives only what it holds above its own target.
    assert!(slices[1] >= Money::krw(2_000_000).unwrap(), "{slices:?}");
    books_balance(&rt, &engine);
    engine.shutdown().unwrap();
}

#[test]
fn without_refill_on_demand_a_short_slice_waits_for_the_sweep_timer() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _sim) = start_sim(dir.path(), 2, &cross_shard_config(false));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let n = customers_in(0, 2, 1, 1)[0].get();
    rt.block_on(async {
        engine.open_customer(opened(n)).await.unwrap();
        let refused = charge_until_refused(&engine, n, 1_500_000, 50)
            .await
            .expect("without a refill the slice runs short");
        assert_eq!(reason(&engine, &refused).await, Reason::ParentSliceShort);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let again = engine
            .charge(charge(n, "AGAIN-0", 1_500_000))
            .await
            .unwrap();
        assert_eq!(again.told, Told::Failed, "nothing refilled the slice");
    });
    books_balance(&rt, &engine);
    engine.shutdown().unwrap();
}

#[test]
fn a_refill_collection_cannot_pay_yet_is_paid_in_the_same_pass_once_b1_brings_the_money() {
    // One shard, sweeps driven by hand. Collection holds nothing above its low mark; a
    // charge of 150,000,000 takes fin_parent below its low mark (B2 needed) and puts the
    // withdrawal firm account above its high mark (B1). Collection may pay B2 only out of
    // what it holds, so the pass first sends B1, then, once collection has it, B2.
    let extra = format!(
        "{}\n---\n[parents.fin_parent]\nopening = 300_000_000\nlow_mark = 200_000_000\ntarget = 300_000_000\nhigh_mark = 1_000_000_000\n\
[parents.collection]\nopening = 10_000_000\nlow_mark = 10_000_000\ntarget = 10_000_000\n\
[parents.withdrawal_firm]\nhigh_mark = 1_000_000\n",
        supervisor(false)
    );
    let dir = tempfile::tempdir().unwrap();
    let (engine, _sim) = start_sim(dir.path(), 1, &extra);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let parent = |p: ParentAccount| rt.block_on(engine.parent_balance(p)).unwrap().total.value();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        let c = engine.charge(charge(1, "C-1", 150_000_000)).await.unwrap();
        assert_eq!(c.told, Told::Succeeded);
    });
    let wf = ParentAccount::WithdrawalFirm(omnibus_core::BankCode::new("004").unwrap());
    assert_eq!(parent(ParentAccount::FinParent), 150_000_000.into());
    assert_eq!(parent(wf), 150_000_000.into());
    let report = rt.block_on(engine.supervise_once()).unwrap();
    assert_eq!(report.sweeps, 2, "B1, then B2: {report:?}");
    assert_eq!(parent(wf), 0.into());
    assert_eq!(parent(ParentAccount::FinParent), 300_000_000.into());
    assert_eq!(parent(ParentAccount::Collection), 10_000_000.into());
    books_balance(&rt, &engine);
    engine.shutdown().unwrap();
}
