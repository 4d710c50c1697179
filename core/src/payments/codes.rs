//! The two answers of the instruments layer that are not an approval (INSTRUMENTS.md §6.2):
//! a payment answered DECLINED carries a [`DeclineCode`], and every other request of the
//! layer that is turned down (an issue, a charge, a refund, a cancel, a login ...) is
//! refused with a [`RefusalCode`]. A refused request creates nothing and moves nothing.
//!
//! Both print and parse as the spec writes them (`OVER_SALE_MAX`); the log stores each as
//! its one-byte code, which never changes meaning once given (a code is only ever added).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Defines a code enum with its spec name and its stable byte, and the conversions.
macro_rules! codes {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $byte:literal, $text:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vdoc])* $variant = $byte,)+
        }

        impl $name {
            /// Every code, in the spec's order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The code as the spec and the API write it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The stable byte the log stores.
            pub const fn byte(self) -> u8 {
                self as u8
            }

            /// The code of a stored byte; `None` for a byte no build has given.
            pub fn from_byte(byte: u8) -> Option<Self> {
                match byte {
                    $($byte => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownCode;
            fn from_str(s: &str) -> Result<Self, UnknownCode> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownCode(s.to_owned())),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownCode;
            fn try_from(s: String) -> Result<Self, UnknownCode> {
                s.parse()
            }
        }

        impl From<$name> for &'static str {
            fn from(code: $name) -> &'static str {
                code.as_str()
            }
        }
    };
}

/// A code that is not one of the spec's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown code {0:?}")]
pub struct UnknownCode(pub String);

codes! {
    /// Why a payment was answered DECLINED: the first failing check of §6.2's fixed order,
    /// or what its money legs did. The table in §6.2 gives the step of each.
    DeclineCode {
        /// Step 1 (or 5): the merchant or terminal is unknown, not active, does not accept
        /// the instrument's type, or the instrument does not allow the merchant.
        MerchantNotAllowed = 1, "MERCHANT_NOT_ALLOWED";
        /// Step 1a: the legs do not sum to the total.
        SplitSumMismatch = 2, "SPLIT_SUM_MISMATCH";
        /// Step 2: the credential does not resolve.
        InvalidCredential = 3, "INVALID_CREDENTIAL";
        /// Step 2: the checkout or card session has expired.
        SessionExpired = 4, "SESSION_EXPIRED";
        /// Step 2: the instrument is pending activation.
        NotActivated = 5, "NOT_ACTIVATED";
        /// Step 2: locked (by five wrong secrets in a row).
        Locked = 6, "LOCKED";
        Suspended = 7, "SUSPENDED";
        Revoked = 8, "REVOKED";
        Closed = 9, "CLOSED";
        /// Step 2 (status) or step 4 (the validity window).
        Expired = 10, "EXPIRED";
        /// Step 2a: the owner may not trade (SPEC S31–S33).
        OwnerNotTradable = 11, "OWNER_NOT_TRADABLE";
        /// Step 3: the secret is wrong.
        WrongSecret = 12, "WRONG_SECRET";
        /// Step 4.
        NotYetValid = 13, "NOT_YET_VALID";
        /// Step 5.
        TerminalNotAllowed = 14, "TERMINAL_NOT_ALLOWED";
        /// Step 5 (the purpose included).
        CategoryNotAllowed = 15, "CATEGORY_NOT_ALLOWED";
        /// Step 5.
        RegionNotAllowed = 16, "REGION_NOT_ALLOWED";
        /// Step 2 (status Exhausted) or step 6.
        UsesExhausted = 17, "USES_EXHAUSTED";
        /// Step 7 (`per_tx_max_krw`) or step 8 (the total and the amount left).
        AmountCapExceeded = 18, "AMOUNT_CAP_EXCEEDED";
        /// Step 7: above `sale_max_krw` (D-0.1).
        OverSaleMax = 19, "OVER_SALE_MAX";
        /// Step 8: the period budget.
        BudgetExceeded = 20, "BUDGET_EXCEEDED";
        /// Step 9: the balance, after any allowed top-up.
        InsufficientFunds = 21, "INSUFFICIENT_FUNDS";
        /// Execution: an outside funder declined.
        FundingDeclined = 22, "FUNDING_DECLINED";
        /// Execution: a money leg FAILed.
        FundingFailed = 23, "FUNDING_FAILED";
        /// Execution: a leg timed out, or the authorization deadline passed (D-0.2).
        Timeout = 24, "TIMEOUT";
        /// The merchant cancelled this request number before it arrived (§6.4).
        CancelledByMerchant = 25, "CANCELLED_BY_MERCHANT";
        /// Before step 1: a bound was hit. Never stored under the request number.
        Overloaded = 26, "OVERLOADED";
    }
}

