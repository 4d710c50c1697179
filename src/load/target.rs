//! What the load generator talks to: a running server over HTTP (`--url`), or an engine
//! in the same process (`--embedded`). Both take the same operations and answer each
//! with the same outcome names: `succeeded` / `failed` (what the customer was told), or
//! the API's stable error code (the embedded target maps engine errors with the
//! server's own table), so the two runs count alike. A remittance told `failed` because
//! another remittance of its customer overlapped it is `failed_overlapping_remittance`
//! ([`FAILED_OVERLAPPING`]): its request is looked up (one more call, not counted in the
//! operation's calls) to tell it apart. The engine orders one customer's requests, so
//! there should be none: it is counted to show a regression.

use std::time::Duration;

use awc::http::StatusCode;
use ed25519_dalek::{Signer, SigningKey as Ed25519Key};
use omnibus_actors::{Engine, Signed};
use omnibus_core::record::{CustomerOpened, SigningKey};
use omnibus_core::request_log::Told;
use omnibus_core::{AccountNo, BankCode, ChargeRequest, Currency, CustomerId, RemitRequest};
use serde_json::{json, Value};

use crate::server::errors::engine_error;

/// The outcome of one operation: `succeeded`, `failed`, [`FAILED_OVERLAPPING`], or an
/// error code.
pub type Answer = String;

/// A remittance told `failed` because another remittance of the same customer took the
/// balance it was planned against (see [`overlapped`]): counted apart from `failed`.
pub const FAILED_OVERLAPPING: &str = "failed_overlapping_remittance";

pub fn told(told: Told) -> Answer {
    crate::server::views::told_str(told).to_owned()
}

/// What a failed remittance's answer says, enough to tell whether it overlapped another.
struct FailedRemit<'a> {
    deficit: bool,
    timed_out: bool,
    decided_by: &'a str,
}

impl FailedRemit<'_> {
    /// Whether the answer alone allows an overlap: decided, not by a timeout, by the step
    /// that takes the amount from the customer's balance (the SS deduction X1, or the
    /// payment instruction).
    fn may_have_overlapped(&self) -> bool {
        !self.timed_out && matches!(self.decided_by, "remit_deduction" | "payment_instruction")
    }
}

/// Whether a failed remittance overlapped another remittance of its customer, from its
/// answer and its request-log entries (`step`, `state`). The engine plans a remittance (its
/// path, and the deficit to charge first, claim 13) against the balance available when it
/// accepts it; the step that then takes the amount from that balance holds it when its
/// entry is written. If another remittance of the same customer took part of the balance
/// in between (during the deficit charge, or the signature key's check), that hold is
/// refused, the step gets no entry at all, and the request is told `failed` by that step.
/// On zero-fault rails nothing else fails that way: a parent slice found short refuses the
/// request at acceptance, decided by its first step (the deficit charge's withdrawal when
/// there is a deficit), and a rail's refusal leaves the step's entry FAIL. So: decided by
/// the deduction or the payment instruction, no entry of that step, and either the
/// deficit charge credited (its `charge_credit` SUCCESS) or, for a payment instruction
/// without a deficit (no parent account reserved), no entry at all.
fn overlapped(answer: &FailedRemit<'_>, entries: &[(&str, &str)]) -> bool {
    if !answer.may_have_overlapped() || entries.iter().any(|(s, _)| *s == answer.decided_by) {
        return false;
    }
    let deficit_credited = entries
        .iter()
        .any(|(step, state)| *step == "charge_credit" && *state == "SUCCESS");
    if answer.deficit {
        deficit_credited
    } else {
        answer.decided_by == "payment_instruction" && entries.is_empty()
    }
}

/// One customer the generator opened, with its signature key.
pub struct Customer {
    pub id: u64,
    pub cert_serial: u64,
    pub key: Ed25519Key,
}

/// The fields of a charge or remittance.
pub struct Op<'a> {
    pub customer: &'a Customer,
    pub request_no: &'a str,
    pub request_date: &'a str,
    pub amount: i64,
}

pub const PAYEE_BANK: &str = "088";
pub const PAYEE_ACCOUNT: &str = "220-33-44444";
pub const PAYEE_NAME: &str = "Load Payee";
const LINKED_BANK: &str = "004";

fn linked_account(id: u64) -> String {
    // Account numbers are at most 20 bytes: digits and hyphens.
    format!("110-{}", id % 10_000_000_000_000_000)
}

pub enum Target {
    Http(Http),
    Embedded { engine: Engine, currency: Currency },
}

pub struct Http {
    client: awc::Client,
    base: String,
    /// Signs every request when the server asks for it.
    signer: Option<RequestSigner>,
}

