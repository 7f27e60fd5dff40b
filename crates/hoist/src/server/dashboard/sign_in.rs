//! Signing in and out. The sign-in form takes a token's secret (as `hoist tokens create`
//! printed it); a valid one opens a session whose id goes into an HttpOnly, SameSite=Strict
//! cookie (Secure when the request came over TLS, as a proxy in front says). The form itself
//! carries a token that must match a cookie set with it, so no other site can sign a browser
//! in as someone else.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::ops::tokens;
use crate::server::api_state::ApiState;
use crate::server::dashboard::acting::Acting;
use crate::server::dashboard::layout::Layout;
use crate::server::dashboard::page_error::{PageError, PageResult, local_path};
use crate::server::dashboard::render::{render, render_with_status};
use crate::server::dashboard::sessions::{COOKIE, random_hex, same_secret};
use crate::server::dashboard::viewer::cookie;

/// The sign-in form's own cookie (double-submitted in the form).
const FORM_COOKIE: &str = "hoist_sign_in";

#[derive(Template)]
#[template(path = "dashboard/sign_in.html")]
struct SignInPage<'a> {
    layout: Layout,
    next: &'a str,
    form_token: &'a str,
    notice: Option<&'static str>,
    error: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

pub async fn page(headers: HeaderMap, Query(query): Query<SignInQuery>) -> PageResult<Response> {
    let next = query
        .next
        .as_deref()
        .and_then(local_path)
        .unwrap_or("/")
        .to_owned();
    let notice = match query.reason.as_deref() {
        Some("expired") => Some("Your session ended. Sign in again."),
        Some("revoked") => Some("The token of your session was revoked. Sign in with another."),
        Some("signed-out") => Some("You are signed out."),
        _ => None,
    };
    let form_token = random_hex()?;
    let page = SignInPage {
        layout: Layout::signed_out("Sign in"),
        next: &next,
        form_token: &form_token,
        notice,
        error: None,
    };
    let mut response = render(&page);
    set_cookie(
        &mut response,
        &format!(
            "{FORM_COOKIE}={form_token}; Path=/sign-in; Max-Age=3600{}",
            flags(&headers)
        ),
    );
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    next: String,
}

pub async fn sign_in(
    State(state): State<ApiState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SignInForm>,
) -> PageResult<Response> {
    let next = local_path(&form.next).unwrap_or("/").to_owned();
    let expected = cookie(&headers, FORM_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(&expected, &form.form_token) {
        return Err(PageError::Failed(
            crate::server::api_error::ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the sign-in form's security token does not match",
            )
            .hint("open the sign-in page again and sign in from there"),
        ));
    }
    let secret = form.token.trim().to_owned();
    let found = state
        .run(None, move |ctx| {
            tokens::authenticate(ctx.store, &secret, ctx.clock.now())
        })
        .await?;
    let Some(token) = found else {
        let form_token = random_hex()?;
        let page = SignInPage {
            layout: Layout::signed_out("Sign in"),
            next: &next,
            form_token: &form_token,
            notice: None,
            error: Some(
                "That token is unknown or revoked. Paste the whole secret, starting with hoist_.",
            ),
        };
        let mut response = render_with_status(StatusCode::UNAUTHORIZED, &page);
        set_cookie(
            &mut response,
            &format!(
                "{FORM_COOKIE}={form_token}; Path=/sign-in; Max-Age=3600{}",
                flags(&headers)
            ),
        );
        return Ok(response);
    };
    let session = state.sessions.open(token.id)?;
    let mut response = redirect(&next);
    set_cookie(
        &mut response,
        &format!("{COOKIE}={session}; Path=/{}", flags(&headers)),
    );
    set_cookie(
        &mut response,
        &format!(
            "{FORM_COOKIE}=; Path=/sign-in; Max-Age=0{}",
            flags(&headers)
        ),
    );
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct SignOutForm {}

pub async fn sign_out(
    State(state): State<ApiState>,
    headers: HeaderMap,
    acting: Acting<SignOutForm>,
) -> Response {
    state.sessions.end(&acting.viewer.cookie);
    let mut response = redirect("/sign-in?reason=signed-out");
    set_cookie(
        &mut response,
        &format!("{COOKIE}=; Path=/; Max-Age=0{}", flags(&headers)),
    );
    response
}

/// A 303 to `location` (a path on this server).
pub fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn set_cookie(response: &mut Response, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The cookie flags: never readable by scripts, never sent from another site, and only over
/// TLS when the page came over TLS (`X-Forwarded-Proto: https` from the proxy in front).
fn flags(headers: &HeaderMap) -> &'static str {
    let tls = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    if tls {
        "; HttpOnly; SameSite=Strict; Secure"
    } else {
        "; HttpOnly; SameSite=Strict"
    }
}
