use super::*;

fn head(bytes: &str, is_head: bool) -> ResponseHead {
    let (length, head) = parse_response_head(bytes.as_bytes(), is_head)
        .unwrap()
        .unwrap();
    assert_eq!(length, bytes.find("\r\n\r\n").unwrap() + 4);
    head.expect("a final response")
}

fn forwarding() -> Forwarding {
    Forwarding {
        client: "192.0.2.7:5000".parse().unwrap(),
        upstream: "127.0.0.1:9000".parse().unwrap(),
    }
}

fn encoded(request: &Request<()>, head_only: bool) -> (String, bool) {
    let mut out = Vec::new();
    let chunked = encode_request_head(request, head_only, forwarding(), &mut out);
    (String::from_utf8(out).unwrap(), chunked)
}

#[test]
fn the_framing_follows_rfc_9112() {
    let length = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false);
    assert_eq!(length.framing, Framing::Length(5));
    assert!(length.keep_alive);
    assert_eq!(length.response.headers()[header::CONTENT_LENGTH], "5");
    let chunked = head(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        false,
    );
    assert_eq!(chunked.framing, Framing::Chunked);
    assert!(chunked.keep_alive);
    let until_close = head("HTTP/1.1 200 OK\r\n\r\n", false);
    assert_eq!(until_close.framing, Framing::UntilClose);
    assert!(!until_close.keep_alive);
    let to_head = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true);
    assert_eq!(to_head.framing, Framing::Length(0));
    let no_content = head("HTTP/1.1 204 No Content\r\n\r\n", false);
    assert_eq!(no_content.framing, Framing::Length(0));
    assert!(no_content.keep_alive);
    let closing = head(
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        false,
    );
    assert!(!closing.keep_alive);
    let old = head("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", false);
    assert!(!old.keep_alive);
    let both = head(
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        false,
    );
    assert_eq!(both.framing, Framing::Chunked);
    assert!(!both.keep_alive, "a length beside chunked is never reused");
    let switched = head(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        false,
    );
    assert!(
        !switched.keep_alive,
        "a switched connection is never reused"
    );
}

#[test]
fn interim_answers_are_skipped_and_partial_heads_wait() {
    let (length, interim) = parse_response_head(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1", false)
        .unwrap()
        .unwrap();
    assert_eq!(length, 25);
    assert!(interim.is_none());
    assert!(
        parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Le", false)
            .unwrap()
            .is_none()
    );
}

#[test]
fn bad_heads_are_errors() {
    for bad in [
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
        "NOT HTTP\r\n\r\n",
    ] {
        assert!(
            parse_response_head(bad.as_bytes(), false).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn a_response_loses_its_hop_by_hop_fields_and_the_ones_connection_names() {
    let response = head(
        "HTTP/1.1 200 OK\r\nX-Secret: 1\r\nConnection: keep-alive, X-Secret\r\n\
         Keep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\nUpgrade: h2c\r\n\
         Proxy-Authenticate: Basic\r\nTrailer: x-sum\r\nX-Kept: 1\r\nSet-Cookie: a=1\r\n\
         Set-Cookie: b=2\r\n\r\n",
        false,
    );
    let headers = response.response.headers();
    let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
    assert_eq!(names, ["x-kept", "set-cookie"], "{headers:?}");
    assert_eq!(headers.get_all(header::SET_COOKIE).iter().count(), 2);
    assert_eq!(response.framing, Framing::Chunked, "framing still read");
}

#[test]
fn a_request_goes_out_without_hop_by_hop_fields_and_with_forwarding_fields() {
    let request = Request::builder()
        .method(Method::GET)
        .uri("/path?q=1")
        .header(header::HOST, "example.test")
        .header("x-secret", "1")
        .header(header::CONNECTION, "keep-alive, X-Secret, x-dropped-for")
        .header("x-dropped-for", "1")
        .header("keep-alive", "timeout=5")
        .header(header::TE, "trailers")
        .header(header::PROXY_AUTHORIZATION, "Basic x")
        .header(header::UPGRADE, "h2c")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-for", "10.0.0.1")
        .header("x-forwarded-for", "10.0.0.2, 10.0.0.3")
        .header("x-kept", "1")
        .body(())
        .unwrap();
    let (head, chunked) = encoded(&request, true);
    assert!(!chunked);
    assert_eq!(
        head,
        "GET /path?q=1 HTTP/1.1\r\nhost: example.test\r\nx-kept: 1\r\n\
         x-forwarded-for: 10.0.0.1, 10.0.0.2, 10.0.0.3, 192.0.2.7\r\n\
         x-forwarded-proto: http\r\n\r\n"
    );
}

#[test]
fn a_request_without_a_host_gets_the_authority_or_the_upstream() {
    let absolute = Request::builder()
        .uri("http://app.test:8080/x")
        .body(())
        .unwrap();
    let (head, _) = encoded(&absolute, true);
    assert!(
        head.starts_with("GET /x HTTP/1.1\r\nhost: app.test:8080\r\n"),
        "{head}"
    );
    let bare = Request::builder().uri("/x").body(()).unwrap();
    let (head, _) = encoded(&bare, true);
    assert!(head.contains("\r\nhost: 127.0.0.1:9000\r\n"), "{head}");
    assert!(
        head.contains("\r\nx-forwarded-for: 192.0.2.7\r\n"),
        "{head}"
    );
}

#[test]
fn a_body_without_a_length_goes_chunked_and_an_empty_post_gets_a_zero_length() {
    let streamed = Request::builder()
        .method(Method::POST)
        .uri("/upload")
        .header(header::TRANSFER_ENCODING, "chunked")
        .body(())
        .unwrap();
    let (head, chunked) = encoded(&streamed, false);
    assert!(chunked);
    assert_eq!(
        head.matches("transfer-encoding: chunked").count(),
        1,
        "{head}"
    );
    let empty = Request::builder()
        .method(Method::POST)
        .uri("/upload")
        .body(())
        .unwrap();
    let (head, chunked) = encoded(&empty, true);
    assert!(!chunked);
    assert!(head.ends_with("content-length: 0\r\n\r\n"), "{head}");
    let sized = Request::builder()
        .method(Method::PUT)
        .uri("/upload")
        .header(header::CONTENT_LENGTH, "3")
        .body(())
        .unwrap();
    let (head, chunked) = encoded(&sized, false);
    assert!(!chunked);
    assert!(head.contains("content-length: 3\r\n"), "{head}");
    assert!(!head.contains("chunked"), "{head}");
}
