//! The unit tests of two-phase holds: each operation, and each refusal.

use rust_decimal::Decimal;

use super::*;
use crate::ledger::fixtures::{books_with_genesis, customer_in, krw, opened, FIN};
use crate::ledger::{Applied, Lsn};

/// Books of one shard with two customers, the first funded with 1,000.
struct Fixture {
    books: ShardBooks,
    lsn: Lsn,
    payer: CustomerId,
    payee: CustomerId,
}

impl Fixture {
    fn new() -> Fixture {
        let (books, lsn) = books_with_genesis(0, 1);
        let mut f = Fixture {
            books,
            lsn,
            payer: customer_in(0, 1, 0),
            payee: customer_in(0, 1, 1),
        };
        f.apply(opened(f.payer)).unwrap();
        f.apply(opened(f.payee)).unwrap();
        f.apply(LedgerRecord::Posted {
            debit: FIN,
            credit: AccountId::customer(f.payer),
            amount: krw(1_000),
        })
        .unwrap();
        f
    }

    fn apply(&mut self, record: LedgerRecord) -> Result<Applied, BooksError> {
        let applied = self.books.apply(self.lsn + 1, &record)?;
        self.lsn += 1;
        Ok(applied)
    }

    fn new_hold(&self, number: u64, won: i64) -> NewHold {
        NewHold {
            id: HoldId::new(self.payer, number),
            debit: AccountId::customer(self.payer),
            credit: AccountId::customer(self.payee),
            amount: krw(won),
            expires_at_ms: 1_000,
        }
    }

    /// Decides and applies as the engine does, answering as it would.
    fn run(&mut self, decision: HoldDecision, id: HoldId) -> Result<HoldAnswer, BooksError> {
        match decision {
            HoldDecision::Write(record) => {
                self.apply(record)?;
                Ok(HoldAnswer::Done(*self.books.hold(id).unwrap()))
            }
            HoldDecision::Expire(record) => {
                self.apply(record)?;
                Ok(HoldAnswer::Unchanged(*self.books.hold(id).unwrap()))
            }
            HoldDecision::Answer(hold) => Ok(HoldAnswer::Unchanged(hold)),
        }
    }

    fn create(&mut self, new: NewHold, now_ms: u64) -> Result<HoldAnswer, BooksError> {
        let decision = self.books.decide_hold_create(&new, now_ms)?;
        self.run(decision, new.id)
    }

    fn post(
        &mut self,
        id: HoldId,
        won: Option<i64>,
        now_ms: u64,
    ) -> Result<HoldAnswer, BooksError> {
        let decision = self.books.decide_hold_post(id, won.map(krw), now_ms)?;
        self.run(decision, id)
    }

    fn void(&mut self, id: HoldId, now_ms: u64) -> Result<HoldAnswer, BooksError> {
        let decision = self.books.decide_hold_void(id, now_ms)?;
        self.run(decision, id)
    }

    /// (balance, held) of a customer, in won.
    fn of(&self, c: CustomerId) -> (Decimal, Decimal) {
        let e = self.books.customer(c).unwrap();
        (e.balance, e.held)
    }
}

#[test]
fn a_hold_sets_its_amount_aside_and_moves_nothing() {
    let mut f = Fixture::new();
    let answer = f.create(f.new_hold(1, 700), 10).unwrap();
    assert!(answer.is_done());
    assert_eq!(answer.hold().state, HoldState::Open);
    assert_eq!(answer.hold().created_at_ms, 10);
    assert_eq!(f.of(f.payer), (Decimal::from(1_000), Decimal::from(700)));
    assert_eq!(f.of(f.payee), (Decimal::ZERO, Decimal::ZERO));
    assert_eq!(f.books.open_hold_count(), 1);
    assert!(f.books.sum().unwrap().is_zero());
}

#[test]
fn a_hold_beyond_the_available_balance_is_refused_and_changes_nothing() {
    let mut f = Fixture::new();
    f.create(f.new_hold(1, 700), 10).unwrap();
    let before = f.books.snapshot();
    assert!(matches!(
        f.create(f.new_hold(2, 301), 10),
        Err(BooksError::InsufficientFunds { .. })
    ));
    assert_eq!(f.books.snapshot(), before);
    // Exactly what is available can still be held.
    f.create(f.new_hold(2, 300), 10).unwrap();
    assert_eq!(f.of(f.payer).1, Decimal::from(1_000));
}

