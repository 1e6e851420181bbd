//! Throughput over TUN against the Linux kernel, in one run: synack in both
//! directions with and without offload, smoltcp 0.14 in both directions,
//! and kernel-to-kernel over a veth pair for reference. Each case moves 1
//! GiB (`SYNACK_TUN_MB`) over one connection; the kernel side is Python in a network
//! namespace (large sendall/recv_into calls, so the kernel's TCP, not
//! Python, does the work). Then HTTP: `curl` downloading 1 GiB and
//! ApacheBench (1 KiB file, 32 clients, with and without keep-alive)
//! against synack's `serve http` file server and against nginx on the
//! kernel over veth; skipped with a message when `ab` or `nginx` is
//! missing. Needs root: `cargo bench -p synack-bench --bench tun`
//! (`-- net` or `-- http` runs one half).

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};
use synack::{Stack, StackConfig, TcpListener, TcpStream};
use synack_testnet::{NetEnv, KERNEL_IP, SYNACK_IP};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes per case: `SYNACK_TUN_MB` MiB (default 1024).
static BYTES_CELL: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

fn bytes() -> usize {
    *BYTES_CELL
        .get_or_init(|| std::env::var("SYNACK_TUN_MB").ok().and_then(|v| v.parse::<usize>().ok()).unwrap_or(1024) << 20)
}

/// Python that sends BYTES to ip:port and waits for the receiver to close.
fn py_send(ip: &str, port: u16) -> String {
    let bytes = bytes();
    format!(
        "import socket, time\ns = socket.create_connection(('{ip}', {port}), timeout=60)\nbuf = b'x' * (1 << 20)\nn = {bytes}\nt = time.time()\n\
while n > 0:\n    k = min(n, len(buf)); s.sendall(buf[:k]); n -= k\ns.shutdown(socket.SHUT_WR)\ns.recv(1)\nprint(time.time() - t)\n"
    )
}

/// Python that accepts on port, reads to EOF, and closes.
fn py_sink(port: u16) -> String {
    format!(
        "import socket\nl = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\nl.bind(('0.0.0.0', {port})); l.listen(1)\n\
c, _ = l.accept(); b = bytearray(1 << 20)\nwhile c.recv_into(b): pass\nc.close()\n"
    )
}

fn gbit(secs: f64) -> f64 {
    bytes() as f64 * 8.0 / secs / 1e9
}

fn py(env: &NetEnv, code: &str) -> f64 {
    let out = env.exec_ok(&["timeout", "120", "/usr/bin/python3", "-c", code]);
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("seconds")
}

async fn synack_case(offload: bool) -> (f64, f64) {
    let (env, dev) = NetEnv::new_with(offload);
    let stack = Stack::new(dev, StackConfig::new(vec![SYNACK_IP.parse().unwrap()])).unwrap();
    // Kernel -> synack: a discard server on synack.
    let l = TcpListener::bind(&stack, SocketAddr::new(SYNACK_IP.parse().unwrap(), 5001)).await.unwrap();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = vec![0u8; 1 << 20];
        while s.read(&mut buf).await.unwrap() > 0 {}
        s.shutdown().await.unwrap();
    });
    let code = py_send(SYNACK_IP, 5001);
    let env = std::sync::Arc::new(env);
    let e = env.clone();
    let k2s = tokio::task::spawn_blocking(move || py(&e, &code)).await.unwrap();
    let direct = stack.stats().bytes_in_direct as f64 / bytes() as f64;
    println!(
        "  (kernel -> stack, offload {offload}: {:.0} % of the bytes went straight to the socket's queue)",
        direct * 100.0
    );
    // synack -> kernel: a Python sink.
    let _sink = env.spawn(&["/usr/bin/python3", "-c", &py_sink(5002)]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut s = TcpStream::connect(&stack, SocketAddr::new(KERNEL_IP.parse().unwrap(), 5002)).await.unwrap();
    let buf = vec![b'x'; 1 << 20];
    let t = Instant::now();
    let mut left = bytes();
    while left > 0 {
        let k = left.min(buf.len());
        s.write_all(&buf[..k]).await.unwrap();
        left -= k;
    }
    s.shutdown().await.unwrap();
    let mut end = [0u8; 1];
    let _ = s.read(&mut end).await;
    (k2s, t.elapsed().as_secs_f64())
}

