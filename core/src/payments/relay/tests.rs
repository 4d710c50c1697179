// Over 600 lines: the worked examples V1-V13 of INSTRUMENTS.md §2.6 on the book, with the review's recall cases, kept together.
//! The worked examples of INSTRUMENTS.md §2.6 on the relay's book alone (states and
//! decisions; the money of modes B and C and the endpoints are tested at the workspace
//! root). Fixture: partner P with bank K (004) SEOUL `K-0001…K-0100` and bank S (088)
//! BUSAN `S-0001…S-0050`, leases due after 72 h, exact, cooldown 30 days.

use super::*;
use crate::ids::BankCode;

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;
const T0: u64 = 1_800_000_000_000;

fn k() -> BankCode {
    BankCode::new("004").unwrap()
}
fn s() -> BankCode {
    BankCode::new("088").unwrap()
}
/// `K-0001` is `40000001`, `S-0001` is `88000001`.
fn k_va(n: u32) -> VaNo {
    VaNo::new(&format!("4000{n:04}")).unwrap()
}
fn s_va(n: u32) -> VaNo {
    VaNo::new(&format!("8800{n:04}")).unwrap()
}
fn p() -> PartnerId {
    PartnerId::new("P").unwrap()
}
fn seoul() -> Region {
    Region::new("SEOUL").unwrap()
}
fn busan() -> Region {
    Region::new("BUSAN").unwrap()
}

fn fixture() -> RelayBook {
    let mut book = RelayBook::default();
    let mut partner = Partner::new(p(), PartnerMode::A);
    partner.pools = vec![
        PoolSpec {
            bank: k(),
            region: seoul(),
            target: 100,
            real_time: false,
        },
        PoolSpec {
            bank: s(),
            region: busan(),
            target: 50,
            real_time: false,
        },
    ];
    let (change, warnings) = book.set_partner(partner).unwrap();
    assert!(warnings.is_empty());
    book.apply(&change);
    let ks: Vec<_> = (1..=100).map(k_va).collect();
    book.apply(&book.grant(&p(), k(), &seoul(), &ks).unwrap());
    let ss: Vec<_> = (1..=50).map(s_va).collect();
    book.apply(&book.grant(&p(), s(), &busan(), &ss).unwrap());
    book
}

fn request(order: &str, amount: u64, bank: BankCode, region: Region) -> LeaseRequest {
    LeaseRequest {
        partner: p(),
        order_no: order.into(),
        customer: "김철수".into(),
        bank,
        region,
        match_mode: None,
        expected_krw: Some(amount),
        min_krw: None,
        max_krw: None,
        due_at_ms: None,
    }
}

fn lease(book: &mut RelayBook, req: &LeaseRequest, now: u64) -> Lease {
    match book.lease_for(req, now).unwrap() {
        LeaseOutcome::New(change) => {
            book.apply(&change);
            change.lease.unwrap()
        }
        LeaseOutcome::Existing(lease) => *lease,
        LeaseOutcome::RealTime => panic!("no real-time numbering in the fixture"),
    }
}

fn notice(tx: &str, va: VaNo, amount: u64, name: &str) -> DepositNotice {
    DepositNotice {
        bank: k(),
        bank_tx_id: tx.into(),
        va_no: va,
        amount_krw: amount,
        depositor_name: name.into(),
        depositor_account: None,
        channel: "internet".into(),
        at_ms: T0,
    }
}

fn deposit(book: &mut RelayBook, notice: &DepositNotice, now: u64) -> Deposit {
    match book.deposit_for(notice, now, false).unwrap() {
        DepositOutcome::New(change) => {
            book.apply(&change);
            change.deposit.unwrap()
        }
        DepositOutcome::Duplicate(deposit) => *deposit,
    }
}

#[test]
fn lease_assigns_a_free_va_of_the_chosen_bank_and_region() {
    let mut book = fixture();
    let l1 = lease(&mut book, &request("O-1001", 15_000, k(), seoul()), T0);
    assert_eq!(l1.va_no, k_va(1));
    assert_eq!(l1.state, LeaseState::Open);
    assert_eq!(l1.due_at_ms, T0 + 72 * HOUR);
    let va = book.va(k(), &k_va(1)).unwrap();
    assert_eq!((va.state, va.lease), (VaState::Leased, Some(l1.id)));
}

