//! Who listens on a TCP port of this host, read from Linux's `/proc`: the LISTEN sockets of
//! `/proc/net/tcp` and `/proc/net/tcp6` bound to the port on any address or loopback, then the
//! processes whose `/proc/PID/fd` hold them. `/proc/net` shows the sockets of the reader's
//! network namespace and socket inodes are unique machine-wide, so a host that is only a
//! network namespace sharing the pid space (the SSH testbed) sees its own listeners and still
//! finds their processes.
//!
//! Two questions: may an instance start on a port (`ensure_free`, before `start`), and did the
//! instance hoist started answer a probe (`answerer`, after each try).

use std::fmt;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use crate::error::{Error, Result};
use crate::hostside::proc_identity;
use crate::hostside::root_id::{self, INSTANCE_MARK};
use crate::ports::runtime::{PortHolder, Slot};

/// The `st` of a listening socket in `/proc/net/tcp*`.
const LISTEN: &str = "0A";
/// How many descendants of a group's leader are looked at before every process is.
const MAX_DESCENDANTS: usize = 64;
/// The longest command line quoted in a message.
const MAX_COMMAND: usize = 160;

/// A listening socket on the port, as `/proc/net/tcp*` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub address: IpAddr,
    /// The socket's owner, even when its process is hidden from hoist.
    pub uid: u32,
    pub inode: u64,
}

impl Listener {
    /// A connection to `127.0.0.1`, the probe's, can reach it.
    fn takes_probe(&self) -> bool {
        let v4 = match self.address {
            IpAddr::V4(v4) => v4,
            // `::` is dual-stack unless the socket says otherwise, which /proc does not show.
            IpAddr::V6(v6) if v6.is_unspecified() => return true,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4,
                None => return false,
            },
        };
        v4.is_unspecified() || v4 == Ipv4Addr::LOCALHOST
    }
}

/// Who holds a listening socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortOwner {
    Process {
        pid: u32,
        process_group: u32,
        command: String,
        /// Set when its environment carries hoist's instance mark.
        instance: Option<InstanceMark>,
        /// Its working directory, when that was deleted: an instance whose deploy root was
        /// removed by hand, which no hoist command answers for any more.
        deleted_cwd: Option<String>,
    },
    /// Another user's process, whose descriptors hoist may not read.
    Hidden { uid: u32 },
    /// No process hoist can see holds it (another pid namespace, or it just went away).
    Unknown { inode: u64 },
}

/// `HOIST_INSTANCE=<root id>:<slot>` on a holder: which deploy root's instance it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceMark {
    pub slot: Slot,
    /// The root that asks (`root-id` equal), or another one.
    pub this_root: bool,
}

/// Who answers `127.0.0.1:port`, seen from an instance's process group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answerer {
    /// Nothing listens there.
    Nobody,
    /// A process of the group holds the listener.
    Instance,
    /// Someone else does.
    Other(PortOwner),
}

/// Refuses when a process listens on `port` (any address or loopback), naming it. `root` is
/// the deploy root asking, so its own instances are told from another root's.
pub fn ensure_free(port: u16, root: &Path) -> Result<()> {
    let Some(listener) = listeners(port).into_iter().next() else {
        return Ok(());
    };
    let holder = described(&owner_of(&listener, root));
    Err(
        Error::failed(format!("port {port} is already taken by {}", holder.holder))
            .hint(holder.hint),
    )
}

/// Who listens on `port` (any address or loopback), named, with what to do about it.
pub fn holder(port: u16, root: &Path) -> Option<PortHolder> {
    let listener = listeners(port).into_iter().next()?;
    Some(described(&owner_of(&listener, root)))
}

fn described(owner: &PortOwner) -> PortHolder {
    let hint = match owner {
        PortOwner::Process {
            process_group,
            deleted_cwd: Some(_),
            ..
        } => format!(
            "a deploy root removed by hand leaves its instances running: stop it with \
             `kill -TERM -- -{process_group}`, then deploy again"
        ),
        _ => "free the port, or pick another `port` for the service in the spec".to_owned(),
    };
    let this_root = matches!(
        owner,
        PortOwner::Process {
            instance: Some(InstanceMark {
                this_root: true,
                ..
            }),
            ..
        }
    );
    PortHolder {
        holder: owner.to_string(),
        hint,
        this_root,
    }
}

