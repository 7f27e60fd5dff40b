//! Reading one TOML table of the spec: its fields with their spans, typed getters that
//! report what was expected, unknown keys with a suggestion, missing keys at the header.

use std::ops::Range;
use std::time::Duration;

use toml_edit::{Item, Table, TableLike};

use super::problems::Problems;
use super::suggest;
use crate::byte_size::{ByteSizeError, parse_byte_size};
use crate::duration::{DurationError, parse_duration};

/// A table of the spec (`[service]`, `[env.dev]`, an inline `{ … }` table, or the top level).
pub(super) struct Section<'doc> {
    /// Dotted path without brackets (`service.health`); `None` for the top level.
    path: Option<String>,
    table: &'doc dyn TableLike,
    /// The header (`[service]`), or the key for implicit and dotted tables.
    span: Option<Range<usize>>,
}

/// One key and its value, with where each sits in the text.
pub(super) struct Field<'doc> {
    pub(super) key: &'doc str,
    pub(super) key_span: Option<Range<usize>>,
    pub(super) item: &'doc Item,
}

/// A string from the spec and where it was written.
#[derive(Debug, Clone)]
pub(super) struct Text<'doc> {
    pub(super) value: &'doc str,
    pub(super) span: Option<Range<usize>>,
}

impl<'doc> Section<'doc> {
    pub(super) fn root(table: &'doc Table) -> Self {
        Self {
            path: None,
            table,
            span: None,
        }
    }

    /// The table as written in messages: `` `[service]` ``.
    pub(super) fn name(&self) -> String {
        match &self.path {
            Some(path) => format!("`[{path}]`"),
            None => "the top level".to_owned(),
        }
    }

    fn location(&self) -> String {
        match &self.path {
            Some(path) => format!("in `[{path}]`"),
            None => "at the top level".to_owned(),
        }
    }

    pub(super) fn span(&self) -> Option<Range<usize>> {
        self.span.clone()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Reports every key that is not one of `known`.
    pub(super) fn check_keys(&self, known: &[&str], problems: &mut Problems) {
        self.check_keys_with_hints(known, |_| None, problems);
    }

    /// `check_keys`, where `hint_for` may know better than a suggestion for some keys.
    pub(super) fn check_keys_with_hints(
        &self,
        known: &[&str],
        hint_for: impl Fn(&str) -> Option<String>,
        problems: &mut Problems,
    ) {
        for field in self.fields() {
            if known.contains(&field.key) {
                continue;
            }
            let hint = match (hint_for(field.key), suggest::closest(field.key, known)) {
                (Some(hint), _) => hint,
                (None, Some(close)) => format!("did you mean `{close}`?"),
                (None, None) => {
                    let listed: Vec<String> = known.iter().map(|key| format!("`{key}`")).collect();
                    format!("known keys {}: {}", self.location(), listed.join(", "))
                }
            };
            problems.error_with_hint(
                field.key_span,
                format!("unknown key `{}` {}", field.key, self.location()),
                hint,
            );
        }
    }

    pub(super) fn fields(&self) -> impl Iterator<Item = Field<'doc>> + '_ {
        let table = self.table;
        table.iter().map(move |(key, item)| Field {
            key,
            key_span: table.key(key).and_then(|k| k.span()),
            item,
        })
    }

    pub(super) fn field(&self, key: &str) -> Option<Field<'doc>> {
        let (found, item) = self.table.get_key_value(key)?;
        Some(Field {
            key: found.get(),
            key_span: found.span(),
            item,
        })
    }

    /// A field that must be there; `example` is a line showing how to write it.
    pub(super) fn required(
        &self,
        key: &str,
        example: &str,
        problems: &mut Problems,
    ) -> Option<Field<'doc>> {
        let field = self.field(key);
        if field.is_none() {
            problems.error_with_hint(
                self.span(),
                format!("missing `{key}` {}", self.location()),
                format!("add `{example}`"),
            );
        }
        field
    }

    /// A table that is one item of the list `key` (`hosts = [{ … }]` or `[[env.prod.hosts]]`),
    /// named after the list.
    pub(super) fn list_item(
        &self,
        key: &str,
        table: &'doc dyn TableLike,
        span: Option<Range<usize>>,
    ) -> Section<'doc> {
        let path = match &self.path {
            Some(parent) => format!("{parent}.{key}"),
            None => key.to_owned(),
        };
        Section {
            path: Some(path),
            table,
            span,
        }
    }

    /// An optional sub-table: `[service.health]`, `health = { … }` or `service.health.path`.
    pub(super) fn section(&self, key: &str, problems: &mut Problems) -> Option<Section<'doc>> {
        self.field(key)?.section(self.path.as_deref(), problems)
    }
}

impl<'doc> Field<'doc> {
    /// Where the value is, or the key when the value has no place of its own.
    pub(super) fn span(&self) -> Option<Range<usize>> {
        self.item.span().or_else(|| self.key_span.clone())
    }

