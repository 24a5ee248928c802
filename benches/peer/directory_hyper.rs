//! The user directory on hyper 1 and tokio's current-thread runtime: the peer that
//! `benches/directory_vs_hyper.sh` measures `looplab directory` against with wrk.
//!
//! It is the directory a production Rust server would be: one thread (as looplab's),
//! `TCP_NODELAY` on every accepted socket, and hyper's `pipeline_flush`, which writes
//! the answers to pipelined requests together. Routing and bodies are looplab's own
//! ([`looplab::lookup::http::route`], [`User`], [`DirectoryInfo`]), so the two servers
//! send the same answers and only the HTTP engine and the runtime differ. Like
//! `looplab directory --quiet`, it writes no access log.
//!
//! ```sh
//! cargo run --release --example directory_hyper -- --addr 127.0.0.1:7879 --delay 100ms
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use looplab::lookup::http::{self as looplab_http, DirectoryInfo, Route, User};
use tokio::net::TcpListener;

struct Options {
    addr: SocketAddr,
    delay: Duration,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        addr: "127.0.0.1:7879".parse().unwrap(),
        delay: Duration::from_secs(1),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => options.addr = value.parse().map_err(|e| format!("--addr: {e}"))?,
            "--delay" => options.delay = parse_delay(&value)?,
            _ => {
                return Err(format!(
                    "unknown flag {flag}; use --addr HOST:PORT --delay 100ms"
                ));
            }
        }
    }
    Ok(options)
}

/// `1s`, `100ms` or `0`: the forms the script passes.
fn parse_delay(text: &str) -> Result<Duration, String> {
    let number = |digits: &str| digits.parse::<u64>().map_err(|e| format!("--delay: {e}"));
    if let Some(ms) = text.strip_suffix("ms") {
        Ok(Duration::from_millis(number(ms)?))
    } else if let Some(s) = text.strip_suffix('s') {
        Ok(Duration::from_secs(number(s)?))
    } else {
        Ok(Duration::from_millis(number(text)?))
    }
}

async fn answer(
    request: Request<Incoming>,
    delay: Duration,
    lookups: Arc<AtomicUsize>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let parsed = looplab_http::Request {
        method: request.method().clone(),
        path: request.uri().to_string(),
        keep_alive: true,
    };
    let (status, content_type, body, allow) = match looplab_http::route(&parsed) {
        Route::User(id) => {
            // As in looplab's directory, a zero delay answers at once.
            if !delay.is_zero() {
                lookups.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(delay).await;
                lookups.fetch_sub(1, Ordering::Relaxed);
            }
            let body = serde_json::to_vec(&User::for_id(id)).unwrap();
            (StatusCode::OK, "application/json", body, None)
        }
        Route::About => {
            let info = DirectoryInfo::new(delay, lookups.load(Ordering::Relaxed));
            let body = serde_json::to_vec(&info).unwrap();
            (StatusCode::OK, "application/json", body, None)
        }
        Route::Reject(rejection) => (
            rejection.status,
            "text/plain; charset=utf-8",
            format!("{}\n", rejection.message).into_bytes(),
            rejection.allow,
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(methods) = allow {
        headers.insert(ALLOW, HeaderValue::from_static(methods));
    }
    Ok(response)
}

fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("directory_hyper: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind(options.addr).await.expect("bind");
        println!("listening on http://{}", listener.local_addr().unwrap());
        let lookups = Arc::new(AtomicUsize::new(0));
        loop {
            let Ok((stream, _peer)) = listener.accept().await else {
                // Out of descriptors, or a connection reset before it was taken.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (delay, lookups) = (options.delay, lookups.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request| answer(request, delay, lookups.clone()));
                let _ = http1::Builder::new()
                    .pipeline_flush(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}
