//! `omnibus-bench soak`: the engine under a steady open-loop load for a long while, with
//! snapshots at config.toml's cadence and settled requests archived as config.toml says,
//! to show that memory does not grow with history and that the saga tail holds.
//!
//! 1. Calibration: a closed-loop run (as `flows`, one saga per call by default) measures
//!    `sagas_per_sec`.
//! 2. The soak: open loop at half of it (or `--rate`) for `--minutes`, the flows' mix of
//!    charges and remittances, sync `always`. Every `--sample-secs` the process's resident
//!    set (`/proc/self/statm`) is sampled beside the number of requests answered so far.
//!
//! Figures:
//! - `rss_bytes_per_retained_request`: the least-squares slope of resident bytes over
//!   requests answered, from the end of the first fifth of the soak (when the recent
//!   cache of `archive.recent_max` requests is full and the tables have grown) to its
//!   end. Every request stays retained (answerable) for `idempotency_retention_days`, so
//!   this is what one more day of history costs in memory, per request. The simulated
//!   rails run in this process and keep a registry entry per call for their whole life,
//!   as a real bank's records do; their estimated heap (`Simulator::heap_bytes_estimate`)
//!   is taken out of each sample. `rss_bytes_per_retained_request_with_simulator` is the
//!   slope without taking it out.
//! - `saga_p99_us`, `saga_p999_us`, `saga_max_us`: latency over the whole soak, snapshots
//!   included, from each request's scheduled send time (coordinated omission corrected).
//! - `snapshot_pause_max_us`: the longest any shard's thread spent cutting a snapshot.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use omnibus_actors::rails::sim::Simulator;

use crate::flows::{config, open_loop, start_with_simulator, throughput, EngineArgs, Workload};
use crate::process::status_bytes;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Minutes of the open-loop soak.
    #[arg(long, default_value_t = 30.0)]
    minutes: f64,
    /// Offered rate of the soak (default: half the calibrated `sagas_per_sec`).
    #[arg(long)]
    rate: Option<f64>,
    /// Requests of the closed-loop calibration run (skipped when `--rate` is given).
    #[arg(long, default_value_t = 200_000)]
    calibrate_requests: u64,
    /// Requests per `submit_batch` call in the calibration run. The soak submits one saga
    /// per call, so by default it is calibrated the same way: half of what batches of 64
    /// reach (`flows`' `sagas_per_sec`) is more than single calls sustain on 2 cores, and an
    /// open loop above capacity only measures its own queue.
    #[arg(long, default_value_t = 1)]
    calibrate_batch: usize,
    /// Customers the requests spread over.
    #[arg(long, default_value_t = 10_000)]
    customers: u64,
    /// Seconds between two samples of the resident set.
    #[arg(long, default_value_t = 1)]
    sample_secs: u64,
    /// The WAL sync policy (`always` is the figure that counts).
    #[arg(long, default_value = "always")]
    sync: String,
    /// Shards of the engine (default: config.toml's, one per core).
    #[arg(long)]
    shards: Option<u16>,
    #[arg(long)]
    dir: Option<PathBuf>,
    /// No snapshots (to see what they cost).
    #[arg(long)]
    no_snapshots: bool,
    /// More configuration (TOML tables other than the ones the benchmark sets: `[wal]`,
    /// `[actors]`, `[engine]`, `[parents.*]`) over config.toml's, for experiments, e.g.
    /// `--toml '[archive]\nrecent_max = 10_000_000'`.
    #[arg(long, default_value = "")]
    toml: String,
}

/// One sample: requests answered so far, resident bytes, the simulator's estimated heap.
#[derive(Clone, Copy, Debug)]
struct Sample {
    answered: u64,
    rss: u64,
    /// Of `rss`, the pages of mapped files (archive runs, WAL segments).
    file: u64,
    simulator: u64,
}

impl Sample {
    fn take(answered: u64, simulator: &Simulator) -> Result<Sample, String> {
        let (anon, file) = rss_bytes()?;
        Ok(Sample {
            answered,
            rss: anon + file,
            file,
            simulator: simulator.heap_bytes_estimate(),
        })
    }
}

/// The process's resident set in bytes: anonymous memory and mapped files
/// (`RssAnon`, `RssFile` and `RssShmem` of `/proc/self/status`).
fn rss_bytes() -> Result<(u64, u64), String> {
    Ok((
        status_bytes("RssAnon:")?,
        status_bytes("RssFile:")? + status_bytes("RssShmem:")?,
    ))
}

/// The C allocator's bytes in use and bytes it holds free (glibc's `mallinfo2`): a
/// resident set well above what is in use is the allocator's, not the engine's.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn allocator_bytes() -> (u64, u64) {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let info = unsafe { libc::mallinfo2() };
    ((info.uordblks + info.hblkhd) as u64, info.fordblks as u64)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn allocator_bytes() -> (u64, u64) {
    (0, 0)
}

/// The least-squares slope of `y` over `x`.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, y) in points {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
    }
    (sxx > 0.0).then(|| sxy / sxx)
}

