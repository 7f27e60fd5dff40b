//! `Range: bytes=…` for one range; several ranges get the whole file (no multipart answers).

/// What a `Range` header asks of a file of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range (none, not bytes, malformed, or several): answer 200 with everything.
    Whole,
    /// Bytes `start..=end`, both inside the file: 206.
    Part { start: u64, end: u64 },
    /// A well-formed range that misses the file: 416.
    Unsatisfiable,
}

impl RangeRequest {
    pub fn parse(header: &str, size: u64) -> Self {
        let Some(spec) = header.trim().strip_prefix("bytes=") else {
            return Self::Whole;
        };
        if spec.contains(',') {
            return Self::Whole;
        }
        let Some((first, last)) = spec.trim().split_once('-') else {
            return Self::Whole;
        };
        let number = |s: &str| -> Option<u64> {
            let s = s.trim();
            // `+5` parses as a u64, but is no byte position.
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        match (first.trim().is_empty(), number(first), number(last)) {
            // `-n`: the last n bytes.
            (true, _, Some(suffix)) => match suffix.min(size) {
                0 => Self::Unsatisfiable,
                length => Self::Part {
                    start: size - length,
                    end: size - 1,
                },
            },
            (false, Some(start), end) if last.trim().is_empty() || end.is_some() => {
                if end.is_some_and(|end| end < start) {
                    Self::Whole
                } else if start >= size {
                    Self::Unsatisfiable
                } else {
                    Self::Part {
                        start,
                        end: end.map_or(size - 1, |end| end.min(size - 1)),
                    }
                }
            }
            _ => Self::Whole,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_range_in_each_form() {
        let part = |start, end| RangeRequest::Part { start, end };
        assert_eq!(RangeRequest::parse("bytes=0-9", 100), part(0, 9));
        assert_eq!(RangeRequest::parse("bytes=90-", 100), part(90, 99));
        assert_eq!(RangeRequest::parse("bytes=-10", 100), part(90, 99));
        assert_eq!(RangeRequest::parse("bytes=-500", 100), part(0, 99));
        assert_eq!(RangeRequest::parse("bytes=50-5000", 100), part(50, 99));
        assert_eq!(RangeRequest::parse(" bytes= 1 - 2 ", 100), part(1, 2));
    }

    #[test]
    fn ranges_that_miss_the_file_are_unsatisfiable() {
        assert_eq!(
            RangeRequest::parse("bytes=100-", 100),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            RangeRequest::parse("bytes=200-300", 100),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            RangeRequest::parse("bytes=-0", 100),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            RangeRequest::parse("bytes=0-", 0),
            RangeRequest::Unsatisfiable
        );
    }

    #[test]
    fn anything_else_is_the_whole_file() {
        for header in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=5-1",
            "bytes=abc",
            "bytes=-",
            "bytes=+1-2",
            "bytes=1-x",
        ] {
            assert_eq!(
                RangeRequest::parse(header, 100),
                RangeRequest::Whole,
                "{header}"
            );
        }
    }
}
