//! archive-eval: measure fjall, redb and an own mmap+rkyv run design as the on-disk archive of
//! settled requests. See RESULTS.md.
//!
//! archive-eval bench  --store fjall|redb|own --n 1000000   (runs the phases below as child processes)
//! archive-eval load|probe|crash|recover --store ... --n ...

mod common;
mod fjall_store;
mod own;
mod redb_store;

use common::*;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Debug)]
struct Cfg {
    phase: String,
    store: String,
    n: u64,
    batch: u64,
    days: u32,
    dir: PathBuf,
    cache_mb: u64,
    memtable_mb: u64,
    hits: u64,
    cold: u64,
    misses: u64,
    quick_repair: bool,
    validate: bool,
    fjall_flush_checkpoint: bool,
    fjall_fpr: Option<f32>,
    bloom_bits: u32,
    filter16: bool,
    hit_min: u64,
    tag: String,
    raw_args: Vec<String>,
}

fn parse() -> Cfg {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut c = Cfg {
        phase: args.first().cloned().unwrap_or_else(|| "bench".into()),
        store: "own".into(),
        n: 1_000_000,
        batch: 10_000,
        days: 30,
        dir: PathBuf::new(),
        cache_mb: 32,
        memtable_mb: 16,
        hits: 100_000,
        cold: 10_000,
        misses: 100_000,
        quick_repair: false,
        validate: true,
        fjall_flush_checkpoint: false,
        fjall_fpr: None,
        bloom_bits: 10,
        filter16: false,
        hit_min: 0,
        tag: String::new(),
        raw_args: args.iter().skip(1).cloned().collect(),
    };
    let mut dir = None;
    let mut i = 1;
    while i < args.len() {
        let a = args[i].as_str();
        let v = || args.get(i + 1).cloned().unwrap_or_default();
        match a {
            "--store" => c.store = v(),
            "--n" => c.n = v().replace('_', "").parse().unwrap(),
            "--batch" => c.batch = v().parse().unwrap(),
            "--days" => c.days = v().parse().unwrap(),
            "--dir" => dir = Some(PathBuf::from(v())),
            "--cache-mb" => c.cache_mb = v().parse().unwrap(),
            "--memtable-mb" => c.memtable_mb = v().parse().unwrap(),
            "--hits" => c.hits = v().parse().unwrap(),
            "--cold" => c.cold = v().parse().unwrap(),
            "--misses" => c.misses = v().parse().unwrap(),
            "--redb-quick-repair" => {
                c.quick_repair = true;
                i += 1;
                continue;
            }
            "--fjall-fpr" => c.fjall_fpr = Some(v().parse().unwrap()),
            "--bloom-bits" => c.bloom_bits = v().parse().unwrap(),
            "--hit-min" => c.hit_min = v().parse().unwrap(),
            "--tag" => c.tag = v(),
            "--filter16" => {
                c.filter16 = true;
                i += 1;
                continue;
            }
            "--fjall-flush-checkpoint" => {
                c.fjall_flush_checkpoint = true;
                i += 1;
                continue;
            }
            "--no-validate" => {
                c.validate = false;
                i += 1;
                continue;
            }
            _ => panic!("unknown flag {a}"),
        }
        i += 2;
    }
    c.dir = dir.unwrap_or_else(|| {
        let qr = if c.quick_repair && c.store == "redb" {
            "-qr"
        } else if c.fjall_flush_checkpoint && c.store == "fjall" {
            "-fc"
        } else {
            ""
        };
        let tag = if c.tag.is_empty() { String::new() } else { format!("-{}", c.tag) };
        PathBuf::from(format!("data/{}{}{}-{}", c.store, qr, tag, c.n))
    });
    c
}

enum Store {
    Fjall(fjall_store::FjallStore),
    Redb(redb_store::RedbStore),
    Own(own::OwnStore),
}

