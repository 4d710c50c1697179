//! The short CI version of `omnibus-bench crash` (issue 11): the real `omnibus serve`
//! binary under a mixed HTTP load, killed with SIGKILL at random moments and restarted,
//! every acknowledged outcome looked up by request number, the books balanced.
//!
//! The crash runner is the bench's own `bench/src/crash.rs`, compiled into this test (it
//! uses only std and crates this package depends on), so that the test runs the `omnibus`
//! binary cargo built for it (`CARGO_BIN_EXE_omnibus`, which only this package's tests
//! are given) and needs no library target in the bench crate.
//!
//! - `OMNIBUS_CRASH_CYCLES=N`: kills (default 3);
//! - `OMNIBUS_CRASH_SEED=N`: the seed (default 1);
//!
//! Reconciliation must come out clean: the simulated rails keep what they executed in a
//! journal under the data directory, so a killed server's simulator remembers it.

#[allow(dead_code)]
#[path = "../bench/src/crash.rs"]
mod crash;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[test]
fn acknowledged_outcomes_survive_kill_9_under_http_load() {
    let cycles = env_or("OMNIBUS_CRASH_CYCLES", "3");
    let seed = env_or("OMNIBUS_CRASH_SEED", "1");
    let args = crash::parse_args(&[
        "--cycles",
        &cycles,
        "--seed",
        &seed,
        "--clients",
        "4",
        "--kill-max-ms",
        "800",
        "--snapshot-every",
        "500",
        "--omnibus",
        env!("CARGO_BIN_EXE_omnibus"),
    ])
    .expect("crash arguments");
    let mut report = crash::run_cycles(&args).unwrap_or_else(|e| panic!("crash run: {e}"));
    crash::print_figures(&report);
    let passed = report.outcomes_ok() && report.reconciliation_breaks == 0;
    if !passed {
        report.keep_dir();
    }
    assert!(
        report.acknowledged > 0 && report.resubmitted > 0,
        "the load acknowledged nothing, or no kill cut a request: {report:?}"
    );
    assert!(
        report.outcomes_ok(),
        "after {} kills: {} acknowledged outcomes lost, {} unbalanced books checks, {} resubmissions unanswered, {} entries open after settling, {} customers below zero\n{}",
        report.cycles,
        report.acknowledged_lost,
        report.books_unbalanced,
        report.resubmissions_unanswered,
        report.entries_open_after_settle,
        report.negative_balances,
        report.examples()
    );
    assert_eq!(
        report.reconciliation_breaks,
        0,
        "reconciliation after {} kills: {:?}\n{}",
        report.cycles,
        report.breaks_by_kind,
        report.examples()
    );
}