#[test]
fn leased_va_is_never_given_twice() {
    let mut book = fixture();
    let l1 = lease(&mut book, &request("O-1001", 15_000, k(), seoul()), T0);
    let l2 = lease(&mut book, &request("O-1002", 20_000, k(), seoul()), T0);
    assert_eq!((l1.va_no, l2.va_no), (k_va(1), k_va(2)));
}

#[test]
fn repeat_lease_for_same_order_returns_same_va() {
    let mut book = fixture();
    let l1 = lease(&mut book, &request("O-1001", 15_000, k(), seoul()), T0);
    let again = book
        .lease_for(&request("O-1001", 15_000, k(), seoul()), T0 + 1_000)
        .unwrap();
    assert_eq!(again, LeaseOutcome::Existing(Box::new(l1)));
    let other = book
        .lease_for(&request("O-1001", 16_000, k(), seoul()), T0)
        .unwrap_err();
    assert_eq!(
        other.code(),
        crate::payments::RefusalCode::IdempotencyConflict
    );
}

#[test]
fn exact_deposit_completes_lease_and_notifies_partner() {
    let mut book = fixture();
    let l1 = lease(&mut book, &request("O-1001", 15_000, k(), seoul()), T0);
    let d = deposit(
        &mut book,
        &notice("77", k_va(1), 15_000, "김철수"),
        T0 + HOUR,
    );
    assert_eq!(
        (d.state, d.lease, d.credited_krw),
        (DepositState::Matched, Some(l1.id), 15_000)
    );
    assert!(!d.name_differs);
    assert_eq!(book.lease(l1.id).unwrap().state, LeaseState::Completed);
    let va = book.va(k(), &k_va(1)).unwrap();
    assert_eq!(va.state, VaState::Cooling);
    assert_eq!(va.cooling_until_ms, T0 + HOUR + 30 * DAY);
    // a paid order is not leased again
    let paid = book
        .lease_for(&request("O-1001", 15_000, k(), seoul()), T0 + 2 * HOUR)
        .unwrap_err();
    assert_eq!(paid.code(), crate::payments::RefusalCode::OrderAlreadyPaid);
}

#[test]
fn duplicate_bank_notice_is_ignored() {
    let mut book = fixture();
    lease(&mut book, &request("O-1001", 15_000, k(), seoul()), T0);
    let first = deposit(
        &mut book,
        &notice("77", k_va(1), 15_000, "김철수"),
        T0 + HOUR,
    );
    let again = book.deposit_for(
        &notice("77", k_va(1), 15_000, "김철수"),
        T0 + 2 * HOUR,
        false,
    );
    assert_eq!(again.unwrap(), DepositOutcome::Duplicate(Box::new(first)));
    assert_eq!(book.deposits().count(), 1);
}

#[test]
fn short_deposit_is_a_mismatch_held_in_suspense() {
    let mut book = fixture();
    lease(&mut book, &request("O-1001", 15_000, k(), seoul()), T0);
    let l2 = lease(&mut book, &request("O-1002", 20_000, k(), seoul()), T0);
    let d = deposit(
        &mut book,
        &notice("78", k_va(2), 10_000, "이영희"),
        T0 + HOUR,
    );
    assert_eq!(d.state, DepositState::Mismatch);
    assert_eq!(d.previous_lease, Some(l2.id));
    assert!(d.state.in_suspense());
    assert_eq!(book.lease(l2.id).unwrap().state, LeaseState::Open);
    assert_eq!(book.va(k(), &k_va(2)).unwrap().state, VaState::Leased);

    // In accumulate mode instead: PARTIAL, then COMPLETED with 20,000 in all.
    let mut acc = request("O-1003", 20_000, k(), seoul());
    acc.match_mode = Some(MatchMode::Accumulate);
    let l3 = lease(&mut book, &acc, T0);
    let first = deposit(
        &mut book,
        &notice("79", l3.va_no.clone(), 10_000, "김철수"),
        T0 + HOUR,
    );
    assert_eq!(
        (first.state, first.credited_krw),
        (DepositState::Matched, 10_000)
    );
    assert_eq!(book.lease(l3.id).unwrap().state, LeaseState::Partial);
    let second = deposit(
        &mut book,
        &notice("80", l3.va_no.clone(), 10_000, "김철수"),
        T0 + HOUR,
    );
    assert_eq!((second.credited_krw, second.excess_krw), (10_000, 0));
    let done = book.lease(l3.id).unwrap();
    assert_eq!((done.state, done.paid_krw), (LeaseState::Completed, 20_000));
}

