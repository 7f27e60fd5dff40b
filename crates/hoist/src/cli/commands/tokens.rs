//! `tokens create|list|revoke`: API tokens for `hoist serve`. The secret is printed once.

use hoist_core::EnvName;

use crate::cli::args::GlobalArgs;
use crate::cli::daemon_args::TokensCommand;
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::error::Result;
use crate::ops::tokens::{self, CreateTokenOptions, CreatedToken};
use crate::ports::token_store::TokenRecord;

pub fn exec(global: &GlobalArgs, command: &TokensCommand, printer: Printer) -> Result<()> {
    let app = session::open(global)?;
    let ctx = app.context();
    match command {
        TokensCommand::Create { name, role, envs } => {
            let options = CreateTokenOptions {
                name: name.clone(),
                role: *role,
                envs: envs.clone(),
                created_by: None,
            };
            let created = tokens::create(&ctx, &options)?;
            printer.print(&created, render_created)
        }
        TokensCommand::List => printer.print(&tokens::list(&ctx)?, |rows| render_list(rows)),
        TokensCommand::Revoke { id } => {
            let token = tokens::revoke(&ctx, *id, None)?;
            printer.print(&token, |token| {
                format!("revoked token {} `{}`", token.id, token.name)
            })
        }
    }
}

fn render_created(created: &CreatedToken) -> String {
    format!(
        "token {} `{}` ({}, {})\n{}\n\nkeep the secret above now: it is not shown again",
        created.token.id,
        created.token.name,
        created.token.role,
        scope(&created.token),
        created.secret
    )
}

fn render_list(rows: &[TokenRecord]) -> String {
    if rows.is_empty() {
        return "no tokens; make one with `hoist tokens create NAME --role viewer`".to_owned();
    }
    let mut text = format!(
        "{:<5} {:<24} {:<9} {:<20} {:<21} {}\n",
        "ID", "NAME", "ROLE", "ENVS", "CREATED", "STATE"
    );
    for row in rows {
        let state = match (row.revoked_at, row.last_used_at) {
            (Some(at), _) => format!("revoked {}", minute(at)),
            (None, Some(at)) => format!("used {}", minute(at)),
            (None, None) => "never used".to_owned(),
        };
        text.push_str(&format!(
            "{:<5} {:<24} {:<9} {:<20} {:<21} {state}\n",
            row.id,
            row.name,
            row.role.as_str(),
            scope(row),
            minute(row.created_at),
        ));
    }
    text
}

fn scope(token: &TokenRecord) -> String {
    if token.envs.is_empty() {
        "all".to_owned()
    } else {
        let names: Vec<&str> = token.envs.iter().map(EnvName::as_str).collect();
        names.join(",")
    }
}

fn minute(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%MZ").to_string()
}
