//! The operations and schemas of `/v1/api-keys` (`server/api_keys.rs`) and the security
//! of the whole document (`server/auth.rs`, docs/auth.md), in the document's own helpers.

use serde_json::{json, Map, Value};

use super::{error_example, errors, example, examples, schema, storage_failed, unavailable, JSON};

/// The key id the revoke examples carry; the replay makes a key and puts its id here.
pub const EXAMPLE_KEY_ID: &str = "ak_5a5a5a5a5a5a5a5a5a5a5a5a";

/// The operations anyone may call, signed or not.
const OPEN: &[&str] = &["getHealth", "getOpenApi"];
/// The operations a merchant's key may call (for its own merchant); the operator's key
/// calls these and every other.
const MERCHANTS: &[&str] = &[
    "createPayment",
    "getPaymentByRequest",
    "cancelPayment",
    "createRefund",
    "cancelPaymentByRequest",
    "getMerchant",
    "getMerchantPayouts",
    "createApiKey",
    "listApiKeys",
    "revokeApiKey",
];

/// The three header schemes a signed request carries together.
pub fn security_schemes() -> Value {
    let header = |name: &str, description: &str| json!({ "type": "apiKey", "in": "header", "name": name, "description": description });
    json!({
        "omnibusKey": header("Omnibus-Key", "The API key's id, `ak_` and 24 hex digits."),
        "omnibusTimestamp": header("Omnibus-Timestamp", "The caller's clock in Unix milliseconds; within `server.auth_window_ms` of the server's."),
        "omnibusSignature": header("Omnibus-Signature", "`v1=` and the hex HMAC-SHA-256, under the key's secret (`sk_…` as 32 bytes), of `v1\\n<METHOD>\\n<path and query>\\n<timestamp>\\n<hex SHA-256 of the body>`. A signature is used once: a replay within the window is refused 401.")
    })
}

/// The requirement of a signed request: all three headers.
fn signed() -> Value {
    json!({ "omnibusKey": [], "omnibusTimestamp": [], "omnibusSignature": [] })
}

/// The document-wide requirement: signed, or nothing when authentication is off (a
/// loopback address, `server.auth`).
pub fn security() -> Value {
    json!([{}, signed()])
}

/// Gives each operation its security and its 401 and 403 answers.
pub fn secure(paths: &mut Value) {
    for (_, item) in paths.as_object_mut().expect("paths").iter_mut() {
        for (_, operation) in item.as_object_mut().expect("a path item").iter_mut() {
            let id = operation["operationId"].as_str().unwrap_or("").to_owned();
            if OPEN.contains(&id.as_str()) {
                operation["security"] = json!([{}]);
                continue;
            }
            let responses = operation["responses"].as_object_mut().expect("responses");
            responses.insert(
                "401".into(),
                errors(401, &["unauthorized"], "authentication is on and the request is not signed by an active key: a header missing, an unknown or revoked key, a timestamp outside the window, a signature that does not match, or a replay. Nothing changed.", examples(&[
                    ("unsigned", error_example("No key", "unauthorized", "the Omnibus-Key header is missing: sign the request (docs/auth.md)", None)),
                ])),
            );
            let forbidden = if MERCHANTS.contains(&id.as_str()) {
                "a merchant's key naming another merchant in the body."
            } else {
                "the operator's operation, called with a merchant's key."
            };
            responses.insert(
                "403".into(),
                errors(
                    403,
                    &["forbidden"],
                    forbidden,
                    examples(&[(
                        "merchant_key",
                        error_example(
                            "A merchant's key",
                            "forbidden",
                            "this key is a merchant's",
                            None,
                        ),
                    )]),
                ),
            );
            let mut map = Map::new();
            let mut keys: Vec<(String, Value)> = std::mem::take(responses).into_iter().collect();
            keys.sort_by(|a, b| a.0.cmp(&b.0));
            map.extend(keys);
            *responses = map;
        }
    }
}

fn key_example(owner: &str, merchant: Option<&str>, status: &str, secret: bool) -> Value {
    let mut v = json!({
        "key_id": EXAMPLE_KEY_ID, "owner": owner, "status": status,
        "created_at_ms": 1795262900000u64
    });
    if let Some(m) = merchant {
        v["merchant_id"] = json!(m);
    }
    if secret {
        v["secret"] = json!(format!("sk_{}", "3c".repeat(32)));
    }
    if status == "revoked" {
        v["revoked_at_ms"] = json!(1795263000000u64);
    }
    v
}

