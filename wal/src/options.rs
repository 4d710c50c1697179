//! What a log is opened with: its directory, sync policy and limits.

use std::path::PathBuf;
use std::time::Duration;

use crate::format::{FRAME_ALIGN_BYTES, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN};
use crate::WalError;

/// When an append is acknowledged (its `done` callback runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// After the group the batch was written in is on disk (fdatasync).
    Always,
    /// After the batch is written; the writer syncs at this interval, so a power loss may
    /// lose up to one interval of acknowledged records.
    Interval(Duration),
    /// After the batch is written; the writer syncs only when it seals a segment, on
    /// [`crate::Wal::sync`], before a snapshot and at shutdown. For load tests.
    None,
}

/// The largest sync interval accepted, matching config.toml's bound.
pub const SYNC_INTERVAL_MAX: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct WalOptions {
    /// The log's directory; created if absent.
    pub dir: PathBuf,
    pub sync: SyncMode,
    /// Size of each segment file, header included. Segments are zero-filled ahead of time
    /// (the spare, one more file of this size) or preallocated when none is ready.
    pub segment_bytes: u64,
    /// Records (and snapshot requests) that may be queued for or inside the writer at
    /// once; beyond it `submit` answers [`WalError::Overloaded`].
    pub queue_records_max: usize,
    /// Most records the writer groups into one write and one sync.
    pub batch_records_max: usize,
    /// Most bytes (frames on disk) the writer groups into one write and one sync.
    pub batch_bytes_max: usize,
    /// Rate of the background writes, the spare segment's zeros and snapshots (at the
    /// idle I/O priority, in 256 KiB pieces): low enough not to delay the writer's syncs,
    /// high enough for a spare to be ready before the segment in use fills. A roll-over
    /// that finds the spare unfinished preallocates its segment instead.
    pub background_write_bytes_per_sec: u64,
}

impl WalOptions {
    /// Options with the defaults of the repository's config.toml.
    pub fn new(dir: impl Into<PathBuf>) -> WalOptions {
        WalOptions {
            dir: dir.into(),
            sync: SyncMode::Always,
            segment_bytes: 64 << 20,
            queue_records_max: 262_144,
            batch_records_max: 65_536,
            batch_bytes_max: 16 << 20,
            background_write_bytes_per_sec: 64 << 20,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), WalError> {
        fn invalid(option: &'static str, what: String) -> Result<(), WalError> {
            Err(WalError::InvalidOptions { option, what })
        }
        if self.dir.as_os_str().is_empty() {
            return invalid("dir", "must not be empty".into());
        }
        if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&self.segment_bytes) {
            return invalid(
                "segment_bytes",
                format!(
                    "must be between {SEGMENT_BYTES_MIN} and {SEGMENT_BYTES_MAX}, got {}",
                    self.segment_bytes
                ),
            );
        }
        if self.segment_bytes % FRAME_ALIGN_BYTES as u64 != 0 {
            return invalid(
                "segment_bytes",
                format!(
                    "must be a multiple of {FRAME_ALIGN_BYTES}, got {}",
                    self.segment_bytes
                ),
            );
        }
        if self.background_write_bytes_per_sec < 1 << 20 {
            return invalid(
                "background_write_bytes_per_sec",
                format!(
                    "must be at least 1 MiB/s, got {}",
                    self.background_write_bytes_per_sec
                ),
            );
        }
        if self.queue_records_max == 0 {
            return invalid("queue_records_max", "must be at least 1".into());
        }
        if self.batch_records_max == 0 {
            return invalid("batch_records_max", "must be at least 1".into());
        }
        if self.batch_bytes_max < 64 {
            return invalid(
                "batch_bytes_max",
                format!("must be at least 64, got {}", self.batch_bytes_max),
            );
        }
        if let SyncMode::Interval(interval) = self.sync {
            if interval.is_zero() || interval > SYNC_INTERVAL_MAX {
                return invalid(
                    "sync",
                    format!("the interval must be between 1 ms and {SYNC_INTERVAL_MAX:?}, got {interval:?}"),
                );
            }
        }
        Ok(())
    }
}
