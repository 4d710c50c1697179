//! Reconciliation (SPEC §5, issue 6): the engine's request logs matched against what each
//! outside system's statement says it executed, with every mismatch listed.
//!
//! Each request-log entry names the rail request id of its current attempt (`entry`,
//! `attempt`). For each log and its rail:
//!
//! - an entry at SUCCESS must appear on the rail's statement, once, at its current attempt,
//!   with its amount (else `BookedNotExecuted` or `AmountDiffers`);
//! - an entry at FAIL or FAIL_TRY_AGAIN must not appear (else `ExecutedNotBooked`);
//! - an earlier attempt of any entry must not appear (else `EarlierAttemptExecuted`: a
//!   retry would have paid twice);
//! - an entry at REQUESTED or UNKNOWN is still open: whatever the rail says, it is listed
//!   as open, not as a mismatch, until confirmed;
//! - a statement line no entry accounts for is `UnknownToEngine`.
//!
//! The function is pure: the engine gathers its entries and the rails' statements.

use std::collections::HashMap;

use serde::Serialize;

use crate::ledger::{EntryId, LogEntry};
use crate::money::Amount;
use crate::request::RequestDate;
use crate::request_log::{EntryState, LogKind};

/// One line of a rail's statement: a request it executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatementLine {
    pub entry: u64,
    pub attempt: u32,
    pub amount: Amount,
}

/// A rail's statement of one request date: the lines of its executed requests whose
/// entries carry that date, and the lines no entry of the engine accounts for (they
/// cannot be dated, so every day's statement lists them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayStatement {
    pub log: LogKind,
    pub date: RequestDate,
    pub lines: Vec<StatementLine>,
    pub unknown_to_engine: Vec<StatementLine>,
}

