//! Charges and remittances, carried out as sagas of request-log entries (SPEC §3, §4, §5a).
//!
//! A request is validated and accepted by its customer's account actor; from then on it
//! moves entry by entry. For each entry the flow writes the entry (REQUESTED) and waits
//! until it is durable, makes the outside call, waits at most the rail's timeout, then
//! reflects the answer (or the timeout) into the entry. What follows (the next entry,
//! what the customer is told) comes from `omnibus_core::flow::plan_after`, the same pure
//! function a late answer, a supervisor's confirmation and a restart use.
//!
//! The records of one move (the entry's event, the next entry, the answer) are applied in
//! one synchronous step, so they share one group commit; the caller is answered, and the
//! next call is made, only once they are durable.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use omnibus_core::books::CustomerEntry;
use omnibus_core::flow::{
    due_answer, first_step, owed_step, plan_after, reserves_for, settled_outcome, step_legs,
    Accepted, Answer, EntryId, Parties, Reason, RequestKind, HOUSE,
};
use omnibus_core::record::{ActorId, LedgerRecord, SigningKey};
use omnibus_core::request_log::{transition, EntryState, Event, LogKind, Step, Told};
use omnibus_core::signing::{verify_signature, OriginalText};
use omnibus_core::{
    route, AccountId, Amount, BankCode, Config, CustomerId, ParentAccount, Payee, RemitPath,
    RemitRequest, RequestDate, RequestNo,
};
use tokio::sync::{broadcast, oneshot};

use crate::api::{EngineEvent, Outcome, RequestView, Signed, SigningText, Submission};
use crate::clock::Clock;
use crate::error::{EngineError, Rejection};
use crate::ledger::{Admission, ShardLedger};
use crate::rails::{
    Answer as RailResult, Deposit, DepositSource, PaymentInstruction, RailAnswer, RailFuture,
    RailRequestId, Rails, SecuritiesTransfer, Settlement, Withdrawal,
};
use crate::reply::Reply;

/// The signed instruction carried to the payment-instruction step.
#[derive(Clone, Debug)]
pub struct SignedInstruction {
    text: String,
    signature: [u8; 64],
    key: SigningKey,
}

struct IssuedText {
    parsed: OriginalText,
    text: String,
}

/// A request's key within its shard: a request number is the customer's.
pub type RequestKey = (CustomerId, RequestNo);