impl Store {
    fn open(c: &Cfg) -> Store {
        match c.store.as_str() {
            "fjall" => {
                let mut s = fjall_store::FjallStore::open(&c.dir, c.cache_mb << 20, c.memtable_mb << 20, c.fjall_fpr);
                s.flush_on_checkpoint = c.fjall_flush_checkpoint;
                Store::Fjall(s)
            }
            "redb" => {
                let per_day = (c.n.div_ceil(c.days as u64) as f64 * 1.05) as u64 + 1000;
                let mut s = redb_store::RedbStore::open(&c.dir, (c.cache_mb << 20) as usize, per_day, c.bloom_bits, c.quick_repair);
                s.prepare_reads();
                Store::Redb(s)
            }
            "own" => {
                let mut s = own::OwnStore::open(&c.dir, c.validate);
                s.filter16 = c.filter16;
                Store::Own(s)
            }
            s => panic!("unknown store {s}"),
        }
    }
    fn insert_batch(&mut self, b: &Batch, c: &Cfg) {
        match self {
            Store::Fjall(s) => s.insert_batch(b),
            Store::Redb(s) => s.insert_batch(b, c.quick_repair),
            Store::Own(s) => s.insert_batch(b),
        }
    }
    #[inline]
    fn get(&self, k: &Key) -> Option<Vec<u8>> {
        match self {
            Store::Fjall(s) => s.get(k),
            Store::Redb(s) => s.get(k),
            Store::Own(s) => s.get(k).map(|v| v.to_vec()),
        }
    }
    fn checkpoint(&mut self) {
        match self {
            Store::Fjall(s) => s.checkpoint(),
            Store::Redb(s) => s.checkpoint(),
            Store::Own(_) => {} // every run is durable when written
        }
    }
    fn settle(&mut self) {
        if let Store::Fjall(s) = self {
            s.settle()
        }
    }
    fn prepare_reads(&mut self) {
        if let Store::Redb(s) = self {
            s.prepare_reads()
        }
    }
    fn expire_through(&mut self, day: u32) {
        match self {
            Store::Fjall(s) => s.expire_through(day),
            Store::Redb(s) => s.expire_through(day),
            Store::Own(s) => s.expire_through(day),
        }
    }
    fn filter_bytes(&self) -> Option<u64> {
        match self {
            Store::Fjall(_) => None,
            Store::Redb(s) => Some(s.filter_bytes()),
            Store::Own(s) => Some(s.filter_bytes()),
        }
    }
    fn info(&self) -> String {
        match self {
            Store::Fjall(s) => s.info(),
            Store::Redb(s) => s.info(),
            Store::Own(s) => format!("runs={} merges={} merge_value_bytes={} written_bytes={}", s.run_count(), s.merges, s.merge_bytes, s.written_bytes),
        }
    }
}

struct Out {
    p: String,
}
impl Out {
    fn f(&self, name: &str, v: f64, unit: &str) {
        if v.abs() >= 100.0 || v == 0.0 {
            println!("{}_{}={:.0} {}", self.p, name, v, unit);
        } else {
            println!("{}_{}={:.3} {}", self.p, name, v, unit);
        }
    }
    fn s(&self, name: &str, v: &str) {
        println!("{}_{}={}", self.p, name, v);
    }
}

fn expected_value(i: u64, c: &Cfg) -> Vec<u8> {
    let k = key_of(i);
    let mut v = Vec::new();
    value_of(i, day_of(i, c.n, c.days), &k, &mut v);
    v
}

fn phase_load(c: &Cfg, o: &Out) {
    let _ = std::fs::remove_dir_all(&c.dir);
    std::fs::create_dir_all(&c.dir).unwrap();
    let mut b = Batch::with_capacity(c.batch as usize);
    b.fill(0, c.batch.min(c.n), c.n, c.days); // touch the generator's buffers before the baseline
    trim_heap();
    let r0 = rss();
    let mut st = Store::open(c);
    let t0 = Instant::now();
    let mut gen_ns = 0u128;
    let mut commit = Lat(Vec::new());
    let mut from = 0;
    while from < c.n {
        let to = (from + c.batch).min(c.n);
        let tg = Instant::now();
        b.fill(from, to, c.n, c.days);
        gen_ns += tg.elapsed().as_nanos();
        let tc = Instant::now();
        st.insert_batch(&b, c);
        commit.0.push(tc.elapsed().as_nanos() as u64);
        from = to;
    }
    st.checkpoint();
    let load_s = t0.elapsed().as_secs_f64() - gen_ns as f64 / 1e9;
    let ts = Instant::now();
    st.settle();
    let settle_ms = ts.elapsed().as_secs_f64() * 1e3;
    trim_heap();
    let r1 = rss();
    let n = c.n as f64;
    o.f("insert_per_sec", n / load_s, "records/s");
    o.f("load_seconds", load_s, "s");
    o.f("generator_seconds_excluded", gen_ns as f64 / 1e9, "s");
    o.f("batch_commit_p50", commit.pct(0.5) / 1000.0, "ms");
    o.f("batch_commit_p99", commit.pct(0.99) / 1000.0, "ms");
    o.f("batch_commit_max", commit.max() / 1000.0, "ms");
    o.f("settle_after_load_ms", settle_ms, "ms");
    o.f("rss_bytes_per_record_after_load", (r1.resident as f64 - r0.resident as f64) / n, "B/record");
    o.f("rss_anon_bytes_per_record_after_load", (r1.anon as f64 - r0.anon as f64) / n, "B/record");
    o.f("rss_file_bytes_per_record_after_load", (r1.file as f64 - r0.file as f64) / n, "B/record");
    o.f("rss_delta_after_load_mib", (r1.resident as f64 - r0.resident as f64) / 1048576.0, "MiB");
    if let Some(fb) = st.filter_bytes() {
        o.f("filter_bytes_per_record", fb as f64 / n, "B/record");
    }
    o.s("info_after_load", &st.info());
    let tc = Instant::now();
    drop(st);
    o.f("close_ms", tc.elapsed().as_secs_f64() * 1e3, "ms");
    let (app, alloc) = disk_usage(&c.dir);
    o.f("disk_bytes_per_record", alloc as f64 / n, "B/record");
    o.f("disk_apparent_bytes_per_record", app as f64 / n, "B/record");
    o.f("disk_total_mib", alloc as f64 / 1048576.0, "MiB");
    let jnl: u64 = std::fs::read_dir(&c.dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().map(|x| x == "jnl").unwrap_or(false))
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();
    if c.store == "fjall" {
        o.f("disk_journal_mib", jnl as f64 / 1048576.0, "MiB");
    }
}

