//! omnibus-wal: the segmented write-ahead log every shard's balances rest on.
//!
//! One log is one directory of fixed-size, preallocated segment files named by their
//! first LSN, plus snapshot files. Records are opaque payloads tagged with the actor that
//! wrote them and that actor's own sequence number. A writer thread per log groups what
//! is queued into one write and one fdatasync (group commit) and then completes every
//! waiter. Recovery loads the newest valid snapshot, replays what follows, truncates
//! damage in the last segment that lies in bytes never synced (a torn tail, or a power
//! loss that kept a later sector of an unsynced write but not an earlier one) and
//! refuses to start on any other damage, naming the file and byte offset. `docs/wal-format.md` gives the format byte by byte.
//!
//! ```no_run
//! use omnibus_wal::{Batch, Wal, WalOptions};
//!
//! let recovery = Wal::open(WalOptions::new("/tmp/omnibus-wal-example"))?;
//! for record in recovery.records() {
//!     let record = record?;
//!     // Apply record.payload to the state rebuilt from recovery.snapshot().
//!     let _ = (record.lsn, record.actor, record.actor_seq, record.payload);
//! }
//! let wal = recovery.into_wal()?;
//! let mut batch = Batch::new();
//! batch.push(7, 1, b"an rkyv archive");
//! let lsns = wal.append_blocking(batch)?;
//! assert_eq!(lsns.end - lsns.start, 1);
//! wal.shutdown()?;
//! # Ok::<(), omnibus_wal::WalError>(())
//! ```

pub mod archive;
mod batch;
mod error;
mod format;
mod layout;
mod options;
mod recovery;
mod scan;
mod snapshot;
mod spare;
pub mod storage;
pub mod tools;
mod wal;
mod writer;

/// Log sequence number: the first record of a log is 1, and every record gets the next
/// one, without gaps, across segments and restarts.
pub type Lsn = u64;

pub use batch::Batch;
pub use error::WalError;
pub use options::{SyncMode, WalOptions, SYNC_INTERVAL_MAX};
pub use recovery::{RecordRef, Recovery, RecoveryReport, TornTail};
pub use snapshot::Snapshot;
pub use wal::{Done, Refused, Wal, WalStats, SNAPSHOTS_PENDING_MAX};

/// The on-disk format's constants, for tools and tests that craft or inspect files.
pub mod layout_constants {
    pub use crate::format::{
        frame_bytes, FRAME_HEADER_BYTES, SEGMENT_FORMAT_VERSION, SEGMENT_HEADER_BYTES,
        SNAPSHOT_FORMAT_VERSION, SNAPSHOT_HEADER_BYTES, SPARE_SEGMENT_FILE,
    };
}