    /// This field as a table, named under `parent` (`None` for the top level).
    pub(super) fn section(
        &self,
        parent: Option<&str>,
        problems: &mut Problems,
    ) -> Option<Section<'doc>> {
        let Some(table) = self.item.as_table_like() else {
            problems.error(self.span(), format!("`{}` must be a table", self.key));
            return None;
        };
        let path = match parent {
            Some(parent) => format!("{parent}.{}", self.key),
            None => self.key.to_owned(),
        };
        Some(Section {
            path: Some(path),
            table,
            span: self.span(),
        })
    }

    pub(super) fn text(&self) -> Option<Text<'doc>> {
        Some(Text {
            value: self.item.as_str()?,
            span: self.span(),
        })
    }

    pub(super) fn string(&self, problems: &mut Problems) -> Option<Text<'doc>> {
        let text = self.text();
        if text.is_none() {
            problems.error(self.span(), format!("`{}` must be a string", self.key));
        }
        text
    }

    /// An integer in `minimum..=maximum`, where `maximum` is `u32::MAX` when only the
    /// minimum matters.
    pub(super) fn integer(
        &self,
        minimum: i64,
        maximum: i64,
        problems: &mut Problems,
    ) -> Option<i64> {
        match self.item.as_integer() {
            Some(value) if (minimum..=maximum).contains(&value) => Some(value),
            _ => {
                let range = if maximum == i64::from(u32::MAX) {
                    format!("of at least {minimum}")
                } else {
                    format!("from {minimum} to {maximum}")
                };
                problems.error(
                    self.span(),
                    format!("`{}` must be an integer {range}", self.key),
                );
                None
            }
        }
    }

    /// A human duration (`500ms`, `2m30s`); zero is refused unless `zero_allowed`.
    pub(super) fn duration(&self, zero_allowed: bool, problems: &mut Problems) -> Option<Duration> {
        let parsed = self.item.as_str().map(parse_duration);
        match parsed {
            Some(Ok(duration)) if zero_allowed || !duration.is_zero() => Some(duration),
            Some(Ok(_)) => {
                problems.error(
                    self.span(),
                    format!("`{}` must be longer than zero", self.key),
                );
                None
            }
            Some(Err(error)) => {
                problems.error_with_hint(
                    self.span(),
                    format!(
                        "`{}` must be a duration like `\"10s\"`, not `{}`",
                        self.key, error.0
                    ),
                    error.hint(),
                );
                None
            }
            None => {
                problems.error_with_hint(
                    self.span(),
                    format!("`{}` must be a duration like `\"10s\"`", self.key),
                    DurationError(String::new()).hint(),
                );
                None
            }
        }
    }

    /// A size: a string like `"10MB"` (units count in 1024s) or a number of bytes;
    /// `example` is the size the message shows.
    pub(super) fn byte_size(&self, example: &str, problems: &mut Problems) -> Option<u64> {
        let parsed = match self.item.as_str() {
            Some(text) => parse_byte_size(text),
            None => match self.item.as_integer() {
                Some(bytes) => u64::try_from(bytes).map_err(|_| ByteSizeError(bytes.to_string())),
                None => Err(ByteSizeError(String::new())),
            },
        };
        match parsed {
            Ok(bytes) => Some(bytes),
            Err(error) => {
                problems.error_with_hint(
                    self.span(),
                    format!("`{}` must be a size like `\"{example}\"`", self.key),
                    error.hint(),
                );
                None
            }
        }
    }

    /// A list of strings, each with its span.
    pub(super) fn strings(&self, problems: &mut Problems) -> Option<Vec<Text<'doc>>> {
        let Some(array) = self.item.as_array() else {
            problems.error(
                self.span(),
                format!("`{}` must be a list of strings", self.key),
            );
            return None;
        };
        let mut texts = Vec::with_capacity(array.len());
        for value in array.iter() {
            let Some(text) = value.as_str() else {
                problems.error(
                    value.span(),
                    format!("`{}` must be a list of strings", self.key),
                );
                return None;
            };
            texts.push(Text {
                value: text,
                span: value.span(),
            });
        }
        Some(texts)
    }

    /// Shell commands: one string or a list of strings, none of them blank.
    pub(super) fn commands(&self, problems: &mut Problems) -> Option<Vec<String>> {
        let texts = match self.text() {
            Some(text) => vec![text],
            None if self.item.is_array() => self.strings(problems)?,
            None => {
                problems.error(
                    self.span(),
                    format!("`{}` must be a command string or a list of them", self.key),
                );
                return None;
            }
        };
        let mut commands = Vec::with_capacity(texts.len());
        for text in texts {
            if text.value.trim().is_empty() {
                problems.error(text.span, format!("`{}` has an empty command", self.key));
                return None;
            }
            commands.push(text.value.to_owned());
        }
        Some(commands)
    }
}
