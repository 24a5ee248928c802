//! Spec of exercise 8: `AsyncRead`, `AsyncWrite`, `pipe` and `copy` (chapter 7).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex08_async_io_traits
//! ```
//!
//! The pipe tests run on virtual time: a pipe is memory, and a wake it loses leaves the
//! loop idle, so the time limit fires at once instead of after seconds of wall time.
//! The last test crosses a real TCP connection, on wall time.

use std::io;
use std::time::Duration;

use super::answer::{AsyncRead, AsyncWrite, copy, pipe, read_to_end, write_all};
use looplab::net::{TcpListener, TcpStream};

use crate::common::{real_runtime, virtual_runtime, watchdog, within};

const MIB: usize = 1024 * 1024;
const LIMIT: Duration = Duration::from_secs(10);

/// 1 MiB that is not all zeroes, so that a lost or repeated chunk shows.
fn one_mebibyte() -> Vec<u8> {
    (0..MIB).map(|i| (i % 251) as u8).collect()
}

pub fn a_small_pipe_carries_a_mebibyte_in_order() {
    let _watchdog = watchdog(Duration::from_secs(30), "1 MiB through a pipe");
    virtual_runtime().block_on(async {
        let (mut writer, mut reader) = pipe(4096);
        let data = one_mebibyte();
        let sent = data.clone();
        let sender = looplab::spawn(async move {
            write_all(&mut writer, &sent).await?;
            writer.shutdown().await
        });
        let mut received = Vec::new();
        let n = within(
            LIMIT,
            "reading 1 MiB from a 4 KiB pipe",
            read_to_end(&mut reader, &mut received),
        )
        .await
        .unwrap();
        within(LIMIT, "the writer", sender).await.unwrap().unwrap();
        assert_eq!(n, MIB);
        assert!(received == data, "the bytes differ");
    });
}

pub fn a_full_pipe_takes_only_what_fits_and_a_reader_makes_room() {
    virtual_runtime().block_on(async {
        let (mut writer, mut reader) = pipe(4096);
        assert_eq!(
            within(
                LIMIT,
                "a write to an empty pipe",
                writer.write(&[1; 10_000])
            )
            .await
            .unwrap(),
            4096,
            "a write takes what fits"
        );
        assert!(
            looplab::time::timeout(Duration::from_millis(20), writer.write(&[2; 10]))
                .await
                .is_err(),
            "a full pipe must make the writer wait"
        );
        let mut buf = [0u8; 100];
        let read = within(LIMIT, "a read of a full pipe", reader.read(&mut buf)).await;
        assert_eq!(read.unwrap(), 100);
        assert_eq!(
            within(
                LIMIT,
                "a write after the reader made room",
                writer.write(&[3; 1000])
            )
            .await
            .unwrap(),
            100,
            "the reader freed 100 bytes"
        );
    });
}

pub fn the_reader_sees_the_end_when_the_writer_shuts_down_or_is_dropped() {
    virtual_runtime().block_on(async {
        let (mut writer, mut reader) = pipe(64);
        write_all(&mut writer, b"hello").await.unwrap();
        writer.shutdown().await.unwrap();
        let mut out = Vec::new();
        within(
            LIMIT,
            "reading to the end",
            read_to_end(&mut reader, &mut out),
        )
        .await
        .unwrap();
        assert_eq!(out, b"hello");

        // A reader already waiting is woken by the drop.
        let (writer, mut reader) = pipe(64);
        let waiting = looplab::spawn(async move {
            let mut buf = [0u8; 8];
            reader.read(&mut buf).await
        });
        looplab::time::sleep(Duration::from_millis(10)).await;
        drop(writer);
        let read = within(LIMIT, "a reader whose writer was dropped", waiting)
            .await
            .unwrap();
        assert_eq!(read.unwrap(), 0, "end of stream");
    });
}

pub fn a_writer_whose_reader_is_gone_gets_broken_pipe_even_while_waiting() {
    virtual_runtime().block_on(async {
        let (mut writer, reader) = pipe(8);
        let waiting = looplab::spawn(async move { write_all(&mut writer, &[0; 100]).await });
        looplab::time::sleep(Duration::from_millis(10)).await;
        drop(reader);
        let result = within(LIMIT, "a writer whose reader was dropped", waiting)
            .await
            .unwrap();
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    });
}

pub fn copy_moves_a_mebibyte_from_a_pipe_through_tcp_into_a_pipe() {
    // pipe -> copy -> TCP client ... TCP server -> copy -> pipe -> collector.
    let _watchdog = watchdog(Duration::from_secs(30), "1 MiB through pipes and TCP");
    real_runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let data = one_mebibyte();

        let (mut source_writer, mut source_reader) = pipe(16 * 1024);
        let (mut sink_writer, mut sink_reader) = pipe(1024);

        let producer = {
            let data = data.clone();
            looplab::spawn(async move {
                write_all(&mut source_writer, &data).await?;
                source_writer.shutdown().await
            })
        };
        let client = looplab::spawn(async move {
            let mut tcp = TcpStream::connect(addr).await?;
            let n = copy(&mut source_reader, &mut tcp).await?;
            AsyncWrite::shutdown(&mut tcp).await?;
            io::Result::Ok(n)
        });
        let server = looplab::spawn(async move {
            let (mut tcp, _) = listener.accept().await?;
            let n = copy(&mut tcp, &mut sink_writer).await?;
            sink_writer.shutdown().await?;
            io::Result::Ok(n)
        });
        let mut received = Vec::new();
        within(
            LIMIT,
            "collecting 1 MiB",
            read_to_end(&mut sink_reader, &mut received),
        )
        .await
        .unwrap();
        within(LIMIT, "the producer", producer)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            within(LIMIT, "the client", client).await.unwrap().unwrap(),
            MIB as u64,
            "bytes the client copied"
        );
        assert_eq!(
            within(LIMIT, "the server", server).await.unwrap().unwrap(),
            MIB as u64,
            "bytes the server copied"
        );
        assert!(received == data, "the bytes differ");
    });
}

/// The tests above, listed once for the two kinds of target that run them: the
/// exercise's own spec target makes each a `#[test]` (`with_tests!(as_tests)`), and
/// `wrong_solutions.rs`, which has no test harness, a table it calls in turn
/// (`with_tests!(as_table)`). Both macros are in `common/mod.rs`.
macro_rules! with_tests {
    ($then:ident) => {
        $then! {
            a_small_pipe_carries_a_mebibyte_in_order,
            a_full_pipe_takes_only_what_fits_and_a_reader_makes_room,
            the_reader_sees_the_end_when_the_writer_shuts_down_or_is_dropped,
            a_writer_whose_reader_is_gone_gets_broken_pipe_even_while_waiting,
            copy_moves_a_mebibyte_from_a_pipe_through_tcp_into_a_pipe,
        }
    };
}
pub(crate) use with_tests;
