//! Payments left REQUESTED (INSTRUMENTS.md §6.5, D-0.2): a payment is REQUESTED from its
//! authorization until the engine writes its sale's answer on it. A crash between the two,
//! or a caller that went away (a dropped connection cancels the engine's future), leaves it
//! REQUESTED, holding its division account's budget, until somebody asks for it again.
//! With the sweeps, this pass finishes each one older than
//! `payments.requested_finish_after_ms` (at most `payments.requested_per_pass_max`):
//!
//! - its sale on record and answered (in the books or in the archive), or, when nobody was
//!   told, with every entry final and the answer they fix: APPROVED or DECLINED as the
//!   sale was (or would be) told, the budget committed or released with it;
//! - its sale on record, not answered yet: left for a later pass;
//! - its sale never asked, or accepted with no call made (a crash between the two; asked
//!   again, such a sale is told failed, not carried out): DECLINED `TIMEOUT`, the budget
//!   released. From then on a sale not on record is refused (`instruments/sale.rs`), so a
//!   late resubmission cannot move money for a payment on record as declined.

use std::cell::RefCell;
use std::rc::Rc;

use omnibus_core::instruments::due_answer;
use omnibus_core::payments::payment::{PaymentEntry, PaymentState};
use omnibus_core::request_log::{EntryState, Told};
use omnibus_core::saga::Answer;

use crate::instruments::{record_payment, sale_decline};
use crate::ledger::ShardLedger;
use crate::saga::SagaRuntime;

/// What is known of a payment's sale.
enum Sale {
    NeverAsked,
    Pending,
    Answered(Answer),
}

/// One pass; answers how many payments it finished.
pub fn finish_requested(flow: &Rc<SagaRuntime>, ledger: &RefCell<ShardLedger>) -> u64 {
    let config = &flow.config().payments;
    let now = flow.now_ms();
    let due: Vec<PaymentEntry> = flow
        .books()
        .requested_payments(
            now.saturating_sub(config.requested_finish_after_ms),
            config.requested_per_pass_max as usize,
        )
        .into_iter()
        .cloned()
        .collect();
    let mut finished = 0;
    for payment in due {
        let (Some((payer, _)), Some(sale_no)) = (payment.card, payment.sale) else {
            continue;
        };
        let sale = {
            let held = ledger.borrow();
            let books = held.books();
            match books.request(payer, sale_no) {
                // Accepted, its first call never made (a crash between the two): it never
                // will be; asked again, it is told failed, not carried out.
                Some(r) if r.answer.is_none() && r.entries.is_empty() => Sale::NeverAsked,
                Some(r) => match r.answer {
                    Some(answer) => Sale::Answered(answer),
                    // Nobody was told (a crash took the caller): once every entry is
                    // final, the answer they fix, the one a resubmission would be given.
                    // A call still open (REQUESTED, UNKNOWN) waits: it may yet succeed,
                    // and its sale would then be told so (review, 2026-12-02).
                    None => {
                        let entries: Vec<_> = r
                            .entries
                            .iter()
                            .filter_map(|e| books.entry(*e).cloned())
                            .collect();
                        let open = entries.len() != r.entries.len()
                            || entries.iter().any(|e| {
                                !matches!(e.state, EntryState::Success | EntryState::Fail)
                            });
                        if open {
                            Sale::Pending
                        } else {
                            due_answer(&r.accepted, &entries, now)
                                .map_or(Sale::Pending, Sale::Answered)
                        }
                    }
                },
                None => match held.archive().map(|a| a.get_of(payer, sale_no)) {
                    Some(Ok(Some(r))) if r.answer.is_none() && r.entries.is_empty() => {
                        Sale::NeverAsked
                    }
                    Some(Ok(Some(r))) => r
                        .answer
                        .or_else(|| due_answer(&r.accepted, &r.entries, now))
                        .map_or(Sale::Pending, Sale::Answered),
                    Some(Ok(None)) | None => Sale::NeverAsked,
                    Some(Err(e)) => {
                        tracing::warn!(payment = %payment.id, error = %e, "the archive could not be read; the payment waits");
                        continue;
                    }
                },
            }
        };
        let mut done = payment.clone();
        done.version += 1;
        match sale {
            Sale::Pending => continue,
            Sale::Answered(answer) if answer.told == Told::Succeeded => {
                done.state = PaymentState::Approved;
                done.approved_at_ms = answer.at_ms;
            }
            Sale::Answered(answer) => {
                done.state = PaymentState::Declined;
                done.decline = Some(sale_decline(answer.reason, answer.timed_out).byte());
            }
            Sale::NeverAsked => {
                done.state = PaymentState::Declined;
                done.decline = Some(omnibus_core::payments::DeclineCode::Timeout.byte());
            }
        }
        match record_payment(&mut ledger.borrow_mut(), done) {
            Ok(p) => {
                tracing::info!(payment = %p.id, state = ?p.state, "a payment left REQUESTED was finished");
                finished += 1;
            }
            Err(e) => {
                tracing::warn!(payment = %payment.id, error = %e, "a payment left REQUESTED could not be finished");
                break;
            }
        }
    }
    finished
}