#[test]
fn accumulate_excess_over_expected_goes_to_suspense() {
    let mut book = fixture();
    let mut acc = request("O-1", 20_000, k(), seoul());
    acc.match_mode = Some(MatchMode::Accumulate);
    let l = lease(&mut book, &acc, T0);
    deposit(
        &mut book,
        &notice("1", l.va_no.clone(), 15_000, "김철수"),
        T0,
    );
    let over = deposit(
        &mut book,
        &notice("2", l.va_no.clone(), 10_000, "김철수"),
        T0,
    );
    assert_eq!((over.credited_krw, over.excess_krw), (5_000, 5_000));
    assert_eq!(book.lease(l.id).unwrap().paid_krw, 20_000);
}

#[test]
fn deposit_to_unleased_va_goes_to_suspense_and_is_refunded() {
    let mut book = fixture();
    let mut n = notice("90", k_va(50), 5_000, "박영희");
    n.depositor_account = Some("K-123-456".into());
    let d = deposit(&mut book, &n, T0);
    assert_eq!((d.state, d.previous_lease), (DepositState::Unleased, None));
    let change = book.refund(d.id, T0 + HOUR).unwrap().unwrap();
    book.apply(&change);
    assert_eq!(book.deposit(d.id).unwrap().state, DepositState::Refunded);
    assert_eq!(
        book.refund(d.id, T0 + 2 * HOUR).unwrap(),
        None,
        "a repeat changes nothing"
    );
}

#[test]
fn expired_lease_frees_va_only_after_cooling() {
    let mut book = fixture();
    lease(&mut book, &request("O-1001", 15_000, k(), seoul()), T0);
    lease(&mut book, &request("O-1002", 20_000, k(), seoul()), T0);
    let l3 = lease(&mut book, &request("O-1003", 10_000, k(), seoul()), T0);
    assert_eq!(l3.va_no, k_va(3));
    assert!(book.expire_due(T0 + 72 * HOUR - 1, 10).is_empty());
    let expired = book.expire_due(T0 + 72 * HOUR, 10);
    assert_eq!(expired.len(), 3);
    for change in &expired {
        book.apply(change);
    }
    assert_eq!(book.lease(l3.id).unwrap().state, LeaseState::Expired);
    let freed_at = T0 + 72 * HOUR;
    // day 5: UNLEASED, annotated with O-1003's lease
    let late = deposit(
        &mut book,
        &notice("91", k_va(3), 10_000, "김철수"),
        T0 + 5 * DAY,
    );
    assert_eq!(
        (late.state, late.previous_lease),
        (DepositState::Unleased, Some(l3.id))
    );
    let va = book.va(k(), &k_va(3)).unwrap();
    assert_eq!(va.state_at(freed_at + 30 * DAY - 1), VaState::Cooling);
    assert_eq!(va.state_at(freed_at + 30 * DAY), VaState::Available);
    // a new order picks never-leased VAs first
    let next = lease(
        &mut book,
        &request("O-1004", 1_000, k(), seoul()),
        freed_at + 31 * DAY,
    );
    assert_eq!(next.va_no, k_va(4));
}

#[test]
fn freed_vas_are_reused_longest_released_first() {
    let mut book = fixture();
    let ss: Vec<_> = (1..=50).map(s_va).collect();
    for (i, va) in ss.iter().enumerate() {
        let l = lease(
            &mut book,
            &request(&format!("S-{i}"), 1_000, s(), busan()),
            T0,
        );
        assert_eq!(&l.va_no, va);
    }
    // S-0007 freed first, S-0003 second
    let l7 = book.lease_of_order(&p(), "S-6").unwrap().id;
    book.apply(&book.cancel(&p(), l7, T0 + 1).unwrap().unwrap());
    let l3 = book.lease_of_order(&p(), "S-2").unwrap().id;
    book.apply(&book.cancel(&p(), l3, T0 + 2).unwrap().unwrap());
    let after = T0 + 2 + 30 * DAY;
    let a = lease(&mut book, &request("X-1", 1_000, s(), busan()), after);
    let b = lease(&mut book, &request("X-2", 1_000, s(), busan()), after);
    assert_eq!((a.va_no, b.va_no), (s_va(7), s_va(3)));
}

