//! The operations and schemas of the prepaid cards (`server/cards.rs`), in the document's
//! own helpers.

use serde_json::{json, Value};

use super::{
    body_too_large, error_example, errors, example, examples, json_body, ok, schema,
    storage_failed, unavailable, unsupported_media_type, BODY_400, EXAMPLE_CARD_NUMBER,
    EXAMPLE_DATE, JSON,
};

fn card_answer() -> Value {
    json!({
        "instrument_id": "pc_1001_1", "customer": "1001", "card_name": "ALICE",
        "last4": "0018", "status": "ACTIVE", "physical": false, "notify_by_email": true,
        "pocket_balance": "0", "pocket_available": "0",
        "issued_at_ms": 1_795_262_400_000u64, "expires_at_ms": 1_953_817_200_000u64, "version": 1
    })
}

fn card_path(examples: Value) -> Value {
    json!({
        "name": "instrument_id", "in": "path", "required": true,
        "schema": schema("CardInstrumentId"),
        "examples": examples
    })
}

fn unknown_card() -> Value {
    errors(
        404,
        &["not_found"],
        "no such prepaid card.",
        examples(&[(
            "unknown",
            error_example(
                "An unknown card",
                "not_found",
                "no prepaid card pc_1001_9",
                None,
            ),
        )]),
    )
}

fn malformed_card() -> Value {
    errors(
        400,
        &["invalid_field"],
        "not a card's instrument id.",
        examples(&[(
            "malformed",
            error_example(
                "Not pc_<customer>_<seq>",
                "invalid_field",
                "instrument_id: instrument_id \"card-1\" is not pc_<customer>_<seq>",
                Some("instrument_id"),
            ),
        )]),
    )
}

