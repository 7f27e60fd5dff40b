//! The `Supervisor` port on this machine: hands instances to the root's supervisor process,
//! keeps it running, manages the boot entry and reads the host journal.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::hostside::boot_entry::BootEntries;
use crate::hostside::process_runtime::ProcessRuntime;
use crate::hostside::supervisor::{Journal, SupervisorProcess};
use crate::ports::runtime::Slot;
use crate::ports::supervisor::{
    BootEntry, HostEvent, SupervisionPolicy, Supervisor, SupervisorStart, SupervisorState,
};

#[derive(Debug, Clone)]
pub struct LocalSupervisor {
    root: PathBuf,
}

impl LocalSupervisor {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }
}

impl Supervisor for LocalSupervisor {
    fn supervise(&self, slot: Slot, policy: &SupervisionPolicy) -> Result<SupervisorStart> {
        ProcessRuntime::new(&self.root).mark_supervised(slot, policy)?;
        self.ensure_supervisor()
    }

    fn ensure_supervisor(&self) -> Result<SupervisorStart> {
        SupervisorProcess::new(&self.root).ensure()
    }

    fn supervisor_state(&self) -> Result<Option<SupervisorState>> {
        Ok(SupervisorProcess::new(&self.root).state())
    }

    fn stop_supervisor(&self) -> Result<bool> {
        SupervisorProcess::new(&self.root).stop()
    }

    fn boot_entry(&self) -> Result<BootEntry> {
        BootEntries::new(&self.root).state()
    }

    fn install_boot_entry(&self) -> Result<BootEntry> {
        BootEntries::new(&self.root).install()
    }

    fn remove_boot_entry(&self) -> Result<bool> {
        BootEntries::new(&self.root).remove()
    }

    fn host_events(&self) -> Result<Vec<HostEvent>> {
        Journal::new(&self.root).pending()
    }

    fn ack_host_events(&self, seq: u64) -> Result<()> {
        Journal::new(&self.root).acknowledge(seq)
    }
}
