//! Card numbers (INSTRUMENTS.md D-5.2): 16 digits under an issuer identification number
//! (the partner card company's BIN; until the VAN milestone, a configured test IIN), the
//! last a Luhn check digit. A [`CardNumber`] prints masked everywhere, `Debug` and
//! `Display` alike, but for the last 4 digits; [`CardNumber::reveal`] is the one way to
//! the full number, for the one answer that shows a card to its owner.

use std::fmt;

/// Digits of a card number.
pub const CARD_NUMBER_DIGITS: usize = 16;

/// A malformed card number or IIN. Never carries the number it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CardNumberError {
    #[error("a card number is 16 digits")]
    NotSixteenDigits,
    #[error("the card number's check digit is wrong")]
    CheckDigit,
    #[error("an IIN is 6 to 8 digits")]
    Iin,
    #[error("serial {serial} does not fit the {digits} digits the IIN leaves")]
    SerialTooLarge { serial: u64, digits: usize },
}

/// The Luhn check digit that completes `payload` (digits, without their check digit).
pub fn luhn_check_digit(payload: &[u8]) -> u8 {
    // From the right, every other digit starting with the payload's last is doubled.
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 0 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// A 16-digit card number with a valid check digit.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CardNumber([u8; CARD_NUMBER_DIGITS]);

impl CardNumber {
    /// The card number of `serial` under `iin`: the IIN, the serial zero-padded, then the
    /// check digit. Numbers of distinct serials are distinct.
    pub fn issue(iin: &str, serial: u64) -> Result<Self, CardNumberError> {
        if !(6..=8).contains(&iin.len()) || !iin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardNumberError::Iin);
        }
        let digits = CARD_NUMBER_DIGITS - 1 - iin.len();
        let text = format!("{iin}{serial:0digits$}");
        if text.len() != CARD_NUMBER_DIGITS - 1 {
            return Err(CardNumberError::SerialTooLarge { serial, digits });
        }
        let mut number = [0u8; CARD_NUMBER_DIGITS];
        for (slot, b) in number.iter_mut().zip(text.bytes()) {
            *slot = b - b'0';
        }
        number[CARD_NUMBER_DIGITS - 1] = luhn_check_digit(&number[..CARD_NUMBER_DIGITS - 1]);
        Ok(Self(number))
    }

    /// A number as typed: 16 digits (spaces and hyphens between them allowed) with a valid
    /// check digit.
    pub fn parse(text: &str) -> Result<Self, CardNumberError> {
        let mut number = [0u8; CARD_NUMBER_DIGITS];
        let mut n = 0;
        for c in text.chars().filter(|c| *c != ' ' && *c != '-') {
            let d = c.to_digit(10).ok_or(CardNumberError::NotSixteenDigits)?;
            *number.get_mut(n).ok_or(CardNumberError::NotSixteenDigits)? = d as u8;
            n += 1;
        }
        if n != CARD_NUMBER_DIGITS {
            return Err(CardNumberError::NotSixteenDigits);
        }
        if luhn_check_digit(&number[..CARD_NUMBER_DIGITS - 1]) != number[CARD_NUMBER_DIGITS - 1] {
            return Err(CardNumberError::CheckDigit);
        }
        Ok(Self(number))
    }

    /// The last 4 digits, which every answer but the owner's `reveal` shows.
    pub fn last4(&self) -> String {
        self.0[CARD_NUMBER_DIGITS - 4..]
            .iter()
            .map(|d| char::from(b'0' + d))
            .collect()
    }

    /// The 16 digits as ASCII bytes: for sealing under the data key and for the index.
    pub fn ascii(&self) -> [u8; CARD_NUMBER_DIGITS] {
        self.0.map(|d| b'0' + d)
    }

    /// A number from the 16 ASCII digits [`CardNumber::ascii`] gave.
    pub fn from_ascii(digits: &[u8; CARD_NUMBER_DIGITS]) -> Result<Self, CardNumberError> {
        Self::parse(std::str::from_utf8(digits).map_err(|_| CardNumberError::NotSixteenDigits)?)
    }

    /// The full number: only for the one answer that shows a card to its owner (D-5.2),
    /// and for hashing it into the credential index.
    pub fn reveal(&self) -> String {
        self.0.iter().map(|d| char::from(b'0' + d)).collect()
    }
}

impl fmt::Display for CardNumber {
    /// Masked: `************1234`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "************{}", self.last4())
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_agrees_with_known_numbers() {
        // The classic test number 79927398713, and a Visa test card.
        assert_eq!(luhn_check_digit(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1]), 3);
        assert!(CardNumber::parse("4111 1111 1111 1111").is_ok());
        assert_eq!(
            CardNumber::parse("4111111111111112"),
            Err(CardNumberError::CheckDigit)
        );
        assert_eq!(
            CardNumber::parse("411111111111111"),
            Err(CardNumberError::NotSixteenDigits)
        );
        assert_eq!(
            CardNumber::parse("41111111111111110"),
            Err(CardNumberError::NotSixteenDigits)
        );
        assert_eq!(
            CardNumber::parse("4111-1111-1111-111x"),
            Err(CardNumberError::NotSixteenDigits)
        );
    }

    #[test]
    fn an_issued_number_is_16_digits_under_the_iin_with_a_valid_check_digit() {
        for serial in [0, 1, 42, 9_999_999] {
            let card = CardNumber::issue("94100001", serial).unwrap();
            let full = card.reveal();
            assert_eq!(full.len(), 16);
            assert!(full.starts_with("94100001"));
            assert_eq!(
                CardNumber::parse(&full),
                Ok(card),
                "the check digit is valid"
            );
        }
        assert_ne!(
            CardNumber::issue("941000", 1).unwrap(),
            CardNumber::issue("941000", 2).unwrap()
        );
        assert_eq!(
            CardNumber::issue("94100001", 10_000_000),
            Err(CardNumberError::SerialTooLarge {
                serial: 10_000_000,
                digits: 7
            })
        );
        assert_eq!(CardNumber::issue("94a001", 1), Err(CardNumberError::Iin));
    }

    #[test]
    fn a_card_number_is_masked_but_for_its_last_4_digits_except_when_revealed() {
        let card = CardNumber::parse("4111111111111111").unwrap();
        assert_eq!(card.to_string(), "************1111");
        assert_eq!(format!("{card:?}"), "CardNumber(************1111)");
        assert_eq!(card.last4(), "1111");
        assert_eq!(card.reveal(), "4111111111111111");
    }
}
