//! The simulated outside systems across a restart of the real `omnibus serve` binary
//! (issue 11, item 2): what the simulators executed before a SIGTERM or a kill -9 is
//! still what they answer from afterwards, so reconciliation stays clean and a confirm
//! inquiry about a call made before the crash tells the truth.

#[path = "support/http.rs"]
mod http;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use http::{write_config, Server};
use serde_json::{json, Value};

/// Today's date (UTC): the engine accepts request dates near its own only.
fn date() -> String {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64;
    omnibus_core::RequestDate::from_unix_ms(now_ms)
        .expect("today is a request date")
        .to_string()
}

/// How long the supervisors may take to settle every open entry after a restart.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// A customer with a linked account at bank 004 and a signature key.
fn opening(customer: u64, key: &SigningKey) -> Value {
    json!({
        "customer": customer,
        "linked_bank": "004",
        "linked_account": format!("110-{customer}"),
        "cert_serial": customer,
        "public_key": hex(&key.verifying_key().to_bytes()),
    })
}

fn charge(customer: u64, request_no: &str, won: u64) -> Value {
    json!({ "customer": customer, "request_date": date(), "request_no": request_no, "amount": won })
}

fn remittance(customer: u64, request_no: &str, won: u64) -> Value {
    json!({
        "customer": customer,
        "request_date": date(),
        "request_no": request_no,
        "amount": won,
        "payee_bank": "088",
        "payee_account": format!("220-{customer}"),
        "payee_name": "김철수",
    })
}

/// Supervisors that act within a fraction of a second: an UNKNOWN entry is confirmed at
/// once (no 15-minute window), retries and recoveries come quickly.
const QUICK_SUPERVISORS: &str = "[supervisor]\nnon_reflected_interval_ms = 100\nwindow_min_age_ms = 0\n\
reprocess_interval_ms = 100\nrecovery_interval_ms = 100\nretry_backoff_min_ms = 10\nretry_backoff_max_ms = 100\n";

/// The reconciliation report's mismatches, every log and every day, as (log, kind, id).
fn mismatches(server: &Server) -> Vec<(String, String, String)> {
    let report = server.get("/v1/reconciliation");
    assert_eq!(report.status, 200, "{}", report.text());
    let report = report.json();
    let mut found = Vec::new();
    for log in report["logs"].as_array().expect("logs") {
        for m in log["mismatches"].as_array().expect("mismatches") {
            found.push((
                log["log"].to_string(),
                m["kind"].as_str().unwrap_or("?").to_owned(),
                m.to_string(),
            ));
        }
    }
    found
}

fn assert_reconciliation_clean(server: &Server, when: &str) {
    let found = mismatches(server);
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, kind, _) in &found {
        *kinds.entry(kind).or_default() += 1;
    }
    assert!(
        found.is_empty(),
        "{when}: reconciliation lists {} mismatches {kinds:?}; the first: {:#?}",
        found.len(),
        found.iter().take(5).collect::<Vec<_>>()
    );
}

