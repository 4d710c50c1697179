// Over 600 lines: a state-machine property test (model, operations, restarts) is one piece; split, its parts would not read alone.
//! Two-phase holds under random interleavings of create, post (in full and in part), void,
//! expiry (a fake clock moved forward, and bounded expiry passes), postings that compete
//! for the same money, replays of records already applied, and restarts: the books rebuilt
//! from the records so far (encoded and decoded as the log holds them), and alternately
//! from a snapshot cut plus the records after it.
//!
//! After every step:
//! - the books' conservation sum is zero (kept and scanned), no customer goes below zero
//!   or below what it holds, and no parent slice below its floor;
//! - each account's `held` is the sum of its open holds (this test takes no saga holds);
//! - every hold resolves exactly once (one resolution record at most, never changed after);
//! - a refused operation, and one answered without a record, change nothing;
//! - the books rebuilt from the log, and from the last snapshot cut plus the records after
//!   it, equal the live ones (holds, expiries and the derived indexes included).
//!
//! Over the whole run, every outcome in `OUTCOMES` (a create refused for want of funds, a
//! partial post, an expiry instead of a post, a restart from a cut, ...) must have been
//! reached, so the cases are known to exercise what they claim; the run prints how often.
//! `PROPTEST_CASES` overrides the number of cases (512 by default).

mod support;

use std::collections::BTreeMap;

use omnibus_core::ledger::{BooksError, HoldDecision, HoldId, HoldState, NewHold, ShardBooks};
use omnibus_core::record::{CustomerOpened, LedgerRecord};
use omnibus_core::{AccountId, AccountNo, BankCode, CustomerId, ParentAccount};
use proptest::prelude::*;
use rust_decimal::Decimal;
use support::{krw, plan, run_model, Durable, Model};

const CUSTOMERS: usize = 3;
/// What each customer is funded with at the start, in won.
const FUNDED: [i64; CUSTOMERS] = [1_000, 400, 0];
const FIN: AccountId = AccountId::Parent {
    parent: ParentAccount::FinParent,
};
const COLLECTION: AccountId = AccountId::Parent {
    parent: ParentAccount::Collection,
};

/// Which hold a post or void names.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// One of the holds on the books (any, if there is none).
    OnTheBooks(usize),
    /// Any id, on the books or not.
    Any { owner: usize, number: u64 },
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        3 => any::<usize>().prop_map(Target::OnTheBooks),
        1 => (0..CUSTOMERS, 0u64..4).prop_map(|(owner, number)| Target::Any { owner, number }),
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Create {
        owner: usize,
        number: u64,
        debit: usize,
        credit: usize,
        won: i64,
        ttl_ms: u64,
    },
    /// A create of a hold on the books, repeated with the same body.
    Repeat {
        pick: usize,
    },
    /// `won`: `None` posts in full.
    Post {
        target: Target,
        won: Option<i64>,
    },
    Void {
        target: Target,
    },
    /// The engine's clock moves forward.
    Advance {
        ms: u64,
    },
    /// An expiry pass of at most `max` holds.
    ExpiryPass {
        max: usize,
    },
    /// A plain posting out of (or into) a customer, competing with its holds.
    Spend {
        customer: usize,
        won: i64,
    },
    Fund {
        customer: usize,
        won: i64,
    },
    /// One of the records already applied, applied again.
    Replay {
        pick: usize,
    },
    /// A snapshot cut is taken here.
    Cut,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    let owner = 0..CUSTOMERS;
    let number = 0u64..4;
    prop_oneof![
        6 => (owner.clone(), number.clone(), 0usize..5, 0usize..5, 1i64..=1_200, 0u64..=400)
            .prop_map(|(owner, number, debit, credit, won, ttl_ms)| Op::Create {
                owner, number, debit, credit, won, ttl_ms
            }),
        1 => any::<usize>().prop_map(|pick| Op::Repeat { pick }),
        4 => (target(), prop::option::of(1i64..=1_200))
            .prop_map(|(target, won)| Op::Post { target, won }),
        2 => target().prop_map(|target| Op::Void { target }),
        3 => (0u64..=250).prop_map(|ms| Op::Advance { ms }),
        2 => (1usize..=3).prop_map(|max| Op::ExpiryPass { max }),
        2 => (0..CUSTOMERS, 1i64..=800).prop_map(|(customer, won)| Op::Spend { customer, won }),
        1 => (0..CUSTOMERS, 1i64..=800).prop_map(|(customer, won)| Op::Fund { customer, won }),
        1 => any::<usize>().prop_map(|pick| Op::Replay { pick }),
        1 => Just(Op::Cut),
        1 => Just(Op::Restart),
    ]
}

