//! Request messages with the seed's fields ([0095], [0102], [0126]), validated on
//! construction. A bad field is an [`InvalidField`] naming the field and the problem.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::{AccountNo, BankCode, CustomerId, IdError, PayeeName, RequestNo};
use crate::money::{Amount, Currency, MoneyError};

/// The field of a request message, named as it is on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The customer account number.
    Customer,
    RequestDate,
    RequestNo,
    Amount,
    PayeeBank,
    PayeeAccount,
    PayeeName,
}

impl Field {
    pub const fn as_str(self) -> &'static str {
        match self {
            Field::Customer => "customer",
            Field::RequestDate => "request_date",
            Field::RequestNo => "request_no",
            Field::Amount => "amount",
            Field::PayeeBank => "payee_bank",
            Field::PayeeAccount => "payee_account",
            Field::PayeeName => "payee_name",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was wrong with a field.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FieldProblem {
    #[error(transparent)]
    Id(#[from] IdError),
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("must be a calendar date written YYYY-MM-DD, got {0:?}")]
    Date(String),
}

/// A request field that failed validation.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{field}: {problem}")]
pub struct InvalidField {
    pub field: Field,
    pub problem: FieldProblem,
}

impl InvalidField {
    pub fn new(field: Field, problem: impl Into<FieldProblem>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

fn field<T, E: Into<FieldProblem>>(name: Field, result: Result<T, E>) -> Result<T, InvalidField> {
    result.map_err(|e| InvalidField::new(name, e))
}

/// A request date, a proleptic Gregorian calendar day between 2000-01-01 and 2999-12-31.
/// Stored as the integer `YYYYMMDD`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
#[rkyv(derive(Debug, PartialEq, Eq, Hash))]
pub struct RequestDate(u32);

impl RequestDate {
    /// The first year a request date may have: the format's range, which the API
    /// document states too. The engine may narrow it to a window around its own date.
    pub const MIN_YEAR: u32 = 2000;
    /// The last year a request date may have.
    pub const MAX_YEAR: u32 = 2999;

    /// Its year, month and day.
    pub const fn ymd(self) -> (u32, u32, u32) {
        (self.0 / 10_000, self.0 / 100 % 100, self.0 % 100)
    }

    pub fn from_ymd(year: u32, month: u32, day: u32) -> Option<Self> {
        if !(Self::MIN_YEAR..=Self::MAX_YEAR).contains(&year)
            || !(1..=12).contains(&month)
            || day == 0
        {
            return None;
        }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days_in_month = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        (day <= days_in_month).then_some(Self(year * 10_000 + month * 100 + day))
    }

    /// The UTC calendar day of a Unix timestamp in milliseconds (the engine stamps its
    /// own requests, such as sweeps, with the day they are made).
    pub fn from_unix_ms(ms: u64) -> Option<Self> {
        // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
        let z = (ms / 86_400_000) as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self::from_ymd(u32::try_from(year).ok()?, month as u32, day as u32)
    }

    /// The date as the integer `YYYYMMDD`.
    pub const fn yyyymmdd(self) -> u32 {
        self.0
    }

    pub fn from_yyyymmdd(value: u32) -> Option<Self> {
        Self::from_ymd(value / 10_000, value / 100 % 100, value % 100)
    }
}

impl FromStr for RequestDate {
    type Err = FieldProblem;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || FieldProblem::Date(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> Result<u32, FieldProblem> {
            let part = &s[r];
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        Self::from_ymd(num(0..4)?, num(5..7)?, num(8..10)?).ok_or_else(bad)
    }
}

impl TryFrom<String> for RequestDate {
    type Error = FieldProblem;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<RequestDate> for String {
    fn from(date: RequestDate) -> String {
        date.to_string()
    }
}

impl fmt::Display for RequestDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0 / 10_000,
            self.0 / 100 % 100,
            self.0 % 100
        )
    }
}

/// The fields every request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestHeader {
    pub customer: CustomerId,
    pub request_date: RequestDate,
    pub request_no: RequestNo,
    pub amount: Amount,
}

impl RequestHeader {
    /// Validates the raw fields in wire order and names the first bad one.
    pub fn parse(
        currency: Currency,
        customer: &str,
        request_date: &str,
        request_no: &str,
        amount: &str,
    ) -> Result<Self, InvalidField> {
        Ok(Self {
            customer: field(Field::Customer, customer.parse::<CustomerId>())?,
            request_date: field(Field::RequestDate, request_date.parse::<RequestDate>())?,
            request_no: field(Field::RequestNo, request_no.parse::<RequestNo>())?,
            amount: field(Field::Amount, Amount::parse(currency, amount))?,
        })
    }
}

/// A balance increase (charge): draw `amount` from the customer's linked account into the
/// customer financial company account ([0095]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChargeRequest {
    pub header: RequestHeader,
}

impl ChargeRequest {
    pub fn parse(
        currency: Currency,
        customer: &str,
        request_date: &str,
        request_no: &str,
        amount: &str,
    ) -> Result<Self, InvalidField> {
        Ok(Self {
            header: RequestHeader::parse(currency, customer, request_date, request_no, amount)?,
        })
    }
}

/// The payee of a remittance: the customer-designated account ([0102]).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Payee {
    pub bank: BankCode,
    pub account: AccountNo,
    pub name: PayeeName,
}

