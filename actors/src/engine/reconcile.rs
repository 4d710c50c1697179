//! Reconciliation (SPEC §5): every request log matched against its rail's statement,
//! reading each shard's entries in bounded pages.

use omnibus_core::reconcile::{day_statement, reconcile_log, DayStatement, ReconciliationReport};
use omnibus_core::request_log::LogKind;
use omnibus_core::RequestDate;

use super::Engine;
use crate::error::EngineError;
use crate::shard::{Query, QueryAnswer, QueryKind};

impl Engine {
    /// The reconciliation report (SPEC §5): every request log matched against its rail's
    /// statement, for one request date or for every day, every mismatch listed.
    pub async fn reconciliation(
        &self,
        date: Option<RequestDate>,
    ) -> Result<ReconciliationReport, EngineError> {
        let entries = self.all_entries().await?;
        let mut logs = Vec::new();
        for log in [
            LogKind::BankFirmRequestLog,
            LogKind::SecuritiesFirmRequestLog,
            LogKind::PaymentInstructionLog,
        ] {
            let lines = self.rail_statement(log).await?;
            logs.push(reconcile_log(log, &entries, &lines, date));
        }
        Ok(ReconciliationReport { date, logs })
    }

    /// One rail's statement of the day (SPEC §5): its executed requests whose entries
    /// carry that request date, and any line no entry of the engine accounts for.
    pub async fn statement(
        &self,
        log: LogKind,
        date: RequestDate,
    ) -> Result<DayStatement, EngineError> {
        let entries = self.all_entries().await?;
        let lines = self.rail_statement(log).await?;
        Ok(day_statement(log, &entries, &lines, date))
    }

    /// Every request-log entry of every shard, with its request's date.
    async fn all_entries(
        &self,
    ) -> Result<Vec<(omnibus_core::saga::LogEntry, RequestDate)>, EngineError> {
        let mut entries = Vec::new();
        for shard in 0..self.shard_count() {
            let mut from_seq = 1;
            loop {
                let QueryAnswer::Entries {
                    entries: mut page,
                    next_seq,
                } = self
                    .ask(shard, |reply| Query {
                        kind: QueryKind::Entries { from_seq },
                        reply,
                    })
                    .await?
                else {
                    unreachable!("an entries query answers with entries");
                };
                entries.append(&mut page);
                match next_seq {
                    Some(next) => from_seq = next,
                    None => break,
                }
            }
        }
        // Then the settled requests that left memory: read after the books, so that a
        // request evicted meanwhile is found here (it was archived before it was
        // evicted); one found in both is counted once.
        let mut seen: std::collections::HashSet<_> = entries.iter().map(|(e, _)| e.id).collect();
        for (shard, archive) in self.inner.archives.iter().enumerate() {
            let archive = archive.clone();
            let archived = tokio::task::spawn_blocking(move || archive.all())
                .await
                .map_err(|e| EngineError::Internal(format!("reading an archive: {e}")))?
                .map_err(|cause| EngineError::Storage {
                    shard: shard as u16,
                    cause: format!("archive: {cause}"),
                })?;
            for settled in archived {
                let date = settled.accepted.request_date;
                for entry in settled.entries {
                    if seen.insert(entry.id) {
                        entries.push((entry, date));
                    }
                }
            }
        }
        Ok(entries)
    }

    /// The statement of the rail a request log records calls to.
    async fn rail_statement(
        &self,
        log: LogKind,
    ) -> Result<Vec<omnibus_core::reconcile::StatementLine>, EngineError> {
        let rails = &self.inner.rails;
        let statement = match log {
            LogKind::BankFirmRequestLog => rails.bank_firm.statement().await,
            LogKind::SecuritiesFirmRequestLog => rails.securities_firm.statement().await,
            LogKind::PaymentInstructionLog => rails.financial_company.statement().await,
        };
        statement.map_err(|e| {
            EngineError::RailUnavailable(format!("cannot get the {log} statement: {e}"))
        })
    }
}
