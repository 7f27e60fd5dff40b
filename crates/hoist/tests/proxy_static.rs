//! `hoist proxy` serving a static site from real files: content types, validators and 304s,
//! ranges, pre-compressed variants, what it refuses, directories, HEAD, and the admin
//! commands that route to a directory. Requests go out byte for byte (a client would
//! normalize `/../` away before sending it).

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use tempfile::TempDir;

use crate::harness::free_port;
use crate::proxy::Proxy;

/// A proxy serving `<tmp>/site` (given as a path through a symlink, as deploys do).
pub struct Site {
    pub dir: TempDir,
    pub proxy: Proxy,
}

impl Site {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("releases/1/public")).unwrap();
        symlink("releases/1", dir.path().join("live")).unwrap();
        let proxy = Proxy::start(&dir.path().join("proxy"), free_port());
        let reply = proxy.admin(json!({ "set_static": dir.path().join("live/public") }));
        assert_eq!(reply["routes"]["upstream"], json!(null), "{reply}");
        Self { dir, proxy }
    }

    pub fn public(&self) -> PathBuf {
        self.dir.path().join("releases/1/public")
    }

    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) {
        let path = self.public().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }

    /// `METHOD target` with extra header lines, written as is on a connection of its own.
    pub fn send(&self, method: &str, target: &str, headers: &[&str]) -> Raw {
        let mut stream = TcpStream::connect(("127.0.0.1", self.proxy.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut request = format!("{method} {target} HTTP/1.1\r\nHost: site.test\r\n");
        for header in headers {
            request.push_str(header);
            request.push_str("\r\n");
        }
        request.push_str("Connection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        Raw::parse(&response)
    }

    pub fn get(&self, target: &str, headers: &[&str]) -> Raw {
        self.send("GET", target, headers)
    }
}

/// An answer as it came: status, headers (names in lower case), body bytes.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    fn parse(response: &[u8]) -> Self {
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a whole head");
        let head = String::from_utf8_lossy(&response[..split]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap();
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Self {
            status: status.parse().unwrap(),
            headers,
            body: response[split + 4..].to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[test]
fn files_are_served_with_their_content_types() {
    let site = Site::start();
    let cases = [
        ("index.html", "text/html; charset=utf-8"),
        ("assets/app.js", "text/javascript; charset=utf-8"),
        ("assets/app.mjs", "text/javascript; charset=utf-8"),
        ("assets/site.css", "text/css; charset=utf-8"),
        ("data.json", "application/json"),
        ("logo.svg", "image/svg+xml"),
        ("photo.JPG", "image/jpeg"),
        ("fonts/a.woff2", "font/woff2"),
        ("app.wasm", "application/wasm"),
        ("dump.tar.gz", "application/gzip"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("blob.unknown", "application/octet-stream"),
    ];
    for (path, _) in cases {
        site.write(path, format!("contents of {path}"));
    }
    for (path, content_type) in cases {
        let answer = site.get(&format!("/{path}"), &[]);
        assert_eq!(answer.status, 200, "{path}: {answer:?}");
        assert_eq!(answer.header("content-type"), Some(content_type), "{path}");
        assert_eq!(answer.text(), format!("contents of {path}"));
        assert_eq!(answer.header("accept-ranges"), Some("bytes"));
    }
    let missing = site.get("/nope.html", &[]);
    assert_eq!(
        (missing.status, missing.text().as_str()),
        (404, "not found\n")
    );
}

#[test]
fn etags_and_dates_answer_304() {
    let site = Site::start();
    site.write("app.js", "console.log('v1')");
    let first = site.get("/app.js", &[]);
    let etag = first.header("etag").unwrap().to_owned();
    let date = first.header("last-modified").unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(date.ends_with(" GMT"), "{date}");

    let not_modified = |headers: &[&str]| {
        let answer = site.get("/app.js", headers);
        assert!(answer.status == 304 || answer.status == 200, "{answer:?}");
        if answer.status == 304 {
            assert!(answer.body.is_empty());
            assert_eq!(answer.header("etag"), Some(etag.as_str()));
        }
        answer.status == 304
    };
    assert!(not_modified(&[&format!("If-None-Match: {etag}")]));
    assert!(not_modified(&[&format!(
        "If-None-Match: \"stale\", W/{etag}"
    )]));
    assert!(not_modified(&["If-None-Match: *"]));
    assert!(!not_modified(&["If-None-Match: \"stale\""]));
    assert!(not_modified(&[&format!("If-Modified-Since: {date}")]));
    assert!(!not_modified(&[
        "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT"
    ]));
    // With both, If-None-Match decides.
    assert!(!not_modified(&[
        "If-None-Match: \"stale\"",
        &format!("If-Modified-Since: {date}"),
    ]));

    // A new version of the file is a new ETag.
    std::thread::sleep(Duration::from_millis(20));
    site.write("app.js", "console.log('v2')");
    assert!(!not_modified(&[&format!("If-None-Match: {etag}")]));
}

#[test]
fn ranges_answer_206_416_and_respect_if_range() {
    let site = Site::start();
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    site.write("video.mp4", &content);
    let etag = site
        .get("/video.mp4", &[])
        .header("etag")
        .unwrap()
        .to_owned();

    let part = site.get("/video.mp4", &["Range: bytes=100-199"]);
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 100-199/200000"));
    assert_eq!(part.body, content[100..200]);

    let tail = site.get("/video.mp4", &["Range: bytes=-50"]);
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, content[199_950..]);

    // A range past the small-file limit streams; open-ended to the end.
    let open = site.get("/video.mp4", &["Range: bytes=1000-"]);
    assert_eq!(open.status, 206);
    assert_eq!(open.header("content-length"), Some("199000"));
    assert_eq!(open.body, content[1000..]);

    let beyond = site.get("/video.mp4", &["Range: bytes=300000-"]);
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range"), Some("bytes */200000"));
    assert!(beyond.body.is_empty());

    let several = site.get("/video.mp4", &["Range: bytes=0-1,5-6"]);
    assert_eq!((several.status, several.body.len()), (200, 200_000));

    let matching = site.get(
        "/video.mp4",
        &["Range: bytes=0-9", &format!("If-Range: {etag}")],
    );
    assert_eq!((matching.status, &matching.body[..]), (206, &content[..10]));
    let stale = site.get("/video.mp4", &["Range: bytes=0-9", "If-Range: \"stale\""]);
    assert_eq!((stale.status, stale.body.len()), (200, 200_000));
    let date = site
        .get("/video.mp4", &[])
        .header("last-modified")
        .unwrap()
        .to_owned();
    let by_date = site.get(
        "/video.mp4",
        &["Range: bytes=0-9", &format!("If-Range: {date}")],
    );
    assert_eq!(by_date.status, 206);
}

#[test]
fn precompressed_variants_follow_accept_encoding() {
    let site = Site::start();
    site.write("app.js", "plain");
    site.write("app.js.br", "brotli bytes");
    site.write("app.js.gz", "gzip bytes");
    site.write("style.css", "plain css");
    site.write("style.css.gz", "gzip css");
    site.write("lone.js", "no variants");

    let br = site.get("/app.js", &["Accept-Encoding: gzip, deflate, br"]);
    assert_eq!(br.text(), "brotli bytes");
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(
        br.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(br.header("vary"), Some("Accept-Encoding"));

    let gzip = site.get("/app.js", &["Accept-Encoding: gzip, br;q=0"]);
    assert_eq!(gzip.text(), "gzip bytes");
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));

    let plain = site.get("/app.js", &[]);
    assert_eq!(plain.text(), "plain");
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));

    let etags: std::collections::BTreeSet<_> = [&br, &gzip, &plain]
        .iter()
        .map(|a| a.header("etag").unwrap().to_owned())
        .collect();
    assert_eq!(etags.len(), 3, "one ETag per variant: {etags:?}");

    // Only a gzip variant: a client asking for br gets gzip.
    let css = site.get("/style.css", &["Accept-Encoding: br, gzip"]);
    assert_eq!(css.text(), "gzip css");
    let lone = site.get("/lone.js", &["Accept-Encoding: br, gzip"]);
    assert_eq!(lone.text(), "no variants");
    assert_eq!(lone.header("vary"), None);
}

#[test]
fn traversal_and_escaping_symlinks_are_refused() {
    let site = Site::start();
    site.write("index.html", "home");
    fs::write(site.dir.path().join("secret.txt"), "TOP SECRET").unwrap();
    symlink(
        site.dir.path().join("secret.txt"),
        site.public().join("leak.txt"),
    )
    .unwrap();
    symlink(site.dir.path(), site.public().join("up")).unwrap();
    for target in [
        "/../etc/passwd",
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E%2F..%2Fsecret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/index.html%00.txt",
        "/%00",
        "/leak.txt",
        "/up/secret.txt",
        "/up/",
    ] {
        let answer = site.get(target, &[]);
        assert!(
            answer.status == 400 || answer.status == 404,
            "{target}: {answer:?}"
        );
        assert!(!answer.text().contains("SECRET"), "{target}");
        assert!(!answer.text().contains("root:"), "{target}");
    }
}

#[test]
fn dotfiles_are_hidden_but_well_known_is_served() {
    let site = Site::start();
    site.write(".env", "SECRET=1");
    site.write(".git/config", "[core]");
    site.write("assets/.htaccess", "deny");
    site.write(".well-known/acme-challenge/token", "proof");
    for target in ["/.env", "/.git/config", "/assets/.htaccess", "/%2eenv"] {
        assert_eq!(site.get(target, &[]).status, 404, "{target}");
    }
    let known = site.get("/.well-known/acme-challenge/token", &[]);
    assert_eq!((known.status, known.text().as_str()), (200, "proof"));
}

#[test]
fn directories_serve_their_index_and_redirect_without_the_slash() {
    let site = Site::start();
    site.write("index.html", "home");
    site.write("docs/index.html", "docs home");
    fs::create_dir_all(site.public().join("empty")).unwrap();
    assert_eq!(site.get("/", &[]).text(), "home");
    let docs = site.get("/docs/", &[]);
    assert_eq!(docs.text(), "docs home");
    assert_eq!(
        docs.header("content-type"),
        Some("text/html; charset=utf-8")
    );

    let redirect = site.get("/docs?lang=en", &[]);
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("location"), Some("/docs/?lang=en"));
    assert_eq!(site.get("/docs", &[]).header("location"), Some("/docs/"));
    assert_eq!(site.get("/empty/", &[]).status, 404, "no listings");
    assert_eq!(site.get("/index.html/", &[]).status, 404);
}

