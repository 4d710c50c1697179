//! What the simulators learn and keep: one [`Fact`] per journal record, and its bytes.
//!
//! A fact is written before anyone can act on it (under the lock that makes it visible)
//! and replays in any order: a request id is settled once, so its record is the only one
//! about it; balances are restored from the transfers that executed, added up; a
//! linked balance set by hand is kept as the change it made; a key check as its rank; a
//! VA bank's VAs and deposits each as its own record, its real-time settings with their
//! rank. So the journal needs no sequence numbers, and threads append without agreeing
//! on an order.
//!
//! Each payload is [`PAYLOAD_BYTES`] (60) bytes, after the record's 4-byte CRC, so the
//! offsets below are of the whole 64-byte record. Integers are little-endian; unused
//! bytes are zero. docs/simulator.md has the same table.
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 4 | 1 | kind: 1 settled, 2 nonce, 3 revoked, 4 key checked, 5 linked set, 6 parent moved, 7 VA opened, 8 deposit posted, 9 real time set |
//!
//! Settled (a rail settled a request id), kind 1:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 5 | 1 | rail: 0 bank firm, 1 securities firm, 2 financial company, 3 authentication |
//! | 6 | 1 | outcome: 1–16 executed, as shape (docs/simulator.md); 16 refused; 17 injected failure; 18 settled by a confirm |
//! | 7 | 1 | the refusal's kind (outcome 16), in `Refusal::ALL` order |
//! | 8 | 8 | request id: entry |
//! | 16 | 4 | request id: attempt |
//! | 20 | 8 | customer (executed only) |
//! | 28 | 8 | amount in minor units (executed only) |
//! | 36 | 3 | bank of the parent account, ASCII digits (bank firm shapes; else "000") |
//! | 40 | 3 | bank of the linked or designated account, ASCII digits |
//! | 43 | 1 | length of its account number, 1 to 20 |
//! | 44 | 20 | its account number, ASCII |
//! | 40 | 4 | settle only: the two parent accounts, `from << 16 \| to`, each as a parent code |
//! | 40 | 4 | sale and sale back only: the merchant's number |
//!
//! Nonce (the financial company server executed an original text), kind 2: entry at 8,
//! attempt at 16, the nonce (16 bytes) at 20.
//!
//! Revoked (a certificate), kind 3: the serial at 8.
//!
//! Key checked, kind 4: the certificate serial at 8, the check's rank (0 for the first)
//! at 16.
//!
//! Linked set (`Simulator::set_linked_balance`), kind 5: the change in minor units
//! (signed) at 8, the account at 40–63 as in a settled record.
//!
//! Parent moved (`Simulator::settle`), kind 6: the amount in minor units at 8, the
//! parent codes of `from` at 16 and `to` at 18 (2 bytes each).
//!
//! A parent code is kind × 1000 + bank: withdrawal firm 1000 + bank, collection 2000,
//! deposit firm 3000 + bank, `fin_parent` 4000, `fin_deposit` 5000.
//!
//! The VA banks' facts (`VaFact`, encoded in `va_fact.rs`, which has their tables):
//! VA opened, kind 7: the bank (3 ASCII digits) at 5, the VA number's sequence at 8, the
//! partner id's length at 16 and the id (ASCII, up to 32) at 17. Deposit posted, kind 8:
//! the bank at 5, the transaction's sequence at 8, the VA's sequence at 16, the amount in
//! won at 24, `at_ms` at 32, the length of the depositor's name kept at 40 and its first
//! (up to 23) bytes, whole characters, at 41. Real time set, kind 9: the bank at 5, on (1)
//! or off (0) at 8, the setting's rank for that bank at 16.

use omnibus_core::ids::{CardSeq, MerchantNo};
use omnibus_core::money::MAX_ABS_MINOR_UNITS;
use omnibus_core::{AccountNo, Amount, BankCode, Currency, CustomerId, ParentAccount};
use rust_decimal::Decimal;

use super::journal::{Payload, PAYLOAD_BYTES};
use super::refusal::Refusal;
use super::registry::{parent_code, parent_of, Compact, External, Shape};
use super::truth::minor_of_amount;
use super::va_fact::{VaFact, DEPOSIT_POSTED, REAL_TIME_SET, VA_OPENED};
use super::{NotExecutedCause, Outcome, Rail};
use crate::rails::RailRequestId;

