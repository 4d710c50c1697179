//! Properties of the pure core, checked over random inputs with proptest.

use omnibus_core::request_log::{transition, EntryState, Event, Step};
use omnibus_core::{
    route, AccountId, Amount, Balances, BankCode, Currency, CustomerId, Money, ParentAccount,
    Posting, RemitPath,
};
use proptest::prelude::*;

const EVENTS: [Event; 8] = [
    Event::Succeeded,
    Event::Failed,
    Event::TimedOut,
    Event::ConfirmedDone,
    Event::ConfirmedNotDone,
    Event::Retry,
    Event::FoundDone,
    Event::GiveUp,
];

fn account(index: u8) -> AccountId {
    let bank = BankCode::new("004").unwrap();
    match index % 8 {
        0 => AccountId::parent(ParentAccount::FinParent),
        1 => AccountId::parent(ParentAccount::Collection),
        2 => AccountId::parent(ParentAccount::WithdrawalFirm(bank)),
        3 => AccountId::parent(ParentAccount::DepositFirm(bank)),
        4 => AccountId::Designated { bank },
        5 => AccountId::Funding,
        n => {
            let customer = CustomerId::new(u64::from(index / 8) + u64::from(n)).unwrap();
            if index % 2 == 0 {
                AccountId::linked(customer)
            } else {
                AccountId::customer(customer)
            }
        }
    }
}

/// Customers may not go below zero; everything else may (it is a reference model).
fn floor(account: AccountId) -> Option<Money> {
    matches!(account, AccountId::Customer { .. }).then(|| Money::zero(Currency::Krw))
}

proptest! {
    #[test]
    fn conservation_holds_over_random_posting_sequences(
        postings in prop::collection::vec((any::<u8>(), any::<u8>(), 1i64..=5_000_000_000), 0..400)
    ) {
        let mut books = Balances::new(Currency::Krw);
        for (from, to, won) in postings {
            let (debit, credit) = (account(from), account(to));
            let Ok(posting) = Posting::new(debit, credit, Amount::krw(won).unwrap()) else {
                prop_assert_eq!(debit, credit);
                continue;
            };
            let before = (books.balance(debit), books.balance(credit));
            match books.apply(&posting, floor) {
                Ok(()) => {
                    prop_assert_eq!(books.balance(debit), before.0.checked_sub_amount(posting.amount()).unwrap());
                    prop_assert_eq!(books.balance(credit), before.1.checked_add_amount(posting.amount()).unwrap());
                }
                // A refused posting moves nothing.
                Err(_) => prop_assert_eq!((books.balance(debit), books.balance(credit)), before),
            }
            prop_assert!(books.sum().unwrap().is_zero());
            for (account, balance) in books.iter() {
                if let Some(floor) = floor(*account) {
                    prop_assert!(*balance >= floor, "{} went to {}", account, balance);
                }
            }
        }
    }

    #[test]
    fn no_transition_leaves_a_final_state(
        step_index in 0usize..Step::ALL.len(),
        events in prop::collection::vec(0usize..EVENTS.len(), 0..64)
    ) {
        let step = Step::ALL[step_index];
        let mut state = EntryState::Requested;
        for event in events.into_iter().map(|i| EVENTS[i]) {
            match transition(step, state, event) {
                Ok(t) => {
                    prop_assert!(!state.is_final(), "{} left final {} by {:?}", step, state, event);
                    state = t.to;
                }
                Err(illegal) => {
                    prop_assert_eq!(illegal.from, state);
                    prop_assert_eq!(illegal.event, event);
                }
            }
        }
    }

    #[test]
    fn routing_never_sends_more_than_the_limit_down_the_first_path(
        amount in 1i64..=100_000_000,
        balance in 0i64..=100_000_000,
        limit in 1i64..=10_000_000,
    ) {
        let plan = route(Amount::krw(amount).unwrap(), Money::krw(balance).unwrap(), Amount::krw(limit).unwrap()).unwrap();
        match plan.path {
            RemitPath::First => prop_assert!(amount <= limit),
            RemitPath::PaymentInstruction => prop_assert!(amount > limit),
        }
        let deficit = plan.deficit_charge.map(|d| d.value()).unwrap_or_default();
        prop_assert_eq!(deficit, rust_decimal::Decimal::from((amount - balance).max(0)));
    }
}

/// Every entry can still reach SUCCESS or FAIL from any state it can be in (SPEC §6.4):
/// no state is a dead end.
#[test]
fn every_state_an_entry_can_reach_has_a_way_to_a_final_state() {
    for step in Step::ALL {
        let mut reachable = vec![EntryState::Requested];
        let mut i = 0;
        while i < reachable.len() {
            for event in EVENTS {
                if let Ok(t) = transition(step, reachable[i], event) {
                    if !reachable.contains(&t.to) {
                        reachable.push(t.to);
                    }
                }
            }
            i += 1;
        }
        for state in reachable {
            let mut frontier = vec![state];
            let mut seen = vec![state];
            let mut reaches_final = state.is_final();
            while let Some(s) = frontier.pop() {
                for event in EVENTS {
                    if let Ok(t) = transition(step, s, event) {
                        reaches_final |= t.to.is_final();
                        if !seen.contains(&t.to) {
                            seen.push(t.to);
                            frontier.push(t.to);
                        }
                    }
                }
            }
            assert!(reaches_final, "{step}: {state} cannot reach a final state");
        }
    }
}
