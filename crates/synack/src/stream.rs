//! `TcpStream` over a [`Stack`], shaped like `tokio::net::TcpStream`.
//! Reads and writes touch only the stream's own queues ([`Socket`]);
//! options and addresses are control calls on the core.

use crate::addr::{resolve, ToSocketAddrs};
use crate::socket::Socket;
use crate::split::{OwnedReadHalf, OwnedWriteHalf};
use crate::stack::{io_error, Owner, Shared, Stack};
use std::future::poll_fn;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use synack_core::SocketOptions;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf, Ready};
use tokio::time::Sleep;

/// The connection a stream (or both halves of a split stream) holds.
pub(crate) struct Conn {
    pub owner: Arc<Owner>,
    pub sock: Arc<Socket>,
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

    /// A read into `buf`; without a context, `WouldBlock` instead of waiting.
    pub fn poll_read(&self, cx: Option<&Context<'_>>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let (r, kick) = self.sock.poll_read(cx, buf.initialize_unfilled(), false);
        if kick {
            // The reader made room: the driver moves more in (and the window opens).
            self.shared().request_service(&self.sock);
        }
        r.map_ok(|n| buf.advance(n))
    }

    /// A read into several buffers; without a context, `WouldBlock` instead of waiting.
    pub fn poll_read_vectored(
        &self,
        cx: Option<&Context<'_>>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let (r, kick) = self.sock.poll_read_vectored(cx, bufs, false);
        if kick {
            self.shared().request_service(&self.sock);
        }
        r
    }

    /// A peek (MSG_PEEK): the bytes stay in the stream.
    pub fn poll_peek(&self, cx: Option<&Context<'_>>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<usize>> {
        let (r, _) = self.sock.poll_read(cx, buf.initialize_unfilled(), true);
        r.map_ok(|n| {
            buf.advance(n);
            n
        })
    }

    /// A write of `bufs` in order; without a context, `WouldBlock` instead of waiting.
    pub fn poll_write(&self, cx: Option<&Context<'_>>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let (r, kick) = self.sock.poll_write(cx, bufs);
        if kick {
            self.shared().request_service(&self.sock);
        }
        r
    }

    /// A read of what is there: `WouldBlock` when nothing is.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut rb = ReadBuf::new(buf);
        ready_or_would_block(self.poll_read(None, &mut rb))?;
        Ok(rb.filled().len())
    }

    /// [`Conn::try_read`] into several buffers, in order.
    pub fn try_read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        ready_or_would_block(self.poll_read_vectored(None, bufs))
    }

    /// [`Conn::try_read`] into a `BufMut`'s spare capacity.
    pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        let spare = buf.chunk_mut();
        // SAFETY: `UninitSlice` is a `[MaybeUninit<u8>]` of this length; ReadBuf
        // only writes initialized bytes into it and reports how many.
        let dst = unsafe { std::slice::from_raw_parts_mut(spare.as_mut_ptr().cast(), spare.len()) };
        let mut rb = ReadBuf::uninit(dst);
        ready_or_would_block(self.poll_read(None, &mut rb))?;
        let n = rb.filled().len();
        // SAFETY: the first `n` bytes of the spare capacity were written above.
        unsafe { buf.advance_mut(n) };
        Ok(n)
    }

    /// A write of what fits from `bufs`, in order: `WouldBlock` when nothing does.
    pub fn try_write(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        ready_or_would_block(self.poll_write(None, bufs))
    }

    /// A peek that waits for data (MSG_PEEK).
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.sock.poll_read(Some(cx), buf, true).0).await
    }

    /// Waits until ready for something `interest` names.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        Ok(poll_fn(|cx| self.sock.poll_ready(cx, interest)).await)
    }

    /// tokio's `try_io`: runs `f` when ready for `interest`, else `WouldBlock`.
    pub fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        if !self.sock.ready_now(interest) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        f()
    }

    pub fn shutdown(&self) -> io::Result<()> {
        if self.sock.shutdown()? {
            self.shared().request_service(&self.sock);
        }
        Ok(())
    }

    pub fn addrs(&self) -> io::Result<(SocketAddr, SocketAddr)> {
        let t = self.shared().lock().ep.tuple(self.sock.handle).map_err(io_error)?;
        Ok((t.local, t.remote))
    }

    /// Changes the socket's options, and its connection's.
    pub fn set_options(&self, f: impl FnOnce(&mut SocketOptions)) -> io::Result<()> {
        let mut opts = self.sock.options();
        f(&mut opts);
        let mut core = self.shared().lock();
        core.check_running()?;
        let now = core.now();
        match core.ep.set_options(now, self.sock.handle, &opts) {
            // A connection that ended keeps its socket's options (as a kernel socket does).
            Ok(()) | Err(synack_core::Error::InvalidHandle) => {}
            Err(e) => return Err(io_error(e)),
        }
        drop(core);
        self.sock.set_options(opts);
        self.shared().request_service(&self.sock);
        Ok(())
    }
}

