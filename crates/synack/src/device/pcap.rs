//! A pcap tap: records every datagram a device sends or receives, as
//! LINKTYPE_RAW, for tshark and Wireshark. Records are flushed every few
//! packets and when the tap is dropped. With offload, super-segments are
//! recorded whole (as tcpdump shows them on the interface), and partial
//! checksums are completed in the record so that the capture reads clean.

use super::{Device, Offload, RxMeta, TxMeta};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::task::{Context, Poll};
use std::time::SystemTime;

/// LINKTYPE_RAW: each record is an IPv4 or IPv6 datagram.
const LINKTYPE_RAW: u32 = 101;
/// Flush after this many records.
const FLUSH_EVERY: u32 = 32;

/// A device that writes its traffic to a pcap file.
pub struct PcapTap<D> {
    inner: D,
    out: BufWriter<File>,
    unflushed: u32,
    /// A copy of a datagram whose checksum is completed for the record.
    scratch: Vec<u8>,
}

impl<D: Device> PcapTap<D> {
    /// Wraps `inner`, creating the capture file at `path`.
    pub fn new(inner: D, path: &Path) -> io::Result<Self> {
        let mut out = BufWriter::new(File::create(path)?);
        // The pcap global header: magic, version 2.4, zone 0, sigfigs 0, snaplen, link type.
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&65535u32.to_le_bytes())?;
        out.write_all(&LINKTYPE_RAW.to_le_bytes())?;
        out.flush()?;
        Ok(PcapTap { inner, out, unflushed: 0, scratch: Vec::new() })
    }

    /// Records `packet`, completing a partial checksum at `(start, offset)` first.
    fn record_completed(&mut self, packet: &[u8], partial: Option<(u16, u16)>) {
        let Some((start, offset)) = partial else {
            self.record(packet);
            return;
        };
        let mut copy = std::mem::take(&mut self.scratch);
        copy.clear();
        copy.extend_from_slice(packet);
        let _ = synack_wire::offload::complete_checksum(&mut copy, usize::from(start), usize::from(offset));
        self.record(&copy);
        self.scratch = copy;
    }

    fn record(&mut self, packet: &[u8]) {
        let ts = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let len = packet.len() as u32;
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&(ts.as_secs() as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&ts.subsec_micros().to_le_bytes());
        rec[8..12].copy_from_slice(&len.to_le_bytes());
        rec[12..16].copy_from_slice(&len.to_le_bytes());
        let _ = self.out.write_all(&rec).and_then(|()| self.out.write_all(packet));
        self.unflushed += 1;
        if self.unflushed >= FLUSH_EVERY {
            self.unflushed = 0;
            let _ = self.out.flush();
        }
    }
}

impl<D> Drop for PcapTap<D> {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

impl<D: Device> Device for PcapTap<D> {
    fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<RxMeta>> {
        let r = self.inner.poll_recv(cx, buf);
        if let Poll::Ready(Ok(meta)) = r {
            self.record_completed(&buf[..meta.len], meta.partial_checksum);
        }
        r
    }

    fn poll_send(&mut self, cx: &mut Context<'_>, packet: &[u8], meta: TxMeta) -> Poll<io::Result<()>> {
        let r = self.inner.poll_send(cx, packet, meta);
        if let Poll::Ready(Ok(())) = r {
            let partial = meta.partial_checksum.then(|| super::tcp_checksum_at(packet));
            self.record_completed(packet, partial);
        }
        r
    }

    fn mtu(&self) -> usize {
        self.inner.mtu()
    }

    fn offload(&self) -> Offload {
        self.inner.offload()
    }

    fn max_datagram(&self) -> usize {
        self.inner.max_datagram()
    }
}
