//! Overload is an answer, never a failure (issue 11, items 4 and 5): a bound that is hit
//! answers the caller a typed "overloaded" with nothing changed, the shard keeps serving,
//! and every request that was accepted is answered.
//!
//! The engine runs on real files, or (for a slow disk) on files whose every `fdatasync`
//! is made to take longer, through `EngineParts::storage`.

mod support;

use std::any::Any;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use omnibus_actors::{Bound, Engine, EngineError, EngineParts, Submission, SystemClock};
use omnibus_core::AccountId;
use omnibus_wal::storage::{FileStorage, FillPace, Region, Storage, StorageFile};
use support::*;

/// Counts of each kind of answer, by a short name.
fn tally<T>(results: &[Result<T, EngineError>]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in results {
        let key = match r {
            Ok(_) => "ok".to_string(),
            Err(EngineError::Overloaded(bound)) => format!("overloaded({})", bound.as_str()),
            Err(e) => format!("{e:?}").chars().take(60).collect(),
        };
        *counts.entry(key).or_default() += 1;
    }
    counts
}

/// No answer is a storage failure: overload is not a failure of the log.
fn assert_no_storage_failure<T>(results: &[Result<T, EngineError>]) {
    let counts = tally(results);
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(_) | Err(EngineError::Overloaded(_)))),
        "answers other than ok and overloaded: {counts:?}"
    );
}

fn post_batch_then_serve(extra: &str, postings: usize) {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), 1, extra);
    let rt = runtime();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        let to = AccountId::customer(customer(1));
        let batch: Vec<_> = (0..postings).map(|_| (FIN_PARENT, to, krw(1))).collect();
        let results = engine.post_batch(&batch).await;
        assert_no_storage_failure(&results);
        let done = results.iter().filter(|r| r.is_ok()).count() as i64;
        let after = engine.post(FIN_PARENT, to, krw(1)).await;
        assert!(after.is_ok(), "a posting after the batch: {after:?}");
        assert_eq!(
            won(&engine, 1).await,
            done + 1,
            "every posting answered ok was booked, and nothing else"
        );
    });
    engine.shutdown().unwrap();
}

#[test]
fn one_post_batch_larger_than_the_wal_batch_bound_is_carried_out_and_the_shard_keeps_serving() {
    post_batch_then_serve("[wal]\nbatch_records_max = 64\n", 200);
}

#[test]
fn a_post_batch_of_70_000_postings_at_the_default_bounds_never_poisons_the_shard() {
    // The repository's WAL bounds (support::config lowers the segment and batch bytes).
    post_batch_then_serve(
        "[wal]\nsegment_bytes = 67_108_864\nbatch_bytes_max = 16_777_216\n",
        70_000,
    );
}

/// Several tasks posting batches as large as the queue, with snapshots every 10 records.
fn burst(engine: &Engine, rt: &tokio::runtime::Runtime, queue: usize, tasks: usize, secs: u64) {
    rt.block_on(async {
        let to = AccountId::customer(customer(1));
        let mut handles = Vec::new();
        for _ in 0..tasks {
            let engine = engine.clone();
            handles.push(tokio::spawn(async move {
                let mut all = Vec::new();
                let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
                while tokio::time::Instant::now() < deadline {
                    let batch: Vec<_> = (0..queue).map(|_| (FIN_PARENT, to, krw(1))).collect();
                    all.extend(engine.post_batch(&batch).await);
                }
                all
            }));
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap());
        }
        assert_no_storage_failure(&all);
        assert!(
            all.iter()
                .any(|r| matches!(r, Err(EngineError::Overloaded(Bound::WalQueue)))),
            "the burst was meant to fill the queue: {:?}",
            tally(&all)
        );
    });
}

