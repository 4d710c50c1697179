//! Opening a data directory and rebuilding each shard's books from its snapshot and log.
//!
//! Layout: `<wal.dir>/omnibus.layout` records the shard count the data was written with
//! (customers are placed by `shard_of(customer, shards)`, so the count cannot change
//! under existing data), and `<wal.dir>/shard-NNN/` holds each shard's log and snapshots.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use omnibus_core::ledger::{Lsn, ParentPlan, ShardBooks};
use omnibus_core::record::ActorId;
use omnibus_core::{Config, SyncPolicy};
use omnibus_wal::{Batch, SyncMode, Wal, WalOptions};

use super::codec::{self, Encoder};
use crate::error::StartError;

const LAYOUT_FILE: &str = "omnibus.layout";

/// The data directory and its shard count.
pub struct DataDir {
    pub root: PathBuf,
    pub shards: u16,
}

impl DataDir {
    /// Opens (creating if needed) the data directory. A configured shard count of 0 means
    /// "the number of cores" for new data and "whatever the data has" for existing data;
    /// an explicit count that differs from the data's is refused.
    pub fn open(config: &Config) -> Result<DataDir, StartError> {
        let root = PathBuf::from(&config.wal.dir);
        let err = |what: String| StartError::DataDir {
            dir: root.display().to_string(),
            what,
        };
        std::fs::create_dir_all(&root).map_err(|e| err(format!("cannot create: {e}")))?;
        let layout = root.join(LAYOUT_FILE);
        let wanted = config.engine.shards as u16;
        let shards = match std::fs::read_to_string(&layout) {
            Ok(text) => {
                let recorded: u16 = text
                    .trim()
                    .strip_prefix("shards = ")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| err(format!("{LAYOUT_FILE} is not `shards = N`: {text:?}")))?;
                if wanted != 0 && wanted != recorded {
                    return Err(err(format!(
                        "the data was written with {recorded} shards but engine.shards = {wanted}; \
                         customers are placed by shard count, so it cannot change under existing data"
                    )));
                }
                recorded
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let shards = if wanted == 0 {
                    std::thread::available_parallelism()
                        .map_or(1, |n| n.get())
                        .min(256) as u16
                } else {
                    wanted
                };
                let tmp = root.join(format!("{LAYOUT_FILE}.tmp"));
                let mut file = std::fs::File::create(&tmp)
                    .map_err(|e| err(format!("cannot write {LAYOUT_FILE}: {e}")))?;
                writeln!(file, "shards = {shards}")
                    .and_then(|()| file.sync_all())
                    .map_err(|e| err(e.to_string()))?;
                std::fs::rename(&tmp, &layout).map_err(|e| err(e.to_string()))?;
                std::fs::File::open(&root)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| err(e.to_string()))?;
                shards
            }
            Err(e) => return Err(err(format!("cannot read {LAYOUT_FILE}: {e}"))),
        };
        Ok(DataDir { root, shards })
    }

    pub fn shard_dir(&self, shard: u16) -> PathBuf {
        shard_dir(&self.root, shard)
    }

    /// Where a shard's archive of settled requests lives: beside its log, not in it.
    pub fn archive_dir(&self, shard: u16) -> PathBuf {
        self.root.join(format!("archive-{shard:03}"))
    }
}

pub fn shard_dir(root: &Path, shard: u16) -> PathBuf {
    root.join(format!("shard-{shard:03}"))
}

/// Units of a log's queue kept for its snapshot and sync requests, above the records.
pub const QUEUE_ROOM_FOR_REQUESTS: usize = omnibus_wal::SNAPSHOTS_PENDING_MAX + 8;

pub fn wal_options(config: &Config, dir: PathBuf) -> WalOptions {
    let w = &config.wal;
    WalOptions {
        dir,
        sync: match w.sync {
            SyncPolicy::Always => SyncMode::Always,
            SyncPolicy::Interval => {
                SyncMode::Interval(std::time::Duration::from_millis(w.sync_interval_ms))
            }
            SyncPolicy::None => SyncMode::None,
        },
        segment_bytes: w.segment_bytes,
        // The shard never lets more than `wal.queue_records_max` records be applied and not
        // yet durable (`ShardLedger`); the log's own queue also counts its snapshot and sync
        // requests, one unit each, so it gets room for those on top.
        queue_records_max: w.queue_records_max as usize + QUEUE_ROOM_FOR_REQUESTS,
        batch_records_max: w.batch_records_max as usize,
        batch_bytes_max: w.batch_bytes_max as usize,
        background_write_bytes_per_sec: w.background_write_bytes_per_sec,
    }
}

/// Makes the storage of a shard's log (given the shard and its directory), in place of
/// files in that directory: for tests of the engine on a storage with faults or delays.
pub type StorageFactory = std::sync::Arc<
    dyn Fn(u16, &Path) -> std::sync::Arc<dyn omnibus_wal::storage::Storage> + Send + Sync,
>;

