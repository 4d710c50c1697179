//! `omnibus-bench ledger`: the ledger on actors, driven through the public `Engine` handle.
//!
//! Figures (one `name=value unit` line each on stdout):
//! - `ledger_postings_per_sec`: postings between a customer and `fin_parent` (the hot
//!   account), many in flight, sync `always`, every shard.
//! - `ledger_postings_per_sec_nosync`: the same with sync `none`.
//! - `ledger_postings_per_sec_1shard`: the same with sync `always` on one shard.
//! - `bytes_per_passive_customer`: resident memory per opened (passive) customer.
//! - `restart_ms`: `Engine::start` on a directory with many customers, postings and
//!   retained requests (charges, settled; all but `archive.recent_max` per shard of them in
//!   the archive, as on a long-running engine), snapshots on, after a clean shutdown
//!   (which takes a snapshot: `wal.snapshot_at_shutdown_records`).
//! - `restart_after_crash_ms`: the same data after a halt (a crash: no snapshot at the
//!   end), replaying what came after the last periodic snapshot. Both time the engine's
//!   own start (`Engine::start_with`); the simulated rails' journal is timed apart.
//! - `books_grow_pause_max_us_hashmap`, `books_grow_pause_max_us_segmented` (phase
//!   `pauses`, not in the default run): the longest single insert while a map of
//!   requests (keys and values the size of the books' own) grows to `--pause-requests`,
//!   for one `HashMap` and for the books' `SegmentedMap`: what one resize stalls a shard.
//!   Then, for books holding `--pause-requests` answered requests: `books_snapshot_copy_ms`,
//!   copying them out for a snapshot (what the shard's thread paid before snapshots were
//!   cut copy-on-write; it now runs on the snapshot's thread), `books_snapshot_cut_ms`,
//!   what the shard's thread pays now, and `books_write_pause_max_us_during_cut`, the
//!   longest single record applied while a cut is alive (it copies one segment first).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use omnibus_actors::Engine;

use crate::drive::closed_loop;
use omnibus_core::record::CustomerOpened;
use omnibus_core::{AccountId, AccountNo, Amount, BankCode, Config, CustomerId, ParentAccount};

const FIN_PARENT: AccountId = AccountId::Parent {
    parent: ParentAccount::FinParent,
};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Postings per throughput run.
    #[arg(long, default_value_t = 400_000)]
    postings: u64,
    /// Customers the throughput runs post against.
    #[arg(long, default_value_t = 10_000)]
    customers: u64,
    /// Postings in flight at once.
    #[arg(long, default_value_t = 8_192)]
    in_flight: usize,
    /// Postings per `post_batch` call (1: one `post` call per posting).
    #[arg(long, default_value_t = 1_024)]
    batch: usize,
    /// Customers opened for the memory figure.
    #[arg(long, default_value_t = 1_000_000)]
    passive_customers: u64,
    /// Customers and postings of the restart figure.
    #[arg(long, default_value_t = 1_000_000)]
    restart_customers: u64,
    #[arg(long, default_value_t = 10_000_000)]
    restart_postings: u64,
    /// Requests (charges) retained at the restart, on top of the postings.
    #[arg(long, default_value_t = 10_000_000)]
    restart_requests: u64,
    /// Extra configuration of the restart figure's engine (TOML tables, such as
    /// "[archive]\nrecent_max = 20_000"), laid over its own.
    #[arg(long, default_value = "")]
    restart_toml: String,
    /// Requests the `pauses` phase inserts.
    #[arg(long, default_value_t = 2_000_000)]
    pause_requests: u64,
    /// Where the data directories go (a temporary directory under it).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Only these figures (comma separated: throughput, memory, restart, pauses).
    #[arg(long, default_value = "throughput,memory,restart")]
    only: String,
}

fn config(dir: &Path, shards: u32, sync: &str, extra: &str) -> Result<Config, String> {
    Config::from_toml_over_defaults(&format!(
        "[engine]\nshards = {shards}\n[wal]\ndir = {:?}\nsync = {sync:?}\n{extra}",
        dir.display().to_string()
    ))
    .map_err(|e| e.to_string())
}

