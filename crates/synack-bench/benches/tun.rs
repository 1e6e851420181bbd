//! Throughput over TUN against the Linux kernel, in one run: synack in both
//! directions, smoltcp 0.14 in both directions, and kernel-to-kernel over a
//! veth pair for reference. Each case moves 256 MiB over one connection; the
//! kernel side is Python in a network namespace (large sendall/recv_into
//! calls, so the kernel's TCP, not Python, does the work). Needs root:
//! `cargo bench -p synack-bench --bench tun`.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};
use synack::{Stack, StackConfig, TcpListener, TcpStream};
use synack_testnet::{NetEnv, KERNEL_IP, SYNACK_IP};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BYTES: usize = 256 << 20;

/// Python that sends BYTES to ip:port and waits for the receiver to close.
fn py_send(ip: &str, port: u16) -> String {
    format!(
        "import socket, time\ns = socket.create_connection(('{ip}', {port}), timeout=60)\nbuf = b'x' * (1 << 20)\nn = {BYTES}\nt = time.time()\n\
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
    BYTES as f64 * 8.0 / secs / 1e9
}

fn py(env: &NetEnv, code: &str) -> f64 {
    let out = env.exec_ok(&["timeout", "120", "/usr/bin/python3", "-c", code]);
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("seconds")
}

async fn synack_case(offload: bool) -> (f64, f64) {
    let (env, dev) = NetEnv::new_with(offload);
    let stack = Stack::new(dev, StackConfig::new(vec![SYNACK_IP.parse().unwrap()]));
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
    // synack -> kernel: a Python sink.
    let _sink = env.spawn(&["/usr/bin/python3", "-c", &py_sink(5002)]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut s = TcpStream::connect(&stack, SocketAddr::new(KERNEL_IP.parse().unwrap(), 5002)).await.unwrap();
    let buf = vec![b'x'; 1 << 20];
    let t = Instant::now();
    let mut left = BYTES;
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
            while sent < BYTES {
                match s.send_slice(&data[..(BYTES - sent).min(data.len())]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sent += n,
                }
            }
            if sent == BYTES && !closed {
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
    let a = NetEnv::bare();
    let b = NetEnv::bare();
    let (va, vb) = (format!("va{}", std::process::id() % 100_000), format!("vb{}", std::process::id() % 100_000));
    let run = |args: &[&str]| assert!(Command::new(args[0]).args(&args[1..]).status().unwrap().success(), "{args:?}");
    run(&["ip", "link", "add", &va, "netns", &a.ns, "type", "veth", "peer", "name", &vb, "netns", &b.ns]);
    a.exec_ok(&["ip", "addr", "add", "10.9.0.1/24", "dev", &va]);
    b.exec_ok(&["ip", "addr", "add", "10.9.0.2/24", "dev", &vb]);
    a.exec_ok(&["ip", "link", "set", &va, "up"]);
    b.exec_ok(&["ip", "link", "set", &vb, "up"]);
    let _sink = b.spawn(&["/usr/bin/python3", "-c", &py_sink(5003)]);
    std::thread::sleep(Duration::from_millis(300));
    py(&a, &py_send("10.9.0.2", 5003))
}

fn main() {
    if let Err(why) = synack_testnet::available() {
        println!("skipped: {why}");
        return;
    }
    println!("Throughput over TUN against the Linux kernel, one connection, {} MiB per case", BYTES >> 20);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (o_in, o_out) = rt.block_on(synack_case(true));
    let (p_in, p_out) = rt.block_on(synack_case(false));
    let (m_in, m_out) = smoltcp_case();
    let veth = veth_case();
    println!("kernel -> kernel over veth: {:6.2} Gbit/s", gbit(veth));
    for (dir, o, p, m) in [("kernel -> stack", o_in, p_in, m_in), ("stack -> kernel", o_out, p_out, m_out)] {
        println!(
            "{dir}:  synack offload {:6.2} Gbit/s ({:.2}x kernel, {:.2}x smoltcp)   synack plain {:6.2}   smoltcp {:6.2}",
            gbit(o),
            veth / o,
            m / o,
            gbit(p),
            gbit(m)
        );
    }
}
