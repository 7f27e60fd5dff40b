//! TODO(spec helper): TOML → validated `Spec`.

use super::{Spec, SpecDiagnostic, SpecErrors};

pub(super) fn parse(text: &str) -> Result<Spec, SpecErrors> {
    let _ = text;
    Err(SpecErrors(vec![SpecDiagnostic {
        message: "not implemented".into(),
        hint: None,
        span: None,
    }]))
}
