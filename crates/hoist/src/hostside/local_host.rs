//! The `Host` port for `local:/path` hosts: every operation runs in this process, straight
//! on the layout of the deploy root.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hoist_core::{EnvName, HostAddress, ReleaseId};

use crate::error::{Error, Result};
use crate::hostside::container_engine::BUILT_IMAGES;
use crate::hostside::image_registry::ImageRegistry;
use crate::hostside::layout::Layout;
use crate::hostside::process_runtime::configured_variables;
use crate::hostside::{
    audit_log, exec, live_exec, lock_file, release_writer, root_mark, service_log,
};
use crate::ports::host::{
    ConfigFile, ExecDir, ExecOutput, Host, HostFacts, HostReleases, LockHolder, LockOutcome,
    NewRelease, UploadReport,
};
use crate::ports::service_logs::{ExecStream, LogPage, LogQuery};
use crate::source_tree::SourceTree;

/// The tools `provision` looks for on `PATH`.
const TOOLS: [&str; 4] = ["rsync", "sh", "systemctl", "nginx"];

#[derive(Debug, Clone)]
pub struct LocalHost {
    address: HostAddress,
    layout: Layout,
}

impl LocalHost {
    /// `address` names the host in reports; `root` is its deploy root on this machine.
    pub fn new(address: HostAddress, root: PathBuf) -> Self {
        Self {
            address,
            layout: Layout::open(root),
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }
}

impl Host for LocalHost {
    fn address(&self) -> &HostAddress {
        &self.address
    }

    fn provision(&self, adopt: bool) -> Result<HostFacts> {
        self.layout.ensure(adopt)?;
        let path = std::env::var_os("PATH").unwrap_or_default();
        let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
        let tools = TOOLS
            .iter()
            .map(|tool| {
                let found = find_executable(&dirs, tool).map(|p| p.display().to_string());
                ((*tool).to_owned(), found)
            })
            .collect();
        Ok(HostFacts {
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            tools,
        })
    }

    fn lock(&self, holder: &LockHolder, adopt: bool) -> Result<LockOutcome> {
        root_mark::claim(self.layout.root(), adopt)?;
        lock_file::acquire(self.layout.root(), holder)
    }

    fn unlock(&self, holder: &LockHolder) -> Result<()> {
        lock_file::release(self.layout.root(), holder)
    }

    fn write_config(&self, files: &[ConfigFile]) -> Result<()> {
        self.layout.write_config(files)
    }

    fn releases(&self) -> Result<HostReleases> {
        self.layout.read()
    }

    fn upload(&self, release: &NewRelease, source: &SourceTree) -> Result<UploadReport> {
        release_writer::write_release(&self.layout, release, source)
    }

    fn exec(&self, dir: &ExecDir, command: &str, env: &[(String, String)]) -> Result<ExecOutput> {
        let cwd = match dir {
            ExecDir::Release(id) => self.layout.release_dir(id),
            ExecDir::Root => self.layout.root().to_path_buf(),
        };
        if !cwd.is_dir() {
            return Err(Error::failed(format!(
                "cannot run `{command}` on `{}`: `{}` does not exist",
                self.address,
                cwd.display()
            ))
            .hint("`hoist releases list ENV` shows the releases on each host"));
        }
        // The service's configuration first, hoist's own variables over it.
        let release = match dir {
            ExecDir::Release(id) => Some(id),
            ExecDir::Root => None,
        };
        let mut variables = configured_variables(self.layout.root(), release)?;
        variables.extend(env.iter().cloned());
        exec::run_hook_shell(&cwd, command, &variables)
    }

    fn mark_ready(&self, id: &ReleaseId) -> Result<()> {
        self.layout.mark_ready(id)
    }

    fn mark_failed(&self, id: &ReleaseId, reason: &str) -> Result<()> {
        self.layout.mark_failed(id, reason)
    }

    fn discard_incomplete(&self) -> Result<Vec<ReleaseId>> {
        self.layout.discard_incomplete()
    }

    fn switch_live(&self, id: &ReleaseId) -> Result<()> {
        self.layout.switch_live(id)
    }

    fn remove_release(&self, id: &ReleaseId) -> Result<()> {
        self.layout.remove(id)
    }

    fn prune(&self, keep: usize) -> Result<Vec<ReleaseId>> {
        self.layout.prune(keep)
    }

    fn audit(&self, line: &serde_json::Value) -> Result<()> {
        audit_log::append(self.layout.root(), line)
    }

    fn destroy(&self) -> Result<()> {
        ImageRegistry::new(self.layout.root()).stop()?;
        self.layout.destroy()
    }

    fn receive_image(&self, image: &str, engine: Option<&str>) -> Result<()> {
        if image.starts_with(BUILT_IMAGES) {
            // This machine's engine built it.
            return Ok(());
        }
        crate::hostside::container_engine::pull(image, engine)
    }

