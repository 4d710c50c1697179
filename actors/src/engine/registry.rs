//! The engine-wide request-number registry: a request number is executed at most once
//! engine-wide (SPEC §6.3), and `Engine::request(no)` finds its shard by it.

use omnibus_core::{CustomerId, RequestNo};

use super::Engine;
use crate::error::{EngineError, Rejection};

impl Engine {
    /// Claims a request number for a customer in the engine-wide registry: `Ok(true)` if
    /// this call claimed it, `Ok(false)` if the customer already held it.
    pub(super) fn claim(
        &self,
        customer: CustomerId,
        request_no: RequestNo,
    ) -> Result<bool, EngineError> {
        match self.inner.registry.entry(request_no) {
            dashmap::Entry::Occupied(owner) if *owner.get() != customer => {
                Err(Rejection::RequestNoReused { request_no }.into())
            }
            dashmap::Entry::Occupied(_) => Ok(false),
            dashmap::Entry::Vacant(vacant) => {
                // Settled and archived: it stays out of the registry (whose memory would
                // otherwise grow with history), and its customer's shard answers it.
                match self.archived_owner(request_no)? {
                    Some(owner) if owner != customer => {
                        Err(Rejection::RequestNoReused { request_no }.into())
                    }
                    Some(_) => Ok(false),
                    None => {
                        vacant.insert(customer);
                        Ok(true)
                    }
                }
            }
        }
    }

    /// The customer of a request number settled and archived, if some shard's archive
    /// holds it. The archives' filters answer a new number from memory.
    pub(super) fn archived(
        &self,
        request_no: RequestNo,
    ) -> Result<Option<omnibus_core::ledger::archived::SettledRequest>, EngineError> {
        for (shard, archive) in self.inner.archives.iter().enumerate() {
            let found = archive
                .get(request_no, false)
                .map_err(|what| EngineError::Storage {
                    shard: shard as u16,
                    cause: format!("archive: {what}"),
                })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    fn archived_owner(&self, request_no: RequestNo) -> Result<Option<CustomerId>, EngineError> {
        Ok(self.archived(request_no)?.map(|r| r.accepted.customer))
    }

    /// Every error but a storage failure means nothing is on record for the request: a
    /// number this call claimed is free again.
    pub(super) fn release_claim<T>(
        &self,
        claimed: bool,
        customer: CustomerId,
        request_no: RequestNo,
        result: &Result<T, EngineError>,
    ) {
        if claimed && matches!(result, Err(e) if !matches!(e, EngineError::Storage { .. })) {
            self.inner
                .registry
                .remove_if(&request_no, |_, owner| *owner == customer);
        }
    }
}
