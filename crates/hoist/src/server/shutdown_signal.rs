//! One shutdown flag for a whole controller, waited on from async tasks (`wait`) and from
//! plain threads (`is_set`, `wait_timeout`) alike. Set once, never cleared.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct ShutdownSignal {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    set: Mutex<bool>,
    changed: Condvar,
    notify: watch::Sender<bool>,
}

impl Default for ShutdownSignal {
    fn default() -> Self {
        Self::new()
    }
}

impl ShutdownSignal {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                set: Mutex::new(false),
                changed: Condvar::new(),
                notify: watch::Sender::new(false),
            }),
        }
    }

    /// Asks everything to stop. Idempotent.
    pub fn trigger(&self) {
        *self.lock() = true;
        self.inner.changed.notify_all();
        self.inner.notify.send_replace(true);
    }

    pub fn is_set(&self) -> bool {
        *self.lock()
    }

    /// Blocks up to `timeout` (from a plain thread); true if shutdown was asked for.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let set = self.lock();
        let (set, _) = self
            .inner
            .changed
            .wait_timeout_while(set, timeout, |set| !*set)
            .unwrap_or_else(PoisonError::into_inner);
        *set
    }

    /// Resolves once shutdown is asked for (from an async task).
    pub async fn wait(&self) {
        let mut receiver = self.inner.notify.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = receiver.wait_for(|set| *set).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, bool> {
        // A bool cannot be left half-written: a poisoned lock is still sound.
        self.inner
            .set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn threads_and_tasks_see_the_trigger() -> Result<(), Box<dyn std::error::Error>> {
        let signal = ShutdownSignal::new();
        assert!(!signal.is_set());
        let started = Instant::now();
        assert!(!signal.wait_timeout(Duration::from_millis(30)));
        assert!(started.elapsed() >= Duration::from_millis(30));

        let waiter = {
            let signal = signal.clone();
            std::thread::spawn(move || signal.wait_timeout(Duration::from_secs(10)))
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let task = {
            let signal = signal.clone();
            runtime.spawn(async move { signal.wait().await })
        };
        std::thread::sleep(Duration::from_millis(20));
        signal.trigger();
        assert!(waiter.join().map_err(|_| "waiter panicked")?);
        runtime.block_on(task)?;
        assert!(signal.is_set());
        assert!(signal.wait_timeout(Duration::ZERO), "stays set");
        runtime.block_on(signal.wait());
        Ok(())
    }
}
