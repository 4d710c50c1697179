//! The operations and schemas of the division accounts of seed 001(a)
//! (`server/divisions.rs`, INSTRUMENTS.md §1.7), in the document's own helpers. A number
//! and an activation code are random: the activation's example carries placeholders,
//! which the replay test fills from the issue it replayed before
//! ([`EXAMPLE_DIVISION_NUMBER`], [`EXAMPLE_ACTIVATION_CODE`]).

use serde_json::{json, Value};

use super::{
    body_too_large, error_example, errors, example, examples, json_body, ok, schema,
    storage_failed, unavailable, unsupported_media_type, BODY_400,
};

/// The division number the activation examples carry; the replay test puts the one the
/// issue's example was given in its place.
pub const EXAMPLE_DIVISION_NUMBER: &str = "DA-1234567890128";
/// The activation code the activation examples carry (filled in like the number).
pub const EXAMPLE_ACTIVATION_CODE: &str = "12345678";

fn controls() -> Value {
    json!({ "per_tx_max_krw": 50000, "period": "MONTH", "period_budget_krw": 100000 })
}

fn slave() -> Value {
    json!({ "name": "Kim Hana", "birth_date": "2001-04-01", "phone": "01011112222", "controls": controls() })
}

fn identity() -> Value {
    json!({ "name": "Kim Hana", "birth_date": "2001-04-01", "phone": "01011112222" })
}

fn account(status: &str) -> Value {
    json!({
        "instrument_id": "da_1001_1", "master": "1001", "division_no": "DA-*********0128",
        "status": status, "slave_name": "Kim Hana", "slave_birth_date": "2001-04-01",
        "controls": {
            "per_tx_max_krw": 50000, "period": "MONTH", "period_budget_krw": 100000,
            "valid_from_ms": null, "valid_until_ms": null,
            "blocked_categories": [], "allowed_merchants": []
        },
        "spent_in_period_krw": 0, "reserved_krw": 0, "failed_pin_count": 0,
        "auto_top_up": false, "issued_at_ms": 1_795_262_400_000u64, "version": 1
    })
}

fn id_path(examples: Value) -> Value {
    json!({
        "name": "instrument_id", "in": "path", "required": true,
        "schema": schema("DivisionInstrumentId"),
        "examples": examples
    })
}

fn customer_path(names: &[&str]) -> Value {
    let mut all = serde_json::Map::new();
    for name in names {
        all.insert(
            (*name).into(),
            json!({ "summary": "Customer 1001, the master", "value": "1001" }),
        );
    }
    json!({
        "name": "id", "in": "path", "required": true,
        "schema": schema("CustomerIdText"),
        "examples": all
    })
}

fn unknown_account() -> Value {
    errors(
        404,
        &["not_found"],
        "no such division account.",
        examples(&[(
            "unknown",
            error_example(
                "An unknown account",
                "not_found",
                "no division account da_1001_9",
                None,
            ),
        )]),
    )
}

