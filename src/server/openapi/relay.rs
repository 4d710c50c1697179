// Over 600 lines: fourteen operations of §2.7 with their examples, which replay in one sequence.
//! The operations and schemas of the virtual-account relay of seed 001(b)
//! (`server/relay.rs`, INSTRUMENTS.md §2.7), in the document's own helpers. The examples
//! replay in order against a fresh server with two shards, where partner P lives in shard
//! 1 and the simulated bank 004 numbers P's VAs `0040000001` on: leases `vl_1`…`vl_3`
//! (O-1001, O-1002, O-1003), deposits `vd_1_1` (matched), `vd_1_2` (short) and `vd_1_3`
//! (into a VA nobody leased).

use serde_json::{json, Value};

use super::{
    body_too_large, error_example, errors, example, examples, json_body, ok, schema,
    storage_failed, unavailable, unsupported_media_type, BODY_400,
};

const AT: u64 = 1_795_262_400_000;

fn partner_path(pairs: &[(&str, &str)]) -> Value {
    let all: Vec<(&str, Value)> = pairs
        .iter()
        .map(|(name, p)| (*name, example("A partner", json!(p))))
        .collect();
    json!({
        "name": "partner_id", "in": "path", "required": true,
        "schema": schema("PartnerId"), "examples": examples(&all)
    })
}

fn text_path(name: &str, schema_name: &str, pairs: &[(&str, &str)]) -> Value {
    let all: Vec<(&str, Value)> = pairs
        .iter()
        .map(|(example_name, v)| (*example_name, example(v, json!(v))))
        .collect();
    json!({
        "name": name, "in": "path", "required": true,
        "schema": schema(schema_name), "examples": examples(&all)
    })
}

fn bank_path(names: &[&str]) -> Value {
    let pairs: Vec<(&str, &str)> = names.iter().map(|n| (*n, "004")).collect();
    text_path("bank", "BankCode", &pairs)
}

fn not_found(what: &str, message: &str, name: &str) -> Value {
    errors(
        404,
        &["not_found"],
        &format!("no such {what}."),
        examples(&[(
            name,
            error_example(&format!("An unknown {what}"), "not_found", message, None),
        )]),
    )
}

fn body_errors() -> Value {
    errors(
        400,
        BODY_400,
        "the body is not a valid request.",
        examples(&[(
            "malformed",
            error_example(
                "Not JSON",
                "malformed_json",
                "the body is not JSON: expected value at line 1 column 1",
                None,
            ),
        )]),
    )
}

fn pool(free: u64, leased: u64) -> Value {
    json!({ "bank": "004", "region": "SEOUL", "target": 100, "real_time": false,
            "size": 100, "free": free, "leased": leased, "cooling": 0 })
}

fn partner(pools: Value) -> Value {
    json!({
        "partner_id": "P", "mode": "A", "merchant_id": null, "default_match_mode": "exact", "region_fallback": false,
        "cooldown_ms": 2_592_000_000u64, "lease_life_ms": 259_200_000u64,
        "expected_leases_per_day": null, "webhook_url": "", "pools": pools, "warnings": []
    })
}

fn lease(
    id: &str,
    order: &str,
    va: &str,
    amount: u64,
    state: &str,
    paid: u64,
    deposits: &[&str],
) -> Value {
    json!({
        "lease_id": id, "partner_id": "P", "order_no": order, "customer": "Kim Cheolsu",
        "bank": "004", "region": "SEOUL", "va_no": va, "match_mode": "exact",
        "expected_amount_krw": amount, "min_amount_krw": null, "max_amount_krw": null,
        "state": state, "paid_krw": paid, "created_at_ms": AT, "due_at_ms": AT + 259_200_000,
        "closed_at_ms": if state == "OPEN" { Value::Null } else { json!(AT + 1_000) },
        "deposit_ids": deposits
    })
}

fn deposit(id: &str, tx: &str, va: &str, amount: u64, state: &str, lease: Option<&str>) -> Value {
    let matched = matches!(state, "MATCHED" | "ASSIGNED");
    json!({
        "deposit_id": id, "partner_id": "P", "bank": "004", "bank_tx_id": tx, "va_no": va,
        "amount_krw": amount, "depositor_name": "Kim Cheolsu", "channel": "internet",
        "state": state, "lease_id": if matched { json!(lease) } else { Value::Null },
        "previous_lease_id": if matched { Value::Null } else { json!(lease) },
        "credited_krw": if matched { amount } else { 0 }, "excess_krw": 0,
        "name_differs": false, "late": false, "at_ms": AT + 1_000, "received_at_ms": AT + 1_000,
        "settled_at_ms": null
    })
}

fn receipt(deposit: Value, duplicate: bool, lease: Value) -> Value {
    let mut r = deposit;
    r["duplicate"] = json!(duplicate);
    r["lease"] = lease;
    r
}

