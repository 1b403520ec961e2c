//! CPU-heavy work of an import (parsing a file, preparing its rows, freeing
//! the parsed tree) on threads of its own at a lower scheduling priority.
//!
//! What a person waits for is the storing (one connection, one thread at a
//! time) and, on a server, everyone else's pages. On a small machine the
//! import's parsing and preparing would otherwise take CPU from both: with
//! the next file parsed while the current one is stored, a 2-core machine
//! has more runnable threads than cores, and the storing thread was left
//! waiting for a core. At a lower priority that work fills the gaps instead.
//! Measured on 50 Synthea patients, the set stored about 7–11% faster
//! (docs/benchmarks.md). Nothing here changes what is stored, or its order.
//!
//! The threads are new for each job, not tokio's shared blocking pool: a
//! thread's priority, once lowered, cannot be raised again without
//! privileges, and the pool's threads also hash passwords for sign-in.

use tokio::sync::oneshot;

use crate::{CoreError, CoreResult};

/// How much lower than the server's own priority (Linux nice steps; 19 is
/// the lowest).
const NICE_STEP: i32 = 10;

/// A job running on a background thread.
pub(crate) struct Background<T>(oneshot::Receiver<T>);

/// Runs `job` on a new low-priority thread called `name` (Linux shows at
/// most 15 bytes of it).
pub(crate) fn spawn<T: Send + 'static>(name: &str, job: impl FnOnce() -> T + Send + 'static) -> Background<T> {
    let (tx, rx) = oneshot::channel();
    let started = std::thread::Builder::new().name(name.to_string()).spawn(move || {
        lower_priority();
        // The receiver is gone only if the import was abandoned.
        let _ = tx.send(job());
    });
    if let Err(e) = started {
        // The job (and its sender) were dropped with the closure, so `join`
        // reports the failure.
        tracing::error!(error = %e, "could not start an import thread");
    }
    Background(rx)
}

impl<T> Background<T> {
    /// The job's result; an error if it panicked or never started.
    pub(crate) async fn join(self) -> CoreResult<T> {
        self.0.await.map_err(|_| CoreError::Internal("an import thread failed before finishing its work".into()))
    }
}

/// Lowers the calling thread's priority by [`NICE_STEP`]. On Linux nice is
/// per thread; elsewhere this does nothing. Failure is harmless (the thread
/// just keeps its priority), so it is ignored.
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: getpriority/setpriority only read and set a number for the
    // calling thread's own id; no memory is shared with the kernel.
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, (now + NICE_STEP).min(19));
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_returns_its_result_and_a_panic_is_an_error() {
        assert_eq!(spawn("kith-test", || 6 * 7).join().await.unwrap(), 42);
        let failed = spawn("kith-test", || -> u8 { panic!("boom") }).join().await;
        assert!(matches!(failed, Err(CoreError::Internal(_))));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_job_runs_at_a_lower_priority_than_its_caller() {
        fn nice() -> i32 {
            // SAFETY: as in `lower_priority`.
            unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
        }
        let caller = nice();
        let job = spawn("kith-test", nice).join().await.unwrap();
        assert_eq!(job, (caller + NICE_STEP).min(19));
        assert_eq!(nice(), caller, "the caller's own priority is unchanged");
    }
}
