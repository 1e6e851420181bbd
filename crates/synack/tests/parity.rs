//! `tokio::net` parity: the methods a tokio user reaches for, each doing
//! what tokio's does, over two stacks joined by a pipe.

use std::io::{ErrorKind, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use synack::{pipe, Direction, Instant, Interest, Stack, StackConfig, TcpListener, TcpSocket, TcpStream, Tracer};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

fn stacks() -> (Stack, Stack) {
    let (a, b) = pipe(1500);
    let c = Stack::new(a, StackConfig::new(vec!["10.0.0.1".parse().unwrap()])).unwrap();
    let s = Stack::new(b, StackConfig::new(vec!["10.0.0.2".parse().unwrap()])).unwrap();
    (c, s)
}

/// A connected pair: (client stream, server stream).
async fn pair(c: &Stack, s: &Stack) -> (TcpStream, TcpStream) {
    let l = TcpListener::bind(s, "10.0.0.2:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let x = TcpStream::connect(c, ("10.0.0.2", port)).await.unwrap();
    let (y, peer) = l.accept().await.unwrap();
    assert_eq!(peer, x.local_addr().unwrap());
    (x, y)
}

#[tokio::test]
async fn addresses_as_strings_tuples_and_port_zero() {
    let (c, s) = stacks();
    let l1 = TcpListener::bind(&s, "10.0.0.2:0").await.unwrap();
    let l2 = TcpListener::bind(&s, "0.0.0.0:0").await.unwrap();
    let (p1, p2) = (l1.local_addr().unwrap().port(), l2.local_addr().unwrap().port());
    assert!(p1 >= 32768 && p2 >= 32768 && p1 != p2, "ephemeral and distinct: {p1} {p2}");
    let e = TcpListener::bind(&s, format!("10.0.0.2:{p1}")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrInUse);
    assert!(e.to_string().contains(&format!("10.0.0.2:{p1}")), "{e}");
    let x = TcpStream::connect(&c, format!("10.0.0.2:{p2}")).await.unwrap();
    assert_eq!(x.peer_addr().unwrap(), SocketAddr::from(([10, 0, 0, 2], p2)));
    // A refused connect says where to.
    let e = TcpStream::connect(&c, "10.0.0.2:9").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    assert!(e.to_string().contains("10.0.0.2:9"), "{e}");
    let e = TcpStream::connect(&c, "no port here").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn try_calls_never_wait_and_vectored_io_is_real() {
    let (c, s) = stacks();
    let (mut x, y) = pair(&c, &s).await;
    let mut buf = [0u8; 16];
    assert_eq!(y.try_read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert!(x.is_write_vectored());
    let n =
        x.write_vectored(&[IoSlice::new(b"hello "), IoSlice::new(b"vectored "), IoSlice::new(b"world")]).await.unwrap();
    assert_eq!(n, 20, "every slice in one call");
    assert_eq!(x.try_write(b"!").unwrap(), 1);
    y.readable().await.unwrap();
    // Wait until all 21 bytes are in.
    let mut got = Vec::new();
    while got.len() < 21 {
        y.readable().await.unwrap();
        let mut peeked = [0u8; 64];
        let p = y.peek(&mut peeked).await.unwrap();
        assert!(p > 0);
        let (mut a, mut b) = ([0u8; 5], [0u8; 64]);
        match y.try_read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)]) {
            Ok(n) => {
                let mut both = a.to_vec();
                both.extend_from_slice(&b);
                assert_eq!(&both[..n], &peeked[..n.min(p)][..n.min(p)], "peek saw what read takes");
                got.extend_from_slice(&both[..n]);
            }
            Err(e) => assert_eq!(e.kind(), ErrorKind::WouldBlock),
        }
    }
    assert_eq!(got, b"hello vectored world!");
    let mut v = Vec::with_capacity(8);
    assert_eq!(y.try_read_buf(&mut v).unwrap_err().kind(), ErrorKind::WouldBlock);
    x.write_all(b"more").await.unwrap();
    y.readable().await.unwrap();
    assert_eq!(y.try_read_buf(&mut v).unwrap(), 4);
    assert_eq!(v, b"more");
    assert_eq!(y.try_write_vectored(&[IoSlice::new(b"ok")]).unwrap(), 2);
    let r = y.try_io(Interest::WRITABLE, || Ok(7)).unwrap();
    assert_eq!(r, 7);
    assert_eq!(y.try_io(Interest::READABLE, || Ok(())).unwrap_err().kind(), ErrorKind::WouldBlock);
}

#[tokio::test]
async fn ready_reports_closed_directions_and_take_error_reports_once() {
    let (c, s) = stacks();
    let (mut x, y) = pair(&c, &s).await;
    let r = y.ready(Interest::WRITABLE).await.unwrap();
    assert!(r.is_writable() && !r.is_write_closed());
    x.shutdown().await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(2), y.ready(Interest::READABLE)).await.unwrap().unwrap();
    assert!(r.is_readable() && r.is_read_closed(), "{r:?}");
    let r = x.ready(Interest::WRITABLE).await.unwrap();
    assert!(r.is_write_closed(), "{r:?}");
    assert!(y.take_error().unwrap().is_none());
    // A reset: reported once by take_error.
    y.abort().unwrap();
    let mut buf = [0u8; 4];
    let e = tokio::time::timeout(Duration::from_secs(2), x.read(&mut buf)).await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    assert_eq!(x.take_error().unwrap().map(|e| e.kind()), Some(ErrorKind::ConnectionReset));
    assert!(x.take_error().unwrap().is_none());
}

