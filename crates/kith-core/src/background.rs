//! CPU-heavy work of an import on threads of its own, and, for the work that
//! nothing is waiting for yet, at a lower scheduling priority.
//!
//! What a person waits for is the storing (one connection, one thread at a
//! time) and, on a server, everyone else's pages. With the next file parsed
//! while the current one is stored, a 2-core machine has more runnable
//! threads than cores, and the storing thread was left waiting for a core.
//! So parsing and checking a file, and freeing a parsed tree afterwards,
//! run at a lower priority ([`Priority::Low`]) and fill the gaps instead.
//! Preparing rows and hashing the file stay at normal priority: the open
//! transaction waits for them, and on SQLite it holds the database's write
//! lock meanwhile, so starving them would hold up every other writer and
//! page view. Nothing here changes what is stored, or its order.
//!
//! The threads are new for each job, not tokio's shared blocking pool: a
//! thread's priority, once lowered, cannot be raised again without
//! privileges, and the pool's threads also hash passwords for sign-in.

use tokio::sync::oneshot;

use crate::{CoreError, CoreResult};

/// How much lower than the server's own priority [`Priority::Low`] work
/// runs (Linux nice steps; 19 is the lowest).
const NICE_STEP: i32 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Priority {
    /// The server's own: for work an open transaction is waiting for.
    Normal,
    /// Lower by [`NICE_STEP`]: for work nobody is waiting for yet.
    Low,
}

/// A job running on a background thread.
pub(crate) struct Background<T> {
    name: String,
    /// The job's result, or what it panicked with.
    result: oneshot::Receiver<Result<T, String>>,
}

/// Runs `job` on a new thread called `name` (Linux shows at most 15 bytes
/// of it).
pub(crate) fn spawn<T: Send + 'static>(name: &str, priority: Priority, job: impl FnOnce() -> T + Send + 'static) -> Background<T> {
    let (tx, rx) = oneshot::channel();
    let started = std::thread::Builder::new().name(name.to_string()).spawn(move || {
        if priority == Priority::Low {
            lower_priority();
        }
        // A panic becomes an error for whoever joins, with its message
        // (tokio's blocking pool, used before, carried it the same way).
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).map_err(|p| panic_message(p.as_ref()));
        // The receiver is gone only if nobody wants the result any more.
        let _ = tx.send(result);
    });
    if let Err(e) = started {
        // The job (and its sender) were dropped with the closure, so `join`
        // reports the failure.
        tracing::error!(error = %e, thread = name, "could not start a background thread");
    }
    Background { name: name.to_string(), result: rx }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_else(|| "no message".into())
}

impl<T> Background<T> {
    /// The job's result; an error, naming the thread and what it panicked
    /// with, if it panicked or never started.
    pub(crate) async fn join(self) -> CoreResult<T> {
        match self.result.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(panic)) => Err(CoreError::Internal(format!("background thread {} panicked: {panic}", self.name))),
            Err(_) => Err(CoreError::Internal(format!("background thread {} did not start", self.name))),
        }
    }
}

/// Lowers the calling thread's priority by [`NICE_STEP`]. On Linux nice is
/// per thread, and `PRIO_PROCESS` with id 0 means the calling thread;
/// elsewhere this does nothing. Failure is harmless (the thread just keeps
/// its priority), so it is ignored.
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: getpriority/setpriority take and return plain integers about
    // the calling thread; no memory is shared with the kernel.
    unsafe {
        let now = libc::getpriority(libc::PRIO_PROCESS, 0);
        let _ = libc::setpriority(libc::PRIO_PROCESS, 0, (now + NICE_STEP).min(19));
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_returns_its_result_and_a_panic_is_an_error() {
        assert_eq!(spawn("kith-test", Priority::Low, || 6 * 7).join().await.unwrap(), 42);
        let failed = spawn("kith-test", Priority::Normal, || -> u8 { panic!("boom {}", 7) }).join().await;
        match failed {
            Err(CoreError::Internal(m)) => assert_eq!(m, "background thread kith-test panicked: boom 7"),
            other => panic!("expected the panic as an error, got {other:?}"),
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn low_priority_jobs_run_below_their_caller_and_normal_ones_at_its_level() {
        fn nice() -> i32 {
            // SAFETY: as in `lower_priority`.
            unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
        }
        let caller = nice();
        assert_eq!(spawn("kith-test", Priority::Low, nice).join().await.unwrap(), (caller + NICE_STEP).min(19));
        assert_eq!(spawn("kith-test", Priority::Normal, nice).join().await.unwrap(), caller);
        assert_eq!(nice(), caller, "the caller's own priority is unchanged");
    }
}
