//! Reading `config/env`: `KEY=VALUE` lines, values quoted POSIX-shell style (`'…'` with
//! `'\''` for a quote, `"…"`, backslash escapes), so the file can also be sourced by `sh`.
//! A quoted value may span lines (a PEM key); lines starting with `#` are comments.

/// Parses the file's text into variables, in order. The error names the line.
pub(super) fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut parser = Parser {
        chars: text.chars().peekable(),
        line: 1,
    };
    let mut variables = Vec::new();
    while let Some(variable) = parser.next_variable()? {
        variables.push(variable);
    }
    Ok(variables)
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
}

impl Parser<'_> {
    fn bump(&mut self) -> Option<char> {
        let next = self.chars.next();
        if next == Some('\n') {
            self.line += 1;
        }
        next
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.bump() {
            if c == '\n' {
                break;
            }
        }
    }

    fn next_variable(&mut self) -> Result<Option<(String, String)>, String> {
        loop {
            match self.chars.peek() {
                None => return Ok(None),
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('#') => self.skip_line(),
                Some(_) => break,
            }
        }
        let line = self.line;
        let mut key = String::new();
        loop {
            match self.bump() {
                Some('=') => break,
                Some('\n') | None => return Err(format!("line {line}: expected `KEY=VALUE`")),
                Some(c) => key.push(c),
            }
        }
        let key = key
            .strip_prefix("export ")
            .unwrap_or(&key)
            .trim()
            .to_owned();
        let valid_key = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err(format!("line {line}: `{key}` is not a variable name"));
        }
        let value = self.value(line)?;
        Ok(Some((key, value)))
    }

    /// The value after `=`, up to an unquoted end of line.
    fn value(&mut self, line: usize) -> Result<String, String> {
        let unterminated = || format!("line {line}: unterminated quote");
        let mut value = String::new();
        while let Some(c) = self.bump() {
            match c {
                '\n' => break,
                '\'' => loop {
                    match self.bump().ok_or_else(unterminated)? {
                        '\'' => break,
                        quoted => value.push(quoted),
                    }
                },
                '"' => loop {
                    match self.bump().ok_or_else(unterminated)? {
                        '"' => break,
                        '\\' if matches!(self.chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            value.extend(self.bump());
                        }
                        // A backslash-newline inside double quotes is a line continuation.
                        '\\' if self.chars.peek() == Some(&'\n') => {
                            self.bump();
                        }
                        quoted => value.push(quoted),
                    }
                },
                '\\' => match self.bump() {
                    Some('\n') | None => {}
                    Some(escaped) => value.push(escaped),
                },
                plain => value.push(plain),
            }
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap()
    }

    fn pair(key: &str, value: &str) -> (String, String) {
        (key.to_owned(), value.to_owned())
    }

    #[test]
    fn reads_plain_and_quoted_values() {
        let text = "# rendered by hoist\n\
                    PLAIN=value with spaces\n\
                    \n\
                    QUOTED='it'\\''s $HOME'\n\
                    DOUBLE=\"say \\\"hi\\\" \\$x\"\n\
                    export EXPORTED=yes\n\
                    EMPTY=\n\
                    EQUALS='a=b'\n";
        assert_eq!(
            pairs(text),
            vec![
                pair("PLAIN", "value with spaces"),
                pair("QUOTED", "it's $HOME"),
                pair("DOUBLE", "say \"hi\" $x"),
                pair("EXPORTED", "yes"),
                pair("EMPTY", ""),
                pair("EQUALS", "a=b"),
            ]
        );
    }

    #[test]
    fn a_quoted_value_spans_lines() {
        let text = "KEY='-----BEGIN-----\nabc\n-----END-----'\nNEXT=1";
        assert_eq!(
            pairs(text),
            vec![
                pair("KEY", "-----BEGIN-----\nabc\n-----END-----"),
                pair("NEXT", "1")
            ]
        );
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("A=1\nnot a variable\n"),
            Err("line 2: expected `KEY=VALUE`".to_owned())
        );
        assert_eq!(
            parse("A=1\n\n1BAD=x"),
            Err("line 3: `1BAD` is not a variable name".to_owned())
        );
        assert_eq!(
            parse("A='open"),
            Err("line 1: unterminated quote".to_owned())
        );
    }

    #[test]
    fn round_trips_what_sh_reads() {
        let tricky = "quote ' double \" dollar $HOME back \\ newline\nend";
        let quoted = format!("'{}'", tricky.replace('\'', r"'\''"));
        let text = format!("TRICKY={quoted}\n");
        assert_eq!(pairs(&text), vec![pair("TRICKY", tricky)]);
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{text}printf %s \"$TRICKY\""))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(output.stdout).unwrap(), tricky);
    }
}
