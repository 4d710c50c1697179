//! API keys and signed requests (docs/auth.md): who may call what.
//!
//! - An API key belongs to the operator or to one merchant; a merchant has as many as it
//!   likes, so that it can rotate them. The engine keeps each as one `api_key_set` record
//!   ([`ApiKey`]): the id, the owner, the status and the id of the server key it is derived
//!   under. **No secret is stored anywhere**: the secret is
//!   `HMAC-SHA-256(api_key[kid], "omnibus api key v1" ‖ id)` ([`derive_secret`]), where
//!   `api_key[kid]` is itself derived from the payments key file's `pin_key[kid]`, which never
//!   enters the write-ahead log, the snapshots or the archive. A copy of the data directory
//!   therefore signs nothing. (A stored hash of the secret would not do: checking an HMAC
//!   signature needs the secret itself, so a hash that checks it would be the secret.)
//! - A request is signed over its method, its path with the query, the caller's timestamp
//!   and the SHA-256 of its body ([`canonical`]), with HMAC-SHA-256 under the secret, and
//!   checked in constant time ([`verify`]). The timestamp must lie within a window of the
//!   server's clock, and the server remembers the signatures it has seen in that window, so
//!   that a replayed request is refused and an altered one does not check.
//!
//! This module computes; it never reads a clock, a key file or the network.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::secret::KeyId;
use crate::ids::MerchantNo;

type HmacSha256 = Hmac<Sha256>;

/// The prefix of a key id as written.
pub const KEY_ID_PREFIX: &str = "ak_";
/// The prefix of a secret as written.
pub const SECRET_PREFIX: &str = "sk_";
/// The version of the signing scheme, first line of the signed text and prefix of the
/// signature header's value.
pub const SCHEME: &str = "v1";

/// An API key's id: 12 random bytes, written `ak_` and 24 lowercase hex digits. It is not
/// a secret: it names the key in the `Omnibus-Key` header and in logs.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct ApiKeyId(pub [u8; 12]);

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(KEY_ID_PREFIX)?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for ApiKeyId {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const WHAT: &str = "must be ak_ and 24 lowercase hex digits";
        let hex = s.strip_prefix(KEY_ID_PREFIX).ok_or(WHAT)?;
        Ok(ApiKeyId(hex_array(hex).ok_or(WHAT)?))
    }
}

fn hex_array<const N: usize>(hex: &str) -> Option<[u8; N]> {
    if hex.len() != 2 * N || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        use fmt::Write;
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Whose key it is, and so what it may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug))]
pub enum ApiKeyOwner {
    /// The operator: customers, charges, remittances, merchant onboarding, cards, keys;
    /// and a merchant's routes for any merchant it names.
    Operator,
    /// One merchant: its own payments, payouts and keys only.
    Merchant(MerchantNo),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug))]
pub enum ApiKeyStatus {
    Active,
    /// For good: a revoked key signs nothing again.
    Revoked,
}

/// An API key as the engine keeps it: never its secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug))]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub owner: ApiKeyOwner,
    /// The server key (`pin_key[kid]` of the payments key file) its secret derives from.
    pub kid: KeyId,
    pub status: ApiKeyStatus,
    pub created_at_ms: u64,
    /// When it was revoked; 0 while active.
    pub revoked_at_ms: u64,
}

impl ApiKey {
    pub fn is_active(&self) -> bool {
        self.status == ApiKeyStatus::Active
    }

    /// The key revoked at `at_ms`.
    pub fn revoked(self, at_ms: u64) -> ApiKey {
        ApiKey {
            status: ApiKeyStatus::Revoked,
            revoked_at_ms: at_ms,
            ..self
        }
    }
}

/// The secret of a key, 32 bytes, written `sk_` and 64 hex digits. Its `Debug` hides it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ApiSecret(pub [u8; 32]);

impl ApiSecret {
    /// The secret as the caller writes it: shown once, when the key is made.
    pub fn reveal(&self) -> String {
        format!("{SECRET_PREFIX}{}", hex(&self.0))
    }
}

impl fmt::Debug for ApiSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiSecret(..)")
    }
}

impl FromStr for ApiSecret {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const WHAT: &str = "must be sk_ and 64 lowercase hex digits";
        let hex = s.strip_prefix(SECRET_PREFIX).ok_or(WHAT)?;
        Ok(ApiSecret(hex_array(hex).ok_or(WHAT)?))
    }
}

