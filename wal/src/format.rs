//! The on-disk format: segment headers, frames, snapshot headers and file names.
//!
//! Every multi-byte integer is little-endian. `docs/wal-format.md` describes the same
//! layout for people; the two must change together (bump [`SEGMENT_FORMAT_VERSION`] or
//! [`SNAPSHOT_FORMAT_VERSION`]).
//!
//! Segment file (`{first_lsn:020}.wal`, zero-filled or preallocated to its full size):
//!
//! ```text
//! offset  size  field
//!      0     8  magic b"OMNIWSEG"
//!      8     4  segment format version (2)
//!     12     4  header bytes (64)
//!     16     8  segment id (1 for the first segment of a log, then +1 per segment)
//!     24     8  first LSN (the LSN of the segment's first frame; equals the file name)
//!     32     8  segment bytes (the file size)
//!     40    20  reserved, zero
//!     60     4  CRC32C of bytes 0..60
//!     64     .  frames, each 8-byte aligned, until a zero length field or the end
//! ```
//!
//! Frame:
//!
//! ```text
//! offset  size  field
//!      0     4  payload length in bytes (never zero: zero marks the end of the data)
//!      4     4  CRC32C of bytes 0..4, then bytes 8..40, then the payload
//!      8     8  LSN
//!     16     8  synced up to: every LSN up to this one was durable (fdatasync had
//!               returned) before the group holding this frame was written; < LSN
//!     24     8  actor id
//!     32     8  the actor's own sequence number
//!     40     n  payload
//!   40+n     p  zero padding up to a multiple of 8 (p < 8)
//! ```
//!
//! Snapshot file (`{lsn:020}.snap`):
//!
//! ```text
//! offset  size  field
//!      0     8  magic b"OMNIWSNP"
//!      8     4  snapshot format version (1)
//!     12     4  header bytes (64)
//!     16     8  LSN (the state reflects every record with a smaller LSN)
//!     24     8  body length in bytes
//!     32     4  CRC32C of the body
//!     36    24  reserved, zero
//!     60     4  CRC32C of bytes 0..60
//!     64     .  body
//! ```

use crate::Lsn;

/// The version written into every segment header. Readers refuse others. Version 1 had
/// 32-byte frame headers without the synced-up-to LSN; version 2 added it, so recovery
/// can tell a power loss during an unsynced write from damage to synced data.
pub const SEGMENT_FORMAT_VERSION: u32 = 2;

/// The version written into every snapshot header. Snapshots did not change when
/// segments went to version 2, so their version stays 1.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;

pub const SEGMENT_MAGIC: [u8; 8] = *b"OMNIWSEG";
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"OMNIWSNP";

/// Both headers are 64 bytes so the first frame starts on an 8-byte (indeed cache-line)
/// boundary and payloads handed to readers are 8-byte aligned.
pub const SEGMENT_HEADER_BYTES: u64 = 64;
pub const SNAPSHOT_HEADER_BYTES: u64 = 64;

pub const FRAME_HEADER_BYTES: usize = 40;
pub const FRAME_ALIGN_BYTES: usize = 8;

/// The smallest frame on disk: a header and one payload byte padded to 8. Recovery uses
/// it to bound how many frames can fit between two offsets.
pub const FRAME_BYTES_MIN: usize = FRAME_HEADER_BYTES + FRAME_ALIGN_BYTES;

/// The largest payload a frame can describe (its length field is a u32).
pub const PAYLOAD_BYTES_MAX: usize = u32::MAX as usize - FRAME_HEADER_BYTES - FRAME_ALIGN_BYTES;

/// Segment sizes accepted by [`crate::WalOptions`]: room for the header and at least a
/// few frames, and offsets that stay far from overflow.
pub const SEGMENT_BYTES_MIN: u64 = 4096;
pub const SEGMENT_BYTES_MAX: u64 = 1 << 40;

