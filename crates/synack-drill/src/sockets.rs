//! The socket layer: the system calls of DRILL.md mapped onto synack-core,
//! with Linux's blocking, non-blocking and errno behaviour.

use crate::ast::{Arg, SyscallSpec};
use crate::synack_target::SynackTarget;
use crate::syscall_args::{
    arg_int, compare_cmsgs, expected_cmsgs, int, iov_len, is_bad_pointer, name_of, poll_text, struct_field,
};
pub use crate::target::Attempt;
use core::net::SocketAddr;
use core::time::Duration;
use synack_core::{CloseReason, CongestionControl, ConnHandle, Error, Instant, ListenerHandle, SocketOptions, State};

/// What a socket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockKind {
    /// Created, maybe bound.
    Fresh,
    /// Listening.
    Listener(ListenerHandle),
    /// A connection (connecting, connected, or finished).
    Conn(ConnHandle),
}

/// A socket of the script.
#[derive(Debug, Clone)]
pub struct Sock {
    /// What it is.
    pub kind: SockKind,
    /// O_NONBLOCK.
    pub nonblocking: bool,
    /// Address from bind.
    pub bound: Option<SocketAddr>,
    /// The socket's options (SO_*, TCP_*): the core's, shared with the runtime.
    pub opts: SocketOptions,
    /// TCP_INQ: recvmsg reports the bytes left to read (a TCP_CM_INQ control message).
    pub inq: bool,
    /// An error for SO_ERROR, taken when read.
    pub so_error: Option<i64>,
    /// A non-blocking connect completed and the next connect call should say 0.
    pub connect_done_unreported: bool,
    /// A connect was started.
    pub connecting: bool,
}

impl Sock {
    fn new(opts: SocketOptions) -> Self {
        Sock {
            kind: SockKind::Fresh,
            nonblocking: false,
            bound: None,
            opts,
            inq: false,
            so_error: None,
            connect_done_unreported: false,
            connecting: false,
        }
    }
}

/// Linux's default `net.core.wmem_max` and `rmem_max`: SO_SNDBUF and
/// SO_RCVBUF values above it are capped.
const BUF_MAX: i64 = 212_992;
/// Linux's SOCK_MIN_SNDBUF and SOCK_MIN_RCVBUF (what a socket reports at least).
const MIN_SNDBUF: i64 = 4608;
const MIN_RCVBUF: i64 = 2304;

/// How a write was asked for: from a literal pointer (EFAULT), with
/// MSG_DONTWAIT, with MSG_MORE.
#[derive(Debug, Clone, Copy)]
struct WriteFlags {
    bad_buf: bool,
    dontwait: bool,
    more: bool,
}

/// Progress of a call that blocks (kept between tries).
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Bytes written so far by a blocking write.
    pub written: usize,
    /// Bytes read so far by a blocking MSG_WAITALL read.
    pub read: usize,
    /// When a poll with a timeout gives up.
    pub poll_deadline: Option<Instant>,
    /// The call was tried at least once.
    pub started: bool,
}

/// errno name and number for an error of the core.
pub fn errno_of(e: Error) -> (&'static str, i64) {
    match e {
        Error::WouldBlock => ("EAGAIN", 11),
        Error::NotConnected | Error::InvalidState => ("ENOTCONN", 107),
        Error::ConnectionReset => ("ECONNRESET", 104),
        Error::ConnectionRefused => ("ECONNREFUSED", 111),
        Error::TimedOut => ("ETIMEDOUT", 110),
        Error::ConnectionAborted => ("ECONNABORTED", 103),
        Error::BrokenPipe => ("EPIPE", 32),
        Error::AddrInUse => ("EADDRINUSE", 98),
        Error::AddrNotAvailable => ("EADDRNOTAVAIL", 99),
        Error::HostUnreachable => ("EHOSTUNREACH", 113),
        Error::TooManyConnections => ("EMFILE", 24),
        Error::InvalidHandle => ("EBADF", 9),
        Error::InvalidArgument => ("EINVAL", 22),
    }
}

fn err(e: Error) -> Attempt {
    Attempt::Done(-1, Some(errno_of(e).0))
}

pub(crate) fn errno(name: &'static str) -> Attempt {
    Attempt::Done(-1, Some(name))
}

impl SynackTarget {
    /// Changes the stack's configuration; a value it cannot take is EINVAL, as in Linux.
    fn configure(&mut self, f: impl FnOnce(&mut synack_core::Config)) -> Result<(), Attempt> {
        self.ep.update_config(f).map_err(|_| errno("EINVAL"))
    }

    fn sock(&mut self, fd: i64) -> Result<&mut Sock, Attempt> {
        self.socks.get_mut(&fd).ok_or(Attempt::Done(-1, Some("EBADF")))
    }

