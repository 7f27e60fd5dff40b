//! What every page's frame shows: the title, the navigation with the current section
//! marked, who is signed in and the sign-out form (with the session's form token).

/// A signed-in page's frame is made by `Layout::new` (in `viewer.rs`, from the viewer).
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    /// `environments`, `launch`, `commands`, `timeline`, `logs`, `admin` or empty.
    pub section: &'static str,
    pub viewer: Option<Signed>,
    /// When the page was rendered (Unix ms): its live regions follow events from then on.
    pub rendered: i64,
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
    pub fn signed_out(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            section: "",
            viewer: None,
            rendered: jiff::Timestamp::now().as_millisecond(),
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
