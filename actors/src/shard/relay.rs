//! The virtual-account relay of the partners whose shard this is (INSTRUMENTS.md §2;
//! `omnibus_core` `payments/relay`): each operation asks the relay's book for its
//! decision and writes the change it returns as one `relay_set` record, answered once
//! durable. A deposit notice is thus in `va_deposit_log`, with its match, before the
//! engine does anything else with it (S24), and two notices of one VA are judged one
//! after the other on this thread.

use actix::{Context, Handler, Message};
use omnibus_core::ids::BankCode;
use omnibus_core::payments::relay::book::PoolStatus;
use omnibus_core::payments::relay::{
    CollectionStatement, Deposit, DepositId, DepositNotice, DepositOutcome, Lease, LeaseId,
    LeaseOutcome, LeaseRequest, Partner, PartnerId, PoolSpec, Region, RelayChange, RelayRefusal,
    VaNo,
};
use omnibus_core::record::{ActorId, LedgerRecord};

use super::ShardActor;
use crate::error::EngineError;
use crate::ledger::Admission;
use crate::reply::Reply;

/// What the engine asks of a shard's relay.
#[derive(Clone, Debug)]
pub enum RelayOp {
    SetPartner(Partner),
    /// S12: VAs the bank granted to a pool.
    Grant {
        partner: PartnerId,
        bank: BankCode,
        region: Region,
        numbers: Vec<VaNo>,
    },
    Lease(LeaseRequest),
    /// A lease on a VA the bank numbered in real time (D-2.9).
    LeaseRealTime(LeaseRequest, VaNo),
    /// A bank's notice; `late`: found by the reconciliation (D-2.15).
    Deposit {
        notice: DepositNotice,
        late: bool,
    },
    Cancel {
        partner: PartnerId,
        lease: LeaseId,
    },
    Assign {
        deposit: DepositId,
        lease: LeaseId,
    },
    Refund {
        deposit: DepositId,
    },
    Recall {
        bank: BankCode,
        bank_tx_id: String,
    },
    // Reads: answered after everything applied so far is durable.
    Partner(PartnerId),
    LeaseOf {
        partner: PartnerId,
        lease: LeaseId,
    },
    DepositOf(DepositId),
    /// Whether this shard holds VA (bank, number), for the engine's index.
    Knows {
        bank: BankCode,
        va_no: VaNo,
    },
    Collection {
        partner: PartnerId,
        from_ms: u64,
        to_ms: u64,
    },
    /// 3DB for disputes (D-2.17): a partner's deposits, by VA, order or period.
    History {
        partner: PartnerId,
        va_no: Option<VaNo>,
        order_no: Option<String>,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    },
    Pools(PartnerId),
    /// D-2.5: would a deposit of `amount_krw` into the VA be matched?
    Check {
        bank: BankCode,
        va_no: VaNo,
        amount_krw: u64,
    },
}

/// A shard's answer. Moved once per call, never stored: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum RelayAnswer {
    Partner {
        partner: Partner,
        warnings: Vec<String>,
    },
    Lease(Lease),
    /// The pool is empty and the bank may number a VA in real time: ask it.
    RealTime,
    Deposit {
        deposit: Deposit,
        /// The same (bank, `bank_tx_id`) was noticed before (D-2.12).
        duplicate: bool,
        /// The lease it matched, after the match.
        lease: Option<Lease>,
    },
    /// An operation that found nothing to do (a repeat).
    Unchanged,
    Granted,
    Knows(bool),
    Collection(Box<CollectionStatement>),
    History(Vec<Deposit>),
    Pools(Vec<(PoolSpec, PoolStatus)>),
    /// D-2.5: accepted, or why not.
    Checked(Result<(), String>),
}

/// One relay operation for a partner's shard.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RelayCommand {
    pub op: RelayOp,
    pub reply: Reply<RelayAnswer>,
}

/// The answer to a change that writes a deposit: the deposit and its lease as written.
fn written(change: &RelayChange) -> RelayAnswer {
    RelayAnswer::Deposit {
        deposit: change.deposit.clone().expect("a deposit"),
        duplicate: false,
        lease: change.lease.clone(),
    }
}

fn refused(refusal: RelayRefusal) -> EngineError {
    EngineError::refusal(refusal.code(), refusal.to_string())
}

