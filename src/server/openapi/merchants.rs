//! The operations and schemas of `/v1/merchants` (`server/merchants.rs`), in the
//! document's own helpers.

use serde_json::{json, Value};

use super::{
    body_too_large, error_example, errors, example, examples, json_body, ok, schema,
    storage_failed, unavailable, unsupported_media_type, BODY_400, JSON,
};

fn merchant_answer(version: u32, status: &str, terminals: Value) -> Value {
    json!({
        "merchant_id": "m2", "merchant_no": 1, "version": version, "status": status,
        "category": "books", "accepts": ["prepaid_card"],
        "payout_bank": "004", "payout_account": "110-222-333",
        "payout_schedule": "daily", "payout_reserve_krw": 0,
        "terminals": terminals
    })
}

fn web_1() -> Value {
    json!([{ "terminal_id": "web-1", "active": true }])
}

fn both_terminals() -> Value {
    json!([{ "terminal_id": "web-1", "active": true }, { "terminal_id": "pos-2", "active": true }])
}

fn merchant_path(examples: Value) -> Value {
    json!({
        "name": "merchant_id", "in": "path", "required": true,
        "schema": schema("MerchantId"),
        "examples": examples
    })
}

fn location() -> Value {
    json!({ "Location": { "required": true, "description": "The merchant's URL: `/v1/merchants/{merchant_id}`.", "schema": { "type": "string", "pattern": "^/v1/merchants/[A-Za-z0-9_-]+$" } } })
}

fn unknown_merchant() -> Value {
    errors(
        404,
        &["not_found"],
        "no merchant has this id.",
        examples(&[(
            "unknown",
            error_example("An unknown merchant", "not_found", "no merchant m9", None),
        )]),
    )
}

