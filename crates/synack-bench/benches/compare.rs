//! synack-core against smoltcp 0.14, in memory, in one run: bulk throughput
//! of one connection at MTU 1500 and 65535, and handshake rate (connect,
//! accept, close cycles per second). Both stacks move packets through a
//! queue in the same process, compute and verify checksums, and use 4 MiB
//! buffers. Prints figures and the ratio; `cargo bench -p synack-bench`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant as WallClock};

const BULK_BYTES: u64 = 512 << 20;
const HANDSHAKES: u32 = 20_000;
const BUFFER: usize = 4 << 20;

fn main() {
    // `cargo bench -p synack-bench -- FILTER`: run only the cases whose name
    // contains FILTER ("bulk", "1500", "handshake", "synack", "smoltcp").
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    println!("synack-core vs smoltcp 0.14, in memory, one connection, same process");
    for mtu in [1500u16, 65535] {
        let ours = wanted(&format!("bulk {mtu} synack")).then(|| synack_bulk(mtu, false));
        let theirs = wanted(&format!("bulk {mtu} smoltcp")).then(|| smol::bulk(mtu));
        report(&format!("bulk  MTU {mtu:>5}"), "Gbit/s", ours, theirs);
    }
    // synack's endpoint as on a TSO/GRO device (64 KiB super-segments at MTU
    // 1500, checksums left to the device); smoltcp has no such mode, so its
    // figure is the plain one.
    let ours = wanted("bulk offload synack").then(|| synack_bulk(1500, true));
    let theirs = wanted("bulk offload smoltcp").then(|| smol::bulk(1500));
    report("bulk  MTU  1500, synack with offload", "Gbit/s", ours, theirs);
    let ours = wanted("handshake synack").then(synack_handshakes);
    let theirs = wanted("handshake smoltcp").then(smol::handshakes);
    report("handshake+close ", "/s", ours, theirs);
}

fn report(what: &str, unit: &str, ours: Option<f64>, theirs: Option<f64>) {
    let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2} {unit}"));
    let ratio = match (ours, theirs) {
        (Some(a), Some(b)) => format!("ratio {:.2}x", a / b),
        _ => String::new(),
    };
    if ours.is_some() || theirs.is_some() {
        println!("{what}: synack {:>16}   smoltcp {:>16}   {ratio}", show(ours), show(theirs));
    }
}

fn gbits(bytes: u64, d: Duration) -> f64 {
    bytes as f64 * 8.0 / d.as_secs_f64() / 1e9
}

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

mod ours {
    pub use synack_core::*;
}

/// Delivers everything the endpoint sends back to itself (both ends live in it).
fn pump(ep: &mut ours::Endpoint, now: ours::Instant, buf: &mut [u8]) {
    if ep.config().offload.segmentation {
        // A device with offload hands super-segments over whole (TSO to GRO).
        while let Some(t) = ep.poll_transmit_offload(now, buf) {
            let info = ours::Received { checksum_verified: t.partial_checksum, segment_size: t.segment_size };
            ep.handle_received(now, &buf[..t.len], info);
        }
        return;
    }
    while let Some(n) = ep.poll_transmit(now, buf) {
        ep.handle_packet(now, &buf[..n]);
    }
}

