//! The two answers the admin forms share: a secret shown this once (a new token's, or a
//! webhook's that hoist generated), and a confirmation that names what a button will do.

use std::fmt;

use askama::Template;
use axum::response::Response;

use crate::server::dashboard::layout::Layout;
use crate::server::dashboard::render::render;
use crate::server::dashboard::viewer::Viewer;

#[derive(Template)]
#[template(path = "dashboard/admin_secret.html")]
struct SecretPage<'a> {
    layout: Layout,
    heading: &'a str,
    what: &'a str,
    secret: &'a str,
    /// What the secret is for, after "copy it now".
    usage: &'a str,
}

/// What the answer with a secret says.
pub struct Secret<'a> {
    pub heading: &'a str,
    pub what: &'a str,
    pub secret: &'a str,
    pub usage: &'a str,
}

/// The page that shows `secret` — the only one that ever does. Never cached (`render`
/// answers `no-store`), and no live region re-fetches it.
impl fmt::Debug for Secret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("heading", &self.heading)
            .finish_non_exhaustive()
    }
}

pub fn secret_answer(viewer: &Viewer, secret: &Secret<'_>) -> Response {
    render(&SecretPage {
        layout: Layout::new(secret.heading, "admin", viewer),
        heading: secret.heading,
        what: secret.what,
        secret: secret.secret,
        usage: secret.usage,
    })
}

#[derive(Template)]
#[template(path = "dashboard/admin_confirm.html")]
struct ConfirmPage<'a> {
    layout: Layout,
    what: &'a str,
    warning: Option<&'a str>,
    action: &'a str,
    button: &'a str,
}

/// What a confirmation says, and where its form posts.
#[derive(Debug)]
pub struct Confirmation<'a> {
    pub what: &'a str,
    pub warning: Option<&'a str>,
    /// The path the button posts to.
    pub action: &'a str,
    pub button: &'a str,
}

pub fn confirm_answer(viewer: &Viewer, confirmation: &Confirmation<'_>) -> Response {
    render(&ConfirmPage {
        layout: Layout::new(format!("Confirm: {}", confirmation.button), "admin", viewer),
        what: confirmation.what,
        warning: confirmation.warning,
        action: confirmation.action,
        button: confirmation.button,
    })
}
