//! `TcpSocket`: a socket not yet connected or listening, shaped like
//! `tokio::net::TcpSocket`. Options set on it are the socket's own
//! (synack-core's `SocketOptions`), taken by the connection it opens or by
//! every connection the listener it becomes accepts.

use crate::listener::TcpListener;
use crate::stack::{io_error, Stack};
use crate::stream::TcpStream;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use synack_core::SocketOptions;

/// What a socket holds before it connects or listens.
#[derive(Debug)]
struct Inner {
    /// The address `bind` took (its port reserved in the stack).
    bound: Option<SocketAddr>,
    opts: SocketOptions,
    reuseaddr: bool,
    reuseport: bool,
}

/// A TCP socket to configure, then `connect` or `listen`.
#[derive(Debug)]
pub struct TcpSocket {
    stack: Stack,
    v6: bool,
    inner: Mutex<Inner>,
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_owned())
}

/// A buffer size as SO_SNDBUF/SO_RCVBUF take it: at least one byte.
fn buffer_size(size: u32) -> io::Result<usize> {
    if size == 0 {
        return Err(invalid("a buffer holds at least one byte"));
    }
    Ok(size as usize)
}

impl TcpSocket {
    /// An IPv4 socket on `stack`.
    pub fn new_v4(stack: &Stack) -> io::Result<TcpSocket> {
        TcpSocket::new(stack, false)
    }

    /// An IPv6 socket on `stack`.
    pub fn new_v6(stack: &Stack) -> io::Result<TcpSocket> {
        TcpSocket::new(stack, true)
    }