fn synack_bulk(mtu: u16, offload: bool) -> f64 {
    let mut cfg = ours::Config { mtu, send_buffer: BUFFER, recv_buffer: BUFFER, ..ours::Config::default() };
    if offload {
        cfg.offload = ours::Offload { segmentation: true, checksum: true };
    }
    let mut ep = ours::Endpoint::new(cfg, 7).expect("valid config");
    let start = WallClock::now();
    let now = || ours::Instant::from_micros(start.elapsed().as_micros() as u64);
    let mut buf = vec![0u8; if offload { 65_535 } else { usize::from(mtu) }];
    let l = ep.listen(SocketAddr::new(B, 80), 8).unwrap();
    let c = ep.connect(now(), SocketAddr::new(A, 0), SocketAddr::new(B, 80)).unwrap();
    pump(&mut ep, now(), &mut buf);
    let s = ep.accept(l).unwrap();
    let chunk = vec![0x5au8; 256 * 1024];
    let mut rbuf = vec![0u8; 256 * 1024];
    let (mut sent, mut received) = (0u64, 0u64);
    let t0 = WallClock::now();
    while received < BULK_BYTES {
        let t = now();
        if sent < BULK_BYTES {
            let want = (BULK_BYTES - sent).min(chunk.len() as u64) as usize;
            if let Ok(n) = ep.send(t, c, &chunk[..want]) {
                sent += n as u64;
            }
        }
        pump(&mut ep, t, &mut buf);
        while let Ok(n) = ep.recv(t, s, &mut rbuf) {
            if n == 0 {
                break;
            }
            received += n as u64;
        }
        if ep.poll_timeout().is_some_and(|d| d <= t) {
            ep.handle_timeout(t);
        }
    }
    gbits(received, t0.elapsed())
}

fn synack_handshakes() -> f64 {
    let cfg = ours::Config { time_wait: Duration::ZERO, ..ours::Config::default() };
    let mut ep = ours::Endpoint::new(cfg, 9).expect("valid config");
    let start = WallClock::now();
    let now = || ours::Instant::from_micros(start.elapsed().as_micros() as u64);
    let mut buf = vec![0u8; 1500];
    let l = ep.listen(SocketAddr::new(B, 80), 128).unwrap();
    let t0 = WallClock::now();
    for _ in 0..HANDSHAKES {
        let t = now();
        let c = ep.connect(t, SocketAddr::new(A, 0), SocketAddr::new(B, 80)).unwrap();
        pump(&mut ep, t, &mut buf);
        let s = ep.accept(l).unwrap();
        ep.close(t, c).unwrap();
        pump(&mut ep, t, &mut buf);
        ep.close(t, s).unwrap();
        pump(&mut ep, t, &mut buf);
        ep.handle_timeout(t);
        pump(&mut ep, t, &mut buf);
    }
    let rate = f64::from(HANDSHAKES) / t0.elapsed().as_secs_f64();
    assert_eq!(ep.connection_count(), 0);
    rate
}

mod smol {
    use super::*;
    use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
    use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
    use smoltcp::socket::tcp;
    use smoltcp::time::Instant;
    use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

    /// Packets queued in memory, buffers recycled through a pool.
    #[derive(Default)]
    struct Queues {
        packets: VecDeque<Vec<u8>>,
        pool: Vec<Vec<u8>>,
    }

    struct QueueDevice {
        q: RefCell<Queues>,
        mtu: usize,
    }

