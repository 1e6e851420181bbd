//! `TcpStream` over a [`Stack`], shaped like `tokio::net::TcpStream`.
//! Reads and writes touch only the stream's own queues ([`Socket`]);
//! options and addresses are control calls on the core.

use crate::socket::Socket;
use crate::stack::{io_error, Owner, Shared, Stack};
use std::future::poll_fn;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// The connection both halves of a split stream share.
struct Conn {
    owner: Arc<Owner>,
    sock: Arc<Socket>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.sock.drop_by_user();
        self.owner.shared.request_service(&self.sock);
    }
}

impl Conn {
    fn shared(&self) -> &Shared {
        &self.owner.shared
    }

    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let (r, kick) = self.sock.poll_read(cx, buf.initialize_unfilled(), false);
        if kick {
            // The reader made room: the driver moves more in (and the window opens).
            self.shared().request_service(&self.sock);
        }
        r.map_ok(|n| buf.advance(n))
    }

    fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let (r, kick) = self.sock.poll_write(cx, data);
        if kick {
            self.shared().request_service(&self.sock);
        }
        r
    }

    fn shutdown(&self) -> io::Result<()> {
        if self.sock.shutdown()? {
            self.shared().request_service(&self.sock);
        }
        Ok(())
    }

    fn addrs(&self) -> io::Result<(SocketAddr, SocketAddr)> {
        let t = self.shared().lock().ep.tuple(self.sock.handle).map_err(io_error)?;
        Ok((t.local, t.remote))
    }
}

/// Timeouts of blocking reads and writes.
#[derive(Default)]
struct Timeouts {
    read: Option<Duration>,
    write: Option<Duration>,
    read_sleep: Option<Pin<Box<Sleep>>>,
    write_sleep: Option<Pin<Box<Sleep>>>,
}

fn poll_deadline(
    limit: Option<Duration>,
    sleep: &mut Option<Pin<Box<Sleep>>>,
    cx: &mut Context<'_>,
) -> Poll<io::Error> {
    let Some(d) = limit else { return Poll::Pending };
    let s = sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(d)));
    match s.as_mut().poll(cx) {
        Poll::Ready(()) => {
            *sleep = None;
            Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
        }
        Poll::Pending => Poll::Pending,
    }
}

/// A TCP connection.
pub struct TcpStream {
    conn: Arc<Conn>,
    timeouts: Timeouts,
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream").field("addrs", &self.conn.addrs().ok()).finish()
    }
}

impl TcpStream {
    pub(crate) fn new(owner: Arc<Owner>, sock: Arc<Socket>) -> TcpStream {
        TcpStream { conn: Arc::new(Conn { owner, sock }), timeouts: Timeouts::default() }
    }

    /// Connects to `addr` from the stack's address of the same family.
    pub async fn connect(stack: &Stack, addr: SocketAddr) -> io::Result<TcpStream> {
        let shared = stack.shared();
        let stream = {
            let mut core = shared.lock();
            core.check_running()?;
            let local_ip = core.addresses.iter().copied().find(|a| a.is_ipv4() == addr.is_ipv4()).ok_or_else(|| {
                io::Error::new(io::ErrorKind::AddrNotAvailable, "the stack has no address of that family")
            })?;
            let now = core.now();
            let h = core.ep.connect(now, SocketAddr::new(local_ip, 0), addr).map_err(io_error)?;
            let sock = Socket::new(h, false, shared.socket_buffer, shared.socket_buffer);
            core.sockets.insert(h, sock.clone());
            TcpStream::new(stack.owner.clone(), sock)
        };
        shared.notify.notify_one();
        poll_fn(|cx| stream.conn.sock.poll_connected(cx)).await?;
        Ok(stream)
    }

    /// Our address (for a transparent listener: the destination the peer asked for).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.conn.addrs()?.0)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.conn.addrs()?.1)
    }

    /// TCP_NODELAY.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let mut core = self.conn.shared().lock();
        core.check_running()?;
        let now = core.now();
        core.ep.set_nodelay(now, self.conn.sock.handle, nodelay).map_err(io_error)
    }

    /// A read that waits longer than this fails with `TimedOut`.
    pub fn set_read_timeout(&mut self, t: Option<Duration>) {
        self.timeouts.read = t;
        self.timeouts.read_sleep = None;
    }

    /// A write that waits longer than this fails with `TimedOut`.
    pub fn set_write_timeout(&mut self, t: Option<Duration>) {
        self.timeouts.write = t;
        self.timeouts.write_sleep = None;
    }

    /// Resets the connection (RST) instead of closing it gracefully.
    pub fn abort(&self) -> io::Result<()> {
        let shared = self.conn.shared();
        let r = {
            let mut core = shared.lock();
            core.check_running()?;
            let now = core.now();
            core.ep.abort(now, self.conn.sock.handle).map_err(io_error)
        };
        shared.request_service(&self.conn.sock);
        r
    }

    /// Waits until a read would not wait (data, end of stream, or an error).
    /// Cancel safe.
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_read_ready(cx)).await
    }

    /// Polls for read readiness (`Ok` also when the read would fail).
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.conn.sock.poll_read_ready(cx).map(Ok)
    }

    /// Waits until a write would not wait. Cancel safe.
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_write_ready(cx)).await
    }

    /// Polls for write readiness (`Ok` also when the write would fail).
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.conn.sock.poll_write_ready(cx).map(Ok)
    }

    /// Reads without removing the bytes from the stream (MSG_PEEK).
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.conn.sock.poll_read(cx, buf, true).0).await
    }

    /// The core's view of the connection (state, RTT, counters).
    pub fn info(&self) -> io::Result<synack_core::ConnectionInfo> {
        self.conn.shared().lock().ep.info(self.conn.sock.handle).map_err(io_error)
    }

    /// Splits into halves that can be moved to different tasks. Dropping the
    /// write half shuts the write side down (FIN), as tokio's does.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        (OwnedReadHalf { conn: self.conn.clone() }, OwnedWriteHalf { conn: self.conn, shut: false })
    }

    /// Borrowed halves (tokio's `io::split` also works).
    pub fn split(&mut self) -> (tokio::io::ReadHalf<&mut TcpStream>, tokio::io::WriteHalf<&mut TcpStream>) {
        tokio::io::split(self)
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.conn.poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.timeouts.read_sleep = None;
                Poll::Ready(r)
            }
            Poll::Pending => poll_deadline(this.timeouts.read, &mut this.timeouts.read_sleep, cx).map(Err),
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.conn.poll_write(cx, data) {
            Poll::Ready(r) => {
                this.timeouts.write_sleep = None;
                Poll::Ready(r)
            }
            Poll::Pending => poll_deadline(this.timeouts.write, &mut this.timeouts.write_sleep, cx).map(Err),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.conn.shutdown())
    }
}

/// The read half of [`TcpStream::into_split`].
pub struct OwnedReadHalf {
    conn: Arc<Conn>,
}

/// The write half of [`TcpStream::into_split`].
pub struct OwnedWriteHalf {
    conn: Arc<Conn>,
    shut: bool,
}

impl AsyncRead for OwnedReadHalf {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.conn.poll_read(cx, buf)
    }
}

impl AsyncWrite for OwnedWriteHalf {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.conn.poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

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
