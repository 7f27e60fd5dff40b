//! A state-changing form, posted: the viewer's session, the form token checked against the
//! session's (a forged or missing one is refused before anything happens), then the form's
//! fields. What the token may do is checked by each handler, as the API does.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::server::api_error::ApiError;
use crate::server::api_input::BODY_LIMIT;
use crate::server::api_state::ApiState;
use crate::server::dashboard::page_error::PageError;
use crate::server::dashboard::sessions::same_secret;
use crate::server::dashboard::viewer::Viewer;

#[derive(Debug)]
pub struct Acting<T> {
    pub viewer: Viewer,
    pub form: T,
}

#[derive(Deserialize)]
struct FormToken {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned> FromRequest<ApiState> for Acting<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &ApiState) -> Result<Self, PageError> {
        let (mut parts, body) = request.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
            PageError::Failed(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the form is larger than {} KiB", BODY_LIMIT / 1024),
            ))
        })?;
        let token: FormToken = serde_urlencoded::from_bytes(&bytes)
            .map_err(|error| PageError::bad_request(format!("the form cannot be read: {error}")))?;
        if !same_secret(&token.csrf, &viewer.csrf) {
            return Err(PageError::Failed(
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "the form's security token does not match this session",
                )
                .hint("go back, reload the page and send the form again"),
            ));
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|error| {
            PageError::bad_request(format!("the form is not what this page sends: {error}"))
                .hint("go back, reload the page and send the form again")
        })?;
        Ok(Self { viewer, form })
    }
}
