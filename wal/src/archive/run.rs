//! One run of the archive: an immutable file of sorted, unique fixed-width keys and their
//! values, with a binary fuse filter of its keys. Written once (to a temporary name,
//! synced, renamed into place, the directory synced), read through a map of the file.
//!
//! Layout, version 1 (every integer little-endian, every section 8-byte aligned):
//!
//! | bytes | what |
//! |---|---|
//! | 0..8 | magic `OMNIARC1` |
//! | 8..12 | format version (1) |
//! | 12..16 | key width in bytes |
//! | 16..24 | records |
//! | 24..32 | filter bytes (the serialized filter below) |
//! | 32..40 | values bytes |
//! | 40..44 | CRC32C of bytes 0..40 |
//! | 44..48 | zero |
//! | 48.. | keys (records × width, ascending), zero-padded to 8 |
//! | then | value ends: records × u64, value *i* is `values[end(i-1)..end(i)]` |
//! | then | value CRCs: records × u32, CRC32C of key ‖ value, zero-padded to 8 |
//! | then | filter: seed u64, segment length u32, its mask u32, segment count length u32, fingerprints u32 count, fingerprints × u16, zero-padded to 8 |
//! | then | values |
//!
//! A hit is checked by its CRC, which covers its key and its value. The header is checked
//! at open; the filter is read into memory then (about 2.3 bytes a record), the rest is
//! read when a lookup touches it, so opening costs the same for any size.

use std::io;

use xorf::{BinaryFuse16, Descriptor, Filter};

use crate::storage::{Region, Storage};

const MAGIC: &[u8; 8] = b"OMNIARC1";
pub const RUN_FORMAT_VERSION: u32 = 1;
const HEADER_BYTES: usize = 48;

/// Why a run could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("archive run {name}: {op}: {source}")]
    Io {
        name: String,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("archive run {name} is damaged: {what}; rebuild the archive from the log")]
    Damaged { name: String, what: String },
    #[error(
        "archive run {name} has format version {found}; this build reads {RUN_FORMAT_VERSION}"
    )]
    Version { name: String, found: u32 },
}

/// A key's 64-bit hash, fixed forever (filters are stored): a splitmix64 finalizer over
/// its 8-byte words.
pub fn key_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15 ^ key.len() as u64;
    for chunk in key.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = mix(h ^ u64::from_le_bytes(word));
    }
    h
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn pad8(bytes: &mut Vec<u8>) {
    while bytes.len() % 8 != 0 {
        bytes.push(0);
    }
}

