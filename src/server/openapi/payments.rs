//! The operations and schemas of `/v1/payments` (`server/payments.rs`), in the document's
//! own helpers.

use serde_json::{json, Value};

use super::{
    body_too_large, error_example, errors, example, examples, json_body, ok, schema,
    storage_failed, unavailable, unsupported_media_type, BODY_400, EXAMPLE_CARD_NUMBER,
    EXAMPLE_PAYMENT_ID, EXAMPLE_REFUNDED_ID,
};

fn payment_body(no: &str, amount: u64, password: &str) -> Value {
    json!({
        "merchant_id": "m2", "merchant_request_no": no, "amount_krw": amount,
        "category": "books",
        "instrument": { "type": "prepaid_card", "number": EXAMPLE_CARD_NUMBER, "password": password }
    })
}

fn answer(no: &str, amount: u64, declined: Option<&str>) -> Value {
    let mut a = json!({
        "payment_id": EXAMPLE_PAYMENT_ID, "status": "APPROVED", "state": "APPROVED",
        "approval_no": "00000001", "merchant_id": "m2", "merchant_request_no": no,
        "amount_krw": amount,
        "legs": [{ "type": "prepaid_card", "amount_krw": amount, "approval_no": "00000001", "rail": "securities_firm" }],
        "refunded_krw": 0
    });
    if let Some(code) = declined {
        a["status"] = json!("DECLINED");
        a["state"] = json!("DECLINED");
        a["decline_code"] = json!(code);
        a.as_object_mut().unwrap().remove("approval_no");
        a["legs"][0].as_object_mut().unwrap().remove("approval_no");
    }
    a
}

pub fn path() -> Value {
    let mut pay = pay();
    pay["get"] = lookup()["get"].clone();
    pay
}