fn smoltcp_case() -> (f64, f64) {
    use smoltcp::iface::{Config, Interface, SocketSet};
    use smoltcp::phy::{wait, Medium, TunTapInterface};
    use smoltcp::socket::tcp;
    use smoltcp::time::Instant as SInstant;
    use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
    use std::os::fd::AsRawFd;

    let name = format!("smol{}", std::process::id() % 100_000);
    let mut dev = TunTapInterface::new(&name, Medium::Ip).expect("smoltcp TUN");
    let env = NetEnv::adopt(&name);
    let start = Instant::now();
    let now = || SInstant::from_micros(start.elapsed().as_micros() as i64);
    let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut dev, now());
    iface.update_ip_addrs(|a| a.push(IpCidr::new(IpAddress::v4(10, 7, 0, 2), 24)).unwrap());
    iface.routes_mut().add_default_ipv4_route(smoltcp::wire::Ipv4Address::new(10, 7, 0, 1)).unwrap();
    let sock = || tcp::Socket::new(tcp::SocketBuffer::new(vec![0; 4 << 20]), tcp::SocketBuffer::new(vec![0; 4 << 20]));
    let mut sockets = SocketSet::new(vec![]);
    let h = sockets.add(sock());
    sockets.get_mut::<tcp::Socket>(h).listen(5001).unwrap();
    // Kernel -> smoltcp.
    let code = py_send(SYNACK_IP, 5001);
    let env = std::sync::Arc::new(env);
    let e = env.clone();
    let sender = std::thread::spawn(move || py(&e, &code));
    let mut buf = vec![0u8; 1 << 20];
    loop {
        iface.poll(now(), &mut dev, &mut sockets);
        let s = sockets.get_mut::<tcp::Socket>(h);
        while let Ok(n) = s.recv_slice(&mut buf) {
            if n == 0 {
                break;
            }
        }
        if s.state() == tcp::State::CloseWait {
            s.close();
        }
        if sender.is_finished() {
            break;
        }
        let d = iface
            .poll_delay(now(), &sockets)
            .map(|d| Duration::from_micros(d.total_micros()).min(Duration::from_millis(5)));
        wait(dev.as_raw_fd(), d.map(|d| smoltcp::time::Duration::from_micros(d.as_micros() as u64))).ok();
    }
    let k2s = sender.join().unwrap();
    // smoltcp -> kernel.
    let _sink = env.spawn(&["/usr/bin/python3", "-c", &py_sink(5002)]);
    std::thread::sleep(Duration::from_millis(300));
    let c = sockets.add(sock());
    sockets
        .get_mut::<tcp::Socket>(c)
        .connect(iface.context(), (IpAddress::v4(10, 7, 0, 1), 5002), (IpAddress::v4(10, 7, 0, 2), 40001))
        .unwrap();
    let data = vec![b'x'; 1 << 20];
    let (mut sent, mut closed) = (0usize, false);
    let mut t0 = None;
    loop {
        iface.poll(now(), &mut dev, &mut sockets);
        let s = sockets.get_mut::<tcp::Socket>(c);
        if s.may_send() {
            t0.get_or_insert_with(Instant::now);
            while sent < bytes() {
                match s.send_slice(&data[..(bytes() - sent).min(data.len())]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sent += n,
                }
            }
            if sent == bytes() && !closed {
                s.close();
                closed = true;
            }
        }
        if closed && matches!(s.state(), tcp::State::TimeWait | tcp::State::Closed) {
            break;
        }
        let d = iface
            .poll_delay(now(), &sockets)
            .map(|d| Duration::from_micros(d.total_micros()).min(Duration::from_millis(5)));
        wait(dev.as_raw_fd(), d.map(|d| smoltcp::time::Duration::from_micros(d.as_micros() as u64))).ok();
    }
    (k2s, t0.expect("connected").elapsed().as_secs_f64())
}