/// Timeouts of blocking reads and writes.
#[derive(Default)]
pub(crate) struct Timeouts {
    read: Option<Duration>,
    write: Option<Duration>,
    read_sleep: Option<Pin<Box<Sleep>>>,
    write_sleep: Option<Pin<Box<Sleep>>>,
}

impl Timeouts {
    /// The same limits, with no wait in progress.
    pub fn fresh(&self) -> Timeouts {
        Timeouts::new(self.read, self.write)
    }

    /// These limits, with no wait in progress.
    pub fn new(read: Option<Duration>, write: Option<Duration>) -> Timeouts {
        Timeouts { read, write, read_sleep: None, write_sleep: None }
    }

    /// The read limit.
    pub fn read_limit(&self) -> Option<Duration> {
        self.read
    }

    /// The write limit.
    pub fn write_limit(&self) -> Option<Duration> {
        self.write
    }

    /// A read that returned `r`: a pending one fails once the read timeout passes.
    pub fn read<T>(&mut self, r: Poll<io::Result<T>>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        timed(r, self.read, &mut self.read_sleep, cx)
    }

    /// A write that returned `r`: a pending one fails once the write timeout passes.
    pub fn write<T>(&mut self, r: Poll<io::Result<T>>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        timed(r, self.write, &mut self.write_sleep, cx)
    }
}

/// `r`, or `TimedOut` once a pending call has waited `limit`; a finished call clears the wait.
fn timed<T>(
    r: Poll<io::Result<T>>,
    limit: Option<Duration>,
    sleep: &mut Option<Pin<Box<Sleep>>>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<T>> {
    match r {
        Poll::Ready(r) => {
            *sleep = None;
            Poll::Ready(r)
        }
        Poll::Pending => poll_deadline(limit, sleep, cx).map(Err),
    }
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

/// A TCP connection, with `tokio::net::TcpStream`'s methods (see the crate
/// docs for the table). Cancel safety is tokio's: `readable`, `writable`,
/// `ready`, `peek` and every `poll_*`/`try_*` method are cancel safe.
pub struct TcpStream {
    pub(crate) conn: Arc<Conn>,
    pub(crate) timeouts: Timeouts,
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addrs = self.conn.addrs().ok();
        f.debug_struct("TcpStream").field("local", &addrs.map(|a| a.0)).field("peer", &addrs.map(|a| a.1)).finish()
    }
}

/// Adds the address to an error, keeping its kind ("connect to 10.0.0.2:80: connection refused").
fn with_addr(e: io::Error, what: &str, addr: SocketAddr) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {addr}: {e}"))
}

impl TcpStream {
    pub(crate) fn new(owner: Arc<Owner>, sock: Arc<Socket>) -> TcpStream {
        TcpStream { conn: Arc::new(Conn { owner, sock }), timeouts: Timeouts::default() }
    }