/// A shard's flow machinery, shared by its actors on the shard's thread.
pub struct FlowContext {
    pub shard: u16,
    pub ledger: Rc<RefCell<ShardLedger>>,
    pub rails: Rails,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    events: broadcast::Sender<EngineEvent>,
    /// Callers waiting for a request's answer (the first submission and any resubmission).
    callers: RefCell<HashMap<RequestKey, Vec<Reply<Outcome>>>>,
    texts: RefCell<HashMap<(CustomerId, RequestNo), IssuedText>>,
    /// Flows being driven live, and late answers being waited for.
    sagas: Cell<usize>,
    late: Cell<usize>,
    /// Requests that may owe a step whose entry could not be created.
    owed: RefCell<std::collections::BTreeSet<RequestKey>>,
    /// Events raised by the step being applied, published once it is durable.
    pending_events: RefCell<Vec<EngineEvent>>,
    /// The engine-wide request-number registry, to forget pruned requests' numbers.
    registry: Arc<dashmap::DashMap<RequestNo, CustomerId>>,
    /// The acceptance time before which the last prune forgot, so it runs once a day.
    last_prune: Cell<Option<u64>>,
    /// Requests refused at acceptance because a parent slice could not fund them.
    short_slices: Cell<u64>,
    /// Calls to each outside system waiting for their answer within their timeout, by
    /// request log (bounded by `rails.<rail>.in_flight_max` for new requests).
    calls_in_flight: Rc<[Cell<usize>; 3]>,
    /// Asks for a refill of the shard's parent slices now (`sweep.rs`).
    pub refill: crate::sweep::Refill,
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

impl FlowContext {
    pub fn new(
        shard: u16,
        ledger: Rc<RefCell<ShardLedger>>,
        rails: Rails,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
        events: broadcast::Sender<EngineEvent>,
        registry: Arc<dashmap::DashMap<RequestNo, CustomerId>>,
    ) -> Self {
        Self {
            registry,
            last_prune: Cell::new(None),
            short_slices: Cell::new(0),
            calls_in_flight: Rc::new([Cell::new(0), Cell::new(0), Cell::new(0)]),
            refill: crate::sweep::Refill::new(config.supervisor.refill_on_demand),
            shard,
            ledger,
            rails,
            clock,
            config,
            events,
            callers: RefCell::new(HashMap::new()),
            texts: RefCell::new(HashMap::new()),
            sagas: Cell::new(0),
            late: Cell::new(0),
            owed: RefCell::new(std::collections::BTreeSet::new()),
            pending_events: RefCell::new(Vec::new()),
        }
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Flows driven live right now.
    pub fn sagas_in_flight(&self) -> usize {
        self.sagas.get()
    }

    /// Calls waiting for their answer within their timeout, to the rail of `log`.
    pub fn calls_in_flight(&self, log: LogKind) -> usize {
        self.calls_in_flight[rail_index(log)].get()
    }

    /// A new request whose first call goes to a rail that already has
    /// `rails.<rail>.in_flight_max` calls in flight from this shard is turned away; the
    /// steps of requests already accepted always make their calls.
    fn check_rail_room(&self, log: LogKind) -> Result<(), EngineError> {
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

    fn call_slot(&self, log: LogKind) -> CallSlot {
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

    /// The confirm inquiry about one call of `step`, and how long to wait for its answer.
    pub fn confirm_inquiry(
        &self,
        step: Step,
        id: RailRequestId,
    ) -> (RailFuture<crate::rails::Confirmed>, Duration) {
        let log = step.log();
        let inquiry = match log {
            LogKind::BankFirmRequestLog => self.rails.bank_firm.confirm(id),
            LogKind::SecuritiesFirmRequestLog => self.rails.securities_firm.confirm(id),
            LogKind::PaymentInstructionLog => self.rails.financial_company.confirm(id),
        };
        (
            inquiry,
            Duration::from_millis(self.rail_config(log).confirm_timeout_ms),
        )
    }

    /// Queues an event for subscribers; it is published by `release_events` once the
    /// records of the step that raised it are durable.
    fn publish(&self, event: EngineEvent) {
        if self.events.receiver_count() > 0 {
            self.pending_events.borrow_mut().push(event);
        }
    }

    /// Publishes the events queued during this step once everything applied so far is
    /// durable: a subscriber never sees a state a crash could take back. No subscriber is
    /// not an error; a lagging one loses the oldest events.
    fn release_events(&self, ledger: &mut ShardLedger) {
        let events = std::mem::take(&mut *self.pending_events.borrow_mut());
        if events.is_empty() {
            return;
        }
        let sender = self.events.clone();
        ledger.after_durable(Box::new(move |durable| {
            if durable.is_ok() {
                for event in events {
                    let _ = sender.send(event);
                }
            }
        }));
    }

    fn deposit_bank(&self, payee_bank: BankCode) -> BankCode {
        if self.config.banks.deposit_firm.contains(&payee_bank) {
            payee_bank
        } else {
            self.config.banks.default_deposit_bank
        }
    }

    fn parties(&self, customer: &CustomerEntry, payee: Option<&Payee>) -> Parties {
        Parties {
            customer: customer.id,
            linked_bank: customer.linked_bank,
            payee_bank: payee.map(|p| p.bank),
            deposit_bank: payee.map(|p| self.deposit_bank(p.bank)),
            settlement: None,
        }
    }

    /// A request's view: the request with every entry.
    pub fn view(&self, customer: CustomerId, request_no: RequestNo) -> Option<RequestView> {
        let ledger = self.ledger.borrow();
        let books = ledger.books();
        let request = books.request(customer, request_no)?;
        let entries = books.request_entries(request);
        Some(RequestView {
            accepted: request.accepted,
            answer: request.answer,
            outcome: settled_outcome(request, &entries),
            entries,
        })
    }

    /// Issues the transaction original text of an over-limit remittance (S2, S3).
    pub fn issue_text(&self, request: RemitRequest) -> Result<SigningText, EngineError> {
        let now = self.now_ms();
        let customer = request.header.customer;
        {
            let ledger = self.ledger.borrow();
            ledger.check_usable()?;
            let books = ledger.books();
            let entry = self.valid_customer(books.customer(customer), customer)?;
            if entry.signing_key.is_none() {
                return Err(Rejection::NoSigningKey(customer).into());
            }
            if request.header.amount.value() <= self.config.usage_limit().value() {
                return Err(Rejection::NotOverLimit.into());
            }
            if books.request(customer, request.header.request_no).is_some() {
                return Err(Rejection::RequestNoReused {
                    request_no: request.header.request_no,
                }
                .into());
            }
        }
        let mut texts = self.texts.borrow_mut();
        if texts.len() >= self.config.signing.original_texts_max as usize {
            texts.retain(|_, t| t.parsed.expires_at_ms > now);
            if texts.len() >= self.config.signing.original_texts_max as usize {
                return Err(EngineError::Overloaded(crate::error::Bound::SigningTexts));
            }
        }
        let parsed = OriginalText {
            request,
            nonce: rand::random::<u128>(),
            expires_at_ms: now + self.config.signing.original_text_ttl_ms,
        };
        let text = parsed.render();
        let issued = SigningText {
            text: text.clone(),
            expires_at_ms: parsed.expires_at_ms,
        };
        texts.insert(
            (customer, request.header.request_no),
            IssuedText { parsed, text },
        );
        Ok(issued)
    }

    fn valid_customer<'a>(
        &self,
        entry: Option<&'a CustomerEntry>,
        customer: CustomerId,
    ) -> Result<&'a CustomerEntry, EngineError> {
        let entry = entry.ok_or(omnibus_core::books::BooksError::UnknownCustomer(customer))?;
        if !entry.tradable {
            return Err(Rejection::NotTradable(customer).into());
        }
        if !entry.subscription_valid {
            return Err(Rejection::SubscriptionInvalid(customer).into());
        }
        Ok(entry)
    }

    /// Idempotency and validation (S31-S33, S71-S73, S6): what to do with a submission.
    fn prepare(&self, submission: &Submission) -> Result<Prepared, EngineError> {
        let ledger = self.ledger.borrow();
        ledger.check_usable()?;
        let books = ledger.books();
        let customer = submission.customer();
        let request_no = submission.request_no();
        if let Some(existing) = books.request(customer, request_no) {
            if !same_request(&existing.accepted, submission) {
                return Err(Rejection::RequestNoReused { request_no }.into());
            }
            return Ok(match &existing.answer {
                Some(answer) => Prepared::Answered(Outcome::new(&existing.accepted, answer)),
                None => Prepared::InProgress,
            });
        }
        let entry = self.valid_customer(books.customer(customer), customer)?;
        let now = self.now_ms();
        self.check_request_date(submission.header().request_date, now)?;
        let (header, payee, signed) = match submission {
            Submission::Charge(c) => {
                let accepted = Accepted {
                    customer,
                    request_no,
                    request_date: c.header.request_date,
                    kind: RequestKind::Charge,
                    amount: c.header.amount,
                    payee: None,
                    path: None,
                    deficit: None,
                    at_ms: now,
                };
                return Ok(Prepared::Ready {
                    accepted,
                    signed: None,
                });
            }
            Submission::Remit(r) => (&r.header, r.payee, None),
            Submission::RemitSigned(r, signed) => (&r.header, r.payee, Some(signed)),
        };
        let available = books.money(entry.balance - entry.held);
        let plan = route(header.amount, available, self.config.usage_limit())
            .map_err(|e| EngineError::Internal(format!("routing: {e}")))?;
        let instruction = match (plan.path, signed) {
            (RemitPath::PaymentInstruction, None) => {
                return Err(Rejection::SignatureRequired.into())
            }
            (RemitPath::First, Some(_)) => return Err(Rejection::NotOverLimit.into()),
            (RemitPath::First, None) => None,
            (RemitPath::PaymentInstruction, Some(signed)) => {
                let request = RemitRequest {
                    header: *header,
                    payee,
                };
                Some(self.check_signature(entry, &request, signed, now)?)
            }
        };
        let accepted = Accepted {
            customer,
            request_no,
            request_date: header.request_date,
            kind: RequestKind::Remit,
            amount: header.amount,
            payee: Some(payee),
            path: Some(plan.path),
            deficit: plan.deficit_charge,
            at_ms: now,
        };
        Ok(Prepared::Ready {
            accepted,
            signed: instruction,
        })
    }

    /// A request's date must be within `actors.request_date_window_days` of the engine's
    /// own date (UTC): the date is the client's, and nothing the engine keeps depends on
    /// it, but a date far off is a client's mistake, refused naming the field.
    fn check_request_date(&self, date: RequestDate, now: u64) -> Result<(), EngineError> {
        const DAY_MS: u64 = 86_400_000;
        let window = u64::from(self.config.actors.request_date_window_days) * DAY_MS;
        let earliest = RequestDate::from_unix_ms(now.saturating_sub(window));
        let latest = RequestDate::from_unix_ms(now.saturating_add(window));
        let today = RequestDate::from_unix_ms(now);
        let inside = earliest.is_none_or(|e| date >= e) && latest.is_none_or(|l| date <= l);
        if inside {
            return Ok(());
        }
        Err(Rejection::RequestDateOutsideWindow {
            date,
            today: today.map_or_else(|| "unknown".to_string(), |t| t.to_string()),
            window_days: self.config.actors.request_date_window_days,
        }
        .into())
    }

    /// S5, S6 and the engine's own checks of a signed instruction. The issued text is used
    /// up only when the request is accepted ([`FlowContext::use_text`]): a refusal that
    /// changed nothing (a bad signature, the authentication server unreachable) leaves it
    /// usable, so that the documented retry can succeed. An expired text is dropped. A text
    /// and its signature still serve one request, once: a second submission of an
    /// accepted request is answered as a resubmission, never executed again.
    fn check_signature(
        &self,
        customer: &CustomerEntry,
        request: &RemitRequest,
        signed: &Signed,
        now: u64,
    ) -> Result<SignedInstruction, EngineError> {
        let key = customer
            .signing_key
            .ok_or(Rejection::NoSigningKey(customer.id))?;
        let text_key = (customer.id, request.header.request_no);
        let mut texts = self.texts.borrow_mut();
        let issued = texts
            .get(&text_key)
            .ok_or(Rejection::NoSigningText(request.header.request_no))?;
        if issued.parsed.expires_at_ms <= now {
            let expires_at_ms = issued.parsed.expires_at_ms;
            texts.remove(&text_key);
            return Err(
                Rejection::Signing(omnibus_core::signing::SigningError::Expired {
                    expires_at_ms,
                    now_ms: now,
                })
                .into(),
            );
        }
        issued
            .parsed
            .check_matches(request)
            .map_err(Rejection::Signing)?;
        if signed.cert_serial != key.cert_serial {
            return Err(Rejection::UnknownCertificate {
                given: signed.cert_serial,
            }
            .into());
        }
        verify_signature(
            &issued.text,
            &signed.signature,
            &key.public_key,
            key.cert_serial,
        )
        .map_err(Rejection::Signing)?;
        Ok(SignedInstruction {
            text: issued.text.clone(),
            signature: signed.signature,
            key,
        })
    }

    /// The issued text of an accepted request is used up: it never serves another.
    fn use_text(&self, customer: CustomerId, request_no: RequestNo) {
        self.texts.borrow_mut().remove(&(customer, request_no));
    }

    /// Accepts a request and writes its first entry; the flow starts once both are durable.
    /// `Ok(None)`: accepted, but refused before any call (a parent slice cannot fund it, or
    /// its first entry was refused), so it is answered as failed with nothing moved.
    fn accept(self: &Rc<Self>, accepted: Accepted) -> Result<Option<EntryId>, EngineError> {
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
        let customer = books.customer(accepted.customer).ok_or(
            omnibus_core::books::BooksError::UnknownCustomer(accepted.customer),
        )?;
        let parties = self.parties(customer, accepted.payee.as_ref());
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
            None => self.request_entry(&mut ledger, &accepted, step, amount, accepted.at_ms),
        };
        let result = match refused {
            Ok(id) => Ok(Some(id)),
            Err(e) => {
                let reason = if matches!(
                    e,
                    EngineError::Refused(omnibus_core::books::BooksError::BelowFloor { .. })
                ) {
                    self.short_slices.set(self.short_slices.get() + 1);
                    self.refill.short();
                    Reason::ParentSliceShort
                } else {
                    Reason::NotCarriedOut
                };
                tracing::info!(shard = self.shard, request = %accepted.request_no, error = %e, "refused before any call; told failed, nothing moved");
                let answer = Answer {
                    told: Told::Failed,
                    decided_by: step,
                    timed_out: false,
                    at_ms: accepted.at_ms,
                    reason,
                };
                let record = LedgerRecord::Answered {
                    customer: accepted.customer,
                    request_no: accepted.request_no,
                    answer,
                };
                ledger.execute_unwaited(actor, &record)?;
                self.publish(EngineEvent::Answered {
                    shard: self.shard,
                    customer: accepted.customer,
                    request_no: accepted.request_no,
                    told: Told::Failed,
                    at_ms: accepted.at_ms,
                });
                Ok(None)
            }
        };
        self.release_events(&mut ledger);
        result
    }

