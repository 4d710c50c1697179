// Over 600 lines: one runner (processes, load clients, kills, restarts, the checks after each) whose parts share its report and arguments; split it with its next change.
//! `omnibus-bench crash --cycles N`: kill -9 under load, with real processes (issue 11).
//!
//! ```text
//! cargo build --release
//! cargo run --release -p omnibus-bench -- crash --cycles 20 [--seed 1] [--clients 6]
//!     [--kill-min-ms 50] [--kill-max-ms 1500] [--fault-rate 0.01] [--check-every 0]
//!     [--omnibus target/release/omnibus] [--dir /tmp] [--keep]
//! ```
//!
//! The real `omnibus` binary (by default the one next to this executable, else
//! `--omnibus PATH`) is started with `serve --config F --listen 127.0.0.1:0 --data-dir D`
//! on a configuration written to a temporary directory: simulated rails with light faults
//! (`--fault-rate`) and short timeouts, supervisors every 100-200 ms with no minimum age,
//! so that a few seconds after the load stops every request-log entry is final.
//!
//! Each cycle:
//! 1. `--clients` threads send a mixed load over HTTP (one connection per request): open
//!    customers, charges, remittances within the usage limit, remittances over it (signing
//!    text, ed25519 signature, signed submission) and resubmissions of request numbers
//!    already answered;
//! 2. after a random delay (`--kill-min-ms`..`--kill-max-ms`) the server gets SIGKILL;
//! 3. it is restarted on the same data directory, and then:
//!    - the books must balance (`omnibus_books_sum_won` of `/metrics` is 0);
//!    - every outcome acknowledged since the previous restart, and a random sample
//!      (`--sample`) of the older ones, is looked up with `GET /v1/requests/{request_no}`
//!      (an opened customer with `GET /v1/customers/{id}`): it must be there, answered,
//!      with the same `told`;
//!    - every request whose connection the kill cut is resubmitted with the same request
//!      number and fields (an over-limit one signs a fresh text if its first was never
//!      submitted); it must be answered, and that answer is then acknowledged too.
//!
//! Every `--check-every` cycles (0: never) and after the last one, the run also waits for
//! the supervisors to settle every entry (`omnibus_request_log_entries_open` and
//! `omnibus_sagas_in_flight` all 0, at most `--settle-secs`) and reads
//! `GET /v1/reconciliation`: each distinct mismatch is a reconciliation break. After the
//! last cycle every acknowledged outcome is looked up, and no customer may be below zero.
//!
//! What counts as acknowledged: an HTTP 200 to `POST /v1/charges` or `POST /v1/remittances`
//! whose body carries `told` (`succeeded` or `failed`) for the request number sent, and a
//! 201/200 to `POST /v1/customers`. A 4xx or 503 answer is not an outcome (nothing was
//! accepted), and a request whose answer never arrived is unknown until its resubmission
//! is answered. A resubmission during the load of a request already acknowledged must
//! answer the same `told`; a different one, a refusal other than 503, a missing request
//! or a different `told` on lookup each count in `acknowledged_lost`.
//!
//! Figures (stdout): `crash_cycles`, `acknowledged_lost`, `reconciliation_breaks`, then
//! `books_unbalanced`, `resubmissions_unanswered`, `entries_open_after_settle`,
//! `negative_balances`, `acknowledged`, `acknowledged_failed`, `acknowledged_checks`,
//! `requests_sent`, `resubmitted`, `refused`, `restart_ms_mean`, `restart_ms_max`,
//! `duration_s`. The run exits non-zero, with the first examples on stderr, if any of the
//! first seven is not 0.
//! The run's directory (config, data, server log) is kept, and named on stderr, when the
//! run fails or with `--keep`.
//!
//! This file is also compiled into the root package's `tests/crash_cycles.rs` (CI runs a
//! short version there), so it uses only std and crates both packages depend on, and no
//! `crate::` paths.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Kill -9 and restart this many times.
    #[arg(long, default_value_t = 20)]
    pub cycles: u32,
    /// Seed of every random choice of the run (load mix, amounts, kill delays, samples, the
    /// simulators' faults). The interleaving of threads is not reproducible.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Client threads sending the load, one request at a time each.
    #[arg(long, default_value_t = 6)]
    pub clients: usize,
    /// Customers the load opens and spreads over.
    #[arg(long, default_value_t = 64)]
    pub customers: u64,
    /// The kill comes at a uniformly random moment this long after the load started.
    #[arg(long, default_value_t = 50)]
    pub kill_min_ms: u64,
    /// ... and at most this long after it started.
    #[arg(long, default_value_t = 1_500)]
    pub kill_max_ms: u64,
    /// Probability of each fault (FAIL, no answer and not executed, executed but answer
    /// lost) per call on the bank firm, securities firm and financial company rails.
    #[arg(long, default_value_t = 0.01)]
    pub fault_rate: f64,
    /// Older acknowledged outcomes looked up after each restart, besides every one
    /// acknowledged since the previous restart (after the last cycle: all of them).
    #[arg(long, default_value_t = 200)]
    pub sample: usize,
    /// Settle and reconcile every this many cycles too, not only after the last (0: only
    /// after the last).
    #[arg(long, default_value_t = 0)]
    pub check_every: u32,
    /// Longest wait for the supervisors to settle every entry.
    #[arg(long, default_value_t = 60)]
    pub settle_secs: u64,
    /// Shards of the server.
    #[arg(long, default_value_t = 2)]
    pub shards: u16,
    /// Snapshot a shard every this many WAL records (counted within one server's life),
    /// so that restarts load snapshots too, some of them cut short by the kill.
    #[arg(long, default_value_t = 1_000)]
    pub snapshot_every: u64,
    /// The `omnibus` binary (default: the one next to this executable).
    #[arg(long)]
    pub omnibus: Option<PathBuf>,
    /// Directory under which the run's temporary directory is made (default: the
    /// system's temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the run's directory (config, data, server log) even when the run passes.
    #[arg(long)]
    pub keep: bool,
}

