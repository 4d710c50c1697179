//! The OpenAPI 3 document served at `/openapi.json`, written by hand.
//!
//! Hand-written rather than derived: the request bodies are read field by field (see
//! `body.rs`), amounts accept a string or an integer, and the error codes are a closed
//! list; a derive macro would describe the Rust types, not this contract. The end-to-end
//! tests check that every route the server answers is in this document and that every
//! `$ref` in it resolves.

use actix_web::HttpResponse;
use serde_json::{json, Value};

/// Every error code the API answers, with its HTTP status.
pub const ERROR_CODES: &[(&str, u16)] = &[
    ("malformed_json", 400),
    ("malformed_body", 400),
    ("missing_field", 400),
    ("unknown_field", 400),
    ("invalid_field", 400),
    ("invalid_request", 400),
    ("idempotency_key_mismatch", 400),
    ("not_found", 404),
    ("unknown_customer", 404),
    ("unknown_request", 404),
    ("method_not_allowed", 405),
    ("customer_exists", 409),
    ("request_no_reused", 409),
    ("body_too_large", 413),
    ("unsupported_media_type", 415),
    ("linked_bank_not_served", 422),
    ("insufficient_funds", 422),
    ("parent_below_floor", 422),
    ("refused", 422),
    ("not_tradable", 422),
    ("subscription_invalid", 422),
    ("signature_required", 422),
    ("not_over_limit", 422),
    ("no_signing_key", 422),
    ("no_signing_text", 422),
    ("unknown_certificate", 422),
    ("signing_text_expired", 422),
    ("signing_text_mismatch", 422),
    ("signature_invalid", 422),
    ("key_not_valid", 422),
    ("storage_failed", 500),
    ("metrics_failed", 500),
    ("overloaded", 503),
    ("shutting_down", 503),
    ("authentication_unavailable", 503),
    ("too_many_event_streams", 503),
];

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn ok(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
    })
}

fn json_body(schema: &str) -> Value {
    json!({
        "required": true,
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
    })
}

fn idempotency_key() -> Value {
    json!({
        "name": "Idempotency-Key",
        "in": "header",
        "required": false,
        "description": "The request number, when the body has no `request_no`. If both are given they must be equal (else 400 `idempotency_key_mismatch`).",
        "schema": { "$ref": "#/components/schemas/RequestNo" }
    })
}

fn unavailable() -> Value {
    json!({
        "description": "`overloaded`, `shutting_down` or `authentication_unavailable`: nothing changed; retry after the `Retry-After` seconds.",
        "headers": { "Retry-After": { "schema": { "type": "integer" } } },
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

/// The document.
pub fn document() -> Value {
    let code_table: String = ERROR_CODES
        .iter()
        .map(|(c, s)| format!("`{c}` ({s})"))
        .collect::<Vec<_>>()
        .join(", ");

    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "omnibus",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("The omnibus clearing engine over HTTP/JSON. Errors are `{{\"error\": {{\"code\", \"message\", \"field\"?}}}}` with a stable code: {code_table}. A bad request changes nothing.")
        },
        "paths": paths(),
        "components": { "schemas": schemas() }
    })
}

