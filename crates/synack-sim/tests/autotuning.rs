//! Receive-buffer autotuning (Linux's tcp_rcv_space_adjust): with the
//! default configuration the receive buffer starts at 128 KiB and grows to
//! what the path needs, so a long fat path runs at the link's rate without
//! a configured buffer, while a short path keeps the buffer small.

use core::time::Duration;
use synack_core::Config;
use synack_sim::bottleneck::{run_synack, Bottleneck};

fn path(rtt_ms: u64) -> Bottleneck {
    Bottleneck::clean(100_000_000, rtt_ms)
}

fn run(rtt_ms: u64, cfg: Config) -> (f64, usize) {
    let r = run_synack(&path(rtt_ms), cfg, Duration::from_secs(120));
    assert!(r.clean);
    (r.flows[0].goodput_bps() / 1e6, r.flows[0].receive_buffer)
}

#[test]
fn the_receive_buffer_grows_to_what_a_long_fat_path_needs() {
    let initial = Config::default().recv_buffer_initial;
    let (tuned, tuned_buffer) = run(100, Config::default());
    // The same start without autotuning: the window stays at the initial buffer.
    let fixed_cfg = Config { recv_autotuning: false, recv_buffer: initial, ..Config::default() };
    let (fixed, _) = run(100, fixed_cfg);
    // A large fixed buffer: what autotuning should come close to.
    let (large, _) = run(100, Config { recv_autotuning: false, ..Config::default() });
    println!(
        "100 ms: autotuned {tuned:.1} Mbit/s (buffer {tuned_buffer} B), fixed {initial} B {fixed:.1}, fixed 8 MiB {large:.1}"
    );
    // 128 KiB per 100 ms is about 10 Mbit/s; the path's BDP is 1.25 MB.
    assert!(fixed < 12.0, "a 128 KiB window bounds the fixed buffer: {fixed:.1}");
    assert!(tuned > 3.0 * fixed, "autotuning lifts the window limit: {tuned:.1} vs {fixed:.1}");
    assert!(tuned > 0.9 * large, "and comes close to a large fixed buffer: {tuned:.1} vs {large:.1}");
    assert!(tuned_buffer > 1_250_000, "the buffer grew past the BDP: {tuned_buffer}");
}

#[test]
fn a_short_path_keeps_the_receive_buffer_small() {
    let (_, buffer) = run(1, Config::default());
    let max = Config::default().recv_buffer;
    println!("1 ms: buffer {buffer} B of at most {max}");
    // BDP 12.5 kB: twice what an RTT carries plus 16 segments, with room for growth.
    assert!(buffer < 1 << 20, "the buffer stays near the path's needs: {buffer}");
}
