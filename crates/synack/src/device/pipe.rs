//! An in-memory device pair: what one end sends, the other receives.

use super::Device;
use std::io;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// Datagrams a pipe end holds before it drops (like a full device queue).
const QUEUE: usize = 4096;

/// One end of an in-memory pipe.
#[derive(Debug)]
pub struct PipeDevice {
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<Vec<u8>>,
    mtu: usize,
}

/// Two connected devices with the given MTU.
pub fn pipe(mtu: usize) -> (PipeDevice, PipeDevice) {
    let (a_tx, b_rx) = mpsc::channel(QUEUE);
    let (b_tx, a_rx) = mpsc::channel(QUEUE);
    (PipeDevice { tx: a_tx, rx: a_rx, mtu }, PipeDevice { tx: b_tx, rx: b_rx, mtu })
}

impl Device for PipeDevice {
    fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(p)) => {
                let n = p.len().min(buf.len());
                buf[..n].copy_from_slice(&p[..n]);
                Poll::Ready(Ok(n))
            }
            Poll::Ready(None) => Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "the other end is gone"))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_send(&mut self, _cx: &mut Context<'_>, packet: &[u8]) -> Poll<io::Result<()>> {
        // A full queue drops the datagram, as a real device would.
        let _ = self.tx.try_send(packet.to_vec());
        Poll::Ready(Ok(()))
    }

    fn mtu(&self) -> usize {
        self.mtu
    }
}
