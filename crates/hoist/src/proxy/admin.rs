//! The admin socket: one JSON command a line in, one JSON reply a line out. Only the owner
//! may connect (the socket is 0600), so there is no authentication beyond that.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as AsyncBufReader};

use crate::error::{Error, Result};
use crate::proxy::in_flight::InFlight;
use crate::proxy::routes::{RouteTable, Routes};

/// A command, as `{"set_upstream": "127.0.0.1:4001"}`, `{"set_static": "/srv/app/live/public"}`,
/// `{"get": null}`, `{"maintenance": true}` or `{"health_paths": ["/health"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminCommand {
    /// Routes new requests to this upstream (or to none: 503) in one atomic swap; clears the
    /// static root.
    SetUpstream(Option<SocketAddr>),
    /// Serves new requests from the files under this absolute directory (or from nothing:
    /// 503) in one atomic swap; clears the upstream.
    SetStatic(Option<PathBuf>),
    Get(Option<()>),
    Maintenance(bool),
    HealthPaths(Vec<String>),
}

/// The answer to every command: the table after it, and what is still being answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminReply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Routes>,
    /// Requests in flight per upstream; an upstream missing here has none.
    #[serde(default)]
    pub in_flight: BTreeMap<SocketAddr, usize>,
}

/// Applies one command line to the table.
pub fn answer(line: &str, routes: &RouteTable, in_flight: &InFlight) -> AdminReply {
    let outcome = serde_json::from_str::<AdminCommand>(line)
        .map_err(|e| format!("not a command ({e}); try {{\"get\": null}}"))
        .and_then(|command| {
            let changed = match command {
                AdminCommand::Get(_) => return Ok(routes.current()),
                AdminCommand::SetUpstream(upstream) => routes.update(|r| {
                    r.upstream = upstream;
                    r.static_root = None;
                }),
                AdminCommand::SetStatic(Some(root)) if !root.is_absolute() => {
                    return Err(format!(
                        "the static root {} is not an absolute path; the proxy does not \
                         resolve paths against its own working directory",
                        root.display()
                    ));
                }
                AdminCommand::SetStatic(root) => routes.update(|r| {
                    r.static_root = root;
                    r.upstream = None;
                }),
                AdminCommand::Maintenance(on) => routes.update(|r| r.maintenance = on),
                AdminCommand::HealthPaths(paths) => routes.update(|r| r.health_paths = paths),
            };
            changed.map_err(|e| e.to_string())
        });
    match outcome {
        Ok(table) => AdminReply {
            ok: true,
            error: None,
            routes: Some(Routes::clone(&table)),
            in_flight: in_flight.snapshot(),
        },
        Err(error) => AdminReply {
            ok: false,
            error: Some(error),
            routes: None,
            in_flight: in_flight.snapshot(),
        },
    }
}

/// Serves one admin connection until the peer hangs up.
pub async fn serve_connection(
    stream: tokio::net::UnixStream,
    routes: Arc<RouteTable>,
    in_flight: Arc<InFlight>,
) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut lines = AsyncBufReader::new(reader).lines();
    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        // Writing the table is a small synchronous fsync; keep it off the I/O threads.
        let (routes, in_flight) = (Arc::clone(&routes), Arc::clone(&in_flight));
        let reply = tokio::task::spawn_blocking(move || answer(&line, &routes, &in_flight))
            .await
            .map_err(std::io::Error::other)?;
        let mut bytes = serde_json::to_vec(&reply).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        writer.write_all(&bytes).await?;
    }
    Ok(())
}

/// Sends one command to a running proxy and waits for its reply (for the controller side).
pub fn request(socket: &Path, command: &AdminCommand) -> Result<AdminReply> {
    let failed = |e: std::io::Error| {
        Error::failed(format!(
            "the proxy admin socket {} did not answer",
            socket.display()
        ))
        .cause(e)
        .hint("is `hoist proxy` running for this state directory?")
    };
    let mut stream = UnixStream::connect(socket).map_err(failed)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(failed)?;
    let mut line = serde_json::to_vec(command)
        .map_err(|e| Error::internal("could not encode an admin command").cause(e))?;
    line.push(b'\n');
    stream.write_all(&line).map_err(failed)?;
    let mut reply = String::new();
    BufReader::new(stream)
        .read_line(&mut reply)
        .map_err(failed)?;
    let reply: AdminReply = serde_json::from_str(&reply)
        .map_err(|e| Error::internal("the proxy sent a reply that is not JSON").cause(e))?;
    match (reply.ok, &reply.error) {
        (true, _) => Ok(reply),
        (false, error) => Err(Error::failed(format!(
            "the proxy refused the command: {}",
            error.as_deref().unwrap_or("no reason given")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_from_their_documented_forms() {
        let parse = |s: &str| serde_json::from_str::<AdminCommand>(s).unwrap();
        assert_eq!(parse(r#"{"get": null}"#), AdminCommand::Get(None));
        assert_eq!(
            parse(r#"{"maintenance": true}"#),
            AdminCommand::Maintenance(true)
        );
        assert_eq!(
            parse(r#"{"set_upstream": "127.0.0.1:4001"}"#),
            AdminCommand::SetUpstream(Some("127.0.0.1:4001".parse().unwrap()))
        );
        assert_eq!(
            parse(r#"{"set_upstream": null}"#),
            AdminCommand::SetUpstream(None)
        );
        assert_eq!(
            parse(r#"{"set_static": "/srv/app/live/public"}"#),
            AdminCommand::SetStatic(Some(PathBuf::from("/srv/app/live/public")))
        );
        assert_eq!(
            parse(r#"{"set_static": null}"#),
            AdminCommand::SetStatic(None)
        );
    }

    #[test]
    fn a_static_root_and_an_upstream_replace_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let routes = RouteTable::load(&dir.path().join("routes.json")).unwrap();
        let in_flight = InFlight::default();
        let reply = answer(r#"{"set_upstream": "127.0.0.1:4001"}"#, &routes, &in_flight);
        assert!(reply.ok);
        let reply = answer(r#"{"set_static": "/srv/site"}"#, &routes, &in_flight);
        let table = reply.routes.unwrap();
        assert_eq!(table.static_root, Some(PathBuf::from("/srv/site")));
        assert_eq!(table.upstream, None);
        assert_eq!(table.version, 2, "one change, one version");
        let reply = answer(r#"{"set_upstream": "127.0.0.1:4002"}"#, &routes, &in_flight);
        let table = reply.routes.unwrap();
        assert_eq!(table.static_root, None);
        assert_eq!(table.upstream, Some("127.0.0.1:4002".parse().unwrap()));

        let reply = answer(r#"{"set_static": "relative/site"}"#, &routes, &in_flight);
        assert!(!reply.ok);
        assert!(reply.error.unwrap().contains("not an absolute path"));
        assert_eq!(
            routes.current().version,
            3,
            "a refused command changes nothing"
        );
    }

    #[test]
    fn a_bad_line_is_answered_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let routes = RouteTable::load(&dir.path().join("routes.json")).unwrap();
        let reply = answer(
            "{\"set_upstream\": \"nowhere\"}",
            &routes,
            &InFlight::default(),
        );
        assert!(!reply.ok);
        assert!(reply.error.unwrap().contains("not a command"));
        let reply = answer("{\"maintenance\": true}", &routes, &InFlight::default());
        assert!(reply.ok);
        assert_eq!(reply.routes.unwrap().version, 1);
    }
}
