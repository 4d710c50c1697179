//! A merchant's payment request (`POST /v1/payments`, INSTRUMENTS.md §6.4), validated on
//! construction, and its idempotency fingerprint.
//!
//! The key is (merchant, `merchant_request_no`); a resubmission under a known key is "the
//! same" request when its fingerprint is the same, and gets the stored outcome (without
//! the secret being checked again); another fingerprint is refused `IDEMPOTENCY_CONFLICT`.
//! Secrets (a PIN, a card password, a check value, `usage_auth`) never enter the
//! fingerprint, and a card or token number enters it only as its credential index (a
//! keyed hash, D-0.3): the fingerprint is stored in `payment_log`, and a plain hash of a
//! 16-digit number could be reversed by trying them all.

use std::fmt;

use sha2::{Digest, Sha256};

use super::merchant::InstrumentType;
use super::secret::CredentialIndex;
use crate::ids::{MerchantId, RequestNo, Tag, TerminalId};

/// The most legs one payment may have (group payment, split tender).
pub const LEGS_MAX: usize = 16;

/// A secret as typed: shown nowhere, compared only through its keyed hash.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(String);

impl SecretText {
    pub fn new(text: String) -> Self {
        Self(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText(..)")
    }
}

/// A division or token number as typed: printed masked but for its last 4 characters
/// (D-5.2 for card numbers, applied to every number of an instrument).
#[derive(Clone, PartialEq, Eq)]
pub struct NumberText(String);

impl NumberText {
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// The number, for indexing it (§6.2, D-0.3).
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NumberText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail: String = self
            .0
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        write!(f, "NumberText(..{tail})")
    }
}

/// The instrument a leg names, with its credential (§6.4). The number of a card or a
/// token is carried only to be indexed; secrets are [`SecretText`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstrumentRef {
    Division {
        number: NumberText,
        pin: SecretText,
    },
    Temp {
        token_no: NumberText,
        usage_auth: SecretText,
        target_device: String,
    },
    PrepaidCard {
        number: super::card_number::CardNumber,
        password: SecretText,
    },
    Wallet {
        checkout_id: String,
    },
    CardSession {
        session_id: String,
        link_id: String,
    },
}

impl InstrumentRef {
    pub const fn kind(&self) -> InstrumentType {
        match self {
            InstrumentRef::Division { .. } => InstrumentType::Division,
            InstrumentRef::Temp { .. } => InstrumentType::Temp,
            InstrumentRef::PrepaidCard { .. } => InstrumentType::PrepaidCard,
            InstrumentRef::Wallet { .. } => InstrumentType::Wallet,
            InstrumentRef::CardSession { .. } => InstrumentType::CardSession,
        }
    }
}

/// One leg of a payment: an instrument and the amount it pays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leg {
    pub instrument: InstrumentRef,
    pub amount_krw: u64,
}

/// A payment request as the merchant sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentRequest {
    pub merchant: MerchantId,
    pub terminal: Option<TerminalId>,
    /// The idempotency key, scoped to the merchant.
    pub merchant_request_no: RequestNo,
    /// Metadata only.
    pub order_no: Option<RequestNo>,
    /// The total.
    pub amount_krw: u64,
    pub category: Tag,
    pub region: Option<Tag>,
    /// One leg (`instrument`) or several (`legs[]`). Whether the legs sum to the total is
    /// step 1a of the checks, a decline (`SPLIT_SUM_MISMATCH`), not a malformed request.
    pub legs: Vec<Leg>,
}

/// Why a payment request is malformed: the field, and what is wrong (answered
/// `INVALID_REQUEST`; nothing is recorded).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidPayment {
    pub field: &'static str,
    pub problem: String,
}

/// An idempotency fingerprint: SHA-256 over the request's fields, secrets excluded.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint(")?;
        for b in &self.0[..6] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

impl PaymentRequest {
    /// Checks what a schema cannot: a positive total, one leg at least and at most
    /// [`LEGS_MAX`], each of a positive amount.
    pub fn validate(&self) -> Result<(), InvalidPayment> {
        let invalid = |field, problem: &str| {
            Err(InvalidPayment {
                field,
                problem: problem.to_owned(),
            })
        };
        if self.amount_krw == 0 {
            return invalid("amount_krw", "must be positive");
        }
        if self.amount_krw > i64::MAX as u64 {
            return invalid("amount_krw", "is larger than any balance");
        }
        if self.legs.is_empty() {
            return invalid("instrument", "a payment names an instrument, or legs");
        }
        if self.legs.len() > LEGS_MAX {
            return invalid("legs", "at most 16 legs");
        }
        if self.legs.iter().any(|l| l.amount_krw == 0) {
            return invalid("legs", "every leg's amount_krw must be positive");
        }
        Ok(())
    }

