//! Steps a request owes (a recovery, a refund, a credit due) whose entry could not be
//! created when they fell due (a parent slice at its floor): remembered here, found again
//! from the books after a restart, and created by the recovery supervisor.

use std::rc::Rc;

use omnibus_core::instruments::owed_step;
use omnibus_core::ledger::ShardBooks;
use omnibus_core::saga::EntryId;
use omnibus_core::{CustomerId, RequestNo};

use super::{Barrier, RequestKey, SagaRuntime};
use crate::error::EngineError;
use crate::ledger::Admission;

impl SagaRuntime {
    /// Creates the entry a request owes, if it still owes one (see `owed_step`).
    /// `Ok(None)`: nothing is owed any more.
    pub fn create_owed(
        self: &Rc<Self>,
        customer: CustomerId,
        request_no: RequestNo,
    ) -> Result<Option<(EntryId, Barrier)>, EngineError> {
        let now = self.now_ms();
        let mut ledger = self.ledger.borrow_mut();
        let books = ledger.books();
        let Some(request) = books.request(customer, request_no).cloned() else {
            return Ok(None);
        };
        let entries = books.request_entries(&request);
        let Some((step, amount)) =
            owed_step(&request.accepted, request.answer.map(|a| a.told), &entries)
        else {
            return Ok(None);
        };
        ledger.admit(1, Admission::Continuation)?;
        let named = books.named(&request, &entries);
        let id = self.request_entry(&mut ledger, &request.accepted, step, amount, now, named);
        self.release_events(&mut ledger);
        let id = id?;
        drop(ledger);
        Ok(Some((id, self.durable())))
    }

    /// Requests that owe a step not yet created. The set handed to the recovery
    /// supervisor also holds requests that may owe one (a next step whose hold was
    /// refused), so each is checked against the books: a remittance told failed because
    /// another took its customer's balance owes nothing, and is not counted. `books` are
    /// this shard's (the caller holds the ledger borrowed).
    pub fn owed_count(&self, books: &ShardBooks) -> usize {
        self.owed
            .borrow()
            .iter()
            .filter(|(customer, request_no)| {
                books
                    .request(*customer, *request_no)
                    .is_some_and(|request| {
                        let entries = books.request_entries(request);
                        owed_step(&request.accepted, request.answer.map(|a| a.told), &entries)
                            .is_some()
                    })
            })
            .count()
    }

    /// Requests that may owe a step, to be retried by the recovery supervisor.
    pub fn take_owed(&self) -> Vec<RequestKey> {
        std::mem::take(&mut *self.owed.borrow_mut())
            .into_iter()
            .collect()
    }

    pub fn put_owed(&self, key: RequestKey) {
        self.owed.borrow_mut().insert(key);
    }

    /// After a restart: every request whose books show a step owed.
    pub fn scan_owed(&self) -> usize {
        let ledger = self.ledger.borrow();
        let books = ledger.books();
        let mut owed = self.owed.borrow_mut();
        for request in books.requests() {
            let entries = books.request_entries(request);
            if owed_step(&request.accepted, request.answer.map(|a| a.told), &entries).is_some() {
                owed.insert((request.accepted.customer, request.accepted.request_no));
            }
        }
        owed.len()
    }
}