/// The operations, by path.
fn paths() -> Value {
    json!({
        "/health": { "get": {
            "summary": "Liveness: 200 while serving, 503 while shutting down",
            "responses": { "200": ok("Serving", "Health"), "503": unavailable() }
        }},
        "/metrics": { "get": {
            "summary": "Prometheus metrics (text exposition format 0.0.4)",
            "responses": {
                "200": { "description": "Metrics", "content": { "text/plain": { "schema": { "type": "string" } } } },
                "503": unavailable()
            }
        }},
        "/openapi.json": { "get": {
            "summary": "This document",
            "responses": { "200": { "description": "OpenAPI 3 document", "content": { "application/json": { "schema": { "type": "object" } } } } }
        }},
        "/v1/customers": { "post": {
            "summary": "Open a customer financial company account",
            "description": "Registers the linked bank account charges are drawn from and, optionally, the signature key (certificate serial and ed25519 public key) for remittances over the usage limit. Retrying an identical opening answers 200 with the customer.",
            "requestBody": json_body("CustomerOpen"),
            "responses": {
                "201": ok("Opened", "Customer"),
                "200": ok("Already opened with the same linked account and certificate (an idempotent retry)", "Customer"),
                "400": error_response("`malformed_json`, `missing_field`, `unknown_field`, `invalid_field`"),
                "409": error_response("`customer_exists`: the customer exists with another linked account or certificate"),
                "413": error_response("`body_too_large`"),
                "415": error_response("`unsupported_media_type`"),
                "422": error_response("`linked_bank_not_served`"),
                "503": unavailable()
            }
        }},
        "/v1/customers/{id}": { "get": {
            "summary": "A customer with its balance",
            "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[0-9]+$" } } ],
            "responses": {
                "200": ok("The customer", "Customer"),
                "400": error_response("`invalid_field`: not a customer number"),
                "404": error_response("`unknown_customer`"),
                "503": unavailable()
            }
        }},
        "/v1/charges": { "post": {
            "summary": "Charge: draw an amount from the customer's linked account into the customer's account",
            "description": "Idempotent by request number: resubmitting the same request answers the original outcome; the same number with other fields is 409 `request_no_reused`. The answer is 200 whether the customer is told `succeeded` or `failed`.",
            "parameters": [ idempotency_key() ],
            "requestBody": json_body("Charge"),
            "responses": {
                "200": ok("The outcome", "Outcome"),
                "400": error_response("`malformed_json`, `missing_field`, `unknown_field`, `invalid_field` (such as a negative or fractional amount), `idempotency_key_mismatch`"),
                "404": error_response("`unknown_customer`"),
                "409": error_response("`request_no_reused`"),
                "413": error_response("`body_too_large`"),
                "415": error_response("`unsupported_media_type`"),
                "422": error_response("`not_tradable`, `subscription_invalid`"),
                "503": unavailable()
            }
        }},
        "/v1/remittances": { "post": {
            "summary": "Remit to a payee account",
            "description": "Up to the usage limit: the first path (securities deduction, then bank deposit), without a signature. Over it: a signed payment instruction; first get the text with `POST /v1/remittances/signing-text`, sign it, and send `signature` and `cert_serial` with the same fields. A short balance is charged first (the deficit). Idempotent by request number, like charges.",
            "parameters": [ idempotency_key() ],
            "requestBody": json_body("Remittance"),
            "responses": {
                "200": ok("The outcome", "Outcome"),
                "400": error_response("`malformed_json`, `missing_field`, `unknown_field`, `invalid_field`, `idempotency_key_mismatch`"),
                "404": error_response("`unknown_customer`"),
                "409": error_response("`request_no_reused`"),
                "413": error_response("`body_too_large`"),
                "415": error_response("`unsupported_media_type`"),
                "422": error_response("`not_tradable`, `subscription_invalid`, `signature_required`, `not_over_limit`, `no_signing_key`, `no_signing_text`, `unknown_certificate`, `signing_text_expired`, `signing_text_mismatch`, `signature_invalid`, `key_not_valid`"),
                "503": unavailable()
            }
        }},
        "/v1/remittances/signing-text": { "post": {
            "summary": "The transaction original text to sign for a remittance over the usage limit",
            "description": "The text is good for one submission of this exact request until `expires_at_ms`.",
            "parameters": [ idempotency_key() ],
            "requestBody": json_body("SigningTextRequest"),
            "responses": {
                "200": ok("The text to sign", "SigningText"),
                "400": error_response("`malformed_json`, `missing_field`, `unknown_field`, `invalid_field`, `idempotency_key_mismatch`"),
                "404": error_response("`unknown_customer`"),
                "409": error_response("`request_no_reused`: the request number is taken"),
                "413": error_response("`body_too_large`"),
                "422": error_response("`not_tradable`, `subscription_invalid`, `no_signing_key`, `not_over_limit`"),
                "503": unavailable()
            }
        }},
        "/v1/requests/{request_no}": { "get": {
            "summary": "A request with all its request-log entries and their states",
            "parameters": [ { "name": "request_no", "in": "path", "required": true, "schema": { "$ref": "#/components/schemas/RequestNo" } } ],
            "responses": {
                "200": ok("The request", "Request"),
                "400": error_response("`invalid_field`: not a request number"),
                "404": error_response("`unknown_request`"),
                "503": unavailable()
            }
        }},
        "/v1/parents": { "get": {
            "summary": "Parent (omnibus) account balances, total and per shard slice",
            "responses": { "200": ok("The parent accounts", "Parents"), "503": unavailable() }
        }},
        "/v1/reconciliation": { "get": {
            "summary": "The reconciliation report: each request log matched against its rail's statement",
            "description": "An entry at SUCCESS must be on its rail's statement once, at its current attempt, with its amount; at FAIL it must not be; an earlier attempt must never be; UNKNOWN and REQUESTED entries are counted open; a statement line no entry accounts for is listed. Every mismatch is listed.",
            "parameters": [ { "name": "date", "in": "query", "required": false, "description": "Only requests of this request date (YYYY-MM-DD); every day when absent.", "schema": { "type": "string", "format": "date" } } ],
            "responses": {
                "200": ok("The report", "Reconciliation"),
                "400": error_response("`invalid_field` (date) or `unknown_field`"),
                "503": unavailable()
            }
        }},
        "/v1/events": { "get": {
            "summary": "Server-sent events of request state changes",
            "description": "`text/event-stream`. Events: `ready` (subscribed), `accepted`, `entry_changed`, `answered` (each published once durable; data is JSON), and `lagged` (`{\"missed\": n}`) when the client fell behind the engine's bounded buffer. Comment lines keep an idle stream alive. The stream ends when the server shuts down.",
            "responses": {
                "200": { "description": "The stream", "content": { "text/event-stream": { "schema": { "type": "string" } } } },
                "503": unavailable()
            }
        }}
    })
}

