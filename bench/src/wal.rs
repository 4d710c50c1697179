//! `omnibus-bench wal`: group-commit throughput of the write-ahead log under
//! `SyncMode::Always`, against the device's bound measured in the same run (the same
//! bytes written sequentially with one fdatasync per MiB), and recovery speed.
//!
//! Figures go to stdout, one `name=value unit` line each; progress goes to stderr.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use omnibus_wal::{Batch, SyncMode, Wal, WalError, WalOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Parent of the temporary directory the log and the raw file are written in
    /// (default: the system temporary directory). It is removed afterwards.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Records to append in all.
    #[arg(long, default_value_t = 4_000_000)]
    records: u64,
    /// Payload bytes per record.
    #[arg(long, default_value_t = 128)]
    payload_bytes: usize,
    /// Threads submitting batches.
    #[arg(long, default_value_t = 4)]
    appenders: u64,
    /// Records per submitted batch.
    #[arg(long, default_value_t = 64)]
    batch_records: usize,
    /// Batches each appender may have submitted and not yet acknowledged.
    #[arg(long, default_value_t = 128)]
    in_flight_batches: usize,
    /// Segment file size.
    #[arg(long, default_value_t = 64 << 20)]
    segment_bytes: u64,
    /// Most bytes per group commit (the writer's batch_bytes_max).
    #[arg(long, default_value_t = 16 << 20)]
    group_bytes_max: usize,
    /// Sync policy of the log: always, none, or an interval in milliseconds.
    #[arg(long, default_value = "always")]
    sync: String,
    /// Bytes between two fdatasync calls of the raw sequential writer.
    #[arg(long, default_value_t = 1 << 20)]
    raw_sync_bytes: u64,
    /// Rounds of one raw pass and one log pass each (alternating which goes first); the
    /// best pass of each kind is reported.
    #[arg(long, default_value_t = 2)]
    rounds: u64,
}

fn sync_mode(text: &str) -> Result<SyncMode, String> {
    match text {
        "always" => Ok(SyncMode::Always),
        "none" => Ok(SyncMode::None),
        millis => millis
            .parse::<u64>()
            .map(|millis| SyncMode::Interval(Duration::from_millis(millis)))
            .map_err(|_| {
                format!("--sync must be always, none or a number of milliseconds, got {text}")
            }),
    }
}

