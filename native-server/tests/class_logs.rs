//! A flood of refused WebSocket upgrades must not become a flood of log
//! lines: one summary a second, counting the rest.
//!
//! A file of its own because it installs the process-wide log subscriber and
//! the rate limiters are process-wide too.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Collects every formatted log line in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

const UPGRADES: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_refused_upgrades_make_a_line_a_second() {
    let captured = Captured::default();
    tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .init();
    let server = TestServer::start(|_| {}).await;
    let started = Instant::now();
    let mut s = TcpStream::connect(server.http).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nOrigin: https://evil.example\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        server.http
    );
    let mut buf = vec![0u8; 64 * 1024];
    for _ in 0..UPGRADES {
        s.write_all(request.as_bytes()).await.unwrap();
        // One 403 per request on a kept-alive connection: read to the end of
        // its body (its length is in the head).
        let mut got = Vec::new();
        loop {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "the server closed the connection");
            got.extend_from_slice(&buf[..n]);
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                assert!(head.starts_with("http/1.1 403"), "{head}");
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap();
                if got.len() >= end + 4 + len {
                    break;
                }
            }
        }
    }
    let elapsed = started.elapsed();
    server.stop().await.unwrap();

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let summaries: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("bridge upgrade refused") && l.contains("suppressed="))
        .collect();
    let counted: usize = summaries
        .iter()
        .map(|l| {
            let n = l.split("suppressed=").nth(1).unwrap();
            let n: usize = n.split_whitespace().next().unwrap().parse().unwrap();
            n + 1
        })
        .sum();
    let others = text
        .lines()
        .filter(|l| l.contains("upgrade refused") && !l.contains("suppressed="))
        .count();
    println!(
        "{UPGRADES} refused upgrades in {elapsed:?}: {} summary lines counting {counted} \
         (and {others} unsummarised lines from elsewhere)",
        summaries.len()
    );
    assert!(!summaries.is_empty(), "the first refusal is logged");
    assert!(summaries[0].contains("suppressed=0"), "{}", summaries[0]);
    assert!(summaries[0].contains("status=403"), "{}", summaries[0]);
    let most = elapsed.as_secs() as usize + 1;
    assert!(
        summaries.len() <= most,
        "{} lines in {elapsed:?}",
        summaries.len()
    );
    // The lines count what they stood for; the last few may still be pending.
    assert!(counted <= UPGRADES);
    assert_eq!(others, 0, "no line per refusal besides the summaries");
}
