// Over 600 lines: 24 tests against one real `omnibus serve` binary; each route and error of the HTTP contract has its test here.
//! The HTTP server end to end (issue 7): the real `omnibus serve` binary on a loopback
//! port with a temporary data directory, called over real HTTP.

#[path = "support/http.rs"]
mod http;

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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// A customer opening with a linked account at bank 004 and a signature key.
fn opening(customer: u64, key: &SigningKey, cert_serial: u64) -> Value {
    json!({
        "customer": customer,
        "linked_bank": "004",
        "linked_account": format!("110-{customer}"),
        "cert_serial": cert_serial,
        "public_key": hex(&key.verifying_key().to_bytes()),
    })
}

fn charge(customer: u64, request_no: &str, amount: Value) -> Value {
    json!({ "customer": customer, "request_date": date(), "request_no": request_no, "amount": amount })
}

fn remittance(customer: u64, request_no: &str, amount: Value) -> Value {
    json!({
        "customer": customer,
        "request_date": date(),
        "request_no": request_no,
        "amount": amount,
        "payee_bank": "088",
        "payee_account": "220-33-44444",
        "payee_name": "김철수",
    })
}

fn start(extra: &str) -> (tempfile::TempDir, Server) {
    start_with_server(extra, "")
}

/// A server on a test config with `extra` tables and `server` keys laid over.
fn start_with_server(extra: &str, server: &str) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), extra, server);
    let server = Server::start(&config, &dir.path().join("data"));
    (dir, server)
}

/// The total of one parent account, from `GET /v1/parents`.
/// The default opening balances of fin_parent and of a deposit firm account.
fn fin_opening() -> i64 {
    omnibus_core::Config::embedded().parents.fin_parent.opening
}

fn deposit_opening() -> i64 {
    omnibus_core::Config::embedded()
        .parents
        .deposit_firm
        .opening
}

/// `won - less`, as the API writes an amount.
fn won_less(won: i64, less: i64) -> String {
    (won - less).to_string()
}

