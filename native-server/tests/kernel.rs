//! The kernel watcher against real sockets on port 0: what a learner who has
//! just read about TIME_WAIT, CLOSE_WAIT and the accept queue will look for
//! in the kernel lab, seen in the watcher's own messages.
//!
//! Linux only (the watcher's source is `sock_diag`); elsewhere the watcher
//! says why it shows nothing, which the last test checks.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::TestServer;
use common::page::{Got, Page};
use native_server::kernel::KernelWatcher;
use protocol::Demo;
use protocol::bridge::{ClientMsg, ServerMsg};
use protocol::kernel::{End, KernelMsg, KernelSocket, TcpState, TimerKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// The sockets as the viewer knows them, kept up to date from its messages,
/// with every state each socket was seen in.
#[derive(Default)]
struct Seen {
    now: std::collections::BTreeMap<(String, String), KernelSocket>,
    history: Vec<(String, String, TcpState)>,
    gone: Vec<(String, String, TcpState)>,
}

impl Seen {
    fn apply(&mut self, msg: &KernelMsg) {
        match msg {
            KernelMsg::Snapshot { sockets, .. } => {
                self.now = sockets.iter().map(|s| (s.key(), s.clone())).collect();
                for s in sockets {
                    self.history
                        .push((s.local.clone(), s.remote.clone(), s.state));
                }
            }
            KernelMsg::Update { socket, .. } => {
                self.history
                    .push((socket.local.clone(), socket.remote.clone(), socket.state));
                self.now.insert(socket.key(), socket.clone());
            }
            KernelMsg::Gone { socket, .. } => {
                self.now.remove(&socket.key());
                self.gone
                    .push((socket.local.clone(), socket.remote.clone(), socket.state));
            }
            KernelMsg::Unsupported { reason } => panic!("unsupported: {reason}"),
        }
    }

    fn get(&self, local: SocketAddr, remote: SocketAddr) -> Option<&KernelSocket> {
        self.now.get(&(local.to_string(), remote.to_string()))
    }

    fn state(&self, local: SocketAddr, remote: SocketAddr) -> Option<TcpState> {
        self.get(local, remote).map(|s| s.state)
    }

    fn was(&self, local: SocketAddr, remote: SocketAddr, state: TcpState) -> bool {
        let (local, remote) = (local.to_string(), remote.to_string());
        self.history
            .iter()
            .any(|(l, r, s)| *l == local && *r == remote && *s == state)
    }
}

/// Reads the viewer until `done` holds (bounded).
async fn until(
    viewer: &mut native_server::kernel::Viewer,
    seen: &mut Seen,
    what: &str,
    done: impl Fn(&Seen) -> bool,
) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !done(seen) {
            let msg = viewer.recv().await.expect("the watcher is running");
            seen.apply(&msg);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("within 10 s: {what}; saw {:?}", seen.history));
}

/// A listener on port 0 and a watcher of its port (as if it were tcp-echo's).
async fn watched_listener(backlog: u32) -> (TcpListener, SocketAddr, KernelWatcher) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(backlog).unwrap();
    let addr = listener.local_addr().unwrap();
    let watcher = KernelWatcher::new(vec![(Demo::TcpEcho, addr)]);
    (listener, addr, watcher)
}

#[tokio::test]
async fn the_side_that_closes_first_waits_in_time_wait_and_the_other_is_closed() {
    closes_first(0).await;
}

/// The same with 200 idle connections around: a table that big is sampled
/// without its ESTABLISHED sockets between full samples.
#[tokio::test]
async fn the_same_in_a_crowd_of_idle_connections() {
    closes_first(200).await;
}