    struct Rx<'a>(Vec<u8>, &'a RefCell<Queues>);
    struct Tx<'a>(&'a RefCell<Queues>);

    impl RxToken for Rx<'_> {
        fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
            let r = f(&self.0);
            self.1.borrow_mut().pool.push(self.0);
            r
        }
    }

    impl TxToken for Tx<'_> {
        fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
            let mut b = self.0.borrow_mut().pool.pop().unwrap_or_default();
            b.resize(len, 0);
            let r = f(&mut b);
            self.0.borrow_mut().packets.push_back(b);
            r
        }
    }

    impl Device for QueueDevice {
        type RxToken<'a> = Rx<'a>;
        type TxToken<'a> = Tx<'a>;

        fn receive(&mut self, _t: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
            let p = self.q.borrow_mut().packets.pop_front()?;
            Some((Rx(p, &self.q), Tx(&self.q)))
        }

        fn transmit(&mut self, _t: Instant) -> Option<Tx<'_>> {
            Some(Tx(&self.q))
        }

        fn capabilities(&self) -> DeviceCapabilities {
            let mut c = DeviceCapabilities::default();
            c.medium = Medium::Ip;
            c.max_transmission_unit = self.mtu;
            c
        }
    }

    fn setup(mtu: usize) -> (QueueDevice, Interface, WallClock) {
        let mut dev = QueueDevice { q: RefCell::default(), mtu };
        let start = WallClock::now();
        let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut dev, Instant::from_micros(0));
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(IpAddress::v4(10, 0, 0, 1), 24)).unwrap();
            a.push(IpCidr::new(IpAddress::v4(10, 0, 0, 2), 24)).unwrap();
        });
        (dev, iface, start)
    }

    fn socket(size: usize) -> tcp::Socket<'static> {
        tcp::Socket::new(tcp::SocketBuffer::new(vec![0; size]), tcp::SocketBuffer::new(vec![0; size]))
    }

    fn now(start: WallClock) -> Instant {
        Instant::from_micros(start.elapsed().as_micros() as i64)
    }

    pub fn bulk(mtu: u16) -> f64 {
        let (mut dev, mut iface, start) = setup(usize::from(mtu));
        let mut sockets = SocketSet::new(vec![]);
        let server = sockets.add(socket(BUFFER));
        let client = sockets.add(socket(BUFFER));
        sockets.get_mut::<tcp::Socket>(server).listen(80).unwrap();
        sockets
            .get_mut::<tcp::Socket>(client)
            .connect(iface.context(), (IpAddress::v4(10, 0, 0, 2), 80), (IpAddress::v4(10, 0, 0, 1), 40000))
            .unwrap();
        let chunk = vec![0x5au8; 256 * 1024];
        let mut rbuf = vec![0u8; 256 * 1024];
        let (mut sent, mut received) = (0u64, 0u64);
        let t0 = WallClock::now();
        while received < BULK_BYTES {
            iface.poll(now(start), &mut dev, &mut sockets);
            let c = sockets.get_mut::<tcp::Socket>(client);
            if sent < BULK_BYTES && c.can_send() {
                let want = (BULK_BYTES - sent).min(chunk.len() as u64) as usize;
                sent += c.send_slice(&chunk[..want]).unwrap_or(0) as u64;
            }
            let s = sockets.get_mut::<tcp::Socket>(server);
            while let Ok(n) = s.recv_slice(&mut rbuf) {
                if n == 0 {
                    break;
                }
                received += n as u64;
            }
        }
        gbits(received, t0.elapsed())
    }

    fn client_socket(sockets: &mut SocketSet<'static>, iface: &mut Interface, port: u16) -> SocketHandle {
        let h = sockets.add(socket(64 * 1024));
        sockets
            .get_mut::<tcp::Socket>(h)
            .connect(iface.context(), (IpAddress::v4(10, 0, 0, 2), 80), (IpAddress::v4(10, 0, 0, 1), port))
            .unwrap();
        h
    }

    pub fn handshakes() -> f64 {
        let (mut dev, mut iface, start) = setup(1500);
        let mut sockets = SocketSet::new(vec![]);
        let t0 = WallClock::now();
        for i in 0..HANDSHAKES {
            let server = sockets.add(socket(64 * 1024));
            sockets.get_mut::<tcp::Socket>(server).listen(80).unwrap();
            let client = client_socket(&mut sockets, &mut iface, 10000 + (i % 50000) as u16);
            while sockets.get::<tcp::Socket>(server).state() != tcp::State::Established
                || sockets.get::<tcp::Socket>(client).state() != tcp::State::Established
            {
                iface.poll(now(start), &mut dev, &mut sockets);
            }
            sockets.get_mut::<tcp::Socket>(client).close();
            while sockets.get::<tcp::Socket>(server).state() != tcp::State::CloseWait {
                iface.poll(now(start), &mut dev, &mut sockets);
            }
            sockets.get_mut::<tcp::Socket>(server).close();
            while sockets.get::<tcp::Socket>(server).state() != tcp::State::Closed
                || sockets.get::<tcp::Socket>(client).state() != tcp::State::TimeWait
            {
                iface.poll(now(start), &mut dev, &mut sockets);
            }
            // TIME-WAIT is not part of the measured work: drop both sockets.
            sockets.remove(client);
            sockets.remove(server);
        }
        f64::from(HANDSHAKES) / t0.elapsed().as_secs_f64()
    }
}
