//! Routing of a remittance by the usage limit (SPEC §3, [0088], claim 13).
//!
//! An amount up to and including the usage limit goes the **first path** (securities
//! deduction X1, then bank deposit X2 through the parent accounts); an amount above it goes
//! the **payment-instruction path** (a signed instruction to the financial company server).
//! If the customer's balance is short, the deficit is charged first, whatever the path.

use serde::{Deserialize, Serialize};

use crate::money::{Amount, Money, MoneyError};

/// Which way a remittance is executed.
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
#[serde(rename_all = "snake_case")]
pub enum RemitPath {
    /// X1 securities deduction, then X2 bank deposit, through the parent accounts.
    First,
    /// A digitally signed payment instruction to the financial company server; no parent
    /// account is touched ([0114]).
    PaymentInstruction,
}

/// The decision for one remittance: its path, and the deficit to charge before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoutePlan {
    pub path: RemitPath,
    /// `Some(d)` when the balance is short by `d`: charge `d` first, then remit.
    pub deficit_charge: Option<Amount>,
}

/// Routes a remittance of `amount` for a customer holding `balance` under `usage_limit`.
///
/// The path depends on the remitted amount alone; the deficit is `amount - balance` when
/// that is positive. A negative balance is treated as zero held (it cannot happen in the
/// engine; the router must not make it worse).
pub fn route(amount: Amount, balance: Money, usage_limit: Amount) -> Result<RoutePlan, MoneyError> {
    let path = if amount.value() <= usage_limit.value() {
        RemitPath::First
    } else {
        RemitPath::PaymentInstruction
    };
    // Check the currencies agree before comparing values.
    amount.money().checked_sub(usage_limit.money())?;
    let held = if balance.is_negative() {
        Money::zero(balance.currency())
    } else {
        balance
    };
    let deficit_charge = amount.money().checked_sub(held)?.to_amount();
    Ok(RoutePlan {
        path,
        deficit_charge,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn krw(won: i64) -> Amount {
        Amount::krw(won).unwrap()
    }

    fn held(won: i64) -> Money {
        Money::krw(won).unwrap()
    }

    const LIMIT: i64 = 2_000_000;

    #[test]
    fn remit_1_500_000_holding_500_000_charges_1_000_000_then_goes_the_first_path() {
        let plan = route(krw(1_500_000), held(500_000), krw(LIMIT)).unwrap();
        assert_eq!(
            plan,
            RoutePlan {
                path: RemitPath::First,
                deficit_charge: Some(krw(1_000_000))
            }
        );
    }

    #[test]
    fn remit_2_500_000_holding_1_500_000_charges_1_000_000_then_sends_a_payment_instruction() {
        let plan = route(krw(2_500_000), held(1_500_000), krw(LIMIT)).unwrap();
        assert_eq!(
            plan,
            RoutePlan {
                path: RemitPath::PaymentInstruction,
                deficit_charge: Some(krw(1_000_000))
            }
        );
    }

    #[test]
    fn an_amount_equal_to_the_usage_limit_goes_the_first_path() {
        let plan = route(krw(LIMIT), held(LIMIT), krw(LIMIT)).unwrap();
        assert_eq!(
            plan,
            RoutePlan {
                path: RemitPath::First,
                deficit_charge: None
            }
        );
    }

    #[test]
    fn one_won_over_the_usage_limit_goes_through_the_payment_instruction() {
        let plan = route(krw(LIMIT + 1), held(10_000_000), krw(LIMIT)).unwrap();
        assert_eq!(plan.path, RemitPath::PaymentInstruction);
        assert_eq!(plan.deficit_charge, None);
    }

    #[test]
    fn a_balance_that_covers_the_amount_needs_no_top_up() {
        let plan = route(krw(10_000), held(10_000), krw(LIMIT)).unwrap();
        assert_eq!(plan.deficit_charge, None);
    }
}
