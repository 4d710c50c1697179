//! The simulated banks' virtual-account systems (INSTRUMENTS.md §2.7, "Rail"): they keep
//! the truth the relay is checked against, which VAs each bank opened and which deposits
//! it posted to them. A bank numbers its VAs `<bank code><7 digits>`, counting from 1;
//! a test (or the simulation) makes a payer deposit with [`Simulator::va_deposit`], which
//! posts the deposit at the bank and hands back the bank's notice for the caller to
//! deliver, late, twice or never. Real-time numbering is off for every bank until
//! [`Simulator::set_va_real_time`] turns it on.
//!
//! Answers come at once and do not fail (but for a full disk, below): the VA systems'
//! faults are the notices' (lost, late, repeated), which the caller of `va_deposit`
//! decides.
//!
//! A durable simulator ([`Simulator::open`]) keeps what its banks did on its journal, as
//! the other simulators do: each VA numbered (bank, sequence, partner), each deposit
//! posted (bank, transaction sequence, VA, amount, time, and the depositor's name up to
//! 23 bytes: a longer name comes back after a restart as its first whole characters
//! within 23 bytes), and each real-time setting (`va_fact.rs` has the bytes). Each fact
//! is on the journal before the change is visible, under the lock of the banks' state;
//! replayed, they give back the same VAs, deposits and settings, and the numbering and
//! the transaction ids go on after the highest on record. Not kept: the opening's region
//! (the simulated banks ignore it). One in memory ([`Simulator::new`]) keeps nothing.
//!
//! A journal that cannot grow (a full disk) makes the VA system answer `RailError`, as a
//! real system whose storage fails; in an opening of several VAs, the ones numbered
//! before the failure stay opened at the bank but are handed to no one. The host's own
//! changes (`va_deposit`, `set_va_real_time`) panic then, as `set_linked_balance` does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use omnibus_core::payments::relay::{DepositNotice, VaNo};
use omnibus_core::BankCode;

use super::fact::Fact;
use super::va_fact::{Text, VaFact};
use super::{respond, Inner, Reserved, Simulator};
use crate::rails::{RailError, RailFuture, VaBank, VaOpening};

/// The system's name, as a `RailError` names it.
const SYSTEM: &str = "va bank";

/// The channel every simulated deposit comes through.
const CHANNEL: &str = "internet";

/// What the simulated banks hold.
#[derive(Default)]
pub(super) struct VaBanks {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Each bank's last number given.
    numbered: BTreeMap<BankCode, u64>,
    /// The VAs each bank opened, and for which partner.
    opened: BTreeMap<(BankCode, VaNo), String>,
    real_time: BTreeMap<BankCode, RealTime>,
    /// Every deposit posted, by bank and transaction id.
    deposits: BTreeMap<(BankCode, String), DepositNotice>,
    /// Each bank's last transaction id.
    tx: BTreeMap<BankCode, u64>,
}

/// A bank's real-time numbering, and how many times it was set (the next setting's rank).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct RealTime {
    on: bool,
    settings: u64,
}

/// The number a bank gives its `seq`-th VA.
fn va_number(bank: BankCode, seq: u64) -> VaNo {
    VaNo::new(&format!("{bank}{seq:07}")).expect("digits")
}

/// The sequence of a VA the bank numbered.
fn va_seq(bank: BankCode, no: &VaNo) -> u64 {
    no.as_str()
        .strip_prefix(bank.as_str())
        .and_then(|digits| digits.parse().ok())
        .expect("a VA the bank opened has the number it gave")
}

fn notice(
    bank: BankCode,
    tx: u64,
    va_no: VaNo,
    amount_krw: u64,
    name: &str,
    at_ms: u64,
) -> DepositNotice {
    DepositNotice {
        bank,
        bank_tx_id: format!("T{tx:010}"),
        va_no,
        amount_krw,
        depositor_name: name.to_owned(),
        depositor_account: None,
        channel: CHANNEL.into(),
        at_ms,
    }
}