    fn new(stack: &Stack, v6: bool) -> io::Result<TcpSocket> {
        let core = stack.shared().lock();
        core.check_running()?;
        let opts = core.ep.socket_options();
        drop(core);
        let inner = Inner { bound: None, opts, reuseaddr: false, reuseport: false };
        Ok(TcpSocket { stack: stack.clone(), v6, inner: Mutex::new(inner) })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Binds to `addr`: an address of the stack (or unspecified) of the
    /// socket's family; port 0 picks a free ephemeral port now.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        if addr.is_ipv6() != self.v6 {
            return Err(invalid("the address is not of the socket's family"));
        }
        let mut inner = self.lock();
        if inner.bound.is_some() {
            return Err(invalid("the socket is bound already"));
        }
        let mut core = self.stack.shared().lock();
        core.check_running()?;
        if !addr.ip().is_unspecified() && !core.addresses.contains(&addr.ip()) {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("bind to {addr}: {} is not an address of this stack", addr.ip()),
            ));
        }
        let addr = if addr.port() == 0 {
            let core = &mut *core;
            let reserved = &core.reserved;
            let port = core
                .ep
                .free_port(addr.ip(), |p| reserved.iter().any(|r| r.port() == p))
                .map_err(|e| io::Error::new(io_error(e).kind(), format!("bind to {addr}: no free port")))?;
            SocketAddr::new(addr.ip(), port)
        } else {
            let clash = core.reserved.iter().any(|r| {
                r.port() == addr.port()
                    && (r.ip() == addr.ip() || r.ip().is_unspecified() || addr.ip().is_unspecified())
            });
            if clash && !inner.reuseport {
                return Err(io::Error::new(io::ErrorKind::AddrInUse, format!("bind to {addr}: address in use")));
            }
            addr
        };
        core.reserved.push(addr);
        inner.bound = Some(addr);
        Ok(())
    }

    /// The address bound to (the unspecified address and port 0 before `bind`).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let unspecified = if self.v6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
        Ok(self.lock().bound.unwrap_or(SocketAddr::new(unspecified, 0)))
    }

    /// SO_REUSEADDR. synack has no TIME-WAIT bind conflicts, so this only
    /// records the flag.
    pub fn set_reuseaddr(&self, on: bool) -> io::Result<()> {
        self.lock().reuseaddr = on;
        Ok(())
    }

    /// SO_REUSEADDR as set.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        Ok(self.lock().reuseaddr)
    }

    /// SO_REUSEPORT: another socket may bind the same address and port
    /// (only one of them can listen on it).
    pub fn set_reuseport(&self, on: bool) -> io::Result<()> {
        self.lock().reuseport = on;
        Ok(())
    }

    /// SO_REUSEPORT as set.
    pub fn reuseport(&self) -> io::Result<bool> {
        Ok(self.lock().reuseport)
    }

    /// SO_KEEPALIVE (the stack's idle time, interval and count, RFC 9293 §3.8.4).
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        self.lock().opts.keepalive = on;
        Ok(())
    }

    /// SO_KEEPALIVE as set.
    pub fn keepalive(&self) -> io::Result<bool> {
        Ok(self.lock().opts.keepalive)
    }

    /// TCP_NODELAY.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.lock().opts.nodelay = on;
        Ok(())
    }

    /// TCP_NODELAY as set.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(self.lock().opts.nodelay)
    }

    /// SO_SNDBUF: bytes of data the send buffer holds (not doubled as
    /// Linux reports it). 0 is `InvalidInput`.
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.lock().opts.send_buffer = buffer_size(size)?;
        Ok(())
    }

    /// SO_SNDBUF as set.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        Ok(u32::try_from(self.lock().opts.send_buffer).unwrap_or(u32::MAX))
    }

    /// SO_RCVBUF: bytes the receive buffer holds; set before `connect` or
    /// `listen`, it also sizes the window scale offered (RFC 7323 §2.2).
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        let mut s = self.lock();
        s.opts.recv_buffer = buffer_size(size)?;
        // A size set by the user ends autotuning, as Linux's SOCK_RCVBUF_LOCK.
        s.opts.recv_autotune = false;
        Ok(())
    }

    /// SO_RCVBUF as set.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        Ok(u32::try_from(self.lock().opts.recv_buffer).unwrap_or(u32::MAX))
    }

    /// SO_LINGER (see [`TcpStream::set_linger`]).
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.lock().opts.linger = linger;
        Ok(())
    }

    /// SO_LINGER as set.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        Ok(self.lock().opts.linger)
    }

    /// IP_TOS (see [`TcpStream::set_tos`]); a listener's accepted
    /// connections and their SYN-ACKs carry it too.
    pub fn set_tos(&self, tos: u32) -> io::Result<()> {
        let tos = tos_byte(tos)?;
        self.lock().opts.set_tos(tos);
        Ok(())
    }

    /// IP_TOS as set.
    pub fn tos(&self) -> io::Result<u32> {
        Ok(u32::from(self.lock().opts.tos))
    }

    /// Connects to `addr` with this socket's options, from the bound
    /// address if there is one.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        if addr.is_ipv6() != self.v6 {
            return Err(invalid("the address is not of the socket's family"));
        }
        let (bound, opts) = {
            let inner = self.lock();
            (inner.bound, inner.opts.clone())
        };
        let local = match bound {
            Some(b) if b.ip().is_unspecified() => {
                let core = self.stack.shared().lock();
                let ip = core.addresses.iter().copied().find(|a| a.is_ipv6() == self.v6);
                ip.map(|ip| SocketAddr::new(ip, b.port()))
            }
            other => other,
        };
        self.release();
        TcpStream::open(&self.stack, local, addr, opts).await
    }

    /// Listens with this socket's options; the accepted connections start
    /// with them. `backlog` is capped at the stack's `max_backlog`
    /// (Linux's somaxconn, 4096). An unbound socket listens on an
    /// ephemeral port of every address of its family.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        if self.lock().bound.is_none() {
            let any = if self.v6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
            self.bind(SocketAddr::new(any, 0))?;
        }
        let (addr, opts) = {
            let inner = self.lock();
            (inner.bound.expect("bound above"), inner.opts.clone())
        };
        self.release();
        TcpListener::listen(&self.stack, addr, backlog as usize, &opts)
    }

    /// Gives back the port `bind` reserved (a connection or listener holds it now).
    fn release(&self) {
        let bound = self.lock().bound.take();
        if let Some(addr) = bound {
            let mut core = self.stack.shared().lock();
            if let Some(i) = core.reserved.iter().position(|r| *r == addr) {
                core.reserved.swap_remove(i);
            }
        }
    }
}

impl Drop for TcpSocket {
    fn drop(&mut self) {
        self.release();
    }
}

/// An IP_TOS value as a byte: at most 255.
pub(crate) fn tos_byte(tos: u32) -> io::Result<u8> {
    u8::try_from(tos).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a TOS byte is at most 255"))
}
