//! Starting a request: accepting it (its reservations, its first entry, or its refusal as
//! one step), and writing the entry of any later step.

use std::rc::Rc;

use omnibus_core::instruments::{due_answer, first_step, reserves_for, step_legs};
use omnibus_core::ledger::{BooksError, CustomerEntry};
use omnibus_core::record::{ActorId, LedgerRecord};
use omnibus_core::request_log::{EntryState, Step, Told};
use omnibus_core::saga::{Accepted, Answer, EntryId, Named, Parties, Reason};
use omnibus_core::{Amount, BankCode, Payee};

use super::driver::drive_from;
use super::{Live, SagaRuntime, ACCEPT_RECORDS};
use crate::api::{EngineEvent, Outcome};
use crate::error::EngineError;
use crate::ledger::{Admission, ShardLedger};
use crate::reply::Reply;

impl SagaRuntime {
    /// The deposit firm account that pays a payee at `payee_bank`: the one at that bank,
    /// or the default one.
    pub(crate) fn deposit_bank(&self, payee_bank: BankCode) -> BankCode {
        if self.config.banks.deposit_firm.contains(&payee_bank) {
            payee_bank
        } else {
            self.config.banks.default_deposit_bank
        }
    }

    /// The parties a step's legs are drawn from (`omnibus_core::instruments::step_legs`).
    /// `named`: the merchant the request pays and the pocket it draws on or fills, if any.
    fn parties(&self, customer: &CustomerEntry, payee: Option<&Payee>, named: Named) -> Parties {
        self.parties_of(customer.id, customer.linked_bank, payee, named)
    }

    /// The parties of a request of `customer`, whose linked account is at `linked_bank`
    /// (any bank for the house, which has none).
    pub(crate) fn parties_of(
        &self,
        customer: omnibus_core::CustomerId,
        linked_bank: BankCode,
        payee: Option<&Payee>,
        named: Named,
    ) -> Parties {
        Parties {
            customer,
            linked_bank,
            payee_bank: payee.map(|p| p.bank),
            deposit_bank: payee.map(|p| self.deposit_bank(p.bank)),
            settlement: None,
            merchant: named.merchant,
            pocket: named.pocket,
        }
    }

    /// Accepts a request and writes its first entry; the flow starts once both are durable.
    /// `Ok(None)`: accepted, but refused before any call (a parent slice cannot fund it, or
    /// its first entry was refused), so it is answered as failed with nothing moved.
    fn accept(
        self: &Rc<Self>,
        accepted: Accepted,
        named: Named,
    ) -> Result<Option<EntryId>, EngineError> {
        if self.sagas.get() >= self.config.actors.sagas_in_flight_max as usize {
            return Err(EngineError::Overloaded(crate::error::Bound::Flows));
        }
        self.check_rail_room(first_step(&accepted).0.log())?;
        let mut ledger = self.ledger.borrow_mut();
        // Room for the whole step (the acceptance, the first entry, and an answer if the
        // entry is refused) before anything is applied: a full queue refuses the request
        // with nothing on record, never half-way.
        ledger.admit(ACCEPT_RECORDS, Admission::New)?;
        let actor = ActorId::Customer(accepted.customer);
        let books = ledger.books();
        let customer = books
            .customer(accepted.customer)
            .ok_or(BooksError::UnknownCustomer(accepted.customer))?;
        let parties = self.parties(customer, accepted.payee.as_ref(), named);
        // What the request's later steps will need from the parent accounts is set aside
        // now, before the first call: a slice that cannot fund it refuses the request here,
        // with nothing moved, rather than after the customer's bank paid (SPEC §6.4).
        let wanted = reserves_for(&accepted, &parties);
        let short = books.check_reserves(&wanted).err();
        let reserves = if short.is_some() { Vec::new() } else { wanted };
        ledger.execute_unwaited(
            actor,
            &LedgerRecord::RequestAccepted {
                accepted,
                reserves: Some(reserves),
                named,
            },
        )?;
        let (step, amount) = first_step(&accepted);
        self.publish(EngineEvent::Accepted {
            shard: self.shard,
            customer: accepted.customer,
            request_no: accepted.request_no,
            kind: accepted.kind,
            amount: accepted.amount,
            at_ms: accepted.at_ms,
        });
        let refused = match short {
            Some(e) => Err(EngineError::from(e)),
            None => self.request_entry(&mut ledger, &accepted, step, amount, accepted.at_ms, named),
        };
        let result = match refused {
            Ok(id) => Ok(Some(id)),
            Err(e) => {
                let reason = if matches!(e, EngineError::Refused(BooksError::BelowFloor { .. })) {
                    self.short_slices.set(self.short_slices.get() + 1);
                    self.refill.short();
                    Reason::ParentSliceShort
                } else {
                    Reason::NotCarriedOut
                };
                tracing::info!(shard = self.shard, request = %accepted.request_no, error = %e, "refused before any call; told failed, nothing moved");
                // What the deadline tells a request with no entry (`due_answer`), with the
                // reason known here.
                let answer = Answer {
                    told: Told::Failed,
                    decided_by: step,
                    timed_out: false,
                    at_ms: accepted.at_ms,
                    reason,
                };
                self.record_answer(&mut ledger, &accepted, answer)?;
                Ok(None)
            }
        };
        self.release_events(&mut ledger);
        result
    }