impl VaBanks {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replays one fact into banks nobody else sees yet.
    pub(super) fn replay(&self, fact: VaFact) -> Result<(), String> {
        let mut state = self.state();
        match fact {
            VaFact::Opened { bank, seq, partner } => {
                let no = va_number(bank, seq);
                let last = state.numbered.entry(bank).or_insert(0);
                *last = (*last).max(seq);
                if state
                    .opened
                    .insert((bank, no.clone()), partner.as_str().to_owned())
                    .is_some()
                {
                    return Err(format!(
                        "VA {no} of bank {bank} is opened twice (two processes on one journal?)"
                    ));
                }
            }
            VaFact::Posted {
                bank,
                tx,
                va,
                amount_krw,
                at_ms,
                depositor_name,
            } => {
                let last = state.tx.entry(bank).or_insert(0);
                *last = (*last).max(tx);
                let posted = notice(
                    bank,
                    tx,
                    va_number(bank, va),
                    amount_krw,
                    depositor_name.as_str(),
                    at_ms,
                );
                let key = (bank, posted.bank_tx_id.clone());
                if state.deposits.insert(key, posted).is_some() {
                    return Err(format!(
                        "deposit {tx} of bank {bank} is posted twice (two processes on one journal?)"
                    ));
                }
            }
            VaFact::RealTime { bank, on, rank } => {
                let setting = state.real_time.entry(bank).or_default();
                if rank >= setting.settings {
                    *setting = RealTime {
                        on,
                        settings: rank.saturating_add(1),
                    };
                }
            }
        }
        Ok(())
    }
}

impl Inner {
    /// A journal slot for one VA fact, reserved before anything changes.
    fn va_reserve(&self) -> Result<Reserved<'_>, RailError> {
        match &self.journal {
            None => Ok(Reserved::Memory),
            Some(journal) => journal.reserve(1).map(Reserved::Journal).map_err(|e| {
                tracing::error!(error = %e, "the simulator's journal cannot grow; the VA bank answers as unreachable");
                RailError {
                    system: SYSTEM,
                    what: format!("simulated: its journal cannot grow ({e})"),
                }
            }),
        }
    }

    /// The bank numbers `opening.count` VAs for the partner, each on the journal before
    /// it is opened.
    fn open_vas(&self, opening: &VaOpening) -> Result<Vec<VaNo>, RailError> {
        let bank = opening.bank;
        let partner = opening.partner.as_str();
        let mut state = self.va_banks.state();
        let mut numbers = Vec::with_capacity(opening.count as usize);
        for _ in 0..opening.count {
            let mut reserved = self.va_reserve().map_err(|mut e| {
                e.what += &format!(
                    "; {} of the {} VAs were numbered before, and are handed to no one",
                    numbers.len(),
                    opening.count
                );
                e
            })?;
            let seq = state.numbered.get(&bank).copied().unwrap_or(0) + 1;
            let no = va_number(bank, seq);
            reserved.record(Fact::Va(VaFact::Opened {
                bank,
                seq,
                partner: Text::prefix(partner),
            }));
            state.numbered.insert(bank, seq);
            state.opened.insert((bank, no.clone()), partner.to_owned());
            numbers.push(no);
        }
        Ok(numbers)
    }
}

pub(super) struct SimVaBank(pub(super) Arc<Inner>);

impl VaBank for SimVaBank {
    fn open_virtual_accounts(
        &self,
        opening: VaOpening,
    ) -> RailFuture<Result<Vec<VaNo>, RailError>> {
        respond(std::time::Duration::ZERO, self.0.open_vas(&opening))
    }

    fn supports_real_time(&self, bank: BankCode) -> bool {
        self.0
            .va_banks
            .state()
            .real_time
            .get(&bank)
            .is_some_and(|setting| setting.on)
    }

    fn number_in_real_time(&self, opening: VaOpening) -> RailFuture<Result<VaNo, RailError>> {
        if !self.supports_real_time(opening.bank) {
            return respond(
                std::time::Duration::ZERO,
                Err(RailError {
                    system: SYSTEM,
                    what: format!("bank {} does not number in real time", opening.bank),
                }),
            );
        }
        let one = VaOpening {
            count: 1,
            ..opening
        };
        let numbered = self.0.open_vas(&one).map(|mut numbers| numbers.remove(0));
        respond(std::time::Duration::ZERO, numbered)
    }

    fn inquire_deposit(
        &self,
        bank: BankCode,
        bank_tx_id: String,
    ) -> RailFuture<Result<Option<DepositNotice>, RailError>> {
        let found = self
            .0
            .va_banks
            .state()
            .deposits
            .get(&(bank, bank_tx_id))
            .cloned();
        respond(std::time::Duration::ZERO, Ok(found))
    }

    fn daily_statement(
        &self,
        bank: BankCode,
        from_ms: u64,
        to_ms: u64,
    ) -> RailFuture<Result<Vec<DepositNotice>, RailError>> {
        let lines = self
            .0
            .va_banks
            .state()
            .deposits
            .values()
            .filter(|d| d.bank == bank && d.at_ms >= from_ms && d.at_ms < to_ms)
            .cloned()
            .collect();
        respond(std::time::Duration::ZERO, Ok(lines))
    }
}

