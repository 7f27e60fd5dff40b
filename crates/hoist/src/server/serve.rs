//! `hoist serve`: bind, start the background tasks, answer the API until SIGINT or SIGTERM,
//! then stop accepting, let requests in flight finish (bounded), wait for the background
//! tasks (bounded) and return.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use crate::app::App;
use crate::error::{Error, Result};
use crate::reconciler::{self, ReconcilerOptions};
use crate::scheduler::{Scheduler, SchedulerOptions};
use crate::server::api_state::ApiState;
use crate::server::routes;
use crate::server::shutdown_signal::ShutdownSignal;
use crate::webhooks::webhook_sender::{self, SenderOptions};

/// How long requests in flight may take to finish after a shutdown signal.
const REQUEST_GRACE: Duration = Duration::from_secs(10);
/// How long background tasks may take to finish after a shutdown signal.
const BACKGROUND_GRACE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where the API listens (port 0: any free port; the address is announced on stderr).
    pub listen: SocketAddr,
    pub scheduler: SchedulerOptions,
    pub reconciler: ReconcilerOptions,
}

/// A long-running task of the controller on its own thread.
#[derive(Debug)]
pub struct BackgroundTask {
    pub name: &'static str,
    handle: JoinHandle<()>,
}

impl BackgroundTask {
    /// Runs `work` on a named thread; an error it ends with is logged.
    pub fn thread<F>(name: &'static str, work: F) -> Result<Self>
    where
        F: FnOnce() -> Result<()> + Send + 'static,
    {
        let handle = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                if let Err(error) = work() {
                    tracing::error!("hoist serve: {name} stopped: {error}");
                }
            })
            .map_err(|error| Error::internal(format!("cannot start the {name}")).cause(error))?;
        Ok(Self { name, handle })
    }
}

// ─── Background tasks ────────────────────────────────────────────────────────────────────
// The ONE place where the controller's background tasks start. Each gets the app and
// the shutdown signal, must return soon after `shutdown.is_set()` (or `wait_timeout`
// returns true), and is waited for on shutdown up to BACKGROUND_GRACE.
fn start_background_tasks(
    app: &Arc<App>,
    shutdown: &ShutdownSignal,
    scheduler: SchedulerOptions,
    reconciler: ReconcilerOptions,
) -> Result<Vec<BackgroundTask>> {
    let mut tasks = Vec::new();
    // The scheduler: runs scheduled commands at their time.
    let scheduler = Scheduler::start(Arc::clone(app), scheduler)?;
    let stop_scheduler = scheduler.stopper();
    tasks.push(BackgroundTask::thread("scheduler", move || {
        scheduler.run()
    })?);
    // The webhook sender: turns events into signed deliveries and posts them.
    let stop_sender = Arc::new(AtomicBool::new(false));
    let (sender_app, sender_stop) = (Arc::clone(app), Arc::clone(&stop_sender));
    tasks.push(BackgroundTask::thread("webhook sender", move || {
        webhook_sender::run(
            sender_app.store.as_ref(),
            &SenderOptions::default(),
            sender_app.progress.as_ref(),
            &sender_stop,
        )
    })?);
    // The reconciler: records (and with `--repair` repairs) drift of running environments.
    let (reconciler_app, reconciler_stop) = (Arc::clone(app), shutdown.clone());
    tasks.push(BackgroundTask::thread("reconciler", move || {
        reconciler::run(reconciler_app, reconciler, &reconciler_stop)
    })?);
    // Warm connections: the ssh masters of the environments' hosts stay up.
    let (warm_app, warm_stop) = (Arc::clone(app), shutdown.clone());
    tasks.push(BackgroundTask::thread("warm connections", move || {
        crate::server::warm_connections::run(warm_app, &warm_stop)
    })?);
    // Both stop on the shutdown signal.
    let shutdown = shutdown.clone();
    tasks.push(BackgroundTask::thread("shutdown relay", move || {
        while !shutdown.wait_timeout(Duration::from_secs(3600)) {}
        stop_scheduler.stop();
        stop_sender.store(true, Ordering::Relaxed);
        Ok(())
    })?);
    Ok(tasks)
}
// ─────────────────────────────────────────────────────────────────────────────────────────

