//! The simulated banks' virtual-account systems (INSTRUMENTS.md §2.7, "Rail"): they keep
//! the truth the relay is checked against, which VAs each bank opened and which deposits
//! it posted to them. A bank numbers its VAs `<bank code><7 digits>`, counting from 1;
//! a test (or the simulation) makes a payer deposit with [`Simulator::va_deposit`], which
//! posts the deposit at the bank and hands back the bank's notice for the caller to
//! deliver, late, twice or never. Real-time numbering is off for every bank until
//! [`Simulator::set_va_real_time`] turns it on.
//!
//! Answers come at once and never fail: the VA systems' faults are the notices' (lost,
//! late, repeated), which the caller of `va_deposit` decides.
//!
//! Kept in memory only for now: a restarted durable simulator forgets what its banks
//! opened and posted (docs/simulator.md).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use omnibus_core::payments::relay::{DepositNotice, VaNo};
use omnibus_core::BankCode;

use super::{respond, Inner, Simulator};
use crate::rails::{RailError, RailFuture, VaBank, VaOpening};

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
    real_time: BTreeMap<BankCode, bool>,
    /// Every deposit posted, by bank and transaction id.
    deposits: BTreeMap<(BankCode, String), DepositNotice>,
    /// Each bank's last transaction id.
    tx: BTreeMap<BankCode, u64>,
}

impl VaBanks {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn open(&self, opening: &VaOpening) -> Vec<VaNo> {
        let mut state = self.state();
        let mut numbers = Vec::with_capacity(opening.count as usize);
        for _ in 0..opening.count {
            let next = state.numbered.entry(opening.bank).or_insert(0);
            *next += 1;
            let no = VaNo::new(&format!("{}{:07}", opening.bank, *next)).expect("digits");
            state
                .opened
                .insert((opening.bank, no.clone()), opening.partner.to_string());
            numbers.push(no);
        }
        numbers
    }
}

pub(super) struct SimVaBank(pub(super) Arc<Inner>);

impl VaBank for SimVaBank {
    fn open_virtual_accounts(
        &self,
        opening: VaOpening,
    ) -> RailFuture<Result<Vec<VaNo>, RailError>> {
        let numbers = self.0.va_banks.open(&opening);
        respond(std::time::Duration::ZERO, Ok(numbers))
    }

    fn supports_real_time(&self, bank: BankCode) -> bool {
        self.0
            .va_banks
            .state()
            .real_time
            .get(&bank)
            .copied()
            .unwrap_or(false)
    }

    fn number_in_real_time(&self, opening: VaOpening) -> RailFuture<Result<VaNo, RailError>> {
        if !self.supports_real_time(opening.bank) {
            return respond(
                std::time::Duration::ZERO,
                Err(RailError {
                    system: "va bank",
                    what: format!("bank {} does not number in real time", opening.bank),
                }),
            );
        }
        let one = VaOpening {
            count: 1,
            ..opening
        };
        let no = self.0.va_banks.open(&one).remove(0);
        respond(std::time::Duration::ZERO, Ok(no))
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
        let tx = state.tx.entry(bank).or_insert(0);
        *tx += 1;
        let notice = DepositNotice {
            bank,
            bank_tx_id: format!("T{tx:010}"),
            va_no: va_no.clone(),
            amount_krw,
            depositor_name: depositor_name.to_owned(),
            depositor_account: None,
            channel: "internet".into(),
            at_ms,
        };
        state
            .deposits
            .insert((bank, notice.bank_tx_id.clone()), notice.clone());
        Some(notice)
    }

    /// Turns a bank's real-time numbering on or off (D-2.9, V9b).
    pub fn set_va_real_time(&self, bank: BankCode, on: bool) {
        self.inner.va_banks.state().real_time.insert(bank, on);
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