    /// Writes the entry for `step` of a request (REQUESTED, holding its amount).
    fn request_entry(
        &self,
        ledger: &mut ShardLedger,
        accepted: &Accepted,
        step: Step,
        amount: Amount,
        now: u64,
    ) -> Result<EntryId, EngineError> {
        let books = ledger.books();
        let customer = books.customer(accepted.customer).ok_or(
            omnibus_core::books::BooksError::UnknownCustomer(accepted.customer),
        )?;
        let parties = self.parties(customer, accepted.payee.as_ref());
        let (debit, credit) = step_legs(step, &parties);
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

    /// A oneshot that fires once everything applied so far is durable.
    pub fn durable(&self) -> Barrier {
        let (tx, rx) = oneshot::channel();
        self.ledger.borrow_mut().after_durable(Box::new(move |r| {
            let _ = tx.send(r);
        }));
        rx
    }

    /// Adds a caller waiting for a request's answer; past
    /// `actors.callers_per_request_max` callers of one request it is answered
    /// "overloaded" instead.
    fn add_caller(&self, customer: CustomerId, request_no: RequestNo, reply: Reply<Outcome>) {
        let max = self.config.actors.callers_per_request_max as usize;
        let mut callers = self.callers.borrow_mut();
        let waiting = callers.entry((customer, request_no)).or_default();
        if waiting.len() >= max {
            drop(callers);
            reply.send(Err(EngineError::Overloaded(crate::error::Bound::Callers)));
            return;
        }
        waiting.push(reply);
    }

    /// Answers the requests whose callers have waited `actors.answer_deadline_ms` since
    /// acceptance, and those a crash left without an answer: each is told what the SPEC
    /// §4 table tells for the entries as they stand (a timeout of the step in flight),
    /// recorded like any answer, and its flow carries on. At most `supervisor.batch_max`
    /// a call; what does not fit in the shard's queue now is answered at the next.
    pub fn answer_overdue(self: &Rc<Self>) -> usize {
        let now = self.now_ms();
        let deadline = self.config.actors.answer_deadline_ms;
        let batch_max = self.config.supervisor.batch_max as usize;
        let mut ledger = self.ledger.borrow_mut();
        let due: Vec<(CustomerId, RequestNo)> = ledger
            .books()
            .unanswered_requests()
            .take_while(|(at_ms, ..)| at_ms.saturating_add(deadline) <= now)
            .take(batch_max)
            .map(|(_, customer, request_no)| (customer, request_no))
            .collect();
        let mut answered = 0;
        for (customer, request_no) in due {
            if ledger.admit(1, Admission::Continuation).is_err() {
                break;
            }
            let books = ledger.books();
            let Some(request) = books.request(customer, request_no) else {
                continue;
            };
            let entries = books.request_entries(request);
            let Some(answer) = due_answer(&request.accepted, &entries, now) else {
                continue;
            };
            let record = LedgerRecord::Answered {
                customer,
                request_no,
                answer,
            };
            if let Err(e) = ledger.execute_unwaited(ActorId::Customer(customer), &record) {
                tracing::warn!(shard = self.shard, request = %request_no, error = %e, "an overdue answer could not be recorded");
                continue;
            }
            answered += 1;
            tracing::info!(shard = self.shard, request = %request_no, told = ?answer.told, decided_by = %answer.decided_by, "answered past the deadline");
            self.publish(EngineEvent::Answered {
                shard: self.shard,
                customer,
                request_no,
                told: answer.told,
                at_ms: now,
            });
            let ctx = self.clone();
            ledger.after_durable(Box::new(move |durable| {
                ctx.answer_callers(customer, request_no, durable)
            }));
        }
        self.release_events(&mut ledger);
        answered
    }

    /// Answers every caller waiting on a request that has an answer on record.
    fn answer_callers(
        &self,
        customer: CustomerId,
        request_no: RequestNo,
        durable: Result<(), EngineError>,
    ) {
        let callers = self
            .callers
            .borrow_mut()
            .remove(&(customer, request_no))
            .unwrap_or_default();
        if callers.is_empty() {
            return;
        }
        let outcome = durable.and_then(|()| {
            let ledger = self.ledger.borrow();
            // Answered and durable, so on the books: retention forgets only requests
            // accepted days ago. Should one be gone all the same, its callers hear so
            // rather than the shard stopping.
            let request = ledger.books().request(customer, request_no);
            match request.and_then(|r| r.answer.as_ref().map(|a| (r, a))) {
                Some((request, answer)) => Ok(Outcome::new(&request.accepted, answer)),
                None => Err(EngineError::from(Rejection::UnknownRequest(request_no))),
            }
        });
        for caller in callers {
            caller.send(outcome.clone());
        }
    }

    /// The outside call of an entry, or `None` if the entry is not REQUESTED.
    fn call(
        &self,
        id: EntryId,
        signed: Option<&SignedInstruction>,
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
        if entry.step == Step::Settlement {
            // The house's sweep: its legs are the two parent accounts; no customer.
            let (AccountId::Parent { parent: from }, AccountId::Parent { parent: to }) =
                (entry.debit, entry.credit)
            else {
                return None;
            };
            let settlement = Settlement {
                id: rail_id,
                from,
                to,
                amount: entry.amount,
            };
            return Some((
                self.rails.bank_firm.settle(settlement),
                self.timeout(LogKind::BankFirmRequestLog),
                LogKind::BankFirmRequestLog,
            ));
        }
        let request = books.request(entry.customer, entry.request_no)?;
        let customer = books.customer(entry.customer)?;
        let rails = &self.rails;
        let transfer = SecuritiesTransfer {
            id: rail_id,
            customer: entry.customer,
            amount: entry.amount,
        };
        let future = match entry.step {
            Step::ChargeWithdrawal => rails.bank_firm.withdraw(Withdrawal {
                id: rail_id,
                customer: entry.customer,
                bank: customer.linked_bank,
                linked_account: customer.linked_account,
                amount: entry.amount,
            }),
            Step::ChargeCredit | Step::Recovery => rails.securities_firm.increase(transfer),
            Step::RemitDeduction => rails.securities_firm.decrease(transfer),
            Step::RemitDeposit => {
                let payee = request.accepted.payee?;
                let omnibus_core::AccountId::Parent {
                    parent: ParentAccount::DepositFirm(bank),
                } = entry.debit
                else {
                    return None;
                };
                rails.bank_firm.deposit(Deposit {
                    id: rail_id,
                    customer: entry.customer,
                    from: DepositSource::DepositFirm(bank),
                    to_bank: payee.bank,
                    to_account: payee.account,
                    amount: entry.amount,
                })
            }
            Step::Refund => rails.bank_firm.deposit(Deposit {
                id: rail_id,
                customer: entry.customer,
                from: DepositSource::WithdrawalFirm(customer.linked_bank),
                to_bank: customer.linked_bank,
                to_account: customer.linked_account,
                amount: entry.amount,
            }),
            // Settlements returned above, before the customer lookup.
            Step::Settlement => return None,
            Step::PaymentInstruction => {
                // The signed text lives only in memory: a payment instruction is made
                // once, live. After a restart its entry is confirmed, never re-sent.
                let signed = signed?;
                let payee = request.accepted.payee?;
                rails.financial_company.instruct(PaymentInstruction {
                    id: rail_id,
                    customer: entry.customer,
                    request_date: request.accepted.request_date,
                    request_no: entry.request_no,
                    amount: entry.amount,
                    payee,
                    original_text: signed.text.clone(),
                    signature: signed.signature,
                    certificate: signed.key,
                })
            }
        };
        Some((future, self.timeout(entry.step.log()), entry.step.log()))
    }

    /// Applies `event` to an entry and whatever follows from it (SPEC §4): the next entry,
    /// the customer's answer. `Ok(None)` if the event does not apply (the entry is final:
    /// a late answer after a confirmation); otherwise what moved, with a barrier that
    /// fires once it is all durable. "Overloaded" when the shard's queue has no room for
    /// the step now: nothing changed, and the caller applies the event again once the log
    /// has made progress ([`advance_when_room`]).
    pub fn advance(
        self: &Rc<Self>,
        id: EntryId,
        event: Event,
    ) -> Result<Option<Moved>, EngineError> {
        let now = self.now_ms();
        let mut ledger = self.ledger.borrow_mut();
        let Some(entry) = ledger.books().entry(id).copied() else {
            return Ok(None);
        };
        // A late answer after a confirmation, or a second confirmation: the entry is final.
        let Ok(t) = transition(entry.step, entry.state, event) else {
            return Ok(None);
        };
        let Some((accepted, answered)) = ledger
            .books()
            .request(entry.customer, entry.request_no)
            .map(|r| (r.accepted, r.answer.is_some()))
        else {
            return Ok(None);
        };
        ledger.admit(STEP_RECORDS, Admission::Continuation)?;
        let plan = plan_after(&accepted, answered, entry.step, entry.amount, &t);
        let actor = ActorId::Customer(entry.customer);
        if let Err(e) = ledger.execute_unwaited(
            actor,
            &LedgerRecord::EntryEvent {
                entry: id,
                event,
                at_ms: now,
            },
        ) {
            tracing::error!(shard = self.shard, entry = %id, ?event, error = %e, "an entry's event could not be applied");
            return Ok(None);
        }
        self.publish(EngineEvent::EntryChanged {
            shard: self.shard,
            entry: id,
            customer: entry.customer,
            request_no: entry.request_no,
            step: entry.step,
            from: Some(entry.state),
            to: t.to,
            at_ms: now,
        });
        let mut tell = plan.tell;
        let mut decided_by = entry.step;
        let mut timed_out = event == Event::TimedOut;
        let mut reason = tell.map(|told| Reason::of(told, entry.step, event, accepted.kind));
        let mut next = None;
        if let Some((step, amount)) = plan.next {
            match self.request_entry(&mut ledger, &accepted, step, amount, now) {
                Ok(next_id) => next = Some(next_id),
                Err(e) => {
                    // The next step cannot start (its hold is refused; a request that set
                    // its money aside at acceptance never gets here): the request fails
                    // here if nobody was told yet, decided by the step that could not
                    // start, and whatever money the request still owes (a recovery, a
                    // refund, a credit) is left to the recovery supervisor, which keeps
                    // trying to create the entry.
                    tracing::warn!(shard = self.shard, entry = %id, ?step, error = %e, "next entry refused");
                    if matches!(
                        e,
                        EngineError::Refused(omnibus_core::books::BooksError::BelowFloor { .. })
                    ) {
                        // A parent slice short of what the step needs: refill it now.
                        self.refill.short();
                    }
                    if tell.is_none() && !answered {
                        tell = Some(Told::Failed);
                        decided_by = step;
                        timed_out = false;
                        reason = Some(
                            if matches!(
                                e,
                                EngineError::Refused(
                                    omnibus_core::books::BooksError::BelowFloor { .. }
                                )
                            ) {
                                Reason::ParentSliceShort
                            } else {
                                Reason::NotCarriedOut
                            },
                        );
                    }
                    self.owed
                        .borrow_mut()
                        .insert((entry.customer, entry.request_no));
                }
            }
        }
        if let Some(told) = tell {
            let answer = Answer {
                told,
                decided_by,
                timed_out,
                at_ms: now,
                reason: reason.unwrap_or(Reason::NotCarriedOut),
            };
            let record = LedgerRecord::Answered {
                customer: entry.customer,
                request_no: entry.request_no,
                answer,
            };
            match ledger.execute_unwaited(actor, &record) {
                Ok(_) => {
                    let (ctx, customer, request_no) =
                        (self.clone(), entry.customer, entry.request_no);
                    self.publish(EngineEvent::Answered {
                        shard: self.shard,
                        customer,
                        request_no,
                        told,
                        at_ms: now,
                    });
                    ledger.after_durable(Box::new(move |durable| {
                        ctx.answer_callers(customer, request_no, durable)
                    }));
                }
                Err(e) => {
                    tracing::error!(shard = self.shard, entry = %id, error = %e, "an answer could not be recorded")
                }
            }
        }
        self.release_events(&mut ledger);
        drop(ledger);
        Ok(Some(Moved {
            next,
            durable: self.durable(),
        }))
    }

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
        let Some((step, amount)) = owed_step(&request.accepted, request.answer.is_some(), &entries)
        else {
            return Ok(None);
        };
        ledger.admit(1, Admission::Continuation)?;
        let id = self.request_entry(&mut ledger, &request.accepted, step, amount, now);
        self.release_events(&mut ledger);
        let id = id?;
        drop(ledger);
        Ok(Some((id, self.durable())))
    }

