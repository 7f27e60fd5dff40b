//! The command line: parse, run on a tokio runtime, print, exit.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use hyper::header::{HeaderName, HeaderValue};
use tokio::signal::unix::{SignalKind, signal};

use crate::error::{Error, Result};
use crate::run::{RunOptions, run};
use crate::serve::Server;

/// How long `serve` waits for requests in flight after SIGTERM before it exits anyway.
const SERVE_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Parser)]
#[command(
    name = "hoist-loadgen",
    about = "Constant-rate HTTP/1.1 load that counts every failure, and a fast service to aim it at"
)]
pub struct Arguments {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send a constant load and record every request; summary on stdout
    Run(RunArguments),
    /// Answer every request with 200 until SIGTERM, then finish the ones in flight
    Serve(ServeArguments),
}

#[derive(Debug, clap::Args)]
struct RunArguments {
    /// Where to send GET requests, e.g. `http://127.0.0.1:8080/`
    #[arg(long)]
    url: String,
    /// Requests per second over all connections together
    #[arg(long)]
    rate: f64,
    /// Keep-alive connections, each reopened after a failure
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// How long to send, e.g. `60s`, `500ms`, `2m`
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Stop after sending this many requests
    #[arg(long)]
    max_requests: Option<u64>,
    /// A request without a whole response by then counts as a timeout
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    timeout: Duration,
    /// Write one CSV row per request: start_unix_ns,latency_us,status_or_error
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the summary as JSON
    #[arg(long)]
    json: bool,
    /// Send this header with every request, `NAME: VALUE` (repeatable)
    #[arg(long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    headers: Vec<(HeaderName, HeaderValue)>,
}

#[derive(Debug, clap::Args)]
struct ServeArguments {
    /// The address to listen on [default: 127.0.0.1:$PORT]
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The body of every response
    #[arg(long, default_value = "ok")]
    body: String,
}

pub fn main() -> ExitCode {
    let arguments = Arguments::parse();
    match execute(arguments.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = std::io::stderr()
                .lock()
                .write_all(error.report().as_bytes());
            ExitCode::from(2)
        }
    }
}

fn execute(command: Command) -> Result<()> {
    match command {
        Command::Run(arguments) => {
            // A paced load needs little CPU; one thread leaves the rest to what is measured.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::new("could not start the runtime").cause(e))?;
            runtime.block_on(execute_run(arguments))
        }
        Command::Serve(arguments) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::new("could not start the runtime").cause(e))?;
            runtime.block_on(execute_serve(arguments))
        }
    }
}

async fn execute_run(arguments: RunArguments) -> Result<()> {
    let options = RunOptions {
        url: arguments.url,
        rate: arguments.rate,
        connections: arguments.connections,
        duration: arguments.duration,
        max_requests: arguments.max_requests,
        timeout: arguments.timeout,
        headers: arguments.headers,
    };
    let report = run(&options, stop_signal()?).await?;
    if let Some(path) = &arguments.out {
        report.write_csv(path)?;
    }
    let summary = report.summary();
    let text = if arguments.json {
        let mut json = serde_json::to_string_pretty(&summary)
            .map_err(|e| Error::new("could not encode the summary").cause(e))?;
        json.push('\n');
        json
    } else {
        summary.to_text()
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| Error::new("could not print the summary").cause(e))
}

async fn execute_serve(arguments: ServeArguments) -> Result<()> {
    let address = match arguments.listen {
        Some(address) => address,
        None => SocketAddr::from((Ipv4Addr::LOCALHOST, port_from_environment()?)),
    };
    let server = Server::bind(address, arguments.body).await?;
    let stop = stop_signal()?;
    let _ = writeln!(
        std::io::stderr().lock(),
        "listening on {}",
        server.local_address()?
    );
    server.run(stop, SERVE_DRAIN_TIMEOUT).await;
    Ok(())
}

fn port_from_environment() -> Result<u16> {
    let missing = || {
        Error::new("no address to listen on").hint("pass `--listen 127.0.0.1:8080` or set `PORT`")
    };
    let port = std::env::var("PORT").map_err(|_| missing())?;
    port.trim()
        .parse()
        .map_err(|e| Error::new(format!("`PORT` is not a port: `{port}`")).cause(e))
}

/// Resolves at the first SIGTERM or SIGINT. Watching starts now, before any work.
fn stop_signal() -> Result<impl Future<Output = ()>> {
    let mut terminate = signal(SignalKind::terminate())
        .map_err(|e| Error::new("could not watch for SIGTERM").cause(e))?;
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|e| Error::new("could not watch for SIGINT").cause(e))?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// `60s`, `500ms`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like `60s` or `500ms`"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("`{unit}` is not a unit; use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}` is out of range: {e}"))
}

fn parse_header(text: &str) -> std::result::Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}` is not `NAME: VALUE`"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("`{}` is not a header name", name.trim()))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of `{name}` is not a header value"))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_their_units() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn headers_read_as_name_and_value() {
        let (name, value) = parse_header("Authorization: Bearer hoist_ab").unwrap();
        assert_eq!(name.as_str(), "authorization");
        assert_eq!(value, "Bearer hoist_ab");
        assert!(parse_header("no colon here").is_err());
        assert!(parse_header("bad name: x").is_err());
    }

    #[test]
    fn the_command_line_parses() {
        use clap::CommandFactory;
        Arguments::command().debug_assert();
    }
}