    /// Connects to `addr` (each address it names in turn, until one
    /// succeeds) from the stack's address of the same family and an
    /// ephemeral port. Errors name the address. Not cancel safe in the
    /// sense tokio's is not either: a dropped future abandons the attempt.
    pub async fn connect<A: ToSocketAddrs>(stack: &Stack, addr: A) -> io::Result<TcpStream> {
        let mut last = None;
        for a in resolve(addr).await? {
            let opts = stack.shared().lock().ep.socket_options();
            match TcpStream::open(stack, None, a, opts).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    /// Opens a connection from `local` (or the stack's address of the
    /// family and an ephemeral port) to `remote` with a socket's options.
    pub(crate) async fn open(
        stack: &Stack,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        opts: SocketOptions,
    ) -> io::Result<TcpStream> {
        let shared = stack.shared();
        let stream = {
            let mut core = shared.lock();
            core.check_running()?;
            let local = match local {
                Some(l) => l,
                None => {
                    let ip =
                        core.addresses.iter().copied().find(|a| a.is_ipv4() == remote.is_ipv4()).ok_or_else(|| {
                            io::Error::new(
                                io::ErrorKind::AddrNotAvailable,
                                format!("connect to {remote}: the stack has no address of that family"),
                            )
                        })?;
                    SocketAddr::new(ip, 0)
                }
            };
            let now = core.now();
            let h = core
                .ep
                .connect_with(now, local, remote, &opts)
                .map_err(|e| with_addr(io_error(e), "connect to", remote))?;
            let sock = Socket::new(h, false, shared.socket_buffer, opts);
            core.sockets.insert(h, sock.clone());
            TcpStream::new(stack.owner.clone(), sock)
        };
        shared.notify.notify_one();
        poll_fn(|cx| stream.conn.sock.poll_connected(cx)).await.map_err(|e| with_addr(e, "connect to", remote))?;
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

    /// TCP_NODELAY: turns Nagle's algorithm off (true) or on.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.conn.set_options(|o| o.nodelay = nodelay)
    }

    /// TCP_NODELAY as set.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(self.conn.sock.options().nodelay)
    }

    /// SO_LINGER: `Some(Duration::ZERO)` makes dropping the stream reset
    /// the connection (RST) at once, discarding unsent data. Another value
    /// is kept and reported: a drop never blocks, and the connection
    /// finishes sending in the background (what Linux does once the linger
    /// time is over).
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.conn.set_options(|o| o.linger = linger)
    }