fn phase_probe(c: &Cfg, o: &Out) {
    let n = c.n as f64;
    evict_page_cache(&c.dir);
    let (res0, tot0) = page_cache_resident(&c.dir);
    o.f("page_cache_resident_before_open_pct", 100.0 * res0 as f64 / tot0.max(1) as f64, "%");
    trim_heap();
    let r0 = rss();
    let io0 = proc_io();
    let t0 = Instant::now();
    let mut st = Store::open(c);
    st.prepare_reads();
    let open_ms = t0.elapsed().as_secs_f64() * 1e3;
    let io1 = proc_io();
    trim_heap();
    let r1 = rss();
    o.f("open_ms", open_ms, "ms");
    o.f("open_disk_read_mib", (io1.0 - io0.0) as f64 / 1048576.0, "MiB");
    o.f("rss_bytes_per_record_after_open", (r1.resident as f64 - r0.resident as f64) / n, "B/record");
    o.f("rss_anon_bytes_per_record_after_open", (r1.anon as f64 - r0.anon as f64) / n, "B/record");
    o.f("rss_file_bytes_per_record_after_open", (r1.file as f64 - r0.file as f64) / n, "B/record");
    o.f("rss_delta_after_open_mib", (r1.resident as f64 - r0.resident as f64) / 1048576.0, "MiB");
    o.s("info_after_open", &st.info());

    // cold-ish hits: page cache of the store files dropped with fadvise before open
    let mut lat = Lat(Vec::with_capacity(c.cold as usize));
    let mut bad = 0u64;
    let io_a = proc_io();
    for j in 0..c.cold {
        let i = c.hit_min + h(j, 777) % (c.n - c.hit_min);
        let k = key_of(i);
        let t = Instant::now();
        let v = st.get(&k);
        lat.0.push(t.elapsed().as_nanos() as u64);
        if v.as_deref() != Some(&expected_value(i, c)[..]) {
            bad += 1;
        }
    }
    let io_b = proc_io();
    o.f("lookup_hit_cold_p50", lat.pct(0.5), "us");
    o.f("lookup_hit_cold_p99", lat.pct(0.99), "us");
    o.f("lookup_hit_cold_max", lat.max(), "us");
    o.f("lookup_hit_cold_disk_read_bytes_per_lookup", (io_b.0 - io_a.0) as f64 / c.cold.max(1) as f64, "B");

    // warm hits (after one untimed pass over the same keys)
    let keys: Vec<u64> = (0..c.hits).map(|j| c.hit_min + h(j, 4242) % (c.n - c.hit_min)).collect();
    for &i in &keys {
        std::hint::black_box(st.get(&key_of(i)));
    }
    let mut lat = Lat(Vec::with_capacity(c.hits as usize));
    let io_a = proc_io();
    for &i in &keys {
        let k = key_of(i);
        let t = Instant::now();
        let v = st.get(&k);
        lat.0.push(t.elapsed().as_nanos() as u64);
        if v.as_deref() != Some(&expected_value(i, c)[..]) {
            bad += 1;
        }
    }
    let io_b = proc_io();
    o.f("lookup_hit_p50", lat.pct(0.5), "us");
    o.f("lookup_hit_p99", lat.pct(0.99), "us");
    o.f("lookup_hit_max", lat.max(), "us");
    o.f("lookup_hit_disk_read_bytes_per_lookup", (io_b.0 - io_a.0) as f64 / c.hits.max(1) as f64, "B");
    o.f("lookup_hit_syscall_read_bytes_per_lookup", (io_b.1 - io_a.1) as f64 / c.hits.max(1) as f64, "B");
    o.f("hit_mismatches", bad as f64, "count");

    // misses: unknown keys
    let mut lat = Lat(Vec::with_capacity(c.misses as usize));
    let mut found = 0u64;
    let io_a = proc_io();
    for j in 0..c.misses {
        let k = key_of(1_000_000_000 + j);
        let t = Instant::now();
        let v = st.get(&k);
        lat.0.push(t.elapsed().as_nanos() as u64);
        if v.is_some() {
            found += 1;
        }
    }
    let io_b = proc_io();
    o.f("lookup_miss_p50", lat.pct(0.5), "us");
    o.f("lookup_miss_p99", lat.pct(0.99), "us");
    o.f("lookup_miss_max", lat.max(), "us");
    o.f("lookup_miss_disk_read_bytes_per_lookup", (io_b.0 - io_a.0) as f64 / c.misses.max(1) as f64, "B");
    o.f("lookup_miss_syscall_read_bytes_per_lookup", (io_b.1 - io_a.1) as f64 / c.misses.max(1) as f64, "B");
    o.f("miss_false_found", found as f64, "count");

    let (res, tot) = page_cache_resident(&c.dir);
    o.f("page_cache_resident_after_lookups_pct", 100.0 * res as f64 / tot.max(1) as f64, "%");
    o.f("page_cache_resident_after_lookups_mib", res as f64 / 1048576.0, "MiB");
    trim_heap();
    let r2 = rss();
    o.f("rss_bytes_per_record_after_lookups", (r2.resident as f64 - r0.resident as f64) / n, "B/record");
    o.f("rss_anon_bytes_per_record_after_lookups", (r2.anon as f64 - r0.anon as f64) / n, "B/record");
    drop(st);

    // warm reopen (page cache now holds what the lookups touched)
    let t0 = Instant::now();
    let mut st = Store::open(c);
    st.prepare_reads();
    o.f("open_ms_warm", t0.elapsed().as_secs_f64() * 1e3, "ms");
    drop(st);
}

