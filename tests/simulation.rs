// Over 600 lines: the simulation is one workload, one set of fault-injecting rails and one set of invariant checks that read each other.
//! The deterministic simulation (issue 6, issue 11 items 1 and 15): one seed drives a
//! random workload (opens, charges, remittances under and over the usage limit, deficits,
//! duplicates) against simulated rails that fail, time out and lose responses at random,
//! and crashes and restarts the engine at random points. Then the rails heal, the
//! supervisors run to quiescence, and SPEC §6 is checked, on the engine's books and on the
//! rails' truth:
//!
//! 1. conservation: the engine's books sum to zero, the outside world's money is
//!    unchanged, and every account both sides book agrees (customers, linked accounts,
//!    every parent account, settlement sweeps included); each customer's balance and
//!    linked account are exactly the sum of the postings of its requests' SUCCESS entries
//!    (nothing moves but through an entry);
//! 2. no customer balance below zero;
//! 3. one request executed at most once at any rail; resubmitting returns the original
//!    outcome;
//! 4. every request-log entry final, nothing owed, every request settled for good; every
//!    failed deposit recovered; and every withdrawal from `linked` (A1 at SUCCESS, in the
//!    books and executed at the bank) ends credited (A2) or refunded, never both nor
//!    neither, whatever the customer was told;
//! 5. every outcome reported to a caller still true after every crash;
//! 6. the reconciliation report clean: every request log agrees with its rail's statement;
//! 7. every answer is one the SPEC §4 table gives (see [`check_answer`]): a failure always
//!    has a reason, and names as its cause a step that had not succeeded when it was told,
//!    unless it timed out (and was confirmed done later) or is a deficit credit left to
//!    reprocessing;
//! 8. a request refused for a short parent slice (`parent_slice_short`) moved nothing: no
//!    entry, no call, no posting;
//! 9. sales (issue 14; off with `OMNIBUS_SIM_SALES=off`): a sale done is approved, or was
//!    declined and is reversed exactly once (D-0.2); one told failed leaves nothing with
//!    the merchant; every merchant account is never below zero, agrees with the securities
//!    firm, and is exactly what its sales and reversals moved (INSTRUMENTS.md §6.7,
//!    invariants 3 and 5);
//! 10. card payments, cancels, refunds and flow B checkouts (`sim/cards.rs`): see its
//!     notes (§6.7 invariants 1, 2, 3 and 6);
//! 12. division payments, with their top-ups, cancels and refunds (`sim/divisions.rs`):
//!     see its notes (§6.7 invariants 1, 3 and 4, the budgets);
//! 13. the virtual-account relay (`sim/deposits.rs`): leases, payers' deposits whose
//!     notices are lost, late or duplicated, cancels, expiries, and the reconciliation
//!     with the bank's statement; see its notes (§6.7 invariant 4);
//! 11. days (`sim/days.rs`): the engine's clock moves forward by hours now and then, so
//!     daily payouts run D+1 and next-day statements fall due among the faults and
//!     crashes; every statement due is delivered once, and each card's days chain to
//!     its pocket's balance.
//!
//! Even seeds move every settled request to the shard's on-disk archive at once (issue
//! 13), so the checks above also read requests back from there, across crashes.
//!
//! Seeds divisible by 3 run with small parent slices (`fin_parent` and the deposit firm
//! accounts, sized from the seed) that charges and remittances drain between sweeps, so
//! that requests are refused with `parent_slice_short`; the others with the roomy slices
//! the simulation always had (`OMNIBUS_SIM_PARENTS=short|roomy|mixed` overrides).
//!
//! `OMNIBUS_SIM_PACE=slow|mixed` runs seeds (all, or those that leave 1 divided by 4) on
//! slow rails (answers after up to tens of ms, some after the engine's timeout) with a
//! caller deadline of a few ms, so flows run on behind their answers, concurrently with
//! the next operations and the crashes; see [`Pace`]. Off by default until the engine bug
//! it found is fixed (the ignored test at the end).
//!
//! Environment:
//! - `OMNIBUS_SIM_SEEDS=N` runs seeds 1..=N (default 200, for CI); `A..B` (or `A..=B`) a
//!   range; `OMNIBUS_SIM_FROM=A` with `OMNIBUS_SIM_SEEDS=N` runs A..A+N;
//! - `OMNIBUS_SIM_SEED=S` replays one seed;
//! - `OMNIBUS_SIM_OPS=N` sets the operations per seed (default 120);
//! - `OMNIBUS_SIM_THREADS=T` runs T seeds at once (default: the machine's cores). A seed
//!   mostly waits (rail timeouts, log syncs), so more threads than cores still help.
//!
//! Every seed runs whatever the others did; progress goes to stderr every 100 seeds, then
//! one summary line, then every failing seed with its replay command. The operations, the
//! faults (drawn from the seed and each call's request id) and the crash points are the
//! same on every run of a seed; which background work (a recovery, a late continuation) a
//! crash cuts short depends on thread timing.
//!
//! The seeds that failed in issue 11 (item 15) are named regression tests below, on the
//! roomy slices they failed with.

#[path = "sim/cards.rs"]
mod cards;
#[path = "sim/days.rs"]
mod days;
#[path = "sim/deposits.rs"]
mod deposits;
#[path = "sim/divisions.rs"]
mod divisions;
mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use omnibus_actors::rails::sim::{Operation, Rail, Simulator};
use omnibus_actors::{
    Clock, Engine, EngineError, EngineParts, Outcome, RequestView, SaleRequest, SupervisionReport,
};
use omnibus_core::config::SimulatedRailConfig;
use omnibus_core::ids::MerchantNo;
use omnibus_core::instruments::{first_step, remit_step};
use omnibus_core::ledger::settled_outcome;
use omnibus_core::ledger::RequestState;
use omnibus_core::payments::merchant::InstrumentType;
use omnibus_core::request_log::{EntryState, Step, Told};
use omnibus_core::saga::Settled;
use omnibus_core::saga::{Reason, RequestKind};
use omnibus_core::{AccountId, Config, CustomerId, Money, RequestNo};
use rand::{rngs::StdRng, Rng, SeedableRng};
use support::*;

/// The parent accounts a seed runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parents {
    /// Parent accounts small enough that sweeps run during a seed: withdrawal firm
    /// accounts fill past their high mark (B1), fin_parent drains below its low mark (B2)
    /// and the deposit firm accounts too (Y3); a slice rarely runs short.
    Roomy,
    /// `fin_parent` and the deposit firm accounts opened with a few charges' or
    /// remittances' worth (whole account, in won), refilled by sweeps only when the
    /// supervisors pass: requests find their slice short between passes.
    Short { fin_parent: i64, deposit_firm: i64 },
}

impl Parents {
    /// The seed's parent accounts: seeds divisible by 3 run short, sized from the seed
    /// (from a stream of their own, so the seed's operations and faults are those of the
    /// roomy run).
    fn of(seed: u64) -> Parents {
        let shape = std::env::var("OMNIBUS_SIM_PARENTS").unwrap_or_default();
        let short = match shape.as_str() {
            "short" => true,
            "roomy" => false,
            "" | "mixed" => seed % 3 == 0,
            other => panic!("OMNIBUS_SIM_PARENTS is short, roomy or mixed, not {other}"),
        };
        if !short {
            return Parents::Roomy;
        }
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5107_7a11_5eed_0001);
        Parents::Short {
            fin_parent: rng.random_range(8..=40) * 1_000_000,
            deposit_firm: rng.random_range(6..=24) * 1_000_000,
        }
    }

    fn toml(self) -> String {
        let (fin, deposit) = match self {
            Parents::Roomy => {
                return "[parents.fin_parent]\nopening = 220_000_000\nlow_mark = 200_000_000\ntarget = 260_000_000\nhigh_mark = 400_000_000\n\
[parents.deposit_firm]\nopening = 40_000_000\nlow_mark = 20_000_000\ntarget = 40_000_000\nhigh_mark = 80_000_000\n\
[parents.withdrawal_firm]\nopening = 0\nlow_mark = 0\ntarget = 0\nhigh_mark = 5_000_000\n\
[parents.collection]\nopening = 500_000_000\nlow_mark = 50_000_000\ntarget = 500_000_000\nhigh_mark = 5_000_000_000\n".to_string();
            }
            Parents::Short {
                fin_parent,
                deposit_firm,
            } => (fin_parent, deposit_firm),
        };
        // Refilled to the opening when below half of it; remittances' deductions push
        // fin_parent up, and past four times its opening it hands the excess back (Y2).
        format!(
            "[parents.fin_parent]\nopening = {fin}\nlow_mark = {}\ntarget = {fin}\nhigh_mark = {}\n\
[parents.deposit_firm]\nopening = {deposit}\nlow_mark = {}\ntarget = {deposit}\nhigh_mark = {}\n\
[parents.withdrawal_firm]\nopening = 0\nlow_mark = 0\ntarget = 0\nhigh_mark = 5_000_000\n\
[parents.collection]\nopening = 500_000_000\nlow_mark = 50_000_000\ntarget = 500_000_000\nhigh_mark = 5_000_000_000\n",
            fin / 2,
            fin * 4,
            deposit / 2,
            deposit * 4,
        )
    }
}

