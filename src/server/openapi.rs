// Over 600 lines: the whole API document (paths, schemas, examples) in one place, so a route and its description change in one file.
//! The OpenAPI 3.1 document served at `/openapi.json`.
//!
//! Written by hand, not derived (utoipa or similar), because a derive describes Rust
//! types and the contract is not a Rust type: bodies are read field by field from raw
//! JSON (`body.rs`), an amount is a string or an integer literal, the request number
//! comes from the body or a header, and error codes are a closed list per operation.
//! Drift is kept out instead by construction and by tests:
//!
//! - every limit in a schema is the constant the server validates with (`CustomerId`,
//!   `Amount::MAX_WHOLE`, `RequestNo::MAX_BYTES`, `AccountNo::MAX_BYTES`,
//!   `PayeeName::MAX_BYTES`, `RequestDate::{MIN_YEAR, MAX_YEAR}`);
//! - every error code an operation lists is in [`ERROR_CODES`] with the status it is
//!   listed under, and every code there is listed by some operation (unit tests below);
//! - `tests/openapi.rs` checks the document against the OpenAPI 3.1 object model and
//!   every schema in it against the JSON Schema 2020-12 meta-schema, checks every
//!   example against its schema, and replays every request example against a real
//!   server, validating each answer against the documented schema of its status.
//!
//! How examples are written, so that they can be replayed: each operation's request
//! examples are named (in the request body's `examples`, or in its parameters'
//! `examples` when it has no body); the response that example gets holds an example of
//! the same name, under the status the server answers. An operation without request
//! examples is replayed once, bare, and its one 2xx example names the answer. A
//! parameter without an example of a request example's name is not sent with it.
//! Examples of other names (a 503, say) only illustrate, and are checked against their
//! schema. Within an operation, examples answered 2xx are replayed first.
//!
//! JSON Schema cannot count UTF-8 bytes, and `payee_name` is limited in bytes (its
//! storage is 48 bytes); its schema carries `maxLength` (characters, a true but looser
//! bound) and the extension keyword `x-maxBytes`, which the tests enforce.

use actix_web::HttpResponse;
use omnibus_core::ids::{AccountNo, PayeeName, RequestNo};
use omnibus_core::{Amount, RequestDate};
use serde_json::{json, Map, Value};

use super::routes::IDEMPOTENCY_KEY_HEADER;

mod api_keys;
mod cards;
mod divisions;
mod merchants;
mod payments;
mod payouts;
mod relay;
mod wallet;

/// Every error code the API answers, with its HTTP status.
pub const ERROR_CODES: &[(&str, u16)] = &[
    ("malformed_json", 400),
    ("malformed_body", 400),
    ("missing_field", 400),
    ("unknown_field", 400),
    ("invalid_field", 400),
    ("invalid_request", 400),
    ("idempotency_key_mismatch", 400),
    ("unauthorized", 401),
    ("forbidden", 403),
    ("not_found", 404),
    ("unknown_customer", 404),
    ("unknown_request", 404),
    ("method_not_allowed", 405),
    ("customer_exists", 409),
    ("request_no_reused", 409),
    ("idempotency_conflict", 409),
    ("invalid_state", 409),
    ("body_too_large", 413),
    ("unsupported_media_type", 415),
    ("linked_bank_not_served", 422),
    ("insufficient_funds", 422),
    ("parent_below_floor", 422),
    ("refused", 422),
    ("issue_refused", 422),
    ("over_balance_cap", 422),
    ("login_failed", 422),
    ("member_locked", 422),
    ("wrong_secret", 422),
    ("locked", 422),
    ("owner_not_tradable", 422),
    ("account_not_linked", 422),
    ("too_many_instruments", 422),
    ("controls_invalid", 422),
    ("guardian_consent_required", 422),
    ("holder_mismatch", 422),
    ("account_not_verified", 422),
    ("activation_code_invalid", 422),
    ("identity_check_failed", 422),
    ("cancel_window_closed", 422),
    ("bank_not_available", 422),
    ("no_virtual_account_available", 422),
    ("order_already_paid", 422),
    ("refund_exceeds_merchant_balance", 422),
    ("refund_exceeds_payment", 422),
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
    ("internal", 500),
    ("metrics_failed", 500),
    ("overloaded", 503),
    ("shutting_down", 503),
    ("authentication_unavailable", 503),
    ("rail_unavailable", 503),
    ("unhealthy", 503),
    ("too_many_event_streams", 503),
];

/// The request date every example carries. A replay sends the day it runs on instead,
/// since the engine also checks a window around its own date.
pub const EXAMPLE_DATE: &str = "2026-11-21";
/// The card number the payment examples carry: a replay puts the number of the card the
/// examples issued (`pc_1001_1`) in its place, since each card's number is random.
pub const EXAMPLE_CARD_NUMBER: &str = "9421000000000018";
/// The payment id the cancel examples name: a replay puts the id of the examples'
/// approved payment (`R-20261121-0001`) in its place.
pub const EXAMPLE_PAYMENT_ID: &str = "pay_0001000000000001";
/// The payment id the refund examples name: a replay puts the id of the examples' second
/// approved payment (`R-20261121-0003`) in its place.
pub const EXAMPLE_REFUNDED_ID: &str = "pay_0001000000000003";

/// The public key of customer 1001 in the examples: ed25519, secret key 32 bytes of 7.
pub const EXAMPLE_PUBLIC_KEY: &str =
    "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c";

const JSON: &str = "application/json";

fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A regular expression for the decimal integers from `min` (0 or 1) to `max`, leading
/// zeros allowed: the same set `u64::from_str` and `Amount::parse` take in that range.
pub fn decimal_pattern(min: u8, max: u128) -> String {
    assert!(min <= 1 && max >= 10, "a range from 0 or 1 to at least 10");
    let digits: Vec<u8> = max.to_string().bytes().map(|b| b - b'0').collect();
    let n = digits.len();
    let mut alternatives = Vec::new();
    // Numbers with fewer digits than max.
    alternatives.push(format!("[1-9][0-9]{{0,{}}}", n - 2));
    // Numbers with as many digits, which first fall below max at digit i.
    for i in 0..n {
        let low = if i == 0 { 1 } else { 0 };
        if digits[i] > low {
            let prefix: String = digits[..i].iter().map(|d| char::from(b'0' + d)).collect();
            let rest = n - i - 1;
            let tail = if rest > 0 {
                format!("[0-9]{{{rest}}}")
            } else {
                String::new()
            };
            alternatives.push(format!("{prefix}[{low}-{}]{tail}", digits[i] - 1));
        }
    }
    alternatives.push(max.to_string());
    let zero = if min == 0 { "|0" } else { "" };
    format!("^0*({}{zero})$", alternatives.join("|"))
}

/// The request date's pattern: `YYYY-MM-DD` within the years the server takes.
pub fn date_pattern() -> String {
    // The pattern states the year range as one leading digit and three free ones, which
    // is exactly the range only while it is a whole millennium.
    assert_eq!(RequestDate::MIN_YEAR % 1000, 0);
    assert_eq!(RequestDate::MAX_YEAR, RequestDate::MIN_YEAR + 999);
    format!(
        "^{}[0-9]{{3}}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
        RequestDate::MIN_YEAR / 1000
    )
}

