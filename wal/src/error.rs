//! The one error type of the log. Each variant says what went wrong and what to do.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::Lsn;

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// The writer's queue is full: the caller should shed load or retry later. No LSN
    /// was consumed.
    #[error(
        "write-ahead log overloaded: {queued_records} records queued, {batch_records} more would exceed \
         queue_records_max = {queue_records_max}; retry later or shed load"
    )]
    Overloaded {
        queued_records: u64,
        batch_records: u64,
        queue_records_max: u64,
    },

    /// An earlier write or sync failed, so nothing more is accepted: what reached the disk
    /// is unknown, and a failed sync is never retried. Restart the process; recovery
    /// rebuilds from what is on disk.
    #[error(
        "write-ahead log is poisoned by an earlier failure ({cause}); it accepts nothing more: \
         fix the cause and restart to recover from what is on disk"
    )]
    Poisoned { cause: Arc<WalError> },

    /// The log was shut down.
    #[error("write-ahead log is shut down; open it again to append")]
    Closed,

    /// An operating-system call failed.
    #[error("write-ahead log I/O error: {op} {}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },

    /// The log's files are damaged in a way recovery must not guess about.
    #[error(
        "write-ahead log is corrupt: {} at byte offset {offset}: {what}; the log was not changed: \
         inspect it with `omnibus wal verify` and restore the directory from a replica or backup",
        file.display()
    )]
    Corrupt {
        file: PathBuf,
        offset: u64,
        what: String,
    },

    /// A segment was written in a format version this build does not read. Nothing is
    /// damaged; the log is left as it was.
    #[error(
        "write-ahead log segment {} is in format version {found}, but this build reads version {supported} \
         only and does not convert older logs (no production log was ever written in an older version); \
         the log was not changed: open it with the build that wrote it, or move the directory aside and \
         start an empty log",
        file.display()
    )]
    UnsupportedVersion {
        file: PathBuf,
        found: u32,
        supported: u32,
    },

    /// Another process (or another handle in this one) has the log directory open.
    #[error(
        "write-ahead log {} is locked by another process or handle; stop it first (only one writer may \
         own a log)",
        dir.display()
    )]
    Locked { dir: PathBuf },

    /// A `WalOptions` value is out of range.
    #[error("invalid write-ahead log option `{option}`: {what}")]
    InvalidOptions { option: &'static str, what: String },

    /// The batch can never be accepted as it is: split it.
    #[error("batch refused: {what}; split it into smaller batches")]
    BatchTooLarge { what: String },

    /// The snapshot request is inconsistent with the log.
    #[error("snapshot at LSN {lsn} refused: {what}")]
    InvalidSnapshot { lsn: Lsn, what: String },
}

impl WalError {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: io::Error) -> WalError {
        WalError::Io {
            path: path.into(),
            op,
            source,
        }
    }

    pub(crate) fn corrupt(
        file: impl Into<PathBuf>,
        offset: u64,
        what: impl Into<String>,
    ) -> WalError {
        WalError::Corrupt {
            file: file.into(),
            offset,
            what: what.into(),
        }
    }

    /// True for [`WalError::Poisoned`]: the log will accept nothing more.
    pub fn is_poisoned(&self) -> bool {
        matches!(self, WalError::Poisoned { .. })
    }
}
