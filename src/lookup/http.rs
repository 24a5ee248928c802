//! Just enough HTTP/1.1 for the user directory and its clients.
//!
//! The post's "external API" takes one second per user and answers one user per call.
//! Here it is a real HTTP server, so the waiting the post talks about is real waiting
//! on a socket. Both ends of that socket share this file: the directory parses requests
//! and builds responses, the clients build requests and parse responses.
//!
//! Everything here is a pure function on bytes. Nothing reads or writes a socket, so the
//! same code serves the blocking clients (`std::net`), the event-loop client and the
//! directory (`looplab::net`), and every case can be tested without a network.
//!
//! Two ideas matter for the rest of the crate:
//!
//! - **Bytes arrive in pieces.** A read may return half a request, or two requests at
//!   once (a client may pipeline). So a parse answers one of three things: a complete
//!   message and how many bytes it used (`consumed`; the rest belongs to the next
//!   message), `Partial` (read more and try again), or `Invalid` (give up on this
//!   connection). The caller keeps one growing buffer per connection and drains
//!   `consumed` bytes after each complete message.
//! - **Keep-alive.** The clients find users one call at a time over one connection, as
//!   a real service would talk to its API. HTTP/1.1 keeps a connection open unless a
//!   side says `Connection: close`; HTTP/1.0 closes it unless a side says
//!   `Connection: keep-alive`. Every message here carries `Content-Length`, because on a
//!   kept-alive connection that is how a reader knows where one message ends.
//!
//! The parsing itself is `httparse`'s: it reads the request or status line and the
//! headers without copying, into a fixed array of header slots, and never allocates.
//! This file only decides what the parsed pieces mean for the directory.
//!
//! Routes:
//!
//! | request                         | answer                                            |
//! |---------------------------------|---------------------------------------------------|
//! | `GET /users/{id}`, id a `u64`   | `200` `{"id":7,"name":"..."}` (after the delay)   |
//! | `GET /users/{not a u64}`        | `400`, e.g. for `abc`, `-1`, `+7` or an overflow |
//! | `GET /`                         | `200` [`DirectoryInfo`]: the delay, the lookups in flight |
//! | any other method on those paths | `405` with `Allow: GET, HEAD`                    |
//! | any other path                  | `404`                                             |
//! | bytes that are not HTTP/1.x     | `400`, then the connection closes                 |
//!
//! A non-number id gets `400` rather than `404`: the path has the directory's shape, so
//! the useful thing to tell the caller is that the id itself is wrong and why.
//!
//! Three rules of HTTP/1.1 (RFC 9110, RFC 9112) that clients count on:
//!
//! - **`HEAD` is `GET` without the body**: the same status and headers,
//!   `Content-Length` included, and no body ([`Request::wants_body`], [`strip_body`]).
//!   `curl -I` sends it.
//! - **A target may be absolute**: `GET http://host:7878/users/7` means
//!   `GET /users/7` (proxies send this form, and servers must accept it).
//! - **`Expect: 100-continue`**: a client with a body may wait for the server's go
//!   before sending it. A request the server will refuse anyway gets its final
//!   status at once instead ([`awaiting_continue`]); one it will serve gets
//!   [`CONTINUE`]. Without either, curl waits a whole second for nothing.

use std::fmt::Write as _;
use std::io;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Methods and status codes are the `http` crate's: the same types hyper and most Rust
/// HTTP code use, with each status's canonical reason phrase (`404` → `Not Found`).
pub use http::{Method, StatusCode};

/// How many headers a request or response may carry. httparse writes into a fixed
/// array rather than allocating, so the limit is explicit; 32 is far more than curl or
/// our clients send, and a peer that sends more gets a clear `400`.
const MAX_HEADERS: usize = 32;

/// The longest request line plus headers the directory will wait for. Without a limit,
/// a peer that never ends its headers would make the server buffer forever.
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// The largest request body the directory will skip over. `GET` has no body; this only
/// lets the server read past the body of, say, a `POST` it answers with `405`, so the
/// next request on the connection starts where it should.
pub const MAX_REQUEST_BODY: usize = 64 * 1024;

/// The largest response body a client will wait for. A user answer is a few dozen
/// bytes; a bigger promise means the peer is not the directory.
pub const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// What the request line should look like, quoted in error messages.
const REQUEST_LINE_EXAMPLE: &str = "`GET /users/7 HTTP/1.1`";

/// The part of a request the directory acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method as sent, e.g. `GET`. Methods are case-sensitive in HTTP.
    pub method: Method,
    /// The request target as sent, e.g. `/users/7`.
    pub path: String,
    /// Whether the client wants the connection kept open after the answer.
    pub keep_alive: bool,
}

impl Request {
    /// Whether the answer carries its body: every method but `HEAD`.
    pub fn wants_body(&self) -> bool {
        self.method != Method::HEAD
    }
}

/// The outcome of trying to parse one request from the front of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestParse {
    /// A whole request (head and any body) is in the buffer.
    Complete {
        /// The request.
        request: Request,
        /// How many bytes from the front of the buffer it used. Bytes after these are
        /// the start of the next request.
        consumed: usize,
    },
    /// The request is not all here yet: read more bytes and parse again from the start
    /// of the same buffer.
    Partial,
    /// The bytes are not a request this server can answer. The reason is meant for a
    /// human. The position of the next request cannot be trusted, so the server should
    /// answer `400` and close the connection.
    Invalid(String),
    /// The request line and headers are larger than the server accepts (too long, or
    /// too many headers). The server should answer `431` and close the connection.
    TooLarge(String),
}

/// Parses the request at the front of `buf`, accepting a head of up to
/// [`MAX_REQUEST_HEAD`] bytes.
pub fn parse_request(buf: &[u8]) -> RequestParse {
    parse_request_limited(buf, MAX_REQUEST_HEAD)
}

/// Parses the request at the front of `buf`, accepting a request line and headers of
/// at most `max_head` bytes. Past that, or with more than 32 headers, the answer is
/// `TooLarge`: however much more the client sends, the server buffers no more.
///
/// Each call starts from the front of `buf`. A server that calls it again after every
/// read looks at the first bytes once per read: for a large head that arrives in many
/// reads, that is quadratic work. A connection uses a [`RequestReader`] instead.
pub fn parse_request_limited(buf: &[u8], max_head: usize) -> RequestParse {
    RequestReader::new(max_head).parse(buf)
}

