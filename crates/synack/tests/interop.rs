//! synack against the Linux kernel's TCP, over a TUN device whose kernel side
//! lives in a network namespace each test creates. Contents are checked with
//! SHA-256. Needs root (see netenv).

use sha2::{Digest, Sha256};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;
use synack::{CongestionControl, Faults, FaultyDevice, StackConfig, SynCookies, TcpListener, TcpStream};
use synack_testnet as netenv;
use synack_testnet::{NetEnv, KERNEL_IP, SYNACK_IP};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MB: usize = 1 << 20;

fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

/// Deterministic data: byte i is (i * 7 + i / 251) mod 256; Python makes the same.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 7 + i / 251) % 256) as u8).collect()
}

const PY_PATTERN: &str = "def pattern(n):\n    return bytes(((i * 7 + i // 251) % 256) for i in range(n))\n";

/// Python for a kernel client of synack's echo service on `host`: sends
/// `size` bytes of the pattern while it reads the echo, then prints the
/// byte count and SHA-256 of what came back (see `echoed`).
fn python_echo_client(host: &str, size: usize) -> String {
    format!(
        "{PY_PATTERN}import socket, hashlib, threading\n\
data = pattern({size})\n\
s = socket.create_connection(('{host}', 7), timeout=30); s.settimeout(None)\n\
def send():\n    s.sendall(data); s.shutdown(socket.SHUT_WR)\n\
t = threading.Thread(target=send); t.start()\n\
h = hashlib.sha256(); total = 0\n\
while True:\n    b = s.recv(1 << 20)\n    if not b: break\n    h.update(b); total += len(b)\n\
t.join(); print(total, h.hexdigest())\n"
    )
}

/// What `python_echo_client` prints when every byte came back intact.
fn echoed(size: usize) -> String {
    format!("{size} {}", sha(&pattern(size)))
}

