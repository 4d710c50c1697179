//! Who may call what (issue 14; docs/auth.md): with `server.auth = "required"` every
//! request but `/health` and `/openapi.json` is signed with an API key; a merchant's key
//! sees and acts on its own merchant's payments only; the operator's key does the rest.
//! Real `omnibus serve` processes, real files.

#[path = "support/http.rs"]
mod http;
#[path = "support/signed.rs"]
mod signed;
mod support;

use http::{write_config, Server};
use serde_json::{json, Value};
use signed::{now_ms, operator_key, send_with, Signer};

/// A server that asks for signatures, and the operator's key made before it started.
fn start() -> (tempfile::TempDir, Server, Signer) {
    start_with("")
}

/// [`start`], with more `[server]` keys.
fn start_with(server_keys: &str) -> (tempfile::TempDir, Server, Signer) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "",
        &format!("auth = \"required\"\nauth_window_ms = 60_000\n{server_keys}"),
    );
    let data = dir.path().join("data");
    let operator = operator_key(&config, &data);
    let server = Server::start(&config, &data);
    (dir, server, operator)
}

#[test]
fn no_key_or_a_bad_signature_is_refused_401() {
    let (_dir, server, operator) = start();
    assert_eq!(server.get("/health").status, 200, "health stays open");
    assert_eq!(server.get("/openapi.json").status, 200);
    // The metrics show the parent accounts' balances: the operator's.
    assert_eq!(server.get("/metrics").status, 401);
    assert_eq!(operator.get(&server, "/metrics").status, 200);
    let bare = server.get("/v1/parents");
    assert_eq!((bare.status, bare.code()), (401, "unauthorized".into()));
    let bare_post = server.post(
        "/v1/customers",
        &json!({"customer": 1, "linked_bank": "004", "linked_account": "110-1"}),
    );
    assert_eq!(bare_post.status, 401);
    // The right key id under a wrong secret.
    let wrong = Signer {
        key_id: operator.key_id.clone(),
        secret: format!("sk_{}", "0".repeat(64)),
    };
    let forged = wrong.get(&server, "/v1/parents");
    assert_eq!((forged.status, forged.code()), (401, "unauthorized".into()));
    // A key nobody made.
    let unknown = Signer {
        key_id: format!("ak_{}", "1".repeat(24)),
        secret: operator.secret.clone(),
    };
    assert_eq!(unknown.get(&server, "/v1/parents").status, 401);
    // A malformed signature header.
    let mut headers = operator.headers_at("GET", "/v1/parents", b"", now_ms());
    headers[2].1 = "v1=zz".into();
    assert_eq!(
        send_with(&server, "GET", "/v1/parents", &headers, None).status,
        401
    );
    // Nothing refused reached the engine: no customer 1.
    let read = operator.get(&server, "/v1/customers/1");
    assert_eq!(read.status, 404, "{}", read.text());
    assert_eq!(operator.get(&server, "/v1/parents").status, 200);
}

