//! What a dashboard request answers when it cannot show its page: to the sign-in page when
//! there is no live session (with where to come back to), else an error page with the
//! status, the message and what to do — the API's errors, as HTML.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::Error;
use crate::server::api_error::ApiError;
use crate::server::dashboard::layout::Layout;
use crate::server::dashboard::render::render_with_status;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageError {
    /// No session, or it ended: sign in, then go to `next`.
    SignIn {
        next: String,
        reason: Option<&'static str>,
    },
    Failed(ApiError),
}

pub type PageResult<T> = Result<T, PageError>;

impl PageError {
    pub fn sign_in(next: &str, reason: Option<&'static str>) -> Self {
        Self::SignIn {
            next: local_path(next).unwrap_or("/").to_owned(),
            reason,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::Failed(ApiError::bad_request(message))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::Failed(ApiError::not_found(message))
    }

    pub fn hint(self, hint: impl Into<String>) -> Self {
        match self {
            Self::Failed(error) => Self::Failed(error.hint(hint)),
            other => other,
        }
    }
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        Self::Failed(error)
    }
}

impl From<Error> for PageError {
    fn from(error: Error) -> Self {
        Self::Failed(ApiError::from(error))
    }
}

/// `path` when it is a path on this server (`/…`, not `//host…`), else `None`: a link
/// elsewhere must never come out of a `next` parameter.
pub fn local_path(path: &str) -> Option<&str> {
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(char::is_control);
    local.then_some(path)
}

#[derive(Template)]
#[template(path = "dashboard/error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    message: &'a str,
    hint: Option<&'a str>,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn { next, reason } => {
                let mut location = format!("/sign-in?next={}", urlencoding(&next));
                if let Some(reason) = reason {
                    location.push_str(&format!("&reason={reason}"));
                }
                let mut response = StatusCode::SEE_OTHER.into_response();
                if let Ok(value) = HeaderValue::from_str(&location) {
                    response.headers_mut().insert(header::LOCATION, value);
                }
                response
            }
            Self::Failed(error) => {
                let page = ErrorPage {
                    layout: Layout::signed_out(format!("{} — error", error.status.as_u16())),
                    status: error.status.as_u16(),
                    message: &error.message,
                    hint: error.hint.as_deref(),
                };
                render_with_status(error.status, &page)
            }
        }
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn urlencoding(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_on_this_server_are_kept_as_next() {
        assert_eq!(local_path("/env/dev?x=1"), Some("/env/dev?x=1"));
        assert_eq!(local_path("//evil.example/"), None);
        assert_eq!(local_path("/\\evil.example"), None);
        assert_eq!(local_path("https://evil.example/"), None);
        assert_eq!(local_path("/a\nb"), None);
        assert_eq!(
            PageError::sign_in("https://x", None),
            PageError::SignIn {
                next: "/".into(),
                reason: None
            }
        );
    }

    #[test]
    fn urlencoding_keeps_paths_readable_and_escapes_the_rest() {
        assert_eq!(urlencoding("/env/dev"), "/env/dev");
        assert_eq!(urlencoding("/a b?c=d&e"), "/a%20b%3Fc%3Dd%26e");
    }
}
