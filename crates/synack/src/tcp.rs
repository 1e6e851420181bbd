//! `TcpListener` and `TcpStream` over a [`Stack`], shaped like `tokio::net`.

use crate::stack::{io_error, Shared, Stack};
use std::future::poll_fn;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use synack_core::{ConnHandle, Error, ListenerHandle, State};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Connections a listener keeps waiting for `accept`.
const BACKLOG: usize = 1024;

/// A listening socket.
pub struct TcpListener {
    shared: Arc<Shared>,
    handle: ListenerHandle,
    addr: SocketAddr,
    transparent: bool,
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener").field("addr", &self.addr).finish()
    }
}

impl TcpListener {
    /// Listens on `addr`; an unspecified IP accepts for every address of the stack.
    pub async fn bind(stack: &Stack, addr: SocketAddr) -> io::Result<TcpListener> {
        let mut inner = stack.shared.lock();
        if !addr.ip().is_unspecified() && !inner.addresses.contains(&addr.ip()) {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("{} is not an address of this stack", addr.ip()),
            ));
        }
        let handle = inner.ep.listen(addr, BACKLOG).map_err(io_error)?;
        Ok(TcpListener { shared: stack.shared.clone(), handle, addr, transparent: false })
    }

    /// Accepts connections to any destination address and port (what a
    /// transparent proxy on a TUN device needs); each accepted stream's
    /// `local_addr` is the destination the peer asked for.
    pub async fn bind_transparent(stack: &Stack) -> io::Result<TcpListener> {
        let mut inner = stack.shared.lock();
        let handle = inner.ep.listen_any(BACKLOG).map_err(io_error)?;
        inner.any_destination = true;
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        Ok(TcpListener { shared: stack.shared.clone(), handle, addr, transparent: true })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }

    /// Waits for a connection; returns it and the peer's address.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let mut inner = self.shared.lock();
        match inner.ep.accept(self.handle) {
            Ok(h) => {
                inner.conns.entry(h).or_default();
                let peer = inner.ep.tuple(h).map_err(io_error)?.remote;
                drop(inner);
                Poll::Ready(Ok((TcpStream::from_handle(self.shared.clone(), h), peer)))
            }
            Err(Error::WouldBlock) => {
                inner.accept_wakers.insert(self.handle, cx.waker().clone());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(io_error(e))),
        }
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        let now = inner.now();
        let _ = inner.ep.close_listener(now, self.handle);
        inner.accept_wakers.remove(&self.handle);
        if self.transparent {
            inner.any_destination = false;
        }
        drop(inner);
        self.shared.notify.notify_one();
    }
}

/// The connection both halves of a split stream share.
struct Conn {
    shared: Arc<Shared>,
    handle: ConnHandle,
}

impl Drop for Conn {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        let now = inner.now();
        let _ = inner.ep.close(now, self.handle);
        inner.conns.remove(&self.handle);
        drop(inner);
        self.shared.notify.notify_one();
    }
}

impl Conn {
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let mut inner = self.shared.lock();
        let now = inner.now();
        let r = inner.ep.recv(now, self.handle, buf.initialize_unfilled());
        match r {
            Ok(n) => {
                buf.advance(n);
                drop(inner);
                // Reading may open the window: let the driver send an update.
                self.shared.notify.notify_one();
                Poll::Ready(Ok(()))
            }
            Err(Error::WouldBlock) => {
                inner.conns.entry(self.handle).or_default().read = Some(cx.waker().clone());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(io_error(e))),
        }
    }

    fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut inner = self.shared.lock();
        let now = inner.now();
        // Like a kernel socket, data waits for the handshake to finish.
        if matches!(inner.ep.state(self.handle), Ok(State::SynSent | State::SynReceived)) {
            inner.conns.entry(self.handle).or_default().write = Some(cx.waker().clone());
            return Poll::Pending;
        }
        match inner.ep.send(now, self.handle, data) {
            Ok(n) => {
                drop(inner);
                self.shared.notify.notify_one();
                Poll::Ready(Ok(n))
            }
            Err(Error::WouldBlock) => {
                inner.conns.entry(self.handle).or_default().write = Some(cx.waker().clone());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(io_error(e))),
        }
    }

    fn shutdown(&self) -> io::Result<()> {
        let mut inner = self.shared.lock();
        let now = inner.now();
        let r = inner.ep.shutdown(now, self.handle);
        drop(inner);
        self.shared.notify.notify_one();
        match r {
            Ok(()) => Ok(()),
            // Shutting down a connection the peer already finished is not an error.
            Err(Error::NotConnected) => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }

    fn addrs(&self) -> io::Result<(SocketAddr, SocketAddr)> {
        let t = self.shared.lock().ep.tuple(self.handle).map_err(io_error)?;
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
    fn from_handle(shared: Arc<Shared>, handle: ConnHandle) -> TcpStream {
        TcpStream { conn: Arc::new(Conn { shared, handle }), timeouts: Timeouts::default() }
    }

    /// Connects to `addr` from the stack's address of the same family.
    pub async fn connect(stack: &Stack, addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = {
            let mut inner = stack.shared.lock();
            let local_ip =
                inner.addresses.iter().copied().find(|a| a.is_ipv4() == addr.is_ipv4()).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::AddrNotAvailable, "the stack has no address of that family")
                })?;
            let now = inner.now();
            let h = inner.ep.connect(now, SocketAddr::new(local_ip, 0), addr).map_err(io_error)?;
            inner.conns.entry(h).or_default();
            TcpStream::from_handle(stack.shared.clone(), h)
        };
        stack.shared.notify.notify_one();
        poll_fn(|cx| {
            let mut inner = stream.conn.shared.lock();
            let h = stream.conn.handle;
            match inner.ep.state(h) {
                Ok(State::SynSent | State::SynReceived) => {
                    inner.conns.entry(h).or_default().write = Some(cx.waker().clone());
                    Poll::Pending
                }
                Ok(State::Closed) => match inner.ep.close_reason(h) {
                    // Only an established connection is reset (a RST to our
                    // SYN is a refusal): like a kernel socket's connect, this
                    // succeeds, and reading reports the reset.
                    Ok(Some(synack_core::CloseReason::Error(Error::ConnectionReset))) => Poll::Ready(Ok(())),
                    Ok(Some(synack_core::CloseReason::Error(e))) => Poll::Ready(Err(io_error(e))),
                    _ => Poll::Ready(Err(io_error(Error::ConnectionAborted))),
                },
                Ok(_) => Poll::Ready(Ok(())),
                Err(e) => Poll::Ready(Err(io_error(e))),
            }
        })
        .await?;
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
        let mut inner = self.conn.shared.lock();
        let now = inner.now();
        inner.ep.set_nodelay(now, self.conn.handle, nodelay).map_err(io_error)
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
        let mut inner = self.conn.shared.lock();
        let now = inner.now();
        let r = inner.ep.abort(now, self.conn.handle).map_err(io_error);
        inner.dispatch_events();
        drop(inner);
        self.conn.shared.notify.notify_one();
        r
    }

    /// The core's view of the connection (state, RTT, counters).
    pub fn info(&self) -> io::Result<synack_core::ConnectionInfo> {
        self.conn.shared.lock().ep.info(self.conn.handle).map_err(io_error)
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
