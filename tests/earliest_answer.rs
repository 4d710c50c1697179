//! Issue 13: a request is answered at the earliest durable point that fixes its answer.
//!
//! A charge is told `succeeded` whatever its credit A2 does (SPEC §4: success, a failure
//! left to reprocessing, a timeout all tell `succeeded`), so once A1's SUCCESS and A2's
//! entry are durable, the answer is fixed: it goes on record in the same group and the
//! caller hears it then, without waiting for A2's call and another group commit.
//!
//! The proof is a crash between every pair of records: one engine carries out charges and
//! remittances on every path their answer can take, then its log is cut after each of its
//! records in turn, and an engine restarted on each cut must derive, for every request, the
//! answer its caller was given (SPEC §6.5): exactly the answer on record once the record
//! is in the cut; and, from the point that fixed it on, the same `told` from the entries
//! (`due_answer`, what the engine tells a request a crash left without its answer).

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use omnibus_actors::rails::sim::Rail;
use omnibus_actors::Engine;
use omnibus_core::instruments::due_answer;
use omnibus_core::record::LedgerRecord;
use omnibus_core::request_log::{EntryState, Step, Told};
use omnibus_core::saga::{Answer, EntryId};
use omnibus_wal::{Wal, WalOptions};
use support::*;

/// Rails answer within 100 ms or time out; one-megabyte segments, so that a copy per cut
/// is small; nothing of a supervisor's runs by itself.
const EXTRA: &str = "[wal]\nsegment_bytes = 1_048_576\n[rails.bank_firm]\ntimeout_ms = 100\n[rails.securities_firm]\ntimeout_ms = 100\n[rails.financial_company]\ntimeout_ms = 100\n[supervisor]\nnon_reflected_interval_ms = 86_400_000\nreprocess_interval_ms = 86_400_000\nrecovery_interval_ms = 86_400_000\nsweep_interval_ms = 86_400_000\n";

/// One request of the scenario: its number, and the rails' behaviour while it runs.
struct Case {
    no: &'static str,
    bank: Option<&'static str>,
    securities: Option<&'static str>,
    remit_won: Option<i64>,
    charge_won: i64,
}

const CASES: [Case; 6] = [
    // A charge whose credit succeeds, fails (FAIL_TRY_AGAIN), times out: told succeeded
    // with the credit's entry, each.
    Case {
        no: "C-OK",
        bank: None,
        securities: None,
        remit_won: None,
        charge_won: 50_000,
    },
    Case {
        no: "C-A2-FAIL",
        bank: None,
        securities: Some("fail"),
        remit_won: None,
        charge_won: 20_000,
    },
    Case {
        no: "C-A2-TIMEOUT",
        bank: None,
        securities: Some("timeout"),
        remit_won: None,
        charge_won: 30_000,
    },
    // A charge whose withdrawal fails: told failed by A1's result, as before.
    Case {
        no: "C-A1-FAIL",
        bank: Some("fail"),
        securities: None,
        remit_won: None,
        charge_won: 40_000,
    },
    // A remittance within the balance, and one with a deficit (its charge's credit fixes
    // nothing: a failure tells failed): told by the deposit's result, as before.
    Case {
        no: "R-OK",
        bank: None,
        securities: None,
        remit_won: Some(5_000),
        charge_won: 0,
    },
    Case {
        no: "R-DEFICIT",
        bank: None,
        securities: None,
        remit_won: Some(60_000),
        charge_won: 0,
    },
];

/// Runs the scenario on a fresh engine and returns what each caller was told.
fn run_scenario(dir: &Path) -> HashMap<&'static str, Answer> {
    let (engine, sim) = start_sim(dir, 1, EXTRA);
    let rt = runtime();
    let mut told = HashMap::new();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        for case in &CASES {
            sim.set_rates(Rail::BankFirm, rates(case.bank));
            sim.set_rates(Rail::SecuritiesFirm, rates(case.securities));
            let outcome = match case.remit_won {
                Some(won) => engine.remit(remit(1, case.no, won)).await.unwrap(),
                None => engine
                    .charge(charge(1, case.no, case.charge_won))
                    .await
                    .unwrap(),
            };
            let answer = engine
                .request(case.no.parse().unwrap())
                .await
                .unwrap()
                .answer
                .expect("answered, so on record");
            assert_eq!(
                (answer.told, answer.decided_by, answer.timed_out),
                (outcome.told, outcome.decided_by, outcome.timed_out),
                "{}: the caller hears the answer on record",
                case.no
            );
            told.insert(case.no, answer);
            // The request's calls end before the next one starts, so that each cut below
            // falls inside one request's records.
            settle(&engine, case.no).await;
        }
    });
    engine.shutdown().unwrap();
    told
}