/// How fast the rails answer, and how long a caller waits for its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pace {
    /// Rails answer at once (or never: a timeout fault), and a caller waits for the flow's
    /// own answer: every flow runs to its answer before the next operation.
    Instant,
    /// Rails answer after up to `latency_ms` (some past the engine's 40 ms timeout: late
    /// answers, reflected by the flow that timed out), and a caller is answered at
    /// `deadline_ms` (`actors.answer_deadline_ms`) with the SPEC §4 timeout answer of the
    /// step in flight: flows run on behind their answers, concurrently with the next
    /// operations, crashes and supervisors. Which entry a flow creates first then depends
    /// on timing, and faults are drawn from entry ids, so a replay may differ.
    Slow { latency_ms: u64, deadline_ms: u64 },
}

impl Pace {
    /// The seed's pace: `OMNIBUS_SIM_PACE=mixed` (the default: seeds that leave 1 divided
    /// by 4 are slow), `slow` (every seed) or `instant` (none), sized from a stream of its
    /// own. The slow seeds found a remittance told failed at its deadline being paid out
    /// when its deduction answered late (now recovered instead: see
    /// `a_remittance_told_failed_at_its_deadline_is_recovered_not_paid_when_its_deduction_answers_late`).
    fn of(seed: u64) -> Pace {
        let pace = std::env::var("OMNIBUS_SIM_PACE").unwrap_or_default();
        let slow = match pace.as_str() {
            "instant" => false,
            "slow" => true,
            "" | "mixed" => seed % 4 == 1,
            other => panic!("OMNIBUS_SIM_PACE is instant, slow or mixed, not {other}"),
        };
        if !slow {
            return Pace::Instant;
        }
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5107_7a11_5eed_0002);
        Pace::Slow {
            latency_ms: rng.random_range(10..=70),
            deadline_ms: rng.random_range(2..=30),
        }
    }
}

/// What a seed runs on besides its operations: its parent accounts, its pace, and
/// whether customers also pay merchants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shape {
    parents: Parents,
    pace: Pace,
    /// Sales (issue 14): two merchants, and about one operation in eight is also a sale
    /// from the customer's balance, drawn from a random stream of its own so that the
    /// other operations of the seed are the ones it drew without sales.
    sales: bool,
    /// Card payments (issue 14, `sim/cards.rs`): every customer a prepaid card; about one
    /// operation in six also fills a pocket, pays by card, cancels, refunds or pays again,
    /// from a random stream of its own.
    cards: bool,
}

impl Shape {
    fn of(seed: u64) -> Shape {
        Shape {
            parents: Parents::of(seed),
            pace: Pace::of(seed),
            sales: std::env::var("OMNIBUS_SIM_SALES").as_deref() != Ok("off"),
            cards: std::env::var("OMNIBUS_SIM_CARDS").as_deref() != Ok("off"),
        }
    }

    /// What the simulation always ran on: the shape of the issue 11 seeds.
    const ROOMY: Shape = Shape {
        parents: Parents::Roomy,
        pace: Pace::Instant,
        sales: false,
        cards: false,
    };
}

/// The environment that replays a run's shapes (what was set for it).
fn shape_env() -> String {
    [
        "OMNIBUS_SIM_PARENTS",
        "OMNIBUS_SIM_PACE",
        "OMNIBUS_SIM_SALES",
        "OMNIBUS_SIM_CARDS",
    ]
    .iter()
    .filter_map(|k| std::env::var(k).ok().map(|v| format!("{k}={v} ")))
    .collect()
}

fn sim_config(dir: &std::path::Path, seed: u64, shape: Shape) -> Config {
    // Rails answer or time out within 40 ms; the supervisors act only when the test says
    // so (their timers are parked, no refills on demand), with no window and immediate
    // retries. Snapshots are
    // taken every 50 records, so crashes and restarts also meet snapshots cut in the
    // middle of flows (copy-on-write) and recovery from them. Segments are the smallest
    // allowed (1 MiB): every start zero-fills one ahead per shard, and that was most of a
    // seed's disk writes at 4 MiB.
    let extra = format!(
        "[rails.bank_firm]\ntimeout_ms = 40\n[rails.securities_firm]\ntimeout_ms = 40\n[rails.financial_company]\ntimeout_ms = 40\n\
[supervisor]\nwindow_min_age_ms = 0\nretry_backoff_min_ms = 1\nretry_backoff_max_ms = 4\nreprocess_failures_max = 2\n\
non_reflected_interval_ms = 86_400_000\nreprocess_interval_ms = 86_400_000\nrecovery_interval_ms = 86_400_000\nsweep_interval_ms = 86_400_000\nrefill_on_demand = false\n\
[wal]\nsnapshot_every_records = 50\nsegment_bytes = 1_048_576\n[simulator]\nseed = {seed}\n\
[payments]\npocket_balance_cap_krw = {}\n{}{}{}",
        cards::POCKET_CAP,
        shape.parents.toml(),
        // Even seeds move every settled request to the archive at once, so crashes meet
        // requests on their way out of memory and resubmissions are answered from disk.
        if seed % 2 == 0 {
            "[archive]\nrecent_max = 0\nbatch_max = 8\ninterval_ms = 2\n"
        } else {
            ""
        },
        // Requests carry the system's date while the engine's clock runs up to five days
        // ahead of it (`sim/days.rs`): the window takes both.
        match shape.pace {
            Pace::Instant => "[actors]\nrequest_date_window_days = 10\n".to_string(),
            Pace::Slow { deadline_ms, .. } => {
                format!("[actors]\nrequest_date_window_days = 10\nanswer_deadline_ms = {deadline_ms}\n")
            }
        }
    );
    config(dir, 2, &extra)
}

fn faulty(rng: &mut StdRng) -> SimulatedRailConfig {
    SimulatedRailConfig {
        latency_us_min: 0,
        latency_us_max: 0,
        failure_rate: rng.random_range(0.0..0.15),
        timeout_rate: rng.random_range(0.0..0.08),
        lost_response_rate: rng.random_range(0.0..0.08),
    }
}

fn start_engine(config: &Config, sim: &Simulator, clock: Arc<dyn Clock>) -> Engine {
    let parts = EngineParts::new(sim.rails(), clock);
    // The previous engine's log lock is released when its writer thread ends.
    for _ in 0..50 {
        match Engine::start_with(config.clone(), parts.clone()) {
            Ok(engine) => return engine,
            Err(e) if e.to_string().contains("lock") => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("restart failed: {e}"),
        }
    }
    panic!("the data directory stayed locked");
}

/// What the test told itself a caller was told.
#[derive(Default)]
struct Reported {
    told: BTreeMap<String, Told>,
}

