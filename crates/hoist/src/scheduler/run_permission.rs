//! The permission check a scheduled command passes again when its time comes: the token it
//! was asked with must still exist, not be revoked, and still grant the action on the
//! environment. A command asked by the local user (no token) acts as that user.

use crate::ops::command_request::CommandRequest;
use crate::ports::store::{CommandRecord, Store};

/// `Err(reason)` when the command may no longer run.
pub fn permission_at_run_time(
    _store: &dyn Store,
    command: &CommandRecord,
    _request: &CommandRequest,
) -> Result<(), String> {
    match command.requested_token {
        None => Ok(()),
        Some(id) => Err(format!(
            "token {id} cannot be checked: this build has no token store"
        )),
    }
}