#[test]
fn bursts_over_a_small_queue_are_answered_overloaded_and_snapshots_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(
        dir.path(),
        1,
        "[wal]\nqueue_records_max = 64\nsnapshot_every_records = 10\n",
    );
    let rt = runtime();
    rt.block_on(engine.open_customer(opened(1))).unwrap();
    burst(&engine, &rt, 64, 4, 3);
    rt.block_on(async {
        let to = AccountId::customer(customer(1));
        let before = engine.totals().await.unwrap().shards[0].snapshots;
        for _ in 0..100 {
            engine.post(FIN_PARENT, to, krw(1)).await.unwrap();
        }
        // Snapshots are written in the background; give the last ones time to land.
        let mut later = before;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            later = engine.totals().await.unwrap().shards[0].snapshots;
            if later > before {
                break;
            }
        }
        assert!(
            later > before,
            "no snapshot after 100 quiet records: snapshots stopped ({before} before, {later} after)"
        );
    });
    engine.shutdown().unwrap();
}

/// A log whose every `fdatasync` takes `delay` more: a slow disk.
struct SlowSync {
    inner: FileStorage,
    delay: Duration,
    slow: Arc<AtomicBool>,
}

struct SlowFile {
    inner: Box<dyn StorageFile>,
    delay: Duration,
    slow: Arc<AtomicBool>,
}

impl Storage for SlowSync {
    fn path(&self, name: &str) -> PathBuf {
        self.inner.path(name)
    }
    fn create_dir(&self) -> io::Result<()> {
        self.inner.create_dir()
    }
    fn lock(&self) -> io::Result<Box<dyn Any + Send + Sync>> {
        self.inner.lock()
    }
    fn list(&self) -> io::Result<Vec<String>> {
        self.inner.list()
    }
    fn open(&self, name: &str, writable: bool) -> io::Result<Box<dyn StorageFile>> {
        Ok(self.wrap(self.inner.open(name, writable)?))
    }
    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        Ok(self.wrap(self.inner.create(name)?))
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.inner.remove(name)
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn sync_dir(&self) -> io::Result<()> {
        self.inner.sync_dir()
    }
}

impl SlowSync {
    fn wrap(&self, inner: Box<dyn StorageFile>) -> Box<dyn StorageFile> {
        Box::new(SlowFile {
            inner,
            delay: self.delay,
            slow: self.slow.clone(),
        })
    }
}

impl StorageFile for SlowFile {
    fn size_bytes(&self) -> io::Result<u64> {
        self.inner.size_bytes()
    }
    fn allocate(&self, bytes: u64) -> io::Result<()> {
        self.inner.allocate(bytes)
    }
    fn zero_fill(&self, bytes: u64, pace: &FillPace) -> io::Result<()> {
        self.inner.zero_fill(bytes, pace)
    }
    fn write_at(&self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_at(offset, bytes)
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_at(offset, buf)
    }
    fn map(&self) -> io::Result<Region> {
        self.inner.map()
    }
    fn sync_data(&self) -> io::Result<()> {
        if self.slow.load(Ordering::Relaxed) {
            std::thread::sleep(self.delay);
        }
        self.inner.sync_data()
    }
}

fn start_slow(dir: &Path, extra: &str, slow: Arc<AtomicBool>) -> Engine {
    let config = config(dir, 1, extra);
    let sim = omnibus_actors::rails::sim::Simulator::new(&config);
    let mut parts = EngineParts::new(sim.rails(), Arc::new(SystemClock));
    parts.storage = Some(Arc::new(move |_shard: u16, dir: &Path| {
        Arc::new(SlowSync {
            inner: FileStorage::new(dir),
            delay: Duration::from_millis(30),
            slow: slow.clone(),
        }) as Arc<dyn Storage>
    }));
    Engine::start_with(config, parts).unwrap()
}

