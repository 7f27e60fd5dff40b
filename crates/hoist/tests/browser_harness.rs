//! The browser harness itself (`browser::Browser`), on pages from `data:` URLs and one
//! loopback server: what the dashboard's tests rely on sees what it should, and can fail.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use crate::browser::{Browser, WINDOW, data_url};
use crate::root_processes::{alive, wait_until};

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><title>Harness</title></head><body><main>
<h1 id="heading" data-state="idle">Waiting</h1>
<ul><li class="item">one</li><li class="item">two</li></ul>
<button id="go" onclick="
  document.getElementById('heading').textContent = 'Clicked';
  setTimeout(() => {
    const late = document.createElement('p');
    late.id = 'late';
    late.textContent = 'arrived later';
    document.body.append(late);
  }, 300);
">Go</button>
</main></body></html>"#;

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("it should have panicked");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn a_click_changes_what_the_page_shows() {
    let browser = Browser::start();
    browser.goto(&data_url(PAGE));
    assert!(browser.url().starts_with("data:text/html"));
    assert_eq!(browser.title(), "Harness");
    assert_eq!(browser.text("#heading"), "Waiting");
    assert_eq!(browser.texts("li.item"), ["one", "two"]);
    assert_eq!(
        browser.attribute("#heading", "data-state").as_deref(),
        Some("idle")
    );
    assert_eq!(browser.attribute("#heading", "hidden"), None);
    assert!(!browser.exists("#late"));

    browser.click("#go");
    assert_eq!(browser.text("#heading"), "Clicked");
    browser.wait_for("#late", Duration::from_secs(5));
    browser.wait_for_text("p", "arrived later", Duration::from_secs(5));
    assert!(browser.page_text().contains("arrived later"));

    // A wait that cannot succeed fails, with what the page showed.
    let message = panic_message(|| {
        browser.wait_for_text("#heading", "never", Duration::from_millis(300));
    });
    assert!(
        message.contains("`#heading` to show \"never\""),
        "{message}"
    );
    assert!(message.contains("arrived later"), "{message}");
    let message = panic_message(|| {
        browser.text("#missing");
    });
    assert!(
        message.contains("no element matches `#missing`"),
        "{message}"
    );
}

