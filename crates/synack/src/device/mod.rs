//! Devices carry IP datagrams between the stack and the world: a Linux TUN
//! device, an in-memory pipe (two stacks in one process), and wrappers that
//! record (pcap) or damage (faults) the traffic of any device. A device may
//! offer segmentation and checksum offload ([`Device::offload`]): then the
//! stack sends TCP super-segments of up to 64 KiB with the segment size to
//! cut them at ([`TxMeta`]), and the device may deliver coalesced segments
//! and vouch for checksums ([`RxMeta`]).

mod faults;
mod pcap;
mod pipe;
mod tun;

pub use faults::{Faults, FaultyDevice};
pub use pcap::PcapTap;
pub use pipe::{pipe, pipe_with_offload, PipeDevice};
pub use synack_core::Offload;
pub use tun::{TunDevice, TunOptions};

use std::io;
use std::task::{Context, Poll};

/// Largest datagram with segmentation offload (the IPv4 total length field).
pub const MAX_DATAGRAM: usize = 65_535;

/// What goes with a datagram the stack sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxMeta {
    /// A TCP super-segment to be cut into segments of this payload size.
    pub segment_size: Option<u16>,
    /// The TCP checksum field holds only the pseudo-header sum; the device
    /// (or the kernel behind it) completes it.
    pub partial_checksum: bool,
}

/// What a device knows of a datagram it delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RxMeta {
    /// Its length in the buffer.
    pub len: usize,
    /// Checksum verified (or still to be completed by the local sender),
    /// and the segment size of a coalesced TCP segment.
    pub info: synack_core::Received,
    /// The checksum at `csum_start + csum_offset` holds only the pseudo-header
    /// sum (`(csum_start, csum_offset)`): the local sender left it for the
    /// device. Whoever needs it whole (a capture) completes it.
    pub partial_checksum: Option<(u16, u16)>,
}

impl RxMeta {
    /// A plain datagram of `len` bytes.
    pub fn plain(len: usize) -> Self {
        Self { len, info: synack_core::Received::default(), partial_checksum: None }
    }
}

/// Something that sends and receives whole IP datagrams.
pub trait Device: Send + 'static {
    /// Receives one datagram into `buf` (which holds [`Device::max_datagram`]
    /// bytes), returning its length and what the device knows of it.
    fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<RxMeta>>;
    /// Sends one datagram (a super-segment only if [`Device::offload`] says so).
    fn poll_send(&mut self, cx: &mut Context<'_>, packet: &[u8], meta: TxMeta) -> Poll<io::Result<()>>;
    /// The link MTU: the largest datagram on the wire.
    fn mtu(&self) -> usize;
    /// The offloads the device performs (none by default).
    fn offload(&self) -> Offload {
        Offload::default()
    }
    /// The largest datagram it hands over or takes: the MTU, or 64 KiB with
    /// segmentation offload.
    fn max_datagram(&self) -> usize {
        if self.offload().segmentation {
            MAX_DATAGRAM
        } else {
            self.mtu()
        }
    }
}

impl Device for Box<dyn Device> {
    fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<RxMeta>> {
        (**self).poll_recv(cx, buf)
    }

    fn poll_send(&mut self, cx: &mut Context<'_>, packet: &[u8], meta: TxMeta) -> Poll<io::Result<()>> {
        (**self).poll_send(cx, packet, meta)
    }

    fn mtu(&self) -> usize {
        (**self).mtu()
    }

    fn offload(&self) -> Offload {
        (**self).offload()
    }

    fn max_datagram(&self) -> usize {
        (**self).max_datagram()
    }
}

/// Where a TCP checksum left partial sits: `(csum_start, csum_offset)`
/// after the IP header (no IPv6 extension headers: synack sends none).
pub(crate) fn tcp_checksum_at(packet: &[u8]) -> (u16, u16) {
    let ip_hl = match packet.first() {
        Some(b) if b >> 4 == 6 => 40,
        Some(b) => u16::from(b & 0x0f) * 4,
        None => 20,
    };
    (ip_hl, 16)
}

/// Cuts a datagram the stack sent into what a link without offload
/// carries: the segments of a super-segment, or the datagram itself with
/// its checksum completed. `emit` gets each one.
pub(crate) fn for_each_segment(packet: &[u8], meta: TxMeta, mut emit: impl FnMut(&[u8])) {
    if meta.segment_size.is_none() && !meta.partial_checksum {
        emit(packet);
        return;
    }
    let size = meta.segment_size.map_or(usize::MAX, usize::from);
    let Ok(mut cut) = synack_wire::offload::Segmenter::new(packet, size) else {
        emit(packet);
        return;
    };
    let mut piece = vec![0u8; packet.len().min(size.saturating_add(120))];
    while let Some(n) = cut.next_into(&mut piece) {
        emit(&piece[..n]);
    }
}
