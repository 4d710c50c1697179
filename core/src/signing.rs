//! The transaction original text of a payment instruction (SPEC §5a, seed FIG. 4C) and
//! the check of its ed25519 signature.
//!
//! The engine issues the text for one remittance (S3); the customer terminal signs it
//! (S4) and submits the signature with its certificate serial (S5); the engine and the
//! financial company server both check it. The text is canonical, one `key: value` line
//! per field, so both sides can parse it back and compare every field with the
//! instruction: a text for one request cannot be used for another, and an altered text
//! no longer matches its signature.

use std::fmt::Write;

use ed25519_dalek::{Signature, VerifyingKey};
use thiserror::Error;

use crate::ids::{AccountNo, BankCode, CustomerId, PayeeName, RequestNo};
use crate::money::{Amount, Currency};
use crate::request::{Payee, RemitRequest, RequestDate, RequestHeader};

const FIRST_LINE: &str = "omnibus payment instruction v1";

/// Why a signed instruction is refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SigningError {
    #[error("the original text is not one the engine issued: {0}")]
    Malformed(String),
    #[error("the original text is for another request: its {field} differs")]
    Altered { field: &'static str },
    #[error("the original text expired at {expires_at_ms} ms, it is now {now_ms} ms")]
    Expired { expires_at_ms: u64, now_ms: u64 },
    #[error("the signature does not verify with the key of certificate {cert_serial}")]
    BadSignature { cert_serial: u64 },
    #[error("the public key of certificate {cert_serial} is not a valid ed25519 key")]
    BadKey { cert_serial: u64 },
    #[error("is not an ed25519 public key: the 32 bytes encode no curve point")]
    NotAKey,
    #[error(
        "is a weak ed25519 public key (a point of small order): a signature over it can be made without any private key; register the key of a real key pair"
    )]
    WeakKey,
}

/// The fields of an issued original text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalText {
    pub request: RemitRequest,
    /// Makes each issued text unique, so a signature is good for one text only.
    pub nonce: u128,
    pub expires_at_ms: u64,
}

impl OriginalText {
    /// The canonical text to sign.
    pub fn render(&self) -> String {
        let h = &self.request.header;
        let p = &self.request.payee;
        let mut text = String::with_capacity(320);
        let _ = write!(
            text,
            "{FIRST_LINE}\ncustomer: {}\nrequest_date: {}\nrequest_no: {}\namount: {} {}\npayee_bank: {}\npayee_account: {}\npayee_name: {}\nnonce: {:032x}\nexpires_at_ms: {}\n",
            h.customer,
            h.request_date,
            h.request_no,
            h.amount.value(),
            h.amount.currency(),
            p.bank,
            p.account,
            p.name,
            self.nonce,
            self.expires_at_ms
        );
        text
    }

    /// Reads a text back; anything that is not exactly a rendered text is `Malformed`.
    pub fn parse(text: &str) -> Result<OriginalText, SigningError> {
        let bad = |what: &str| SigningError::Malformed(what.to_string());
        let mut lines = text.lines();
        if lines.next() != Some(FIRST_LINE) {
            return Err(bad("the first line is not the instruction header"));
        }
        let mut field = |name: &str| -> Result<&str, SigningError> {
            let line = lines
                .next()
                .ok_or_else(|| bad(&format!("{name} is missing")))?;
            line.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(": "))
                .ok_or_else(|| bad(&format!("expected {name}, found {line:?}")))
        };
        let customer: CustomerId = field("customer")?.parse().map_err(|_| bad("customer"))?;
        let request_date: RequestDate = field("request_date")?
            .parse()
            .map_err(|_| bad("request_date"))?;
        let request_no: RequestNo = field("request_no")?
            .parse()
            .map_err(|_| bad("request_no"))?;
        let (value, currency) = field("amount")?
            .split_once(' ')
            .ok_or_else(|| bad("amount"))?;
        let currency: Currency = currency.parse().map_err(|_| bad("amount currency"))?;
        let amount = Amount::parse(currency, value).map_err(|_| bad("amount"))?;
        let bank: BankCode = field("payee_bank")?
            .parse()
            .map_err(|_| bad("payee_bank"))?;
        let account: AccountNo = field("payee_account")?
            .parse()
            .map_err(|_| bad("payee_account"))?;
        let name: PayeeName = field("payee_name")?
            .parse()
            .map_err(|_| bad("payee_name"))?;
        let nonce = u128::from_str_radix(field("nonce")?, 16).map_err(|_| bad("nonce"))?;
        let expires_at_ms: u64 = field("expires_at_ms")?
            .parse()
            .map_err(|_| bad("expires_at_ms"))?;
        let parsed = OriginalText {
            request: RemitRequest {
                header: RequestHeader {
                    customer,
                    request_date,
                    request_no,
                    amount,
                },
                payee: Payee {
                    bank,
                    account,
                    name,
                },
            },
            nonce,
            expires_at_ms,
        };
        // Only the canonical rendering is accepted, byte for byte.
        if parsed.render() != text {
            return Err(bad("the text is not in canonical form"));
        }
        Ok(parsed)
    }

    /// The first field in which the text differs from `request`, if any.
    pub fn check_matches(&self, request: &RemitRequest) -> Result<(), SigningError> {
        let (a, b) = (&self.request, request);
        let differs = |field| Err(SigningError::Altered { field });
        if a.header.customer != b.header.customer {
            return differs("customer");
        }
        if a.header.request_date != b.header.request_date {
            return differs("request_date");
        }
        if a.header.request_no != b.header.request_no {
            return differs("request_no");
        }
        if a.header.amount != b.header.amount {
            return differs("amount");
        }
        if a.payee.bank != b.payee.bank {
            return differs("payee_bank");
        }
        if a.payee.account != b.payee.account {
            return differs("payee_account");
        }
        if a.payee.name != b.payee.name {
            return differs("payee_name");
        }
        Ok(())
    }
}

