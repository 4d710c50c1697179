//! Ledger records and snapshots to and from write-ahead-log payloads: the versioned
//! encoding of `omnibus_core::record::codec` (snapshots: `omnibus_core::ledger`), with one line per record for the tools.

pub use omnibus_core::ledger::{decode_snapshot, encode_snapshot};
use omnibus_core::record::codec::payload_format;
pub use omnibus_core::record::codec::{decode, Encoder};

/// One line per record, for `omnibus wal dump`: the payload's format, then the record.
pub fn describe(payload: &[u8]) -> String {
    let format = payload_format(payload);
    match decode(payload) {
        Ok(record) => format!("[{format}] {record:?}"),
        Err(e) => format!("[{format}] <undecodable: {e}>"),
    }
}