    /// Starts a settlement sweep from one parent slice to another: the house's own request
    /// and its one entry (holding the amount on `from`), to be driven once durable.
    pub fn start_settlement(
        self: &Rc<Self>,
        from: ParentAccount,
        to: ParentAccount,
        amount: Amount,
    ) -> Result<(EntryId, Barrier), EngineError> {
        let now = self.now_ms();
        let request_date = RequestDate::from_unix_ms(now).ok_or_else(|| {
            EngineError::Internal(format!(
                "the clock reads {now} ms, outside the engine's dates"
            ))
        })?;
        let mut ledger = self.ledger.borrow_mut();
        ledger.admit(2, Admission::New)?;
        let id = ledger.books().next_entry_id();
        let request_no = RequestNo::new(&format!("SWEEP-{:016x}", id.0))
            .expect("a sweep's request number is well formed");
        let accepted = Accepted {
            customer: HOUSE,
            request_no,
            request_date,
            kind: RequestKind::Settlement,
            amount,
            payee: None,
            path: None,
            deficit: None,
            at_ms: now,
        };
        let actor = ActorId::Parent(from);
        ledger.execute_unwaited(
            actor,
            &LedgerRecord::RequestAccepted {
                accepted,
                reserves: None,
            },
        )?;
        let entry = LedgerRecord::EntryRequested {
            entry: id,
            customer: HOUSE,
            request_no,
            step: Step::Settlement,
            amount,
            debit: AccountId::parent(from),
            credit: AccountId::parent(to),
            at_ms: now,
        };
        ledger.execute_unwaited(actor, &entry)?;
        drop(ledger);
        Ok((id, self.durable()))
    }

