//! The secret values this process knows: the values of every secret the spec names (in
//! any environment) that this process can read, as configure would read them. One set per
//! process, shared by everything that records or prints — the store (`MaskingStore`), the
//! progress printer, error printing and the daemon's log — so a value a hook printed is
//! `***` wherever it goes. Errors are printed after the session is gone, which is why the
//! set lives for the whole process rather than in the session.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use hoist_core::Spec;
use hoist_core::secret_mask::SecretMask;

use crate::error::Error;
use crate::ports::SecretSource;

#[derive(Debug, Clone, Default)]
pub struct KnownSecrets(Arc<RwLock<SecretMask>>);

impl KnownSecrets {
    /// The process's set.
    pub fn process() -> &'static KnownSecrets {
        static PROCESS: OnceLock<KnownSecrets> = OnceLock::new();
        PROCESS.get_or_init(KnownSecrets::default)
    }

    /// Learns the value of every secret `spec` names that `source` has. A spec read again
    /// later (the scheduler's) adds its own; nothing is ever forgotten.
    pub fn learn(&self, spec: &Spec, source: &dyn SecretSource) {
        let mut learned = SecretMask::default();
        for env in spec.envs.values() {
            for name in &env.secrets {
                if let Some(value) = source.get(name) {
                    learned.add(&value);
                }
            }
        }
        if learned.is_empty() {
            return;
        }
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(&learned);
    }

    /// Learns one value (tests, and values known other ways).
    pub fn add(&self, value: &str) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .add(value);
    }

    /// `text` with every known value replaced by `***`.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .mask(text)
    }

    pub fn mask_owned(&self, text: String) -> String {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .mask_owned(text)
    }

    pub fn mask_option(&self, text: Option<String>) -> Option<String> {
        text.map(|text| self.mask_owned(text))
    }

    pub fn mask_json(&self, value: &serde_json::Value) -> serde_json::Value {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .mask_json(value)
    }

    /// The error with its message, causes and hints masked.
    pub fn mask_error(&self, mut error: Error) -> Error {
        error.message = self.mask_owned(error.message);
        error.causes = error
            .causes
            .into_iter()
            .map(|cause| self.mask_owned(cause))
            .collect();
        error.hints = error
            .hints
            .into_iter()
            .map(|hint| self.mask_owned(hint))
            .collect();
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Values;

    impl SecretSource for Values {
        fn get(&self, name: &str) -> Option<String> {
            (name == "API_TOKEN").then(|| "tok-1234567".to_owned())
        }
    }

    #[test]
    fn learns_the_values_of_the_specs_secrets_and_masks_errors() {
        let spec = Spec::parse(
            "[app]\nname = \"x\"\n[env.dev]\nhosts = [\"local:/tmp/x\"]\nsecrets = [\"API_TOKEN\", \"UNSET\"]\n",
        )
        .unwrap();
        let known = KnownSecrets::default();
        known.learn(&spec, &Values);
        let error = Error::failed("hook failed")
            .cause("output:\ntok-1234567")
            .hint("not tok-1234567");
        let masked = known.mask_error(error);
        assert_eq!(masked.to_string(), "hook failed: output:\n***");
        assert_eq!(masked.hints, ["not ***"]);
    }
}
