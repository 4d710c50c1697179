//! Bounds that hold (issue 11, item 9): calls in flight to a rail, callers waiting on one
//! request number, and a reconciliation over more entries than one page.

mod support;

use std::time::Duration;

use omnibus_actors::rails::sim::Rail;
use omnibus_actors::{Bound, EngineError, Submission};
use omnibus_core::config::SimulatedRailConfig;
use support::*;

fn slow(latency_ms: u64) -> SimulatedRailConfig {
    SimulatedRailConfig {
        latency_us_min: latency_ms * 1_000,
        latency_us_max: latency_ms * 1_000,
        failure_rate: 0.0,
        timeout_rate: 0.0,
        lost_response_rate: 0.0,
    }
}

#[test]
fn a_new_request_finding_its_rail_at_in_flight_max_is_answered_overloaded() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 1, "[rails.bank_firm]\nin_flight_max = 2\n");
    let rt = runtime();
    rt.block_on(async {
        for n in 1..=5 {
            engine.open_customer(opened(n)).await.unwrap();
        }
        sim.set_rates(Rail::BankFirm, slow(300));
        let charges: Vec<_> = (1..=5)
            .map(|n| engine.charge(charge(n, &format!("C-{n}"), 1_000)))
            .collect();
        let results = futures::future::join_all(charges).await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let refused = results
            .iter()
            .filter(|r| {
                matches!(
                    r,
                    Err(EngineError::Overloaded(Bound::RailInFlight(
                        "bank firm system"
                    )))
                )
            })
            .count();
        assert_eq!((ok, refused), (2, 3), "{results:?}");
        // The calls are answered: the rail takes new requests again.
        sim.set_rates(Rail::BankFirm, slow(0));
        engine.charge(charge(3, "C-3", 1_000)).await.unwrap();
    });
    engine.shutdown().unwrap();
}

#[test]
fn callers_past_callers_per_request_max_are_answered_overloaded_and_the_request_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 1, "[actors]\ncallers_per_request_max = 4\n");
    let rt = runtime();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        sim.set_rates(Rail::BankFirm, slow(300));
        let tries: Vec<_> = (0..10)
            .map(|_| engine.charge(charge(1, "SAME", 7_000)))
            .collect();
        let results = futures::future::join_all(tries).await;
        let answered = results.iter().filter(|r| r.is_ok()).count();
        let turned_away = results
            .iter()
            .filter(|r| matches!(r, Err(EngineError::Overloaded(Bound::Callers))))
            .count();
        assert_eq!((answered, turned_away), (4, 6), "{results:?}");
        assert_eq!(won(&engine, 1).await, 7_000);
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_reconciliation_over_more_entries_than_one_page_matches_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _sim) = start_sim(dir.path(), 1, "");
    let rt = runtime();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        let charges: Vec<Submission> = (0..2_100)
            .map(|i| Submission::Charge(charge(1, &format!("P-{i}"), 1)))
            .collect();
        for chunk in charges.chunks(500) {
            for r in engine.submit_batch(chunk.to_vec()).await {
                r.unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        let report = engine.reconciliation(None).await.unwrap();
        assert!(report.is_clean(), "{report:?}");
        let matched: u64 = report.logs.iter().map(|l| l.matched).sum();
        assert_eq!(
            matched, 4_200,
            "both entries of every charge, over two pages"
        );
    });
    engine.shutdown().unwrap();
}