pub fn issue() -> Value {
    let application = json!({ "card_name": "ALICE", "card_password": "4827" });
    let mut short = application.clone();
    short["card_password"] = json!("48");
    json!({ "post": {
        "operationId": "issuePrepaidCard",
        "tags": ["prepaid cards"],
        "summary": "Issue a prepaid card to a customer (INSTRUMENTS.md §5, a1–a5)",
        "description": "A 16-digit number under `payments.card_iin`, with a random serial and a Luhn check digit, ACTIVE, its pocket at 0. The answer shows the last 4 digits only; `reveal` is the one answer with the full number. The card password (4 digits) is kept only as a keyed MAC; the number only as its credential index, its last 4 digits and a copy under the data key (D-0.3). A customer holds at most `payments.cards_per_customer_max` cards (`issue_refused` beyond).",
        "parameters": [ {
            "name": "id", "in": "path", "required": true,
            "schema": schema("CustomerIdText"),
            "examples": {
                "issued": { "summary": "Customer 1001", "value": "1001" },
                "short_password": { "summary": "Customer 1001", "value": "1001" },
                "unknown": { "summary": "No such customer", "value": "999999" }
            }
        } ],
        "requestBody": json_body("CardApplication", examples(&[
            ("issued", example("A virtual card named ALICE", application.clone())),
            ("short_password", example("A password of 2 digits", short)),
            ("unknown", example("A card for a customer that does not exist", application)),
        ])),
        "responses": {
            "201": { "description": "Issued", "headers": { "Location": { "required": true, "description": "The card's URL: `/v1/prepaid-cards/{instrument_id}`.", "schema": { "type": "string", "pattern": "^/v1/prepaid-cards/pc_[0-9]+_[0-9]+$" } } }, "content": { JSON: {
                "schema": schema("PrepaidCard"),
                "examples": examples(&[("issued", example("Card 1 of customer 1001", card_answer()))])
            }}},
            "400": errors(400, BODY_400, "a field is missing, unknown, malformed or `null`; the password is not 4 digits.", examples(&[
                ("short_password", error_example("48", "invalid_field", "card_password: 4 digits", Some("card_password"))),
            ])),
            "404": errors(404, &["unknown_customer"], "no such customer.", examples(&[
                ("unknown", error_example("No such customer", "unknown_customer", "customer 999999 does not exist", None)),
            ])),
            "422": errors(422, &["issue_refused"], "the customer holds the most cards allowed, or no number is free.", examples(&[
                ("too_many", error_example("An eleventh card", "issue_refused", "customer 1001 holds 10 prepaid cards, the most payments.cards_per_customer_max allows", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

pub fn get() -> Value {
    let mut item = read();
    item["patch"] = change()["patch"].clone();
    item
}

fn change() -> Value {
    let mut suspended = card_answer();
    suspended["status"] = json!("SUSPENDED");
    suspended["version"] = json!(2);
    json!({ "patch": {
        "operationId": "changePrepaidCard",
        "tags": ["prepaid cards"],
        "summary": "Suspend, resume, unlock or close a card (D-5.3, D-5.13)",
        "description": "A suspended card pays nothing and takes no charge until resumed; unlocking (after the owner's further check) makes a locked card ACTIVE with its count of wrong passwords at zero; closing is for good, and moves the pocket's money to the owner's balance by a request of the owner's (`PR-<customer>-<seq>`), owed from its entry on (closing again finishes it). Doing again what is done answers the card as it is. Until members and their sessions are built, an operator call made for the owner.",
        "parameters": [card_path(examples(&[
            ("resumed", example("Card 1 of customer 1001", json!("pc_1001_1"))),
            ("suspended", example("Card 1 of customer 1001", json!("pc_1001_1"))),
            ("bad_action", example("Card 1 of customer 1001", json!("pc_1001_1"))),
        ]))],
        "requestBody": json_body("CardChange", examples(&[
            ("resumed", example("Resume (an active card stays active)", json!({ "action": "resume" }))),
            ("suspended", example("Suspend", json!({ "action": "suspend" }))),
            ("bad_action", example("An action that does not exist", json!({ "action": "freeze" }))),
        ])),
        "responses": {
            "200": ok("The card after the change", "PrepaidCard", examples(&[
                ("resumed", example("Active", card_answer())),
                ("suspended", example("Suspended", suspended)),
            ])),
            "400": errors(400, BODY_400, "a field is missing, unknown, malformed or `null`.", examples(&[
                ("bad_action", error_example("freeze", "invalid_field", "action: must be one of suspend, resume, unlock, close, got \"freeze\"", Some("action"))),
            ])),
            "404": unknown_card(),
            "409": errors(409, &["invalid_state"], "the status does not allow the change (a closed card stays closed).", examples(&[
                ("closed", error_example("Resuming a closed card", "invalid_state", "pc_1001_1: the card is closed", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

fn read() -> Value {
    json!({ "get": {
        "operationId": "getPrepaidCard",
        "tags": ["prepaid cards"],
        "summary": "A prepaid card and its pocket (last 4 digits only)",
        "parameters": [card_path(examples(&[
            ("found", example("Card 1 of customer 1001", json!("pc_1001_1"))),
            ("unknown", example("No such card", json!("pc_1001_9"))),
            ("malformed", example("Not a card's id", json!("card-1"))),
        ]))],
        "responses": {
            "200": ok("The card", "PrepaidCard", examples(&[("found", example("Card 1", card_answer()))])),
            "400": malformed_card(),
            "404": unknown_card(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

pub fn reveal() -> Value {
    json!({ "post": {
        "operationId": "revealPrepaidCard",
        "tags": ["prepaid cards"],
        "summary": "The card's full number, for its owner (D-5.2)",
        "description": "The one answer that carries a card's full number, opened from its copy under the data key; sent with `Cache-Control: no-store`. Until members and their sessions are built, an operator call made for the owner.",
        "parameters": [card_path(examples(&[
            ("revealed", example("Card 1 of customer 1001", json!("pc_1001_1"))),
            ("unknown", example("No such card", json!("pc_1001_9"))),
        ]))],
        "responses": {
            "200": ok("The full number", "RevealedCard", examples(&[("revealed", example("Card 1", json!({ "instrument_id": "pc_1001_1", "number": EXAMPLE_CARD_NUMBER })))])),
            "400": malformed_card(),
            "404": unknown_card(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

pub fn statements() -> Value {
    let sent = json!({
        "instrument_id": "pc_1001_1", "date": "2026-11-22", "last4": "0018", "opening_krw": "0",
        "lines": [
            { "at_ms": 1795309200000u64, "kind": "charge", "request_no": "P-2", "amount_krw": "100000" },
            { "at_ms": 1795309260000u64, "kind": "charge", "request_no": "P-3", "amount_krw": "50000" },
            { "at_ms": 1795309320000u64, "kind": "approval", "request_no": "PAY-0001000000000001", "amount_krw": "-35000" },
            { "at_ms": 1795309440000u64, "kind": "approval", "request_no": "PAY-0001000000000003", "amount_krw": "-115000" }
        ],
        "lines_left_out": 0, "closing_krw": "0",
        "notice": { "key": "ST-1001-1-20261122", "made_at_ms": 1795395600000u64, "attempts": 1, "delivered_at_ms": 1795395600020u64 }
    });
    json!({ "get": {
        "operationId": "getPrepaidCardStatement",
        "tags": ["prepaid cards"],
        "summary": "A card's statement of a KST day (d13, D-5.10)",
        "description": "At 09:00 KST the day after, every pocket that moved gets its day's statement (opening balance, each charge, approval, cancel or refund, reversal and release, closing balance) as a notice delivered through the notification sink: each delivery is put on record before the sink is asked, and asked again after `supervisor.retry_backoff_min_ms` (doubling) until the sink takes it. The notice keeps the statement as it was made; before 09:00 the answer is the day so far (`notice: null`). The card appears by its last 4 digits only. Days are kept for 7 days.",
        "parameters": [
            card_path(examples(&[
                ("quiet_day", example("Card 1 of customer 1001", json!("pc_1001_1"))),
                ("unknown", example("No such card", json!("pc_1001_9"))),
                ("bad_date", example("Card 1 of customer 1001", json!("pc_1001_1"))),
            ])),
            {
                "name": "date", "in": "query", "required": true,
                "description": "The KST day of the statement.",
                "schema": schema("RequestDate"),
                "examples": {
                    "quiet_day": { "summary": "A day the pocket did not move", "value": EXAMPLE_DATE },
                    "unknown": { "summary": "Any day", "value": EXAMPLE_DATE },
                    "bad_date": { "summary": "Not a calendar day", "value": "2026-02-30" }
                }
            }
        ],
        "responses": {
            "200": ok("The statement", "CardStatement", examples(&[("sent", example("P7: the day of P2–P6, delivered at 09:00", sent))])),
            "400": errors(400, &["invalid_field", "missing_field", "unknown_field"], "a bad or missing date, or a query parameter that is not `date`.", examples(&[
                ("bad_date", error_example("February 30", "invalid_field", "date: must be a calendar date written YYYY-MM-DD, got \"2026-02-30\"", Some("date"))),
            ])),
            "404": errors(404, &["not_found"], "no such card, or its pocket did not move that day (or the day is no longer kept).", examples(&[
                ("unknown", error_example("An unknown card", "not_found", "no prepaid card pc_1001_9", None)),
                ("quiet_day", error_example("A quiet day", "not_found", "prepaid card pc_1001_1 has no statement for 2026-11-21: its pocket did not move that day, or the day is no longer kept", None)),
            ])),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

pub fn charge() -> Value {
    let body = |source: &str, request_no: &str, amount: Value| json!({ "source": source, "request_date": EXAMPLE_DATE, "request_no": request_no, "amount": amount });
    let told = |request_no: &str, amount: &str, kind: &str, decided_by: &str| {
        json!({
            "customer": "1001", "request_no": request_no, "kind": kind, "currency": "KRW",
            "amount": amount, "told": "succeeded", "path": null, "deficit": null,
            "decided_by": decided_by, "timed_out": false, "reason": null
        })
    };
    json!({ "post": {
        "operationId": "chargePrepaidCard",
        "tags": ["prepaid cards"],
        "summary": "Charge a prepaid card's pocket from the owner's balance or linked bank account (D-5.7)",
        "description": "`source: \"balance\"`: `SS.transfer` `customer[c]` → `pocket[c,card]`, told `failed` when the balance is short or the transfer fails or times out (one done after that is reversed). `source: \"linked\"`: a charge (SPEC §3) whose credit goes to the pocket: A1 `linked[c]` → `withdrawal_firm[bank]`, A2 `fin_parent` → `pocket[c,card]`, told as a charge is (kind `charge`). Either is a request of the owner's under its request number (idempotent like a charge). Refused `over_balance_cap` when the pocket, with every credit on its way to it (charges from the bank not yet credited among them), would pass `payments.pocket_balance_cap_krw` (D-5.6); `invalid_state` for a suspended, closed or expired card. A credit card as the source comes with M5.",
        "parameters": [card_path(examples(&[
            ("charged", example("Card 1 of customer 1001", json!("pc_1001_1"))),
            ("linked", example("Card 1 of customer 1001", json!("pc_1001_1"))),
            ("bad_source", example("Card 1 of customer 1001", json!("pc_1001_1"))),
        ]))],
        "requestBody": json_body("PocketCharge", examples(&[
            ("charged", example("Charge 20,000 won from the balance", body("balance", "PC-20261121-0001", json!("20000")))),
            ("linked", example("Charge 30,000 won from the linked bank account", body("linked", "PC-20261121-0002", json!("30000")))),
            ("bad_source", example("A source that is not built", body("credit_card", "PC-20261121-0003", json!("1000")))),
        ])),
        "responses": {
            "200": ok("The outcome", "Outcome", examples(&[
                ("charged", example("Told succeeded", told("PC-20261121-0001", "20000", "pocket_charge", "pocket_charge"))),
                ("linked", example("Told succeeded once A1 is done and A2 is on record", told("PC-20261121-0002", "30000", "charge", "charge_credit"))),
            ])),
            "400": errors(400, BODY_400, "a field is missing, unknown, malformed or `null`; a source not built.", examples(&[
                ("bad_source", error_example("credit_card", "invalid_field", "source: must be \"balance\" or \"linked\", got \"credit_card\" (a credit card comes with M5)", Some("source"))),
            ])),
            "404": unknown_card(),
            "409": errors(409, &["request_no_reused", "invalid_state"], "the request number was used for another request; the card may not be charged.", examples(&[
                ("suspended", error_example("A suspended card", "invalid_state", "prepaid card pc_1001_1 is Suspended; a suspended, closed or expired card cannot be charged", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "422": errors(422, &["over_balance_cap"], "the pocket would pass its cap.", examples(&[
                ("over_cap", error_example("Past the cap", "over_balance_cap", "pocket pocket[1001,1] holds 1990000 with 0 on its way; 20000 more would pass its cap of 2000000 (payments.pocket_balance_cap_krw)", None)),
            ])),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

/// The schemas of the prepaid card operations.
pub fn schemas() -> Value {
    json!({
        "CardStatement": {
            "type": "object", "additionalProperties": false,
            "required": ["instrument_id", "date", "last4", "opening_krw", "lines", "lines_left_out", "closing_krw", "notice"],
            "properties": {
                "instrument_id": schema("CardInstrumentId"),
                "date": schema("RequestDate"),
                "last4": { "type": "string", "pattern": "^[0-9]{4}$" },
                "opening_krw": { "type": "string", "pattern": "^-?[0-9]+$" },
                "lines": { "type": "array", "items": {
                    "type": "object", "additionalProperties": false,
                    "required": ["at_ms", "kind", "request_no", "amount_krw"],
                    "properties": {
                        "at_ms": { "type": "integer", "minimum": 0 },
                        "kind": { "enum": ["charge", "approval", "cancel_or_refund", "reversal", "release"] },
                        "request_no": schema("RequestNo"),
                        "amount_krw": { "type": "string", "pattern": "^-?[0-9]+$", "description": "Positive into the pocket, negative out of it." }
                    }
                }},
                "lines_left_out": { "type": "integer", "minimum": 0 },
                "closing_krw": { "type": "string", "pattern": "^-?[0-9]+$" },
                "notice": { "oneOf": [ { "type": "null" }, {
                    "type": "object", "additionalProperties": false,
                    "required": ["key", "made_at_ms", "attempts", "delivered_at_ms"],
                    "properties": {
                        "key": schema("RequestNo"),
                        "made_at_ms": { "type": "integer", "minimum": 0 },
                        "attempts": { "type": "integer", "minimum": 0 },
                        "delivered_at_ms": { "type": ["integer", "null"], "minimum": 1 }
                    }
                } ] }
            }
        },
        "CardInstrumentId": {
            "type": "string", "pattern": "^pc_[1-9][0-9]*_[1-9][0-9]*$",
            "description": "A prepaid card's id: `pc_<customer>_<seq>`, its owner and its number among the owner's cards.",
            "examples": ["pc_1001_1"]
        },
        "CardApplication": {
            "type": "object", "additionalProperties": false,
            "required": ["card_name", "card_password"],
            "properties": {
                "card_name": { "type": "string", "minLength": 1, "maxLength": 24, "description": "Up to 16 roman letters, digits and spaces, or up to 7 Hangul characters (FIG. 3)." },
                "card_password": { "type": "string", "pattern": "^[0-9]{4}$", "description": "4 digits; kept only as a keyed MAC." },
                "physical": { "type": "boolean", "description": "A physical card bearing the same number is wanted (default false)." },
                "notify_by_email": { "type": "boolean", "description": "Each use is reported by e-mail (default true)." }
            }
        },
        "PrepaidCard": {
            "type": "object", "additionalProperties": false,
            "required": ["instrument_id", "customer", "card_name", "last4", "status", "physical", "notify_by_email", "pocket_balance", "pocket_available", "issued_at_ms", "expires_at_ms", "version"],
            "properties": {
                "instrument_id": schema("CardInstrumentId"),
                "customer": schema("CustomerIdText"),
                "card_name": { "type": "string" },
                "last4": { "type": "string", "pattern": "^[0-9]{4}$", "description": "All of the number any answer but `reveal` shows." },
                "status": { "enum": ["ACTIVE", "LOCKED", "SUSPENDED", "CLOSED", "EXPIRED"] },
                "physical": { "type": "boolean" },
                "notify_by_email": { "type": "boolean" },
                "pocket_balance": schema("Money"),
                "pocket_available": schema("Money"),
                "issued_at_ms": { "type": "integer", "minimum": 0 },
                "expires_at_ms": { "type": "integer", "minimum": 0, "description": "When the card expires (D-5.2): five years on, at the end of its issue's KST month (00:00 KST of the first day of the month after). From then on it is declined `EXPIRED` and cannot be charged; a daily pass marks it EXPIRED and moves its pocket's money to the owner's balance." },
                "version": { "type": "integer", "minimum": 1 }
            }
        },
        "CardChange": {
            "type": "object", "additionalProperties": false, "required": ["action"],
            "properties": { "action": { "enum": ["suspend", "resume", "unlock", "close"] } }
        },
        "PocketCharge": {
            "type": "object", "additionalProperties": false,
            "required": ["source", "request_date", "request_no", "amount"],
            "properties": {
                "source": { "enum": ["balance", "linked"], "description": "Where the money comes from: the owner's balance, or the owner's linked bank account (a charge whose credit goes to the pocket)." },
                "request_date": schema("RequestDate"),
                "request_no": schema("RequestNo"),
                "amount": schema("MoneyIn")
            }
        },
        "RevealedCard": {
            "type": "object", "additionalProperties": false,
            "required": ["instrument_id", "number"],
            "properties": {
                "instrument_id": schema("CardInstrumentId"),
                "number": { "type": "string", "pattern": "^[0-9]{16}$" }
            }
        }
    })
}