/// Reads the requests of one connection from its growing buffer, looking at each byte
/// once.
///
/// A head ends at its first empty line. Until that line has arrived, the reader only
/// looks for it, in the bytes it has not looked at yet, and remembers how far it got;
/// httparse reads the head once, when it is whole. So parsing a head costs time in
/// proportion to its size, however many reads it arrives in. (httparse also looks at
/// the first line once it is in, so that bytes which are not HTTP are refused at once
/// rather than at the limit.) Once the head is read, the reader waits for its body
/// without reading the head again.
///
/// The rule for the caller: pass the same buffer each time, only ever grown at its
/// end. After a [`RequestParse::Complete`], the next request starts `consumed` bytes
/// further: drain them from the front, or pass the rest of the buffer from there.
#[derive(Debug, Clone)]
pub struct RequestReader {
    max_head: usize,
    /// How many bytes from the front were searched for the end of the head.
    searched: usize,
    /// Whether the first line was checked by httparse already.
    first_line_checked: bool,
    /// The head, once it was read whole, while its body arrives.
    head: Option<ReadHead>,
}

/// A head read whole: the request, where its body ends, and whether it waits for
/// `100 Continue`.
#[derive(Debug, Clone)]
struct ReadHead {
    request: Request,
    head_len: usize,
    consumed: usize,
    expects_continue: bool,
}

impl RequestReader {
    /// A reader for a connection, accepting heads of up to `max_head` bytes.
    pub fn new(max_head: usize) -> RequestReader {
        RequestReader {
            max_head,
            searched: 0,
            first_line_checked: false,
            head: None,
        }
    }

    /// Parses the request at the front of `buf`, looking only at the bytes added since
    /// the last call (see [`parse_request_limited`] for the answers).
    pub fn parse(&mut self, buf: &[u8]) -> RequestParse {
        if self.head.is_none() {
            match self.read_head(buf) {
                Ok(Some(head)) => self.head = Some(head),
                Ok(None) => return RequestParse::Partial,
                Err(refusal) => return refusal,
            }
        }
        let consumed = self.head.as_ref().map_or(0, |head| head.consumed);
        if buf.len() < consumed {
            return RequestParse::Partial;
        }
        let head = self.head.take().expect("the head was read above");
        *self = RequestReader::new(self.max_head);
        RequestParse::Complete {
            request: head.request,
            consumed,
        }
    }

    /// The request whose head is read, that asks `Expect: 100-continue`, and whose
    /// body has not all arrived: the client may be waiting for the server's go before
    /// it sends the body. Call it after [`parse`](RequestReader::parse) answered
    /// `Partial`.
    pub fn awaiting_continue(&self, buf: &[u8]) -> Option<&Request> {
        let head = self.head.as_ref()?;
        let body_missing = head.consumed > head.head_len && buf.len() < head.consumed;
        (head.expects_continue && body_missing).then_some(&head.request)
    }

    /// Whether the head of the request being read is whole (its body may not be).
    pub fn head_is_read(&self) -> bool {
        self.head.is_some()
    }

    /// Looks for the end of the head in the new bytes; reads the head once it is there.
    fn read_head(&mut self, buf: &[u8]) -> Result<Option<ReadHead>, RequestParse> {
        // Empty lines before a request line are allowed (RFC 9112, 2.2); they are
        // skipped here so that they are not taken for the end of a head.
        let skipped = buf
            .iter()
            .take_while(|&&byte| byte == b'\r' || byte == b'\n')
            .count();
        let message = &buf[skipped..];
        let from = self.searched.saturating_sub(skipped);
        let Some(head_len) = end_of_head(message, from) else {
            if !self.first_line_checked && message[from..].contains(&b'\n') {
                self.first_line_checked = true;
                check_first_line(message)?;
            }
            // Keep the last two bytes to look at again: they may be the start of the
            // empty line that ends the head.
            self.searched = buf.len().saturating_sub(2).max(skipped);
            // The empty lines before it count: they too are bytes the server holds.
            if buf.len() > self.max_head {
                return Err(too_long(self.max_head));
            }
            return Ok(None);
        };
        if skipped + head_len > self.max_head {
            return Err(too_long(self.max_head));
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&message[..head_len]) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => {
                return Err(RequestParse::Invalid(
                    "the head ends before its request line does".to_owned(),
                ));
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(RequestParse::TooLarge(format!(
                    "more than {MAX_HEADERS} headers"
                )));
            }
            Err(error) => {
                return Err(RequestParse::Invalid(explain_request_error(
                    error,
                    parsed.method.is_some(),
                    parsed.path.is_some(),
                )));
            }
        }
        // httparse only reports Complete once it has the method, path and version.
        let (Some(method), Some(path), Some(minor_version)) =
            (parsed.method, parsed.path, parsed.version)
        else {
            return Err(RequestParse::Invalid(format!(
                "incomplete request line, expected {REQUEST_LINE_EXAMPLE}"
            )));
        };
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| RequestParse::Invalid(format!("{method:?} is not a method")))?;
        let body_len = body_length(parsed.headers, MAX_REQUEST_BODY)
            .map_err(RequestParse::Invalid)?
            .unwrap_or(0);
        let expects_continue = parsed.headers.iter().any(|header| {
            header.name.eq_ignore_ascii_case("expect")
                && header
                    .value
                    .trim_ascii()
                    .eq_ignore_ascii_case(b"100-continue")
        });
        Ok(Some(ReadHead {
            request: Request {
                method,
                path: path.to_owned(),
                keep_alive: wants_keep_alive(minor_version, parsed.headers),
            },
            head_len: skipped + head_len,
            consumed: skipped + head_len + body_len,
            expects_continue,
        }))
    }
}

fn too_long(max_head: usize) -> RequestParse {
    RequestParse::TooLarge(format!(
        "request line and headers longer than {max_head} bytes"
    ))
}

/// Where the head that starts `message` ends (the length up to and with its empty
/// line), looking from `from` on. httparse ends a line at `\n` with or without the
/// `\r` before it, so the empty line is `\n\n` or `\n\r\n`.
fn end_of_head(message: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(newline) = message[at..].iter().position(|&byte| byte == b'\n') {
        let line_end = at + newline + 1;
        match message.get(line_end..) {
            Some([b'\n', ..]) => return Some(line_end + 1),
            Some([b'\r', b'\n', ..]) => return Some(line_end + 2),
            _ => at = line_end,
        }
    }
    None
}