/// Who answers a probe on `127.0.0.1:port`: `Instance` when a listener reachable there is
/// held by a process of `group` (the instance's pid, which leads its group). Reads the fds of
/// the group's members only, not every process's, unless another holder must be named.
pub fn answerer(port: u16, group: u32, root: &Path) -> Answerer {
    let reachable: Vec<Listener> = listeners(port)
        .into_iter()
        .filter(Listener::takes_probe)
        .collect();
    let Some(first) = reachable.first() else {
        return Answerer::Nobody;
    };
    let inodes: Vec<u64> = reachable.iter().map(|l| l.inode).collect();
    if group_holds(group, &inodes) {
        return Answerer::Instance;
    }
    let owner = owner_of(first, root);
    if let PortOwner::Process { pid, .. } = owner
        && container_holder::serves_container_of(pid, group)
    {
        return Answerer::Instance;
    }
    Answerer::Other(owner)
}

/// The LISTEN sockets on `port` bound to any address or to loopback, IPv4 then IPv6: asked of
/// the kernel (`sock_diag`), else read from `/proc/net/tcp*`.
pub fn listeners(port: u16) -> Vec<Listener> {
    let mut found = Vec::new();
    for (family, table) in [
        (rustix::net::AddressFamily::INET, "/proc/net/tcp"),
        (rustix::net::AddressFamily::INET6, "/proc/net/tcp6"),
    ] {
        let listening =
            sock_diag::listening(port, family).unwrap_or_else(|_| table_listeners(table, port));
        found.extend(
            listening
                .into_iter()
                .filter(|listener| binds_any_or_loopback(listener.address)),
        );
    }
    found
}

/// The LISTEN sockets on `port` in one of `/proc/net/tcp*`.
fn table_listeners(table: &str, port: u16) -> Vec<Listener> {
    // No tcp6 table when IPv6 is off: nothing listens there.
    let Ok(text) = fs::read_to_string(table) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(parse_line)
        .filter(|(listener_port, _)| *listener_port == port)
        .map(|(_, listener)| listener)
        .collect()
}

fn binds_any_or_loopback(address: IpAddr) -> bool {
    let address = match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    address.is_unspecified() || address.is_loopback()
}

/// One row of `/proc/net/tcp*` → its local port and the listener, when it is in LISTEN state.
/// `sl local rem st tx:rx tr:when retrnsmt uid timeout inode …`.
fn parse_line(line: &str) -> Option<(u16, Listener)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.get(3) != Some(&LISTEN) {
        return None;
    }
    let (address, port) = fields.get(1)?.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let address = parse_address(address)?;
    let uid = fields.get(7)?.parse().ok()?;
    let inode = fields.get(9)?.parse().ok()?;
    Some((
        port,
        Listener {
            address,
            uid,
            inode,
        },
    ))
}

