//! The prepaid card of seed 004 (issue 14; INSTRUMENTS.md §5, D-5.2, D-0.3): issued under
//! the configured IIN with a Luhn-valid number, shown in full only by the owner's reveal,
//! kept in the logs only as its credential index, its last 4 digits and its copy under
//! the data key, and found again by its number after a restart.

#[path = "support/http.rs"]
mod http;
mod support;

use http::{write_config, Server};
use omnibus_actors::{CardApplication, Engine, EngineError};
use omnibus_core::ids::CardName;
use omnibus_core::payments::card_number::CardNumber;
use omnibus_core::payments::payment_request::SecretText;
use omnibus_core::payments::prepaid_card::CardStatus;
use omnibus_core::payments::RefusalCode;
use serde_json::json;
use support::*;

fn application(password: &str) -> CardApplication {
    CardApplication {
        name: CardName::new("ALICE").unwrap(),
        password: SecretText::new(password.into()),
        physical: false,
        notify_by_email: true,
    }
}

fn refusal_code(e: EngineError) -> RefusalCode {
    match e {
        EngineError::Refusal { code, .. } => code,
        other => panic!("a refusal, not {other:?}"),
    }
}

#[test]
fn card_issue_puts_number_in_wallet() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let engine = start(dir.path(), 2, "");
    let issue = |engine: &Engine| {
        rt.block_on(async {
            engine.open_customer(opened(1)).await.unwrap();
            engine
                .issue_prepaid_card(customer(1), application("4827"))
                .await
                .unwrap()
        })
    };
    let card = issue(&engine);
    let id = card.card.instrument_id();
    assert_eq!(id.to_string(), "pc_1_1");
    assert_eq!(card.card.status, CardStatus::Active);
    assert!(card.pocket.balance.is_zero());
    // A 16-digit number under the configured test IIN, with a valid Luhn digit; only the
    // owner's reveal shows it in full, everything else its last 4 digits.
    let number = rt.block_on(engine.reveal_prepaid_card(id)).unwrap();
    let digits = number.reveal();
    assert_eq!(digits.len(), 16);
    assert!(digits.starts_with("942100"), "{digits}");
    assert_eq!(CardNumber::parse(&digits).unwrap(), number, "Luhn-valid");
    assert_eq!(card.card.last4(), &digits[12..]);
    assert_eq!(
        format!("{number}"),
        format!("************{}", &digits[12..])
    );
    assert!(
        !format!("{card:?}").contains(&digits),
        "Debug shows no number"
    );
    assert_eq!(engine.card_by_number(&number), Some(id));
    // A second card of the same customer: its own number.
    let second = rt
        .block_on(engine.issue_prepaid_card(customer(1), application("1111")))
        .unwrap();
    assert_eq!(second.card.instrument_id().to_string(), "pc_1_2");
    let second_number = rt
        .block_on(engine.reveal_prepaid_card(second.card.instrument_id()))
        .unwrap();
    assert_ne!(second_number, number);
    engine.shutdown().unwrap();

    // Nothing the engine wrote holds the number in clear.
    let written = everything_written(dir.path());
    assert!(written.len() > 1_000, "the logs were read");
    assert!(
        !contains(&written, digits.as_bytes()),
        "the number in clear on disk"
    );

    // After a restart the card is there, its number found through the credential index
    // rebuilt from the logs, and its reveal the same.
    let engine = start(dir.path(), 2, "");
    assert_eq!(engine.card_by_number(&number), Some(id));
    assert_eq!(rt.block_on(engine.reveal_prepaid_card(id)).unwrap(), number);
    assert_eq!(rt.block_on(engine.prepaid_card(id)).unwrap(), card);
    engine.shutdown().unwrap();
}

#[test]
fn a_card_issue_with_bad_input_or_over_the_bound_is_refused_and_issues_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let engine = start(dir.path(), 2, "[payments]\ncards_per_customer_max = 1\n");
    rt.block_on(async {
        engine.open_customer(opened(1)).await.unwrap();
        for bad in ["482", "48270", "48a7", ""] {
            let e = engine
                .issue_prepaid_card(customer(1), application(bad))
                .await
                .unwrap_err();
            assert_eq!(refusal_code(e), RefusalCode::InvalidRequest, "{bad:?}");
        }
        let e = engine
            .issue_prepaid_card(customer(2), application("4827"))
            .await
            .unwrap_err();
        assert!(
            matches!(e, EngineError::Refused(_)),
            "unknown customer: {e:?}"
        );
        engine
            .issue_prepaid_card(customer(1), application("4827"))
            .await
            .unwrap();
        let e = engine
            .issue_prepaid_card(customer(1), application("4827"))
            .await
            .unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::IssueRefused);
        let id = "pc_1_2".parse().unwrap();
        let e = engine.prepaid_card(id).await.unwrap_err();
        assert_eq!(refusal_code(e), RefusalCode::NotFound);
    });
    assert!(
        CardName::new("ABCDEFGHIJKLMNOPQ").is_err(),
        "17 roman letters"
    );
    assert!(CardName::new("가나다라마바사").is_ok(), "7 Hangul");
    assert!(CardName::new("가나다라마바사아").is_err(), "8 Hangul");
    engine.shutdown().unwrap();
}

