//! Crash test with real processes: a child process (this test binary re-executed)
//! appends under `SyncMode::Always` with many records in flight, takes snapshots, and
//! reports every acknowledged LSN on stdout; the parent kills it with SIGKILL at random
//! (seeded) moments, recovers the directory, and checks that every acknowledged record
//! is present and intact, LSNs are contiguous, nothing is half-present, and the snapshot
//! agrees with the records it reflects. The next child continues on the same directory.
//!
//! `OMNIBUS_WAL_CRASH_ROUNDS=N` sets the number of kills (default 20);
//! `OMNIBUS_WAL_CRASH_SEED=S` replays a run.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{payload, Rng};
use omnibus_wal::{Batch, Lsn, SyncMode, Wal, WalError, WalOptions};

const TEST_NAME: &str = "sigkill_at_random_moments_loses_no_acknowledged_record";
const CHILD_DIR_ENV: &str = "OMNIBUS_WAL_CRASH_CHILD_DIR";
const CHILD_SEED_ENV: &str = "OMNIBUS_WAL_CRASH_CHILD_SEED";
const APPENDERS: u64 = 3;
const ACTORS_PER_APPENDER: u64 = 3;
const IN_FLIGHT_BATCHES_MAX: usize = 24;
/// A child that is never killed (the parent died) stops by itself after this long.
const CHILD_LIFETIME_MAX: Duration = Duration::from_secs(60);

fn options(dir: &Path) -> WalOptions {
    WalOptions {
        dir: dir.to_path_buf(),
        sync: SyncMode::Always,
        segment_bytes: 64 * 1024,
        queue_records_max: 50_000,
        batch_records_max: 4_096,
        batch_bytes_max: 1 << 20,
        background_write_bytes_per_sec: 64 << 20,
    }
}

fn encode_state(state: &BTreeMap<u64, u64>) -> Vec<u8> {
    state
        .iter()
        .flat_map(|(actor, next_seq)| {
            actor
                .to_le_bytes()
                .into_iter()
                .chain(next_seq.to_le_bytes())
        })
        .collect()
}

fn decode_state(bytes: &[u8]) -> BTreeMap<u64, u64> {
    assert_eq!(bytes.len() % 16, 0, "snapshot state is pairs of u64");
    bytes
        .chunks(16)
        .map(|pair| {
            (
                u64::from_le_bytes(pair[..8].try_into().unwrap()),
                u64::from_le_bytes(pair[8..].try_into().unwrap()),
            )
        })
        .collect()
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_record() {
    if let Ok(dir) = std::env::var(CHILD_DIR_ENV) {
        let seed = std::env::var(CHILD_SEED_ENV)
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or(1);
        child(PathBuf::from(dir), seed);
        return;
    }
    let rounds: u64 = std::env::var("OMNIBUS_WAL_CRASH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("OMNIBUS_WAL_CRASH_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!(
        "crash test: seed {seed} (replay with OMNIBUS_WAL_CRASH_SEED={seed}), {rounds} rounds"
    );
    eprintln!("crash test: seed {seed}, {rounds} rounds");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut known: BTreeMap<Lsn, (u64, u64)> = BTreeMap::new();
    let mut acked_total = 0u64;
    let mut killed_before_ready = 0;
    let mut torn_tails = 0;
    for round in 0..rounds {
        let child_seed = rng.next_u64();
        let killed_early = rng.range(0, 100) < 15;
        let delay = if killed_early {
            rng.range(0, 25)
        } else {
            rng.range(5, 150)
        };
        let outcome = run_child(
            dir.path(),
            child_seed,
            killed_early,
            Duration::from_millis(delay),
        );
        if !outcome.ready {
            killed_before_ready += 1;
        }
        for (first, records) in &outcome.acks {
            for (offset, record) in records.iter().enumerate() {
                let lsn = first + offset as u64;
                if let Some(previous) = known.insert(lsn, *record) {
                    assert_eq!(
                        previous, *record,
                        "round {round}: LSN {lsn} acknowledged twice differently"
                    );
                }
                acked_total += 1;
            }
        }
        let recovered = check_recovery(dir.path(), &mut known, round, &outcome.stderr);
        torn_tails += u64::from(recovered.torn_tail);
        println!(
            "round {round}: killed after {delay} ms ({}), {} batches acknowledged, log at LSN {}, torn tail {}",
            if outcome.ready { "running" } else { "starting" },
            outcome.acks.len(),
            recovered.next_lsn - 1,
            recovered.torn_tail
        );
    }
    println!("crash test: {acked_total} records acknowledged in all, {killed_before_ready} kills during startup, {torn_tails} torn tails");
    assert!(acked_total > 0, "the children acknowledged records");
    // The directory is still a healthy log: open it for writing one last time.
    let recovery = Wal::open(options(dir.path())).unwrap();
    let wal = recovery.into_wal().unwrap();
    wal.shutdown().unwrap();
    let report = omnibus_wal::tools::verify(dir.path());
    assert!(report.is_ok(), "{report}");
}

struct ChildOutcome {
    ready: bool,
    acks: Vec<(Lsn, Vec<(u64, u64)>)>,
    stderr: String,
}

fn run_child(dir: &Path, seed: u64, kill_early: bool, delay: Duration) -> ChildOutcome {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, dir)
        .env(CHILD_SEED_ENV, seed.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (ready_tx, ready_rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut acks = Vec::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                break;
            }
            // A line cut short by the kill is not a report.
            if line.last() != Some(&b'\n') {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            // The test harness may have printed its own text earlier on the same line.
            let start = text
                .rfind("READY ")
                .or_else(|| text.rfind("ACK "))
                .unwrap_or(0);
            let mut words = text[start..].split_whitespace();
            match words.next() {
                Some("READY") => {
                    let _ = ready_tx.send(());
                }
                Some("ACK") => {
                    let first: Lsn = words.next().unwrap().parse().unwrap();
                    let records = words
                        .map(|pair| {
                            let (actor, seq) = pair.split_once(':').unwrap();
                            (actor.parse().unwrap(), seq.parse().unwrap())
                        })
                        .collect();
                    acks.push((first, records));
                }
                _ => {}
            }
        }
        acks
    });
    let stderr_reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let ready = if kill_early {
        thread::sleep(delay);
        ready_rx.try_recv().is_ok()
    } else {
        let ready = ready_rx.recv_timeout(Duration::from_secs(60)).is_ok();
        thread::sleep(delay);
        ready
    };
    let exited_early = child.try_wait().unwrap();
    child.kill().expect("SIGKILL the child");
    let status = child.wait().unwrap();
    let acks = reader.join().unwrap();
    let stderr = stderr_reader.join().unwrap();
    if let Some(status) = exited_early {
        panic!("the child exited by itself ({status}) before the kill:\n{stderr}");
    }
    assert!(!status.success(), "the child was killed");
    if !kill_early {
        assert!(ready, "the child never became ready:\n{stderr}");
    }
    ChildOutcome {
        ready,
        acks,
        stderr,
    }
}

