//! Every benchmark still runs: each is started at a tiny size and must exit 0 and print
//! its figures as `name=value unit` lines. Figures are not judged here (performance is
//! shown by the benchmarks themselves, see bench/RESULTS.md); this catches a benchmark
//! that no longer starts, as the ledger benchmark did once the engine began refusing
//! bytes that are no ed25519 key.

use std::process::Command;

/// Runs `omnibus-bench <args>` and returns the names of the figures it printed.
fn figures(args: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_omnibus-bench"))
        .args(args)
        .env("TMPDIR", dir.path())
        .output()
        .expect("omnibus-bench starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "omnibus-bench {args:?} failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let names: Vec<String> = stdout
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once('=')?;
            let number = value.split_whitespace().next()?;
            number.parse::<f64>().ok().map(|_| name.to_owned())
        })
        .collect();
    assert!(
        !names.is_empty(),
        "omnibus-bench {args:?} printed no figure:\n{stdout}"
    );
    names
}

#[test]
fn the_ledger_benchmark_runs_and_prints_its_figures() {
    let names = figures(&[
        "ledger",
        "--only",
        "throughput,restart",
        "--postings",
        "2000",
        "--customers",
        "100",
        "--in-flight",
        "256",
        "--batch",
        "64",
        "--restart-customers",
        "200",
        "--restart-postings",
        "2000",
        "--restart-requests",
        "2000",
    ]);
    assert!(names.iter().any(|n| n.contains("restart")), "{names:?}");
}

#[test]
fn the_soak_benchmark_runs_and_prints_its_figures() {
    let names = figures(&[
        "soak",
        "--minutes",
        "0.1",
        "--rate",
        "500",
        "--customers",
        "100",
    ]);
    for figure in [
        "rss_bytes_per_retained_request",
        "saga_p99_us",
        "snapshot_pause_max_us",
    ] {
        assert!(names.iter().any(|n| n == figure), "{figure}: {names:?}");
    }
}

#[test]
fn the_flows_benchmark_runs_and_prints_its_figures() {
    let names = figures(&[
        "flows",
        "--requests",
        "2000",
        "--in-flight",
        "128",
        "--customers",
        "100",
        "--latency-secs",
        "1",
        "--latent-in-flight",
        "100",
        "--latent-secs",
        "1",
    ]);
    assert!(names.iter().any(|n| n == "sagas_per_sec"), "{names:?}");
}

#[test]
fn the_wal_benchmark_runs_and_prints_its_figures() {
    let names = figures(&[
        "wal",
        "--records",
        "20000",
        "--appenders",
        "2",
        "--segment-bytes",
        "4194304",
    ]);
    assert!(!names.is_empty());
}
