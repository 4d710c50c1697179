//! The real storage: files in a directory, written with pwrite, read through mmap.

use std::any::Any;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use super::{Region, Storage, StorageFile};
use crate::format::LOCK_FILE;

/// A log directory on the local file system.
#[derive(Clone, Debug)]
pub struct FileStorage {
    dir: PathBuf,
}

impl FileStorage {
    pub fn new(dir: impl Into<PathBuf>) -> FileStorage {
        FileStorage { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn sync_directory(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Storage for FileStorage {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn create_dir(&self) -> io::Result<()> {
        if self.dir.is_dir() {
            return Ok(());
        }
        // Each new directory's entry lives in its parent, which must be synced for it to
        // survive a power loss: sync every directory from the first one that existed down.
        let mut created = Vec::new();
        let mut ancestor = Some(self.dir.as_path());
        while let Some(path) = ancestor {
            if path.as_os_str().is_empty() || path.is_dir() {
                break;
            }
            created.push(path.to_path_buf());
            ancestor = path.parent();
        }
        fs::create_dir_all(&self.dir)?;
        for directory in created.iter().rev() {
            let parent = match directory.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                _ => PathBuf::from("."),
            };
            sync_directory(&parent)?;
        }
        Ok(())
    }

    fn lock(&self) -> io::Result<Box<dyn Any + Send + Sync>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.path(LOCK_FILE))?;
        // flock is tied to this open file description and released by the kernel when
        // the process dies, so a killed writer never leaves a stale lock behind.
        // Safety: a plain system call on a descriptor this function owns and keeps open.
        let status = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if status != 0 {
            let error = io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "the log is locked",
                ));
            }
            return Err(error);
        }
        Ok(Box::new(file))
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn open(&self, name: &str, writable: bool) -> io::Result<Box<dyn StorageFile>> {
        let path = self.path(name);
        let file = OpenOptions::new().read(true).write(writable).open(&path)?;
        Ok(Box::new(DiskFile { file }))
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let path = self.path(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        Ok(Box::new(DiskFile { file }))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        fs::remove_file(self.path(name))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        fs::rename(self.path(from), self.path(to))
    }

    fn sync_dir(&self) -> io::Result<()> {
        sync_directory(&self.dir)
    }
}

struct DiskFile {
    file: File,
}

