//! Money on `rust_decimal`: a currency-aware signed value ([`Money`]) and a strictly
//! positive request amount ([`Amount`]).
//!
//! Every arithmetic operation is checked: an overflow or a currency mismatch is a typed
//! [`MoneyError`], never a wrap-around or a panic. The engine never holds a value with
//! more fractional digits than its currency has minor units, so KRW values are whole won.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::archive::DecimalDef;

/// A currency the engine can hold. The engine clears Korean won; the type exists so that a
/// value in one currency is never silently added to a value in another.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub enum Currency {
    /// Korean won. It has no minor unit: every KRW value is a whole number of won.
    #[serde(rename = "KRW")]
    Krw,
}

impl Currency {
    /// How many fractional digits a value in this currency may have.
    pub const fn minor_unit_digits(self) -> u32 {
        match self {
            Currency::Krw => 0,
        }
    }

    /// The ISO 4217 code.
    pub const fn code(self) -> &'static str {
        match self {
            Currency::Krw => "KRW",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "KRW" => Ok(Currency::Krw),
            other => Err(MoneyError::UnknownCurrency(other.to_owned())),
        }
    }
}

/// The largest magnitude any single value may have: 10^18 minor units. Balances are sums
/// of amounts, and keeping each well inside `Decimal`'s 96-bit mantissa means a sum of
/// billions of them still cannot overflow; the checked arithmetic is the backstop.
pub const MAX_ABS_MINOR_UNITS: i64 = 1_000_000_000_000_000_000;

/// Why a monetary value was refused or an operation on values failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum MoneyError {
    #[error("{currency} has {allowed} fractional digits, but {value} has {scale}")]
    TooManyFractionalDigits {
        currency: Currency,
        allowed: u32,
        scale: u32,
        value: Decimal,
    },
    #[error("an amount must be greater than zero, got {0}")]
    NotPositive(Decimal),
    #[error("{0} is outside the largest magnitude the engine holds (10^18 minor units)")]
    OutOfRange(String),
    #[error("cannot combine {left} with {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("arithmetic overflow")]
    Overflow,
    #[error("unknown currency {0:?}: the engine holds KRW")]
    UnknownCurrency(String),
    #[error(
        "{text:?} is not an amount: write whole {currency} in decimal digits only, without sign, spaces, decimal point or exponent"
    )]
    NotWritten { text: String, currency: Currency },
}

fn check_value(currency: Currency, value: Decimal) -> Result<Decimal, MoneyError> {
    let normalized = value.normalize();
    let allowed = currency.minor_unit_digits();
    if normalized.scale() > allowed {
        return Err(MoneyError::TooManyFractionalDigits {
            currency,
            allowed,
            scale: normalized.scale(),
            value,
        });
    }
    let limit = Decimal::from(MAX_ABS_MINOR_UNITS) / Decimal::from(10i64.pow(allowed));
    if normalized.abs() > limit {
        return Err(MoneyError::OutOfRange(value.to_string()));
    }
    Ok(normalized)
}

/// A signed monetary value in one currency: a balance, a sum, a difference.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Money {
    #[rkyv(with = DecimalDef)]
    value: Decimal,
    currency: Currency,
}

impl Money {
    /// A validated value: refuses fractions finer than the currency's minor unit and
    /// magnitudes beyond [`MAX_ABS_MINOR_UNITS`].
    pub fn new(currency: Currency, value: Decimal) -> Result<Self, MoneyError> {
        Ok(Self {
            value: check_value(currency, value)?,
            currency,
        })
    }

    /// Whole won.
    pub fn krw(won: i64) -> Result<Self, MoneyError> {
        Self::new(Currency::Krw, Decimal::from(won))
    }

    pub const fn zero(currency: Currency) -> Self {
        Self {
            value: Decimal::ZERO,
            currency,
        }
    }

    pub const fn value(&self) -> Decimal {
        self.value
    }

