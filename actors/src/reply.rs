//! Where an answer goes: a oneshot a single caller awaits, or one slot of a batch whose
//! caller is answered once, when every slot is filled.
//!
//! Low in the layers (see `lib.rs`), not in `engine/` where the code review of 2026-11-30
//! drew it: the saga runtime, the account actors and the shard answer callers through it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::EngineError;

pub enum Reply<T> {
    One(oneshot::Sender<Result<T, EngineError>>),
    Slot(Arc<Collector<T>>, usize),
}

impl<T> Reply<T> {
    /// Delivers the answer. A caller that stopped waiting is not an error.
    pub fn send(self, result: Result<T, EngineError>) {
        match self {
            Reply::One(tx) => {
                let _ = tx.send(result);
            }
            Reply::Slot(collector, index) => collector.fill(index, result),
        }
    }
}

impl<T> From<oneshot::Sender<Result<T, EngineError>>> for Reply<T> {
    fn from(tx: oneshot::Sender<Result<T, EngineError>>) -> Self {
        Reply::One(tx)
    }
}

/// Every answer of a batch, in the order of its items.
pub type Answers<T> = Vec<Result<T, EngineError>>;

/// The answers of one batch, in the order of its items.
pub struct Collector<T> {
    slots: Mutex<Vec<Option<Result<T, EngineError>>>>,
    remaining: AtomicUsize,
    done: Mutex<Option<oneshot::Sender<Answers<T>>>>,
}

impl<T> Collector<T> {
    pub fn new(len: usize) -> (Arc<Self>, oneshot::Receiver<Answers<T>>) {
        let (tx, rx) = oneshot::channel();
        let collector = Arc::new(Self {
            slots: Mutex::new((0..len).map(|_| None).collect()),
            remaining: AtomicUsize::new(len),
            done: Mutex::new(Some(tx)),
        });
        if len == 0 {
            collector.finish();
        }
        (collector, rx)
    }

    fn fill(&self, index: usize, result: Result<T, EngineError>) {
        let previous = self.slots.lock().expect("collector lock")[index].replace(result);
        assert!(previous.is_none(), "batch slot {index} answered twice");
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.finish();
        }
    }

    fn finish(&self) {
        let answers = std::mem::take(&mut *self.slots.lock().expect("collector lock"));
        if let Some(tx) = self.done.lock().expect("collector lock").take() {
            let _ = tx.send(
                answers
                    .into_iter()
                    .map(|a| a.expect("every slot answered"))
                    .collect(),
            );
        }
    }
}