/// The books, their log as encoded payloads, snapshot cuts, the clock, and what the test
/// saw of each hold's resolution.
struct World {
    books: ShardBooks,
    customers: Vec<CustomerId>,
    durable: Durable,
    now_ms: u64,
    restarts: u32,
    /// Books rebuilt from the log, and from the last cut plus the records after it, one
    /// decoded record at a time as the log grows (a restart rebuilds them from scratch).
    from_log: ShardBooks,
    from_cut: ShardBooks,
    /// The resolution records in the log, by hold.
    resolutions: BTreeMap<HoldId, u32>,
    /// Each resolved hold's state when first seen resolved.
    resolved: BTreeMap<HoldId, HoldState>,
    /// How often each outcome happened, to show the cases reach every one.
    tally: BTreeMap<&'static str, u64>,
}

impl World {
    fn new() -> World {
        let plan = plan();
        let mut w = World {
            books: ShardBooks::new(0, plan.clone()),
            customers: (1..=CUSTOMERS as u64)
                .map(|n| CustomerId::new(n).unwrap())
                .collect(),
            durable: Durable::default(),
            now_ms: 1_000,
            restarts: 0,
            from_log: ShardBooks::new(0, plan.clone()),
            from_cut: ShardBooks::new(0, plan.clone()),
            resolutions: BTreeMap::new(),
            resolved: BTreeMap::new(),
            tally: BTreeMap::new(),
        };
        w.write(plan.genesis(0)).unwrap();
        for (i, c) in w.customers.clone().into_iter().enumerate() {
            w.write(LedgerRecord::CustomerOpened(CustomerOpened {
                customer: c,
                linked_bank: BankCode::new("004").unwrap(),
                linked_account: AccountNo::new(&format!("110-{i:09}")).unwrap(),
                tradable: true,
                subscription_valid: true,
                signing_key: None,
            }))
            .unwrap();
            if FUNDED[i] > 0 {
                w.write(LedgerRecord::Posted {
                    debit: FIN,
                    credit: AccountId::customer(c),
                    amount: krw(FUNDED[i]),
                })
                .unwrap();
            }
        }
        w.cut();
        w
    }

    /// The accounts a hold may name: the customers, then two parent slices.
    fn account(&self, index: usize) -> AccountId {
        match index {
            i if i < CUSTOMERS => AccountId::customer(self.customers[i]),
            i if i == CUSTOMERS => FIN,
            _ => COLLECTION,
        }
    }

    fn id(&self, owner: usize, number: u64) -> HoldId {
        HoldId::new(self.customers[owner], number)
    }

    fn target(&self, target: Target) -> HoldId {
        let ids: Vec<HoldId> = self.books.holds().map(|h| h.id).collect();
        match target {
            Target::OnTheBooks(pick) if !ids.is_empty() => {
                let mut ids = ids;
                ids.sort_unstable();
                ids[pick % ids.len()]
            }
            Target::OnTheBooks(pick) => self.id(pick % CUSTOMERS, 0),
            Target::Any { owner, number } => self.id(owner, number),
        }
    }

    /// Applies `record` at the next LSN and logs it; a refusal must change nothing.
    fn write(&mut self, record: LedgerRecord) -> Result<(), BooksError> {
        let before = self.books.snapshot();
        let lsn = self.books.last_lsn() + 1;
        match self.books.apply(lsn, &record) {
            Ok(_) => {
                let decoded = self.durable.append(lsn, &record);
                self.from_log.apply(lsn, &decoded).unwrap();
                self.from_cut.apply(lsn, &decoded).unwrap();
                if let LedgerRecord::HoldPosted { id, .. }
                | LedgerRecord::HoldVoided { id, .. }
                | LedgerRecord::HoldExpired { id, .. } = decoded
                {
                    *self.resolutions.entry(id).or_default() += 1;
                }
                Ok(())
            }
            Err(e) => {
                assert_eq!(self.books.snapshot(), before, "refused {record:?}: {e}");
                Err(e)
            }
        }
    }

