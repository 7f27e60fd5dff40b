//! Who looks at a page: the token the session cookie stands for, looked up again on every
//! request — a revoked token's session ends here, at its next request.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header;
use axum::http::request::Parts;
use hoist_core::access::Role;

use crate::ports::token_store::TokenRecord;
use crate::server::api_state::ApiState;
use crate::server::caller::Caller;
use crate::server::dashboard::layout::{Layout, Signed};
use crate::server::dashboard::page_error::PageError;
use crate::server::dashboard::sessions::COOKIE;

#[derive(Debug, Clone)]
pub struct Viewer {
    pub token: TokenRecord,
    /// The session's form token.
    pub csrf: String,
    /// The session cookie's value (to end it).
    pub cookie: String,
}

impl Viewer {
    /// The same checks as an API call by the same token.
    pub fn caller(&self) -> Caller {
        Caller {
            token: self.token.clone(),
        }
    }
}

impl Layout {
    pub fn new(title: impl Into<String>, section: &'static str, viewer: &Viewer) -> Self {
        let role = viewer.token.role;
        Self {
            title: title.into(),
            section,
            viewer: Some(Signed {
                name: viewer.token.name.clone(),
                role: role.to_string(),
                // Tokens and webhooks are for admins limited to no environment.
                admin: role == Role::Admin && viewer.token.envs.is_empty(),
                acts: role != Role::Viewer,
                csrf: viewer.csrf.clone(),
            }),
            rendered: jiff::Timestamp::now().as_millisecond(),
        }
    }
}

impl FromRequestParts<ApiState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, PageError> {
        let here = parts
            .uri
            .path_and_query()
            .map_or("/", |path| path.as_str())
            .to_owned();
        let Some(cookie) = cookie(&parts.headers, COOKIE) else {
            return Err(PageError::sign_in(&here, None));
        };
        let Some(session) = state.sessions.find(&cookie) else {
            return Err(PageError::sign_in(&here, Some("expired")));
        };
        let id = session.token_id;
        let token = state.run(None, move |ctx| ctx.store.token(id)).await?;
        match token {
            Some(token) if token.revoked_at.is_none() => Ok(Self {
                token,
                csrf: session.csrf,
                cookie,
            }),
            _ => {
                state.sessions.end_token(id);
                Err(PageError::sign_in(&here, Some("revoked")))
            }
        }
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn a_cookie_is_found_among_others_and_in_any_header() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; hoist_session=abc"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, "hoist_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&headers, "hoist"), None);
        headers.insert(header::COOKIE, HeaderValue::from_static("hoist_session="));
        assert_eq!(cookie(&headers, "hoist_session"), None);
    }
}