fn parent_total(server: &Server, account: &str) -> String {
    let parents = server.get("/v1/parents").json();
    parents["parents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["account"] == account)
        .unwrap_or_else(|| panic!("no parent {account} in {parents}"))["total"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn every_endpoint_answers_over_loopback_http() {
    let (_dir, server) = start("");
    let health = server.get("/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");

    // Open a customer with a signature key; an identical retry is 200, another
    // opening of the same number is a conflict.
    let k = key(7);
    let opened = server.post("/v1/customers", &opening(1001, &k, 77));
    assert_eq!(opened.status, 201, "{}", opened.text());
    let body = opened.json();
    assert_eq!(body["customer"], "1001");
    assert_eq!(body["balance"], "0");
    assert_eq!(body["cert_serial"], "77");
    assert_eq!(
        server.post("/v1/customers", &opening(1001, &k, 77)).status,
        200
    );
    let mut other = opening(1001, &k, 77);
    other["linked_account"] = json!("110-999");
    let conflict = server.post("/v1/customers", &other);
    assert_eq!(
        (conflict.status, conflict.code()),
        (409, "customer_exists".into())
    );

    // A charge, with the amount as an integer.
    let charged = server.post("/v1/charges", &charge(1001, "C-1", json!(50_000)));
    assert_eq!(charged.status, 200, "{}", charged.text());
    let outcome = charged.json();
    assert_eq!(outcome["told"], "succeeded");
    assert_eq!(outcome["kind"], "charge");
    assert_eq!(outcome["amount"], "50000");
    assert_eq!(outcome["decided_by"], "charge_credit");

    // A charge whose request number is the Idempotency-Key header.
    let mut keyed = charge(1001, "unused", json!("1000"));
    keyed.as_object_mut().unwrap().remove("request_no");
    let by_header = server.post_with("/v1/charges", &[("Idempotency-Key", "C-2")], &keyed);
    assert_eq!(by_header.status, 200, "{}", by_header.text());
    assert_eq!(by_header.json()["request_no"], "C-2");

    // A remittance within the usage limit goes the first path.
    let remitted = server.post("/v1/remittances", &remittance(1001, "R-1", json!("20000")));
    assert_eq!(remitted.status, 200, "{}", remitted.text());
    assert_eq!(remitted.json()["path"], "first");
    assert_eq!(server.get("/v1/customers/1001").json()["balance"], "31000");

    // Over the limit: fetch the text, sign it, submit with the signature. The balance
    // (31,000) is short, so the deficit is charged first.
    let over = remittance(1001, "R-2", json!(2_500_000));
    let text = server.post("/v1/remittances/signing-text", &over);
    assert_eq!(text.status, 200, "{}", text.text());
    let text = text.json();
    let text = text["text"].as_str().unwrap();
    assert!(text.contains("request_no: R-2"), "{text}");
    let mut signed = over.clone();
    signed["signature"] = json!(hex(&k.sign(text.as_bytes()).to_bytes()));
    signed["cert_serial"] = json!("77");
    let paid = server.post("/v1/remittances", &signed);
    assert_eq!(paid.status, 200, "{}", paid.text());
    let paid = paid.json();
    assert_eq!(paid["told"], "succeeded");
    assert_eq!(paid["path"], "payment_instruction");
    assert_eq!(paid["deficit"], "2469000");

    // The request with its entries, one per outside call, each in its log.
    let view = server.get("/v1/requests/R-2");
    assert_eq!(view.status, 200);
    let view = view.json();
    assert_eq!(view["answer"]["told"], "succeeded");
    let entries: Vec<(String, String, String)> = view["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["step"].as_str().unwrap().to_owned(),
                e["log"].as_str().unwrap().to_owned(),
                e["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("charge_withdrawal", "bank_firm_request_log", "SUCCESS"),
        ("charge_credit", "securities_firm_request_log", "SUCCESS"),
        ("payment_instruction", "payment_instruction_log", "SUCCESS"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(entries, expected);

    // The customer, and the parent accounts each flow touched.
    let customer = server.get("/v1/customers/1001").json();
    assert_eq!(customer["balance"], "0");
    assert_eq!(customer["available"], "0");
    assert_eq!(customer["linked_account"], "110-1001");
    // fin_parent: -50,000 -1,000 (charges) +20,000 (remittance) -2,469,000 (deficit).
    assert_eq!(
        parent_total(&server, "fin_parent"),
        won_less(fin_opening(), 2_500_000)
    );
    assert_eq!(
        parent_total(&server, "deposit_firm[088]"),
        won_less(deposit_opening(), 20_000)
    );
    let parents = server.get("/v1/parents").json();
    assert_eq!(parents["currency"], "KRW");
    let fin = parents["parents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["account"] == "fin_parent")
        .unwrap()
        .clone();
    assert_eq!(fin["slices"].as_array().unwrap().len(), 2, "{fin}");

    // The reconciliation report: every flow above agrees with its rail's statement.
    let report = server.get("/v1/reconciliation");
    assert_eq!(report.status, 200, "{}", report.text());
    let report = report.json();
    let logs = report["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 3, "{report}");
    for log in logs {
        assert_eq!(log["mismatches"].as_array().unwrap().len(), 0, "{log}");
        assert_eq!(log["open"], 0, "{log}");
    }
    let matched: u64 = logs.iter().map(|l| l["matched"].as_u64().unwrap()).sum();
    assert!(matched >= 6, "{report}");
    let other_day = server.get("/v1/reconciliation?date=2000-01-01").json();
    assert_eq!(other_day["date"], "2000-01-01");
    assert!(
        other_day["logs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["matched"] == 0),
        "{other_day}"
    );
    let bad = server.get("/v1/reconciliation?date=yesterday");
    assert_eq!((bad.status, bad.code()), (400, "invalid_field".into()));
    let unknown = server.get("/v1/reconciliation?day=2026-11-21");
    assert_eq!(
        (unknown.status, unknown.code()),
        (400, "unknown_field".into())
    );
}

#[test]
fn a_resubmitted_request_answers_its_original_outcome() {
    let (_dir, server) = start("");
    let k = key(9);
    assert_eq!(server.post("/v1/customers", &opening(7, &k, 1)).status, 201);
    let first = server.post("/v1/charges", &charge(7, "C-7", json!(30_000)));
    assert_eq!(first.status, 200);
    // The same request again, the amount and the customer now as strings, the number
    // in both the body and the header: the original outcome, nothing charged twice.
    let again = server.post_with(
        "/v1/charges",
        &[("Idempotency-Key", "C-7")],
        &json!({ "customer": "7", "request_date": date(), "request_no": "C-7", "amount": "30000" }),
    );
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), first.json());
    assert_eq!(server.get("/v1/customers/7").json()["balance"], "30000");

    // The same for a remittance and a signed remittance.
    let r1 = server.post("/v1/remittances", &remittance(7, "R-7", json!(10_000)));
    let r2 = server.post("/v1/remittances", &remittance(7, "R-7", json!(10_000)));
    assert_eq!((r1.status, r2.status), (200, 200));
    assert_eq!(r1.json(), r2.json());
    let over = remittance(7, "S-7", json!(2_000_001));
    let text = server.post("/v1/remittances/signing-text", &over).json();
    let mut signed = over.clone();
    signed["signature"] = json!(hex(&k
        .sign(text["text"].as_str().unwrap().as_bytes())
        .to_bytes()));
    signed["cert_serial"] = json!(1);
    let s1 = server.post("/v1/remittances", &signed);
    let s2 = server.post("/v1/remittances", &signed);
    assert_eq!((s1.status, s2.status), (200, 200), "{}", s2.text());
    assert_eq!(s1.json(), s2.json());
    assert_eq!(s1.json()["deficit"], "1980001");
    assert_eq!(server.get("/v1/customers/7").json()["balance"], "0");
    // fin_parent: -30,000 (charge) +10,000 (remittance) -1,980,001 (deficit), once each.
    assert_eq!(
        parent_total(&server, "fin_parent"),
        won_less(fin_opening(), 2_000_001)
    );
}

/// Issue 12 over HTTP: 500,000 held and two remittances of 1,500,000 POSTed at once, the
/// bank slow (100 ms a call) so that they truly overlap. The customer's account actor
/// takes them one after the other: both succeed, the second charging the deficit the
/// first left (1,000,000 then 1,500,000: 2,500,000 in all), and the books balance.
#[test]
fn two_remittances_of_one_customer_posted_at_once_both_succeed_charging_2_500_000_of_deficits() {
    let (_dir, server) =
        start("[simulator.bank_firm]\nlatency_us_min = 100_000\nlatency_us_max = 100_000\n");
    let k = key(12);
    assert_eq!(
        server.post("/v1/customers", &opening(12, &k, 12)).status,
        201
    );
    let funded = server.post("/v1/charges", &charge(12, "FUND-12", json!(500_000)));
    assert_eq!(funded.status, 200, "{}", funded.text());
    assert_eq!(funded.json()["told"], "succeeded");
    let (first, second) = std::thread::scope(|s| {
        let one = s.spawn(|| {
            server.post(
                "/v1/remittances",
                &remittance(12, "OVER-12-1", json!(1_500_000)),
            )
        });
        let two = s.spawn(|| {
            server.post(
                "/v1/remittances",
                &remittance(12, "OVER-12-2", json!(1_500_000)),
            )
        });
        (one.join().unwrap(), two.join().unwrap())
    });
    assert_eq!(
        (first.status, second.status),
        (200, 200),
        "{} {}",
        first.text(),
        second.text()
    );
    let (first, second) = (first.json(), second.json());
    assert_eq!(
        (&first["told"], &second["told"]),
        (&json!("succeeded"), &json!("succeeded")),
        "{first} {second}"
    );
    let mut deficits = [
        first["deficit"].as_str().unwrap().parse::<i64>().unwrap(),
        second["deficit"].as_str().unwrap().parse::<i64>().unwrap(),
    ];
    deficits.sort_unstable();
    assert_eq!(deficits, [1_000_000, 1_500_000], "{first} {second}");
    let customer = server.get("/v1/customers/12").json();
    assert_eq!(
        (&customer["balance"], &customer["available"]),
        (&json!("0"), &json!("0"))
    );
    let metrics = server.get("/metrics").text();
    let sum = samples(&metrics)
        .into_iter()
        .find(|(name, ..)| name == "omnibus_books_sum_won")
        .expect("the books' sum is on /metrics");
    assert_eq!(sum.2, 0.0, "the books balance");
}

/// One bad request and the error it must get.
struct Bad {
    what: &'static str,
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Option<Vec<u8>>,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
}

fn bad(
    what: &'static str,
    path: &'static str,
    body: &Value,
    status: u16,
    code: &'static str,
) -> Bad {
    Bad {
        what,
        method: "POST",
        path,
        headers: vec![("Content-Type", "application/json")],
        body: Some(body.to_string().into_bytes()),
        status,
        code,
        field: None,
    }
}

fn raw(
    what: &'static str,
    path: &'static str,
    body: &[u8],
    status: u16,
    code: &'static str,
) -> Bad {
    Bad {
        body: Some(body.to_vec()),
        ..bad(what, path, &Value::Null, status, code)
    }
}

fn get(what: &'static str, path: &'static str, status: u16, code: &'static str) -> Bad {
    Bad {
        method: "GET",
        headers: vec![],
        body: None,
        ..bad(what, path, &Value::Null, status, code)
    }
}

impl Bad {
    fn field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }
}

fn without(mut body: Value, field: &str) -> Value {
    body.as_object_mut().unwrap().remove(field);
    body
}

fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

/// The operation of the API document that `method path` calls, if the document has
/// one (a path such as `/v1/customers/abc` matches the template `/v1/customers/{id}`).
fn documented_operation(doc: &Value, method: &str, path: &str) -> Option<Value> {
    let path = path.split('?').next().unwrap();
    let segments: Vec<&str> = path.split('/').collect();
    doc["paths"]
        .as_object()?
        .iter()
        .find_map(|(template, item)| {
            let parts: Vec<&str> = template.split('/').collect();
            let matches = parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t.starts_with('{') || t == s);
            matches
                .then(|| item.get(method.to_ascii_lowercase()).cloned())
                .flatten()
        })
}

#[test]
fn every_bad_input_gets_its_error_and_changes_nothing() {
    let (_dir, server) = start("");
    let k = key(3);
    assert_eq!(
        server.post("/v1/customers", &opening(2001, &k, 5)).status,
        201
    );
    assert_eq!(
        server
            .post("/v1/charges", &charge(2001, "C-OK", json!(100_000)))
            .status,
        200
    );
    let customer_before = server.get("/v1/customers/2001").json();
    let parents_before = server.get("/v1/parents").json();

    let c = |no: &str, amount: Value| charge(2001, no, amount);
    let r = |no: &str, amount: Value| remittance(2001, no, amount);
    let big = vec![b' '; 8_193];
    let mut big_json = b"{\"customer\": 2001, \"pad\": \"".to_vec();
    big_json.resize(9_000, b'x');
    big_json.extend_from_slice(b"\"}");

    let cases = vec![
        raw("malformed JSON", "/v1/charges", b"{\"customer\": 2001,", 400, "malformed_json"),
        raw("not an object", "/v1/charges", b"[1, 2]", 400, "malformed_json"),
        raw("empty body", "/v1/charges", b"", 400, "malformed_json"),
        raw(
            "a repeated member",
            "/v1/charges",
            br#"{"customer": 2001, "request_date": "2026-11-21", "request_no": "BAD-0", "request_no": "BAD-00", "amount": 5}"#,
            400,
            "malformed_json",
        ),
        bad("customer of a wrong type", "/v1/charges", &with(c("BAD-1", json!(5)), "customer", json!(true)), 400, "invalid_field").field("customer"),
        bad("amount of a wrong type", "/v1/charges", &c("BAD-2", json!([5])), 400, "invalid_field").field("amount"),
        bad("date of a wrong type", "/v1/charges", &with(c("BAD-3", json!(5)), "request_date", json!(20261121)), 400, "invalid_field").field("request_date"),
        bad("missing amount", "/v1/charges", &without(c("BAD-4", json!(5)), "amount"), 400, "missing_field").field("amount"),
        bad("missing request number", "/v1/charges", &without(c("BAD-5", json!(5)), "request_no"), 400, "missing_field").field("request_no"),
        bad("missing customer", "/v1/charges", &without(c("BAD-6", json!(5)), "customer"), 400, "missing_field").field("customer"),
        bad("negative amount (string)", "/v1/charges", &c("BAD-7", json!("-5")), 400, "invalid_field").field("amount"),
        bad("negative amount (number)", "/v1/charges", &c("BAD-8", json!(-5)), 400, "invalid_field").field("amount"),
        bad("zero amount", "/v1/charges", &c("BAD-9", json!(0)), 400, "invalid_field").field("amount"),
        bad("fractional amount (string)", "/v1/charges", &c("BAD-10", json!("10.5")), 400, "invalid_field").field("amount"),
        bad("fractional amount (number)", "/v1/charges", &c("BAD-11", json!(10.5)), 400, "invalid_field").field("amount"),
        bad("amount not a number", "/v1/charges", &c("BAD-12", json!("12a")), 400, "invalid_field").field("amount"),
        bad("impossible date", "/v1/charges", &with(c("BAD-13", json!(5)), "request_date", json!("2026-02-30")), 400, "invalid_field").field("request_date"),
        bad("unknown member", "/v1/charges", &with(c("BAD-14", json!(5)), "ammount", json!(5)), 400, "unknown_field").field("ammount"),
        bad("bad request number", "/v1/charges", &c("BAD 15", json!(5)), 400, "invalid_field").field("request_no"),
        bad("unknown customer", "/v1/charges", &charge(999_999, "BAD-16", json!(5)), 404, "unknown_customer"),
        bad("Idempotency-Key differs from request_no", "/v1/charges", &c("BAD-17", json!(5)), 400, "idempotency_key_mismatch").header("Idempotency-Key", "BAD-17b"),
        bad("Idempotency-Key malformed", "/v1/charges", &without(c("BAD-18", json!(5)), "request_no"), 400, "invalid_field").header("Idempotency-Key", "no good").field("Idempotency-Key"),
        Bad {
            headers: vec![("Content-Type", "text/plain")],
            ..bad("not JSON by content type", "/v1/charges", &c("BAD-19", json!(5)), 415, "unsupported_media_type")
        },
        raw("body over the limit (Content-Length)", "/v1/charges", &big, 413, "body_too_large"),
        Bad {
            headers: vec![("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")],
            ..raw("body over the limit (chunked)", "/v1/charges", &big_json, 413, "body_too_large")
        },
        bad("request number reused with other fields", "/v1/charges", &c("C-OK", json!(5)), 409, "request_no_reused"),
        bad("over the limit without a signature", "/v1/remittances", &r("BAD-20", json!(2_500_000)), 422, "signature_required"),
        bad("signature of a wrong length", "/v1/remittances", &with(with(r("BAD-21", json!(2_500_000)), "signature", json!("abcd")), "cert_serial", json!(5)), 400, "invalid_field").field("signature"),
        bad("signature without cert_serial", "/v1/remittances", &with(r("BAD-22", json!(2_500_000)), "signature", json!("00".repeat(64))), 400, "missing_field").field("cert_serial"),
        bad("signed but within the limit", "/v1/remittances", &with(with(r("BAD-23", json!(1_000)), "signature", json!("00".repeat(64))), "cert_serial", json!(5)), 422, "not_over_limit"),
        bad("signed without a signing text", "/v1/remittances", &with(with(r("BAD-24", json!(2_500_000)), "signature", json!("00".repeat(64))), "cert_serial", json!(5)), 422, "no_signing_text"),
        bad("signing text within the limit", "/v1/remittances/signing-text", &r("BAD-25", json!(1_000)), 422, "not_over_limit"),
        bad("bad payee bank", "/v1/remittances", &with(r("BAD-26", json!(1_000)), "payee_bank", json!("88")), 400, "invalid_field").field("payee_bank"),
        bad("missing payee name", "/v1/remittances", &without(r("BAD-27", json!(1_000)), "payee_name"), 400, "missing_field").field("payee_name"),
        bad("remittance for an unknown customer", "/v1/remittances", &remittance(999_999, "BAD-28", json!(1_000)), 404, "unknown_customer"),
        bad("opening at a bank without a withdrawal firm account", "/v1/customers", &with(opening(3001, &k, 6), "linked_bank", json!("999")), 422, "linked_bank_not_served"),
        bad("opening with a bad public key", "/v1/customers", &with(opening(3002, &k, 6), "public_key", json!("zz")), 400, "invalid_field").field("public_key"),
        bad("opening with a serial but no key", "/v1/customers", &without(opening(3003, &k, 6), "public_key"), 400, "missing_field").field("public_key"),
        bad("opening customer zero", "/v1/customers", &opening(0, &k, 6), 400, "invalid_field").field("customer"),
        bad("opening with a tradable flag that is not a boolean", "/v1/customers", &with(opening(3004, &k, 6), "tradable", json!("yes")), 400, "invalid_field").field("tradable"),
        get("customer number not a number", "/v1/customers/abc", 400, "invalid_field"),
        get("unknown customer", "/v1/customers/999999", 404, "unknown_customer"),
        get("unknown request", "/v1/requests/NOPE", 404, "unknown_request"),
        get("bad request number", "/v1/requests/a%20b", 400, "invalid_field"),
        get("no such endpoint", "/v1/nothing", 404, "not_found"),
        Bad {
            method: "DELETE",
            ..get("a method the route does not take", "/v1/charges", 405, "method_not_allowed")
        },
    ];
    let doc = server.get("/openapi.json").json();
    let mut failures = Vec::new();
    for case in &cases {
        let answer = server.request(case.method, case.path, &case.headers, case.body.as_deref());
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let code = body["error"]["code"].as_str().unwrap_or("");
        let field = body["error"]["field"].as_str();
        let message = body["error"]["message"].as_str().unwrap_or("");
        if answer.status != case.status
            || code != case.code
            || message.is_empty()
            || (case.field.is_some() && field != case.field)
        {
            failures.push(format!(
                "{}: expected {} {} {:?}, got {} {}",
                case.what,
                case.status,
                case.code,
                case.field,
                answer.status,
                answer.text()
            ));
        }
        // The code is one the API document lists for this operation and status.
        if let Some(operation) = documented_operation(&doc, case.method, case.path) {
            let codes = &operation["responses"][answer.status.to_string()]["content"]
                ["application/json"]["schema"]["properties"]["error"]["properties"]["code"]["enum"];
            if !codes.as_array().is_some_and(|c| c.contains(&json!(code))) {
                failures.push(format!(
                    "{}: {} {code} is not documented for {} {}",
                    case.what, answer.status, case.method, case.path
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Nothing changed: the customer, the parent accounts, no request on record, no
    // customer opened.
    assert_eq!(server.get("/v1/customers/2001").json(), customer_before);
    assert_eq!(server.get("/v1/parents").json(), parents_before);
    for n in 0..=28 {
        let path = format!("/v1/requests/BAD-{n}");
        assert_eq!(server.get(&path).status, 404, "{path} is on record");
    }
    for customer in 3001..=3004 {
        assert_eq!(server.get(&format!("/v1/customers/{customer}")).status, 404);
    }
    // A signature that does not verify is refused, and changes nothing either.
    let over = r("BAD-SIG", json!(2_500_000));
    let text = server.post("/v1/remittances/signing-text", &over);
    assert_eq!(text.status, 200);
    let forged = with(
        with(
            over,
            "signature",
            json!(hex(&key(4).sign(b"something else").to_bytes())),
        ),
        "cert_serial",
        json!(5),
    );
    let refused = server.post("/v1/remittances", &forged);
    assert_eq!(
        (refused.status, refused.code()),
        (422, "signature_invalid".into())
    );
    assert_eq!(server.get("/v1/requests/BAD-SIG").status, 404);
    assert_eq!(server.get("/v1/customers/2001").json(), customer_before);
    assert_eq!(server.get("/v1/parents").json(), parents_before);
    assert_eq!(server.get("/health").status, 200);
}

/// A metric sample line: `name{labels} value`.
fn samples(text: &str) -> Vec<(String, String, f64)> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => {
                    assert!(labels.ends_with('}'), "unclosed labels in {line:?}");
                    (name.to_owned(), labels.trim_end_matches('}').to_owned())
                }
                None => (series.to_owned(), String::new()),
            };
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "bad metric name in {line:?}"
            );
            (name, labels, value)
        })
        .collect()
}

#[test]
fn metrics_and_the_openapi_document_parse_and_cover_the_api() {
    let (_dir, server) = start("");
    let k = key(5);
    assert_eq!(
        server.post("/v1/customers", &opening(11, &k, 11)).status,
        201
    );
    assert_eq!(
        server
            .post("/v1/charges", &charge(11, "M-1", json!(12_345)))
            .status,
        200
    );
    assert_eq!(
        server
            .post("/v1/charges", &charge(11, "M-2", json!(-1)))
            .status,
        400
    );

    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    let samples = samples(&metrics.text());
    let find = |name: &str, has: &[&str]| -> f64 {
        samples
            .iter()
            .find(|(n, labels, _)| n == name && has.iter().all(|h| labels.contains(h)))
            .unwrap_or_else(|| panic!("no {name} with {has:?} in\n{}", metrics.text()))
            .2
    };
    assert_eq!(
        find(
            "omnibus_http_requests_total",
            &[
                "path=\"/v1/charges\"",
                "outcome=\"succeeded\"",
                "status=\"200\""
            ]
        ),
        1.0
    );
    assert_eq!(
        find(
            "omnibus_http_requests_total",
            &[
                "path=\"/v1/charges\"",
                "outcome=\"invalid_field\"",
                "status=\"400\""
            ]
        ),
        1.0
    );
    assert_eq!(
        find(
            "omnibus_saga_duration_seconds_count",
            &["kind=\"charge\"", "told=\"succeeded\""]
        ),
        1.0
    );
    assert!(find("omnibus_wal_syncs_total", &["shard=\"0\""]) >= 1.0);
    assert!(find("omnibus_wal_groups_written_total", &["shard=\"0\""]) >= 1.0);
    find("omnibus_wal_sync_seconds_total", &["shard=\"1\""]);
    find("omnibus_wal_last_group_records", &["shard=\"1\""]);
    assert_eq!(
        find("omnibus_request_log_entries_open", &["state=\"UNKNOWN\""]),
        0.0
    );
    assert_eq!(
        find("omnibus_parent_balance_won", &["account=\"fin_parent\""]),
        (fin_opening() - 12_345) as f64
    );
    find(
        "omnibus_parent_slice_balance_won",
        &["account=\"fin_parent\"", "shard=\"1\""],
    );
    assert_eq!(find("omnibus_books_sum_won", &[]), 0.0);
    assert_eq!(
        find("omnibus_customers", &["shard=\"0\""]) + find("omnibus_customers", &["shard=\"1\""]),
        1.0
    );

    let doc = server.get("/openapi.json");
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    for (path, method) in [
        ("/health", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
        ("/v1/customers", "post"),
        ("/v1/customers/{id}", "get"),
        ("/v1/charges", "post"),
        ("/v1/remittances", "post"),
        ("/v1/remittances/signing-text", "post"),
        ("/v1/requests/{request_no}", "get"),
        ("/v1/parents", "get"),
        ("/v1/events", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not in the OpenAPI document"
        );
        // Every route the document names is one the server has: none answers 404.
        let probe = path.replace("{id}", "11").replace("{request_no}", "M-1");
        if method == "get" && path != "/v1/events" {
            assert_ne!(server.get(&probe).status, 404, "{probe}");
        }
    }
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => map.iter().for_each(|(k, v)| match (k.as_str(), v) {
                ("$ref", Value::String(r)) => out.push(r.clone()),
                _ => refs(v, out),
            }),
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    for r in found {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} does not resolve"
        );
    }
    let codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]
        ["enum"]
        .as_array()
        .unwrap();
    for code in [
        "invalid_field",
        "unknown_customer",
        "body_too_large",
        "overloaded",
        "signature_required",
    ] {
        assert!(
            codes.contains(&json!(code)),
            "{code} is not among the documented codes"
        );
    }
}

#[test]
fn the_event_stream_reports_a_charge_until_its_credit_and_is_bounded() {
    let (_dir, server) = start_with_server("", "event_streams_max = 1\n");
    let k = key(6);
    assert_eq!(
        server.post("/v1/customers", &opening(21, &k, 21)).status,
        201
    );
    let mut events = server.events();
    // The one stream allowed is open: another client is turned away.
    let second = server.get("/v1/events");
    assert_eq!(
        (second.status, second.code()),
        (503, "too_many_event_streams".into())
    );
    assert!(second.header("retry-after").is_some());

    assert_eq!(
        server
            .post("/v1/charges", &charge(21, "E-1", json!(4_000)))
            .status,
        200
    );
    let accepted = events.until("accepted", "E-1");
    assert_eq!(accepted["kind"], "charge");
    assert_eq!(accepted["amount"], "4000");
    let mut seen = Vec::new();
    loop {
        let (name, data) = events.next().expect("the stream goes on");
        if data["request_no"] != "E-1" {
            continue;
        }
        match name.as_str() {
            "entry_changed" => seen.push(format!(
                "{} {}",
                data["step"].as_str().unwrap(),
                data["to"].as_str().unwrap()
            )),
            "answered" => {
                assert_eq!(data["told"], "succeeded");
                seen.push("answered".into());
            }
            other => panic!("unexpected event {other}: {data}"),
        }
        if seen.last().is_some_and(|s| s == "charge_credit SUCCESS") {
            break;
        }
    }
    // The answer comes with the credit's entry (issue 13: every result of the credit
    // tells succeeded), before the credit's result.
    assert_eq!(
        seen,
        [
            "charge_withdrawal REQUESTED",
            "charge_withdrawal SUCCESS",
            "charge_credit REQUESTED",
            "answered",
            "charge_credit SUCCESS"
        ]
    );
}

#[test]
fn sigterm_finishes_in_flight_requests_exits_0_and_a_restart_keeps_the_balances() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The bank firm answers after 400 ms, so a charge is surely in flight when the
    // signal comes.
    let slow = write_config(
        dir.path(),
        "[simulator.bank_firm]\nlatency_us_min = 400_000\nlatency_us_max = 400_000\n",
        "",
    );
    let mut server = Server::start(&slow, &data);
    let k = key(8);
    assert_eq!(
        server.post("/v1/customers", &opening(31, &k, 31)).status,
        201
    );
    let mut events = server.events();
    let addr = server.addr.clone();
    let in_flight = std::thread::spawn(move || {
        http::request(
            &addr,
            "POST",
            "/v1/charges",
            &[("Content-Type", "application/json")],
            Some(charge(31, "D-1", json!(70_000)).to_string().as_bytes()),
        )
    });
    // Once the charge is accepted it is in flight: then the signal.
    events.until("accepted", "D-1");
    // SAFETY: kill(2) on the child this test started and has not waited for.
    assert_eq!(unsafe { libc::kill(server.pid(), libc::SIGTERM) }, 0);
    let answer = in_flight
        .join()
        .unwrap()
        .expect("the in-flight charge is answered");
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["told"], "succeeded");
    // The event stream ends instead of holding the shutdown up.
    while events.next().is_some() {}
    let status = server.wait();
    assert_eq!(status.code(), Some(0), "log:\n{}", server.log());

    // A restart on the same data directory has the customer and the balances.
    let plain = write_config(dir.path(), "", "");
    let mut again = Server::start(&plain, &data);
    let customer = again.get("/v1/customers/31").json();
    assert_eq!(customer["balance"], "70000", "{customer}");
    assert_eq!(
        parent_total(&again, "fin_parent"),
        won_less(fin_opening(), 70_000)
    );
    assert_eq!(
        again.get("/v1/requests/D-1").json()["answer"]["told"],
        "succeeded"
    );
    assert_eq!(again.terminate().code(), Some(0));
}

/// The sum over the shards of one gauge on `/metrics`.
fn metric_sum(server: &Server, name: &str) -> f64 {
    samples(&server.get("/metrics").text())
        .into_iter()
        .filter(|(n, _, _)| n == name)
        .map(|(_, _, v)| v)
        .sum()
}

/// Waits until at least `records` settled requests are in the archive and none is left
/// in memory (`/metrics`).
fn archived_over_http(server: &Server, records: f64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let archived = metric_sum(server, "omnibus_requests_archived");
        let in_memory = metric_sum(server, "omnibus_requests_in_memory");
        if archived >= records && in_memory == 0.0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{archived} archived, {in_memory} still in memory"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Issue 13 over HTTP: a charge archived long before (every settled request leaves
/// memory at once here, after 50 more) answers `GET /v1/requests/{no}` and its
/// resubmission exactly as before, and again after a restart on the same data.
#[test]
fn a_request_archived_long_before_is_answered_by_get_and_by_its_resubmission_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(
        dir.path(),
        "[archive]\nrecent_max = 0\nbatch_max = 16\ninterval_ms = 5\n",
        "",
    );
    let mut server = Server::start(&config, &data);
    let k = key(13);
    assert_eq!(
        server.post("/v1/customers", &opening(41, &k, 41)).status,
        201
    );
    let first = server.post("/v1/charges", &charge(41, "OLD-41", json!(30_000)));
    assert_eq!(first.status, 200, "{}", first.text());
    let view = server.get("/v1/requests/OLD-41");
    assert_eq!(view.status, 200);
    for i in 0..50 {
        let later = server.post(
            "/v1/charges",
            &charge(41, &format!("LATER-{i}"), json!(1_000)),
        );
        assert_eq!(later.status, 200, "{}", later.text());
    }
    archived_over_http(&server, 51.0);
    let check = |server: &Server| {
        let got = server.get("/v1/requests/OLD-41");
        assert_eq!(got.status, 200, "{}", got.text());
        assert_eq!(
            got.json(),
            view.json(),
            "GET answers the archived request as before"
        );
        let again = server.post("/v1/charges", &charge(41, "OLD-41", json!(30_000)));
        assert_eq!(again.status, 200, "{}", again.text());
        assert_eq!(
            again.json(),
            first.json(),
            "the resubmission gets its original answer"
        );
        // Charged once: 30,000 and 50 × 1,000.
        assert_eq!(server.get("/v1/customers/41").json()["balance"], "80000");
        assert_eq!(server.get("/v1/requests/NEVER-41").status, 404);
    };
    check(&server);
    assert_eq!(server.terminate().code(), Some(0));
    let again = Server::start(&config, &data);
    check(&again);
}

/// The weak ed25519 public keys of issue 12: the identity point (`01` then 31 zero
/// bytes) and the all-zero encoding, a point of order 4. Over either, a signature can be
/// made without any private key.
const WEAK_PUBLIC_KEYS: [&str; 2] = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000000",
];

