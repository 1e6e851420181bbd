//! An in-memory device pair: what one end sends, the other receives. With
//! offload, super-segments cross whole, as between a TSO sender and a GRO
//! receiver, and partial checksums are vouched for by the pipe.

use super::{Device, Offload, RxMeta, TxMeta};
use std::io;
use std::task::{Context, Poll};
use synack_core::Received;
use tokio::sync::mpsc;

/// Datagrams a pipe end holds before it drops (like a full device queue).
const QUEUE: usize = 4096;

/// One end of an in-memory pipe.
#[derive(Debug)]
pub struct PipeDevice {
    tx: mpsc::Sender<(Vec<u8>, TxMeta)>,
    rx: mpsc::Receiver<(Vec<u8>, TxMeta)>,
    mtu: usize,
    offload: Offload,
}

/// Two connected devices with the given MTU, without offload.
pub fn pipe(mtu: usize) -> (PipeDevice, PipeDevice) {
    pipe_with(mtu, Offload::default())
}

/// Two connected devices with segmentation and checksum offload: the
/// stacks exchange super-segments of up to 64 KiB.
pub fn pipe_with_offload(mtu: usize) -> (PipeDevice, PipeDevice) {
    pipe_with(mtu, Offload { segmentation: true, checksum: true })
}

fn pipe_with(mtu: usize, offload: Offload) -> (PipeDevice, PipeDevice) {
    let (a_tx, b_rx) = mpsc::channel(QUEUE);
    let (b_tx, a_rx) = mpsc::channel(QUEUE);
    (PipeDevice { tx: a_tx, rx: a_rx, mtu, offload }, PipeDevice { tx: b_tx, rx: b_rx, mtu, offload })
}

impl Device for PipeDevice {
    fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<RxMeta>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some((p, meta))) => {
                let n = p.len().min(buf.len());
                buf[..n].copy_from_slice(&p[..n]);
                let partial = meta.partial_checksum.then(|| super::tcp_checksum_at(&p));
                let info = Received { checksum_verified: meta.partial_checksum, segment_size: meta.segment_size };
                Poll::Ready(Ok(RxMeta { len: n, info, partial_checksum: partial }))
            }
            Poll::Ready(None) => Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "the other end is gone"))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_send(&mut self, _cx: &mut Context<'_>, packet: &[u8], meta: TxMeta) -> Poll<io::Result<()>> {
        if self.tx.is_closed() {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "the other end is gone")));
        }
        // A full queue drops the datagram, as a real device would.
        let _ = self.tx.try_send((packet.to_vec(), meta));
        Poll::Ready(Ok(()))
    }

    fn mtu(&self) -> usize {
        self.mtu
    }

    fn offload(&self) -> Offload {
        self.offload
    }
}
