//! The virtual-account relay over HTTP (issue 15; INSTRUMENTS.md §2.7): the real `omnibus
//! serve` binary, every endpoint walked as a partner, a bank and operations would: the
//! partner and its pools (S10), a lease and its repeat (D-2.12), a bank's notice matched
//! and repeated, a deposit check (D-2.5), a short deposit and one into a VA nobody leased
//! held in suspense, the suspense assigned and refunded (D-2.4), a recall (D-2.21), a cancel
//! (D-2.18), the collection statement (S32) and the history (D-2.17); bad input refused
//! with a clear error and nothing changed; then a SIGKILL and a restart on the same data,
//! after which every lease and deposit answers as before and no VA is given twice.

#[path = "support/http.rs"]
mod http;

use http::{write_config, Server};
use serde_json::{json, Value};

fn lease(server: &Server, order: &str, amount: u64) -> Value {
    let answer = server.post(
        "/v1/partners/P/va-leases",
        &json!({"order_no": order, "customer": "Kim", "bank": "004", "region": "SEOUL",
                "expected_amount_krw": amount}),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

fn notice(server: &Server, tx: &str, va: &str, amount: u64) -> Value {
    let answer = server.post(
        "/v1/banks/004/va-deposits",
        &json!({"bank_tx_id": tx, "va_no": va, "amount_krw": amount, "depositor_name": "Kim"}),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

#[test]
fn over_http_a_partner_leases_the_bank_notices_and_a_kill_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", "");
    let data = dir.path().join("data");
    let mut server = Server::start(&config, &data);

    // Bad partners are refused and create nothing.
    for (body, code) in [
        (
            json!({"partner_id": "P", "mode": "B", "pools": [{"bank": "004"}]}),
            "invalid_request",
        ),
        (
            json!({"partner_id": "P", "mode": "Z", "pools": []}),
            "invalid_field",
        ),
        (
            json!({"partner_id": "P P", "mode": "A", "pools": []}),
            "invalid_field",
        ),
        (
            json!({"partner_id": "P", "mode": "A", "pools": [{"bank": "4"}]}),
            "invalid_field",
        ),
        (json!({"partner_id": "P", "mode": "A"}), "missing_field"),
    ] {
        let refused = server.post("/v1/partners", &body);
        assert_eq!(refused.code(), code, "{body}: {}", refused.text());
    }
    assert_eq!(server.get("/v1/partners/P").status, 404);

    let configured = server.post(
        "/v1/partners",
        &json!({"partner_id": "P", "mode": "A",
                "pools": [{"bank": "004", "region": "SEOUL", "target": 10}]}),
    );
    assert_eq!(configured.status, 200, "{}", configured.text());
    let pool = &configured.json()["pools"][0];
    assert_eq!(
        (pool["size"].as_u64(), pool["free"].as_u64()),
        (Some(10), Some(10))
    );

    // S16–S20 and D-2.12.
    let l1 = lease(&server, "O-1", 15_000);
    assert_eq!(
        (l1["va_no"].as_str(), l1["state"].as_str()),
        (Some("0040000001"), Some("OPEN"))
    );
    assert_eq!(
        lease(&server, "O-1", 15_000),
        l1,
        "a repeat answers the same lease"
    );
    let conflict = server.post(
        "/v1/partners/P/va-leases",
        &json!({"order_no": "O-1", "customer": "Kim", "bank": "004", "region": "SEOUL",
                "expected_amount_krw": 16_000}),
    );
    assert_eq!(
        conflict.code(),
        "idempotency_conflict",
        "{}",
        conflict.text()
    );
    let elsewhere = server.post(
        "/v1/partners/P/va-leases",
        &json!({"order_no": "O-9", "customer": "Kim", "bank": "088", "expected_amount_krw": 1}),
    );
    assert_eq!(
        elsewhere.code(),
        "bank_not_available",
        "{}",
        elsewhere.text()
    );

    // D-2.5 before the money moves, then the notice, matched; its repeat changes nothing.
    let check = server.post(
        "/v1/banks/004/va-deposit-checks",
        &json!({"va_no": "0040000001", "amount_krw": 14_000}),
    );
    assert_eq!(check.json()["accept"], false, "{}", check.text());
    let matched = notice(&server, "77", "0040000001", 15_000);
    assert_eq!(matched["state"], "MATCHED");
    assert_eq!(matched["lease"]["state"], "COMPLETED");
    let again = notice(&server, "77", "0040000001", 15_000);
    assert_eq!(
        (again["duplicate"].as_bool(), &again["deposit_id"]),
        (Some(true), &matched["deposit_id"])
    );
    let paid = server.post(
        "/v1/partners/P/va-leases",
        &json!({"order_no": "O-1", "customer": "Kim", "bank": "004", "region": "SEOUL",
                "expected_amount_krw": 15_000}),
    );
    assert_eq!(paid.code(), "order_already_paid", "{}", paid.text());

    // Suspense: a short deposit, one into a VA nobody leased; assigned, refunded.
    let l2 = lease(&server, "O-2", 20_000);
    let short = notice(&server, "78", l2["va_no"].as_str().unwrap(), 10_000);
    assert_eq!(short["state"], "MISMATCH");
    let stray = notice(&server, "79", "0040000009", 20_000);
    assert_eq!(stray["state"], "UNLEASED");
    let stray_id = stray["deposit_id"].as_str().unwrap();
    let assigned = server.post(
        &format!("/v1/va-deposits/{stray_id}/assign"),
        &json!({"lease_id": l2["lease_id"]}),
    );
    assert_eq!(assigned.status, 200, "{}", assigned.text());
    assert_eq!(assigned.json()["state"], "ASSIGNED");
    assert_eq!(assigned.json()["lease"]["state"], "COMPLETED");
    let short_id = short["deposit_id"].as_str().unwrap();
    let refunded = server.post(&format!("/v1/va-deposits/{short_id}/refund"), &json!({}));
    assert_eq!(refunded.json()["state"], "REFUNDED", "{}", refunded.text());
    assert_eq!(server.get("/v1/va-deposits/vd_0_999999").status, 404);
    assert_eq!(server.get("/v1/va-deposits/nonsense").status, 404);

    // D-2.21 and D-2.18.
    let recalled = server.post(
        "/v1/banks/004/va-deposit-reversals",
        &json!({"bank_tx_id": "77"}),
    );
    assert_eq!(recalled.json()["state"], "REVERSED", "{}", recalled.text());
    assert_eq!(recalled.json()["lease"]["state"], "OPEN");
    let l3 = lease(&server, "O-3", 5_000);
    let cancel_path = format!(
        "/v1/partners/P/va-leases/{}",
        l3["lease_id"].as_str().unwrap()
    );
    let cancelled = server.request("DELETE", &cancel_path, &[], None);
    assert_eq!(
        cancelled.json()["state"],
        "CANCELLED",
        "{}",
        cancelled.text()
    );
    let unknown = server.post(
        "/v1/banks/004/va-deposits",
        &json!({"bank_tx_id": "80", "va_no": "0049999999", "amount_krw": 1}),
    );
    assert_eq!(unknown.status, 404, "{}", unknown.text());

    // S32 and D-2.17.
    let collection = server.get("/v1/partners/P/collections").json();
    assert_eq!(collection["total_krw"], 20_000, "{collection}");
    // The order's history holds its short deposit (refunded) and the one assigned to it.
    let history = server.get("/v1/partners/P/va-history?order_no=O-2").json();
    let states: Vec<&str> = history["deposits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["REFUNDED", "ASSIGNED"], "{history}");
    let leases_before: Vec<Value> = ["vl_1", "vl_2", "vl_3"]
        .iter()
        .map(|id| server.get(&format!("/v1/partners/P/va-leases/{id}")).json())
        .collect();

    // SIGKILL: nothing flushed on the way out. After a restart, the same answers.
    // SAFETY: kill(2) on the child this test started and has not waited for.
    assert_eq!(unsafe { libc::kill(server.pid(), libc::SIGKILL) }, 0);
    server.wait();
    let server = Server::start(&config, &data);
    for (id, before) in ["vl_1", "vl_2", "vl_3"].iter().zip(&leases_before) {
        assert_eq!(
            &server.get(&format!("/v1/partners/P/va-leases/{id}")).json(),
            before
        );
    }
    let repeat = notice(&server, "79", "0040000009", 20_000);
    assert_eq!(
        repeat["duplicate"], true,
        "the notice index survives: {repeat}"
    );
    let l4 = lease(&server, "O-4", 1_000);
    let given: Vec<&str> = leases_before
        .iter()
        .map(|l| l["va_no"].as_str().unwrap())
        .collect();
    assert!(
        !given.contains(&l4["va_no"].as_str().unwrap()) || l4["va_no"] == l1["va_no"],
        "a cooling VA is never given: {l4}"
    );
    assert_eq!(server.get("/v1/partners/P/collections").json(), collection);
}