/// Refuses a request whose first line is already wrong, without waiting for the rest
/// of its head: httparse reads as far as the bytes go.
fn check_first_line(message: &[u8]) -> Result<(), RequestParse> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(message) {
        Ok(_) => Ok(()),
        Err(httparse::Error::TooManyHeaders) => Err(RequestParse::TooLarge(format!(
            "more than {MAX_HEADERS} headers"
        ))),
        Err(error) => Err(RequestParse::Invalid(explain_request_error(
            error,
            parsed.method.is_some(),
            parsed.path.is_some(),
        ))),
    }
}

/// The interim answer that tells a client sending `Expect: 100-continue` to go on
/// with its body.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The request at the front of `buf` when its head is complete, it asks
/// `Expect: 100-continue`, and its body has not all arrived: the client may be waiting
/// for the server's go before it sends the body. `None` otherwise (no such request
/// yet, or nothing to decide: see [`parse_request_limited`]).
///
/// The server then routes the head: a request it will refuse gets its final answer
/// at once (and the connection closes, since the body may or may not follow); one it
/// will serve gets [`CONTINUE`]. A connection asks its [`RequestReader`] instead.
pub fn awaiting_continue(buf: &[u8], max_head: usize) -> Option<Request> {
    let mut reader = RequestReader::new(max_head);
    match reader.parse(buf) {
        RequestParse::Partial => reader.awaiting_continue(buf).cloned(),
        _ => None,
    }
}

/// Turns httparse's terse error into a sentence that says what was wrong with the
/// request line, because the reason ends up in the `400` body someone reads in curl.
fn explain_request_error(error: httparse::Error, has_method: bool, has_path: bool) -> String {
    match error {
        httparse::Error::Token if !has_method => {
            format!("the request does not start with a method, expected {REQUEST_LINE_EXAMPLE}")
        }
        httparse::Error::Token if !has_path => {
            format!("the request line has no path, expected {REQUEST_LINE_EXAMPLE}")
        }
        httparse::Error::Version => {
            "unsupported HTTP version, this server speaks HTTP/1.0 and HTTP/1.1".to_owned()
        }
        httparse::Error::TooManyHeaders => format!("more than {MAX_HEADERS} headers"),
        other => other.to_string(),
    }
}

/// Reads `Content-Length`, the only body framing spoken here.
///
/// Returns `Ok(None)` when there is no `Content-Length`. Chunked bodies
/// (`Transfer-Encoding`) are refused rather than misread: a reader that ignored them
/// would take the chunk sizes for the next message.
fn body_length(headers: &[httparse::Header<'_>], limit: usize) -> Result<Option<usize>, String> {
    let mut length = None;
    for header in headers {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("Transfer-Encoding is not supported, send Content-Length".to_owned());
        }
        if !header.name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let text = String::from_utf8_lossy(header.value);
        let value: usize = text
            .trim()
            .parse()
            .map_err(|_| format!("Content-Length is not a number: {:?}", text.trim()))?;
        // Two different lengths would let two readers disagree on where the message ends.
        if length.is_some_and(|earlier| earlier != value) {
            return Err("two different Content-Length headers".to_owned());
        }
        if value > limit {
            return Err(format!(
                "a body of {value} bytes is more than the {limit} accepted"
            ));
        }
        length = Some(value);
    }
    Ok(length)
}

/// Decides keep-alive from the HTTP version and the `Connection` header(s).
///
/// `Connection` holds a comma-separated list of tokens, compared without case.
fn wants_keep_alive(minor_version: u8, headers: &[httparse::Header<'_>]) -> bool {
    let has_token = |wanted: &str| {
        headers
            .iter()
            .filter(|header| header.name.eq_ignore_ascii_case("connection"))
            .flat_map(|header| header.value.split(|&byte| byte == b','))
            .any(|token| token.trim_ascii().eq_ignore_ascii_case(wanted.as_bytes()))
    };
    if minor_version >= 1 {
        !has_token("close")
    } else {
        has_token("keep-alive")
    }
}

/// Where a request goes: to a user lookup, or straight back with a 4xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /users/{id}`: look the user up (the slow part the whole scenario is about).
    User(u64),
    /// `GET /`: the directory describes itself ([`DirectoryInfo`]), at once.
    About,
    /// Answer at once with an error that says why.
    Reject(Rejection),
}

/// An error answer: status, reason phrase and a one-line body for a human.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The status code, e.g. `404` (its reason phrase, `Not Found`, comes with it).
    pub status: StatusCode,
    /// The body: what was wrong, e.g. `no such path: /foo`.
    pub message: String,
    /// The methods the path does allow, sent as `Allow` with a `405`.
    pub allow: Option<&'static str>,
}

impl Rejection {
    /// `404`: the directory has nothing at this path.
    pub fn not_found(path: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: format!("no such path: {path}"),
            allow: None,
        }
    }

    /// `405`: the path exists but only answers `GET` (and so `HEAD`).
    pub fn method_not_allowed(method: impl AsRef<str>) -> Self {
        let method = method.as_ref();
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: format!("method {method} not allowed, use GET"),
            allow: Some("GET, HEAD"),
        }
    }

    /// `400`: the id in `/users/{id}` is not a whole number that fits a `u64`.
    pub fn bad_user_id(id: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: format!(
                "bad user id {id:?}: ids are whole numbers from 0 to {}",
                u64::MAX
            ),
            allow: None,
        }
    }

    /// `400`: the bytes were not a request (the reason from [`RequestParse::Invalid`]).
    pub fn malformed(reason: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: format!("malformed request: {reason}"),
            allow: None,
        }
    }

    /// `431`: the request line and headers are larger than the server accepts.
    pub fn too_large(reason: &str) -> Self {
        Self {
            status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            message: format!("request head too large: {reason}"),
            allow: None,
        }
    }

    /// `408`: a request had started but did not arrive whole in time: its head within
    /// the header timeout, or the next piece of its body within the idle timeout.
    pub fn timed_out(after: std::time::Duration) -> Self {
        Self {
            status: StatusCode::REQUEST_TIMEOUT,
            message: format!("the request did not arrive whole within {after:?}"),
            allow: None,
        }
    }

    /// `503`: the server stopped before this answer was ready (its grace ran out, or
    /// it was told to stop at once).
    pub fn stopping() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "the directory is stopping; this answer was cut short, try again later"
                .to_owned(),
            allow: None,
        }
    }

    /// `503`: the server is at its connection limit; try again later.
    pub fn busy(limit: usize) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!(
                "the directory already serves {limit} connections, the most it takes; try again later"
            ),
            allow: None,
        }
    }

    /// The whole answer, ready to write. `keep_alive` should be `false` after a
    /// malformed request: the server cannot tell where the next request would start.
    pub fn response_bytes(&self, keep_alive: bool) -> Vec<u8> {
        let body = format!("{}\n", self.message);
        let allow: &[(&str, &str)] = match self.allow {
            Some(methods) => &[("Allow", methods)],
            None => &[],
        };
        build_response(
            self.status,
            allow,
            TEXT_CONTENT_TYPE,
            body.as_bytes(),
            keep_alive,
        )
    }
}