/// An API key that signs the generator's requests (docs/auth.md).
pub struct RequestSigner {
    key_id: String,
    secret: omnibus_core::payments::api_key::ApiSecret,
}

impl RequestSigner {
    /// From `--key-id` and `--key-secret` (clap makes sure both or neither are given).
    pub fn from_args(
        key_id: Option<&str>,
        secret: Option<&str>,
    ) -> Result<Option<RequestSigner>, String> {
        let (Some(key_id), Some(secret)) = (key_id, secret) else {
            return Ok(None);
        };
        key_id
            .parse::<omnibus_core::payments::api_key::ApiKeyId>()
            .map_err(|e| format!("--key-id: {e}"))?;
        let secret = secret.parse().map_err(|e| format!("--key-secret: {e}"))?;
        Ok(Some(RequestSigner {
            key_id: key_id.to_owned(),
            secret,
        }))
    }

    /// The three headers for one request, signed now.
    fn headers(&self, method: &str, path: &str, body: &[u8]) -> [(&'static str, String); 3] {
        use omnibus_core::payments::api_key::{canonical, signature_header};
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let timestamp = now_ms.to_string();
        let signature = signature_header(&self.secret, &canonical(method, path, &timestamp, body));
        [
            ("Omnibus-Key", self.key_id.clone()),
            ("Omnibus-Timestamp", timestamp),
            ("Omnibus-Signature", signature),
        ]
    }
}

/// Largest answer body read from the server; every answer of the API is far smaller.
const ANSWER_LIMIT_BYTES: usize = 1 << 20;

impl Http {
    pub fn new(
        base: &str,
        connections: usize,
        timeout: Duration,
        signer: Option<RequestSigner>,
    ) -> Self {
        let client = awc::Client::builder()
            .connector(awc::Connector::new().limit(connections))
            .timeout(timeout)
            .disable_redirects()
            .finish();
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            signer,
        }
    }

    /// One HTTP call: the status and the JSON answer, or an error code for a transport
    /// failure (`client_timeout`, `client_connect`, `client_error`).
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), Answer> {
        let url = format!("{}{path}", self.base);
        let mut request = match method {
            "GET" => self.client.get(url),
            _ => self.client.post(url),
        };
        let bytes = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| format!("client_error: {e}"))?;
        if let Some(signer) = &self.signer {
            for header in signer.headers(method, path, bytes.as_deref().unwrap_or(b"")) {
                request = request.insert_header(header);
            }
        }
        let sent = match bytes {
            Some(bytes) => {
                request
                    .insert_header(("content-type", "application/json"))
                    .send_body(bytes)
                    .await
            }
            None => request.send().await,
        };
        let mut response = sent.map_err(|e| match e {
            awc::error::SendRequestError::Timeout => "client_timeout".to_owned(),
            awc::error::SendRequestError::Connect(_) => "client_connect".to_owned(),
            _ => "client_error".to_owned(),
        })?;
        let status = response.status();
        let bytes = response
            .body()
            .limit(ANSWER_LIMIT_BYTES)
            .await
            .map_err(|_| "client_error".to_owned())?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, value))
    }

    /// The outcome of a charge or remittance answer.
    fn answer(status: StatusCode, value: &Value) -> Answer {
        if status.is_success() {
            if let Some(told) = value["told"].as_str() {
                return told.to_owned();
            }
        }
        match value["error"]["code"].as_str() {
            Some(code) => code.to_owned(),
            None => format!("http_{}", status.as_u16()),
        }
    }

    /// A remittance's outcome: as [`Http::answer`], with a failed one that overlapped
    /// another remittance of its customer told apart (its entries looked up).
    async fn remit_answer(&self, request_no: &str, status: StatusCode, value: &Value) -> Answer {
        let answer = Self::answer(status, value);
        if answer != "failed" {
            return answer;
        }
        let failed = FailedRemit {
            deficit: !value["deficit"].is_null(),
            timed_out: value["timed_out"].as_bool().unwrap_or(true),
            decided_by: value["decided_by"].as_str().unwrap_or(""),
        };
        if !failed.may_have_overlapped() {
            return answer;
        }
        let Ok((status, view)) = self
            .call("GET", &format!("/v1/requests/{request_no}"), None)
            .await
        else {
            return answer;
        };
        let Some(entries) = view["entries"].as_array().filter(|_| status.is_success()) else {
            return answer;
        };
        let entries: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| {
                (
                    e["step"].as_str().unwrap_or(""),
                    e["state"].as_str().unwrap_or(""),
                )
            })
            .collect();
        if overlapped(&failed, &entries) {
            FAILED_OVERLAPPING.to_owned()
        } else {
            answer
        }
    }

    pub async fn health(&self) -> Result<(), String> {
        match self.call("GET", "/health", None).await {
            Ok((status, _)) if status.is_success() => Ok(()),
            Ok((status, body)) => Err(format!("{}/health answered {status}: {body}", self.base)),
            Err(code) => Err(format!(
                "{}/health: {code} (is `omnibus serve` running there?)",
                self.base
            )),
        }
    }
}

