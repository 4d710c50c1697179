//! The virtual-account relay as a shard's books keep it (INSTRUMENTS.md §2.7): the
//! partners whose shard this is, their pools, leases and deposits, changed only by
//! `relay_set` records (`payments/relay` holds the rules).

use super::ShardBooks;
use crate::payments::relay::RelayBook;

impl ShardBooks {
    /// The relay's book of this shard, to decide on (its decisions return the change to
    /// write) and to read.
    pub fn relay(&self) -> &RelayBook {
        &self.relay
    }
}