pub fn create_and_list() -> Value {
    json!({
        "post": {
            "operationId": "createApiKey",
            "tags": ["keys"],
            "summary": "Make an API key, and see its secret this once",
            "description": "The operator makes keys for itself (`{\"owner\": \"operator\"}`) and for any merchant (`{\"merchant_id\"}`); a merchant's key makes keys for its own merchant only (an empty body will do), which is how a merchant rotates its keys: make a new one, move to it, revoke the old. The secret is in this answer and nowhere else: the engine keeps no secret, it derives it from a server key outside its logs (docs/auth.md). The operator's first key is made with `omnibus api-key create --operator`.",
            "requestBody": { "required": true, "content": { JSON: {
                "schema": schema("ApiKeyCreate"),
                "examples": examples(&[
                    ("merchant", example("A key for merchant m2", json!({ "merchant_id": "m2" }))),
                    ("unknown_merchant", example("A merchant nobody onboarded", json!({ "merchant_id": "m9" }))),
                    ("bad_owner", example("An owner that is not one", json!({ "owner": "root" }))),
                ])
            }}},
            "responses": {
                "201": {
                    "description": "The key, with its secret.",
                    "content": { JSON: { "schema": schema("ApiKey"), "examples": examples(&[
                        ("merchant", example("m2's new key", key_example("merchant", Some("m2"), "active", true))),
                    ])}}
                },
                "400": errors(400, &["malformed_json", "invalid_field", "unknown_field"], "an owner that is not `operator` or `merchant`, or a malformed merchant id.", examples(&[
                    ("bad_owner", error_example("Not an owner", "invalid_field", "owner: must be \"operator\" or \"merchant\", got \"root\"", Some("owner"))),
                ])),
                "404": errors(404, &["not_found"], "no merchant has this id.", examples(&[
                    ("unknown_merchant", error_example("Unknown merchant", "not_found", "no merchant m9", None)),
                ])),
                "500": storage_failed(),
                "503": unavailable(&["overloaded", "shutting_down"])
            }
        },
        "get": {
            "operationId": "listApiKeys",
            "tags": ["keys"],
            "summary": "The keys: every key for the operator, its own for a merchant; no secrets",
            "responses": {
                "200": {
                    "description": "The keys, by id.",
                    "content": { JSON: { "schema": schema("ApiKeyList"), "examples": examples(&[
                        ("keys", example("m2's key", json!({ "api_keys": [ key_example("merchant", Some("m2"), "active", false) ] }))),
                    ])}}
                }
            }
        }
    })
}

pub fn revoke() -> Value {
    json!({ "post": {
        "operationId": "revokeApiKey",
        "tags": ["keys"],
        "summary": "Revoke a key for good",
        "description": "A revoked key signs nothing again; revoking it again answers the same. A merchant revokes its own keys only: another's is `not_found`.",
        "parameters": [ {
            "name": "key_id", "in": "path", "required": true,
            "schema": { "type": "string", "pattern": "^ak_[0-9a-f]{24}$" },
            "examples": {
                "revoked": { "summary": "A key just made", "value": EXAMPLE_KEY_ID },
                "unknown": { "summary": "A key nobody made", "value": "ak_000000000000000000000001" },
                "bad_id": { "summary": "Not a key id", "value": "key-1" }
            }
        } ],
        "responses": {
            "200": {
                "description": "The key, revoked.",
                "content": { JSON: { "schema": schema("ApiKey"), "examples": examples(&[
                    ("revoked", example("Revoked", key_example("merchant", Some("m2"), "revoked", false))),
                ])}}
            },
            "400": errors(400, &["invalid_field"], "a key id that is not `ak_` and 24 hex digits.", examples(&[
                ("bad_id", error_example("Not a key id", "invalid_field", "key_id: must be ak_ and 24 lowercase hex digits", Some("key_id"))),
            ])),
            "404": errors(404, &["not_found"], "no such key (or another merchant's).", examples(&[
                ("unknown", error_example("A key nobody made", "not_found", "no key ak_000000000000000000000001", None)),
            ])),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

pub fn schemas() -> Value {
    json!({
        "ApiKeyCreate": {
            "type": "object", "additionalProperties": false,
            "properties": {
                "owner": { "enum": ["operator", "merchant"], "description": "`merchant` (the default) with `merchant_id`, or `operator` (the operator's key only)." },
                "merchant_id": schema("MerchantId")
            }
        },
        "ApiKey": {
            "type": "object", "additionalProperties": false,
            "required": ["key_id", "owner", "status", "created_at_ms"],
            "properties": {
                "key_id": { "type": "string", "pattern": "^ak_[0-9a-f]{24}$" },
                "owner": { "enum": ["operator", "merchant"] },
                "merchant_id": schema("MerchantId"),
                "status": { "enum": ["active", "revoked"] },
                "created_at_ms": { "type": "integer", "minimum": 0 },
                "revoked_at_ms": { "type": "integer", "minimum": 0 },
                "secret": { "type": "string", "pattern": "^sk_[0-9a-f]{64}$", "description": "Only in the answer that makes the key." }
            }
        },
        "ApiKeyList": {
            "type": "object", "additionalProperties": false, "required": ["api_keys"],
            "properties": { "api_keys": { "type": "array", "items": schema("ApiKey") } }
        }
    })
}