codes! {
    /// Why a request other than a payment was refused (§6.2). Nothing was created and
    /// nothing moved.
    RefusalCode {
        /// A malformed field; the message names it.
        InvalidRequest = 1, "INVALID_REQUEST";
        /// An unknown object.
        NotFound = 2, "NOT_FOUND";
        /// The object's state does not allow the operation.
        InvalidState = 3, "INVALID_STATE";
        /// A known request number with a different fingerprint (§6.4, D-2.12).
        IdempotencyConflict = 4, "IDEMPOTENCY_CONFLICT";
        /// A bound was hit (DESIGN, "Limits everywhere").
        Overloaded = 5, "OVERLOADED";
        OwnerNotTradable = 6, "OWNER_NOT_TRADABLE";
        AccountNotLinked = 7, "ACCOUNT_NOT_LINKED";
        TooManyInstruments = 8, "TOO_MANY_INSTRUMENTS";
        /// Controls that cannot hold, such as a `per_tx_max_krw` above `sale_max_krw`.
        ControlsInvalid = 9, "CONTROLS_INVALID";
        GuardianConsentRequired = 10, "GUARDIAN_CONSENT_REQUIRED";
        HolderMismatch = 11, "HOLDER_MISMATCH";
        AccountNotVerified = 12, "ACCOUNT_NOT_VERIFIED";
        RailUnavailable = 13, "RAIL_UNAVAILABLE";
        ActivationCodeInvalid = 14, "ACTIVATION_CODE_INVALID";
        IdentityCheckFailed = 15, "IDENTITY_CHECK_FAILED";
        IssueRefused = 16, "ISSUE_REFUSED";
        /// A pocket charge would take the pocket over its cap (D-5.6).
        OverBalanceCap = 17, "OVER_BALANCE_CAP";
        InsufficientFunds = 18, "INSUFFICIENT_FUNDS";
        LoginFailed = 19, "LOGIN_FAILED";
        MemberLocked = 20, "MEMBER_LOCKED";
        BankNotAvailable = 21, "BANK_NOT_AVAILABLE";
        NoVirtualAccountAvailable = 22, "NO_VIRTUAL_ACCOUNT_AVAILABLE";
        OrderAlreadyPaid = 23, "ORDER_ALREADY_PAID";
        /// More than is left to refund of the payment.
        RefundExceedsPayment = 24, "REFUND_EXCEEDS_PAYMENT";
        /// More than the merchant's available total (§6.6).
        RefundExceedsMerchantBalance = 25, "REFUND_EXCEEDS_MERCHANT_BALANCE";
        /// A cancel after the payment's KST day: use a refund.
        CancelWindowClosed = 26, "CANCEL_WINDOW_CLOSED";
        /// A wallet checkout's card password is wrong (b5, D-5.17).
        WrongSecret = 27, "WRONG_SECRET";
        /// A wallet checkout's card is locked (b5).
        Locked = 28, "LOCKED";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_name_its_byte_and_serde() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Answer {
            decline_code: DeclineCode,
        }
        for &code in DeclineCode::ALL {
            assert_eq!(code.as_str().parse::<DeclineCode>(), Ok(code));
            assert_eq!(DeclineCode::from_byte(code.byte()), Some(code));
            let text = toml::to_string(&Answer { decline_code: code }).unwrap();
            assert_eq!(text, format!("decline_code = \"{code}\"\n"));
            assert_eq!(
                toml::from_str::<Answer>(&text).unwrap(),
                Answer { decline_code: code }
            );
        }
        for &code in RefusalCode::ALL {
            assert_eq!(code.as_str().parse::<RefusalCode>(), Ok(code));
            assert_eq!(RefusalCode::from_byte(code.byte()), Some(code));
        }
        assert_eq!(DeclineCode::ALL.len(), 26, "the 26 codes of §6.2");
        // §6.2's table, and the step codes a wallet checkout is refused with (§5.3 b5).
        assert_eq!(
            RefusalCode::ALL.len(),
            28,
            "the 26 codes of §6.2's table and 2 of b5"
        );
        assert!(DeclineCode::from_byte(0).is_none());
        assert!("over_sale_max".parse::<DeclineCode>().is_err());
    }
}