/// Picks a day's lines out of a rail's statement, by the request dates of the entries.
pub fn day_statement(
    log: LogKind,
    entries: &[(LogEntry, RequestDate)],
    lines: &[StatementLine],
    date: RequestDate,
) -> DayStatement {
    let dates: HashMap<u64, RequestDate> = entries
        .iter()
        .filter(|(e, _)| e.step.log() == log)
        .map(|(e, d)| (e.id.0, *d))
        .collect();
    let mut day = DayStatement {
        log,
        date,
        lines: Vec::new(),
        unknown_to_engine: Vec::new(),
    };
    for line in lines {
        match dates.get(&line.entry) {
            Some(d) if *d == date => day.lines.push(*line),
            Some(_) => {}
            None => day.unknown_to_engine.push(*line),
        }
    }
    day
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchKind {
    /// The engine booked it (SUCCESS); the rail did not execute it.
    BookedNotExecuted,
    /// The rail executed it; the engine says it did not happen.
    ExecutedNotBooked,
    /// Both agree it happened, not on the amount.
    AmountDiffers,
    /// An attempt other than the entry's current one was executed.
    EarlierAttemptExecuted,
    /// The rail executed a request id no entry of the engine has.
    UnknownToEngine,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub log: LogKind,
    pub kind: MismatchKind,
    /// Written as the entry's display form (`E…`), as everywhere else in the API.
    #[serde(serialize_with = "as_display")]
    pub entry: EntryId,
    pub attempt: u32,
    pub engine_state: Option<EntryState>,
    pub engine_amount: Option<String>,
    pub rail_amount: Option<String>,
}

fn as_display<S: serde::Serializer>(entry: &EntryId, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(entry)
}

/// One log against its rail's statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogReconciliation {
    pub log: LogKind,
    /// Entries at SUCCESS matched by a statement line.
    pub matched: u64,
    /// Entries at FAIL (or FAIL_TRY_AGAIN) with no statement line, as it should be.
    pub not_executed: u64,
    /// Entries still REQUESTED or UNKNOWN.
    pub open: u64,
    /// Statement lines considered (of the day, when a day is given).
    pub rail_lines: u64,
    pub mismatches: Vec<Mismatch>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReconciliationReport {
    /// The request date the report covers; `None`: every day.
    pub date: Option<RequestDate>,
    pub logs: Vec<LogReconciliation>,
}

impl ReconciliationReport {
    pub fn mismatches(&self) -> usize {
        self.logs.iter().map(|l| l.mismatches.len()).sum()
    }

    pub fn is_clean(&self) -> bool {
        self.mismatches() == 0
    }
}

/// Matches one log's entries (each with its request's date) against its rail's statement.
/// With `date`, only entries of that request date and the lines of their ids count;
/// lines no entry at all accounts for are always listed.
pub fn reconcile_log(
    log: LogKind,
    entries: &[(LogEntry, RequestDate)],
    lines: &[StatementLine],
    date: Option<RequestDate>,
) -> LogReconciliation {
    let mut report = LogReconciliation {
        log,
        matched: 0,
        not_executed: 0,
        open: 0,
        rail_lines: 0,
        mismatches: Vec::new(),
    };
    let by_entry: HashMap<u64, &(LogEntry, RequestDate)> = entries
        .iter()
        .filter(|(e, _)| e.step.log() == log)
        .map(|pair| (pair.0.id.0, pair))
        .collect();
    let mut executed: HashMap<u64, Vec<&StatementLine>> = HashMap::new();
    let in_day = |d: &RequestDate| date.is_none_or(|day| *d == day);
    for line in lines {
        match by_entry.get(&line.entry) {
            Some((_, d)) if !in_day(d) => continue,
            Some(_) => {
                report.rail_lines += 1;
                executed.entry(line.entry).or_default().push(line);
            }
            None => {
                report.rail_lines += 1;
                report.mismatches.push(Mismatch {
                    log,
                    kind: MismatchKind::UnknownToEngine,
                    entry: EntryId(line.entry),
                    attempt: line.attempt,
                    engine_state: None,
                    engine_amount: None,
                    rail_amount: Some(line.amount.to_string()),
                });
            }
        }
    }
    let mut ids: Vec<&u64> = by_entry.keys().collect();
    ids.sort();
    for id in ids {
        let (entry, d) = by_entry[id];
        if !in_day(d) {
            continue;
        }
        let lines = executed.get(id).map(Vec::as_slice).unwrap_or(&[]);
        let mismatch = |kind, attempt, rail_amount: Option<Amount>| Mismatch {
            log,
            kind,
            entry: entry.id,
            attempt,
            engine_state: Some(entry.state),
            engine_amount: Some(entry.amount.to_string()),
            rail_amount: rail_amount.map(|a| a.to_string()),
        };
        for line in lines.iter().filter(|l| l.attempt != entry.attempt) {
            report.mismatches.push(mismatch(
                MismatchKind::EarlierAttemptExecuted,
                line.attempt,
                Some(line.amount),
            ));
        }
        let current = lines.iter().find(|l| l.attempt == entry.attempt);
        match entry.state {
            EntryState::Requested | EntryState::Unknown => report.open += 1,
            EntryState::Success => match current {
                Some(line) if line.amount == entry.amount => report.matched += 1,
                Some(line) => report.mismatches.push(mismatch(
                    MismatchKind::AmountDiffers,
                    line.attempt,
                    Some(line.amount),
                )),
                None => report.mismatches.push(mismatch(
                    MismatchKind::BookedNotExecuted,
                    entry.attempt,
                    None,
                )),
            },
            EntryState::Fail | EntryState::FailTryAgain => match current {
                None => report.not_executed += 1,
                Some(line) => report.mismatches.push(mismatch(
                    MismatchKind::ExecutedNotBooked,
                    line.attempt,
                    Some(line.amount),
                )),
            },
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, CustomerId, ParentAccount, RequestNo};
    use crate::request_log::Step;

    fn entry(
        seq: u64,
        step: Step,
        state: EntryState,
        attempt: u32,
        won: i64,
    ) -> (LogEntry, RequestDate) {
        let c = CustomerId::new(1).unwrap();
        (
            LogEntry {
                id: EntryId::new(0, seq),
                customer: c,
                request_no: RequestNo::new("R").unwrap(),
                step,
                state,
                attempt,
                failures: attempt - 1,
                amount: Amount::krw(won).unwrap(),
                debit: AccountId::parent(ParentAccount::FinParent),
                credit: AccountId::customer(c),
                requested_at_ms: 0,
                updated_at_ms: 0,
                covered: false,
            },
            RequestDate::from_ymd(2026, 11, 21).unwrap(),
        )
    }

    fn line(seq: u64, attempt: u32, won: i64) -> StatementLine {
        StatementLine {
            entry: EntryId::new(0, seq).0,
            attempt,
            amount: Amount::krw(won).unwrap(),
        }
    }

    const SS: LogKind = LogKind::SecuritiesFirmRequestLog;

    #[test]
    fn agreeing_logs_and_statements_are_clean() {
        let entries = [
            entry(1, Step::ChargeCredit, EntryState::Success, 2, 100),
            entry(2, Step::ChargeCredit, EntryState::Fail, 1, 100),
            entry(3, Step::ChargeCredit, EntryState::Unknown, 1, 100),
        ];
        let r = reconcile_log(SS, &entries, &[line(1, 2, 100), line(3, 1, 100)], None);
        assert_eq!(
            (r.matched, r.not_executed, r.open, r.mismatches.len()),
            (1, 1, 1, 0)
        );
    }

    #[test]
    fn every_kind_of_mismatch_is_listed() {
        let entries = [
            entry(1, Step::ChargeCredit, EntryState::Success, 1, 100),
            entry(2, Step::ChargeCredit, EntryState::Fail, 1, 100),
            entry(3, Step::ChargeCredit, EntryState::Success, 1, 100),
            entry(4, Step::ChargeCredit, EntryState::Success, 2, 100),
        ];
        let lines = [
            line(2, 1, 100),
            line(3, 1, 99),
            line(4, 1, 100),
            line(4, 2, 100),
            line(9, 1, 5),
        ];
        let r = reconcile_log(SS, &entries, &lines, None);
        let kinds: Vec<MismatchKind> = r.mismatches.iter().map(|m| m.kind).collect();
        assert_eq!(
            kinds,
            vec![
                MismatchKind::UnknownToEngine,
                MismatchKind::BookedNotExecuted,
                MismatchKind::ExecutedNotBooked,
                MismatchKind::AmountDiffers,
                MismatchKind::EarlierAttemptExecuted,
            ]
        );
        assert_eq!(r.matched, 1);
    }
}
