//! WRONG: answers a directory that cannot be reached with `500 Internal Server Error`: the fault is upstream, and a proxy says so with `502 Bad Gateway`.
//!
//! A drop-in for `src/start/ex11_lookup_web_server.rs`; checked by `tests/wrong_solutions.rs`.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::pin;
use std::task::Poll;

use looplab::lookup::http::{self, Rejection, Request, RequestParse, ResponseParse, User};
use looplab::net::{TcpListener, TcpStream};

/// The lookup service: an HTTP server that answers `GET /lookup?users=N` with the JSON
/// list of users 1 to N, found by calling the directory once per user, one after
/// another, as the post's `find_users_async` does.
///
/// This is the post's picture made real: requests for 3, 2 and 1 users arriving
/// together are answered after 3, 2 and 1 seconds, shortest first, by one thread,
/// because each connection is its own task and a task waiting on the directory gives
/// the thread to the others. (asyncio: `asyncio.start_server` with a handler per
/// connection; tokio: an accept loop with `tokio::spawn` per connection, as in
/// mini-redis.)
pub struct LookupServer {
    listener: TcpListener,
    directory: SocketAddr,
}

impl LookupServer {
    /// Binds the server's socket (inside a runtime). `directory` is where the user
    /// directory listens.
    pub fn bind(addr: impl ToSocketAddrs, directory: SocketAddr) -> io::Result<LookupServer> {
        Ok(LookupServer {
            listener: TcpListener::bind(addr)?,
            directory,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `stop` completes, **one task per connection**, so a
    /// slow request never holds up the next one.
    pub async fn serve_until(self, stop: impl Future<Output = ()>) {
        let mut stop = pin!(stop);
        loop {
            let mut accept = pin!(self.listener.accept());
            let next = std::future::poll_fn(|cx| {
                if stop.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                accept.as_mut().poll(cx).map(Some)
            })
            .await;
            match next {
                None => return,
                Some(Ok((stream, _peer))) => {
                    let directory = self.directory;
                    // Awaiting `serve_connection` here instead would serve one client
                    // at a time: 3, 5 and 6 seconds, the post's sequential picture.
                    looplab::spawn(async move {
                        // An I/O error ends this connection only.
                        let _ = serve_connection(stream, directory).await;
                    });
                }
                // One failed accept (a connection reset before we took it) is no
                // reason to stop serving.
                Some(Err(_)) => continue,
            }
        }
    }
}

/// Serves one connection: read a whole request, answer it, and go on while the client
/// keeps the connection alive.
async fn serve_connection(mut stream: TcpStream, directory: SocketAddr) -> io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match http::parse_request(&buffer) {
            RequestParse::Complete { request, consumed } => {
                buffer.drain(..consumed);
                let answer = match route(&request) {
                    LookupRoute::Lookup(users) => {
                        lookup_answer(directory, users, request.keep_alive).await
                    }
                    LookupRoute::Reject(rejection) => rejection.response_bytes(request.keep_alive),
                };
                stream.write_all(&answer).await?;
                if !request.keep_alive {
                    return Ok(());
                }
            }
            RequestParse::Partial => match stream.read(&mut chunk).await? {
                0 => return Ok(()),
                n => buffer.extend_from_slice(&chunk[..n]),
            },
            RequestParse::Invalid(reason) => {
                let answer = Rejection::malformed(&reason).response_bytes(false);
                return stream.write_all(&answer).await;
            }
            RequestParse::TooLarge(reason) => {
                let answer = Rejection::too_large(&reason).response_bytes(false);
                return stream.write_all(&answer).await;
            }
        }
    }
}

/// Finds users 1 to `users`, one call at a time, and builds the answer: `200` with the
/// JSON list, or `502 Bad Gateway` if the directory failed.
async fn lookup_answer(directory: SocketAddr, users: u32, keep_alive: bool) -> Vec<u8> {
    let found = async {
        let mut client = DirectoryClient::connect(directory).await?;
        let mut found = Vec::with_capacity(users as usize);
        for id in 1..=u64::from(users) {
            found.push(client.get_user(id).await?);
        }
        io::Result::Ok(found)
    }
    .await;
    match found {
        Ok(found) => {
            let body = serde_json::to_vec(&found).expect("users always serialise");
            http::response_bytes(http::StatusCode::OK, "application/json", &body, keep_alive)
        }
        Err(error) => {
            let body = format!("the user directory at {directory} failed: {error}\n");
            http::response_bytes(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                body.as_bytes(),
                keep_alive,
            )
        }
    }
}

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