impl Simulator {
    /// A payer deposits `amount_krw` into VA `va_no` at `bank` at `at_ms`: the bank
    /// posts it and gives it the next transaction id; the notice is returned for the
    /// caller to deliver (or lose). A VA the bank never opened refuses the deposit
    /// (`None`): the payer's transfer does not go through.
    ///
    /// # Panics
    /// When the journal cannot grow (a full disk).
    pub fn va_deposit(
        &self,
        bank: BankCode,
        va_no: &VaNo,
        amount_krw: u64,
        depositor_name: &str,
        at_ms: u64,
    ) -> Option<DepositNotice> {
        let mut state = self.inner.va_banks.state();
        if !state.opened.contains_key(&(bank, va_no.clone())) {
            return None;
        }
        let mut reserved = self.inner.reserve_or_panic("post a VA deposit");
        let tx = state.tx.get(&bank).copied().unwrap_or(0) + 1;
        reserved.record(Fact::Va(VaFact::Posted {
            bank,
            tx,
            va: va_seq(bank, va_no),
            amount_krw,
            at_ms,
            depositor_name: Text::prefix(depositor_name),
        }));
        state.tx.insert(bank, tx);
        let posted = notice(bank, tx, va_no.clone(), amount_krw, depositor_name, at_ms);
        state
            .deposits
            .insert((bank, posted.bank_tx_id.clone()), posted.clone());
        Some(posted)
    }

    /// Turns a bank's real-time numbering on or off (D-2.9, V9b).
    ///
    /// # Panics
    /// When the journal cannot grow (a full disk).
    pub fn set_va_real_time(&self, bank: BankCode, on: bool) {
        let mut state = self.inner.va_banks.state();
        let mut reserved = self
            .inner
            .reserve_or_panic("set a VA bank's real-time numbering");
        let setting = state.real_time.entry(bank).or_default();
        reserved.record(Fact::Va(VaFact::RealTime {
            bank,
            on,
            rank: setting.settings,
        }));
        *setting = RealTime {
            on,
            settings: setting.settings + 1,
        };
    }

    /// Every deposit the banks posted, in (bank, transaction) order.
    pub fn va_deposits(&self) -> Vec<DepositNotice> {
        self.inner
            .va_banks
            .state()
            .deposits
            .values()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::task::{Context, Poll, Waker};

    use omnibus_core::payments::relay::{PartnerId, Region};
    use omnibus_core::Config;

    use super::*;

    fn now<T>(mut future: RailFuture<T>) -> T {
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(value) => value,
            Poll::Pending => panic!("the simulated VA banks answer at once"),
        }
    }

    fn bank(code: &str) -> BankCode {
        BankCode::new(code).unwrap()
    }

    fn opening(bank: BankCode, partner: &str, count: u32) -> VaOpening {
        VaOpening {
            bank,
            partner: PartnerId::new(partner).unwrap(),
            region: Region::any(),
            count,
        }
    }

    fn numbers(texts: &[&str]) -> Vec<VaNo> {
        texts.iter().map(|t| VaNo::new(t).unwrap()).collect()
    }

    const LONG_NAME: &str = "주식회사가나다라마바사"; // 11 syllables, 33 bytes

    #[test]
    fn a_reopened_simulator_keeps_what_its_va_banks_did() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::embedded();
        config.wal.dir = dir.path().display().to_string();
        let (kb, nh) = (bank("004"), bank("011"));
        let (given, before, kb_vas) = {
            let sim = Simulator::open(&config).unwrap();
            let va = sim.rails().va_bank;
            let kb_vas = now(va.open_virtual_accounts(opening(kb, "partner-a", 3))).unwrap();
            assert_eq!(kb_vas, numbers(&["0040000001", "0040000002", "0040000003"]));
            let nh_vas = now(va.open_virtual_accounts(opening(nh, "p_B", 2))).unwrap();
            sim.set_va_real_time(kb, true);
            // Set three times: the last setting holds after a restart, whatever the order
            // the records replay in.
            sim.set_va_real_time(nh, true);
            sim.set_va_real_time(nh, false);
            let real_time = now(va.number_in_real_time(opening(kb, "partner-a", 1))).unwrap();
            assert_eq!(real_time.as_str(), "0040000004");
            assert!(now(va.number_in_real_time(opening(nh, "p_B", 1))).is_err());
            let posted = [
                sim.va_deposit(kb, &kb_vas[0], 10_000, "홍길동", 1_000),
                sim.va_deposit(kb, &real_time, 20_000, "Kim", 2_000),
                sim.va_deposit(nh, &nh_vas[1], 5_000, LONG_NAME, 3_000),
            ];
            assert!(posted.iter().all(Option::is_some));
            assert_eq!(sim.va_deposit(nh, &kb_vas[0], 1, "x", 4_000), None);
            let mut given: BTreeSet<VaNo> = kb_vas.iter().chain(&nh_vas).cloned().collect();
            given.insert(real_time);
            (given, sim.va_deposits(), kb_vas)
        };
        assert_eq!(before.len(), 3);