/// Open request-log entries (REQUESTED, UNKNOWN, FAIL_TRY_AGAIN) summed over shards,
/// from `/metrics`.
fn open_entries(server: &Server) -> f64 {
    let metrics = server.get("/metrics").text();
    metrics
        .lines()
        .filter(|l| l.starts_with("omnibus_request_log_entries_open{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn wait_until_settled(server: &Server) {
    let deadline = Instant::now() + SETTLE_LIMIT;
    loop {
        let open = open_entries(server);
        if open == 0.0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{open} request-log entries still open after {SETTLE_LIMIT:?}; log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every step of the request that succeeded, with how many of its attempts succeeded.
fn successes(server: &Server, request_no: &str) -> BTreeMap<String, usize> {
    let view = server.get(&format!("/v1/requests/{request_no}"));
    assert_eq!(view.status, 200, "{request_no}: {}", view.text());
    let mut steps = BTreeMap::new();
    for entry in view.json()["entries"].as_array().expect("entries") {
        if entry["state"] == "SUCCESS" {
            *steps
                .entry(entry["step"].as_str().unwrap_or("?").to_owned())
                .or_default() += 1;
        }
    }
    steps
}

/// No request had one step executed twice (two successful attempts of the same step).
fn assert_nothing_executed_twice(server: &Server, requests: &[String]) {
    for no in requests {
        for (step, count) in successes(server, no) {
            // A refund or a recovery is one entry per need; the steps of the flow itself
            // succeed once.
            assert!(count <= 1, "{no}: step {step} succeeded {count} times");
        }
    }
}

#[test]
fn reconciliation_stays_clean_after_a_sigterm_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), "", "");
    let mut server = Server::start(&config, &data);
    let k = key(3);
    assert_eq!(server.post("/v1/customers", &opening(1, &k)).status, 201);
    let mut requests = Vec::new();
    for n in 1..=3 {
        let no = format!("C-{n}");
        let charged = server.post("/v1/charges", &charge(1, &no, 50_000));
        assert_eq!(charged.status, 200, "{}", charged.text());
        assert_eq!(charged.json()["told"], "succeeded");
        requests.push(no);
    }
    for n in 1..=2 {
        let no = format!("R-{n}");
        let remitted = server.post("/v1/remittances", &remittance(1, &no, 10_000));
        assert_eq!(remitted.status, 200, "{}", remitted.text());
        assert_eq!(remitted.json()["told"], "succeeded");
        requests.push(no);
    }
    // One over the usage limit: the financial company server, a nonce and a key check.
    let over = remittance(1, "R-3", 2_500_000);
    let text = server.post("/v1/remittances/signing-text", &over).json();
    let text = text["text"].as_str().expect("a signing text");
    let mut signed = over.clone();
    signed["signature"] = json!(hex(&k.sign(text.as_bytes()).to_bytes()));
    signed["cert_serial"] = json!("1");
    let paid = server.post("/v1/remittances", &signed);
    assert_eq!(paid.status, 200, "{}", paid.text());
    assert_eq!(paid.json()["told"], "succeeded");
    requests.push("R-3".into());
    assert_reconciliation_clean(&server, "before the restart");
    assert_eq!(server.terminate().code(), Some(0), "log:\n{}", server.log());

    let mut again = Server::start(&config, &data);
    assert_reconciliation_clean(&again, "after a SIGTERM and a restart");
    // The signed text was paid once; the outside world still knows it.
    let replayed = again.post("/v1/remittances", &signed);
    assert_eq!(replayed.status, 200, "{}", replayed.text());
    assert_eq!(replayed.json()["told"], "succeeded");
    // New work after the restart reconciles too.
    let charged = again.post("/v1/charges", &charge(1, "C-after", 20_000));
    assert_eq!(charged.json()["told"], "succeeded", "{}", charged.text());
    requests.push("C-after".into());
    assert_reconciliation_clean(&again, "after new work on the restarted server");
    assert_nothing_executed_twice(&again, &requests);
    assert_eq!(again.terminate().code(), Some(0), "log:\n{}", again.log());
}

#[test]
fn confirms_stay_true_after_a_kill_9_with_calls_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Every bank and securities call executes at once and answers after 1.5 s, so the
    // kill lands between the execution and the answer of every call in flight.
    let slow = write_config(
        dir.path(),
        &format!(
            "[simulator.bank_firm]\nlatency_us_min = 1_500_000\nlatency_us_max = 1_500_000\n\
             [simulator.securities_firm]\nlatency_us_min = 1_500_000\nlatency_us_max = 1_500_000\n\
             {QUICK_SUPERVISORS}"
        ),
        "",
    );
    let mut server = Server::start(&slow, &data);
    // Each customer has one request in flight at the crash: a customer's account actor
    // carries out its customer's requests one at a time (issue 12), so a second one of the
    // same customer would still be waiting its turn, never having reached a rail.
    let customers: Vec<u64> = (1..=8).collect();
    for &c in &customers {
        assert_eq!(
            server
                .post("/v1/customers", &opening(c, &key(c as u8)))
                .status,
            201
        );
    }
    // Settled work before the crash: a charge each, then a remittance each.
    let mut requests = Vec::new();
    for &c in &customers {
        let no = format!("C-{c}-0");
        let charged = server.post("/v1/charges", &charge(c, &no, 100_000));
        assert_eq!(charged.json()["told"], "succeeded", "{}", charged.text());
        requests.push(no);
    }
    // Work in flight at the crash: charges (customers 1 to 4) and remittances (5 to 8),
    // sent from threads that the kill leaves without an answer.
    let mut in_flight = Vec::new();
    let mut senders = Vec::new();
    for &c in &customers {
        let (no, body, path) = if c <= 4 {
            (
                format!("C-{c}-1"),
                charge(c, &format!("C-{c}-1"), 30_000),
                "/v1/charges",
            )
        } else {
            (
                format!("R-{c}-1"),
                remittance(c, &format!("R-{c}-1"), 20_000),
                "/v1/remittances",
            )
        };
        let addr = server.addr.clone();
        senders.push(std::thread::spawn(move || {
            let _ = http::request(
                &addr,
                "POST",
                path,
                &[("Content-Type", "application/json")],
                Some(body.to_string().as_bytes()),
            );
        }));
        in_flight.push(no);
    }
    // Each in-flight request has its first call recorded REQUESTED (and so made, a few
    // milliseconds later) before the kill.
    let deadline = Instant::now() + Duration::from_secs(30);
    for no in &in_flight {
        loop {
            let view = server.get(&format!("/v1/requests/{no}"));
            let requested = view.status == 200
                && view.json()["entries"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|e| e["state"] == "REQUESTED"));
            if requested {
                break;
            }
            assert!(Instant::now() < deadline, "{no} never reached its rail");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on the child this test started and has not waited for.
    assert_eq!(unsafe { libc::kill(server.pid(), libc::SIGKILL) }, 0);
    server.wait();
    for sender in senders {
        let _ = sender.join();
    }
    requests.extend(in_flight.iter().cloned());

    // The restart runs without the latency; the supervisors confirm what the crash left
    // open.
    let quick = write_config(dir.path(), QUICK_SUPERVISORS, "");
    let mut again = Server::start(&quick, &data);
    wait_until_settled(&again);
    // The withdrawal of each in-flight charge and the deduction of each in-flight
    // remittance reached its rail and executed there before the kill: the confirm after
    // the restart must say so.
    for no in &in_flight {
        let done = successes(&again, no);
        let first_step = if no.starts_with('C') {
            "charge_withdrawal"
        } else {
            "remit_deduction"
        };
        assert_eq!(
            done.get(first_step),
            Some(&1),
            "{no}: its {first_step} executed before the kill, but after the restart it is {done:?}"
        );
    }
    assert_reconciliation_clean(&again, "after a kill -9 and a restart");
    assert_nothing_executed_twice(&again, &requests);
    assert_eq!(again.terminate().code(), Some(0), "log:\n{}", again.log());
}

#[test]
fn a_second_server_on_the_same_data_directory_is_refused_by_the_simulator_lock() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), "", "");
    let mut first = Server::start(&config, &data);
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_omnibus"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(&data)
        .output()
        .expect("run a second omnibus serve");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        !second.status.success(),
        "the second server started: {stderr}"
    );
    assert!(
        stderr.contains("simulator") && stderr.contains("in use by another process"),
        "{stderr}"
    );
    // The first one is untouched.
    assert_eq!(first.get("/health").status, 200);
    assert_eq!(first.terminate().code(), Some(0), "log:\n{}", first.log());
}