pub fn run(args: Args) -> Result<(), String> {
    if args.records == 0
        || args.appenders == 0
        || args.batch_records == 0
        || args.in_flight_batches == 0
    {
        return Err(
            "--records, --appenders, --batch-records and --in-flight-batches must be at least 1"
                .into(),
        );
    }
    if args.payload_bytes == 0 {
        return Err("--payload-bytes must be at least 1".into());
    }
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let temp = tempfile::Builder::new()
        .prefix("omnibus-bench-wal-")
        .tempdir_in(&parent)
        .map_err(|error| {
            format!(
                "cannot create a temporary directory in {}: {error}",
                parent.display()
            )
        })?;
    let wal_options = |round: u64| -> Result<WalOptions, String> {
        Ok(WalOptions {
            dir: temp.path().join(format!("wal-{round}")),
            sync: sync_mode(&args.sync)?,
            segment_bytes: args.segment_bytes,
            queue_records_max: args.appenders as usize
                * args.in_flight_batches
                * args.batch_records
                + 1,
            batch_records_max: 1 << 20,
            batch_bytes_max: args.group_bytes_max,
            ..WalOptions::new(temp.path())
        })
    };
    eprintln!(
        "wal bench: {} records of {} bytes, {} appenders x {} batches in flight x {} records = {} records in flight, \
         sync {}, segments of {} bytes, {} rounds, in {}",
        args.records,
        args.payload_bytes,
        args.appenders,
        args.in_flight_batches,
        args.batch_records,
        args.appenders as usize * args.in_flight_batches * args.batch_records,
        args.sync,
        args.segment_bytes,
        args.rounds,
        temp.path().display()
    );

    // The device is shared and noisy, and a pass that runs right after another one often
    // finds it slower. So the raw pass and the log's pass alternate which goes first,
    // round by round, and the best pass of each is compared.
    let raw_bytes =
        args.records * omnibus_wal::layout_constants::frame_bytes(args.payload_bytes) as u64;
    let mut best_raw: Option<Duration> = None;
    let mut best_wal: Option<Appended> = None;
    let mut last_options = None;
    for round in 0..args.rounds {
        for raw_turn in [round % 2 == 0, round % 2 == 1] {
            if raw_turn {
                let elapsed = raw_phase(
                    &temp.path().join(format!("raw-{round}.dat")),
                    raw_bytes,
                    args.raw_sync_bytes,
                )?;
                eprintln!(
                    "round {round}: raw {raw_bytes} bytes in {:.3} s",
                    elapsed.as_secs_f64()
                );
                best_raw = Some(best_raw.map_or(elapsed, |best| best.min(elapsed)));
            } else {
                let options = wal_options(round)?;
                let appended = append_phase(&args, &options)?;
                eprintln!(
                    "round {round}: wal {} records, {} bytes, {} syncs in {:.3} s ({:.1} records per group on average; \
                     {} segments rolled over to, {} of them prepared ahead)",
                    appended.records,
                    appended.bytes,
                    appended.syncs,
                    appended.elapsed.as_secs_f64(),
                    appended.records as f64 / appended.groups.max(1) as f64,
                    appended.segments_created,
                    appended.spares_used
                );
                if appended.bytes != raw_bytes {
                    return Err(format!(
                        "the log wrote {} frame bytes, expected {raw_bytes}",
                        appended.bytes
                    ));
                }
                if best_wal
                    .as_ref()
                    .is_none_or(|best| appended.elapsed < best.elapsed)
                {
                    best_wal = Some(appended);
                }
                last_options = Some(options);
            }
        }
    }
    let (Some(raw_elapsed), Some(appended), Some(options)) = (best_raw, best_wal, last_options)
    else {
        return Err("--rounds must be at least 1".into());
    };
    let (replayed, recovery_elapsed) = recovery_phase(&options, args.payload_bytes)?;
    if replayed != appended.records {
        return Err(format!(
            "recovery replayed {replayed} records but {} were appended",
            appended.records
        ));
    }
    eprintln!(
        "recovery: {replayed} records in {:.3} s",
        recovery_elapsed.as_secs_f64()
    );

    let per_sec = |count: u64, elapsed: Duration| count as f64 / elapsed.as_secs_f64();
    let wal_bytes_per_sec = per_sec(appended.bytes, appended.elapsed);
    let raw_bytes_per_sec = per_sec(appended.bytes, raw_elapsed);
    println!(
        "wal_records_per_sec={:.0} records/s",
        per_sec(appended.records, appended.elapsed)
    );
    println!(
        "wal_syncs_per_sec={:.0} syncs/s",
        per_sec(appended.syncs, appended.elapsed)
    );
    println!("raw_bytes_per_sec={raw_bytes_per_sec:.0} B/s");
    println!("wal_bytes_per_sec={wal_bytes_per_sec:.0} B/s");
    println!(
        "wal_vs_raw_ratio={:.3} ratio",
        wal_bytes_per_sec / raw_bytes_per_sec
    );
    println!(
        "recovery_records_per_sec={:.0} records/s",
        per_sec(replayed, recovery_elapsed)
    );
    Ok(())
}

struct Appended {
    records: u64,
    bytes: u64,
    syncs: u64,
    groups: u64,
    segments_created: u64,
    spares_used: u64,
    elapsed: Duration,
}

/// A bound on batches in flight: taken before a submit, given back by its completion.
struct Window {
    in_flight: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

impl Window {
    fn acquire(&self) {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while *in_flight >= self.max {
            in_flight = self
                .freed
                .wait(in_flight)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *in_flight += 1;
    }

    fn release(&self) {
        *self
            .in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) -= 1;
        self.freed.notify_one();
    }