fn sha(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// A namespace and a synack stack on its TUN device, or None when the
/// environment cannot run the test (see synack-testnet).
fn setup() -> Option<(NetEnv, synack::Stack)> {
    setup_with(true)
}

/// [`setup`] with the TUN device's offload on or off.
fn setup_with(offload: bool) -> Option<(NetEnv, synack::Stack)> {
    if !netenv::require() {
        return None;
    }
    let (env, dev) = NetEnv::new_with(offload);
    Some((env, NetEnv::stack(dev)))
}

/// Serves echo on synack port 7 until the stack is dropped.
async fn echo_server(stack: &synack::Stack) {
    let l = TcpListener::bind(stack, addr(SYNACK_IP, 7)).await.unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else { return };
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_pings_the_stack() {
    let Some((env, stack)) = setup() else { return };
    let env2 = std::sync::Arc::new(env);
    let e = env2.clone();
    let out = tokio::task::spawn_blocking(move || e.exec(&["ping", "-c", "3", "-i", "0.2", "-W", "2", SYNACK_IP]))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(stack.stats().pings_answered, 3);
}

/// A kernel client echoes 100 MB through synack; with offload the kernel's
/// TSO segments arrive whole and synack answers with super-segments.
async fn echo_100_mb(offload: bool) {
    let Some((env, stack)) = setup_with(offload) else { return };
    echo_server(&stack).await;
    let code = python_echo_client(SYNACK_IP, 100 * MB);
    let out = tokio::task::spawn_blocking(move || env.python(&code, Duration::from_secs(120))).await.unwrap();
    assert_eq!(out.trim(), echoed(100 * MB));
    let st = stack.stats();
    if offload {
        assert!(st.super_segments_out > 100 && st.coalesced_in > 100, "offload in use: {st:?}");
    } else {
        assert_eq!((st.super_segments_out, st.coalesced_in), (0, 0), "{st:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_client_echoes_100_mb_through_synack() {
    echo_100_mb(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_client_echoes_100_mb_through_synack_without_offload() {
    echo_100_mb(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synack_client_downloads_and_uploads_100_mb_to_kernel_servers() {
    let Some((env, stack)) = setup() else { return };
    // A kernel server: sends 100 MB, then reads what comes back and answers with its hash.
    let code = format!(
        "{PY_PATTERN}import socket, hashlib\n\
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
l.bind(('{KERNEL_IP}', 9000)); l.listen(1); l.settimeout(60)\n\
c, _ = l.accept(); c.settimeout(60)\n\
c.sendall(pattern({n})); c.shutdown(socket.SHUT_WR)\n\
h = hashlib.sha256(); total = 0\n\
while True:\n    b = c.recv(1 << 20)\n    if not b: break\n    h.update(b); total += len(b)\n\
print(total, h.hexdigest())\n",
        n = 100 * MB
    );
    let server = env.spawn_python(&code);
    let mut s = connect_retrying(&stack, addr(KERNEL_IP, 9000)).await;
    let upload = pattern(100 * MB);
    let (mut r, mut w) = s.split();
    let (down, ()) = tokio::join!(
        async {
            let mut got = Vec::with_capacity(100 * MB);
            r.read_to_end(&mut got).await.unwrap();
            got
        },
        async {
            w.write_all(&upload).await.unwrap();
            w.shutdown().await.unwrap();
        }
    );
    assert_eq!(sha(&down), sha(&pattern(100 * MB)), "download intact");
    let out = tokio::task::spawn_blocking(move || server.wait(Duration::from_secs(60))).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{} {}", 100 * MB, sha(&upload)), "upload intact");
}

/// Python for a kernel server on KERNEL_IP:port that accepts one
/// connection as `c` (with `socket` and `struct` imported), then runs `body`.
fn kernel_server(port: u16, body: &str) -> String {
    format!(
        "import socket, struct\nl = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
l.bind(('{KERNEL_IP}', {port})); l.listen(1); l.settimeout(20)\nc, _ = l.accept()\n{body}"
    )
}

/// A kernel server may need a moment to start listening.
async fn connect_retrying(stack: &synack::Stack, to: SocketAddr) -> TcpStream {
    for _ in 0..100 {
        match TcpStream::connect(stack, to).await {
            Ok(s) => return s,
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("connect: {e}"),
        }
    }
    panic!("the kernel server never listened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_both_ways_with_the_kernel() {
    let Some((env, stack)) = setup() else { return };
    // Kernel client: sends, shuts down its write side, keeps reading.
    let l = TcpListener::bind(&stack, addr(SYNACK_IP, 80)).await.unwrap();
    let client = env.spawn_python(&format!(
        "import socket\ns = socket.create_connection(('{SYNACK_IP}', 80), timeout=20)\n\
s.sendall(b'question'); s.shutdown(socket.SHUT_WR)\n\
got = b''\nwhile True:\n    b = s.recv(65536)\n    if not b: break\n    got += b\nprint(got.decode())\n"
    ));
    let (mut s, _) = l.accept().await.unwrap();
    let mut q = Vec::new();
    s.read_to_end(&mut q).await.unwrap();
    assert_eq!(q, b"question");
    s.write_all(b"answer after your FIN").await.unwrap();
    s.shutdown().await.unwrap();
    let out = tokio::task::spawn_blocking(move || client.wait(Duration::from_secs(20))).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "answer after your FIN");

    // The reverse: synack shuts down first, the kernel keeps sending.
    let server = env.spawn_python(&kernel_server(
        9001,
        "got = b''\nwhile True:\n    b = c.recv(65536)\n    if not b: break\n    got += b\n\
c.sendall(b'reply to ' + got); c.close()\n",
    ));
    let mut c = connect_retrying(&stack, addr(KERNEL_IP, 9001)).await;
    c.write_all(b"synack").await.unwrap();
    c.shutdown().await.unwrap();
    let mut reply = Vec::new();
    c.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply, b"reply to synack");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_bidirectional_carries_each_fin_between_synack_and_kernel() {
    let Some((env, stack)) = setup() else { return };
    // Kernel backend: reads to EOF, answers, closes.
    let backend = env.spawn_python(&kernel_server(
        9002,
        "got = b''\nwhile True:\n    b = c.recv(65536)\n    if not b: break\n    got += b\n\
c.sendall(got.upper()); c.shutdown(socket.SHUT_WR)\nprint('backend saw EOF')\n",
    ));
    // A proxy on synack: synack stream <-> kernel stream.
    let front = TcpListener::bind(&stack, addr(SYNACK_IP, 8080)).await.unwrap();
    let st = stack.clone();
    tokio::spawn(async move {
        let (mut inbound, _) = front.accept().await.unwrap();
        let mut outbound = connect_retrying(&st, addr(KERNEL_IP, 9002)).await;
        tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await.unwrap();
    });
    let client = env.spawn_python(&format!(
        "import socket\ns = socket.create_connection(('{SYNACK_IP}', 8080), timeout=20)\n\
s.sendall(b'through the proxy'); s.shutdown(socket.SHUT_WR)\n\
got = b''\nwhile True:\n    b = s.recv(65536)\n    if not b: break\n    got += b\nprint(got.decode())\n"
    ));
    let (c, b) = tokio::task::spawn_blocking(move || {
        (client.wait(Duration::from_secs(20)), backend.wait(Duration::from_secs(20)))
    })
    .await
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&b.stdout).trim(), "backend saw EOF", "the client's FIN crossed the proxy");
    assert_eq!(String::from_utf8_lossy(&c.stdout).trim(), "THROUGH THE PROXY", "the backend's FIN crossed back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_both_ways() {
    let Some((env, stack)) = setup() else { return };
    let e = TcpStream::connect(&stack, addr(KERNEL_IP, 9)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    let out = tokio::task::spawn_blocking(move || {
        env.python(
            &format!(
                "import socket\ntry:\n    socket.create_connection(('{SYNACK_IP}', 9), timeout=5)\n    print('connected')\n\
except ConnectionRefusedError:\n    print('refused')\n"
            ),
            Duration::from_secs(20),
        )
    })
    .await
    .unwrap();
    assert_eq!(out.trim(), "refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mid_transfer_is_connection_reset_on_both_sides() {
    let Some((env, stack)) = setup() else { return };
    let l = TcpListener::bind(&stack, addr(SYNACK_IP, 80)).await.unwrap();
    // The kernel client streams data; synack resets after 1 MB.
    let client = env.spawn_python(&format!(
        "import socket, time\ns = socket.create_connection(('{SYNACK_IP}', 80), timeout=20)\n\
try:\n    while True:\n        s.sendall(b'x' * 65536)\nexcept ConnectionResetError:\n    print('reset')\n"
    ));
    let (mut s, _) = l.accept().await.unwrap();
    let mut buf = vec![0u8; MB];
    s.read_exact(&mut buf).await.unwrap();
    s.abort().unwrap();
    let out = tokio::task::spawn_blocking(move || client.wait(Duration::from_secs(20))).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "reset");

    // The kernel resets a synack client mid-transfer (SO_LINGER 0 then close).
    let _server = env.spawn_python(&kernel_server(9003, "c.sendall(b'y' * 100000)\nc.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); c.close()\n"));
    let mut c = connect_retrying(&stack, addr(KERNEL_IP, 9003)).await;
    let e = loop {
        match c.read(&mut buf).await {
            Ok(0) => panic!("end of stream instead of a reset"),
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_kernel_connections_each_move_one_mb() {
    let Some((env, stack)) = setup() else { return };
    kernel_clients_echo(env, &stack, 200, MB, Duration::from_secs(120)).await;
}

/// Serves echo on `stack`, and has `n` concurrent kernel connections each
/// echo `size` bytes through it, all open at once; asserts every one intact.
async fn kernel_clients_echo(env: NetEnv, stack: &synack::Stack, n: usize, size: usize, limit: Duration) {
    echo_server(stack).await;
    let out = tokio::task::spawn_blocking(move || env.python(&concurrent_echo_client(n, size), limit)).await.unwrap();
    assert_eq!(out.trim(), format!("open {n}\n{n} ok"));
}

/// A Python asyncio client: `n` concurrent connections, each echoing `size` bytes.
fn concurrent_echo_client(n: usize, size: usize) -> String {
    let body = r#"
import asyncio, hashlib, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
data = pattern(SIZE)
want = hashlib.sha256(data).hexdigest()

async def one(ready, go):
    r, w = await asyncio.open_connection('ADDR', 7, limit=1 << 20)
    ready.append(1)
    await go.wait()
    w.write(data)
    await w.drain()
    w.write_eof()
    got = b''
    while True:
        more = await r.read(1 << 20)
        if not more:
            break
        got += more
    w.close()
    return hashlib.sha256(got).hexdigest() == want

async def main():
    ready = []
    go = asyncio.Event()
    tasks = [asyncio.create_task(one(ready, go)) for i in range(CONNS)]
    # Every connection is open at once before any data moves.
    while len(ready) < CONNS and not any(t.done() for t in tasks):
        await asyncio.sleep(0.05)
    print('open', len(ready))
    go.set()
    res = await asyncio.gather(*tasks)
    print(sum(res), 'ok' if all(res) else 'BAD')

asyncio.run(main())
"#;
    format!(
        "{PY_PATTERN}{}",
        body.replace("SIZE", &size.to_string()).replace("ADDR", SYNACK_IP).replace("CONNS", &n.to_string())
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_kernel_connections_held_open_at_once() {
    let Some((env, stack)) = setup() else { return };
    kernel_clients_echo(env, &stack, 5000, 64 * 1024, Duration::from_secs(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_clients_connect_through_syn_cookies() {
    if !netenv::require() {
        return;
    }
    let (env, dev) = NetEnv::new();
    let mut cfg = StackConfig::new(vec![SYNACK_IP.parse().unwrap()]);
    cfg.tcp.syn_cookies = SynCookies::Always;
    let stack = synack::Stack::new(dev, cfg).unwrap();
    kernel_clients_echo(env, &stack, 100, 256 * 1024, Duration::from_secs(120)).await;
    let stats = stack.stats();
    assert_eq!(stats.syn_cookies_accepted, 100, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cubic_stack_echoes_through_loss_with_the_kernel() {
    if !netenv::require() {
        return;
    }
    let (env, dev) = NetEnv::new();
    let faults = Faults { loss: 0.01, delay: Duration::from_millis(5), ..Faults::default() };
    let mut cfg = StackConfig::new(vec![SYNACK_IP.parse().unwrap()]);
    cfg.tcp.congestion_control = CongestionControl::Cubic;
    let stack = synack::Stack::new(FaultyDevice::new(dev, faults, faults, 7), cfg).unwrap();
    kernel_clients_echo(env, &stack, 4, 4 * 1024 * 1024, Duration::from_secs(180)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_complete_with_loss_reordering_and_delay() {
    if !netenv::require() {
        return;
    }
    let (env, dev) = NetEnv::new();
    // 1% loss, reordering and 20 ms delay, each direction, in synack's device layer.
    let faults = Faults { loss: 0.01, reorder: 0.01, delay: Duration::from_millis(10), ..Faults::default() };
    let stack = NetEnv::stack(FaultyDevice::new(dev, faults, faults, 42));
    echo_server(&stack).await;
    // And nftables drops 0.5% of what the kernel receives, independently.
    let nft = env.exec(&[
        "sh",
        "-c",
        "nft add table inet synack && nft add chain inet synack in '{ type filter hook input priority 0; }' && \
         nft add rule inet synack in numgen random mod 1000 lt 5 drop",
    ]);
    let nft_on = nft.status.success();
    if !nft_on {
        println!("nft unavailable ({}); loss from the device layer only", String::from_utf8_lossy(&nft.stderr).trim());
    }
    let size = 100 * MB;
    let code = python_echo_client(SYNACK_IP, size);
    let out = tokio::task::spawn_blocking(move || env.python(&code, Duration::from_secs(1200))).await.unwrap();
    assert_eq!(out.trim(), echoed(size));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attaches_to_an_existing_persistent_tun_device() {
    if !netenv::require() {
        return;
    }
    let name = format!("skp{}", std::process::id() % 100_000);
    let made = std::process::Command::new("ip").args(["tuntap", "add", "dev", &name, "mode", "tun"]).status().unwrap();
    assert!(made.success());
    let dev = synack::TunDevice::open(&name, 1500).expect("attach to the persistent device");
    let env = NetEnv::adopt(&name);
    let stack = NetEnv::stack(dev);
    let out = tokio::task::spawn_blocking(move || {
        let o = env.exec(&["ping", "-c", "1", "-W", "2", SYNACK_IP]);
        let _ = env.exec(&["ip", "tuntap", "del", "dev", &env.tun, "mode", "tun"]);
        o
    })
    .await
    .unwrap();
    let _ = std::process::Command::new("ip").args(["tuntap", "del", "dev", &name, "mode", "tun"]).output();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(stack.stats().pings_answered, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_with_the_kernel_ping_and_echo() {
    ipv6_ping_and_echo(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_with_the_kernel_ping_and_echo_without_offload() {
    ipv6_ping_and_echo(false).await;
}

/// Ping and a 10 MB echo over IPv6, with the TUN device's offload on or off.
async fn ipv6_ping_and_echo(offload: bool) {
    if !netenv::require() {
        return;
    }
    let (env, dev) = NetEnv::new_with(offload);
    env.add_ipv6();
    let v6 = synack_testnet::SYNACK_IP6;
    let stack =
        synack::Stack::new(dev, synack::StackConfig::new(vec![SYNACK_IP.parse().unwrap(), v6.parse().unwrap()]))
            .unwrap();
    let l = TcpListener::bind(&stack, addr(v6, 7)).await.unwrap();
    tokio::spawn(async move {
        let (mut s, peer) = l.accept().await.unwrap();
        assert!(peer.is_ipv6());
        let (mut r, mut w) = s.split();
        tokio::io::copy(&mut r, &mut w).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let code = python_echo_client(v6, 10 * MB);
    let (ping, out) = tokio::task::spawn_blocking(move || {
        let ping = env.exec(&["ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", v6]);
        (ping, env.python(&code, Duration::from_secs(60)))
    })
    .await
    .unwrap();
    assert!(ping.status.success(), "{}", String::from_utf8_lossy(&ping.stdout));
    assert_eq!(out.trim(), echoed(10 * MB));
    assert_eq!(stack.stats().super_segments_out > 0, offload, "{:?}", stack.stats());
}