#[test]
fn opening_a_customer_with_a_weak_public_key_is_refused_naming_public_key() {
    let (_dir, server) = start("");
    for (n, weak) in WEAK_PUBLIC_KEYS.iter().enumerate() {
        let customer = 5001 + n as u64;
        let mut body = opening(customer, &key(9), 500 + n as u64);
        body["public_key"] = json!(weak);
        let answer = server.post("/v1/customers", &body);
        assert_eq!(answer.status, 400, "{weak}: {}", answer.text());
        let error = answer.json()["error"].clone();
        assert_eq!(error["code"], "invalid_field", "{error}");
        assert_eq!(error["field"], "public_key", "{error}");
        assert!(
            error["message"].as_str().unwrap().contains("weak"),
            "{error}"
        );
        assert_eq!(
            server.get(&format!("/v1/customers/{customer}")).status,
            404,
            "customer {customer} was opened"
        );
    }
}

#[test]
fn amounts_outside_the_documented_format_are_refused_naming_the_field() {
    let (_dir, server) = start("");
    assert_eq!(
        server
            .post("/v1/customers", &opening(6001, &key(2), 61))
            .status,
        201
    );
    // Raw bodies, so that the JSON number keeps its literal text (`1000.0`).
    let date = date();
    let body = |no: &str, amount: &str| {
        format!(
            r#"{{"customer": 6001, "request_date": "{date}", "request_no": "{no}", "amount": {amount}}}"#
        )
    };
    let ten_to_30 = format!("\"1{}\"", "0".repeat(30));
    let cases = [
        ("A-1", "\"+100\"", "decimal digits"),
        ("A-2", "\" 100\"", "decimal digits"),
        ("A-3", "\"100 \"", "decimal digits"),
        ("A-4", "1000.0", "decimal digits"),
        ("A-5", "1e3", "decimal digits"),
        ("A-6", &ten_to_30, "outside"),
        ("A-7", "1000000000000000001", "outside"),
    ];
    for (no, amount, says) in cases {
        let answer = server.post_raw("/v1/charges", body(no, amount).as_bytes());
        assert_eq!(answer.status, 400, "{amount}: {}", answer.text());
        let error = answer.json()["error"].clone();
        assert_eq!(
            (error["code"].as_str(), error["field"].as_str()),
            (Some("invalid_field"), Some("amount")),
            "{amount}: {error}"
        );
        let message = error["message"].as_str().unwrap();
        assert!(
            message.starts_with("amount: ") && message.contains(says),
            "{amount}: {message}"
        );
        assert_eq!(server.get(&format!("/v1/requests/{no}")).status, 404);
    }
    assert_eq!(server.get("/v1/customers/6001").json()["balance"], "0");
}