/// `POST` and `GET /v1/customers/{id}/division-accounts`.
pub fn of_master() -> Value {
    let mut second = slave();
    second["name"] = json!("Kim Dul");
    second["phone"] = json!("01033334444");
    let issue = json!({
        "bank": "004", "account_no": "110-123-456789", "holder_name": "Kim",
        "slaves": [slave(), second]
    });
    let mut elsewhere = issue.clone();
    elsewhere["account_no"] = json!("110-999");
    let mut none = issue.clone();
    none["slaves"] = json!([]);
    let mut issued = account("PENDING_ACTIVATION");
    issued["division_no"] = json!(EXAMPLE_DIVISION_NUMBER);
    issued["activation_code"] = json!(EXAMPLE_ACTIVATION_CODE);
    let mut issued_2 = issued.clone();
    issued_2["instrument_id"] = json!("da_1001_2");
    issued_2["slave_name"] = json!("Kim Dul");
    issued_2["division_no"] = json!("DA-5555555555554");
    issued_2["activation_code"] = json!("87654321");
    json!({
        "post": {
            "operationId": "issueDivisionAccounts",
            "tags": ["division accounts"],
            "summary": "Issue division accounts to a master's slaves (INSTRUMENTS.md §1.3 I1–I4)",
            "description": "The master names its linked account (D-1.2), its holder's name and one application per slave: name, birth date, phone, `guardian_consent` for a slave under 14 (D-1.6), `auto_top_up` (a short balance charged from the linked account first), and the controls (a budget per KST month or day is required; `per_tx_max_krw` 300,000 by default and at most `payments.sale_max_krw`; a year's validity). The master must be tradable; then `BS.verify_account` asks the bank that the account is open in that name. All or none: each account PENDING_ACTIVATION with a `DA-` number of 13 digits (D-1.3) and an 8-digit activation code valid 72 hours (D-1.12), both shown this once (`Cache-Control: no-store`); no PIN exists until the slave sets one. At most `payments.divisions_per_master_max` open accounts per master.",
            "parameters": [customer_path(&["issued", "not_linked", "no_slaves"])],
            "requestBody": json_body("DivisionIssue", examples(&[
                ("issued", example("Two slaves, each with a monthly budget of 100,000", issue)),
                ("not_linked", example("Another account than the master's linked one", elsewhere)),
                ("no_slaves", example("No slave", none)),
            ])),
            "responses": {
                "201": { "description": "Issued", "content": { "application/json": {
                    "schema": { "type": "object", "additionalProperties": false, "required": ["accounts"], "properties": {
                        "accounts": { "type": "array", "items": schema("IssuedDivisionAccount") }
                    }},
                    "examples": examples(&[("issued", example("Two accounts, their numbers and codes shown once", json!({ "accounts": [issued, issued_2] })))])
                }}},
                "400": errors(400, BODY_400, "a field is missing, unknown, malformed or `null`; no slave.", examples(&[
                    ("no_slaves", error_example("No slave", "invalid_field", "slaves: 1 to 1000 items, got 0", Some("slaves"))),
                ])),
                "404": errors(404, &["unknown_customer"], "no such customer.", examples(&[
                    ("unknown", error_example("No such customer", "unknown_customer", "customer 999999 does not exist", None)),
                ])),
                "422": errors(422, &["account_not_linked", "owner_not_tradable", "too_many_instruments", "controls_invalid", "guardian_consent_required", "holder_mismatch", "account_not_verified", "issue_refused"], "refused by I1 or by the bank at I2; nothing is created.", examples(&[
                    ("not_linked", error_example("Not the linked account", "account_not_linked", "004/110-999 is not customer 1001's linked account", None)),
                ])),
                "413": body_too_large(),
                "415": unsupported_media_type(),
                "500": storage_failed(),
                "503": unavailable(&["overloaded", "shutting_down", "rail_unavailable"])
            }
        },
        "get": {
            "operationId": "listDivisionAccounts",
            "tags": ["division accounts"],
            "summary": "A master's division accounts, numbers masked",
            "parameters": [customer_path(&["listed"])],
            "responses": {
                "200": ok("The accounts, in the order issued", "DivisionAccounts", examples(&[
                    ("listed", example("Two accounts, neither activated yet", json!({ "accounts": [account("PENDING_ACTIVATION"), account("PENDING_ACTIVATION")] }))),
                ])),
                "503": unavailable(&["overloaded", "shutting_down"])
            }
        }
    })
}