/// Writes a run named `name` holding `records`, which must be sorted by key, unique, and
/// all `width` bytes wide, at most `bytes_per_sec` (in pieces each written out before the
/// next, as the log's background writes are: a run of a hundred megabytes never leaves a
/// burst of dirty pages for a shard's `fdatasync` to wait behind). Durable and in place
/// when it returns: a crash before leaves at most a `<name>.tmp`, which
/// [`super::Archive::open`] removes.
pub fn write_run(
    storage: &dyn Storage,
    name: &str,
    width: usize,
    records: &[(&[u8], &[u8])],
    bytes_per_sec: u64,
) -> Result<u64, RunError> {
    let io = |op| {
        move |source| RunError::Io {
            name: name.to_string(),
            op,
            source,
        }
    };
    assert!(width > 0, "keys have a width");
    for pair in records.windows(2) {
        assert!(pair[0].0 < pair[1].0, "a run's keys are sorted and unique");
    }
    let mut keys = Vec::with_capacity(records.len() * width);
    let mut ends = Vec::with_capacity(records.len() * 8);
    let mut crcs = Vec::with_capacity(records.len() * 4);
    let mut values = Vec::new();
    for (key, value) in records {
        assert_eq!(key.len(), width, "every key of a run has its width");
        keys.extend_from_slice(key);
        values.extend_from_slice(value);
        ends.extend_from_slice(&(values.len() as u64).to_le_bytes());
        let crc = crc32c::crc32c_append(crc32c::crc32c(key), value);
        crcs.extend_from_slice(&crc.to_le_bytes());
    }
    pad8(&mut keys);
    pad8(&mut crcs);
    let filter = serialize_filter(&build_filter(records.iter().map(|(k, _)| *k)));
    let mut header = Vec::with_capacity(HEADER_BYTES);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&RUN_FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(&(width as u32).to_le_bytes());
    header.extend_from_slice(&(records.len() as u64).to_le_bytes());
    header.extend_from_slice(&(filter.len() as u64).to_le_bytes());
    header.extend_from_slice(&(values.len() as u64).to_le_bytes());
    let crc = crc32c::crc32c(&header);
    header.extend_from_slice(&crc.to_le_bytes());
    header.extend_from_slice(&[0; 4]);
    debug_assert_eq!(header.len(), HEADER_BYTES);

    let tmp = format!("{name}.tmp");
    let file = storage.create(&tmp).map_err(io("create"))?;
    let pace = crate::storage::FillPace::uncancelled(bytes_per_sec);
    let mut at = 0u64;
    for section in [&header, &keys, &ends, &crcs, &filter, &values] {
        file.write_paced(at, section, &pace).map_err(io("write"))?;
        at += section.len() as u64;
    }
    file.sync_data().map_err(io("sync"))?;
    drop(file);
    storage.rename(&tmp, name).map_err(io("rename"))?;
    storage.sync_dir().map_err(io("sync the directory of"))?;
    Ok(at)
}

fn build_filter<'a>(keys: impl Iterator<Item = &'a [u8]>) -> BinaryFuse16 {
    let mut hashes: Vec<u64> = keys.map(key_hash).collect();
    hashes.sort_unstable();
    hashes.dedup();
    BinaryFuse16::try_from(&hashes).expect("a binary fuse filter builds over distinct hashes")
}

fn serialize_filter(filter: &BinaryFuse16) -> Vec<u8> {
    let d = &filter.descriptor;
    let mut out = Vec::with_capacity(24 + filter.fingerprints.len() * 2);
    out.extend_from_slice(&d.seed.to_le_bytes());
    out.extend_from_slice(&d.segment_length.to_le_bytes());
    out.extend_from_slice(&d.segment_length_mask.to_le_bytes());
    out.extend_from_slice(&d.segment_count_length.to_le_bytes());
    out.extend_from_slice(&(filter.fingerprints.len() as u32).to_le_bytes());
    for fp in filter.fingerprints.iter() {
        out.extend_from_slice(&fp.to_le_bytes());
    }
    pad8(&mut out);
    out
}