#[test]
fn pool_exhaustion_is_refused() {
    let mut book = fixture();
    for i in 0..50 {
        lease(
            &mut book,
            &request(&format!("B-{i}"), 1_000, s(), busan()),
            T0,
        );
    }
    let err = book
        .lease_for(&request("B-50", 1_000, s(), busan()), T0)
        .unwrap_err();
    assert_eq!(
        err.code(),
        crate::payments::RefusalCode::NoVirtualAccountAvailable
    );
    assert!(book.lease_of_order(&p(), "B-50").is_none());
    let status = book.pool_status(&p(), s(), &busan(), T0);
    assert_eq!((status.size, status.free, status.leased), (50, 0, 50));
}

#[test]
fn pool_exhaustion_falls_back_to_real_time_numbering() {
    let mut book = fixture();
    let mut partner = book.partner(&p()).unwrap().clone();
    partner.pools[1].real_time = true;
    book.apply(&book.set_partner(partner).unwrap().0);
    for i in 0..50 {
        lease(
            &mut book,
            &request(&format!("B-{i}"), 1_000, s(), busan()),
            T0,
        );
    }
    let req = request("B-50", 1_000, s(), busan());
    assert_eq!(book.lease_for(&req, T0).unwrap(), LeaseOutcome::RealTime);
    let numbered = VaNo::new("88990001").unwrap();
    let LeaseOutcome::New(change) = book.lease_on_real_time(&req, numbered.clone(), T0).unwrap()
    else {
        panic!("a new lease")
    };
    book.apply(&change);
    let l = book.lease_of_order(&p(), "B-50").unwrap();
    assert_eq!((l.state, &l.va_no), (LeaseState::Open, &numbered));
    assert!(book.va(s(), &numbered).unwrap().real_time);
}

#[test]
fn collection_statement_consolidates_all_banks() {
    let mut book = fixture();
    let orders = [
        ("O-1001", 15_000),
        ("O-1002", 20_000),
        ("O-1003", 10_000),
        ("O-1004", 15_000),
    ];
    let mut leases = Vec::new();
    for (order, amount) in orders {
        leases.push(lease(&mut book, &request(order, amount, k(), seoul()), T0));
    }
    let l5 = lease(&mut book, &request("O-2001", 30_000, s(), busan()), T0);
    for (i, l) in leases.iter().enumerate().filter(|(i, _)| *i != 2) {
        deposit(
            &mut book,
            &notice(
                &format!("k{i}"),
                l.va_no.clone(),
                l.expected_krw.unwrap(),
                "김철수",
            ),
            T0 + HOUR,
        );
    }
    let mut on_s = notice("s1", l5.va_no.clone(), 30_000, "김철수");
    on_s.bank = s();
    deposit(&mut book, &on_s, T0 + HOUR);
    deposit(
        &mut book,
        &notice("k50", k_va(50), 10_000, "누군가"),
        T0 + HOUR,
    );
    let statement = CollectionStatement::of(&book, &p(), T0, T0 + DAY);
    let banks: Vec<_> = statement
        .banks
        .iter()
        .map(|b| (b.bank, b.count, b.total_krw))
        .collect();
    assert_eq!(banks, vec![(k(), 3, 50_000), (s(), 1, 30_000)]);
    assert_eq!(statement.total_krw, 80_000);
    assert_eq!(
        (statement.suspense.len(), statement.suspense_total_krw),
        (1, 10_000)
    );
}