#[test]
fn a_hold_limits_what_a_posting_may_take() {
    let mut f = Fixture::new();
    f.create(f.new_hold(1, 700), 10).unwrap();
    let overdraw = LedgerRecord::Posted {
        debit: AccountId::customer(f.payer),
        credit: FIN,
        amount: krw(301),
    };
    assert!(matches!(
        f.apply(overdraw),
        Err(BooksError::InsufficientFunds { .. })
    ));
}

#[test]
fn a_full_post_moves_the_whole_amount() {
    let mut f = Fixture::new();
    let id = f.new_hold(1, 700).id;
    f.create(f.new_hold(1, 700), 10).unwrap();
    let answer = f.post(id, None, 20).unwrap();
    assert_eq!(
        answer,
        HoldAnswer::Done(Hold {
            state: HoldState::Posted {
                amount: krw(700),
                at_ms: 20
            },
            ..*answer.hold()
        })
    );
    assert_eq!(f.of(f.payer), (Decimal::from(300), Decimal::ZERO));
    assert_eq!(f.of(f.payee), (Decimal::from(700), Decimal::ZERO));
    assert_eq!(f.books.open_hold_count(), 0);
    assert!(f.books.sum().unwrap().is_zero());
}

#[test]
fn a_partial_post_moves_the_amount_and_releases_the_rest() {
    let mut f = Fixture::new();
    let id = f.new_hold(1, 700).id;
    f.create(f.new_hold(1, 700), 10).unwrap();
    f.post(id, Some(250), 20).unwrap();
    assert_eq!(f.of(f.payer), (Decimal::from(750), Decimal::ZERO));
    assert_eq!(f.of(f.payee), (Decimal::from(250), Decimal::ZERO));
    assert!(f.books.sum().unwrap().is_zero());
}

#[test]
fn a_post_above_the_held_amount_is_refused_and_changes_nothing() {
    let mut f = Fixture::new();
    let id = f.new_hold(1, 700).id;
    f.create(f.new_hold(1, 700), 10).unwrap();
    let before = f.books.snapshot();
    assert!(matches!(
        f.post(id, Some(701), 20),
        Err(BooksError::PostExceedsHold { .. })
    ));
    assert_eq!(f.books.snapshot(), before);
}

#[test]
fn a_void_releases_the_hold_and_moves_nothing() {
    let mut f = Fixture::new();
    let id = f.new_hold(1, 700).id;
    f.create(f.new_hold(1, 700), 10).unwrap();
    let answer = f.void(id, 20).unwrap();
    assert!(answer.is_done());
    assert_eq!(answer.hold().state, HoldState::Voided { at_ms: 20 });
    assert_eq!(f.of(f.payer), (Decimal::from(1_000), Decimal::ZERO));
    assert_eq!(f.of(f.payee), (Decimal::ZERO, Decimal::ZERO));
}

#[test]
fn a_hold_expires_at_its_expiry_and_not_before() {
    let mut f = Fixture::new();
    let id = f.new_hold(1, 700).id;
    f.create(f.new_hold(1, 700), 10).unwrap();
    assert!(f.books.holds_due(999, 10).is_empty());
    let before = f.books.snapshot();
    assert!(matches!(
        f.apply(LedgerRecord::HoldExpired { id, at_ms: 999 }),
        Err(BooksError::HoldNotDue { .. })
    ));
    assert_eq!(f.books.snapshot(), before);
    assert_eq!(f.books.holds_due(1_000, 10), vec![id]);
    f.apply(LedgerRecord::HoldExpired { id, at_ms: 1_000 })
        .unwrap();
    assert_eq!(
        f.books.hold(id).unwrap().state,
        HoldState::Expired { at_ms: 1_000 }
    );
    assert_eq!(f.of(f.payer), (Decimal::from(1_000), Decimal::ZERO));
    assert!(f.books.holds_due(5_000, 10).is_empty());
}

#[test]
fn an_expiry_pass_takes_the_soonest_due_first_and_at_most_its_bound() {
    let mut f = Fixture::new();
    for (number, expires) in [(1, 300), (2, 100), (3, 200), (4, 5_000)] {
        let new = NewHold {
            expires_at_ms: expires,
            ..f.new_hold(number, 10)
        };
        f.create(new, 10).unwrap();
    }
    let id = |n| HoldId::new(f.payer, n);
    assert_eq!(f.books.holds_due(1_000, 2), vec![id(2), id(3)]);
    assert_eq!(f.books.holds_due(1_000, 10), vec![id(2), id(3), id(1)]);
}