/// `POST /v1/partners`.
pub fn partners() -> Value {
    let configured = json!({ "partner_id": "P", "mode": "A",
        "pools": [{ "bank": "004", "region": "SEOUL", "target": 100 }] });
    json!({ "post": {
        "operationId": "setPartner",
        "tags": ["virtual-account relay"],
        "summary": "Configure a partner and top its pools up (INSTRUMENTS.md §2.3 S10–S12)",
        "description": "A partner of the relay with its pools of virtual accounts per (bank, region): each pool's `target` (D-2.9; 1,000 by default) and whether its bank may number a VA in real time when the pool is empty. The pools are topped up at once through the banks' virtual-account systems. Mode A (the patent): deposits land in the partner's own accounts and omnibus moves no money. Mode B (D-2.1): the partner collects for the onboarded merchant `merchant_id`; its VAs are opened under omnibus's `va_parent[bank]` (booked as the bank's withdrawal firm account, so a pool's bank must be one of `banks.withdrawal_firm`), and each deposit is credited by the securities firm to `merchant[p]`, or to `suspense` when it does not match (docs/relay.md). A partner's mode and merchant are fixed once configured. Mode C is not built yet and is refused `invalid_request`. Configuring a partner again replaces its settings. The answer lists a warning for a target below D-2.9's formula.",
        "requestBody": json_body("PartnerSetup", examples(&[
            ("configured", example("Newspaper P, 100 VAs at bank 004 in Seoul", configured)),
            ("mode_c", example("Mode C (not built yet)", json!({ "partner_id": "P", "mode": "C", "pools": [{ "bank": "004" }] }))),
            ("no_pools", example("No pools", json!({ "partner_id": "P", "mode": "A" }))),
        ])),
        "responses": {
            "200": ok("The partner, its pools after the top-up", "Partner", examples(&[
                ("configured", example("100 VAs opened at bank 004", partner(json!([pool(100, 0)])))),
            ])),
            "400": errors(400, &["malformed_json", "malformed_body", "missing_field", "unknown_field", "invalid_field", "invalid_request"], "a bad body, or a partner the relay does not take (mode B without an active merchant or at a bank with no va_parent, a change of mode, mode C).", examples(&[
                ("mode_c", error_example("Mode C", "invalid_request", "mode C (deposits that charge a customer's balance) is not built yet (docs/relay.md)", None)),
                ("no_pools", error_example("No pools", "missing_field", "missing field `pools`", Some("pools"))),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

/// `GET /v1/partners/{partner_id}`.
pub fn partner_item() -> Value {
    json!({ "get": {
        "operationId": "getPartner",
        "tags": ["virtual-account relay"],
        "summary": "A partner and how its pools stand",
        "parameters": [partner_path(&[("found", "P"), ("unknown", "Q")])],
        "responses": {
            "200": ok("The partner", "Partner", examples(&[
                ("found", example("P with one lease open", partner(json!([pool(98, 2)])))),
            ])),
            "404": not_found("partner", "no such partner", "unknown"),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

/// `POST /v1/partners/{partner_id}/va-leases`.
pub fn leases() -> Value {
    let ask = |order: &str, amount: u64, bank: &str| {
        json!({
        "order_no": order, "customer": "Kim Cheolsu", "bank": bank, "region": "SEOUL",
        "expected_amount_krw": amount })
    };
    json!({ "post": {
        "operationId": "createVaLease",
        "tags": ["virtual-account relay"],
        "summary": "Lease a virtual account to an order (S16–S20)",
        "description": "One VA of the partner's pool at the bank and region asked (`any` by default; D-2.10), never-leased ones first (D-2.11), leased to the order until it is paid (COMPLETED), it falls due (EXPIRED, `due_at_ms`: 72 hours by default, at most 30 days; D-2.6) or the partner cancels it. The lease is durable before the answer. Idempotent by (partner, `order_no`) (D-2.12): the same request again answers the same lease while it is OPEN or PARTIAL; other fields are refused `idempotency_conflict`; a paid order `order_already_paid`; an expired or cancelled order gets a new lease. `match_mode` (D-2.3): `exact` (default; the deposit must equal `expected_amount_krw`), `accumulate` (deposits add up to it), `open` (any amount within `min_amount_krw`…`max_amount_krw`). An empty pool falls back to the bank's real-time numbering where the pool allows it, else `no_virtual_account_available`.",
        "parameters": [partner_path(&[("leased", "P"), ("second", "P"), ("third", "P"), ("conflict", "P"), ("other_bank", "P")])],
        "requestBody": json_body("VaLeaseRequest", examples(&[
            ("leased", example("Order O-1001, 15,000 won at bank 004", ask("O-1001", 15_000, "004"))),
            ("second", example("Order O-1002, 20,000 won", ask("O-1002", 20_000, "004"))),
            ("third", example("Order O-1003, 5,000 won", ask("O-1003", 5_000, "004"))),
            ("conflict", example("O-1001 again with another amount", ask("O-1001", 16_000, "004"))),
            ("other_bank", example("A bank P has no pool at", ask("O-1009", 1_000, "088"))),
        ])),
        "responses": {
            "200": ok("The lease (the same one for a repeat)", "VaLease", examples(&[
                ("leased", example("K-0001 leased to O-1001", lease("vl_1", "O-1001", "0040000001", 15_000, "OPEN", 0, &[]))),
                ("second", example("K-0002, never K-0001", lease("vl_2", "O-1002", "0040000002", 20_000, "OPEN", 0, &[]))),
                ("third", example("K-0003", lease("vl_3", "O-1003", "0040000003", 5_000, "OPEN", 0, &[]))),
            ])),
            "400": body_errors(),
            "404": not_found("partner", "no such partner", "unknown_partner"),
            "409": errors(409, &["idempotency_conflict"], "the order has an open lease with other fields.", examples(&[
                ("conflict", error_example("Another amount", "idempotency_conflict", "order \"O-1001\" has an open lease with other fields", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "422": errors(422, &["bank_not_available", "no_virtual_account_available", "order_already_paid"], "the partner has no VA at that bank, none is free, or the order is paid.", examples(&[
                ("other_bank", error_example("No pool at bank 088", "bank_not_available", "the partner has no virtual accounts at bank 088", None)),
            ])),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down", "rail_unavailable"])
        }
    }})
}

/// `GET` and `DELETE /v1/partners/{partner_id}/va-leases/{lease_id}`.
pub fn lease_item() -> Value {
    let id = |pairs: &[(&str, &str)]| text_path("lease_id", "LeaseId", pairs);
    json!({
        "get": {
            "operationId": "getVaLease",
            "tags": ["virtual-account relay"],
            "summary": "A lease as it stands (2DB)",
            "parameters": [partner_path(&[("found", "P"), ("unknown", "P")]), id(&[("found", "vl_1"), ("unknown", "vl_99")])],
            "responses": {
                "200": ok("The lease", "VaLease", examples(&[
                    ("found", example("O-1001, open", lease("vl_1", "O-1001", "0040000001", 15_000, "OPEN", 0, &[]))),
                ])),
                "404": not_found("lease", "no such lease", "unknown"),
                "500": storage_failed(),
                "503": unavailable(&["overloaded", "shutting_down"])
            }
        },
        "delete": {
            "operationId": "cancelVaLease",
            "tags": ["virtual-account relay"],
            "summary": "The partner cancels an open lease (D-2.18)",
            "description": "The lease CANCELLED and its VA cooling (D-2.7): a later deposit into it is UNLEASED. A cancelled lease cancelled again answers the same; a lease paid in part, paid, or expired is refused `invalid_state`.",
            "parameters": [partner_path(&[("cancelled", "P"), ("unknown_lease", "P")]), id(&[("cancelled", "vl_2"), ("unknown_lease", "vl_99")])],
            "responses": {
                "200": ok("The lease, cancelled", "VaLease", examples(&[
                    ("cancelled", example("O-1002 cancelled", lease("vl_2", "O-1002", "0040000002", 20_000, "CANCELLED", 0, &[]))),
                ])),
                "404": not_found("lease", "no such lease", "unknown_lease"),
                "409": errors(409, &["invalid_state"], "the lease is not OPEN.", examples(&[
                    ("paid", error_example("A paid lease", "invalid_state", "a lease Completed cannot be cancelled; only an OPEN one can", None)),
                ])),
                "500": storage_failed(),
                "503": unavailable(&["overloaded", "shutting_down"])
            }
        }
    })
}

fn notice(tx: &str, va: &str, amount: u64) -> Value {
    json!({ "bank_tx_id": tx, "va_no": va, "amount_krw": amount, "depositor_name": "Kim Cheolsu", "channel": "internet" })
}

/// `POST /v1/banks/{bank}/va-deposits`.
pub fn deposits() -> Value {
    json!({ "post": {
        "operationId": "createVaDeposit",
        "tags": ["virtual-account relay"],
        "summary": "A bank's notice of a deposit into a VA (S22–S30)",
        "description": "Written to `va_deposit_log` with its match before anything else is done with it. Matched by the VA (S24) to its lease by the lease's amount rule: MATCHED (the lease COMPLETED, or PARTIAL in accumulate mode, its VA cooling when completed), or held in suspense (S26, D-2.4): MISMATCH (the amount rule fails; the lease stays OPEN) or UNLEASED (the VA is not leased: never, expired, cancelled or cooling; annotated with its previous lease, D-2.7). A depositor's name that differs from the lease's customer is flagged (`name_differs`), never refused. Idempotent by (bank, `bank_tx_id`) (D-2.12): a repeat answers the deposit on record with `duplicate: true` and changes nothing. A VA the relay does not hold is `not_found`. Until per-bank signed notices are built (D-2.19) this takes the operator's key.",
        "parameters": [bank_path(&["matched", "short", "unleased", "unknown_va"])],
        "requestBody": json_body("VaDepositNotice", examples(&[
            ("matched", example("15,000 won into K-0001 (O-1001)", notice("77", "0040000001", 15_000))),
            ("short", example("10,000 won into K-0002 (O-1002 expects 20,000)", notice("79", "0040000002", 10_000))),
            ("unleased", example("5,000 won into a VA nobody leased", notice("78", "0040000050", 5_000))),
            ("unknown_va", example("A VA the relay does not hold", notice("80", "0049999999", 1_000))),
        ])),
        "responses": {
            "200": ok("The deposit on record, with its lease", "VaDepositReceipt", examples(&[
                ("matched", example("Matched: O-1001 paid", receipt(deposit("vd_1_1", "77", "0040000001", 15_000, "MATCHED", Some("vl_1")), false, lease("vl_1", "O-1001", "0040000001", 15_000, "COMPLETED", 15_000, &["vd_1_1"])))),
                ("short", example("A mismatch, in suspense", receipt(deposit("vd_1_2", "79", "0040000002", 10_000, "MISMATCH", Some("vl_2")), false, Value::Null))),
                ("unleased", example("Unleased, in suspense", receipt(deposit("vd_1_3", "78", "0040000050", 5_000, "UNLEASED", None), false, Value::Null))),
            ])),
            "400": body_errors(),
            "404": not_found("virtual account", "no virtual account 0049999999 at bank 004", "unknown_va"),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

/// `POST /v1/banks/{bank}/va-deposit-checks`.
pub fn deposit_checks() -> Value {
    json!({ "post": {
        "operationId": "checkVaDeposit",
        "tags": ["virtual-account relay"],
        "summary": "May the bank accept this deposit? (D-2.5)",
        "description": "For a bank that asks before it accepts a deposit: `accept` when the VA is leased and the amount meets its lease's rule, else the reason. Nothing is written.",
        "parameters": [bank_path(&["accepted", "refused"])],
        "requestBody": json_body("VaDepositCheck", examples(&[
            ("accepted", example("15,000 won into K-0001", json!({ "va_no": "0040000001", "amount_krw": 15_000 }))),
            ("refused", example("14,000 won into K-0001", json!({ "va_no": "0040000001", "amount_krw": 14_000 }))),
        ])),
        "responses": {
            "200": ok("The verdict", "VaDepositVerdict", examples(&[
                ("accepted", example("Accept", json!({ "accept": true }))),
                ("refused", example("Refuse", json!({ "accept": false, "reason": "14000 won does not meet the lease's amount rule" }))),
            ])),
            "400": body_errors(),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

/// `POST /v1/banks/{bank}/va-deposit-reversals`.
pub fn reversals() -> Value {
    json!({ "post": {
        "operationId": "reverseVaDeposit",
        "tags": ["virtual-account relay"],
        "summary": "The bank recalls a deposit (D-2.21)",
        "description": "The deposit REVERSED; a lease it had completed is OPEN again (PARTIAL if other deposits remain), due one lease life from now, on its VA again (or a free one of its pool if the VA was leased since). A repeat answers the deposit with `duplicate: true` and changes nothing.",
        "parameters": [bank_path(&["reversed", "unknown"])],
        "requestBody": json_body("VaReversal", examples(&[
            ("reversed", example("Transaction 77", json!({ "bank_tx_id": "77" }))),
            ("unknown", example("A transaction the relay never saw", json!({ "bank_tx_id": "999" }))),
        ])),
        "responses": {
            "200": ok("The deposit, reversed, and its lease", "VaDepositReceipt", examples(&[
                ("reversed", example("O-1001 open again", receipt(
                    { let mut d = deposit("vd_1_1", "77", "0040000001", 15_000, "MATCHED", Some("vl_1")); d["state"] = json!("REVERSED"); d["settled_at_ms"] = json!(AT + 2_000); d },
                    false,
                    lease("vl_1", "O-1001", "0040000001", 15_000, "OPEN", 0, &[])))),
            ])),
            "400": body_errors(),
            "404": not_found("deposit", "no deposit \"999\" of bank 004", "unknown"),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

/// `POST /v1/banks/{bank}/va-reconciliations`.
pub fn reconciliations() -> Value {
    json!({ "post": {
        "operationId": "reconcileVaDeposits",
        "tags": ["virtual-account relay"],
        "summary": "Reconcile with the bank's statement (D-2.15)",
        "description": "The bank's statement of deposits with `at_ms` in [`from_ms`, `to_ms`): each one no notice brought is ingested as a late notice (`late: true`) and listed; `known` counts those on record already, `unknown_va` those into a VA the relay does not hold.",
        "parameters": [bank_path(&["reconciled", "backwards"])],
        "requestBody": json_body("VaReconcileRequest", examples(&[
            ("reconciled", example("Everything so far", json!({ "from_ms": 0, "to_ms": 4_102_444_800_000u64 }))),
            ("backwards", example("A negative start", json!({ "from_ms": -1, "to_ms": 10 }))),
        ])),
        "responses": {
            "200": ok("What the statement brought", "VaReconciliation", examples(&[
                ("reconciled", example("Nothing was missing", json!({ "ingested": [], "known": 0, "unknown_va": 0 }))),
            ])),
            "400": errors(400, BODY_400, "a bad body, or an empty period (`to_ms` not after `from_ms`).", examples(&[
                ("backwards", error_example("A negative start", "invalid_field", "from_ms: must be an unsigned integer, got \"-1\"", Some("from_ms"))),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down", "rail_unavailable"])
        }
    }})
}

/// `GET /v1/va-deposits/{deposit_id}`.
pub fn deposit_item() -> Value {
    json!({ "get": {
        "operationId": "getVaDeposit",
        "tags": ["virtual-account relay"],
        "summary": "A deposit of `va_deposit_log` (3DB)",
        "parameters": [text_path("deposit_id", "DepositId", &[("found", "vd_1_1"), ("unknown", "vd_1_99")])],
        "responses": {
            "200": ok("The deposit", "VaDeposit", examples(&[
                ("found", example("Matched to O-1001", deposit("vd_1_1", "77", "0040000001", 15_000, "MATCHED", Some("vl_1")))),
            ])),
            "404": not_found("deposit", "no such deposit", "unknown"),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

/// `POST /v1/va-deposits/{deposit_id}/assign`.
pub fn assign() -> Value {
    json!({ "post": {
        "operationId": "assignVaDeposit",
        "tags": ["virtual-account relay"],
        "summary": "Operations assign a suspense deposit to a lease (D-2.4)",
        "description": "A MISMATCH or UNLEASED deposit credited to an OPEN or PARTIAL lease of the same partner, as if paid into its VA: the lease's amount rule must hold. The deposit ASSIGNED. A deposit not in suspense is refused `invalid_state`.",
        "parameters": [text_path("deposit_id", "DepositId", &[("assigned", "vd_1_3"), ("not_in_suspense", "vd_1_1")])],
        "requestBody": json_body("VaAssign", examples(&[
            ("assigned", example("The unleased 5,000 won to O-1003", json!({ "lease_id": "vl_3" }))),
            ("not_in_suspense", example("A matched deposit", json!({ "lease_id": "vl_3" }))),
        ])),
        "responses": {
            "200": ok("The deposit, assigned, and its lease", "VaDepositReceipt", examples(&[
                ("assigned", example("O-1003 paid from suspense", receipt(
                    { let mut d = deposit("vd_1_3", "78", "0040000050", 5_000, "ASSIGNED", Some("vl_3")); d["settled_at_ms"] = json!(AT + 2_000); d },
                    false,
                    lease("vl_3", "O-1003", "0040000003", 5_000, "COMPLETED", 5_000, &["vd_1_3"])))),
            ])),
            "400": body_errors(),
            "404": not_found("deposit", "no such deposit", "unknown"),
            "409": errors(409, &["invalid_state"], "the deposit is not in suspense, or its amount does not meet the lease's rule.", examples(&[
                ("not_in_suspense", error_example("A matched deposit", "invalid_state", "deposit vd_1 is Matched, not in suspense", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

/// `POST /v1/va-deposits/{deposit_id}/refund`.
pub fn refund() -> Value {
    json!({ "post": {
        "operationId": "refundVaDeposit",
        "tags": ["virtual-account relay"],
        "summary": "Operations refund a suspense deposit (D-2.4)",
        "description": "In mode A the money is in the partner's own account: this records that the partner paid it back to the depositor. REFUNDED; a repeat answers the same.",
        "parameters": [text_path("deposit_id", "DepositId", &[("refunded", "vd_1_2"), ("unknown", "vd_1_99")])],
        "requestBody": json_body("VaRefund", examples(&[
            ("refunded", example("The short deposit", json!({}))),
            ("unknown", example("An unknown deposit", json!({}))),
        ])),
        "responses": {
            "200": ok("The deposit, refunded", "VaDeposit", examples(&[
                ("refunded", example("Refunded", { let mut d = deposit("vd_1_2", "79", "0040000002", 10_000, "REFUNDED", Some("vl_2")); d["settled_at_ms"] = json!(AT + 2_000); d })),
            ])),
            "400": body_errors(),
            "404": not_found("deposit", "no such deposit", "unknown"),
            "409": errors(409, &["invalid_state"], "the deposit is not in suspense.", examples(&[
                ("matched", error_example("A matched deposit", "invalid_state", "deposit vd_1 is Matched, not in suspense", None)),
            ])),
            "413": body_too_large(),
            "415": unsupported_media_type(),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

/// `GET /v1/partners/{partner_id}/collections`.
pub fn collections() -> Value {
    json!({ "get": {
        "operationId": "getVaCollections",
        "tags": ["virtual-account relay"],
        "summary": "A partner's collection statement (S32, D-2.14)",
        "description": "The partner's deposits received over the KST days `from` to `to` (both included; today by default), over all banks: per bank the count and total of matched and assigned deposits, their list, and the deposits in suspense (mismatched, unleased, refunded, and an accumulate lease's excess) apart.",
        "parameters": [
            partner_path(&[("today", "P"), ("bad_date", "P")]),
            { "name": "from", "in": "query", "required": false, "schema": schema("RequestDate"),
              "examples": { "bad_date": { "summary": "Not a calendar day", "value": "2026-02-30" } } },
            { "name": "to", "in": "query", "required": false, "schema": schema("RequestDate") }
        ],
        "responses": {
            "200": ok("The statement", "VaCollection", examples(&[
                ("today", example("Nothing matched yet", json!({
                    "partner_id": "P", "from_ms": AT, "to_ms": AT + 86_400_000, "banks": [], "total_krw": 0,
                    "matched": [], "suspense": [], "suspense_total_krw": 0 }))),
            ])),
            "400": errors(400, &["invalid_field", "unknown_field"], "a bad date, `to` before `from`, or another query parameter.", examples(&[
                ("bad_date", error_example("February 30", "invalid_field", "from: a date YYYY-MM-DD, got \"2026-02-30\"", Some("from"))),
            ])),
            "404": not_found("partner", "no such partner", "unknown_partner"),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

/// `GET /v1/partners/{partner_id}/va-history`.
pub fn history() -> Value {
    json!({ "get": {
        "operationId": "getVaHistory",
        "tags": ["virtual-account relay"],
        "summary": "A partner's deposits for a dispute (3DB, D-2.17)",
        "description": "The partner's deposits, oldest first, by VA (`va_no`), by order (`order_no`: every deposit matched to or annotated with one of its leases), or by the time received (`from_ms`, `to_ms`); at most `limit` (cut to `payments.va_history_list_max`).",
        "parameters": [
            partner_path(&[("by_order", "P"), ("unknown", "Q")]),
            { "name": "order_no", "in": "query", "required": false, "schema": { "type": "string", "minLength": 1, "maxLength": 64 },
              "examples": { "by_order": { "summary": "Order O-1001", "value": "O-1001" } } },
            { "name": "va_no", "in": "query", "required": false, "schema": schema("VaNo") },
            { "name": "from_ms", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0 } },
            { "name": "to_ms", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0 } },
            { "name": "limit", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0 } }
        ],
        "responses": {
            "200": ok("The deposits", "VaHistory", examples(&[
                ("by_order", example("O-1001's deposit", json!({ "deposits": [deposit("vd_1_1", "77", "0040000001", 15_000, "MATCHED", Some("vl_1"))] }))),
            ])),
            "400": errors(400, &["invalid_field", "unknown_field"], "a bad parameter.", examples(&[
                ("bad_limit", error_example("Not a number", "invalid_field", "limit: invalid digit found in string", Some("limit"))),
            ])),
            "404": not_found("partner", "no such partner", "unknown"),
            "500": storage_failed(),
            "503": unavailable(&["overloaded", "shutting_down"])
        }
    }})
}

pub fn schemas() -> Value {
    let int0 = json!({ "type": "integer", "minimum": 0 });
    let ms_or_null = json!({ "type": ["integer", "null"], "minimum": 0 });
    let krw_or_null = json!({ "type": ["integer", "null"], "minimum": 0 });
    let first = json!({
        "PartnerId": { "type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$", "examples": ["P"] },
        "Region": { "type": "string", "pattern": "^[A-Za-z0-9_]{1,16}$", "description": "A region code; `any` is no region (D-2.10).", "examples": ["SEOUL"] },
        "VaNo": { "type": "string", "pattern": "^[0-9]{1,20}$", "description": "A VA number as its bank issued it (D-2.8).", "examples": ["0040000001"] },
        "LeaseId": { "type": "string", "pattern": "^vl_[0-9]+$", "examples": ["vl_1"] },
        "DepositId": { "type": "string", "pattern": "^vd_[0-9]+_[0-9]+$", "examples": ["vd_1_1"] },
        "MatchMode": { "enum": ["exact", "accumulate", "open"] },
        "PartnerSetup": {
            "type": "object", "additionalProperties": false, "required": ["partner_id", "mode", "pools"],
            "properties": {
                "partner_id": schema("PartnerId"),
                "mode": { "enum": ["A", "B"], "description": "A: the partner's own accounts; B: collect for `merchant_id`. C is not built yet (refused `invalid_request`)." },
                "merchant_id": schema("MerchantId"),
                "pools": { "type": "array", "maxItems": 100, "items": {
                    "type": "object", "additionalProperties": false, "required": ["bank"],
                    "properties": {
                        "bank": schema("BankCode"), "region": schema("Region"),
                        "target": { "type": "integer", "minimum": 1, "maximum": 4_294_967_295u64 },
                        "real_time": { "type": "boolean" }
                    }
                }},
                "default_match_mode": schema("MatchMode"),
                "region_fallback": { "type": "boolean" },
                "cooldown_days": { "type": "integer", "minimum": 0, "maximum": 3650 },
                "lease_life_hours": { "type": "integer", "minimum": 1, "maximum": 720 },
                "expected_leases_per_day": { "type": "integer", "minimum": 0, "maximum": 4_294_967_295u64 },
                "webhook_url": { "type": "string", "pattern": "^https://", "maxLength": 512 }
            }
        },
        "Partner": {
            "type": "object", "additionalProperties": false,
            "required": ["partner_id", "mode", "merchant_id", "default_match_mode", "region_fallback", "cooldown_ms", "lease_life_ms", "expected_leases_per_day", "webhook_url", "pools", "warnings"],
            "properties": {
                "partner_id": schema("PartnerId"), "mode": { "enum": ["A", "B", "C"] },
                "merchant_id": { "type": ["string", "null"], "description": "Mode B: the merchant whose `merchant[m]` its deposits credit." },
                "default_match_mode": schema("MatchMode"), "region_fallback": { "type": "boolean" },
                "cooldown_ms": int0, "lease_life_ms": int0,
                "expected_leases_per_day": { "type": ["integer", "null"], "minimum": 0 },
                "webhook_url": { "type": "string" },
                "pools": { "type": "array", "items": {
                    "type": "object", "additionalProperties": false,
                    "required": ["bank", "region", "target", "real_time", "size", "free", "leased", "cooling"],
                    "properties": {
                        "bank": schema("BankCode"), "region": schema("Region"), "target": int0,
                        "real_time": { "type": "boolean" }, "size": int0, "free": int0, "leased": int0, "cooling": int0
                    }
                }},
                "warnings": { "type": "array", "items": { "type": "string" } }
            }
        }
    });
    let leases = json!({
        "VaLeaseRequest": {
            "type": "object", "additionalProperties": false, "required": ["order_no", "customer", "bank"],
            "properties": {
                "order_no": { "type": "string", "minLength": 1, "maxLength": 64 },
                "customer": { "type": "string", "minLength": 1, "maxLength": 64 },
                "bank": schema("BankCode"), "region": schema("Region"),
                "match_mode": schema("MatchMode"),
                "expected_amount_krw": { "type": "integer", "minimum": 1 },
                "min_amount_krw": { "type": "integer", "minimum": 1 },
                "max_amount_krw": { "type": "integer", "minimum": 1 },
                "due_at_ms": { "type": "integer", "minimum": 1 }
            }
        },
        "VaLease": {
            "type": "object", "additionalProperties": false,
            "required": ["lease_id", "partner_id", "order_no", "customer", "bank", "region", "va_no", "match_mode", "expected_amount_krw", "min_amount_krw", "max_amount_krw", "state", "paid_krw", "created_at_ms", "due_at_ms", "closed_at_ms", "deposit_ids"],
            "properties": {
                "lease_id": schema("LeaseId"), "partner_id": schema("PartnerId"),
                "order_no": { "type": "string" }, "customer": { "type": "string" },
                "bank": schema("BankCode"), "region": schema("Region"), "va_no": schema("VaNo"),
                "match_mode": schema("MatchMode"),
                "expected_amount_krw": krw_or_null, "min_amount_krw": krw_or_null, "max_amount_krw": krw_or_null,
                "state": { "enum": ["OPEN", "PARTIAL", "COMPLETED", "EXPIRED", "CANCELLED"] },
                "paid_krw": int0, "created_at_ms": int0, "due_at_ms": int0, "closed_at_ms": ms_or_null,
                "deposit_ids": { "type": "array", "items": schema("DepositId") }
            }
        }
    });
    let deposits = json!({
        "VaDepositNotice": {
            "type": "object", "additionalProperties": false, "required": ["bank_tx_id", "va_no", "amount_krw"],
            "properties": {
                "bank_tx_id": { "type": "string", "minLength": 1, "maxLength": 64 },
                "va_no": schema("VaNo"),
                "amount_krw": { "type": "integer", "minimum": 1 },
                "depositor_name": { "type": "string", "maxLength": 64 },
                "depositor_account": { "type": "string", "minLength": 1, "maxLength": 32 },
                "channel": { "type": "string", "maxLength": 32 },
                "at_ms": { "type": "integer", "minimum": 0 }
            }
        },
        "VaDeposit": {
            "type": "object", "additionalProperties": false,
            "required": ["deposit_id", "partner_id", "bank", "bank_tx_id", "va_no", "amount_krw", "depositor_name", "channel", "state", "lease_id", "previous_lease_id", "credited_krw", "excess_krw", "name_differs", "late", "at_ms", "received_at_ms", "settled_at_ms"],
            "properties": {
                "deposit_id": schema("DepositId"), "partner_id": schema("PartnerId"),
                "bank": schema("BankCode"), "bank_tx_id": { "type": "string" }, "va_no": schema("VaNo"),
                "amount_krw": int0, "depositor_name": { "type": "string" }, "channel": { "type": "string" },
                "state": { "enum": ["MATCHED", "MISMATCH", "UNLEASED", "ASSIGNED", "REFUNDED", "REVERSED"] },
                "lease_id": { "oneOf": [schema("LeaseId"), { "type": "null" }] },
                "previous_lease_id": { "oneOf": [schema("LeaseId"), { "type": "null" }] },
                "credited_krw": int0, "excess_krw": int0,
                "name_differs": { "type": "boolean" }, "late": { "type": "boolean" },
                "at_ms": int0, "received_at_ms": int0, "settled_at_ms": ms_or_null
            }
        },
        "VaDepositReceipt": {
            "type": "object", "additionalProperties": false,
            "description": "A deposit, whether it repeated a notice on record, and its lease after the match.",
            "required": ["deposit_id", "partner_id", "bank", "bank_tx_id", "va_no", "amount_krw", "depositor_name", "channel", "state", "lease_id", "previous_lease_id", "credited_krw", "excess_krw", "name_differs", "late", "at_ms", "received_at_ms", "settled_at_ms", "duplicate", "lease"],
            "properties": {
                "deposit_id": schema("DepositId"), "partner_id": schema("PartnerId"),
                "bank": schema("BankCode"), "bank_tx_id": { "type": "string" }, "va_no": schema("VaNo"),
                "amount_krw": int0, "depositor_name": { "type": "string" }, "channel": { "type": "string" },
                "state": { "enum": ["MATCHED", "MISMATCH", "UNLEASED", "ASSIGNED", "REFUNDED", "REVERSED"] },
                "lease_id": { "oneOf": [schema("LeaseId"), { "type": "null" }] },
                "previous_lease_id": { "oneOf": [schema("LeaseId"), { "type": "null" }] },
                "credited_krw": int0, "excess_krw": int0,
                "name_differs": { "type": "boolean" }, "late": { "type": "boolean" },
                "at_ms": int0, "received_at_ms": int0, "settled_at_ms": ms_or_null,
                "duplicate": { "type": "boolean" },
                "lease": { "oneOf": [schema("VaLease"), { "type": "null" }] }
            }
        }
    });
    let rest = json!({
        "VaDepositCheck": {
            "type": "object", "additionalProperties": false, "required": ["va_no", "amount_krw"],
            "properties": { "va_no": schema("VaNo"), "amount_krw": { "type": "integer", "minimum": 0 } }
        },
        "VaDepositVerdict": {
            "type": "object", "additionalProperties": false, "required": ["accept"],
            "properties": { "accept": { "type": "boolean" }, "reason": { "type": "string" } }
        },
        "VaReversal": {
            "type": "object", "additionalProperties": false, "required": ["bank_tx_id"],
            "properties": { "bank_tx_id": { "type": "string", "minLength": 1, "maxLength": 64 } }
        },
        "VaReconcileRequest": {
            "type": "object", "additionalProperties": false, "required": ["from_ms", "to_ms"],
            "properties": { "from_ms": int0, "to_ms": int0 },
            "description": "`to_ms` must be after `from_ms` (the server checks it)."
        },
        "VaReconciliation": {
            "type": "object", "additionalProperties": false, "required": ["ingested", "known", "unknown_va"],
            "properties": {
                "ingested": { "type": "array", "items": schema("VaDepositReceipt") },
                "known": int0, "unknown_va": int0
            }
        },
        "VaAssign": {
            "type": "object", "additionalProperties": false, "required": ["lease_id"],
            "properties": { "lease_id": schema("LeaseId") }
        },
        "VaRefund": { "type": "object", "additionalProperties": false, "properties": {} },
        "VaCollection": {
            "type": "object", "additionalProperties": false,
            "required": ["partner_id", "from_ms", "to_ms", "banks", "total_krw", "matched", "suspense", "suspense_total_krw"],
            "properties": {
                "partner_id": schema("PartnerId"), "from_ms": int0, "to_ms": int0,
                "banks": { "type": "array", "items": {
                    "type": "object", "additionalProperties": false, "required": ["bank", "count", "total_krw"],
                    "properties": { "bank": schema("BankCode"), "count": int0, "total_krw": int0 }
                }},
                "total_krw": int0,
                "matched": { "type": "array", "items": schema("VaDeposit") },
                "suspense": { "type": "array", "items": schema("VaDeposit") },
                "suspense_total_krw": int0
            }
        },
        "VaHistory": {
            "type": "object", "additionalProperties": false, "required": ["deposits"],
            "properties": { "deposits": { "type": "array", "items": schema("VaDeposit") } }
        }
    });
    let mut all = first;
    for more in [leases, deposits, rest] {
        for (name, shape) in more.as_object().expect("an object") {
            all[name] = shape.clone();
        }
    }
    all
}