impl StorageFile for DiskFile {
    fn size_bytes(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn allocate(&self, bytes: u64) -> io::Result<()> {
        let current = self.size_bytes()?;
        if bytes <= current {
            return Ok(());
        }
        allocate_range(&self.file, current, bytes)
    }

    fn zero_fill(&self, bytes: u64, pace: &super::FillPace) -> io::Result<()> {
        let zeros = vec![0u8; super::FillPace::CHUNK_BYTES.min(bytes) as usize];
        paced(&self.file, 0, bytes, pace, |offset, len| {
            self.file.write_all_at(&zeros[..len as usize], offset)
        })?;
        self.file.sync_data()
    }

    fn write_paced(&self, offset: u64, bytes: &[u8], pace: &super::FillPace) -> io::Result<()> {
        paced(&self.file, offset, bytes.len() as u64, pace, |at, len| {
            let from = (at - offset) as usize;
            self.file
                .write_all_at(&bytes[from..from + len as usize], at)
        })
    }

    fn write_at(&self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all_at(bytes, offset)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn map(&self) -> io::Result<Region> {
        if self.size_bytes()? == 0 {
            return Ok(Region::empty());
        }
        // Safety: a writer changes a log's files only while it holds the log's lock, and
        // recovery (which holds it) drops a segment's map before it zeroes a torn tail in
        // it. The tools (`omnibus wal verify|dump`) map without the lock and may read a
        // live log: a frame being written under them then fails its CRC and is reported,
        // never trusted; no file is ever truncated while mapped, so a mapping never loses
        // its pages.
        // Recovery reads every byte of a mapped segment once, front to back: faulting
        // the pages in with one call (MAP_POPULATE) is cheaper than one fault per page.
        let map = unsafe { memmap2::MmapOptions::new().populate().map(&self.file)? };
        Ok(Region::from_mmap(map))
    }

    fn map_lazily(&self) -> io::Result<Region> {
        if self.size_bytes()? == 0 {
            return Ok(Region::empty());
        }
        // Safety: as for `map`; an archive run is written whole and synced before it is
        // mapped, and never changed after.
        let map = unsafe { memmap2::Mmap::map(&self.file)? };
        Ok(Region::from_mmap(map))
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Extends the file from `from` to `to` bytes with allocated (not sparse) zeroed space,
/// so later writes into it never fail for lack of space.
#[cfg(target_os = "linux")]
fn allocate_range(file: &File, from: u64, to: u64) -> io::Result<()> {
    loop {
        // Safety: a plain system call on a descriptor the caller owns.
        let status = unsafe {
            libc::fallocate(
                file.as_raw_fd(),
                0,
                from as libc::off_t,
                (to - from) as libc::off_t,
            )
        };
        if status == 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EINTR) => continue,
            // Some file systems (tmpfs on old kernels, some network file systems) have no
            // fallocate: writing zeros allocates the space just as well, only slower.
            Some(libc::EOPNOTSUPP) => return write_zeros(file, from, to),
            _ => return Err(error),
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn allocate_range(file: &File, from: u64, to: u64) -> io::Result<()> {
    write_zeros(file, from, to)
}

/// Writes `len` bytes from `offset` with `write(at, len)` in pieces of
/// [`super::FillPace::CHUNK_BYTES`], each written out before the next, at most
/// `pace.bytes_per_sec`; stops with `Interrupted` once `pace` is cancelled.
fn paced(
    file: &File,
    offset: u64,
    len: u64,
    pace: &super::FillPace,
    mut write: impl FnMut(u64, u64) -> io::Result<()>,
) -> io::Result<()> {
    let started = std::time::Instant::now();
    let mut done = 0;
    while done < len {
        if pace.is_cancelled() {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "background write cancelled",
            ));
        }
        let piece = (len - done).min(super::FillPace::CHUNK_BYTES);
        write(offset + done, piece)?;
        write_out(file, offset + done, piece)?;
        done += piece;
        // Stay at or under the rate: sleep until this many bytes are due.
        let due =
            std::time::Duration::from_secs_f64(done as f64 / pace.bytes_per_sec.max(1) as f64);
        if let Some(ahead) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(ahead);
        }
    }
    Ok(())
}

/// Starts writeback of `len` bytes at `offset` and waits for it (`sync_file_range`): the
/// data reaches the device now, in a small piece, rather than all at once later. Not a
/// durability point (no metadata, no cache flush); the caller syncs at the end.
#[cfg(target_os = "linux")]
fn write_out(file: &File, offset: u64, len: u64) -> io::Result<()> {
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // Safety: a plain syscall on a descriptor this file owns.
    let status = unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            flags,
        )
    };
    if status == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn write_out(_file: &File, _offset: u64, _len: u64) -> io::Result<()> {
    Ok(())
}

/// Makes the calling thread a background one: the lowest CPU priority (nice 19, so the
/// scheduler gives it what the engine's own threads leave idle) and the idle I/O class
/// (see [`lower_io_priority`]). For work that must not take the cores or the disk from
/// the flows: preparing spares, copying out and writing snapshots. Best effort: what
/// the kernel refuses is logged at debug and the thread runs at the normal priority.
pub fn background_thread() {
    #[cfg(target_os = "linux")]
    {
        // Safety: gettid and setpriority on the calling thread.
        let status = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, 19)
        };
        if status != 0 {
            tracing::debug!(error = %io::Error::last_os_error(), "background thread keeps its CPU priority");
        }
    }
    if let Err(error) = lower_io_priority() {
        tracing::debug!(%error, "background thread keeps its I/O priority");
    }
}

/// Makes the calling thread's I/O a background one (the idle I/O class), keeping its CPU
/// priority: for work that must keep pace with the shards (an archive's writer: at the
/// lowest CPU priority it starved under full load, and settled requests piled up in
/// memory) but must not delay their syncs. Best effort, as [`background_thread`].
pub fn background_io_thread() {
    if let Err(error) = lower_io_priority() {
        tracing::debug!(%error, "background thread keeps its I/O priority");
    }
}