pub const SEGMENT_SUFFIX: &str = ".wal";
pub const SNAPSHOT_SUFFIX: &str = ".snap";
pub const TEMP_SUFFIX: &str = ".tmp";
pub const CORRUPT_SUFFIX: &str = ".corrupt";
pub const LOCK_FILE: &str = "LOCK";
/// The next segment's file, zero-filled ahead of time by the preparer thread, with no
/// header yet. It ends with [`TEMP_SUFFIX`], so no reader takes it for a segment, and
/// recovery deletes it like any other leftover temporary file.
pub const SPARE_SEGMENT_FILE: &str = "spare.wal.tmp";

const _: () = assert!(SEGMENT_HEADER_BYTES % FRAME_ALIGN_BYTES as u64 == 0);
const _: () = assert!(FRAME_HEADER_BYTES % FRAME_ALIGN_BYTES == 0);
const _: () = assert!(SEGMENT_BYTES_MIN > SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES as u64);

/// Bytes a frame with `payload_bytes` of payload takes on disk, padding included.
pub fn frame_bytes(payload_bytes: usize) -> usize {
    FRAME_HEADER_BYTES + payload_bytes.next_multiple_of(FRAME_ALIGN_BYTES)
}

/// The CRC32C a frame carries: over its length field, the rest of its header after the
/// CRC field, and its payload. `header` is the 40-byte frame header.
pub fn frame_crc(header: &[u8], payload: &[u8]) -> u32 {
    debug_assert_eq!(header.len(), FRAME_HEADER_BYTES);
    let crc = crc32c::crc32c(&header[0..4]);
    let crc = crc32c::crc32c_append(crc, &header[8..FRAME_HEADER_BYTES]);
    crc32c::crc32c_append(crc, payload)
}

/// The decoded fixed part of a frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub payload_bytes: u32,
    pub crc: u32,
    pub lsn: Lsn,
    /// Every LSN up to and including this one was durable before this frame was written.
    pub synced_upto: Lsn,
    pub actor: u64,
    pub actor_seq: u64,
}

impl FrameHeader {
    pub fn decode(bytes: &[u8]) -> FrameHeader {
        assert!(bytes.len() >= FRAME_HEADER_BYTES);
        FrameHeader {
            payload_bytes: read_u32(bytes, 0),
            crc: read_u32(bytes, 4),
            lsn: read_u64(bytes, 8),
            synced_upto: read_u64(bytes, 16),
            actor: read_u64(bytes, 24),
            actor_seq: read_u64(bytes, 32),
        }
    }
}

/// Writes a frame header with a zero LSN, synced-up-to LSN and CRC; the writer thread
/// fills them in with [`seal_frame`] once the LSN is assigned.
pub fn encode_frame_header(out: &mut Vec<u8>, payload_bytes: u32, actor: u64, actor_seq: u64) {
    out.extend_from_slice(&payload_bytes.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&actor.to_le_bytes());
    out.extend_from_slice(&actor_seq.to_le_bytes());
}