#[test]
fn recalled_deposit_is_taken_back_and_reopens_the_lease() {
    let mut book = fixture();
    let l1 = lease(&mut book, &request("O-1001", 15_000, k(), seoul()), T0);
    deposit(
        &mut book,
        &notice("77", k_va(1), 15_000, "김철수"),
        T0 + HOUR,
    );
    let change = book.recall(k(), "77", T0 + 2 * HOUR).unwrap().unwrap();
    book.apply(&change);
    let d = book.deposit_by_tx(k(), "77").unwrap();
    assert_eq!(d.state, DepositState::Reversed);
    let reopened = book.lease(l1.id).unwrap();
    assert_eq!((reopened.state, reopened.paid_krw), (LeaseState::Open, 0));
    assert_eq!(reopened.due_at_ms, T0 + 2 * HOUR + 72 * HOUR);
    let va = book.va(k(), &k_va(1)).unwrap();
    assert_eq!((va.state, va.lease), (VaState::Leased, Some(l1.id)));
    assert_eq!(
        book.recall(k(), "77", T0 + 3 * HOUR).unwrap(),
        None,
        "a repeat changes nothing"
    );
}

#[test]
fn a_cancelled_lease_cools_its_va_and_a_later_deposit_is_unleased() {
    let mut book = fixture();
    let l = lease(&mut book, &request("O-9", 1_000, k(), seoul()), T0);
    book.apply(&book.cancel(&p(), l.id, T0 + 1).unwrap().unwrap());
    assert_eq!(book.lease(l.id).unwrap().state, LeaseState::Cancelled);
    let d = deposit(
        &mut book,
        &notice("5", l.va_no.clone(), 1_000, "김철수"),
        T0 + 2,
    );
    assert_eq!(
        (d.state, d.previous_lease),
        (DepositState::Unleased, Some(l.id))
    );
    // the order may be leased again, on another VA
    let again = lease(&mut book, &request("O-9", 1_000, k(), seoul()), T0 + 3);
    assert_ne!(again.va_no, l.va_no);
}

#[test]
fn a_suspense_deposit_assigned_to_a_lease_completes_it() {
    let mut book = fixture();
    let l = lease(&mut book, &request("O-1", 5_000, k(), seoul()), T0);
    let d = deposit(&mut book, &notice("9", k_va(60), 5_000, "김철수"), T0);
    assert_eq!(d.state, DepositState::Unleased);
    book.apply(&book.assign(d.id, l.id, T0 + 1).unwrap());
    assert_eq!(book.deposit(d.id).unwrap().state, DepositState::Assigned);
    assert_eq!(book.lease(l.id).unwrap().state, LeaseState::Completed);
}

#[test]
fn a_snapshot_rebuilds_the_same_relay_book() {
    let mut book = fixture();
    lease(&mut book, &request("O-1", 5_000, k(), seoul()), T0);
    deposit(&mut book, &notice("9", k_va(1), 5_000, "김철수"), T0);
    let rebuilt = RelayBook::from_snapshot(&book.snapshot());
    assert_eq!(rebuilt.snapshot(), book.snapshot());
    let next = |b: &RelayBook| match b
        .lease_for(&request("O-2", 5_000, k(), seoul()), T0)
        .unwrap()
    {
        LeaseOutcome::New(change) => change,
        other => panic!("{other:?}"),
    };
    assert_eq!(next(&rebuilt), next(&book));
}

#[test]
fn a_pool_below_its_low_watermark_asks_for_a_top_up() {
    let status = book::PoolStatus {
        size: 100,
        free: 19,
        leased: 81,
        cooling: 0,
        target: 120,
    };
    assert_eq!(status.top_up(), 20);
    let full = book::PoolStatus {
        size: 100,
        free: 19,
        leased: 81,
        cooling: 0,
        target: 100,
    };
    assert_eq!(full.top_up(), 0);
    let mut partner = Partner::new(p(), PartnerMode::A);
    partner.expected_leases_per_day = Some(100);
    // 100 × (3 + 30) × 1.2 = 3,960
    assert_eq!(partner.minimum_target(), 3_960);
}

/// A fixture with one pool of `size` VAs at bank K and the given cooldown.
fn small(size: u32, cooldown_ms: u64) -> RelayBook {
    let mut book = RelayBook::default();
    let mut partner = Partner::new(p(), PartnerMode::A);
    partner.pools = vec![PoolSpec {
        bank: k(),
        region: seoul(),
        target: size,
        real_time: false,
    }];
    partner.cooldown_ms = cooldown_ms;
    book.apply(&book.set_partner(partner).unwrap().0);
    let vas: Vec<_> = (1..=size).map(k_va).collect();
    book.apply(&book.grant(&p(), k(), &seoul(), &vas).unwrap());
    book
}

