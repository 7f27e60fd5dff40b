//! `GET /live/logs?env=ENV&host=…&grep=…`: an environment's new log lines as Server-Sent
//! Events for the logs page's script (session cookie, as `/live/events`). Each message's
//! data is `{"host", "at", "line"}`. The lines come from the op behind `hoist logs
//! --follow`, run on a blocking thread with its cursor (every host asked every 250 ms); it
//! stops when the viewer leaves or the server shuts down.

use std::cell::Cell;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use hoist_core::access::Need;
use tokio::sync::{mpsc, oneshot};

use crate::ops::logs::{Follow, logs as read_logs};
use crate::server::api_error::ApiError;
use crate::server::api_state::ApiState;
use crate::server::dashboard::logs_request::{LogLine, LogsQuery, LogsRequest};
use crate::server::dashboard::page_error::{PageError, PageResult};
use crate::server::dashboard::viewer::Viewer;

/// How often the hosts are asked for new lines.
const POLL: Duration = Duration::from_millis(250);
/// Lines that may wait for a slow viewer before the reading waits.
const BUFFER: usize = 512;

pub async fn logs(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(query): Query<LogsQuery>,
) -> PageResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let Some(request) = LogsRequest::parse(&query)? else {
        return Err(PageError::bad_request("`env` names no environment")
            .hint("follow the logs from the logs page: /logs?env=NAME"));
    };
    viewer.caller().require(&Need::Read {
        env: Some(request.env.clone()),
    })?;
    let (sender, receiver) = mpsc::channel::<LogLine>(BUFFER);
    let (following, started) = oneshot::channel::<()>();
    let shutdown = state.shutdown.clone();
    let runner = state.clone();
    let reading = tokio::spawn(async move {
        runner
            .run_raw(None, move |ctx| {
                let narrowed = request.context(ctx)?;
                let following = Cell::new(Some(following));
                // Asked first right after the first round: from then on, every line is new.
                let stop = || {
                    if let Some(following) = following.take() {
                        // The handler may be gone already; then the next question stops.
                        following.send(()).ok();
                    }
                    shutdown.is_set() || sender.is_closed()
                };
                let follow = Follow {
                    interval: POLL,
                    stop: &stop,
                };
                read_logs(&narrowed, &request.options(0), Some(follow), &mut |line| {
                    // A viewer that left closes the channel; `stop` ends the reading then.
                    sender.blocking_send(LogLine::of(line)).ok();
                    Ok(())
                })?;
                Ok(())
            })
            .await
    });
    if started.await.is_err() {
        // The op ended before it followed: no host, unreadable spec — its error.
        return Err(match reading.await {
            Ok(Err(error)) => PageError::from(error),
            _ => PageError::from(ApiError::internal()),
        });
    }
    let lines = futures_util::stream::unfold(
        (receiver, state.shutdown.clone()),
        |(mut receiver, shutdown)| async move {
            let line = tokio::select! {
                line = receiver.recv() => line?,
                () = shutdown.wait() => return None,
            };
            let data = serde_json::to_string(&line).ok()?;
            Some((Ok(SseEvent::default().data(data)), (receiver, shutdown)))
        },
    );
    Ok(Sse::new(lines).keep_alive(KeepAlive::default()))
}