    /// Forgets the settled requests the engine accepted longer ago than the idempotency
    /// window (`actors.idempotency_retention_days`, counted from the engine's own
    /// acceptance time, never from the client's `request_date`), once a day: their request
    /// numbers may be used again afterwards. Answers how many were forgotten, once durable.
    pub async fn prune(self: &Rc<Self>) -> u64 {
        const DAY_MS: u64 = 86_400_000;
        let days = u64::from(self.config.actors.idempotency_retention_days);
        // Whole days, so that the prune runs once a day and every shard forgets alike.
        let before_ms = self.now_ms().saturating_sub(days * DAY_MS) / DAY_MS * DAY_MS;
        if before_ms == 0 || self.last_prune.get().is_some_and(|last| last >= before_ms) {
            return 0;
        }
        let keys = {
            let mut ledger = self.ledger.borrow_mut();
            let keys = ledger.books().forgettable(before_ms);
            if !keys.is_empty() {
                let record = LedgerRecord::Forgotten {
                    accepted_before_ms: before_ms,
                };
                let refused = ledger
                    .admit(1, Admission::New)
                    .and_then(|()| ledger.execute_unwaited(ActorId::Shard, &record).map(|_| ()));
                if let Err(e) = refused {
                    tracing::warn!(shard = self.shard, before_ms, error = %e, "prune refused; tried again at the next pass");
                    return 0;
                }
            }
            keys
        };
        self.last_prune.set(Some(before_ms));
        if keys.is_empty() {
            return 0;
        }
        if !matches!(self.durable().await, Ok(Ok(()))) {
            return 0;
        }
        for (customer, request_no) in &keys {
            self.registry
                .remove_if(request_no, |_, owner| owner == customer);
        }
        tracing::info!(
            shard = self.shard,
            before_ms,
            requests = keys.len(),
            "requests past the idempotency window forgotten"
        );
        keys.len() as u64
    }