    fn conn_of(&mut self, fd: i64) -> Result<ConnHandle, Attempt> {
        match self.sock(fd)?.kind {
            SockKind::Conn(h) => Ok(h),
            _ => Err(errno("ENOTCONN")),
        }
    }

    /// Tries a system call once.
    pub(crate) fn attempt(&mut self, spec: &SyscallSpec, p: &mut Progress) -> Attempt {
        let first = !p.started;
        p.started = true;
        match self.attempt_inner(spec, p, first) {
            Ok(a) | Err(a) => a,
        }
    }

    fn attempt_inner(&mut self, spec: &SyscallSpec, p: &mut Progress, first: bool) -> Result<Attempt, Attempt> {
        let now = self.now;
        match spec.name.as_str() {
            "socket" => {
                let fd = spec.ret;
                if fd < 0 {
                    return Err(Attempt::Unsupported("socket() expected to fail".into()));
                }
                let opts = self.ep.socket_options();
                self.socks.insert(fd, Sock::new(opts));
                Ok(Attempt::Done(fd, None))
            }
            "bind" => {
                let fd = arg_int(spec, 0)?;
                let addr = SocketAddr::new(self.settings.local_ip, crate::runner::PORT);
                let sock = self.sock(fd)?;
                // Linux's inet_bind: a socket bound, listening or connected already: EINVAL.
                if sock.bound.is_some() || !matches!(sock.kind, SockKind::Fresh) {
                    return Ok(errno("EINVAL"));
                }
                sock.bound = Some(addr);
                Ok(Attempt::Done(0, None))
            }
            "listen" => {
                let fd = arg_int(spec, 0)?;
                let backlog = arg_int(spec, 1)?.max(1) as usize;
                // Linux's inet_listen: a connected socket cannot listen; a
                // listening one only takes the new backlog (not modelled).
                match self.sock(fd)?.kind {
                    SockKind::Conn(_) => return Ok(errno("EINVAL")),
                    SockKind::Listener(_) => return Ok(Attempt::Done(0, None)),
                    SockKind::Fresh => {}
                }
                let addr = self.sock(fd)?.bound.unwrap_or(SocketAddr::new(self.settings.local_ip, crate::runner::PORT));
                let opts = self.sock(fd)?.opts.clone();
                let l = self.ep.listen_with(addr, backlog, &opts).map_err(err)?;
                self.sock(fd)?.kind = SockKind::Listener(l);
                Ok(Attempt::Done(0, None))
            }
            "accept" | "accept4" => {
                let fd = arg_int(spec, 0)?;
                let s = self.sock(fd)?.clone();
                let SockKind::Listener(l) = s.kind else { return Ok(errno("EINVAL")) };
                match self.ep.accept(l) {
                    Ok(h) => {
                        let newfd = spec.ret;
                        // The accepted socket inherits the listener's options (as on Linux).
                        let mut ns = Sock::new(s.opts.clone());
                        ns.kind = SockKind::Conn(h);
                        self.socks.insert(newfd, ns);
                        self.current = Some(h);
                        Ok(Attempt::Done(newfd, None))
                    }
                    Err(Error::WouldBlock) if s.nonblocking => Ok(errno("EAGAIN")),
                    Err(Error::WouldBlock) => Ok(Attempt::Block),
                    Err(e) => Ok(err(e)),
                }
            }
            "connect" => self.connect(spec, first),
            "close" => {
                let fd = arg_int(spec, 0)?;
                if self.epolls.remove(&fd).is_some() {
                    return Ok(Attempt::Done(0, None));
                }
                // A closed descriptor leaves every epoll set (Linux: when its last reference goes).
                for set in self.epolls.values_mut() {
                    set.forget(fd);
                }
                let s = self.socks.remove(&fd).ok_or(errno("EBADF"))?;
                match s.kind {
                    SockKind::Fresh => {}
                    SockKind::Listener(l) => {
                        let _ = self.ep.close_listener(now, l);
                    }
                    SockKind::Conn(h) => {
                        let _ = self.ep.close_with(now, h, &s.opts);
                    }
                }
                Ok(Attempt::Done(0, None))
            }
            "shutdown" => {
                let fd = arg_int(spec, 0)?;
                let how = arg_int(spec, 1)?;
                // Linux's inet_shutdown: SHUT_RD, SHUT_WR or SHUT_RDWR, else EINVAL.
                if !(0..=2).contains(&how) {
                    return Ok(errno("EINVAL"));
                }
                let h = self.conn_of(fd)?;
                if how == 0 || how == 2 {
                    self.ep.shutdown_read(now, h).map_err(err)?;
                }
                if how == 1 || how == 2 {
                    match self.ep.shutdown(now, h) {
                        Ok(()) => {}
                        Err(Error::NotConnected) => return Ok(errno("ENOTCONN")),
                        Err(e) => return Ok(err(e)),
                    }
                }
                Ok(Attempt::Done(0, None))
            }
            "write" | "send" | "sendto" | "writev" | "sendmsg" => {
                let fd = arg_int(spec, 0)?;
                let vectored = matches!(spec.name.as_str(), "writev" | "sendmsg");
                let total = if vectored { iov_len(spec)? } else { arg_int(spec, 2)? as usize };
                let flags = match spec.name.as_str() {
                    "send" | "sendto" => spec.args.get(3).and_then(int).unwrap_or(0),
                    "sendmsg" => spec.args.get(2).and_then(int).unwrap_or(0),
                    _ => 0,
                };
                // MSG_DONTWAIT for this call; MSG_NOSIGNAL changes nothing
                // here (the runner has no signals: EPIPE is returned);
                // MSG_MORE holds the write's last partial segment.
                const MSG_DONTWAIT: i64 = 0x40;
                const MSG_NOSIGNAL: i64 = 0x4000;
                const MSG_MORE: i64 = 0x8000;
                if flags & !(MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE) != 0 {
                    return Err(Attempt::Unsupported(format!("send flags {flags:#x}")));
                }
                let how = WriteFlags {
                    bad_buf: !vectored && is_bad_pointer(spec, 1),
                    dontwait: flags & MSG_DONTWAIT != 0,
                    more: flags & MSG_MORE != 0,
                };
                self.write(fd, total, how, p)
            }
            "read" | "recv" | "recvfrom" | "readv" | "recvmsg" => {
                let fd = arg_int(spec, 0)?;
                let vectored = matches!(spec.name.as_str(), "readv" | "recvmsg");
                let want = if vectored { iov_len(spec)? } else { arg_int(spec, 2)? as usize };
                let flags = match spec.name.as_str() {
                    "recv" | "recvfrom" => spec.args.get(3).and_then(int).unwrap_or(0),
                    "recvmsg" => spec.args.get(2).and_then(int).unwrap_or(0),
                    _ => 0,
                };
                let r = self.read(fd, want, flags, !vectored && is_bad_pointer(spec, 1), p)?;
                match (&r, expected_cmsgs(spec)?) {
                    (Attempt::Done(n, None), Some(cmsgs)) if *n >= 0 => Ok(self.check_inq(fd, &cmsgs)?.unwrap_or(r)),
                    _ => Ok(r),
                }
            }
            "fcntl" => {
                let fd = arg_int(spec, 0)?;
                let cmd = arg_int(spec, 1)?;
                let s = self.sock(fd)?;
                match cmd {
                    3 => Ok(Attempt::Done(2 | if s.nonblocking { 0x800 } else { 0 }, None)),
                    4 => {
                        s.nonblocking = arg_int(spec, 2)? & 0x800 != 0;
                        Ok(Attempt::Done(0, None))
                    }
                    _ => Err(Attempt::Unsupported(format!("fcntl command {cmd}"))),
                }
            }
            "setsockopt" => self.setsockopt(spec),
            "getsockopt" => self.getsockopt(spec),
            "ioctl" => {
                let fd = arg_int(spec, 0)?;
                // Linux's tcp_ioctl: the queues of a listener are EINVAL.
                if matches!(self.sock(fd)?.kind, SockKind::Listener(_)) {
                    return Ok(errno("EINVAL"));
                }
                let h = self.conn_of(fd)?;
                // A FIN takes a byte of the send queue until acknowledged
                // (Linux counts write_seq, which includes it).
                let state = self.ep.state(h).unwrap_or(State::Closed);
                let fin_unacked = matches!(state, State::FinWait1 | State::Closing | State::LastAck);
                let v = match name_of(spec, 1).as_str() {
                    "SIOCINQ" | "FIONREAD" => self.ep.readable_bytes(h).unwrap_or(0) as i64,
                    "SIOCOUTQ" | "TIOCOUTQ" => self.ep.send_queued(h).unwrap_or(0) as i64 + i64::from(fin_unacked),
                    // What is not sent yet (write_seq - snd_nxt); a FIN
                    // waits only behind unsent data.
                    "SIOCOUTQNSD" => {
                        let notsent = self.ep.info(h).map_or(0, |i| i.notsent_bytes) as i64;
                        notsent + i64::from(fin_unacked && notsent > 0)
                    }
                    "SIOCATMARK" => i64::from(self.ep.at_urgent_mark(h).unwrap_or(false)),
                    other => return Err(Attempt::Unsupported(format!("ioctl {other}"))),
                };
                match spec.args.get(2).and_then(int) {
                    Some(want) if want != v => Ok(Attempt::Mismatch(format!("ioctl value {v} instead of {want}"))),
                    _ => Ok(Attempt::Done(0, None)),
                }
            }
            "poll" => self.poll(spec, p, first),
            "epoll_create" | "epoll_create1" => self.epoll_create(spec),
            "epoll_ctl" => self.epoll_ctl(spec),
            "epoll_wait" | "epoll_pwait" => self.epoll_wait(spec, p, first),
            other => Err(Attempt::Unsupported(format!("system call {other}"))),
        }
    }