/// The API-key derivation key for `pin_key` bytes: a key of its own, so that nothing made
/// under `pin_key` (a sealed PIN) can ever equal an API secret.
pub fn derivation_key(pin_key: &[u8; 32]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(pin_key).expect("HMAC takes a key of any length");
    mac.update(b"omnibus api key derivation v1");
    mac.finalize().into_bytes().into()
}

/// The secret of key `id` under the derivation key.
pub fn derive_secret(derivation_key: &[u8; 32], id: ApiKeyId) -> ApiSecret {
    let mut mac =
        HmacSha256::new_from_slice(derivation_key).expect("HMAC takes a key of any length");
    mac.update(b"omnibus api key v1");
    mac.update(&id.0);
    ApiSecret(mac.finalize().into_bytes().into())
}

/// The text a request's signature covers: the scheme, the method, the path with its query
/// exactly as sent, the timestamp in Unix milliseconds as sent, and the SHA-256 of the
/// body (of nothing for a GET), each on its own line.
pub fn canonical(method: &str, path_and_query: &str, timestamp: &str, body: &[u8]) -> String {
    let body_hash = hex(&Sha256::digest(body));
    format!("{SCHEME}\n{method}\n{path_and_query}\n{timestamp}\n{body_hash}")
}

/// The signature of `canonical` under `secret`.
pub fn sign(secret: &ApiSecret, canonical: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(&secret.0).expect("HMAC takes a key of any length");
    mac.update(canonical.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The `Omnibus-Signature` header's value for `canonical` under `secret`.
pub fn signature_header(secret: &ApiSecret, canonical: &str) -> String {
    format!("{SCHEME}={}", hex(&sign(secret, canonical)))
}

/// The signature an `Omnibus-Signature` header carries, or `None` if it is not one.
pub fn parse_signature_header(value: &str) -> Option<[u8; 32]> {
    hex_array(value.strip_prefix(SCHEME)?.strip_prefix('=')?)
}

/// Whether `signature` is `canonical`'s under `secret`, in constant time.
pub fn verify(secret: &ApiSecret, canonical: &str, signature: &[u8; 32]) -> bool {
    let mut mac = HmacSha256::new_from_slice(&secret.0).expect("HMAC takes a key of any length");
    mac.update(canonical.as_bytes());
    mac.verify_slice(signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> [u8; 32] {
        derivation_key(&[7; 32])
    }

    #[test]
    fn a_key_id_and_a_secret_read_back_as_written() {
        let id = ApiKeyId([0xab; 12]);
        assert_eq!(id.to_string(), format!("ak_{}", "ab".repeat(12)));
        assert_eq!(id.to_string().parse::<ApiKeyId>(), Ok(id));
        assert!("ak_AB".parse::<ApiKeyId>().is_err());
        assert!(format!("sk_{}", "ab".repeat(12))
            .parse::<ApiKeyId>()
            .is_err());
        let secret = derive_secret(&key(), id);
        assert_eq!(secret.reveal().parse::<ApiSecret>(), Ok(secret));
        assert_eq!(format!("{secret:?}"), "ApiSecret(..)");
    }

    #[test]
    fn each_key_has_its_own_secret_and_each_server_key_its_own() {
        let a = derive_secret(&key(), ApiKeyId([1; 12]));
        let b = derive_secret(&key(), ApiKeyId([2; 12]));
        let c = derive_secret(&derivation_key(&[8; 32]), ApiKeyId([1; 12]));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, derive_secret(&key(), ApiKeyId([1; 12])));
    }

    #[test]
    fn a_signature_checks_only_the_request_it_was_made_for() {
        let secret = derive_secret(&key(), ApiKeyId([1; 12]));
        let text = canonical("POST", "/v1/payments", "1700000000000", b"{\"a\":1}");
        let header = signature_header(&secret, &text);
        let sig = parse_signature_header(&header).unwrap();
        assert!(verify(&secret, &text, &sig));
        for altered in [
            canonical("GET", "/v1/payments", "1700000000000", b"{\"a\":1}"),
            canonical("POST", "/v1/payments?x", "1700000000000", b"{\"a\":1}"),
            canonical("POST", "/v1/payments", "1700000000001", b"{\"a\":1}"),
            canonical("POST", "/v1/payments", "1700000000000", b"{\"a\":2}"),
        ] {
            assert!(!verify(&secret, &altered, &sig));
        }
        let other = derive_secret(&key(), ApiKeyId([2; 12]));
        assert!(!verify(&other, &text, &sig));
        assert_eq!(parse_signature_header("v2=00"), None);
    }
}