/// The directory's one resource lives under this prefix.
const USERS_PREFIX: &str = "/users/";

/// Maps a parsed request to what the directory should do with it.
///
/// The query string (after `?`) is ignored, as most routers do, and an absolute target
/// (`http://host/users/7`) is read as its path. For a path of the directory's shape
/// (`/users/` and one more segment) the method is checked before the id:
/// `POST /users/abc` is `405`, because no id would make `POST` work. `HEAD` is routed
/// as `GET`; the answer then leaves out its body ([`strip_body`]).
pub fn route(request: &Request) -> Route {
    let target = origin_form(&request.path);
    let path = target.split_once('?').map_or(target, |(path, _query)| path);
    let readable = request.method == Method::GET || request.method == Method::HEAD;
    if path == "/" {
        return if readable {
            Route::About
        } else {
            Route::Reject(Rejection::method_not_allowed(&request.method))
        };
    }
    let Some(id_text) = path.strip_prefix(USERS_PREFIX) else {
        return Route::Reject(Rejection::not_found(path));
    };
    if id_text.is_empty() || id_text.contains('/') {
        return Route::Reject(Rejection::not_found(path));
    }
    if !readable {
        return Route::Reject(Rejection::method_not_allowed(&request.method));
    }
    // `u64::from_str` would also take `+7`; an id is digits and nothing else.
    let all_digits = id_text.bytes().all(|byte| byte.is_ascii_digit());
    match id_text.parse::<u64>() {
        Ok(id) if all_digits => Route::User(id),
        _ => Route::Reject(Rejection::bad_user_id(id_text)),
    }
}

/// The path of a request target: `/users/7` for `/users/7` and for the absolute form
/// `http://host:7878/users/7`; `/` for `http://host`.
fn origin_form(target: &str) -> &str {
    let after_scheme = ["http://", "https://"].iter().find_map(|scheme| {
        let head = target.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &target[scheme.len()..])
    });
    let Some(authority_and_path) = after_scheme else {
        return target;
    };
    match authority_and_path.find(['/', '?']) {
        Some(at) if authority_and_path[at..].starts_with('/') => &authority_and_path[at..],
        _ => "/",
    }
}

/// Cuts the body off a whole response, keeping its head (and so its
/// `Content-Length`): the answer to a `HEAD`.
pub fn strip_body(response: &mut Vec<u8>) {
    if let Some(head_end) = response.windows(4).position(|window| window == b"\r\n\r\n") {
        response.truncate(head_end + 4);
    }
}

const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";
const JSON_CONTENT_TYPE: &str = "application/json";

/// Builds a whole HTTP/1.1 response: status line, `Content-Type`, `Content-Length`,
/// `Connection`, then the body.
pub fn response_bytes(
    status: StatusCode,
    content_type: &str,
    body: &[u8],
    keep_alive: bool,
) -> Vec<u8> {
    build_response(status, &[], content_type, body, keep_alive)
}

/// [`response_bytes`] with room for extra headers such as `Allow`.
fn build_response(
    status: StatusCode,
    extra_headers: &[(&str, &str)],
    content_type: &str,
    body: &[u8],
    keep_alive: bool,
) -> Vec<u8> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    // Every status this file sends has a canonical reason.
    let reason = status.canonical_reason().unwrap_or("");
    let code = status.as_u16();
    let mut head = format!("HTTP/1.1 {code} {reason}\r\n");
    for (name, value) in extra_headers {
        // Writing to a String cannot fail.
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let _ = write!(
        head,
        "Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
        body.len()
    );
    let mut response = head.into_bytes();
    response.extend_from_slice(body);
    response
}

/// One user of the directory, as the JSON body `{"id":7,"name":"..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The id asked for.
    pub id: u64,
    /// A made-up name.
    pub name: String,
}

/// The names the directory hands out, in turn. The directory keeps no data (like the
/// post's API, it only takes time), so a name is made up from the id.
const NAMES: [&str; 8] = [
    "Ha-eun", "Min-jun", "Seo-yeon", "Do-yun", "Ji-woo", "Ye-jun", "Su-ah", "Joon",
];

impl User {
    /// The user with this id. The same id always gets the same name, so answers can be
    /// checked and traces compared between runs.
    pub fn for_id(id: u64) -> Self {
        // The remainder is below NAMES.len(), so it fits a usize on every platform.
        let index = (id % NAMES.len() as u64) as usize;
        Self {
            id,
            name: NAMES[index].to_owned(),
        }
    }

    /// The `200` answer carrying this user as JSON.
    pub fn response_bytes(&self, keep_alive: bool) -> Vec<u8> {
        let body =
            serde_json::to_vec(self).expect("a User (a number and a string) always serialises");
        response_bytes(StatusCode::OK, JSON_CONTENT_TYPE, &body, keep_alive)
    }
}

/// The request a client sends for one user: `GET /users/{id}` on a kept-alive
/// connection. `host` is the server's address as text, e.g. `127.0.0.1:7878`;
/// HTTP/1.1 requires the `Host` header.
pub fn user_request(id: u64, host: &str) -> Vec<u8> {
    format!("GET {USERS_PREFIX}{id} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n")
        .into_bytes()
}

/// What the directory says about itself at `GET /`, as JSON:
/// `{"service":"looplab directory","delay_s":1.0,"lookups_in_flight":3}`.
///
/// A client started with `--directory` asks for it, so that what it prints about the
/// server's delay is what the server says, not what the client assumed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectoryInfo {
    /// Always [`DirectoryInfo::SERVICE`]: how a client knows it is talking to a directory.
    pub service: String,
    /// The time each user lookup takes, in seconds.
    pub delay_s: f64,
    /// User lookups being answered right now.
    pub lookups_in_flight: usize,
}

impl DirectoryInfo {
    /// The `service` every looplab directory names.
    pub const SERVICE: &str = "looplab directory";

    /// The description of a directory with this delay.
    pub fn new(delay: Duration, lookups_in_flight: usize) -> DirectoryInfo {
        DirectoryInfo {
            service: DirectoryInfo::SERVICE.to_owned(),
            delay_s: delay.as_secs_f64(),
            lookups_in_flight,
        }
    }