    fn connect(&mut self, spec: &SyscallSpec, first: bool) -> Result<Attempt, Attempt> {
        let now = self.now;
        let fd = arg_int(spec, 0)?;
        let s = self.sock(fd)?.clone();
        if let SockKind::Conn(h) = s.kind {
            // A connect in progress or done.
            let state = self.ep.state(h).map_err(err)?;
            let reason = self.ep.close_reason(h).ok().flatten();
            return Ok(match (state, reason) {
                (_, Some(CloseReason::Error(e))) => {
                    self.sock(fd)?.so_error = None;
                    err(e)
                }
                (State::SynSent | State::SynReceived, _) if s.nonblocking || !first => {
                    if s.nonblocking {
                        errno("EALREADY")
                    } else {
                        Attempt::Block
                    }
                }
                (State::SynSent | State::SynReceived, _) => Attempt::Block,
                _ if s.connect_done_unreported || !first => {
                    self.sock(fd)?.connect_done_unreported = false;
                    Attempt::Done(0, None)
                }
                _ => errno("EISCONN"),
            });
        }
        let local = s.bound.unwrap_or(SocketAddr::new(self.settings.local_ip, 0));
        let remote = SocketAddr::new(self.settings.remote_ip, crate::runner::PORT);
        let h = self.ep.connect_with(now, local, remote, &s.opts).map_err(err)?;
        self.current = Some(h);
        let sock = self.sock(fd)?;
        sock.kind = SockKind::Conn(h);
        sock.connecting = true;
        sock.connect_done_unreported = sock.nonblocking;
        if s.nonblocking {
            Ok(errno("EINPROGRESS"))
        } else {
            Ok(Attempt::Block)
        }
    }