/// `POST /v1/division-accounts/activations`.
pub fn activate() -> Value {
    let body = |code: &str| {
        json!({
            "division_no": EXAMPLE_DIVISION_NUMBER, "activation_code": code,
            "identity_check": identity(), "pin": "135790"
        })
    };
    let activation_400: Vec<&str> = BODY_400
        .iter()
        .copied()
        .chain(["invalid_request"])
        .collect();
    let mut stranger = body(EXAMPLE_ACTIVATION_CODE);
    stranger["identity_check"]["name"] = json!("Park Dul");
    json!({ "post": {
        "operationId": "activateDivisionAccount",
        "tags": ["division accounts"],
        "summary": "The slave's activation with the code and a PIN of their own (§1.3 I5, D-1.12)",
        "description": "The number, the activation code the master handed over, the mobile identity check's finding (name, birth date and phone, compared with what the master gave at I1) and a new 6-digit PIN, kept only as a keyed MAC. ACTIVE after it. A wrong code or identity is refused and counted: the fifth wrong try voids the code (the master asks for a new one with a PIN reset). An unknown number is refused like a wrong code, so that numbers cannot be probed.",
        "requestBody": json_body("DivisionActivation", examples(&[
            ("identity_refused", example("Someone else's identity", stranger)),
            ("slave_activates", example("The slave, with the code", body(EXAMPLE_ACTIVATION_CODE))),
            ("used_again", example("The code again, once used", body(EXAMPLE_ACTIVATION_CODE))),
        ])),
        "responses": {
            "200": ok("The account, ACTIVE", "DivisionAccount", examples(&[
                ("slave_activates", example("Active", account("ACTIVE"))),
            ])),
            "400": errors(400, &activation_400, "a field is missing, unknown, malformed or `null`; a PIN not of 6 digits.", examples(&[
                ("short_pin", error_example("A PIN of 4 digits", "invalid_request", "pin: 6 digits", None)),
            ])),
            "422": errors(422, &["activation_code_invalid", "identity_check_failed"], "a wrong, expired, void or used code (or an unknown number), or an identity that is not the slave's.", examples(&[
                ("identity_refused", error_example("Another name", "identity_check_failed", "da_1001_1: the activation was refused", None)),
                ("used_again", error_example("No code outstanding", "activation_code_invalid", "da_1001_1: no activation code outstanding", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

/// `GET` and `PATCH /v1/division-accounts/{instrument_id}`.
pub fn item() -> Value {
    let mut suspended = account("SUSPENDED");
    suspended["version"] = json!(3);
    let mut active = account("ACTIVE");
    active["version"] = json!(4);
    json!({
        "get": {
            "operationId": "getDivisionAccount",
            "tags": ["division accounts"],
            "summary": "A division account, with the period's spending (number masked)",
            "parameters": [id_path(examples(&[
                ("found", example("The master's first account", json!("da_1001_1"))),
                ("unknown", example("No such account", json!("da_1001_9"))),
            ]))],
            "responses": {
                "200": ok("The account", "DivisionAccount", examples(&[("found", example("Active", account("ACTIVE")))])),
                "400": errors(400, &["invalid_field"], "not a division account's id.", examples(&[
                    ("malformed", error_example("Not da_<master>_<seq>", "invalid_field", "instrument_id: instrument_id \"x\" is not da_<master>_<seq>", Some("instrument_id"))),
                ])),
                "404": unknown_account(),
                "503": unavailable(&["overloaded", "shutting_down"])
            }
        },
        "patch": {
            "operationId": "changeDivisionAccount",
            "tags": ["division accounts"],
            "summary": "The master's change: suspend, resume, unlock, close, or new controls (§1.3 F3)",
            "description": "Only the master changes an account. Unlocking sets the count of wrong PINs to zero and keeps the slave's PIN; resuming an account whose slave never set a PIN waits for the activation; closing is for good (approvals given stand, their refunds still credit the master, and the account no longer counts toward the most a master holds). New controls are checked as at the issue; a change of the budget's period starts its counting afresh. A PIN reset is `POST .../pin`.",
            "parameters": [id_path(examples(&[
                ("paused", example("The master's first account", json!("da_1001_1"))),
                ("resumed", example("The master's first account", json!("da_1001_1"))),
                ("bad_action", example("The master's first account", json!("da_1001_1"))),
            ]))],
            "requestBody": json_body("DivisionChange", examples(&[
                ("paused", example("Suspend", json!({ "action": "suspend" }))),
                ("resumed", example("Resume", json!({ "action": "resume" }))),
                ("bad_action", example("An action that does not exist", json!({ "action": "freeze" }))),
            ])),
            "responses": {
                "200": ok("The account after the change", "DivisionAccount", examples(&[
                    ("paused", example("Suspended", suspended)),
                    ("resumed", example("Active again", active)),
                ])),
                "400": errors(400, BODY_400, "a field is missing, unknown, malformed or `null`; neither an action nor controls.", examples(&[
                    ("bad_action", error_example("freeze", "invalid_field", "action: suspend, resume, unlock or close, got \"freeze\" (a PIN reset is POST .../pin)", Some("action"))),
                ])),
                "404": unknown_account(),
                "409": errors(409, &["invalid_state"], "the status does not allow the action (a closed account stays closed).", examples(&[
                    ("closed", error_example("Resuming a closed account", "invalid_state", "da_1001_1: the account is closed", None)),
                ])),
                "422": errors(422, &["controls_invalid"], "controls that cannot hold.", examples(&[
                    ("no_budget", error_example("A budget of 0", "controls_invalid", "period_budget_krw must be given, above 0", None)),
                ])),
                "413": body_too_large(),
                "415": unsupported_media_type(),
                "500": storage_failed(),
                "503": unavailable(&["overloaded", "shutting_down"])
            }
        }
    })
}

/// `POST /v1/division-accounts/{instrument_id}/pin`.
pub fn pin() -> Value {
    let mut pending = account("PENDING_ACTIVATION");
    pending["version"] = json!(2);
    pending["instrument_id"] = json!("da_1001_2");
    pending["slave_name"] = json!("Kim Dul");
    json!({ "post": {
        "operationId": "changeDivisionPin",
        "tags": ["division accounts"],
        "summary": "The slave's change of their PIN, or the master's reset (§1.3 F3)",
        "description": "`{current_pin, new_pin}`: the slave, with the current PIN (a wrong one counts toward the lock as at a payment: the fifth in a row locks the account). `{action: \"reset\"}`: the master; the account goes back to PENDING_ACTIVATION with a new activation code, shown this once, and the slave sets a new PIN at the activation. The master never sees a PIN.",
        "parameters": [id_path(examples(&[
            ("changed", example("The master's first account", json!("da_1001_1"))),
            ("mistyped_pin", example("The master's first account", json!("da_1001_1"))),
            ("reset", example("The master's second account", json!("da_1001_2"))),
            ("both", example("The master's first account", json!("da_1001_1"))),
        ]))],
        "requestBody": json_body("DivisionPin", examples(&[
            ("changed", example("The slave's new PIN", json!({ "current_pin": "135790", "new_pin": "975310" }))),
            ("mistyped_pin", example("A wrong current PIN", json!({ "current_pin": "000000", "new_pin": "111111" }))),
            ("reset", example("The master's reset", json!({ "action": "reset" }))),
            ("both", example("A reset and a change at once", json!({ "action": "reset", "current_pin": "975310", "new_pin": "111111" }))),
        ])),
        "responses": {
            "200": { "description": "The account (and, for a reset, the new activation code)", "content": { "application/json": {
                "schema": { "oneOf": [
                    schema("DivisionAccount"),
                    { "type": "object", "additionalProperties": false, "required": ["account", "activation_code"], "properties": {
                        "account": schema("DivisionAccount"),
                        "activation_code": { "type": "string", "pattern": "^[0-9]{8}$" }
                    }}
                ]},
                "examples": examples(&[
                    ("changed", example("The new PIN set", account("ACTIVE"))),
                    ("reset", example("PENDING_ACTIVATION with a new code", json!({ "account": pending, "activation_code": EXAMPLE_ACTIVATION_CODE }))),
                ])
            }}},
            "400": errors(400, BODY_400, "a field is missing, unknown, malformed or `null`; neither a reset nor a change, or both.", examples(&[
                ("both", error_example("Both", "invalid_field", "action: send {\"action\": \"reset\"} (the master) or {\"current_pin\", \"new_pin\"} (the slave)", Some("action"))),
            ])),
            "404": unknown_account(),
            "409": errors(409, &["invalid_state"], "not ACTIVE (a change), or a closed account.", examples(&[
                ("suspended", error_example("A suspended account", "invalid_state", "da_1001_1: the account is Suspended", None)),
            ])),
            "422": errors(422, &["wrong_secret", "locked"], "the current PIN is wrong (counted), or the account is locked.", examples(&[
                ("mistyped_pin", error_example("A wrong PIN", "wrong_secret", "da_1001_1: the current PIN is wrong", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

/// `GET /v1/division-accounts/{instrument_id}/authorizations`.
pub fn authorizations() -> Value {
    json!({ "get": {
        "operationId": "listDivisionAuthorizations",
        "tags": ["division accounts"],
        "summary": "An account's payments, approved and declined, newest first (§1.7, F4)",
        "parameters": [
            id_path(examples(&[
                ("listed", example("The master's first account", json!("da_1001_1"))),
                ("unknown", example("No such account", json!("da_1001_9"))),
            ])),
            {
                "name": "limit", "in": "query", "required": false,
                "description": "At most this many (and at most `payments.authorizations_list_max`).",
                "schema": { "type": "integer", "minimum": 0 },
                "examples": {
                    "listed": { "summary": "The last 10", "value": 10 },
                    "unknown": { "summary": "The last 10", "value": 10 }
                }
            }
        ],
        "responses": {
            "200": ok("The authorizations", "DivisionAuthorizations", examples(&[
                ("listed", example("None yet", json!({ "authorizations": [] }))),
            ])),
            "400": errors(400, &["invalid_field", "unknown_field"], "a bad limit, or a query parameter that is not `limit`.", examples(&[
                ("bad_limit", error_example("A limit of -1", "invalid_field", "limit: invalid digit found in string", Some("limit"))),
            ])),
            "404": unknown_account(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

pub fn schemas() -> Value {
    let controls = json!({
        "type": "object", "additionalProperties": false,
        "required": ["period_budget_krw"],
        "properties": {
            "per_tx_max_krw": { "type": "integer", "minimum": 1 },
            "period": { "enum": ["MONTH", "DAY", "month", "day"] },
            "period_budget_krw": { "type": "integer", "minimum": 1 },
            "valid_from_ms": { "type": "integer", "minimum": 0 },
            "valid_until_ms": { "type": "integer", "minimum": 0 },
            "blocked_categories": { "type": "array", "items": schema("Tag"), "maxItems": 100 },
            "allowed_merchants": { "type": "array", "items": { "type": "string" }, "maxItems": 100 }
        }
    });
    let person = json!({
        "name": { "type": "string", "minLength": 1 },
        "birth_date": { "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$" },
        "phone": { "type": "string", "pattern": "^[0-9]{10,11}$" }
    });
    let mut slave = person.clone();
    slave["guardian_consent"] = json!({ "type": "boolean", "description": "The master's consent as the legal guardian (required under 14, D-1.6)." });
    slave["auto_top_up"] = json!({ "type": "boolean", "description": "Charge a short balance from the master's linked account first (D-1.2)." });
    slave["controls"] = controls.clone();
    let account_properties = json!({
        "instrument_id": schema("DivisionInstrumentId"),
        "master": { "type": "string", "pattern": "^[1-9][0-9]*$" },
        "division_no": { "type": "string", "pattern": "^DA-\\*{9}[0-9]{4}$", "description": "Masked but for its last 4 digits." },
        "status": { "enum": ["PENDING_ACTIVATION", "ACTIVE", "SUSPENDED", "LOCKED", "CLOSED"] },
        "slave_name": { "type": "string" },
        "slave_birth_date": { "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$" },
        "controls": {
            "type": "object", "additionalProperties": false,
            "required": ["per_tx_max_krw", "period", "period_budget_krw", "valid_from_ms", "valid_until_ms", "blocked_categories", "allowed_merchants"],
            "properties": {
                "per_tx_max_krw": { "type": ["integer", "null"] },
                "period": { "enum": ["MONTH", "DAY"] },
                "period_budget_krw": { "type": "integer", "minimum": 1 },
                "valid_from_ms": { "type": ["integer", "null"] },
                "valid_until_ms": { "type": ["integer", "null"] },
                "blocked_categories": { "type": "array", "items": { "type": "string" } },
                "allowed_merchants": { "type": "array", "items": { "type": "string" } }
            }
        },
        "spent_in_period_krw": { "type": "integer", "minimum": 0 },
        "reserved_krw": { "type": "integer", "minimum": 0 },
        "failed_pin_count": { "type": "integer", "minimum": 0, "maximum": 5 },
        "auto_top_up": { "type": "boolean" },
        "issued_at_ms": { "type": "integer", "minimum": 0 },
        "version": { "type": "integer", "minimum": 1 }
    });
    let account_required = json!([
        "instrument_id",
        "master",
        "division_no",
        "status",
        "slave_name",
        "slave_birth_date",
        "controls",
        "spent_in_period_krw",
        "reserved_krw",
        "failed_pin_count",
        "auto_top_up",
        "issued_at_ms",
        "version"
    ]);
    let mut issued_properties = account_properties.clone();
    issued_properties["division_no"] = json!({ "type": "string", "pattern": "^DA-[0-9]{13}$", "description": "The full number, shown this once." });
    issued_properties["activation_code"] = json!({ "type": "string", "pattern": "^[0-9]{8}$", "description": "Valid 72 hours, shown this once." });
    let mut issued_required = account_required.clone();
    issued_required
        .as_array_mut()
        .unwrap()
        .push(json!("activation_code"));
    json!({
        "DivisionInstrumentId": {
            "type": "string", "pattern": "^da_[1-9][0-9]*_[1-9][0-9]*$",
            "description": "A division account's id: `da_<master>_<seq>`, its master and its number among the master's accounts.",
            "examples": ["da_1001_1"]
        },
        "DivisionIssue": {
            "type": "object", "additionalProperties": false,
            "required": ["bank", "account_no", "holder_name", "slaves"],
            "properties": {
                "bank": { "type": "string", "pattern": "^[0-9]{3}$" },
                "account_no": { "type": "string" },
                "holder_name": { "type": "string", "minLength": 1 },
                "slaves": { "type": "array", "minItems": 1, "maxItems": 1000, "items": {
                    "type": "object", "additionalProperties": false,
                    "required": ["name", "birth_date", "phone", "controls"],
                    "properties": slave
                }}
            }
        },
        "DivisionActivation": {
            "type": "object", "additionalProperties": false,
            "required": ["division_no", "activation_code", "identity_check", "pin"],
            "properties": {
                "division_no": { "type": "string" },
                "activation_code": { "type": "string" },
                "identity_check": { "type": "object", "additionalProperties": false, "required": ["name", "birth_date", "phone"], "properties": person },
                "pin": { "type": "string", "pattern": "^[0-9]{6}$", "description": "The slave's new PIN; never stored, logged or shown." }
            }
        },
        "DivisionChange": {
            "type": "object", "additionalProperties": false,
            "minProperties": 1,
            "properties": {
                "action": { "enum": ["suspend", "resume", "unlock", "close"] },
                "controls": controls
            }
        },
        "DivisionPin": {
            "oneOf": [
                { "type": "object", "additionalProperties": false, "required": ["action"], "properties": { "action": { "const": "reset" } } },
                { "type": "object", "additionalProperties": false, "required": ["current_pin", "new_pin"], "properties": {
                    "current_pin": { "type": "string" },
                    "new_pin": { "type": "string", "pattern": "^[0-9]{6}$" }
                }}
            ]
        },
        "DivisionAccount": {
            "type": "object", "additionalProperties": false,
            "required": account_required,
            "properties": account_properties
        },
        "IssuedDivisionAccount": {
            "type": "object", "additionalProperties": false,
            "required": issued_required,
            "properties": issued_properties
        },
        "DivisionAccounts": {
            "type": "object", "additionalProperties": false, "required": ["accounts"],
            "properties": { "accounts": { "type": "array", "items": schema("DivisionAccount") } }
        },
        "DivisionAuthorizations": {
            "type": "object", "additionalProperties": false, "required": ["authorizations"],
            "properties": { "authorizations": { "type": "array", "items": schema("PaymentAnswer") } }
        }
    })
}
