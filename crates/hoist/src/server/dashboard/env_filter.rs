//! Which environment a page is narrowed to (`env=`), and the ones its picker offers: those
//! the signed-in token may see.

use hoist_core::EnvName;

use crate::error::Result;
use crate::ops::{self, Context};
use crate::server::caller::Caller;
use crate::server::dashboard::page_error::{PageError, PageResult};

/// `env=` as an environment name; empty is none.
pub fn env_param(text: Option<&str>) -> PageResult<Option<EnvName>> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(name) => name.parse::<EnvName>().map(Some).map_err(|error| {
            PageError::bad_request(format!("`{name}` is not an environment name: {error}"))
        }),
    }
}

/// The environments (of the spec and the store) `caller` may see, by name.
pub fn visible_envs(ctx: &Context<'_>, caller: &Caller) -> Result<Vec<EnvName>> {
    Ok(ops::list(ctx)?
        .into_iter()
        .filter(|summary| caller.sees(Some(&summary.name)))
        .map(|summary| summary.name)
        .collect())
}
