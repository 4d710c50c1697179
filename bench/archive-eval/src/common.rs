//! Deterministic workload generator, key hashing, and process/file measurement helpers.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

pub const KEY_LEN: usize = 28;
pub type Key = [u8; KEY_LEN];

pub const SEED: u64 = 0x00A1_C4E1_5EED_2026;
pub const CUSTOMERS: u64 = 1_000_000;

#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[inline]
pub fn h(i: u64, lane: u64) -> u64 {
    mix64(SEED ^ mix64(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ lane.wrapping_mul(0xD1B5_4A32_D192_ED03)))
}

const ALNUM: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const B36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Key of record `i`: customer (u64 BE) + request_no (8..=20 ASCII bytes, zero padded to 20).
/// request_no = 'R' + base36(i) in 6 chars + random alnum fill, so keys are unique per i.
pub fn key_of(i: u64) -> Key {
    let mut k = [0u8; KEY_LEN];
    let cust = h(i, 1) % CUSTOMERS;
    k[..8].copy_from_slice(&cust.to_be_bytes());
    let len = 8 + (h(i, 2) % 13) as usize; // 8..=20
    k[8] = b'R';
    let mut x = i;
    for j in (9..15).rev() {
        k[j] = B36[(x % 36) as usize];
        x /= 36;
    }
    let mut r = h(i, 3);
    for j in 15..8 + len {
        k[j] = ALNUM[(r % 62) as usize];
        r /= 62;
        if r < 62 {
            r = h(i, 100 + j as u64);
        }
    }
    k
}

/// Number of final entries (2..=4) of record i; value length = 76 + 48*entries (172/220/268, mean 220).
#[inline]
pub fn entries_of(i: u64) -> usize {
    2 + (h(i, 5) % 3) as usize
}

/// ~220-byte value standing in for an rkyv-encoded settled request with 2-4 final entries:
/// header fields, request_no, then entries (account, amount, currency, timestamp, flags) with
/// the zero high bytes and padding such an encoding has.
pub fn value_of(i: u64, day: u32, key: &Key, out: &mut Vec<u8>) {
    let n = entries_of(i);
    let start = out.len();
    out.extend_from_slice(&key[..8]); // customer
    out.extend_from_slice(&i.to_le_bytes()); // request id
    out.extend_from_slice(&day.to_le_bytes());
    out.extend_from_slice(&(h(i, 6) % 4).to_le_bytes()[..4]); // status
    out.extend_from_slice(&key[8..28]); // request_no
    out.extend_from_slice(&(1_700_000_000_000u64 + i * 17).to_le_bytes()); // accepted_at
    out.extend_from_slice(&(1_700_000_000_000u64 + i * 17 + h(i, 7) % 5000).to_le_bytes()); // settled_at
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend_from_slice(&[0u8; 8]); // reserved / rkyv relative pointer
    out.extend_from_slice(&(h(i, 8) % 1_000_000_000).to_le_bytes()); // total amount
    debug_assert_eq!(out.len() - start, 76);
    for e in 0..n as u64 {
        out.extend_from_slice(&(h(i, 10 + e) % 200_000).to_le_bytes()); // account id
        out.extend_from_slice(&(h(i, 20 + e) % 100_000_000).to_le_bytes()); // amount minor units
        out.extend_from_slice(b"EUR\0");
        out.extend_from_slice(&(e as u32).to_le_bytes()); // entry no
        out.extend_from_slice(&(1_700_000_000_000u64 + i * 17 + e).to_le_bytes()); // ts
        out.extend_from_slice(&((h(i, 30 + e) & 0xff) as u32).to_le_bytes()); // flags
        out.extend_from_slice(&[0u8; 12]); // padding
    }
    debug_assert_eq!(out.len() - start, 76 + 48 * n);
}

#[inline]
pub fn day_of(i: u64, n: u64, days: u32) -> u32 {
    ((i as u128 * days as u128) / n as u128) as u32
}

/// 64-bit hash of a fixed-width key, for the in-memory filters.
#[inline]
pub fn key_hash(k: &Key) -> u64 {
    let w0 = u64::from_le_bytes(k[0..8].try_into().unwrap());
    let w1 = u64::from_le_bytes(k[8..16].try_into().unwrap());
    let w2 = u64::from_le_bytes(k[16..24].try_into().unwrap());
    let w3 = u32::from_le_bytes(k[24..28].try_into().unwrap()) as u64;
    let mut x = mix64(w0 ^ 0x51_7cc1_b727_220a);
    x = mix64(x ^ w1);
    x = mix64(x ^ w2);
    mix64(x ^ w3 ^ 0x9E37_79B9_7F4A_7C15)
}

/// One flushed batch; buffers reused so the generator's memory is constant.
pub struct Batch {
    pub keys: Vec<Key>,
    pub days: Vec<u32>,
    pub offs: Vec<u32>, // len = keys.len() + 1
    pub vals: Vec<u8>,
}

