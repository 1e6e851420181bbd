//! Two stacks in one process over an in-memory pipe: the tokio API end to end.

use sha2::{Digest, Sha256};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;
use synack::{pipe, Faults, FaultyDevice, Stack, StackConfig, TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn pair() -> (Stack, Stack) {
    let (a, b) = pipe(1500);
    (
        Stack::new(a, StackConfig::new(vec!["10.0.0.1".parse().unwrap()])).unwrap(),
        Stack::new(b, StackConfig::new(vec!["10.0.0.2".parse().unwrap()])).unwrap(),
    )
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn data(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n).map(|_| rng.u8(..)).collect()
}

#[tokio::test]
async fn echo_ten_megabytes_with_matching_hashes() {
    let (c, s) = pair();
    let l = TcpListener::bind(&s, addr("10.0.0.2:7")).await.unwrap();
    let server = tokio::spawn(async move {
        let (mut st, _) = l.accept().await.unwrap();
        let (mut r, mut w) = st.split();
        tokio::io::copy(&mut r, &mut w).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let payload = data(10 << 20, 1);
    let st = TcpStream::connect(&c, addr("10.0.0.2:7")).await.unwrap();
    let (mut r, mut w) = st.into_split();
    let p = payload.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&p).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let mut back = Vec::new();
    r.read_to_end(&mut back).await.unwrap();
    writer.await.unwrap();
    server.await.unwrap();
    assert_eq!(Sha256::digest(&back), Sha256::digest(&payload));
}

#[tokio::test]
async fn half_close_works_both_ways() {
    let (c, s) = pair();
    let l = TcpListener::bind(&s, addr("10.0.0.2:80")).await.unwrap();
    let mut client = TcpStream::connect(&c, addr("10.0.0.2:80")).await.unwrap();
    let (mut server, peer) = l.accept().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(server.local_addr().unwrap(), addr("10.0.0.2:80"));
    // The client closes its side and keeps reading.
    client.write_all(b"request").await.unwrap();
    client.shutdown().await.unwrap();
    let mut req = Vec::new();
    server.read_to_end(&mut req).await.unwrap();
    assert_eq!(req, b"request");
    server.write_all(b"response after EOF").await.unwrap();
    server.shutdown().await.unwrap();
    let mut resp = Vec::new();
    client.read_to_end(&mut resp).await.unwrap();
    assert_eq!(resp, b"response after EOF");
}

#[tokio::test]
async fn copy_bidirectional_carries_each_fin_across() {
    // client <-> proxy (copy_bidirectional) <-> backend, all on synack.
    let (c, s) = pair();
    let backend = TcpListener::bind(&s, addr("10.0.0.2:9000")).await.unwrap();
    let front = TcpListener::bind(&s, addr("10.0.0.2:8000")).await.unwrap();
    let s2 = s.clone();
    tokio::spawn(async move {
        let (mut inbound, _) = front.accept().await.unwrap();
        let mut outbound = TcpStream::connect(&s2, addr("10.0.0.2:9000")).await.unwrap();
        tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await.unwrap();
    });
    let mut client = TcpStream::connect(&c, addr("10.0.0.2:8000")).await.unwrap();
    let (mut b, _) = backend.accept().await.unwrap();
    client.write_all(b"ping").await.unwrap();
    client.shutdown().await.unwrap();
    let mut got = Vec::new();
    b.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"ping", "the client's FIN reached the backend");
    b.write_all(b"pong").await.unwrap();
    b.shutdown().await.unwrap();
    let mut back = Vec::new();
    client.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, b"pong", "the backend's FIN reached the client");
}

