//! The heads of one upstream exchange, done in one pass each: the request head the proxy
//! writes (hop-by-hop fields left out, the forwarding fields added as it goes) and the
//! response head it reads (framing decided, hop-by-hop fields left out as the header map is
//! built). Neither edits a header map afterwards: removing and inserting fields was the
//! largest part of the proxy's own CPU per request.

use std::io::{self, ErrorKind, Write};
use std::net::SocketAddr;

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Version};

use crate::proxy::upstream_body::Framing;

/// The most header fields a response head may have.
const MAX_HEADERS: usize = 128;

/// Where a request came from and where it goes: what its forwarding fields say.
#[derive(Debug, Clone, Copy)]
pub struct Forwarding {
    pub client: SocketAddr,
    pub upstream: SocketAddr,
}

/// The parsed head of a response and how its body is framed.
#[derive(Debug)]
pub struct ResponseHead {
    pub response: Response<()>,
    pub framing: Framing,
    /// Whether the connection may carry another exchange after this body.
    pub keep_alive: bool,
}

/// Whether a field describes one connection rather than the message (RFC 9110 §7.6.1).
fn is_hop_by_hop(name: &str) -> bool {
    const NAMES: [&str; 8] = [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ];
    NAMES.iter().any(|hop| hop.eq_ignore_ascii_case(name))
}

/// The field names a `Connection` value lists (they are hop-by-hop too).
fn connection_options<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<&'a str> {
    values
        .filter_map(|value| std::str::from_utf8(value).ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|option| !option.is_empty())
        .collect()
}

/// Writes the request line and header fields for the upstream: origin-form target, HTTP/1.1,
/// no hop-by-hop fields, the client's Host (or the URI's authority, or the upstream), and
/// `X-Forwarded-For` (earlier hops, then the client) and `X-Forwarded-Proto`. True if the
/// body goes chunked.
pub fn encode_request_head<B>(
    request: &Request<B>,
    head_only: bool,
    forwarding: Forwarding,
    out: &mut Vec<u8>,
) -> bool {
    let headers = request.headers();
    out.extend_from_slice(request.method().as_str().as_bytes());
    out.push(b' ');
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let named = connection_options(
        headers
            .get_all(header::CONNECTION)
            .iter()
            .map(HeaderValue::as_bytes),
    );
    let mut has_host = false;
    let mut has_length = false;
    let mut forwarded_for: Vec<&[u8]> = Vec::new();
    for (name, value) in headers {
        let field = name.as_str();
        if is_hop_by_hop(field)
            || named.iter().any(|n| n.eq_ignore_ascii_case(field))
            || field == "x-forwarded-proto"
        {
            continue;
        }
        if field == "x-forwarded-for" {
            forwarded_for.push(value.as_bytes());
            continue;
        }
        has_host |= *name == header::HOST;
        has_length |= *name == header::CONTENT_LENGTH;
        write_field(out, field.as_bytes(), value.as_bytes());
    }
    if !has_host {
        // HTTP/2 carries the host in the URI's authority; an HTTP/1.0 client may send none.
        out.extend_from_slice(b"host: ");
        match request.uri().authority() {
            Some(authority) => out.extend_from_slice(authority.as_str().as_bytes()),
            None => {
                let _ = write!(out, "{}", forwarding.upstream);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"x-forwarded-for: ");
    for earlier in forwarded_for {
        out.extend_from_slice(earlier);
        out.extend_from_slice(b", ");
    }
    let _ = write!(out, "{}", forwarding.client.ip());
    out.extend_from_slice(b"\r\nx-forwarded-proto: http\r\n");
    let chunked = !head_only && !has_length;
    if chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    } else if head_only && !has_length && expects_body(request.method()) {
        // An HTTP/2 client's empty POST carries no length; HTTP/1 needs one.
        out.extend_from_slice(b"content-length: 0\r\n");
    }
    out.extend_from_slice(b"\r\n");
    chunked
}

fn write_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn expects_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// What the framing depends on, gathered from the fields as they are read.
#[derive(Default)]
struct FramingFields<'a> {
    /// The last transfer coding named.
    last_coding: Option<&'a [u8]>,
    lengths: Vec<&'a [u8]>,
    closes: bool,
}

