//! The operations and schemas of members and the wallet of flow B (`server/wallet.rs`),
//! in the document's own helpers.

use serde_json::{json, Value};

use super::{
    body_too_large, error_example, errors, example, examples, json_body, ok, schema,
    storage_failed, unavailable, unsupported_media_type, BODY_400,
};

/// The session the checkout examples carry; the replay logs in and puts a real one.
pub const EXAMPLE_SESSION: &str = "ws_00000000000000000000000000000001";

fn created(description: &str, schema_name: &str, examples: Value) -> Value {
    let mut answer = ok(description, schema_name, examples);
    answer["description"] = json!(description);
    answer
}

pub fn create_member() -> Value {
    let body =
        |password: &str| json!({ "member_id": "alice001", "password": password, "customer": 1001 });
    json!({ "post": {
        "operationId": "createMember",
        "tags": ["wallet"],
        "summary": "Register a member for a customer (a1)",
        "description": "The member ID (8 to 12 lowercase letters and digits) and login password (8 to 12 letters and digits, not case-sensitive) of a customer; the password is kept only as an argon2id hash, made off the shard's thread. The member's wallet holds the customer's prepaid cards. Identity checks are the host's, before it calls this.",
        "requestBody": json_body("MemberApplication", examples(&[
            ("created", example("alice001 for customer 1001", body("secret123"))),
            ("exists", example("The same ID again", body("secret123"))),
            ("bad_password", example("A password of 5 characters", body("short"))),
            ("no_customer", example("A customer that does not exist", json!({ "member_id": "bob00001", "password": "secret123", "customer": 999999 }))),
        ])),
        "responses": {
            "201": created("Registered", "Member", examples(&[("created", example("alice001", json!({ "member_id": "alice001", "customer": "1001", "status": "ACTIVE" })))])),
            "400": errors(400, BODY_400, "a field is missing, unknown, malformed or `null`.", examples(&[
                ("bad_password", error_example("Too short", "invalid_field", "password: must be 8 to 12 letters and digits", Some("password"))),
            ])),
            "404": errors(404, &["unknown_customer"], "no such customer.", examples(&[
                ("no_customer", error_example("No such customer", "unknown_customer", "customer 999999 does not exist", None)),
            ])),
            "409": errors(409, &["invalid_state"], "the member ID is taken.", examples(&[
                ("exists", error_example("Taken", "invalid_state", "member alice001 exists", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

pub fn create_session() -> Value {
    let body = |password: &str| json!({ "member_id": "alice001", "password": password });
    json!({ "post": {
        "operationId": "createWalletSession",
        "tags": ["wallet"],
        "summary": "Open a wallet session with the member's ID and password (b4)",
        "description": "Checked off the shard's thread. A wrong password, or an unknown ID, is `login_failed`; the fifth failure in a row locks the member (`member_locked`), and a locked member is refused whatever the password. A session lasts `payments.session_ttl_ms` and is kept in memory: a restart ends it.",
        "requestBody": json_body("WalletLogin", examples(&[
            ("wrong", example("A wrong password", body("wrongpass1"))),
            ("opened", example("alice001 logs in", body("Secret123"))),
            ("no_password", example("No password", json!({ "member_id": "alice001" }))),
        ])),
        "responses": {
            "201": created("The session", "WalletSession", examples(&[("opened", example("A session of 30 minutes", json!({ "session": EXAMPLE_SESSION, "member_id": "alice001", "expires_at_ms": 1795264200000u64 })))])),
            "400": errors(400, BODY_400, "a field is missing, unknown, malformed or `null`.", examples(&[
                ("no_password", error_example("No password", "missing_field", "password is required", Some("password"))),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "422": errors(422, &["login_failed", "member_locked"], "the ID or password is wrong, or the member is locked.", examples(&[
                ("wrong", error_example("Wrong", "login_failed", "the member ID or password is wrong", None)),
            ])),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

pub fn create_checkout() -> Value {
    let body = |session: &str, password: &str| json!({ "session": session, "merchant_id": "m2", "amount_krw": 1000, "card_password": password });
    json!({ "post": {
        "operationId": "createWalletCheckout",
        "tags": ["wallet"],
        "summary": "Confirm a checkout with the card's password (b5, D-5.17)",
        "description": "In a session, the member confirms a purchase at a merchant with the password of the chosen card (`card`, or the first issued): steps 2, 2a and 3 of §6.2 on that card, a wrong password counted and the fifth locking it. The checkout binds the merchant, the amount and the card; the merchant pays it once with `POST /v1/payments` and `instrument: {type: \"wallet\", checkout_id}` within `payments.checkout_ttl_ms` (10 minutes), and learns nothing of the card or the customer. The funds are judged then (the full-amount rule). In memory: a restart ends it.",
        "requestBody": json_body("WalletCheckout", examples(&[
            ("confirmed", example("1,000 won at m2", body(EXAMPLE_SESSION, "4827"))),
            ("wrong_password", example("A wrong card password", body(EXAMPLE_SESSION, "0000"))),
            ("no_session", example("A session that does not exist", body("ws_ffffffffffffffffffffffffffffffff", "4827"))),
            ("no_amount", example("No amount", json!({ "session": EXAMPLE_SESSION, "merchant_id": "m2", "card_password": "4827" }))),
        ])),
        "responses": {
            "201": created("The checkout", "WalletCheckoutAnswer", examples(&[("confirmed", example("Payable for 10 minutes", json!({ "checkout_id": "co_00000000000000000000000000000002", "merchant_id": "m2", "amount_krw": 1000, "card": "pc_1001_1", "expires_at_ms": 1795263000000u64 })))])),
            "400": errors(400, BODY_400, "a field is missing, unknown, malformed or `null`.", examples(&[
                ("no_amount", error_example("No amount", "missing_field", "amount_krw is required", Some("amount_krw"))),
            ])),
            "404": errors(404, &["not_found"], "no such session (or it expired), merchant or card.", examples(&[
                ("no_session", error_example("No session", "not_found", "no such session, or it expired: log in again", None)),
            ])),
            "409": errors(409, &["invalid_state"], "the card may not pay (suspended, closed, expired).", examples(&[
                ("suspended", error_example("A suspended card", "invalid_state", "the checkout is refused: SUSPENDED (card pc_1001_1)", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "422": errors(422, &["wrong_secret", "locked", "owner_not_tradable"], "the card password is wrong, the card is locked, or its owner may not trade.", examples(&[
                ("wrong_password", error_example("Wrong", "wrong_secret", "the checkout is refused: WRONG_SECRET (card pc_1001_1)", None)),
            ])),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

pub fn schemas() -> Value {
    json!({
        "MemberId": { "type": "string", "pattern": "^[a-z0-9]{8,12}$" },
        "MemberApplication": {
            "type": "object", "additionalProperties": false,
            "required": ["member_id", "password", "customer"],
            "properties": {
                "member_id": schema("MemberId"),
                "password": { "type": "string", "pattern": "^[A-Za-z0-9]{8,12}$", "description": "Not case-sensitive; kept only as an argon2id hash." },
                "customer": { "type": "integer", "minimum": 1 }
            }
        },
        "Member": {
            "type": "object", "additionalProperties": false,
            "required": ["member_id", "customer", "status"],
            "properties": {
                "member_id": schema("MemberId"),
                "customer": { "type": "string", "pattern": "^[1-9][0-9]*$" },
                "status": { "enum": ["ACTIVE", "LOCKED"] }
            }
        },
        "WalletLogin": {
            "type": "object", "additionalProperties": false,
            "required": ["member_id", "password"],
            "properties": { "member_id": { "type": "string", "pattern": "^[A-Za-z0-9]{8,12}$" }, "password": { "type": "string" } }
        },
        "WalletSession": {
            "type": "object", "additionalProperties": false,
            "required": ["session", "member_id", "expires_at_ms"],
            "properties": {
                "session": { "type": "string", "pattern": "^ws_[0-9a-f]{32}$" },
                "member_id": schema("MemberId"),
                "expires_at_ms": { "type": "integer", "minimum": 0 }
            }
        },
        "WalletCheckout": {
            "type": "object", "additionalProperties": false,
            "required": ["session", "merchant_id", "amount_krw", "card_password"],
            "properties": {
                "session": { "type": "string" },
                "merchant_id": schema("MerchantId"),
                "amount_krw": { "type": "integer", "minimum": 1 },
                "card": schema("CardInstrumentId"),
                "card_password": { "type": "string", "description": "The chosen card's password; never stored or logged." }
            }
        },
        "WalletCheckoutAnswer": {
            "type": "object", "additionalProperties": false,
            "required": ["checkout_id", "merchant_id", "amount_krw", "card", "expires_at_ms"],
            "properties": {
                "checkout_id": { "type": "string", "pattern": "^co_[0-9a-f]{32}$" },
                "merchant_id": schema("MerchantId"),
                "amount_krw": { "type": "integer", "minimum": 1 },
                "card": schema("CardInstrumentId"),
                "expires_at_ms": { "type": "integer", "minimum": 0 }
            }
        }
    })
}