/// The request and answer shapes.
fn schemas() -> Value {
    let money = json!({
        "description": "An amount in whole won (KRW has no minor unit). Accepted as a string or an integer; answered as a string, exactly.",
        "oneOf": [
            { "type": "string", "pattern": "^[0-9]+(\\.0+)?$", "example": "50000" },
            { "type": "integer", "minimum": 1, "example": 50000 }
        ]
    });
    let customer_id = json!({
        "description": "The customer account number, a positive integer. Accepted as an integer or a string of digits; answered as a string.",
        "oneOf": [
            { "type": "integer", "minimum": 1, "example": 1001 },
            { "type": "string", "pattern": "^[0-9]+$", "example": "1001" }
        ]
    });
    let header_props = json!({
        "customer": { "$ref": "#/components/schemas/CustomerId" },
        "request_date": { "type": "string", "format": "date", "example": "2026-11-21", "description": "YYYY-MM-DD" },
        "request_no": { "$ref": "#/components/schemas/RequestNo" },
        "amount": { "$ref": "#/components/schemas/MoneyIn" }
    });
    let mut remit_props = header_props.clone();
    remit_props["payee_bank"] =
        json!({ "type": "string", "pattern": "^[0-9]{3}$", "example": "088" });
    remit_props["payee_account"] = json!({ "type": "string", "maxLength": 20, "pattern": "^[0-9][0-9-]*$", "example": "220-33-44444" });
    remit_props["payee_name"] = json!({ "type": "string", "maxLength": 48, "description": "At most 48 bytes of UTF-8, no control characters.", "example": "김철수" });
    let signing_props = remit_props.clone();
    remit_props["signature"] = json!({
        "type": "string", "pattern": "^[0-9a-fA-F]{128}$",
        "description": "Over the usage limit: the ed25519 signature (64 bytes, hexadecimal) of the exact `text` from `POST /v1/remittances/signing-text`."
    });
    remit_props["cert_serial"] = json!({
        "description": "Over the usage limit: the serial of the customer's registered certificate.",
        "oneOf": [ { "type": "integer", "minimum": 0 }, { "type": "string", "pattern": "^[0-9]+$" } ]
    });
    let remit_required = json!([
        "customer",
        "request_date",
        "amount",
        "payee_bank",
        "payee_account",
        "payee_name"
    ]);

    let codes: Vec<Value> = ERROR_CODES.iter().map(|(c, _)| json!(c)).collect();
    let mut schemas = json!({
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": { "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": { "type": "string", "enum": codes },
                    "message": { "type": "string" },
                    "field": { "type": "string", "description": "The request field at fault, when one is." }
                }
            }}
        },
        "Health": {
            "type": "object",
            "properties": { "status": { "type": "string", "enum": ["ok"] }, "shards": { "type": "integer" } }
        },
        "MoneyIn": money,
        "Money": { "type": "string", "pattern": "^-?[0-9]+$", "description": "Whole won, as a decimal string.", "example": "50000" },
        "CustomerId": customer_id,
        "RequestNo": { "type": "string", "minLength": 1, "maxLength": 32, "pattern": "^[A-Za-z0-9_-]+$", "example": "C-20261121-0001" },
        "CustomerOpen": {
            "type": "object",
            "required": ["customer", "linked_bank", "linked_account"],
            "additionalProperties": false,
            "properties": {
                "customer": { "$ref": "#/components/schemas/CustomerId" },
                "linked_bank": { "type": "string", "pattern": "^[0-9]{3}$", "description": "A bank with a withdrawal firm parent account.", "example": "004" },
                "linked_account": { "type": "string", "maxLength": 20, "pattern": "^[0-9][0-9-]*$", "example": "110-123-456789" },
                "tradable": { "type": "boolean", "default": true },
                "subscription_valid": { "type": "boolean", "default": true },
                "cert_serial": { "oneOf": [ { "type": "integer", "minimum": 0 }, { "type": "string", "pattern": "^[0-9]+$" } ], "description": "With public_key: the signature key's certificate serial." },
                "public_key": { "type": "string", "pattern": "^[0-9a-fA-F]{64}$", "description": "With cert_serial: the ed25519 public key, 32 bytes in hexadecimal." }
            }
        },
        "Customer": {
            "type": "object",
            "properties": {
                "customer": { "type": "string" },
                "currency": { "type": "string", "enum": ["KRW"] },
                "balance": { "$ref": "#/components/schemas/Money" },
                "available": { "$ref": "#/components/schemas/Money" },
                "tradable": { "type": "boolean" },
                "subscription_valid": { "type": "boolean" },
                "linked_bank": { "type": "string" },
                "linked_account": { "type": "string" },
                "cert_serial": { "type": "string", "nullable": true }
            }
        },
        "Charge": {
            "type": "object",
            "required": ["customer", "request_date", "amount"],
            "description": "`request_no` is required unless the Idempotency-Key header gives it.",
            "additionalProperties": false,
            "properties": header_props
        },
        "Remittance": {
            "type": "object",
            "required": remit_required.clone(),
            "description": "`request_no` is required unless the Idempotency-Key header gives it. `signature` and `cert_serial` go together, for amounts over the usage limit only.",
            "additionalProperties": false,
            "properties": remit_props
        },
        "SigningTextRequest": {
            "type": "object",
            "required": remit_required,
            "description": "The remittance's fields, without a signature.",
            "additionalProperties": false,
            "properties": signing_props
        },
        "SigningText": {
            "type": "object",
            "properties": {
                "request_no": { "type": "string" },
                "text": { "type": "string", "description": "Sign exactly these UTF-8 bytes with ed25519." },
                "expires_at_ms": { "type": "integer", "description": "Milliseconds since the Unix epoch." }
            }
        },
        "Outcome": {
            "type": "object",
            "properties": {
                "customer": { "type": "string" },
                "request_no": { "type": "string" },
                "kind": { "type": "string", "enum": ["charge", "remit", "settlement"] },
                "currency": { "type": "string", "enum": ["KRW"] },
                "amount": { "$ref": "#/components/schemas/Money" },
                "told": { "type": "string", "enum": ["succeeded", "failed"], "description": "What the customer is told; on a timeout this is chosen per step (SPEC §4)." },
                "path": { "type": "string", "enum": ["first", "payment_instruction"], "nullable": true },
                "deficit": { "allOf": [ { "$ref": "#/components/schemas/Money" } ], "nullable": true, "description": "The shortfall charged first, if the balance was short." },
                "decided_by": { "$ref": "#/components/schemas/Step" },
                "timed_out": { "type": "boolean" }
            }
        },
        "Step": { "type": "string", "enum": ["charge_withdrawal", "charge_credit", "remit_deduction", "remit_deposit", "payment_instruction", "recovery", "refund"] },
        "Request": {
            "type": "object",
            "properties": {
                "customer": { "type": "string" },
                "request_no": { "type": "string" },
                "request_date": { "type": "string", "format": "date" },
                "kind": { "type": "string", "enum": ["charge", "remit", "settlement"] },
                "currency": { "type": "string" },
                "amount": { "$ref": "#/components/schemas/Money" },
                "payee": {
                    "type": "object", "nullable": true,
                    "properties": { "bank": { "type": "string" }, "account": { "type": "string" }, "name": { "type": "string" } }
                },
                "path": { "type": "string", "enum": ["first", "payment_instruction"], "nullable": true },
                "deficit": { "allOf": [ { "$ref": "#/components/schemas/Money" } ], "nullable": true },
                "accepted_at_ms": { "type": "integer" },
                "answer": {
                    "type": "object", "nullable": true,
                    "description": "null until the customer is answered.",
                    "properties": {
                        "told": { "type": "string", "enum": ["succeeded", "failed"] },
                        "decided_by": { "$ref": "#/components/schemas/Step" },
                        "timed_out": { "type": "boolean" },
                        "at_ms": { "type": "integer" }
                    }
                },
                "entries": { "type": "array", "items": { "$ref": "#/components/schemas/Entry" } }
            }
        },
        "Entry": {
            "type": "object",
            "description": "One request-log entry: one call to an outside system.",
            "properties": {
                "id": { "type": "string" },
                "log": { "type": "string", "enum": ["bank_firm_request_log", "securities_firm_request_log", "payment_instruction_log"] },
                "step": { "$ref": "#/components/schemas/Step" },
                "state": { "type": "string", "enum": ["REQUESTED", "SUCCESS", "FAIL", "UNKNOWN", "FAIL_TRY_AGAIN"] },
                "attempt": { "type": "integer" },
                "failures": { "type": "integer" },
                "amount": { "$ref": "#/components/schemas/Money" },
                "debit": { "type": "string", "description": "The account the step's posting debits, such as customer[1001] or fin_parent." },
                "credit": { "type": "string" },
                "requested_at_ms": { "type": "integer" },
                "updated_at_ms": { "type": "integer" }
            }
        },
        "Parents": {
            "type": "object",
            "properties": {
                "currency": { "type": "string" },
                "parents": { "type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "account": { "type": "string", "example": "deposit_firm[004]" },
                        "kind": { "type": "string", "enum": ["withdrawal_firm", "collection", "deposit_firm", "fin_parent", "fin_deposit"] },
                        "bank": { "type": "string", "nullable": true },
                        "total": { "$ref": "#/components/schemas/Money" },
                        "slices": { "type": "array", "items": { "$ref": "#/components/schemas/Money" }, "description": "One per shard, indexed by shard." }
                    }
                }}
            }
        }
    });
    schemas["Reconciliation"] = reconciliation_schema();
    schemas
}

