//! Validation of one segment's bytes: its header, then every frame in order, then what
//! follows the last valid frame. Recovery and the tools share it, so `omnibus wal
//! verify` judges a log exactly as a restart would.

use crate::format::{
    frame_bytes, frame_crc, read_u32, FrameHeader, SegmentHeader, FRAME_HEADER_BYTES,
    SEGMENT_HEADER_BYTES,
};
use crate::Lsn;

/// What a scan found in one segment.
#[derive(Debug)]
pub(crate) struct SegmentScan {
    pub header: SegmentHeader,
    /// Valid frames, in LSN order from `header.first_lsn`.
    pub records: u64,
    /// Offset just past the last valid frame.
    pub data_end: u64,
    pub end: ScanEnd,
}

#[derive(Debug)]
pub(crate) enum ScanEnd {
    /// The data ended at a zero length field or at the end of the segment, and every
    /// byte after it is zero.
    Clean,
    /// The bytes at `data_end` are not a valid next frame and not blank.
    Bad {
        what: String,
        /// The offset of a frame with a valid CRC at or after `data_end`, if any: proof
        /// that this is damage inside written data rather than a torn final write.
        valid_frame_at: Option<u64>,
        /// One past the last non-zero byte of the segment.
        nonzero_end: u64,
    },
}

impl SegmentScan {
    #[cfg(test)]
    pub fn last_lsn(&self) -> Lsn {
        self.header.first_lsn + self.records - 1
    }

    pub fn next_lsn(&self) -> Lsn {
        self.header.first_lsn + self.records
    }
}

/// Checks the segment header of a file named for `name_lsn` whose full contents are
/// `bytes`. Returns the offset and description of the first problem.
pub(crate) fn check_header(
    bytes: &[u8],
    name_lsn: Lsn,
    file_bytes: u64,
) -> Result<SegmentHeader, (u64, String)> {
    let header = SegmentHeader::decode(bytes)?;
    if header.first_lsn != name_lsn {
        return Err((
            24,
            format!(
                "the header's first LSN is {} but the file is named for LSN {name_lsn}",
                header.first_lsn
            ),
        ));
    }
    if header.segment_bytes != file_bytes {
        return Err((
            32,
            format!(
                "the header says the segment is {} bytes but the file is {file_bytes} bytes",
                header.segment_bytes
            ),
        ));
    }
    Ok(header)
}

/// Scans a whole segment. `Err` means the header itself is bad.
pub(crate) fn scan_segment(bytes: &[u8], name_lsn: Lsn) -> Result<SegmentScan, (u64, String)> {
    let header = check_header(bytes, name_lsn, bytes.len() as u64)?;
    let segment_bytes = bytes.len();
    let mut offset = SEGMENT_HEADER_BYTES as usize;
    let mut expected_lsn = header.first_lsn;
    let mut problem: Option<String> = None;
    let mut wrong_lsn = false;
    // Every iteration either accepts one frame, which moves `offset` forward by at least
    // 40 bytes, or stops, so the loop runs at most segment_bytes / 40 times.
    while offset + FRAME_HEADER_BYTES <= segment_bytes {
        let frame = FrameHeader::decode(&bytes[offset..]);
        if frame.payload_bytes == 0 {
            if bytes[offset..offset + FRAME_HEADER_BYTES]
                .iter()
                .any(|byte| *byte != 0)
            {
                problem = Some(
                    "a zero length field but the rest of the frame header is not blank".into(),
                );
            }
            break;
        }
        let size = frame_bytes(frame.payload_bytes as usize);
        if offset + size > segment_bytes {
            problem = Some(format!(
                "frame length {} runs past the end of the segment ({} bytes left)",
                frame.payload_bytes,
                segment_bytes - offset
            ));
            break;
        }
        let payload = &bytes[offset + FRAME_HEADER_BYTES
            ..offset + FRAME_HEADER_BYTES + frame.payload_bytes as usize];
        let crc = frame_crc(&bytes[offset..offset + FRAME_HEADER_BYTES], payload);
        if crc != frame.crc {
            problem = Some(format!(
                "frame CRC mismatch (stored {:#010x}, computed {crc:#010x}) for the frame expected to hold LSN {expected_lsn}",
                frame.crc
            ));
            break;
        }
        if frame.lsn != expected_lsn {
            problem = Some(format!(
                "a valid frame holds LSN {} where LSN {expected_lsn} was expected",
                frame.lsn
            ));
            wrong_lsn = true;
            break;
        }
        offset += size;
        expected_lsn += 1;
    }
    let records = expected_lsn - header.first_lsn;
    let data_end = offset as u64;
    let nonzero_end = nonzero_end(bytes, offset);
    let end = if nonzero_end == data_end {
        ScanEnd::Clean
    } else {
        let what = problem.unwrap_or_else(|| {
            format!(
                "{} trailing bytes after the last frame are not zero",
                segment_bytes - offset
            )
        });
        let valid_frame_at = if wrong_lsn {
            Some(data_end)
        } else {
            find_valid_frame(bytes, offset + 8, nonzero_end as usize)
        };
        ScanEnd::Bad {
            what,
            valid_frame_at,
            nonzero_end,
        }
    };
    Ok(SegmentScan {
        header,
        records,
        data_end,
        end,
    })
}

