//! Activation and passivation of customer account actors: a customer's actor starts on
//! the first job for it and stops after `actors.passivate_idle_ms` without work, or
//! early, least recently used first, above `actors.live_customers_max`. A passive
//! customer is only its entry in the books.

use std::cell::Cell;
use std::rc::Rc;

use actix::{Actor, Addr};
use omnibus_core::books::{shard_of, BooksError};
use omnibus_core::CustomerId;

use super::{Live, ShardActor};
use crate::accounts::{CustomerActor, Passivate};
use crate::error::EngineError;

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
            self.passivate_least_recently_used();
        }
        Ok(addr)
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

    fn passivate_least_recently_used(&mut self) {
        let max = self.config.actors.live_customers_max as usize;
        let excess = self.live.len().saturating_sub(max * 9 / 10);
        let mut idle: Vec<(u64, CustomerId)> = self
            .live
            .iter()
            .filter(|(_, l)| l.in_flight.get() == 0)
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
