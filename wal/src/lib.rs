//! omnibus-wal: the segmented write-ahead log every shard's balances rest on.