/// Parses `crash` arguments (without the subcommand name), for callers other than the
/// command line, such as the CI test: defaults live only in the attributes above.
#[allow(dead_code)] // the binary parses its own command line; tests/crash_cycles.rs uses this
pub fn parse_args(argv: &[&str]) -> Result<Args, String> {
    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: Args,
    }
    use clap::Parser;
    Wrapper::try_parse_from(std::iter::once("crash").chain(argv.iter().copied()))
        .map(|w| w.args)
        .map_err(|e| e.to_string())
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    pub cycles: u32,
    /// Charge and remittance submissions sent (resubmissions included), and openings.
    pub requests_sent: u64,
    pub openings_sent: u64,
    /// Distinct acknowledged outcomes (requests and opened customers).
    pub acknowledged: u64,
    /// Acknowledged outcomes by what was told (`charge succeeded`, ...).
    pub acknowledged_by_kind: BTreeMap<String, u64>,
    /// Lookups of acknowledged outcomes after restarts (and resubmissions compared).
    pub acknowledged_checks: u64,
    pub acknowledged_lost: u64,
    /// Requests cut by a kill and resubmitted after the restart.
    pub resubmitted: u64,
    pub resubmissions_unanswered: u64,
    /// Answers that were not outcomes, by error code.
    pub refused: BTreeMap<String, u64>,
    /// Distinct reconciliation mismatches, and their count by log and kind.
    pub reconciliation_breaks: u64,
    pub breaks_by_kind: BTreeMap<String, u64>,
    pub books_checks: u64,
    pub books_unbalanced: u64,
    pub entries_open_after_settle: u64,
    pub negative_balances: u64,
    pub restart_ms: Vec<u64>,
    pub duration: Duration,
    /// The first examples of each kind of failure.
    pub lost_examples: Vec<String>,
    pub break_examples: Vec<String>,
    pub other_examples: Vec<String>,
    /// The run's directory (config, data, server log): deleted when the report is
    /// dropped, unless [`Report::keep_dir`] is called.
    pub run_dir: Option<tempfile::TempDir>,
}

impl Report {
    /// Whether anything other than reconciliation failed.
    pub fn outcomes_ok(&self) -> bool {
        self.acknowledged_lost == 0
            && self.books_unbalanced == 0
            && self.resubmissions_unanswered == 0
            && self.entries_open_after_settle == 0
            && self.negative_balances == 0
    }

    pub fn ok(&self) -> bool {
        self.outcomes_ok() && self.reconciliation_breaks == 0
    }

    /// Keeps the run's directory on disk, and says where it is on stderr.
    pub fn keep_dir(&mut self) -> Option<PathBuf> {
        let kept = self.run_dir.take()?.keep();
        eprintln!(
            "crash: run directory kept: {} (server.toml, data/, server.log)",
            kept.display()
        );
        Some(kept)
    }

    /// The first examples of every failure, one per line.
    pub fn examples(&self) -> String {
        let mut out = String::new();
        for (what, list) in [
            ("lost", &self.lost_examples),
            ("reconciliation", &self.break_examples),
            ("other", &self.other_examples),
        ] {
            for line in list {
                out += &format!("  {what}: {line}\n");
            }
        }
        out
    }
}

const EXAMPLES_MAX: usize = 10;
const PAYEE_BANK: &str = "088";
const PAYEE_ACCOUNT: &str = "220-33-44444";
const PAYEE_NAME: &str = "Crash Payee";
const LINKED_BANK: &str = "004";
/// How long one request may take before the client gives up on it (it is then unknown).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a start, a lookup or a resubmission may keep failing before the run stops.
const STEP_LIMIT: Duration = Duration::from_secs(30);

/// The command: runs, prints the figures, fails if anything was lost or broken.
pub fn run(args: Args) -> Result<(), String> {
    let mut report = run_cycles(&args)?;
    eprintln!("  acknowledged: {:?}", report.acknowledged_by_kind);
    if !report.breaks_by_kind.is_empty() {
        eprintln!("  reconciliation breaks: {:?}", report.breaks_by_kind);
    }
    print_figures(&report);
    if !report.ok() || args.keep {
        report.keep_dir();
    }
    if report.ok() {
        Ok(())
    } else {
        eprint!("{}", report.examples());
        Err(format!(
            "{} acknowledged outcomes lost, {} reconciliation breaks, {} unbalanced books checks, {} resubmissions unanswered, {} entries open after settling, {} customers below zero",
            report.acknowledged_lost,
            report.reconciliation_breaks,
            report.books_unbalanced,
            report.resubmissions_unanswered,
            report.entries_open_after_settle,
            report.negative_balances
        ))
    }
}

