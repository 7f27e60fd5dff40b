//! An image built here travels to a remote host: the host's own registry (started on demand,
//! `hostside/image_registry.rs`) is reached through a port forwarded over the host's SSH
//! master, `skopeo copy` pushes to it — asking for each blob first, so only the layers the
//! host lacks travel — and the host's engine pulls from it over its own loopback.

use std::process::{Command, Stdio};

use super::RemoteHost;
use crate::error::{Error, Result};
use crate::hostside::host_call::HostRequest;

impl RemoteHost {
    pub(super) fn push_image(&self, image: &str, engine: Option<&str>) -> Result<()> {
        let Some(name) = image.strip_prefix("localhost/") else {
            return Err(Error::internal(format!(
                "`{image}` is not an image hoist built"
            )));
        };
        let port: u16 = self.call(&HostRequest::ImageRegistry)?;
        let forward = self.transport.forward_port(port)?;
        let source = match engine {
            Some("docker") => format!("docker-daemon:{image}"),
            _ => format!("containers-storage:{image}"),
        };
        let output = Command::new("skopeo")
            .args([
                "copy",
                "--quiet",
                "--dest-tls-verify=false",
                &source,
                &format!("docker://127.0.0.1:{}/{name}", forward.local_port),
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                Error::failed("cannot run `skopeo`")
                    .cause(e)
                    .hint("install skopeo on this machine (`apt-get install skopeo`): built images travel with it")
            })?;
        drop(forward);
        if !output.status.success() {
            return Err(Error::failed(format!(
                "cannot send image `{image}` to `{}`",
                self.address
            ))
            .cause(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
        }
        self.call(&HostRequest::ImagePull {
            name: name.to_owned(),
            engine: engine.map(str::to_owned),
        })
    }
}
