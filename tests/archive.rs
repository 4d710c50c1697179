//! Settled requests leave memory for the shard's archive (issue 13, `docs/archive.md`),
//! and answer exactly as before from there: an idempotent resubmission gets its original
//! answer, `request(no)` its view, a reused number is refused, for the whole retention
//! window and across restarts.

mod support;

use std::time::{Duration, Instant};

use omnibus_actors::{Engine, EngineError, Rejection};
use omnibus_core::request_log::Told;
use omnibus_core::RequestNo;
use support::*;

/// Every settled request goes to the archive at once, in batches of 64.
const ARCHIVE_EVERYTHING: &str = "[archive]\nrecent_max = 0\nbatch_max = 64\ninterval_ms = 5\n";

/// Waits until no settled request is left in memory and `records` are archived.
async fn archived(engine: &Engine, records: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let totals = engine.totals().await.unwrap();
        let in_memory: u64 = totals.shards.iter().map(|s| s.settled_in_memory).sum();
        let archived: u64 = totals.shards.iter().map(|s| s.archived_requests).sum();
        if in_memory == 0 && archived >= records {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {in_memory} settled requests in memory, {archived} archived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn no(n: &str) -> RequestNo {
    RequestNo::new(n).unwrap()
}

#[test]
fn a_request_archived_long_before_is_answered_as_it_was_before_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let engine = start(dir.path(), 2, ARCHIVE_EVERYTHING);
    let (first, views) = rt.block_on(async {
        for c in [1, 2] {
            engine.open_customer(opened(c)).await.unwrap();
        }
        let first = engine.charge(charge(1, "OLD-1", 30_000)).await.unwrap();
        assert_eq!(first.told, Told::Succeeded);
        let view = engine.request(no("OLD-1")).await.unwrap();
        // Many more requests after it, of both customers.
        for i in 0..200 {
            let c = 1 + i % 2;
            let outcome = engine
                .charge(charge(c, &format!("LATER-{i}"), 1_000))
                .await
                .unwrap();
            assert_eq!(outcome.told, Told::Succeeded);
        }
        archived(&engine, 201).await;
        let totals = engine.totals().await.unwrap();
        let in_memory: u64 = totals.shards.iter().map(|s| s.requests).sum();
        assert!(
            in_memory < 201,
            "the archived requests left memory: {in_memory} still there"
        );
        (first, view)
    });
    let check = |engine: &Engine| {
        rt.block_on(async {
            // The resubmission gets its original answer.
            let again = engine.charge(charge(1, "OLD-1", 30_000)).await.unwrap();
            assert_eq!(again, first);
            // The request as it was, with its final entries.
            let view = engine.request(no("OLD-1")).await.unwrap();
            assert_eq!(view, views);
            // The same number with another amount, or from another customer: refused.
            let err = engine.charge(charge(1, "OLD-1", 31_000)).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    EngineError::Rejected(Rejection::RequestNoReused { .. })
                ),
                "{err}"
            );
            let err = engine.charge(charge(2, "OLD-1", 30_000)).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    EngineError::Rejected(Rejection::RequestNoReused { .. })
                ),
                "{err}"
            );
            // Nothing moved twice: 30,000 + 100 × 1,000 for customer 1.
            assert_eq!(won(engine, 1).await, 130_000);
            assert_eq!(won(engine, 2).await, 100_000);
            // An unknown number is unknown.
            let err = engine.request(no("NEVER")).await.unwrap_err();
            assert!(
                matches!(err, EngineError::Rejected(Rejection::UnknownRequest(_))),
                "{err}"
            );
        })
    };
    check(&engine);
    engine.shutdown().unwrap();
    let engine = start(dir.path(), 2, ARCHIVE_EVERYTHING);
    check(&engine);
    // Requests a replay brought back to memory are archived again, and still agree.
    rt.block_on(archived(&engine, 201));
    check(&engine);
    engine.shutdown().unwrap();
}

/// The archive's writer behind (here: its timer parked for an hour, so nothing leaves
/// memory): past `archive.settled_max` settled requests in memory, a new request is
/// answered "overloaded" (`archive_backlog`) and nothing changes; memory stays bounded at
/// any offered rate. A resubmission of a request on record still gets its answer.
#[test]
fn a_shard_whose_archive_is_behind_answers_new_requests_overloaded_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let engine = start(
        dir.path(),
        1,
        "[archive]\nrecent_max = 0\nbatch_max = 1\nsettled_max = 1\ninterval_ms = 3_600_000\n",
    );
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        let first = engine.charge(charge(1, "FIRST", 30_000)).await.unwrap();
        assert_eq!(first.told, Told::Succeeded);
        let err = engine
            .charge(charge(1, "SECOND", 40_000))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                EngineError::Overloaded(omnibus_actors::Bound::ArchiveBacklog)
            ),
            "{err}"
        );
        assert_eq!(won(&engine, 1).await, 30_000, "nothing changed");
        assert!(engine.request(no("SECOND")).await.is_err(), "not on record");
        let again = engine.charge(charge(1, "FIRST", 30_000)).await.unwrap();
        assert_eq!(again, first, "a resubmission is answered from the books");
    });
    let totals = rt.block_on(engine.totals()).unwrap();
    assert!(totals.sum.is_zero(), "{totals:?}");
    engine.shutdown().unwrap();
}
