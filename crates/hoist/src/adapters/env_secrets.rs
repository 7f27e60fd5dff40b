//! Secrets from the process environment (`export API_TOKEN=…` before `hoist configure`).

use crate::ports::SecretSource;

#[derive(Debug, Clone, Copy, Default)]
pub struct EnvSecrets;

impl SecretSource for EnvSecrets {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}
