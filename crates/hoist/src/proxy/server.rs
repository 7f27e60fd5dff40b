//! The proxy process: the public listener, the serving threads, the admin socket, the pid
//! file, and a graceful stop on SIGTERM or SIGINT (stop accepting, let in-flight requests
//! finish for a while).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::sys::stat::{Mode, umask};
use tokio::net::{TcpListener, UnixListener};
use tokio::signal::unix::{SignalKind, signal};

use crate::error::{Error, Result};
use crate::proxy::forward::Forwarder;
use crate::proxy::in_flight::InFlight;
use crate::proxy::routes::RouteTable;
use crate::proxy::serving_thread::ServingThreads;
use crate::proxy::{ProxyOptions, ProxyPaths};

/// Runs until SIGTERM or SIGINT. Clients are served by [`ServingThreads`]; this thread
/// keeps the admin socket and the signals on a runtime of its own.
pub fn run(options: &ProxyOptions) -> Result<()> {
    let paths = ProxyPaths::new(&options.state_dir);
    fs::create_dir_all(&options.state_dir)
        .map_err(|e| Error::io("create the proxy state directory", &options.state_dir, e))?;
    let routes = Arc::new(RouteTable::load(&paths.routes)?);
    let in_flight = Arc::new(InFlight::default());
    let serving = ServingThreads::start(
        || Forwarder::new(Arc::clone(&routes), &in_flight),
        options.drain_timeout,
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::internal("could not start the proxy's runtime").cause(e))?;
    runtime.block_on(control(options, &paths, routes, in_flight, serving))
}

/// Accepts clients for the serving threads and answers the admin socket until a signal;
/// then stops accepting and waits for the serving threads to drain (the admin socket still
/// answers meanwhile, so `in_flight` can be watched).
async fn control(
    options: &ProxyOptions,
    paths: &ProxyPaths,
    routes: Arc<RouteTable>,
    in_flight: Arc<InFlight>,
    mut serving: ServingThreads,
) -> Result<()> {
    let listener = TcpListener::bind(options.listen).await.map_err(|e| {
        Error::failed(format!("the proxy could not listen on {}", options.listen))
            .cause(e)
            .hint("is another proxy or service using that port?")
    })?;
    let admin = bind_admin_socket(&paths.admin_socket)?;
    let mut terminate = signal(SignalKind::terminate())
        .map_err(|e| Error::internal("could not watch for SIGTERM").cause(e))?;
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|e| Error::internal("could not watch for SIGINT").cause(e))?;
    // Written last: a pid file means the proxy is ready.
    write_pid_file(&paths.pid_file)?;

    loop {
        tokio::select! {
            accepted = listener.accept() => {
                // A failed accept (e.g. out of file descriptors) is about one connection.
                if let Ok((stream, client)) = accepted {
                    serving.serve(stream, client);
                }
            }
            accepted = admin.accept() => {
                if let Ok((stream, _)) = accepted {
                    let (routes, in_flight) = (Arc::clone(&routes), Arc::clone(&in_flight));
                    tokio::spawn(async move {
                        let _ = crate::proxy::admin::serve_connection(stream, routes, in_flight).await;
                    });
                }
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    drop(listener);
    // Dropping the threads stops and joins them; that blocks, so not on this runtime.
    let _ = tokio::task::spawn_blocking(move || drop(serving)).await;
    let _ = fs::remove_file(&paths.admin_socket);
    let _ = fs::remove_file(&paths.pid_file);
    Ok(())
}

/// Binds the admin socket owner-only from its first instant: the umask covers the window
/// before the chmod, which makes it explicit.
fn bind_admin_socket(path: &Path) -> Result<UnixListener> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(Error::io("remove the old admin socket", path, error)),
    }
    let previous = umask(Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    umask(previous);
    let listener = bound.map_err(|e| Error::io("bind the admin socket", path, e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io("restrict the admin socket", path, e))?;
    Ok(listener)
}

fn write_pid_file(path: &PathBuf) -> Result<()> {
    let temporary = path.with_extension("pid.tmp");
    fs::write(&temporary, format!("{}\n", std::process::id()))
        .map_err(|e| Error::io("write the pid file", &temporary, e))?;
    fs::rename(&temporary, path).map_err(|e| Error::io("write the pid file", path, e))
}
