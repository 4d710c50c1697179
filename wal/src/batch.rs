//! A batch of records, framed by the caller so the writer only stamps LSNs and CRCs.

use crate::format::{encode_frame_header, frame_bytes, PAYLOAD_BYTES_MAX};

/// Records framed in one buffer: one allocation per batch, not per record. The frames
/// are laid out exactly as on disk; the LSN and CRC fields are filled in by the writer
/// thread once the batch's LSNs are assigned.
#[derive(Debug, Default)]
pub struct Batch {
    frames: Vec<u8>,
    records: usize,
    /// The largest single frame, so `submit` can refuse a record no segment can hold.
    frame_bytes_max: usize,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    /// A batch whose buffer holds `bytes` of frames before it reallocates (a frame is
    /// 40 bytes of header plus the payload rounded up to 8).
    pub fn with_capacity(bytes: usize) -> Batch {
        Batch {
            frames: Vec::with_capacity(bytes),
            records: 0,
            frame_bytes_max: 0,
        }
    }

    /// Appends one record. The payload must not be empty (a zero length marks the end
    /// of a segment's data on disk) and must be smaller than 4 GiB.
    pub fn push(&mut self, actor: u64, actor_seq: u64, payload: &[u8]) {
        assert!(
            !payload.is_empty(),
            "a WAL record payload must not be empty"
        );
        assert!(
            payload.len() <= PAYLOAD_BYTES_MAX,
            "a WAL record payload must be at most {PAYLOAD_BYTES_MAX} bytes, got {}",
            payload.len()
        );
        let size = frame_bytes(payload.len());
        let start = self.frames.len();
        self.frames.reserve(size);
        encode_frame_header(&mut self.frames, payload.len() as u32, actor, actor_seq);
        self.frames.extend_from_slice(payload);
        self.frames.resize(start + size, 0);
        self.records += 1;
        self.frame_bytes_max = self.frame_bytes_max.max(size);
        debug_assert_eq!(self.frames.len() % 8, 0);
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Bytes the batch takes on disk (frame headers and padding included).
    pub fn bytes(&self) -> usize {
        self.frames.len()
    }

    /// Removes every record, keeping the buffer for reuse.
    pub fn clear(&mut self) {
        self.frames.clear();
        self.records = 0;
        self.frame_bytes_max = 0;
    }

    pub(crate) fn frame_bytes_max(&self) -> usize {
        self.frame_bytes_max
    }

    pub(crate) fn frames_mut(&mut self) -> &mut [u8] {
        &mut self.frames
    }

    /// The on-disk size of each frame, in order.
    #[cfg(test)]
    pub(crate) fn frame_sizes(&self) -> impl Iterator<Item = usize> + '_ {
        let mut offset = 0;
        std::iter::from_fn(move || {
            if offset >= self.frames.len() {
                return None;
            }
            let size = frame_bytes(crate::format::read_u32(&self.frames, offset) as usize);
            debug_assert!(size > crate::format::FRAME_HEADER_BYTES);
            offset += size;
            Some(size)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_lays_frames_out_aligned_and_counts_them() {
        let mut batch = Batch::with_capacity(256);
        batch.push(1, 1, b"a");
        batch.push(2, 9, &[7u8; 17]);
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.bytes(), 48 + 64);
        assert_eq!(batch.frame_sizes().collect::<Vec<_>>(), vec![48, 64]);
        assert_eq!(batch.frame_bytes_max(), 64);
        batch.clear();
        assert!(batch.is_empty());
        assert_eq!(batch.bytes(), 0);
    }

    #[test]
    #[should_panic(expected = "must not be empty")]
    fn empty_payload_is_refused() {
        Batch::new().push(1, 1, b"");
    }
}
