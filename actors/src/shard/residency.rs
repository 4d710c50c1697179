//! Activation and passivation of customer account actors: a customer's actor starts on
//! the first job for it and stops after `actors.passivate_idle_ms` without work, or
//! early, least recently used first, above `actors.live_customers_max`. A passive
//! customer is only its entry in the books.
//!
//! Only idle actors are passivated: an actor's `in_flight` counts the charges and
//! remittances handed to it and not yet answered or handed on (its request in progress
//! and those waiting their turn). The shard counts each as it sends it, so one still in
//! the actor's mailbox counts too; the actor counts it out. Passivating a busy actor would
//! drop its waiting requests, and let a second actor of the same customer start a request
//! while the first one's is in progress.

use std::cell::Cell;
use std::rc::Rc;

use actix::{Actor, Addr};
use omnibus_core::ledger::{shard_of, BooksError};
use omnibus_core::CustomerId;

use super::{Live, ShardActor};
use crate::accounts::{CustomerActor, Passivate, Submit};
use crate::api::{Outcome, Submission};
use crate::error::EngineError;
use crate::reply::Reply;

impl ShardActor {
    /// The live actor of a customer, activating it if needed.
    pub(super) fn customer_actor(
        &mut self,
        customer: CustomerId,
    ) -> Result<Addr<CustomerActor>, EngineError> {
        if let Some(live) = self.live.get_mut(&customer) {
            live.last_used_tick = self.tick;
            return Ok(live.addr.clone());
        }
        {
            let ledger = self.ledger.borrow();
            ledger.check_usable()?;
            if ledger.books().customer(customer).is_none() {
                let home = shard_of(customer, self.shards);
                return Err(if home == self.id {
                    BooksError::UnknownCustomer(customer).into()
                } else {
                    BooksError::WrongShard {
                        customer,
                        home,
                        here: self.id,
                    }
                    .into()
                });
            }
        }
        let in_flight = Rc::new(Cell::new(0));
        let addr = CustomerActor::new(
            customer,
            self.instruments.clone(),
            self.ledger.clone(),
            self.deliveries().clone(),
            in_flight.clone(),
        )
        .start();
        self.stats.activations += 1;
        self.live.insert(
            customer,
            Live {
                addr: addr.clone(),
                last_used_tick: self.tick,
                in_flight,
            },
        );
        if self.live.len() > self.config.actors.live_customers_max as usize {
            self.passivate_least_recently_used(customer);
        }
        Ok(addr)
    }

    /// Hands a charge or remittance to its customer's actor, counted in the actor's
    /// `in_flight` from now on.
    pub(super) fn submit_to_customer(&mut self, submission: Submission, reply: Reply<Outcome>) {
        let customer = submission.customer();
        let addr = match self.customer_actor(customer) {
            Ok(addr) => addr,
            Err(e) => return reply.send(Err(e)),
        };
        if let Some(live) = self.live.get(&customer) {
            live.in_flight.set(live.in_flight.get() + 1);
        }
        addr.do_send(Submit { submission, reply });
    }

    pub(super) fn passivate_idle(&mut self) {
        let idle_ticks = 4;
        let tick = self.tick;
        let idle: Vec<CustomerId> = self
            .live
            .iter()
            .filter(|(_, l)| {
                l.in_flight.get() == 0 && tick.saturating_sub(l.last_used_tick) >= idle_ticks
            })
            .map(|(c, _)| *c)
            .collect();
        for c in idle {
            self.passivate(c);
        }
    }

    /// Passivates idle actors, least recently used first, down to nine tenths of
    /// `actors.live_customers_max`; never `activated`, the one just started for work.
    fn passivate_least_recently_used(&mut self, activated: CustomerId) {
        let max = self.config.actors.live_customers_max as usize;
        let excess = self.live.len().saturating_sub(max * 9 / 10);
        let mut idle: Vec<(u64, CustomerId)> = self
            .live
            .iter()
            .filter(|(c, l)| l.in_flight.get() == 0 && **c != activated)
            .map(|(c, l)| (l.last_used_tick, *c))
            .collect();
        idle.sort_unstable();
        for (_, c) in idle.into_iter().take(excess) {
            self.passivate(c);
        }
    }

    pub(super) fn passivate(&mut self, customer: CustomerId) {
        if let Some(live) = self.live.remove(&customer) {
            live.addr.do_send(Passivate);
            self.stats.passivations += 1;
        }
    }
}