pub fn onboard() -> Value {
    let onboarding = json!({
        "merchant_id": "m2",
        "category": "books",
        "accepts": ["prepaid_card"],
        "payout_bank": "004",
        "payout_account": "110-222-333",
        "terminals": ["web-1"]
    });
    let mut conflicting = onboarding.clone();
    conflicting["category"] = json!("food");
    let mut bad_type = onboarding.clone();
    bad_type["merchant_id"] = json!("m3");
    bad_type["accepts"] = json!(["prepaid"]);
    json!({ "post": {
        "operationId": "onboardMerchant",
        "tags": ["merchants"],
        "summary": "Onboard a merchant (INSTRUMENTS.md §6.1)",
        "description": "Gives the merchant the next merchant number and writes it to every shard; answered once all hold it. The merchant starts ACTIVE, with the terminals named. Idempotent by `merchant_id`: the merchant as it stands on record answers 200; other fields under a known id answer 409 `idempotency_conflict` (change a merchant with its own endpoints).",
        "requestBody": json_body("MerchantOnboard", examples(&[
            ("onboarded", example("Merchant m2, a web shop taking prepaid cards", onboarding.clone())),
            ("retried", example("The same onboarding again", onboarding)),
            ("conflict", example("The same id with another category", conflicting)),
            ("bad_type", example("An instrument type that does not exist", bad_type)),
        ])),
        "responses": {
            "201": { "description": "Onboarded", "headers": location(), "content": { JSON: {
                "schema": schema("Merchant"),
                "examples": examples(&[("onboarded", example("Onboarded", merchant_answer(1, "ACTIVE", web_1())))])
            }}},
            "200": ok("On record as sent (an idempotent retry)", "Merchant",
                examples(&[("retried", example("The merchant as it is", merchant_answer(1, "ACTIVE", web_1())))])),
            "400": errors(400, BODY_400, "a field is missing, unknown, malformed or `null`.", examples(&[
                ("bad_type", error_example("prepaid", "invalid_field", "accepts: must be one of division, temp, prepaid_card, wallet, card_session, got \"prepaid\"", Some("accepts"))),
            ])),
            "409": errors(409, &["idempotency_conflict"], "the merchant is on record with other fields.", examples(&[
                ("conflict", error_example("Another category", "idempotency_conflict", "merchant m2 is on record with other fields; change it with its own endpoints", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

pub fn get() -> Value {
    json!({ "get": {
        "operationId": "getMerchant",
        "tags": ["merchants"],
        "summary": "A merchant at its newest version",
        "parameters": [merchant_path(examples(&[
            ("found", example("Merchant m2", json!("m2"))),
            ("unknown", example("No such merchant", json!("m9"))),
            ("malformed", example("A space in the id", json!("m 9"))),
        ]))],
        "responses": {
            "200": ok("The merchant", "Merchant", examples(&[("found", example("m2", merchant_answer(1, "ACTIVE", web_1())))])),
            "400": errors(400, &["invalid_field"], "the merchant id is malformed.", examples(&[
                ("malformed", error_example("A space", "invalid_field", "merchant_id: must be letters, digits, '-' and '_', got \"m 9\"", Some("merchant_id"))),
            ])),
            "404": unknown_merchant()
        }
    }})
}

pub fn add_terminal() -> Value {
    json!({ "post": {
        "operationId": "addMerchantTerminal",
        "tags": ["merchants"],
        "summary": "Add a terminal to a merchant",
        "description": "The terminal starts active. A payment naming a terminal must name an active one of its merchant. Idempotent: a terminal the merchant has answers 200 with the merchant as it is. The merchant's version goes up by one with each change.",
        "parameters": [merchant_path(examples(&[
            ("added", example("Merchant m2", json!("m2"))),
            ("again", example("Merchant m2", json!("m2"))),
            ("unknown", example("No such merchant", json!("m9"))),
            ("malformed", example("Merchant m2", json!("m2"))),
        ]))],
        "requestBody": json_body("TerminalAdd", examples(&[
            ("added", example("Terminal pos-2", json!({ "terminal_id": "pos-2" }))),
            ("again", example("pos-2 again", json!({ "terminal_id": "pos-2" }))),
            ("unknown", example("A terminal of a merchant that does not exist", json!({ "terminal_id": "pos-2" }))),
            ("malformed", example("A space in the terminal id", json!({ "terminal_id": "pos 2" }))),
        ])),
        "responses": {
            "201": { "description": "Added", "headers": location(), "content": { JSON: {
                "schema": schema("Merchant"),
                "examples": examples(&[("added", example("With pos-2", merchant_answer(2, "ACTIVE", both_terminals())))])
            }}},
            "200": ok("The merchant has the terminal already", "Merchant",
                examples(&[("again", example("As it is", merchant_answer(2, "ACTIVE", both_terminals())))])),
            "400": errors(400, &[BODY_400, &["invalid_request"]].concat(), "a field is missing, unknown, malformed or `null`, or the merchant has the most terminals it may have (256).", examples(&[
                ("malformed", error_example("A space", "invalid_field", "terminal_id: must be letters, digits, '-' and '_', got \"pos 2\"", Some("terminal_id"))),
            ])),
            "404": unknown_merchant(),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

pub fn set_status() -> Value {
    json!({ "post": {
        "operationId": "setMerchantStatus",
        "tags": ["merchants"],
        "summary": "Suspend, resume or close a merchant",
        "description": "Only an ACTIVE merchant takes payments; refunds, cancels and payouts go on whatever its status. A closed merchant stays closed (409 `invalid_state`).",
        "parameters": [merchant_path(examples(&[
            ("suspended", example("Merchant m2", json!("m2"))),
            ("bad_status", example("Merchant m2", json!("m2"))),
        ]))],
        "requestBody": json_body("MerchantStatusChange", examples(&[
            ("suspended", example("Suspend m2", json!({ "status": "SUSPENDED" }))),
            ("bad_status", example("A status that does not exist", json!({ "status": "PAUSED" }))),
        ])),
        "responses": {
            "200": ok("The merchant with its new status", "Merchant",
                examples(&[("suspended", example("Suspended", merchant_answer(3, "SUSPENDED", both_terminals())))])),
            "400": errors(400, BODY_400, "a field is missing, unknown, malformed or `null`.", examples(&[
                ("bad_status", error_example("PAUSED", "invalid_field", "status: must be one of ACTIVE, SUSPENDED, CLOSED, got \"PAUSED\"", Some("status"))),
            ])),
            "404": unknown_merchant(),
            "409": errors(409, &["invalid_state"], "the merchant is closed.", examples(&[
                ("closed", error_example("Resuming a closed merchant", "invalid_state", "merchant m2 is closed; a closed merchant stays closed", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

/// The schemas of the merchant operations.
pub fn schemas() -> Value {
    json!({
        "MerchantId": {
            "type": "string", "minLength": 1, "maxLength": 32, "pattern": "^[A-Za-z0-9_-]+$",
            "description": "A merchant's id, chosen at onboarding: letters, digits, `-` and `_`, 1 to 32 of them.",
            "examples": ["m2"]
        },
        "TerminalId": {
            "type": "string", "minLength": 1, "maxLength": 32, "pattern": "^[A-Za-z0-9_-]+$",
            "description": "A terminal's id, unique within its merchant: letters, digits, `-` and `_`, 1 to 32 of them."
        },
        "Tag": {
            "type": "string", "minLength": 1, "maxLength": 16, "pattern": "^[a-z0-9_-]+$",
            "description": "A category (or region, or purpose): lowercase letters, digits, `-` and `_`, 1 to 16 of them."
        },
        "InstrumentType": { "type": "string", "enum": ["division", "temp", "prepaid_card", "wallet", "card_session"] },
        "MerchantStatus": { "type": "string", "enum": ["ACTIVE", "SUSPENDED", "CLOSED"] },
        "PayoutSchedule": { "type": "string", "enum": ["daily", "realtime"], "description": "`daily`: D+1 (the default); `realtime`: as soon as there is money to pay." },
        "MerchantOnboard": {
            "type": "object",
            "required": ["merchant_id", "category", "accepts", "payout_bank", "payout_account"],
            "additionalProperties": false,
            "properties": {
                "merchant_id": schema("MerchantId"),
                "category": schema("Tag"),
                "accepts": { "type": "array", "items": schema("InstrumentType"), "minItems": 1, "maxItems": 5, "description": "The instrument types the merchant takes." },
                "payout_bank": schema("BankCode"),
                "payout_account": { "allOf": [schema("AccountNo")], "description": "The settlement bank account payouts are deposited into." },
                "payout_schedule": schema("PayoutSchedule"),
                "payout_reserve_krw": { "type": "integer", "minimum": 0, "description": "Kept back at each payout for refunds after settlement (default 0)." },
                "terminals": { "type": "array", "items": schema("TerminalId"), "maxItems": 256, "uniqueItems": true }
            }
        },
        "TerminalAdd": {
            "type": "object", "required": ["terminal_id"], "additionalProperties": false,
            "properties": { "terminal_id": schema("TerminalId") }
        },
        "MerchantStatusChange": {
            "type": "object", "required": ["status"], "additionalProperties": false,
            "properties": { "status": schema("MerchantStatus") }
        },
        "Merchant": {
            "type": "object",
            "required": ["merchant_id", "merchant_no", "version", "status", "category", "accepts", "payout_bank", "payout_account", "payout_schedule", "payout_reserve_krw", "terminals"],
            "additionalProperties": false,
            "properties": {
                "merchant_id": schema("MerchantId"),
                "merchant_no": { "type": "integer", "minimum": 1, "description": "The engine's number of the merchant, the same on every shard." },
                "version": { "type": "integer", "minimum": 1, "description": "Goes up by one with each change." },
                "status": schema("MerchantStatus"),
                "category": schema("Tag"),
                "accepts": { "type": "array", "items": schema("InstrumentType") },
                "payout_bank": schema("BankCode"),
                "payout_account": schema("AccountNo"),
                "payout_schedule": schema("PayoutSchedule"),
                "payout_reserve_krw": { "type": "integer", "minimum": 0 },
                "terminals": { "type": "array", "items": {
                    "type": "object", "required": ["terminal_id", "active"], "additionalProperties": false,
                    "properties": { "terminal_id": schema("TerminalId"), "active": { "type": "boolean" } }
                }}
            }
        }
    })
}