struct Recovered {
    next_lsn: Lsn,
    torn_tail: bool,
}

/// Recovers the directory and checks it against every record known to be in the log.
fn check_recovery(
    dir: &Path,
    known: &mut BTreeMap<Lsn, (u64, u64)>,
    round: u64,
    stderr: &str,
) -> Recovered {
    let recovery = Wal::open(options(dir))
        .unwrap_or_else(|error| panic!("round {round}: recovery failed: {error}\n{stderr}"));
    let start = recovery.start_lsn();
    let mut state = recovery
        .snapshot()
        .map(|snapshot| decode_state(&snapshot.bytes))
        .unwrap_or_default();
    // The snapshot reflects exactly the records below its LSN, all of them known: the
    // child reports a record before it can enter a snapshot.
    let mut from_known = BTreeMap::new();
    let below: Vec<_> = known.range(..start).collect();
    assert_eq!(
        below.len() as u64,
        start - 1,
        "round {round}: every record below the snapshot was reported"
    );
    for (_, (actor, seq)) in below {
        from_known.insert(*actor, seq + 1);
    }
    assert_eq!(
        state, from_known,
        "round {round}: the snapshot at LSN {start} matches the records below it"
    );
    let mut expected_lsn = start;
    for record in recovery.records() {
        let record = record.unwrap_or_else(|error| panic!("round {round}: {error}"));
        assert_eq!(
            record.lsn, expected_lsn,
            "round {round}: LSNs are contiguous"
        );
        assert_eq!(
            record.payload,
            payload(record.actor, record.actor_seq).as_slice(),
            "round {round}: LSN {} is intact",
            record.lsn
        );
        let next_seq = state.entry(record.actor).or_insert(0);
        assert_eq!(
            record.actor_seq, *next_seq,
            "round {round}: actor {} has no gap or repeat",
            record.actor
        );
        *next_seq += 1;
        if let Some(previous) = known.insert(record.lsn, (record.actor, record.actor_seq)) {
            assert_eq!(
                previous,
                (record.actor, record.actor_seq),
                "round {round}: LSN {} changed",
                record.lsn
            );
        }
        expected_lsn += 1;
    }
    assert_eq!(expected_lsn, recovery.next_lsn());
    if let Some((&last_known, _)) = known.last_key_value() {
        assert!(
            last_known < recovery.next_lsn(),
            "round {round}: acknowledged LSN {last_known} is missing; the log ends at {}",
            recovery.next_lsn() - 1
        );
    }
    let recovered = Recovered {
        next_lsn: recovery.next_lsn(),
        torn_tail: recovery.report().torn_tail.is_some(),
    };
    drop(recovery);
    let report = omnibus_wal::tools::verify(dir);
    assert!(report.is_ok(), "round {round}: {report}");
    recovered
}

