//! Single transfers that show particular behaviours end to end.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::time::Duration;
use synack_core::Config;
use synack_sim::transfer::{Outcome, Transfer, TransferSpec};
use synack_sim::{LinkConfig, Network};

fn run(link: LinkConfig, spec: TransferSpec, v6: bool) -> Outcome {
    let mut net = Network::new(spec.seed);
    let (a, b) = if v6 {
        (IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)), IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2)))
    } else {
        (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)))
    };
    let a = net.add_host(a, Config::default()).expect("valid config");
    let b = net.add_host(b, Config::default()).expect("valid config");
    net.set_default_link(link);
    let t = Transfer::start(&mut net, a, b, &spec).unwrap();
    let limit = net.now() + Duration::from_secs(600);
    t.run(&mut net, limit)
}

#[test]
fn clean_transfer_one_megabyte_each_way() {
    let spec = TransferSpec { client_bytes: 1 << 20, server_bytes: 1 << 20, seed: 7, ..TransferSpec::default() };
    let out = run(LinkConfig::default(), spec, false);
    assert!(out.is_clean(), "{out:?}");
}

#[test]
fn transfer_over_ipv6() {
    let spec = TransferSpec { client_bytes: 300_000, server_bytes: 200_000, seed: 3, ..TransferSpec::default() };
    let out = run(LinkConfig { loss: 0.02, ..LinkConfig::default() }, spec, true);
    assert!(out.is_clean(), "{out:?}");
}

#[test]
fn sequence_numbers_wrap_past_two_to_the_32() {
    // The client starts 100 kB below 2^32 and sends 4 MB: its sequence space
    // wraps early in the transfer, under loss and reordering.
    for seed in 0..20 {
        let spec = TransferSpec {
            client_bytes: 4 << 20,
            server_bytes: 64 << 10,
            seed,
            client_iss: Some(u32::MAX - 100_000),
            ..TransferSpec::default()
        };
        let link = LinkConfig { loss: 0.02, reorder: 0.02, ..LinkConfig::default() };
        let out = run(link, spec, false);
        assert!(out.is_clean(), "seed {seed}: {out:?}");
        assert_eq!(out.client_to_server, (4 << 20, 4 << 20));
    }
}

#[test]
fn bandwidth_limit_paces_the_transfer() {
    // 8 Mbit/s: 1 MB cannot take less than one second.
    let spec = TransferSpec { client_bytes: 1 << 20, seed: 1, ..TransferSpec::default() };
    let link = LinkConfig { bandwidth: Some(8_000_000), queue_limit: 50, ..LinkConfig::default() };
    let out = run(link, spec, false);
    assert!(out.is_clean(), "{out:?}");
    assert!(out.duration >= Duration::from_secs(1), "{:?}", out.duration);
}
