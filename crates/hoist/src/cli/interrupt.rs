//! Ctrl-C (and SIGTERM) as something a foreground loop asks about, so `events --follow`
//! and `webhooks deliver` end cleanly: the signals are blocked and read from a signalfd.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::error::{Error, Result};

#[derive(Debug)]
pub struct Interrupt {
    signals: SignalFd,
    received: AtomicBool,
}

impl Interrupt {
    /// From now on SIGINT and SIGTERM no longer end this process (nor threads it starts
    /// later); `received` reports them instead.
    pub fn catch() -> Result<Self> {
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGINT);
        mask.add(Signal::SIGTERM);
        let failed = |error: nix::Error| Error::internal("cannot catch Ctrl-C").cause(error);
        mask.thread_block().map_err(failed)?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(failed)?;
        Ok(Self {
            signals,
            received: AtomicBool::new(false),
        })
    }

    /// Whether SIGINT or SIGTERM arrived since `catch`.
    pub fn received(&self) -> bool {
        if !self.received.load(Ordering::Relaxed)
            && matches!(self.signals.read_signal(), Ok(Some(_)))
        {
            self.received.store(true, Ordering::Relaxed);
        }
        self.received.load(Ordering::Relaxed)
    }
}