/// What one seed (or many, added up) did and checked.
#[derive(Default, Clone)]
struct Stats {
    seeds: u64,
    short_seeds: u64,
    slow_seeds: u64,
    ops: u64,
    crashes: u64,
    /// Shard restarts that began from a snapshot rather than from the first record.
    from_snapshot: u64,
    reported: u64,
    faults: u64,
    sweeps: u64,
    /// Requests on record (accepted), checked one by one at the end.
    requests: u64,
    /// Records in the shards' archives at the end (even seeds, issue 13).
    archived: u64,
    /// Answers told failed, by reason.
    failed: BTreeMap<&'static str, u64>,
    /// Where the requests stand for good.
    settled: BTreeMap<&'static str, u64>,
    /// Withdrawals from `linked` (A1 at SUCCESS) checked to end credited or refunded.
    withdrawals: u64,
    /// Sales done (at SUCCESS) checked to end approved or reversed.
    sales: u64,
    /// Merchant accounts checked against the securities firm and their sales.
    merchants: u64,
    /// Won paid out to the merchants' banks (§6.6), and the payouts made.
    paid_out: i64,
    payouts: u64,
    /// Card payments sent, cancels and refunds asked (`sim/cards.rs`).
    card_payments: u64,
    cancels: u64,
    refunds: u64,
    card_changes: u64,
    /// Times the clock moved a stretch of hours (`sim/days.rs`), and the next-day
    /// statements checked delivered.
    days: u64,
    statements: u64,
    /// Card payments made through a member's wallet checkout (flow B).
    wallet_payments: u64,
    /// Division payments sent, and their cancels and refunds asked (`sim/divisions.rs`).
    division_payments: u64,
    division_pay_backs: u64,
    /// Virtual-account leases made, notices delivered (duplicates counted twice), lost
    /// and duplicated (`sim/deposits.rs`).
    va_leases: u64,
    va_notices: u64,
    va_lost: u64,
    va_duplicated: u64,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.seeds += o.seeds;
        self.short_seeds += o.short_seeds;
        self.slow_seeds += o.slow_seeds;
        self.ops += o.ops;
        self.crashes += o.crashes;
        self.from_snapshot += o.from_snapshot;
        self.reported += o.reported;
        self.faults += o.faults;
        self.sweeps += o.sweeps;
        self.requests += o.requests;
        self.archived += o.archived;
        self.withdrawals += o.withdrawals;
        self.sales += o.sales;
        self.merchants += o.merchants;
        self.paid_out += o.paid_out;
        self.payouts += o.payouts;
        self.days += o.days;
        self.statements += o.statements;
        self.wallet_payments += o.wallet_payments;
        self.card_payments += o.card_payments;
        self.cancels += o.cancels;
        self.refunds += o.refunds;
        self.card_changes += o.card_changes;
        self.division_payments += o.division_payments;
        self.division_pay_backs += o.division_pay_backs;
        self.va_leases += o.va_leases;
        self.va_notices += o.va_notices;
        self.va_lost += o.va_lost;
        self.va_duplicated += o.va_duplicated;
        for (k, v) in &o.failed {
            *self.failed.entry(k).or_default() += v;
        }
        for (k, v) in &o.settled {
            *self.settled.entry(k).or_default() += v;
        }
    }

    fn short_refusals(&self) -> u64 {
        self.failed
            .get(Reason::ParentSliceShort.as_str())
            .copied()
            .unwrap_or(0)
    }

    fn summary(&self) -> String {
        let list = |m: &BTreeMap<&'static str, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "simulation: {} seeds ({} with short parent slices, {} with slow rails and short deadlines), {} operations, {} rail faults injected, {} crashes ({} shard restarts from a snapshot), {} sweeps executed at the banks, {} outcomes checked, {} requests checked ({} records in the archives at the end), {} parent_slice_short refusals, {} withdrawals from linked credited or refunded, {} sales done approved or reversed, {} merchant accounts checked ({} payouts, {} won paid out to them), {} card payments ({} cancels, {} refunds, {} card suspends, resumes, unlocks and closes asked; {} of them through a wallet checkout), {} division payments ({} cancels and refunds), {} virtual-account leases ({} notices delivered, {} lost and brought by the reconciliation, {} duplicated), {} moves of the clock by hours, {} next-day statements checked delivered; told failed by reason: {}; settled: {}",
            self.seeds,
            self.short_seeds,
            self.slow_seeds,
            self.ops,
            self.faults,
            self.crashes,
            self.from_snapshot,
            self.sweeps,
            self.reported,
            self.requests,
            self.archived,
            self.short_refusals(),
            self.withdrawals,
            self.sales,
            self.merchants,
            self.payouts,
            self.paid_out,
            self.card_payments,
            self.cancels,
            self.refunds,
            self.card_changes,
            self.wallet_payments,
            self.division_payments,
            self.division_pay_backs,
            self.va_leases,
            self.va_notices,
            self.va_lost,
            self.va_duplicated,
            self.days,
            self.statements,
            list(&self.failed),
            list(&self.settled),
        )
    }
}

/// Runs one seed of `ops` operations on `parents`; panics (naming the seed) on the first
/// invariant broken.
fn run(seed: u64, ops: u64, shape: Shape) -> Stats {
    run_with_outcomes(seed, ops, shape).0
}

/// [`run`], with where each request stands for good, by request number.
fn run_with_outcomes(seed: u64, ops: u64, shape: Shape) -> (Stats, BTreeMap<String, Settled>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let config = sim_config(dir.path(), seed, shape);
    let sim = Simulator::new(&config);
    for rail in [Rail::BankFirm, Rail::SecuritiesFirm, Rail::FinancialCompany] {
        let mut rates = faulty(&mut rng);
        if let Pace::Slow { latency_ms, .. } = shape.pace {
            rates.latency_us_max = latency_ms * 1_000;
        }
        sim.set_rates(rail, rates);
    }
    let mut days = days::Days::new(seed);
    let clock: Arc<dyn Clock> = days.clock.clone();
    let mut engine = start_engine(&config, &sim, clock.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut sales_rng = StdRng::seed_from_u64(seed ^ 0x5a1e_5a1e);
    let mut cards = cards::Cards::new(seed);
    let mut divisions = divisions::Divisions::new(seed);
    let mut deposits = deposits::Deposits::new(seed);
    let merchants: Vec<MerchantNo> = if shape.sales || shape.cards {
        ["m1", "m2"]
            .iter()
            .map(|id| {
                rt.block_on(engine.onboard_merchant(merchant(id)))
                    .unwrap()
                    .0
                    .no
            })
            .collect()
    } else {
        Vec::new()
    };
    if shape.cards {
        deposits.open(&rt, &engine, seed);
    }
    let mut keys = HashMap::new();
    let mut customers: Vec<u64> = Vec::new();
    let mut reported = Reported::default();
    let mut submitted: Vec<(String, Op)> = Vec::new();
    let mut crashes = 0;
    let mut from_snapshot = 0;

    for op_index in 0..ops {
        let roll = rng.random_range(0..100);
        if customers.is_empty() || roll < 8 {
            let n = customers.len() as u64 + 1;
            let (opened, key) = opened_with_key(n);
            match rt.block_on(engine.open_customer(opened)) {
                Ok(_) | Err(EngineError::Refused(_)) => {}
                Err(e) => panic!("seed {seed}: open failed: {e}"),
            }
            keys.insert(n, key);
            customers.push(n);
            if shape.cards {
                cards.open(&rt, &engine, n, seed);
                divisions.open(&rt, &engine, &opened, seed);
            }
            continue;
        }
        if shape.cards {
            days.step(&sim);
            if let Some(fill) = cards.step(&rt, &engine, &customers, &["m1", "m2"], seed, op_index)
            {
                let no = format!("S{seed}-{op_index}-pocket");
                let op = if fill.from_linked {
                    Op::PocketFill(fill.won)
                } else {
                    Op::PocketCharge(fill.won)
                }
                .for_customer(fill.customer);
                let result = submit(&rt, &engine, &keys, &no, &op);
                record(&rt, &engine, &mut reported, &no, result, seed);
                submitted.push((no, op));
            }
            divisions.step(&rt, &engine, &customers, &["m1", "m2"], seed, op_index);
            deposits.step(&rt, &engine, &sim, seed, op_index);
        }
        if shape.sales && sales_rng.random_range(0..8) == 0 {
            // A sale too, before this operation: the customer's balance pays a merchant.
            let payer = customers[sales_rng.random_range(0..customers.len())];
            let to = merchants[sales_rng.random_range(0..merchants.len())];
            let no = format!("S{seed}-{op_index}-sale");
            let op = Op::Sale(sales_rng.random_range(1..=300_000), to).for_customer(payer);
            let result = submit(&rt, &engine, &keys, &no, &op);
            record(&rt, &engine, &mut reported, &no, result, seed);
            submitted.push((no, op));
        }
        let customer = customers[rng.random_range(0..customers.len())];
        let op = match roll {
            8..=42 => Op::Charge(rng.random_range(1..=3_000_000)),
            43..=72 => Op::Remit(rng.random_range(1..=2_000_000)),
            73..=82 => Op::RemitSigned(rng.random_range(2_000_001..=4_000_000)),
            83..=90 if !submitted.is_empty() => {
                // A duplicate: the same request again, fields and all.
                let (no, op) = submitted[rng.random_range(0..submitted.len())].clone();
                let result = submit(&rt, &engine, &keys, &no, &op);
                if let (Ok(outcome), Some(first)) = (&result, reported.told.get(&no)) {
                    assert_eq!(
                        outcome.told, *first,
                        "seed {seed}: resubmitting {no} changed its outcome"
                    );
                }
                record(&rt, &engine, &mut reported, &no, result, seed);
                continue;
            }
            91..=94 => {
                rt.block_on(engine.supervise_once()).unwrap();
                continue;
            }
            95..=99 => {
                // A crash: the engine stops abruptly, the outside world carries on.
                engine.halt();
                crashes += 1;
                engine = start_engine(&config, &sim, clock.clone());
                from_snapshot += engine
                    .recovery_reports()
                    .iter()
                    .filter(|r| r.snapshot_lsn.is_some())
                    .count() as u64;
                // What callers were told survives the crash (SPEC §6.5).
                check_reported(&rt, &engine, &reported, seed);
                continue;
            }
            _ => Op::Charge(rng.random_range(1..=100_000)),
        };
        let no = format!("S{seed}-{op_index}");
        let op = op.for_customer(customer);
        let result = submit(&rt, &engine, &keys, &no, &op);
        record(&rt, &engine, &mut reported, &no, result, seed);
        submitted.push((no, op));
    }

    // The rails heal; the supervisors run until every entry is final and nothing is owed.
    // With cards, the clock moves past the next 09:00 first, so that every day before is
    // due for its statements.
    sim.heal();
    if shape.cards {
        days.last(&sim);
        divisions.finish(&rt, &engine, seed);
        deposits.finish(&rt, &engine, seed);
    }
    let mut total = SupervisionReport::default();
    let mut settled = false;
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(5));
        let report = rt.block_on(engine.supervise_once()).unwrap();
        total.add(&report);
        if report.settled() && !report.acted() {
            settled = true;
            break;
        }
    }
    assert!(
        settled,
        "seed {seed}: the supervisors did not settle every entry: {total:?}"
    );
    let mut outcomes = BTreeMap::new();
    let engine_made: Vec<String> = cards
        .engine_made
        .iter()
        .chain(&divisions.engine_made)
        .cloned()
        .collect();
    let mut stats = check_invariants(
        &rt,
        &engine,
        &sim,
        (&customers, &reported, &submitted, &engine_made),
        &mut outcomes,
        seed,
    );
    cards.check(&rt, &engine, &sim, &outcomes, seed);
    divisions.check(&rt, &engine, &outcomes, seed);
    if shape.cards {
        deposits.check(&rt, &engine, &sim, seed);
    }
    if shape.cards {
        days.deliver(&rt, &engine, seed);
        stats.statements = days.check(&rt, &engine, &sim, &customers, seed);
        stats.days = days.jumps;
    }
    stats.card_payments = cards.payments;
    stats.cancels = cards.cancels;
    stats.refunds = cards.refunds;
    stats.card_changes = cards.changes;
    stats.wallet_payments = cards.wallet_payments;
    stats.division_payments = divisions.payments;
    stats.division_pay_backs = divisions.pay_backs;
    stats.va_leases = deposits.leased;
    stats.va_notices = deposits.notices;
    stats.va_lost = deposits.lost;
    stats.va_duplicated = deposits.duplicated;
    let sim_stats = sim.stats();
    stats.faults = [Rail::BankFirm, Rail::SecuritiesFirm, Rail::FinancialCompany]
        .iter()
        .map(|r| {
            let s = sim_stats.rail(*r);
            s.injected_failures + s.timeouts + s.lost_responses
        })
        .sum();
    stats.sweeps = sim
        .executed(Rail::BankFirm)
        .iter()
        .filter(|e| e.operation == Operation::Settle)
        .count() as u64;
    engine.shutdown().unwrap();
    stats.seeds = 1;
    stats.short_seeds = u64::from(shape.parents != Parents::Roomy);
    stats.slow_seeds = u64::from(shape.pace != Pace::Instant);
    stats.ops = ops;
    stats.crashes = crashes;
    stats.from_snapshot = from_snapshot;
    stats.reported = reported.told.len() as u64;
    (stats, outcomes)
}