/// Checks a public key offered for registration (a customer's certificate): it must
/// encode a curve point, and not one of small order. Over a small-order ("weak") key such
/// as the identity (`01 00 .. 00`) or `00 .. 00`, a signature can be forged without any
/// private key (R = the base point, s = 1 verifies with plain ed25519 for every text whose
/// challenge is a multiple of the key's order), so such a key must never be registered.
/// Every place that registers a key calls this: the server before it asks the engine,
/// and the engine's own opening.
pub fn check_public_key(public_key: &[u8; 32]) -> Result<(), SigningError> {
    let key = VerifyingKey::from_bytes(public_key).map_err(|_| SigningError::NotAKey)?;
    if key.is_weak() {
        return Err(SigningError::WeakKey);
    }
    Ok(())
}

/// Checks an ed25519 signature over `text` with `public_key` (of certificate `cert_serial`).
///
/// Strict verification (`verify_strict`) refuses a weak key and a small-order R even if
/// one was registered before keys were checked, and a non-canonical R: plain `verify`
/// accepts the forgery described at [`check_public_key`].
pub fn verify_signature(
    text: &str,
    signature: &[u8; 64],
    public_key: &[u8; 32],
    cert_serial: u64,
) -> Result<(), SigningError> {
    verify_with(
        text,
        signature,
        &decode_key(public_key, cert_serial)?,
        cert_serial,
    )
}

/// A public key decoded (its curve point decompressed), to be kept and used by
/// [`verify_with`] for many signatures: decoding is about a fifth of a check.
pub fn decode_key(public_key: &[u8; 32], cert_serial: u64) -> Result<DecodedKey, SigningError> {
    VerifyingKey::from_bytes(public_key)
        .map(DecodedKey)
        .map_err(|_| SigningError::BadKey { cert_serial })
}

/// A customer's public key with its curve point decompressed ([`decode_key`]).
#[derive(Clone, Debug)]
pub struct DecodedKey(VerifyingKey);

