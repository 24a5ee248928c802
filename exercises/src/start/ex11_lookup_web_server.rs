//! Exercise 11 (chapter 8): the post's "web server", a lookup service on looplab that
//! answers `GET /lookup?users=N` by calling the directory N times.
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex11_lookup_web_server
//! ```
//!
//! The statement: `exercises/README.md`, "ex11_lookup_web_server".
//! Hints, when you are stuck: `exercises/hints/ex11.md`.
//!
//! `route` and `DirectoryClient` at the bottom of this file are given.
// The starting point declares fields and helpers that only your code will use: delete
// this line once the exercise is done.
#![allow(dead_code)]

use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use looplab::lookup::http::{self, Rejection, Request, ResponseParse, User};
use looplab::net::{TcpListener, TcpStream};

/// The lookup service: an HTTP server that answers `GET /lookup?users=N` with the JSON
/// list of users 1 to N (`[{"id":1,"name":"..."},...]`), found by calling the
/// directory once per user, one after another. A directory that fails gives `502`.
pub struct LookupServer {
    listener: TcpListener,
    directory: SocketAddr,
}

impl LookupServer {
    /// Binds the server's socket (inside a runtime). `directory` is where the user
    /// directory listens.
    pub fn bind(_addr: impl ToSocketAddrs, _directory: SocketAddr) -> io::Result<LookupServer> {
        todo!("ex11: yours to write")
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        todo!("ex11: yours to write")
    }

    /// Accepts connections until `stop` completes. Three requests arriving together
    /// must be answered together.
    pub async fn serve_until(self, _stop: impl Future<Output = ()>) {
        todo!("ex11: yours to write")
    }
}

/// Serves one connection: read until `http::parse_request` has a whole request, answer
/// it (see [`route`]), and go on while the client keeps the connection alive.
async fn serve_connection(_stream: TcpStream, _directory: SocketAddr) -> io::Result<()> {
    todo!("ex11: yours to write")
}

/// Finds users 1 to `users`, one call at a time over one [`DirectoryClient`], and builds
/// the answer: `http::response_bytes(http::StatusCode::OK, "application/json", json, keep_alive)`
/// with `serde_json::to_vec(&users)`, or a `502 Bad Gateway` if the directory failed.
async fn lookup_answer(_directory: SocketAddr, _users: u32, _keep_alive: bool) -> Vec<u8> {
    todo!("ex11: yours to write")
}

// ---------------------------------------------------------------------------------------
// Given: parsing the query, and the directory client.
// ---------------------------------------------------------------------------------------

/// The most users one request may ask for.
pub const MAX_USERS: u32 = 100;

/// What a request to the lookup server asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupRoute {
    /// `GET /lookup?users=N`: find users 1 to N.
    Lookup(u32),
    /// Answer at once with this error.
    Reject(Rejection),
}

/// Maps a request to what the server should do: `GET /lookup?users=N` with N from 1 to
/// [`MAX_USERS`] is a lookup; another path is `404`, another method `405`, a missing
/// or bad `users` is `400`. (Given: the exercise is the server around it.)
pub fn route(request: &Request) -> LookupRoute {
    let (path, query) = request
        .path
        .split_once('?')
        .unwrap_or((request.path.as_str(), ""));
    if path != "/lookup" {
        return LookupRoute::Reject(Rejection::not_found(path));
    }
    if request.method != "GET" {
        return LookupRoute::Reject(Rejection::method_not_allowed(&request.method));
    }
    let users = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("users="))
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=MAX_USERS).contains(n));
    match users {
        Some(n) => LookupRoute::Lookup(n),
        None => LookupRoute::Reject(Rejection {
            status: http::StatusCode::BAD_REQUEST,
            message: format!("ask for /lookup?users=N, with N from 1 to {MAX_USERS}"),
            allow: None,
        }),
    }
}

/// One kept-alive connection to the user directory, for one user at a time (given:
/// the same client as `src/lookup/event_loop.rs`).
pub struct DirectoryClient {
    stream: TcpStream,
    addr: SocketAddr,
    buffer: Vec<u8>,
}

impl DirectoryClient {
    /// Connects to the directory at `addr`.
    pub async fn connect(addr: SocketAddr) -> io::Result<DirectoryClient> {
        Ok(DirectoryClient {
            stream: TcpStream::connect(addr).await?,
            addr,
            buffer: Vec::new(),
        })
    }

    /// One call: `GET /users/{id}`, then read until a whole answer is in.
    pub async fn get_user(&mut self, id: u64) -> io::Result<User> {
        self.stream
            .write_all(&http::user_request(id, &self.addr.to_string()))
            .await?;
        let mut chunk = [0u8; 1024];
        loop {
            match http::parse_response(&self.buffer) {
                ResponseParse::Complete {
                    status,
                    body,
                    consumed,
                } => {
                    self.buffer.drain(..consumed);
                    if status != 200 {
                        return Err(io::Error::other(format!("user {id}: status {status}")));
                    }
                    return http::parse_user(&body).map_err(io::Error::other);
                }
                ResponseParse::Invalid(reason) => return Err(io::Error::other(reason)),
                ResponseParse::Partial => match self.stream.read(&mut chunk).await? {
                    0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                    n => self.buffer.extend_from_slice(&chunk[..n]),
                },
            }
        }
    }
}