async fn closes_first(crowd: usize) {
    let (listener, addr, watcher) = watched_listener(1024).await;
    let mut idle = Vec::new();
    for _ in 0..crowd {
        idle.push(TcpStream::connect(addr).await.unwrap());
        idle.push(listener.accept().await.unwrap().0);
    }
    let mut viewer = watcher.watch(20).unwrap();
    let mut seen = Seen::default();
    let client = TcpStream::connect(addr).await.unwrap();
    let (mut server, _) = listener.accept().await.unwrap();
    let c = client.local_addr().unwrap();
    until(&mut viewer, &mut seen, "both ends ESTABLISHED", |s| {
        s.state(c, addr) == Some(TcpState::Established)
            && s.state(addr, c) == Some(TcpState::Established)
    })
    .await;
    assert_eq!(seen.get(c, addr).unwrap().end, End::Client);
    assert_eq!(seen.get(addr, c).unwrap().end, End::Server);

    // The client closes first; the server reads end-of-stream, then closes.
    drop(client);
    let mut buf = [0u8; 16];
    assert_eq!(server.read(&mut buf).await.unwrap(), 0);
    drop(server);
    until(
        &mut viewer,
        &mut seen,
        "the client in TIME_WAIT, the server's end gone",
        |s| s.state(c, addr) == Some(TcpState::TimeWait) && s.state(addr, c).is_none(),
    )
    .await;
    let tw = seen.get(c, addr).unwrap();
    let timer = tw.timer.expect("TIME_WAIT has its timer");
    assert_eq!(timer.kind, TimerKind::TimeWait);
    assert!(
        timer.ms > 0 && timer.ms <= protocol::kernel::TIME_WAIT_MS,
        "{timer:?}"
    );
    assert!(
        seen.gone
            .iter()
            .any(|(l, r, _)| *l == addr.to_string() && *r == c.to_string()),
        "the server's end left the table (CLOSED)"
    );
    assert!(
        !seen.was(addr, c, TcpState::TimeWait),
        "only the side that closed first waits"
    );
}

#[tokio::test]
async fn a_half_closed_connection_leaves_the_server_in_close_wait_until_it_closes() {
    let (listener, addr, watcher) = watched_listener(16).await;
    let mut viewer = watcher.watch(20).unwrap();
    let mut seen = Seen::default();
    let mut client = TcpStream::connect(addr).await.unwrap();
    let (mut server, _) = listener.accept().await.unwrap();
    let c = client.local_addr().unwrap();
    client.shutdown().await.unwrap(); // FIN: the client will send no more
    until(
        &mut viewer,
        &mut seen,
        "the server in CLOSE_WAIT, the client in FIN_WAIT_2",
        |s| {
            s.state(addr, c) == Some(TcpState::CloseWait)
                && s.state(c, addr) == Some(TcpState::FinWait2)
        },
    )
    .await;
    // The server can still answer a half-closed client, then closes.
    server.write_all(b"bye").await.unwrap();
    drop(server);
    let mut got = Vec::new();
    client.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"bye");
    until(&mut viewer, &mut seen, "the client in TIME_WAIT", |s| {
        s.state(c, addr) == Some(TcpState::TimeWait) && s.state(addr, c).is_none()
    })
    .await;
    assert!(seen.was(addr, c, TcpState::CloseWait));
}

#[tokio::test]
async fn a_listener_that_does_not_accept_shows_its_accept_queue_filling() {
    let backlog = 3;
    let (_listener, addr, watcher) = watched_listener(backlog).await;
    let mut viewer = watcher.watch(20).unwrap();
    let mut seen = Seen::default();
    let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let queue = |s: &Seen| s.get(addr, any).map(|l| (l.recv_q, l.send_q));
    until(&mut viewer, &mut seen, "the listener", |s| {
        queue(s).is_some()
    })
    .await;
    assert_eq!(seen.get(addr, any).unwrap().state, TcpState::Listen);
    assert_eq!(seen.get(addr, any).unwrap().end, End::Listener);
    let mut clients = Vec::new();
    for n in 1..=backlog + 1 {
        clients.push(TcpStream::connect(addr).await.unwrap());
        until(&mut viewer, &mut seen, &format!("{n} waiting"), |s| {
            queue(s) == Some((n, backlog))
        })
        .await;
    }
    // Linux admits backlog + 1; the next SYN is dropped, so that client
    // stays in SYN_SENT (its connect would retry, then time out).
    let extra = TcpSocket::new_v4().unwrap();
    extra.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let e = extra.local_addr().unwrap();
    let connecting = tokio::spawn(extra.connect(addr));
    until(
        &mut viewer,
        &mut seen,
        "the extra client in SYN_SENT",
        |s| s.state(e, addr) == Some(TcpState::SynSent),
    )
    .await;
    assert_eq!(queue(&seen), Some((backlog + 1, backlog)), "still full");
    connecting.abort();
}