    /// Requests refused at acceptance because a parent slice could not fund them.
    pub fn short_slices(&self) -> u64 {
        self.short_slices.get()
    }

    /// Requests that may owe a step whose entry could not be created.
    pub fn owed_count(&self) -> usize {
        self.owed.borrow().len()
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
            if owed_step(&request.accepted, request.answer.is_some(), &entries).is_some() {
                owed.insert((request.accepted.customer, request.accepted.request_no));
            }
        }
        owed.len()
    }
}

/// Records one step of a flow writes at most: an entry's event, the next entry, the answer.
pub const STEP_RECORDS: usize = 3;
/// Records an acceptance writes at most: the request, its first entry, an answer.
pub const ACCEPT_RECORDS: usize = 3;

/// Fires once every record applied before it was taken is durable.
pub type Barrier = oneshot::Receiver<Result<(), EngineError>>;

/// What `advance` moved: the next entry (to be driven once durable), and the barrier.
pub struct Moved {
    pub next: Option<EntryId>,
    pub durable: Barrier,
}

// A transient value, built and matched once per submission: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Prepared {
    Answered(Outcome),
    InProgress,
    Ready {
        accepted: Accepted,
        signed: Option<SignedInstruction>,
    },
}

/// Whether a resubmission carries the same fields as the accepted request.
fn same_request(accepted: &Accepted, submission: &Submission) -> bool {
    let (kind, header, payee) = match submission {
        Submission::Charge(c) => (RequestKind::Charge, &c.header, None),
        Submission::Remit(r) | Submission::RemitSigned(r, _) => {
            (RequestKind::Remit, &r.header, Some(r.payee))
        }
    };
    accepted.kind == kind
        && accepted.request_date == header.request_date
        && accepted.amount == header.amount
        && accepted.payee == payee
}