#[derive(Clone, Debug)]
enum Op {
    Charge(i64),
    Remit(i64),
    RemitSigned(i64),
    Sale(i64, MerchantNo),
    /// A fill of the customer's card 1 from the balance.
    PocketCharge(i64),
    /// A fill of the customer's card 1 from the linked bank account.
    PocketFill(i64),
    For(u64, Box<Op>),
}

/// A merchant the sales of a seed pay.
/// m2 is paid out in real time (keeping back a reserve), so that payouts run among the
/// faults and crashes; m1 daily, as by default. Each has its own payout account.
fn merchant(id: &str) -> omnibus_core::payments::merchant::Merchant {
    let mut m = merchant_taking(
        id,
        &[
            InstrumentType::Wallet,
            InstrumentType::PrepaidCard,
            InstrumentType::Division,
        ],
    );
    m.payout_account = payout_account(id);
    if id == "m2" {
        m.payout_schedule = omnibus_core::payments::merchant::PayoutSchedule::Realtime;
        m.payout_reserve_krw = 3_000;
    }
    m
}

fn payout_account(id: &str) -> omnibus_core::AccountNo {
    omnibus_core::AccountNo::new(&format!("900-{}", id.trim_start_matches('m'))).unwrap()
}

impl Op {
    fn for_customer(self, customer: u64) -> Op {
        Op::For(customer, Box::new(self))
    }
}

fn submit(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    keys: &HashMap<u64, ed25519_dalek::SigningKey>,
    no: &str,
    op: &Op,
) -> Result<Outcome, EngineError> {
    let Op::For(customer, op) = op else {
        panic!("an operation names its customer")
    };
    let customer = *customer;
    rt.block_on(async {
        match op.as_ref() {
            Op::Charge(w) => engine.charge(charge(customer, no, *w)).await,
            Op::Sale(w, to) => {
                engine
                    .sale(SaleRequest {
                        header: charge(customer, no, *w).header,
                        merchant: *to,
                        pocket: None,
                    })
                    .await
            }
            Op::PocketCharge(w) => {
                engine
                    .charge_pocket(omnibus_actors::PocketChargeRequest {
                        header: charge(customer, no, *w).header,
                        card: omnibus_core::ids::CardSeq(1),
                    })
                    .await
            }
            Op::PocketFill(w) => {
                engine
                    .fill_pocket(omnibus_actors::PocketChargeRequest {
                        header: charge(customer, no, *w).header,
                        card: omnibus_core::ids::CardSeq(1),
                    })
                    .await
            }
            Op::Remit(w) => engine.remit(remit(customer, no, *w)).await,
            Op::RemitSigned(w) => {
                let request = remit(customer, no, *w);
                match engine.signing_text(request).await {
                    Ok(text) => {
                        engine
                            .remit_signed(
                                request,
                                sign(&text.text, &keys[&customer], 9_000 + customer),
                            )
                            .await
                    }
                    // Resubmitting an accepted request: no new text; the original outcome.
                    Err(EngineError::Rejected(omnibus_actors::Rejection::RequestNoReused {
                        ..
                    })) => {
                        engine
                            .remit_signed(request, sign("", &keys[&customer], 9_000 + customer))
                            .await
                    }
                    Err(e) => Err(e),
                }
            }
            Op::For(..) => unreachable!(),
        }
    })
}

/// Records what a caller was told. A request told failed for a short parent slice is
/// looked at at once: it must have moved nothing (no entry, so no call and no posting).
fn record(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    reported: &mut Reported,
    no: &str,
    result: Result<Outcome, EngineError>,
    seed: u64,
) {
    match result {
        Ok(outcome) => {
            let first = *reported.told.entry(no.to_string()).or_insert(outcome.told);
            assert_eq!(
                first, outcome.told,
                "seed {seed}: request {no} was told two different things"
            );
            if outcome.told == Told::Failed {
                let view = rt
                    .block_on(engine.request(no.parse().unwrap()))
                    .unwrap_or_else(|e| panic!("seed {seed}: {no}: answered but not found: {e}"));
                let answer = view.answer.expect("an answered request has its answer");
                if answer.reason == Reason::ParentSliceShort {
                    assert!(
                        view.entries.is_empty(),
                        "seed {seed}: {no}: told parent_slice_short but has entries: {:?}",
                        view.entries
                    );
                }
            }
        }
        // Refusals, overload and shutdown are answers too, but they report no outcome.
        Err(
            EngineError::Rejected(_)
            | EngineError::Refused(_)
            | EngineError::Refusal { .. }
            | EngineError::Overloaded(_)
            | EngineError::ShuttingDown,
        ) => {}
        Err(e) => panic!("seed {seed}: request {no}: unexpected error {e}"),
    }
}

fn check_reported(rt: &tokio::runtime::Runtime, engine: &Engine, reported: &Reported, seed: u64) {
    for (no, told) in &reported.told {
        let view = rt
            .block_on(engine.request(no.parse::<RequestNo>().unwrap()))
            .unwrap_or_else(|e| panic!("seed {seed}: reported request {no} is gone: {e}"));
        let answer = view.answer.unwrap_or_else(|| {
            panic!("seed {seed}: reported request {no} has no answer on record")
        });
        assert_eq!(
            answer.told, *told,
            "seed {seed}: request {no}: the record says {:?}, the caller was told {told:?}",
            answer.told
        );
    }
}

