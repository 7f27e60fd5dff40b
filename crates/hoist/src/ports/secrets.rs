//! Where secret values come from at configure time (the process environment, by default).

pub trait SecretSource: Send + Sync {
    /// The value of the secret named `name`, if set.
    fn get(&self, name: &str) -> Option<String>;
}