#[test]
fn a_replayed_or_altered_request_is_refused() {
    let (_dir, server, operator) = start();
    let body = json!({"customer": 5, "linked_bank": "004", "linked_account": "110-5"}).to_string();
    let headers = operator.headers_at("POST", "/v1/customers", body.as_bytes(), now_ms());
    let first = send_with(
        &server,
        "POST",
        "/v1/customers",
        &headers,
        Some(body.as_bytes()),
    );
    assert_eq!(first.status, 201, "{}", first.text());
    // The same bytes again, as an eavesdropper would send them.
    let replayed = send_with(
        &server,
        "POST",
        "/v1/customers",
        &headers,
        Some(body.as_bytes()),
    );
    assert_eq!(
        (replayed.status, replayed.code()),
        (401, "unauthorized".into())
    );
    assert!(replayed.text().contains("replay"), "{}", replayed.text());
    // The signature of one body over another.
    let fresh = operator.headers_at("POST", "/v1/customers", body.as_bytes(), now_ms() + 1);
    let altered =
        json!({"customer": 6, "linked_bank": "004", "linked_account": "110-5"}).to_string();
    let refused = send_with(
        &server,
        "POST",
        "/v1/customers",
        &fresh,
        Some(altered.as_bytes()),
    );
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert_eq!(
        operator.get(&server, "/v1/customers/6").status,
        404,
        "customer 6 was not opened"
    );
    // Over another path, or another query.
    let signed_for = operator.headers_at("GET", "/v1/customers/5", b"", now_ms());
    assert_eq!(
        send_with(&server, "GET", "/v1/customers/6", &signed_for, None).status,
        401
    );
    // Outside the window, before and after.
    for at in [now_ms() - 120_000, now_ms() + 120_000] {
        let stale = operator.headers_at("GET", "/v1/customers/5", b"", at);
        let answer = send_with(&server, "GET", "/v1/customers/5", &stale, None);
        assert_eq!(answer.status, 401, "{}", answer.text());
    }
    // Signed anew, the same request is fine.
    assert_eq!(operator.get(&server, "/v1/customers/5").status, 200);
    // Signed before the server started (within the window): the replay memory of the
    // process before may have seen it, so it is refused.
    let before = operator.headers_at("GET", "/v1/customers/5", b"", now_ms() - 30_000);
    let answer = send_with(&server, "GET", "/v1/customers/5", &before, None);
    assert_eq!(answer.status, 401, "{}", answer.text());
    assert!(
        answer.text().contains("before the server started"),
        "{}",
        answer.text()
    );
    // The request number in a header is not signed: refused, it goes in the body.
    let date = support::today();
    let charge = json!({"customer": 5, "request_date": date, "amount": "1000"}).to_string();
    let mut headers = operator.headers_at("POST", "/v1/charges", charge.as_bytes(), now_ms());
    headers.push(("Idempotency-Key".into(), "C-5".into()));
    let refused = send_with(
        &server,
        "POST",
        "/v1/charges",
        &headers,
        Some(charge.as_bytes()),
    );
    assert_eq!(
        (refused.status, refused.code()),
        (400, "invalid_field".into()),
        "{}",
        refused.text()
    );
    assert_eq!(
        operator.get(&server, "/v1/requests/C-5").status,
        404,
        "nothing charged"
    );
}