/// Records one byte of the IPv4 header of every segment sent: the TOS
/// (offset 1) or the TTL (offset 8).
struct HeaderByte(usize, Arc<Mutex<Vec<u8>>>);

impl Tracer for HeaderByte {
    fn packet(&mut self, _: Instant, dir: Direction, bytes: &[u8]) {
        if dir == Direction::Out {
            self.1.lock().unwrap().push(bytes[self.0]);
        }
    }
}

#[tokio::test]
async fn ip_tos_marks_the_streams_datagrams_without_the_ecn_bits() {
    let (c, s) = stacks();
    let (x, mut y) = pair(&c, &s).await;
    assert_eq!(x.tos().unwrap(), 0);
    let toses = Arc::new(Mutex::new(Vec::new()));
    c.set_tracer(Box::new(HeaderByte(1, toses.clone())));
    x.set_tos(0xb9).unwrap();
    assert_eq!(x.tos().unwrap(), 0xb8);
    assert_eq!(x.set_tos(256).unwrap_err().kind(), ErrorKind::InvalidInput);
    let mut x = x;
    x.write_all(b"tos").await.unwrap();
    let mut got = [0u8; 3];
    y.read_exact(&mut got).await.unwrap();
    let seen = toses.lock().unwrap().clone();
    assert!(!seen.is_empty() && seen.iter().all(|&t| t == 0xb8), "{seen:?}");
}

#[tokio::test]
async fn options_per_stream_nodelay_ttl_and_linger() {
    let (c, s) = stacks();
    let (x, mut y) = pair(&c, &s).await;
    assert!(!x.nodelay().unwrap());
    x.set_nodelay(true).unwrap();
    assert!(x.nodelay().unwrap());
    assert_eq!(x.ttl().unwrap(), 64);
    let ttls = Arc::new(Mutex::new(Vec::new()));
    c.set_tracer(Box::new(HeaderByte(8, ttls.clone())));
    x.set_ttl(9).unwrap();
    assert_eq!(x.ttl().unwrap(), 9);
    assert_eq!(x.set_ttl(300).unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(x.set_ttl(0).unwrap_err().kind(), ErrorKind::InvalidInput);
    let mut x = x;
    x.write_all(b"ttl").await.unwrap();
    let mut got = [0u8; 3];
    y.read_exact(&mut got).await.unwrap();
    assert!(ttls.lock().unwrap().iter().all(|&t| t == 9), "{:?}", ttls.lock().unwrap());
    // SO_LINGER 0: dropping resets, the peer reads ECONNRESET.
    x.set_linger(Some(Duration::ZERO)).unwrap();
    assert_eq!(x.linger().unwrap(), Some(Duration::ZERO));
    drop(x);
    let e = tokio::time::timeout(Duration::from_secs(2), y.read(&mut got)).await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn split_halves_keep_timeouts_and_reunite() {
    let (c, s) = stacks();
    let (mut x, y) = pair(&c, &s).await;
    x.set_read_timeout(Some(Duration::from_millis(50)));
    let (mut r, mut w) = x.into_split();
    assert!(format!("{r:?}").contains("10.0.0.2"), "{r:?}");
    assert_eq!(r.peer_addr().unwrap(), w.peer_addr().unwrap());
    let mut buf = [0u8; 4];
    let e = r.read(&mut buf).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "the read timeout came along");
    w.write_all(b"ping").await.unwrap();
    w.writable().await.unwrap();
    let (y2, _keep) = pair(&c, &s).await;
    let (r2, w2) = y2.into_split();
    let err = r.reunite(w2).unwrap_err();
    let (r, _w2) = (err.0, err.1);
    let x = r.reunite(w).expect("halves of one stream");
    let _ = r2;
    let mut y = y;
    y.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    // The reunited stream is whole: writing still works (no FIN was sent).
    let mut x = x;
    x.write_all(b"pong").await.unwrap();
    y.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"pong");
}