    /// Carries out a decision as the engine does; an answer without a record changes
    /// nothing.
    fn carry_out(&mut self, create: bool, decision: Result<HoldDecision, BooksError>) {
        let before = self.books.snapshot();
        let what = match decision {
            Ok(HoldDecision::Write(record)) => {
                let held = match &record {
                    LedgerRecord::HoldPosted { id, .. } => self.books.hold(*id).map(|h| h.amount),
                    _ => None,
                };
                match (&record, self.write(record.clone())) {
                    (LedgerRecord::HoldCreated { .. }, Ok(())) => "created",
                    (
                        LedgerRecord::HoldCreated { .. },
                        Err(BooksError::InsufficientFunds { .. } | BooksError::BelowFloor { .. }),
                    ) => "create refused for want of funds",
                    (LedgerRecord::HoldCreated { .. }, Err(_)) => "create refused otherwise",
                    (LedgerRecord::HoldPosted { amount, .. }, Ok(())) if Some(*amount) == held => {
                        "posted in full"
                    }
                    (LedgerRecord::HoldPosted { .. }, Ok(())) => "posted in part",
                    (LedgerRecord::HoldPosted { .. }, Err(BooksError::PostExceedsHold { .. })) => {
                        "post above the hold refused"
                    }
                    (LedgerRecord::HoldVoided { .. }, Ok(())) => "voided",
                    (record, result) => panic!("{record:?}: {result:?}"),
                }
            }
            Ok(HoldDecision::Expire(record)) => {
                self.write(record).expect("a due hold expires");
                "expired instead of a post or void"
            }
            Ok(HoldDecision::Answer(hold)) => {
                assert_eq!(self.books.hold(hold.id), Some(&hold));
                if create {
                    "create repeated"
                } else {
                    "resolved hold answered"
                }
            }
            Err(BooksError::HoldConflict(_)) => "create conflict",
            Err(BooksError::UnknownHold(_)) => "unknown hold",
            Err(e) => panic!("a decision refused with {e}"),
        };
        if matches!(
            what,
            "create refused for want of funds"
                | "create refused otherwise"
                | "post above the hold refused"
                | "create repeated"
                | "resolved hold answered"
                | "create conflict"
                | "unknown hold"
        ) {
            assert_eq!(self.books.snapshot(), before, "{what} changed the books");
        }
        self.tally(what);
    }

    fn tally(&mut self, what: &'static str) {
        *self.tally.entry(what).or_default() += 1;
    }