#[test]
fn a_slow_disk_under_bursts_of_postings_and_requests_turns_work_away_and_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let slow = Arc::new(AtomicBool::new(true));
    // The 200 charges are one customer's, which its account actor carries out one at a
    // time (issue 12): on this disk (30 ms a sync, a few syncs a charge) those waiting
    // their turn past the answer deadline would be told failed, not carried out, and
    // never credited. A short customer queue turns the burst away at once instead, as
    // the mailbox and the log's queue do.
    let engine = start_slow(
        dir.path(),
        "[wal]\nqueue_records_max = 48\nbatch_records_max = 16\n[actors]\ncustomer_queue_max = 16\n",
        slow.clone(),
    );
    let rt = runtime();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        engine.open_customer(opened(2)).await.unwrap();
    });
    // Postings and charges at once, each burst larger than the queue.
    let submissions: Vec<Submission> = (0..200)
        .map(|i| Submission::Charge(charge(2, &format!("SLOW-{i}"), 1_000)))
        .collect();
    let (outcomes, postings) = rt.block_on(async {
        let to = AccountId::customer(customer(1));
        let batch: Vec<_> = (0..300).map(|_| (FIN_PARENT, to, krw(1))).collect();
        tokio::join!(engine.submit_batch(submissions), engine.post_batch(&batch))
    });
    assert_no_storage_failure(&outcomes);
    assert_no_storage_failure(&postings);
    assert!(
        outcomes.iter().any(|r| r.is_err()) || postings.iter().any(|r| r.is_err()),
        "the bursts were meant to overload: {:?} {:?}",
        tally(&outcomes),
        tally(&postings)
    );
    slow.store(false, Ordering::Relaxed);
    rt.block_on(async {
        // A request turned away had nothing on record; one accepted is on record. Every
        // one answered either way, and the resubmission of each gets an answer.
        for (i, first) in outcomes.iter().enumerate() {
            let no = format!("SLOW-{i}");
            let on_record = engine.request(no.parse().unwrap()).await;
            match first {
                Ok(_) => assert!(on_record.is_ok(), "{no} answered but not on record"),
                Err(EngineError::Overloaded(_)) => assert!(
                    on_record.is_err(),
                    "{no} was answered overloaded (nothing changed) but is on record: {on_record:?}"
                ),
                Err(e) => panic!("{no}: {e}"),
            }
            let again = tokio::time::timeout(
                Duration::from_secs(10),
                engine.charge(charge(2, &no, 1_000)),
            )
            .await
            .unwrap_or_else(|_| panic!("the resubmission of {no} was never answered"));
            assert!(again.is_ok(), "the resubmission of {no}: {again:?}");
        }
        let posted = postings.iter().filter(|r| r.is_ok()).count() as i64;
        assert_eq!(won(&engine, 1).await, posted);
        assert_eq!(won(&engine, 2).await, 200 * 1_000);
        let totals = engine.totals().await.unwrap();
        assert!(totals.sum.is_zero());
    });
    engine.shutdown().unwrap();
}

#[test]
fn charges_whose_steps_find_the_queue_full_are_all_answered() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _sim) = start_sim(dir.path(), 1, "[wal]\nqueue_records_max = 16\n");
    let rt = runtime();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        engine.open_customer(opened(2)).await.unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let mut load = Vec::new();
        for _ in 0..4 {
            let (engine, stop) = (engine.clone(), stop.clone());
            load.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let p: Vec<_> = (0..16)
                        .map(|_| (FIN_PARENT, AccountId::customer(customer(2)), krw(1)))
                        .collect();
                    let _ = engine.post_batch(&p).await;
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut calls = Vec::new();
        for i in 0..300 {
            let engine = engine.clone();
            calls.push(tokio::spawn(async move {
                engine.charge(charge(1, &format!("L-{i}"), 1_000)).await
            }));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::Relaxed);
        for l in load {
            l.await.unwrap();
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut results = Vec::new();
        for (i, c) in calls.into_iter().enumerate() {
            match tokio::time::timeout_at(deadline, c).await {
                Ok(r) => results.push(r.unwrap()),
                Err(_) => panic!("charge L-{i} was never answered"),
            }
        }
        assert_no_storage_failure(&results);
        let credited = results.iter().filter(|r| r.is_ok()).count() as i64;
        assert_eq!(won(&engine, 1).await, credited * 1_000);
        // Those turned away had nothing on record: submitted again, each is carried out.
        for (i, r) in results.iter().enumerate() {
            if r.is_err() {
                engine
                    .charge(charge(1, &format!("L-{i}"), 1_000))
                    .await
                    .unwrap();
            }
        }
        assert_eq!(won(&engine, 1).await, 300 * 1_000);
    });
    engine.shutdown().unwrap();
}
