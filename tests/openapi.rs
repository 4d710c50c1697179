// Over 600 lines: the checks of the API document (schemas, examples, limits, codes) share one parsed document and one running server.
//! The API document against the server (issue 11, item 13): the document served at
//! `/openapi.json` is valid OpenAPI 3.1, every schema in it is valid JSON Schema
//! 2020-12, every example fits its schema, every request example replays against the
//! real `omnibus serve` with the documented status and an answer that fits the
//! documented schema, and the document's limits are the server's, probed at each edge.

#[path = "support/http.rs"]
mod http;

use std::collections::BTreeSet;

use http::{write_config, Response, Server};
use jsonschema::{Keyword, ValidationError, Validator};
use serde_json::{json, Map, Value};

/// The request date every example carries (`openapi::EXAMPLE_DATE` in the server).
const EXAMPLE_DATE: &str = "2026-11-21";
/// The card number the payment examples carry (`openapi::EXAMPLE_CARD_NUMBER`).
const EXAMPLE_CARD_NUMBER: &str = "9421000000000018";
/// The key id the revoke examples carry (`openapi::api_keys::EXAMPLE_KEY_ID`).
const EXAMPLE_KEY_ID: &str = "ak_5a5a5a5a5a5a5a5a5a5a5a5a";
/// The session the checkout examples carry (`openapi::wallet::EXAMPLE_SESSION`).
const EXAMPLE_SESSION: &str = "ws_00000000000000000000000000000001";
/// The division number the activation examples carry (`openapi::divisions`): it and the
/// activation code are replaced by those the example was given.
const EXAMPLE_DIVISION_NUMBER: &str = "DA-1234567890128";
/// The payment id the cancel examples carry (`openapi::EXAMPLE_PAYMENT_ID`).
const EXAMPLE_PAYMENT_ID: &str = "pay_0001000000000001";
/// The payment id the refund examples carry (`openapi::EXAMPLE_REFUNDED_ID`).
const EXAMPLE_REFUNDED_ID: &str = "pay_0001000000000003";

/// The operations in the order their examples can be replayed: the customer before its
/// charges, the signing text before the signed remittance, a request before its lookup.
const REPLAY_ORDER: &[&str] = &[
    "getHealth",
    "onboardMerchant",
    "getMerchant",
    "getMerchantPayouts",
    "addMerchantTerminal",
    "openCustomer",
    "getCustomer",
    "issuePrepaidCard",
    "getPrepaidCard",
    "revealPrepaidCard",
    "createMember",
    "createWalletSession",
    "createWalletCheckout",
    "createCharge",
    // After the charge: customer 1001 is the master.
    "issueDivisionAccounts",
    "listDivisionAccounts",
    "activateDivisionAccount",
    "getDivisionAccount",
    "changeDivisionAccount",
    "changeDivisionPin",
    "listDivisionAuthorizations",
    "chargePrepaidCard",
    "getPrepaidCardStatement",
    "createPayment",
    "getPaymentByRequest",
    "cancelPayment",
    "createRefund",
    "cancelPaymentByRequest",
    "createApiKey",
    "listApiKeys",
    "revokeApiKey",
    // After the payments: it suspends the card.
    "changePrepaidCard",
    // After the payments: it suspends m2.
    "setMerchantStatus",
    "createSigningText",
    "createRemittance",
    "getRequest",
    // The relay: partner P, its leases vl_1..vl_3, then the deposits on them.
    "setPartner",
    "getPartner",
    "createVaLease",
    "getVaLease",
    "checkVaDeposit",
    "createVaDeposit",
    "getVaDeposit",
    "assignVaDeposit",
    "refundVaDeposit",
    "reverseVaDeposit",
    "cancelVaLease",
    "reconcileVaDeposits",
    "getVaCollections",
    "getVaHistory",
    "getParents",
    "getReconciliation",
    "getMetrics",
    "getOpenApi",
    "streamEvents",
];

fn start() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", "");
    let server = Server::start(&config, &dir.path().join("data"));
    (dir, server)
}

fn document(server: &Server) -> Value {
    let answer = server.get("/openapi.json");
    assert_eq!(answer.status, 200);
    answer.json()
}

/// `x-maxBytes`: the most UTF-8 bytes a string may have, which JSON Schema's
/// `maxLength` (characters) cannot say.
struct MaxBytes(usize);

