//! The one connection to a jump host that every host behind it rides: a shared master of the
//! jump host (`SharedSocket`), whose socket goes into the hosts' ProxyCommand. With
//! `ssh_persist` it stays up like any shared master; without, the transports of one command
//! hold it and the last to go closes it (and should the command be killed, the master still
//! exits a few seconds after its last client).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use hoist_core::SshDestination;

use super::command_line::SshCommandLine;
use super::diagnosis::Attempt;
use super::shared_master::SharedSocket;
use crate::error::Result;
use crate::ports::connector::HostTarget;

/// How long a jump master opened for one command outlives its last client when nobody closes it.
const UNOWNED_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(crate) struct JumpMaster {
    socket: SharedSocket,
    command_line: SshCommandLine,
    /// Closed when the last transport lets go (`ssh_persist` is zero).
    close_on_drop: bool,
}

/// The jump masters this process holds, so the hosts of one command share one.
static OPEN: Mutex<Option<HashMap<PathBuf, Weak<JumpMaster>>>> = Mutex::new(None);

impl JumpMaster {
    /// The master of `jump` with `target`'s settings: the one this process or an earlier
    /// command opened, else a new one, logged in before this returns.
    pub fn for_target(
        program: &Path,
        target: &HostTarget,
        jump: &SshDestination,
    ) -> Result<Arc<Self>> {
        let socket = SharedSocket::for_host(program, target, jump, None)?;
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        let open = open.get_or_insert_with(HashMap::new);
        open.retain(|_, master| master.strong_count() > 0);
        if let Some(master) = open.get(&socket.path).and_then(Weak::upgrade)
            && master.socket.is_alive()
        {
            return Ok(master);
        }
        let command_line = SshCommandLine::new(program, target, jump, &socket.path, None)?;
        let persist = match target.ssh_persist {
            Duration::ZERO => UNOWNED_GRACE,
            persist => persist,
        };
        let jump_text = jump.to_string();
        socket.ensure(
            &command_line,
            persist,
            &Attempt {
                destination: &jump_text,
                jump: None,
                connect_timeout: target.connect_timeout,
            },
        )?;
        let master = Arc::new(Self {
            socket,
            command_line,
            close_on_drop: target.ssh_persist.is_zero(),
        });
        open.insert(master.socket.path.clone(), Arc::downgrade(&master));
        Ok(master)
    }

    pub fn socket(&self) -> &Path {
        &self.socket.path
    }

    /// Asks the master to exit now (`destroy`).
    pub fn close(&self) {
        self.socket.close(&self.command_line);
    }
}

impl Drop for JumpMaster {
    fn drop(&mut self) {
        if self.close_on_drop {
            self.close();
        }
    }
}
