//! Tests of the registry: the slots, the shapes, the interner.

use super::*;

fn bank(code: &str) -> BankCode {
    BankCode::new(code).unwrap()
}

fn account(number: &str) -> AccountNo {
    AccountNo::new(number).unwrap()
}

#[test]
fn a_slot_fits_in_24_bytes() {
    assert!(
        std::mem::size_of::<Slot>() <= 24,
        "{}",
        std::mem::size_of::<Slot>()
    );
}

#[test]
fn every_shape_of_execution_comes_back_whole_from_its_slot() {
    use TruthAccount::{Customer, Designated, Linked, Merchant, Parent};
    let interner = Interner::new();
    let who = CustomerId::new(42).unwrap();
    let linked = Linked {
        bank: bank("004"),
        account: account("110-1"),
    };
    let payee = Designated {
        bank: bank("088"),
        account: account("220-2"),
    };
    let fin_parent = Parent(ParentAccount::FinParent);
    let cases = [
        (
            Operation::Withdraw,
            linked,
            Parent(ParentAccount::WithdrawalFirm(bank("004"))),
        ),
        (
            Operation::Deposit,
            Parent(ParentAccount::DepositFirm(bank("020"))),
            payee,
        ),
        (
            Operation::Deposit,
            Parent(ParentAccount::WithdrawalFirm(bank("004"))),
            linked,
        ),
        (Operation::Increase, fin_parent, Customer(who)),
        (Operation::Decrease, Customer(who), fin_parent),
        (
            Operation::Increase,
            fin_parent,
            TruthAccount::Pocket(who, CardSeq(513)),
        ),
        (Operation::Decrease, Merchant(MerchantNo(9)), fin_parent),
        (Operation::Increase, fin_parent, Merchant(MerchantNo(10))),
        (Operation::Instruct, Customer(who), payee),
        (
            Operation::Settle,
            Parent(ParentAccount::DepositFirm(bank("088"))),
            Parent(ParentAccount::Collection),
        ),
        (
            Operation::Settle,
            fin_parent,
            Parent(ParentAccount::WithdrawalFirm(bank("003"))),
        ),
        (
            Operation::Transfer,
            Customer(who),
            Merchant(MerchantNo(u32::MAX)),
        ),
        (Operation::Transfer, Merchant(MerchantNo(1)), Customer(who)),
        (
            Operation::Transfer,
            Customer(who),
            TruthAccount::Pocket(who, CardSeq(u16::MAX)),
        ),
        (
            Operation::Transfer,
            TruthAccount::Pocket(who, CardSeq(1)),
            Customer(who),
        ),
        (
            Operation::Transfer,
            TruthAccount::Pocket(who, CardSeq(258)),
            Merchant(MerchantNo(u32::MAX)),
        ),
        (
            Operation::Transfer,
            Merchant(MerchantNo(7)),
            TruthAccount::Pocket(who, CardSeq(3)),
        ),
    ];
    for (n, (operation, from, to)) in cases.into_iter().enumerate() {
        let execution = Execution {
            id: RailRequestId {
                entry: n as u64,
                attempt: 3,
            },
            operation,
            customer: who,
            amount: Amount::krw(1_234_567).unwrap(),
            from,
            to,
        };
        let slot = Slot::executed(&execution, &interner).expect("a shape the rails make");
        assert_eq!(
            slot.outcome(execution.id, &interner, Currency::Krw),
            Outcome::Executed(execution)
        );
    }
}

#[test]
fn every_parent_code_comes_back_as_its_parent_and_no_other_code_does() {
    let parents = [
        ParentAccount::WithdrawalFirm(bank("004")),
        ParentAccount::Collection,
        ParentAccount::DepositFirm(bank("999")),
        ParentAccount::FinParent,
        ParentAccount::FinDeposit,
    ];
    for parent in parents {
        assert_eq!(parent_of(parent_code(parent)), Some(parent));
    }
    for code in [0, 999, 2_001, 4_004, 5_001, 6_000, u16::MAX] {
        assert_eq!(parent_of(code), None, "{code}");
    }
}

#[test]
fn every_shape_code_comes_back_as_its_shape() {
    for code in 0..=u8::MAX {
        if let Some(shape) = Shape::from_code(code) {
            assert_eq!(shape.code(), code);
        } else {
            assert!(code == 0 || code > 7, "{code}");
        }
    }
}

#[test]
fn a_transfer_the_rails_never_make_has_no_compact_slot() {
    let interner = Interner::new();
    let execution = Execution {
        id: RailRequestId {
            entry: 1,
            attempt: 0,
        },
        operation: Operation::Increase,
        customer: CustomerId::new(1).unwrap(),
        amount: Amount::krw(1).unwrap(),
        from: TruthAccount::Parent(ParentAccount::Collection),
        to: TruthAccount::Customer(CustomerId::new(1).unwrap()),
    };
    assert_eq!(Slot::executed(&execution, &interner), None);
}