    /// Changes a socket's options, and its connection's when it has one.
    fn set_opts(&mut self, fd: i64, f: impl FnOnce(&mut SocketOptions)) -> Result<(), Attempt> {
        let now = self.now;
        let sock = self.sock(fd)?;
        let mut opts = sock.opts.clone();
        f(&mut opts);
        opts.validate().map_err(err)?;
        sock.opts = opts.clone();
        match sock.kind {
            // A connection that is gone keeps its socket's options; nothing to apply.
            SockKind::Conn(h) => {
                let _ = self.ep.set_options(now, h, &opts);
            }
            SockKind::Listener(l) => self.ep.set_listener_options(l, &opts).map_err(err)?,
            SockKind::Fresh => {}
        }
        Ok(())
    }

    /// write, send and sendmsg of `total` bytes; from a literal pointer
    /// (`bad_buf`), EFAULT where Linux would copy (tcp_sendmsg_locked
    /// checks the state and the buffer space first).
    fn write(&mut self, fd: i64, total: usize, how: WriteFlags, p: &mut Progress) -> Result<Attempt, Attempt> {
        let WriteFlags { bad_buf, dontwait, more } = how;
        let now = self.now;
        let nonblocking = self.sock(fd)?.nonblocking || dontwait;
        let h = self.conn_of(fd).map_err(|_| errno("EPIPE"))?;
        // Linux waits for the handshake before queueing data.
        if matches!(self.ep.state(h), Ok(State::SynSent | State::SynReceived)) {
            return Ok(if nonblocking { errno("EAGAIN") } else { Attempt::Block });
        }
        if bad_buf && total > 0 && p.written == 0 && self.ep.send_capacity(h).is_ok_and(|c| c > 0) {
            let sendable = matches!(self.ep.state(h), Ok(State::Established | State::CloseWait));
            if sendable && self.ep.close_reason(h).ok().flatten().is_none() {
                return Ok(errno("EFAULT"));
            }
        }
        while p.written < total {
            let chunk = vec![b'x'; (total - p.written).min(64 * 1024)];
            match self.ep.send_more(now, h, &chunk, more) {
                Ok(n) => p.written += n,
                Err(Error::WouldBlock) => break,
                Err(e) if p.written == 0 => return Ok(self.report_error(fd, h, e, errno("EPIPE"))),
                Err(_) => break,
            }
        }
        if p.written == total || (nonblocking && p.written > 0) {
            return Ok(Attempt::Done(p.written as i64, None));
        }
        Ok(if nonblocking { errno("EAGAIN") } else { Attempt::Block })
    }

