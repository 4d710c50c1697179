//! Signed requests for the tests of `server.auth = "required"` (docs/auth.md): a key and
//! its secret, the three headers made over a request, and the operator's first key made
//! with `omnibus api-key create` before the server starts, as an operator would.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use omnibus_core::payments::api_key::{canonical, signature_header, ApiSecret};
use serde_json::Value;

use super::http::{Response, Server};

/// A key id and its secret, as the API or the command handed them out.
#[derive(Clone, Debug)]
pub struct Signer {
    pub key_id: String,
    pub secret: String,
}

/// Unix milliseconds now, as a caller's clock reads them.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Now, or a millisecond after the last timestamp handed out if that is not earlier.
fn fresh_timestamp_ms() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = now_ms();
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

impl Signer {
    /// From an answer that made a key (`POST /v1/api-keys`, `omnibus api-key create`).
    pub fn from_answer(made: &Value) -> Signer {
        Signer {
            key_id: made["key_id"].as_str().expect("key_id").to_owned(),
            secret: made["secret"].as_str().expect("secret").to_owned(),
        }
    }

    /// The three headers for `method path` with `body`, at `at_ms`.
    pub fn headers_at(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        at_ms: u64,
    ) -> Vec<(String, String)> {
        let secret: ApiSecret = self.secret.parse().expect("a secret as handed out");
        let timestamp = at_ms.to_string();
        let signature = signature_header(&secret, &canonical(method, path, &timestamp, body));
        vec![
            ("Omnibus-Key".to_owned(), self.key_id.clone()),
            ("Omnibus-Timestamp".to_owned(), timestamp),
            ("Omnibus-Signature".to_owned(), signature),
        ]
    }

    /// Sends `method path` (with `body` as JSON), signed now: each request of the process
    /// at a later millisecond than the one before, as a client that signs each request
    /// anew does (docs/auth.md). Two identical requests in one millisecond would sign
    /// alike and the second be refused as a replay: that made a test that asks the same
    /// thing twice fail now and then.
    pub fn send(
        &self,
        server: &Server,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let bytes = body.map(|b| b.to_string().into_bytes());
        let headers = self.headers_at(
            method,
            path,
            bytes.as_deref().unwrap_or(b""),
            fresh_timestamp_ms(),
        );
        send_with(server, method, path, &headers, bytes.as_deref())
    }

    pub fn get(&self, server: &Server, path: &str) -> Response {
        self.send(server, "GET", path, None)
    }

    pub fn post(&self, server: &Server, path: &str, body: &Value) -> Response {
        self.send(server, "POST", path, Some(body))
    }
}

/// Sends a request with exactly these headers (and a JSON content type with a body).
pub fn send_with(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Response {
    let mut all: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    if body.is_some() {
        all.push(("Content-Type", "application/json"));
    }
    server.request(method, path, &all, body)
}

/// The operator's first key, made by `omnibus api-key create --operator` on the data
/// directory before the server starts.
pub fn operator_key(config: &Path, data: &Path) -> Signer {
    let out = Command::new(env!("CARGO_BIN_EXE_omnibus"))
        .args(["api-key", "create", "--operator", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("run omnibus api-key create");
    assert!(
        out.status.success(),
        "omnibus api-key create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: Value = serde_json::from_slice(&out.stdout).expect("the key as JSON");
    assert_eq!(made["owner"], "operator");
    Signer::from_answer(&made)
}
