//! `SS.transfer` (INSTRUMENTS.md §0.3): the securities firm moves money between two of its
//! own accounts, a customer's and a merchant's, in one atomic step, executed at most once
//! per request id, confirmed by request id, on its statement, and kept by the simulated
//! firm across a restart like every other call (issue 14).

mod support;

use omnibus_actors::rails::sim::Simulator;
use omnibus_actors::rails::{
    AccountTransfer, Confirmation, RailAnswer, RailRequestId, SecuritiesAccount, SecuritiesTransfer,
};
use omnibus_core::ids::MerchantNo;
use omnibus_core::{Amount, Money};
use support::*;

fn id(entry: u64) -> RailRequestId {
    RailRequestId { entry, attempt: 1 }
}

fn krw(won: i64) -> Amount {
    Amount::krw(won).unwrap()
}

#[test]
fn ss_transfer_moves_money_between_a_customer_and_a_merchant_at_most_once_and_is_kept_across_a_restart(
) {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 1, "");
    let rt = runtime();
    let payer = customer(7);
    let m1 = MerchantNo(1);
    let (customer_side, merchant_side) = (
        SecuritiesAccount::Customer(payer),
        SecuritiesAccount::Merchant(m1),
    );
    let sale = AccountTransfer {
        id: id(2),
        customer: payer,
        from: customer_side,
        to: merchant_side,
        amount: krw(30_000),
    };
    let too_much_back = AccountTransfer {
        id: id(3),
        customer: payer,
        from: merchant_side,
        to: customer_side,
        amount: krw(40_000),
    };
    {
        let sim = Simulator::open(&config).unwrap();
        let ss = sim.rails().securities_firm;
        rt.block_on(async {
            let funded = ss
                .increase(SecuritiesTransfer {
                    id: id(1),
                    customer: payer,
                    account: SecuritiesAccount::Customer(payer),
                    amount: krw(50_000),
                })
                .await;
            assert_eq!(funded, Ok(RailAnswer::Done));
            assert_eq!(ss.transfer(sale.clone()).await, Ok(RailAnswer::Done));
            // The same id again: answered from the firm's record, not executed twice.
            assert_eq!(ss.transfer(sale.clone()).await, Ok(RailAnswer::Done));
            // More than merchant[m1] holds: refused, and nothing moves.
            assert!(matches!(
                ss.transfer(too_much_back.clone()).await,
                Ok(RailAnswer::Refused { .. })
            ));
            assert_eq!(ss.confirm(id(2)).await, Ok(Confirmation::Executed));
            assert_eq!(ss.confirm(id(3)).await, Ok(Confirmation::NotExecuted));
        });
        let truth = sim.truth();
        assert_eq!(truth.customer(payer), Money::krw(20_000).unwrap());
        assert_eq!(truth.merchants[&m1], Money::krw(30_000).unwrap());
        assert!(truth.is_conserved());
    }
    // The firm does not forget what it did when the engine restarts.
    let sim = Simulator::open(&config).unwrap();
    let truth = sim.truth();
    assert_eq!(truth.customer(payer), Money::krw(20_000).unwrap());
    assert_eq!(truth.merchants[&m1], Money::krw(30_000).unwrap());
    assert!(truth.is_conserved());
    let ss = sim.rails().securities_firm;
    rt.block_on(async {
        assert_eq!(ss.confirm(id(2)).await, Ok(Confirmation::Executed));
        assert_eq!(ss.confirm(id(3)).await, Ok(Confirmation::NotExecuted));
        let statement = ss.statement().await.unwrap();
        let sale_line = statement
            .iter()
            .find(|l| (l.entry, l.attempt) == (2, 1))
            .expect("the sale is on the firm's statement");
        assert_eq!(sale_line.amount, krw(30_000));
        assert!(statement.iter().all(|l| l.entry != 3), "the refusal is not");
        // A refund of what the merchant holds goes through, after the restart too.
        let back = AccountTransfer {
            id: id(4),
            amount: krw(30_000),
            ..too_much_back
        };
        assert_eq!(ss.transfer(back).await, Ok(RailAnswer::Done));
    });
    assert_eq!(sim.truth().customer(payer), Money::krw(50_000).unwrap());
    assert!(sim.truth().merchants[&m1].is_zero());
}