const SETTLED: u8 = 1;
const NONCE: u8 = 2;
const REVOKED: u8 = 3;
const KEY_CHECKED: u8 = 4;
const LINKED_SET: u8 = 5;
const PARENT_MOVED: u8 = 6;

const REFUSED: u8 = 16;
const INJECTED_FAILURE: u8 = 17;
const CONFIRM: u8 = 18;

/// One thing the simulators keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fact {
    /// A rail settled a request id: executed, or never to be.
    Settled {
        rail: Rail,
        id: RailRequestId,
        outcome: Outcome,
    },
    /// The financial company server executed the original text with this nonce, as
    /// request `id`. Kept only if `id` is on record as executed: the two records of a
    /// payment are written one after the other, and a crash may fall between them.
    Nonce {
        nonce: u128,
        id: RailRequestId,
    },
    Revoked {
        cert_serial: u64,
    },
    /// The authentication server checked this certificate's key for the `nth` time
    /// (from 0); the next check is drawn as the `nth + 1`-th.
    KeyChecked {
        cert_serial: u64,
        nth: u64,
    },
    /// A linked account's balance (and opening) moved by `change_minor` by hand.
    LinkedSet {
        bank: BankCode,
        account: AccountNo,
        change_minor: i64,
    },
    /// Money moved between parent accounts outside any rail call (`Simulator::settle`).
    ParentMoved {
        from: ParentAccount,
        to: ParentAccount,
        amount_minor: i64,
    },
    /// A VA bank numbered a VA, posted a deposit or had its real-time numbering set.
    Va(VaFact),
}

/// Offsets into the payload, which starts at byte 4 of the record.
const fn at(record_offset: usize) -> usize {
    record_offset - 4
}

struct Writer(Payload);

impl Writer {
    fn u8(&mut self, record_offset: usize, value: u8) {
        self.0[at(record_offset)] = value;
    }

    fn bytes(&mut self, record_offset: usize, value: &[u8]) {
        let start = at(record_offset);
        self.0[start..start + value.len()].copy_from_slice(value);
    }

    fn id(&mut self, id: RailRequestId) {
        self.bytes(8, &id.entry.to_le_bytes());
        self.bytes(16, &id.attempt.to_le_bytes());
    }

    fn account(&mut self, bank: BankCode, account: AccountNo) {
        let number = account.as_str().as_bytes();
        self.bytes(40, bank.as_str().as_bytes());
        self.u8(43, number.len() as u8);
        self.bytes(44, number);
    }
}

struct Reader<'a>(&'a Payload);

impl Reader<'_> {
    fn u8(&self, record_offset: usize) -> u8 {
        self.0[at(record_offset)]
    }

    fn array<const N: usize>(&self, record_offset: usize) -> [u8; N] {
        let start = at(record_offset);
        let mut bytes = [0u8; N];
        bytes.copy_from_slice(&self.0[start..start + N]);
        bytes
    }

    fn u16(&self, record_offset: usize) -> u16 {
        u16::from_le_bytes(self.array(record_offset))
    }

    fn u32(&self, record_offset: usize) -> u32 {
        u32::from_le_bytes(self.array(record_offset))
    }

    fn u64(&self, record_offset: usize) -> u64 {
        u64::from_le_bytes(self.array(record_offset))
    }

    fn i64(&self, record_offset: usize) -> i64 {
        i64::from_le_bytes(self.array(record_offset))
    }

    fn id(&self) -> RailRequestId {
        RailRequestId {
            entry: self.u64(8),
            attempt: self.u32(16),
        }
    }

    fn bank(&self, record_offset: usize) -> Result<BankCode, String> {
        let bytes: [u8; 3] = self.array(record_offset);
        std::str::from_utf8(&bytes)
            .ok()
            .and_then(|code| BankCode::new(code).ok())
            .ok_or_else(|| format!("bank code bytes {bytes:?} are not three digits"))
    }

    fn account(&self) -> Result<(BankCode, AccountNo), String> {
        let bank = self.bank(40)?;
        let len = usize::from(self.u8(43));
        if !(1..=AccountNo::MAX_BYTES).contains(&len) {
            return Err(format!("an account number of {len} bytes"));
        }
        let start = at(44);
        let number = std::str::from_utf8(&self.0[start..start + len])
            .map_err(|_| "an account number that is not text".to_owned())?;
        let account = AccountNo::new(number).map_err(|e| format!("account number: {e}"))?;
        Ok((bank, account))
    }

    fn parent(&self, record_offset: usize) -> Result<ParentAccount, String> {
        let code = self.u16(record_offset);
        parent_of(code).ok_or_else(|| format!("{code} is not a parent account's code"))
    }
}

