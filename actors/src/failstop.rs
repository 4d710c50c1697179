//! Fail-stop: a panic on one of an engine's threads stops that engine.
//!
//! A panic means an assertion about the books or the log did not hold; carrying on could
//! move money on state nobody can vouch for. actix catches a panic in an actor's handler
//! and drops the actor, leaving the rest of the process running with a dead shard that
//! still looks healthy. So every engine registers here: a process-wide panic hook (the
//! previous hook still runs) records the cause against the engine whose thread panicked
//! and stops its actor system. From then on every call to that engine answers
//! `EngineError::Internal` naming the cause, and [`crate::Engine::health`] reports it; the
//! write-ahead log keeps what was durable, and a restart recovers from it. The `omnibus`
//! binary goes further and aborts the process (see `src/main.rs`).
//!
//! An engine's shard threads are actix arbiters of its own actor system, named
//! `actix-rt|system:<id>|arbiter:<n>`; its other threads (the system thread, the log's
//! writer, snapshot and spare threads) are named `omnibus-…` and are not tied to one
//! engine by name, so a panic there stops every engine of the process.

use std::sync::{Arc, Mutex, Once, OnceLock, Weak};

/// Why an engine stopped working, once it did.
#[derive(Default)]
pub struct Failure {
    cause: OnceLock<String>,
    system: OnceLock<actix::System>,
}

impl Failure {
    /// Records the first cause and stops the engine's actor system.
    pub fn fail(&self, cause: String) {
        if self.cause.set(cause.clone()).is_ok() {
            tracing::error!(%cause, "the engine stops: it failed");
            if let Some(system) = self.system.get() {
                system.stop_with_code(1);
            }
        }
    }

    pub fn cause(&self) -> Option<&str> {
        self.cause.get().map(String::as_str)
    }
}

struct Watched {
    system_id: usize,
    failure: Weak<Failure>,
}

static WATCHED: Mutex<Vec<Watched>> = Mutex::new(Vec::new());
static HOOK: Once = Once::new();

/// Watches the engine whose actor system is `system` for panics on its threads.
pub fn watch(system: &actix::System, failure: &Arc<Failure>) {
    let _ = failure.system.set(system.clone());
    let mut watched = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
    watched.retain(|w| w.failure.strong_count() > 0);
    watched.push(Watched {
        system_id: system.id(),
        failure: Arc::downgrade(failure),
    });
    drop(watched);
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("");
            if let Some(engines) = engines_of(name) {
                let cause = format!("a panic on thread {name}: {info}");
                for failure in engines {
                    failure.fail(cause.clone());
                }
            }
            previous(info);
        }));
    });
}

/// The engines a thread of this name belongs to, if it is an engine's thread.
fn engines_of(thread: &str) -> Option<Vec<Arc<Failure>>> {
    let system_id = match thread.strip_prefix("actix-rt|system:") {
        Some(rest) => Some(rest.split('|').next()?.parse::<usize>().ok()?),
        None if thread.starts_with("omnibus-") => None,
        None => return None,
    };
    let watched = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
    Some(
        watched
            .iter()
            .filter(|w| system_id.is_none_or(|id| id == w.system_id))
            .filter_map(|w| w.failure.upgrade())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_engines_own_threads_are_its_threads() {
        assert!(engines_of("main").is_none());
        assert!(engines_of("tests::something").is_none());
        assert!(engines_of("actix-rt|system:7|arbiter:2").is_some());
        assert!(engines_of("omnibus-wal-writer").is_some());
    }
}