fn remit_fields(op: &Op<'_>) -> Value {
    json!({
        "customer": op.customer.id,
        "request_date": op.request_date,
        "request_no": op.request_no,
        "amount": op.amount.to_string(),
        "payee_bank": PAYEE_BANK,
        "payee_account": PAYEE_ACCOUNT,
        "payee_name": PAYEE_NAME,
    })
}

fn remit_request(currency: Currency, op: &Op<'_>) -> Result<RemitRequest, Answer> {
    RemitRequest::parse(
        currency,
        &op.customer.id.to_string(),
        op.request_date,
        op.request_no,
        &op.amount.to_string(),
        PAYEE_BANK,
        PAYEE_ACCOUNT,
        PAYEE_NAME,
    )
    .map_err(|e| format!("invalid_field: {e}"))
}

/// An embedded remittance's outcome: what the customer was told, with a failed one that
/// overlapped another remittance of its customer told apart (its entries looked up).
async fn embedded_remit_answer(engine: &Engine, outcome: omnibus_actors::Outcome) -> Answer {
    let answer = told(outcome.told);
    if outcome.told != Told::Failed {
        return answer;
    }
    let failed = FailedRemit {
        deficit: outcome.deficit.is_some(),
        timed_out: outcome.timed_out,
        decided_by: outcome.decided_by.as_str(),
    };
    if !failed.may_have_overlapped() {
        return answer;
    }
    let Ok(view) = engine.request(outcome.request_no).await else {
        return answer;
    };
    let entries: Vec<(&str, &str)> = view
        .entries
        .iter()
        .map(|e| (e.step.as_str(), e.state.as_str()))
        .collect();
    if overlapped(&failed, &entries) {
        FAILED_OVERLAPPING.to_owned()
    } else {
        answer
    }
}

