//! Spec of exercise 11: the lookup web server (chapter 8).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex11_lookup_web_server
//! ```
//!
//! The directory, the lookup server and its clients all run in one runtime under
//! virtual time: a one-second lookup costs no wall time and ends at exactly 1.000 s.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use super::answer::LookupServer;
use looplab::lookup::directory::{Directory, DirectoryConfig, StopSignal};
use looplab::lookup::http::{self, ResponseParse, User};
use looplab::net::TcpStream;
use looplab::time::Instant;

use crate::common::{virtual_runtime, within};

const LIMIT: Duration = Duration::from_secs(60);

/// One HTTP call to the lookup server: `request_line` (e.g. `GET /lookup?users=3`), on
/// a connection the client closes after the answer. Returns the status and the body.
async fn call(server: SocketAddr, request_line: &str) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(server)
        .await
        .expect("connect to the lookup server");
    let request = format!("{request_line} HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match http::parse_response(&buffer) {
            ResponseParse::Complete { status, body, .. } => return (status, body),
            ResponseParse::Invalid(reason) => panic!("not an HTTP answer: {reason}"),
            ResponseParse::Partial => {
                let n = stream.read(&mut chunk).await.expect("read the answer");
                assert!(
                    n > 0,
                    "the server closed the connection without a whole answer to {request_line:?}"
                );
                buffer.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

/// Starts a directory (1 s per user) and a lookup server in the current runtime and
/// runs `test` with the lookup server's address; stops both afterwards.
async fn with_servers<F, Fut>(directory: Option<SocketAddr>, test: F)
where
    F: FnOnce(SocketAddr) -> Fut,
    Fut: Future<Output = ()>,
{
    let stop = StopSignal::new();
    let directory = match directory {
        Some(addr) => addr,
        None => {
            let server = Directory::bind(
                "127.0.0.1:0",
                DirectoryConfig::with_delay(Duration::from_secs(1)),
            )
            .unwrap();
            let addr = server.local_addr().unwrap();
            let stop = stop.clone();
            looplab::spawn(async move { server.serve_until(stop.fired()).await });
            addr
        }
    };
    let lookup = LookupServer::bind("127.0.0.1:0", directory).expect("bind the lookup server");
    let addr = lookup.local_addr().unwrap();
    let serving = {
        let stop = stop.clone();
        looplab::spawn(async move { lookup.serve_until(stop.fired()).await })
    };
    test(addr).await;
    stop.fire();
    within(
        LIMIT,
        "the lookup server stopping after the stop signal",
        serving,
    )
    .await
    .expect("the lookup server's task panicked");
}

pub fn three_requests_arriving_together_are_answered_after_3_2_and_1_seconds() {
    let wall = std::time::Instant::now();
    let answers = virtual_runtime().block_on(async {
        let answers = std::cell::RefCell::new(Vec::new());
        let found = &answers;
        with_servers(None, |server| async move {
            let start = Instant::now();
            let clients: Vec<_> = [3u32, 2, 1]
                .into_iter()
                .map(|users| {
                    looplab::spawn(async move {
                        let (status, body) =
                            call(server, &format!("GET /lookup?users={users}")).await;
                        (users, status, body, start.elapsed())
                    })
                })
                .collect();
            for result in within(LIMIT, "three clients", looplab::join_all(clients)).await {
                found.borrow_mut().push(result.expect("a client failed"));
            }
        })
        .await;
        answers.into_inner()
    });
    for (users, status, body, took) in &answers {
        assert_eq!(
            *status,
            200,
            "GET /lookup?users={users}: {}",
            String::from_utf8_lossy(body)
        );
        let found: Vec<User> = serde_json::from_slice(body).expect("a JSON list of users");
        let ids: Vec<u64> = found.iter().map(|u| u.id).collect();
        assert_eq!(
            ids,
            (1..=u64::from(*users)).collect::<Vec<_>>(),
            "users 1 to {users}"
        );
        assert_eq!(found[0], User::for_id(1));
        assert_eq!(
            *took,
            Duration::from_secs(u64::from(*users)),
            "the request for {users} users should take {users} s (each request its own \
             length, not the sum: is each connection served in a task of its own?)"
        );
    }
    assert!(
        wall.elapsed() < Duration::from_secs(5),
        "virtual time costs no wall time"
    );
}

pub fn bad_requests_are_answered_at_once_with_the_right_4xx() {
    virtual_runtime().block_on(async {
        with_servers(None, |server| async move {
            for (request, expected) in [
                ("GET /lookup?users=abc", 400),
                ("GET /lookup?users=0", 400),
                ("GET /lookup", 400),
                ("GET /nope", 404),
                ("POST /lookup?users=1", 405),
            ] {
                let (status, _) = within(LIMIT, request, call(server, request)).await;
                assert_eq!(status, expected, "{request}");
            }
            assert_eq!(
                Instant::now().since_start(),
                Duration::ZERO,
                "no directory call for a bad request"
            );
            let (status, _) =
                within(LIMIT, "a good request", call(server, "GET /lookup?users=1")).await;
            assert_eq!(status, 200, "the server goes on after bad requests");
        })
        .await;
    });
}

pub fn a_directory_that_cannot_be_reached_is_a_502_not_a_hang() {
    // A port that was just free: nothing listens there.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    virtual_runtime().block_on(async {
        with_servers(Some(nobody), |server| async move {
            let (status, body) = within(
                LIMIT,
                "a lookup with no directory",
                call(server, "GET /lookup?users=2"),
            )
            .await;
            assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
        })
        .await;
    });
}

pub fn a_client_that_hangs_up_midway_does_not_stop_the_server() {
    virtual_runtime().block_on(async {
        with_servers(None, |server| async move {
            let mut rude = TcpStream::connect(server).await.unwrap();
            rude.write_all(b"GET /lookup?us").await.unwrap();
            drop(rude);
            let (status, _) = within(
                LIMIT,
                "a request after a rude client",
                call(server, "GET /lookup?users=1"),
            )
            .await;
            assert_eq!(status, 200);
            assert_eq!(Instant::now().since_start(), Duration::from_secs(1));
        })
        .await;
    });
}

/// The tests above, listed once for the two kinds of target that run them: the
/// exercise's own spec target makes each a `#[test]` (`with_tests!(as_tests)`), and
/// `wrong_solutions.rs`, which has no test harness, a table it calls in turn
/// (`with_tests!(as_table)`). Both macros are in `common/mod.rs`.
macro_rules! with_tests {
    ($then:ident) => {
        $then! {
            three_requests_arriving_together_are_answered_after_3_2_and_1_seconds,
            bad_requests_are_answered_at_once_with_the_right_4xx,
            a_directory_that_cannot_be_reached_is_a_502_not_a_hang,
            a_client_that_hangs_up_midway_does_not_stop_the_server,
        }
    };
}
pub(crate) use with_tests;