/// Kernel to kernel over a veth pair between two namespaces.
fn veth_case() -> f64 {
    let (a, b) = veth_pair();
    let _sink = b.spawn(&["/usr/bin/python3", "-c", &py_sink(5003)]);
    std::thread::sleep(Duration::from_millis(300));
    py(&a, &py_send("10.9.0.2", 5003))
}

/// A directory with the files the HTTP cases serve: 1k.bin and a sparse 1g.bin.
fn www() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("synack-bench-www-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("1k.bin"), vec![b'a'; 1024]).unwrap();
    std::fs::File::create(d.join("1g.bin")).unwrap().set_len(1 << 30).unwrap();
    // Read it once: the page cache then holds it for every server alike.
    let _ = Command::new("cat").arg(d.join("1g.bin")).stdout(std::process::Stdio::null()).status();
    let _ = Command::new("chmod").args(["-R", "a+rX", d.to_str().unwrap()]).status();
    d
}

/// `curl` downloads 1 GiB from `host`; returns Gbit/s.
fn curl_gigabyte(env: &NetEnv, host: &str) -> f64 {
    let out = env.exec_ok(&[
        "curl",
        "-sSf",
        "--retry",
        "5",
        "--retry-connrefused",
        "-o",
        "/dev/null",
        "-w",
        "%{speed_download}",
        &format!("http://{host}/1g.bin"),
    ]);
    String::from_utf8_lossy(&out.stdout).trim().parse::<f64>().expect("curl speed") * 8.0 / 1e9
}

/// ApacheBench: 1 KiB requests from 32 clients; returns requests per second.
fn ab(env: &NetEnv, host: &str, keepalive: bool) -> f64 {
    let mut args = vec!["ab", "-q", "-n", "50000", "-c", "32"];
    if keepalive {
        args.push("-k");
    }
    let url = format!("http://{host}/1k.bin");
    args.push(&url);
    let out = env.exec_ok(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("Requests per second")).expect("ab's figure");
    line.split_whitespace().nth(3).and_then(|v| v.parse().ok()).expect("requests per second")
}

fn have(tool: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
}

/// HTTP figures of one server: curl Gbit/s, ab requests/s without and with keep-alive.
struct HttpFigures {
    curl: f64,
    ab_close: Option<f64>,
    ab_keepalive: Option<f64>,
}

/// synack's `serve http` file server on a TUN device.
async fn http_synack(dir: std::path::PathBuf, with_ab: bool) -> HttpFigures {
    let (env, dev) = NetEnv::new();
    let stack = Stack::new(dev, StackConfig::new(vec![SYNACK_IP.parse().unwrap()])).unwrap();
    let l = TcpListener::bind(&stack, SocketAddr::new(SYNACK_IP.parse().unwrap(), 80)).await.unwrap();
    let dir = std::sync::Arc::new(dir);
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(synack_cli::http::serve_connection(s, dir.clone()));
        }
    });
    tokio::task::spawn_blocking(move || HttpFigures {
        curl: curl_gigabyte(&env, SYNACK_IP),
        ab_close: with_ab.then(|| ab(&env, SYNACK_IP, false)),
        ab_keepalive: with_ab.then(|| ab(&env, SYNACK_IP, true)),
    })
    .await
    .unwrap()
}

/// A veth pair between two namespaces: (client side, server side).
fn veth_pair() -> (NetEnv, NetEnv) {
    let a = NetEnv::bare();
    let b = NetEnv::bare();
    let (va, vb) = (format!("va{}", std::process::id() % 100_000), format!("vb{}", std::process::id() % 100_000));
    let run = |args: &[&str]| assert!(Command::new(args[0]).args(&args[1..]).status().unwrap().success(), "{args:?}");
    run(&["ip", "link", "add", &va, "netns", &a.ns, "type", "veth", "peer", "name", &vb, "netns", &b.ns]);
    a.exec_ok(&["ip", "addr", "add", "10.9.0.1/24", "dev", &va]);
    b.exec_ok(&["ip", "addr", "add", "10.9.0.2/24", "dev", &vb]);
    a.exec_ok(&["ip", "link", "set", &va, "up"]);
    b.exec_ok(&["ip", "link", "set", &vb, "up"]);
    (a, b)
}

