//! The on-host operations over one deploy root: layout, uploads, lock file, instances,
//! supervision, boot, logs, audit log. The local host adapter calls them directly; a remote
//! host runs the same code through the hidden `hoist host …` subcommands (a `serve` session
//! per command), so each is one whole, atomic operation wherever it runs.

pub mod atomic_fs;
pub mod audit_log;
pub mod boot;
pub mod boot_entry;
pub mod compose_engine;
pub mod container_engine;
pub mod exec;
pub mod file_stream;
pub mod hoist_binary;
pub mod host_call;
pub mod http_probe;
pub mod image_registry;
pub mod instance_monitor;
pub mod instance_record;
pub mod layout;
pub mod live_exec;
pub mod local_host;
pub mod local_router;
pub mod local_supervisor;
pub mod lock_file;
pub mod nginx_upstream;
pub mod port_owner;
pub mod probe_checks;
pub mod proc_identity;
pub mod process_runtime;
pub mod proxy_process;
pub mod release_writer;
pub mod root_id;
pub mod root_mark;
pub mod service_log;
pub mod supervisor;
pub mod tree_sync;
pub mod wire_health;