/// A positive amount of minor units within the engine's range, as a record holds it.
fn amount(currency: Currency, minor: i64) -> Result<Amount, String> {
    if !(1..=MAX_ABS_MINOR_UNITS).contains(&minor) {
        return Err(format!("an amount of {minor} minor units"));
    }
    let value = Decimal::from_i128_with_scale(i128::from(minor), currency.minor_unit_digits());
    Amount::new(currency, value).map_err(|e| e.to_string())
}

fn rail_of(code: u8) -> Result<Rail, String> {
    Rail::ALL
        .get(usize::from(code))
        .copied()
        .ok_or_else(|| format!("{code} is not a rail"))
}

impl Fact {
    pub(super) fn encode(&self) -> Payload {
        let mut w = Writer([0u8; PAYLOAD_BYTES]);
        match *self {
            Fact::Settled { rail, id, outcome } => {
                w.u8(4, SETTLED);
                w.u8(5, rail as u8);
                w.id(id);
                match outcome {
                    Outcome::Executed(execution) => {
                        let compact = Compact::of(&execution)
                            .expect("the simulators execute only transfers of a recorded shape");
                        w.u8(6, compact.shape.code());
                        w.bytes(20, &execution.customer.get().to_le_bytes());
                        w.bytes(28, &minor_of_amount(execution.amount).to_le_bytes());
                        w.bytes(36, compact.bank.as_str().as_bytes());
                        match compact.external {
                            External::None => {}
                            External::Account(bank, account) => w.account(bank, account),
                            External::Parents(pair) => w.bytes(40, &pair.to_le_bytes()),
                            External::Merchant(m) => w.bytes(40, &m.0.to_le_bytes()),
                            External::Pocket(card) => w.bytes(44, &card.0.to_le_bytes()),
                            External::PocketMerchant(card, m) => {
                                w.bytes(40, &m.0.to_le_bytes());
                                w.bytes(44, &card.0.to_le_bytes());
                            }
                        }
                    }
                    Outcome::NotExecuted(NotExecutedCause::Refused(refusal)) => {
                        w.u8(6, REFUSED);
                        w.u8(7, refusal.index() as u8);
                    }
                    Outcome::NotExecuted(NotExecutedCause::InjectedFailure) => {
                        w.u8(6, INJECTED_FAILURE)
                    }
                    Outcome::NotExecuted(NotExecutedCause::Confirm) => w.u8(6, CONFIRM),
                }
            }
            Fact::Nonce { nonce, id } => {
                w.u8(4, NONCE);
                w.id(id);
                w.bytes(20, &nonce.to_le_bytes());
            }
            Fact::Revoked { cert_serial } => {
                w.u8(4, REVOKED);
                w.bytes(8, &cert_serial.to_le_bytes());
            }
            Fact::KeyChecked { cert_serial, nth } => {
                w.u8(4, KEY_CHECKED);
                w.bytes(8, &cert_serial.to_le_bytes());
                w.bytes(16, &nth.to_le_bytes());
            }
            Fact::LinkedSet {
                bank,
                account,
                change_minor,
            } => {
                w.u8(4, LINKED_SET);
                w.bytes(8, &change_minor.to_le_bytes());
                w.account(bank, account);
            }
            Fact::ParentMoved {
                from,
                to,
                amount_minor,
            } => {
                w.u8(4, PARENT_MOVED);
                w.bytes(8, &amount_minor.to_le_bytes());
                w.bytes(16, &parent_code(from).to_le_bytes());
                w.bytes(18, &parent_code(to).to_le_bytes());
            }
            Fact::Va(fact) => return fact.encode(),
        }
        w.0
    }