/// [`verify_signature`] with a key decoded before ([`decode_key`]).
pub fn verify_with(
    text: &str,
    signature: &[u8; 64],
    key: &DecodedKey,
    cert_serial: u64,
) -> Result<(), SigningError> {
    key.0
        .verify_strict(text.as_bytes(), &Signature::from_bytes(signature))
        .map_err(|_| SigningError::BadSignature { cert_serial })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey, Verifier};

    fn text() -> OriginalText {
        OriginalText {
            request: RemitRequest::parse(
                Currency::Krw,
                "42",
                "2026-11-21",
                "R-9",
                "2500000",
                "004",
                "110-22-3333",
                "홍길동",
            )
            .unwrap(),
            nonce: 0xfeed,
            expires_at_ms: 1_800_000_000_000,
        }
    }

    #[test]
    fn an_original_text_parses_back_to_its_fields() {
        let t = text();
        assert_eq!(OriginalText::parse(&t.render()).unwrap(), t);
    }

    #[test]
    fn an_altered_text_is_not_canonical_or_does_not_match() {
        let rendered = text().render().replace("2500000", "2500001");
        let parsed = OriginalText::parse(&rendered).unwrap();
        assert_eq!(
            parsed.check_matches(&text().request),
            Err(SigningError::Altered { field: "amount" })
        );
        assert!(OriginalText::parse(&text().render().replace("nonce: ", "nonce:  ")).is_err());
    }

    #[test]
    fn a_signature_verifies_only_for_its_text_and_key() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let rendered = text().render();
        let signature = key.sign(rendered.as_bytes()).to_bytes();
        let public = key.verifying_key().to_bytes();
        assert!(verify_signature(&rendered, &signature, &public, 1).is_ok());
        let other = rendered.replace("R-9", "R-8");
        assert_eq!(
            verify_signature(&other, &signature, &public, 1),
            Err(SigningError::BadSignature { cert_serial: 1 })
        );
        let stranger = SigningKey::from_bytes(&[8; 32]).verifying_key().to_bytes();
        assert!(verify_signature(&rendered, &signature, &stranger, 1).is_err());
    }

    /// The identity point's encoding (`y = 1`): a public key of order 1.
    const IDENTITY_KEY: [u8; 32] = {
        let mut key = [0; 32];
        key[0] = 1;
        key
    };

    /// `y = 0`: a point of order 4, the other weak key of issue 12.
    const ZERO_KEY: [u8; 32] = [0; 32];

    /// A signature made without any private key: R is the base point B (compressed,
    /// `58 66 .. 66`) and s is 1. Plain verification checks `[s]B - [k]A == R`; with A of
    /// small order, `[k]A` is the identity whenever k is a multiple of A's order, and
    /// then `[1]B == B` holds whatever the text.
    fn forged_signature() -> [u8; 64] {
        let mut signature = [0x66; 64];
        signature[0] = 0x58;
        signature[32..].copy_from_slice(&[0; 32]);
        signature[32] = 1;
        signature
    }

    /// Whether ed25519-dalek's plain (cofactorless, weak-key-tolerant) `verify` accepts
    /// `signature` over `text`: the check this module used before issue 12.
    fn plain_verify_accepts(text: &str, signature: &[u8; 64], key: &[u8; 32]) -> bool {
        let key = VerifyingKey::from_bytes(key).expect("a curve point");
        key.verify(text.as_bytes(), &Signature::from_bytes(signature))
            .is_ok()
    }

    /// Texts of distinct nonces, standing for the many texts the engine issues.
    fn texts(count: u128) -> impl Iterator<Item = String> {
        (0..count).map(|nonce| OriginalText { nonce, ..text() }.render())
    }

    #[test]
    fn plain_verify_accepts_the_forgery_over_the_identity_key_for_any_text() {
        // This is the attack, shown against the library call itself: it is why the
        // engine registers no weak key and verifies strictly.
        for rendered in texts(16) {
            assert!(plain_verify_accepts(
                &rendered,
                &forged_signature(),
                &IDENTITY_KEY
            ));
        }
    }

    #[test]
    fn a_forged_signature_over_the_identity_key_is_refused() {
        for rendered in texts(16) {
            assert_eq!(
                verify_signature(&rendered, &forged_signature(), &IDENTITY_KEY, 7),
                Err(SigningError::BadSignature { cert_serial: 7 }),
                "a forgery verified over {rendered:?}"
            );
        }
    }

    #[test]
    fn a_forged_signature_over_the_all_zero_key_is_refused() {
        // Over a key of order 4 the forgery holds for about one text in four (those whose
        // challenge k is a multiple of 4): find such texts, then check each is refused.
        let forgeable: Vec<String> = texts(64)
            .filter(|t| plain_verify_accepts(t, &forged_signature(), &ZERO_KEY))
            .collect();
        assert!(forgeable.len() >= 4, "{} forgeable texts", forgeable.len());
        for rendered in forgeable {
            assert_eq!(
                verify_signature(&rendered, &forged_signature(), &ZERO_KEY, 7),
                Err(SigningError::BadSignature { cert_serial: 7 }),
                "a forgery verified over {rendered:?}"
            );
        }
    }

    #[test]
    fn weak_and_invalid_public_keys_are_refused_at_registration() {
        assert_eq!(check_public_key(&IDENTITY_KEY), Err(SigningError::WeakKey));
        assert_eq!(check_public_key(&ZERO_KEY), Err(SigningError::WeakKey));
        // Every point of small order is weak, not only these two encodings.
        let mut minus_identity = IDENTITY_KEY;
        minus_identity[0] = 0xec;
        minus_identity[1..31].fill(0xff);
        minus_identity[31] = 0x7f;
        assert_eq!(
            check_public_key(&minus_identity),
            Err(SigningError::WeakKey)
        );
        // y = 2 is not the y of any curve point.
        let mut not_a_point = [0; 32];
        not_a_point[0] = 2;
        assert_eq!(check_public_key(&not_a_point), Err(SigningError::NotAKey));
        let good = SigningKey::from_bytes(&[7; 32]).verifying_key().to_bytes();
        assert_eq!(check_public_key(&good), Ok(()));
    }
}