/// An error answer restricted to `codes`, each of which must be answered with `status`.
fn errors(status: u16, codes: &[&str], description: &str, examples: Value) -> Value {
    let listed: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
    let mut response = json!({
        "description": format!("{} {description}", listed.join(", ")),
        "content": { JSON: {
            "schema": {
                "allOf": [ schema("Error") ],
                "properties": { "error": { "properties": { "code": { "enum": codes } } } }
            },
            "examples": examples
        }}
    });
    if status == 503 {
        response["headers"] = json!({ "Retry-After": {
            "required": true,
            "description": "Seconds to wait before retrying.",
            "schema": { "type": "integer", "minimum": 1 }
        }});
    }
    response
}

/// An error example answer.
fn error_example(summary: &str, code: &str, message: &str, field: Option<&str>) -> Value {
    let mut error = json!({ "code": code, "message": message });
    if let Some(field) = field {
        error["field"] = json!(field);
    }
    json!({ "summary": summary, "value": { "error": error } })
}

fn examples(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect::<Map<String, Value>>(),
    )
}

fn example(summary: &str, value: Value) -> Value {
    json!({ "summary": summary, "value": value })
}

/// 503 answers every operation that reaches the engine may give.
fn unavailable(codes: &[&str]) -> Value {
    errors(
        503,
        codes,
        "nothing changed; retry after the `Retry-After` seconds.",
        examples(&[(
            "overloaded",
            error_example(
                "The engine's queues are full",
                "overloaded",
                "the engine is overloaded: the shard's flows in flight",
                None,
            ),
        )]),
    )
}

fn storage_failed() -> Value {
    errors(
        500,
        &["storage_failed", "internal"],
        "the write-ahead log failed (the engine stops taking writes), or something inside the \
         engine failed that no input causes (`internal`).",
        examples(&[(
            "storage_failed",
            error_example(
                "The log could not be written",
                "storage_failed",
                "storage failed on shard 0: disk",
                None,
            ),
        )]),
    )
}

/// 400, 413 and 415: what reading any JSON body can answer.
const BODY_400: &[&str] = &[
    "malformed_json",
    "malformed_body",
    "missing_field",
    "unknown_field",
    "invalid_field",
];

fn body_too_large() -> Value {
    errors(
        413,
        &["body_too_large"],
        "the body is over `server.body_limit_bytes` (8,192 by default).",
        examples(&[(
            "body_too_large",
            error_example(
                "A body over the limit",
                "body_too_large",
                "the request body is larger than the limit of 8192 bytes",
                None,
            ),
        )]),
    )
}

fn unsupported_media_type() -> Value {
    errors(
        415,
        &["unsupported_media_type"],
        "the `Content-Type` is not JSON (`application/json` or `*+json`; none at all is taken as JSON).",
        examples(&[(
            "not_json",
            error_example(
                "A text body",
                "unsupported_media_type",
                "the body must be application/json, got \"text/plain\"",
                None,
            ),
        )]),
    )
}

fn json_body(schema_name: &str, examples: Value) -> Value {
    json!({
        "required": true,
        "content": { JSON: { "schema": schema(schema_name), "examples": examples } }
    })
}

fn ok(description: &str, schema_name: &str, examples: Value) -> Value {
    json!({
        "description": description,
        "content": { JSON: { "schema": schema(schema_name), "examples": examples } }
    })
}

fn idempotency_key(examples: Value) -> Value {
    json!({
        "name": IDEMPOTENCY_KEY_HEADER,
        "in": "header",
        "required": false,
        "description": "The request number, when the body has no `request_no`: one of the two is required. If both are given they must be equal, else 400 `idempotency_key_mismatch`.",
        "schema": schema("RequestNo"),
        "examples": examples
    })
}

/// The document.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "omnibus",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The omnibus clearing engine over HTTP/JSON.\n\nErrors are `{\"error\": {\"code\", \"message\", \"field\"?}}`; the `code` is stable and each operation lists the codes of each status. A bad request changes nothing. Request bodies take no member that is not documented, and no `null`.\n\nEvery `GET` also answers `HEAD` (the same status and headers, no body). A method a path does not take is answered 405 `method_not_allowed` with an `Allow` header; a path that matches no route 404 `not_found`.\n\nAuthentication (docs/auth.md): with `server.auth` on, every request but `/health` and `/openapi.json` is signed with an API key: the three headers of `components.securitySchemes`, together. A merchant's key calls the merchant's operations for its own merchant only (another merchant's payment is `not_found`); the operator's key calls everything. On a loopback address authentication is off by default (`server.auth = \"auto\"`), hence the empty requirement beside the signed one; the server refuses to listen beyond loopback without it."
        },
        "servers": [ { "url": "http://127.0.0.1:8080", "description": "The default listen address (`server.listen`)." } ],
        "security": api_keys::security(),
        "tags": [
            { "name": "customers", "description": "Customer financial company accounts." },
            { "name": "payments", "description": "Charges and remittances, idempotent by request number." },
            { "name": "requests", "description": "Requests and their request-log entries." },
            { "name": "operations", "description": "Health, metrics, parent accounts, reconciliation, events and this document." },
            { "name": "merchants", "description": "Merchants and their terminals (the instruments layer, INSTRUMENTS.md §6)." },
            { "name": "prepaid cards", "description": "The prepaid card of seed 004 and its pocket (INSTRUMENTS.md §5)." },
            { "name": "division accounts", "description": "The division accounts of seed 001(a): a master's balance paid by slaves within their budgets (INSTRUMENTS.md §1)." },
            { "name": "wallet", "description": "Members, wallet sessions and checkouts of flow B (INSTRUMENTS.md §5.3 b4–b9)." },
            { "name": "virtual-account relay", "description": "The virtual-account relay of seed 001(b): partners, pools, leases, the banks' deposit notices, suspense, collections (INSTRUMENTS.md §2; mode A, docs/relay.md)." },
            { "name": "payments", "description": "Merchants' payments (INSTRUMENTS.md §6.4): authorization, lookup." },
            { "name": "keys", "description": "API keys that sign requests (docs/auth.md)." }
        ],
        "paths": paths(),
        "components": { "schemas": schemas(), "securitySchemes": api_keys::security_schemes() }
    })
}