fn pay() -> Value {
    let mut other_amount = payment_body("R-20261121-0001", 10_000, "4827");
    other_amount["amount_krw"] = json!(9_999);
    let mut temp = payment_body("R-20261121-0009", 1_000, "4827");
    temp["instrument"] = json!({ "type": "temp", "token_no": "1234", "usage_auth": "0000" });
    json!({ "post": {
        "operationId": "createPayment",
        "tags": ["payments"],
        "summary": "A merchant's payment (INSTRUMENTS.md §6.4)",
        "description": "Runs the one fixed order of checks (§6.2) and answers APPROVED, or DECLINED with the code of the first check that failed (`decline_code`); a decline moves nothing. A direct prepaid card (D-5.18): the card number and the password the customer typed, the full amount from the card's pocket (D-5.8). A sale that times out is DECLINED `TIMEOUT` and reversed if a confirm finds it done (D-0.2). Idempotent by (`merchant_id`, `merchant_request_no`): the same request again answers what is on record, declines included; other fields under the number are refused 409 `idempotency_conflict`. The password is never stored, logged or fingerprinted.",
        "requestBody": json_body("Payment", examples(&[
            ("approved", example("10,000 won by card 1", payment_body("R-20261121-0001", 10_000, "4827"))),
            ("approved_2", example("5,000 won by card 1", payment_body("R-20261121-0003", 5_000, "4827"))),
            ("again", example("The same request again", payment_body("R-20261121-0001", 10_000, "4827"))),
            ("short", example("More than the pocket holds", payment_body("R-20261121-0002", 1_000_000, "4827"))),
            ("conflict", example("The number again with another amount", other_amount)),
            ("temp", example("An instrument type not built yet", temp)),
        ])),
        "responses": {
            "200": ok("APPROVED or DECLINED", "PaymentAnswer", examples(&[
                ("approved", example("Approved", answer("R-20261121-0001", 10_000, None))),
                ("approved_2", example("Approved", answer("R-20261121-0003", 5_000, None))),
                ("again", example("As on record", answer("R-20261121-0001", 10_000, None))),
                ("short", example("Declined: the full-amount rule", answer("R-20261121-0002", 1_000_000, Some("INSUFFICIENT_FUNDS")))),
            ])),
            "400": errors(400, BODY_400, "a field is missing, unknown, malformed or `null`; an instrument type not built yet.", examples(&[
                ("temp", error_example("temp", "invalid_field", "instrument: type \"temp\" is not built yet; prepaid_card, division and wallet are", Some("instrument"))),
            ])),
            "404": errors(404, &["not_found"], "no merchant has this id.", examples(&[
                ("unknown_merchant", error_example("m9", "not_found", "no merchant m9", None)),
            ])),
            "409": errors(409, &["idempotency_conflict"], "the number is on record with other fields.", examples(&[
                ("conflict", error_example("Another amount", "idempotency_conflict", "merchant_request_no R-20261121-0001 is on record with other fields", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

fn lookup() -> Value {
    // `merchant_id` may be left out by a merchant's key, which names its own merchant.
    let param = |name: &str, schema_name: &str, examples_: Value| json!({ "name": name, "in": "query", "required": name != "merchant_id", "schema": schema(schema_name), "examples": examples_ });
    json!({ "get": {
        "operationId": "getPaymentByRequest",
        "tags": ["payments"],
        "summary": "A merchant's payment by its own request number",
        "description": "The lookup after the merchant's client timed out (D-0.2): the payment as on record; 404 `not_found` if no such request arrived.",
        "parameters": [
            param("merchant_id", "MerchantId", examples(&[
                ("found", example("m2", json!("m2"))),
                ("unknown", example("m2", json!("m2"))),
            ])),
            param("merchant_request_no", "RequestNo", examples(&[
                ("found", example("R-20261121-0001", json!("R-20261121-0001"))),
                ("unknown", example("A number never sent", json!("R-20261121-0099"))),
            ])),
        ],
        "responses": {
            "200": ok("The payment", "PaymentAnswer", examples(&[
                ("found", example("Approved", answer("R-20261121-0001", 10_000, None))),
            ])),
            "400": errors(400, &["invalid_field"], "a malformed merchant id or number.", examples(&[
                ("malformed", error_example("A space", "invalid_field", "merchant_request_no: must be letters, digits, '-' and '_', got \"R 1\"", Some("merchant_request_no"))),
            ])),
            "404": errors(404, &["not_found"], "no such request arrived.", examples(&[
                ("unknown", error_example("Never sent", "not_found", "merchant m2 sent no request R-20261121-0099", None)),
            ])),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

pub fn cancel() -> Value {
    let mut cancelled = answer("R-20261121-0001", 10_000, None);
    cancelled["state"] = json!("CANCELLED");
    cancelled["refunded_krw"] = json!(10_000);
    cancelled["cancel"] = json!({ "cancelled_at_ms": 1_795_245_300_000_u64 });
    json!({ "post": {
        "operationId": "cancelPayment",
        "tags": ["payments"],
        "summary": "Cancel a payment (§6.4): full, on its KST day, no refund yet",
        "description": "Pays the whole amount back to the pocket that paid (and to the payer's balance for what the pocket's cap cannot take, D-5.6), funded from the merchant's account in the payer's shard, as requests of the payer's that are retried until done. Answers the payment CANCELLED; asked again, the same. Refused `invalid_state` (not approved, or refunded), `cancel_window_closed` (a later KST day: use a refund), `refund_exceeds_merchant_balance`, with nothing moved. Another merchant's payment is `not_found`, so that ids do not leak.",
        "parameters": [{
            "name": "payment_id", "in": "path", "required": true,
            "schema": { "type": "string", "pattern": "^pay_[0-9a-f]{16}$" },
            "examples": examples(&[
                ("cancelled", example("The approved payment", json!(EXAMPLE_PAYMENT_ID))),
                ("again", example("The same", json!(EXAMPLE_PAYMENT_ID))),
                ("other_merchant", example("The same, asked by m3", json!(EXAMPLE_PAYMENT_ID))),
            ])
        }],
        "requestBody": json_body("PaymentCancel", examples(&[
            ("cancelled", example("m2 cancels", json!({ "merchant_id": "m2" }))),
            ("again", example("m2 cancels again", json!({ "merchant_id": "m2" }))),
            ("other_merchant", example("Another merchant", json!({ "merchant_id": "m3" }))),
        ])),
        "responses": {
            "200": ok("The payment, CANCELLED", "PaymentAnswer", examples(&[
                ("cancelled", example("Cancelled", cancelled.clone())),
                ("again", example("As on record", cancelled)),
            ])),
            "400": errors(400, BODY_400, "a field is missing, unknown, malformed or `null`.", examples(&[
                ("malformed", error_example("Not an id", "invalid_field", "payment_id: payment id \"p1\" is not pay_<16 hex digits>", Some("payment_id"))),
            ])),
            "404": errors(404, &["not_found"], "no such payment of this merchant.", examples(&[
                ("other_merchant", error_example("m3's view", "not_found", &format!("no payment {EXAMPLE_PAYMENT_ID}"), None)),
            ])),
            "409": errors(409, &["invalid_state"], "the payment is not approved, or has a refund.", examples(&[
                ("declined", error_example("Declined", "invalid_state", "only an approved payment with no refund can be cancelled", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "422": errors(422, &["cancel_window_closed", "refund_exceeds_merchant_balance"], "a later KST day, or the merchant cannot fund it.", examples(&[
                ("next_day", error_example("The next day", "cancel_window_closed", "a cancel is on the day of the payment (KST); use a refund", None)),
            ])),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

pub fn refund() -> Value {
    let body = |no: &str, amount: u64| json!({ "merchant_id": "m2", "refund_request_no": no, "amount_krw": amount });
    let mut partly = answer("R-20261121-0003", 5_000, None);
    partly["payment_id"] = json!(EXAMPLE_REFUNDED_ID);
    partly["state"] = json!("PARTIALLY_REFUNDED");
    partly["refunded_krw"] = json!(2_000);
    partly["refunds"] = json!([{ "refund_request_no": "RF-20261121-0001", "amount_krw": 2_000, "at_ms": 1_795_245_300_000_u64 }]);
    json!({ "post": {
        "operationId": "createRefund",
        "tags": ["payments"],
        "summary": "Refund part or all of a payment (§6.4), at any time after approval",
        "description": "Pays `amount_krw` back as a cancel does (the pocket what its cap allows, the payer's balance the rest), funded from the merchant's account in the payer's shard. Idempotent by (`merchant_id`, `refund_request_no`): the same again answers the same; another amount under it is 409 `idempotency_conflict`. Refused `refund_exceeds_payment` beyond what is left, `refund_exceeds_merchant_balance` when the merchant cannot fund it, `invalid_state` for a payment not approved, cancelled or fully refunded; nothing moves then.",
        "parameters": [{
            "name": "payment_id", "in": "path", "required": true,
            "schema": { "type": "string", "pattern": "^pay_[0-9a-f]{16}$" },
            "examples": examples(&[
                ("refunded", example("The second approved payment", json!(EXAMPLE_REFUNDED_ID))),
                ("again", example("The same", json!(EXAMPLE_REFUNDED_ID))),
                ("too_much", example("The same", json!(EXAMPLE_REFUNDED_ID))),
            ])
        }],
        "requestBody": json_body("Refund", examples(&[
            ("refunded", example("2,000 of its 5,000 won", body("RF-20261121-0001", 2_000))),
            ("again", example("The same refund again", body("RF-20261121-0001", 2_000))),
            ("too_much", example("More than is left", body("RF-20261121-0002", 3_001))),
        ])),
        "responses": {
            "200": ok("The payment with the refund on record", "PaymentAnswer", examples(&[
                ("refunded", example("Partially refunded", partly.clone())),
                ("again", example("As on record", partly)),
            ])),
            "400": errors(400, BODY_400, "a field is missing, unknown, malformed or `null`.", examples(&[
                ("malformed", error_example("A space", "invalid_field", "refund_request_no: must be letters, digits, '-' and '_', got \"RF 1\"", Some("refund_request_no"))),
            ])),
            "404": errors(404, &["not_found"], "no such payment of this merchant.", examples(&[
                ("unknown", error_example("Unknown", "not_found", "no payment pay_00000000000000ff", None)),
            ])),
            "409": errors(409, &["idempotency_conflict", "invalid_state"], "the refund number is on record with another amount; the payment cannot be refunded.", examples(&[
                ("conflict", error_example("Another amount", "idempotency_conflict", "refund_request_no RF-20261121-0001 is on record with another amount", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "422": errors(422, &["refund_exceeds_payment", "refund_exceeds_merchant_balance"], "more than is left of the payment, or than the merchant holds.", examples(&[
                ("too_much", error_example("3,001 of 3,000 left", "refund_exceeds_payment", &format!("{EXAMPLE_REFUNDED_ID}: more than is left to refund of the payment"), None)),
            ])),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

pub fn cancel_by_request() -> Value {
    let body = |no: &str| json!({ "merchant_id": "m2", "merchant_request_no": no });
    json!({ "post": {
        "operationId": "cancelPaymentByRequest",
        "tags": ["payments"],
        "summary": "The network cancel by the merchant's own request number (§6.4)",
        "description": "Accepted whatever the engine answered, and idempotent. An approved payment is cancelled as by `/cancel` (CANCELLED); a declined one answers NOT_APPROVED (the engine's own reversal of any leg goes on). A number the engine has not seen is recorded as cancelled (NOT_APPROVED), and a payment arriving under it later is DECLINED `CANCELLED_BY_MERCHANT`.",
        "requestBody": json_body("PaymentCancelByRequest", examples(&[
            ("declined", example("The declined payment's number", body("R-20261121-0002"))),
            ("never_sent", example("A number that never arrived", body("R-20261121-0077"))),
        ])),
        "responses": {
            "200": ok("CANCELLED or NOT_APPROVED", "CancelByRequest", examples(&[
                ("declined", example("Declined: not approved", json!({ "status": "NOT_APPROVED", "payment_id": "pay_0001000000000002" }))),
                ("never_sent", example("Never arrived: on record as cancelled", json!({ "status": "NOT_APPROVED" }))),
            ])),
            "400": errors(400, BODY_400, "a field is missing, unknown, malformed or `null`.", examples(&[
                ("malformed", error_example("A space", "invalid_field", "merchant_request_no: must be letters, digits, '-' and '_', got \"R 1\"", Some("merchant_request_no"))),
            ])),
            "404": errors(404, &["not_found"], "no merchant has this id.", examples(&[
                ("unknown_merchant", error_example("m9", "not_found", "no merchant m9", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "422": errors(422, &["cancel_window_closed", "refund_exceeds_merchant_balance"], "an approved payment that can no longer be cancelled.", examples(&[
                ("next_day", error_example("The next day", "cancel_window_closed", "a cancel is on the day of the payment (KST); use a refund", None)),
            ])),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

/// `merchant_id` in a merchant's request: required of the operator's key and with
/// authentication off; a merchant's key names its merchant itself (docs/auth.md).
fn merchant_id_schema() -> Value {
    json!({
        "allOf": [schema("MerchantId")],
        "description": "The merchant: required unless the request is signed with a merchant's key, which names its own merchant (naming another is 403 in a payment, 404 elsewhere)."
    })
}

/// The schemas of the payment operations.
pub fn schemas() -> Value {
    json!({
        "Payment": {
            "type": "object", "additionalProperties": false,
            "required": ["merchant_request_no", "amount_krw", "category", "instrument"],
            "properties": {
                "merchant_id": merchant_id_schema(),
                "terminal_id": schema("TerminalId"),
                "merchant_request_no": schema("RequestNo"),
                "order_no": schema("RequestNo"),
                "amount_krw": { "type": "integer", "minimum": 1, "maximum": 2_000_000_000_000u64 },
                "category": schema("Tag"),
                "region": schema("Tag"),
                "instrument": { "oneOf": [
                    {
                        "type": "object", "additionalProperties": false,
                        "required": ["type", "number", "password"],
                        "properties": {
                            "type": { "const": "prepaid_card", "description": "A direct card payment (D-5.18). The types temp and card_session come with their seeds." },
                            "number": { "type": "string", "pattern": "^[0-9 -]{16,19}$", "description": "The card's 16 digits, as typed (spaces and hyphens allowed), with a valid Luhn digit." },
                            "password": { "type": "string", "description": "The card password the customer typed; never stored, logged or fingerprinted." }
                        }
                    },
                    {
                        "type": "object", "additionalProperties": false,
                        "required": ["type", "number", "pin"],
                        "properties": {
                            "type": { "const": "division", "description": "A division account of seed 001(a) (INSTRUMENTS.md §1.3 F2): the master's balance pays within the slave's budget; with `auto_top_up` a short balance is charged from the master's linked account first (`TU-<payment id>`)." },
                            "number": { "type": "string", "pattern": "^DA-[0-9]{13}$", "description": "The division number as the slave typed it." },
                            "pin": { "type": "string", "description": "The slave's 6-digit PIN; never stored, logged or fingerprinted." }
                        }
                    },
                    {
                        "type": "object", "additionalProperties": false,
                        "required": ["type", "checkout_id"],
                        "properties": {
                            "type": { "const": "wallet", "description": "Flow B (D-5.17): a checkout the member confirmed with the card's password (`POST /v1/wallet/checkouts`), paid once, by the merchant it names, for its amount. The merchant learns nothing of the card or the customer." },
                            "checkout_id": { "type": "string", "pattern": "^co_[0-9a-f]{32}$" }
                        }
                    }
                ] }
            }
        },
        "Refund": {
            "type": "object", "additionalProperties": false,
            "required": ["refund_request_no", "amount_krw"],
            "properties": {
                "merchant_id": merchant_id_schema(),
                "refund_request_no": schema("RequestNo"),
                "amount_krw": { "type": "integer", "minimum": 1 }
            }
        },
        "PaymentCancel": {
            "type": "object", "additionalProperties": false,
            "properties": { "merchant_id": merchant_id_schema() }
        },
        "PaymentCancelByRequest": {
            "type": "object", "additionalProperties": false,
            "required": ["merchant_request_no"],
            "properties": { "merchant_id": merchant_id_schema(), "merchant_request_no": schema("RequestNo") }
        },
        "CancelByRequest": {
            "type": "object", "additionalProperties": false, "required": ["status"],
            "properties": {
                "status": { "enum": ["CANCELLED", "NOT_APPROVED"] },
                "payment_id": { "type": "string", "pattern": "^pay_[0-9a-f]{16}$" }
            }
        },
        "PaymentAnswer": {
            "type": "object", "additionalProperties": false,
            "required": ["payment_id", "status", "state", "merchant_id", "merchant_request_no", "amount_krw", "legs"],
            "properties": {
                "payment_id": { "type": "string", "pattern": "^pay_[0-9a-f]{16}$" },
                "status": { "enum": ["APPROVED", "DECLINED"], "description": "What the merchant was told." },
                "state": { "enum": ["REQUESTED", "PENDING_CONFIRM", "APPROVED", "DECLINED", "CANCELLED", "PARTIALLY_REFUNDED", "REFUNDED"], "description": "Where `payment_log` stands (§6.5)." },
                "decline_code": { "enum": omnibus_core::payments::DeclineCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>() },
                "approval_no": { "type": "string", "pattern": "^[0-9]{8}$" },
                "merchant_id": schema("MerchantId"),
                "merchant_request_no": schema("RequestNo"),
                "order_no": schema("RequestNo"),
                "amount_krw": { "type": "integer", "minimum": 0, "description": "0 only for a number the merchant cancelled before it arrived." },
                "legs": { "type": "array", "items": {
                    "type": "object", "additionalProperties": false,
                    "required": ["type", "amount_krw", "rail"],
                    "properties": {
                        "type": { "enum": ["prepaid_card", "division"] },
                        "amount_krw": { "type": "integer", "minimum": 1 },
                        "approval_no": { "type": "string", "pattern": "^[0-9]{8}$" },
                        "rail": { "const": "securities_firm" }
                    }
                }},
                "payout_id": { "type": "string", "pattern": "^PO-", "description": "The payout that settled the payment (§6.5: settlement is an attribute, not a state): the first payout of the merchant's slice in the payer's shard that paid out once the payment's money was payable (a daily merchant's from 00:00 KST the next day, a realtime merchant's after the approval). Absent until a payout has, and once the payment was payable longer ago than the retention window (`actors.idempotency_retention_days`), whose payouts are no longer on record." },
                "settled_at_ms": { "type": "integer", "minimum": 1, "description": "When that payout was made (Unix ms, the engine's clock). Absent with `payout_id`." },
                "refunded_krw": { "type": "integer", "minimum": 0, "description": "What its refunds and cancel have taken back so far." },
                "refunds": { "type": "array", "description": "Its refunds (§6.5), oldest first; absent when none. Each carries the payout it netted into, found as the payment's is, from the refund's time: the first payout that paid out after it (realtime), or the payout of the next day (daily), none if that day paid nothing.", "items": {
                    "type": "object", "additionalProperties": false,
                    "required": ["refund_request_no", "amount_krw", "at_ms"],
                    "properties": {
                        "refund_request_no": schema("RequestNo"),
                        "amount_krw": { "type": "integer", "minimum": 1 },
                        "at_ms": { "type": "integer", "minimum": 1, "description": "When the refund's money went back: the earliest acceptance of its legs (Unix ms, the engine's clock)." },
                        "payout_id": { "type": "string", "pattern": "^PO-", "description": "The payout the refund netted into; absent until one has (or past the retention window)." },
                        "settled_at_ms": { "type": "integer", "minimum": 1 }
                    }
                }},
                "cancel": {
                    "type": "object", "additionalProperties": false,
                    "description": "A cancelled payment's cancel and the payout it netted into (§6.5); absent for a payment not cancelled, and when the payouts could not be looked up or its legs are no longer on record. A cancel before any payout carried the sale netted with it: neither has a `payout_id` (a daily merchant's same-day cancel).",
                    "required": ["cancelled_at_ms"],
                    "properties": {
                        "cancelled_at_ms": { "type": "integer", "minimum": 1, "description": "When its money went back (its first leg's acceptance, Unix ms, the engine's clock)." },
                        "payout_id": { "type": "string", "pattern": "^PO-" },
                        "settled_at_ms": { "type": "integer", "minimum": 1 }
                    }
                }
            }
        }
    })
}
