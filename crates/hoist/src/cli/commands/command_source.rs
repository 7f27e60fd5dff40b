//! Where `hoist commands …` finds the Commands: the store (through `ops::commands`), or the
//! daemon's API when `HOIST_SERVER` is set. Same answers either way.

use hoist_core::schedule::When;
use serde_json::{Value, json};

use crate::adapters::api_client::ApiClient;
use crate::cli::commands::remote::duration_text;
use crate::error::Result;
use crate::ops::Context;
use crate::ops::commands::{self, RescheduleOptions};
use crate::ports::store::{CommandFilter, CommandRecord};

pub enum CommandSource<'a> {
    Store(Box<Context<'a>>),
    Api(&'a ApiClient),
}

impl std::fmt::Debug for CommandSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Store(_) => f.write_str("CommandSource::Store"),
            Self::Api(api) => f.debug_tuple("CommandSource::Api").field(api).finish(),
        }
    }
}

impl CommandSource<'_> {
    pub fn list(&self, filter: &CommandFilter) -> Result<Vec<CommandRecord>> {
        match self {
            Self::Store(ctx) => commands::list(ctx, filter),
            Self::Api(api) => {
                let mut query = Vec::new();
                if let Some(env) = &filter.env {
                    query.push(format!("env={env}"));
                }
                if let Some(status) = filter.status {
                    query.push(format!("status={}", status.as_str()));
                }
                if filter.limit > 0 {
                    query.push(format!("limit={}", filter.limit));
                }
                let query = if query.is_empty() {
                    String::new()
                } else {
                    format!("?{}", query.join("&"))
                };
                api.get(&format!("/api/commands{query}"))
            }
        }
    }

    pub fn show(&self, id: i64) -> Result<CommandRecord> {
        match self {
            Self::Store(ctx) => commands::show(ctx, id),
            Self::Api(api) => api.get(&format!("/api/commands/{id}")),
        }
    }

    pub fn cancel(&self, id: i64) -> Result<CommandRecord> {
        match self {
            Self::Store(ctx) => commands::cancel(ctx, id),
            Self::Api(api) => api.post(&format!("/api/commands/{id}/cancel"), &json!({})),
        }
    }

    pub fn reschedule(&self, options: &RescheduleOptions) -> Result<CommandRecord> {
        match self {
            Self::Store(ctx) => commands::reschedule(ctx, options),
            Self::Api(api) => {
                let mut body = match options.when {
                    When::At(at) => json!({ "at": at.to_string() }),
                    When::In(after) => json!({ "in": duration_text(after) }),
                };
                if let Some(window) = options.start_within {
                    body["start_within"] = Value::String(duration_text(window));
                }
                api.post(&format!("/api/commands/{}/reschedule", options.id), &body)
            }
        }
    }
}