pub fn print_figures(r: &Report) {
    println!("crash_cycles={} cycles", r.cycles);
    println!("acknowledged_lost={} requests", r.acknowledged_lost);
    println!(
        "reconciliation_breaks={} mismatches",
        r.reconciliation_breaks
    );
    println!("books_unbalanced={} checks", r.books_unbalanced);
    println!(
        "resubmissions_unanswered={} requests",
        r.resubmissions_unanswered
    );
    println!(
        "entries_open_after_settle={} entries",
        r.entries_open_after_settle
    );
    println!("negative_balances={} customers", r.negative_balances);
    println!("acknowledged={} outcomes", r.acknowledged);
    let failed: u64 = r
        .acknowledged_by_kind
        .iter()
        .filter(|(k, _)| k.ends_with(" failed"))
        .map(|(_, n)| n)
        .sum();
    println!("acknowledged_failed={failed} outcomes");
    println!("acknowledged_checks={} lookups", r.acknowledged_checks);
    println!("requests_sent={} requests", r.requests_sent);
    println!("resubmitted={} requests", r.resubmitted);
    println!("refused={} requests", r.refused.values().sum::<u64>());
    let n = r.restart_ms.len().max(1) as u64;
    println!(
        "restart_ms_mean={} ms",
        r.restart_ms.iter().sum::<u64>() / n
    );
    println!(
        "restart_ms_max={} ms",
        r.restart_ms.iter().max().copied().unwrap_or(0)
    );
    println!("duration_s={:.1} s", r.duration.as_secs_f64());
}

/// The `omnibus` binary: `--omnibus`, else next to this executable.
fn omnibus_binary(args: &Args) -> Result<PathBuf, String> {
    let path = match &args.omnibus {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .map_err(|e| format!("cannot find this executable: {e}"))?
            .parent()
            .ok_or("this executable has no directory")?
            .join("omnibus"),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "no omnibus binary at {}: build it with `cargo build --release` (it lands next to omnibus-bench in target/release/), or pass --omnibus PATH",
            path.display()
        ))
    }
}

/// The server's configuration: every key not here is config.toml's default.
fn config_text(args: &Args) -> String {
    let f = args.fault_rate;
    let big = "opening = 100_000_000_000\nlow_mark = 10_000_000_000\ntarget = 100_000_000_000\nhigh_mark = 1_000_000_000_000\n";
    let mut text = format!(
        "[engine]\nshards = {shards}\n\
         [wal]\nsync = \"always\"\nsegment_bytes = 4_194_304\nbatch_bytes_max = 1_048_576\nsnapshot_every_records = {snap}\n\
         [parents.fin_parent]\n{big}[parents.deposit_firm]\n{big}\
         [supervisor]\nnon_reflected_interval_ms = 100\nwindow_min_age_ms = 0\nwindow_max_age_ms = 60_000\n\
         reprocess_interval_ms = 100\nrecovery_interval_ms = 100\nretry_backoff_min_ms = 10\nretry_backoff_max_ms = 200\nsweep_interval_ms = 200\n\
         [server]\nworkers = 2\nshutdown_timeout_ms = 1_000\n\
         [simulator]\nseed = {seed}\n",
        shards = args.shards,
        snap = args.snapshot_every,
        seed = args.seed,
    );
    for rail in ["bank_firm", "securities_firm", "financial_company"] {
        text += &format!(
            "[rails.{rail}]\ntimeout_ms = 200\nconfirm_timeout_ms = 200\n\
             [simulator.{rail}]\nlatency_us_min = 0\nlatency_us_max = 2_000\nfailure_rate = {f}\ntimeout_rate = {f}\nlost_response_rate = {f}\n"
        );
    }
    text += "[rails.authentication]\ntimeout_ms = 500\nconfirm_timeout_ms = 500\n";
    text
}

/// Runs the cycles and checks; `Err` only when the run could not go on (the server did
/// not start, died by itself, or stopped answering).
pub fn run_cycles(args: &Args) -> Result<Report, String> {
    if args.clients == 0 || args.customers == 0 || args.kill_max_ms < args.kill_min_ms {
        return Err(
            "--clients and --customers must be > 0, and --kill-max-ms >= --kill-min-ms".into(),
        );
    }
    let binary = omnibus_binary(args)?;
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
    let run_dir = tempfile::Builder::new()
        .prefix("omnibus-crash-")
        .tempdir_in(&base)
        .map_err(|e| format!("cannot make a directory under {}: {e}", base.display()))?;
    let mut run = Run::new(args, binary, run_dir.path())?;
    let outcome = run.all();
    let mut report = std::mem::take(&mut run.report);
    drop(run);
    report.run_dir = Some(run_dir);
    if let Err(e) = outcome {
        let kept = report.keep_dir();
        return Err(format!("{e} (run directory: {kept:?})"));
    }
    Ok(report)
}

/// A request of the load, with everything needed to send it again.
#[derive(Clone, Debug)]
enum Op {
    Open {
        customer: u64,
    },
    Charge {
        no: String,
        body: Value,
    },
    Remit {
        no: String,
        body: Value,
    },
    /// Over the usage limit; `signature` once a text was signed for it.
    Signed {
        customer: u64,
        no: String,
        body: Value,
        signature: Option<String>,
    },
}

impl Op {
    /// The key its outcome is recorded under.
    fn key(&self) -> String {
        match self {
            Op::Open { customer } => format!("customer {customer}"),
            Op::Charge { no, .. } | Op::Remit { no, .. } | Op::Signed { no, .. } => no.clone(),
        }
    }

    fn what(&self) -> &'static str {
        match self {
            Op::Open { .. } => "opening",
            Op::Charge { .. } => "charge",
            Op::Remit { .. } => "remittance",
            Op::Signed { .. } => "signed remittance",
        }
    }
}

/// What one attempt at a request got.
enum Attempt {
    /// An outcome: `succeeded`/`failed` (or `opened`).
    Answered(String),
    /// An answer that is not an outcome: status and error code.
    Refused(u16, String),
    /// No answer: the connection failed or was cut.
    Cut(String),
}

struct Acked {
    op: Op,
    told: String,
    cycle: u32,
}