impl<'i> Keyword<'i> for MaxBytes {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
        if self.is_valid(instance) {
            Ok(())
        } else {
            Err(ValidationError::custom(format!(
                "is over {} bytes of UTF-8",
                self.0
            )))
        }
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        instance.as_str().is_none_or(|s| s.len() <= self.0)
    }
}

/// A validator for `schema`, a schema of the document whose `$ref`s point into the
/// document's components; formats (`date`) are checked as the server checks them.
fn validator(doc: &Value, schema: &Value) -> Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [schema]
    });
    jsonschema::options()
        .should_validate_formats(true)
        .with_keyword("x-maxBytes", |_, value, _| {
            let max = value.as_u64().expect("x-maxBytes is a byte count") as usize;
            Ok(Box::new(MaxBytes(max)))
        })
        .build(&root)
        .unwrap_or_else(|e| panic!("the schema {schema} does not compile: {e}"))
}

fn check(doc: &Value, schema: &Value, instance: &Value) -> Result<(), String> {
    let validator = validator(doc, schema);
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Every operation: (path, method, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            out.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    out
}

/// Every Schema Object in the document, with where it is.
fn schema_objects(doc: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        out.push((format!("components.schemas.{name}"), schema.clone()));
    }
    for (path, method, operation) in operations(doc) {
        let at = format!("{method} {path}");
        for p in operation["parameters"].as_array().into_iter().flatten() {
            out.push((format!("{at} parameter {}", p["name"]), p["schema"].clone()));
        }
        for (kind, media) in operation["requestBody"]["content"]
            .as_object()
            .into_iter()
            .flatten()
        {
            out.push((format!("{at} body {kind}"), media["schema"].clone()));
        }
        for (status, response) in operation["responses"].as_object().unwrap() {
            for (kind, media) in response["content"].as_object().into_iter().flatten() {
                out.push((format!("{at} {status} {kind}"), media["schema"].clone()));
            }
            for (name, header) in response["headers"].as_object().into_iter().flatten() {
                out.push((
                    format!("{at} {status} header {name}"),
                    header["schema"].clone(),
                ));
            }
        }
    }
    out
}

#[test]
fn the_api_document_is_valid_openapi_3_1_with_ids_tags_security_and_examples() {
    let (_dir, server) = start();
    let doc = document(&server);

    // The OpenAPI 3.1 object model takes it.
    let spec = oas3::from_json(doc.to_string()).expect("the OpenAPI 3.1 object model");
    assert_eq!(spec.openapi, "3.1.0");
    assert!(spec.validate_version().is_ok());

    // Every schema is a JSON Schema 2020-12 schema.
    for (at, schema) in schema_objects(&doc) {
        assert!(schema.is_object(), "{at} has no schema");
        if let Err(e) = jsonschema::draft202012::meta::validate(&schema) {
            panic!("{at} is not JSON Schema 2020-12: {e}");
        }
        validator(&doc, &schema);
    }

    // Security is stated: signed with the three headers, or nothing with authentication
    // off; the open operations need nothing.
    let signed = json!({ "omnibusKey": [], "omnibusTimestamp": [], "omnibusSignature": [] });
    assert_eq!(doc["security"], json!([{}, signed]));
    for scheme in ["omnibusKey", "omnibusTimestamp", "omnibusSignature"] {
        assert_eq!(
            doc["components"]["securitySchemes"][scheme]["type"],
            "apiKey"
        );
    }
    assert_eq!(doc["paths"]["/health"]["get"]["security"], json!([{}]));
    assert!(doc["paths"]["/v1/payments"]["post"]["responses"]["401"].is_object());

    let declared_tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let mut ids = BTreeSet::new();
    for (path, method, operation) in operations(&doc) {
        let at = format!("{method} {path}");
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: no operationId"));
        assert!(ids.insert(id.to_owned()), "{at}: operationId {id} twice");
        let tags = operation["tags"]
            .as_array()
            .unwrap_or_else(|| panic!("{at}: no tags"));
        assert!(!tags.is_empty(), "{at}: no tags");
        for tag in tags {
            assert!(
                declared_tags.contains(tag.as_str().unwrap()),
                "{at}: tag {tag} is not declared"
            );
        }
        // Examples for every request body and every answer.
        if let Some(content) = operation["requestBody"]["content"].as_object() {
            for (kind, media) in content {
                assert!(
                    media["examples"].as_object().is_some_and(|e| !e.is_empty()),
                    "{at}: request body {kind} has no examples"
                );
            }
        }
        for (status, response) in operation["responses"].as_object().unwrap() {
            for (kind, media) in response["content"].as_object().into_iter().flatten() {
                let examples = media["examples"].as_object();
                assert!(
                    examples.is_some_and(|e| !e.is_empty()),
                    "{at}: {status} {kind} has no examples"
                );
                // Every answer example fits its schema.
                for (name, example) in examples.unwrap() {
                    if let Err(e) = check(&doc, &media["schema"], &example["value"]) {
                        panic!("{at}: {status} example {name} does not fit its schema: {e}");
                    }
                }
            }
            // An error answer lists its codes.
            if status.starts_with('4') || status.starts_with('5') {
                let schema = &response["content"]["application/json"]["schema"];
                assert!(
                    schema["properties"]["error"]["properties"]["code"]["enum"].is_array(),
                    "{at}: {status} lists no error codes"
                );
            }
        }
    }
    let expected: BTreeSet<String> = REPLAY_ORDER.iter().map(|s| s.to_string()).collect();
    assert_eq!(ids, expected, "the operations are the ones replayed");

    // The pairs the server requires together are in the schemas.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["CustomerOpen"]["dependentRequired"],
        json!({ "cert_serial": ["public_key"], "public_key": ["cert_serial"] })
    );
    assert_eq!(
        schemas["Remittance"]["dependentRequired"],
        json!({ "signature": ["cert_serial"], "cert_serial": ["signature"] })
    );
}