    fn remove_images(&self, images: &[String], engine: Option<&str>) -> Result<Vec<String>> {
        crate::hostside::container_engine::remove_images(images, engine)
    }

    fn remove_volumes(&self, project: &str, engine: Option<&str>) -> Result<Vec<String>> {
        crate::hostside::compose_engine::remove_volumes(project, engine)
    }

    fn service_logs(&self, query: &LogQuery) -> Result<LogPage> {
        service_log::read_logs(&self.layout.logs_dir(), query)
    }

    fn exec_live(
        &self,
        env: &EnvName,
        command: &[String],
        output: &mut dyn FnMut(ExecStream, &[u8]),
    ) -> Result<i32> {
        let command = live_exec::command(&self.layout, env, None, command)?;
        live_exec::run_streaming(command, output)
    }
}

/// The first executable file named `name` in `dirs`, as a shell would find it.
fn find_executable(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    dirs.iter()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|path| is_executable(path))
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use hoist_core::ReleaseStatus;
    use hoist_core::spec::Build;

    use super::*;
    use crate::ports::host::ReleaseInfo;

    fn id(n: u32) -> ReleaseId {
        format!("20261121T{n:06}Z-0000abcd").parse().unwrap()
    }

    fn host(dir: &Path) -> LocalHost {
        let root = dir.join("deploy");
        let address = format!("local:{}", root.display()).parse().unwrap();
        LocalHost::new(address, root)
    }

    fn release(n: u32) -> NewRelease {
        NewRelease {
            info: ReleaseInfo {
                id: id(n),
                status: ReleaseStatus::Uploading,
                content_hash: String::new(),
                config_hash: String::new(),
                created_at: "2026-11-21T00:00:00Z".into(),
                created_by: "alice".into(),
                source_rev: None,
                config_snapshot: serde_json::json!({"vars": {}}),
                error: None,
                config_kept: false,
            },
            shared_dirs: vec![PathBuf::from("storage")],
        }
    }

    #[test]
    fn provision_creates_the_layout_and_reports_tools() {
        let dir = tempfile::tempdir().unwrap();
        let host = host(dir.path());
        let facts = host.provision(false).unwrap();
        assert!(dir.path().join("deploy/releases").is_dir());
        assert_eq!(facts.os, std::env::consts::OS);
        assert_eq!(facts.tools.len(), 4);
        let sh = facts.tools["sh"].as_deref().unwrap();
        assert!(Path::new(sh).is_absolute());
        assert_eq!(host.provision(false).unwrap(), facts);
    }

    #[test]
    fn finds_only_executable_files_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let (plain, tools) = (dir.path().join("plain"), dir.path().join("tools"));
        for (folder, mode) in [(&plain, 0o644), (&tools, 0o755)] {
            fs::create_dir(folder).unwrap();
            fs::write(folder.join("nginx"), "").unwrap();
            fs::set_permissions(folder.join("nginx"), fs::Permissions::from_mode(mode)).unwrap();
        }
        let dirs = [PathBuf::new(), plain.clone(), tools.clone()];
        assert_eq!(find_executable(&dirs, "nginx"), Some(tools.join("nginx")));
        assert_eq!(find_executable(&dirs[..2], "nginx"), None);
    }

    #[test]
    fn releases_go_through_the_host_port() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("app");
        fs::create_dir(&source).unwrap();
        fs::write(source.join("index.html"), "v1").unwrap();
        let build = Build {
            steps: Vec::new(),
            upload: Vec::new(),
            upload_version: None,
            exclude: Vec::new(),
            pass_env: Vec::new(),
        };
        let tree = SourceTree::collect(&source, &build).unwrap();
        let host: Box<dyn Host> = Box::new(host(dir.path()));
        host.provision(false).unwrap();
        for n in 1..=3 {
            let report = host.upload(&release(n), &tree).unwrap();
            assert_eq!(report.files, 1);
            host.mark_ready(&id(n)).unwrap();
            host.switch_live(&id(n)).unwrap();
        }
        let releases = host.releases().unwrap();
        assert_eq!(releases.live, Some(id(3)));
        assert!(releases.chain.violations().is_empty());
        assert_eq!(releases.infos[&id(1)].status, ReleaseStatus::Retired);
        assert!(host.remove_release(&id(3)).is_err());
        assert_eq!(host.prune(1).unwrap(), [id(1)]);
        let error = host
            .exec(&ExecDir::Release(id(1)), "true", &[])
            .unwrap_err();
        assert!(error.message.contains("does not exist"), "{error}");
        host.destroy().unwrap();
        assert!(!dir.path().join("deploy").exists());
    }
}