/// The same twenty one-byte writes with Nagle on and off, counted by the
/// sender's kernel (`TCP_INFO` data segments). What loopback allowed here:
/// 18 segments with Nagle, 20 with TCP_NODELAY. Right after the handshake the
/// receiver acknowledges at once (quick-ACK mode), so Nagle has nothing to
/// hold; once the receiver starts delaying its ACKs, the last writes wait
/// and leave together.
#[tokio::test]
async fn nagle_merges_small_writes_into_fewer_segments_than_nodelay() {
    const WRITES: u32 = 20;
    async fn segments(nodelay: bool) -> u32 {
        let (listener, addr, watcher) = watched_listener(16).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.set_nodelay(nodelay).unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        for _ in 0..WRITES {
            client.write_all(b"x").await.unwrap();
        }
        let mut got = vec![0u8; WRITES as usize];
        server.read_exact(&mut got).await.unwrap();
        let (local, peer) = (client.local_addr().unwrap(), addr);
        let info = tokio::task::spawn_blocking(move || watcher.tcp_info(local, peer))
            .await
            .unwrap()
            .unwrap();
        info.data_segs_out
    }
    let with_nagle = segments(false).await;
    let without = segments(true).await;
    println!(
        "{WRITES} one-byte writes: {with_nagle} data segments with Nagle, {without} with TCP_NODELAY"
    );
    assert!(without <= WRITES && with_nagle >= 1);
    // On loopback the receiver's delayed ACK lets Nagle hold the later writes back.
    assert!(
        with_nagle < without,
        "Nagle {with_nagle} segments vs TCP_NODELAY {without}"
    );
}

/// Through the bridge, as the kernel lab uses it: a snapshot first, the
/// page's own connection as the demo's and the client's ends, and TCP_INFO
/// for a bridged socket.
#[tokio::test]
async fn a_page_watches_the_kernel_and_asks_tcp_info_through_the_bridge() {
    let server = TestServer::start(|_| {}).await;
    let mut page = Page::connect(server.http).await;
    page.send(ClientMsg::WatchKernel { hz: 50 }).await;
    let (hz, listeners) = page
        .until(|g| match g {
            Got::Msg(ServerMsg::Kernel {
                msg: KernelMsg::Snapshot { hz, sockets, .. },
            }) => Some((
                *hz,
                sockets
                    .iter()
                    .filter(|s| s.end == End::Listener)
                    .map(|s| (s.demo, s.send_q))
                    .collect::<Vec<_>>(),
            )),
            _ => None,
        })
        .await;
    assert_eq!(hz, protocol::kernel::MAX_HZ, "clamped");
    assert!(
        listeners.contains(&(
            Demo::TcpEcho,
            native_server::config::DEFAULT_TCP_ECHO_BACKLOG
        )),
        "tcp-echo listens with the small backlog: {listeners:?}"
    );
    assert!(listeners.iter().all(|(d, _)| *d != Demo::UdpEcho));

    let local = page.open(common::page::open(1, Demo::TcpEcho)).await;
    page.until(|g| match g {
        Got::Msg(ServerMsg::Kernel {
            msg: KernelMsg::Update { socket, .. },
        }) if socket.local == local && socket.state == TcpState::Established => Some(()),
        _ => None,
    })
    .await;
    page.send_bytes(1, b"hello").await;
    page.read_until(1, |d| d.ends_with(b"hello")).await;
    page.send(ClientMsg::TcpInfo { sock: 1 }).await;
    let counters = page
        .until(|g| match g {
            Got::Msg(ServerMsg::TcpInfo {
                sock: 1,
                counters,
                missing,
            }) => Some(counters.unwrap_or_else(|| panic!("no TCP_INFO: {missing:?}"))),
            _ => None,
        })
        .await;
    assert!(
        counters.data_segs_out >= 1 && counters.mss > 0,
        "{counters:?}"
    );
    page.send(ClientMsg::Close { sock: 1 }).await;
    page.until(|g| match g {
        Got::Msg(ServerMsg::Kernel {
            msg: KernelMsg::Update { socket, .. },
        }) if socket.local == local && socket.state == TcpState::TimeWait => Some(()),
        _ => None,
    })
    .await;
    server.stop().await.unwrap();
}
