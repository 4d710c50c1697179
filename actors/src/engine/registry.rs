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
                vacant.insert(customer);
                Ok(true)
            }
        }
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