    fn available(&self, account: AccountId) -> Decimal {
        match account {
            AccountId::Customer { customer } => {
                let c = self.books.customer(customer).unwrap();
                c.balance - c.held
            }
            AccountId::Parent { parent } => {
                let s = self.books.slice(parent).unwrap();
                s.balance - s.held - s.floor
            }
            other => panic!("{other} is not held"),
        }
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Create {
                owner,
                number,
                debit,
                credit,
                won,
                ttl_ms,
            } => {
                let new = NewHold {
                    id: self.id(owner, number),
                    debit: self.account(debit),
                    credit: self.account(credit),
                    amount: krw(won),
                    expires_at_ms: self.now_ms + ttl_ms,
                };
                let known = self.books.hold(new.id).copied();
                let decision = self.books.decide_hold_create(&new, self.now_ms);
                match (known, &decision) {
                    (Some(hold), Ok(HoldDecision::Answer(answer))) => {
                        assert_eq!(hold.body(), new);
                        assert_eq!(*answer, hold);
                    }
                    (Some(hold), Err(BooksError::HoldConflict(_))) => {
                        assert_ne!(hold.body(), new)
                    }
                    (None, Ok(HoldDecision::Write(record))) => {
                        // Refused exactly when the debit has less available than the
                        // amount (the other checks being met).
                        let short = self.available(new.debit) < Decimal::from(won);
                        let other = debit == credit || ttl_ms == 0;
                        let mut probe = self.books.clone();
                        let result = probe.apply(self.books.last_lsn() + 1, record);
                        if !other {
                            assert_eq!(
                                short,
                                matches!(
                                    result,
                                    Err(BooksError::InsufficientFunds { .. }
                                        | BooksError::BelowFloor { .. })
                                ),
                                "{new:?}: {result:?}"
                            );
                            assert_eq!(!short, result.is_ok(), "{new:?}: {result:?}");
                        } else {
                            assert!(result.is_err());
                        }
                    }
                    other => panic!("create of {new:?} decided {other:?}"),
                }
                self.carry_out(true, decision);
            }
            Op::Repeat { pick } => {
                let holds: Vec<NewHold> = self.books.holds().map(|h| h.body()).collect();
                if !holds.is_empty() {
                    let new = holds[pick % holds.len()];
                    let decision = self.books.decide_hold_create(&new, self.now_ms);
                    assert!(matches!(decision, Ok(HoldDecision::Answer(_))));
                    self.carry_out(true, decision);
                }
            }
            Op::Post { target, won } => {
                let id = self.target(target);
                let decision = self.books.decide_hold_post(id, won.map(krw), self.now_ms);
                if let (Some(hold), Ok(HoldDecision::Write(record))) =
                    (self.books.hold(id).copied(), &decision)
                {
                    let LedgerRecord::HoldPosted { amount, .. } = *record else {
                        panic!("a post writes a post, not {record:?}");
                    };
                    assert_eq!(amount, won.map_or(hold.amount, krw));
                    let result = self.books.clone().apply(self.books.last_lsn() + 1, record);
                    assert_eq!(
                        amount > hold.amount,
                        matches!(result, Err(BooksError::PostExceedsHold { .. })),
                        "{result:?}"
                    );
                    assert_eq!(amount <= hold.amount, result.is_ok(), "{result:?}");
                }
                self.check_decision(id, &decision);
                self.carry_out(false, decision);
            }
            Op::Void { target } => {
                let id = self.target(target);
                let decision = self.books.decide_hold_void(id, self.now_ms);
                self.check_decision(id, &decision);
                self.carry_out(false, decision);
            }
            Op::Advance { ms } => self.now_ms += ms,
            Op::ExpiryPass { max } => {
                let due = self.books.holds_due(self.now_ms, max);
                assert!(due.len() <= max);
                for id in due {
                    let hold = self.books.hold(id).unwrap();
                    assert!(hold.state.is_open() && hold.expires_at_ms <= self.now_ms);
                    self.write(LedgerRecord::HoldExpired {
                        id,
                        at_ms: self.now_ms,
                    })
                    .expect("a due hold expires");
                    self.tally("expired by a pass");
                }
            }
            Op::Spend { customer, won } => {
                let account = AccountId::customer(self.customers[customer]);
                let short = self.available(account) < Decimal::from(won);
                let result = self.write(LedgerRecord::Posted {
                    debit: account,
                    credit: FIN,
                    amount: krw(won),
                });
                assert_eq!(short, result.is_err(), "{result:?}");
                if result.is_err() {
                    self.tally("posting refused for want of available funds");
                }
            }
            Op::Fund { customer, won } => {
                self.write(LedgerRecord::Posted {
                    debit: FIN,
                    credit: AccountId::customer(self.customers[customer]),
                    amount: krw(won),
                })
                .unwrap();
            }
            Op::Replay { pick } => {
                let holds: Vec<LedgerRecord> = self
                    .durable
                    .records()
                    .filter(|r| {
                        matches!(
                            r,
                            LedgerRecord::HoldCreated { .. }
                                | LedgerRecord::HoldPosted { .. }
                                | LedgerRecord::HoldVoided { .. }
                                | LedgerRecord::HoldExpired { .. }
                        )
                    })
                    .collect();
                if !holds.is_empty() {
                    let record = holds[pick % holds.len()].clone();
                    assert!(
                        self.write(record.clone()).is_err(),
                        "{record:?} applied twice"
                    );
                    self.tally("record applied again refused");
                }
            }
            Op::Cut => self.cut(),
            Op::Restart => {
                self.restarts += 1;
                let rebuilt = if self.restarts % 2 == 1 {
                    self.rebuild_from_log()
                } else {
                    self.rebuild_from_cut()
                };
                same_books(&rebuilt, &self.books, "restarted");
                self.books = rebuilt;
                self.tally(if self.restarts % 2 == 1 {
                    "restarted from the log"
                } else {
                    "restarted from a cut"
                });
            }
        }
    }

    /// A post's or void's decision agrees with the hold's state and the clock.
    fn check_decision(&self, id: HoldId, decision: &Result<HoldDecision, BooksError>) {
        match (self.books.hold(id), decision) {
            (None, Err(BooksError::UnknownHold(_))) => {}
            (Some(hold), Ok(HoldDecision::Answer(answer))) => {
                assert!(!hold.state.is_open());
                assert_eq!(answer, hold);
            }
            (Some(hold), Ok(HoldDecision::Expire(_))) => {
                assert!(hold.state.is_open() && self.now_ms >= hold.expires_at_ms)
            }
            (Some(hold), Ok(HoldDecision::Write(_))) => {
                assert!(hold.state.is_open() && self.now_ms < hold.expires_at_ms)
            }
            (hold, other) => panic!("{hold:?} decided {other:?}"),
        }
    }

    fn cut(&mut self) {
        self.durable.cut(&self.books);
        self.from_cut = self.rebuild_from_cut();
    }

    fn rebuild_from_log(&self) -> ShardBooks {
        self.durable.rebuild_from_log()
    }

    fn rebuild_from_cut(&self) -> ShardBooks {
        self.durable.rebuild_from_cut()
    }

    /// Every property the module's documentation lists.
    fn check(&mut self) {
        let books = &self.books;
        assert!(books.sum().unwrap().is_zero(), "kept sum");
        assert!(books.sum_by_scan().unwrap().is_zero(), "scanned sum");
        let mut accounts: Vec<AccountId> = self
            .customers
            .iter()
            .map(|c| AccountId::customer(*c))
            .collect();
        accounts.extend([FIN, COLLECTION]);
        for account in &accounts {
            let open: Decimal = books
                .holds_of(*account)
                .filter(|h| h.state.is_open())
                .map(|h| h.amount.value())
                .sum();
            let held = match *account {
                AccountId::Customer { customer } => {
                    let c = books.customer(customer).unwrap();
                    assert!(c.balance >= Decimal::ZERO, "{account} below zero");
                    c.held
                }
                AccountId::Parent { parent } => books.slice(parent).unwrap().held,
                _ => unreachable!(),
            };
            assert_eq!(held, open, "{account}: held against its open holds");
            assert!(
                self.available(*account) >= Decimal::ZERO,
                "{account} below its floor"
            );
        }
        let open = books.holds().filter(|h| h.state.is_open()).count();
        assert_eq!(books.open_hold_count(), open);
        // Exactly once: one resolution record at most per hold, and a resolved hold
        // never changes again.
        for hold in books.holds() {
            let count = self.resolutions.get(&hold.id).copied().unwrap_or(0);
            assert!(count <= 1, "{} resolved {count} times", hold.id);
            assert_eq!(count == 1, !hold.state.is_open(), "{}", hold.id);
            if !hold.state.is_open() {
                let seen = self.resolved.entry(hold.id).or_insert(hold.state);
                assert_eq!(*seen, hold.state, "{} changed after it resolved", hold.id);
            }
        }
        assert_eq!(
            self.resolved.len(),
            books.holds().filter(|h| !h.state.is_open()).count()
        );
        // Rebuilt books equal the live ones.
        same_books(&self.from_log, books, "rebuilt from the log");
        same_books(&self.from_cut, books, "rebuilt from the last cut");
    }
}