/// The reconciliation report's shape (built apart: one `json!` cannot nest this deep).
fn reconciliation_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "date": { "type": "string", "format": "date", "nullable": true },
            "logs": { "type": "array", "items": {
                "type": "object",
                "properties": {
                    "log": { "type": "string", "enum": ["bank_firm_request_log", "securities_firm_request_log", "payment_instruction_log"] },
                    "matched": { "type": "integer" },
                    "not_executed": { "type": "integer" },
                    "open": { "type": "integer" },
                    "rail_lines": { "type": "integer" },
                    "mismatches": { "type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "log": { "type": "string" },
                            "kind": { "type": "string", "enum": ["booked_not_executed", "executed_not_booked", "amount_differs", "earlier_attempt_executed", "unknown_to_engine"] },
                            "entry": { "type": "string" },
                            "attempt": { "type": "integer" },
                            "engine_state": { "type": "string", "nullable": true },
                            "engine_amount": { "type": "string", "nullable": true },
                            "rail_amount": { "type": "string", "nullable": true }
                        }
                    }}
                }
            }}
        }
    })
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => out.push(r.clone()),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r.strip_prefix("#/components/schemas/").expect(&r);
            assert!(doc["components"]["schemas"].get(name).is_some(), "{r}");
        }
    }

    #[test]
    fn error_codes_are_unique() {
        let mut codes: Vec<&str> = ERROR_CODES.iter().map(|(c, _)| *c).collect();
        codes.sort_unstable();
        let before = codes.len();
        codes.dedup();
        assert_eq!(before, codes.len());
    }
}