#[test]
fn a_request_date_outside_the_window_is_refused_naming_the_field_once() {
    let (_dir, server) = start("");
    assert_eq!(
        server
            .post("/v1/customers", &opening(6101, &key(3), 62))
            .status,
        201
    );
    let answer = server.post(
        "/v1/charges",
        &json!({ "customer": 6101, "request_date": "2000-01-01", "request_no": "W-1", "amount": "1000" }),
    );
    assert_eq!(answer.status, 400, "{}", answer.text());
    let error = answer.json()["error"].clone();
    assert_eq!(
        (error["code"].as_str(), error["field"].as_str()),
        (Some("invalid_field"), Some("request_date")),
        "{error}"
    );
    let message = error["message"].as_str().unwrap();
    assert!(
        message
            .starts_with("request_date: 2000-01-01 is more than 1 day(s) from the engine's date"),
        "{message}"
    );
    assert_eq!(message.matches("request_date").count(), 1, "{message}");
    assert_eq!(server.get("/v1/requests/W-1").status, 404);
}

/// Every route of the server with the methods it takes.
const ROUTES: &[(&str, &str)] = &[
    ("/health", "GET, HEAD"),
    ("/metrics", "GET, HEAD"),
    ("/openapi.json", "GET, HEAD"),
    ("/v1/customers", "POST"),
    ("/v1/customers/7001", "GET, HEAD"),
    ("/v1/charges", "POST"),
    ("/v1/remittances", "POST"),
    ("/v1/remittances/signing-text", "POST"),
    ("/v1/requests/H-1", "GET, HEAD"),
    ("/v1/parents", "GET, HEAD"),
    ("/v1/reconciliation", "GET, HEAD"),
    ("/v1/events", "GET, HEAD"),
];