    /// The fingerprint of the request, given each leg's credential index where its
    /// instrument has a number (`None` where it has none, or for a wallet checkout or a
    /// card session, whose ids are in the fingerprint themselves).
    pub fn fingerprint(&self, indexes: &[Option<CredentialIndex>]) -> Fingerprint {
        let mut h = Sha256::new();
        // Each field goes in tagged and length-prefixed, so no two requests share an input.
        let mut field = |tag: u8, bytes: &[u8]| {
            h.update([tag]);
            h.update((bytes.len() as u32).to_le_bytes());
            h.update(bytes);
        };
        field(1, self.merchant.as_str().as_bytes());
        field(
            2,
            self.terminal
                .as_ref()
                .map_or(b"" as &[u8], |t| t.as_str().as_bytes()),
        );
        field(3, self.merchant_request_no.as_str().as_bytes());
        field(
            4,
            self.order_no
                .as_ref()
                .map_or(b"" as &[u8], |o| o.as_str().as_bytes()),
        );
        field(5, &self.amount_krw.to_le_bytes());
        field(6, self.category.as_str().as_bytes());
        field(
            7,
            self.region
                .as_ref()
                .map_or(b"" as &[u8], |r| r.as_str().as_bytes()),
        );
        for (i, leg) in self.legs.iter().enumerate() {
            field(8, &[leg.instrument.kind() as u8]);
            field(9, &leg.amount_krw.to_le_bytes());
            if let Some(Some(index)) = indexes.get(i) {
                field(10, &index.kid.to_le_bytes());
                field(11, &index.mac);
            }
            match &leg.instrument {
                InstrumentRef::Temp { target_device, .. } => field(12, target_device.as_bytes()),
                InstrumentRef::Wallet { checkout_id } => field(13, checkout_id.as_bytes()),
                InstrumentRef::CardSession {
                    session_id,
                    link_id,
                } => {
                    field(14, session_id.as_bytes());
                    field(15, link_id.as_bytes());
                }
                // The number is in the index; the secret is never in.
                InstrumentRef::Division { .. } | InstrumentRef::PrepaidCard { .. } => {}
            }
        }
        Fingerprint(h.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::card_number::CardNumber;
    use crate::payments::secret::{KeyRing, SecretKey};

    fn card_payment(password: &str, amount_krw: u64) -> PaymentRequest {
        PaymentRequest {
            merchant: MerchantId::new("m2").unwrap(),
            terminal: None,
            merchant_request_no: RequestNo::new("R-14").unwrap(),
            order_no: Some(RequestNo::new("ORDER-7").unwrap()),
            amount_krw,
            category: Tag::new("books").unwrap(),
            region: None,
            legs: vec![Leg {
                instrument: InstrumentRef::PrepaidCard {
                    number: CardNumber::parse("4111111111111111").unwrap(),
                    password: SecretText::new(password.to_owned()),
                },
                amount_krw,
            }],
        }
    }

    fn index(p: &PaymentRequest) -> Vec<Option<CredentialIndex>> {
        let ring = KeyRing::new(SecretKey::new(1, [9; 32]), Vec::new()).unwrap();
        p.legs
            .iter()
            .map(|l| match &l.instrument {
                InstrumentRef::PrepaidCard { number, .. } => {
                    Some(ring.index(number.reveal().as_bytes()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_resubmission_with_another_secret_is_the_same_request_and_another_amount_is_not() {
        let first = card_payment("4827", 20_000);
        let fp = first.fingerprint(&index(&first));
        let other_secret = card_payment("0000", 20_000);
        assert_eq!(other_secret.fingerprint(&index(&other_secret)), fp);
        let other_amount = card_payment("4827", 20_001);
        assert_ne!(other_amount.fingerprint(&index(&other_amount)), fp);
        let mut other_card = card_payment("4827", 20_000);
        other_card.legs[0].instrument = InstrumentRef::PrepaidCard {
            number: CardNumber::parse("4012888888881881").unwrap(),
            password: SecretText::new("4827".into()),
        };
        assert_ne!(other_card.fingerprint(&index(&other_card)), fp);
        let mut no_order = card_payment("4827", 20_000);
        no_order.order_no = None;
        assert_ne!(no_order.fingerprint(&index(&no_order)), fp);
    }

    #[test]
    fn neither_the_secret_nor_the_card_number_shows_in_a_request_printed() {
        let p = card_payment("4827", 20_000);
        let printed = format!("{p:?}");
        assert!(!printed.contains("4827"), "{printed}");
        assert!(!printed.contains("4111111111111111"), "{printed}");
        assert!(printed.contains("************1111"));
        let division = InstrumentRef::Division {
            number: NumberText::new("5512340987".into()),
            pin: SecretText::new("123456".into()),
        };
        assert_eq!(
            format!("{division:?}"),
            "Division { number: NumberText(..0987), pin: SecretText(..) }"
        );
    }

    #[test]
    fn a_payment_without_a_positive_amount_or_a_leg_is_malformed() {
        assert!(card_payment("1", 5).validate().is_ok());
        assert_eq!(
            card_payment("1", 0).validate().unwrap_err().field,
            "amount_krw"
        );
        let mut none = card_payment("1", 5);
        none.legs.clear();
        assert_eq!(none.validate().unwrap_err().field, "instrument");
        let mut many = card_payment("1", 5);
        many.legs = vec![many.legs[0].clone(); LEGS_MAX + 1];
        assert_eq!(many.validate().unwrap_err().field, "legs");
        let mut zero_leg = card_payment("1", 5);
        zero_leg.legs[0].amount_krw = 0;
        assert_eq!(zero_leg.validate().unwrap_err().field, "legs");
    }
}