    /// Puts on record a request that waited its turn past `actors.answer_deadline_ms` and
    /// will never start: accepted with nothing set aside, and answered at once with what
    /// the deadline tells a request on record that has no entry ([`due_answer`] with no
    /// entries: failed, decided by its first step, `not_carried_out`), so that a
    /// resubmission is answered the same and never runs it. Room for it comes from the
    /// share kept for work already admitted: it passed its shard's gate long ago, and its
    /// caller is owed an answer now.
    fn accept_not_started(&self, accepted: Accepted) -> Result<(), EngineError> {
        let now = self.now_ms();
        let mut ledger = self.ledger.borrow_mut();
        ledger.admit(ACCEPT_RECORDS, Admission::Continuation)?;
        let answer = due_answer(&accepted, &[], now).ok_or_else(|| {
            EngineError::Internal("a customer's request with no entry is due an answer".into())
        })?;
        ledger.execute_unwaited(
            ActorId::Customer(accepted.customer),
            &LedgerRecord::RequestAccepted {
                accepted,
                reserves: Some(Vec::new()),
                named: Named::default(),
            },
        )?;
        self.publish(EngineEvent::Accepted {
            shard: self.shard,
            customer: accepted.customer,
            request_no: accepted.request_no,
            kind: accepted.kind,
            amount: accepted.amount,
            at_ms: accepted.at_ms,
        });
        tracing::info!(shard = self.shard, request = %accepted.request_no, "waited its turn past the deadline; told failed, not carried out");
        let recorded = self.record_answer(&mut ledger, &accepted, answer);
        self.release_events(&mut ledger);
        recorded
    }

    /// Writes a request's answer (the step that refused it, or the deadline) and publishes
    /// it once durable.
    fn record_answer(
        &self,
        ledger: &mut ShardLedger,
        accepted: &Accepted,
        answer: Answer,
    ) -> Result<(), EngineError> {
        let record = LedgerRecord::Answered {
            customer: accepted.customer,
            request_no: accepted.request_no,
            answer,
        };
        ledger.execute_unwaited(ActorId::Customer(accepted.customer), &record)?;
        self.publish(EngineEvent::Answered {
            shard: self.shard,
            customer: accepted.customer,
            request_no: accepted.request_no,
            told: answer.told,
            at_ms: answer.at_ms,
        });
        Ok(())
    }