/// nginx on the kernel, over veth, serving the same directory.
fn http_nginx(dir: &std::path::Path) -> HttpFigures {
    let (a, b) = veth_pair();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes auto;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
events {{ worker_connections 4096; }}\n\
http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;\n\
server {{ listen 10.9.0.2:80; root {d}; }} }}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let _nginx = b.spawn(&["nginx", "-p", dir.to_str().unwrap(), "-c", conf.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(500));
    HttpFigures {
        curl: curl_gigabyte(&a, "10.9.0.2"),
        ab_close: Some(ab(&a, "10.9.0.2", false)),
        ab_keepalive: Some(ab(&a, "10.9.0.2", true)),
    }
}

fn http_cases(rt: &tokio::runtime::Runtime) {
    let dir = www();
    let with_ab = have("ab");
    if !with_ab {
        println!("ApacheBench skipped: `ab` is not installed (Debian: apache2-utils)");
    }
    let ours = rt.block_on(http_synack(dir.clone(), with_ab));
    let theirs = if have("nginx") && with_ab {
        Some(http_nginx(&dir))
    } else {
        println!("nginx skipped: `nginx` or `ab` is not installed (Debian: nginx, apache2-utils)");
        None
    };
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}x nginx", a / b),
        _ => String::new(),
    };
    let nginx = |f: fn(&HttpFigures) -> Option<f64>| theirs.as_ref().and_then(f);
    println!(
        "curl 1 GiB:         synack serve http {:6.2} Gbit/s   nginx over veth {}   {}",
        ours.curl,
        nginx(|h| Some(h.curl)).map_or("-".into(), |v| format!("{v:6.2} Gbit/s")),
        ratio(Some(ours.curl), nginx(|h| Some(h.curl)))
    );
    for (what, o, n) in [
        ("ab, new connection", ours.ab_close, nginx(|h| h.ab_close)),
        ("ab, keep-alive    ", ours.ab_keepalive, nginx(|h| h.ab_keepalive)),
    ] {
        let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:9.0} req/s"));
        println!("{what}: synack serve http {}   nginx over veth {}   {}", show(o), show(n), ratio(o, n));
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn main() {
    if let Err(why) = synack_testnet::available() {
        println!("skipped: {why}");
        return;
    }
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| f == name);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    if wanted("net") {
        net_cases(&rt);
    }
    if wanted("http") {
        http_cases(&rt);
    }
}

fn net_cases(rt: &tokio::runtime::Runtime) {
    println!("Throughput over TUN against the Linux kernel, one connection, {} MiB per case", bytes() >> 20);
    let (o_in, o_out) = rt.block_on(synack_case(true));
    // The same with driver and application on one thread (no cross-thread wake-ups).
    let one = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (c_in, c_out) = one.block_on(synack_case(true));
    let (p_in, p_out) = rt.block_on(synack_case(false));
    let (m_in, m_out) = smoltcp_case();
    let veth = veth_case();
    println!("kernel -> kernel over veth: {:6.2} Gbit/s", gbit(veth));
    println!("synack with offload on a 2-worker runtime / on a current-thread runtime, synack without offload (2 workers), smoltcp:");
    for (dir, o, c, p, m) in
        [("kernel -> stack", o_in, c_in, p_in, m_in), ("stack -> kernel", o_out, c_out, p_out, m_out)]
    {
        let best = o.min(c);
        println!(
            "{dir}:  offload {:6.2} / {:6.2} Gbit/s (best {:.2}x kernel, {:.2}x smoltcp)   plain {:6.2}   smoltcp {:6.2}",
            gbit(o),
            gbit(c),
            veth / best,
            m / best,
            gbit(p),
            gbit(m)
        );
    }
}