/// What the clients know, shared between them.
#[derive(Default)]
struct Book {
    acked: Vec<Acked>,
    index: HashMap<String, usize>,
    /// Opened customers (acknowledged).
    customers: Vec<u64>,
    /// Requests whose answer never arrived, to resubmit after the restart.
    unknown: Vec<Op>,
}

struct Run<'a> {
    args: &'a Args,
    binary: PathBuf,
    config: PathBuf,
    data: PathBuf,
    log: PathBuf,
    date: String,
    book: Mutex<Book>,
    report: Report,
    report_shared: Mutex<SharedCounts>,
    next_customer: AtomicU64,
    /// Acknowledged outcomes before this index were checked after a restart.
    checked_upto: usize,
    breaks_seen: HashSet<String>,
}

/// Counters the client threads update.
#[derive(Default)]
struct SharedCounts {
    requests_sent: u64,
    openings_sent: u64,
    acknowledged_checks: u64,
    /// Keys of the acknowledged outcomes found lost (each counts once, however often
    /// it is found).
    lost: HashSet<String>,
    lost_examples: Vec<String>,
    refused: BTreeMap<String, u64>,
}

impl<'a> Run<'a> {
    fn new(args: &'a Args, binary: PathBuf, dir: &Path) -> Result<Self, String> {
        let config = dir.join("server.toml");
        std::fs::write(&config, config_text(args))
            .map_err(|e| format!("{}: {e}", config.display()))?;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_millis() as u64;
        // Today's date: requests dated further back than the idempotency retention would
        // be forgotten by the supervisors, and look lost.
        let date = omnibus_core::RequestDate::from_unix_ms(now_ms)
            .ok_or("the clock is outside the engine's dates")?
            .to_string();
        Ok(Run {
            args,
            binary,
            config,
            data: dir.join("data"),
            log: dir.join("server.log"),
            date,
            book: Mutex::new(Book::default()),
            report: Report::default(),
            report_shared: Mutex::new(SharedCounts::default()),
            next_customer: AtomicU64::new(1),
            checked_upto: 0,
            breaks_seen: HashSet::new(),
        })
    }

    fn all(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let result = self.cycles();
        self.report.duration = started.elapsed();
        let shared = std::mem::take(&mut *self.report_shared.lock().unwrap());
        self.report.requests_sent = shared.requests_sent;
        self.report.openings_sent = shared.openings_sent;
        self.report.acknowledged_checks += shared.acknowledged_checks;
        self.report.acknowledged_lost += shared.lost.len() as u64;
        self.report.lost_examples.extend(shared.lost_examples);
        self.report.lost_examples.truncate(EXAMPLES_MAX);
        self.report.refused = shared.refused;
        let book = self.book.lock().unwrap();
        self.report.acknowledged = book.acked.len() as u64;
        for a in &book.acked {
            *self
                .report
                .acknowledged_by_kind
                .entry(format!("{} {}", a.op.what(), a.told))
                .or_default() += 1;
        }
        result
    }

    fn cycles(&mut self) -> Result<(), String> {
        let mut server = self.start(0)?;
        for cycle in 1..=self.args.cycles {
            let stats = self.load_and_kill(&mut server, cycle)?;
            server = self.start(cycle)?;
            let last = cycle == self.args.cycles;
            let checked = self.after_restart(&server, cycle, last)?;
            self.report.cycles = cycle;
            eprintln!(
                "  cycle {cycle}/{}: killed after {} ms, {} sent, {} acknowledged, {} cut; restart {} ms; {checked} looked up, {} lost so far",
                self.args.cycles,
                stats.killed_after_ms,
                stats.sent,
                stats.acked,
                stats.cut,
                self.report.restart_ms.last().copied().unwrap_or(0),
                self.report_shared.lock().unwrap().lost.len(),
            );
        }
        server.stop();
        Ok(())
    }

    /// Starts the server on the run's data directory; waits for `/health`.
    fn start(&mut self, cycle: u32) -> Result<Server, String> {
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        let _ = writeln!(
            log,
            "===== omnibus-bench crash: start after cycle {cycle} ====="
        );
        let started = Instant::now();
        let server = Server::start(&self.binary, &self.config, &self.data, log, &self.log)?;
        self.report
            .restart_ms
            .push(started.elapsed().as_millis() as u64);
        Ok(server)
    }