/// Parses a response head at the start of `bytes`: `None` while incomplete, else its length
/// and the head (`None` for an interim 1xx answer, which is skipped).
pub fn parse_response_head(
    bytes: &[u8],
    is_head: bool,
) -> io::Result<Option<(usize, Option<ResponseHead>)>> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut fields);
    let length = match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!("an invalid response head: {error}"),
            ));
        }
    };
    let code = parsed.code.unwrap_or(0);
    let status = StatusCode::from_u16(code).map_err(|_| invalid("status", code))?;
    if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(Some((length, None)));
    }
    let named = connection_options(
        parsed
            .headers
            .iter()
            .filter(|field| field.name.eq_ignore_ascii_case("connection"))
            .map(|field| field.value),
    );
    let mut framing_fields = FramingFields {
        closes: named.iter().any(|n| n.eq_ignore_ascii_case("close")),
        ..FramingFields::default()
    };
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for field in parsed.headers.iter() {
        if field.name.eq_ignore_ascii_case("content-length") {
            framing_fields.lengths.push(field.value);
        } else if is_hop_by_hop(field.name) {
            if field.name.eq_ignore_ascii_case("transfer-encoding") {
                framing_fields.last_coding = Some(field.value);
            }
            continue;
        } else if named.iter().any(|n| n.eq_ignore_ascii_case(field.name)) {
            continue;
        }
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| invalid("header name", field.name))?;
        let value = HeaderValue::from_bytes(field.value)
            .map_err(|_| invalid("header value", field.name))?;
        headers.append(name, value);
    }
    let http_10 = parsed.version == Some(0);
    let (framing, keep_alive) = framing(&framing_fields, status, is_head)?;
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = Version::HTTP_11;
    *response.headers_mut() = headers;
    Ok(Some((
        length,
        Some(ResponseHead {
            response,
            framing,
            keep_alive: keep_alive && !framing_fields.closes && !http_10,
        }),
    )))
}

fn invalid(what: &str, value: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        ErrorKind::InvalidData,
        format!("an invalid response {what}: {value}"),
    )
}

/// How the body is delimited (RFC 9112 §6.3), and whether the connection survives it.
fn framing(
    fields: &FramingFields<'_>,
    status: StatusCode,
    is_head: bool,
) -> io::Result<(Framing, bool)> {
    if status == StatusCode::SWITCHING_PROTOCOLS {
        // The connection now speaks another protocol: it is never given back.
        return Ok((Framing::Length(0), false));
    }
    if is_head
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok((Framing::Length(0), true));
    }
    if let Some(coding) = fields.last_coding {
        let last = std::str::from_utf8(coding)
            .unwrap_or("")
            .rsplit(',')
            .next()
            .unwrap_or("");
        return Ok(match last.trim().eq_ignore_ascii_case("chunked") {
            // A length beside a coding is a smuggling attempt's shape: never reuse.
            true => (Framing::Chunked, fields.lengths.is_empty()),
            false => (Framing::UntilClose, false),
        });
    }
    let Some((first, others)) = fields.lengths.split_first() else {
        return Ok((Framing::UntilClose, false));
    };
    let length = parse_length(first)?;
    if others
        .iter()
        .any(|other| parse_length(other).ok() != Some(length))
    {
        return Err(invalid("Content-Length", "several that differ"));
    }
    Ok((Framing::Length(length), true))
}

fn parse_length(value: &[u8]) -> io::Result<u64> {
    std::str::from_utf8(value)
        .ok()
        .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| invalid("Content-Length", String::from_utf8_lossy(value)))
}

#[cfg(test)]
mod tests;