impl Target {
    /// Opens a customer with a linked account at a withdrawal firm bank and its key.
    pub async fn open(&self, customer: &Customer) -> Result<(), String> {
        let public_key = customer.key.verifying_key().to_bytes();
        match self {
            Target::Http(http) => {
                let body = json!({
                    "customer": customer.id,
                    "linked_bank": LINKED_BANK,
                    "linked_account": linked_account(customer.id),
                    "cert_serial": customer.cert_serial,
                    "public_key": crate::server::body::to_hex(&public_key),
                });
                match http.call("POST", "/v1/customers", Some(&body)).await {
                    Ok((status, _)) if status.is_success() => Ok(()),
                    Ok((status, value)) => Err(format!(
                        "opening customer {}: {status} {value}",
                        customer.id
                    )),
                    Err(code) => Err(format!("opening customer {}: {code}", customer.id)),
                }
            }
            Target::Embedded { engine, .. } => {
                let opened = CustomerOpened {
                    customer: CustomerId::new(customer.id).map_err(|e| e.to_string())?,
                    linked_bank: BankCode::new(LINKED_BANK).map_err(|e| e.to_string())?,
                    linked_account: AccountNo::new(&linked_account(customer.id))
                        .map_err(|e| e.to_string())?,
                    tradable: true,
                    subscription_valid: true,
                    signing_key: Some(SigningKey {
                        cert_serial: customer.cert_serial,
                        public_key,
                    }),
                };
                engine
                    .open_customer(opened)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("opening customer {}: {e}", customer.id))
            }
        }
    }

    /// A charge. Also answers how many calls it took (always one).
    pub async fn charge(&self, op: &Op<'_>) -> (Answer, u32) {
        let answer = match self {
            Target::Http(http) => {
                let body = json!({
                    "customer": op.customer.id,
                    "request_date": op.request_date,
                    "request_no": op.request_no,
                    "amount": op.amount.to_string(),
                });
                match http.call("POST", "/v1/charges", Some(&body)).await {
                    Ok((status, value)) => Http::answer(status, &value),
                    Err(code) => code,
                }
            }
            Target::Embedded { engine, currency } => {
                let request = ChargeRequest::parse(
                    *currency,
                    &op.customer.id.to_string(),
                    op.request_date,
                    op.request_no,
                    &op.amount.to_string(),
                );
                match request {
                    Err(e) => format!("invalid_field: {e}"),
                    Ok(request) => match engine.charge(request).await {
                        Ok(outcome) => told(outcome.told),
                        Err(e) => engine_error(&e).code.to_owned(),
                    },
                }
            }
        };
        (answer, 1)
    }

    /// A remittance within the usage limit: one call.
    pub async fn remit(&self, op: &Op<'_>) -> (Answer, u32) {
        let answer = match self {
            Target::Http(http) => match http
                .call("POST", "/v1/remittances", Some(&remit_fields(op)))
                .await
            {
                Ok((status, value)) => http.remit_answer(op.request_no, status, &value).await,
                Err(code) => code,
            },
            Target::Embedded { engine, currency } => match remit_request(*currency, op) {
                Err(e) => e,
                Ok(request) => match engine.remit(request).await {
                    Ok(outcome) => embedded_remit_answer(engine, outcome).await,
                    Err(e) => engine_error(&e).code.to_owned(),
                },
            },
        };
        (answer, 1)
    }

    /// A remittance over the usage limit, as a terminal does it: fetch the signing text,
    /// sign it with the customer's key, submit the remittance with the signature. Two
    /// calls; the outcome is the submission's (or the signing-text call's error).
    pub async fn remit_signed(&self, op: &Op<'_>) -> (Answer, u32) {
        match self {
            Target::Http(http) => {
                let mut fields = remit_fields(op);
                let text = match http
                    .call("POST", "/v1/remittances/signing-text", Some(&fields))
                    .await
                {
                    Ok((status, value)) if status.is_success() => match value["text"].as_str() {
                        Some(text) => text.to_owned(),
                        None => return ("client_error".to_owned(), 1),
                    },
                    Ok((status, value)) => return (Http::answer(status, &value), 1),
                    Err(code) => return (code, 1),
                };
                let signature = op.customer.key.sign(text.as_bytes()).to_bytes();
                fields["signature"] = json!(crate::server::body::to_hex(&signature));
                fields["cert_serial"] = json!(op.customer.cert_serial);
                let answer = match http.call("POST", "/v1/remittances", Some(&fields)).await {
                    Ok((status, value)) => http.remit_answer(op.request_no, status, &value).await,
                    Err(code) => code,
                };
                (answer, 2)
            }
            Target::Embedded { engine, currency } => {
                let request = match remit_request(*currency, op) {
                    Err(e) => return (e, 0),
                    Ok(request) => request,
                };
                let text = match engine.signing_text(request).await {
                    Ok(text) => text,
                    Err(e) => return (engine_error(&e).code.to_owned(), 1),
                };
                let signed = Signed {
                    cert_serial: op.customer.cert_serial,
                    signature: op.customer.key.sign(text.text.as_bytes()).to_bytes(),
                };
                let answer = match engine.remit_signed(request, signed).await {
                    Ok(outcome) => embedded_remit_answer(engine, outcome).await,
                    Err(e) => engine_error(&e).code.to_owned(),
                };
                (answer, 2)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(deficit: bool, decided_by: &str) -> FailedRemit<'_> {
        FailedRemit {
            deficit,
            timed_out: false,
            decided_by,
        }
    }

    #[test]
    fn a_remittance_whose_deficit_was_credited_but_whose_next_hold_was_refused_overlapped() {
        let credited = [
            ("charge_withdrawal", "SUCCESS"),
            ("charge_credit", "SUCCESS"),
        ];
        assert!(overlapped(&failed(true, "payment_instruction"), &credited));
        assert!(overlapped(&failed(true, "remit_deduction"), &credited));
        // A payment instruction with no deficit refused at acceptance: its hold on the
        // balance, taken meanwhile by another remittance (no parent account reserved).
        assert!(overlapped(&failed(false, "payment_instruction"), &[]));
    }

    #[test]
    fn other_failed_remittances_are_not_overlaps() {
        // Refused at acceptance for a short parent slice: decided by its first step.
        assert!(!overlapped(&failed(true, "charge_withdrawal"), &[]));
        // Within the limit, no deficit, deposit firm slice short: nothing moved, no entry.
        assert!(!overlapped(&failed(false, "remit_deduction"), &[]));
        // The securities firm refused the deduction: its entry is there, FAIL.
        let refused = [
            ("charge_withdrawal", "SUCCESS"),
            ("charge_credit", "SUCCESS"),
            ("remit_deduction", "FAIL"),
        ];
        assert!(!overlapped(&failed(true, "remit_deduction"), &refused));
        // The deficit charge did not complete.
        let not_credited = [
            ("charge_withdrawal", "SUCCESS"),
            ("charge_credit", "FAIL_TRY_AGAIN"),
        ];
        assert!(!overlapped(
            &failed(true, "payment_instruction"),
            &not_credited
        ));
        // A timeout is a timeout.
        let timed_out = FailedRemit {
            deficit: true,
            timed_out: true,
            decided_by: "payment_instruction",
        };
        assert!(!overlapped(&timed_out, &[("charge_credit", "SUCCESS")]));
    }
}
