//! Rail calls: the call a REQUESTED entry makes, its timeout, the confirm inquiry about
//! it, and the calls in flight to each rail (`rails.<rail>.in_flight_max`).
//!
//! The runtime knows rails and request logs; which rail request a step makes (a
//! withdrawal, a deposit, a payment instruction...) is the instruments' knowledge,
//! reached through [`RailCalls`], which the shard hands the runtime when it builds it.
//! Only the call crosses that seam: the confirm inquiry and the timeouts go by request
//! log (`Step::log`), which the runtime knows, so they stay here (the code review of
//! 2026-11-30 had a `RailBinding` carry them too).

use std::any::Any;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use omnibus_core::ledger::ShardBooks;
use omnibus_core::request_log::{EntryState, LogKind, Step};
use omnibus_core::saga::{EntryId, LogEntry};

use super::SagaRuntime;
use crate::error::EngineError;
use crate::rails::{Answer as RailResult, RailFuture, RailRequestId, Rails};

/// What each step asks of its rail: the product side of a call, implemented by the
/// instruments (one function per step, in the instrument's own file).
pub trait RailCalls {
    /// The call a REQUESTED entry makes under `id`, or `None` if there is nothing to call
    /// (for example a payment instruction after a restart: its signed text lived only in
    /// memory, so it is confirmed, never sent again). `live` is what the flow that accepted
    /// the request carries in memory ([`Live`]).
    fn call(
        &self,
        rails: &Rails,
        books: &ShardBooks,
        entry: &LogEntry,
        id: RailRequestId,
        live: Option<&Live>,
    ) -> Option<RailFuture<RailResult>>;
}

/// What only a live flow carries, in memory and never on record (a payment instruction's
/// signed text): opaque to the runtime, read back by the instrument that made it.
#[derive(Clone)]
pub struct Live(Rc<dyn Any>);

impl Live {
    pub fn new<T: Any>(value: T) -> Self {
        Live(Rc::new(value))
    }

    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

/// A call counted in flight until dropped (answered, or its timeout passed).
pub struct CallSlot {
    counts: Rc<[Cell<usize>; 3]>,
    rail: usize,
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        let count = &self.counts[self.rail];
        count.set(count.get() - 1);
    }
}

fn rail_index(log: LogKind) -> usize {
    match log {
        LogKind::BankFirmRequestLog => 0,
        LogKind::SecuritiesFirmRequestLog => 1,
        LogKind::PaymentInstructionLog => 2,
    }
}

impl SagaRuntime {
    /// Calls waiting for their answer within their timeout, to the rail of `log`.
    pub fn calls_in_flight(&self, log: LogKind) -> usize {
        self.calls_in_flight[rail_index(log)].get()
    }

    /// A new request whose first call goes to a rail that already has
    /// `rails.<rail>.in_flight_max` calls in flight from this shard is turned away; the
    /// steps of requests already accepted always make their calls.
    pub(super) fn check_rail_room(&self, log: LogKind) -> Result<(), EngineError> {
        if self.calls_in_flight(log) >= self.rail_config(log).in_flight_max as usize {
            let rail = match log {
                LogKind::BankFirmRequestLog => "bank firm system",
                LogKind::SecuritiesFirmRequestLog => "securities firm system",
                LogKind::PaymentInstructionLog => "financial company server",
            };
            return Err(EngineError::Overloaded(crate::error::Bound::RailInFlight(
                rail,
            )));
        }
        Ok(())
    }

    pub(super) fn call_slot(&self, log: LogKind) -> CallSlot {
        let rail = rail_index(log);
        let count = &self.calls_in_flight[rail];
        count.set(count.get() + 1);
        CallSlot {
            counts: self.calls_in_flight.clone(),
            rail,
        }
    }

    /// The rail configuration of the outside system a request log records calls to: each
    /// log belongs to exactly one rail.
    fn rail_config(&self, log: LogKind) -> &omnibus_core::config::RailConfig {
        let r = &self.config.rails;
        match log {
            LogKind::BankFirmRequestLog => &r.bank_firm,
            LogKind::SecuritiesFirmRequestLog => &r.securities_firm,
            LogKind::PaymentInstructionLog => &r.financial_company,
        }
    }

    fn timeout(&self, log: LogKind) -> Duration {
        Duration::from_millis(self.rail_config(log).timeout_ms)
    }

    /// Asks the rail of `step` whether this exact call of `entry` (its `attempt`) was
    /// executed; `None` when the inquiry is not answered within the rail's
    /// `confirm_timeout_ms`. The non-reflected search, reprocessing and the prompt confirm
    /// of D-0.2 all ask through here.
    pub async fn confirm(
        &self,
        entry: EntryId,
        step: Step,
        attempt: u32,
    ) -> Option<crate::rails::Confirmation> {
        let id = RailRequestId {
            entry: entry.0,
            attempt,
        };
        let log = step.log();
        let inquiry = match log {
            LogKind::BankFirmRequestLog => self.rails.bank_firm.confirm(id),
            LogKind::SecuritiesFirmRequestLog => self.rails.securities_firm.confirm(id),
            LogKind::PaymentInstructionLog => self.rails.financial_company.confirm(id),
        };
        let timeout = Duration::from_millis(self.rail_config(log).confirm_timeout_ms);
        match tokio::time::timeout(timeout, inquiry).await {
            Ok(Ok(answer)) => Some(answer),
            Ok(Err(e)) => {
                tracing::debug!(shard = self.shard, %entry, error = %e, "confirm inquiry unanswered");
                None
            }
            Err(_) => None,
        }
    }

    /// The outside call of an entry, or `None` if the entry is not REQUESTED.
    pub(super) fn call(
        &self,
        id: EntryId,
        live: Option<&Live>,
    ) -> Option<(RailFuture<RailResult>, Duration, LogKind)> {
        let ledger = self.ledger.borrow();
        let books = ledger.books();
        let entry = books.entry(id)?;
        if entry.state != EntryState::Requested {
            return None;
        }
        let rail_id = RailRequestId {
            entry: id.0,
            attempt: entry.attempt,
        };
        let future = self.calls.call(&self.rails, books, entry, rail_id, live)?;
        Some((future, self.timeout(entry.step.log()), entry.step.log()))
    }
}
