//! A snapshot of the books as bytes: the envelope (the record codec's, with the snapshot's
//! magic and version) and the rkyv archive of [`BooksSnapshot`]; every earlier version
//! stays readable through the layouts of `frozen.rs`.

use rkyv::rancor;
use rkyv::util::AlignedVec;

use super::frozen::{
    BooksSnapshotV1, BooksSnapshotV10, BooksSnapshotV2, BooksSnapshotV3, BooksSnapshotV4,
    BooksSnapshotV5, BooksSnapshotV6, BooksSnapshotV7, BooksSnapshotV8, BooksSnapshotV9,
};
use super::BooksSnapshot;
use crate::record::codec::{aligned, get, DecodeError, HEADER_BYTES};

const SNAPSHOT_MAGIC: [u8; 4] = [0xFF, b'B', b'K', b'S'];
/// The snapshot layout written today. Version 0 is the first, unversioned format; its
/// layout is the same as version 1's. Version 2: requests with their reservations,
/// answers with their reason, entries covered by a reservation. Version 3: the two-phase
/// holds. Version 4: the merchants of the instruments layer and
/// their slices. Version 5: the prepaid cards and their pockets, and `payment_log`.
/// Version 6: what the acceptance of each request not settled named. Version 7: the API
/// keys. Version 8: the payouts' settlement statements. Version 9: the division accounts,
/// and each payment's payer kind. Version 10: the virtual-account relay. Version 11: the
/// accounts of the relay's modes B and C (`va_payer`, `suspense`, `recall_receivable`) and
/// the credits deposits owe.
pub const SNAPSHOT_VERSION: u16 = 11;

/// The payload of a snapshot of the books: its envelope and the archive.
pub fn encode_snapshot(snapshot: &BooksSnapshot) -> Vec<u8> {
    let mut buf = AlignedVec::<16>::new();
    buf.extend_from_slice(&SNAPSHOT_MAGIC);
    buf.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    buf.extend_from_slice(&[0, 0xFF]);
    rkyv::api::high::to_bytes_in::<_, rancor::Error>(snapshot, buf)
        .expect("snapshots are plain data and always serialize")
        .into_vec()
}

/// The version of a snapshot payload: 0 for the first, unversioned format.
pub fn snapshot_version(bytes: &[u8]) -> u16 {
    if bytes.len() >= HEADER_BYTES && bytes[0..4] == SNAPSHOT_MAGIC && bytes[7] == 0xFF {
        u16::from_le_bytes([bytes[4], bytes[5]])
    } else {
        0
    }
}

/// Reads a snapshot back, whatever format version wrote it.
pub fn decode_snapshot(bytes: &[u8]) -> Result<BooksSnapshot, DecodeError> {
    let bytes = aligned(bytes);
    match snapshot_version(&bytes) {
        // Version 0 has version 1's layout, without the envelope.
        0 => get::<BooksSnapshotV1>("an unversioned snapshot", &bytes).map(BooksSnapshot::from),
        1 => get::<BooksSnapshotV1>("a version 1 snapshot", &bytes[HEADER_BYTES..])
            .map(BooksSnapshot::from),
        2 => get::<BooksSnapshotV2>("a version 2 snapshot", &bytes[HEADER_BYTES..])
            .map(BooksSnapshot::from),
        3 => get::<BooksSnapshotV3>("a version 3 snapshot", &bytes[HEADER_BYTES..])
            .map(BooksSnapshot::from),
        4 => get::<BooksSnapshotV4>("a version 4 snapshot", &bytes[HEADER_BYTES..])
            .map(BooksSnapshot::from),
        5 => get::<BooksSnapshotV5>("a version 5 snapshot", &bytes[HEADER_BYTES..])
            .map(BooksSnapshot::from),
        6 => get::<BooksSnapshotV6>("a version 6 snapshot", &bytes[HEADER_BYTES..])
            .map(BooksSnapshot::from),
        7 => get::<BooksSnapshotV7>("a version 7 snapshot", &bytes[HEADER_BYTES..])
            .map(BooksSnapshot::from),
        8 => get::<BooksSnapshotV8>("a version 8 snapshot", &bytes[HEADER_BYTES..])
            .map(BooksSnapshot::from),
        9 => get::<BooksSnapshotV9>("a version 9 snapshot", &bytes[HEADER_BYTES..])
            .map(BooksSnapshot::from),
        10 => get::<BooksSnapshotV10>("a version 10 snapshot", &bytes[HEADER_BYTES..])
            .map(BooksSnapshot::from),
        11 => get::<BooksSnapshot>("a version 11 snapshot", &bytes[HEADER_BYTES..]),
        other => Err(DecodeError::UnsupportedSnapshot(other)),
    }
}