/// An open run.
pub struct Run {
    name: String,
    region: Region,
    width: usize,
    records: usize,
    ends_at: usize,
    crcs_at: usize,
    values_at: usize,
    filter: BinaryFuse16,
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

impl Run {
    /// Opens a run written by [`write_run`]: checks its header and sizes, and reads its
    /// filter into memory.
    pub fn open(storage: &dyn Storage, name: &str) -> Result<Run, RunError> {
        let damaged = |what: String| RunError::Damaged {
            name: name.to_string(),
            what,
        };
        let file = storage.open(name, false).map_err(|source| RunError::Io {
            name: name.to_string(),
            op: "open",
            source,
        })?;
        let region = file.map_lazily().map_err(|source| RunError::Io {
            name: name.to_string(),
            op: "map",
            source,
        })?;
        let bytes: &[u8] = &region;
        if bytes.len() < HEADER_BYTES || &bytes[..8] != MAGIC {
            return Err(damaged("no run header".into()));
        }
        if crc32c::crc32c(&bytes[..40]) != u32_at(bytes, 40) {
            return Err(damaged("the header's checksum does not match".into()));
        }
        let version = u32_at(bytes, 8);
        if version != RUN_FORMAT_VERSION {
            return Err(RunError::Version {
                name: name.to_string(),
                found: version,
            });
        }
        let width = u32_at(bytes, 12) as usize;
        let records = u64_at(bytes, 16) as usize;
        let filter_bytes = u64_at(bytes, 24) as usize;
        let values_bytes = u64_at(bytes, 32) as usize;
        let keys_at = HEADER_BYTES;
        let ends_at = keys_at + (records * width).next_multiple_of(8);
        let crcs_at = ends_at + records * 8;
        let filter_at = crcs_at + (records * 4).next_multiple_of(8);
        let values_at = filter_at + filter_bytes;
        if width == 0 || values_at + values_bytes != bytes.len() {
            return Err(damaged(format!(
                "{} bytes, the header's sizes make {}",
                bytes.len(),
                values_at + values_bytes
            )));
        }
        let filter = read_filter(&bytes[filter_at..values_at])
            .ok_or_else(|| damaged("the filter does not parse".into()))?;
        Ok(Run {
            name: name.to_string(),
            region,
            width,
            records,
            ends_at,
            crcs_at,
            values_at,
            filter,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn len(&self) -> usize {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// The memory the run keeps in the heap: its filter.
    pub fn heap_bytes(&self) -> usize {
        self.filter.fingerprints.len() * 2
    }

    /// Whether the run may hold a key of this hash ([`key_hash`]); `false` is certain.
    pub fn may_contain(&self, hash: u64) -> bool {
        self.filter.contains(&hash)
    }

    fn key(&self, i: usize) -> &[u8] {
        let at = HEADER_BYTES + i * self.width;
        &self.region[at..at + self.width]
    }

    fn value(&self, i: usize) -> &[u8] {
        let end = u64_at(&self.region, self.ends_at + i * 8) as usize;
        let start = match i {
            0 => 0,
            _ => u64_at(&self.region, self.ends_at + (i - 1) * 8) as usize,
        };
        &self.region[self.values_at + start..self.values_at + end]
    }

    /// The value of `key`, checked against its CRC; `hash` is [`key_hash`] of it.
    pub fn get(&self, key: &[u8], hash: u64) -> Result<Option<&[u8]>, RunError> {
        if key.len() != self.width || !self.may_contain(hash) {
            return Ok(None);
        }
        let (mut lo, mut hi) = (0, self.records);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.key(mid).cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return self.checked(mid).map(Some),
            }
        }
        Ok(None)
    }

    fn checked(&self, i: usize) -> Result<&[u8], RunError> {
        let value = self.value(i);
        let crc = crc32c::crc32c_append(crc32c::crc32c(self.key(i)), value);
        if crc != u32_at(&self.region, self.crcs_at + i * 4) {
            return Err(RunError::Damaged {
                name: self.name.clone(),
                what: format!("record {i}'s checksum does not match"),
            });
        }
        Ok(value)
    }

    /// Every key, in order (not checked: for filters, which only need to admit them).
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.records).map(|i| self.key(i))
    }

    /// Every record, in key order, each checked against its CRC (for merges and tools).
    pub fn records(&self) -> impl Iterator<Item = Result<(&[u8], &[u8]), RunError>> + '_ {
        (0..self.records).map(|i| self.checked(i).map(|v| (self.key(i), v)))
    }
}

fn read_filter(bytes: &[u8]) -> Option<BinaryFuse16> {
    if bytes.len() < 24 {
        return None;
    }
    let count = u32_at(bytes, 20) as usize;
    let fingerprints = bytes.get(24..24 + count * 2)?;
    let descriptor = Descriptor {
        seed: u64_at(bytes, 0),
        segment_length: u32_at(bytes, 8),
        segment_length_mask: u32_at(bytes, 12),
        segment_count_length: u32_at(bytes, 16),
    };
    Some(BinaryFuse16 {
        descriptor,
        fingerprints: fingerprints
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect(),
    })
}
