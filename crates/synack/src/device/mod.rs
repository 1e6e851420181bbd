//! Devices carry IP datagrams between the stack and the world: a Linux TUN
//! device, an in-memory pipe (two stacks in one process), and wrappers that
//! record (pcap) or damage (faults) the traffic of any device.

mod faults;
mod pcap;
mod pipe;
mod tun;

pub use faults::{Faults, FaultyDevice};
pub use pcap::PcapTap;
pub use pipe::{pipe, PipeDevice};
pub use tun::TunDevice;

use std::io;
use std::task::{Context, Poll};

/// Something that sends and receives whole IP datagrams.
pub trait Device: Send + 'static {
    /// Receives one datagram into `buf`, returning its length.
    fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
    /// Sends one datagram.
    fn poll_send(&mut self, cx: &mut Context<'_>, packet: &[u8]) -> Poll<io::Result<()>>;
    /// The largest datagram it carries.
    fn mtu(&self) -> usize;
}

impl Device for Box<dyn Device> {
    fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        (**self).poll_recv(cx, buf)
    }

    fn poll_send(&mut self, cx: &mut Context<'_>, packet: &[u8]) -> Poll<io::Result<()>> {
        (**self).poll_send(cx, packet)
    }

    fn mtu(&self) -> usize {
        (**self).mtu()
    }
}
