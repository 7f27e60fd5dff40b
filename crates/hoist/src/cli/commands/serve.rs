//! `serve`: the controller — runs scheduled commands at their time and delivers webhooks
//! until SIGINT/SIGTERM, then lets running commands finish within the grace period.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cli::args::{GlobalArgs, ServeArgs};
use crate::cli::session::Session;
use crate::error::{Error, Result};
use crate::scheduler::{Scheduler, SchedulerOptions, SchedulerStop};
use crate::webhooks::webhook_sender::{self, SenderOptions};

pub fn exec(global: &GlobalArgs, args: &ServeArgs) -> Result<()> {
    let session = Arc::new(Session::open(global)?);
    let scheduler = Scheduler::start(
        Arc::clone(&session),
        SchedulerOptions {
            claim_ttl: args.claim_ttl,
            max_running: args.max_running as usize,
            grace: args.grace,
            listen: None,
        },
    )?;
    let senders_stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (session, stop) = (Arc::clone(&session), Arc::clone(&senders_stop));
        std::thread::spawn(move || {
            webhook_sender::run(
                session.store.as_ref(),
                &SenderOptions::default(),
                &session.progress,
                &stop,
            )
        })
    };
    stop_on_signal(scheduler.stopper())?;
    let ran = scheduler.run();
    senders_stop.store(true, Ordering::Relaxed);
    let sent = sender
        .join()
        .unwrap_or_else(|_| Err(Error::internal("the webhook sender panicked")));
    ran.and(sent)
}

/// A thread that waits for SIGINT or SIGTERM and stops the scheduler.
fn stop_on_signal(stop: SchedulerStop) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|error| Error::internal("cannot start the signal listener").cause(error))?;
    let (mut interrupt, mut terminate) = runtime
        .block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            Ok::<_, std::io::Error>((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            ))
        })
        .map_err(|error| Error::internal("cannot listen for signals").cause(error))?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        });
        stop.stop();
    });
    Ok(())
}