/// Serves until SIGINT or SIGTERM; `Ok` after a clean shutdown.
pub fn serve(app: Arc<App>, options: ServeOptions) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("hoist-serve")
        .build()
        .map_err(|error| Error::internal("cannot start the server's runtime").cause(error))?;
    let shutdown = ShutdownSignal::new();
    let served = runtime.block_on(serve_api(Arc::clone(&app), options, shutdown.clone()));
    shutdown.trigger();
    // Blocking threads still running a request's store call are not waited for past this.
    runtime.shutdown_timeout(Duration::from_secs(1));
    served
}

async fn serve_api(app: Arc<App>, options: ServeOptions, shutdown: ShutdownSignal) -> Result<()> {
    // Signals first, so one that arrives right after the announcement is not lost.
    let mut terminate = signal(SignalKind::terminate()).map_err(signal_error)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(signal_error)?;
    let listener = TcpListener::bind(options.listen).await.map_err(|error| {
        Error::failed(format!("cannot listen on `{}`", options.listen))
            .cause(error)
            .hint("choose another address with `--listen 127.0.0.1:PORT`, or stop what holds it")
    })?;
    let address = listener
        .local_addr()
        .map_err(|error| Error::internal("cannot read the listening address").cause(error))?;

    let mut scheduler = options.scheduler.clone();
    scheduler.listen = Some(address.to_string());
    scheduler.grace = scheduler
        .grace
        .min(BACKGROUND_GRACE.saturating_sub(Duration::from_secs(5)));
    // The store is blocking (PostgreSQL's client runs its own runtime): not on this one.
    let reconciler = options.reconciler;
    let tasks = tokio::task::block_in_place(|| {
        start_background_tasks(&app, &shutdown, scheduler, reconciler)
    })?;
    let state = ApiState {
        app,
        shutdown: shutdown.clone(),
        sessions: Arc::default(),
    };
    let app = routes::router(state);
    let stop = shutdown.clone();
    let mut server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.wait().await })
            .await
    });
    tracing::info!("hoist serve: listening on http://{address}");

    let outcome = tokio::select! {
        ended = &mut server => {
            // The server stopped by itself: an accept error it could not get past.
            shutdown.trigger();
            match ended {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(Error::internal("the API server stopped").cause(error)),
                Err(error) => Err(Error::internal("the API server stopped").cause(error)),
            }
        }
        _ = terminate.recv() => stop_serving(&shutdown, "SIGTERM", &mut server).await,
        _ = interrupt.recv() => stop_serving(&shutdown, "SIGINT", &mut server).await,
    };
    wait_for(tasks).await;
    tracing::info!("hoist serve: stopped");
    outcome
}

async fn stop_serving(
    shutdown: &ShutdownSignal,
    signal: &str,
    server: &mut tokio::task::JoinHandle<std::io::Result<()>>,
) -> Result<()> {
    tracing::info!("hoist serve: {signal}: stopping");
    shutdown.trigger();
    if tokio::time::timeout(REQUEST_GRACE, server).await.is_err() {
        tracing::info!(
            "hoist serve: requests still in flight after {} s are dropped",
            REQUEST_GRACE.as_secs()
        );
    }
    Ok(())
}

/// Waits for the background tasks to end, up to BACKGROUND_GRACE in all.
async fn wait_for(tasks: Vec<BackgroundTask>) {
    let deadline = Instant::now() + BACKGROUND_GRACE;
    for task in tasks {
        while !task.handle.is_finished() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if task.handle.is_finished() {
            let _ = task.handle.join();
        } else {
            tracing::info!(
                "hoist serve: the {} did not stop within {} s",
                task.name,
                BACKGROUND_GRACE.as_secs()
            );
        }
    }
}

fn signal_error(error: std::io::Error) -> Error {
    Error::internal("cannot listen for signals").cause(error)
}