impl ShardActor {
    /// Writes `change` and answers `answer` once durable.
    fn write_relay(&mut self, change: RelayChange, answer: RelayAnswer, reply: Reply<RelayAnswer>) {
        let deposit = change.deposit.as_ref().map(|d| d.id);
        let mut ledger = self.ledger.borrow_mut();
        let record = LedgerRecord::RelaySet {
            change: Box::new(change),
        };
        if let Err(e) = ledger.execute_unwaited(ActorId::Shard, &record) {
            reply.send(Err(e));
            return;
        }
        ledger.after_durable(Box::new(move |durable| {
            reply.send(durable.map(|()| answer))
        }));
        drop(ledger);
        // Modes B and C: the credits the deposit owes start now, after its record in the
        // log's order (the answer does not wait for them: the bank holds the money).
        if let Some(id) = deposit {
            crate::supervisors::start_credits_of(&self.saga, &self.ledger, id);
        }
    }

    /// Answers a read once what it reads is durable.
    fn read_relay(&mut self, answer: RelayAnswer, reply: Reply<RelayAnswer>) {
        self.ledger
            .borrow_mut()
            .after_durable(Box::new(move |durable| {
                reply.send(durable.map(|()| answer))
            }));
    }

    fn decide_relay(&self, op: RelayOp, now: u64) -> Result<Decision, EngineError> {
        let ledger = self.ledger.borrow();
        let book = ledger.books().relay();
        let lease_of = |change: &RelayChange| change.lease.clone().expect("a lease");
        Ok(match op {
            RelayOp::SetPartner(partner) => {
                let (change, warnings) = book.set_partner(partner.clone()).map_err(refused)?;
                Decision::Write(change, RelayAnswer::Partner { partner, warnings })
            }
            RelayOp::Grant {
                partner,
                bank,
                region,
                numbers,
            } => {
                let change = book
                    .grant(&partner, bank, &region, &numbers)
                    .map_err(refused)?;
                Decision::Write(change, RelayAnswer::Granted)
            }
            RelayOp::Lease(request) => match book.lease_for(&request, now).map_err(refused)? {
                LeaseOutcome::Existing(lease) => Decision::Read(RelayAnswer::Lease(*lease)),
                LeaseOutcome::RealTime => Decision::Read(RelayAnswer::RealTime),
                LeaseOutcome::New(change) => {
                    let lease = lease_of(&change);
                    Decision::Write(*change, RelayAnswer::Lease(lease))
                }
            },
            RelayOp::LeaseRealTime(request, va_no) => {
                match book
                    .lease_on_real_time(&request, va_no, now)
                    .map_err(refused)?
                {
                    LeaseOutcome::Existing(lease) => Decision::Read(RelayAnswer::Lease(*lease)),
                    LeaseOutcome::RealTime => Decision::Read(RelayAnswer::RealTime),
                    LeaseOutcome::New(change) => {
                        let lease = lease_of(&change);
                        Decision::Write(*change, RelayAnswer::Lease(lease))
                    }
                }
            }
            RelayOp::Deposit { notice, late } => {
                match book.deposit_for(&notice, now, late).map_err(refused)? {
                    DepositOutcome::Duplicate(deposit) => {
                        let deposit = *deposit;
                        let lease = deposit.lease.and_then(|id| book.lease(id)).cloned();
                        Decision::Read(RelayAnswer::Deposit {
                            deposit,
                            duplicate: true,
                            lease,
                        })
                    }
                    DepositOutcome::New(change) => {
                        let answer = written(&change);
                        Decision::Write(*change, answer)
                    }
                }
            }
            RelayOp::Cancel { partner, lease } => {
                match book.cancel(&partner, lease, now).map_err(refused)? {
                    Some(change) => {
                        let lease = lease_of(&change);
                        Decision::Write(change, RelayAnswer::Lease(lease))
                    }
                    None => Decision::Read(RelayAnswer::Lease(
                        book.lease(lease).cloned().expect("found by cancel"),
                    )),
                }
            }
            RelayOp::Assign { deposit, lease } => {
                let change = book.assign(deposit, lease, now).map_err(refused)?;
                let answer = written(&change);
                Decision::Write(change, answer)
            }
            RelayOp::Refund { deposit } => match book.refund(deposit, now).map_err(refused)? {
                Some(change) => {
                    let answer = written(&change);
                    Decision::Write(change, answer)
                }
                None => Decision::Read(RelayAnswer::Unchanged),
            },
            RelayOp::Recall { bank, bank_tx_id } => {
                match book.recall(bank, &bank_tx_id, now).map_err(refused)? {
                    Some(change) => {
                        let answer = written(&change);
                        Decision::Write(change, answer)
                    }
                    None => {
                        let deposit = book
                            .deposit_by_tx(bank, &bank_tx_id)
                            .cloned()
                            .expect("found by recall");
                        Decision::Read(RelayAnswer::Deposit {
                            deposit,
                            duplicate: true,
                            lease: None,
                        })
                    }
                }
            }
            RelayOp::Partner(id) => {
                let partner = book
                    .partner(&id)
                    .cloned()
                    .ok_or_else(|| refused(RelayRefusal::NotFound("partner")))?;
                Decision::Read(RelayAnswer::Partner {
                    partner,
                    warnings: Vec::new(),
                })
            }
            RelayOp::LeaseOf { partner, lease } => Decision::Read(RelayAnswer::Lease(
                book.lease(lease)
                    .filter(|l| l.partner == partner)
                    .cloned()
                    .ok_or_else(|| refused(RelayRefusal::NotFound("lease")))?,
            )),
            RelayOp::DepositOf(id) => Decision::Read(RelayAnswer::Deposit {
                deposit: book
                    .deposit(id)
                    .cloned()
                    .ok_or_else(|| refused(RelayRefusal::NotFound("deposit")))?,
                duplicate: true,
                lease: None,
            }),
            RelayOp::Knows { bank, va_no } => {
                Decision::Read(RelayAnswer::Knows(book.va(bank, &va_no).is_some()))
            }
            RelayOp::Collection {
                partner,
                from_ms,
                to_ms,
            } => {
                if book.partner(&partner).is_none() {
                    return Err(refused(RelayRefusal::NotFound("partner")));
                }
                Decision::Read(RelayAnswer::Collection(Box::new(CollectionStatement::of(
                    book, &partner, from_ms, to_ms,
                ))))
            }
            RelayOp::History {
                partner,
                va_no,
                order_no,
                from_ms,
                to_ms,
                limit,
            } => {
                if book.partner(&partner).is_none() {
                    return Err(refused(RelayRefusal::NotFound("partner")));
                }
                let order_leases: Option<Vec<LeaseId>> = order_no.map(|order| {
                    book.leases()
                        .filter(|l| l.partner == partner && l.order_no == order)
                        .map(|l| l.id)
                        .collect()
                });
                let found = book
                    .deposits()
                    .filter(|d| d.partner == partner)
                    .filter(|d| d.received_at_ms >= from_ms && d.received_at_ms < to_ms)
                    .filter(|d| va_no.as_ref().is_none_or(|no| &d.va_no == no))
                    .filter(|d| {
                        order_leases.as_ref().is_none_or(|ids| {
                            d.lease
                                .or(d.previous_lease)
                                .is_some_and(|id| ids.contains(&id))
                        })
                    })
                    .take(limit)
                    .cloned()
                    .collect();
                Decision::Read(RelayAnswer::History(found))
            }
            RelayOp::Check {
                bank,
                va_no,
                amount_krw,
            } => Decision::Read(RelayAnswer::Checked(
                book.check(bank, &va_no, amount_krw, now),
            )),
            RelayOp::Pools(id) => {
                let partner = book
                    .partner(&id)
                    .ok_or_else(|| refused(RelayRefusal::NotFound("partner")))?;
                let pools = partner
                    .pools
                    .iter()
                    .map(|p| (p.clone(), book.pool_status(&id, p.bank, &p.region, now)))
                    .collect();
                Decision::Read(RelayAnswer::Pools(pools))
            }
        })
    }
}

