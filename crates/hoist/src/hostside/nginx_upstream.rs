//! Placeholder until the nginx adapter lands (branch `nginx`).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct NginxUpstream {
    pub file: PathBuf,
    pub upstream_name: String,
    pub command: Vec<String>,
}

impl NginxUpstream {
    pub fn current(&self) -> Result<Option<SocketAddr>> {
        Err(Error::failed("nginx is not supported yet"))
    }

    pub fn set_upstream(&self, _addr: SocketAddr) -> Result<()> {
        Err(Error::failed("nginx is not supported yet"))
    }
}
