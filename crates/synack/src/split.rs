//! The owned halves of [`TcpStream::into_split`], shaped like tokio's:
//! each half has the methods of its direction (`peek`, `readable`,
//! `try_read*` / `writable`, `try_write*`), both have the addresses and
//! `ready`, and [`OwnedReadHalf::reunite`] makes the stream again.

use crate::stream::{queued_writes, Conn, TcpStream, Timeouts};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf, Ready};

/// Splits a stream into halves that keep its timeouts.
pub(crate) fn split(s: TcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let read = OwnedReadHalf { conn: s.conn.clone(), timeouts: s.timeouts.fresh() };
    (read, OwnedWriteHalf { conn: s.conn, timeouts: s.timeouts.fresh(), shut: false })
}

/// The read half of [`TcpStream::into_split`].
pub struct OwnedReadHalf {
    conn: Arc<Conn>,
    timeouts: Timeouts,
}

/// The write half of [`TcpStream::into_split`]. Dropping it shuts the
/// write side down (FIN), as tokio's does.
pub struct OwnedWriteHalf {
    conn: Arc<Conn>,
    timeouts: Timeouts,
    shut: bool,
}

/// [`OwnedReadHalf::reunite`] was given halves of two different streams.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same socket")
    }
}

impl std::error::Error for ReuniteError {}

fn debug_halves(name: &str, conn: &Conn, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let addrs = conn.addrs().ok();
    f.debug_struct(name).field("local", &addrs.map(|a| a.0)).field("peer", &addrs.map(|a| a.1)).finish()
}

impl fmt::Debug for OwnedReadHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_halves("OwnedReadHalf", &self.conn, f)
    }
}

impl fmt::Debug for OwnedWriteHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_halves("OwnedWriteHalf", &self.conn, f)
    }
}

impl OwnedReadHalf {
    /// The stream again, if `other` is the other half of the same one
    /// (the stream keeps this half's timeouts).
    pub fn reunite(self, mut other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        if !Arc::ptr_eq(&self.conn, &other.conn) {
            return Err(ReuniteError(self, other));
        }
        // The write half no longer shuts the stream down when it goes.
        other.shut = true;
        let timeouts = Timeouts::new(self.timeouts.read_limit(), other.timeouts.write_limit());
        Ok(TcpStream { conn: self.conn.clone(), timeouts })
    }

    /// Our address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.conn.addrs()?.0)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.conn.addrs()?.1)
    }

    /// Reads without removing the bytes (MSG_PEEK). Cancel safe.
    pub async fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.conn.peek(buf).await
    }

    /// Polls a peek into `buf`.
    pub fn poll_peek(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<usize>> {
        self.conn.poll_peek(Some(cx), buf)
    }

    /// Waits until ready for something `interest` names. Cancel safe.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.conn.ready(interest).await
    }

    /// Waits until a read would not wait. Cancel safe.
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Interest::READABLE).await.map(|_| ())
    }

    /// Reads what is there without waiting: `WouldBlock` when nothing is.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.conn.try_read(buf)
    }

    /// [`OwnedReadHalf::try_read`] into several buffers.
    pub fn try_read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.conn.try_read_vectored(bufs)
    }

    /// [`OwnedReadHalf::try_read`] into a `BufMut`.
    pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        self.conn.try_read_buf(buf)
    }
}

impl OwnedWriteHalf {
    /// The stream again, if `other` is the other half of the same one.
    pub fn reunite(self, other: OwnedReadHalf) -> Result<TcpStream, ReuniteError> {
        other.reunite(self)
    }

    /// Our address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.conn.addrs()?.0)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.conn.addrs()?.1)
    }

    /// Waits until ready for something `interest` names. Cancel safe.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.conn.ready(interest).await
    }

    /// Waits until a write would not wait. Cancel safe.
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Interest::WRITABLE).await.map(|_| ())
    }

    /// Writes what fits without waiting: `WouldBlock` when nothing does.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.conn.try_write(&[io::IoSlice::new(buf)])
    }

    /// [`OwnedWriteHalf::try_write`] from several buffers.
    pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.conn.try_write(bufs)
    }
}

impl AsyncRead for OwnedReadHalf {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = this.conn.poll_read(Some(cx), buf);
        this.timeouts.read(r, cx)
    }
}

impl AsyncWrite for OwnedWriteHalf {
    queued_writes!();

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.shut = true;
        Poll::Ready(this.conn.shutdown())
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if !self.shut {
            let _ = self.conn.shutdown();
        }
    }
}
