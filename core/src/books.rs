//! The books of one shard: moved to [`crate::ledger`] (the hasher of ids to
//! [`crate::hash`]). This module only re-exports them under their old paths.
//!
//! transitional: the actors crate moves to the new paths in the platform issue.

pub use crate::hash::{IdBuild, IdHasher};
pub use crate::ledger::{
    shard_of, transfer_id, transfer_source, Applied, BooksCut, BooksError, BooksSnapshot,
    CustomerEntry, DecimalCell, Incoming, Lsn, Outgoing, ParentPlan, ShardBooks, SliceEntry,
};