    pub const fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_zero(&self) -> bool {
        self.value.is_zero()
    }

    pub fn is_negative(&self) -> bool {
        self.value.is_sign_negative() && !self.value.is_zero()
    }

    fn same_currency(&self, other: Currency) -> Result<(), MoneyError> {
        if self.currency == other {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other,
            })
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other.currency)?;
        let sum = self
            .value
            .checked_add(other.value)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money {
            value: sum,
            currency: self.currency,
        })
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other.currency)?;
        let diff = self
            .value
            .checked_sub(other.value)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money {
            value: diff,
            currency: self.currency,
        })
    }

    pub fn checked_add_amount(self, amount: Amount) -> Result<Money, MoneyError> {
        self.checked_add(amount.money())
    }

    pub fn checked_sub_amount(self, amount: Amount) -> Result<Money, MoneyError> {
        self.checked_sub(amount.money())
    }

    /// `Some(amount)` when the value is strictly positive.
    pub fn to_amount(self) -> Option<Amount> {
        (self.value > Decimal::ZERO).then_some(Amount(self))
    }

    pub fn negate(self) -> Money {
        Money {
            value: -self.value,
            currency: self.currency,
        }
    }
}

/// Values compare only within one currency: won and dollars have no order.
impl PartialOrd for Money {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        (self.currency == other.currency).then(|| self.value.cmp(&other.value))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.value, self.currency)
    }
}

/// A strictly positive amount: what a request, a posting or a transfer moves.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Amount(Money);

impl Amount {
    /// A validated amount: strictly positive, no finer than the currency's minor unit,
    /// within [`MAX_ABS_MINOR_UNITS`].
    pub fn new(currency: Currency, value: Decimal) -> Result<Self, MoneyError> {
        let money = Money::new(currency, value)?;
        if money.value <= Decimal::ZERO {
            return Err(MoneyError::NotPositive(value));
        }
        Ok(Amount(money))
    }

    /// Whole won, strictly positive.
    pub fn krw(won: i64) -> Result<Self, MoneyError> {
        Self::new(Currency::Krw, Decimal::from(won))
    }

    /// The largest amount, in whole units of a currency without minor units: what
    /// [`Amount::parse`] accepts at most, and what the API document states.
    pub const MAX_WHOLE: i64 = MAX_ABS_MINOR_UNITS;

