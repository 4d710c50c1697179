//! `omnibus load` end to end: against a real `omnibus serve` over loopback, and against
//! an engine embedded in the load generator's own process. Short runs bounded by a
//! request count; the figures themselves go to bench/RESULTS.md, not into assertions.

#[path = "support/http.rs"]
mod http;
#[path = "support/signed.rs"]
mod signed;

use std::process::Command;

use http::{write_config, Server};
use serde_json::Value;

/// Runs `omnibus load` with `args` and parses its `--json` summary.
fn load(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_omnibus"))
        .arg("load")
        .args(args)
        .arg("--json")
        .output()
        .expect("run omnibus load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "omnibus load failed:\n{stdout}\n{stderr}"
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}):\n{stdout}"))
}

/// The summary of a run of exactly 300 operations without errors. Every operation is
/// answered: on zero-fault rails, with the parent slices refilled on demand, none is told
/// `failed`. Remittances that overlap another remittance of their customer (each charging
/// its deficit against the same balance) would be counted apart as
/// `failed_overlapping_remittances`; each customer's account actor orders its customer's
/// requests, so there are none.
fn check_summary(summary: &Value) {
    assert_eq!(summary["requests"], 300, "{summary}");
    assert_eq!(summary["errors"], 0, "{summary}");
    let outcome = |name: &str| summary["outcomes"][name].as_u64().unwrap_or(0);
    let overlapping = outcome("failed_overlapping_remittance");
    assert_eq!(
        summary["failed_overlapping_remittances"].as_u64(),
        Some(overlapping),
        "{summary}"
    );
    assert_eq!(
        overlapping, 0,
        "one customer's requests are ordered: {summary}"
    );
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(outcome("failed"), 0, "{summary}");
    assert_eq!(outcome("succeeded") + overlapping, 300, "{summary}");
    assert_eq!(summary["succeeded"].as_u64(), Some(outcome("succeeded")));
    if summary["concurrency"] == 1 {
        assert_eq!(outcome("succeeded"), 300, "{summary}");
    }
    // The mix: half charges, four tenths remittances, one tenth signed remittances
    // (two calls each: the signing text, then the submission).
    assert_eq!(summary["kinds"]["charge"]["requests"], 150, "{summary}");
    assert_eq!(summary["kinds"]["remit"]["requests"], 120, "{summary}");
    assert_eq!(
        summary["kinds"]["remit_signed"]["requests"], 30,
        "{summary}"
    );
    assert_eq!(summary["calls"], 330, "{summary}");
    let p = |name: &str| {
        summary[name]
            .as_u64()
            .unwrap_or_else(|| panic!("no {name}: {summary}"))
    };
    assert!(p("p50_us") >= 1 && p("p50_us") <= p("p99_us") && p("p99_us") <= p("p999_us"));
    assert!(summary["requests_per_sec"].as_f64().unwrap() > 0.0);
}

#[test]
fn load_against_a_server_opens_its_customers_then_drives_the_mix() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", "");
    let server = Server::start(&config, &dir.path().join("data"));
    let url = format!("http://{}", server.addr);
    let config = config.to_str().unwrap();
    let closed = load(&[
        "--url",
        &url,
        "--config",
        config,
        "--customers",
        "20",
        "--requests",
        "300",
        "--duration",
        "60s",
        "--concurrency",
        "1",
    ]);
    check_summary(&closed);
    assert_eq!(closed["loop"], "closed");
    let open = load(&[
        "--url",
        &url,
        "--config",
        config,
        "--customers",
        "20",
        "--requests",
        "300",
        "--duration",
        "60s",
        "--rate",
        "1000",
    ]);
    check_summary(&open);
    assert_eq!(open["loop"], "open");
    assert!(open["send_lag_p99_us"].is_u64(), "{open}");
    // Both runs went through the server, and its books still balance.
    let metrics = server.get("/metrics").text();
    assert!(
        metrics.lines().any(|l| l == "omnibus_books_sum_won 0"),
        "{metrics}"
    );
}

#[test]
fn the_load_generator_signs_its_requests_for_a_server_that_asks() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", "auth = \"required\"\n");
    let data = dir.path().join("data");
    let operator = signed::operator_key(&config, &data);
    let server = Server::start(&config, &data);
    let url = format!("http://{}", server.addr);
    let config = config.to_str().unwrap();
    let args = [
        "--url",
        &url,
        "--config",
        config,
        "--customers",
        "20",
        "--requests",
        "300",
        "--duration",
        "60s",
        "--concurrency",
        "4",
    ];
    // Unsigned, the server refuses it at the first call that needs a key.
    let out = Command::new(env!("CARGO_BIN_EXE_omnibus"))
        .arg("load")
        .args(args)
        .env_remove("OMNIBUS_KEY_ID")
        .env_remove("OMNIBUS_KEY_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unauthorized"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut signed_args = args.to_vec();
    signed_args.extend([
        "--key-id",
        &operator.key_id,
        "--key-secret",
        &operator.secret,
    ]);
    let summary = load(&signed_args);
    check_summary(&summary);
    assert_eq!(
        server.get("/metrics").status,
        401,
        "metrics are the operator's"
    );
    let metrics = operator.get(&server, "/metrics").text();
    assert!(
        metrics.lines().any(|l| l == "omnibus_books_sum_won 0"),
        "{metrics}"
    );
}

#[test]
fn load_embedded_runs_the_same_mix_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", "");
    let data = dir.path().join("embedded");
    let summary = load(&[
        "--embedded",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--customers",
        "20",
        "--requests",
        "300",
        "--duration",
        "60s",
        "--concurrency",
        "1",
    ]);
    check_summary(&summary);
    assert_eq!(summary["target"], "embedded");
    // The engine ran on the given data directory and shut down cleanly: its logs verify.
    let verify = Command::new(env!("CARGO_BIN_EXE_omnibus"))
        .args(["wal", "verify", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

#[test]
fn load_refuses_bad_arguments_and_remote_urls() {
    for args in [
        vec!["--embedded", "--rate", "0"],
        vec!["--embedded", "--duration", "25h"],
        vec!["--url", "http://10.1.2.3:8080"],
        vec!["--url", "https://127.0.0.1:8080"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_omnibus"))
            .arg("load")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?} was not refused");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("omnibus:"),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
