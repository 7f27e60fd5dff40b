//! `tokens create|list|revoke`: API tokens for `hoist serve`. The secret is printed once.

use clap::Subcommand;
use hoist_core::EnvName;
use hoist_core::access::{Role, check_token_name};

use crate::cli::args::GlobalArgs;
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::error::Result;
use crate::ops::tokens::{self, CreateTokenOptions, CreatedToken};
use crate::ports::token_store::TokenRecord;

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Make a token for the API; its secret is printed this once
    Create {
        /// 1 to 64 lowercase letters, digits and `-`
        #[arg(value_parser = token_name)]
        name: String,
        /// `viewer` (read), `deployer` (read, deploy, rollback, run) or `admin` (everything)
        #[arg(long, value_parser = role)]
        role: Role,
        /// Limit it to this environment (repeatable; default: all)
        #[arg(long = "env", value_name = "ENV", value_parser = env_name)]
        envs: Vec<EnvName>,
    },
    /// List the tokens (never their secrets)
    List,
    /// Revoke a token: it stops working at once
    Revoke {
        /// The token's id, from `hoist tokens list`
        id: i64,
    },
}

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

fn token_name(text: &str) -> Result<String, String> {
    check_token_name(text)
        .map(|()| text.to_owned())
        .map_err(|e| format!("{e}\nhint: {}", e.hint()))
}

fn role(text: &str) -> Result<Role, String> {
    text.parse::<Role>()
        .map_err(|e| format!("{e}\nhint: {}", e.hint()))
}

fn env_name(text: &str) -> Result<EnvName, String> {
    text.parse::<EnvName>()
        .map_err(|e| format!("{e}\nhint: {}", e.hint()))
}
