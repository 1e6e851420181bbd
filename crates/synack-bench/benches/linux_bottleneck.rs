//! Linux's own TCP through the bottleneck model of `--bench bottleneck`, in
//! real time: the reference for what synack's congestion control and loss
//! recovery should reach on the same path. A sender and a receiver, each in
//! its own network namespace behind a TUN device (no offload: the kernel
//! sends MTU-sized packets); this process forwards between the two devices
//! through `synack_sim::Link`, the very model the simulator uses (a rate
//! limit with a tail-drop queue one bandwidth-delay product long, one-way
//! delay RTT/2, seeded random loss on the data direction), on a thread that
//! spins on the clock so that a packet leaves within microseconds of its
//! time. CUBIC, 4 MiB buffers (tcp_rmem/tcp_wmem), Python's sendall and
//! recv_into; the figures are the sender's (tcpi_total_retrans, TcpExt
//! TCPTimeouts).
//!
//! Needs root: `cargo bench -p synack-bench --bench linux_bottleneck`
//! (`SYNACK_BOTTLENECK_MB=N` MiB per run, default 20;
//! `SYNACK_BOTTLENECK_SEED=N`; `SYNACK_BOTTLENECK_ROWS=20:1,100:0` RTT (ms)
//! : loss (%) rows, default the 20 ms rows and 100 ms without loss, since a
//! lossy 100 ms row takes minutes of real time; `SYNACK_LINUX_PACING=1`
//! paces the sender, as synack paces by default, through
//! SO_MAX_PACING_RATE: the host has no fq qdisc). Real time makes the
//! figures vary from run to run, unlike the simulator's.

use core::time::Duration;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use synack_core::Instant;
use synack_sim::bottleneck::Bottleneck;
use synack_sim::{Fate, Link};
use synack_testnet::NetEnv;

const RATE: u64 = 100_000_000;
const SENDER_IP: &str = "10.9.1.1";
const RECEIVER_IP: &str = "10.9.2.1";

/// A plain TUN device (IFF_TUN | IFF_NO_PI), non-blocking.
fn open_tun(name: &str) -> File {
    #[repr(C)]
    struct IfReq {
        name: [libc::c_char; libc::IFNAMSIZ],
        flags: libc::c_short,
        _pad: [u8; 22],
    }
    let raw = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC) };
    assert!(raw >= 0, "open /dev/net/tun: {}", std::io::Error::last_os_error());
    let f = unsafe { File::from_raw_fd(raw) };
    let mut req = IfReq { name: [0; libc::IFNAMSIZ], flags: 0x0001 | 0x1000, _pad: [0; 22] };
    for (d, s) in req.name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), 0x4004_54ca, &mut req as *mut IfReq) };
    assert!(rc >= 0, "TUNSETIFF {name}: {}", std::io::Error::last_os_error());
    f
}

/// A namespace holding `tun` at `ip`, routing `peer_net` through it, with
/// CUBIC and 4 MiB buffers.
fn namespace(tun: &str, ip: &str, peer_net: &str) -> NetEnv {
    let mut env = NetEnv::bare();
    env.tun = tun.to_string();
    let ok = |args: &[&str]| {
        let o = std::process::Command::new(args[0]).args(&args[1..]).output().expect("run");
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    ok(&["ip", "link", "set", tun, "netns", &env.ns]);
    env.exec_ok(&["ip", "addr", "add", &format!("{ip}/24"), "dev", tun]);
    env.exec_ok(&["ip", "link", "set", tun, "mtu", "1500", "up"]);
    env.exec_ok(&["ip", "link", "set", "lo", "up"]);
    env.exec_ok(&["ip", "route", "add", peer_net, "dev", tun]);
    for s in [
        "net.ipv4.tcp_congestion_control=cubic",
        "net.ipv4.tcp_rmem=4096 131072 4194304",
        "net.ipv4.tcp_wmem=4096 16384 4194304",
        "net.ipv4.tcp_no_metrics_save=1",
    ] {
        env.exec_ok(&["sysctl", "-qw", s]);
    }
    env
}

/// Forwards between the two devices through the bottleneck until `stop`;
/// returns the data direction's queue drops.
fn forward(b: Bottleneck, a: File, z: File, stop: Arc<AtomicBool>) -> u64 {
    let mut rng = fastrand::Rng::with_seed(b.seed);
    let mut data = Link::new(b.data_link());
    let mut acks = Link::new(b.ack_link());
    let (mut a, mut z) = (a, z);
    // Each direction delivers in order of arrival time (no jitter or
    // reordering in this model), so a FIFO per direction is a schedule.
    let mut to_z: std::collections::VecDeque<(Instant, Vec<u8>)> = Default::default();
    let mut to_a: std::collections::VecDeque<(Instant, Vec<u8>)> = Default::default();
    let mut buf = vec![0u8; 65536];
    let start = std::time::Instant::now();
    let mut drops = 0;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::from_micros(start.elapsed().as_micros() as u64);
        for (dev, link, out) in [(&mut a, &mut data, &mut to_z), (&mut z, &mut acks, &mut to_a)] {
            while let Ok(n) = dev.read(&mut buf) {
                let mut pkt = buf[..n].to_vec();
                match link.one(&mut rng, now, &mut pkt) {
                    Fate::Delivered(t) | Fate::Corrupted(t) => out.push_back((t, pkt)),
                    Fate::QueueDrop => drops += 1,
                    Fate::Lost => {}
                }
            }
        }
        for (dev, out) in [(&mut z, &mut to_z), (&mut a, &mut to_a)] {
            while out.front().is_some_and(|(t, _)| *t <= now) {
                let (_, pkt) = out.pop_front().expect("front");
                let _ = dev.write(&pkt);
            }
        }
        std::hint::spin_loop();
    }
    drops
}