fn won(m: Money) -> i64 {
    m.value().try_into().unwrap()
}

/// What the checks read of a seed's run: its customers, what callers were told, the
/// requests it submitted, and the requests the payments layer made for it.
type Checked<'a> = (&'a [u64], &'a Reported, &'a [(String, Op)], &'a [String]);

fn check_invariants(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    sim: &Simulator,
    (customers, reported, submitted, engine_made): Checked<'_>,
    outcomes: &mut BTreeMap<String, Settled>,
    seed: u64,
) -> Stats {
    let mut stats = Stats::default();
    // Every outcome reported to a caller is still true (SPEC §6.5).
    check_reported(rt, engine, reported, seed);
    // Reconciliation: every request log agrees with its rail's statement.
    let report = rt.block_on(engine.reconciliation(None)).unwrap();
    assert!(
        report.is_clean(),
        "seed {seed}: reconciliation mismatches: {:#?}",
        report
            .logs
            .iter()
            .flat_map(|l| &l.mismatches)
            .collect::<Vec<_>>()
    );
    assert!(
        report.logs.iter().all(|l| l.open == 0),
        "seed {seed}: open entries after settling: {report:?}"
    );

    // Every request on record, with its entries: the checks per request (§6.3, §6.4, the
    // answers), and what its entries moved, per customer.
    let numbers: BTreeSet<&str> = submitted
        .iter()
        .map(|(no, _)| no.as_str())
        .chain(engine_made.iter().map(String::as_str))
        .collect();
    let mut views: Vec<RequestView> = Vec::new();
    for no in &numbers {
        match rt.block_on(engine.request(no.parse().unwrap())) {
            Ok(view) => views.push(view),
            Err(EngineError::Rejected(omnibus_actors::Rejection::UnknownRequest(_))) => {
                assert!(
                    !reported.told.contains_key(*no),
                    "seed {seed}: {no} was answered but is not on record"
                );
            }
            Err(e) => panic!("seed {seed}: {no}: {e}"),
        }
    }
    // The merchants' payouts (the house's requests, §6.6), after the customers' requests.
    let mut paid_to: HashMap<MerchantNo, i64> = HashMap::new();
    let payouts: Vec<RequestView> = engine
        .merchants()
        .iter()
        .flat_map(|m| {
            let views = rt
                .block_on(engine.payouts_between(m.merchant.id, 0, u64::MAX))
                .unwrap();
            *paid_to.entry(m.no).or_default() += views
                .iter()
                .flat_map(|v| &v.request.entries)
                .filter(|e| e.state == EntryState::Success && e.step == Step::RemitDeposit)
                .map(|e| i64::try_from(e.amount.value()).unwrap())
                .sum::<i64>();
            views.into_iter().map(|p| p.request)
        })
        .collect();
    // The step of every entry id, for matching the rails' executions to requests.
    let mut step_of: HashMap<u64, (usize, Step)> = HashMap::new();
    for (i, view) in views.iter().chain(&payouts).enumerate() {
        for e in &view.entries {
            step_of.insert(e.id.0, (i, e.step));
        }
    }
    // What the rails executed, per request and step (nothing twice: SPEC §6.3).
    let mut executions: HashMap<(Rail, u64), u32> = HashMap::new();
    let mut executed: HashMap<(usize, Step), u32> = HashMap::new();
    for rail in [Rail::BankFirm, Rail::SecuritiesFirm, Rail::FinancialCompany] {
        for e in sim.executed(rail) {
            *executions.entry((rail, e.id.entry)).or_default() += 1;
            if e.operation == Operation::Settle {
                continue;
            }
            let (i, step) = *step_of.get(&e.id.entry).unwrap_or_else(|| {
                panic!("seed {seed}: {e} was executed for no entry of any request")
            });
            *executed.entry((i, step)).or_default() += 1;
        }
    }
    for (key, count) in &executions {
        assert_eq!(*count, 1, "seed {seed}: {key:?} executed {count} times");
    }
    // What each customer's and linked account's entries moved.
    let mut moved: HashMap<AccountId, i64> = HashMap::new();
    for (i, view) in views.iter().enumerate() {
        let no = view.accepted.request_no.to_string();
        let (s, settled) = check_request(&no, view, |step| executed.get(&(i, step)).copied(), seed);
        stats.add(&s);
        outcomes.insert(no, settled);
        for e in view
            .entries
            .iter()
            .filter(|e| e.state == EntryState::Success)
        {
            let amount: i64 = e.amount.value().try_into().unwrap();
            *moved.entry(e.debit).or_default() -= amount;
            *moved.entry(e.credit).or_default() += amount;
        }
    }
    // Each payout settled (paid out; recovered when its deposit failed; nothing moved
    // when its deduction failed, to be paid by a later one), every step
    // executed at most once (above), and what it moved joins the accounts' sums.
    // Every payout's settlement statement reached its merchant through the sink (§6.6).
    let notified: HashSet<omnibus_core::RequestNo> = sim
        .notices()
        .into_iter()
        .filter(|(m, _)| matches!(m.to, omnibus_actors::rails::Recipient::Merchant(_)))
        .map(|(m, _)| m.key)
        .collect();
    for (j, view) in payouts.iter().enumerate() {
        assert!(
            notified.contains(&view.accepted.request_no),
            "seed {seed}: payout {} sent its merchant no settlement statement",
            view.accepted.request_no
        );
        assert!(
            matches!(
                view.outcome,
                Settled::PaidOut | Settled::Recovered | Settled::NothingMoved
            ),
            "seed {seed}: payout {} ended {:?}: {view:?}",
            view.accepted.request_no,
            view.outcome
        );
        for e in &view.entries {
            let runs = executed
                .get(&(views.len() + j, e.step))
                .copied()
                .unwrap_or(0);
            assert!(
                e.state != EntryState::Success || runs == 1,
                "seed {seed}: payout {}: {} done in the books, executed {runs} times",
                view.accepted.request_no,
                e.step
            );
        }
        for e in view
            .entries
            .iter()
            .filter(|e| e.state == EntryState::Success)
        {
            let amount: i64 = e.amount.value().try_into().unwrap();
            *moved.entry(e.debit).or_default() -= amount;
            *moved.entry(e.credit).or_default() += amount;
        }
    }
    stats.payouts = payouts.len() as u64;
    stats.requests = views.len() as u64;
    let totals = rt.block_on(engine.totals()).unwrap();
    stats.archived = totals.shards.iter().map(|s| s.archived_requests).sum();

    // 1. Conservation: the books, the outside world, and both sides of each account.
    let totals = rt.block_on(engine.totals()).unwrap();
    assert!(
        totals.sum.is_zero(),
        "seed {seed}: the books do not sum to zero: {totals:?}"
    );
    assert!(
        totals.in_transit.is_zero(),
        "seed {seed}: money in transit between shards"
    );
    let truth = sim.truth();
    assert!(
        truth.is_conserved(),
        "seed {seed}: the outside world's money changed"
    );
    for n in customers {
        let c = CustomerId::new(*n).unwrap();
        let engine_view = rt.block_on(engine.customer_balance(c)).unwrap();
        // 2. No customer below zero.
        assert!(
            !engine_view.balance.is_negative(),
            "seed {seed}: customer {n} below zero"
        );
        assert_eq!(
            engine_view.balance, engine_view.available,
            "seed {seed}: customer {n} has a hold left"
        );
        assert_eq!(
            won(engine_view.balance),
            won(truth.customer(c)),
            "seed {seed}: customer {n}: engine and securities firm disagree"
        );
        let customer_entries = moved
            .get(&AccountId::customer(c))
            .copied()
            .unwrap_or_default();
        assert_eq!(
            won(engine_view.balance),
            customer_entries,
            "seed {seed}: customer {n}: the balance is not what its requests' entries moved"
        );
        let linked_truth = truth.linked(engine_view.linked_bank, engine_view.linked_account);
        let linked_moved =
            won(linked_truth) - omnibus_actors::rails::sim::DEFAULT_LINKED_BALANCE_WON;
        let linked_engine = rt.block_on(engine_linked(engine, c));
        assert_eq!(
            linked_moved, linked_engine,
            "seed {seed}: customer {n}: linked account, bank and engine disagree"
        );
        let linked_entries = moved
            .get(&AccountId::linked(c))
            .copied()
            .unwrap_or_default();
        assert_eq!(
            linked_moved, linked_entries,
            "seed {seed}: customer {n}: the linked account moved other than its requests' withdrawals and refunds"
        );
    }
    // Every parent account, sweeps included (they are executed at the banks).
    for p in rt.block_on(engine.parent_balances()).unwrap() {
        let at_bank = truth
            .parent(p.parent)
            .unwrap_or_else(|| panic!("seed {seed}: no {} outside", p.parent));
        assert_eq!(
            won(p.total),
            won(at_bank),
            "seed {seed}: {}: engine and bank disagree",
            p.parent
        );
        assert!(
            !p.total.is_negative(),
            "seed {seed}: {} below zero",
            p.parent
        );
    }
    // Every merchant account (invariant 5 of INSTRUMENTS.md §6.7): never below zero, the
    // same in the books and at the securities firm, and exactly what its sales and
    // reversals moved less what was paid out to the merchant's bank (a payout whose
    // deposit failed was recovered into the account: it moved nothing in the end).
    for m in engine.merchants() {
        let account = AccountId::merchant(m.no);
        let booked = won(rt.block_on(engine.account_balance(account)).unwrap());
        let at_firm = truth.merchants.get(&m.no).map_or(0, |b| won(*b));
        let paid_out = truth
            .designated
            .get(&(m.merchant.payout_bank, m.merchant.payout_account))
            .map_or(0, |b| won(*b));
        stats.paid_out += paid_out;
        assert!(booked >= 0, "seed {seed}: merchant {} below zero", m.no);
        assert_eq!(
            booked, at_firm,
            "seed {seed}: merchant {}: engine and securities firm disagree",
            m.no
        );
        assert_eq!(
            booked,
            moved.get(&account).copied().unwrap_or_default(),
            "seed {seed}: merchant {}: the balance is not what its sales and payouts moved",
            m.no
        );
        assert_eq!(
            paid_out,
            paid_to.get(&m.no).copied().unwrap_or_default(),
            "seed {seed}: merchant {}: its bank received other than its payouts' deposits",
            m.no
        );
        stats.merchants += 1;
    }
    stats
}

