//! Division accounts over HTTP (issue 15; INSTRUMENTS.md §1.7): the real `omnibus serve`
//! binary, every endpoint of §1.7 walked as a master, a slave and a mall would: the issue
//! (number and activation code shown once), the list (masked), the activation, a payment
//! with `instrument: {type: "division", number, pin}`, the lock and the unlock, the slave's
//! own PIN change, the master's PIN reset, the authorizations, a refund. No number, code
//! or PIN is ever printed in the server's log.

#[path = "support/http.rs"]
mod http;
mod support;

use http::{write_config, Server};
use serde_json::{json, Value};

fn slave(name: &str, phone: &str, per_tx: u64, budget: u64) -> Value {
    json!({"name": name, "birth_date": "1995-04-01", "phone": phone,
           "controls": {"per_tx_max_krw": per_tx, "period": "MONTH", "period_budget_krw": budget}})
}

#[test]
fn over_http_a_master_issues_a_slave_activates_and_pays_and_nothing_shows_a_number() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", "");
    let server = Server::start(&config, &dir.path().join("data"));
    let opened = server.post(
        "/v1/customers",
        &json!({"customer": 1, "linked_bank": "004", "linked_account": "110-1"}),
    );
    assert_eq!(opened.status, 201, "{}", opened.text());
    let date = support::today();
    let charged = server.post(
        "/v1/charges",
        &json!({"customer": 1, "request_date": date, "request_no": "C-1", "amount": "300000"}),
    );
    assert_eq!(charged.status, 200, "{}", charged.text());
    let onboarded = server.post(
        "/v1/merchants",
        &json!({"merchant_id": "m", "category": "content", "accepts": ["division"],
                "payout_bank": "004", "payout_account": "110-222-333"}),
    );
    assert_eq!(onboarded.status, 201, "{}", onboarded.text());

    // I1–I4: another account than the linked one is refused; the linked one issues.
    let not_linked = server.post(
        "/v1/customers/1/division-accounts",
        &json!({"bank": "004", "account_no": "110-2", "holder_name": "김부모",
                "slaves": [slave("김하나", "01011112222", 50_000, 100_000)]}),
    );
    assert_eq!(
        (not_linked.status, not_linked.code()),
        (422, "account_not_linked".into()),
        "{}",
        not_linked.text()
    );
    let issued = server.post(
        "/v1/customers/1/division-accounts",
        &json!({"bank": "004", "account_no": "110-1", "holder_name": "김부모",
                "slaves": [slave("김하나", "01011112222", 50_000, 100_000)]}),
    );
    assert_eq!(issued.status, 201, "{}", issued.text());
    assert_eq!(issued.header("cache-control"), Some("no-store"));
    let account = issued.json()["accounts"][0].clone();
    let id = account["instrument_id"].as_str().unwrap().to_owned();
    let number = account["division_no"].as_str().unwrap().to_owned();
    let code = account["activation_code"].as_str().unwrap().to_owned();
    assert!(number.starts_with("DA-") && number.len() == 16, "{number}");
    assert_eq!(account["status"], "PENDING_ACTIVATION");
    let listed = server.get("/v1/customers/1/division-accounts");
    assert_eq!(listed.status, 200);
    assert!(!listed.text().contains(&number) && !listed.text().contains(&code));
    assert!(listed.json()["accounts"][0]["division_no"]
        .as_str()
        .unwrap()
        .ends_with(&number[12..]));

    let payment = |no: &str, amount: u64, pin: &str| {
        json!({"merchant_id": "m", "merchant_request_no": no, "amount_krw": amount,
               "category": "content",
               "instrument": {"type": "division", "number": number, "pin": pin}})
    };
    // Before the activation: NOT_ACTIVATED.
    let early = server.post("/v1/payments", &payment("R-0", 1_000, "123456"));
    assert_eq!(
        early.json()["decline_code"],
        "NOT_ACTIVATED",
        "{}",
        early.text()
    );

    // I5: a wrong identity is refused; the right one activates with the slave's PIN.
    let activation = |name: &str| {
        json!({"division_no": number, "activation_code": code,
               "identity_check": {"name": name, "birth_date": "1995-04-01", "phone": "01011112222"},
               "pin": "135790"})
    };
    let wrong = server.post("/v1/division-accounts/activations", &activation("김다른"));
    assert_eq!(wrong.code(), "identity_check_failed", "{}", wrong.text());
    let activated = server.post("/v1/division-accounts/activations", &activation("김하나"));
    assert_eq!(activated.status, 200, "{}", activated.text());
    assert_eq!(activated.json()["status"], "ACTIVE");

    // F2: paid from the master's balance within the budget.
    let paid = server.post("/v1/payments", &payment("R-1", 30_000, "135790"));
    assert_eq!(paid.status, 200, "{}", paid.text());
    let body = paid.json();
    assert_eq!(body["status"], "APPROVED", "{body}");
    assert_eq!(body["legs"][0]["type"], "division");
    let customer = server.get("/v1/customers/1").json();
    assert_eq!(customer["balance"], "270000", "{customer}");
    let over = server.post("/v1/payments", &payment("R-2", 60_000, "135790"));
    assert_eq!(over.json()["decline_code"], "AMOUNT_CAP_EXCEEDED");

    // Five wrong PINs lock it; the master unlocks it.
    for i in 0..5 {
        let wrong = server.post("/v1/payments", &payment(&format!("W-{i}"), 1_000, "000000"));
        assert_eq!(wrong.json()["decline_code"], "WRONG_SECRET");
    }
    let locked = server.get(&format!("/v1/division-accounts/{id}"));
    assert_eq!(locked.json()["status"], "LOCKED");
    let unlocked = server.request(
        "PATCH",
        &format!("/v1/division-accounts/{id}"),
        &[("content-type", "application/json")],
        Some(json!({"action": "unlock"}).to_string().as_bytes()),
    );
    assert_eq!(unlocked.status, 200, "{}", unlocked.text());
    assert_eq!(unlocked.json()["status"], "ACTIVE");

    // The slave changes their own PIN; the old one no longer pays.
    let changed = server.post(
        &format!("/v1/division-accounts/{id}/pin"),
        &json!({"current_pin": "135790", "new_pin": "975310"}),
    );
    assert_eq!(changed.status, 200, "{}", changed.text());
    let old = server.post("/v1/payments", &payment("R-3", 1_000, "135790"));
    assert_eq!(old.json()["decline_code"], "WRONG_SECRET");
    let new = server.post("/v1/payments", &payment("R-4", 1_000, "975310"));
    assert_eq!(new.json()["status"], "APPROVED", "{}", new.text());

    // The master's controls change; the authorizations list newest first.
    let narrowed = server.request(
        "PATCH",
        &format!("/v1/division-accounts/{id}"),
        &[("content-type", "application/json")],
        Some(
            json!({"controls": {"per_tx_max_krw": 20_000, "period_budget_krw": 100_000}})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(narrowed.status, 200, "{}", narrowed.text());
    assert_eq!(narrowed.json()["controls"]["per_tx_max_krw"], 20_000);
    let listed = server.get(&format!(
        "/v1/division-accounts/{id}/authorizations?limit=3"
    ));
    assert_eq!(listed.status, 200, "{}", listed.text());
    let list = listed.json()["authorizations"].as_array().unwrap().clone();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["merchant_request_no"], "R-4");

    // A refund goes back to the master's balance and the budget.
    let payment_id = body["payment_id"].as_str().unwrap();
    let refunded = server.post(
        &format!("/v1/payments/{payment_id}/refunds"),
        &json!({"merchant_id": "m", "refund_request_no": "RF-1", "amount_krw": 10_000}),
    );
    assert_eq!(refunded.status, 200, "{}", refunded.text());
    assert_eq!(refunded.json()["state"], "PARTIALLY_REFUNDED");
    let customer = server.get("/v1/customers/1").json();
    assert_eq!(customer["balance"], "279000", "{customer}");
    let account = server.get(&format!("/v1/division-accounts/{id}")).json();
    assert_eq!(account["spent_in_period_krw"], 21_000, "{account}");

    // The master's PIN reset: PENDING_ACTIVATION again, a new code for the master.
    let reset = server.post(
        &format!("/v1/division-accounts/{id}/pin"),
        &json!({"action": "reset"}),
    );
    assert_eq!(reset.status, 200, "{}", reset.text());
    let new_code = reset.json()["activation_code"].as_str().unwrap().to_owned();
    assert_eq!(new_code.len(), 8);
    assert_eq!(reset.json()["account"]["status"], "PENDING_ACTIVATION");

    // Bad input: a clear error, nothing changed.
    let bad = server.post(
        "/v1/customers/1/division-accounts",
        &json!({"bank": "004", "account_no": "110-1", "holder_name": "김부모", "slaves": []}),
    );
    assert_eq!((bad.status, bad.code()), (400, "invalid_field".into()));
    let missing = server.get("/v1/division-accounts/da_1_9");
    assert_eq!(missing.status, 404);

    let log = server.log();
    for secret in [
        number.as_str(),
        code.as_str(),
        new_code.as_str(),
        "135790",
        "975310",
    ] {
        assert!(!log.contains(secret), "the log shows {secret}");
    }
}
