//! A page over a kept-alive connection (what every browser uses) comes as
//! fast as over a fresh one. With Nagle's algorithm on, a streamed page's
//! later chunks waited for the client's delayed ACK: ~14 ms per page on
//! average and up to 50 ms over a kept-alive connection, against ~2 ms on
//! a fresh one (debug build, `wrk -c1`). The real portal process, over
//! loopback, with a plain HTTP/1.1 client that, like a browser or `wrk`,
//! leaves its own socket options alone (reqwest's client hides the stall),
//! for 300 pages: the first few dozen are ACKed at once (Linux's quick-ACK
//! start) and would hide it too. Seen failing without TCP_NODELAY: 11.9 ms
//! per kept-alive page against 2.0 ms fresh; with it, 1.5 ms and 1.7 ms.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

mod support;

use support::process::Running;

/// Sends one GET for `path` and reads its whole answer.
fn get(connection: &mut TcpStream, host: &str, path: &str, close: bool) {
    let header = if close { "Connection: close\r\n" } else { "" };
    // One write, as browsers send a request: pieces would meet Nagle's
    // algorithm on this side.
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{header}\r\n");
    connection.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let read = connection.read(&mut buffer).unwrap();
        assert!(read > 0 || close, "the connection closed mid-answer");
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..read]);
        if complete(&answer) {
            break;
        }
    }
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer[..answer.len().min(200)])
    );
}

/// Whether `answer` holds a whole response: its length, or the last chunk.
fn complete(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|window| window == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let body = &answer[end + 4..];
    if let Some(length) = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok())
    {
        return body.len() >= length;
    }
    body.ends_with(b"0\r\n\r\n")
}

/// The mean of `times`: a wait on some of the pages shows in it, where a
/// median could hide it.
fn mean(times: Vec<Duration>) -> Duration {
    let count = u32::try_from(times.len()).unwrap();
    times.into_iter().sum::<Duration>() / count
}

#[test]
fn a_kept_alive_connection_serves_pages_as_fast_as_a_fresh_one() {
    let (mut running, _dir) = Running::start(&[]);
    let address = running.address();
    let host = address.trim_start_matches("http://").to_string();
    const PAGES: usize = 300;

    let fresh = mean(
        (0..PAGES)
            .map(|_| {
                let started = Instant::now();
                let mut connection = TcpStream::connect(&host).unwrap();
                get(&mut connection, &host, "/sign-in", true);
                started.elapsed()
            })
            .collect(),
    );
    let mut connection = TcpStream::connect(&host).unwrap();
    get(&mut connection, &host, "/sign-in", false);
    let kept_alive = mean(
        (0..PAGES)
            .map(|_| {
                let started = Instant::now();
                get(&mut connection, &host, "/sign-in", false);
                started.elapsed()
            })
            .collect(),
    );
    eprintln!("mean per page: kept alive {kept_alive:?}, fresh {fresh:?}");
    // A delayed ACK is 40 ms on Linux, rendering the page a few. The margin
    // absorbs a loaded machine, not a wait on every page.
    assert!(
        kept_alive <= fresh * 2 + Duration::from_millis(5),
        "kept alive {kept_alive:?} per page, fresh {fresh:?}"
    );
}
