//! Runs one `HostRequest` against a deploy root with the very adapters `local:` hosts use.

use std::path::Path;
use std::time::Duration;

use hoist_core::HostAddress;
use hoist_core::spec::Health;

use super::{
    HostRequest, HostResponse, WireExecOutput, WireLockOutcome, WireProbeAnswer, WireReleases,
    installed_version,
};
use crate::error::Error;
use crate::hostside::http_probe::HttpProbe;
use crate::hostside::image_registry::ImageRegistry;
use crate::hostside::local_host::LocalHost;
use crate::hostside::local_router::LocalRouter;
use crate::hostside::local_supervisor::LocalSupervisor;
use crate::hostside::process_runtime::ProcessRuntime;
use crate::hostside::release_writer;
use crate::ports::host::{ConfigFile, Host};
use crate::ports::probe::Probe;
use crate::ports::router::Router;
use crate::ports::runtime::Runtime;
use crate::ports::supervisor::Supervisor;

/// Runs `request` against the deploy root `root` with the local adapters.
pub fn dispatch(root: &Path, request: HostRequest) -> HostResponse {
    if !root.is_absolute() {
        return HostResponse::from_result::<()>(Err(Error::failed(format!(
            "the deploy root `{}` is not an absolute path",
            root.display()
        ))));
    }
    let address = HostAddress::Local {
        root: root.to_path_buf(),
    };
    let host = LocalHost::new(address, root.to_path_buf());
    let runtime = ProcessRuntime::new(root);
    let probe = HttpProbe::new(root);
    let router = LocalRouter::new(root);
    let supervisor = LocalSupervisor::new(root);
    use HostRequest as Request;
    use HostResponse as Response;
    match request {
        Request::Version => Response::from_result(Ok(installed_version(root))),
        Request::Provision { adopt } => Response::from_result(host.provision(adopt)),
        Request::Lock { holder, adopt } => {
            Response::from_result(host.lock(&holder, adopt).map(WireLockOutcome::from))
        }
        Request::Unlock { holder } => Response::from_result(host.unlock(&holder)),
        Request::WriteConfig { files } => {
            let files: Vec<ConfigFile> = files.into_iter().map(ConfigFile::from).collect();
            Response::from_result(host.write_config(&files))
        }
        Request::Releases => Response::from_result(host.releases().map(|r| WireReleases::from(&r))),
        Request::PrepareUpload { release, entries } => Response::from_result(
            release_writer::prepare_release(host.layout(), &release.into(), &entries),
        ),
        Request::FinishUpload { release, entries } => Response::from_result(
            release_writer::finish_release(host.layout(), &release.into(), &entries),
        ),
        Request::Exec { dir, command, env } => Response::from_result(
            host.exec(&dir.into(), &command, &env)
                .map(WireExecOutput::from),
        ),
        Request::MarkReady { id } => Response::from_result(host.mark_ready(&id)),
        Request::MarkFailed { id, reason } => Response::from_result(host.mark_failed(&id, &reason)),
        Request::DiscardIncomplete => Response::from_result(host.discard_incomplete()),
        Request::SwitchLive { id } => Response::from_result(host.switch_live(&id)),
        Request::RemoveRelease { id } => Response::from_result(host.remove_release(&id)),
        Request::Prune { keep } => Response::from_result(host.prune(keep)),
        Request::Audit { line } => Response::from_result(host.audit(&line)),
        Request::Destroy => Response::from_result(host.destroy()),
        Request::PullImage { image, engine } => {
            Response::from_result(host.receive_image(&image, engine.as_deref()))
        }
        Request::RemoveVolumes { project, engine } => {
            Response::from_result(host.remove_volumes(&project, engine.as_deref()))
        }
        Request::RemoveImages { images, engine } => {
            Response::from_result(host.remove_images(&images, engine.as_deref()))
        }
        Request::ImageRegistry => {
            Response::from_result(ImageRegistry::new(host.layout().root()).ensure())
        }
        Request::ImagePull { name, engine } => Response::from_result(
            ImageRegistry::new(host.layout().root()).pull(&name, engine.as_deref()),
        ),
        Request::RuntimeStart { spec, slot } => {
            Response::from_result(runtime.start(slot, &spec.into()))
        }
        Request::RuntimeStop { grace_ms, slot } => {
            Response::from_result(runtime.stop(slot, Duration::from_millis(grace_ms)))
        }
        Request::RuntimeCurrent { slot } => Response::from_result(runtime.current(slot)),
        Request::RuntimeStrays => Response::from_result(runtime.strays()),
        Request::RuntimePortHolder { port } => Response::from_result(runtime.port_holder(port)),
        Request::RuntimeStopStray { stray, grace_ms } => {
            Response::from_result(runtime.stop_stray(&stray, Duration::from_millis(grace_ms)))
        }
        Request::RouterEnsure { config } => Response::from_result(router.ensure_proxy(&config)),
        Request::RouterRoute { config } => Response::from_result(router.route(&config)),
        Request::RouterSetStatic { config, site } => {
            Response::from_result(router.set_static(&config, &site))
        }
        Request::RouterSetUpstream { config, port } => {
            Response::from_result(router.set_upstream(&config, port))
        }
        Request::RouterDrain {
            config,
            port,
            limit_ms,
        } => Response::from_result(router.drain(&config, port, Duration::from_millis(limit_ms))),
        Request::RouterMaintenance { config, on } => {
            Response::from_result(router.set_maintenance(&config, on))
        }
        Request::RouterFreePort => Response::from_result(router.free_port()),
        Request::RouterStopProxy => Response::from_result(router.stop_proxy()),
        Request::RuntimeLogTail { release, lines } => {
            Response::from_result(runtime.log_tail(&release, lines))
        }
        Request::ProbeWaitHealthy {
            port,
            health,
            release,
            owner_group,
        } => Response::from_result(
            Health::try_from(health)
                .map(|health| probe.wait_healthy(port, &health, &release, owner_group)),
        ),
        Request::ProbeOnce {
            port,
            health,
            release,
            owner_group,
        } => Response::from_result(Health::try_from(health).map(|health| {
            WireProbeAnswer::from(probe.probe_once(port, &health, &release, owner_group))
        })),
        Request::Supervise { slot, policy } => Response::from_result(
            policy
                .to_policy()
                .and_then(|policy| supervisor.supervise(slot, &policy)),
        ),
        Request::SupervisorEnsure => Response::from_result(supervisor.ensure_supervisor()),
        Request::SupervisorState => Response::from_result(supervisor.supervisor_state()),
        Request::SupervisorStop => Response::from_result(supervisor.stop_supervisor()),
        Request::BootEntryState => Response::from_result(supervisor.boot_entry()),
        Request::BootEntryInstall => Response::from_result(supervisor.install_boot_entry()),
        Request::BootEntryRemove => Response::from_result(supervisor.remove_boot_entry()),
        Request::HostEvents => Response::from_result(supervisor.host_events()),
        Request::AckHostEvents { seq } => Response::from_result(supervisor.ack_host_events(seq)),
        Request::RuntimeRelabel { slot, release } => {
            Response::from_result(runtime.relabel(slot, &release))
        }
        Request::RuntimeStackServices { slot } => {
            Response::from_result(runtime.stack_services(slot))
        }
        Request::ServiceLogs { query } => Response::from_result(host.service_logs(&query)),
        Request::ExecTarget => {
            Response::from_result(crate::hostside::live_exec::live_release(host.layout()))
        }
    }
}