    /// The delay as a `Duration`, to the microsecond.
    pub fn delay(&self) -> Duration {
        Duration::from_micros((self.delay_s * 1e6).round() as u64)
    }

    /// The `200` answer carrying this description.
    pub fn response_bytes(&self, keep_alive: bool) -> Vec<u8> {
        let body = serde_json::to_vec(self).expect("numbers and a string always serialise");
        response_bytes(StatusCode::OK, JSON_CONTENT_TYPE, &body, keep_alive)
    }
}

/// The request for the directory's description: `GET /`, closing afterwards.
pub fn about_request(host: &str) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes()
}

/// An answer that is not what a client asked for: what is wrong with it, and the
/// `io::ErrorKind` that fits. The client adds where and what it was asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadAnswer {
    /// `InvalidData` for bytes that are not the answer, `UnexpectedEof` for a server
    /// that hung up, `Other` for a well-formed refusal (a 4xx).
    pub kind: io::ErrorKind,
    /// What was wrong, for a human: `the server answered 404: no such path: /x`.
    pub what: String,
}

impl BadAnswer {
    fn new(kind: io::ErrorKind, what: impl Into<String>) -> BadAnswer {
        BadAnswer {
            kind,
            what: what.into(),
        }
    }

    /// The `io::Error` for this answer, after `context` (e.g. `127.0.0.1:7878: GET /users/4`).
    pub fn into_io_error(self, context: &str) -> io::Error {
        io::Error::new(self.kind, format!("{context}: {}", self.what))
    }
}

/// The client's half of reading answers, shared by the blocking and the event-loop
/// clients: takes one whole answer off the front of `buffer` and returns its status
/// and body, or `None` when more bytes are needed. Bytes past the answer stay in
/// `buffer` for the next one.
pub fn take_answer(buffer: &mut Vec<u8>) -> Result<Option<(u16, Vec<u8>)>, BadAnswer> {
    match parse_response(buffer) {
        ResponseParse::Complete {
            status,
            body,
            consumed,
        } => {
            buffer.drain(..consumed);
            Ok(Some((status, body)))
        }
        ResponseParse::Partial => Ok(None),
        ResponseParse::Invalid(reason) => Err(BadAnswer::new(
            io::ErrorKind::InvalidData,
            format!("the answer is malformed: {reason}"),
        )),
    }
}

/// The server closed the connection before a whole answer was in `buffer`.
pub fn closed_before_answer(buffer: &[u8]) -> BadAnswer {
    let what = if buffer.is_empty() {
        "the server closed the connection without answering"
    } else {
        "the server closed the connection in the middle of its answer"
    };
    BadAnswer::new(io::ErrorKind::UnexpectedEof, what)
}

/// Checks that the answer to `GET /users/{id}` is a `200` carrying that very user.
pub fn user_from_answer(id: u64, status: u16, body: &[u8]) -> Result<User, BadAnswer> {
    let body = ok_body(status, body)?;
    let user = parse_user(body).map_err(|error| {
        BadAnswer::new(
            io::ErrorKind::InvalidData,
            format!("the answer is not a user: {error}"),
        )
    })?;
    if user.id != id {
        return Err(BadAnswer::new(
            io::ErrorKind::InvalidData,
            format!("the answer is user {} instead", user.id),
        ));
    }
    Ok(user)
}

/// Checks that the answer to `GET /` is a directory describing itself.
pub fn info_from_answer(status: u16, body: &[u8]) -> Result<DirectoryInfo, BadAnswer> {
    let body = ok_body(status, body)?;
    match serde_json::from_slice::<DirectoryInfo>(body) {
        Ok(info) if info.service == DirectoryInfo::SERVICE => Ok(info),
        _ => Err(BadAnswer::new(
            io::ErrorKind::InvalidData,
            "the answer is not a looplab directory's description",
        )),
    }
}

/// The body of a `200`; any other status is the server's refusal, with its reason.
fn ok_body(status: u16, body: &[u8]) -> Result<&[u8], BadAnswer> {
    if status == 200 {
        return Ok(body);
    }
    let why = String::from_utf8_lossy(body);
    Err(BadAnswer::new(
        io::ErrorKind::Other,
        format!("the server answered {status}: {}", why.trim()),
    ))
}

/// The outcome of trying to parse one response from the front of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseParse {
    /// A whole response is in the buffer.
    Complete {
        /// The status code, e.g. `200`.
        status: u16,
        /// The body, exactly `Content-Length` bytes.
        body: Vec<u8>,
        /// How many bytes from the front of the buffer the response used.
        consumed: usize,
    },
    /// Not all here yet: read more and parse again from the start of the same buffer.
    Partial,
    /// Not a response this client understands; the reason is meant for a human.
    Invalid(String),
}

/// Parses the response at the front of `buf`.
///
/// The body must be framed by `Content-Length` (the directory always sends it). Without
/// it, HTTP/1.1 would mean "the body runs until the server closes", which cannot work
/// on a connection kept open for the next call, so it is `Invalid` here.
pub fn parse_response(buf: &[u8]) -> ResponseParse {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut headers);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(head_len)) => head_len,
        Ok(httparse::Status::Partial) => return ResponseParse::Partial,
        Err(error) => return ResponseParse::Invalid(format!("not an HTTP/1.x response: {error}")),
    };
    let Some(status) = parsed.code else {
        return ResponseParse::Invalid("the status line has no status code".to_owned());
    };
    let body_len = match body_length(parsed.headers, MAX_RESPONSE_BODY) {
        Ok(Some(body_len)) => body_len,
        Ok(None) => return ResponseParse::Invalid("the response has no Content-Length".to_owned()),
        Err(reason) => return ResponseParse::Invalid(reason),
    };
    let consumed = head_len + body_len;
    let Some(body) = buf.get(head_len..consumed) else {
        return ResponseParse::Partial;
    };
    ResponseParse::Complete {
        status,
        body: body.to_vec(),
        consumed,
    }
}

