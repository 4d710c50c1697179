//! Admission to a shard: how many requests may be queued for it at once
//! (`actors.mailbox_capacity`).
//!
//! actix's own bounded `try_send` parks the *sending address* when the mailbox is full,
//! and every later `try_send` through that address fails until the actor unparks it;
//! internal `do_send` traffic counts toward the same number. The engine shares one
//! address per shard among all callers, so that bound is neither per caller nor exact.
//! The gate is: each request takes a ticket before it is sent (refused at once with
//! "overloaded" when the shard already has `capacity` requests waiting) and gives it
//! back when the shard has handled it (when its [`Admitted`] message is dropped).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix::{Context, Handler, Message};

use crate::error::EngineError;
use crate::shard::ShardActor;

#[derive(Debug)]
pub struct Gate {
    queued: AtomicUsize,
    capacity: usize,
}

impl Gate {
    pub fn new(capacity: usize) -> Arc<Self> {
        assert!(capacity > 0);
        Arc::new(Self {
            queued: AtomicUsize::new(0),
            capacity,
        })
    }

    /// A ticket for `weight` requests, or "overloaded" with nothing taken.
    pub fn enter(self: &Arc<Self>, weight: usize) -> Result<Ticket, EngineError> {
        let before = self.queued.fetch_add(weight, Ordering::AcqRel);
        if before + weight > self.capacity && before > 0 {
            self.queued.fetch_sub(weight, Ordering::AcqRel);
            return Err(EngineError::Overloaded(crate::error::Bound::ShardQueue));
        }
        Ok(Ticket {
            gate: self.clone(),
            weight,
        })
    }

    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }
}

/// Held by a request on its way to a shard; leaving the gate when dropped.
#[derive(Debug)]
pub struct Ticket {
    gate: Arc<Gate>,
    weight: usize,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.gate.queued.fetch_sub(self.weight, Ordering::AcqRel);
    }
}

/// A request from the engine handle, with its admission ticket: the ticket leaves the
/// gate when the shard has handled the request (when this message is dropped).
pub struct Admitted<M> {
    pub message: M,
    pub _ticket: Ticket,
}

impl<M: Message<Result = ()>> Message for Admitted<M> {
    type Result = ();
}

impl<M> Handler<Admitted<M>> for ShardActor
where
    M: Message<Result = ()>,
    ShardActor: Handler<M>,
{
    type Result = ();
    fn handle(&mut self, admitted: Admitted<M>, ctx: &mut Context<Self>) {
        <Self as Handler<M>>::handle(self, admitted.message, ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_gate_refuses_and_takes_nothing() {
        let gate = Gate::new(3);
        let a = gate.enter(2).unwrap();
        assert!(matches!(gate.enter(2), Err(EngineError::Overloaded(_))));
        assert_eq!(gate.queued(), 2);
        let b = gate.enter(1).unwrap();
        drop(a);
        drop(b);
        assert_eq!(gate.queued(), 0);
        // A single request larger than the capacity still passes an empty gate, so an
        // oversized batch is not refused forever.
        let big = gate.enter(10).unwrap();
        assert!(gate.enter(1).is_err());
        drop(big);
    }
}