/// The operations, by path.
fn paths() -> Value {
    let mut paths = Map::new();
    for (path, item) in [
        ("/health", health()),
        ("/metrics", metrics()),
        ("/openapi.json", openapi_document()),
        ("/v1/customers", open_customer()),
        ("/v1/customers/{id}", get_customer()),
        ("/v1/charges", create_charge()),
        ("/v1/remittances", create_remittance()),
        ("/v1/remittances/signing-text", create_signing_text()),
        ("/v1/requests/{request_no}", get_request()),
        ("/v1/parents", get_parents()),
        ("/v1/reconciliation", get_reconciliation()),
        ("/v1/events", stream_events()),
        ("/v1/merchants", merchants::onboard()),
        ("/v1/merchants/{merchant_id}", merchants::get()),
        (
            "/v1/merchants/{merchant_id}/terminals",
            merchants::add_terminal(),
        ),
        (
            "/v1/merchants/{merchant_id}/status",
            merchants::set_status(),
        ),
        ("/v1/merchants/{merchant_id}/payouts", payouts::list()),
        ("/v1/customers/{id}/prepaid-cards", cards::issue()),
        (
            "/v1/customers/{id}/division-accounts",
            divisions::of_master(),
        ),
        ("/v1/division-accounts/activations", divisions::activate()),
        ("/v1/division-accounts/{instrument_id}", divisions::item()),
        (
            "/v1/division-accounts/{instrument_id}/pin",
            divisions::pin(),
        ),
        (
            "/v1/division-accounts/{instrument_id}/authorizations",
            divisions::authorizations(),
        ),
        ("/v1/partners", relay::partners()),
        ("/v1/partners/{partner_id}", relay::partner_item()),
        ("/v1/partners/{partner_id}/va-leases", relay::leases()),
        (
            "/v1/partners/{partner_id}/va-leases/{lease_id}",
            relay::lease_item(),
        ),
        (
            "/v1/partners/{partner_id}/collections",
            relay::collections(),
        ),
        ("/v1/partners/{partner_id}/va-history", relay::history()),
        ("/v1/banks/{bank}/va-deposits", relay::deposits()),
        (
            "/v1/banks/{bank}/va-deposit-checks",
            relay::deposit_checks(),
        ),
        ("/v1/banks/{bank}/va-deposit-reversals", relay::reversals()),
        (
            "/v1/banks/{bank}/va-reconciliations",
            relay::reconciliations(),
        ),
        ("/v1/va-deposits/{deposit_id}", relay::deposit_item()),
        ("/v1/va-deposits/{deposit_id}/assign", relay::assign()),
        ("/v1/va-deposits/{deposit_id}/refund", relay::refund()),
        ("/v1/members", wallet::create_member()),
        ("/v1/wallet/sessions", wallet::create_session()),
        ("/v1/wallet/checkouts", wallet::create_checkout()),
        ("/v1/prepaid-cards/{instrument_id}", cards::get()),
        ("/v1/prepaid-cards/{instrument_id}/reveal", cards::reveal()),
        ("/v1/prepaid-cards/{instrument_id}/charges", cards::charge()),
        (
            "/v1/prepaid-cards/{instrument_id}/statements",
            cards::statements(),
        ),
        ("/v1/api-keys", api_keys::create_and_list()),
        ("/v1/api-keys/{key_id}/revoke", api_keys::revoke()),
        ("/v1/payments", payments::path()),
        ("/v1/payments/{payment_id}/cancel", payments::cancel()),
        ("/v1/payments/{payment_id}/refunds", payments::refund()),
        (
            "/v1/payments/cancel-by-request",
            payments::cancel_by_request(),
        ),
    ] {
        paths.insert(path.to_owned(), item);
    }
    let mut paths = Value::Object(paths);
    api_keys::secure(&mut paths);
    paths
}

fn health() -> Value {
    json!({ "get": {
        "operationId": "getHealth",
        "tags": ["operations"],
        "summary": "Health: 200 while serving; 503 while shutting down, or naming the cause when a shard's log failed or the engine stopped on a panic",
        "responses": {
            "200": ok("Serving", "Health", examples(&[("ok", example("Serving on two shards", json!({ "status": "ok", "shards": 2 })))])),
            "503": errors(503, &["shutting_down", "unhealthy"], "the server is draining (`shutting_down`), or cannot serve (`unhealthy`, naming the cause: a shard's write-ahead log failed, or the engine stopped on a panic).", examples(&[(
                "shutting_down",
                error_example("Draining", "shutting_down", "the server is shutting down and takes no new work", None),
            )]))
        }
    }})
}

fn metrics() -> Value {
    json!({ "get": {
        "operationId": "getMetrics",
        "tags": ["operations"],
        "summary": "Prometheus metrics (text exposition format 0.0.4)",
        "responses": {
            "200": { "description": "Metrics", "content": { "text/plain": {
                "schema": { "type": "string" },
                "examples": { "ok": { "summary": "A few of the series", "value": "# TYPE omnibus_books_sum_won gauge\nomnibus_books_sum_won 0\n" } }
            }}},
            "500": errors(500, &["metrics_failed"], "the metrics could not be gathered or encoded.", examples(&[(
                "metrics_failed",
                error_example("Encoding failed", "metrics_failed", "the metrics could not be encoded", None),
            )]))
        }
    }})
}

fn openapi_document() -> Value {
    json!({ "get": {
        "operationId": "getOpenApi",
        "tags": ["operations"],
        "summary": "This document",
        "responses": {
            "200": { "description": "The OpenAPI 3.1 document", "content": { JSON: {
                "schema": { "type": "object", "required": ["openapi", "info", "paths"] },
                "examples": { "ok": { "summary": "Its first members", "value": { "openapi": "3.1.0", "info": { "title": "omnibus", "version": env!("CARGO_PKG_VERSION") }, "paths": {} } } }
            }}}
        }
    }})
}

fn customer_answer(cert_serial: Value) -> Value {
    json!({
        "customer": "1001", "currency": "KRW", "balance": "0", "available": "0",
        "tradable": true, "subscription_valid": true,
        "linked_bank": "004", "linked_account": "110-123-456789", "cert_serial": cert_serial
    })
}