/// The operator's side of a card payment: customer 7 with a card of 60,000 in its pocket,
/// merchants m1 and m2; the card's number.
fn card_and_merchants(server: &Server, operator: &Signer) -> String {
    let ok = |r: http::Response, status: u16| {
        assert_eq!(r.status, status, "{}", r.text());
        r.json()
    };
    ok(
        operator.post(
            server,
            "/v1/customers",
            &json!({"customer": 7, "linked_bank": "004", "linked_account": "110-1"}),
        ),
        201,
    );
    ok(
        operator.post(
            server,
            "/v1/customers/7/prepaid-cards",
            &json!({"card_name": "ALICE", "card_password": "4827"}),
        ),
        201,
    );
    let number = ok(
        operator.post(server, "/v1/prepaid-cards/pc_7_1/reveal", &json!({})),
        200,
    )["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let date = support::today();
    ok(
        operator.post(
            server,
            "/v1/charges",
            &json!({"customer": 7, "request_date": date, "request_no": "C-7", "amount": "100000"}),
        ),
        200,
    );
    ok(
        operator.post(
            server,
            "/v1/prepaid-cards/pc_7_1/charges",
            &json!({"source": "balance", "request_date": date, "request_no": "PC-7", "amount": "60000"}),
        ),
        200,
    );
    for m in ["m1", "m2"] {
        ok(
            operator.post(
                server,
                "/v1/merchants",
                &json!({"merchant_id": m, "category": "books", "accepts": ["prepaid_card"],
                        "payout_bank": "004", "payout_account": "110-222-333"}),
            ),
            201,
        );
    }
    number
}

fn merchant_key(server: &Server, operator: &Signer, merchant: &str) -> Signer {
    let made = operator.post(server, "/v1/api-keys", &json!({"merchant_id": merchant}));
    assert_eq!(made.status, 201, "{}", made.text());
    let made = made.json();
    assert_eq!(
        (made["owner"].as_str(), made["merchant_id"].as_str()),
        (Some("merchant"), Some(merchant))
    );
    Signer::from_answer(&made)
}

fn payment(no: &str, amount: u64, number: &str) -> Value {
    json!({"merchant_request_no": no, "amount_krw": amount, "category": "books",
           "instrument": {"type": "prepaid_card", "number": number, "password": "4827"}})
}

#[test]
fn a_merchant_cannot_read_cancel_or_refund_another_merchants_payment() {
    let (dir, mut server, operator) = start();
    let number = card_and_merchants(&server, &operator);
    let m1 = merchant_key(&server, &operator, "m1");
    let m2 = merchant_key(&server, &operator, "m2");
    // m1 pays under its own key, naming nobody: the key names the merchant.
    let paid = m1.post(&server, "/v1/payments", &payment("R-1", 10_000, &number));
    assert_eq!(paid.status, 200, "{}", paid.text());
    let paid = paid.json();
    assert_eq!(
        (paid["status"].as_str(), paid["merchant_id"].as_str()),
        (Some("APPROVED"), Some("m1"))
    );
    let id = paid["payment_id"].as_str().unwrap().to_owned();
    // m2 can neither read, nor cancel, nor refund it: 404, as if it did not exist.
    let not_found = |r: http::Response| {
        assert_eq!(
            (r.status, r.code()),
            (404, "not_found".into()),
            "{}",
            r.text()
        );
        assert!(!r.text().contains("APPROVED"), "{}", r.text());
    };
    not_found(m2.get(&server, "/v1/payments?merchant_request_no=R-1"));
    not_found(m2.get(
        &server,
        "/v1/payments?merchant_id=m1&merchant_request_no=R-1",
    ));
    not_found(m2.post(&server, &format!("/v1/payments/{id}/cancel"), &json!({})));
    not_found(m2.post(
        &server,
        &format!("/v1/payments/{id}/cancel"),
        &json!({"merchant_id": "m1"}),
    ));
    not_found(m2.post(
        &server,
        &format!("/v1/payments/{id}/refunds"),
        &json!({"refund_request_no": "RF-1", "amount_krw": 1_000}),
    ));
    not_found(m2.post(
        &server,
        "/v1/payments/cancel-by-request",
        &json!({"merchant_id": "m1", "merchant_request_no": "R-1"}),
    ));
    not_found(m2.get(&server, "/v1/merchants/m1"));
    not_found(m2.get(
        &server,
        &format!("/v1/merchants/m1/payouts?date={}", support::today()),
    ));
    // A payment in another merchant's name, and the operator's routes: 403.
    let mut foreign = payment("R-9", 1_000, &number);
    foreign["merchant_id"] = "m1".into();
    let refused = m2.post(&server, "/v1/payments", &foreign);
    assert_eq!(
        (refused.status, refused.code()),
        (403, "forbidden".into()),
        "{}",
        refused.text()
    );
    let body = json!({"customer": 9, "linked_bank": "004", "linked_account": "1"}).to_string();
    let headers = m2.headers_at("POST", "/v1/customers", body.as_bytes(), now_ms());
    for _ in 0..2 {
        // Refused before its signature is remembered: the same bytes again are 403 too,
        // not a replay (a merchant cannot fill the replay memory with operator calls).
        let refused = send_with(
            &server,
            "POST",
            "/v1/customers",
            &headers,
            Some(body.as_bytes()),
        );
        assert_eq!(
            (refused.status, refused.code()),
            (403, "forbidden".into()),
            "{}",
            refused.text()
        );
    }
    assert_eq!(
        m2.post(&server, "/v1/api-keys", &json!({"owner": "operator"}))
            .status,
        403
    );
    // The payment is untouched; m1 reads and refunds its own.
    let own = m1.get(&server, "/v1/payments?merchant_request_no=R-1");
    assert_eq!(
        (own.status, own.json()["state"].as_str()),
        (200, Some("APPROVED"))
    );
    assert_eq!(m1.get(&server, "/v1/merchants/m1").status, 200);
    let refunded = m1.post(
        &server,
        &format!("/v1/payments/{id}/refunds"),
        &json!({"refund_request_no": "RF-1", "amount_krw": 1_000}),
    );
    assert_eq!(refunded.status, 200, "{}", refunded.text());
    assert_eq!(refunded.json()["state"], "PARTIALLY_REFUNDED");
    // The operator acts for any merchant it names.
    let by_operator = operator.get(
        &server,
        "/v1/payments?merchant_id=m1&merchant_request_no=R-1",
    );
    assert_eq!(by_operator.status, 200);

    // Rotation: m1 makes a second key and revokes the first; m2 cannot revoke m1's.
    let m1_new = Signer::from_answer(&{
        let made = m1.post(&server, "/v1/api-keys", &json!({}));
        assert_eq!(made.status, 201, "{}", made.text());
        made.json()
    });
    not_found(m2.post(
        &server,
        &format!("/v1/api-keys/{}/revoke", m1.key_id),
        &json!({}),
    ));
    let listed = m1.get(&server, "/v1/api-keys").json();
    assert_eq!(listed["api_keys"].as_array().unwrap().len(), 2, "{listed}");
    assert!(
        !listed.to_string().contains("sk_"),
        "a list shows no secret"
    );
    let revoked = m1_new.post(
        &server,
        &format!("/v1/api-keys/{}/revoke", m1.key_id),
        &json!({}),
    );
    assert_eq!(
        (revoked.status, revoked.json()["status"].as_str()),
        (200, Some("revoked"))
    );
    assert_eq!(
        m1.get(&server, "/v1/merchants/m1").status,
        401,
        "a revoked key signs nothing"
    );
    assert_eq!(m1_new.get(&server, "/v1/merchants/m1").status, 200);

    // After a restart the keys are as they were, and no file holds a secret.
    server.terminate();
    let data = dir.path().join("data");
    let server = Server::start(&dir.path().join("server.toml"), &data);
    assert_eq!(m1.get(&server, "/v1/merchants/m1").status, 401);
    assert_eq!(m1_new.get(&server, "/v1/merchants/m1").status, 200);
    assert_eq!(operator.get(&server, "/v1/parents").status, 200);
    let written = support::everything_written(&data);
    for signer in [&operator, &m1, &m1_new, &m2] {
        let hex = signer.secret.trim_start_matches("sk_");
        let raw: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert!(
            !support::contains(&written, &raw) && !support::contains(&written, hex.as_bytes()),
            "the data directory holds a key's secret"
        );
    }
}

#[test]
fn beyond_loopback_the_server_refuses_to_listen_without_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", "auth = \"off\"\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_omnibus"))
        .args(["serve", "--listen", "0.0.0.0:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to listen on 0.0.0.0"), "{err}");
    assert!(
        !dir.path().join("data").exists(),
        "it refused before touching the data"
    );
}