/// The kernel prints each 32-bit word of the address (network byte order in memory) as a
/// native integer, so its native bytes are the address's bytes.
fn parse_address(hex: &str) -> Option<IpAddr> {
    let word = |index: usize| -> Option<[u8; 4]> {
        let text = hex.get(index * 8..index * 8 + 8)?;
        Some(u32::from_str_radix(text, 16).ok()?.to_ne_bytes())
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut bytes = [0; 16];
            for index in 0..4 {
                bytes[index * 4..index * 4 + 4].copy_from_slice(&word(index)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// A process of `group` holds one of `inodes`. The leader first, then its descendants (an
/// instance's service is its monitor's child), and only then every other process of the
/// group, found by reading the stat of every process on the host.
fn group_holds(group: u32, inodes: &[u64]) -> bool {
    let leads = proc_identity::read(group).is_some_and(|stat| stat.process_group == group);
    if leads && holds(group, inodes).unwrap_or(false) {
        return true;
    }
    let mut looked_at = vec![group];
    if leads {
        let mut next = children(group);
        while let Some(pid) = next.pop() {
            if looked_at.contains(&pid) || looked_at.len() >= MAX_DESCENDANTS {
                continue;
            }
            looked_at.push(pid);
            let member = proc_identity::read(pid)
                .is_some_and(|stat| stat.process_group == group && !stat.is_zombie());
            if member && holds(pid, inodes).unwrap_or(false) {
                return true;
            }
            next.extend(children(pid));
        }
    }
    proc_identity::group_members(group)
        .into_iter()
        .filter(|pid| !looked_at.contains(pid))
        .any(|pid| holds(pid, inodes).unwrap_or(false))
}

/// The children of every thread of `pid` (`/proc/PID/task/TID/children`); none when the
/// kernel does not list them.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| fs::read_to_string(task.ok()?.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Whether `pid`'s descriptors include one of `inodes`; `Err` when hoist may not read them.
fn holds(pid: u32, inodes: &[u64]) -> io::Result<bool> {
    let entries = fs::read_dir(format!("/proc/{pid}/fd"))?;
    Ok(entries.filter_map(|entry| entry.ok()).any(|entry| {
        fs::read_link(entry.path())
            .ok()
            .and_then(|target| socket_inode(&target))
            .is_some_and(|inode| inodes.contains(&inode))
    }))
}

/// `socket:[12345]` → 12345.
fn socket_inode(target: &Path) -> Option<u64> {
    target
        .to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Names the holder of `listener`: scans every process's descriptors (only on the way to an
/// error or a refused probe), lowest pid first, which is usually the parent of its workers.
fn owner_of(listener: &Listener, root: &Path) -> PortOwner {
    let mut pids: Vec<u32> = fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    let mut denied = false;
    for pid in pids {
        match holds(pid, &[listener.inode]) {
            Ok(true) => return describe(pid, root),
            Ok(false) => {}
            Err(error) if error.kind() == io::ErrorKind::PermissionDenied => denied = true,
            Err(_) => {}
        }
    }
    if denied && listener.uid != nix::unistd::geteuid().as_raw() {
        PortOwner::Hidden { uid: listener.uid }
    } else {
        PortOwner::Unknown {
            inode: listener.inode,
        }
    }
}

fn describe(pid: u32, root: &Path) -> PortOwner {
    let process_group = proc_identity::read(pid).map_or(pid, |stat| stat.process_group);
    PortOwner::Process {
        pid,
        process_group,
        command: one_line(&proc_identity::command_line(pid).unwrap_or_default()),
        instance: instance_mark(pid, root),
        deleted_cwd: deleted_cwd(pid),
    }
}

/// The holder's working directory when it no longer exists (the kernel marks its path).
fn deleted_cwd(pid: u32) -> Option<String> {
    let cwd = fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
    let cwd = cwd.to_str()?.strip_suffix(" (deleted)")?;
    Some(cwd.to_owned())
}

/// A command line fit for a one-line message: whitespace runs as one space, at most
/// `MAX_COMMAND` characters.
fn one_line(command: &str) -> String {
    let words = command.split_whitespace().collect::<Vec<_>>().join(" ");
    match words.char_indices().nth(MAX_COMMAND) {
        Some((cut, _)) => format!("{}…", &words[..cut]),
        None => words,
    }
}

/// The holder's `HOIST_INSTANCE=<root id>:<slot>`, compared with `root`'s id.
fn instance_mark(pid: u32, root: &Path) -> Option<InstanceMark> {
    let environ = fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{INSTANCE_MARK}=");
    let value = environ
        .split(|&byte| byte == 0)
        .find_map(|variable| variable.strip_prefix(prefix.as_bytes()))?;
    let (id, slot) = std::str::from_utf8(value).ok()?.rsplit_once(':')?;
    Some(InstanceMark {
        slot: slot.parse().ok()?,
        this_root: root_id::read(root).is_some_and(|own| own == id),
    })
}

impl fmt::Display for PortOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Process {
                pid,
                process_group,
                command,
                instance,
                deleted_cwd,
            } => {
                write!(f, "pid {pid} (`{command}`")?;
                if process_group != pid {
                    write!(f, ", process group {process_group}")?;
                }
                f.write_str(")")?;
                if let Some(mark) = instance {
                    let root = match mark.this_root {
                        true => "this deploy root",
                        false => "another deploy root",
                    };
                    match mark.slot {
                        Slot::Single => write!(f, ", an instance of {root}")?,
                        slot => write!(f, ", the {slot} instance of {root}")?,
                    }
                }
                if let Some(cwd) = deleted_cwd {
                    write!(f, ", running in `{cwd}`, which was deleted")?;
                }
                Ok(())
            }
            Self::Hidden { uid } => {
                write!(f, "a process of uid {uid} that hoist may not inspect")
            }
            Self::Unknown { inode } => {
                write!(f, "a process hoist cannot see (socket inode {inode})")
            }
        }
    }
}

mod container_holder;
mod sock_diag;
#[cfg(test)]
mod tests;
