//! The deterministic simulation (issue 6): one seed drives a random workload (opens,
//! charges, remittances under and over the usage limit, deficits, duplicates) against
//! simulated rails that fail, time out and lose responses at random, and crashes and
//! restarts the engine at random points. Then the rails heal, the supervisors run to
//! quiescence, and SPEC §6 is checked, on the engine's books and on the rails' truth:
//!
//! 1. conservation: the engine's books sum to zero, the outside world's money is
//!    unchanged, and every account both sides book agrees (customers, linked accounts,
//!    every parent account, settlement sweeps included);
//! 2. no customer balance below zero;
//! 3. every request-log entry final, nothing owed;
//! 4. every failed deposit recovered, every charge credit failed for good refunded;
//! 5. no request executed twice at any rail;
//! 6. every outcome reported to a caller still true after every crash;
//! 7. the reconciliation report clean: every request log agrees with its rail's statement.
//!
//! `OMNIBUS_SIM_SEEDS=N` runs seeds 1..=N (default 6, for CI); `OMNIBUS_SIM_SEED=S` replays
//! one seed; `OMNIBUS_SIM_OPS=N` sets the operations per seed (default 120). A failing seed
//! prints itself. The operations, the faults (drawn from the seed and each call's request
//! id) and the crash points are the same on every run of a seed; which background work
//! (a recovery, a late continuation) a crash cuts short depends on thread timing.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use omnibus_actors::rails::sim::{Rail, Simulator};
use omnibus_actors::{Engine, EngineError, EngineParts, Outcome, SupervisionReport, SystemClock};
use omnibus_core::config::SimulatedRailConfig;
use omnibus_core::request_log::{EntryState, Step, Told};
use omnibus_core::{AccountId, Config, CustomerId, Money, RequestNo};
use rand::{rngs::StdRng, Rng, SeedableRng};
use support::*;

/// Parent accounts small enough that sweeps run during a seed: withdrawal firm accounts
/// fill past their high mark (B1), fin_parent drains below its low mark (B2) and the
/// deposit firm accounts too (Y3); some requests find a slice empty and are told failed.
const PARENTS: &str = "[parents.fin_parent]\nopening = 220_000_000\nlow_mark = 200_000_000\ntarget = 260_000_000\nhigh_mark = 400_000_000\n\
[parents.deposit_firm]\nopening = 40_000_000\nlow_mark = 20_000_000\ntarget = 40_000_000\nhigh_mark = 80_000_000\n\
[parents.withdrawal_firm]\nopening = 0\nlow_mark = 0\ntarget = 0\nhigh_mark = 5_000_000\n\
[parents.collection]\nopening = 500_000_000\nlow_mark = 50_000_000\ntarget = 500_000_000\nhigh_mark = 5_000_000_000\n";

