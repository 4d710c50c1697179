//! Stopping an engine: abruptly, as a crash would ([`Engine::halt`]), or gracefully,
//! every applied record made durable and every log synced and closed
//! ([`Engine::shutdown`]).

use actix::{Arbiter, System};
use std::thread::JoinHandle;

use super::Engine;
use crate::error::EngineError;
use crate::shard::Shutdown;

pub(super) struct Running {
    pub(super) system: System,
    pub(super) arbiters: Vec<Arbiter>,
    pub(super) thread: JoinHandle<()>,
}

impl Running {
    /// Stops every shard's arbiter (dropping its actors and, with them, its log handle,
    /// which syncs and closes the log), then the system, and joins their threads.
    fn stop(self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
        for arbiter in self.arbiters {
            let _ = arbiter.join();
        }
        self.system.stop();
        let _ = self.thread.join();
    }
}

impl Engine {
    /// Stops the engine abruptly, as a crash would: no draining, no flush of the records
    /// applied but not yet handed to the write-ahead log, flows cut wherever they are.
    /// Only what the WAL writer already had is written. For crash and simulation tests;
    /// a restart on the same directory recovers exactly what was acknowledged.
    pub fn halt(&self) {
        let Some(running) = self
            .inner
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
        else {
            return;
        };
        running.stop();
        tracing::warn!("engine halted");
    }

    /// Stops taking work, lets every applied record become durable, syncs and closes each
    /// shard's log, and stops the actor system. Blocks; idempotent.
    pub fn shutdown(&self) -> Result<(), EngineError> {
        let Some(running) = self
            .inner
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
        else {
            return Ok(());
        };
        let mut first_error = None;
        let waits: Vec<_> = self
            .inner
            .shards
            .iter()
            .map(|addr| {
                let (done, wait) = std::sync::mpsc::channel();
                addr.do_send(Shutdown { done });
                wait
            })
            .collect();
        for (shard, wait) in waits.into_iter().enumerate() {
            match wait.recv() {
                Ok(Ok(())) => {}
                Ok(Err(cause)) => {
                    first_error.get_or_insert(EngineError::Storage {
                        shard: shard as u16,
                        cause,
                    });
                }
                Err(_) => {}
            }
        }
        running.stop();
        tracing::info!("engine stopped");
        first_error.map_or(Ok(()), Err)
    }
}