#[tokio::test]
async fn connect_to_a_closed_port_is_refused() {
    let (c, _s) = pair();
    let e = TcpStream::connect(&c, addr("10.0.0.2:1")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn reset_mid_transfer_is_connection_reset_on_both_sides() {
    let (c, s) = pair();
    let l = TcpListener::bind(&s, addr("10.0.0.2:80")).await.unwrap();
    let mut client = TcpStream::connect(&c, addr("10.0.0.2:80")).await.unwrap();
    let (mut server, _) = l.accept().await.unwrap();
    client.write_all(&[1u8; 100_000]).await.unwrap();
    let mut buf = [0u8; 1000];
    server.read_exact(&mut buf).await.unwrap();
    server.abort().unwrap();
    let e = loop {
        match server.read(&mut buf).await {
            Err(e) => break e,
            Ok(_) => continue,
        }
    };
    assert_eq!(e.kind(), ErrorKind::ConnectionAborted);
    let e = loop {
        match client.read(&mut buf).await {
            Err(e) => break e,
            Ok(0) => panic!("EOF instead of a reset"),
            Ok(_) => continue,
        }
    };
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    let e = client.write_all(b"more").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn misuse_gets_the_kinds_tokio_users_expect() {
    let (c, s) = pair();
    let _l = TcpListener::bind(&s, addr("10.0.0.2:80")).await.unwrap();
    assert_eq!(TcpListener::bind(&s, addr("10.0.0.2:80")).await.unwrap_err().kind(), ErrorKind::AddrInUse);
    assert_eq!(TcpListener::bind(&s, addr("10.9.9.9:80")).await.unwrap_err().kind(), ErrorKind::AddrNotAvailable);
    assert_eq!(TcpStream::connect(&c, addr("[fd00::1]:80")).await.unwrap_err().kind(), ErrorKind::AddrNotAvailable);
    let mut st = TcpStream::connect(&c, addr("10.0.0.2:80")).await.unwrap();
    st.shutdown().await.unwrap();
    assert_eq!(st.write_all(b"x").await.unwrap_err().kind(), ErrorKind::BrokenPipe);
}

#[tokio::test]
async fn read_timeout_fires() {
    let (c, s) = pair();
    let l = TcpListener::bind(&s, addr("10.0.0.2:80")).await.unwrap();
    let mut st = TcpStream::connect(&c, addr("10.0.0.2:80")).await.unwrap();
    let _server = l.accept().await.unwrap();
    st.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 10];
    let e = st.read(&mut buf).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
}

#[tokio::test]
async fn a_listener_on_the_unspecified_address_accepts_and_transparent_reports_the_destination() {
    let (c, s) = pair();
    let any = TcpListener::bind(&s, addr("0.0.0.0:80")).await.unwrap();
    let _c1 = TcpStream::connect(&c, addr("10.0.0.2:80")).await.unwrap();
    let (a, _) = any.accept().await.unwrap();
    assert_eq!(a.local_addr().unwrap(), addr("10.0.0.2:80"));
    let t = TcpListener::bind_transparent(&s).await.unwrap();
    let _c2 = TcpStream::connect(&c, addr("203.0.113.9:443")).await.unwrap();
    let (b, _) = t.accept().await.unwrap();
    assert_eq!(b.local_addr().unwrap(), addr("203.0.113.9:443"), "the original destination");
}

#[tokio::test]
async fn transfers_survive_faults_in_the_device_layer() {
    let (a, b) = pipe(1500);
    let faults = Faults {
        loss: 0.01,
        duplicate: 0.01,
        reorder: 0.02,
        corrupt: 0.005,
        delay: Duration::from_millis(2),
        jitter: Duration::from_millis(1),
        ..Faults::default()
    };
    let a = FaultyDevice::new(a, faults, faults, 7);
    let c = Stack::new(a, StackConfig::new(vec!["10.0.0.1".parse().unwrap()])).unwrap();
    let s = Stack::new(b, StackConfig::new(vec!["10.0.0.2".parse().unwrap()])).unwrap();
    let l = TcpListener::bind(&s, addr("10.0.0.2:80")).await.unwrap();
    let payload = data(2 << 20, 9);
    let p = payload.clone();
    tokio::spawn(async move {
        let (mut st, _) = l.accept().await.unwrap();
        st.write_all(&p).await.unwrap();
        st.shutdown().await.unwrap();
        let mut rest = Vec::new();
        st.read_to_end(&mut rest).await.unwrap();
    });
    let mut st = TcpStream::connect(&c, addr("10.0.0.2:80")).await.unwrap();
    let mut got = Vec::new();
    st.read_to_end(&mut got).await.unwrap();
    assert_eq!(Sha256::digest(&got), Sha256::digest(&payload));
    assert!(st.info().unwrap().total_retrans > 0 || c.stats().dropped_bad_checksum > 0);
}

/// Counts retransmissions reported to the tracer.
struct CountRetransmissions(std::sync::Arc<std::sync::atomic::AtomicU32>);

impl synack_core::Tracer for CountRetransmissions {
    fn packet(&mut self, _: synack_core::Instant, _: synack_core::Direction, _: &[u8]) {}
    fn state_change(
        &mut self,
        _: synack_core::Instant,
        _: synack_core::FourTuple,
        _: synack_core::State,
        _: synack_core::State,
    ) {
    }
    fn retransmission(&mut self, _: synack_core::Instant, _: synack_core::FourTuple, _: bool) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[tokio::test]
async fn retransmissions_are_reported_to_the_tracer() {
    let (a, b) = pipe(1500);
    let lossy = Faults { loss: 0.05, ..Faults::default() };
    let c = Stack::new(
        FaultyDevice::new(a, lossy, Faults::default(), 3),
        StackConfig::new(vec!["10.0.0.1".parse().unwrap()]),
    )
    .unwrap();
    let s = Stack::new(b, StackConfig::new(vec!["10.0.0.2".parse().unwrap()])).unwrap();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    c.set_tracer(Box::new(CountRetransmissions(count.clone())));
    let l = TcpListener::bind(&s, addr("10.0.0.2:80")).await.unwrap();
    tokio::spawn(async move {
        let (mut st, _) = l.accept().await.unwrap();
        let mut sink = Vec::new();
        st.read_to_end(&mut sink).await.unwrap();
    });
    let mut st = TcpStream::connect(&c, addr("10.0.0.2:80")).await.unwrap();
    st.write_all(&data(1 << 20, 5)).await.unwrap();
    st.shutdown().await.unwrap();
    let mut rest = Vec::new();
    st.read_to_end(&mut rest).await.unwrap();
    assert!(count.load(std::sync::atomic::Ordering::Relaxed) > 0);
}

#[tokio::test]
async fn graceful_shutdown_sends_pending_data_and_closes() {
    let (c, s) = pair();
    let l = TcpListener::bind(&s, addr("10.0.0.2:80")).await.unwrap();
    let mut st = TcpStream::connect(&c, addr("10.0.0.2:80")).await.unwrap();
    let (mut server, _) = l.accept().await.unwrap();
    st.write_all(&[7u8; 300_000]).await.unwrap();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        server.shutdown().await.unwrap();
        got.len()
    });
    c.shutdown(Duration::from_secs(5)).await;
    assert_eq!(reader.await.unwrap(), 300_000);
}

#[tokio::test]
async fn stats_count_segments_and_connections() {
    let (c, s) = pair();
    let l = TcpListener::bind(&s, addr("10.0.0.2:80")).await.unwrap();
    let _st = TcpStream::connect(&c, addr("10.0.0.2:80")).await.unwrap();
    let _a = l.accept().await.unwrap();
    let cs = c.stats();
    assert!(cs.segments_out >= 2 && cs.packets_in >= 1 && cs.connections_opened == 1, "{cs:?}");
}

#[tokio::test]
async fn stack_abort_resets_every_connection() {
    let (c, s) = pair();
    let l = TcpListener::bind(&s, addr("10.0.0.2:80")).await.unwrap();
    let _client = TcpStream::connect(&c, addr("10.0.0.2:80")).await.unwrap();
    let (mut server, _) = l.accept().await.unwrap();
    c.abort().await;
    let mut buf = [0u8; 8];
    let e = server.read(&mut buf).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn connect_to_a_silent_host_times_out() {
    let (a, _b) = pipe(1500);
    let mut cfg = StackConfig::new(vec!["10.0.0.1".parse().unwrap()]);
    cfg.tcp.syn_retries = 1;
    let c = Stack::new(a, cfg).unwrap();
    let started = std::time::Instant::now();
    let e = TcpStream::connect(&c, addr("10.0.0.99:80")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert!(started.elapsed() >= Duration::from_secs(3), "1 s, then 2 s more");
}

#[tokio::test]
async fn write_timeout_fires_when_the_peer_does_not_read() {
    let (a, b) = pipe(1500);
    let mut small = StackConfig::new(vec!["10.0.0.1".parse().unwrap()]);
    small.tcp.send_buffer = 64 * 1024;
    let c = Stack::new(a, small).unwrap();
    let s = Stack::new(b, StackConfig::new(vec!["10.0.0.2".parse().unwrap()])).unwrap();
    let l = TcpListener::bind(&s, addr("10.0.0.2:80")).await.unwrap();
    let mut st = TcpStream::connect(&c, addr("10.0.0.2:80")).await.unwrap();
    let _server = l.accept().await.unwrap();
    st.set_write_timeout(Some(Duration::from_millis(200)));
    let e = st.write_all(&vec![0u8; 64 << 20]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
}

/// A raw TCP segment from 10.0.0.2:80 to `to`, as a peer that is not a stack would send it.
fn raw_segment(to: SocketAddr, seq: u32, ack: u32, flags: synack_wire::TcpFlags) -> Vec<u8> {
    let (src, dst): (std::net::IpAddr, std::net::IpAddr) = ("10.0.0.2".parse().unwrap(), to.ip());
    let tcp = synack_wire::TcpRepr {
        src_port: 80,
        dst_port: to.port(),
        seq,
        ack,
        flags,
        window: 65535,
        urgent: 0,
        options: synack_wire::TcpOptions::default(),
    };
    let mut buf = vec![0u8; 1500];
    let n = tcp.emit(&mut buf[20..], &[], src, dst).unwrap();
    let ip = synack_wire::IpRepr { src, dst, protocol: synack_wire::PROTO_TCP, payload_len: n, hop_limit: 64, tos: 0 };
    ip.emit(&mut buf).unwrap();
    buf.truncate(20 + n);
    buf
}

#[tokio::test]
async fn connect_succeeds_when_the_reset_comes_right_after_the_handshake() {
    use synack::Device;
    let (a, mut peer) = pipe(1500);
    let c = Stack::new(a, StackConfig::new(vec!["10.0.0.1".parse().unwrap()])).unwrap();
    let stack = c.clone();
    let connecting = tokio::spawn(async move { TcpStream::connect(&stack, addr("10.0.0.2:80")).await });
    let mut syn = vec![0u8; 1500];
    let n = std::future::poll_fn(|cx| peer.poll_recv(cx, &mut syn)).await.unwrap().len;
    let ip = synack_wire::IpPacket::parse(&syn[..n]).unwrap();
    let tcp = synack_wire::TcpPacket::parse(ip.payload()).unwrap();
    let from = SocketAddr::new(ip.src(), tcp.src_port());
    // The SYN-ACK and a RST arrive together, before connect looks again.
    let synack = raw_segment(from, 5000, tcp.seq() + 1, synack_wire::TcpFlags::SYN | synack_wire::TcpFlags::ACK);
    let rst = raw_segment(from, 5001, 0, synack_wire::TcpFlags::RST);
    std::future::poll_fn(|cx| peer.poll_send(cx, &synack, Default::default())).await.unwrap();
    std::future::poll_fn(|cx| peer.poll_send(cx, &rst, Default::default())).await.unwrap();
    let mut s = connecting.await.unwrap().expect("connected, as a kernel socket would be");
    let e = s.read(&mut [0u8; 8]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
}

/// Sends `n` bytes from `c` to a reader on `s` that waits `pause` before
/// reading; returns what it read and `s`'s bytes delivered directly.
async fn one_way(n: usize, pause: Duration) -> (Vec<u8>, Vec<u8>, u64) {
    let (c, s) = pair();
    let l = TcpListener::bind(&s, addr("10.0.0.2:9")).await.unwrap();
    let payload = data(n, 7);
    let p = payload.clone();
    let mut client = TcpStream::connect(&c, addr("10.0.0.2:9")).await.unwrap();
    let (mut st, _) = l.accept().await.unwrap();
    let writer = tokio::spawn(async move {
        client.write_all(&p).await.unwrap();
        client.shutdown().await.unwrap();
        let _ = client.read(&mut [0u8; 1]).await;
    });
    tokio::time::sleep(pause).await;
    let mut got = Vec::new();
    st.read_to_end(&mut got).await.unwrap();
    drop(st);
    writer.await.unwrap();
    (payload, got, s.stats().bytes_in_direct)
}

#[tokio::test]
async fn a_waiting_reader_gets_data_straight_from_the_segments() {
    // Less than the socket's queue holds: every byte goes straight there.
    let (sent, got, direct) = one_way(200_000, Duration::ZERO).await;
    assert_eq!(Sha256::digest(&got), Sha256::digest(&sent));
    assert_eq!(direct as usize, sent.len(), "every byte went straight to the queue");
}

#[tokio::test]
async fn a_late_reader_still_reads_every_byte_in_order() {
    // The socket's queue fills, then the core's buffer: later data goes
    // through the buffer, behind what waits there, until both drain.
    let (sent, got, direct) = one_way(4 << 20, Duration::from_millis(300)).await;
    assert_eq!(Sha256::digest(&got), Sha256::digest(&sent));
    assert!((direct as usize) < sent.len(), "some data waited in the core's buffer");
}