/// Carries out a submission: validation, then acceptance and the flow, answering `reply`
/// once the customer's answer is durable.
pub fn submit(ctx: &Rc<FlowContext>, submission: Submission, reply: Reply<Outcome>) {
    let customer = submission.customer();
    let request_no = submission.request_no();
    match ctx.prepare(&submission) {
        Err(e) => reply.send(Err(e)),
        Ok(Prepared::Answered(outcome)) => reply.send(Ok(outcome)),
        Ok(Prepared::InProgress) => ctx.add_caller(customer, request_no, reply),
        Ok(Prepared::Ready {
            accepted,
            signed: None,
        }) => start(ctx, accepted, None, reply),
        Ok(Prepared::Ready {
            accepted,
            signed: Some(instruction),
        }) => {
            // S7: the authentication server confirms the key before anything is accepted.
            let ctx = ctx.clone();
            let timeout = Duration::from_millis(ctx.config.rails.authentication.timeout_ms);
            let check = ctx.rails.authentication.key_valid(instruction.key);
            ctx.sagas.set(ctx.sagas.get() + 1);
            actix::spawn(async move {
                let verdict = tokio::time::timeout(timeout, check).await;
                ctx.sagas.set(ctx.sagas.get() - 1);
                match verdict {
                    Ok(Ok(true)) => {
                        // Another submission of the same request may have been accepted
                        // while the key was checked; it is then answered as a resubmission.
                        let accepted_meanwhile = ctx
                            .ledger
                            .borrow()
                            .books()
                            .request(customer, request_no)
                            .is_some();
                        if accepted_meanwhile {
                            submit(&ctx, submission, reply);
                        } else {
                            start(&ctx, accepted, Some(instruction), reply);
                        }
                    }
                    Ok(Ok(false)) => reply
                        .send(Err(
                            Rejection::KeyNotValid(instruction.key.cert_serial).into()
                        )),
                    Ok(Err(e)) => reply
                        .send(Err(
                            Rejection::AuthenticationUnavailable(e.to_string()).into()
                        )),
                    Err(_) => reply.send(Err(Rejection::AuthenticationUnavailable(format!(
                        "no answer within {} ms",
                        timeout.as_millis()
                    ))
                    .into())),
                }
            });
        }
    }
}

