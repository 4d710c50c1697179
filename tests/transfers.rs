//! Postings between shards (issue 11, item 6), with four shards: a transfer refused for
//! a passing reason is delivered again until credited; a transfer that moved money is
//! never answered "overloaded, nothing changed"; and a destination remembers only the
//! transfers in flight, however many it has credited.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use omnibus_actors::{Engine, EngineError, EngineParts, SystemClock};
use omnibus_core::AccountId;
use omnibus_wal::storage::{Crash, SimStorage, Storage};
use support::*;

const SHARDS: u16 = 4;

/// Posts of 1 won from a customer of shard 0 to one of shard 1 while other tasks keep
/// both shards' queues full; then a quiet spell. Answers `(ok, credited)`.
fn transfers_under_load(load_on_destination: bool) {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(
        dir.path(),
        SHARDS.into(),
        "[wal]\nqueue_records_max = 16\n[actors]\ntransfer_retry_ms = 100\n",
    );
    let rt = runtime();
    let a = customers_in(0, SHARDS, 1, 2);
    let b = customers_in(1, SHARDS, 1, 2);
    let (src, src_load, dst, dst_load) = (a[0], a[1], b[0], b[1]);
    const FUND: i64 = 1_000_000;
    rt.block_on(async {
        for c in [src, src_load, dst, dst_load] {
            engine.open_customer(opened(c.get())).await.unwrap();
        }
        engine
            .post(FIN_PARENT, AccountId::customer(src), krw(FUND))
            .await
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let mut load = Vec::new();
        let targets = if load_on_destination {
            vec![src_load, dst_load, src_load, dst_load]
        } else {
            vec![src_load; 4]
        };
        for target in targets {
            let (engine, stop) = (engine.clone(), stop.clone());
            load.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let p: Vec<_> = (0..16)
                        .map(|_| (FIN_PARENT, AccountId::customer(target), krw(1)))
                        .collect();
                    let _ = engine.post_batch(&p).await;
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut calls = Vec::new();
        for _ in 0..300 {
            let engine = engine.clone();
            calls.push(tokio::spawn(async move {
                engine
                    .post(AccountId::customer(src), AccountId::customer(dst), krw(1))
                    .await
            }));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::Relaxed);
        for l in load {
            l.await.unwrap();
        }
        // Quiet now: every transfer is answered within a few retries.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut ok = 0;
        for (i, c) in calls.into_iter().enumerate() {
            match tokio::time::timeout_at(deadline, c).await {
                Ok(Ok(Ok(_))) => ok += 1,
                Ok(Ok(Err(EngineError::Overloaded(_)))) => {}
                Ok(Ok(Err(e))) => panic!("transfer {i}: {e}"),
                Ok(Err(join)) => panic!("{join}"),
                Err(_) => panic!("transfer {i} was never answered"),
            }
        }
        let debited = FUND - won(&engine, src.get()).await;
        let credited = won(&engine, dst.get()).await;
        assert_eq!(
            credited, ok,
            "every transfer that moved money was answered ok, and only those"
        );
        assert_eq!(debited, credited, "nothing left in transit");
        let totals = engine.totals().await.unwrap();
        assert!(totals.in_transit.is_zero(), "{totals:?}");
        assert!(totals.shards.iter().all(|s| s.outgoing_transfers == 0));
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_transfer_refused_for_a_passing_reason_is_delivered_again_until_credited() {
    transfers_under_load(true);
}

#[test]
fn a_transfer_that_moved_money_is_never_answered_overloaded() {
    transfers_under_load(false);
}

/// Two shards whose logs are simulated storages the test holds, one per shard.
fn start_on(dir: &std::path::Path, storages: &[SimStorage], extra: &str) -> Engine {
    let config = config(dir, storages.len() as u32, extra);
    let sim = omnibus_actors::rails::sim::Simulator::new(&config);
    let mut parts = EngineParts::new(sim.rails(), Arc::new(SystemClock));
    let storages = storages.to_vec();
    parts.storage = Some(Arc::new(move |shard: u16, _: &std::path::Path| {
        Arc::new(storages[shard as usize].clone()) as Arc<dyn Storage>
    }));
    Engine::start_with(config, parts).unwrap()
}

/// Protocol step 2: the source delivers a transfer only once its debit is durable. A
/// delivery before that could credit the destination for a debit that a crash then
/// loses: money made from nothing. (The redelivery timer once delivered every unsettled
/// transfer it had not delivered yet, durable or not; the caller's answer then raced the
/// settlement and was dropped, which the caller saw as "shutting down".)
#[test]
fn a_transfer_is_delivered_only_once_its_debit_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let storages = vec![SimStorage::new(), SimStorage::new()];
    let extra = "[actors]\ntransfer_retry_ms = 10\n";
    let engine = start_on(dir.path(), &storages, extra);
    let rt = runtime();
    let src = customers_in(0, 2, 1, 1)[0];
    let dst = customers_in(1, 2, 1, 1)[0];
    rt.block_on(async {
        for c in [src, dst] {
            engine.open_customer(opened(c.get())).await.unwrap();
        }
        engine
            .post(FIN_PARENT, AccountId::customer(src), krw(1_000))
            .await
            .unwrap();
        storages[0].pause_writes();
        let transfer = {
            let engine = engine.clone();
            tokio::spawn(async move {
                engine
                    .post(AccountId::customer(src), AccountId::customer(dst), krw(1))
                    .await
            })
        };
        // Many redelivery periods while the source's debit cannot reach its log.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            won(&engine, dst.get()).await,
            0,
            "the destination was credited before the source's debit was durable"
        );
        storages[0].resume_writes();
        transfer.await.unwrap().unwrap();
        assert_eq!(won(&engine, dst.get()).await, 1);
    });
    engine.shutdown().unwrap();
    // And the books agree after a power loss that keeps only what was synced.
    for s in &storages {
        s.crash(Crash::DropUnsynced);
    }
    let engine = start_on(dir.path(), &storages, extra);
    rt.block_on(async {
        let totals = engine.totals().await.unwrap();
        assert!(totals.sum.is_zero(), "{totals:?}");
        assert_eq!(
            won(&engine, src.get()).await + won(&engine, dst.get()).await,
            1_000
        );
    });
    engine.shutdown().unwrap();
}

#[test]
fn a_destination_remembers_only_the_transfers_in_flight_among_four_shards() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), SHARDS.into(), "");
    let rt = runtime();
    // One customer per shard; shard 0's customer sends to the three others in turn, so
    // each destination sees only every third of shard 0's transfer numbers.
    let customers: Vec<_> = (0..SHARDS)
        .map(|s| customers_in(s, SHARDS, 1, 1)[0])
        .collect();
    rt.block_on(async {
        for c in &customers {
            engine.open_customer(opened(c.get())).await.unwrap();
        }
        engine
            .post(FIN_PARENT, AccountId::customer(customers[0]), krw(100_000))
            .await
            .unwrap();
        let postings: Vec<_> = (0..3_000)
            .map(|i| {
                (
                    AccountId::customer(customers[0]),
                    AccountId::customer(customers[1 + i % 3]),
                    krw(1),
                )
            })
            .collect();
        for chunk in postings.chunks(100) {
            for r in engine.post_batch(chunk).await {
                r.unwrap();
            }
        }
        let totals = engine.totals().await.unwrap();
        let remembered: Vec<u64> = totals.shards.iter().map(|s| s.transfers_remembered).collect();
        assert!(
            remembered.iter().all(|r| *r <= 100),
            "each destination remembers at most the transfers in flight at once, not every one it credited: {remembered:?}"
        );
    });
    // And after a restart, from the snapshot-free log.
    engine.shutdown().unwrap();
    let engine = start(dir.path(), SHARDS.into(), "");
    rt.block_on(async {
        let totals = engine.totals().await.unwrap();
        assert!(totals.sum.is_zero());
        assert!(totals.shards.iter().all(|s| s.transfers_remembered <= 100));
        for c in &customers[1..] {
            assert_eq!(won(&engine, c.get()).await, 1_000);
        }
    });
    engine.shutdown().unwrap();
}