pub fn run(args: Args) -> Result<(), String> {
    if args.minutes.is_nan() || args.minutes <= 0.0 {
        return Err(format!("--minutes must be positive, not {}", args.minutes));
    }
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let root = tempfile::Builder::new()
        .prefix("omnibus-bench-soak-")
        .tempdir_in(&base)
        .map_err(|e| e.to_string())?;
    let engine_args = EngineArgs {
        sync: args.sync.clone(),
        wal_segment_bytes: None,
        shards: args.shards,
        snapshots: !args.no_snapshots,
    };
    let config = config(root.path(), &engine_args, &args.toml.replace("\\n", "\n"))?;
    eprintln!(
        "soak: snapshots every {} records, archive.recent_max {}, retention {} days",
        config.wal.snapshot_every_records,
        config.archive.recent_max,
        config.actors.idempotency_retention_days
    );
    let (engine, simulator) = start_with_simulator(config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    eprintln!("soak: opening and funding {} customers", args.customers);
    let mut w = Workload::prepare(engine, args.customers, 2_048, &rt)?;
    let rate = match args.rate {
        Some(rate) => rate,
        None => {
            eprintln!(
                "soak: calibrating: {} sagas, closed loop",
                args.calibrate_requests
            );
            let r = throughput(
                &mut w,
                args.calibrate_requests,
                2_048,
                args.calibrate_batch,
                &rt,
            )?;
            println!("sagas_per_sec={r:.0} sagas/s");
            r / 2.0
        }
    };
    let before = args.customers
        + if args.rate.is_none() {
            args.calibrate_requests
        } else {
            0
        };
    let secs = (args.minutes * 60.0).round().max(1.0) as u64;
    eprintln!(
        "soak: open loop at {rate:.0}/s for {secs} s, sampling every {} s",
        args.sample_secs
    );
    let mut samples = Vec::with_capacity((secs / args.sample_secs.max(1)) as usize + 2);
    samples.push(Sample::take(0, &simulator)?);
    let started = Instant::now();
    let mut last_report = Instant::now();
    let latencies = open_loop(
        &mut w,
        rate,
        secs,
        &rt,
        Duration::from_secs(args.sample_secs.max(1)),
        |answered| {
            let sample = Sample::take(answered, &simulator)?;
            samples.push(sample);
            if last_report.elapsed() >= Duration::from_secs(30) {
                let (in_use, free) = allocator_bytes();
                eprintln!(
                    "  {:>5.0} s: {answered} answered, rss {} MB ({} MB of mapped files), allocated {} MB and {} MB free in the allocator, simulator about {} MB",
                    started.elapsed().as_secs_f64(),
                    sample.rss >> 20,
                    sample.file >> 20,
                    in_use >> 20,
                    free >> 20,
                    sample.simulator >> 20
                );
                last_report = Instant::now();
            }
            Ok(())
        },
    )?;
    samples.push(Sample::take(latencies.sagas, &simulator)?);
    let totals = rt.block_on(w.engine.totals()).map_err(|e| e.to_string())?;
    if !totals.sum.is_zero() {
        return Err(format!("the books do not balance: {totals:?}"));
    }
    let from = latencies.sagas / 5;
    let steady: Vec<&Sample> = samples.iter().filter(|s| s.answered >= from).collect();
    // Bytes per request answered, of one figure of the samples.
    let per_request_of = |y: fn(&Sample) -> f64| {
        let points: Vec<(f64, f64)> = steady.iter().map(|s| (s.answered as f64, y(s))).collect();
        slope(&points).ok_or("too few samples for a slope: run longer")
    };
    let per_request = per_request_of(|s| s.rss as f64 - s.simulator as f64)?;
    let per_request_all = per_request_of(|s| s.rss as f64)?;
    let per_request_files = per_request_of(|s| s.file as f64)?;
    let shards = &totals.shards;
    let snapshots: u64 = shards.iter().map(|s| s.snapshots).sum();
    let pause = shards
        .iter()
        .map(|s| s.snapshot_pause_max_us)
        .max()
        .unwrap_or(0);
    let in_memory: u64 = shards.iter().map(|s| s.requests).sum();
    let archived: u64 = shards.iter().map(|s| s.archived_requests).sum();
    let archive_heap: u64 = shards.iter().map(|s| s.archive_heap_bytes).sum();
    let last = samples.last().copied().expect("a sample was taken");
    eprintln!(
        "  {} sagas measured; {} requests retained ({archived} archived with {} KB of filters and indexes, {in_memory} in memory); {snapshots} snapshots; rss {} MB at the end, {} MB of it the simulator's (about), peak {} MB",
        latencies.sagas,
        before + latencies.sagas,
        archive_heap >> 10,
        last.rss >> 20,
        last.simulator >> 20,
        status_bytes("VmHWM:")? >> 20
    );
    if snapshots == 0 {
        eprintln!(
            "  note: no snapshot was taken; run longer for snapshot_pause_max_us to mean anything"
        );
    }
    println!("saga_offered_per_sec={rate:.0} sagas/s");
    println!("soak_secs={secs} s");
    println!("retained_requests={} requests", before + latencies.sagas);
    println!("rss_bytes_per_retained_request={per_request:.1} B");
    println!("rss_bytes_per_retained_request_with_simulator={per_request_all:.1} B");
    println!("rss_file_bytes_per_retained_request={per_request_files:.1} B");
    latencies.print();
    println!("snapshots={snapshots} snapshots");
    println!("snapshot_pause_max_us={pause} us");
    w.engine.shutdown().map_err(|e| e.to_string())?;
    Ok(())
}