#[test]
fn a_post_after_the_expiry_expires_the_hold_instead() {
    let mut f = Fixture::new();
    let id = f.new_hold(1, 700).id;
    f.create(f.new_hold(1, 700), 10).unwrap();
    let answer = f.post(id, None, 1_000).unwrap();
    assert_eq!(
        answer,
        HoldAnswer::Unchanged(Hold {
            state: HoldState::Expired { at_ms: 1_000 },
            ..*answer.hold()
        })
    );
    assert_eq!(f.of(f.payer), (Decimal::from(1_000), Decimal::ZERO));
    assert_eq!(f.of(f.payee), (Decimal::ZERO, Decimal::ZERO));
    // A post record at that time is refused by the books themselves.
    let mut g = Fixture::new();
    g.create(g.new_hold(1, 700), 10).unwrap();
    assert!(matches!(
        g.apply(LedgerRecord::HoldPosted {
            id,
            amount: krw(700),
            at_ms: 1_000
        }),
        Err(BooksError::HoldDue { .. })
    ));
}

#[test]
fn the_same_create_again_answers_the_hold_and_writes_nothing() {
    let mut f = Fixture::new();
    let first = f.create(f.new_hold(1, 700), 10).unwrap();
    let lsn = f.books.last_lsn();
    let again = f.create(f.new_hold(1, 700), 50).unwrap();
    assert_eq!(again, HoldAnswer::Unchanged(*first.hold()));
    assert_eq!(f.books.last_lsn(), lsn);
    assert_eq!(f.of(f.payer).1, Decimal::from(700));
}

#[test]
fn a_create_of_a_known_id_with_another_body_is_a_conflict() {
    let mut f = Fixture::new();
    f.create(f.new_hold(1, 700), 10).unwrap();
    let before = f.books.snapshot();
    for other in [
        f.new_hold(1, 701),
        NewHold {
            expires_at_ms: 2_000,
            ..f.new_hold(1, 700)
        },
        NewHold {
            credit: FIN,
            ..f.new_hold(1, 700)
        },
    ] {
        assert_eq!(f.create(other, 10), Err(BooksError::HoldConflict(other.id)));
    }
    assert_eq!(f.books.snapshot(), before);
}

#[test]
fn a_resolved_hold_answers_how_it_was_resolved_and_changes_nothing() {
    let mut f = Fixture::new();
    let id = f.new_hold(1, 700).id;
    f.create(f.new_hold(1, 700), 10).unwrap();
    let posted = f.post(id, Some(100), 20).unwrap();
    let before = f.books.snapshot();
    for answer in [
        f.post(id, Some(100), 30).unwrap(),
        f.post(id, None, 5_000).unwrap(),
        f.void(id, 30).unwrap(),
        f.create(f.new_hold(1, 700), 30).unwrap(),
    ] {
        assert_eq!(answer, HoldAnswer::Unchanged(*posted.hold()));
    }
    assert_eq!(f.books.snapshot(), before);
}

#[test]
fn a_hold_resolves_once_whatever_records_follow() {
    let mut f = Fixture::new();
    let id = f.new_hold(1, 700).id;
    f.create(f.new_hold(1, 700), 10).unwrap();
    f.void(id, 20).unwrap();
    let before = f.books.snapshot();
    for record in [
        LedgerRecord::HoldVoided { id, at_ms: 30 },
        LedgerRecord::HoldPosted {
            id,
            amount: krw(1),
            at_ms: 30,
        },
        LedgerRecord::HoldExpired { id, at_ms: 5_000 },
        LedgerRecord::HoldCreated {
            hold: f.new_hold(1, 700),
            at_ms: 30,
        },
    ] {
        assert!(matches!(
            f.apply(record),
            Err(BooksError::HoldResolved { .. } | BooksError::HoldExists(_))
        ));
    }
    assert_eq!(f.books.snapshot(), before);
}

#[test]
fn an_unknown_hold_cannot_be_posted_or_voided() {
    let mut f = Fixture::new();
    let id = HoldId::new(f.payer, 9);
    assert_eq!(f.post(id, None, 1), Err(BooksError::UnknownHold(id)));
    assert_eq!(f.void(id, 1), Err(BooksError::UnknownHold(id)));
}

#[test]
fn only_customer_accounts_and_parent_slices_can_be_held() {
    let mut f = Fixture::new();
    let linked = NewHold {
        debit: AccountId::linked(f.payer),
        ..f.new_hold(1, 10)
    };
    assert_eq!(
        f.create(linked, 10),
        Err(BooksError::NotHoldable(linked.debit))
    );
    let same = NewHold {
        credit: AccountId::customer(f.payer),
        ..f.new_hold(1, 10)
    };
    assert!(matches!(
        f.create(same, 10),
        Err(BooksError::SameAccount(_))
    ));
    // A parent slice holds above its floor.
    let slice = NewHold {
        debit: FIN,
        credit: AccountId::customer(f.payee),
        ..f.new_hold(2, 10)
    };
    f.create(slice, 10).unwrap();
    let s = f.books.slice(crate::ids::ParentAccount::FinParent).unwrap();
    assert_eq!(s.held, Decimal::from(10));
}

