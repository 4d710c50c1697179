//! A prepaid card's charge from the customer's balance (INSTRUMENTS.md §5.3 a7, D-5.6,
//! D-5.7): its admission, then `SS.transfer` `customer[c]` → `pocket[c,card]` (the rail
//! call is the sale's, `sale.rs`). The rules are the core instrument's,
//! `omnibus_core::instruments::PocketCharge`. A charge of the pocket from the linked
//! account is a charge (`charge.rs`) that names the pocket, admitted here by the same
//! checks.
//!
//! Admission refuses, with nothing on record:
//! - a card that is not the customer's (`NOT_FOUND`), or that is suspended, closed or
//!   expired (`INVALID_STATE`; a locked card may be charged);
//! - a charge that would take the pocket over `payments.pocket_balance_cap_krw`
//!   (`OVER_BALANCE_CAP`, D-5.6): the pocket's balance, plus every credit on its way to
//!   it (pocket charges in flight or still unknown), plus this charge. A customer's
//!   requests take turns, so no other charge of the customer is admitted between this
//!   check and its entry.
//!
//! A balance short of the amount is told `failed` like any transfer the books refuse
//! (the entry's hold cannot be taken), with nothing moved.

use omnibus_core::config::PaymentsConfig;
use omnibus_core::ledger::ShardBooks;
use omnibus_core::payments::RefusalCode;
use omnibus_core::saga::Accepted;
use omnibus_core::AccountId;
use rust_decimal::Decimal;

use super::admission::as_submitted;
use crate::api::{PocketChargeRequest, Submission};
use crate::error::EngineError;

/// A closed card's release as accepted, once the card is the customer's (the amount is
/// checked by the entry's hold on the pocket).
pub(super) fn accept_release(
    submission: &Submission,
    release: &PocketChargeRequest,
    books: &ShardBooks,
    at_ms: u64,
) -> Result<Accepted, EngineError> {
    let customer = release.header.customer;
    if books.card(customer, release.card).is_none() {
        return Err(EngineError::refusal(
            RefusalCode::NotFound,
            format!("customer {customer} has no prepaid card {}", release.card),
        ));
    }
    Ok(as_submitted(submission, at_ms))
}

/// A pocket charge as accepted, once the card may be charged and the cap has room.
pub(super) fn accept(
    submission: &Submission,
    charge: &PocketChargeRequest,
    books: &ShardBooks,
    config: &PaymentsConfig,
    at_ms: u64,
) -> Result<Accepted, EngineError> {
    let customer = charge.header.customer;
    let Some(card) = books.card(customer, charge.card) else {
        return Err(EngineError::refusal(
            RefusalCode::NotFound,
            format!("customer {customer} has no prepaid card {}", charge.card),
        ));
    };
    if !card.card.status_at(at_ms).chargeable() {
        return Err(EngineError::refusal(
            RefusalCode::InvalidState,
            format!(
                "prepaid card {} is {:?}; a suspended, closed or expired card cannot be charged",
                card.card.instrument_id(),
                card.card.status_at(at_ms)
            ),
        ));
    }
    let pocket = AccountId::pocket(customer, charge.card);
    let incoming = books.pocket_incoming(customer, charge.card);
    let cap = Decimal::from(config.pocket_balance_cap_krw);
    let after = card.pocket.balance + incoming + charge.header.amount.value();
    if after > cap {
        return Err(EngineError::refusal(
            RefusalCode::OverBalanceCap,
            format!(
                "pocket {pocket} holds {} with {} on its way; {} more would pass its cap of {cap} (payments.pocket_balance_cap_krw)",
                card.pocket.balance.normalize(),
                incoming.normalize(),
                charge.header.amount
            ),
        ));
    }
    Ok(as_submitted(submission, at_ms))
}

/// Starts the release of an expired card's pocket to its owner's balance (D-5.2, D-5.13)
/// from the expiry supervisor, as the owner's close does through the customer's actor:
/// the request `release` (numbered `PR-<customer>-<seq>`, like a close's, so one release
/// per card ever), owed from its entry on and driven by the saga runtime. Nobody waits
/// for its answer.
pub fn start_release(
    saga: &std::rc::Rc<crate::saga::SagaRuntime>,
    release: PocketChargeRequest,
) -> Result<(), EngineError> {
    let submission = Submission::PocketRelease(release);
    let accepted = {
        let books = saga.books();
        accept_release(&submission, &release, &books, saga.now_ms())?
    };
    let (reply, mut answer) = tokio::sync::oneshot::channel();
    crate::saga::start(
        saga,
        accepted,
        submission.named(),
        None,
        reply.into(),
        || {},
    );
    // A start refused (overloaded, the log full) answers at once; the supervisor tries
    // again at its next pass.
    match answer.try_recv() {
        Ok(Err(e)) => Err(e),
        _ => Ok(()),
    }
}
