//! Where the log's bytes live: a small trait with a real file implementation
//! ([`FileStorage`]) and a simulated disk for tests ([`SimStorage`]) that tracks what is
//! durable versus merely written, so tests can drop unsynced bytes, tear writes and fail
//! writes and syncs.

mod file;
mod sim;

use std::any::Any;
use std::fmt;
use std::io;
use std::ops::Deref;
use std::path::PathBuf;

pub use file::{background_io_thread, background_thread, FileStorage};
pub use sim::{Crash, SimStorage};

/// A directory of named files. Names are plain file names (no separators).
pub trait Storage: Send + Sync + 'static {
    /// Where `name` lives, for messages.
    fn path(&self, name: &str) -> PathBuf;
    /// Creates the directory if it is absent, durably.
    fn create_dir(&self) -> io::Result<()>;
    /// Takes the log's exclusive lock; it is released when the guard drops. Fails with
    /// [`io::ErrorKind::WouldBlock`] when another owner holds it.
    fn lock(&self) -> io::Result<Box<dyn Any + Send + Sync>>;
    /// The names of the files in the directory, in no particular order.
    fn list(&self) -> io::Result<Vec<String>>;
    /// Opens an existing file.
    fn open(&self, name: &str, writable: bool) -> io::Result<Box<dyn StorageFile>>;
    /// Creates a file, or empties an existing one, open for reading and writing.
    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>>;
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Atomically replaces `to` with `from`.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Makes creations, renames and removals in the directory durable.
    fn sync_dir(&self) -> io::Result<()>;
}

/// One open file.
pub trait StorageFile: Send + Sync {
    fn size_bytes(&self) -> io::Result<u64>;
    /// Reserves real (not sparse) space so the file is `bytes` long; new bytes read as zero.
    /// The space may be left *unwritten* (`fallocate`): it reads as zeros, but the first
    /// sync of a write into it must also record that the extent is now written.
    fn allocate(&self, bytes: u64) -> io::Result<()>;
    /// Writes zeros over bytes `0..bytes` (extending the file to at least `bytes`) and
    /// makes the file durable (fdatasync). Unlike [`StorageFile::allocate`], every block
    /// is really written, so a later `fdatasync` of writes into the range syncs data only,
    /// with no extent conversion: about 30% less time per sync on ext4 (see
    /// `docs/wal-format.md`). Spare segments are made this way, in the background: `pace`
    /// bounds the rate and lets the caller give up half way (an `Interrupted` error).
    fn zero_fill(&self, bytes: u64, pace: &FillPace) -> io::Result<()>;
    fn write_at(&self, offset: u64, bytes: &[u8]) -> io::Result<()>;
    /// [`StorageFile::write_at`] for a large background write (a snapshot): in pieces,
    /// each pushed to the device before the next, at most `pace.bytes_per_sec`, so that
    /// it never leaves a burst of dirty pages for a foreground sync to wait behind. Not a
    /// durability point by itself.
    fn write_paced(&self, offset: u64, bytes: &[u8], pace: &FillPace) -> io::Result<()> {
        let _ = pace;
        self.write_at(offset, bytes)
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// A read-only view of the whole file, 8-byte aligned. The file must not be changed
    /// while the view is alive.
    fn map(&self) -> io::Result<Region>;
    /// [`StorageFile::map`] for a file read here and there over a long life (an archive
    /// run): its pages are read in when first touched, not all at once, so a mapping
    /// holds in memory only what lookups touched.
    fn map_lazily(&self) -> io::Result<Region> {
        self.map()
    }
    /// Makes every write so far durable (fdatasync).
    fn sync_data(&self) -> io::Result<()>;
}

/// Read-only bytes of a file: an mmap for real files, an aligned copy for the simulated
/// disk. The start is always 8-byte aligned, so payloads at 8-byte aligned offsets are
/// 8-byte aligned in memory.
pub struct Region {
    inner: RegionInner,
}

enum RegionInner {
    Empty,
    Mapped(memmap2::Mmap),
    Owned { words: Box<[u64]>, bytes: usize },
}

impl Region {
    pub fn empty() -> Region {
        Region {
            inner: RegionInner::Empty,
        }
    }

    pub fn from_mmap(map: memmap2::Mmap) -> Region {
        assert_eq!(map.as_ptr() as usize % 8, 0, "an mmap is page aligned");
        Region {
            inner: RegionInner::Mapped(map),
        }
    }

    /// An aligned copy of `bytes`.
    pub fn copy_of(bytes: &[u8]) -> Region {
        let mut words = vec![0u64; bytes.len().div_ceil(8)].into_boxed_slice();
        // Safety: `words` spans at least `bytes.len()` bytes and u64 has no invalid bit
        // patterns, so viewing it as bytes to fill it is sound.
        let view = unsafe {
            std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), words.len() * 8)
        };
        view[..bytes.len()].copy_from_slice(bytes);
        Region {
            inner: RegionInner::Owned {
                words,
                bytes: bytes.len(),
            },
        }
    }
}

impl Deref for Region {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.inner {
            RegionInner::Empty => &[],
            RegionInner::Mapped(map) => map,
            // Safety: the slice covers `bytes <= words.len() * 8` initialised bytes of
            // `words`, which lives as long as `self`.
            RegionInner::Owned { words, bytes } => unsafe {
                std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), *bytes)
            },
        }
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Region({} bytes)", self.len())
    }
}

/// How a background zero fill proceeds: at most `bytes_per_sec` (written in chunks of
/// [`FillPace::CHUNK_BYTES`], each pushed to the device before the next, so the fill never
/// leaves a burst of dirty pages for a foreground `fdatasync` to wait behind), and
/// abandoned with `ErrorKind::Interrupted` once `cancelled` is set.
pub struct FillPace<'a> {
    pub bytes_per_sec: u64,
    pub cancelled: &'a std::sync::atomic::AtomicBool,
}

/// What an uncancelled pace points at.
static NEVER_CANCELLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl FillPace<'static> {
    /// A pace of `bytes_per_sec` that nothing cancels (a snapshot, an archive run).
    pub fn uncancelled(bytes_per_sec: u64) -> FillPace<'static> {
        FillPace {
            bytes_per_sec,
            cancelled: &NEVER_CANCELLED,
        }
    }
}

impl FillPace<'_> {
    pub const CHUNK_BYTES: u64 = 256 << 10;

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(std::sync::atomic::Ordering::Acquire)
    }
}
