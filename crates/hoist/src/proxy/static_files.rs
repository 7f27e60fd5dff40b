//! A static site served from a directory instead of an upstream: GET and HEAD, content types
//! by extension, `ETag`/`Last-Modified` with 304s, one byte range, pre-compressed `.br`/`.gz`
//! variants. The root path is looked up again on every request (it usually passes through
//! the `live` symlink, which a deploy switches by rename), and each request is answered from
//! the one release it found.

mod content_types;
mod file_body;
mod lookup;
mod ranges;
mod site_cache;
mod site_path;
mod validators;

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};

use crate::proxy::forward::{ProxyBody, text};
use file_body::FileBody;
use lookup::{Lookup, OpenedFile};
use ranges::RangeRequest;
pub use site_cache::SiteCache;
use site_path::{Refused, SitePath};
use validators::Validators;

/// Files up to this size are read in one go; larger ones stream in chunks.
const SMALL_FILE: u64 = 64 * 1024;

/// Answers `request` from the files under `root`, with the serving thread's `cache`. The
/// file system is used right here, on the serving thread: handing lookups and reads of
/// page-cached files to the blocking pool halved throughput (docs/BENCHMARKS.md).
pub fn serve<B>(
    request: &Request<B>,
    root: &Path,
    cache: &Mutex<SiteCache>,
) -> Response<ProxyBody> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "a static site answers GET and HEAD only\n",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let site = match SitePath::parse(request.uri().path()) {
        Ok(site) => site,
        Err(Refused::Malformed) => {
            return text(StatusCode::BAD_REQUEST, "the request path is not valid\n");
        }
        Err(Refused::Hidden) => return not_found(),
    };
    let accept_encoding = header_str(request.headers(), &header::ACCEPT_ENCODING).unwrap_or("");
    // A serving thread's cache is never contended: only that thread's requests use it.
    let lookup = Lookup::find(
        &mut cache.lock().unwrap_or_else(PoisonError::into_inner),
        root,
        &site,
        accept_encoding,
    );
    match lookup {
        Lookup::File(found) => respond(request, found),
        Lookup::Directory => redirect_to_directory(request.uri()),
        Lookup::Missing => not_found(),
        Lookup::NoRoot => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the site's directory does not exist (yet)\n",
        ),
    }
}

/// The answer for a found file: 304, 200, 206 or 416.
fn respond<B>(request: &Request<B>, found: OpenedFile) -> Response<ProxyBody> {
    let validators = Validators::of(&found.metadata, found.encoding);
    let asked = request.headers();
    let mut response = Response::new(empty());
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&validators.etag) {
        headers.insert(header::ETAG, etag);
    }
    if let Ok(date) = HeaderValue::from_str(&validators.last_modified)
        && !validators.last_modified.is_empty()
    {
        headers.insert(header::LAST_MODIFIED, date);
    }
    if found.has_variants {
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if validators.not_modified(
        header_str(asked, &header::IF_NONE_MATCH),
        header_str(asked, &header::IF_MODIFIED_SINCE),
    ) {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return response;
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_types::content_type(&found.path)),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(encoding) = found.encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }

    let size = found.metadata.len();
    // Ranges are defined for GET only; an If-Range that no longer matches asks for the whole.
    let range = match header_str(asked, &header::RANGE) {
        Some(range)
            if request.method() == Method::GET
                && header_str(asked, &header::IF_RANGE)
                    .is_none_or(|r| validators.if_range_holds(r)) =>
        {
            RangeRequest::parse(range, size)
        }
        _ => RangeRequest::Whole,
    };
    let (start, length) = match range {
        RangeRequest::Whole => (0, size),
        RangeRequest::Part { start, end } => {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            set(
                response.headers_mut(),
                header::CONTENT_RANGE,
                &format!("bytes {start}-{end}/{size}"),
            );
            (start, end - start + 1)
        }
        RangeRequest::Unsatisfiable => {
            *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            let headers = response.headers_mut();
            set(headers, header::CONTENT_RANGE, &format!("bytes */{size}"));
            headers.remove(header::CONTENT_TYPE);
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
            return response;
        }
    };
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if request.method() == Method::HEAD {
        return response;
    }
    match body(found, start, length) {
        Ok(body) => *response.body_mut() = body,
        Err(error) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the file could not be read: {error}\n"),
            );
        }
    }
    response
}

/// `length` bytes of the file from `start`: read now when small, streamed otherwise.
fn body(found: OpenedFile, start: u64, length: u64) -> std::io::Result<ProxyBody> {
    let body = FileBody::new(found.file, start, length)?;
    if length <= SMALL_FILE {
        let bytes = body.read_rest()?;
        return Ok(Full::new(bytes).map_err(|never| match never {}).boxed());
    }
    Ok(body.boxed())
}

/// `/docs` → 301 to `/docs/`, the query kept, the path as the client encoded it.
fn redirect_to_directory(uri: &Uri) -> Response<ProxyBody> {
    let location = match uri.query() {
        Some(query) => format!("{}/?{query}", uri.path()),
        None => format!("{}/", uri.path()),
    };
    let mut response = text(StatusCode::MOVED_PERMANENTLY, "moved to the directory\n");
    set(response.headers_mut(), header::LOCATION, &location);
    response
}

fn not_found() -> Response<ProxyBody> {
    text(StatusCode::NOT_FOUND, "not found\n")
}

fn empty() -> ProxyBody {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}