#[test]
fn over_http_a_card_shows_its_last_4_digits_and_only_reveal_shows_the_number() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", "");
    let server = Server::start(&config, &dir.path().join("data"));
    let opened = server.post(
        "/v1/customers",
        &json!({"customer": 7, "linked_bank": "004", "linked_account": "110-1"}),
    );
    assert_eq!(opened.status, 201, "{}", opened.text());
    let issued = server.post(
        "/v1/customers/7/prepaid-cards",
        &json!({"card_name": "ALICE", "card_password": "4827"}),
    );
    assert_eq!(issued.status, 201, "{}", issued.text());
    let card = issued.json();
    assert_eq!(card["instrument_id"], "pc_7_1");
    assert_eq!(card["status"], "ACTIVE");
    assert_eq!(card["pocket_balance"], "0");
    let last4 = card["last4"].as_str().unwrap().to_owned();
    assert!(!issued.text().contains("card_password") && !issued.text().contains("4827"));
    let revealed = server.post("/v1/prepaid-cards/pc_7_1/reveal", &json!({}));
    assert_eq!(revealed.status, 200, "{}", revealed.text());
    assert_eq!(revealed.header("cache-control"), Some("no-store"));
    let number = revealed.json()["number"].as_str().unwrap().to_owned();
    assert!(number.ends_with(&last4) && number.len() == 16);
    let read = server.get("/v1/prepaid-cards/pc_7_1");
    assert_eq!(read.status, 200);
    assert!(!read.text().contains(&number), "GET shows no number");
    assert_eq!(read.json()["last4"], last4);
    let bad = server.post(
        "/v1/customers/7/prepaid-cards",
        &json!({"card_name": "ALICE", "card_password": "12"}),
    );
    assert_eq!((bad.status, bad.code()), (400, "invalid_field".into()));
    let missing = server.get("/v1/prepaid-cards/pc_7_9");
    assert_eq!(missing.status, 404);
    // Charged from the balance, then paid at a merchant with the number and password.
    let date = support::today();
    let charged = server.post(
        "/v1/charges",
        &json!({"customer": 7, "request_date": date, "request_no": "C-7", "amount": "100000"}),
    );
    assert_eq!(charged.status, 200, "{}", charged.text());
    let filled = server.post(
        "/v1/prepaid-cards/pc_7_1/charges",
        &json!({"source": "balance", "request_date": date, "request_no": "PC-7", "amount": "60000"}),
    );
    assert_eq!(filled.status, 200, "{}", filled.text());
    assert_eq!(filled.json()["told"], "succeeded");
    let onboarded = server.post(
        "/v1/merchants",
        &json!({"merchant_id": "m2", "category": "books", "accepts": ["prepaid_card"],
                "payout_bank": "004", "payout_account": "110-222-333"}),
    );
    assert_eq!(onboarded.status, 201, "{}", onboarded.text());
    let payment = |no: &str, amount: u64, password: &str| {
        json!({"merchant_id": "m2", "merchant_request_no": no, "amount_krw": amount,
               "category": "books",
               "instrument": {"type": "prepaid_card", "number": number, "password": password}})
    };
    let paid = server.post("/v1/payments", &payment("R-1", 35_000, "4827"));
    assert_eq!(paid.status, 200, "{}", paid.text());
    let body = paid.json();
    assert_eq!(
        (body["status"].as_str(), body["state"].as_str()),
        (Some("APPROVED"), Some("APPROVED"))
    );
    assert!(
        !paid.text().contains(&number) && !paid.text().contains("\"4827\""),
        "{}",
        paid.text()
    );
    let wrong = server.post("/v1/payments", &payment("R-2", 1_000, "0000"));
    assert_eq!(wrong.json()["decline_code"], "WRONG_SECRET");
    let short = server.post("/v1/payments", &payment("R-3", 25_001, "4827"));
    assert_eq!(short.json()["decline_code"], "INSUFFICIENT_FUNDS");
    let looked_up = server.get("/v1/payments?merchant_id=m2&merchant_request_no=R-1");
    assert_eq!(looked_up.status, 200);
    assert_eq!(looked_up.json()["payment_id"], body["payment_id"]);
    let conflict = server.post("/v1/payments", &payment("R-1", 35_001, "4827"));
    assert_eq!(
        (conflict.status, conflict.code()),
        (409, "idempotency_conflict".into())
    );
    let card = server.get("/v1/prepaid-cards/pc_7_1").json();
    assert_eq!(card["pocket_balance"], "25000");
    // Neither the server's log nor any answer printed the number or the password.
    let log = server.log();
    assert!(!log.contains(&number));
    assert!(!log.contains("\"4827\"") && !log.contains("password=4827"));
}