#[test]
fn a_405_answer_carries_allow_with_the_allowed_methods() {
    let (_dir, server) = start("");
    for (path, allowed) in ROUTES {
        for method in ["PUT", "DELETE", "PATCH", "POST", "GET"] {
            if allowed.contains(method) {
                continue;
            }
            let answer = server.request(method, path, &[], None);
            assert_eq!(
                (answer.status, answer.code().as_str()),
                (405, "method_not_allowed"),
                "{method} {path}"
            );
            assert_eq!(answer.header("allow"), Some(*allowed), "{method} {path}");
        }
    }
}

#[test]
fn head_answers_wherever_get_does_with_the_same_headers_and_no_body() {
    let (_dir, server) = start("");
    assert_eq!(
        server
            .post("/v1/customers", &opening(7001, &key(3), 71))
            .status,
        201
    );
    assert_eq!(
        server
            .post("/v1/charges", &charge(7001, "H-1", json!(1_000)))
            .status,
        200
    );
    let same = [
        "content-type",
        "content-length",
        "cache-control",
        "transfer-encoding",
    ];
    for (path, allowed) in ROUTES {
        if !allowed.contains("GET") {
            continue;
        }
        let get = if *path == "/v1/events" {
            None
        } else {
            Some(server.get(path))
        };
        let head = server.request("HEAD", path, &[], None);
        assert!(head.body.is_empty(), "HEAD {path} has a body");
        match get {
            Some(get) => {
                assert_eq!(head.status, get.status, "HEAD {path}");
                for name in same {
                    // The metrics count the requests themselves: their length may move.
                    if *path == "/metrics" && name == "content-length" {
                        continue;
                    }
                    assert_eq!(head.header(name), get.header(name), "HEAD {path}: {name}");
                }
            }
            None => {
                assert_eq!(head.status, 200, "HEAD {path}");
                assert_eq!(head.header("content-type"), Some("text/event-stream"));
            }
        }
    }
    // An error answers HEAD as GET does too.
    let missing = server.request("HEAD", "/v1/customers/999999", &[], None);
    assert_eq!(missing.status, 404);
    assert!(missing.body.is_empty());
}