fn open_customer() -> Value {
    let opening = json!({
        "customer": 1001,
        "linked_bank": "004",
        "linked_account": "110-123-456789",
        "cert_serial": 77,
        "public_key": EXAMPLE_PUBLIC_KEY
    });
    let mut conflicting = opening.clone();
    conflicting["linked_account"] = json!("110-999");
    let mut weak = opening.clone();
    weak["customer"] = json!(1002);
    weak["public_key"] = json!("01".to_owned() + &"00".repeat(31));
    let mut unpaired = opening.clone();
    unpaired["customer"] = json!(1003);
    unpaired.as_object_mut().unwrap().remove("public_key");
    let mut null_flag = opening.clone();
    null_flag["customer"] = json!(1004);
    null_flag["tradable"] = Value::Null;
    let mut unserved = opening.clone();
    unserved["customer"] = json!(1005);
    unserved["linked_bank"] = json!("999");
    json!({ "post": {
        "operationId": "openCustomer",
        "tags": ["customers"],
        "summary": "Open a customer financial company account",
        "description": "Registers the linked bank account charges are drawn from and, optionally, the signature key (certificate serial and ed25519 public key, given together) for remittances over the usage limit. A weak (small-order) public key is refused. Retrying an identical opening answers 200 with the customer.",
        "requestBody": json_body("CustomerOpen", examples(&[
            ("opened", example("Customer 1001 with a signature key", opening.clone())),
            ("retried", example("The same opening again", opening)),
            ("conflict", example("The same number with another linked account", conflicting)),
            ("weak_key", example("The identity point as public key", weak)),
            ("unpaired", example("A certificate serial without its public key", unpaired)),
            ("null_flag", example("null where a boolean is expected", null_flag)),
            ("bank_not_served", example("A linked bank without a withdrawal firm account", unserved)),
        ])),
        "responses": {
            "201": {
                "description": "Opened",
                "headers": { "Location": { "required": true, "description": "The customer's URL: `/v1/customers/{id}`.", "schema": { "type": "string", "pattern": "^/v1/customers/[1-9][0-9]*$" } } },
                "content": { JSON: { "schema": schema("Customer"), "examples": examples(&[("opened", example("Opened", customer_answer(json!("77"))))]) } }
            },
            "200": ok("Already opened with the same linked account and certificate (an idempotent retry)", "Customer",
                examples(&[("retried", example("The customer as it is", customer_answer(json!("77"))))])),
            "400": errors(400, &[BODY_400, &["invalid_request"]].concat(), "a field is missing, unknown, malformed, `null`, or a weak key.", examples(&[
                ("weak_key", error_example("A weak key", "invalid_field", "public_key: is a weak ed25519 public key (a point of small order): a signature over it can be made without any private key; register the key of a real key pair", Some("public_key"))),
                ("unpaired", error_example("cert_serial without public_key", "missing_field", "public_key: this field is required", Some("public_key"))),
                ("null_flag", error_example("null", "invalid_field", "tradable: must be true or false, got null", Some("tradable"))),
            ])),
            "409": errors(409, &["customer_exists"], "the customer exists with another linked account or certificate.", examples(&[
                ("conflict", error_example("Another linked account", "customer_exists", "customer 1001 already exists with another linked account or certificate", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "422": errors(422, &["linked_bank_not_served", "refused"], "the engine refused the opening.", examples(&[
                ("bank_not_served", error_example("Bank 999", "linked_bank_not_served", "the linked bank 999 has no withdrawal firm account", None)),
            ])),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

fn get_customer() -> Value {
    json!({ "get": {
        "operationId": "getCustomer",
        "tags": ["customers"],
        "summary": "A customer with its balance",
        "parameters": [ {
            "name": "id", "in": "path", "required": true,
            "schema": schema("CustomerIdText"),
            "examples": {
                "found": { "summary": "Customer 1001", "value": "1001" },
                "unknown": { "summary": "No such customer", "value": "999999" },
                "zero": { "summary": "Customer numbers start at 1", "value": "0" }
            }
        } ],
        "responses": {
            "200": ok("The customer", "Customer", examples(&[("found", example("Customer 1001", customer_answer(json!("77"))))])),
            "400": errors(400, &["invalid_field"], "not a customer number.", examples(&[
                ("zero", error_example("Zero", "invalid_field", "customer: must be a positive integer, got \"0\"", Some("customer"))),
            ])),
            "404": errors(404, &["unknown_customer"], "no such customer.", examples(&[
                ("unknown", error_example("No such customer", "unknown_customer", "unknown customer 999999", None)),
            ])),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

fn charge_body(request_no: Option<&str>, amount: Value) -> Value {
    let mut body = json!({ "customer": 1001, "request_date": EXAMPLE_DATE, "amount": amount });
    if let Some(no) = request_no {
        body["request_no"] = json!(no);
    }
    body
}

fn outcome(request_no: &str, kind: &str, amount: &str, decided_by: &str, path: Value) -> Value {
    json!({
        "customer": "1001", "request_no": request_no, "kind": kind, "currency": "KRW",
        "amount": amount, "told": "succeeded", "path": path, "deficit": null,
        "decided_by": decided_by, "timed_out": false, "reason": null
    })
}

fn create_charge() -> Value {
    let mut null_request_no = charge_body(None, json!("1000"));
    null_request_no["request_no"] = Value::Null;
    json!({ "post": {
        "operationId": "createCharge",
        "tags": ["payments"],
        "summary": "Charge: draw an amount from the customer's linked account into the customer's account",
        "description": "Idempotent by request number (`request_no`, or the `Idempotency-Key` header): resubmitting the same request answers the original outcome; the same number with other fields is 409 `request_no_reused`. The answer is 200 whether the customer is told `succeeded` or `failed`.",
        "parameters": [ idempotency_key(json!({
            "by_header": { "summary": "The request number as a header", "value": "C-20261121-0002" },
            "key_mismatch": { "summary": "A header that differs from the body's request_no", "value": "C-20261121-9999" }
        })) ],
        "requestBody": json_body("Charge", examples(&[
            ("charged", example("Charge 50,000 won", charge_body(Some("C-20261121-0001"), json!("50000")))),
            ("resubmitted", example("The same request again: its original outcome", charge_body(Some("C-20261121-0001"), json!("50000")))),
            ("by_header", example("The request number in the Idempotency-Key header", charge_body(None, json!(1000)))),
            ("key_mismatch", example("Body and header disagree", charge_body(Some("C-20261121-0003"), json!(1000)))),
            ("reused", example("A used request number with another amount", charge_body(Some("C-20261121-0001"), json!(7)))),
            ("fraction", example("Whole won only", charge_body(Some("C-20261121-0004"), json!("10.5")))),
            ("amount_over_limit", example("Over 10^18", charge_body(Some("C-20261121-0005"), json!("1000000000000000001")))),
            ("null_request_no", example("null is not absent", null_request_no)),
        ])),
        "responses": {
            "200": ok("The outcome", "Outcome", examples(&[
                ("charged", example("Told succeeded", outcome("C-20261121-0001", "charge", "50000", "charge_credit", Value::Null))),
                ("resubmitted", example("The original outcome", outcome("C-20261121-0001", "charge", "50000", "charge_credit", Value::Null))),
                ("by_header", example("Keyed by the header", outcome("C-20261121-0002", "charge", "1000", "charge_credit", Value::Null))),
            ])),
            "400": errors(400, &[BODY_400, &["idempotency_key_mismatch", "invalid_request"]].concat(), "a field is missing, unknown, malformed or `null`, or the header and body disagree.", examples(&[
                ("key_mismatch", error_example("Header and body differ", "idempotency_key_mismatch", "the Idempotency-Key header \"C-20261121-9999\" differs from the body's request_no \"C-20261121-0003\"", None)),
                ("fraction", error_example("A fraction", "invalid_field", "amount: \"10.5\" is not an amount: write whole KRW in decimal digits only, without sign, spaces, decimal point or exponent", Some("amount"))),
                ("amount_over_limit", error_example("Over 10^18", "invalid_field", "amount: 1000000000000000001 is outside the largest magnitude the engine holds (10^18 minor units)", Some("amount"))),
                ("null_request_no", error_example("null", "invalid_field", "request_no: must be a string, got null", Some("request_no"))),
            ])),
            "404": errors(404, &["unknown_customer"], "no such customer.", examples(&[
                ("unknown_customer", error_example("No such customer", "unknown_customer", "unknown customer 999999", None)),
            ])),
            "409": errors(409, &["request_no_reused"], "the request number was used with other fields.", examples(&[
                ("reused", error_example("Another amount", "request_no_reused", "request number C-20261121-0001 was used by another request", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "422": errors(422, &["not_tradable", "subscription_invalid", "parent_below_floor", "refused"], "the customer may not trade, or the engine refused the request; nothing moved.", examples(&[
                ("not_tradable", error_example("Not tradable", "not_tradable", "customer 1001 is not tradable", None)),
            ])),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

fn remit_body(request_no: &str, amount: Value) -> Value {
    json!({
        "customer": 1001, "request_date": EXAMPLE_DATE, "request_no": request_no, "amount": amount,
        "payee_bank": "088", "payee_account": "220-33-44444", "payee_name": "김철수"
    })
}

fn create_remittance() -> Value {
    let mut signed = remit_body("R-20261121-0002", json!("2500000"));
    signed["signature"] = json!("00".repeat(64));
    signed["cert_serial"] = json!(77);
    let mut unpaired = remit_body("R-20261121-0003", json!("2500000"));
    unpaired["signature"] = json!("00".repeat(64));
    let mut long_name = remit_body("R-20261121-0004", json!("1000"));
    // 17 Hangul syllables: 17 characters, but 51 bytes of UTF-8.
    long_name["payee_name"] = json!("가".repeat(17));
    json!({ "post": {
        "operationId": "createRemittance",
        "tags": ["payments"],
        "summary": "Remit to a payee account",
        "description": "Up to the usage limit (2,000,000 won by default): the first path (securities deduction, then bank deposit), without a signature. Over it: a signed payment instruction; first get the text with `POST /v1/remittances/signing-text`, sign its exact UTF-8 bytes with the customer's ed25519 key, and send `signature` and `cert_serial` (always together) with the same fields. A short balance is charged first (the deficit). Idempotent by request number, like charges.",
        "parameters": [ idempotency_key(json!({})) ],
        "requestBody": json_body("Remittance", examples(&[
            ("first_path", example("20,000 won within the usage limit", remit_body("R-20261121-0001", json!("20000")))),
            ("bad_signature", example("Over the limit, with a signature that does not verify over the issued text", signed)),
            ("unsigned_over_limit", example("Over the limit without a signature", remit_body("R-20261121-0005", json!(2_500_000)))),
            ("unpaired", example("A signature without its certificate serial", unpaired)),
            ("long_name", example("A payee name over 48 bytes", long_name)),
        ])),
        "responses": {
            "200": ok("The outcome", "Outcome", examples(&[
                ("first_path", example("Told succeeded", outcome("R-20261121-0001", "remit", "20000", "remit_deposit", json!("first")))),
            ])),
            "400": errors(400, &[BODY_400, &["idempotency_key_mismatch", "invalid_request"]].concat(), "a field is missing, unknown, malformed or `null`, or the header and body disagree.", examples(&[
                ("unpaired", error_example("signature without cert_serial", "missing_field", "cert_serial: this field is required", Some("cert_serial"))),
                ("long_name", error_example("51 bytes", "invalid_field", "payee_name: must be at most 48 bytes, got 51", Some("payee_name"))),
            ])),
            "404": errors(404, &["unknown_customer"], "no such customer.", examples(&[
                ("unknown_customer", error_example("No such customer", "unknown_customer", "unknown customer 999999", None)),
            ])),
            "409": errors(409, &["request_no_reused"], "the request number was used with other fields.", examples(&[
                ("reused", error_example("Another amount", "request_no_reused", "request number R-20261121-0001 was used by another request", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "422": errors(422, &["not_tradable", "subscription_invalid", "insufficient_funds", "parent_below_floor", "refused", "signature_required", "not_over_limit", "no_signing_key", "no_signing_text", "unknown_certificate", "signing_text_expired", "signing_text_mismatch", "signature_invalid", "key_not_valid"], "the request was refused before any money moved.", examples(&[
                ("bad_signature", error_example("The signature does not verify", "signature_invalid", "the signature does not verify with the key of certificate 77", None)),
                ("unsigned_over_limit", error_example("No signature", "signature_required", "a remittance over the usage limit needs a signed payment instruction", None)),
            ])),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down", "authentication_unavailable"])
        }
    }})
}

fn create_signing_text() -> Value {
    json!({ "post": {
        "operationId": "createSigningText",
        "tags": ["payments"],
        "summary": "The transaction original text to sign for a remittance over the usage limit",
        "description": "The text is good for one submission of this exact request until `expires_at_ms`.",
        "parameters": [ idempotency_key(json!({})) ],
        "requestBody": json_body("SigningTextRequest", examples(&[
            ("issued", example("2,500,000 won, over the usage limit", remit_body("R-20261121-0002", json!("2500000")))),
            ("within_limit", example("Within the limit: no text needed", remit_body("R-20261121-0006", json!("1000")))),
        ])),
        "responses": {
            "200": ok("The text to sign", "SigningText", examples(&[
                ("issued", example("The text", json!({
                    "request_no": "R-20261121-0002",
                    "text": "omnibus payment instruction v1\ncustomer: 1001\nrequest_date: 2026-11-21\nrequest_no: R-20261121-0002\namount: 2500000 KRW\npayee_bank: 088\npayee_account: 220-33-44444\npayee_name: 김철수\nnonce: 5a9a95782abab937223d0bbb55a09557\nexpires_at_ms: 1796026667858\n",
                    "expires_at_ms": 1_796_026_667_858u64
                }))),
            ])),
            "400": errors(400, &[BODY_400, &["idempotency_key_mismatch", "invalid_request"]].concat(), "a field is missing, unknown, malformed or `null`, or the header and body disagree.", examples(&[
                ("missing", error_example("No payee name", "missing_field", "payee_name: this field is required", Some("payee_name"))),
            ])),
            "404": errors(404, &["unknown_customer"], "no such customer.", examples(&[
                ("unknown_customer", error_example("No such customer", "unknown_customer", "unknown customer 999999", None)),
            ])),
            "409": errors(409, &["request_no_reused"], "the request number is taken.", examples(&[
                ("reused", error_example("Taken", "request_no_reused", "request number R-20261121-0001 was used by another request", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "422": errors(422, &["not_tradable", "subscription_invalid", "no_signing_key", "not_over_limit", "refused"], "no text can be issued for this request.", examples(&[
                ("within_limit", error_example("Within the limit", "not_over_limit", "the amount is within the usage limit: no signed instruction is needed", None)),
            ])),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

fn get_request() -> Value {
    json!({ "get": {
        "operationId": "getRequest",
        "tags": ["requests"],
        "summary": "A request with all its request-log entries and their states",
        "parameters": [ {
            "name": "request_no", "in": "path", "required": true, "schema": schema("RequestNo"),
            "examples": {
                "found": { "summary": "The charge of the examples", "value": "C-20261121-0001" },
                "unknown": { "summary": "Never submitted", "value": "NOPE" },
                "malformed": { "summary": "A space is not allowed", "value": "a%20b" }
            }
        } ],
        "responses": {
            "200": ok("The request", "Request", examples(&[("found", example("A charge told succeeded", json!({
                "customer": "1001", "request_no": "C-20261121-0001", "request_date": EXAMPLE_DATE,
                "kind": "charge", "currency": "KRW", "amount": "50000", "payee": null, "path": null,
                "deficit": null, "accepted_at_ms": 1_795_000_000_000u64,
                "answer": { "told": "succeeded", "decided_by": "charge_credit", "timed_out": false, "at_ms": 1_795_000_000_004u64, "reason": null },
                "outcome": "credited",
                "entries": [
                    { "id": "E0000000000000001", "log": "bank_firm_request_log", "step": "charge_withdrawal", "state": "SUCCESS", "attempt": 1, "failures": 0, "amount": "50000", "debit": "linked[1001]", "credit": "withdrawal_firm[004]", "requested_at_ms": 1_795_000_000_001u64, "updated_at_ms": 1_795_000_000_002u64 },
                    { "id": "E0000000000000002", "log": "securities_firm_request_log", "step": "charge_credit", "state": "SUCCESS", "attempt": 1, "failures": 0, "amount": "50000", "debit": "fin_parent", "credit": "customer[1001]", "requested_at_ms": 1_795_000_000_002u64, "updated_at_ms": 1_795_000_000_003u64 }
                ]
            })))])),
            "400": errors(400, &["invalid_field"], "not a request number.", examples(&[
                ("malformed", error_example("A space", "invalid_field", "request_no: must be letters, digits, '-' and '_', got \"a b\"", Some("request_no"))),
            ])),
            "404": errors(404, &["unknown_request"], "no such request.", examples(&[
                ("unknown", error_example("Never submitted", "unknown_request", "unknown request NOPE", None)),
            ])),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

fn get_parents() -> Value {
    json!({ "get": {
        "operationId": "getParents",
        "tags": ["operations"],
        "summary": "Parent (omnibus) account balances, total and per shard slice",
        "responses": {
            "200": ok("The parent accounts", "Parents", examples(&[("ok", example("Two of them", json!({
                "currency": "KRW",
                "parents": [
                    { "account": "fin_parent", "kind": "fin_parent", "bank": null, "total": "999950000", "slices": ["499950000", "500000000"] },
                    { "account": "withdrawal_firm[004]", "kind": "withdrawal_firm", "bank": "004", "total": "50000", "slices": ["50000", "0"] }
                ]
            })))])),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

fn get_reconciliation() -> Value {
    json!({ "get": {
        "operationId": "getReconciliation",
        "tags": ["operations"],
        "summary": "The reconciliation report: each request log matched against its rail's statement",
        "description": "An entry at SUCCESS must be on its rail's statement once, at its current attempt, with its amount; at FAIL it must not be; an earlier attempt must never be; UNKNOWN and REQUESTED entries are counted open; a statement line no entry accounts for is listed. Every mismatch is listed.",
        "parameters": [ {
            "name": "date", "in": "query", "required": false,
            "description": "Only requests of this request date; every day when absent.",
            "schema": schema("RequestDate"),
            "examples": {
                "one_day": { "summary": "One request date", "value": EXAMPLE_DATE },
                "bad_date": { "summary": "Not a calendar day", "value": "2026-02-30" }
            }
        } ],
        "responses": {
            "200": ok("The report", "Reconciliation", examples(&[
                ("one_day", example("Everything matched", json!({
                    "date": EXAMPLE_DATE,
                    "logs": [ { "log": "bank_firm_request_log", "matched": 2, "not_executed": 0, "open": 0, "rail_lines": 2, "mismatches": [] } ]
                }))),
            ])),
            "400": errors(400, &["invalid_field", "unknown_field"], "a bad date, or a query parameter that is not `date`.", examples(&[
                ("bad_date", error_example("February 30", "invalid_field", "date: must be a calendar date written YYYY-MM-DD, got \"2026-02-30\"", Some("date"))),
            ])),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down", "rail_unavailable"])
        }
    }})
}

fn stream_events() -> Value {
    json!({ "get": {
        "operationId": "streamEvents",
        "tags": ["operations"],
        "summary": "Server-sent events of request state changes",
        "description": "`text/event-stream`. Events: `ready` (subscribed), `accepted`, `entry_changed`, `answered` (each published once durable; data is JSON), and `lagged` (`{\"missed\": n}`) when the client fell behind the engine's bounded buffer. Comment lines keep an idle stream alive. The stream ends when the server shuts down.",
        "responses": {
            "200": { "description": "The stream", "content": { "text/event-stream": {
                "schema": { "type": "string" },
                "examples": { "ok": { "summary": "The first event", "value": "event: ready\ndata: {}\n\n" } }
            }}},
            "503": errors(503, &["shutting_down", "too_many_event_streams"], "no stream was opened.", examples(&[
                ("too_many", error_example("All streams taken", "too_many_event_streams", "64 event streams are open already (server.event_streams_max)", None)),
            ]))
        }
    }})
}

/// The request and answer shapes.
fn schemas() -> Value {
    let amount_max = Amount::MAX_WHOLE as u64;
    let mut schemas = json!({
        "Error": {
            "type": "object",
            "required": ["error"],
            "additionalProperties": false,
            "properties": { "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": false,
                "properties": {
                    "code": { "type": "string", "enum": ERROR_CODES.iter().map(|(c, _)| *c).collect::<Vec<_>>() },
                    "message": { "type": "string", "minLength": 1 },
                    "field": { "type": "string", "description": "The request field at fault, when one is." }
                }
            }}
        },
        "Health": {
            "type": "object",
            "required": ["status", "shards"],
            "additionalProperties": false,
            "properties": { "status": { "const": "ok" }, "shards": { "type": "integer", "minimum": 1 } }
        },
        "MoneyIn": {
            "description": format!("An amount in whole won (KRW has no minor unit), from 1 to {amount_max}: a JSON integer, or a string of decimal digits. No sign, spaces, decimal point or exponent, in either form: the literal `1000.0` or `1e3` is refused even though JSON Schema counts it as an integer."),
            "oneOf": [
                { "type": "string", "pattern": decimal_pattern(1, u128::from(amount_max)), "examples": ["50000"] },
                { "type": "integer", "minimum": 1, "maximum": amount_max, "examples": [50000] }
            ]
        },
        "Money": { "type": "string", "pattern": "^-?[0-9]+$", "description": "Whole won, as a decimal string.", "examples": ["50000"] },
        "CustomerId": {
            "description": format!("The customer account number, from 1 to {}: a JSON integer, or a string of decimal digits. Answered as a string.", u64::MAX),
            "oneOf": [
                { "type": "integer", "minimum": 1, "maximum": u64::MAX, "examples": [1001] },
                schema("CustomerIdText")
            ]
        },
        "CustomerIdText": { "type": "string", "pattern": decimal_pattern(1, u64::MAX as u128), "examples": ["1001"] },
        "CertSerial": {
            "description": format!("A certificate serial, from 0 to {}: a JSON integer or a string of decimal digits.", u64::MAX),
            "oneOf": [
                { "type": "integer", "minimum": 0, "maximum": u64::MAX },
                { "type": "string", "pattern": decimal_pattern(0, u64::MAX as u128) }
            ]
        },
        "RequestNo": {
            "type": "string", "minLength": 1, "maxLength": RequestNo::MAX_BYTES,
            "pattern": "^[A-Za-z0-9_-]+$",
            "description": format!("The request number, the idempotency key: letters, digits, `-` and `_`, 1 to {} of them (ASCII, so as many bytes).", RequestNo::MAX_BYTES),
            "examples": ["C-20261121-0001"]
        },
        "RequestDate": {
            "type": "string", "format": "date", "pattern": date_pattern(),
            "description": format!("A calendar day written YYYY-MM-DD, from {}-01-01 to {}-12-31 (the format's range; an impossible day such as 2026-02-30 is refused too). The engine also checks that a request's date falls within a window around its own date.", RequestDate::MIN_YEAR, RequestDate::MAX_YEAR),
            "examples": [EXAMPLE_DATE]
        },
        "BankCode": { "type": "string", "pattern": "^[0-9]{3}$", "examples": ["004"] },
        "AccountNo": {
            "type": "string", "minLength": 1, "maxLength": AccountNo::MAX_BYTES, "pattern": "^[0-9][0-9-]*$",
            "description": format!("An account number at a bank: digits and hyphens, starting with a digit, at most {} of them.", AccountNo::MAX_BYTES),
            "examples": ["110-123-456789"]
        },
        "PayeeName": {
            "type": "string", "minLength": 1, "maxLength": PayeeName::MAX_BYTES, "x-maxBytes": PayeeName::MAX_BYTES,
            "pattern": "^[^\\u0000-\\u001F\\u007F-\\u009F]+$",
            "description": format!("The payee's name: at most {} bytes of UTF-8 (16 Hangul syllables, or {} ASCII characters), no control characters. `maxLength` counts characters, a looser bound; `x-maxBytes` is the limit.", PayeeName::MAX_BYTES, PayeeName::MAX_BYTES),
            "examples": ["김철수"]
        },
        "PublicKey": {
            "type": "string", "pattern": "^[0-9a-fA-F]{64}$",
            "description": "An ed25519 public key, 32 bytes in hexadecimal. A key that is no curve point, or a weak (small-order) one such as `01` followed by 31 zero bytes, is refused: a signature over a weak key can be made without its private key."
        },
        "Signature": {
            "type": "string", "pattern": "^[0-9a-fA-F]{128}$",
            "description": "The ed25519 signature (64 bytes, hexadecimal) of the exact `text` from `POST /v1/remittances/signing-text`, verified strictly."
        }
    });
    // Built in pieces: one `json!` cannot nest this much.
    let shapes = json!({
        "CustomerOpen": {
            "type": "object",
            "required": ["customer", "linked_bank", "linked_account"],
            "additionalProperties": false,
            "dependentRequired": { "cert_serial": ["public_key"], "public_key": ["cert_serial"] },
            "properties": {
                "customer": schema("CustomerId"),
                "linked_bank": { "allOf": [schema("BankCode")], "description": "A bank with a withdrawal firm parent account." },
                "linked_account": schema("AccountNo"),
                "tradable": { "type": "boolean", "default": true },
                "subscription_valid": { "type": "boolean", "default": true },
                "cert_serial": { "allOf": [schema("CertSerial")], "description": "With public_key: the signature key's certificate serial." },
                "public_key": { "allOf": [schema("PublicKey")], "description": "With cert_serial." }
            }
        },
        "Customer": {
            "type": "object",
            "required": ["customer", "currency", "balance", "available", "tradable", "subscription_valid", "linked_bank", "linked_account", "cert_serial"],
            "additionalProperties": false,
            "properties": {
                "customer": schema("CustomerIdText"),
                "currency": { "const": "KRW" },
                "balance": schema("Money"),
                "available": schema("Money"),
                "tradable": { "type": "boolean" },
                "subscription_valid": { "type": "boolean" },
                "linked_bank": schema("BankCode"),
                "linked_account": schema("AccountNo"),
                "cert_serial": { "type": ["string", "null"], "pattern": "^[0-9]+$" }
            }
        },
        "Outcome": {
            "type": "object",
            "required": ["customer", "request_no", "kind", "currency", "amount", "told", "path", "deficit", "decided_by", "timed_out", "reason"],
            "additionalProperties": false,
            "properties": {
                "customer": schema("CustomerIdText"),
                "request_no": schema("RequestNo"),
                "kind": schema("Kind"),
                "currency": { "const": "KRW" },
                "amount": schema("Money"),
                "told": schema("Told"),
                "path": { "enum": ["first", "payment_instruction", null] },
                "deficit": { "oneOf": [schema("Money"), { "type": "null" }], "description": "The shortfall charged first, if the balance was short." },
                "decided_by": schema("Step"),
                "timed_out": { "type": "boolean", "description": "Whether the answer is the one SPEC §4 gives for a timeout of `decided_by`. False for an answer given before the step's result because every result of it tells the same (a charge told `succeeded` with its credit's entry)." },
                "reason": schema("Reason")
            }
        },
        "Reason": {
            "enum": ["parent_slice_short", "rail_refused", "timeout", "deficit_not_credited", "not_carried_out", "unrecorded", null],
            "description": "Why the request was told it failed; null when told succeeded. `parent_slice_short`: a parent account's slice could not fund it, refused before any outside call, nothing moved (retry later with a new request number). `rail_refused`: the outside system of `decided_by` refused it. `timeout`: `decided_by` got no answer in time and SPEC §4 tells failed for it (its `outcome` shows what finally happened). `deficit_not_credited`: a remittance's deficit charge was not credited live, so the remittance did not go on. `not_carried_out`: nothing decided it live (a crash came in between) and nothing went out for it. `unrecorded`: answered before reasons were recorded."
        },
        "Settled": {
            "enum": ["pending", "credited", "refunded", "paid_out", "recovered", "deficit_credited", "nothing_moved"],
            "description": "Where a request stands for good, whatever it was told: `pending` while a call is open, a step owed or no answer given; a charge ends `credited` (in the customer's account) or `refunded` (back to the linked account); a remittance `paid_out`, `recovered` (deducted, not paid, credited back) or `deficit_credited` (not paid, but its deficit charge is in the customer's account); or `nothing_moved`."
        },
        "Kind": { "enum": ["charge", "remit", "settlement", "sale", "pocket_charge", "merchant_refund", "pocket_release", "payout"] },
        "Told": { "enum": ["succeeded", "failed"], "description": "What the customer is told; on a timeout this is chosen per step (SPEC §4)." },
        "Step": { "enum": omnibus_core::request_log::Step::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>() },
        "SigningText": {
            "type": "object",
            "required": ["request_no", "text", "expires_at_ms"],
            "additionalProperties": false,
            "properties": {
                "request_no": schema("RequestNo"),
                "text": { "type": "string", "description": "Sign exactly these UTF-8 bytes with ed25519." },
                "expires_at_ms": { "type": "integer", "minimum": 0, "description": "Milliseconds since the Unix epoch." }
            }
        },
        "Parents": {
            "type": "object",
            "required": ["currency", "parents"],
            "additionalProperties": false,
            "properties": {
                "currency": { "const": "KRW" },
                "parents": { "type": "array", "items": {
                    "type": "object",
                    "required": ["account", "kind", "bank", "total", "slices"],
                    "additionalProperties": false,
                    "properties": {
                        "account": { "type": "string", "examples": ["deposit_firm[004]"] },
                        "kind": { "enum": ["withdrawal_firm", "collection", "deposit_firm", "fin_parent", "fin_deposit"] },
                        "bank": { "oneOf": [schema("BankCode"), { "type": "null" }] },
                        "total": schema("Money"),
                        "slices": { "type": "array", "items": schema("Money"), "description": "One per shard, indexed by shard." }
                    }
                }}
            }
        }
    });
    for (name, shape) in shapes
        .as_object()
        .expect("an object")
        .iter()
        .chain(merchants::schemas().as_object().expect("an object"))
        .chain(cards::schemas().as_object().expect("an object"))
        .chain(divisions::schemas().as_object().expect("an object"))
        .chain(payments::schemas().as_object().expect("an object"))
        .chain(payouts::schemas().as_object().expect("an object"))
        .chain(api_keys::schemas().as_object().expect("an object"))
        .chain(wallet::schemas().as_object().expect("an object"))
        .chain(relay::schemas().as_object().expect("an object"))
    {
        schemas[name] = shape.clone();
    }
    let header = |with_payee: bool| {
        let mut properties = json!({
            "customer": schema("CustomerId"),
            "request_date": schema("RequestDate"),
            "request_no": schema("RequestNo"),
            "amount": schema("MoneyIn")
        });
        let mut required = vec!["customer", "request_date", "amount"];
        if with_payee {
            properties["payee_bank"] = schema("BankCode");
            properties["payee_account"] = schema("AccountNo");
            properties["payee_name"] = schema("PayeeName");
            required.extend(["payee_bank", "payee_account", "payee_name"]);
        }
        json!({
            "type": "object",
            "required": required,
            "additionalProperties": false,
            "description": format!("`request_no` is required unless the `{IDEMPOTENCY_KEY_HEADER}` header gives it."),
            "properties": properties
        })
    };
    schemas["Charge"] = header(false);
    schemas["SigningTextRequest"] = header(true);
    let mut remittance = header(true);
    remittance["properties"]["signature"] = schema("Signature");
    remittance["properties"]["cert_serial"] = schema("CertSerial");
    remittance["dependentRequired"] =
        json!({ "signature": ["cert_serial"], "cert_serial": ["signature"] });
    remittance["description"] = json!(format!(
        "`request_no` is required unless the `{IDEMPOTENCY_KEY_HEADER}` header gives it. `signature` and `cert_serial` go together, for amounts over the usage limit only."
    ));
    schemas["Remittance"] = remittance;
    schemas["Request"] = request_schema();
    schemas["Entry"] = entry_schema();
    schemas["Reconciliation"] = reconciliation_schema();
    schemas["LogName"] = json!({ "enum": ["bank_firm_request_log", "securities_firm_request_log", "payment_instruction_log"] });
    schemas
}

fn request_schema() -> Value {
    json!({
        "type": "object",
        "required": ["customer", "request_no", "request_date", "kind", "currency", "amount", "payee", "path", "deficit", "accepted_at_ms", "answer", "outcome", "entries"],
        "additionalProperties": false,
        "properties": {
            "customer": schema("CustomerIdText"),
            "request_no": schema("RequestNo"),
            "request_date": schema("RequestDate"),
            "kind": schema("Kind"),
            "currency": { "const": "KRW" },
            "amount": schema("Money"),
            "payee": { "oneOf": [ { "type": "null" }, {
                "type": "object",
                "required": ["bank", "account", "name"],
                "additionalProperties": false,
                "properties": { "bank": schema("BankCode"), "account": schema("AccountNo"), "name": schema("PayeeName") }
            } ] },
            "path": { "enum": ["first", "payment_instruction", null] },
            "deficit": { "oneOf": [schema("Money"), { "type": "null" }] },
            "accepted_at_ms": { "type": "integer", "minimum": 0 },
            "answer": {
                "description": "null until the customer is answered.",
                "oneOf": [ { "type": "null" }, {
                    "type": "object",
                    "required": ["told", "decided_by", "timed_out", "at_ms", "reason"],
                    "additionalProperties": false,
                    "properties": {
                        "told": schema("Told"),
                        "decided_by": schema("Step"),
                        "timed_out": { "type": "boolean", "description": "Whether the answer is the one SPEC §4 gives for a timeout of `decided_by`. False for an answer given before the step's result because every result of it tells the same (a charge told `succeeded` with its credit's entry)." },
                        "at_ms": { "type": "integer", "minimum": 0 },
                        "reason": schema("Reason")
                    }
                } ]
            },
            "outcome": schema("Settled"),
            "entries": { "type": "array", "items": schema("Entry") }
        }
    })
}

fn entry_schema() -> Value {
    json!({
        "type": "object",
        "description": "One request-log entry: one call to an outside system.",
        "required": ["id", "log", "step", "state", "attempt", "failures", "amount", "debit", "credit", "requested_at_ms", "updated_at_ms"],
        "additionalProperties": false,
        "properties": {
            "id": { "type": "string" },
            "log": schema("LogName"),
            "step": schema("Step"),
            "state": { "enum": ["REQUESTED", "SUCCESS", "FAIL", "UNKNOWN", "FAIL_TRY_AGAIN"] },
            "attempt": { "type": "integer", "minimum": 0 },
            "failures": { "type": "integer", "minimum": 0 },
            "amount": schema("Money"),
            "debit": { "type": "string", "description": "The account the step's posting debits, such as customer[1001] or fin_parent." },
            "credit": { "type": "string" },
            "requested_at_ms": { "type": "integer", "minimum": 0 },
            "updated_at_ms": { "type": "integer", "minimum": 0 }
        }
    })
}

/// The reconciliation report's shape (built apart: one `json!` cannot nest this deep).
fn reconciliation_schema() -> Value {
    let mismatch = json!({
        "type": "object",
        "properties": {
            "log": { "type": "string" },
            "kind": { "enum": ["booked_not_executed", "executed_not_booked", "amount_differs", "earlier_attempt_executed", "unknown_to_engine"] },
            "entry": { "type": "string" },
            "attempt": { "type": "integer" },
            "engine_state": { "type": ["string", "null"] },
            "engine_amount": { "type": ["string", "null"] },
            "rail_amount": { "type": ["string", "null"] }
        }
    });
    json!({
        "type": "object",
        "required": ["date", "logs"],
        "properties": {
            "date": { "oneOf": [schema("RequestDate"), { "type": "null" }] },
            "logs": { "type": "array", "items": {
                "type": "object",
                "required": ["log", "matched", "not_executed", "open", "rail_lines", "mismatches"],
                "properties": {
                    "log": schema("LogName"),
                    "matched": { "type": "integer", "minimum": 0 },
                    "not_executed": { "type": "integer", "minimum": 0 },
                    "open": { "type": "integer", "minimum": 0 },
                    "rail_lines": { "type": "integer", "minimum": 0 },
                    "mismatches": { "type": "array", "items": mismatch }
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

    /// Each operation's codes per status, as listed in its error answers' schemas.
    fn listed_codes(doc: &Value) -> Vec<(String, u16, String)> {
        let mut listed = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    let schema = &response["content"][JSON]["schema"];
                    let codes = &schema["properties"]["error"]["properties"]["code"]["enum"];
                    for code in codes.as_array().into_iter().flatten() {
                        listed.push((
                            format!("{method} {path}"),
                            status.parse().unwrap(),
                            code.as_str().unwrap().to_owned(),
                        ));
                    }
                }
            }
        }
        listed
    }

    /// Codes answered 404 for paths that match no route and 405 for methods a route
    /// does not take: they belong to no documented operation.
    const CODES_OF_NO_OPERATION: &[&str] = &["not_found", "method_not_allowed"];

    #[test]
    fn every_listed_code_is_a_code_of_its_status_and_every_code_is_listed() {
        let listed = listed_codes(&document());
        for (operation, status, code) in &listed {
            let known = ERROR_CODES.iter().find(|(c, _)| c == code);
            assert_eq!(
                known.map(|(_, s)| *s),
                Some(*status),
                "{operation} lists {code} under {status}"
            );
        }
        for (code, _) in ERROR_CODES {
            assert!(
                CODES_OF_NO_OPERATION.contains(code) || listed.iter().any(|(_, _, c)| c == code),
                "no operation lists {code}"
            );
        }
    }

    #[test]
    fn decimal_patterns_spell_the_range() {
        // What the patterns match is checked through the schema validator in
        // tests/openapi.rs; here, their spelling at the limits the document uses.
        assert_eq!(
            decimal_pattern(1, 1_000_000_000_000_000_000),
            "^0*([1-9][0-9]{0,17}|1000000000000000000)$"
        );
        assert_eq!(
            decimal_pattern(0, 25),
            "^0*([1-9][0-9]{0,0}|[1-1][0-9]{1}|2[0-4]|25|0)$"
        );
    }

    #[test]
    fn the_date_pattern_is_the_year_range_of_request_dates() {
        assert_eq!(
            date_pattern(),
            "^2[0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
        );
    }
}
