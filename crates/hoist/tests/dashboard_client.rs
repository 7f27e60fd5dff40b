//! A browser-less dashboard visitor for tests: signs in through the sign-in form (its form
//! token and cookie), keeps the session cookie, and sends forms with the session's form
//! token, through the tests' one HTTP client.

use std::net::SocketAddr;

use crate::api_server::Server;
use crate::http_client::{self, Answer, Patience, Stream};

pub struct Visitor {
    address: SocketAddr,
    /// `hoist_session=…`, once signed in.
    pub cookie: Option<String>,
}

impl Visitor {
    /// Signed in with the token `secret`; panics if the dashboard refuses it.
    pub fn signed_in(server: &Server, secret: &str) -> Self {
        let mut visitor = Self {
            address: server.address,
            cookie: None,
        };
        let answer = visitor.sign_in(secret);
        assert_eq!(answer.status, 303, "sign-in refused: {answer:?}");
        assert!(visitor.cookie.is_some(), "no session cookie: {answer:?}");
        visitor
    }

    /// The same visitor (its cookie) at another `hoist serve` — the same one restarted.
    pub fn moved_to(&mut self, server: &Server) {
        self.address = server.address;
    }

    /// Not signed in.
    pub fn anonymous(server: &Server) -> Self {
        Self {
            address: server.address,
            cookie: None,
        }
    }

    /// Fills in and sends the sign-in form; keeps the session cookie it sets.
    pub fn sign_in(&mut self, secret: &str) -> Answer {
        let page = self.get("/sign-in");
        assert_eq!(page.status, 200, "{page:?}");
        let form_token = field(&page.body, "form_token").expect("the sign-in form's token");
        let form_cookie = set_cookie(&page.head, "hoist_sign_in").expect("the sign-in cookie");
        let body = encode(&[
            ("token", secret),
            ("form_token", &form_token),
            ("next", "/"),
        ]);
        let answer = self.send("POST", "/sign-in", Some(&body), Some(&form_cookie));
        if let Some(session) = set_cookie(&answer.head, "hoist_session") {
            self.cookie = Some(session);
        }
        answer
    }

    pub fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None, None)
    }

    /// Posts `fields` to `path` with the session's form token, read from `form_page`.
    pub fn post_form(&self, form_page: &str, path: &str, fields: &[(&str, &str)]) -> Answer {
        let page = self.get(form_page);
        let csrf = field(&page.body, "csrf")
            .unwrap_or_else(|| panic!("no form token on {form_page}: {page:?}"));
        self.post_with_token(path, &csrf, fields)
    }

    /// Posts `fields` with `csrf` as the form token, as given (forged, missing, another's).
    pub fn post_with_token(&self, path: &str, csrf: &str, fields: &[(&str, &str)]) -> Answer {
        let mut all = vec![("csrf", csrf)];
        all.extend_from_slice(fields);
        self.send("POST", path, Some(&encode(&all)), None)
    }

    /// `GET path` with the session cookie, its body left open (an event stream).
    pub fn open(&self, path: &str) -> Stream {
        let cookie = self.cookie.clone().unwrap_or_default();
        let url = format!("http://{}{path}", self.address);
        http_client::open(&url, &[("Cookie", cookie.as_str())], Patience::TEST)
            .unwrap_or_else(|error| panic!("GET {path}: no answer: {error}"))
    }

    fn send(&self, method: &str, path: &str, body: Option<&str>, cookie: Option<&str>) -> Answer {
        let cookies: Vec<&str> = [self.cookie.as_deref(), cookie]
            .into_iter()
            .flatten()
            .collect();
        let cookie_header = cookies.join("; ");
        let mut headers = Vec::new();
        if !cookie_header.is_empty() {
            headers.push(("Cookie", cookie_header.as_str()));
        }
        if body.is_some() {
            headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        }
        let url = format!("http://{}{path}", self.address);
        http_client::send(
            method,
            &url,
            &headers,
            body.map(str::as_bytes),
            Patience::TEST,
        )
        .unwrap_or_else(|error| panic!("{method} {path}: no answer: {error}"))
    }
}

/// The value of the first `<input … name="NAME" value="…">` in `html` (as rendered: escaped).
pub fn field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// `NAME=value` of the answer's `Set-Cookie: NAME=…` header.
pub fn set_cookie(head: &str, name: &str) -> Option<String> {
    head.lines()
        .filter_map(|line| line.strip_prefix("set-cookie: "))
        .filter_map(|value| value.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")) && pair.len() > name.len() + 1)
        .map(str::to_owned)
}

/// The `Location` an answer redirects to.
pub fn location(answer: &Answer) -> Option<&str> {
    answer
        .head
        .lines()
        .find_map(|line| line.strip_prefix("location: "))
}

/// `application/x-www-form-urlencoded`.
pub fn encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", escape(name), escape(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn escape(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
