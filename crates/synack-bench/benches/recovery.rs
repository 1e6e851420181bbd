//! Loss recovery in the simulator: the same seeded transfers with SACK
//! (SACK-based recovery, RFC 6675) and without (NewReno, RFC 6582), under
//! several fault profiles. Simulated time is deterministic, so the figures
//! are exact for a given seed range; the ratio is what matters.
//!
//! `cargo bench -p synack-bench --bench recovery` (`SYNACK_SIM_SEEDS=N`, default 300).

use core::net::{IpAddr, Ipv4Addr};
use core::time::Duration;
use synack_core::Config;
use synack_sim::transfer::{Transfer, TransferSpec};
use synack_sim::{LinkConfig, Network};

/// One transfer of 1 MB each way; returns the simulated time it took and its retransmissions.
fn run(link: LinkConfig, sack: bool, seed: u64) -> (Duration, u64) {
    let cfg = Config { sack, ..Config::default() };
    let mut net = Network::new(seed);
    let a = net.add_host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), cfg.clone());
    let b = net.add_host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), cfg);
    net.set_default_link(link);
    let spec = TransferSpec { client_bytes: 1 << 20, server_bytes: 1 << 20, seed, ..TransferSpec::default() };
    let t = Transfer::start(&mut net, a, b, &spec).expect("start");
    let limit = net.now() + Duration::from_secs(3600);
    let out = t.run(&mut net, limit);
    assert!(out.is_clean(), "seed {seed}: {out:?}");
    let retrans = out.client_info.map_or(0, |i| i.total_retrans) + out.server_info.map_or(0, |i| i.total_retrans);
    (out.duration, retrans)
}

fn main() {
    let seeds: u64 = std::env::var("SYNACK_SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    let base = LinkConfig { delay: Duration::from_millis(10), ..LinkConfig::default() };
    let profiles = [
        ("loss 1%", LinkConfig { loss: 0.01, ..base }),
        ("loss 3%", LinkConfig { loss: 0.03, ..base }),
        ("loss 10%", LinkConfig { loss: 0.10, ..base }),
        ("reorder 5%", LinkConfig { reorder: 0.05, jitter: Duration::from_millis(2), ..base }),
        (
            "loss 2% + reorder 3% + dup 2%",
            LinkConfig { loss: 0.02, reorder: 0.03, duplicate: 0.02, jitter: Duration::from_millis(3), ..base },
        ),
    ];
    println!("{seeds} seeds per profile, 1 MB each way, 20 ms RTT; total simulated time (retransmissions)");
    println!("{:<32} {:>20} {:>20} {:>8}", "profile", "SACK recovery", "NewReno (no SACK)", "ratio");
    for (name, link) in profiles {
        let (mut with, mut without) = ((Duration::ZERO, 0), (Duration::ZERO, 0));
        for seed in 0..seeds {
            let (d, r) = run(link, true, seed);
            with = (with.0 + d, with.1 + r);
            let (d, r) = run(link, false, seed);
            without = (without.0 + d, without.1 + r);
        }
        println!(
            "{:<32} {:>12.1} s ({:>5}) {:>12.1} s ({:>5}) {:>7.2}x",
            name,
            with.0.as_secs_f64(),
            with.1,
            without.0.as_secs_f64(),
            without.1,
            without.0.as_secs_f64() / with.0.as_secs_f64()
        );
    }
}
