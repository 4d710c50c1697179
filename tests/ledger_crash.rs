//! Crash test of the ledger (issue 4) with real processes and real files.
//!
//! A child process (this test binary, re-executed in child mode) runs the engine under
//! load with sync `always` and prints every posting the engine acknowledged, with the
//! shard and LSN of its receipt. The parent kills the child with SIGKILL at a random
//! moment, many times over the same data directory. After each kill it reads every
//! shard's log and checks that each acknowledged posting is there, at its LSN, intact;
//! then it starts the engine on the directory and checks that the books still balance,
//! that every transfer between shards completes, and that no customer is below zero.
//!
//! `OMNIBUS_LEDGER_CRASH_ROUNDS=N` sets the number of kills (default 8, for CI).

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use omnibus_core::record::LedgerRecord;
use omnibus_core::{AccountId, ParentAccount};
use omnibus_wal::{Wal, WalOptions};
use rand::{rngs::StdRng, Rng, SeedableRng};
use support::*;

const CHILD_ENV: &str = "OMNIBUS_LEDGER_CRASH_CHILD_DIR";
const SHARDS: u32 = 2;
const CUSTOMERS: u64 = 40;

/// The child: runs the engine under load until it is killed. Run normally (without the
/// environment variable) it returns at once; it is this file's process entry point.
#[test]
fn crash_child_process() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let seed: u64 = std::env::var("OMNIBUS_LEDGER_CRASH_SEED")
        .unwrap()
        .parse()
        .unwrap();
    let engine = start(Path::new(&dir), SHARDS, "");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        for n in 1..=CUSTOMERS {
            // Reopening after a restart is refused as a duplicate, which is fine.
            let _ = engine.open_customer(opened(n)).await;
        }
        println!("READY");
        let tasks: Vec<_> = (0..16u64)
            .map(|task| {
                let engine = engine.clone();
                tokio::spawn(async move {
                    let mut rng = StdRng::seed_from_u64(seed ^ (task << 32));
                    loop {
                        let c = AccountId::customer(customer(rng.random_range(1..=CUSTOMERS)));
                        let other = AccountId::customer(customer(rng.random_range(1..=CUSTOMERS)));
                        let won = rng.random_range(1..=5_000);
                        let (debit, credit) = match rng.random_range(0..3) {
                            0 => (FIN_PARENT, c),
                            1 => (c, FIN_PARENT),
                            _ => (c, other),
                        };
                        if debit == credit {
                            continue;
                        }
                        if let Ok(receipt) = engine.post(debit, credit, krw(won)).await {
                            // One line per acknowledged posting: where its debit record is.
                            println!(
                                "ACK {} {} {} {:?}|{:?}",
                                receipt.shard, receipt.lsn, won, debit, credit
                            );
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    });
}

struct Ack {
    shard: u16,
    lsn: u64,
    won: i64,
    debit: String,
    credit: String,
}

fn parse_ack(line: &str) -> Option<Ack> {
    let rest = &line[line.find("ACK ")? + 4..];
    let mut parts = rest.splitn(4, ' ');
    let shard = parts.next()?.parse().ok()?;
    let lsn = parts.next()?.parse().ok()?;
    let won = parts.next()?.parse().ok()?;
    let (debit, credit) = parts.next()?.split_once('|')?;
    Some(Ack {
        shard,
        lsn,
        won,
        debit: debit.to_string(),
        credit: credit.to_string(),
    })
}

/// Runs one child until a random moment after it is ready, kills it, and returns what it acknowledged.
fn run_child_and_kill(dir: &Path, seed: u64, rng: &mut StdRng) -> Vec<Ack> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "crash_child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .env("OMNIBUS_LEDGER_CRASH_SEED", seed.to_string())
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    // The test harness may print its own text on the line before the child's first line.
    loop {
        assert!(Instant::now() < deadline, "child did not get ready");
        if let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) {
            if line.ends_with("READY") {
                break;
            }
        }
    }
    std::thread::sleep(Duration::from_millis(rng.random_range(50..400)));
    // SIGKILL: no destructor, no flush, no sync runs in the child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    child.wait().unwrap();
    reader.join().unwrap();
    // Lines already read are acknowledged postings; a torn last line is not.
    rx.try_iter().filter_map(|l| parse_ack(&l)).collect()
}

fn shard_records(root: &Path, shard: u16) -> HashMap<u64, LedgerRecord> {
    let dir: PathBuf = root.join(format!("shard-{shard:03}"));
    let recovery = Wal::open(WalOptions::new(dir)).expect("the log recovers");
    let mut records = HashMap::new();
    for frame in recovery.records() {
        let frame = frame.expect("every frame after recovery is intact");
        let record = omnibus_core::record::codec::decode(frame.payload).expect("records decode");
        records.insert(frame.lsn, record);
    }
    records
}

#[test]
fn every_acknowledged_posting_survives_kill_9_and_the_books_balance() {
    let rounds: u64 = std::env::var("OMNIBUS_LEDGER_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let seed: u64 = std::env::var("OMNIBUS_LEDGER_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed);
    eprintln!(
        "ledger crash test: seed {seed}, {rounds} rounds (OMNIBUS_LEDGER_CRASH_SEED / _ROUNDS)"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut acknowledged = 0usize;
    for round in 0..rounds {
        let acks = run_child_and_kill(dir.path(), seed.wrapping_add(round), &mut rng);
        assert!(
            !acks.is_empty(),
            "round {round}: the child acknowledged nothing"
        );
        acknowledged += acks.len();
        // Every acknowledged posting is in its shard's log at its LSN, intact. Snapshots
        // are off at this size (the default is every 2,000,000 records), so no log is
        // truncated under the test's feet.
        let logs: Vec<_> = (0..SHARDS as u16)
            .map(|s| shard_records(dir.path(), s))
            .collect();
        for ack in &acks {
            let record = logs[ack.shard as usize].get(&ack.lsn).unwrap_or_else(|| {
                panic!(
                    "round {round}: acknowledged LSN {} of shard {} is missing",
                    ack.lsn, ack.shard
                )
            });
            let (debit, credit, amount) = match record {
                LedgerRecord::Posted {
                    debit,
                    credit,
                    amount,
                } => (debit, credit, amount),
                LedgerRecord::TransferOut {
                    debit,
                    credit,
                    amount,
                    ..
                } => (debit, credit, amount),
                // A transfer's receipt names the record that settled it at the source.
                LedgerRecord::TransferSettled { .. } => continue,
                other => panic!(
                    "round {round}: LSN {} holds {other:?}, not a posting",
                    ack.lsn
                ),
            };
            assert_eq!(
                format!("{debit:?}"),
                ack.debit,
                "round {round}: LSN {} debit",
                ack.lsn
            );
            assert_eq!(
                format!("{credit:?}"),
                ack.credit,
                "round {round}: LSN {} credit",
                ack.lsn
            );
            assert_eq!(
                amount.value(),
                ack.won.into(),
                "round {round}: LSN {} amount",
                ack.lsn
            );
        }
        // The engine restarts on the directory; the books balance, every transfer the
        // crash interrupted completes, and no customer is below zero.
        let engine = start(dir.path(), SHARDS, "");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let totals = engine.totals().await.unwrap();
                assert!(
                    totals.sum.is_zero(),
                    "round {round}: books do not balance: {totals:?}"
                );
                if totals.in_transit.is_zero() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "round {round}: transfers stuck in transit: {totals:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            for n in 1..=CUSTOMERS {
                if let Ok(b) = engine.customer_balance(customer(n)).await {
                    assert!(
                        !b.balance.is_negative(),
                        "round {round}: customer {n} below zero"
                    );
                }
            }
            let fin = engine
                .parent_balance(ParentAccount::FinParent)
                .await
                .unwrap();
            assert!(!fin.total.is_negative());
        });
        engine.shutdown().unwrap();
    }
    eprintln!("ledger crash test: {rounds} kills, {acknowledged} acknowledged postings checked");
}