fn sim_config(dir: &std::path::Path, seed: u64) -> Config {
    // Rails answer or time out within 40 ms; the supervisors act only when the test says
    // so (their timers are parked, no refills on demand), with no window and immediate
    // retries. Snapshots are
    // taken every 50 records, so crashes and restarts also meet snapshots cut in the
    // middle of flows (copy-on-write) and recovery from them.
    let extra = format!(
        "[rails.bank_firm]\ntimeout_ms = 40\n[rails.securities_firm]\ntimeout_ms = 40\n[rails.financial_company]\ntimeout_ms = 40\n\
[supervisor]\nwindow_min_age_ms = 0\nretry_backoff_min_ms = 1\nretry_backoff_max_ms = 4\nreprocess_failures_max = 2\n\
non_reflected_interval_ms = 86_400_000\nreprocess_interval_ms = 86_400_000\nrecovery_interval_ms = 86_400_000\nsweep_interval_ms = 86_400_000\nrefill_on_demand = false\n\
[wal]\nsnapshot_every_records = 50\n[simulator]\nseed = {seed}\n{PARENTS}"
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

fn start_engine(config: &Config, sim: &Simulator) -> Engine {
    let parts = EngineParts::new(sim.rails(), Arc::new(SystemClock));
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

struct Stats {
    ops: u64,
    crashes: u64,
    /// Shard restarts that began from a snapshot rather than from the first record.
    from_snapshot: u64,
    reported: usize,
    faults: u64,
    sweeps: u64,
}

fn run(seed: u64, ops: u64) -> Stats {
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let config = sim_config(dir.path(), seed);
    let sim = Simulator::new(&config);
    for rail in [Rail::BankFirm, Rail::SecuritiesFirm, Rail::FinancialCompany] {
        sim.set_rates(rail, faulty(&mut rng));
    }
    let mut engine = start_engine(&config, &sim);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
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
            continue;
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
                record(&mut reported, &no, result, seed);
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
                engine = start_engine(&config, &sim);
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
        record(&mut reported, &no, result, seed);
        submitted.push((no, op));
    }

    // The rails heal; the supervisors run until every entry is final and nothing is owed.
    sim.heal();
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
    check_invariants(&rt, &engine, &sim, &customers, &reported, seed);
    let stats = sim.stats();
    let faults = [Rail::BankFirm, Rail::SecuritiesFirm, Rail::FinancialCompany]
        .iter()
        .map(|r| {
            let s = stats.rail(*r);
            s.injected_failures + s.timeouts + s.lost_responses
        })
        .sum();
    let sweeps = sim
        .executed(Rail::BankFirm)
        .iter()
        .filter(|e| e.operation == omnibus_actors::rails::sim::Operation::Settle)
        .count() as u64;
    engine.shutdown().unwrap();
    Stats {
        ops,
        crashes,
        from_snapshot,
        reported: reported.told.len(),
        faults,
        sweeps,
    }
}

#[derive(Clone, Debug)]
enum Op {
    Charge(i64),
    Remit(i64),
    RemitSigned(i64),
    For(u64, Box<Op>),
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

fn record(reported: &mut Reported, no: &str, result: Result<Outcome, EngineError>, seed: u64) {
    match result {
        Ok(outcome) => {
            let first = *reported.told.entry(no.to_string()).or_insert(outcome.told);
            assert_eq!(
                first, outcome.told,
                "seed {seed}: request {no} was told two different things"
            );
        }
        // Refusals, overload and shutdown are answers too, but they report no outcome.
        Err(
            EngineError::Rejected(_)
            | EngineError::Refused(_)
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

fn check_invariants(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    sim: &Simulator,
    customers: &[u64],
    reported: &Reported,
    seed: u64,
) {
    // 6. Every outcome reported to a caller is still true.
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
        let linked_truth = truth.linked(engine_view.linked_bank, engine_view.linked_account);
        let linked_moved =
            won(linked_truth) - omnibus_actors::rails::sim::DEFAULT_LINKED_BALANCE_WON;
        let linked_engine = rt.block_on(engine_linked(engine, c));
        assert_eq!(
            linked_moved, linked_engine,
            "seed {seed}: customer {n}: linked account, bank and engine disagree"
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
    // 3-5. Every entry final; failed deposits recovered; failed-for-good credits refunded;
    // nothing executed twice.
    let mut executions: HashMap<(Rail, u64), u32> = HashMap::new();
    for rail in [Rail::BankFirm, Rail::SecuritiesFirm, Rail::FinancialCompany] {
        for e in sim.executed(rail) {
            *executions.entry((rail, e.id.entry)).or_default() += 1;
        }
    }
    for (key, count) in &executions {
        assert_eq!(*count, 1, "seed {seed}: {key:?} executed {count} times");
    }
    for no in reported.told.keys() {
        let view = rt.block_on(engine.request(no.parse().unwrap())).unwrap();
        let has = |step, state| {
            view.entries
                .iter()
                .any(|e| e.step == step && e.state == state)
        };
        for e in &view.entries {
            assert!(
                e.state.is_final(),
                "seed {seed}: {no}: entry {:?} is {}",
                e.step,
                e.state
            );
        }
        if has(Step::RemitDeposit, EntryState::Fail) {
            assert!(
                has(Step::Recovery, EntryState::Success),
                "seed {seed}: {no}: a failed deposit was not recovered"
            );
        }
        if has(Step::RemitDeduction, EntryState::Success)
            && !has(Step::RemitDeposit, EntryState::Success)
        {
            assert!(
                has(Step::Recovery, EntryState::Success),
                "seed {seed}: {no}: a deduction without a deposit was not recovered"
            );
        }
        if has(Step::ChargeCredit, EntryState::Fail) {
            assert!(
                has(Step::Refund, EntryState::Success),
                "seed {seed}: {no}: a charge credit failed for good but was not refunded"
            );
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

#[test]
fn simulation_keeps_every_invariant_whatever_the_rails_and_crashes_do() {
    let ops: u64 = std::env::var("OMNIBUS_SIM_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let seeds: Vec<u64> = match std::env::var("OMNIBUS_SIM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(seed) => vec![seed],
        None => {
            let n: u64 = std::env::var("OMNIBUS_SIM_SEEDS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(6);
            (1..=n).collect()
        }
    };
    let (mut total_ops, mut total_crashes, mut total_reported, mut total_faults, mut total_sweeps) =
        (0, 0, 0, 0, 0);
    let mut total_from_snapshot = 0;
    for seed in &seeds {
        let result = std::panic::catch_unwind(|| run(*seed, ops));
        match result {
            Ok(stats) => {
                total_ops += stats.ops;
                total_crashes += stats.crashes;
                total_from_snapshot += stats.from_snapshot;
                total_reported += stats.reported;
                total_faults += stats.faults;
                total_sweeps += stats.sweeps;
            }
            Err(panic) => {
                eprintln!("simulation seed {seed} FAILED; replay it with OMNIBUS_SIM_SEED={seed} OMNIBUS_SIM_OPS={ops}");
                std::panic::resume_unwind(panic);
            }
        }
    }
    eprintln!(
        "simulation: {} seeds, {total_ops} operations, {total_faults} rail faults injected, {total_crashes} crashes ({total_from_snapshot} shard restarts from a snapshot), {total_sweeps} sweeps executed at the banks, {total_reported} outcomes checked",
        seeds.len()
    );
}
