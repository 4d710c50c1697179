//! Errors of the engine handle: enums a caller can match on.

use omnibus_core::books::BooksError;
use thiserror::Error;

/// Why the engine could not start.
#[derive(Debug, Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("data directory {dir}: {what}")]
    DataDir { dir: String, what: String },
    #[error("shard {shard}: write-ahead log: {what}")]
    Wal { shard: u16, what: String },
    #[error("shard {shard}: replaying LSN {lsn} failed: {what}; the log does not match the books it built, refusing to start")]
    Replay { shard: u16, lsn: u64, what: String },
    #[error("the actor system failed to start: {0}")]
    System(String),
}

/// Why a request to the engine was not carried out.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum EngineError {
    /// A bound was hit (a mailbox, the WAL queue, flows in flight). Nothing changed; retry later.
    #[error("overloaded: {0} is full; nothing changed, retry later")]
    Overloaded(&'static str),
    /// The books refused the operation. Nothing changed.
    #[error("refused: {0}")]
    Refused(#[from] BooksError),
    /// The request itself was malformed. Nothing changed.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The engine is stopping and takes no new work.
    #[error("the engine is shutting down")]
    ShuttingDown,
    /// The shard's storage failed. Sticky: the shard refuses all work until restarted,
    /// because its memory may hold changes the log does not.
    #[error(
        "shard {shard} storage failed ({cause}); it refuses all work until the engine is restarted"
    )]
    Storage { shard: u16, cause: String },
}
