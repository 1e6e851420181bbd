//! Dropping a stack on a TUN device closes the device: descriptors come
//! back. Alone in its test binary, so no other test opens descriptors
//! meanwhile. Needs root (see synack-testnet).

use std::net::SocketAddr;
use std::time::Duration;
use synack::TcpListener;
use synack_testnet::{self as netenv, NetEnv, SYNACK_IP};

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_tun_stacks_close_their_devices() {
    if !netenv::require() {
        return;
    }
    let before = open_descriptors();
    for _ in 0..50 {
        let (env, dev) = NetEnv::new();
        let stack = NetEnv::stack(dev);
        let l = TcpListener::bind(&stack, SocketAddr::new(SYNACK_IP.parse().unwrap(), 7)).await.unwrap();
        drop(l);
        drop(stack);
        drop(env);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while open_descriptors() > before && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(open_descriptors(), before, "every TUN descriptor closed");
}
