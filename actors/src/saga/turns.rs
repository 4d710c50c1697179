//! A customer's turn past an early answer.
//!
//! A customer account actor starts its customer's next request once the one in progress
//! is answered, so that each request's balance and deficit checks see the outcome of the
//! one before (issue 12). A request answered at the earliest durable point that fixes its
//! answer (`omnibus_core::saga::fixed_answer`: a charge is told `succeeded` once its credit
//! A2 is on record, before A2's result) has not reached that outcome yet: the credit may
//! still be in flight. So the turn and the answer are two signals: the caller hears the
//! answer at once, and the turn lasts until the result of the step that fixed the answer
//! is applied, when the answer used to come.
//!
//! While a customer's turn is held so, what waits for it: the customer's next request
//! (the actor asks [`SagaRuntime::turn_over`]), and reads of the customer's balance and
//! of its requests (the shard asks [`SagaRuntime::turn_held`]), so that a caller told a
//! charge succeeded reads the balance with its credit, as it did before; and reads of the
//! parent accounts wait for every turn held when they arrive ([`SagaRuntime::turns_held_now`]),
//! so that they too see the outcome of every answered request. A turn ends when
//! any event of the request's entries is applied (the fixing step's result is the next
//! one), or when its flow stops driving without one; whoever waits also gives up at the
//! answer deadline.

use omnibus_core::saga::EntryId;
use omnibus_core::{CustomerId, RequestNo};
use tokio::sync::oneshot;

use super::{RequestKey, SagaRuntime};

/// A customer's turn held past its request's early answer, and who waits for its end.
pub(super) struct HeldTurn {
    request_no: RequestNo,
    waiters: Vec<oneshot::Sender<()>>,
}

impl SagaRuntime {
    /// A request was answered before the result of the step that fixed its answer: its
    /// customer's turn lasts until that result. (A customer has one request in its turn.)
    pub(super) fn hold_turn(&self, (customer, request_no): RequestKey) {
        self.turns.borrow_mut().insert(
            customer,
            HeldTurn {
                request_no,
                waiters: Vec::new(),
            },
        );
    }

    /// The end of a request's turn, if it holds one: its fixing step's result.
    pub(super) fn end_turn(&self, (customer, request_no): RequestKey) {
        let mut turns = self.turns.borrow_mut();
        if turns.is_empty() {
            return;
        }
        if turns
            .get(&customer)
            .is_some_and(|t| t.request_no == request_no)
        {
            let held = turns.remove(&customer).expect("just found");
            drop(turns);
            for waiter in held.waiters {
                let _ = waiter.send(());
            }
        }
    }

    /// Ends the turn of `entry`'s request: its flow stopped driving without a result.
    pub(super) fn end_turn_of(&self, entry: EntryId) {
        if self.turns.borrow().is_empty() {
            return;
        }
        let key = self
            .ledger
            .borrow()
            .books()
            .entry(entry)
            .map(|e| (e.customer, e.request_no));
        if let Some(key) = key {
            self.end_turn(key);
        }
    }

    /// For the customer's account actor, once a request is answered: `Some` while the
    /// request's turn lasts past its answer (it fires when the turn ends, or errs if the
    /// runtime stops); `None` if the turn is over already.
    pub fn turn_over(&self, (customer, request_no): RequestKey) -> Option<oneshot::Receiver<()>> {
        let mut turns = self.turns.borrow_mut();
        let held = turns
            .get_mut(&customer)
            .filter(|t| t.request_no == request_no)?;
        let (tx, rx) = oneshot::channel();
        held.waiters.push(tx);
        Some(rx)
    }

    /// For a read of the customer's state: `Some` while a request of the customer holds
    /// its turn past its answer, firing when the turn ends. `None` when no turn is held,
    /// or when `actors.callers_per_request_max` readers wait already (the read then sees
    /// the books as they stand).
    pub fn turn_held(&self, customer: CustomerId) -> Option<oneshot::Receiver<()>> {
        let mut turns = self.turns.borrow_mut();
        let held = turns.get_mut(&customer)?;
        self.wait_for(held)
    }

    /// For a read of the parent accounts: one receiver per turn held now, each firing when
    /// that turn ends, so that the read sees the outcome of every request answered before
    /// it arrived (a charge told `succeeded` has credited its customer out of fin_parent).
    /// Turns taken after the read arrived are not waited for, so a read under load waits
    /// for at most one rail call. Empty when no turn is held; a turn with
    /// `actors.callers_per_request_max` readers waiting already is not waited for.
    pub fn turns_held_now(&self) -> Vec<oneshot::Receiver<()>> {
        let mut turns = self.turns.borrow_mut();
        turns
            .values_mut()
            .filter_map(|held| self.wait_for(held))
            .collect()
    }

    fn wait_for(&self, held: &mut HeldTurn) -> Option<oneshot::Receiver<()>> {
        if held.waiters.len() >= self.config.actors.callers_per_request_max as usize {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        held.waiters.push(tx);
        Some(rx)
    }
}