/// The checks of one request once everything settled: its entries (SPEC §6.3, §6.4),
/// its answer (SPEC §4), and the rails' executions of its steps (`executed`).
fn check_request(
    no: &str,
    view: &RequestView,
    executed: impl Fn(Step) -> Option<u32>,
    seed: u64,
) -> (Stats, Settled) {
    let mut stats = Stats::default();
    let entries = &view.entries;
    let count = |step: Step, state: EntryState| {
        entries
            .iter()
            .filter(|e| e.step == step && e.state == state)
            .count()
    };
    let has = |step: Step, state: EntryState| count(step, state) > 0;
    let has_step = |step: Step| entries.iter().any(|e| e.step == step);
    for e in entries {
        assert!(
            e.state.is_final(),
            "seed {seed}: {no}: entry {:?} is {}",
            e.step,
            e.state
        );
    }
    for step in Step::ALL {
        assert!(
            entries.iter().filter(|e| e.step == step).count() <= 1,
            "seed {seed}: {no}: two {step} entries: {entries:?}"
        );
        // The books' SUCCESS is the rail's execution, and only it.
        assert_eq!(
            executed(step).unwrap_or(0),
            count(step, EntryState::Success) as u32,
            "seed {seed}: {no}: {step}: executions at the rail and SUCCESS entries differ"
        );
    }

    // SPEC §6.4: every withdrawal from `linked` ends credited or refunded, exactly one.
    if has(Step::ChargeWithdrawal, EntryState::Success) {
        stats.withdrawals += 1;
        let credited = has(Step::ChargeCredit, EntryState::Success);
        let refunded = has(Step::Refund, EntryState::Success);
        assert!(
            credited || refunded,
            "seed {seed}: {no}: drawn from linked, neither credited nor refunded: {entries:?}"
        );
        assert!(
            !(credited && refunded),
            "seed {seed}: {no}: drawn from linked, credited and refunded both: {entries:?}"
        );
    } else {
        assert!(
            !has_step(Step::ChargeCredit) && !has_step(Step::Refund),
            "seed {seed}: {no}: a credit or refund with no withdrawal: {entries:?}"
        );
    }
    if has(Step::ChargeCredit, EntryState::Fail) {
        assert!(
            has(Step::Refund, EntryState::Success),
            "seed {seed}: {no}: a charge credit failed for good but was not refunded"
        );
    }
    // Every deduction ends paid out or recovered (SPEC §6.4), exactly one.
    if has(Step::RemitDeposit, EntryState::Fail) {
        assert!(
            has(Step::Recovery, EntryState::Success),
            "seed {seed}: {no}: a failed deposit was not recovered"
        );
    }
    if has(Step::RemitDeduction, EntryState::Success) {
        let paid = has(Step::RemitDeposit, EntryState::Success);
        let recovered = has(Step::Recovery, EntryState::Success);
        assert!(
            paid != recovered,
            "seed {seed}: {no}: a deduction paid out {paid}, recovered {recovered}: {entries:?}"
        );
    } else {
        assert!(
            !has_step(Step::RemitDeposit) && !has_step(Step::Recovery),
            "seed {seed}: {no}: a deposit or recovery with no deduction: {entries:?}"
        );
    }

    // A sale (D-0.2): done and approved, or done after a decline and reversed exactly
    // once; a reversal only of a sale that was done.
    if has(Step::Sale, EntryState::Success) {
        stats.sales += 1;
        let reversed = has(Step::SaleReversal, EntryState::Success);
        let approved = view.answer.is_some_and(|a| a.told == Told::Succeeded);
        assert!(
            approved != reversed,
            "seed {seed}: {no}: a sale done, approved {approved}, reversed {reversed}: {entries:?}"
        );
    } else {
        assert!(
            !has_step(Step::SaleReversal),
            "seed {seed}: {no}: a reversal of a sale never done: {entries:?}"
        );
    }
    // A pocket charge likewise (D-5.7), with its own steps.
    if has(Step::PocketCharge, EntryState::Success) {
        let reversed = has(Step::PocketChargeReversal, EntryState::Success);
        let approved = view.answer.is_some_and(|a| a.told == Told::Succeeded);
        assert!(
            approved != reversed,
            "seed {seed}: {no}: a pocket charge done, approved {approved}, reversed {reversed}: {entries:?}"
        );
    } else {
        assert!(
            !has_step(Step::PocketChargeReversal),
            "seed {seed}: {no}: a reversal of a pocket charge never done: {entries:?}"
        );
    }

    // Settled for good: nothing open, nothing owed, an answer on record.
    let state = RequestState {
        accepted: view.accepted,
        answer: view.answer,
        entries: entries.iter().map(|e| e.id).collect(),
        reserved: None,
    };
    let settled = settled_outcome(&state, entries);
    assert_ne!(
        settled,
        Settled::Pending,
        "seed {seed}: {no}: not settled: {view:?}"
    );
    *stats.settled.entry(settled.as_str()).or_default() += 1;

    let answer = view
        .answer
        .unwrap_or_else(|| panic!("seed {seed}: {no}: accepted but never answered"));
    check_answer(no, view, seed);
    if answer.told == Told::Failed {
        *stats.failed.entry(answer.reason.as_str()).or_default() += 1;
    }
    // What the customer was told and where the request ended agree as the table says.
    match (view.accepted.kind, answer.told) {
        (RequestKind::Charge, Told::Succeeded) => assert!(
            matches!(settled, Settled::Credited | Settled::Refunded),
            "seed {seed}: {no}: a charge told succeeded ended {settled:?}"
        ),
        (RequestKind::Remit, Told::Succeeded) => assert!(
            matches!(settled, Settled::PaidOut | Settled::Recovered),
            "seed {seed}: {no}: a remittance told succeeded ended {settled:?}"
        ),
        (RequestKind::Remit, Told::Failed) => assert!(
            !has(Step::RemitDeposit, EntryState::Success),
            "seed {seed}: {no}: a remittance told failed paid out through its deposit"
        ),
        (RequestKind::Sale, Told::Succeeded) => assert_eq!(
            settled,
            Settled::PaidOut,
            "seed {seed}: {no}: a sale told succeeded did not end paid to the merchant"
        ),
        (RequestKind::PocketCharge, Told::Succeeded) => assert_eq!(
            settled,
            Settled::PaidOut,
            "seed {seed}: {no}: a pocket charge told succeeded did not end in the pocket"
        ),
        (RequestKind::PocketCharge, Told::Failed) => assert!(
            matches!(settled, Settled::NothingMoved | Settled::Refunded),
            "seed {seed}: {no}: a pocket charge told failed ended {settled:?}: the pocket kept it"
        ),
        // A cancel's or refund's money is owed from its acceptance: done in the end,
        // whatever its caller heard (or refused before any call, moving nothing).
        (RequestKind::MerchantRefund, _) => assert!(
            settled == Settled::Refunded
                || (settled == Settled::NothingMoved && entries.is_empty()),
            "seed {seed}: {no}: a merchant refund ended {settled:?}: {entries:?}"
        ),
        (RequestKind::Sale, Told::Failed) => assert!(
            matches!(settled, Settled::NothingMoved | Settled::Refunded),
            "seed {seed}: {no}: a sale told failed ended {settled:?}: the merchant kept it"
        ),
        _ => {}
    }
    (stats, settled)
}