    /// Writes the entry for `step` of a request (REQUESTED, holding its amount).
    /// `named`: the accounts beyond the customer's own the request's legs name, given
    /// with the submission for the first entry, and for later steps the ones on record
    /// (`ShardBooks::named`).
    pub(super) fn request_entry(
        &self,
        ledger: &mut ShardLedger,
        accepted: &Accepted,
        step: Step,
        amount: Amount,
        now: u64,
        named: Named,
    ) -> Result<EntryId, EngineError> {
        let books = ledger.books();
        // The house's requests (a payout's later steps) have no customer account.
        let linked_bank = match books.customer(accepted.customer) {
            Some(customer) => customer.linked_bank,
            None if omnibus_core::instruments::of(accepted.kind).is_house() => {
                BankCode::new("000").expect("three digits")
            }
            None => return Err(BooksError::UnknownCustomer(accepted.customer).into()),
        };
        let parties = self.parties_of(
            accepted.customer,
            linked_bank,
            accepted.payee.as_ref(),
            named,
        );
        let (debit, credit) = step_legs(accepted.kind, step, &parties);
        let id = books.next_entry_id();
        let record = LedgerRecord::EntryRequested {
            entry: id,
            customer: accepted.customer,
            request_no: accepted.request_no,
            step,
            amount,
            debit,
            credit,
            at_ms: now,
        };
        ledger.execute_unwaited(ActorId::Customer(accepted.customer), &record)?;
        self.publish(EngineEvent::EntryChanged {
            shard: self.shard,
            entry: id,
            customer: accepted.customer,
            request_no: accepted.request_no,
            step,
            from: None,
            to: EntryState::Requested,
            at_ms: now,
        });
        Ok(id)
    }
}

/// Accepts a prepared request and drives its flow once the acceptance is durable.
/// `on_record` runs once the request is on record (accepted, even if refused before any
/// call): what the instrument that prepared it must do then (a payment instruction's text
/// is used up).
pub fn start(
    ctx: &Rc<SagaRuntime>,
    accepted: Accepted,
    named: Named,
    live: Option<Live>,
    reply: Reply<Outcome>,
    on_record: impl FnOnce(),
) {
    let (customer, request_no) = (accepted.customer, accepted.request_no);
    let first_log = first_step(&accepted).0.log();
    let accepted_now = ctx.accept(accepted, named);
    if accepted_now.is_ok() {
        on_record();
    }
    match accepted_now {
        Ok(Some(first)) => {
            ctx.add_caller(customer, request_no, reply);
            // The first call counts among the calls in flight from now on.
            let slot = ctx.call_slot(first_log);
            let durable = ctx.durable();
            let ctx = ctx.clone();
            ctx.flow_started();
            actix::spawn(async move {
                if let Ok(Ok(())) = durable.await {
                    drive_from(ctx.clone(), first, live, Some(slot)).await;
                }
                ctx.flow_ended();
            });
        }
        Ok(None) => {
            ctx.add_caller(customer, request_no, reply);
            let answer_ctx = ctx.clone();
            ctx.ledger
                .borrow_mut()
                .after_durable(Box::new(move |durable| {
                    answer_ctx.answer_callers(customer, request_no, durable)
                }));
        }
        Err(e) => {
            // Refused before any outside call: the caller hears why. If the request got on
            // record (answered as failed), a resubmission returns that answer.
            reply.send(Err(e));
        }
    }
}

/// A request that waited its turn in its customer's queue past its answer deadline: put
/// on record as failed, `not_carried_out`, with nothing moved, and its caller answered
/// once that is durable (see `SagaRuntime::accept_not_started`). `on_record` as for
/// [`start`]. If it cannot be put on record (the shard's log is full even for work
/// already admitted, or failed), the caller hears that error and nothing is on record.
pub fn not_carried_out(
    ctx: &Rc<SagaRuntime>,
    accepted: Accepted,
    reply: Reply<Outcome>,
    on_record: impl FnOnce(),
) {
    let (customer, request_no) = (accepted.customer, accepted.request_no);
    match ctx.accept_not_started(accepted) {
        Ok(()) => {
            on_record();
            ctx.add_caller(customer, request_no, reply);
            let answer_ctx = ctx.clone();
            ctx.ledger
                .borrow_mut()
                .after_durable(Box::new(move |durable| {
                    answer_ctx.answer_callers(customer, request_no, durable)
                }));
        }
        Err(e) => reply.send(Err(e)),
    }
}
