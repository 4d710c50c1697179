//! The instruments layer's pure rules (INSTRUMENTS.md §6): what every payment instrument
//! of seeds 001–004 shares, before any of them is built on it.
//!
//! - [`codes`]: the answers that are not an approval, `DeclineCode` and `RefusalCode`.
//! - [`kst`]: the Korean calendar budgets, cancels and statements keep.
//! - [`merchant`]: merchants and terminals, and step 1 of the fixed order of checks.
//! - [`secret`]: short secrets and card numbers under keyed hashes (D-0.3).
//! - [`card_number`]: 16-digit card numbers with their Luhn digit, masked when printed.
//! - [`controls`]: an instrument's controls and counters, and steps 2–9 of the checks.
//! - [`payment`]: a payment's state in `payment_log`, and what a cancel or refund may do.
//! - [`payment_request`]: a merchant's payment request, and its idempotency fingerprint
//!   (secrets excluded, numbers only as their credential index).
//! - [`prepaid_card`]: the prepaid card of seed 004 as the books keep it (number and
//!   password only sealed), over its pocket.
//!
//! Like the rest of `core`, nothing here reads a clock or a file: the time, the keys and
//! the balances are arguments.

pub mod api_key;
pub mod card_number;
pub mod codes;
pub mod controls;
pub mod division;
pub mod kst;
pub mod member;
pub mod merchant;
pub mod payment;
pub mod payment_request;
pub mod payout;
pub mod payout_notice;
pub mod prepaid_card;
pub mod relay;
pub mod secret;

pub use codes::{DeclineCode, RefusalCode};