    /// read, recv and recvmsg: up to `want` bytes, stopping before the
    /// urgent mark; MSG_DONTWAIT for one call. MSG_OOB is EINVAL, as on
    /// Linux with SO_OOBINLINE: urgent data is in the stream (SocketOptions::oob_inline).
    /// Into a literal pointer (`bad_buf`): EFAULT once there is data to copy.
    /// MSG_PEEK leaves the data to read, MSG_WAITALL blocks until `want`
    /// bytes came (or the stream ended), MSG_TRUNC discards what it reads
    /// (for TCP the count is the same), as Linux's tcp_recvmsg.
    fn read(&mut self, fd: i64, want: usize, flags: i64, bad_buf: bool, p: &mut Progress) -> Result<Attempt, Attempt> {
        const MSG_OOB: i64 = 0x1;
        const MSG_PEEK: i64 = 0x2;
        const MSG_TRUNC: i64 = 0x20;
        const MSG_DONTWAIT: i64 = 0x40;
        const MSG_WAITALL: i64 = 0x100;
        if flags & !(MSG_OOB | MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT | MSG_WAITALL) != 0 {
            return Err(Attempt::Unsupported(format!("recv flags {flags:#x}")));
        }
        let now = self.now;
        let nonblocking = self.sock(fd)?.nonblocking || flags & MSG_DONTWAIT != 0;
        let h = self.conn_of(fd)?;
        if flags & MSG_OOB != 0 {
            return Ok(errno("EINVAL"));
        }
        let readable = self.ep.readable_bytes(h).unwrap_or(0);
        if bad_buf && want > 0 && readable > 0 && flags & MSG_TRUNC == 0 {
            return Ok(errno("EFAULT"));
        }
        // Linux's sock_rcvlowat: MSG_WAITALL waits for all of it.
        let target = if flags & MSG_WAITALL != 0 && !nonblocking { want } else { 1 };
        if flags & MSG_PEEK != 0 {
            let wanted = readable.min(want);
            if wanted >= target.min(want) && wanted > 0 {
                return Ok(Attempt::Done(wanted as i64, None));
            }
            // Nothing (or not enough) to peek at: what an empty read says.
            return Ok(match self.ep.recv(now, h, &mut []) {
                Ok(_) if readable > 0 => Attempt::Done(wanted as i64, None),
                Ok(_) => Attempt::Done(0, None),
                Err(Error::WouldBlock) if nonblocking => errno("EAGAIN"),
                Err(Error::WouldBlock) => Attempt::Block,
                Err(e) => err(e),
            });
        }
        let mut buf = vec![0u8; want - p.read];
        match self.ep.recv(now, h, &mut buf) {
            // Data, or the end of the stream (0) after some.
            Ok(n) if n > 0 && p.read + n < target => {
                p.read += n;
                Ok(Attempt::Block)
            }
            Ok(n) => Ok(Attempt::Done((core::mem::take(&mut p.read) + n) as i64, None)),
            Err(Error::WouldBlock) if p.read > 0 => Ok(Attempt::Block),
            Err(_) if p.read > 0 => Ok(Attempt::Done(core::mem::take(&mut p.read) as i64, None)),
            Err(Error::WouldBlock) if nonblocking => Ok(errno("EAGAIN")),
            Err(Error::WouldBlock) => Ok(Attempt::Block),
            Err(e) => Ok(self.report_error(fd, h, e, Attempt::Done(0, None))),
        }
    }

    /// A read or write that failed with `e`: the connection's error (a
    /// reset, a timeout) is reported once, as Linux's sk_err taken by
    /// sock_error (by this call or SO_ERROR); after that the socket is shut
    /// down both ways and the call gets `after` (a read 0, a write EPIPE).
    fn report_error(&mut self, fd: i64, h: ConnHandle, e: Error, after: Attempt) -> Attempt {
        if !matches!(self.ep.close_reason(h), Ok(Some(CloseReason::Error(_)))) {
            return err(e);
        }
        let Ok(sock) = self.sock(fd) else { return err(e) };
        if sock.so_error == Some(0) {
            return after;
        }
        sock.so_error = Some(0);
        err(e)
    }