#[test]
fn with_authentication_off_on_loopback_nobody_signs() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", "");
    let server = Server::start(&config, &dir.path().join("data"));
    assert_eq!(server.get("/v1/parents").status, 200);
}

/// The replay memory's share per merchant (`server.auth_replays_per_merchant_max`): a
/// merchant that sends more signed requests in the window than its share is answered
/// 503 `overloaded`, and the other merchants and the operator go on.
#[test]
fn one_merchant_fills_only_its_own_share_of_the_replay_memory() {
    let (_dir, server, operator) =
        start_with("auth_replays_max = 10_000\nauth_replays_per_merchant_max = 1_000\n");
    card_and_merchants(&server, &operator);
    let m1 = merchant_key(&server, &operator, "m1");
    let m1_second = merchant_key(&server, &operator, "m1");
    let m2 = merchant_key(&server, &operator, "m2");
    // m1 reads its own merchant record 1,000 times, with its two keys by turns: each a
    // new signed request.
    for i in 0..1_000 {
        let key = if i % 2 == 0 { &m1 } else { &m1_second };
        let r = key.get(&server, &format!("/v1/merchants/m1?n={i}"));
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
    }
    // A third key would not help: the share is the merchant's.
    let m1_third = merchant_key(&server, &operator, "m1");
    let full = m1_third.get(&server, "/v1/merchants/m1?n=1000");
    assert_eq!(full.status, 503, "{}", full.text());
    assert_eq!(
        full.json()["error"]["code"],
        "overloaded",
        "{}",
        full.text()
    );
    assert!(
        full.text().contains("auth_replays_per_merchant_max"),
        "{}",
        full.text()
    );
    // Everyone else goes on.
    assert_eq!(m2.get(&server, "/v1/merchants/m2").status, 200);
    assert_eq!(operator.get(&server, "/v1/parents").status, 200);
}