/// One past the last non-zero byte at or after `from` (or `from` if they are all zero).
fn nonzero_end(bytes: &[u8], from: usize) -> u64 {
    const CHUNK_BYTES: usize = 64 * 1024;
    let mut end = bytes.len();
    while end > from {
        let start = end.saturating_sub(CHUNK_BYTES).max(from);
        let chunk = &bytes[start..end];
        if let Some(position) = chunk.iter().rposition(|byte| *byte != 0) {
            return (start + position + 1) as u64;
        }
        end = start;
    }
    from as u64
}

/// The first 8-byte aligned offset in `from..until` holding a frame whose CRC matches.
fn find_valid_frame(bytes: &[u8], from: usize, until: usize) -> Option<u64> {
    debug_assert_eq!(from % 8, 0);
    let mut offset = from;
    while offset < until && offset + FRAME_HEADER_BYTES <= bytes.len() {
        let payload_bytes = read_u32(bytes, offset) as usize;
        if payload_bytes != 0 && offset + frame_bytes(payload_bytes) <= bytes.len() {
            let frame = FrameHeader::decode(&bytes[offset..]);
            let payload =
                &bytes[offset + FRAME_HEADER_BYTES..offset + FRAME_HEADER_BYTES + payload_bytes];
            if frame_crc(&bytes[offset..offset + FRAME_HEADER_BYTES], payload) == frame.crc {
                return Some(offset as u64);
            }
        }
        offset += 8;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{encode_frame_header, seal_frame};

    fn segment(payloads: &[&[u8]]) -> Vec<u8> {
        let header = SegmentHeader {
            segment_id: 1,
            first_lsn: 10,
            segment_bytes: 4096,
        };
        let mut bytes = header.encode().to_vec();
        for (index, payload) in payloads.iter().enumerate() {
            let start = bytes.len();
            encode_frame_header(&mut bytes, payload.len() as u32, 1, index as u64);
            bytes.extend_from_slice(payload);
            bytes.resize(start + frame_bytes(payload.len()), 0);
            seal_frame(&mut bytes[start..], 10 + index as u64);
        }
        bytes.resize(4096, 0);
        bytes
    }

    #[test]
    fn clean_segment_counts_its_frames() {
        let bytes = segment(&[b"one", b"two!", b"three"]);
        let scan = scan_segment(&bytes, 10).unwrap();
        assert_eq!(scan.records, 3);
        assert_eq!(scan.data_end, 64 + 40 * 3);
        assert!(matches!(scan.end, ScanEnd::Clean));
        assert_eq!(scan.last_lsn(), 12);
    }

    #[test]
    fn damaged_last_frame_has_nothing_valid_after_it() {
        let mut bytes = segment(&[b"one", b"two!", b"three"]);
        bytes[64 + 80 + 33] ^= 1;
        let scan = scan_segment(&bytes, 10).unwrap();
        assert_eq!(scan.records, 2);
        match scan.end {
            ScanEnd::Bad {
                valid_frame_at: None,
                nonzero_end,
                ..
            } => assert_eq!(nonzero_end, 64 + 80 + 37),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn damaged_middle_frame_is_followed_by_a_valid_one() {
        let mut bytes = segment(&[b"one", b"two!", b"three"]);
        bytes[64 + 40 + 33] ^= 1;
        let scan = scan_segment(&bytes, 10).unwrap();
        assert_eq!(scan.data_end, 104);
        assert!(
            matches!(
                scan.end,
                ScanEnd::Bad {
                    valid_frame_at: Some(144),
                    ..
                }
            ),
            "{:?}",
            scan.end
        );
    }

    #[test]
    fn wrong_name_is_refused() {
        let bytes = segment(&[b"one"]);
        assert_eq!(scan_segment(&bytes, 11).unwrap_err().0, 24);
    }
}