#[test]
fn a_recall_after_the_va_was_leased_again_gives_the_lease_another_va() {
    // Review finding 2: K-0001 paid L1, cooled 30 days, was leased to L2 and paid; the
    // recall of L1's deposit must not put K-0001 back on L1 (a repeated transfer by L2's
    // payer would then pay O-1, what D-2.7 exists to prevent): L1 gets a free VA.
    let mut book = small(3, 30 * DAY);
    let l1 = lease(&mut book, &request("O-1", 1_000, k(), seoul()), T0);
    lease(&mut book, &request("O-X", 1_000, k(), seoul()), T0);
    let ly = lease(&mut book, &request("O-Y", 1_000, k(), seoul()), T0);
    deposit(&mut book, &notice("1", k_va(1), 1_000, "김철수"), T0 + 1);
    book.apply(&book.cancel(&p(), ly.id, T0 + 2).unwrap().unwrap());
    let later = T0 + 31 * DAY;
    let l2 = lease(&mut book, &request("O-2", 1_000, k(), seoul()), later);
    assert_eq!(l2.va_no, k_va(1), "freed longest ago");
    deposit(&mut book, &notice("2", k_va(1), 1_000, "김철수"), later + 1);
    book.apply(&book.recall(k(), "1", later + 2).unwrap().unwrap());
    assert_eq!(
        book.va(k(), &k_va(1)).unwrap().lease,
        Some(l2.id),
        "K-0001 stays L2's"
    );
    let reopened = book.lease(l1.id).unwrap();
    assert_eq!(
        (reopened.state, &reopened.va_no),
        (LeaseState::Open, &k_va(3))
    );
    assert_eq!(book.va(k(), &k_va(3)).unwrap().lease, Some(l1.id));
}

#[test]
fn a_recall_with_no_free_va_never_leaves_two_open_leases_on_one_va() {
    // Review finding 3: one VA, cooldown 0: L1 paid on it, L2 leases it; the recall of
    // L1's deposit finds no VA for L1. L1 must not be handed out again with L2's VA.
    let mut book = small(1, 0);
    let l1 = lease(&mut book, &request("O-1", 1_000, k(), seoul()), T0);
    deposit(&mut book, &notice("1", k_va(1), 1_000, "김철수"), T0 + 1);
    let l2 = lease(&mut book, &request("O-2", 1_000, k(), seoul()), T0 + 2);
    assert_eq!(l2.va_no, k_va(1));
    book.apply(&book.recall(k(), "1", T0 + 3).unwrap().unwrap());
    assert_eq!(book.va(k(), &k_va(1)).unwrap().lease, Some(l2.id));
    let repeat = book.lease_for(&request("O-1", 1_000, k(), seoul()), T0 + 4);
    assert!(
        !matches!(&repeat, Ok(LeaseOutcome::Existing(l)) if l.va_no == k_va(1)),
        "O-1 is given L2's VA: {repeat:?}"
    );
    let paid = deposit(&mut book, &notice("2", k_va(1), 1_000, "김철수"), T0 + 5);
    assert_eq!(paid.lease, Some(l2.id));
    let _ = l1;
}

#[test]
fn a_recall_never_reopens_an_expired_lease() {
    // Review finding 4: an accumulate lease paid in part expires; the recall of its
    // deposit takes the credit back but leaves it EXPIRED.
    let mut book = fixture();
    let mut acc = request("O-1", 20_000, k(), seoul());
    acc.match_mode = Some(MatchMode::Accumulate);
    let l = lease(&mut book, &acc, T0);
    deposit(
        &mut book,
        &notice("1", l.va_no.clone(), 5_000, "김철수"),
        T0 + 1,
    );
    for change in book.expire_due(T0 + 72 * HOUR, 10) {
        book.apply(&change);
    }
    book.apply(&book.recall(k(), "1", T0 + 73 * HOUR).unwrap().unwrap());
    let after = book.lease(l.id).unwrap();
    assert_eq!((after.state, after.paid_krw), (LeaseState::Expired, 0));
    assert!(
        book.expire_due(T0 + 100 * HOUR, 10).is_empty(),
        "expired once"
    );
}
