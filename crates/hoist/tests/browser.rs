//! A real headless Chromium for the dashboard's end-to-end tests, driven through ChromeDriver
//! with fantoccini behind a synchronous face: the tests are plain `#[test]`s, so `Browser`
//! keeps a current-thread tokio runtime and blocks on each WebDriver call. Every failure
//! panics with what the page showed. Also: screenshots under `<target>/screenshots/`, the
//! vendored axe-core's accessibility check, and the assertion that no injected script ran.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::cookies::Cookie;
use fantoccini::elements::Element;
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use crate::chromedriver::{CHROMIUM, ChromeDriver};

/// axe-core, injected into the page under test (tests/data/axe-core/README.md).
const AXE: &str = include_str!("data/axe-core/axe.min.js");
/// The rules `accessibility_violations` runs: WCAG 2.0, 2.1 and 2.2 at levels A and AA.
const AXE_TAGS: [&str; 5] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
/// The viewport of a new browser, and so the size of its screenshots.
pub const WINDOW: (u32, u32) = (1280, 900);
/// How long a page may take to load or a script to run before the call fails.
const PATIENCE: Duration = Duration::from_secs(30);

pub struct Browser {
    /// `None` only while dropping.
    client: Option<Client>,
    runtime: Runtime,
    /// Dropped last: kills ChromeDriver and every Chromium process it started.
    driver: ChromeDriver,
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium in a fresh profile that talks only to what
    /// the test points it at (the network rule in COMMON.md).
    pub fn start() -> Self {
        Self::launch(None)
    }

    /// `start` with the browser in `zone` (an IANA name such as `Europe/Berlin`), for pages
    /// that show times in the viewer's time zone.
    pub fn start_in_time_zone(zone: &str) -> Self {
        Self::launch(Some(zone))
    }