    /// The control messages a recvmsg on `fd` returns (TCP_CM_INQ with
    /// TCP_INQ on: the bytes left, or 1 at end of stream with none left, as
    /// Linux's tcp_inq_hint), checked against the script's.
    fn check_inq(&mut self, fd: i64, want: &[crate::syscall_args::Cmsg]) -> Result<Option<Attempt>, Attempt> {
        let sock = self.sock(fd)?.clone();
        let mut got = Vec::new();
        if let (true, SockKind::Conn(h)) = (sock.inq, sock.kind) {
            let left = self.ep.readable_bytes(h).unwrap_or(0) as i64;
            let eof = matches!(
                self.ep.state(h),
                Ok(State::CloseWait | State::LastAck | State::Closing | State::TimeWait | State::Closed)
            );
            got.push((6, 36, if left == 0 && eof { 1 } else { left }));
        }
        Ok(compare_cmsgs(&got, want).map(Attempt::Mismatch))
    }

    fn setsockopt(&mut self, spec: &SyscallSpec) -> Result<Attempt, Attempt> {
        let fd = arg_int(spec, 0)?;
        let name = name_of(spec, 2);
        let value = spec.args.get(3).cloned().unwrap_or(Arg::Ellipsis);
        let v = int(&value);
        let conn = match self.sock(fd)?.kind {
            SockKind::Conn(h) => Some(h),
            _ => None,
        };
        let need = || v.ok_or_else(|| Attempt::Unsupported(format!("setsockopt {name}: value not understood")));
        // Linux (sock_setsockopt, do_tcp_setsockopt): an integer option
        // given fewer bytes than an int is EINVAL.
        let optlen = spec.args.get(4).and_then(int);
        if matches!(&value, Arg::List(items) if items.len() == 1 && matches!(items[0], Arg::Int(_)))
            && optlen.is_some_and(|l| (0..4).contains(&l))
        {
            return Ok(errno("EINVAL"));
        }
        match name.as_str() {
            "SO_REUSEADDR" | "SO_REUSEPORT" => {}
            "SO_OOBINLINE" => {
                let on = need()? != 0;
                self.set_opts(fd, |o| o.oob_inline = on)?;
            }
            "TCP_INQ" => self.sock(fd)?.inq = need()? != 0,
            "SO_KEEPALIVE" => {
                let on = need()? != 0;
                self.set_opts(fd, |o| o.keepalive = on)?;
            }
            "TCP_NODELAY" => {
                let on = need()? != 0;
                self.set_opts(fd, |o| o.nodelay = on)?;
            }
            "TCP_CORK" => {
                let on = need()? != 0;
                self.set_opts(fd, |o| o.cork = on)?;
            }
            "SO_LINGER" => {
                let onoff = struct_field(&value, &["l_onoff", "onoff"]).and_then(int).unwrap_or(0);
                let linger = struct_field(&value, &["l_linger", "linger"]).and_then(int).unwrap_or(0);
                if onoff != 0 && linger != 0 {
                    // Linux's close would block until the data is acknowledged.
                    return Err(Attempt::Unsupported("SO_LINGER with a timeout".into()));
                }
                let l = (onoff != 0).then(|| Duration::from_secs(linger.max(0) as u64));
                self.set_opts(fd, |o| o.linger = l)?;
            }
            // Linux keeps twice the value asked (capped at rmem_max /
            // wmem_max) for its bookkeeping and reports that; the data a
            // buffer holds is about the value asked, which is what synack keeps.
            "SO_RCVBUF" => {
                let v = need()?.clamp(MIN_RCVBUF / 2, BUF_MAX) as usize;
                // A size set by the user ends autotuning (SOCK_RCVBUF_LOCK).
                self.set_opts(fd, |o| {
                    o.recv_buffer = v;
                    o.recv_autotune = false;
                })?;
            }
            "SO_SNDBUF" => {
                let v = need()?.clamp(MIN_SNDBUF / 2, BUF_MAX) as usize;
                self.set_opts(fd, |o| o.send_buffer = v)?;
            }
            "TCP_MAXSEG" => {
                // Linux: TCP_MIN_MSS (88) to MAX_TCP_WINDOW (32767), else EINVAL.
                if !(88..=32767).contains(&need()?) {
                    return Ok(errno("EINVAL"));
                }
                if conn.is_some() {
                    // Linux keeps it as user_mss for a later connect; the
                    // live connection's MSS (mss_clamp) does not change.
                    return Ok(Attempt::Done(0, None));
                }
                let overhead = if self.settings.local_ip.is_ipv6() { 60 } else { 40 };
                let mtu = (need()? as u16).saturating_add(overhead);
                self.configure(|c| c.mtu = mtu)?;
            }
            "TCP_KEEPIDLE" => {
                let d = Duration::from_secs(need()? as u64);
                self.configure(|c| c.keepalive_idle = d)?;
            }
            "TCP_KEEPINTVL" => {
                let d = Duration::from_secs(need()? as u64);
                self.configure(|c| c.keepalive_interval = d)?;
            }
            "TCP_KEEPCNT" => {
                let n = need()? as u32;
                self.configure(|c| c.keepalive_count = n)?;
            }
            "TCP_USER_TIMEOUT" => {
                let ms = need()?;
                let t = (ms > 0).then(|| Duration::from_millis(ms as u64));
                self.set_opts(fd, |o| o.user_timeout = t)?;
            }
            "IP_TOS" | "IPV6_TCLASS" => {
                let v = need()?;
                // Linux: IPV6_TCLASS takes -1 (the default, 0) to 255, else
                // EINVAL; IP_TOS keeps the low byte. For TCP both leave the
                // ECN bits to TCP (the socket reports them as 0 here).
                if name == "IPV6_TCLASS" && !(-1..=255).contains(&v) {
                    return Ok(errno("EINVAL"));
                }
                let tos = v.max(0) as u8;
                self.set_opts(fd, |o| o.set_tos(tos))?;
            }
            "IP_TTL" | "IPV6_UNICAST_HOPS" => {
                let v = need()?;
                // Linux: -1 is the default; 1-255 otherwise, else EINVAL.
                let ttl =
                    if v == -1 { self.ep.config().hop_limit } else { u8::try_from(v).map_err(|_| errno("EINVAL"))? };
                self.set_opts(fd, |o| o.hop_limit = ttl)?;
            }
            "TCP_CONGESTION" => {
                let Arg::Str(name) = &value else {
                    return Err(Attempt::Unsupported("setsockopt TCP_CONGESTION: value not understood".into()));
                };
                let cc = CongestionControl::from_name(name).ok_or_else(|| {
                    Attempt::Unsupported(format!("setsockopt TCP_CONGESTION \"{name}\": synack has reno and cubic"))
                })?;
                if conn.is_some() {
                    return Err(Attempt::Unsupported("setsockopt TCP_CONGESTION on a connected socket".into()));
                }
                self.set_opts(fd, |o| o.congestion_control = cc)?;
            }
            _ if no_such_option(spec) => return Ok(errno("ENOPROTOOPT")),
            other => return Err(Attempt::Unsupported(format!("setsockopt {other}"))),
        }
        Ok(Attempt::Done(0, None))
    }