/// What the engine promises of an answer (SPEC §4 table, `flow::Reason`), checked once
/// every entry is final:
///
/// - told succeeded: no reason, and its deciding step's entry exists (a credit, a
///   deposit, a payment instruction);
/// - told failed: a reason, never `none` (nor `unrecorded`: nothing here predates it);
///   `timed_out` exactly when the reason is `timeout`;
/// - `parent_slice_short`: refused at acceptance, so no entry at all (nothing moved), and
///   decided by the request's first step;
/// - `rail_refused`: the deciding entry exists and is FAIL (final when told);
/// - `deficit_not_credited`: a remittance with a deficit, decided by its deficit's credit,
///   whose own step (deduction or payment instruction) never started;
/// - the deciding entry is at SUCCESS only where the table tells failed before the step's
///   result was known: a timeout confirmed done later (A1, X1, payment instruction), or a
///   deficit credit left to reprocessing that reprocessing made.
fn check_answer(no: &str, view: &RequestView, seed: u64) {
    let answer = view.answer.expect("checked by the caller");
    let entries = &view.entries;
    let deciding = entries.iter().find(|e| e.step == answer.decided_by);
    let accepted = &view.accepted;
    match answer.told {
        Told::Succeeded => {
            assert_eq!(
                answer.reason,
                Reason::None,
                "seed {seed}: {no}: told succeeded with a reason: {answer:?}"
            );
            assert!(
                deciding.is_some(),
                "seed {seed}: {no}: told succeeded by {} which has no entry: {view:?}",
                answer.decided_by
            );
        }
        Told::Failed => {
            assert!(
                !matches!(answer.reason, Reason::None | Reason::Unrecorded),
                "seed {seed}: {no}: told failed with reason {}: {answer:?}",
                answer.reason.as_str()
            );
            assert_eq!(
                answer.timed_out,
                answer.reason == Reason::Timeout,
                "seed {seed}: {no}: timed_out and the reason disagree: {answer:?}"
            );
            match answer.reason {
                Reason::ParentSliceShort => {
                    assert!(
                        entries.is_empty(),
                        "seed {seed}: {no}: parent_slice_short, yet entries: {view:?}"
                    );
                    assert_eq!(
                        answer.decided_by,
                        first_step(accepted).0,
                        "seed {seed}: {no}: parent_slice_short decided by another step than the first"
                    );
                }
                Reason::RailRefused => assert!(
                    deciding.is_some_and(|e| e.state == EntryState::Fail),
                    "seed {seed}: {no}: rail_refused by {} which is not FAIL: {view:?}",
                    answer.decided_by
                ),
                Reason::DeficitNotCredited => {
                    assert!(
                        accepted.kind == RequestKind::Remit
                            && accepted.deficit.is_some()
                            && answer.decided_by == Step::ChargeCredit
                            && deciding.is_some(),
                        "seed {seed}: {no}: deficit_not_credited of no deficit credit: {view:?}"
                    );
                    let own = remit_step(accepted.path.expect("a remittance has a path"));
                    assert!(
                        !entries.iter().any(|e| e.step == own),
                        "seed {seed}: {no}: told deficit_not_credited, yet its {own} went on: {view:?}"
                    );
                }
                _ => {}
            }
            if let Some(e) = deciding {
                let known_later = answer.reason == Reason::Timeout
                    || (answer.reason == Reason::DeficitNotCredited
                        && e.step == Step::ChargeCredit);
                assert!(
                    e.state != EntryState::Success || known_later,
                    "seed {seed}: {no}: told failed ({}) by {}, which succeeded: {view:?}",
                    answer.reason.as_str(),
                    answer.decided_by
                );
            }
        }
    }
}

/// The engine's side of a customer's linked account: minus what charges drew, plus refunds.
async fn engine_linked(engine: &Engine, customer: CustomerId) -> i64 {
    engine
        .account_balance(AccountId::linked(customer))
        .await
        .map(won)
        .unwrap()
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name} is a number, not {v:?}"))
    })
}

