//! Validation of one segment's bytes: its header, then every frame in order, then what
//! follows the last valid frame. Recovery and the tools share it, so `omnibus wal
//! verify` judges a log exactly as a restart would.

use crate::format::{
    frame_bytes, frame_crc, read_u32, FrameHeader, SegmentHeader, FRAME_BYTES_MIN,
    FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES,
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
        /// Whether the bytes from `data_end` on can be an unsynced write that a crash
        /// cut short, judged from the frames found after them.
        verdict: Verdict,
        /// One past the last non-zero byte of the segment.
        nonzero_end: u64,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing after the bad frame says it was ever synced, and every valid frame after
    /// it is one that the same unsynced writes would have put there: this is what a
    /// power loss (or a crash) during an unsynced write leaves, whether the lost part is
    /// the end or, with a disk that reorders writes, some earlier sector. In the last
    /// segment it is truncated; none of it was acknowledged under `SyncMode::Always`.
    Unsynced {
        /// Valid frames after the bad one, all written but never synced.
        frames_after: u64,
    },
    /// The bytes at `data_end` were synced, or are not what a lost write leaves: the
    /// frame at `evidence_at` shows it, as `why` says. Recovery refuses to start.
    Damage { evidence_at: u64, why: String },
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
    // Every frame of a segment was written after the segment before it was sealed, and
    // sealing syncs: so each vouches for at least the LSNs before the segment, and the
    // synced-up-to LSN never goes backwards from one frame to the next.
    let mut synced_floor = header.first_lsn - 1;
    let mut problem: Option<String> = None;
    // A frame with a valid CRC at `data_end` that is not the expected one: a write
    // never leaves that, whatever was lost.
    let mut impossible_frame: Option<String> = None;
    // Every iteration either accepts one frame, which moves `offset` forward by at least
    // FRAME_BYTES_MIN bytes, or stops, so the loop runs at most segment_bytes / 48 times.
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
            let what = format!(
                "a valid frame holds LSN {} where LSN {expected_lsn} was expected",
                frame.lsn
            );
            problem = Some(what.clone());
            impossible_frame = Some(what);
            break;
        }
        if frame.synced_upto >= frame.lsn || frame.synced_upto < synced_floor {
            let what = format!(
                "the valid frame holding LSN {} says LSNs up to {} were synced before it was written, \
                 which no writer of this log can have stamped (it must lie in {synced_floor}..{})",
                frame.lsn,
                frame.synced_upto,
                frame.lsn - 1
            );
            problem = Some(what.clone());
            impossible_frame = Some(what);
            break;
        }
        synced_floor = frame.synced_upto;
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
        let verdict = match impossible_frame {
            Some(why) => Verdict::Damage {
                evidence_at: data_end,
                why,
            },
            None => judge_after(
                bytes,
                &header,
                offset,
                nonzero_end as usize,
                expected_lsn,
                synced_floor,
            ),
        };
        ScanEnd::Bad {
            what,
            verdict,
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

/// Decides whether the non-blank bytes in `data_end..until`, where the frame holding
/// `torn_lsn` should start but does not check out, can be an unsynced write cut short.
///
/// It looks for frames with a valid CRC at every 8-byte aligned offset after `data_end`
/// (skipping the inside of each one found) and accepts the bytes as unsynced only if
/// every such frame is one the same writes would have put there:
///
/// - it must not say that `torn_lsn` was synced (`synced_upto < torn_lsn`). A frame
///   saying so was written after an `fdatasync` covering `torn_lsn` had returned, so
///   the bytes at `data_end` were durable and a power loss cannot have undone them;
/// - its LSN must follow `torn_lsn` (and any valid frame before it) in offset order,
///   leaving at least `FRAME_BYTES_MIN` bytes for each frame missing in between;
/// - its synced-up-to LSN must not go backwards.
///
/// Frames are written in LSN order at increasing offsets into bytes that were zero, so
/// a lost write leaves zeros where it was lost and the frames it wrote elsewhere; a
/// frame breaking these rules is something else (a misplaced or stale write, or damage)
/// and recovery refuses rather than guess.
fn judge_after(
    bytes: &[u8],
    header: &SegmentHeader,
    data_end: usize,
    until: usize,
    torn_lsn: Lsn,
    synced_floor: Lsn,
) -> Verdict {
    debug_assert_eq!(data_end % 8, 0);
    // The LSNs a frame of this segment can hold: a header with anything else (random
    // bytes, mostly) is not worth a CRC over a payload length it may claim, which keeps
    // this scan linear in the bytes looked at.
    let capacity = (header.segment_bytes - SEGMENT_HEADER_BYTES) / FRAME_BYTES_MIN as u64;
    let plausible = header.first_lsn..header.first_lsn.saturating_add(capacity);
    // Where the next frame after the last one accounted for may start, and its LSN.
    let mut base_offset = data_end;
    let mut base_lsn = torn_lsn;
    let mut floor = synced_floor;
    let mut frames_after = 0u64;
    let mut offset = data_end + 8;
    while offset < until && offset + FRAME_HEADER_BYTES <= bytes.len() {
        let Some(frame) = valid_frame_at(bytes, offset, &plausible) else {
            offset += 8;
            continue;
        };
        let evidence_at = offset as u64;
        if frame.synced_upto >= torn_lsn {
            return Verdict::Damage {
                evidence_at,
                why: format!(
                    "the valid frame at offset {offset} (LSN {}) was written after every LSN up to {} was \
                     synced, so LSN {torn_lsn} was synced: this is damage inside synced data, not a torn \
                     final write",
                    frame.lsn, frame.synced_upto
                ),
            };
        }
        // Frames `base_lsn..frame.lsn` are missing between `base_offset` and `offset`;
        // if none is, this frame must start exactly at `base_offset`.
        let missing = frame.lsn.checked_sub(base_lsn);
        let fits = match missing {
            Some(0) => offset == base_offset,
            Some(missing) => (offset - base_offset) as u64 / FRAME_BYTES_MIN as u64 >= missing,
            None => false,
        };
        if !fits {
            return Verdict::Damage {
                evidence_at,
                why: format!(
                    "a valid frame at offset {offset} holds LSN {}, which cannot lie there when the frame \
                     holding LSN {base_lsn} starts at offset {base_offset} and frames take at least \
                     {FRAME_BYTES_MIN} bytes: not what a lost write leaves, and not a torn final write",
                    frame.lsn
                ),
            };
        }
        if frame.synced_upto < floor {
            return Verdict::Damage {
                evidence_at,
                why: format!(
                    "a valid frame at offset {offset} (LSN {}) says LSNs up to {} were synced, less than the \
                     {floor} an earlier frame says: not what a lost write leaves, and not a torn final write",
                    frame.lsn, frame.synced_upto
                ),
            };
        }
        frames_after += 1;
        floor = frame.synced_upto;
        base_offset = offset + frame_bytes(frame.payload_bytes as usize);
        base_lsn = frame.lsn + 1;
        offset = base_offset;
    }
    Verdict::Unsynced { frames_after }
}

/// The frame at `offset` if its header is plausible (an LSN in `lsns`, a length that
/// fits) and its CRC matches.
fn valid_frame_at(bytes: &[u8], offset: usize, lsns: &std::ops::Range<Lsn>) -> Option<FrameHeader> {
    let payload_bytes = read_u32(bytes, offset) as usize;
    if payload_bytes == 0 || offset + frame_bytes(payload_bytes) > bytes.len() {
        return None;
    }
    let frame = FrameHeader::decode(&bytes[offset..]);
    if !lsns.contains(&frame.lsn) {
        return None;
    }
    let payload = &bytes[offset + FRAME_HEADER_BYTES..offset + FRAME_HEADER_BYTES + payload_bytes];
    (frame_crc(&bytes[offset..offset + FRAME_HEADER_BYTES], payload) == frame.crc).then_some(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{encode_frame_header, seal_frame};

    /// A 4 KiB segment starting at LSN 10 holding one frame per `(payload, synced_upto)`.
    fn segment(frames: &[(&[u8], Lsn)]) -> Vec<u8> {
        let header = SegmentHeader {
            segment_id: 1,
            first_lsn: 10,
            segment_bytes: 4096,
        };
        let mut bytes = header.encode().to_vec();
        for (index, (payload, synced_upto)) in frames.iter().enumerate() {
            let start = bytes.len();
            encode_frame_header(&mut bytes, payload.len() as u32, 1, index as u64);
            bytes.extend_from_slice(payload);
            bytes.resize(start + frame_bytes(payload.len()), 0);
            seal_frame(&mut bytes[start..], 10 + index as u64, *synced_upto);
        }
        bytes.resize(4096, 0);
        bytes
    }

    /// Frames of 48 bytes each: frame `i` (LSN 10 + i) starts at offset 64 + 48 * i.
    fn offset_of(index: usize) -> usize {
        64 + 48 * index
    }

    fn verdict(bytes: &[u8]) -> Verdict {
        match scan_segment(bytes, 10).unwrap().end {
            ScanEnd::Bad { verdict, .. } => verdict,
            ScanEnd::Clean => panic!("expected a bad end, the segment is clean"),
        }
    }

    #[test]
    fn clean_segment_counts_its_frames() {
        let bytes = segment(&[(b"one", 9), (b"two!", 9), (b"three", 11)]);
        let scan = scan_segment(&bytes, 10).unwrap();
        assert_eq!(scan.records, 3);
        assert_eq!(scan.data_end, offset_of(3) as u64);
        assert!(matches!(scan.end, ScanEnd::Clean));
        assert_eq!(scan.last_lsn(), 12);
    }

    #[test]
    fn damaged_last_frame_has_nothing_after_it_and_is_unsynced() {
        let mut bytes = segment(&[(b"one", 9), (b"two!", 9), (b"three", 9)]);
        bytes[offset_of(2) + 41] ^= 1;
        let scan = scan_segment(&bytes, 10).unwrap();
        assert_eq!(scan.records, 2);
        match scan.end {
            ScanEnd::Bad {
                verdict: Verdict::Unsynced { frames_after: 0 },
                nonzero_end,
                ..
            } => assert_eq!(nonzero_end, offset_of(2) as u64 + 45),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn damage_before_a_frame_that_vouches_for_it_is_damage_to_synced_data() {
        // LSN 11 was synced before LSN 12 was written.
        let mut bytes = segment(&[(b"one", 9), (b"two!", 10), (b"three", 11)]);
        bytes[offset_of(1) + 41] ^= 1;
        match verdict(&bytes) {
            Verdict::Damage { evidence_at, why } => {
                assert_eq!(evidence_at, offset_of(2) as u64);
                assert!(why.contains("damage inside synced data"), "{why}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn damage_before_frames_that_never_knew_it_synced_is_unsynced() {
        // One group, LSNs 11..=13, written when only LSN 10 was durable.
        let mut bytes = segment(&[(b"one", 9), (b"two!", 10), (b"three", 10), (b"four", 10)]);
        bytes[offset_of(1)..offset_of(1) + 48].fill(0);
        assert_eq!(verdict(&bytes), Verdict::Unsynced { frames_after: 2 });
        let scan = scan_segment(&bytes, 10).unwrap();
        assert_eq!(scan.data_end, offset_of(1) as u64);
        assert_eq!(scan.next_lsn(), 11);
    }

    #[test]
    fn a_valid_frame_with_an_lsn_that_cannot_follow_the_tear_is_damage() {
        // A copy of the first frame (LSN 10) after a tear at LSN 12.
        let mut bytes = segment(&[(b"one", 9), (b"two!", 9), (b"three", 9)]);
        let first = bytes[offset_of(0)..offset_of(1)].to_vec();
        bytes[offset_of(2) + 41] ^= 1;
        bytes[offset_of(5)..offset_of(6)].copy_from_slice(&first);
        assert!(
            matches!(verdict(&bytes), Verdict::Damage { evidence_at, .. } if evidence_at == offset_of(5) as u64)
        );

        // LSN 13 right after the tear at LSN 11: LSNs 11 and 12 cannot both fit in 48 bytes.
        let mut bytes = segment(&[(b"one", 9), (b"two!", 9), (b"three", 9)]);
        let mut late = Vec::new();
        encode_frame_header(&mut late, 1, 1, 9);
        late.extend_from_slice(b"x");
        late.resize(48, 0);
        seal_frame(&mut late, 13, 10);
        bytes[offset_of(1)..offset_of(2)].fill(0xee);
        bytes[offset_of(2)..offset_of(3)].copy_from_slice(&late);
        assert!(
            matches!(verdict(&bytes), Verdict::Damage { why, .. } if why.contains("cannot lie there"))
        );
    }

    #[test]
    fn a_valid_frame_whose_synced_lsn_goes_backwards_is_damage() {
        let mut bytes = segment(&[(b"one", 9), (b"two!", 10), (b"three", 9)]);
        match verdict(&bytes) {
            Verdict::Damage { evidence_at, why } => {
                assert_eq!(evidence_at, offset_of(2) as u64);
                assert!(why.contains("no writer of this log"), "{why}");
            }
            other => panic!("unexpected {other:?}"),
        }
        // The same after a tear: LSN 13 vouches for less than LSN 12 did.
        bytes = segment(&[(b"one", 9), (b"two!", 9), (b"three", 10), (b"four", 9)]);
        bytes[offset_of(1) + 41] ^= 1;
        assert!(
            matches!(verdict(&bytes), Verdict::Damage { evidence_at, .. } if evidence_at == offset_of(3) as u64)
        );
    }

    #[test]
    fn a_frame_that_claims_a_synced_lsn_before_its_segment_is_damage() {
        // Segment 10.. was started after everything before LSN 10 was synced.
        let bytes = segment(&[(b"one", 8)]);
        assert!(
            matches!(
                verdict(&bytes),
                Verdict::Damage {
                    evidence_at: 64,
                    ..
                }
            ),
            "{:?}",
            verdict(&bytes)
        );
    }

    #[test]
    fn wrong_name_is_refused() {
        let bytes = segment(&[(b"one", 9)]);
        assert_eq!(scan_segment(&bytes, 11).unwrap_err().0, 24);
    }
}
