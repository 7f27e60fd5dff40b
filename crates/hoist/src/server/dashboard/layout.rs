//! What every page's frame shows: the title, the navigation with the current section
//! marked, who is signed in and the sign-out form (with the session's form token).

use hoist_core::access::Role;

use crate::server::dashboard::viewer::Viewer;

#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    /// `environments`, `launch`, `commands`, `timeline`, `logs`, `admin` or empty.
    pub section: &'static str,
    pub viewer: Option<Signed>,
}

/// The signed-in token, as the frame shows it.
#[derive(Debug, Clone)]
pub struct Signed {
    pub name: String,
    pub role: String,
    pub admin: bool,
    /// May start commands (deployer or admin).
    pub acts: bool,
    pub csrf: String,
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
        }
    }

    pub fn signed_out(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            section: "",
            viewer: None,
        }
    }

    /// Whether the signed-in token may start commands (buttons are shown only then; the
    /// server checks again).
    pub fn acts(&self) -> bool {
        self.viewer.as_ref().is_some_and(|viewer| viewer.acts)
    }

    pub fn csrf(&self) -> &str {
        self.viewer
            .as_ref()
            .map_or("", |viewer| viewer.csrf.as_str())
    }
}