/// The seeds to run: `OMNIBUS_SIM_SEED`, else `OMNIBUS_SIM_SEEDS` (a count from
/// `OMNIBUS_SIM_FROM` or 1, or a range `A..B` / `A..=B`), else 1..=`default`.
fn seeds_from_env(default: u64) -> Vec<u64> {
    if let Some(seed) = env_u64("OMNIBUS_SIM_SEED") {
        return vec![seed];
    }
    let from = env_u64("OMNIBUS_SIM_FROM");
    let spec = std::env::var("OMNIBUS_SIM_SEEDS").unwrap_or_default();
    let spec = spec.replace('_', "");
    let bound = |s: &str| -> u64 {
        s.trim()
            .parse()
            .unwrap_or_else(|_| panic!("OMNIBUS_SIM_SEEDS: {s:?} is not a seed"))
    };
    if let Some((a, b)) = spec.split_once("..=") {
        return (bound(a)..=bound(b)).collect();
    }
    if let Some((a, b)) = spec.split_once("..") {
        return (bound(a)..bound(b)).collect();
    }
    let n = if spec.is_empty() {
        default
    } else {
        bound(&spec)
    };
    let from = from.unwrap_or(1);
    (from..from + n).collect()
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// Runs `seeds` on `threads` threads, each seed whatever the others did; progress on
/// stderr every 100 seeds. Answers the totals and the failing seeds with their messages.
fn run_seeds(seeds: &[u64], ops: u64, threads: usize) -> (Stats, Vec<(u64, String)>) {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let totals = Mutex::new(Stats::default());
    let failures = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1).min(seeds.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = seeds.get(i) else {
                    return;
                };
                let shape = Shape::of(seed);
                match std::panic::catch_unwind(|| run(seed, ops, shape)) {
                    Ok(stats) => totals.lock().unwrap().add(&stats),
                    Err(panic) => {
                        let message = panic_message(panic.as_ref());
                        eprintln!(
                            "simulation seed {seed} ({shape:?}) FAILED: {message}\n  replay: {}OMNIBUS_SIM_SEED={seed} OMNIBUS_SIM_OPS={ops} cargo test --release --test simulation many_seeds",
                            shape_env()
                        );
                        failures.lock().unwrap().push((seed, message));
                    }
                }
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if finished % 100 == 0 {
                    eprintln!(
                        "simulation: {finished}/{} seeds, {} failed, {:.0} s",
                        seeds.len(),
                        failures.lock().unwrap().len(),
                        started.elapsed().as_secs_f64()
                    );
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    (totals.into_inner().unwrap(), failures)
}

/// The many-seeds run: 200 seeds by default (CI); see the module's documentation.
#[test]
fn many_seeds_keep_every_invariant_whatever_the_rails_crashes_and_parent_slices_do() {
    let ops = env_u64("OMNIBUS_SIM_OPS").unwrap_or(120);
    let seeds = seeds_from_env(200);
    let threads = env_u64("OMNIBUS_SIM_THREADS").map_or_else(
        || std::thread::available_parallelism().map_or(2, |n| n.get()),
        |t| t as usize,
    );
    let started = Instant::now();
    let (stats, failures) = run_seeds(&seeds, ops, threads);
    eprintln!(
        "{} ({threads} threads, {:.1} s)",
        stats.summary(),
        started.elapsed().as_secs_f64()
    );
    if !failures.is_empty() {
        for (seed, message) in &failures {
            eprintln!(
                "FAILED seed {seed} ({:?}): {message}\n  replay: {}OMNIBUS_SIM_SEED={seed} OMNIBUS_SIM_OPS={ops} cargo test --release --test simulation many_seeds",
                Shape::of(*seed),
                shape_env()
            );
        }
        panic!(
            "{} of {} seeds failed: {:?}",
            failures.len(),
            seeds.len(),
            failures.iter().map(|(s, _)| s).collect::<Vec<_>>()
        );
    }
    assert_eq!(stats.seeds, seeds.len() as u64);
}

// The seeds that failed in issue 11 (item 15), each with the 120 operations and the roomy
// parent slices it failed with. All eight failed for one cause: a charge's credit (A2)
// failed for good (reprocessing gave up), so its withdrawal was owed a refund from the
// `withdrawal_firm[004]` slice that had received it; but a B1 sweep had already moved that
// slice's money to collection (its target is 0), the refund's hold was refused (below the
// slice's floor) on every pass, and the supervisors never settled (`owed: 60`). Since a
// withdrawal's SUCCESS sets its credit aside on the slice until the credit succeeds or the
// refund is made (`reserves_credit_for_compensation`), the sweep leaves that money alone:
// each test checks the request is refunded, and everything else the simulation checks.
// Entry ids are drawn in the order entries are made, and faults from the ids, so today's
// engine does not replay every seed alike: seeds 492 and 514 no longer give up on any
// credit (they check the simulation's invariants only) and seed 451 refunds one of its
// two; the cause itself is pinned by the scenario test after them.

/// Runs a seed of issue 11 and checks that `refunded` (the requests whose refund was
/// owed from an emptied slice) ended refunded: drawn from linked, and given back.
fn regression(seed: u64, refunded: &[&str]) {
    let (stats, outcomes) = run_with_outcomes(seed, 120, Shape::ROOMY);
    assert_eq!(stats.seeds, 1);
    for no in refunded {
        assert_eq!(
            outcomes.get(*no),
            Some(&Settled::Refunded),
            "seed {seed}: {no} is no longer the charge refunded from an emptied slice"
        );
    }
}

#[test]
fn seed_212_a_refund_owed_from_an_emptied_withdrawal_firm_slice_is_made() {
    regression(212, &["S212-44"]);
}

#[test]
fn seed_225_a_refund_owed_from_an_emptied_withdrawal_firm_slice_is_made() {
    regression(225, &["S225-104"]);
}

#[test]
fn seed_406_a_refund_owed_from_a_withdrawal_firm_slice_swept_below_it_is_made() {
    regression(406, &["S406-39"]);
}

#[test]
fn seed_451_two_refunds_owed_from_emptied_withdrawal_firm_slices_in_both_shards_are_made() {
    regression(451, &["S451-72"]);
}

#[test]
fn seed_492_a_refund_owed_from_a_withdrawal_firm_slice_swept_below_it_is_made() {
    regression(492, &[]);
}

#[test]
fn seed_514_a_refund_owed_from_an_emptied_withdrawal_firm_slice_is_made() {
    regression(514, &[]);
}

#[test]
fn seed_569_a_refund_owed_from_an_emptied_withdrawal_firm_slice_is_made() {
    regression(569, &["S569-104"]);
}

#[test]
fn seed_589_a_refund_owed_from_a_withdrawal_firm_slice_swept_below_it_is_made() {
    regression(589, &["S589-55"]);
}

/// The cause of the issue 11 seeds, on purpose: a charge whose credit keeps failing, while
/// a B1 sweep runs on the withdrawal firm slice that received its withdrawal (high mark
/// below the charge). The sweep must leave the withdrawn money where it is until the
/// credit is given up, and the refund is then made from it.
#[test]
fn a_withdrawal_whose_credit_is_given_up_keeps_its_money_through_a_sweep_and_is_refunded() {
    let extra = "[supervisor]\nwindow_min_age_ms = 0\nretry_backoff_min_ms = 1\nretry_backoff_max_ms = 1\nreprocess_failures_max = 2\n\
non_reflected_interval_ms = 86_400_000\nreprocess_interval_ms = 86_400_000\nrecovery_interval_ms = 86_400_000\nsweep_interval_ms = 86_400_000\n\
[parents.withdrawal_firm]\nopening = 0\nlow_mark = 0\ntarget = 0\nhigh_mark = 1_000_000\n";
    let w = support::world::World::new(2, extra, 0);
    let bank = omnibus_core::BankCode::new("004").unwrap();
    let withdrawal_firm = omnibus_core::ParentAccount::WithdrawalFirm(bank);
    let before = w.linked_truth();
    w.sim
        .set_rates(Rail::SecuritiesFirm, support::always("fail"));
    let outcome =
        w.rt.block_on(w.engine.charge(charge(1, "C-1", 2_000_000)))
            .unwrap();
    assert_eq!(
        outcome.told,
        Told::Succeeded,
        "A2 FAIL tells succeeded ([0168])"
    );
    assert_eq!(w.parent_won(withdrawal_firm), 2_000_000);
    // Reprocessing fails twice, then gives up; every pass also plans its sweeps.
    let r = w.settle();
    assert_eq!((r.reprocessed, r.gave_up), (2, 1), "{r:?}");
    assert_eq!(
        w.entries("C-1"),
        vec![
            (Step::ChargeWithdrawal, EntryState::Success),
            (Step::ChargeCredit, EntryState::Fail),
            (Step::Refund, EntryState::Success)
        ]
    );
    assert_eq!(
        w.linked_truth(),
        before,
        "the linked account got its money back"
    );
    assert_eq!(w.parent_won(withdrawal_firm), 0);
    let truth = w.sim.truth();
    assert_eq!(truth.parent(withdrawal_firm).map(won), Some(0));
    assert!(
        w.sim
            .executed(Rail::BankFirm)
            .iter()
            .all(|e| e.operation != Operation::Settle),
        "no sweep took the money set aside for the refund"
    );
    w.finish();
}

/// Found by the simulation's slow pace (`OMNIBUS_SIM_PACE=slow`): a caller past
/// `actors.answer_deadline_ms` while a remittance's deduction (X1) is in flight is told
/// what an X1 timeout tells, failed ([0181]); when X1 then answers done, SPEC §4 says the
/// deduction is recovered ([0226]), but the engine goes on with the deposit (X2) and pays
/// the payee: the customer was told failed, and the money left (a retry pays twice).
/// (Then) `core/src/flow.rs` `plan_after`: `FollowUp::PostThenDeposit` starts X2 whether or not
/// the request was answered; once answered (a first-path remittance can only have been
/// told failed before X1 is done), it should recover instead.
#[test]
fn a_remittance_told_failed_at_its_deadline_is_recovered_not_paid_when_its_deduction_answers_late()
{
    let extra = "[actors]\nanswer_deadline_ms = 20\n[rails.securities_firm]\ntimeout_ms = 1_000\n[rails.bank_firm]\ntimeout_ms = 1_000\n\
[supervisor]\nwindow_min_age_ms = 0\nretry_backoff_min_ms = 1\nretry_backoff_max_ms = 1\n\
non_reflected_interval_ms = 86_400_000\nreprocess_interval_ms = 86_400_000\nrecovery_interval_ms = 86_400_000\nsweep_interval_ms = 86_400_000\n";
    let w = support::world::World::new(2, extra, 100_000);
    // The securities firm answers after 100 ms: past the caller's 20 ms deadline, within
    // the engine's 1 s timeout.
    let mut slow = support::always("fail");
    slow.failure_rate = 0.0;
    slow.latency_us_min = 100_000;
    slow.latency_us_max = 100_000;
    w.sim.set_rates(Rail::SecuritiesFirm, slow);
    let outcome =
        w.rt.block_on(w.engine.remit(remit(1, "R-1", 10_000)))
            .unwrap();
    assert_eq!(
        (outcome.told, outcome.decided_by, outcome.timed_out),
        (Told::Failed, Step::RemitDeduction, true),
        "past the deadline with X1 in flight: X1's timeout answer"
    );
    std::thread::sleep(Duration::from_millis(300));
    w.settle();
    assert_eq!(
        w.entries("R-1"),
        vec![
            (Step::RemitDeduction, EntryState::Success),
            (Step::Recovery, EntryState::Success)
        ],
        "told failed, deducted: recovered, not paid out"
    );
    assert_eq!((w.engine_won(), w.truth_won()), (100_000, 100_000));
    w.finish();
}

/// The same bug as a seed of the slow pace (`OMNIBUS_SIM_PACE=slow OMNIBUS_SIM_SEED=2`):
/// a remittance (which one depends on timing: S2-10, S2-15, S2-40, S2-44 in four runs) is
/// told failed at its 26 ms deadline with its deduction in flight, and paid out.
#[test]
fn seed_2_slow_a_remittance_told_failed_at_its_deadline_is_not_paid_out() {
    let shape = Shape {
        parents: Parents::Roomy,
        pace: Pace::Slow {
            latency_ms: 33,
            deadline_ms: 26,
        },
        sales: false,
        cards: false,
    };
    run(2, 120, shape);
}
