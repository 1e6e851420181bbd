//! Delivery rate estimation (Linux's tcp_rate.c, tcpi_delivery_rate): a
//! bulk flow through a bottleneck measures the bottleneck's rate, whatever
//! the RTT, and the last, application-limited flight does not lower it.

use core::time::Duration;
use synack_core::Config;
use synack_sim::bottleneck::{run_synack, Bottleneck};

#[test]
fn a_bulk_flow_measures_the_bottleneck_rate() {
    for (rate_bps, rtt_ms) in [(100_000_000u64, 20u64), (100_000_000, 100), (20_000_000, 20)] {
        let b =
            Bottleneck { rate_bps, rtt: Duration::from_millis(rtt_ms), loss: 0.0, bytes: 8 << 20, flows: 1, seed: 1 };
        let r = run_synack(&b, Config::default(), Duration::from_secs(120));
        assert!(r.clean);
        let measured = r.flows[0].delivery_rate.expect("a delivery rate") as f64 * 8.0;
        println!("{} Mbit/s, {rtt_ms} ms: delivery rate {:.1} Mbit/s", rate_bps / 1_000_000, measured / 1e6);
        // Payload only: the link also carries 52 bytes of headers per 1448.
        assert!(measured > 0.8 * rate_bps as f64, "{measured} of {rate_bps}");
        assert!(measured < 1.01 * rate_bps as f64, "{measured} of {rate_bps}");
    }
}