/// One request example of an operation, ready to send.
struct Replay {
    operation: String,
    name: String,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    /// The status whose examples hold an example of the same name.
    status: String,
}

/// Today's UTC date, `YYYY-MM-DD` (Howard Hinnant's days-to-civil algorithm).
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The status whose examples (of any media type) hold `name`.
fn status_of(operation: &Value, name: &str) -> Vec<String> {
    operation["responses"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| {
            r["content"]
                .as_object()
                .into_iter()
                .flatten()
                .any(|(_, media)| media["examples"].get(name).is_some())
        })
        .map(|(status, _)| status.clone())
        .collect()
}

/// The replays of one operation: its named request examples (2xx first), or one bare
/// request when it has none.
fn replays(path: &str, method: &str, operation: &Value) -> Vec<Replay> {
    let id = operation["operationId"].as_str().unwrap().to_owned();
    let parameters: Vec<Value> = operation["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let body_examples: Map<String, Value> = operation["requestBody"]["content"]["application/json"]
        ["examples"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut names: BTreeSet<String> = body_examples.keys().cloned().collect();
    if body_examples.is_empty() {
        for p in &parameters {
            names.extend(
                p["examples"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(n, _)| n.clone()),
            );
        }
    }
    let mut out = Vec::new();
    if names.is_empty() {
        let statuses: Vec<String> = operation["responses"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|s| s.starts_with('2'))
            .cloned()
            .collect();
        assert_eq!(statuses.len(), 1, "{id}: one 2xx answer for a bare request");
        out.push(Replay {
            operation: id.clone(),
            name: "(bare)".into(),
            method: method.to_uppercase(),
            path: path.to_owned(),
            headers: vec![],
            body: None,
            status: statuses[0].clone(),
        });
    }
    for name in names {
        let statuses = status_of(operation, &name);
        assert_eq!(
            statuses.len(),
            1,
            "{id}: example {name} is answered under {statuses:?}"
        );
        let mut url = path.to_owned();
        let mut query = Vec::new();
        let mut headers = Vec::new();
        for p in &parameters {
            let value = p["examples"][&name]["value"].as_str();
            let pname = p["name"].as_str().unwrap();
            match (p["in"].as_str().unwrap(), value) {
                ("path", Some(v)) => url = url.replace(&format!("{{{pname}}}"), &percent_encode(v)),
                ("path", None) => panic!("{id}: example {name} has no path parameter {pname}"),
                ("query", Some(v)) => query.push(format!("{pname}={}", percent_encode(v))),
                ("header", Some(v)) => headers.push((pname.to_owned(), v.to_owned())),
                (_, None) => {}
                (place, _) => panic!("{id}: a parameter in {place}"),
            }
        }
        if !query.is_empty() {
            url = format!("{url}?{}", query.join("&"));
        }
        let body = body_examples.get(&name).map(|e| {
            let mut value = e["value"].clone();
            // The engine checks a request's date against a window around its own date,
            // so the examples' fixed date is replayed as the day the test runs.
            if value["request_date"] == EXAMPLE_DATE {
                value["request_date"] = json!(today());
            }
            value
        });
        out.push(Replay {
            operation: id.clone(),
            name,
            method: method.to_uppercase(),
            path: url,
            headers,
            body,
            status: statuses[0].clone(),
        });
    }
    // Examples answered 2xx first: the errors of an operation may depend on its
    // successes (a conflict with the customer just opened, a reused request number).
    out.sort_by_key(|r| !r.status.starts_with('2'));
    out
}

fn send(server: &Server, replay: &Replay) -> Response {
    let mut headers: Vec<(&str, &str)> = replay
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let body = replay.body.as_ref().map(|b| b.to_string().into_bytes());
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    server.request(&replay.method, &replay.path, &headers, body.as_deref())
}

#[test]
fn every_example_in_the_document_replays_against_the_server() {
    let (_dir, server) = start();
    let doc = document(&server);
    // The checks below mean something only if a schema can refuse: a `$ref` that did
    // not resolve into the document would make every answer fit.
    let outcome = json!({ "$ref": "#/components/schemas/Outcome" });
    assert!(check(&doc, &outcome, &json!({})).is_err());
    assert!(check(
        &doc,
        &outcome,
        &doc["paths"]["/v1/charges"]["post"]["responses"]["200"]["content"]["application/json"]
            ["examples"]["charged"]["value"]
    )
    .is_ok());
    let mut by_id: Vec<(String, String, Value)> = operations(&doc);
    by_id.sort_by_key(|(_, _, op)| {
        let id = op["operationId"].as_str().unwrap();
        REPLAY_ORDER
            .iter()
            .position(|o| *o == id)
            .unwrap_or(usize::MAX)
    });
    let mut replayed = 0;
    let mut failures = Vec::new();
    let mut issued_division: Option<(String, String)> = None;
    for (path, method, operation) in &by_id {
        for replay in replays(path, method, operation) {
            let at = format!(
                "{} {} ({} {})",
                replay.operation, replay.name, replay.method, replay.path
            );
            let response = &operation["responses"][&replay.status];
            replayed += 1;
            if replay.operation == "streamEvents" {
                // A stream does not end: read its first event instead of the whole body.
                // `events()` checks the 200 and reads the stream's `ready` event.
                drop(server.events());
                continue;
            }
            // A request example answered 2xx fits the request schemas; one answered 400
            // for a field fits them not (the schema refuses what the server refuses),
            // except where no schema can tell (a weak key, header against body).
            if let Some(body) = &replay.body {
                let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
                let fits = check(&doc, schema, body);
                if replay.status.starts_with('2') {
                    if let Err(e) = fits {
                        failures.push(format!("{at}: the example does not fit its schema: {e}"));
                    }
                } else if replay.status == "400" {
                    let answer = &response["content"]["application/json"]["examples"][&replay.name]
                        ["value"]["error"];
                    let semantic = answer["field"] == "public_key"
                        || answer["code"] == "idempotency_key_mismatch";
                    if !semantic && fits.is_ok() {
                        failures.push(format!(
                            "{at}: the server refuses it (400), the schema takes it"
                        ));
                    }
                }
            }
            // Each card's number is random: the examples' placeholder becomes the number
            // of the card the examples issued.
            let mut replay = replay;
            if let Some(body) = replay.body.as_mut() {
                // A session is a random token: the examples' placeholder becomes one the
                // member's login opens now.
                if body["session"] == EXAMPLE_SESSION {
                    let opened = server.post(
                        "/v1/wallet/sessions",
                        &json!({ "member_id": "alice001", "password": "secret123" }),
                    );
                    assert_eq!(opened.status, 201, "{}", opened.text());
                    body["session"] = opened.json()["session"].clone();
                }
                // A division number and its activation code are random: those the issue
                // was given.
                if body["division_no"] == EXAMPLE_DIVISION_NUMBER {
                    let (number, code) = issued_division
                        .clone()
                        .expect("the issue's example replayed before the activation's");
                    body["division_no"] = json!(number);
                    body["activation_code"] = json!(code);
                }
                if body["instrument"]["number"] == EXAMPLE_CARD_NUMBER {
                    let revealed = server.post("/v1/prepaid-cards/pc_1001_1/reveal", &json!({}));
                    assert_eq!(revealed.status, 200, "{}", revealed.text());
                    body["instrument"]["number"] = revealed.json()["number"].clone();
                }
            }
            if replay.path.contains(EXAMPLE_KEY_ID) {
                let made = server.post("/v1/api-keys", &json!({ "merchant_id": "m2" }));
                assert_eq!(made.status, 201, "{}", made.text());
                let id = made.json()["key_id"].as_str().unwrap().to_owned();
                replay.path = replay.path.replace(EXAMPLE_KEY_ID, &id);
            }
            for (placeholder, no) in [
                (EXAMPLE_PAYMENT_ID, "R-20261121-0001"),
                (EXAMPLE_REFUNDED_ID, "R-20261121-0003"),
            ] {
                if replay.path.contains(placeholder) {
                    let found = server.get(&format!(
                        "/v1/payments?merchant_id=m2&merchant_request_no={no}"
                    ));
                    assert_eq!(found.status, 200, "{}", found.text());
                    let payment = found.json();
                    // The payment the examples act on was approved (the replay checks
                    // only statuses and schemas, so say it here).
                    assert_ne!(payment["status"], "DECLINED", "{payment}");
                    let id = payment["payment_id"].as_str().unwrap().to_owned();
                    replay.path = replay.path.replace(placeholder, &id);
                }
            }
            let answer = send(&server, &replay);
            if replay.operation == "issueDivisionAccounts" && answer.status == 201 {
                let account = &answer.json()["accounts"][0];
                issued_division = Some((
                    account["division_no"].as_str().unwrap().to_owned(),
                    account["activation_code"].as_str().unwrap().to_owned(),
                ));
            }
            if answer.status.to_string() != replay.status {
                failures.push(format!(
                    "{at}: expected {}, got {} {}",
                    replay.status,
                    answer.status,
                    answer.text()
                ));
                continue;
            }
            // The answer fits the documented schema of its status and media type.
            let content = response["content"].as_object().unwrap();
            let kind = answer
                .header("content-type")
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap()
                .trim()
                .to_owned();
            let Some(media) = content.get(&kind) else {
                failures.push(format!(
                    "{at}: answered {kind}, documented {:?}",
                    content.keys().collect::<Vec<_>>()
                ));
                continue;
            };
            let value = if kind == "application/json" {
                answer.json()
            } else {
                json!(answer.text())
            };
            if let Err(e) = check(&doc, &media["schema"], &value) {
                failures.push(format!(
                    "{at}: the answer does not fit its schema: {e}\n{value}"
                ));
            }
            // Documented headers that are required are there and fit their schema.
            for (name, header) in response["headers"].as_object().into_iter().flatten() {
                match answer.header(&name.to_ascii_lowercase()) {
                    Some(v) => {
                        let v = v
                            .parse::<i64>()
                            .map(Value::from)
                            .unwrap_or_else(|_| json!(v));
                        if let Err(e) = check(&doc, &header["schema"], &v) {
                            failures.push(format!("{at}: header {name} {v}: {e}"));
                        }
                    }
                    None if header["required"] == true => {
                        failures.push(format!("{at}: no {name} header"))
                    }
                    None => {}
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(replayed >= 30, "only {replayed} examples replayed");
}

/// Sends a charge, a remittance or an opening with `field` set to `value`, and says
/// whether the server refused that field as malformed (400 naming it).
fn server_refuses(server: &Server, path: &str, body: &Value, field: &str) -> bool {
    let answer = server.post(path, body);
    answer.status == 400
        && answer.json()["error"]["field"] == field
        && ["invalid_field", "missing_field"]
            .contains(&answer.json()["error"]["code"].as_str().unwrap())
}

#[test]
fn the_document_and_the_server_agree_on_each_limit_and_on_null() {
    let (_dir, server) = start();
    let doc = document(&server);
    let schemas = doc["components"]["schemas"].clone();
    let key = "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c";
    let opened = server.post(
        "/v1/customers",
        &json!({ "customer": 1, "linked_bank": "004", "linked_account": "110-1", "cert_serial": 1, "public_key": key }),
    );
    assert_eq!(opened.status, 201, "{}", opened.text());
    assert_eq!(opened.header("location"), Some("/v1/customers/1"));

    let date = today();
    let mut n = 0;
    let mut next_no = || {
        n += 1;
        format!("L-{n}")
    };
    let charge =
        |no: String| json!({ "customer": 1, "request_date": date, "request_no": no, "amount": 1 });
    let remit = |no: String| {
        json!({
            "customer": 1, "request_date": date, "request_no": no, "amount": 1,
            "payee_bank": "088", "payee_account": "220-1", "payee_name": "Kim"
        })
    };
    let opening = |customer: Value| json!({ "customer": customer, "linked_bank": "004", "linked_account": "110-2" });

    let u64_max = u64::MAX.to_string();
    let over_u64 = "18446744073709551616".to_owned();
    // (what, the body's schema, path, body with the value, field, the value is in range)
    let mut cases: Vec<(String, &str, &str, Value, &str, bool)> = Vec::new();
    let mut case = |what: &str,
                    schema: &'static str,
                    path: &'static str,
                    body: Value,
                    field: &'static str,
                    ok: bool| {
        cases.push((what.to_owned(), schema, path, body, field, ok));
    };
    let set = |mut body: Value, field: &str, value: Value| {
        body[field] = value;
        body
    };
    for (value, ok) in [
        (json!("1000000000000000000"), true),
        (json!(1_000_000_000_000_000_000u64), true),
        (json!("1000000000000000001"), false),
        (json!(1_000_000_000_000_000_001u64), false),
        (json!("0"), false),
        (json!(0), false),
        (json!("+1"), false),
        (json!(" 1"), false),
        (json!("1 "), false),
        (json!("1.0"), false),
        (json!("0001"), true),
        (json!(null), false),
    ] {
        case(
            &format!("amount {value}"),
            "Charge",
            "/v1/charges",
            set(charge(next_no()), "amount", value),
            "amount",
            ok,
        );
    }
    for (value, ok) in [
        (json!(u64::MAX), true),
        (json!(u64_max), true),
        (json!(over_u64), false),
        (json!(0), false),
        (json!("0"), false),
        (json!(null), false),
    ] {
        case(
            &format!("customer {value}"),
            "CustomerOpen",
            "/v1/customers",
            opening(value),
            "customer",
            ok,
        );
    }
    let a32 = "A".repeat(32);
    for (value, ok) in [
        (json!(a32), true),
        (json!("A".repeat(33)), false),
        (json!(""), false),
        (json!(null), false),
    ] {
        case(
            &format!("request_no {value}"),
            "Charge",
            "/v1/charges",
            set(charge(next_no()), "request_no", value),
            "request_no",
            ok,
        );
    }
    for (value, ok) in [
        (json!("1".repeat(20)), true),
        (json!("1".repeat(21)), false),
        (json!("-12"), false),
        (json!(null), false),
    ] {
        case(
            &format!("payee_account {value}"),
            "Remittance",
            "/v1/remittances",
            set(remit(next_no()), "payee_account", value),
            "payee_account",
            ok,
        );
    }
    for (value, ok) in [
        (json!("가".repeat(16)), true),
        (json!("K".repeat(48)), true),
        (json!("가".repeat(17)), false),
        (json!("K".repeat(49)), false),
        (json!("a\u{7}b"), false),
        (json!(null), false),
    ] {
        case(
            &format!("payee_name {value}"),
            "Remittance",
            "/v1/remittances",
            set(remit(next_no()), "payee_name", value),
            "payee_name",
            ok,
        );
    }
    for (value, ok) in [
        (json!("1999-12-31"), false),
        (json!("3000-01-01"), false),
        (json!("2026-02-30"), false),
        (json!("2026-1-01"), false),
        (json!(null), false),
    ] {
        case(
            &format!("request_date {value}"),
            "Charge",
            "/v1/charges",
            set(charge(next_no()), "request_date", value),
            "request_date",
            ok,
        );
    }
    for (field, value) in [
        ("tradable", json!(null)),
        ("linked_account", json!("-1")),
        ("linked_account", json!(null)),
    ] {
        case(
            &format!("{field} {value}"),
            "CustomerOpen",
            "/v1/customers",
            set(opening(json!(2)), field, value),
            field,
            false,
        );
    }
    case(
        "signature null",
        "Remittance",
        "/v1/remittances",
        set(remit(next_no()), "signature", json!(null)),
        "signature",
        false,
    );

    let mut failures = Vec::new();
    for (what, schema, path, body, field, ok) in cases {
        let fits = check(
            &doc,
            &json!({ "$ref": format!("#/components/schemas/{schema}") }),
            &body,
        )
        .is_ok();
        let refused = server_refuses(&server, path, &body, field);
        if fits != ok {
            failures.push(format!(
                "{what}: the schema {}",
                if fits { "takes it" } else { "refuses it" }
            ));
        }
        if refused == ok {
            failures.push(format!(
                "{what}: the server {}",
                if refused { "refuses it" } else { "takes it" }
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The limits are stated where a client reads them.
    assert_eq!(schemas["PayeeName"]["x-maxBytes"], 48);
    assert_eq!(schemas["RequestNo"]["maxLength"], 32);
    assert_eq!(schemas["AccountNo"]["maxLength"], 20);
}