#[tokio::test]
async fn tcp_socket_options_are_per_socket_and_inherited_by_accepted_streams() {
    let (c, s) = stacks();
    let ls = TcpSocket::new_v4(&s).unwrap();
    ls.set_nodelay(true).unwrap();
    ls.set_reuseaddr(true).unwrap();
    assert!(ls.reuseaddr().unwrap());
    ls.bind("10.0.0.2:0".parse().unwrap()).unwrap();
    let addr = ls.local_addr().unwrap();
    assert_ne!(addr.port(), 0);
    // Its port is reserved: another socket cannot bind it.
    let other = TcpSocket::new_v4(&s).unwrap();
    assert_eq!(other.bind(addr).unwrap_err().kind(), ErrorKind::AddrInUse);
    assert_eq!(TcpSocket::new_v6(&s).unwrap().bind(addr).unwrap_err().kind(), ErrorKind::InvalidInput);
    let l = ls.listen(16).unwrap();
    assert_eq!(l.local_addr().unwrap(), addr);
    assert_eq!(l.ttl().unwrap(), 64);
    l.set_ttl(33).unwrap();
    assert_eq!(l.ttl().unwrap(), 33);
    assert_eq!(l.set_ttl(0).unwrap_err().kind(), ErrorKind::InvalidInput);
    let cs = TcpSocket::new_v4(&c).unwrap();
    cs.set_recv_buffer_size(60_000).unwrap();
    cs.set_send_buffer_size(10_000).unwrap();
    assert_eq!((cs.recv_buffer_size().unwrap(), cs.send_buffer_size().unwrap()), (60_000, 10_000));
    cs.set_keepalive(true).unwrap();
    let x = cs.connect(addr).await.unwrap();
    let (y, _) = l.accept().await.unwrap();
    assert!(y.nodelay().unwrap(), "accepted streams inherit the listener's options");
    assert_eq!(y.ttl().unwrap(), 33, "and options set on it after listen");
    assert!(!x.nodelay().unwrap(), "the stack default stays for other sockets");
    assert_eq!(x.info().unwrap().rcv_wscale, 0, "a 60,000-byte buffer needs no window scale");
    assert_eq!(y.info().unwrap().rcv_wscale, 8, "the other side's default buffer");
    // A small send buffer makes writers wait early.
    let mut n = 0;
    while let Ok(k) = x.try_write(&[0u8; 4096]) {
        n += k;
    }
    assert!(n <= 10_000, "{n} bytes taken by a 10,000-byte send buffer");
}

#[tokio::test]
async fn the_backlog_is_honoured_and_overflows_are_counted() {
    let (c, s) = stacks();
    let ls = TcpSocket::new_v4(&s).unwrap();
    ls.bind("10.0.0.2:80".parse().unwrap()).unwrap();
    let l = ls.listen(1).unwrap();
    // Nobody accepts: two fit (Linux's backlog + 1); the other handshakes
    // are dropped when they would complete, and counted.
    let mut tasks = Vec::new();
    for i in 0..4u8 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut x = TcpStream::connect(&c, "10.0.0.2:80").await?;
            // A first request, as a client sends: retransmitted until taken.
            x.write_all(&[i]).await?;
            Ok::<_, std::io::Error>(x)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = s.stats();
    assert!(stats.listen_overflows > 0, "{stats:?}");
    // Accepting makes room; every client's request arrives.
    let mut got = Vec::new();
    for _ in 0..4 {
        let (mut y, _) = tokio::time::timeout(Duration::from_secs(10), l.accept()).await.unwrap().unwrap();
        let mut b = [0u8; 1];
        y.read_exact(&mut b).await.unwrap();
        got.push(b[0]);
    }
    got.sort();
    assert_eq!(got, [0, 1, 2, 3]);
    for t in tasks {
        t.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_connects_each_get_their_answer() {
    let (c, s) = stacks();
    // tokio's default backlog (1024): the SYN queue takes them all, no cookies needed.
    let l = TcpListener::bind(&s, "10.0.0.2:80").await.unwrap();
    let server = tokio::spawn(async move {
        for _ in 0..1000 {
            let (mut y, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                let mut b = [0u8; 4];
                y.read_exact(&mut b).await.unwrap();
                y.write_all(&b).await.unwrap();
            });
        }
    });
    let start = std::time::Instant::now();
    let clients: Vec<_> = (0..1000u32)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                let mut x = TcpStream::connect(&c, "10.0.0.2:80").await.unwrap();
                x.write_all(&i.to_be_bytes()).await.unwrap();
                let mut b = [0u8; 4];
                x.read_exact(&mut b).await.unwrap();
                assert_eq!(u32::from_be_bytes(b), i);
            })
        })
        .collect();
    for t in clients {
        t.await.unwrap();
    }
    server.await.unwrap();
    let stats = s.stats();
    println!("1,000 concurrent connects answered in {:?}; {stats:?}", start.elapsed());
    assert_eq!((stats.syns_dropped, stats.listen_overflows, stats.syn_cookies_sent), (0, 0, 0), "{stats:?}");
}
