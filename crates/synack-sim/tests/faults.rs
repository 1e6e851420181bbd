//! End-to-end transfers under every fault profile, across many seeds: each
//! run sends random data of a random size (log-uniform, up to 3 MB) in both
//! directions with half-closes, and checks the bytes (SHA-256), the final
//! states, and a bound on simulated time.
//!
//! `SYNACK_SIM_SEEDS=N` changes the number of seeds per profile (default 1000).

use core::net::{IpAddr, Ipv4Addr};
use core::time::Duration;
use synack_core::Config;
use synack_sim::transfer::{Outcome, Transfer, TransferSpec};
use synack_sim::{LinkConfig, Network};

const MAX_BYTES: f64 = 3.0 * 1024.0 * 1024.0;
/// Simulated time a run may take before it counts as stuck.
const TIME_BOUND: Duration = Duration::from_secs(900);

fn seeds() -> u64 {
    std::env::var("SYNACK_SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(1000)
}

/// A size drawn log-uniformly from [1, MAX_BYTES], sometimes zero.
fn size(rng: &mut fastrand::Rng) -> u64 {
    if rng.u8(..) < 8 {
        return 0;
    }
    MAX_BYTES.powf(rng.f64()) as u64
}

/// One seeded transfer between a client (host a) and a server (host b) so configured.
fn run_with(link: LinkConfig, client: Config, server: Config, seed: u64) -> Outcome {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut net = Network::new(seed);
    let a = net.add_host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), client).expect("valid config");
    let b = net.add_host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), server).expect("valid config");
    net.set_default_link(link);
    let (up, down) = (size(&mut rng), size(&mut rng));
    let spec = TransferSpec { client_bytes: up, server_bytes: down, seed, ..TransferSpec::default() };
    let t = Transfer::start(&mut net, a, b, &spec).expect("start");
    let limit = net.now() + TIME_BOUND;
    t.run(&mut net, limit)
}

fn profile(name: &str, link: LinkConfig) {
    profile_with(name, link, Config::default(), Config::default(), seeds());
}

fn profile_with(name: &str, link: LinkConfig, client: Config, server: Config, n: u64) {
    let mut failures = Vec::new();
    let mut worst = Duration::ZERO;
    let mut total = Duration::ZERO;
    for seed in 0..n {
        let out = run_with(link, client.clone(), server.clone(), seed);
        worst = worst.max(out.duration);
        total += out.duration;
        if !out.is_clean() || out.duration >= TIME_BOUND {
            failures.push((seed, out));
        }
    }
    println!("{name}: {n} seeds, longest run {worst:?}, all runs {total:?} simulated");
    assert!(failures.is_empty(), "{name}: {} of {n} seeds failed, first: {:?}", failures.len(), failures.first());
}

fn base() -> LinkConfig {
    LinkConfig { delay: Duration::from_millis(10), ..LinkConfig::default() }
}

#[test]
fn clean_link() {
    profile("clean", base());
}

#[test]
fn one_percent_loss() {
    profile("loss 1%", LinkConfig { loss: 0.01, ..base() });
}

#[test]
fn ten_percent_loss() {
    profile("loss 10%", LinkConfig { loss: 0.10, ..base() });
}

#[test]
fn duplication() {
    profile("duplicate 5%", LinkConfig { duplicate: 0.05, ..base() });
}

#[test]
fn reordering() {
    profile("reorder 5%", LinkConfig { reorder: 0.05, jitter: Duration::from_millis(2), ..base() });
}

#[test]
fn corruption() {
    profile("corrupt 2%", LinkConfig { corrupt: 0.02, ..base() });
}

fn all_faults() -> LinkConfig {
    LinkConfig {
        loss: 0.02,
        duplicate: 0.02,
        reorder: 0.03,
        corrupt: 0.01,
        jitter: Duration::from_millis(3),
        bandwidth: Some(50_000_000),
        queue_limit: 100,
        ..base()
    }
}

#[test]
fn all_faults_together() {
    profile("all", all_faults());
}