/// Accepts a prepared request and drives its flow once the acceptance is durable.
fn start(
    ctx: &Rc<FlowContext>,
    accepted: Accepted,
    signed: Option<SignedInstruction>,
    reply: Reply<Outcome>,
) {
    let (customer, request_no) = (accepted.customer, accepted.request_no);
    let first_log = first_step(&accepted).0.log();
    let accepted_now = ctx.accept(accepted);
    if signed.is_some() && accepted_now.is_ok() {
        ctx.use_text(customer, request_no);
    }
    match accepted_now {
        Ok(Some(first)) => {
            ctx.add_caller(customer, request_no, reply);
            // The first call counts among the calls in flight from now on.
            let slot = ctx.call_slot(first_log);
            let durable = ctx.durable();
            let ctx = ctx.clone();
            ctx.sagas.set(ctx.sagas.get() + 1);
            actix::spawn(async move {
                if let Ok(Ok(())) = durable.await {
                    drive_from(ctx.clone(), first, signed, Some(slot)).await;
                }
                ctx.sagas.set(ctx.sagas.get() - 1);
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

/// Drives a flow from `entry` on: call, wait, reflect, follow, until nothing follows live.
pub async fn drive(ctx: Rc<FlowContext>, entry: EntryId, signed: Option<SignedInstruction>) {
    drive_from(ctx, entry, signed, None).await
}

/// [`drive`], with the first call's place among the calls in flight taken already (at
/// acceptance, so that requests accepted together cannot all pass the bound).
async fn drive_from(
    ctx: Rc<FlowContext>,
    mut entry: EntryId,
    signed: Option<SignedInstruction>,
    mut first_slot: Option<CallSlot>,
) {
    loop {
        let Some((mut call, timeout, log)) = ctx.call(entry, signed.as_ref()) else {
            return;
        };
        let slot = first_slot.take().unwrap_or_else(|| ctx.call_slot(log));
        let sleep = tokio::time::sleep(timeout);
        tokio::pin!(sleep);
        let answer = tokio::select! {
            biased;
            answer = &mut call => Some(answer),
            () = &mut sleep => None,
        };
        // Answered or timed out: no longer in flight (a late answer is watched apart).
        drop(slot);
        let event = match answer {
            Some(Ok(RailAnswer::Done)) => Event::Succeeded,
            Some(Ok(RailAnswer::Refused { .. })) => Event::Failed,
            // Unreachable is no answer about the request: it is treated as a timeout, and
            // the confirm inquiry settles it.
            Some(Err(_)) => Event::TimedOut,
            None => {
                watch_late(&ctx, entry, call, signed.clone());
                Event::TimedOut
            }
        };
        match advance_when_room(&ctx, entry, event).await {
            Some(Moved {
                next: Some(next),
                durable,
                ..
            }) => {
                if !matches!(durable.await, Ok(Ok(()))) {
                    return;
                }
                entry = next;
            }
            _ => return,
        }
    }
}

/// Keeps waiting for an answer that missed its timeout, and reflects it when it comes
/// ("a result that arrives late is still reflected"). Bounded in time by the supervisors'
/// window (they confirm the entry by then) and in number by the shard's flow bound.
fn watch_late(
    ctx: &Rc<FlowContext>,
    entry: EntryId,
    call: RailFuture<RailResult>,
    signed: Option<SignedInstruction>,
) {
    if ctx.late.get() >= ctx.config.actors.sagas_in_flight_max as usize {
        return;
    }
    ctx.late.set(ctx.late.get() + 1);
    let ctx = ctx.clone();
    let window = Duration::from_millis(ctx.config.supervisor.window_max_age_ms);
    actix::spawn(async move {
        if let Ok(Ok(answer)) = tokio::time::timeout(window, call).await {
            let event = match answer {
                RailAnswer::Done => Event::Succeeded,
                RailAnswer::Refused { .. } => Event::Failed,
            };
            if let Some(Moved {
                next: Some(next),
                durable,
                ..
            }) = advance_when_room(&ctx, entry, event).await
            {
                if matches!(durable.await, Ok(Ok(()))) {
                    drive(ctx.clone(), next, signed).await;
                }
            }
        }
        ctx.late.set(ctx.late.get() - 1);
    });
}

/// Applies `event` to an entry ([`FlowContext::advance`]), waiting for room in the
/// shard's queue when it is full: an answer from outside is never dropped for overload.
/// `None` if the event does not apply, or the shard's log failed.
pub async fn advance_when_room(ctx: &Rc<FlowContext>, id: EntryId, event: Event) -> Option<Moved> {
    loop {
        match ctx.advance(id, event) {
            Ok(moved) => return moved,
            Err(EngineError::Overloaded(_)) => {
                // The queue is full of records on their way to disk; once some are
                // durable there is room again.
                if !matches!(ctx.durable().await, Ok(Ok(()))) {
                    return None;
                }
            }
            Err(e) => {
                tracing::error!(shard = ctx.shard, entry = %id, ?event, error = %e, "an entry's event could not be applied");
                return None;
            }
        }
    }
}

/// After a restart, an entry still REQUESTED may or may not have reached its outside
/// system: it is a timeout, left UNKNOWN for the confirm inquiry (SPEC §4), and a caller
/// resubmitting is told what the timeout rule says. Runs as a task, so that any number
/// of such entries go through the shard's bounded queue.
pub fn resume_after_restart(ctx: &Rc<FlowContext>) -> usize {
    let requested: Vec<EntryId> = ctx
        .ledger
        .borrow()
        .books()
        .requested_entries()
        .map(|(_, id)| id)
        .collect();
    let count = requested.len();
    if count > 0 {
        let ctx = ctx.clone();
        actix::spawn(async move {
            for entry in requested {
                let _ = advance_when_room(&ctx, entry, Event::TimedOut).await;
            }
        });
    }
    count
}