    /// SO_LINGER as set.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        Ok(self.conn.sock.options().linger)
    }

    /// IP_TTL (IPv6: the unicast hop limit) of the connection's datagrams;
    /// 0 is `InvalidInput`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let ttl = u8::try_from(ttl).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a TTL is at most 255"))?;
        self.conn.set_options(|o| o.hop_limit = ttl)
    }

    /// IP_TTL as set.
    pub fn ttl(&self) -> io::Result<u32> {
        Ok(u32::from(self.conn.sock.options().hop_limit))
    }

    /// IP_TOS (IPv6: the Traffic Class) of the connection's datagrams: the
    /// DSCP in the upper six bits (RFC 2474). The ECN bits are TCP's, as on
    /// Linux, and dropped; above 255 is `InvalidInput`.
    pub fn set_tos(&self, tos: u32) -> io::Result<()> {
        let tos = crate::tcp_socket::tos_byte(tos)?;
        self.conn.set_options(|o| o.set_tos(tos))
    }

    /// IP_TOS as set (without the ECN bits).
    pub fn tos(&self) -> io::Result<u32> {
        Ok(u32::from(self.conn.sock.options().tos))
    }

    /// The connection's error, once (SO_ERROR); `None` when there is none
    /// or it was taken already.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(self.conn.sock.take_error())
    }

    /// A read that waits longer than this fails with `TimedOut`.
    pub fn set_read_timeout(&mut self, t: Option<Duration>) {
        self.timeouts = Timeouts::new(t, self.timeouts.write);
    }

    /// A write that waits longer than this fails with `TimedOut`.
    pub fn set_write_timeout(&mut self, t: Option<Duration>) {
        self.timeouts = Timeouts::new(self.timeouts.read, t);
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

    /// Waits until the stream is ready for something `interest` names and
    /// says what (readable, writable, read or write closed). Cancel safe.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.conn.ready(interest).await
    }

    /// Waits until a read would not wait (data, end of stream, or an error).
    /// Cancel safe.
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Interest::READABLE).await.map(|_| ())
    }

    /// Polls for read readiness (`Ok` also when the read would fail).
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.conn.sock.poll_ready(cx, Interest::READABLE).map(|_| Ok(()))
    }

    /// Waits until a write would not wait. Cancel safe.
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Interest::WRITABLE).await.map(|_| ())
    }

    /// Polls for write readiness (`Ok` also when the write would fail).
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.conn.sock.poll_ready(cx, Interest::WRITABLE).map(|_| Ok(()))
    }

    /// Reads without removing the bytes from the stream (MSG_PEEK). Cancel safe.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.conn.peek(buf).await
    }

    /// Polls a peek into `buf`; returns how many bytes it holds.
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<usize>> {
        self.conn.poll_peek(Some(cx), buf)
    }

    /// Reads what is there without waiting: `WouldBlock` when nothing is.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.conn.try_read(buf)
    }

    /// [`TcpStream::try_read`] into several buffers, in order.
    pub fn try_read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.conn.try_read_vectored(bufs)
    }

    /// [`TcpStream::try_read`] into a `BufMut`'s spare capacity.
    pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        self.conn.try_read_buf(buf)
    }

    /// Writes what fits without waiting: `WouldBlock` when nothing does.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.conn.try_write(&[io::IoSlice::new(buf)])
    }

    /// [`TcpStream::try_write`] from several buffers, in order.
    pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.conn.try_write(bufs)
    }

    /// tokio's `try_io`: runs `f` if the stream is ready for `interest`,
    /// else `WouldBlock`. There is no descriptor under a synack stream, so
    /// `f` does its I/O with the `try_*` methods.
    pub fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        self.conn.try_io(interest, f)
    }

    /// The core's view of the connection (state, RTT, counters).
    pub fn info(&self) -> io::Result<synack_core::ConnectionInfo> {
        self.conn.shared().lock().ep.info(self.conn.sock.handle).map_err(io_error)
    }

    /// Splits into halves that can be moved to different tasks; each keeps
    /// the stream's read and write timeouts. Dropping the write half shuts
    /// the write side down (FIN), as tokio's does; [`OwnedReadHalf::reunite`]
    /// puts them back together.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        crate::split::split(self)
    }

    /// Borrowed halves (tokio's `io::split` also works).
    pub fn split(&mut self) -> (tokio::io::ReadHalf<&mut TcpStream>, tokio::io::WriteHalf<&mut TcpStream>) {
        tokio::io::split(self)
    }
}

/// A `try_` call's result: a pending poll cannot happen without a context.
fn ready_or_would_block<T>(p: Poll<io::Result<T>>) -> io::Result<T> {
    match p {
        Poll::Ready(r) => r,
        Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = this.conn.poll_read(Some(cx), buf);
        this.timeouts.read(r, cx)
    }
}

/// The `AsyncWrite` methods a stream and its write half share: writes go
/// to the socket's queue, with the write timeout.
macro_rules! queued_writes {
    () => {
        fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
            self.poll_write_vectored(cx, &[io::IoSlice::new(data)])
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let r = this.conn.poll_write(Some(cx), bufs);
            this.timeouts.write(r, cx)
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    };
}
pub(crate) use queued_writes;

impl AsyncWrite for TcpStream {
    queued_writes!();

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.conn.shutdown())
    }
}
