//! The proxy process: the public listener, the admin socket, the pid file, and a graceful
//! stop on SIGTERM or SIGINT (stop accepting, let in-flight requests finish for a while).

use std::convert::Infallible;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use nix::sys::stat::{Mode, umask};
use tokio::net::{TcpListener, UnixListener};
use tokio::signal::unix::{SignalKind, signal};

use crate::error::{Error, Result};
use crate::proxy::forward::Forwarder;
use crate::proxy::in_flight::InFlight;
use crate::proxy::routes::RouteTable;
use crate::proxy::{ProxyOptions, ProxyPaths};

/// A slow client gets this long to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs until SIGTERM or SIGINT; owns its runtime so callers stay synchronous.
pub fn run(options: &ProxyOptions) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("hoist-proxy")
        .build()
        .map_err(|e| Error::internal("could not start the proxy's runtime").cause(e))?;
    runtime.block_on(serve(options))
}

async fn serve(options: &ProxyOptions) -> Result<()> {
    let paths = ProxyPaths::new(&options.state_dir);
    fs::create_dir_all(&options.state_dir)
        .map_err(|e| Error::io("create the proxy state directory", &options.state_dir, e))?;
    let routes = Arc::new(RouteTable::load(&paths.routes)?);
    let in_flight = Arc::new(InFlight::default());
    let forwarder = Forwarder::new(Arc::clone(&routes), Arc::clone(&in_flight));

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

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                // A failed accept (e.g. out of file descriptors) is about one connection.
                let Ok((stream, client)) = accepted else { continue };
                let forwarder = forwarder.clone();
                let service = service_fn(move |request| {
                    let forwarder = forwarder.clone();
                    async move { Ok::<_, Infallible>(forwarder.handle(request, client).await) }
                });
                let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    // A client that hangs up mid-request is its own problem, not the proxy's.
                    let _ = connection.await;
                });
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
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(options.drain_timeout) => {}
    }
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
