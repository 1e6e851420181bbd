//! synack-drill-kernel: `synack drill --kernel`, the same scripts against
//! the Linux kernel's TCP, as packetdrill runs them (DRILL.md, "Two
//! engines"). Each script gets a fresh network namespace, entered by the
//! calling thread, holding a TUN device `tun0` with offloads (the runner's
//! packets go in through it, the kernel's come out of it, super-segments
//! cut at their segment size), the kernel's address, a route to the
//! scripted peer, and a plain FIFO queue. The script's system calls run on
//! real sockets on a helper thread in that namespace, in real time; parser,
//! numbering, aggregation and comparison are synack-drill's, the same code
//! as for the synack engine. Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN).
#![warn(missing_docs)]

mod calls;
mod netns;

use calls::{Addrs, Calls};
use netns::Namespace;
use std::future::poll_fn;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use synack::{Device, TunDevice, TunOptions, TxMeta};
use synack_drill::ast::SyscallSpec;
use synack_drill::settings::{Applied, IpVersion, Settings};
use synack_drill::target::{Attempt, Sent, Target, TcpInfo};
use tokio::sync::mpsc;

/// The engine's name in a script's `// engines:` header.
pub const ENGINE: &str = "linux";

/// The device's name in the namespace (scripts' `tc` lines name it).
pub const DEVICE: &str = "tun0";
/// How long `call` waits for a call to return before it counts as blocked.
const BLOCKED_AFTER: Duration = Duration::from_millis(2);

/// Whether this process can run the kernel engine; the reason if not.
pub fn available() -> Result<(), String> {
    // SAFETY: geteuid(2) has no arguments and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(
            "the kernel engine needs root (CAP_SYS_ADMIN for a network namespace, CAP_NET_ADMIN for TUN)".into()
        );
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err("/dev/net/tun is missing".into());
    }
    Ok(())
}

/// The default tolerance of the real-time engine, in milliseconds (the
/// kernel's selftest runner uses 14 in CI).
pub const TOLERANCE_MS: u64 = 14;

/// Runs a script file against the kernel; a failure on timing alone is
/// run once more (DRILL.md: a timing miss may be retried once, never
/// turned into a pass).
pub fn run_file(
    path: &std::path::Path,
    opts: &synack_drill::RunOptions,
) -> std::io::Result<synack_drill::ScriptResult> {
    let opts = &synack_drill::RunOptions { engine: ENGINE, ..opts.clone() };
    let r = synack_drill::run_file_with(path, opts, &mut make)?;
    let timing = |r: &synack_drill::ScriptResult| match &r.outcome {
        synack_drill::Outcome::Failed { message, .. } => {
            message.starts_with("sent too ") || message.contains(" returned at ")
        }
        _ => false,
    };
    if timing(&r) {
        let mut again = synack_drill::run_file_with(path, opts, &mut make)?;
        again.warnings.push("retried once after a timing miss".into());
        return Ok(again);
    }
    Ok(r)
}

/// Makes a kernel target for a script (for `synack_drill::run_file_with`).
pub fn make(settings: &Settings) -> Result<Box<dyn Target>, String> {
    Ok(Box::new(KernelTarget::new(settings)?))
}

/// Sysctls every script starts from, for what DRILL.md says scripts assume
/// (window scale 8, synack's congestion control, no ECN, the timer and
/// retry defaults): a fresh namespace would have some of the host's.
const DEFAULTS: &[(&str, &str)] = &[
    ("net.ipv4.tcp_rmem", "4096 131072 15728640"),
    ("net.ipv4.tcp_wmem", "4096 16384 4194304"),
    ("net.ipv4.tcp_timestamps", "1"),
    ("net.ipv4.tcp_sack", "1"),
    ("net.ipv4.tcp_window_scaling", "1"),
    ("net.ipv4.tcp_ecn", "0"),
    ("net.ipv4.tcp_syn_retries", "5"),
    ("net.ipv4.tcp_synack_retries", "5"),
    ("net.ipv4.tcp_congestion_control", "reno"),
];

/// The kernel under a script.
pub struct KernelTarget {
    tun: TunDevice,
    rt: tokio::runtime::Runtime,
    start: Instant,
    sent: std::collections::VecDeque<Sent>,
    requests: std::sync::mpsc::Sender<SyscallSpec>,
    results: mpsc::UnboundedReceiver<(Instant, Attempt)>,
    /// A call was sent and has not returned.
    outstanding: bool,
    returned: Option<(Duration, Attempt)>,
    current: std::sync::Arc<std::sync::atomic::AtomicI32>,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::os::fd::RawFd>>>,
    remote: IpAddr,
    buf: Vec<u8>,
    helper: Option<std::thread::JoinHandle<()>>,
    /// Last: leaving the namespace after everything in it is closed.
    ns: Namespace,
}