fn rates(fault: Option<&str>) -> omnibus_core::config::SimulatedRailConfig {
    fault.map_or_else(healthy, always)
}

/// Waits until no entry of the request is REQUESTED (its calls answered or timed out).
async fn settle(engine: &Engine, no: &str) {
    for _ in 0..200 {
        let view = engine.request(no.parse().unwrap()).await.unwrap();
        if view
            .entries
            .iter()
            .all(|e| e.state != EntryState::Requested)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{no}: an entry stayed REQUESTED");
}

/// Where each request's records are in the log (LSNs, from 1).
#[derive(Default, Debug)]
struct Positions {
    answered: Option<u64>,
    /// The charge credit's entry and its first result.
    credit_requested: Option<u64>,
    credit_result: Option<u64>,
}

fn positions(dir: &Path) -> (u64, HashMap<String, Positions>) {
    let copy = tempfile::tempdir().unwrap();
    support::cut::copy_dir(dir, copy.path());
    let recovery = Wal::open(WalOptions::new(copy.path().join("shard-000"))).unwrap();
    let mut by_request: HashMap<String, Positions> = HashMap::new();
    let mut credit_entries: HashMap<EntryId, String> = HashMap::new();
    let mut last = 0;
    for frame in recovery.records() {
        let frame = frame.unwrap();
        last = frame.lsn;
        match omnibus_core::record::codec::decode(frame.payload).unwrap() {
            LedgerRecord::EntryRequested {
                entry,
                request_no,
                step: Step::ChargeCredit,
                ..
            } => {
                let p = by_request.entry(request_no.to_string()).or_default();
                p.credit_requested.get_or_insert(frame.lsn);
                credit_entries.insert(entry, request_no.to_string());
            }
            LedgerRecord::EntryEvent { entry, .. } => {
                if let Some(no) = credit_entries.get(&entry) {
                    let p = by_request.get_mut(no).unwrap();
                    p.credit_result.get_or_insert(frame.lsn);
                }
            }
            LedgerRecord::Answered { request_no, .. } => {
                let p = by_request.entry(request_no.to_string()).or_default();
                p.answered.get_or_insert(frame.lsn);
            }
            _ => {}
        }
    }
    (last, by_request)
}

#[test]
fn a_charge_is_answered_with_its_credits_entry_before_the_credits_result() {
    let dir = tempfile::tempdir().unwrap();
    let told = run_scenario(dir.path());
    let (_, at) = positions(dir.path());
    for no in ["C-OK", "C-A2-FAIL", "C-A2-TIMEOUT"] {
        let p = &at[no];
        let (requested, answered, result) = (
            p.credit_requested.unwrap(),
            p.answered.unwrap(),
            p.credit_result.unwrap(),
        );
        assert_eq!(
            answered,
            requested + 1,
            "{no}: the answer is written right after the credit's entry, in its group: {p:?}"
        );
        assert!(
            answered < result,
            "{no}: answered before the credit's result: {p:?}"
        );
        assert_eq!(
            (told[no].told, told[no].decided_by, told[no].timed_out),
            (Told::Succeeded, Step::ChargeCredit, false),
            "{no}"
        );
    }
    // Where a result can tell otherwise, the answer waits for it.
    assert_eq!(
        (told["C-A1-FAIL"].told, told["C-A1-FAIL"].decided_by),
        (Told::Failed, Step::ChargeWithdrawal)
    );
    let deficit = &at["R-DEFICIT"];
    assert!(
        deficit.answered.unwrap() > deficit.credit_result.unwrap(),
        "a remittance's deficit credit fixes nothing: {deficit:?}"
    );
    for no in ["R-DEFICIT", "R-OK"] {
        assert_eq!(
            (told[no].told, told[no].decided_by),
            (Told::Succeeded, Step::RemitDeposit),
            "{no}"
        );
    }
}

#[test]
fn every_answered_outcome_is_derived_unchanged_after_a_crash_between_any_two_records() {
    let dir = tempfile::tempdir().unwrap();
    let told = run_scenario(dir.path());
    let (records, at) = positions(dir.path());
    let rt = runtime();
    let mut checked = 0;
    for cut in 0..=records {
        let copy = tempfile::tempdir().unwrap();
        support::cut::copy_dir(dir.path(), copy.path());
        support::cut::keep_first_records(copy.path(), cut as usize);
        let (engine, _sim) = start_sim(copy.path(), 1, EXTRA);
        rt.block_on(async {
            for case in &CASES {
                let p = &at[case.no];
                let live = &told[case.no];
                let answered = p.answered.expect("every request answered");
                // Early answers are fixed by the credit's entry; the others by their record.
                let fixed_at = if answered == p.credit_requested.map_or(0, |r| r + 1) {
                    p.credit_requested.unwrap()
                } else {
                    answered
                };
                if fixed_at > cut {
                    continue;
                }
                let view = engine
                    .request(case.no.parse().unwrap())
                    .await
                    .unwrap_or_else(|e| panic!("cut {cut}: {}: not on record: {e}", case.no));
                if answered <= cut {
                    assert_eq!(
                        view.answer.as_ref(),
                        Some(live),
                        "cut {cut}: {}: the answer on record is the one given",
                        case.no
                    );
                } else {
                    let derived = due_answer(&view.accepted, &view.entries, 0)
                        .expect("a customer's request is due an answer");
                    assert_eq!(
                        (derived.told, derived.decided_by),
                        (live.told, live.decided_by),
                        "cut {cut}: {}: the answer the durable entries fix: {view:?}",
                        case.no
                    );
                    if let Some(recorded) = view.answer {
                        assert_eq!(recorded.told, live.told, "cut {cut}: {}", case.no);
                    }
                }
                checked += 1;
            }
        });
        engine.shutdown().unwrap();
    }
    eprintln!(
        "{} cuts of {records} records, {checked} answers checked",
        records + 1
    );
    // Each cut after a request's fixing point checked it: the scenario's records and all.
    assert!(records > 30, "{records} records");
    assert!(
        checked > 6 * 5,
        "{checked} answers checked across {records} cuts"
    );
}

#[test]
fn a_parent_balance_read_after_an_answered_charge_shows_the_charges_credit() {
    // The credit A2 takes 50 ms at the securities firm (its timeout is 100 ms): the caller hears `succeeded` with
    // A2's entry, long before its result. A read of the parent account that follows the
    // answer must still see the books as the answer tells them (SPEC §4: the credit moved
    // the money from fin_parent to the customer), as it did when the answer came last.
    let dir = tempfile::tempdir().unwrap();
    let (engine, sim) = start_sim(dir.path(), 1, EXTRA);
    let rt = runtime();
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        let before = engine
            .parent_balance(omnibus_core::ParentAccount::FinParent)
            .await
            .unwrap()
            .total;
        let mut slow = healthy();
        slow.latency_us_min = 50_000;
        slow.latency_us_max = 50_000;
        sim.set_rates(Rail::SecuritiesFirm, slow);
        let outcome = engine.charge(charge(1, "C-SLOW", 70_000)).await.unwrap();
        assert_eq!(outcome.told, Told::Succeeded);
        let after = engine
            .parent_balance(omnibus_core::ParentAccount::FinParent)
            .await
            .unwrap()
            .total;
        assert_eq!(
            after,
            before
                .checked_sub(omnibus_core::Money::krw(70_000).unwrap())
                .unwrap(),
            "the charge told succeeded has credited the customer out of fin_parent"
        );
    });
    engine.shutdown().unwrap();
}