/// The same books: the snapshot (balances, holds, requests), the expiries, and each
/// account's holds.
fn same_books(rebuilt: &ShardBooks, live: &ShardBooks, how: &str) {
    assert_eq!(rebuilt.snapshot(), live.snapshot(), "{how}");
    assert_eq!(
        rebuilt.holds_due(u64::MAX, usize::MAX),
        live.holds_due(u64::MAX, usize::MAX),
        "expiries {how}"
    );
    let mut accounts: Vec<AccountId> = live
        .customers()
        .map(|c| AccountId::customer(c.id))
        .collect();
    accounts.extend([FIN, COLLECTION]);
    for account in accounts {
        assert!(
            rebuilt.holds_of(account).eq(live.holds_of(account)),
            "holds of {account} {how}"
        );
    }
}

/// Every outcome the cases must reach, over a whole run.
const OUTCOMES: [&str; 17] = [
    "created",
    "create refused for want of funds",
    "create refused otherwise",
    "create repeated",
    "create conflict",
    "posted in full",
    "posted in part",
    "post above the hold refused",
    "voided",
    "expired by a pass",
    "expired instead of a post or void",
    "resolved hold answered",
    "unknown hold",
    "posting refused for want of available funds",
    "record applied again refused",
    "restarted from the log",
    "restarted from a cut",
];

#[test]
fn holds_stay_consistent_and_resolve_once_under_any_interleaving() {
    run_model::<World>(op(), &OUTCOMES);
}

impl Model for World {
    type Op = Op;

    fn new() -> Self {
        World::new()
    }

    fn step(&mut self, op: &Op) {
        World::step(self, op)
    }

    fn check(&mut self) {
        World::check(self)
    }

    fn into_tally(self) -> BTreeMap<&'static str, u64> {
        self.tally
    }
}
