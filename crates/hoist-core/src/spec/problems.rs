//! The problems found while reading a spec, collected so that one run reports them all.

use std::ops::Range;

use super::{SpecDiagnostic, SpecErrors};

#[derive(Debug, Default)]
pub(super) struct Problems(Vec<SpecDiagnostic>);

impl Problems {
    pub(super) fn error(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        self.0.push(SpecDiagnostic {
            message: message.into(),
            hint: None,
            span,
        });
    }

    pub(super) fn error_with_hint(
        &mut self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.0.push(SpecDiagnostic {
            message: message.into(),
            hint: Some(hint.into()),
            span,
        });
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems in the order they appear in the file; those without a place come last.
    pub(super) fn into_errors(mut self) -> SpecErrors {
        self.0
            .sort_by_key(|diagnostic| diagnostic.span.as_ref().map_or(usize::MAX, |s| s.start));
        SpecErrors(self.0)
    }
}