/// The sender: connect, send `bytes`, half-close, wait for the receiver's
/// close; prints seconds, total retransmitted segments and timeouts.
fn sender(bytes: u64) -> String {
    // SO_MAX_PACING_RATE (47) at any value but ~0 turns on the kernel's own
    // pacing (SK_PACING_NEEDED), at the rate tcp_update_pacing_rate sets.
    let pacing = if std::env::var_os("SYNACK_LINUX_PACING").is_some() { "True" } else { "False" };
    format!(
        "import socket, struct, time\n\
def timeouts():\n    l = open('/proc/net/netstat').read().split('\\n')\n    \
for i in range(0, len(l) - 1, 2):\n        if l[i].startswith('TcpExt:'):\n            \
return int(dict(zip(l[i].split(), l[i + 1].split()))['TCPTimeouts'])\n\
t0 = timeouts()\nt = time.time()\ns = socket.socket()\n\
if {pacing}: s.setsockopt(socket.SOL_SOCKET, 47, struct.pack('I', 0xfffffffe))\n\
s.settimeout(600); s.connect(('{RECEIVER_IP}', 5001))\n\
buf = b'x' * (1 << 20)\nn = {bytes}\n\
while n > 0:\n    k = min(n, len(buf)); s.sendall(buf[:k]); n -= k\n\
s.shutdown(socket.SHUT_WR)\ns.recv(1)\nd = time.time() - t\n\
i = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)\n\
segs = struct.unpack_from('I', i, 100)[0]\nprint(d, segs, timeouts() - t0)\n"
    )
}

/// The receiver: accept one connection, read to its end, close.
fn receiver() -> String {
    "import socket\nl = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
l.bind(('0.0.0.0', 5001)); l.listen(1)\nc, _ = l.accept(); b = bytearray(1 << 20)\n\
while c.recv_into(b): pass\nc.close()\n"
        .to_string()
}

fn main() {
    if let Err(why) = synack_testnet::available() {
        println!("skipped: {why}");
        return;
    }
    let allowed = "/proc/sys/net/ipv4/tcp_allowed_congestion_control";
    let before = std::fs::read_to_string(allowed).unwrap_or_default();
    if !before.split_whitespace().any(|c| c == "cubic") {
        std::fs::write(allowed, format!("{} cubic", before.trim())).expect("allow cubic");
    }
    let mb = std::env::var("SYNACK_BOTTLENECK_MB").ok().and_then(|s| s.parse().ok()).unwrap_or(20u64);
    let seed = std::env::var("SYNACK_BOTTLENECK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1u64);
    let rows: Vec<(u64, f64)> = std::env::var("SYNACK_BOTTLENECK_ROWS")
        .unwrap_or_else(|_| "20:0,20:0.1,20:1,20:2,20:5,100:0".to_string())
        .split(',')
        .filter_map(|row| {
            let (rtt, loss) = row.split_once(':')?;
            Some((rtt.trim().parse().ok()?, loss.trim().parse::<f64>().ok()? / 100.0))
        })
        .collect();
    println!(
        "Linux (CUBIC{}) through the same bottleneck in real time: one flow of {mb} MiB, {} Mbit/s, queue one BDP, 4 MiB buffers",
        if std::env::var_os("SYNACK_LINUX_PACING").is_some() { ", paced" } else { "" },
        RATE / 1_000_000
    );
    println!(
        "{:>6} {:>6} | {:>20} {:>6} {:>8} {:>5} {:>6} | {:>7}",
        "RTT", "loss", "Linux Mbit/s (link)", "retx", "retx %", "RTOs", "drops", "Mathis"
    );
    for (rtt_ms, loss) in rows {
        let b =
            Bottleneck { rate_bps: RATE, rtt: Duration::from_millis(rtt_ms), loss, bytes: mb << 20, flows: 1, seed };
        let id = std::process::id() % 100_000;
        let (ta, tz) = (format!("lka{id}"), format!("lkz{id}"));
        let (fa, fz) = (open_tun(&ta), open_tun(&tz));
        let snd = namespace(&ta, SENDER_IP, "10.9.2.0/24");
        let rcv = namespace(&tz, RECEIVER_IP, "10.9.1.0/24");
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let fwd = std::thread::spawn(move || forward(b, fa, fz, s));
        let _sink = rcv.spawn_python(&receiver());
        std::thread::sleep(Duration::from_millis(300));
        let out = snd.python(&sender(b.bytes), Duration::from_secs(900));
        stop.store(true, Ordering::Relaxed);
        let drops = fwd.join().expect("forwarder");
        let mut f = out.split_whitespace();
        let secs: f64 = f.next().and_then(|v| v.parse().ok()).expect("seconds");
        let retx: u64 = f.next().and_then(|v| v.parse().ok()).expect("retransmissions");
        let rtos: u64 = f.next().and_then(|v| v.parse().ok()).expect("timeouts");
        let mbit = b.bytes as f64 * 8.0 / secs / 1e6;
        let segments = b.bytes.div_ceil(1448);
        let mathis = b.mathis_bps(1448).map_or("-".to_string(), |m| format!("{:.1}", m / 1e6));
        println!(
            "{:>4}ms {:>5.1}% | {:>11.1} ({:>3.0} %) {:>6} {:>7.2}% {:>5} {:>6} | {:>7}",
            rtt_ms,
            loss * 100.0,
            mbit,
            mbit / (RATE as f64 / 1e6) * 100.0,
            retx,
            retx as f64 / segments as f64 * 100.0,
            rtos,
            drops,
            mathis
        );
    }
    if !before.split_whitespace().any(|c| c == "cubic") {
        let _ = std::fs::write(allowed, before.trim());
    }
}