/// Moved once per call, never stored.
#[allow(clippy::large_enum_variant)]
enum Decision {
    Write(RelayChange, RelayAnswer),
    Read(RelayAnswer),
}

impl Handler<RelayCommand> for ShardActor {
    type Result = ();
    fn handle(&mut self, msg: RelayCommand, _: &mut Context<Self>) {
        let writes = !matches!(
            msg.op,
            RelayOp::Partner(_)
                | RelayOp::LeaseOf { .. }
                | RelayOp::DepositOf(_)
                | RelayOp::Knows { .. }
                | RelayOp::Collection { .. }
                | RelayOp::History { .. }
                | RelayOp::Pools(_)
                | RelayOp::Check { .. }
        );
        if writes {
            if self.stopping.is_some() {
                msg.reply.send(Err(EngineError::ShuttingDown));
                return;
            }
            if let Err(e) = self.ledger.borrow().admit(1, Admission::New) {
                msg.reply.send(Err(e));
                return;
            }
        }
        let now = self.saga.now_ms();
        match self.decide_relay(msg.op, now) {
            Err(e) => msg.reply.send(Err(e)),
            Ok(Decision::Read(answer)) => self.read_relay(answer, msg.reply),
            Ok(Decision::Write(change, answer)) => self.write_relay(change, answer, msg.reply),
        }
    }
}