/// The server answers every SYN with a SYN cookie (RFC 4987 §3.6) and keeps
/// no state until the cookie comes back, under every fault at once.
#[test]
fn all_faults_with_syn_cookies() {
    let server = Config { syn_cookies: synack_core::SynCookies::Always, ..Config::default() };
    profile_with("all, SYN cookies", all_faults(), Config::default(), server, seeds() / 4);
}

/// Both ends run CUBIC (RFC 9438) instead of NewReno, under every fault at once.
#[test]
fn all_faults_with_cubic() {
    let cubic = Config { congestion_control: synack_core::CongestionControl::Cubic, ..Config::default() };
    profile_with("all, CUBIC", all_faults(), cubic.clone(), cubic, seeds() / 4);
}

/// Both ends send with segmentation and checksum offload (super-segments
/// cut at the MSS by the link, as a NIC would), under every fault at once.
#[test]
fn all_faults_with_segmentation_offload() {
    let offload = Config { offload: synack_core::Offload { segmentation: true, checksum: true }, ..Config::default() };
    profile_with("all, offload", all_faults(), offload.clone(), offload.clone(), seeds() / 4);
    // On a short, fast path the bursts are long: 20 MB in super-segments.
    let mut net = Network::new(7);
    let a = net.add_host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), offload.clone()).expect("valid config");
    let b = net.add_host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), offload).expect("valid config");
    net.set_default_link(LinkConfig { delay: Duration::from_micros(100), loss: 0.001, ..LinkConfig::default() });
    let spec = TransferSpec { client_bytes: 20 << 20, server_bytes: 1 << 20, seed: 7, ..TransferSpec::default() };
    let t = Transfer::start(&mut net, a, b, &spec).expect("start");
    let limit = net.now() + TIME_BOUND;
    let out = t.run(&mut net, limit);
    assert!(out.is_clean(), "{out:?}");
    let segments = out.client_info.unwrap().segs_out + out.server_info.unwrap().segs_out;
    let (supers, datagrams) = (net.super_segments(), net.datagrams());
    println!("offload, short path: {supers} super-segments, {datagrams} datagrams, {segments} segments");
    assert!(supers > 100, "{supers} super-segments");
    assert!(datagrams * 4 < segments, "{datagrams} datagrams for {segments} segments");
}

/// A packet as the network carried it: time, sender, bytes, fate.
type Carried = (u64, usize, Vec<u8>, String);

/// Records a digest of every packet the network carries, with its time and fate.
struct Digest(std::sync::Arc<std::sync::Mutex<Vec<Carried>>>);

impl synack_sim::Observer for Digest {
    fn on_send(
        &mut self,
        now: synack_core::Instant,
        from: usize,
        _to: Option<usize>,
        bytes: &[u8],
        fate: synack_sim::Fate,
    ) {
        self.0.lock().unwrap().push((now.as_micros(), from, bytes.to_vec(), format!("{fate:?}")));
    }
}

fn traced_run(link: LinkConfig, seed: u64) -> (Outcome, Vec<Carried>) {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut net = Network::new(seed);
    let a = net.add_host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), Config::default()).expect("valid config");
    let b = net.add_host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), Config::default()).expect("valid config");
    net.set_default_link(link);
    net.set_observer(Box::new(Digest(log.clone())));
    let spec = TransferSpec { client_bytes: 200_000, server_bytes: 100_000, seed, ..TransferSpec::default() };
    let t = Transfer::start(&mut net, a, b, &spec).expect("start");
    let limit = net.now() + TIME_BOUND;
    let out = t.run(&mut net, limit);
    let packets = std::mem::take(&mut *log.lock().unwrap());
    (out, packets)
}

#[test]
fn same_seed_same_run_byte_for_byte() {
    let link = LinkConfig { loss: 0.05, reorder: 0.05, duplicate: 0.05, corrupt: 0.02, ..base() };
    let (out1, pkts1) = traced_run(link, 42);
    let (out2, pkts2) = traced_run(link, 42);
    assert!(out1.is_clean());
    assert_eq!(out1, out2);
    assert!(pkts1.len() > 100);
    assert!(pkts1 == pkts2, "every packet, its time and its fate are identical");
    let (_, other) = traced_run(link, 43);
    assert!(pkts1 != other, "another seed gives another run");
}