#[test]
fn a_hold_must_expire_after_it_is_created() {
    let mut f = Fixture::new();
    let new = f.new_hold(1, 10);
    assert!(matches!(
        f.create(new, new.expires_at_ms),
        Err(BooksError::HoldExpiryNotAfterCreation { .. })
    ));
}

#[test]
fn a_hold_of_a_customer_of_another_shard_is_refused() {
    let (mut books, lsn) = books_with_genesis(0, 2);
    let elsewhere = customer_in(1, 2, 0);
    let new = NewHold {
        id: HoldId::new(elsewhere, 1),
        debit: AccountId::customer(elsewhere),
        credit: FIN,
        amount: krw(1),
        expires_at_ms: 100,
    };
    assert!(matches!(
        books.apply(
            lsn + 1,
            &LedgerRecord::HoldCreated {
                hold: new,
                at_ms: 1
            }
        ),
        Err(BooksError::WrongShard { .. })
    ));
}

#[test]
fn holds_and_saga_holds_add_to_the_same_held_figure() {
    use crate::ledger::{Accepted, EntryId, RequestKind};
    use crate::request::RequestDate;
    use crate::request_log::Step;
    let mut f = Fixture::new();
    f.create(f.new_hold(1, 600), 10).unwrap();
    let request_no = crate::ids::RequestNo::new("R-1").unwrap();
    f.apply(LedgerRecord::RequestAccepted {
        accepted: Accepted {
            customer: f.payer,
            request_no,
            request_date: RequestDate::from_ymd(2026, 11, 21).unwrap(),
            kind: RequestKind::Remit,
            amount: krw(500),
            payee: None,
            path: None,
            deficit: None,
            at_ms: 1,
        },
        reserves: None,
        named: crate::saga::Named::default(),
    })
    .unwrap();
    let payer = f.payer;
    let deduction = |won| LedgerRecord::EntryRequested {
        entry: EntryId::new(0, 1),
        customer: payer,
        request_no,
        step: Step::RemitDeduction,
        amount: krw(won),
        debit: AccountId::customer(payer),
        credit: FIN,
        at_ms: 2,
    };
    // 400 are left available: the saga's deduction of 500 is refused, 400 is taken.
    assert!(matches!(
        f.apply(deduction(500)),
        Err(BooksError::InsufficientFunds { .. })
    ));
    f.apply(deduction(400)).unwrap();
    assert_eq!(f.of(f.payer).1, Decimal::from(1_000));
    // And a hold finds nothing left.
    assert!(matches!(
        f.create(f.new_hold(2, 1), 10),
        Err(BooksError::InsufficientFunds { .. })
    ));
}

#[test]
fn holds_are_listed_by_the_account_they_debit() {
    let mut f = Fixture::new();
    f.create(f.new_hold(2, 10), 10).unwrap();
    f.create(f.new_hold(1, 10), 10).unwrap();
    let slice = NewHold {
        debit: FIN,
        ..f.new_hold(3, 10)
    };
    f.create(slice, 10).unwrap();
    let ids: Vec<u64> = f
        .books
        .holds_of(AccountId::customer(f.payer))
        .map(|h| h.id.number)
        .collect();
    assert_eq!(ids, vec![1, 2]);
    assert_eq!(f.books.holds_of(FIN).count(), 1);
    assert_eq!(f.books.holds_of(AccountId::customer(f.payee)).count(), 0);
}

#[test]
fn a_snapshot_keeps_the_holds_and_their_expiries() {
    let mut f = Fixture::new();
    let id = f.new_hold(1, 700).id;
    f.create(f.new_hold(1, 700), 10).unwrap();
    f.create(f.new_hold(2, 100), 10).unwrap();
    f.void(HoldId::new(f.payer, 2), 20).unwrap();
    let snapshot = f.books.snapshot();
    let rebuilt = ShardBooks::from_snapshot(f.books.plan().clone(), snapshot.clone()).unwrap();
    assert_eq!(rebuilt.snapshot(), snapshot);
    assert_eq!(rebuilt.holds_due(1_000, 10), vec![id]);
    assert_eq!(rebuilt.open_hold_count(), 1);
    assert_eq!(rebuilt.holds_of(AccountId::customer(f.payer)).count(), 2);
}