    /// The load, until the kill.
    fn load_and_kill(&self, server: &mut Server, cycle: u32) -> Result<CycleStats, String> {
        let addr = server.addr;
        let stop = AtomicBool::new(false);
        let sent = AtomicU64::new(0);
        let acked = AtomicU64::new(0);
        let cut = AtomicU64::new(0);
        let mut rng = Rng::new(self.args.seed, cycle as u64, u64::MAX);
        let delay = rng.range(self.args.kill_min_ms, self.args.kill_max_ms);
        let killed = std::thread::scope(|scope| {
            for client in 0..self.args.clients {
                let (stop, sent, acked, cut) = (&stop, &sent, &acked, &cut);
                scope.spawn(move || {
                    let mut rng = Rng::new(self.args.seed, cycle as u64, client as u64);
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let no = format!("{cycle}-{client}-{n}");
                        let (mut op, resubmission) = self.choose(&mut rng, &no);
                        sent.fetch_add(1, Ordering::Relaxed);
                        match self.send(addr, &mut op) {
                            Attempt::Answered(told) => {
                                acked.fetch_add(1, Ordering::Relaxed);
                                self.record(op, told, cycle, "a resubmission");
                            }
                            Attempt::Refused(status, code) => {
                                if resubmission && status != 503 {
                                    self.lost(op.key(), format!(
                                        "{} {} (acknowledged before): resubmitted, answered {status} {code}",
                                        op.what(),
                                        op.key()
                                    ));
                                }
                                *self
                                    .report_shared
                                    .lock()
                                    .unwrap()
                                    .refused
                                    .entry(code)
                                    .or_default() += 1;
                            }
                            Attempt::Cut(_) => {
                                cut.fetch_add(1, Ordering::Relaxed);
                                if !resubmission {
                                    self.book.lock().unwrap().unknown.push(op);
                                }
                                // The server is gone (or stuck): wait for the kill.
                                while !stop.load(Ordering::Relaxed) {
                                    std::thread::sleep(Duration::from_millis(5));
                                }
                            }
                        }
                    }
                });
            }
            std::thread::sleep(Duration::from_millis(delay));
            let killed = server.kill();
            stop.store(true, Ordering::Relaxed);
            killed
        });
        killed.map_err(|e| format!("cycle {cycle}: {e}"))?;
        Ok(CycleStats {
            killed_after_ms: delay,
            sent: sent.into_inner(),
            acked: acked.into_inner(),
            cut: cut.into_inner(),
        })
    }

    /// The next request of the load. `true`: a resubmission of an acknowledged one.
    fn choose(&self, rng: &mut Rng, no: &str) -> (Op, bool) {
        let book = self.book.lock().unwrap();
        let roll = rng.below(100);
        let want_more = (book.customers.len() as u64) < self.args.customers;
        if book.customers.is_empty() || (want_more && roll < 5) {
            drop(book);
            let customer = self.next_customer.fetch_add(1, Ordering::Relaxed);
            return (Op::Open { customer }, false);
        }
        if roll >= 85 && !book.acked.is_empty() {
            let pick = &book.acked[rng.below(book.acked.len() as u64) as usize];
            return (pick.op.clone(), true);
        }
        let customer = book.customers[rng.below(book.customers.len() as u64) as usize];
        drop(book);
        let mut body = json!({
            "customer": customer,
            "request_date": self.date,
            "request_no": no,
        });
        let op = if roll < 40 {
            body["amount"] = json!((rng.range(1, 500) * 1_000).to_string());
            Op::Charge {
                no: no.to_owned(),
                body,
            }
        } else {
            body["payee_bank"] = json!(PAYEE_BANK);
            body["payee_account"] = json!(PAYEE_ACCOUNT);
            body["payee_name"] = json!(PAYEE_NAME);
            if roll < 73 {
                body["amount"] = json!((rng.range(1, 1_000) * 1_000).to_string());
                Op::Remit {
                    no: no.to_owned(),
                    body,
                }
            } else {
                body["amount"] = json!(rng.range(2_000_001, 2_600_000).to_string());
                Op::Signed {
                    customer,
                    no: no.to_owned(),
                    body,
                    signature: None,
                }
            }
        };
        (op, false)
    }

    /// Sends `op` once (an over-limit remittance: its signing text first, unless it has a
    /// signature already, or that signature's text is gone).
    fn send(&self, addr: SocketAddr, op: &mut Op) -> Attempt {
        let counts = |opening: bool| {
            let mut c = self.report_shared.lock().unwrap();
            if opening {
                c.openings_sent += 1;
            } else {
                c.requests_sent += 1;
            }
        };
        match op {
            Op::Open { customer } => {
                counts(true);
                let key = customer_key(self.args.seed, *customer);
                let body = json!({
                    "customer": *customer,
                    "linked_bank": LINKED_BANK,
                    "linked_account": format!("110-{customer}"),
                    "cert_serial": *customer,
                    "public_key": hex(&key.verifying_key().to_bytes()),
                });
                match call(addr, "POST", "/v1/customers", Some(&body)) {
                    Ok(a) if a.status == 200 || a.status == 201 => {
                        Attempt::Answered("opened".into())
                    }
                    Ok(a) => Attempt::Refused(a.status, a.code()),
                    Err(e) => Attempt::Cut(e.to_string()),
                }
            }
            Op::Charge { body, .. } => {
                counts(false);
                outcome(call(addr, "POST", "/v1/charges", Some(body)))
            }
            Op::Remit { body, .. } => {
                counts(false);
                outcome(call(addr, "POST", "/v1/remittances", Some(body)))
            }
            Op::Signed {
                customer,
                body,
                signature,
                ..
            } => {
                counts(false);
                if let Some(sig) = signature.as_ref() {
                    let mut signed = body.clone();
                    signed["signature"] = json!(sig);
                    signed["cert_serial"] = json!(*customer);
                    match outcome(call(addr, "POST", "/v1/remittances", Some(&signed))) {
                        // Never submitted, or not accepted before the restart (the texts
                        // live in memory): sign a fresh one.
                        Attempt::Refused(_, code)
                            if code == "no_signing_text" || code == "signing_text_expired" => {}
                        other => return other,
                    }
                }
                let text = match call(addr, "POST", "/v1/remittances/signing-text", Some(body)) {
                    Ok(a) if a.status == 200 => a.json()["text"].as_str().unwrap_or("").to_owned(),
                    Ok(a) => return Attempt::Refused(a.status, a.code()),
                    Err(e) => return Attempt::Cut(e.to_string()),
                };
                let key = customer_key(self.args.seed, *customer);
                let sig = hex(&key.sign(text.as_bytes()).to_bytes());
                *signature = Some(sig.clone());
                let mut signed = body.clone();
                signed["signature"] = json!(sig);
                signed["cert_serial"] = json!(*customer);
                outcome(call(addr, "POST", "/v1/remittances", Some(&signed)))
            }
        }
    }

    /// Records an outcome; one already acknowledged must be the same.
    fn record(&self, op: Op, told: String, cycle: u32, how: &str) {
        let mut book = self.book.lock().unwrap();
        let key = op.key();
        if let Some(&i) = book.index.get(&key) {
            let before = &book.acked[i];
            if before.told != told {
                let message = format!(
                    "{} {key}: acknowledged {} in cycle {}, {how} answered {told}",
                    op.what(),
                    before.told,
                    before.cycle
                );
                drop(book);
                self.lost(key, message);
            } else {
                drop(book);
                self.report_shared.lock().unwrap().acknowledged_checks += 1;
            }
            return;
        }
        if let Op::Open { customer } = op {
            book.customers.push(customer);
        }
        let i = book.acked.len();
        book.index.insert(key, i);
        book.acked.push(Acked { op, told, cycle });
    }

    fn lost(&self, key: String, message: String) {
        let mut c = self.report_shared.lock().unwrap();
        if c.lost.insert(key) && c.lost_examples.len() < EXAMPLES_MAX {
            c.lost_examples.push(message);
        }
    }

    fn other(&mut self, message: String) {
        if self.report.other_examples.len() < EXAMPLES_MAX {
            self.report.other_examples.push(message);
        }
    }

    /// The checks after a restart; answers how many outcomes were looked up.
    fn after_restart(&mut self, server: &Server, cycle: u32, last: bool) -> Result<usize, String> {
        let addr = server.addr;
        self.check_books(addr, cycle)?;
        // Every outcome acknowledged since the last restart, and a sample of older ones.
        let (len, mut picks) = {
            let book = self.book.lock().unwrap();
            (
                book.acked.len(),
                (self.checked_upto..book.acked.len()).collect::<Vec<_>>(),
            )
        };
        if self.checked_upto > 0 {
            let mut rng = Rng::new(self.args.seed, cycle as u64, u64::MAX - 1);
            for _ in 0..self.args.sample.min(self.checked_upto) {
                picks.push(rng.below(self.checked_upto as u64) as usize);
            }
        }
        self.check_acked(addr, &picks)?;
        self.checked_upto = len;
        let mut looked_up = picks.len();

        self.resubmit_unknown(addr, cycle);

        let reconcile = last || (self.args.check_every > 0 && cycle % self.args.check_every == 0);
        if reconcile {
            let open = self.settle(addr)?;
            if last {
                self.report.entries_open_after_settle = open;
                if open > 0 {
                    self.other(format!(
                        "{open} request-log entries or flows still open {} s after the load stopped",
                        self.args.settle_secs
                    ));
                }
            }
            self.reconcile(addr, cycle)?;
            self.check_books(addr, cycle)?;
        }
        if last {
            let all: Vec<usize> = (0..self.book.lock().unwrap().acked.len()).collect();
            looked_up += all.len();
            self.check_acked(addr, &all)?;
            self.check_balances(addr)?;
        }
        Ok(looked_up)
    }

    /// `omnibus_books_sum_won` must be 0.
    fn check_books(&mut self, addr: SocketAddr, cycle: u32) -> Result<(), String> {
        let metrics = get_ok(addr, "/metrics")?;
        let text = String::from_utf8_lossy(&metrics.body);
        let sum = metric_sum(&text, "omnibus_books_sum_won")
            .ok_or("/metrics has no omnibus_books_sum_won")?;
        self.report.books_checks += 1;
        if sum != 0.0 {
            self.report.books_unbalanced += 1;
            self.other(format!(
                "after the restart of cycle {cycle}: the books sum to {sum} won, not 0"
            ));
        }
        Ok(())
    }

    /// Looks the acknowledged outcomes at `picks` up, from `clients` threads.
    fn check_acked(&self, addr: SocketAddr, picks: &[usize]) -> Result<(), String> {
        let items: Vec<(Op, String, u32)> = {
            let book = self.book.lock().unwrap();
            picks
                .iter()
                .map(|&i| {
                    let a = &book.acked[i];
                    (a.op.clone(), a.told.clone(), a.cycle)
                })
                .collect()
        };
        let threads = self.args.clients.max(1);
        let chunk = items.len().div_ceil(threads).max(1);
        let errors: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = items
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || -> Result<(), String> {
                        for (op, told, cycle) in part {
                            self.check_one(addr, op, told, *cycle)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| {
                    h.join()
                        .unwrap_or(Err("a lookup thread panicked".into()))
                        .err()
                })
                .collect()
        });
        match errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn check_one(&self, addr: SocketAddr, op: &Op, told: &str, cycle: u32) -> Result<(), String> {
        let key = op.key();
        let path = match op {
            Op::Open { customer } => format!("/v1/customers/{customer}"),
            _ => format!("/v1/requests/{key}"),
        };
        let answer = get(addr, &path)?;
        self.report_shared.lock().unwrap().acknowledged_checks += 1;
        let problem = match (op, answer.status) {
            (Op::Open { .. }, 200) => None,
            (
                Op::Charge { body: sent, .. }
                | Op::Remit { body: sent, .. }
                | Op::Signed { body: sent, .. },
                200,
            ) => {
                let body = answer.json();
                let same = |field: &str| match (&body[field], &sent[field]) {
                    (Value::String(a), Value::String(b)) => a == b,
                    (Value::String(a), Value::Number(b)) => *a == b.to_string(),
                    _ => false,
                };
                match body["answer"]["told"].as_str() {
                    _ if !same("customer") || !same("amount") => {
                        Some(format!("is on record with other fields: {body}"))
                    }
                    Some(now) if now == told => None,
                    Some(now) => Some(format!("now answers {now}")),
                    None => Some(format!("is on record without an answer: {body}")),
                }
            }
            (_, status) => Some(format!("is missing: {status} {}", answer.code())),
        };
        if let Some(problem) = problem {
            self.lost(
                key.clone(),
                format!(
                    "{} {key}, acknowledged {told} in cycle {cycle}: {path} {problem}",
                    op.what()
                ),
            );
        }
        Ok(())
    }

    /// Resubmits every request the kill cut: each must be answered (retried while the
    /// answer is 503 or the connection fails, for at most `STEP_LIMIT`).
    fn resubmit_unknown(&mut self, addr: SocketAddr, cycle: u32) {
        let unknown = std::mem::take(&mut self.book.lock().unwrap().unknown);
        for mut op in unknown {
            self.report.resubmitted += 1;
            let deadline = Instant::now() + STEP_LIMIT;
            loop {
                match self.send(addr, &mut op) {
                    Attempt::Answered(told) => {
                        self.record(op, told, cycle, "its resubmission after the restart");
                        break;
                    }
                    Attempt::Refused(status, code) if status != 503 => {
                        // Not an outcome: the request was never accepted, and is refused
                        // now (a full parent account, say). Nothing was acknowledged.
                        *self
                            .report_shared
                            .lock()
                            .unwrap()
                            .refused
                            .entry(format!("{code} (resubmitted)"))
                            .or_default() += 1;
                        break;
                    }
                    Attempt::Refused(_, problem) | Attempt::Cut(problem) => {
                        if Instant::now() > deadline {
                            self.report.resubmissions_unanswered += 1;
                            let message = format!(
                                "{} {} cut by the kill of cycle {cycle}: its resubmission got no answer within {STEP_LIMIT:?} ({problem})",
                                op.what(),
                                op.key()
                            );
                            self.other(message);
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        }
    }

    /// Waits until no request-log entry and no flow is open; answers how many still are.
    fn settle(&mut self, addr: SocketAddr) -> Result<u64, String> {
        let deadline = Instant::now() + Duration::from_secs(self.args.settle_secs);
        loop {
            let metrics = get_ok(addr, "/metrics")?;
            let text = String::from_utf8_lossy(&metrics.body);
            let open = metric_sum(&text, "omnibus_request_log_entries_open").unwrap_or(0.0)
                + metric_sum(&text, "omnibus_sagas_in_flight").unwrap_or(0.0);
            if open == 0.0 || Instant::now() > deadline {
                return Ok(open as u64);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every distinct mismatch of `GET /v1/reconciliation` is a break.
    fn reconcile(&mut self, addr: SocketAddr, cycle: u32) -> Result<(), String> {
        let answer = get_ok(addr, "/v1/reconciliation")?;
        let report = answer.json();
        let logs = report["logs"]
            .as_array()
            .ok_or_else(|| format!("/v1/reconciliation is not a report: {report}"))?;
        let mut now = 0;
        for log in logs {
            for m in log["mismatches"].as_array().into_iter().flatten() {
                now += 1;
                let key = format!("{} {} {} {}", m["log"], m["kind"], m["entry"], m["attempt"]);
                if self.breaks_seen.insert(key) {
                    self.report.reconciliation_breaks += 1;
                    let kind = format!(
                        "{} {}",
                        m["log"].as_str().unwrap_or("?"),
                        m["kind"].as_str().unwrap_or("?")
                    );
                    *self.report.breaks_by_kind.entry(kind).or_default() += 1;
                    if self.report.break_examples.len() < EXAMPLES_MAX {
                        self.report
                            .break_examples
                            .push(format!("after the restart of cycle {cycle}: {m}"));
                    }
                }
            }
        }
        eprintln!(
            "  reconciliation after cycle {cycle}: {now} mismatches{}",
            if self.report.breaks_by_kind.is_empty() {
                String::new()
            } else {
                format!(" (so far, distinct: {:?})", self.report.breaks_by_kind)
            }
        );
        Ok(())
    }

    /// No customer below zero.
    fn check_balances(&mut self, addr: SocketAddr) -> Result<(), String> {
        let customers = self.book.lock().unwrap().customers.clone();
        for customer in customers {
            let answer = get(addr, &format!("/v1/customers/{customer}"))?;
            if answer.status != 200 {
                // A customer the server lost is counted by the lookups already.
                continue;
            }
            let body = answer.json();
            let balance: i128 = body["balance"]
                .as_str()
                .and_then(|b| b.parse().ok())
                .ok_or_else(|| format!("customer {customer}: no balance in {body}"))?;
            if balance < 0 {
                self.report.negative_balances += 1;
                self.other(format!("customer {customer} holds {balance} won"));
            }
        }
        Ok(())
    }
}

struct CycleStats {
    killed_after_ms: u64,
    sent: u64,
    acked: u64,
    cut: u64,
}

/// The outcome of a charge or remittance answer.
fn outcome(answer: std::io::Result<Answer>) -> Attempt {
    match answer {
        Ok(a) if a.status == 200 => match a.json()["told"].as_str() {
            Some(told @ ("succeeded" | "failed")) => Attempt::Answered(told.to_owned()),
            _ => Attempt::Refused(200, format!("answer without told: {}", a.text())),
        },
        Ok(a) => Attempt::Refused(a.status, a.code()),
        Err(e) => Attempt::Cut(e.to_string()),
    }
}

/// A running `omnibus serve`.
struct Server {
    child: Option<Child>,
    addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    fn start(
        binary: &Path,
        config: &Path,
        data: &Path,
        log: File,
        log_path: &Path,
    ) -> Result<Server, String> {
        let mut child = Command::new(binary)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        // Reads the address, then keeps draining stdout until the process exits.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("omnibus: listening on http://") {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let mut server = Server {
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log: log_path.to_owned(),
        };
        let addr = rx.recv_timeout(STEP_LIMIT).map_err(|_| {
            format!(
                "omnibus serve printed no address within {STEP_LIMIT:?} (or exited); the end of its log:\n{}",
                log_tail(&server.log)
            )
        })?;
        server.addr = addr
            .parse()
            .map_err(|e| format!("omnibus serve printed a bad address {addr:?}: {e}"))?;
        let deadline = Instant::now() + STEP_LIMIT;
        loop {
            match call(server.addr, "GET", "/health", None) {
                Ok(a) if a.status == 200 => return Ok(server),
                _ if Instant::now() > deadline => {
                    return Err(format!(
                        "/health did not answer 200 within {STEP_LIMIT:?}; the end of the log:\n{}",
                        log_tail(&server.log)
                    ))
                }
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// SIGKILL, after making sure the server did not exit by itself.
    fn kill(&mut self) -> Result<(), String> {
        let mut child = self.child.take().ok_or("the server is not running")?;
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "the server exited by itself ({status}) before the kill; the end of its log:\n{}",
                log_tail(&self.log)
            ));
        }
        // std's kill is SIGKILL on Unix: no destructor, flush or sync runs in the server.
        child
            .kill()
            .map_err(|e| format!("cannot kill the server: {e}"))?;
        child
            .wait()
            .map_err(|e| format!("cannot wait for the server: {e}"))?;
        Ok(())
    }

    fn stop(mut self) {
        let _ = self.kill();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// An HTTP answer.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The API's error code, else `http_<status>`.
    fn code(&self) -> String {
        match self.json()["error"]["code"].as_str() {
            Some(code) => code.to_owned(),
            None => format!("http_{}", self.status),
        }
    }
}

/// A GET retried while the connection fails or the answer is 503, for `STEP_LIMIT`.
fn get(addr: SocketAddr, path: &str) -> Result<Answer, String> {
    let deadline = Instant::now() + STEP_LIMIT;
    loop {
        let problem = match call(addr, "GET", path, None) {
            Ok(a) if a.status != 503 => return Ok(a),
            Ok(a) => a.code(),
            Err(e) => e.to_string(),
        };
        if Instant::now() > deadline {
            return Err(format!(
                "GET {path}: no answer within {STEP_LIMIT:?}: {problem}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn get_ok(addr: SocketAddr, path: &str) -> Result<Answer, String> {
    let a = get(addr, path)?;
    if a.status == 200 {
        Ok(a)
    } else {
        Err(format!("GET {path} answered {}: {}", a.status, a.text()))
    }
}

/// One request on its own connection (`Connection: close`), blocking.
fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    stream.set_nodelay(true)?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if method == "POST" {
        head += &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    head += "\r\n";
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    stream.write_all(&bytes)?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other(
                "the connection closed inside the head",
            ));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name == "content-length" {
                length = Some(value.parse::<usize>().map_err(std::io::Error::other)?);
            } else if name == "transfer-encoding" && value.contains("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            if reader.read_line(&mut size)? == 0 {
                return Err(std::io::Error::other(
                    "the connection closed inside a chunk",
                ));
            }
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(std::io::Error::other)?;
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = length {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    } else {
        reader.read_to_end(&mut body)?;
    }
    Ok(Answer { status, body })
}

/// The sum of every sample of a metric in Prometheus text (all its label sets).
fn metric_sum(text: &str, name: &str) -> Option<f64> {
    let mut sum = None;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            continue;
        }
        let value: f64 = rest.rsplit(' ').next()?.parse().ok()?;
        sum = Some(sum.unwrap_or(0.0) + value);
    }
    sum
}

/// A customer's signature key, the same for the same seed.
fn customer_key(seed: u64, customer: u64) -> SigningKey {
    let mut rng = Rng::new(seed, customer, 0x6b65_7973);
    let mut bytes = [0u8; 32];
    for part in bytes.chunks_mut(8) {
        part.copy_from_slice(&rng.next().to_le_bytes());
    }
    SigningKey::from_bytes(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SplitMix64: small, and the same sequence for the same seed on every platform and
/// version (unlike `rand`'s `StdRng`).
struct Rng(u64);

impl Rng {
    fn new(seed: u64, a: u64, b: u64) -> Self {
        let mut rng = Rng(seed);
        let x = rng.next() ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = Rng(x);
        Rng(rng.next() ^ b.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_sums_add_every_label_set_and_skip_longer_names() {
        let text = "# HELP x\nomnibus_books_sum_won 0\nomnibus_request_log_entries_open{shard=\"0\",state=\"UNKNOWN\"} 2\n\
                    omnibus_request_log_entries_open{shard=\"1\",state=\"REQUESTED\"} 3\nomnibus_request_log_entries_open_x 9\n";
        assert_eq!(metric_sum(text, "omnibus_books_sum_won"), Some(0.0));
        assert_eq!(
            metric_sum(text, "omnibus_request_log_entries_open"),
            Some(5.0)
        );
        assert_eq!(metric_sum(text, "omnibus_sagas_in_flight"), None);
    }

    #[test]
    fn the_rng_is_the_same_for_the_same_seed() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(7, 1, 2).next()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::new(7, 1, 2).next(), Rng::new(7, 1, 3).next());
        let mut r = Rng::new(1, 0, 0);
        assert!((0..1000)
            .map(|_| r.range(5, 9))
            .all(|x| (5..=9).contains(&x)));
    }

    #[test]
    fn defaults_parse() {
        let args = parse_args(&["--cycles", "3"]).unwrap();
        assert_eq!((args.cycles, args.clients), (3, 6));
    }
}