    fn drain(&self) {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while *in_flight > 0 {
            in_flight = self
                .freed
                .wait(in_flight)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

fn append_phase(args: &Args, options: &WalOptions) -> Result<Appended, String> {
    let wal = Wal::open(options.clone())
        .and_then(|recovery| recovery.into_wal())
        .map_err(|error| error.to_string())?;
    let failure: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let started = Instant::now();
    let appenders: Vec<_> = (0..args.appenders)
        .map(|actor| {
            let share =
                args.records / args.appenders + u64::from(actor < args.records % args.appenders);
            let wal = wal.clone();
            let failure = failure.clone();
            let payload_bytes = args.payload_bytes;
            let batch_records = args.batch_records as u64;
            let window = Arc::new(Window {
                in_flight: Mutex::new(0),
                freed: Condvar::new(),
                max: args.in_flight_batches,
            });
            thread::spawn(move || {
                let payload: Vec<u8> = (0..payload_bytes)
                    .map(|i| (i as u64 ^ actor) as u8)
                    .collect();
                let mut seq = 0u64;
                while seq < share {
                    let count = batch_records.min(share - seq);
                    window.acquire();
                    loop {
                        let mut batch = Batch::with_capacity(
                            count as usize
                                * omnibus_wal::layout_constants::frame_bytes(payload_bytes),
                        );
                        for offset in 0..count {
                            batch.push(actor, seq + offset, &payload);
                        }
                        let done_window = window.clone();
                        let done_failure = failure.clone();
                        let done =
                            Box::new(move |result: Result<std::ops::Range<u64>, WalError>| {
                                if let Err(error) = result {
                                    *done_failure
                                        .lock()
                                        .unwrap_or_else(|poisoned| poisoned.into_inner()) =
                                        Some(error.to_string());
                                }
                                done_window.release();
                            });
                        match wal.submit(batch, done) {
                            Ok(_) => break,
                            Err(WalError::Overloaded { .. }) => {
                                thread::sleep(Duration::from_micros(50))
                            }
                            Err(error) => {
                                window.release();
                                return Err(error.to_string());
                            }
                        }
                    }
                    seq += count;
                }
                window.drain();
                Ok(())
            })
        })
        .collect();
    for appender in appenders {
        appender
            .join()
            .map_err(|_| "an appender thread panicked".to_string())??;
    }
    let elapsed = started.elapsed();
    if let Some(error) = failure
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take()
    {
        return Err(format!("an append failed: {error}"));
    }
    let stats = wal.stats();
    wal.shutdown().map_err(|error| error.to_string())?;
    Ok(Appended {
        records: stats.records_written,
        bytes: stats.bytes_written,
        syncs: stats.syncs,
        groups: stats.groups_written,
        segments_created: stats.segments_created,
        spares_used: stats.spares_used,
        elapsed,
    })
}

/// The device's bound: `bytes` appended sequentially to a new file, one write and one
/// fdatasync per `sync_bytes`.
fn raw_phase(path: &std::path::Path, bytes: u64, sync_bytes: u64) -> Result<Duration, String> {
    let write_bytes = sync_bytes.clamp(4096, 1 << 30) as usize;
    let chunk: Vec<u8> = (0..write_bytes).map(|i| i as u8).collect();
    let mut file = File::create(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let started = Instant::now();
    let mut written = 0u64;
    let mut unsynced = 0u64;
    while written < bytes {
        let size = (bytes - written).min(write_bytes as u64) as usize;
        file.write_all(&chunk[..size])
            .map_err(|error| format!("{}: {error}", path.display()))?;
        written += size as u64;
        unsynced += size as u64;
        if unsynced >= sync_bytes || written == bytes {
            file.sync_data()
                .map_err(|error| format!("{}: {error}", path.display()))?;
            unsynced = 0;
        }
    }
    // The file stays until the whole run ends: deleting it now would make the file
    // system discard its blocks while the next phase is being measured.
    Ok(started.elapsed())
}

/// Opens the log and reads every record's payload, as a restart replays it.
fn recovery_phase(options: &WalOptions, payload_bytes: usize) -> Result<(u64, Duration), String> {
    let started = Instant::now();
    let recovery = Wal::open(options.clone()).map_err(|error| error.to_string())?;
    let opened = started.elapsed();
    let mut records = 0u64;
    let mut checksum = 0u64;
    for record in recovery.records() {
        let record = record.map_err(|error| error.to_string())?;
        // Every payload byte is read; a plain sum keeps the reading, not the checksum,
        // the cost measured.
        let sum = record
            .payload
            .iter()
            .fold(0u64, |sum, byte| sum.wrapping_add(u64::from(*byte)));
        checksum = checksum.wrapping_add(sum);
        if record.payload.len() != payload_bytes {
            return Err(format!(
                "record {} has {} payload bytes",
                record.lsn,
                record.payload.len()
            ));
        }
        records += 1;
    }
    let elapsed = started.elapsed();
    eprintln!(
        "recovery: open (validating every frame) {:.3} s, replay {:.3} s, payload byte sum {checksum}",
        opened.as_secs_f64(),
        (elapsed - opened).as_secs_f64()
    );
    Ok((records, elapsed))
}