/// The child: recover, then append and snapshot until killed.
fn child(dir: PathBuf, seed: u64) {
    let started = Instant::now();
    // Stop when the parent goes away (stdin closes) or after a long while, so no child
    // outlives its test.
    thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok(read) = std::io::stdin().read(&mut buf) {
            if read == 0 {
                break;
            }
        }
        std::process::exit(0);
    });
    thread::spawn(move || {
        thread::sleep(CHILD_LIFETIME_MAX.saturating_sub(started.elapsed()));
        std::process::exit(0);
    });

    let recovery = Wal::open(options(&dir)).expect("child: recovery");
    let mut next_seq = recovery
        .snapshot()
        .map(|snapshot| decode_state(&snapshot.bytes))
        .unwrap_or_default();
    for record in recovery.records() {
        let record = record.expect("child: record");
        let next = next_seq.entry(record.actor).or_insert(0);
        assert_eq!(record.actor_seq, *next);
        *next += 1;
    }
    let state_lsn = recovery.next_lsn();
    let wal = recovery.into_wal().expect("child: into_wal");
    println!("\nREADY {state_lsn}");

    // What every acknowledged record so far adds up to, and the LSN below which that is.
    let state = Arc::new(Mutex::new((state_lsn, next_seq.clone())));
    let mut appenders = Vec::new();
    for appender in 0..APPENDERS {
        let wal = wal.clone();
        let state = state.clone();
        let actors: Vec<u64> = (0..ACTORS_PER_APPENDER)
            .map(|n| appender + n * APPENDERS)
            .collect();
        let mut seqs: BTreeMap<u64, u64> = actors
            .iter()
            .map(|actor| (*actor, *next_seq.get(actor).unwrap_or(&0)))
            .collect();
        let mut rng = Rng(seed ^ (appender + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        appenders.push(thread::spawn(move || {
            let window = Arc::new((Mutex::new(0usize), Condvar::new()));
            loop {
                {
                    let (count, freed) = &*window;
                    let mut count = count.lock().unwrap();
                    while *count >= IN_FLIGHT_BATCHES_MAX {
                        count = freed.wait(count).unwrap();
                    }
                    *count += 1;
                }
                let records: Vec<(u64, u64)> = (0..rng.range(1, 13))
                    .map(|_| {
                        let actor = actors[rng.range(0, actors.len() as u64) as usize];
                        let seq = seqs.get_mut(&actor).unwrap();
                        *seq += 1;
                        (actor, *seq - 1)
                    })
                    .collect();
                loop {
                    let mut batch = Batch::with_capacity(records.len() * 240);
                    for (actor, seq) in &records {
                        batch.push(*actor, *seq, &payload(*actor, *seq));
                    }
                    let done = {
                        let records = records.clone();
                        let state = state.clone();
                        let window = window.clone();
                        Box::new(move |result: Result<std::ops::Range<Lsn>, WalError>| {
                            let range = result.expect("child: append failed");
                            let mut line = format!("ACK {}", range.start);
                            for (actor, seq) in &records {
                                line.push_str(&format!(" {actor}:{seq}"));
                            }
                            line.push('\n');
                            // Reported before it can enter a snapshot: the parent checks
                            // snapshots against what was reported.
                            std::io::stdout()
                                .lock()
                                .write_all(line.as_bytes())
                                .expect("child: stdout");
                            let mut state = state.lock().unwrap();
                            for (actor, seq) in &records {
                                state.1.insert(*actor, seq + 1);
                            }
                            state.0 = range.end;
                            drop(state);
                            let (count, freed) = &*window;
                            *count.lock().unwrap() -= 1;
                            freed.notify_one();
                        })
                    };
                    match wal.submit(batch, done) {
                        Ok(_) => break,
                        Err(WalError::Overloaded { .. }) => thread::sleep(Duration::from_millis(1)),
                        Err(error) => panic!("child: submit failed: {error}"),
                    }
                }
            }
        }));
    }
    let mut snapshot_lsn = 0;
    loop {
        thread::sleep(Duration::from_millis(15));
        let (lsn, bytes) = {
            let state = state.lock().unwrap();
            (state.0, encode_state(&state.1))
        };
        if lsn > snapshot_lsn {
            match wal.snapshot(
                lsn,
                bytes,
                Box::new(|result| result.expect("child: snapshot failed")),
            ) {
                Ok(()) => snapshot_lsn = lsn,
                Err(WalError::InvalidSnapshot { .. }) => {}
                Err(error) => panic!("child: snapshot refused: {error}"),
            }
        }
    }
}