    /// Parses an amount as the API and the original text write it: decimal digits only,
    /// such as `"15000"`. A sign, spaces, a decimal point or an exponent are refused
    /// rather than read leniently, so that one amount has one spelling (the documented
    /// one) and nothing a client sends is silently reinterpreted. Every currency the
    /// engine holds has no minor unit; one that had would add a fraction to this format.
    pub fn parse(currency: Currency, text: &str) -> Result<Self, MoneyError> {
        debug_assert_eq!(currency.minor_unit_digits(), 0);
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MoneyError::NotWritten {
                text: text.to_owned(),
                currency,
            });
        }
        // Digits only, so the one way this can fail is a value too large for a Decimal
        // (beyond 7.9 * 10^28): out of range, like any value over the engine's limit.
        // Leading zeros are allowed (the document's pattern takes them too) and dropped
        // first, so that they cannot push the text past what a Decimal reads.
        let significant = match text.trim_start_matches('0') {
            "" => "0",
            digits => digits,
        };
        let value = Decimal::from_str_exact(significant)
            .map_err(|_| MoneyError::OutOfRange(significant.to_owned()))?;
        Self::new(currency, value)
    }

    pub const fn money(&self) -> Money {
        self.0
    }

    pub const fn value(&self) -> Decimal {
        self.0.value
    }

    pub const fn currency(&self) -> Currency {
        self.0.currency
    }

    pub fn checked_add(self, other: Amount) -> Result<Amount, MoneyError> {
        // The sum of two positive values is positive; only overflow can fail.
        let sum = self.0.checked_add(other.0)?;
        check_value(sum.currency, sum.value)?;
        Ok(Amount(sum))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn krw_amount_with_a_fraction_is_refused() {
        let err = Amount::new(Currency::Krw, Decimal::new(10005, 1)).unwrap_err();
        assert!(
            matches!(err, MoneyError::TooManyFractionalDigits { scale: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn krw_amount_with_trailing_zero_fraction_is_whole_won() {
        // A value (not a text: the wire format has no decimal point) keeps whole won.
        let amount = Amount::new(Currency::Krw, Decimal::new(100_000, 2)).unwrap();
        assert_eq!(amount.value(), Decimal::from(1000));
    }

    #[test]
    fn request_amounts_are_strictly_positive() {
        assert!(matches!(Amount::krw(0), Err(MoneyError::NotPositive(_))));
        assert!(matches!(Amount::krw(-1), Err(MoneyError::NotPositive(_))));
        assert!(Amount::krw(1).is_ok());
    }

    #[test]
    fn values_beyond_the_engine_range_are_refused() {
        let too_big = Decimal::from(MAX_ABS_MINOR_UNITS) + Decimal::ONE;
        assert!(matches!(
            Amount::new(Currency::Krw, too_big),
            Err(MoneyError::OutOfRange(_))
        ));
    }

    #[test]
    fn arithmetic_overflow_is_an_error_not_a_wrap() {
        let max = Money {
            value: Decimal::MAX,
            currency: Currency::Krw,
        };
        assert_eq!(
            max.checked_add(Money::krw(1).unwrap()),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn amounts_round_trip_through_rkyv() {
        let amount = Amount::krw(1_234_567).unwrap();
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&amount).unwrap();
        let archived = rkyv::access::<ArchivedAmount, rkyv::rancor::Error>(&bytes).unwrap();
        assert_eq!(archived.0.value.get(), amount.value());
        let back: Amount = rkyv::deserialize::<Amount, rkyv::rancor::Error>(archived).unwrap();
        assert_eq!(back, amount);
    }

    #[test]
    fn an_amount_is_whole_won_written_in_digits_only() {
        // The documented format: decimal digits, no sign, spaces, decimal point or
        // exponent. Each of these was accepted before issue 11.
        for text in ["+100", " 100", "100 ", "1000.0", "1000.00", "1e3", "", "-0"] {
            let err = Amount::parse(Currency::Krw, text).unwrap_err();
            assert!(
                matches!(&err, MoneyError::NotWritten { text: t, .. } if t == text),
                "{text:?}: {err:?}"
            );
            assert!(
                err.to_string().contains("decimal digits"),
                "{text:?}: {err}"
            );
        }
        assert_eq!(Amount::parse(Currency::Krw, "100"), Amount::krw(100));
        assert_eq!(Amount::parse(Currency::Krw, "0100"), Amount::krw(100));
    }

    #[test]
    fn an_amount_beyond_the_engine_range_is_out_of_range_not_a_non_number() {
        let ten_to_30 = format!("1{}", "0".repeat(30));
        let err = Amount::parse(Currency::Krw, &ten_to_30).unwrap_err();
        assert!(matches!(err, MoneyError::OutOfRange(_)), "{err:?}");
        assert!(err.to_string().contains("outside"), "{err}");
        let limit = MAX_ABS_MINOR_UNITS.to_string();
        assert_eq!(
            Amount::parse(Currency::Krw, &limit).map(|a| a.value()),
            Ok(Decimal::from(MAX_ABS_MINOR_UNITS))
        );
        let over = format!("{}1", &limit[..limit.len() - 1]);
        assert!(matches!(
            Amount::parse(Currency::Krw, &over),
            Err(MoneyError::OutOfRange(_))
        ));
    }

    #[test]
    fn non_numbers_are_refused_by_name() {
        assert_eq!(
            Amount::parse(Currency::Krw, "12a"),
            Err(MoneyError::NotWritten {
                text: "12a".into(),
                currency: Currency::Krw
            })
        );
    }
}
