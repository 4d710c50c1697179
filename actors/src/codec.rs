//! Ledger records to and from write-ahead-log payloads (rkyv archives).

use omnibus_core::books::BooksSnapshot;
use omnibus_core::record::LedgerRecord;
use rkyv::rancor;
use rkyv::util::AlignedVec;

/// Serializes records into one reused buffer, so the hot path does not allocate per record.
#[derive(Default)]
pub struct Encoder {
    buf: AlignedVec,
}

impl Encoder {
    pub fn encode(&mut self, record: &LedgerRecord) -> &[u8] {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        self.buf = rkyv::api::high::to_bytes_in::<_, rancor::Error>(record, buf)
            .expect("ledger records are plain data and always serialize");
        &self.buf
    }
}

/// Validates and reads back one record. The payload must be 8-byte aligned, as the WAL
/// hands them out.
pub fn decode(payload: &[u8]) -> Result<LedgerRecord, String> {
    rkyv::from_bytes::<LedgerRecord, rancor::Error>(payload).map_err(|e| e.to_string())
}

pub fn encode_snapshot(snapshot: &BooksSnapshot) -> Vec<u8> {
    rkyv::to_bytes::<rancor::Error>(snapshot)
        .expect("snapshots are plain data and always serialize")
        .into_vec()
}

pub fn decode_snapshot(bytes: &[u8]) -> Result<BooksSnapshot, String> {
    // The snapshot file's bytes carry no alignment guarantee; copy them into an aligned buffer.
    let mut aligned = AlignedVec::<16>::with_capacity(bytes.len());
    aligned.extend_from_slice(bytes);
    rkyv::from_bytes::<BooksSnapshot, rancor::Error>(&aligned).map_err(|e| e.to_string())
}

/// One line per record, for `omnibus wal dump`.
pub fn describe(payload: &[u8]) -> String {
    match decode(payload) {
        Ok(record) => format!("{record:?}"),
        Err(e) => format!("<undecodable: {e}>"),
    }
}