/// Reads the user out of a `200` answer's JSON body.
pub fn parse_user(body: &[u8]) -> Result<User, serde_json::Error> {
    serde_json::from_slice(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str) -> Request {
        Request {
            method: Method::from_bytes(method.as_bytes()).unwrap(),
            path: path.to_owned(),
            keep_alive: true,
        }
    }

    fn complete_request(buf: &[u8]) -> (Request, usize) {
        match parse_request(buf) {
            RequestParse::Complete { request, consumed } => (request, consumed),
            other => panic!("expected a complete request, got {other:?}"),
        }
    }

    fn invalid_reason(buf: &[u8]) -> String {
        match parse_request(buf) {
            RequestParse::Invalid(reason) => reason,
            other => panic!("expected an invalid request, got {other:?}"),
        }
    }

    fn rejection(request: &Request) -> Rejection {
        match route(request) {
            Route::Reject(rejection) => rejection,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    const CURL_GET: &[u8] =
        b"GET /users/7 HTTP/1.1\r\nHost: 127.0.0.1:7878\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";

    #[test]
    fn a_curl_get_is_complete_and_keeps_alive() {
        let (request, consumed) = complete_request(CURL_GET);
        assert_eq!(request, self::request("GET", "/users/7"));
        assert_eq!(consumed, CURL_GET.len());
    }

    #[test]
    fn a_request_split_across_reads_is_partial_until_its_last_byte() {
        for cut in 0..CURL_GET.len() {
            assert_eq!(
                parse_request(&CURL_GET[..cut]),
                RequestParse::Partial,
                "cut at {cut}"
            );
        }
        assert_eq!(complete_request(CURL_GET).1, CURL_GET.len());
    }

    #[test]
    fn two_pipelined_requests_parse_one_after_the_other() {
        let mut buf = user_request(1, "host");
        buf.extend_from_slice(b"GET /users/2 HTTP/1.1\r\nHost: host\r\nConnection: close\r\n\r\n");
        let (first, consumed) = complete_request(&buf);
        assert_eq!(first, request("GET", "/users/1"));
        let (second, rest) = complete_request(&buf[consumed..]);
        assert_eq!(second.path, "/users/2");
        assert!(!second.keep_alive);
        assert_eq!(consumed + rest, buf.len());
    }

    #[test]
    fn connection_close_is_honoured_in_http_1_1() {
        let (request, _) = complete_request(b"GET /users/7 HTTP/1.1\r\nConnection: Close\r\n\r\n");
        assert!(!request.keep_alive);
        let (request, _) =
            complete_request(b"GET /users/7 HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n");
        assert!(!request.keep_alive);
    }

    #[test]
    fn http_1_0_closes_unless_asked_to_keep_alive() {
        let (request, _) = complete_request(b"GET /users/7 HTTP/1.0\r\n\r\n");
        assert!(!request.keep_alive);
        let (request, _) =
            complete_request(b"GET /users/7 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(request.keep_alive);
    }

    #[test]
    fn a_request_body_is_consumed_so_the_next_request_lines_up() {
        let buf = b"POST /users/7 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /users/8 HTTP/1.1\r\n\r\n";
        let (post, consumed) = complete_request(buf);
        assert_eq!(post.method, "POST");
        let (next, _) = complete_request(&buf[consumed..]);
        assert_eq!(next.path, "/users/8");
    }

    /// Feeds `bytes` to one reader `step` bytes at a time, as reads would bring them.
    fn read_in_steps(bytes: &[u8], step: usize, max_head: usize) -> RequestParse {
        let mut reader = RequestReader::new(max_head);
        let mut end = 0;
        loop {
            end = (end + step).min(bytes.len());
            match reader.parse(&bytes[..end]) {
                RequestParse::Partial if end < bytes.len() => {}
                other => return other,
            }
        }
    }

    #[test]
    fn a_reader_fed_a_16_mib_head_4_kib_at_a_time_looks_at_each_byte_once() {
        let mut head = b"GET /users/9 HTTP/1.1\r\nX-Long: ".to_vec();
        head.resize(16 << 20, b'a');
        head.extend_from_slice(b"\r\n\r\n");
        let started = std::time::Instant::now();
        let parsed = read_in_steps(&head, 4096, 32 << 20);
        let took = started.elapsed();
        let RequestParse::Complete { request, consumed } = parsed else {
            panic!("expected the request, got {parsed:?}");
        };
        assert_eq!((request.path.as_str(), consumed), ("/users/9", head.len()));
        // Parsing from the front after every step would look at 32 GiB.
        assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
    }

    #[test]
    fn a_reader_agrees_with_a_whole_parse_however_the_bytes_are_cut() {
        let mut pipelined = b"\r\n".to_vec();
        pipelined.extend_from_slice(CURL_GET);
        pipelined.extend_from_slice(b"POST /users/7 HTTP/1.1\nContent-Length: 3\n\nabc");
        for step in [1, 2, 3, 7, 64, pipelined.len()] {
            let mut reader = RequestReader::new(MAX_REQUEST_HEAD);
            let (mut start, mut end, mut seen) = (0, 0, Vec::new());
            while seen.len() < 2 {
                end = (end + step).min(pipelined.len());
                loop {
                    match reader.parse(&pipelined[start..end]) {
                        RequestParse::Complete { request, consumed } => {
                            start += consumed;
                            seen.push(request);
                        }
                        RequestParse::Partial => break,
                        other => panic!("step {step}: {other:?}"),
                    }
                }
            }
            assert_eq!(start, pipelined.len(), "step {step}");
            assert_eq!(seen[0], request("GET", "/users/7"), "step {step}");
            assert_eq!(seen[1].method, Method::POST, "step {step}");
        }
    }

    #[test]
    fn a_reader_refuses_a_bad_request_line_before_the_head_ends() {
        let mut reader = RequestReader::new(MAX_REQUEST_HEAD);
        assert!(matches!(
            reader.parse(b"\x00\x01 hello\r\nHost: x\r\n"),
            RequestParse::Invalid(reason) if reason.contains("method")
        ));
        // Empty lines alone are not a head, and they count toward the limit.
        let blank = vec![b'\n'; 100];
        assert_eq!(read_in_steps(&blank, 10, 1000), RequestParse::Partial);
        assert!(matches!(
            read_in_steps(&blank, 10, 50),
            RequestParse::TooLarge(_)
        ));
    }

    #[test]
    fn a_request_whose_body_has_not_arrived_is_partial() {
        assert_eq!(
            parse_request(b"POST /users/7 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhel"),
            RequestParse::Partial
        );
    }

    #[test]
    fn garbage_is_invalid_and_says_what_was_expected() {
        assert!(
            invalid_reason(b"\x00\x01\x02 hello\r\n\r\n").contains("does not start with a method")
        );
        assert!(invalid_reason(b"hello world\r\n\r\n").contains("GET /users/7 HTTP/1.1"));
    }

    #[test]
    fn a_request_line_with_no_path_is_invalid() {
        let reason = invalid_reason(b"GET HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(reason.contains("no path"), "{reason}");
        let reason = invalid_reason(b"GET /\r\n\r\n");
        assert!(reason.contains("no path"), "{reason}");
    }

    #[test]
    fn an_unknown_http_version_is_invalid() {
        assert!(invalid_reason(b"GET / HTTP/2.0\r\n\r\n").contains("HTTP/1.1"));
    }

    #[test]
    fn too_many_headers_are_too_large() {
        let mut buf = b"GET /users/1 HTTP/1.1\r\n".to_vec();
        for n in 0..=MAX_HEADERS {
            buf.extend_from_slice(format!("X-Header-{n}: {n}\r\n").as_bytes());
        }
        buf.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_request(&buf),
            RequestParse::TooLarge(format!("more than {MAX_HEADERS} headers"))
        );
    }

    #[test]
    fn a_head_that_never_ends_is_too_large_once_past_the_limit() {
        let mut buf = b"GET /users/1 HTTP/1.1\r\nX-Long: ".to_vec();
        buf.resize(MAX_REQUEST_HEAD, b'a');
        assert_eq!(parse_request(&buf), RequestParse::Partial);
        buf.push(b'a');
        assert!(
            matches!(parse_request(&buf), RequestParse::TooLarge(r) if r.contains("longer than"))
        );
    }

    #[test]
    fn a_complete_head_over_a_smaller_limit_is_too_large() {
        let buf = b"GET /users/1 HTTP/1.1\r\nHost: example\r\n\r\n";
        assert!(matches!(
            parse_request_limited(buf, 16),
            RequestParse::TooLarge(_)
        ));
        assert!(matches!(
            parse_request_limited(buf, 1024),
            RequestParse::Complete { .. }
        ));
    }

    #[test]
    fn bad_body_framing_is_invalid() {
        assert!(
            invalid_reason(b"POST /users/1 HTTP/1.1\r\nContent-Length: lots\r\n\r\n")
                .contains("not a number")
        );
        assert!(
            invalid_reason(
                b"POST /users/1 HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
            )
            .contains("two different")
        );
        assert!(
            invalid_reason(b"POST /users/1 HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n")
                .contains("more than")
        );
        assert!(
            invalid_reason(b"POST /users/1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
                .contains("Transfer-Encoding")
        );
    }

    #[test]
    fn get_users_id_routes_to_the_user() {
        assert_eq!(route(&request("GET", "/users/7")), Route::User(7));
        assert_eq!(route(&request("GET", "/users/0")), Route::User(0));
        assert_eq!(route(&request("GET", "/users/007")), Route::User(7));
        assert_eq!(route(&request("GET", "/users/7?pretty=1")), Route::User(7));
        assert_eq!(
            route(&request("GET", "/users/18446744073709551615")),
            Route::User(u64::MAX)
        );
    }

    #[test]
    fn an_id_that_is_not_a_u64_is_a_bad_request() {
        for id in ["abc", "-1", "+7", "7.5", "99999999999999999999"] {
            let rejection = rejection(&request("GET", &format!("/users/{id}")));
            assert_eq!(rejection.status, 400, "{id}");
            assert!(rejection.message.contains(id), "{}", rejection.message);
        }
    }

    #[test]
    fn other_paths_are_not_found() {
        for path in ["/foo", "/users", "/users/", "/users/7/friends", "/userss/7"] {
            let rejection = rejection(&request("GET", path));
            assert_eq!(rejection.status, 404, "{path}");
            assert_eq!(rejection.message, format!("no such path: {path}"));
        }
    }

    #[test]
    fn other_methods_on_a_user_are_not_allowed() {
        let rejection = rejection(&request("POST", "/users/7"));
        assert_eq!(rejection.status, 405);
        assert_eq!(rejection.allow, Some("GET, HEAD"));
        assert_eq!(rejection.message, "method POST not allowed, use GET");
        assert_eq!(
            self::rejection(&request("DELETE", "/users/abc")).status,
            405
        );
        assert_eq!(self::rejection(&request("POST", "/foo")).status, 404);
    }

    #[test]
    fn a_405_answer_carries_allow_and_a_reason() {
        let bytes = Rejection::method_not_allowed("POST").response_bytes(true);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: 33\r\n\
             Connection: keep-alive\r\n\r\nmethod POST not allowed, use GET\n"
        );
    }

    #[test]
    fn a_malformed_request_answer_closes_the_connection() {
        let bytes = Rejection::malformed("the request line has no path").response_bytes(false);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
        assert!(
            text.ends_with("\r\n\r\nmalformed request: the request line has no path\n"),
            "{text}"
        );
    }

    #[test]
    fn response_bytes_frames_the_body() {
        let bytes = response_bytes(StatusCode::NOT_FOUND, "text/plain", b"no", false);
        assert_eq!(
            bytes,
            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno"
        );
    }

    #[test]
    fn a_user_answer_is_json_with_a_name_made_from_the_id() {
        let bytes = User::for_id(7).response_bytes(true);
        let body = br#"{"id":7,"name":"Joon"}"#;
        let mut expected = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
            body.len()
        )
        .into_bytes();
        expected.extend_from_slice(body);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn the_same_id_always_gets_the_same_name() {
        assert_eq!(User::for_id(3), User::for_id(3));
        assert_eq!(
            User::for_id(1).name,
            User::for_id(1 + NAMES.len() as u64).name
        );
        assert_ne!(User::for_id(1).name, User::for_id(2).name);
        assert_eq!(User::for_id(u64::MAX).id, u64::MAX);
    }

    #[test]
    fn user_request_is_a_keep_alive_get_the_server_routes() {
        let bytes = user_request(42, "127.0.0.1:7878");
        assert_eq!(
            bytes,
            b"GET /users/42 HTTP/1.1\r\nHost: 127.0.0.1:7878\r\nConnection: keep-alive\r\n\r\n"
        );
        let (request, _) = complete_request(&bytes);
        assert!(request.keep_alive);
        assert_eq!(route(&request), Route::User(42));
    }

    #[test]
    fn a_user_answer_round_trips_through_the_client_parser() {
        let bytes = User::for_id(5).response_bytes(true);
        let ResponseParse::Complete {
            status,
            body,
            consumed,
        } = parse_response(&bytes)
        else {
            panic!("expected a complete response");
        };
        assert_eq!((status, consumed), (200, bytes.len()));
        assert_eq!(parse_user(&body).unwrap(), User::for_id(5));
    }

    #[test]
    fn a_response_split_across_reads_is_partial_until_its_last_byte() {
        let bytes = User::for_id(5).response_bytes(true);
        for cut in 0..bytes.len() {
            assert_eq!(
                parse_response(&bytes[..cut]),
                ResponseParse::Partial,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn two_responses_in_one_buffer_parse_one_after_the_other() {
        let mut buf = User::for_id(1).response_bytes(true);
        buf.extend(Rejection::not_found("/x").response_bytes(true));
        let ResponseParse::Complete { consumed, .. } = parse_response(&buf) else {
            panic!("expected the first response");
        };
        let ResponseParse::Complete {
            status,
            body,
            consumed: rest,
        } = parse_response(&buf[consumed..])
        else {
            panic!("expected the second response");
        };
        assert_eq!((status, body.as_slice()), (404, &b"no such path: /x\n"[..]));
        assert_eq!(consumed + rest, buf.len());
    }

    #[test]
    fn a_response_that_is_not_http_is_invalid() {
        let ResponseParse::Invalid(reason) = parse_response(b"SSH-2.0-OpenSSH_9.6\r\n\r\n") else {
            panic!("expected invalid");
        };
        assert!(reason.contains("not an HTTP/1.x response"), "{reason}");
    }

    #[test]
    fn a_response_without_content_length_is_invalid() {
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\n\r\n{}"),
            ResponseParse::Invalid("the response has no Content-Length".to_owned())
        );
    }

    #[test]
    fn a_body_that_is_not_a_user_is_an_error() {
        assert!(parse_user(b"{\"id\":\"seven\"}").is_err());
        assert!(parse_user(b"not json").is_err());
    }

    #[test]
    fn head_is_routed_as_get_and_its_answer_has_the_head_only() {
        let (head, _) = complete_request(b"HEAD /users/7 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(route(&head), Route::User(7));
        assert!(!head.wants_body());
        let mut answer = User::for_id(7).response_bytes(true);
        let whole = answer.clone();
        strip_body(&mut answer);
        let text = String::from_utf8(answer).unwrap();
        // The same head, Content-Length of the body it would have had included.
        assert!(whole.starts_with(text.as_bytes()));
        assert!(
            text.ends_with("Content-Length: 22\r\nConnection: keep-alive\r\n\r\n"),
            "{text}"
        );
        assert_eq!(route(&request("HEAD", "/")), Route::About);
    }

    #[test]
    fn an_absolute_target_is_read_as_its_path() {
        let (request, _) =
            complete_request(b"GET http://127.0.0.1:7878/users/7 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(route(&request), Route::User(7));
        assert_eq!(
            route(&self::request("GET", "HTTP://host/users/8?x=1")),
            Route::User(8)
        );
        assert_eq!(route(&self::request("GET", "http://host")), Route::About);
        assert_eq!(route(&self::request("GET", "http://host?x")), Route::About);
        assert_eq!(
            rejection(&self::request("GET", "https://host/nope")).message,
            "no such path: /nope"
        );
    }

    #[test]
    fn get_slash_describes_the_directory_and_other_methods_there_are_405() {
        assert_eq!(route(&request("GET", "/")), Route::About);
        assert_eq!(route(&request("GET", "/?pretty")), Route::About);
        assert_eq!(rejection(&request("POST", "/")).status, 405);
        let info = DirectoryInfo::new(Duration::from_millis(200), 3);
        let ResponseParse::Complete { status, body, .. } =
            parse_response(&info.response_bytes(false))
        else {
            panic!("a whole answer");
        };
        assert_eq!(info_from_answer(status, &body), Ok(info.clone()));
        assert_eq!(info.delay(), Duration::from_millis(200));
        // A user is not a description, and a 404 is the server's refusal.
        let user = serde_json::to_vec(&User::for_id(1)).unwrap();
        assert_eq!(
            info_from_answer(200, &user).unwrap_err().kind,
            io::ErrorKind::InvalidData
        );
        assert_eq!(
            info_from_answer(404, b"no such path: /\n")
                .unwrap_err()
                .what,
            "the server answered 404: no such path: /"
        );
    }

    #[test]
    fn a_request_waiting_for_100_continue_is_seen_before_its_body() {
        let head = b"POST /users/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
        let waiting = awaiting_continue(head, MAX_REQUEST_HEAD).expect("the head asks to continue");
        assert_eq!(waiting.method, "POST");
        assert_eq!(
            route(&waiting),
            Route::Reject(Rejection::method_not_allowed("POST"))
        );
        assert_eq!(parse_request(head), RequestParse::Partial);
        // Once the body is in, it is an ordinary request.
        let mut whole = head.to_vec();
        whole.extend_from_slice(b"hello");
        assert_eq!(awaiting_continue(&whole, MAX_REQUEST_HEAD), None);
        assert!(matches!(
            parse_request(&whole),
            RequestParse::Complete { .. }
        ));
        // No Expect, no body, or half a head: nothing to decide.
        let plain = b"POST /users/7 HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(awaiting_continue(plain, MAX_REQUEST_HEAD), None);
        let empty = b"POST /users/7 HTTP/1.1\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n";
        assert_eq!(awaiting_continue(empty, MAX_REQUEST_HEAD), None);
        assert_eq!(awaiting_continue(&head[..20], MAX_REQUEST_HEAD), None);
    }

    #[test]
    fn answers_are_taken_whole_and_checked_for_the_user_asked_for() {
        let mut buffer = User::for_id(4).response_bytes(true);
        buffer.extend_from_slice(b"HTTP/1.1 2");
        let (status, body) = take_answer(&mut buffer).unwrap().expect("a whole answer");
        assert_eq!(buffer, b"HTTP/1.1 2", "the next answer's bytes stay");
        assert_eq!(user_from_answer(4, status, &body), Ok(User::for_id(4)));
        let wrong = user_from_answer(5, status, &body).unwrap_err();
        assert_eq!(wrong.what, "the answer is user 4 instead");
        assert_eq!(take_answer(&mut buffer), Ok(None));
        let mut garbage = b"SSH-2.0\r\n\r\n".to_vec();
        assert_eq!(
            take_answer(&mut garbage).unwrap_err().kind,
            io::ErrorKind::InvalidData
        );
        assert_eq!(closed_before_answer(b"").kind, io::ErrorKind::UnexpectedEof);
        assert!(closed_before_answer(b"HTTP").what.contains("in the middle"));
        let error = wrong.into_io_error("127.0.0.1:1: GET /users/5");
        assert_eq!(
            error.to_string(),
            "127.0.0.1:1: GET /users/5: the answer is user 4 instead"
        );
    }
}