impl Batch {
    pub fn with_capacity(n: usize) -> Self {
        Batch {
            keys: Vec::with_capacity(n),
            days: Vec::with_capacity(n),
            offs: Vec::with_capacity(n + 1),
            vals: Vec::with_capacity(n * 280),
        }
    }
    pub fn fill(&mut self, from: u64, to: u64, n: u64, days: u32) {
        self.keys.clear();
        self.days.clear();
        self.offs.clear();
        self.vals.clear();
        self.offs.push(0);
        for i in from..to {
            let k = key_of(i);
            let d = day_of(i, n, days);
            value_of(i, d, &k, &mut self.vals);
            self.keys.push(k);
            self.days.push(d);
            self.offs.push(self.vals.len() as u32);
        }
    }
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    pub fn val(&self, j: usize) -> &[u8] {
        &self.vals[self.offs[j] as usize..self.offs[j + 1] as usize]
    }
}

// ---------- measurement ----------

pub fn page_size() -> u64 {
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as u64 }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Rss {
    pub resident: u64, // bytes (statm field 2)
    pub shared: u64,   // bytes (statm field 3: file-backed resident)
    pub anon: u64,     // RssAnon from /proc/self/status
    pub file: u64,     // RssFile
}

pub fn rss() -> Rss {
    let ps = page_size();
    let statm = fs::read_to_string("/proc/self/statm").unwrap();
    let f: Vec<u64> = statm.split_whitespace().map(|x| x.parse().unwrap()).collect();
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let mut anon = 0;
    let mut file = 0;
    for line in status.lines() {
        let kb = |l: &str| -> u64 { l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024 };
        if line.starts_with("RssAnon:") {
            anon = kb(line);
        } else if line.starts_with("RssFile:") {
            file = kb(line);
        }
    }
    Rss { resident: f[1] * ps, shared: f[2] * ps, anon, file }
}

/// Return freed heap to the OS so RSS reflects live memory (applied to every candidate alike).
pub fn trim_heap() {
    unsafe {
        libc::malloc_trim(0);
    }
}

/// (read_bytes from storage, rchar via read syscalls) from /proc/self/io
pub fn proc_io() -> (u64, u64) {
    let s = fs::read_to_string("/proc/self/io").unwrap_or_default();
    let mut rb = 0;
    let mut rc = 0;
    for l in s.lines() {
        if let Some(v) = l.strip_prefix("read_bytes: ") {
            rb = v.trim().parse().unwrap_or(0);
        } else if let Some(v) = l.strip_prefix("rchar: ") {
            rc = v.trim().parse().unwrap_or(0);
        }
    }
    (rb, rc)
}

pub fn walk_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            let md = match fs::symlink_metadata(&p) {
                Ok(m) => m,
                Err(_) => continue,
            };
            if md.is_dir() {
                walk_files(&p, out);
            } else if md.is_file() {
                out.push(p);
            }
        }
    }
}

/// (apparent bytes, allocated bytes)
pub fn disk_usage(dir: &Path) -> (u64, u64) {
    let mut files = Vec::new();
    walk_files(dir, &mut files);
    let mut app = 0;
    let mut alloc = 0;
    for f in files {
        if let Ok(m) = fs::metadata(&f) {
            app += m.len();
            alloc += m.blocks() * 512;
        }
    }
    (app, alloc)
}

/// Bytes of the files under `dir` resident in the page cache (mincore), and total bytes.
pub fn page_cache_resident(dir: &Path) -> (u64, u64) {
    let mut files = Vec::new();
    walk_files(dir, &mut files);
    let ps = page_size() as usize;
    let mut res = 0u64;
    let mut total = 0u64;
    for f in files {
        let file = match fs::File::open(&f) {
            Ok(x) => x,
            Err(_) => continue,
        };
        let len = file.metadata().map(|m| m.len() as usize).unwrap_or(0);
        if len == 0 {
            continue;
        }
        total += len as u64;
        unsafe {
            let p = libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0);
            if p == libc::MAP_FAILED {
                continue;
            }
            let pages = len.div_ceil(ps);
            let mut v = vec![0u8; pages];
            if libc::mincore(p, len, v.as_mut_ptr()) == 0 {
                res += v.iter().filter(|b| **b & 1 == 1).count() as u64 * ps as u64;
            }
            libc::munmap(p, len);
        }
    }
    (res.min(total), total)
}

/// Drop the clean page-cache pages of every file under `dir` (posix_fadvise DONTNEED).
/// The closest thing to dropping the page cache that needs no privilege; pages mapped by a
/// live process are not dropped.
pub fn evict_page_cache(dir: &Path) {
    let mut files = Vec::new();
    walk_files(dir, &mut files);
    for f in files {
        if let Ok(file) = fs::File::open(&f) {
            unsafe {
                libc::fdatasync(file.as_raw_fd());
                libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
            }
        }
    }
}

pub fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

pub struct Lat(pub Vec<u64>); // nanoseconds

impl Lat {
    pub fn pct(&mut self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.sort_unstable();
        let idx = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        self.0[idx] as f64 / 1000.0
    }
    pub fn max(&self) -> f64 {
        *self.0.iter().max().unwrap_or(&0) as f64 / 1000.0
    }
}