/// Open, write one more batch durably, then die without closing (abort).
fn phase_crash(c: &Cfg, o: &Out) {
    let mut st = Store::open(c);
    let mut b = Batch::with_capacity(c.batch as usize);
    b.fill(c.n, c.n + c.batch, c.n, c.days);
    for d in b.days.iter_mut() {
        *d = c.days - 1; // records of the newest day
    }
    st.insert_batch(&b, c);
    o.s("crash", "aborting after a durable batch");
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    std::process::abort();
}

fn phase_recover(c: &Cfg, o: &Out) {
    let t0 = Instant::now();
    let mut st = Store::open(c);
    st.prepare_reads();
    o.f("open_after_crash_ms", t0.elapsed().as_secs_f64() * 1e3, "ms");
    let crash_key = key_of(c.n + c.batch - 1);
    o.s("crash_batch_present", &st.get(&crash_key).is_some().to_string());
    let (_, before) = disk_usage(&c.dir);
    let day0_key = key_of(0);
    assert!(st.get(&day0_key).is_some());
    let t = Instant::now();
    st.expire_through(0);
    o.f("expire_day_ms", t.elapsed().as_secs_f64() * 1e3, "ms");
    st.prepare_reads();
    o.s("day0_key_after_expiry_present", &st.get(&day0_key).is_some().to_string());
    let last = c.n - 1;
    o.s("last_key_after_expiry_present", &st.get(&key_of(last)).is_some().to_string());
    st.settle();
    drop(st);
    let (_, after) = disk_usage(&c.dir);
    o.f("expire_freed_mib", (before as f64 - after as f64) / 1048576.0, "MiB");
}

fn main() {
    let c = parse();
    let suffix = if c.quick_repair && c.store == "redb" {
        "_qr"
    } else if c.fjall_flush_checkpoint && c.store == "fjall" {
        "_fc"
    } else {
        ""
    };
    let tag = if c.tag.is_empty() { String::new() } else { format!("_{}", c.tag) };
    let o = Out { p: c.store.clone() + suffix + &tag };
    match c.phase.as_str() {
        "load" => phase_load(&c, &o),
        "probe" => phase_probe(&c, &o),
        "crash" => phase_crash(&c, &o),
        "recover" => phase_recover(&c, &o),
        "bench" => {
            println!("# store={} n={} batch={} days={} cache_mb={} memtable_mb={} dir={}", c.store, c.n, c.batch, c.days, c.cache_mb, c.memtable_mb, c.dir.display());
            let exe = std::env::current_exe().unwrap();
            for ph in ["load", "probe", "crash", "recover"] {
                let t = Instant::now();
                let st = std::process::Command::new(&exe).arg(ph).args(&c.raw_args).status().unwrap();
                eprintln!("# phase {ph} took {:.1}s status {st}", t.elapsed().as_secs_f64());
                if ph != "crash" && !st.success() {
                    std::process::exit(1);
                }
            }
        }
        p => panic!("unknown phase {p}"),
    }
}