#[test]
fn fill_select_and_submit_as_a_user_would() {
    let browser = Browser::start();
    browser.goto(&data_url(
        r#"<!doctype html><html lang="en"><title>Form</title><body>
        <form id="launch" onsubmit="event.preventDefault();
          const data = new FormData(this);
          document.getElementById('out').textContent =
            ['sent', data.get('name'), data.get('env'), data.get('at')].join(' ');">
          <label>Name <input id="name" name="name" value="old" required></label>
          <label>Environment <select id="env" name="env">
            <option value="dev">dev</option><option value="staging">staging</option>
          </select></label>
          <label>At <input id="at" name="at" type="datetime-local"></label>
          <button>Launch</button>
        </form>
        <p id="out"></p>"#,
    ));
    assert_eq!(browser.value("#name"), "old");
    browser.fill("#name", "Ada <b>");
    assert_eq!(browser.value("#name"), "Ada <b>");
    browser.select("#env", "staging");
    assert_eq!(browser.value("#env"), "staging");
    browser.fill("#at", "2026-12-01T09:30");
    assert_eq!(browser.value("#at"), "2026-12-01T09:30");

    browser.submit("#launch");
    browser.wait_for_text("#out", "sent", Duration::from_secs(5));
    assert_eq!(
        browser.text("#out"),
        "sent Ada <b> staging 2026-12-01T09:30"
    );

    // A required field left empty: the browser refuses to submit, as it would for a user.
    browser.fill("#name", "");
    browser.execute("document.getElementById('out').textContent = ''", &[]);
    browser.submit("#launch");
    assert_eq!(browser.text("#out"), "");

    let message = panic_message(|| browser.select("#env", "prod"));
    assert!(message.contains(r#"has no option "prod""#), "{message}");
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    let number = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!(&png[12..16], b"IHDR", "the first chunk of a PNG");
    (number(16), number(20))
}

#[test]
fn a_screenshot_is_a_png_of_the_window() {
    let browser = Browser::start();
    browser.goto(&data_url(PAGE));
    let path = browser.screenshot("harness/window");
    assert!(path.ends_with("screenshots/harness/window.png"), "{path:?}");
    let png = std::fs::read(&path).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert!(
        png.len() > 2_000,
        "a page, not a blank: {} bytes",
        png.len()
    );
    let viewport = browser.execute(
        "return [innerWidth * devicePixelRatio, innerHeight * devicePixelRatio]",
        &[],
    );
    let viewport = (viewport[0].as_u64().unwrap(), viewport[1].as_u64().unwrap());
    let size = png_size(&png);
    assert_eq!((u64::from(size.0), u64::from(size.1)), viewport);
    assert_eq!(size, WINDOW);

    browser.resize(390, 844);
    let phone = std::fs::read(browser.screenshot("harness/phone")).unwrap();
    assert_eq!(png_size(&phone), (390, 844));
}

const BAD_PAGE: &str = r#"<!doctype html><html lang="en"><title>Bad</title><body><main>
<h1>Bad</h1>
<input id="nameless" type="text">
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="40" height="40">
<p style="color: #eeeeee; background: #ffffff">barely visible</p>
</main></body></html>"#;

const GOOD_PAGE: &str = r#"<!doctype html><html lang="en"><title>Good</title><body><main>
<h1>Good</h1>
<label for="named">Name</label> <input id="named" type="text">
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="40" height="40" alt="a dot">
<p style="color: #222222; background: #ffffff">easy to read</p>
<button>Save</button>
</main></body></html>"#;

#[test]
fn axe_reports_serious_violations_and_passes_a_good_page() {
    let browser = Browser::start();
    browser.goto(&data_url(BAD_PAGE));
    let violations = browser.accessibility_violations();
    let rules: Vec<&str> = violations
        .iter()
        .filter_map(|v| v.split_whitespace().next())
        .collect();
    for rule in ["label", "image-alt", "color-contrast"] {
        assert!(rules.contains(&rule), "{rule} among {violations:#?}");
    }
    assert!(
        violations.iter().any(|v| v.contains("#nameless")),
        "{violations:#?}"
    );
    let message = panic_message(|| browser.assert_accessible("bad"));
    assert!(message.contains("the bad page"), "{message}");
    assert!(message.contains("color-contrast (serious)"), "{message}");

    browser.goto(&data_url(GOOD_PAGE));
    browser.assert_accessible("good");
}

#[test]
fn an_escaped_script_shows_as_text_and_does_not_run() {
    let browser = Browser::start();
    // What a page shows when it escapes a hostile name: the markup as text.
    browser.goto(&data_url(
        r#"<!doctype html><html lang="en"><title>Escaped</title><body>
        <p id="name">&lt;script&gt;window.pwned = 1&lt;/script&gt;&lt;img src=x onerror="window.pwned = 2"&gt;</p>"#,
    ));
    assert_eq!(
        browser.text("#name"),
        r#"<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">"#
    );
    browser.assert_no_script_ran("pwned");

    // The same name not escaped: the script runs, and the assertion says so.
    browser.goto(&data_url(
        r#"<!doctype html><html lang="en"><title>Raw</title><body>
        <p id="name"><script>window.pwned = 1</script></p>"#,
    ));
    let message = panic_message(|| browser.assert_no_script_ran("pwned"));
    assert!(message.contains("`window.pwned` is defined"), "{message}");
    browser.goto(&data_url(
        r#"<!doctype html><html lang="en"><title>Raw</title><body>
        <p id="name"><img src=x onerror="window.pwned = 2"></p>"#,
    ));
    wait_until(
        "the image's error handler ran",
        Duration::from_secs(5),
        || (browser.execute("return window.pwned", &[]) == 2).then_some(()),
    );
    let message = panic_message(|| browser.assert_no_script_ran("pwned"));
    assert!(message.contains("`window.pwned` is defined"), "{message}");
}

/// A loopback server answering every request with a page showing its `Cookie` header.
fn cookie_echo() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(&stream);
            let mut cookie = String::from("none");
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("cookie")
                {
                    cookie = value.trim().to_owned();
                }
                line.clear();
            }
            let body = format!(
                "<!doctype html><html lang=\"en\"><title>Echo</title><p id=\"cookie\">{cookie}</p>"
            );
            let _ = write!(
                &stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{address}/")
}

#[test]
fn cookies_set_in_the_browser_reach_the_server() {
    let browser = Browser::start();
    let url = cookie_echo();
    browser.goto(&url);
    assert_eq!(browser.text("#cookie"), "none");
    browser.set_cookie("hoist_session", "forged");
    browser.goto(&url);
    assert_eq!(browser.text("#cookie"), "hoist_session=forged");
    browser.delete_cookies();
    browser.goto(&url);
    assert_eq!(browser.text("#cookie"), "none");
}

#[test]
fn the_browser_runs_in_the_time_zone_asked_for() {
    let browser = Browser::start_in_time_zone("America/New_York");
    browser.goto(&data_url("<title>Zone</title>"));
    let zone = browser.execute(
        "return [Intl.DateTimeFormat().resolvedOptions().timeZone, new Date(0).getTimezoneOffset()]",
        &[],
    );
    assert_eq!(zone, serde_json::json!(["America/New_York", 300]));
}

#[test]
fn no_browser_process_outlives_its_browser_even_after_a_panic() {
    let browser = Browser::start();
    browser.goto(&data_url(PAGE));
    let processes = browser.processes();
    let names: Vec<String> = processes
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("chromedriver")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("chromium")), "{names:?}");

    // A test that panics drops its browser while unwinding.
    let message = panic_message(move || {
        let _browser = browser;
        panic!("a failing test");
    });
    assert_eq!(message, "a failing test");
    wait_until(
        "the browser's processes are gone",
        Duration::from_secs(5),
        || {
            let left: Vec<&u32> = processes.iter().filter(|pid| alive(**pid)).collect();
            left.is_empty().then_some(())
        },
    );
}