/// What woke the target while it waited.
enum Woke {
    Packet(std::io::Result<synack::RxMeta>),
    Returned(Option<(Instant, Attempt)>),
    Timeout,
}

impl KernelTarget {
    /// A fresh namespace with the device and addresses for `s`.
    pub fn new(s: &Settings) -> Result<KernelTarget, String> {
        available()?;
        let ns = Namespace::enter_new().map_err(|e| format!("a new network namespace: {e}"))?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        let tun = {
            let _in_runtime = rt.enter();
            TunDevice::open_with(DEVICE, TunOptions { mtu: usize::from(s.mtu), offload: true })
                .map_err(|e| format!("{DEVICE}: {e}"))?
        };
        let v6 = s.local_ip.is_ipv6();
        let local = format!("{}{}", s.local_ip, if v6 { "/48" } else { "/24" });
        let remote_net = s.remote_ip.to_string();
        let ip = if v6 { "-6" } else { "-4" };
        ns.run(&["ip", "link", "set", "lo", "up"])?;
        ns.run(&["ip", "link", "set", DEVICE, "up"])?;
        let mut add = vec!["ip", ip, "addr", "add", &local, "dev", DEVICE];
        if v6 {
            add.push("nodad");
        }
        ns.run(&add)?;
        ns.run(&["ip", ip, "route", "add", &remote_net, "dev", DEVICE])?;
        ns.run(&["tc", "qdisc", "replace", "dev", DEVICE, "root", "pfifo"])?;
        for (k, v) in DEFAULTS {
            if let Err(e) = ns.sysctl(k, v) {
                // The host may not allow reno: fall back to what it has.
                if *k != "net.ipv4.tcp_congestion_control" {
                    return Err(format!("{k}: {e}"));
                }
            }
        }
        let family = if s.ip == IpVersion::V4 { libc::AF_INET } else { libc::AF_INET6 };
        let addrs = Addrs {
            family,
            local: SocketAddr::new(s.local_ip, synack_drill::PORT),
            remote: SocketAddr::new(s.remote_ip, synack_drill::PORT),
        };
        let mut calls = Calls::new(addrs);
        let current = calls.current.clone();
        let open = calls.open.clone();
        let (req_tx, req_rx) = std::sync::mpsc::channel::<SyscallSpec>();
        let (res_tx, res_rx) = mpsc::unbounded_channel();
        // The helper thread starts in this thread's namespace, so sockets it creates live there.
        let helper = std::thread::Builder::new()
            .name("drill-syscalls".into())
            .spawn(move || {
                for spec in req_rx {
                    let a = calls.execute(&spec);
                    if res_tx.send((Instant::now(), a)).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(KernelTarget {
            rt,
            tun,
            start: Instant::now(),
            sent: Default::default(),
            requests: req_tx,
            results: res_rx,
            outstanding: false,
            returned: None,
            current,
            open,
            remote: s.remote_ip,
            buf: vec![0; 65_600],
            helper: Some(helper),
            ns,
        })
    }

    fn since_start(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.start)
    }

    /// Waits at most `d` for a datagram from the kernel or the return of a
    /// call, and records what came.
    fn wait(&mut self, d: Duration) -> Result<(), String> {
        let (tun, results, buf, outstanding) = (&mut self.tun, &mut self.results, &mut self.buf, self.outstanding);
        let woke = self.rt.block_on(async {
            tokio::select! {
                r = poll_fn(|cx| tun.poll_recv(cx, buf)) => Woke::Packet(r),
                r = results.recv(), if outstanding => Woke::Returned(r),
                _ = tokio::time::sleep(d) => Woke::Timeout,
            }
        });
        match woke {
            Woke::Packet(Ok(meta)) => {
                let at = self.since_start(Instant::now());
                self.take_datagram(at, meta);
            }
            Woke::Packet(Err(e)) => return Err(format!("{DEVICE}: {e}")),
            Woke::Returned(Some((t, a))) => {
                self.outstanding = false;
                self.returned = Some((self.since_start(t), a));
            }
            Woke::Returned(None) => return Err("the system-call thread is gone".into()),
            Woke::Timeout => {}
        }
        Ok(())
    }

    /// A datagram from the kernel: its TCP segments to the scripted peer are
    /// queued (a super-segment cut at its segment size, checksums completed);
    /// anything else (IPv6 neighbour discovery, MLD) is not the script's.
    fn take_datagram(&mut self, at: Duration, meta: synack::RxMeta) {
        let packet = &self.buf[..meta.len];
        let Ok(ip) = synack_wire::IpPacket::parse(packet) else { return };
        if ip.protocol() != synack_wire::PROTO_TCP || ip.dst() != self.remote {
            return;
        }
        let size = meta.info.segment_size.map_or(usize::MAX, usize::from);
        let Ok(mut cut) = synack_wire::offload::Segmenter::new(packet, size) else { return };
        let mut piece = vec![0u8; meta.len.min(size.saturating_add(120))];
        while let Some(n) = cut.next_into(&mut piece) {
            self.sent.push_back(Sent { at, bytes: piece[..n].to_vec() });
        }
    }
}

impl Target for KernelTarget {
    fn now(&self) -> Duration {
        self.since_start(Instant::now())
    }

    fn run_until(&mut self, until: Duration, stop_on_packet: bool) -> Result<(), String> {
        loop {
            if (stop_on_packet && !self.sent.is_empty()) || self.returned.is_some() {
                return Ok(());
            }
            let now = self.now();
            if now >= until {
                return Ok(());
            }
            self.wait((until - now).min(Duration::from_millis(250)))?;
        }
    }

    fn take_sent(&mut self) -> Option<Sent> {
        self.sent.pop_front()
    }

    fn inject(&mut self, datagram: &[u8], segment_size: Option<u16>) -> Result<(), String> {
        let mut packet = datagram.to_vec();
        let meta = match segment_size {
            Some(size) => {
                // A GSO packet goes in with its checksum left partial, as a
                // local sender writes it.
                synack_wire::offload::make_checksum_partial(&mut packet).map_err(|e| e.to_string())?;
                TxMeta { segment_size: Some(size), partial_checksum: true }
            }
            None => TxMeta::default(),
        };
        let tun = &mut self.tun;
        self.rt.block_on(poll_fn(|cx| tun.poll_send(cx, &packet, meta))).map_err(|e| format!("{DEVICE}: {e}"))
    }

    fn call(&mut self, spec: &SyscallSpec) -> Attempt {
        if self.requests.send(spec.clone()).is_err() {
            return Attempt::Unsupported("the system-call thread is gone".into());
        }
        self.outstanding = true;
        let until = Instant::now() + BLOCKED_AFTER;
        while self.outstanding {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Attempt::Block;
            }
            if let Err(e) = self.wait(left) {
                return Attempt::Unsupported(e);
            }
        }
        match self.returned.take() {
            Some((_, a)) => a,
            None => Attempt::Block,
        }
    }

    fn take_returned(&mut self) -> Option<(Duration, Attempt)> {
        self.returned.take()
    }

    fn sysctl(&mut self, name: &str, value: &str) -> Applied {
        let name = name.trim_start_matches("/proc/sys/").replace('/', ".");
        // Only the namespace's own sysctls: net.core and friends are the host's.
        if !(name.starts_with("net.ipv4.tcp_") || name.starts_with("net.ipv6.") || name.starts_with("net.ipv4.ip_")) {
            return Applied::Warn(format!("{name} belongs to the whole host: not changed"));
        }
        match self.ns.sysctl(&name, value) {
            Ok(()) => Applied::Ok,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Applied::Unsupported(format!("{name} does not exist in this kernel"))
            }
            Err(e) => Applied::Unsupported(format!("{name}={value}: {e}")),
        }
    }

    fn command(&mut self, words: &[String]) -> Applied {
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        match self.ns.run(&args) {
            Ok(()) => Applied::Ok,
            Err(e) if args.first() == Some(&"tc") => Applied::Unsupported(e),
            Err(e) => Applied::Warn(e),
        }
    }

    fn tcp_info(&mut self) -> Result<TcpInfo, String> {
        let fd = self.current.load(Ordering::Acquire);
        if fd < 0 {
            return Err("an assertion, but no connection".into());
        }
        calls::tcp_info(fd)
    }
}

impl Drop for KernelTarget {
    fn drop(&mut self) {
        // Closing the request channel ends the helper, which closes its sockets.
        let (tx, _) = std::sync::mpsc::channel();
        drop(std::mem::replace(&mut self.requests, tx));
        if self.outstanding {
            calls::unblock(&self.open);
        }
        if let Some(h) = self.helper.take() {
            let _ = h.join();
        }
    }
}
