//! Division payments on their master's shard (INSTRUMENTS.md §1.3 F2, D-1.9): a payment's
//! authorization (§6.2 steps 2–9 on the account, the budget reserved with the payment
//! REQUESTED, in one record on the master's thread, so that two slaves paying at once are
//! judged one after the other against the master's balance and each budget), and an
//! account's authorizations as the master reads them (§1.7).

use actix::{Context, Handler};
use omnibus_core::ledger::BooksError;
use omnibus_core::payments::controls::{authorize, Authorizing, Funds, Secret};
use omnibus_core::payments::division::{DivisionId, DivisionStatus};
use omnibus_core::payments::payment::{PayerKind, PaymentState};
use omnibus_core::payments::secret::{PinVerifier, SecretCheck};
use omnibus_core::record::{ActorId, LedgerRecord};
use rust_decimal::prelude::ToPrimitive;

use super::divisions::not_found;
use super::protocol::{AuthorizeDivisionPayment, DivisionAuthorizations};
use super::ShardActor;
use crate::error::EngineError;
use crate::ledger::Admission;

impl Handler<AuthorizeDivisionPayment> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: AuthorizeDivisionPayment, _: &mut Context<Self>) {
        if self.stopping.is_some() {
            msg.reply.send(Err(EngineError::ShuttingDown));
            return;
        }
        let mut ledger = self.ledger.borrow_mut();
        // The payment, and the account if its counters changed.
        if let Err(e) = ledger.admit(2, Admission::New) {
            msg.reply.send(Err(e));
            return;
        }
        let books = ledger.books();
        let Some((master, seq)) = msg.payment.card else {
            msg.reply.send(Err(EngineError::Internal(
                "a division payment without its account".into(),
            )));
            return;
        };
        let id = DivisionId { master, seq };
        let Some(held) = books.division(master, seq).cloned() else {
            msg.reply.send(Err(not_found(id)));
            return;
        };
        let Some(customer) = books.customer(master) else {
            msg.reply
                .send(Err(BooksError::UnknownCustomer(master).into()));
            return;
        };
        let owner_tradable = customer.tradable && customer.subscription_valid;
        let available = (customer.balance - customer.held).to_u64().unwrap_or(0);
        let account = &held.account;
        let check = match &account.pin {
            Some(pin) => msg
                .keys
                .pin
                .check(pin, &id.bytes(), msg.pin.expose().as_bytes()),
            // Not activated: declined NOT_ACTIVATED at step 2, before the PIN.
            None => SecretCheck::Wrong,
        };
        let secret = Secret::from(check);
        let controls = account.controls_at(msg.ask.at_ms);
        let verdict = authorize(
            &Authorizing {
                status: account.status.instrument(),
                owner_tradable,
                controls: &controls,
                counters: &account.counters,
                sale_max_krw: Some(msg.sale_max_krw),
            },
            secret,
            &msg.ask,
            Funds {
                available_krw: available,
                // With `auto_top_up`, a short balance is charged from the master's linked
                // account first (D-1.2), as much as it takes; without, it is declined
                // INSUFFICIENT_FUNDS.
                top_up_krw: if account.auto_top_up { u64::MAX } else { 0 },
            },
        );
        let mut changed = account.clone();
        if changed.counters.apply_secret(verdict.secret) {
            changed.status = DivisionStatus::Locked;
        }
        if let (
            SecretCheck::Right {
                resealed: Some(new),
            },
            Ok(_),
        ) = (check, verdict.outcome)
        {
            changed.pin = Some(new);
        }
        let mut payment = msg.payment;
        payment.id = books.next_payment_id();
        payment.version = 1;
        payment.payer = PayerKind::Division;
        let mut top_up_krw = 0;
        match verdict.outcome {
            Ok(approval) => {
                payment.state = PaymentState::Requested;
                payment.sale = Some(payment.id.sale_request_no());
                changed.counters.reserve(payment.amount_krw);
                top_up_krw = approval.top_up_krw;
            }
            Err(code) => {
                payment.state = PaymentState::Declined;
                payment.decline = Some(code.byte());
            }
        }
        // The payment and what it does to the account (its reservation, the PIN's
        // counters) in one record: durable together or not at all.
        let (actor, record) = if changed != *account {
            (
                ActorId::Customer(master),
                LedgerRecord::DivisionSet {
                    version: held.version + 1,
                    account: Box::new(changed),
                    payment: Some(Box::new(payment.clone())),
                },
            )
        } else {
            (
                ActorId::Shard,
                LedgerRecord::PaymentSet {
                    payment: payment.clone(),
                },
            )
        };
        if let Err(e) = ledger.execute_unwaited(actor, &record) {
            msg.reply.send(Err(e));
            return;
        }
        let reply = msg.reply;
        ledger.after_durable(Box::new(move |durable| {
            reply.send(durable.map(|()| (payment, top_up_krw)))
        }));
    }
}

impl Handler<DivisionAuthorizations> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: DivisionAuthorizations, _: &mut Context<Self>) {
        let mut ledger = self.ledger.borrow_mut();
        if let Err(e) = ledger.check_usable() {
            msg.reply.send(Err(e));
            return;
        }
        let id = msg.id;
        let books = ledger.books();
        if books.division(id.master, id.seq).is_none() {
            msg.reply.send(Err(not_found(id)));
            return;
        }
        let mut found: Vec<_> = books
            .payments()
            .filter(|p| p.payer == PayerKind::Division && p.card == Some((id.master, id.seq)))
            .cloned()
            .collect();
        found.sort_by_key(|p| std::cmp::Reverse((p.created_at_ms, p.id)));
        found.truncate(msg.limit);
        let reply = msg.reply;
        ledger.after_durable(Box::new(move |durable| reply.send(durable.map(|()| found))));
    }
}