        let sim = Simulator::open(&config).unwrap();
        let va = sim.rails().va_bank;
        // Every deposit comes back, the depositor's name whole up to 23 bytes, its first
        // whole characters beyond.
        let mut expected = before.clone();
        expected[2].depositor_name = "주식회사가나다".into();
        assert_eq!(sim.va_deposits(), expected);
        assert_eq!(
            now(va.inquire_deposit(kb, "T0000000001".into())).unwrap(),
            Some(before[0].clone())
        );
        assert_eq!(
            now(va.inquire_deposit(nh, "T0000000001".into())).unwrap(),
            Some(expected[2].clone())
        );
        assert_eq!(
            now(va.inquire_deposit(kb, "T0000000003".into())).unwrap(),
            None
        );
        assert_eq!(
            now(va.daily_statement(kb, 0, 2_000)).unwrap(),
            vec![before[0].clone()]
        );
        assert_eq!(
            now(va.daily_statement(kb, 0, u64::MAX)).unwrap(),
            before[..2].to_vec()
        );
        // The settings come back, the last one of each bank holding.
        assert!(va.supports_real_time(kb));
        assert!(!va.supports_real_time(nh));
        // Numbering goes on after the last number given: none is given twice.
        let more = now(va.open_virtual_accounts(opening(kb, "partner-a", 2))).unwrap();
        assert_eq!(more, numbers(&["0040000005", "0040000006"]));
        let next = now(va.number_in_real_time(opening(kb, "partner-a", 1))).unwrap();
        assert_eq!(next.as_str(), "0040000007");
        let nh_more = now(va.open_virtual_accounts(opening(nh, "p_B", 1))).unwrap();
        assert_eq!(nh_more, numbers(&["0110000003"]));
        for no in more.iter().chain([&next]).chain(&nh_more) {
            assert!(!given.contains(no), "{no} given twice");
        }
        // A VA opened before the restart still takes deposits, and the transaction ids
        // go on too.
        let after = sim
            .va_deposit(kb, &kb_vas[1], 7_000, "Lee", 5_000)
            .expect("a VA opened before the restart takes deposits");
        assert_eq!(after.bank_tx_id, "T0000000003");
        assert_eq!(sim.va_deposit(nh, &kb_vas[1], 1, "x", 6_000), None);
        drop(va);
        drop(sim);

        // What the reopened simulator did is kept as well.
        let sim = Simulator::open(&config).unwrap();
        let va = sim.rails().va_bank;
        assert_eq!(sim.va_deposits().len(), 4);
        assert_eq!(
            now(va.inquire_deposit(kb, "T0000000003".into())).unwrap(),
            Some(after)
        );
        let last = now(va.open_virtual_accounts(opening(kb, "partner-a", 1))).unwrap();
        assert_eq!(last, numbers(&["0040000008"]));
    }

    #[test]
    fn replay_in_any_order_rebuilds_the_same_banks() {
        let kb = bank("004");
        let facts = [
            VaFact::Opened {
                bank: kb,
                seq: 2,
                partner: Text::prefix("p"),
            },
            VaFact::Posted {
                bank: kb,
                tx: 1,
                va: 2,
                amount_krw: 9,
                at_ms: 1,
                depositor_name: Text::prefix("n"),
            },
            VaFact::RealTime {
                bank: kb,
                on: false,
                rank: 1,
            },
            VaFact::Opened {
                bank: kb,
                seq: 1,
                partner: Text::prefix("p"),
            },
            VaFact::RealTime {
                bank: kb,
                on: true,
                rank: 0,
            },
        ];
        let rebuilt = |order: &mut dyn Iterator<Item = &VaFact>| {
            let banks = VaBanks::default();
            for fact in order {
                banks.replay(*fact).unwrap();
            }
            let state = banks.state();
            (
                state.numbered.clone(),
                state.opened.clone(),
                state.real_time.clone(),
                state.deposits.clone(),
                state.tx.clone(),
            )
        };
        let forward = rebuilt(&mut facts.iter());
        assert_eq!(forward, rebuilt(&mut facts.iter().rev()));
        assert_eq!(forward.0[&kb], 2);
        assert_eq!(
            forward.2[&kb],
            RealTime {
                on: false,
                settings: 2
            }
        );
        assert_eq!(forward.4[&kb], 1);
        // The same VA twice is two processes on one journal.
        let banks = VaBanks::default();
        banks.replay(facts[0]).unwrap();
        assert!(banks.replay(facts[0]).is_err());
    }
}
