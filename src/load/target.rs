//! What the load generator talks to: a running server over HTTP (`--url`), or an engine
//! in the same process (`--embedded`). Both take the same operations and answer each
//! with the same outcome names: `succeeded` / `failed` (what the customer was told), or
//! the API's stable error code (the embedded target maps engine errors with the
//! server's own table), so the two runs count alike.

use std::time::Duration;

use awc::http::StatusCode;
use ed25519_dalek::{Signer, SigningKey as Ed25519Key};
use omnibus_actors::{Engine, Signed};
use omnibus_core::record::{CustomerOpened, SigningKey};
use omnibus_core::request_log::Told;
use omnibus_core::{AccountNo, BankCode, ChargeRequest, Currency, CustomerId, RemitRequest};
use serde_json::{json, Value};

use crate::server::errors::engine_error;

/// The outcome of one operation: `succeeded`, `failed`, or an error code.
pub type Answer = String;

pub fn told(told: Told) -> Answer {
    crate::server::views::told_str(told).to_owned()
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
}

/// Largest answer body read from the server; every answer of the API is far smaller.
const ANSWER_LIMIT_BYTES: usize = 1 << 20;

impl Http {
    pub fn new(base: &str, connections: usize, timeout: Duration) -> Self {
        let client = awc::Client::builder()
            .connector(awc::Connector::new().limit(connections))
            .timeout(timeout)
            .disable_redirects()
            .finish();
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
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
        let request = match method {
            "GET" => self.client.get(url),
            _ => self.client.post(url),
        };
        let sent = match body {
            Some(body) => {
                let bytes = serde_json::to_vec(body).map_err(|e| format!("client_error: {e}"))?;
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
                Ok((status, value)) => Http::answer(status, &value),
                Err(code) => code,
            },
            Target::Embedded { engine, currency } => match remit_request(*currency, op) {
                Err(e) => e,
                Ok(request) => match engine.remit(request).await {
                    Ok(outcome) => told(outcome.told),
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
                    Ok((status, value)) => Http::answer(status, &value),
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
                    Ok(outcome) => told(outcome.told),
                    Err(e) => engine_error(&e).code.to_owned(),
                };
                (answer, 2)
            }
        }
    }
}
