//! The card expiry supervisor (INSTRUMENTS.md D-5.2, D-5.13): once a KST day, with the
//! sweeps, it finds the cards of this shard whose expiry has come (five years on, at the
//! end of the month: `PrepaidCard::expires_at_ms`); each is put on record
//! EXPIRED (a `card_set`), and its pocket's money goes back to the owner's balance by the
//! release a close makes (`PR-<customer>-<seq>`, `instruments::start_release`), owed from
//! its entry on. A card with a payment not settled yet, or money on its way into its
//! pocket, waits (its reversal or charge would land in the pocket after the release):
//! it is looked at again at each pass until it can be released. At most
//! `payments.expiries_per_pass_max` cards are worked on per pass.
//!
//! Payments and charges do not wait for this pass: from its expiry on, a card is declined
//! `EXPIRED` and refused charges (`PrepaidCard::status_at`). After a restart the day's scan
//! runs again, so nothing is missed.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::rc::Rc;

use omnibus_core::payments::kst::kst_day;
use omnibus_core::payments::prepaid_card::{CardId, CardStatus};
use omnibus_core::record::{ActorId, LedgerRecord};
use omnibus_core::{Amount, RequestDate, RequestHeader, RequestNo};

use crate::api::PocketChargeRequest;
use crate::instruments::start_release;
use crate::ledger::{Admission, ShardLedger};
use crate::saga::SagaRuntime;

/// A shard's card expiries: the KST day of the last scan, and the cards found expiring
/// and not yet done with.
#[derive(Default)]
pub struct Expiry {
    scanned_day: Cell<Option<u32>>,
    waiting: RefCell<BTreeSet<CardId>>,
}

impl Expiry {
    /// One pass; answers how many cards it is done with (put on record EXPIRED, their
    /// pockets released or with nothing to release, or found closed).
    pub fn run(&self, flow: &Rc<SagaRuntime>, ledger: &RefCell<ShardLedger>) -> u64 {
        let now = flow.now_ms();
        let today = kst_day(now);
        if self.scanned_day.get() != Some(today) {
            let books = flow.books();
            let mut waiting = self.waiting.borrow_mut();
            waiting.extend(
                books
                    .cards()
                    .filter(|c| {
                        c.card.status_at(now) == CardStatus::Expired
                            && (c.card.status != CardStatus::Expired
                                || !(c.pocket.balance - c.pocket.held).is_zero())
                    })
                    .map(|c| c.card.instrument_id()),
            );
            self.scanned_day.set(Some(today));
        }
        let max = flow.config().payments.expiries_per_pass_max as usize;
        let cards: Vec<CardId> = self.waiting.borrow().iter().take(max).copied().collect();
        let mut done = 0;
        for card in cards {
            match expire(flow, ledger, card, now) {
                Ok(Step::Done) => {
                    self.waiting.borrow_mut().remove(&card);
                    done += 1;
                }
                Ok(Step::Waits) => {}
                Err(e) => {
                    tracing::warn!(shard = flow.shard(), %card, error = %e, "card expiry refused; tried again at the next pass");
                }
            }
        }
        done
    }
}

enum Step {
    Done,
    /// A payment of the card is not settled, or money is on its way into its pocket.
    Waits,
}

fn expire(
    flow: &Rc<SagaRuntime>,
    ledger: &RefCell<ShardLedger>,
    id: CardId,
    now: u64,
) -> Result<Step, crate::error::EngineError> {
    let Some(held) = flow.books().card(id.customer, id.seq).cloned() else {
        return Ok(Step::Done);
    };
    if held.card.status == CardStatus::Closed {
        return Ok(Step::Done);
    }
    if held.card.status != CardStatus::Expired {
        let mut card = held.card.clone();
        card.status = CardStatus::Expired;
        let mut ledger = ledger.borrow_mut();
        ledger.admit(1, Admission::New)?;
        ledger.execute_unwaited(
            ActorId::Customer(id.customer),
            &LedgerRecord::CardSet {
                version: held.version + 1,
                card,
            },
        )?;
        tracing::info!(shard = flow.shard(), card = %id, "prepaid card expired");
    }
    if held.pocket.held > rust_decimal::Decimal::ZERO {
        // A payment or release of it is in flight: looked at again at the next pass.
        return Ok(Step::Waits);
    }
    let left = held.pocket.balance;
    if left <= rust_decimal::Decimal::ZERO {
        return Ok(Step::Done);
    }
    let request_no = RequestNo::new(&format!("PR-{}-{}", id.customer, id.seq))
        .map_err(|e| crate::error::EngineError::Internal(format!("a release's number: {e}")))?;
    {
        let books = flow.books();
        if books.request(id.customer, request_no).is_some() {
            // Released before (a close, or an earlier pass): what came since stays.
            return Ok(Step::Done);
        }
        if books.card_sale_unsettled(id.customer, id.seq)
            || books.pocket_incoming(id.customer, id.seq) > rust_decimal::Decimal::ZERO
        {
            return Ok(Step::Waits);
        }
    }
    let header = RequestHeader {
        customer: id.customer,
        request_date: RequestDate::from_unix_ms(now)
            .ok_or_else(|| crate::error::EngineError::Internal("the engine's date".into()))?,
        request_no,
        amount: Amount::new(flow.config().engine.currency, left)
            .map_err(|e| crate::error::EngineError::Internal(format!("a pocket's balance: {e}")))?,
    };
    start_release(
        flow,
        PocketChargeRequest {
            header,
            card: id.seq,
        },
    )?;
    Ok(Step::Done)
}
