//! Loss recovery and congestion control in the simulator: the same seeded
//! transfers with SACK (SACK-based recovery, RFC 6675) and without (NewReno,
//! RFC 6582), and with CUBIC (RFC 9438), under several fault profiles.
//! Simulated time is deterministic, so the figures are exact for a given
//! seed range; the ratios are what matter.
//!
//! `cargo bench -p synack-bench --bench recovery` (`SYNACK_SIM_SEEDS=N`, default
//! 300; `SYNACK_SIM_MB=N` megabytes each way, default 1).

use core::net::{IpAddr, Ipv4Addr};
use core::time::Duration;
use synack_core::{Config, CongestionControl};
use synack_sim::transfer::{Transfer, TransferSpec};
use synack_sim::{LinkConfig, Network};

/// One transfer of 1 MB each way; returns the simulated time it took and its retransmissions.
fn run(link: LinkConfig, cfg: &Config, seed: u64, bytes: u64) -> (Duration, u64) {
    let mut net = Network::new(seed);
    let a = net.add_host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), cfg.clone()).expect("valid config");
    let b = net.add_host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), cfg.clone()).expect("valid config");
    net.set_default_link(link);
    let spec = TransferSpec { client_bytes: bytes, server_bytes: bytes, seed, ..TransferSpec::default() };
    let t = Transfer::start(&mut net, a, b, &spec).expect("start");
    let limit = net.now() + Duration::from_secs(3600);
    let out = t.run(&mut net, limit);
    assert!(out.is_clean(), "seed {seed}: {out:?}");
    let retrans = out.client_info.map_or(0, |i| i.total_retrans) + out.server_info.map_or(0, |i| i.total_retrans);
    (out.duration, retrans)
}

fn main() {
    let env = |name: &str, default: u64| std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    let seeds = env("SYNACK_SIM_SEEDS", 300);
    let mb = env("SYNACK_SIM_MB", 1);
    let base = LinkConfig { delay: Duration::from_millis(10), ..LinkConfig::default() };
    let profiles = [
        ("loss 1%", LinkConfig { loss: 0.01, ..base }),
        ("loss 3%", LinkConfig { loss: 0.03, ..base }),
        ("loss 10%", LinkConfig { loss: 0.10, ..base }),
        ("reorder 5%", LinkConfig { reorder: 0.05, jitter: Duration::from_millis(2), ..base }),
        ("loss 1% + reorder 1%", LinkConfig { loss: 0.01, reorder: 0.01, ..base }),
        (
            "loss 2% + reorder 3% + dup 2%",
            LinkConfig { loss: 0.02, reorder: 0.03, duplicate: 0.02, jitter: Duration::from_millis(3), ..base },
        ),
    ];
    let variants = [
        ("SACK + CUBIC", Config { congestion_control: CongestionControl::Cubic, ..Config::default() }),
        ("SACK + NewReno", Config { congestion_control: CongestionControl::NewReno, ..Config::default() }),
        (
            "NewReno, no SACK",
            Config { sack: false, congestion_control: CongestionControl::NewReno, ..Config::default() },
        ),
    ];
    println!("{seeds} seeds per profile, {mb} MB each way, 20 ms RTT: total simulated time (retransmissions),");
    println!("and the speed-up over NewReno without SACK");
    print!("{:<32}", "profile");
    for (name, _) in &variants {
        print!(" {name:>26}");
    }
    println!();
    for (name, link) in profiles {
        let totals: Vec<(Duration, u64)> = variants
            .iter()
            .map(|(_, cfg)| {
                (0..seeds)
                    .map(|seed| run(link, cfg, seed, mb << 20))
                    .fold((Duration::ZERO, 0), |(d, r), (d2, r2)| (d + d2, r + r2))
            })
            .collect();
        let base = totals[totals.len() - 1].0.as_secs_f64();
        print!("{name:<32}");
        for (d, r) in &totals {
            print!(" {:>9.1} s ({:>5}) {:>5.2}x", d.as_secs_f64(), r, base / d.as_secs_f64());
        }
        println!();
    }
}