/// Sets the LSN and the synced-up-to LSN of the frame at the start of `frame` and
/// computes its CRC. Returns the frame's on-disk size. `synced_upto` must be an LSN the
/// writer knows to be durable now, before this frame is written: recovery trusts it to
/// decide that damage before this frame is damage to synced data.
pub fn seal_frame(frame: &mut [u8], lsn: Lsn, synced_upto: Lsn) -> usize {
    let payload_bytes = read_u32(frame, 0) as usize;
    assert!(payload_bytes > 0, "a frame in a batch has a zero length");
    assert!(
        synced_upto < lsn,
        "LSN {lsn} cannot have been synced before it was written (synced up to {synced_upto})"
    );
    let size = frame_bytes(payload_bytes);
    assert!(
        frame.len() >= size,
        "a frame in a batch runs past the batch's end"
    );
    frame[8..16].copy_from_slice(&lsn.to_le_bytes());
    frame[16..24].copy_from_slice(&synced_upto.to_le_bytes());
    let (header, rest) = frame.split_at_mut(FRAME_HEADER_BYTES);
    let crc = frame_crc(header, &rest[..payload_bytes]);
    header[4..8].copy_from_slice(&crc.to_le_bytes());
    size
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    pub segment_id: u64,
    pub first_lsn: Lsn,
    pub segment_bytes: u64,
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_BYTES as usize] {
        let mut out = [0u8; SEGMENT_HEADER_BYTES as usize];
        out[0..8].copy_from_slice(&SEGMENT_MAGIC);
        out[8..12].copy_from_slice(&SEGMENT_FORMAT_VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&(SEGMENT_HEADER_BYTES as u32).to_le_bytes());
        out[16..24].copy_from_slice(&self.segment_id.to_le_bytes());
        out[24..32].copy_from_slice(&self.first_lsn.to_le_bytes());
        out[32..40].copy_from_slice(&self.segment_bytes.to_le_bytes());
        let crc = crc32c::crc32c(&out[0..60]);
        out[60..64].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and checks a segment header. On failure returns the byte offset of the
    /// offending field and what is wrong with it.
    pub fn decode(bytes: &[u8]) -> Result<SegmentHeader, (u64, String)> {
        if bytes.len() < SEGMENT_HEADER_BYTES as usize {
            return Err((
                0,
                format!(
                    "the file is {} bytes, shorter than the {SEGMENT_HEADER_BYTES}-byte segment header",
                    bytes.len()
                ),
            ));
        }
        if bytes[0..8] != SEGMENT_MAGIC {
            return Err((
                0,
                "bad magic: this is not an omnibus WAL segment".to_string(),
            ));
        }
        let stored_crc = read_u32(bytes, 60);
        let crc = crc32c::crc32c(&bytes[0..60]);
        if stored_crc != crc {
            return Err((
                60,
                format!(
                    "segment header CRC mismatch (stored {stored_crc:#010x}, computed {crc:#010x})"
                ),
            ));
        }
        if let Some(version) = unsupported_segment_version(bytes) {
            return Err((8, unsupported_segment_version_text(version)));
        }
        let header_bytes = read_u32(bytes, 12);
        if u64::from(header_bytes) != SEGMENT_HEADER_BYTES {
            return Err((
                12,
                format!("header size {header_bytes}, expected {SEGMENT_HEADER_BYTES}"),
            ));
        }
        if bytes[40..60].iter().any(|byte| *byte != 0) {
            return Err((40, "reserved header bytes are not zero".to_string()));
        }
        let header = SegmentHeader {
            segment_id: read_u64(bytes, 16),
            first_lsn: read_u64(bytes, 24),
            segment_bytes: read_u64(bytes, 32),
        };
        if header.first_lsn == 0 {
            return Err((24, "first LSN is 0; LSNs start at 1".to_string()));
        }
        if header.segment_id == 0 {
            return Err((16, "segment id is 0; ids start at 1".to_string()));
        }
        Ok(header)
    }
}

/// The version of a segment header that is intact (magic and header CRC check out) but
/// written in a format version this build does not read. Recovery turns it into
/// [`crate::WalError::UnsupportedVersion`] rather than calling the log corrupt.
pub fn unsupported_segment_version(bytes: &[u8]) -> Option<u32> {
    if bytes.len() < SEGMENT_HEADER_BYTES as usize
        || bytes[0..8] != SEGMENT_MAGIC
        || read_u32(bytes, 60) != crc32c::crc32c(&bytes[0..60])
    {
        return None;
    }
    let version = read_u32(bytes, 8);
    (version != SEGMENT_FORMAT_VERSION).then_some(version)
}

