//! `TcpListener` over a [`Stack`], shaped like `tokio::net::TcpListener`.

use crate::addr::{resolve, ToSocketAddrs};
use crate::socket::Socket;
use crate::stack::{io_error, Owner, Stack};
use crate::stream::TcpStream;
use crate::tcp_socket::TcpSocket;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};
use synack_core::{Error, ListenerHandle, SocketOptions};

/// The backlog of [`TcpListener::bind`], as tokio's.
const DEFAULT_BACKLOG: usize = 1024;

/// A listening socket.
pub struct TcpListener {
    owner: Arc<Owner>,
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
    /// Listens on `addr` (the first address it names that works) with a
    /// backlog of 1024, as tokio's does; an unspecified IP accepts for
    /// every address of the stack, port 0 picks a free ephemeral port
    /// ([`TcpListener::local_addr`] says which).
    pub async fn bind<A: ToSocketAddrs>(stack: &Stack, addr: A) -> io::Result<TcpListener> {
        let mut last = None;
        for a in resolve(addr).await? {
            let sock = if a.is_ipv6() { TcpSocket::new_v6(stack)? } else { TcpSocket::new_v4(stack)? };
            match sock.bind(a).and_then(|()| sock.listen(DEFAULT_BACKLOG as u32)) {
                Ok(l) => return Ok(l),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    /// A listener on `addr` with a socket's options (see [`TcpSocket::listen`]).
    pub(crate) fn listen(
        stack: &Stack,
        addr: SocketAddr,
        backlog: usize,
        opts: &SocketOptions,
    ) -> io::Result<TcpListener> {
        let mut core = stack.shared().lock();
        core.check_running()?;
        if !addr.ip().is_unspecified() && !core.addresses.contains(&addr.ip()) {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("listen on {addr}: {} is not an address of this stack", addr.ip()),
            ));
        }
        let handle = core
            .ep
            .listen_with(addr, backlog, opts)
            .map_err(|e| io::Error::new(io_error(e).kind(), format!("listen on {addr}: {e}")))?;
        Ok(TcpListener { owner: stack.owner.clone(), handle, addr, transparent: false })
    }

    /// Accepts connections to any destination address and port (what a
    /// transparent proxy on a TUN device needs); each accepted stream's
    /// `local_addr` is the destination the peer asked for.
    pub async fn bind_transparent(stack: &Stack) -> io::Result<TcpListener> {
        let mut core = stack.shared().lock();
        core.check_running()?;
        let handle = core.ep.listen_any(DEFAULT_BACKLOG).map_err(io_error)?;
        core.any_destination = true;
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        Ok(TcpListener { owner: stack.owner.clone(), handle, addr, transparent: true })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }

    /// IP_TTL of the connections it accepts from now on (and of their SYN-ACKs).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let ttl = u8::try_from(ttl).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a TTL is at most 255"))?;
        let mut core = self.owner.shared.lock();
        core.check_running()?;
        let mut opts = core.ep.listener_options(self.handle).map_err(io_error)?.clone();
        opts.hop_limit = ttl;
        core.ep.set_listener_options(self.handle, &opts).map_err(io_error)
    }

    /// IP_TTL as set.
    pub fn ttl(&self) -> io::Result<u32> {
        let core = self.owner.shared.lock();
        Ok(u32::from(core.ep.listener_options(self.handle).map_err(io_error)?.hop_limit))
    }

    /// Waits for a connection; returns it and the peer's address. Cancel
    /// safe: a connection is taken from the queue only when returned.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let shared = &self.owner.shared;
        let mut core = shared.lock();
        core.check_running()?;
        match core.ep.accept(self.handle) {
            Ok(h) => {
                let peer = core.ep.tuple(h).map_err(io_error)?.remote;
                let opts = core.ep.listener_options(self.handle).map_err(io_error)?.clone();
                let sock = Socket::new(h, true, shared.socket_buffer, opts);
                core.sockets.insert(h, sock.clone());
                drop(core);
                // Data (even a FIN) may already wait in the core.
                shared.request_service(&sock);
                Poll::Ready(Ok((TcpStream::new(self.owner.clone(), sock), peer)))
            }
            Err(Error::WouldBlock) => {
                core.accept_wakers.insert(self.handle, cx.waker().clone());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(io_error(e))),
        }
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let shared = &self.owner.shared;
        let mut core = shared.lock();
        let now = core.now();
        let _ = core.ep.close_listener(now, self.handle);
        core.accept_wakers.remove(&self.handle);
        if self.transparent {
            core.any_destination = false;
        }
        drop(core);
        shared.notify.notify_one();
    }
}