impl Payee {
    pub fn parse(bank: &str, account: &str, name: &str) -> Result<Self, InvalidField> {
        Ok(Self {
            bank: field(Field::PayeeBank, bank.parse::<BankCode>())?,
            account: field(Field::PayeeAccount, account.parse::<AccountNo>())?,
            name: field(Field::PayeeName, name.parse::<PayeeName>())?,
        })
    }
}

/// A balance deduction (remittance) to a customer-designated account ([0102]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RemitRequest {
    pub header: RequestHeader,
    pub payee: Payee,
}

impl RemitRequest {
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        currency: Currency,
        customer: &str,
        request_date: &str,
        request_no: &str,
        amount: &str,
        payee_bank: &str,
        payee_account: &str,
        payee_name: &str,
    ) -> Result<Self, InvalidField> {
        Ok(Self {
            header: RequestHeader::parse(currency, customer, request_date, request_no, amount)?,
            payee: Payee::parse(payee_bank, payee_account, payee_name)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge(
        customer: &str,
        date: &str,
        no: &str,
        amount: &str,
    ) -> Result<ChargeRequest, InvalidField> {
        ChargeRequest::parse(Currency::Krw, customer, date, no, amount)
    }

    #[test]
    fn a_valid_charge_keeps_every_field() {
        let c = charge("1001", "2026-11-21", "CHG-1", "50000").unwrap();
        assert_eq!(c.header.customer.get(), 1001);
        assert_eq!(c.header.request_date.to_string(), "2026-11-21");
        assert_eq!(c.header.request_no.as_str(), "CHG-1");
        assert_eq!(c.header.amount, Amount::krw(50_000).unwrap());
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(
            charge("x", "2026-11-21", "CHG-1", "1").unwrap_err().field,
            Field::Customer
        );
        assert_eq!(
            charge("1", "2026-02-30", "CHG-1", "1").unwrap_err().field,
            Field::RequestDate
        );
        assert_eq!(
            charge("1", "2026-11-21", "", "1").unwrap_err().field,
            Field::RequestNo
        );
        assert_eq!(
            charge("1", "2026-11-21", "CHG-1", "-5").unwrap_err().field,
            Field::Amount
        );
        assert_eq!(
            charge("1", "2026-11-21", "CHG-1", "10.5")
                .unwrap_err()
                .field,
            Field::Amount
        );
        let remit = |bank: &str, account: &str, name: &str| {
            RemitRequest::parse(
                Currency::Krw,
                "1",
                "2026-11-21",
                "R-1",
                "10",
                bank,
                account,
                name,
            )
        };
        assert_eq!(
            remit("4", "123-456", "Kim").unwrap_err().field,
            Field::PayeeBank
        );
        assert_eq!(
            remit("004", "abc", "Kim").unwrap_err().field,
            Field::PayeeAccount
        );
        assert_eq!(
            remit("004", "123-456", "").unwrap_err().field,
            Field::PayeeName
        );
        assert!(remit("004", "123-456", "김철수").is_ok());
    }

    #[test]
    fn the_error_message_names_the_field_and_the_problem() {
        let err = charge("1", "2026-11-21", "CHG-1", "0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "amount: an amount must be greater than zero, got 0"
        );
    }

    #[test]
    fn unix_milliseconds_give_the_utc_day() {
        assert_eq!(
            RequestDate::from_unix_ms(0),
            None,
            "1970 is before the engine's dates"
        );
        assert_eq!(
            RequestDate::from_unix_ms(1_763_683_200_000)
                .unwrap()
                .to_string(),
            "2025-11-21"
        );
        assert_eq!(
            RequestDate::from_unix_ms(1_763_683_199_999)
                .unwrap()
                .to_string(),
            "2025-11-20"
        );
        assert_eq!(
            RequestDate::from_unix_ms(951_782_400_000)
                .unwrap()
                .to_string(),
            "2000-02-29"
        );
    }

    #[test]
    fn leap_days_are_dates_only_in_leap_years() {
        assert!("2028-02-29".parse::<RequestDate>().is_ok());
        assert!("2026-02-29".parse::<RequestDate>().is_err());
        assert!("2100-02-29".parse::<RequestDate>().is_err());
        assert!("2000-02-29".parse::<RequestDate>().is_ok());
        assert!("20261121".parse::<RequestDate>().is_err());
    }
}