pub fn unsupported_segment_version_text(version: u32) -> String {
    format!(
        "segment format version {version}; this build reads version {SEGMENT_FORMAT_VERSION} only and does not \
         convert older logs"
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    pub lsn: Lsn,
    pub body_bytes: u64,
    pub body_crc: u32,
}

impl SnapshotHeader {
    pub fn encode(&self) -> [u8; SNAPSHOT_HEADER_BYTES as usize] {
        let mut out = [0u8; SNAPSHOT_HEADER_BYTES as usize];
        out[0..8].copy_from_slice(&SNAPSHOT_MAGIC);
        out[8..12].copy_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&(SNAPSHOT_HEADER_BYTES as u32).to_le_bytes());
        out[16..24].copy_from_slice(&self.lsn.to_le_bytes());
        out[24..32].copy_from_slice(&self.body_bytes.to_le_bytes());
        out[32..36].copy_from_slice(&self.body_crc.to_le_bytes());
        let crc = crc32c::crc32c(&out[0..60]);
        out[60..64].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and checks a snapshot header (not the body).
    pub fn decode(bytes: &[u8]) -> Result<SnapshotHeader, (u64, String)> {
        if bytes.len() < SNAPSHOT_HEADER_BYTES as usize {
            return Err((
                0,
                format!(
                    "the file is {} bytes, shorter than the {SNAPSHOT_HEADER_BYTES}-byte snapshot header",
                    bytes.len()
                ),
            ));
        }
        if bytes[0..8] != SNAPSHOT_MAGIC {
            return Err((
                0,
                "bad magic: this is not an omnibus WAL snapshot".to_string(),
            ));
        }
        let stored_crc = read_u32(bytes, 60);
        let crc = crc32c::crc32c(&bytes[0..60]);
        if stored_crc != crc {
            return Err((
                60,
                format!("snapshot header CRC mismatch (stored {stored_crc:#010x}, computed {crc:#010x})"),
            ));
        }
        let version = read_u32(bytes, 8);
        if version != SNAPSHOT_FORMAT_VERSION {
            return Err((
                8,
                format!("snapshot format version {version}; this build reads version {SNAPSHOT_FORMAT_VERSION} only"),
            ));
        }
        let header_bytes = read_u32(bytes, 12);
        if u64::from(header_bytes) != SNAPSHOT_HEADER_BYTES {
            return Err((
                12,
                format!("header size {header_bytes}, expected {SNAPSHOT_HEADER_BYTES}"),
            ));
        }
        let header = SnapshotHeader {
            lsn: read_u64(bytes, 16),
            body_bytes: read_u64(bytes, 24),
            body_crc: read_u32(bytes, 32),
        };
        if header.lsn == 0 {
            return Err((16, "snapshot LSN is 0; LSNs start at 1".to_string()));
        }
        Ok(header)
    }
}

pub fn segment_file_name(first_lsn: Lsn) -> String {
    format!("{first_lsn:020}{SEGMENT_SUFFIX}")
}

pub fn snapshot_file_name(lsn: Lsn) -> String {
    format!("{lsn:020}{SNAPSHOT_SUFFIX}")
}

pub fn temp_file_name(final_name: &str) -> String {
    format!("{final_name}{TEMP_SUFFIX}")
}

/// The LSN in a segment or snapshot file name, if `name` is exactly twenty digits
/// followed by `suffix`.
pub fn parse_lsn_name(name: &str, suffix: &str) -> Option<Lsn> {
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes"))
}

pub fn read_u64(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(bytes[offset..offset + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_is_the_castagnoli_crc_documented() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn frame_sizes_are_padded_to_eight_bytes() {
        assert_eq!(frame_bytes(1), 48);
        assert_eq!(frame_bytes(8), 48);
        assert_eq!(frame_bytes(9), 56);
        assert_eq!(frame_bytes(128), 168);
        assert_eq!(FRAME_BYTES_MIN, frame_bytes(1));
    }

    #[test]
    fn segment_header_round_trips_and_detects_a_flipped_bit() {
        let header = SegmentHeader {
            segment_id: 7,
            first_lsn: 1234,
            segment_bytes: 1 << 20,
        };
        let mut bytes = header.encode();
        assert_eq!(SegmentHeader::decode(&bytes), Ok(header));
        bytes[25] ^= 0x10;
        let (offset, what) = SegmentHeader::decode(&bytes).unwrap_err();
        assert_eq!(offset, 60);
        assert!(what.contains("CRC"), "{what}");
    }

    #[test]
    fn snapshot_header_round_trips() {
        let header = SnapshotHeader {
            lsn: 99,
            body_bytes: 12,
            body_crc: 0xdead_beef,
        };
        assert_eq!(SnapshotHeader::decode(&header.encode()), Ok(header));
    }

    #[test]
    fn sealed_frame_carries_its_lsns_and_a_crc_over_length_header_and_payload() {
        let mut frame = Vec::new();
        encode_frame_header(&mut frame, 3, 5, 6);
        frame.extend_from_slice(b"abc");
        frame.resize(frame_bytes(3), 0);
        assert_eq!(seal_frame(&mut frame, 42, 40), 48);
        let header = FrameHeader::decode(&frame);
        assert_eq!(
            (
                header.payload_bytes,
                header.lsn,
                header.synced_upto,
                header.actor,
                header.actor_seq
            ),
            (3, 42, 40, 5, 6)
        );
        assert_eq!(header.crc, frame_crc(&frame[..40], b"abc"));
        // Every header field but the CRC itself is covered, the synced-up-to LSN included.
        for byte in (0..4).chain(8..40) {
            let mut changed = frame.clone();
            changed[byte] ^= 1;
            assert_ne!(header.crc, frame_crc(&changed[..40], b"abc"), "byte {byte}");
        }
    }

    #[test]
    fn the_example_frame_in_the_docs_is_what_the_writer_writes() {
        // docs/wal-format.md, "Frames": actor 7, sequence 1, payload "abc" as LSN 1.
        let mut frame = Vec::new();
        encode_frame_header(&mut frame, 3, 7, 1);
        frame.extend_from_slice(b"abc");
        frame.resize(frame_bytes(3), 0);
        seal_frame(&mut frame, 1, 0);
        #[rustfmt::skip]
        let documented: [u8; 48] = [
            0x03, 0x00, 0x00, 0x00, 0x90, 0x23, 0xbd, 0xa3, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x61, 0x62, 0x63, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(frame, documented);
    }

    #[test]
    #[should_panic(expected = "cannot have been synced")]
    fn a_frame_cannot_claim_itself_synced() {
        let mut frame = Vec::new();
        encode_frame_header(&mut frame, 1, 1, 1);
        frame.extend_from_slice(b"x");
        frame.resize(frame_bytes(1), 0);
        seal_frame(&mut frame, 7, 7);
    }

    #[test]
    fn a_segment_header_of_another_version_is_named_as_such() {
        let header = SegmentHeader {
            segment_id: 1,
            first_lsn: 1,
            segment_bytes: 1 << 20,
        };
        let mut bytes = header.encode();
        assert_eq!(unsupported_segment_version(&bytes), None);
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        let crc = crc32c::crc32c(&bytes[0..60]);
        bytes[60..64].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(unsupported_segment_version(&bytes), Some(1));
        let (offset, what) = SegmentHeader::decode(&bytes).unwrap_err();
        assert_eq!(offset, 8);
        assert!(what.contains("version 1"), "{what}");
        // A damaged header is damage, not a version question.
        bytes[20] ^= 1;
        assert_eq!(unsupported_segment_version(&bytes), None);
    }

    #[test]
    fn file_names_are_twenty_digits_and_parse_back() {
        assert_eq!(segment_file_name(1), "00000000000000000001.wal");
        assert_eq!(
            parse_lsn_name("00000000000000000001.wal", SEGMENT_SUFFIX),
            Some(1)
        );
        assert_eq!(parse_lsn_name("1.wal", SEGMENT_SUFFIX), None);
        assert_eq!(
            parse_lsn_name("00000000000000000001.wal.tmp", SEGMENT_SUFFIX),
            None
        );
        assert_eq!(
            parse_lsn_name(&snapshot_file_name(77), SNAPSHOT_SUFFIX),
            Some(77)
        );
    }

    #[test]
    fn the_spare_segment_file_is_a_temporary_file_and_never_a_segment() {
        assert!(SPARE_SEGMENT_FILE.ends_with(TEMP_SUFFIX));
        assert_eq!(parse_lsn_name(SPARE_SEGMENT_FILE, SEGMENT_SUFFIX), None);
        assert_eq!(parse_lsn_name(SPARE_SEGMENT_FILE, SNAPSHOT_SUFFIX), None);
    }
}