/// Asks the kernel to schedule the calling thread's I/O in the idle class: the block
/// layer serves it only when nothing else waits, so preparing a spare does not delay the
/// writer's syncs. Best effort (a scheduler without priorities ignores it).
fn lower_io_priority() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        const IOPRIO_WHO_PROCESS: libc::c_int = 1;
        const IOPRIO_CLASS_IDLE: libc::c_int = 3;
        const IOPRIO_CLASS_SHIFT: libc::c_int = 13;
        // Safety: ioprio_set on the calling thread (who 0) with a valid priority value.
        let status = unsafe {
            libc::syscall(
                libc::SYS_ioprio_set,
                IOPRIO_WHO_PROCESS,
                0,
                IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT,
            )
        };
        if status != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Writes zeros over `from..to`, 1 MiB per `pwrite`.
fn write_zeros(file: &File, from: u64, to: u64) -> io::Result<()> {
    const CHUNK_BYTES: u64 = 1 << 20;
    let zeros = vec![0u8; CHUNK_BYTES.min(to.saturating_sub(from)) as usize];
    let mut offset = from;
    while offset < to {
        let bytes = (to - offset).min(CHUNK_BYTES);
        file.write_all_at(&zeros[..bytes as usize], offset)?;
        offset += bytes;
    }
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Whether any extent of `file` is allocated but unwritten, asked with the FIEMAP
    /// ioctl; `None` when the file system cannot say.
    fn has_unwritten_extents(file: &File) -> Option<bool> {
        #[repr(C)]
        #[derive(Clone, Copy, Default)]
        struct FiemapExtent {
            logical: u64,
            physical: u64,
            length: u64,
            reserved64: [u64; 2],
            flags: u32,
            reserved: [u32; 3],
        }
        const EXTENTS: usize = 32;
        #[repr(C)]
        struct Fiemap {
            start: u64,
            length: u64,
            flags: u32,
            mapped_extents: u32,
            extent_count: u32,
            reserved: u32,
            extents: [FiemapExtent; EXTENTS],
        }
        // _IOWR('f', 11, struct fiemap): struct fiemap without its extents is 32 bytes.
        const FS_IOC_FIEMAP: u64 = 0xC020_660B;
        const FIEMAP_FLAG_SYNC: u32 = 0x1;
        const FIEMAP_EXTENT_LAST: u32 = 0x1;
        const FIEMAP_EXTENT_UNWRITTEN: u32 = 0x800;
        let mut start = 0u64;
        loop {
            let mut map = Fiemap {
                start,
                length: u64::MAX - start,
                flags: FIEMAP_FLAG_SYNC,
                mapped_extents: 0,
                extent_count: EXTENTS as u32,
                reserved: 0,
                extents: [FiemapExtent::default(); EXTENTS],
            };
            // Safety: `map` is a struct fiemap with room for `extent_count` extents.
            let status = unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_FIEMAP as _, &mut map) };
            if status != 0 || map.mapped_extents == 0 {
                return None;
            }
            let extents = &map.extents[..map.mapped_extents as usize];
            if extents
                .iter()
                .any(|extent| extent.flags & FIEMAP_EXTENT_UNWRITTEN != 0)
            {
                return Some(true);
            }
            let last = extents.last().expect("mapped_extents > 0");
            if last.flags & FIEMAP_EXTENT_LAST != 0 {
                return Some(false);
            }
            start = last.logical + last.length;
        }
    }

    #[test]
    fn zero_fill_writes_every_block_where_allocate_leaves_them_unwritten() {
        const BYTES: u64 = 4 << 20;
        let dir = tempfile::tempdir().unwrap();
        let storage = FileStorage::new(dir.path());
        let filled = storage.create("filled").unwrap();
        let cancelled = std::sync::atomic::AtomicBool::new(false);
        let pace = super::super::FillPace {
            bytes_per_sec: 1 << 30,
            cancelled: &cancelled,
        };
        filled.zero_fill(BYTES, &pace).unwrap();
        assert_eq!(filled.size_bytes().unwrap(), BYTES);
        assert!(filled.map().unwrap().iter().all(|byte| *byte == 0));

        // The difference only shows where the file system reports unwritten extents
        // (ext4, xfs); elsewhere there is nothing to compare.
        let allocated = storage.create("allocated").unwrap();
        allocated.allocate(BYTES).unwrap();
        let open = |name: &str| File::open(dir.path().join(name)).unwrap();
        if has_unwritten_extents(&open("allocated")) != Some(true) {
            eprintln!("skipped: this file system does not report unwritten extents");
            return;
        }
        assert_eq!(
            has_unwritten_extents(&open("filled")),
            Some(false),
            "a zero-filled file has no unwritten extent for a later fdatasync to convert"
        );
    }
}
