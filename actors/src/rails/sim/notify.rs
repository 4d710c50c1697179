//! The simulated notification sink: it keeps every notice it delivered, once per key,
//! and can be told to refuse every delivery (a gateway down), or to deliver and lose its
//! answer (a gateway that timed out after taking it), so that the statement
//! supervisor's retries, and the sink's idempotency by key, can be seen. In memory only: a restart of the process forgets
//! what it delivered, as a real gateway's log would not, which the tests account for.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use omnibus_core::RequestNo;

use super::Inner;
use crate::rails::{NoticeMessage, Notifier, RailError, RailFuture};

/// What the sink delivered, and whether it refuses.
#[derive(Debug, Default)]
pub(super) struct SimNotices {
    delivered: Mutex<BTreeMap<RequestNo, (NoticeMessage, u32)>>,
    refusing: AtomicBool,
    losing: AtomicBool,
}

/// The sink of a [`super::Simulator`].
pub(super) struct SimNotifier(pub(super) Arc<Inner>);

impl Notifier for SimNotifier {
    fn send(&self, notice: NoticeMessage) -> RailFuture<Result<(), RailError>> {
        let notices = &self.0.notices;
        let result = if notices.refusing.load(Ordering::Acquire) {
            Err(RailError {
                system: "notification sink",
                what: "the gateway refused the delivery (simulated)".into(),
            })
        } else {
            let mut delivered = notices.delivered.lock().unwrap_or_else(|e| e.into_inner());
            delivered
                .entry(notice.key)
                .and_modify(|(_, asked)| *asked += 1)
                .or_insert((notice, 1));
            if notices.losing.load(Ordering::Acquire) {
                Err(RailError {
                    system: "notification sink",
                    what: "no answer from the gateway (simulated; it delivered)".into(),
                })
            } else {
                Ok(())
            }
        };
        Box::pin(async move { result })
    }
}

impl super::Simulator {
    /// The notices the sink delivered, by key, each with how many times it was asked.
    pub fn notices(&self) -> Vec<(NoticeMessage, u32)> {
        let delivered = self
            .inner
            .notices
            .delivered
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        delivered.values().cloned().collect()
    }

    /// Makes the sink refuse (or take again) every delivery.
    pub fn set_notices_refused(&self, refusing: bool) {
        self.inner
            .notices
            .refusing
            .store(refusing, Ordering::Release);
    }

    /// Makes the sink deliver every notice and lose its answer (or answer again).
    pub fn set_notice_answers_lost(&self, losing: bool) {
        self.inner.notices.losing.store(losing, Ordering::Release);
    }
}