    fn getsockopt(&mut self, spec: &SyscallSpec) -> Result<Attempt, Attempt> {
        let fd = arg_int(spec, 0)?;
        let name = name_of(spec, 2);
        let s = self.sock(fd)?.clone();
        let conn = match s.kind {
            SockKind::Conn(h) => Some(h),
            _ => None,
        };
        let value: i64 = match name.as_str() {
            "SO_ERROR" => {
                let e = match conn.map(|h| self.ep.close_reason(h)) {
                    Some(Ok(Some(CloseReason::Error(e)))) if s.so_error != Some(0) => errno_of(e).1,
                    _ => 0,
                };
                // SO_ERROR is cleared once read.
                self.sock(fd)?.so_error = Some(0);
                e
            }
            "SO_KEEPALIVE" => i64::from(s.opts.keepalive),
            "SO_OOBINLINE" => i64::from(s.opts.oob_inline),
            "TCP_NODELAY" => i64::from(s.opts.nodelay),
            "TCP_CORK" => i64::from(s.opts.cork),
            "TCP_INQ" => i64::from(s.inq),
            // Twice the data the buffer holds, as Linux reports it.
            "SO_RCVBUF" => (s.opts.recv_buffer as i64).saturating_mul(2).max(MIN_RCVBUF),
            "SO_SNDBUF" => (s.opts.send_buffer as i64).saturating_mul(2).max(MIN_SNDBUF),
            "IP_TTL" | "IPV6_UNICAST_HOPS" => i64::from(s.opts.hop_limit),
            "IP_TOS" | "IPV6_TCLASS" => i64::from(s.opts.tos),
            "TCP_MAXSEG" => match conn {
                Some(h) => i64::from(self.ep.info(h).map_err(err)?.snd_mss),
                None => i64::from(self.ep.config().advertised_mss(self.settings.local_ip.is_ipv6())),
            },
            "TCP_INFO" => {
                let h = conn.ok_or(errno("ENOTCONN"))?;
                let Some(Arg::Struct(fields)) = spec.args.get(3) else {
                    return Ok(Attempt::Done(0, None));
                };
                for (field, want) in fields {
                    let want = int(want).ok_or_else(|| Attempt::Unsupported(format!("TCP_INFO {field} value")))?;
                    let info = crate::synack_target::tcp_info_of(&self.ep, h, self.now).unwrap_or_default();
                    let key = field.strip_prefix("tcpi_").unwrap_or(field);
                    let got = info
                        .get(key)
                        .copied()
                        .ok_or_else(|| Attempt::Unsupported(format!("TCP_INFO field {field}")))?;
                    if got != want {
                        return Ok(Attempt::Mismatch(format!("{field} is {got}, expected {want}")));
                    }
                }
                return Ok(Attempt::Done(0, None));
            }
            _ if no_such_option(spec) => return Ok(errno("ENOPROTOOPT")),
            other => return Err(Attempt::Unsupported(format!("getsockopt {other}"))),
        };
        match spec.args.get(3).and_then(int) {
            Some(want) if want != value => Ok(Attempt::Mismatch(format!("{name} is {value}, expected {want}"))),
            _ => Ok(Attempt::Done(0, None)),
        }
    }