    /// The fact a record holds, or why it holds none (a record this build cannot have
    /// written).
    pub(super) fn decode(payload: &Payload, currency: Currency) -> Result<Fact, String> {
        let r = Reader(payload);
        Ok(match r.u8(4) {
            SETTLED => {
                let rail = rail_of(r.u8(5))?;
                let id = r.id();
                let outcome = match r.u8(6) {
                    REFUSED => {
                        let kind = r.u8(7);
                        let refusal = Refusal::ALL
                            .get(usize::from(kind))
                            .copied()
                            .ok_or_else(|| format!("{kind} is not a kind of refusal"))?;
                        Outcome::NotExecuted(NotExecutedCause::Refused(refusal))
                    }
                    INJECTED_FAILURE => Outcome::NotExecuted(NotExecutedCause::InjectedFailure),
                    CONFIRM => Outcome::NotExecuted(NotExecutedCause::Confirm),
                    code => {
                        let shape = Shape::from_code(code)
                            .ok_or_else(|| format!("{code} is not an outcome"))?;
                        let customer =
                            CustomerId::new(r.u64(20)).map_err(|e| format!("customer: {e}"))?;
                        let amount = amount(currency, r.i64(28))?;
                        let external = if shape == Shape::Settle {
                            External::Parents(r.u32(40))
                        } else if matches!(
                            shape,
                            Shape::Sale
                                | Shape::SaleBack
                                | Shape::MerchantDecrease
                                | Shape::MerchantIncrease
                        ) {
                            External::Merchant(MerchantNo(r.u32(40)))
                        } else if matches!(
                            shape,
                            Shape::PocketIn | Shape::PocketOut | Shape::PocketIncrease
                        ) {
                            External::Pocket(CardSeq(r.u16(44)))
                        } else if matches!(shape, Shape::PocketSale | Shape::PocketSaleBack) {
                            External::PocketMerchant(CardSeq(r.u16(44)), MerchantNo(r.u32(40)))
                        } else if shape.names_an_account() {
                            let (bank, account) = r.account()?;
                            External::Account(bank, account)
                        } else {
                            External::None
                        };
                        let compact = Compact {
                            shape,
                            bank: r.bank(36)?,
                            external,
                        };
                        let execution =
                            compact.execution(id, customer, amount).ok_or_else(|| {
                                format!(
                                    "an execution of shape {shape:?} that names no valid accounts"
                                )
                            })?;
                        Outcome::Executed(execution)
                    }
                };
                Fact::Settled { rail, id, outcome }
            }
            NONCE => Fact::Nonce {
                nonce: u128::from_le_bytes(r.array(20)),
                id: r.id(),
            },
            REVOKED => Fact::Revoked {
                cert_serial: r.u64(8),
            },
            KEY_CHECKED => Fact::KeyChecked {
                cert_serial: r.u64(8),
                nth: r.u64(16),
            },
            LINKED_SET => {
                let (bank, account) = r.account()?;
                let change_minor = r.i64(8);
                if change_minor.unsigned_abs() > 2 * MAX_ABS_MINOR_UNITS.unsigned_abs() {
                    return Err(format!("a balance change of {change_minor} minor units"));
                }
                Fact::LinkedSet {
                    bank,
                    account,
                    change_minor,
                }
            }
            PARENT_MOVED => {
                let amount_minor = r.i64(8);
                amount(currency, amount_minor)?;
                Fact::ParentMoved {
                    from: r.parent(16)?,
                    to: r.parent(18)?,
                    amount_minor,
                }
            }
            VA_OPENED | DEPOSIT_POSTED | REAL_TIME_SET => Fact::Va(VaFact::decode(payload)?),
            kind => return Err(format!("{kind} is not a kind of record")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rails::sim::{Execution, Operation, TruthAccount};

    fn bank(code: &str) -> BankCode {
        BankCode::new(code).unwrap()
    }

    fn account(number: &str) -> AccountNo {
        AccountNo::new(number).unwrap()
    }

    fn id(entry: u64, attempt: u32) -> RailRequestId {
        RailRequestId { entry, attempt }
    }

    fn executed(operation: Operation, from: TruthAccount, to: TruthAccount, who: u64) -> Fact {
        Fact::Settled {
            rail: Rail::BankFirm,
            id: id(u64::MAX - 3, u32::MAX),
            outcome: Outcome::Executed(Execution {
                id: id(u64::MAX - 3, u32::MAX),
                operation,
                customer: CustomerId::new(who).unwrap(),
                amount: Amount::krw(987_654_321).unwrap(),
                from,
                to,
            }),
        }
    }

    #[test]
    fn every_kind_of_fact_comes_back_from_its_bytes() {
        use TruthAccount::{Customer, Designated, Linked, Merchant, Parent};
        let longest = account("12345678901234567890");
        let linked = Linked {
            bank: bank("004"),
            account: longest,
        };
        let payee = Designated {
            bank: bank("088"),
            account: account("1"),
        };
        let who = Customer(CustomerId::new(77).unwrap());
        let fin_parent = Parent(ParentAccount::FinParent);
        let mut facts = vec![
            executed(
                Operation::Withdraw,
                linked,
                Parent(ParentAccount::WithdrawalFirm(bank("004"))),
                77,
            ),
            executed(
                Operation::Deposit,
                Parent(ParentAccount::DepositFirm(bank("020"))),
                payee,
                77,
            ),
            executed(
                Operation::Deposit,
                Parent(ParentAccount::WithdrawalFirm(bank("004"))),
                linked,
                77,
            ),
            executed(Operation::Increase, fin_parent, who, 77),
            executed(Operation::Decrease, who, fin_parent, 77),
            executed(Operation::Instruct, who, payee, 77),
            executed(Operation::Transfer, who, Merchant(MerchantNo(u32::MAX)), 77),
            executed(Operation::Transfer, Merchant(MerchantNo(3)), who, 77),
            executed(
                Operation::Transfer,
                who,
                TruthAccount::Pocket(CustomerId::new(77).unwrap(), CardSeq(u16::MAX)),
                77,
            ),
            executed(
                Operation::Transfer,
                TruthAccount::Pocket(CustomerId::new(77).unwrap(), CardSeq(2)),
                who,
                77,
            ),
            executed(
                Operation::Transfer,
                TruthAccount::Pocket(CustomerId::new(77).unwrap(), CardSeq(513)),
                Merchant(MerchantNo(u32::MAX)),
                77,
            ),
            executed(
                Operation::Transfer,
                Merchant(MerchantNo(9)),
                TruthAccount::Pocket(CustomerId::new(77).unwrap(), CardSeq(1)),
                77,
            ),
            executed(
                Operation::Settle,
                Parent(ParentAccount::DepositFirm(bank("999"))),
                Parent(ParentAccount::FinDeposit),
                omnibus_core::saga::HOUSE.get(),
            ),
            Fact::Nonce {
                nonce: u128::MAX - 5,
                id: id(3, 4),
            },
            Fact::Revoked { cert_serial: 9 },
            Fact::KeyChecked {
                cert_serial: u64::MAX,
                nth: 12,
            },
            Fact::LinkedSet {
                bank: bank("011"),
                account: longest,
                change_minor: -5_000,
            },
            Fact::ParentMoved {
                from: ParentAccount::Collection,
                to: ParentAccount::WithdrawalFirm(bank("081")),
                amount_minor: 1,
            },
            Fact::Va(VaFact::RealTime {
                bank: bank("004"),
                on: true,
                rank: 3,
            }),
        ];
        for cause in Refusal::ALL
            .map(NotExecutedCause::Refused)
            .into_iter()
            .chain([NotExecutedCause::InjectedFailure, NotExecutedCause::Confirm])
        {
            for rail in Rail::ALL {
                facts.push(Fact::Settled {
                    rail,
                    id: id(1, 2),
                    outcome: Outcome::NotExecuted(cause),
                });
            }
        }
        for fact in facts {
            let bytes = fact.encode();
            assert_eq!(Fact::decode(&bytes, Currency::Krw), Ok(fact), "{fact:?}");
        }
    }

    #[test]
    fn a_record_this_build_cannot_have_written_is_refused() {
        let good = Fact::Revoked { cert_serial: 1 }.encode();
        let mut unknown_kind = good;
        unknown_kind[0] = 99;
        assert!(Fact::decode(&unknown_kind, Currency::Krw).is_err());
        let mut bad_rail = Fact::Settled {
            rail: Rail::SecuritiesFirm,
            id: id(1, 1),
            outcome: Outcome::NotExecuted(NotExecutedCause::Confirm),
        }
        .encode();
        bad_rail[1] = 4;
        assert!(Fact::decode(&bad_rail, Currency::Krw).is_err());
        let mut zero_amount = executed(
            Operation::Increase,
            TruthAccount::Parent(ParentAccount::FinParent),
            TruthAccount::Customer(CustomerId::new(5).unwrap()),
            5,
        )
        .encode();
        zero_amount[at(28)..at(36)].fill(0);
        assert!(Fact::decode(&zero_amount, Currency::Krw).is_err());
        let mut bad_account = Fact::LinkedSet {
            bank: bank("004"),
            account: account("1-2"),
            change_minor: 1,
        }
        .encode();
        bad_account[at(43)] = 21;
        assert!(Fact::decode(&bad_account, Currency::Krw).is_err());
    }
}