fn opened(n: u64) -> CustomerOpened {
    CustomerOpened {
        customer: CustomerId::new(n).expect("positive"),
        linked_bank: BankCode::new("004").expect("bank"),
        linked_account: AccountNo::new(&format!("110-{n:010}")).expect("account"),
        tradable: true,
        subscription_valid: true,
        signing_key: Some(omnibus_core::record::SigningKey {
            cert_serial: n,
            public_key: *public_key(),
        }),
    }
}

/// One valid ed25519 public key for every customer (the engine refuses bytes that are no
/// key, and weak keys); it costs the same books entry as a key of its own.
fn public_key() -> &'static [u8; 32] {
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        ed25519_dalek::SigningKey::from_bytes(&[7; 32])
            .verifying_key()
            .to_bytes()
    })
}

/// Posts `count` postings, `posting(i)` making the i-th, `in_flight` outstanding, in
/// batches of `batch` (or one `post` each when `batch` is 1). Every posting must succeed.
async fn post_all(
    engine: &Engine,
    count: u64,
    in_flight: usize,
    batch: usize,
    posting: impl Fn(u64) -> (AccountId, AccountId, Amount),
) -> Result<Duration, String> {
    if batch <= 1 {
        return closed_loop(count, in_flight, |i| {
            let (d, c, a) = posting(i);
            engine.post(d, c, a)
        })
        .await;
    }
    let batches = count.div_ceil(batch as u64);
    closed_loop(batches, (in_flight / batch).max(1), |b| {
        let items: Vec<_> = (b * batch as u64..((b + 1) * batch as u64).min(count))
            .map(&posting)
            .collect();
        async move {
            for result in engine.post_batch(&items).await {
                result.map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        }
    })
    .await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Opens `customers` customers and funds each, then runs `postings` postings alternating
/// a credit from fin_parent and a debit back to it, so balances stay positive.
fn throughput(root: &Path, shards: u32, sync: &str, args: &Args) -> Result<f64, String> {
    let dir = root.join(format!("throughput-{shards}-{sync}"));
    let engine = Engine::start(config(&dir, shards, sync, "")?).map_err(|e| e.to_string())?;
    let rt = runtime();
    let customers = args.customers;
    let elapsed = rt.block_on(async {
        closed_loop(customers, args.in_flight, |i| {
            engine.open_customer(opened(i + 1))
        })
        .await?;
        closed_loop(customers, args.in_flight, |i| {
            engine.post(
                FIN_PARENT,
                AccountId::customer(CustomerId::new(i + 1).unwrap()),
                Amount::krw(10_000).unwrap(),
            )
        })
        .await?;
        let posting = |i: u64| {
            let c = AccountId::customer(CustomerId::new(i / 2 % customers + 1).unwrap());
            let amount = Amount::krw(100).unwrap();
            if i % 2 == 0 {
                (FIN_PARENT, c, amount)
            } else {
                (c, FIN_PARENT, amount)
            }
        };
        post_all(&engine, args.postings, args.in_flight, args.batch, posting).await
    })?;
    let totals = rt.block_on(engine.totals()).map_err(|e| e.to_string())?;
    if !totals.sum.is_zero() {
        return Err(format!(
            "the books do not balance after the run: {totals:?}"
        ));
    }
    engine.shutdown().map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(args.postings as f64 / elapsed.as_secs_f64())
}

fn rss_bytes() -> u64 {
    crate::process::status_bytes("VmRSS:").unwrap_or(0)
}

fn memory(root: &Path, args: &Args) -> Result<f64, String> {
    let dir = root.join("memory");
    let engine = Engine::start(config(&dir, 0, "none", "")?).map_err(|e| e.to_string())?;
    let rt = runtime();
    let before = rss_bytes();
    rt.block_on(closed_loop(args.passive_customers, args.in_flight, |i| {
        engine.open_customer(opened(i + 1))
    }))?;
    // Let the WAL writer drain its buffers before measuring.
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_bytes();
    let totals = rt.block_on(engine.totals()).map_err(|e| e.to_string())?;
    eprintln!(
        "  rss before {before} B, after {after} B, customers {}, live {}",
        totals.customers,
        totals.shards.iter().map(|s| s.live_customers).sum::<u64>()
    );
    engine.shutdown().map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok((after.saturating_sub(before)) as f64 / args.passive_customers as f64)
}

fn restart(root: &Path, args: &Args) -> Result<Restarts, String> {
    let dir = root.join("restart");
    // Building the data is not what is measured; it runs with sync `none`. The default
    // snapshot interval (every 2,000,000 records per shard) bounds the replay.
    // fin_parent funds every charge; the sweeps that would refill it are not measured.
    let big = "[parents.fin_parent]\nopening = 100_000_000_000_000\nlow_mark = 0\ntarget = 100_000_000_000_000\nhigh_mark = 1_000_000_000_000_000\n";
    let cfg = config(
        &dir,
        0,
        "none",
        &format!("{big}{}", args.restart_toml.replace("\\n", "\n")),
    )?;
    let engine = Engine::start(cfg.clone()).map_err(|e| e.to_string())?;
    let rt = runtime();
    let customers = args.restart_customers;
    eprintln!(
        "  building {} customers, {} postings and {} requests",
        customers, args.restart_postings, args.restart_requests
    );
    rt.block_on(async {
        closed_loop(customers, args.in_flight, |i| {
            engine.open_customer(opened(i + 1))
        })
        .await?;
        let posting = |i: u64| {
            let c = AccountId::customer(CustomerId::new(i * 7919 % customers + 1).unwrap());
            (FIN_PARENT, c, Amount::krw(1).unwrap())
        };
        post_all(
            &engine,
            args.restart_postings,
            args.in_flight,
            args.batch,
            posting,
        )
        .await?;
        let date = crate::flows::today();
        closed_loop(args.restart_requests, args.in_flight, |i| {
            let customer = (i * 7919 % customers + 1).to_string();
            let request = omnibus_core::ChargeRequest::parse(
                omnibus_core::Currency::Krw,
                &customer,
                &date,
                &format!("R-{i}"),
                "1000",
            )
            .expect("a valid charge");
            let engine = &engine;
            async move {
                // An engine whose archive is behind answers "overloaded": a client backs off.
                loop {
                    match engine.charge(request).await {
                        Err(omnibus_actors::EngineError::Overloaded(_)) => {
                            tokio::time::sleep(Duration::from_millis(5)).await
                        }
                        other => return crate::flows::check(other),
                    }
                }
            }
        })
        .await
        .map(|_| ())
    })?;
    let totals = rt.block_on(engine.totals()).map_err(|e| e.to_string())?;
    eprintln!(
        "  built: {} requests archived, {} in memory",
        totals
            .shards
            .iter()
            .map(|s| s.archived_requests)
            .sum::<u64>(),
        totals.shards.iter().map(|s| s.requests).sum::<u64>()
    );
    // A long-running engine's archive keeps up, and keeps `archive.recent_max` settled
    // requests per shard in memory; building at sync `none` outruns it, so let it catch up.
    let recent_max = u64::from(cfg.archive.recent_max);
    let waited = archive_caught_up(&engine, &rt, recent_max)?;
    eprintln!("  the archive caught up in {:.1} s", waited.as_secs_f64());
    // A crash first: the engine halts with up to `wal.snapshot_every_records` per shard
    // since its last snapshot, and the start replays them.
    engine.halt();
    drop(engine);
    let (engine, simulator, after_crash) = start_timed(&cfg)?;
    let crash_detail = format!(
        "{}; the simulators' journal {} ms",
        recovery_detail(&engine),
        simulator.as_millis()
    );
    // The replay brought back the settled requests evicted since the last snapshot
    // (eviction is not a record); the archive takes them again. Then a clean shutdown,
    // which snapshots what the replay applied (`wal.snapshot_at_shutdown_records`), and
    // the start that loads it.
    let waited = archive_caught_up(&engine, &rt, recent_max)?;
    eprintln!(
        "  after the crash, the archive caught up in {:.1} s",
        waited.as_secs_f64()
    );
    engine.shutdown().map_err(|e| e.to_string())?;
    let (engine, simulator, elapsed) = start_timed(&cfg)?;
    let detail = format!(
        "{}; the simulators' journal {} ms",
        recovery_detail(&engine),
        simulator.as_millis()
    );
    engine.shutdown().map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Restarts {
        clean_ms: elapsed.as_secs_f64() * 1000.0,
        clean: detail,
        after_crash_ms: after_crash.as_secs_f64() * 1000.0,
        after_crash: crash_detail,
    })
}

/// Waits until every shard keeps at most `recent_max` settled requests in memory (the
/// rest in its archive), at most 10 minutes; how long it took.
fn archive_caught_up(
    engine: &Engine,
    rt: &tokio::runtime::Runtime,
    recent_max: u64,
) -> Result<Duration, String> {
    let started = Instant::now();
    loop {
        let totals = rt.block_on(engine.totals()).map_err(|e| e.to_string())?;
        let behind: u64 = totals
            .shards
            .iter()
            .map(|s| s.settled_in_memory.saturating_sub(recent_max))
            .sum();
        if behind == 0 {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(format!(
                "the archive did not catch up in 10 minutes: {behind} behind"
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `Engine::start` in its two parts: the simulated outside systems opening their journal
/// (not the engine's: a real deployment has real rails), then the engine's own start,
/// which the restart figures time.
fn start_timed(cfg: &Config) -> Result<(Engine, Duration, Duration), String> {
    let started = Instant::now();
    let simulator = omnibus_actors::rails::sim::Simulator::open(cfg).map_err(|e| e.to_string())?;
    let opened = started.elapsed();
    let parts = omnibus_actors::EngineParts::new(
        simulator.rails(),
        std::sync::Arc::new(omnibus_actors::SystemClock),
    );
    let started = Instant::now();
    let engine = Engine::start_with(cfg.clone(), parts).map_err(|e| e.to_string())?;
    Ok((engine, opened, started.elapsed()))
}

/// The two restarts of the restart figure, and where each one's time went.
struct Restarts {
    clean_ms: f64,
    clean: String,
    after_crash_ms: f64,
    after_crash: String,
}

fn recovery_detail(engine: &Engine) -> String {
    engine
        .recovery_reports()
        .iter()
        .map(|r| {
            format!(
                "shard {}: snapshot at {:?}, {} records replayed, {} archived requests, {} ms (open {} ms, snapshot {} ms, replay {} ms, archive {} ms)",
                r.shard,
                r.snapshot_lsn,
                r.records_replayed,
                r.archived_requests,
                r.elapsed_ms,
                r.open_ms,
                r.snapshot_ms,
                r.replay_ms,
                r.archive_ms
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The longest single insert while `map` grows to `n` requests: a value the size of
/// the books' `RequestState` under a `(CustomerId, RequestNo)` key.
fn grow_pause<M>(
    mut map: M,
    n: u64,
    insert: impl Fn(
        &mut M,
        (CustomerId, omnibus_core::RequestNo),
        [u8; std::mem::size_of::<omnibus_core::ledger::RequestState>()],
    ),
) -> Duration {
    let mut longest = Duration::ZERO;
    for i in 0..n {
        let key = (
            CustomerId::new(i % 100_000 + 1).expect("non-zero"),
            omnibus_core::RequestNo::new(&format!("R-{i}")).expect("a request number"),
        );
        let value = [i as u8; std::mem::size_of::<omnibus_core::ledger::RequestState>()];
        let started = Instant::now();
        insert(&mut map, key, value);
        longest = longest.max(started.elapsed());
    }
    std::hint::black_box(&map);
    longest
}

/// Books of one shard with `n` answered requests over 10,000 customers: how long copying
/// them out takes, how long the cut takes, and the longest record applied while the cut
/// is alive.
fn snapshot_cut(n: u64) -> Result<(Duration, Duration, Duration), String> {
    use omnibus_core::ledger::{ParentPlan, ShardBooks};
    use omnibus_core::record::LedgerRecord;
    use omnibus_core::request_log::{Step, Told};
    use omnibus_core::saga::{Accepted, Answer, RequestKind};
    let config = Config::embedded();
    let plan = ParentPlan::from_config(&config, 1);
    let mut books = ShardBooks::new(0, plan.clone());
    let mut lsn = 0;
    let mut apply = |books: &mut ShardBooks, record: LedgerRecord| {
        lsn += 1;
        books
            .apply(lsn, &record)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    apply(&mut books, plan.genesis(0))?;
    let customers = 10_000u64;
    for c in 1..=customers {
        apply(&mut books, LedgerRecord::CustomerOpened(opened(c)))?;
    }
    let date = omnibus_core::RequestDate::from_ymd(2026, 11, 21).expect("a date");
    let mut longest = Duration::ZERO;
    let mut cut = None;
    let mut cut_took = Duration::ZERO;
    // The first n requests before the cut; as many again after it, each record timed.
    for i in 0..2 * n {
        if i == n {
            let started = Instant::now();
            cut = Some(books.cut());
            cut_took = started.elapsed();
        }
        let timed = Instant::now();
        let customer = CustomerId::new(i % customers + 1).expect("non-zero");
        let request_no = omnibus_core::RequestNo::new(&format!("R-{i}")).expect("a number");
        apply(
            &mut books,
            LedgerRecord::RequestAccepted {
                accepted: Accepted {
                    customer,
                    request_no,
                    request_date: date,
                    kind: RequestKind::Charge,
                    amount: Amount::krw(30_000).expect("an amount"),
                    payee: None,
                    path: None,
                    deficit: None,
                    at_ms: 1,
                },
                reserves: None,
                named: omnibus_core::saga::Named::default(),
            },
        )?;
        apply(
            &mut books,
            LedgerRecord::Answered {
                customer,
                request_no,
                answer: Answer {
                    told: Told::Failed,
                    decided_by: Step::ChargeWithdrawal,
                    timed_out: false,
                    at_ms: 2,
                    reason: omnibus_core::saga::Reason::RailRefused,
                },
            },
        )?;
        if cut.is_some() {
            longest = longest.max(timed.elapsed());
        }
    }
    let cut = cut.expect("taken half way");
    let started = Instant::now();
    let snapshot = cut.into_snapshot();
    let copy = started.elapsed();
    std::hint::black_box(&snapshot);
    Ok((copy, cut_took, longest))
}

pub fn run(args: Args) -> Result<(), String> {
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let root = tempfile::Builder::new()
        .prefix("omnibus-bench-ledger-")
        .tempdir_in(&base)
        .map_err(|e| e.to_string())?;
    let only: Vec<&str> = args.only.split(',').map(str::trim).collect();
    if only.contains(&"throughput") {
        eprintln!(
            "ledger: {} postings, {} in flight, sync always, all shards",
            args.postings, args.in_flight
        );
        let all = throughput(root.path(), 0, "always", &args)?;
        println!("ledger_postings_per_sec={all:.0} postings/s");
        eprintln!("ledger: sync none");
        let nosync = throughput(root.path(), 0, "none", &args)?;
        println!("ledger_postings_per_sec_nosync={nosync:.0} postings/s");
        eprintln!("ledger: one shard, sync always");
        let one = throughput(root.path(), 1, "always", &args)?;
        println!("ledger_postings_per_sec_1shard={one:.0} postings/s");
        println!("ledger_all_shards_vs_1shard_ratio={:.2} ratio", all / one);
    }
    if only.contains(&"memory") {
        eprintln!(
            "ledger: opening {} customers for the memory figure",
            args.passive_customers
        );
        let per = memory(root.path(), &args)?;
        println!("bytes_per_passive_customer={per:.0} B");
    }
    if only.contains(&"pauses") {
        eprintln!(
            "ledger: growing request maps to {} requests",
            args.pause_requests
        );
        let hashmap = grow_pause(
            std::collections::HashMap::<_, _, omnibus_core::hash::IdBuild>::default(),
            args.pause_requests,
            |m, k, v| {
                m.insert(k, v);
            },
        );
        let segmented = grow_pause(
            omnibus_core::segmap::SegmentedMap::new(),
            args.pause_requests,
            |m, k, v| {
                m.insert(k, v);
            },
        );
        println!("books_grow_pause_max_us_hashmap={} us", hashmap.as_micros());
        println!(
            "books_grow_pause_max_us_segmented={} us",
            segmented.as_micros()
        );
        println!(
            "books_grow_pause_ratio={:.1} ratio",
            hashmap.as_secs_f64() / segmented.as_secs_f64().max(1e-9)
        );
        let (copy, cut, pause) = snapshot_cut(args.pause_requests)?;
        println!("books_snapshot_copy_ms={:.1} ms", copy.as_secs_f64() * 1e3);
        println!("books_snapshot_cut_ms={:.3} ms", cut.as_secs_f64() * 1e3);
        println!(
            "books_write_pause_max_us_during_cut={} us",
            pause.as_micros()
        );
    }
    if only.contains(&"restart") {
        let r = restart(root.path(), &args)?;
        eprintln!("  after a crash: {}", r.after_crash);
        eprintln!("  after a clean shutdown: {}", r.clean);
        println!("restart_ms={:.0} ms", r.clean_ms);
        println!("restart_after_crash_ms={:.0} ms", r.after_crash_ms);
    }
    Ok(())
}