    /// poll revents for one socket.
    pub(crate) fn revents(&mut self, fd: i64, events: i64) -> i64 {
        let Some(s) = self.socks.get(&fd).cloned() else { return 0x20 };
        let mut r = 0;
        match s.kind {
            SockKind::Fresh => r |= 0x10 | 0x4,
            SockKind::Listener(l) => {
                if self.ep.pending_accepts(l).unwrap_or(0) > 0 {
                    r |= 0x1;
                }
            }
            SockKind::Conn(h) => {
                // As Linux's tcp_poll: RCV_SHUTDOWN once the peer's FIN (or an
                // error) arrived, SEND_SHUTDOWN once we closed our side.
                let state = self.ep.state(h).unwrap_or(State::Closed);
                let reason = self.ep.close_reason(h).ok().flatten();
                let readable = self.ep.readable_bytes(h).unwrap_or(0);
                let connecting = matches!(state, State::SynSent | State::SynReceived);
                let rcv_shut = matches!(
                    state,
                    State::CloseWait | State::LastAck | State::Closing | State::TimeWait | State::Closed
                );
                let snd_shut = matches!(
                    state,
                    State::FinWait1
                        | State::FinWait2
                        | State::Closing
                        | State::LastAck
                        | State::TimeWait
                        | State::Closed
                );
                if !connecting {
                    if readable > 0 || rcv_shut {
                        r |= 0x1;
                    }
                    if rcv_shut {
                        r |= 0x2000;
                    }
                    if snd_shut || self.ep.send_capacity(h).unwrap_or(0) > 0 {
                        r |= 0x4;
                    }
                }
                if rcv_shut && snd_shut {
                    r |= 0x10;
                }
                if matches!(reason, Some(CloseReason::Error(_))) && s.so_error != Some(0) {
                    r |= 0x8;
                }
            }
        }
        // POLLERR and POLLHUP are reported whether asked for or not.
        r & (events | 0x8 | 0x10 | 0x20)
    }

    fn poll(&mut self, spec: &SyscallSpec, p: &mut Progress, first: bool) -> Result<Attempt, Attempt> {
        let Some(Arg::List(fds)) = spec.args.first() else {
            return Err(Attempt::Unsupported("poll without a pollfd list".into()));
        };
        let timeout_ms = arg_int(spec, 2)?;
        if first && timeout_ms > 0 {
            p.poll_deadline = Some(self.now + Duration::from_millis(timeout_ms as u64));
        }
        let mut ready = 0;
        let mut mismatch = None;
        let mut results = Vec::new();
        for pfd in fds {
            let fd =
                struct_field(pfd, &["fd"]).and_then(int).ok_or(Attempt::Unsupported("pollfd without fd".into()))?;
            let events = struct_field(pfd, &["events"]).and_then(int).unwrap_or(0);
            let got = self.revents(fd, events);
            if got != 0 {
                ready += 1;
            }
            results.push((pfd, got));
        }
        let expired = timeout_ms == 0 || p.poll_deadline.is_some_and(|d| self.now >= d);
        if ready == 0 && !expired {
            return Ok(Attempt::Block);
        }
        for (pfd, got) in results {
            if let Some(want) = struct_field(pfd, &["revents"]).and_then(int) {
                if want != got {
                    mismatch = Some(format!("revents {} instead of {}", poll_text(got), poll_text(want)));
                }
            }
        }
        Ok(match mismatch {
            Some(m) => Attempt::Mismatch(m),
            None => Attempt::Done(ready, None),
        })
    }
}

/// An option given as a number beyond any Linux defines at its level
/// (SOL_SOCKET's end below 100, IPPROTO_TCP's below 64 in Linux 6.18):
/// setsockopt and getsockopt fail with ENOPROTOOPT there.
fn no_such_option(spec: &SyscallSpec) -> bool {
    let level = spec.args.get(1).and_then(int);
    match (level, spec.args.get(2)) {
        (Some(1), Some(Arg::Int(n))) => *n >= 100,
        (Some(6), Some(Arg::Int(n))) => *n >= 64,
        _ => false,
    }
}