    fn launch(time_zone: Option<&str>) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime for the browser");
        let driver = ChromeDriver::start(time_zone);
        let profile = driver.profile();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--lang=en-US",
            &format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            &format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let connected = runtime.block_on(async {
            let session = ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&driver.url)
                .await;
            let client = session.map_err(|error| error.to_string())?;
            let timeouts = TimeoutConfiguration::new(Some(PATIENCE), Some(PATIENCE), None);
            client
                .update_timeouts(timeouts)
                .await
                .map_err(|error| error.to_string())?;
            Ok::<_, String>(client)
        });
        let client = connected.unwrap_or_else(|error| {
            panic!(
                "chromedriver did not open a Chromium session: {error}\nchromedriver's output:\n{}",
                driver.log()
            )
        });
        let browser = Self {
            client: Some(client),
            runtime,
            driver,
        };
        browser.resize(WINDOW.0, WINDOW.1);
        browser
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("a session until dropped")
    }

    /// Runs one WebDriver call to its end; panics with `what` and the error.
    fn run<T, E: std::fmt::Display>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, E>>,
    ) -> T {
        self.runtime
            .block_on(call)
            .unwrap_or_else(|error| panic!("browser: {what}: {error}"))
    }

    // Navigation and reading.

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.run(&format!("open {url}"), self.client().goto(url));
    }

    pub fn url(&self) -> String {
        self.run("read the URL", self.client().current_url())
            .to_string()
    }

    pub fn title(&self) -> String {
        self.run("read the title", self.client().title())
    }

    /// The text the page shows (`document.body.innerText`), for assertions and failure messages.
    pub fn page_text(&self) -> String {
        let text = self.execute(
            "return document.body ? document.body.innerText : document.documentElement.outerHTML",
            &[],
        );
        text.as_str().unwrap_or_default().to_owned()
    }

    fn all(&self, css: &str) -> Vec<Element> {
        self.run(
            &format!("find `{css}`"),
            self.client().find_all(Locator::Css(css)),
        )
    }

    /// The first element `css` matches; panics with the page's text when none does.
    fn element(&self, css: &str) -> Element {
        self.all(css).into_iter().next().unwrap_or_else(|| {
            panic!(
                "no element matches `{css}` on {}; the page reads:\n{}",
                self.url(),
                self.page_text()
            )
        })
    }

    /// Runs `act` on the first element `css` matches, finding it again when a live region
    /// replaced it between the finding and the acting (a "stale element").
    fn on_element<T, F, Fut>(&self, css: &str, what: &str, act: F) -> T
    where
        F: Fn(Element) -> Fut,
        Fut: Future<Output = Result<T, fantoccini::error::CmdError>>,
    {
        for _ in 0..5 {
            match self.runtime.block_on(act(self.element(css))) {
                Ok(value) => return value,
                Err(error) if error.to_string().contains("stale element") => continue,
                Err(error) => panic!("browser: {what} `{css}`: {error}"),
            }
        }
        panic!("browser: {what} `{css}`: the element was replaced five times in a row")
    }

    /// The rendered text of the first element `css` matches.
    pub fn text(&self, css: &str) -> String {
        self.on_element(css, "read", |element| async move { element.text().await })
    }

    /// The rendered texts of every element `css` matches, in document order.
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.all(css)
            .iter()
            .map(|element| self.run(&format!("read `{css}`"), element.text()))
            .collect()
    }

    pub fn exists(&self, css: &str) -> bool {
        !self.all(css).is_empty()
    }

    /// The attribute `name` of the first element `css` matches, as the markup says it.
    pub fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let element = serde_json::to_value(self.element(css)).expect("an element reference");
        let value = self.execute(
            "return arguments[0].getAttribute(arguments[1])",
            &[element, json!(name)],
        );
        value.as_str().map(str::to_owned)
    }

    /// The current value of the form field `css` matches (what the user typed or picked).
    pub fn value(&self, css: &str) -> String {
        let value = self.on_element(
            css,
            "read",
            |element| async move { element.prop("value").await },
        );
        value.unwrap_or_default()
    }

    /// Waits until `css` matches an element; panics with the page's text after `timeout`.
    #[track_caller]
    pub fn wait_for(&self, css: &str, timeout: Duration) {
        self.poll(&format!("`{css}` to appear"), timeout, || {
            let found = self.client().find_all(Locator::Css(css));
            self.runtime
                .block_on(found)
                .is_ok_and(|all| !all.is_empty())
        });
    }

    /// Waits until an element `css` matches shows `needle`; panics with the page's text after
    /// `timeout`.
    #[track_caller]
    pub fn wait_for_text(&self, css: &str, needle: &str, timeout: Duration) {
        self.poll(&format!("`{css}` to show {needle:?}"), timeout, || {
            // An element may go stale while the page changes: that is "not yet".
            self.runtime.block_on(async {
                let Ok(all) = self.client().find_all(Locator::Css(css)).await else {
                    return false;
                };
                for element in all {
                    if element.text().await.is_ok_and(|text| text.contains(needle)) {
                        return true;
                    }
                }
                false
            })
        });
    }

    #[track_caller]
    fn poll(&self, what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !done() {
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what} on {}; the page reads:\n{}",
                    self.url(),
                    self.page_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `js` as a function body in the page (`arguments` holds `args`; `return` a value,
    /// or a promise to wait for) and returns its result.
    pub fn execute(&self, js: &str, args: &[Value]) -> Value {
        self.run("run a script", self.client().execute(js, args.to_vec()))
    }

    // Acting, as a user would: through the browser's input events.

    pub fn click(&self, css: &str) {
        self.on_element(css, "click", |element| async move {
            element.click().await.map(|_| ())
        });
    }

    /// Types `value` into the field `css` matches, after clearing it. Date, time, colour and
    /// range inputs take no typing that works in every locale: their value is set as their
    /// picker would, with `input` and `change` events.
    pub fn fill(&self, css: &str, value: &str) {
        let element = self.element(css);
        let kind = self.run(&format!("read `{css}`"), element.prop("type"));
        let picked = [
            "date",
            "time",
            "datetime-local",
            "month",
            "week",
            "color",
            "range",
        ];
        if kind.as_deref().is_some_and(|kind| picked.contains(&kind)) {
            let element = serde_json::to_value(&element).expect("an element reference");
            self.execute(
                "const [field, value] = arguments; field.value = value;
                 field.dispatchEvent(new Event('input', { bubbles: true }));
                 field.dispatchEvent(new Event('change', { bubbles: true }));",
                &[element, json!(value)],
            );
            return;
        }
        self.run(&format!("clear `{css}`"), element.clear());
        self.run(&format!("type into `{css}`"), element.send_keys(value));
    }

    /// Picks the option whose value is `value` in the `<select>` `css` matches.
    pub fn select(&self, css: &str, value: &str) {
        let element = self.element(css);
        let options = self.run(
            &format!("list the options of `{css}`"),
            element.find_all(Locator::Css("option")),
        );
        let mut values = Vec::new();
        for option in options {
            let option_value = self.run("read an option", option.prop("value"));
            if option_value.as_deref() == Some(value) {
                self.run(&format!("pick {value:?} in `{css}`"), option.click());
                return;
            }
            values.push(option_value.unwrap_or_default());
        }
        panic!("`{css}` has no option {value:?}; it has {values:?}");
    }

    /// Submits the form `css` matches as a user would: a click on its first submit button, or
    /// when it has none, `requestSubmit()` (validation and submit handlers run either way).
    pub fn submit(&self, css: &str) {
        let form = self.element(css);
        let buttons = self.run(
            &format!("find the submit button of `{css}`"),
            form.find_all(Locator::Css(
                "button:not([type]), button[type=submit], input[type=submit]",
            )),
        );
        match buttons.first() {
            Some(button) => self.run(&format!("submit `{css}`"), button.click()),
            None => {
                let form = serde_json::to_value(&form).expect("an element reference");
                self.execute("arguments[0].requestSubmit()", &[form]);
            }
        }
    }

    /// Sets a cookie for the current page's host (path `/`), as a server could have.
    pub fn set_cookie(&self, name: &str, value: &str) {
        let url = self.run("read the URL", self.client().current_url());
        let host = url
            .host_str()
            .unwrap_or_else(|| panic!("a cookie needs a page with a host, not {url}"));
        // ChromeDriver refuses a cookie without a domain, and Chromium one that is
        // `SameSite=None` (fantoccini's default) without `Secure`.
        let line = format!("{name}={value}; Path=/; Domain={host}; SameSite=Lax");
        let cookie = Cookie::parse(line).unwrap_or_else(|e| panic!("cookie {name}: {e}"));
        self.run(
            &format!("set cookie {name}"),
            self.client().add_cookie(cookie),
        );
    }

    /// Deletes every cookie of the current page's site.
    pub fn delete_cookies(&self) {
        self.run("delete the cookies", self.client().delete_all_cookies());
    }

    // What the tests keep and check.

    /// The live processes of this browser: ChromeDriver and every Chromium process it started.
    pub fn processes(&self) -> Vec<u32> {
        self.driver.processes()
    }

    /// Writes the visible part of the page to `<target>/screenshots/<name>.png`; returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.run("take a screenshot", self.client().screenshot());
        let path = target_dir().join("screenshots").join(format!("{name}.png"));
        let dir = path.parent().expect("a parent");
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Sizes the window so that the page's viewport, and so each screenshot, measures
    /// `width`×`height` CSS pixels, e.g. a phone's 390×844.
    pub fn resize(&self, width: u32, height: u32) {
        let set = |width, height| {
            let resized = self.client().set_window_size(width, height);
            self.run("resize the window", resized);
        };
        set(width, height);
        // Headless Chromium still keeps room for a toolbar: grow the window by it.
        let inner = self.execute("return [innerWidth, innerHeight]", &[]);
        let inner = |at: usize| inner[at].as_u64().and_then(|n| u32::try_from(n).ok());
        let extra_width = width.saturating_sub(inner(0).unwrap_or(width));
        let extra_height = height.saturating_sub(inner(1).unwrap_or(height));
        if extra_width > 0 || extra_height > 0 {
            set(width + extra_width, height + extra_height);
        }
    }

    /// axe-core's serious and critical WCAG 2 A/AA violations on the current page, one
    /// readable string each: rule, impact, what it asks, and where.
    pub fn accessibility_violations(&self) -> Vec<String> {
        let loaded = self.execute("return typeof window.axe === 'object'", &[]);
        if loaded != true {
            // Through WebDriver, not a <script> element: a page's Content-Security-Policy
            // would refuse an inline script.
            self.execute(&format!("{AXE}\n;return true"), &[]);
        }
        let found = self.execute(
            "return axe.run(document, {
                 runOnly: { type: 'tag', values: arguments[0] },
                 resultTypes: ['violations'],
             }).then(results => results.violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => `${v.id} (${v.impact}): ${v.help}` + v.nodes
                     .map(n => `\n    at ${n.target.join(' ')}: ${n.html.slice(0, 160)}`)
                     .join('')))",
            &[json!(AXE_TAGS)],
        );
        let found = found.as_array().expect("axe's violations as a list");
        found
            .iter()
            .map(|violation| violation.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Panics listing axe-core's serious and critical violations on the current page, if any.
    #[track_caller]
    pub fn assert_accessible(&self, page_name: &str) {
        let violations = self.accessibility_violations();
        assert!(
            violations.is_empty(),
            "the {page_name} page ({}) has {} serious or critical accessibility violation(s):\n{}",
            self.url(),
            violations.len(),
            violations.join("\n")
        );
    }

    /// Panics if `window[global_name]` is defined: a script the test planted in the page's
    /// data (`<script>window.NAME = 1</script>`, `onerror="window.NAME = 1"`) ran.
    #[track_caller]
    pub fn assert_no_script_ran(&self, global_name: &str) {
        let kind = self.execute("return typeof window[arguments[0]]", &[json!(global_name)]);
        assert_eq!(
            kind,
            "undefined",
            "a planted script ran on {}: `window.{global_name}` is defined",
            self.url()
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends the session (Chromium quits); `driver` then kills whatever is left.
        if let Some(client) = self.client.take() {
            let close =
                async { tokio::time::timeout(Duration::from_secs(5), client.close()).await };
            let _ = self.runtime.block_on(close);
        }
    }
}

/// `html` as a `data:` URL: a page for a test that needs no server.
pub fn data_url(html: &str) -> String {
    let mut url = String::from("data:text/html;charset=utf-8,");
    for byte in html.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// `CARGO_TARGET_DIR` when set (now or at build time), else the workspace's `target/`.
fn target_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let set = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO_TARGET_DIR").map(PathBuf::from));
    match set {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    }
}