/// What recovering one shard found.
#[derive(Clone, Debug, Default)]
pub struct RecoveryReport {
    pub shard: u16,
    pub snapshot_lsn: Option<Lsn>,
    pub records_replayed: u64,
    pub customers: u64,
    /// Settled requests the shard's archive holds (a request in two runs counts twice).
    pub archived_requests: u64,
    pub elapsed_ms: u64,
    /// Where the time went: opening the log (its segments mapped and checked), loading the
    /// snapshot, replaying the records after it, opening the archive (its keys read into
    /// the key filter).
    pub open_ms: u64,
    pub snapshot_ms: u64,
    pub replay_ms: u64,
    pub archive_ms: u64,
}

/// A recovered shard, ready to serve.
pub struct RecoveredShard {
    pub books: ShardBooks,
    /// The shard's archive of settled requests (`<wal.dir>/archive-NNN`).
    pub archive: super::archive::ShardArchive,
    pub wal: Wal,
    pub next_lsn: Lsn,
    pub actor_seqs: Vec<(ActorId, u64)>,
    pub report: RecoveryReport,
}

/// Rebuilds one shard: the newest snapshot, then every record after it, in LSN order.
/// A fresh shard gets its genesis record (its parent slices funded) before it serves.
pub fn recover_shard(
    config: &Config,
    data: &DataDir,
    shard: u16,
    plan: ParentPlan,
    storage: Option<&StorageFactory>,
) -> Result<RecoveredShard, StartError> {
    let started = Instant::now();
    let wal_err = |what: String| StartError::Wal { shard, what };
    let options = wal_options(config, data.shard_dir(shard));
    let recovery = match storage {
        None => Wal::open(options),
        Some(make) => {
            let storage = make(shard, &options.dir);
            omnibus_wal::Wal::open_with_storage(options, storage)
        }
    }
    .map_err(|e| wal_err(e.to_string()))?;
    let mut report = RecoveryReport {
        shard,
        open_ms: started.elapsed().as_millis() as u64,
        ..RecoveryReport::default()
    };
    let phase = Instant::now();
    let mut books = match recovery.snapshot() {
        Some(snapshot) => {
            report.snapshot_lsn = Some(snapshot.lsn);
            let decoded = codec::decode_snapshot(&snapshot.bytes)
                .map_err(|e| wal_err(format!("snapshot at LSN {}: {e}", snapshot.lsn)))?;
            let books =
                ShardBooks::from_snapshot(plan, decoded).map_err(|e| wal_err(e.to_string()))?;
            if books.last_lsn() + 1 != snapshot.lsn && books.last_lsn() != 0 {
                return Err(wal_err(format!(
                    "snapshot file at LSN {} holds books at LSN {}",
                    snapshot.lsn,
                    books.last_lsn()
                )));
            }
            books
        }
        None => ShardBooks::new(shard, plan),
    };
    report.snapshot_ms = phase.elapsed().as_millis() as u64;
    let phase = Instant::now();
    let mut actor_seqs = std::collections::HashMap::new();
    for frame in recovery.records() {
        let frame = frame.map_err(|e| wal_err(e.to_string()))?;
        let record = codec::decode(frame.payload).map_err(|what| StartError::Replay {
            shard,
            lsn: frame.lsn,
            what: format!("undecodable record: {what}"),
        })?;
        books
            .apply(frame.lsn, &record)
            .map_err(|e| StartError::Replay {
                shard,
                lsn: frame.lsn,
                what: e.to_string(),
            })?;
        if let Some(actor) = ActorId::decode(frame.actor) {
            match actor {
                ActorId::Customer(c) => books.set_customer_log_seq(c, frame.actor_seq as u32),
                other => {
                    actor_seqs.insert(other, frame.actor_seq);
                }
            }
        }
        report.records_replayed += 1;
    }
    report.replay_ms = phase.elapsed().as_millis() as u64;
    let mut next_lsn = recovery.next_lsn();
    let wal = recovery.into_wal().map_err(|e| wal_err(e.to_string()))?;
    if !books.genesis_done() {
        let genesis = books.plan().genesis(shard);
        let mut batch = Batch::new();
        batch.push(
            ActorId::Shard.encode(),
            1,
            Encoder::default().encode(&genesis),
        );
        let range = wal
            .append_blocking(batch)
            .map_err(|e| wal_err(e.to_string()))?;
        assert_eq!(range.start, next_lsn, "genesis takes the next LSN");
        books
            .apply(next_lsn, &genesis)
            .map_err(|e| StartError::Replay {
                shard,
                lsn: next_lsn,
                what: e.to_string(),
            })?;
        actor_seqs.insert(ActorId::Shard, 1);
        next_lsn += 1;
    }
    let phase = Instant::now();
    let (archive, opened) = super::archive::ShardArchive::open(
        &data.archive_dir(shard),
        config.wal.background_write_bytes_per_sec,
    )
    .map_err(|e| wal_err(format!("archive: {e}")))?;
    report.archive_ms = phase.elapsed().as_millis() as u64;
    report.archived_requests = opened.records;
    report.customers = books.customer_count() as u64;
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(RecoveredShard {
        books,
        archive,
        wal,
        next_lsn,
        actor_seqs: actor_seqs.into_iter().collect(),
        report,
    })
}
