//! The operation and schemas of `GET /v1/merchants/{merchant_id}/payouts`
//! (`server/payouts.rs`), in the document's own helpers.

use serde_json::{json, Value};

use super::{error_example, errors, example, examples, ok, schema, storage_failed, unavailable};
use crate::server::openapi::EXAMPLE_DATE;

pub fn list() -> Value {
    let merchant = |examples: Value| {
        json!({
            "name": "merchant_id", "in": "path", "required": true,
            "schema": schema("MerchantId"), "examples": examples
        })
    };
    let paid = json!({ "payouts": [ {
        "payout_id": "PO-1-20261122-0", "merchant_id": "m2", "shard": 0, "outcome": "paid_out",
        "request": {
            "customer": "9223372036854775807", "request_no": "PO-1-20261122-0", "request_date": "2026-11-21",
            "kind": "payout", "currency": "KRW", "amount": "115000",
            "payee": { "bank": "004", "account": "110-222-333", "name": "m2" },
            "path": null, "deficit": null, "accepted_at_ms": 1795276800000u64, "answer": null, "outcome": "paid_out",
            "entries": [
                { "id": "0000000000000009", "log": "securities_firm_request_log", "step": "remit_deduction", "state": "SUCCESS", "attempt": 1, "failures": 0, "amount": "115000", "debit": "merchant[1]", "credit": "fin_parent", "requested_at_ms": 1795276800000u64, "updated_at_ms": 1795276800004u64 },
                { "id": "000000000000000a", "log": "bank_firm_request_log", "step": "remit_deposit", "state": "SUCCESS", "attempt": 1, "failures": 0, "amount": "115000", "debit": "deposit_firm[004]", "credit": "designated[004]", "requested_at_ms": 1795276800004u64, "updated_at_ms": 1795276800009u64 }
            ]
        },
        "statement": {
            "period_from_ms": 1795186800000u64, "period_to_ms": 1795273200000u64,
            "approvals": 1, "approved_krw": 115000, "refunded_krw": 0, "net_krw": 115000,
            "reserve_kept_krw": 0, "paid_krw": "115000", "carried_krw": 0,
            "lines": [ { "payment_id": "pay_0001000000000001", "merchant_request_no": "R-6", "amount_krw": 115000, "refunded_krw": 0, "state": "APPROVED", "approved_at_ms": 1795240800000u64 } ],
            "lines_left_out": 0
        }
    } ] });
    json!({ "get": {
        "operationId": "getMerchantPayouts",
        "tags": ["merchants"],
        "summary": "A merchant's payouts of a KST day, each with its settlement statement",
        "description": "The payout supervisor pays each merchant's slice of `merchant[m]` in each shard: daily (D+1, the default) from 00:00 KST, what the slice holds free less the current day's payments and the slice's share of `payout_reserve_krw`; realtime at each pass. Each payout is a request of the house with X1 `merchant[m]` → `fin_parent` (securities firm) and X2 `deposit_firm[bank]` → the merchant's payout account (bank firm); a deposit that fails for good is recovered into `merchant[m]` and paid by the next payout. The statement lists the period's payments in that shard (the KST day before a daily payout), what they left the merchant, the reserve kept, and what the payout carried beyond the period's net.",
        "parameters": [
            merchant(examples(&[
                ("paid", example("Merchant m2", json!("m2"))),
                ("none", example("Merchant m2", json!("m2"))),
                ("unknown", example("No such merchant", json!("m9"))),
                ("bad_date", example("Merchant m2", json!("m2"))),
            ])),
            {
                "name": "date", "in": "query", "required": true,
                "description": "The KST day the payouts were made.",
                "schema": schema("RequestDate"),
                "examples": {
                    "paid": { "summary": "The day after the payments", "value": "2026-11-22" },
                    "none": { "summary": "A day with no payout", "value": EXAMPLE_DATE },
                    "unknown": { "summary": "Any day", "value": EXAMPLE_DATE },
                    "bad_date": { "summary": "Not a calendar day", "value": "2026-02-30" }
                }
            }
        ],
        "responses": {
            "200": ok("The payouts of the day, by shard, oldest first", "PayoutList", examples(&[
                ("paid", example("m2 paid its day's 115,000 won", paid)),
                ("none", example("Nothing paid that day", json!({ "payouts": [] }))),
            ])),
            "400": errors(400, &["invalid_field", "missing_field", "unknown_field"], "a bad or missing date, or a query parameter that is not `date`.", examples(&[
                ("bad_date", error_example("February 30", "invalid_field", "date: must be a calendar date written YYYY-MM-DD, got \"2026-02-30\"", Some("date"))),
            ])),
            "404": errors(404, &["not_found"], "no merchant has this id.", examples(&[
                ("unknown", error_example("An unknown merchant", "not_found", "no merchant m9", None)),
            ])),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

pub fn schemas() -> Value {
    json!({
        "PayoutList": {
            "type": "object", "additionalProperties": false, "required": ["payouts"],
            "properties": { "payouts": { "type": "array", "items": schema("Payout") } }
        },
        "Payout": {
            "type": "object", "additionalProperties": false,
            "required": ["payout_id", "merchant_id", "shard", "outcome", "request", "statement"],
            "properties": {
                "payout_id": schema("RequestNo"),
                "merchant_id": schema("MerchantId"),
                "shard": { "type": "integer", "minimum": 0 },
                "outcome": { "enum": ["pending", "paid_out", "recovered", "nothing_moved"] },
                "request": schema("Request"),
                "statement": schema("PayoutStatement")
            }
        },
        "PayoutStatement": {
            "type": "object", "additionalProperties": false,
            "required": ["period_from_ms", "period_to_ms", "approvals", "approved_krw", "refunded_krw", "net_krw", "reserve_kept_krw", "paid_krw", "carried_krw", "lines", "lines_left_out"],
            "properties": {
                "period_from_ms": { "type": "integer", "minimum": 0 },
                "period_to_ms": { "type": "integer", "minimum": 0 },
                "approvals": { "type": "integer", "minimum": 0 },
                "approved_krw": { "type": "integer", "minimum": 0 },
                "refunded_krw": { "type": "integer", "minimum": 0 },
                "net_krw": { "type": "integer", "minimum": 0 },
                "reserve_kept_krw": { "type": "integer", "minimum": 0 },
                "paid_krw": { "type": "string", "pattern": "^[0-9]+$" },
                "carried_krw": { "type": "integer", "description": "Paid beyond the period's net: money held back before, less refunds of earlier payments (negative when less)." },
                "lines": { "type": "array", "items": {
                    "type": "object", "additionalProperties": false,
                    "required": ["payment_id", "merchant_request_no", "amount_krw", "refunded_krw", "state", "approved_at_ms"],
                    "properties": {
                        "payment_id": { "type": "string", "pattern": "^pay_[0-9a-f]{16}$" },
                        "merchant_request_no": schema("RequestNo"),
                        "amount_krw": { "type": "integer", "minimum": 1 },
                        "refunded_krw": { "type": "integer", "minimum": 0 },
                        "state": { "enum": ["APPROVED", "CANCELLED", "PARTIALLY_REFUNDED", "REFUNDED"] },
                        "approved_at_ms": { "type": "integer", "minimum": 1 }
                    }
                }},
                "lines_left_out": { "type": "integer", "minimum": 0, "description": "Payments in the totals not listed (past `payments.statement_lines_max`)." }
            }
        }
    })
}