#[test]
fn head_has_the_headers_and_no_body_and_other_methods_are_405() {
    let site = Site::start();
    let content = vec![b'x'; 300_000];
    site.write("big.bin", &content);
    let get = site.get("/big.bin", &[]);
    let head = site.send("HEAD", "/big.bin", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), Some("300000"));
    for name in ["etag", "last-modified", "content-type", "accept-ranges"] {
        assert_eq!(head.header(name), get.header(name), "{name}");
    }
    let post = site.send("POST", "/big.bin", &["Content-Length: 0"]);
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
}

#[test]
fn the_static_root_survives_a_restart_and_maintenance_still_applies() {
    let site = Site::start();
    site.write("index.html", "home");
    site.write("health", "ok");
    let reply = site.proxy.admin(json!({ "maintenance": true }));
    assert!(reply["routes"]["static_root"].is_string(), "{reply}");
    let down = site.get("/", &[]);
    assert_eq!(down.status, 503);
    assert!(down.text().contains("maintenance"));
    assert_eq!(site.get("/health", &[]).text(), "ok");
    site.proxy.admin(json!({ "maintenance": false }));

    let Site { dir, proxy } = site;
    let port = proxy.port;
    proxy.stop();
    let proxy = Proxy::start(&dir.path().join("proxy"), port);
    let site = Site { dir, proxy };
    assert_eq!(site.get("/", &[]).text(), "home");

    // An upstream replaces the directory, and a relative directory is refused.
    let reply = site.proxy.admin(json!({ "set_upstream": "127.0.0.1:9" }));
    assert_eq!(reply["routes"]["static_root"], json!(null));
    assert_eq!(site.get("/", &[]).status, 502);
    let refused = relative_root_refused(&site.dir.path().join("proxy"));
    assert!(refused.contains("absolute"), "{refused}");
}

fn relative_root_refused(state_dir: &Path) -> String {
    let command = hoist::proxy::AdminCommand::SetStatic(Some(PathBuf::from("public")));
    hoist::proxy::request(&state_dir.join("admin.sock"), &command)
        .unwrap_err()
        .to_string()
}
