//! The script's system calls on real sockets of the namespace (DRILL.md,
//! "System calls"), with the arguments read as the synack engine reads them
//! (`synack_drill::syscall_args`). Script descriptors map to real ones; a
//! buffer written as a literal pointer (`NULL`) is passed to the kernel as
//! that pointer, which answers EFAULT as it would any program. Every call
//! into libc is an `unsafe` block with its SAFETY note; this module and the
//! namespace are the only unsafe code of the crate.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use synack_drill::ast::{Arg, SyscallSpec};
use synack_drill::syscall_args::{
    arg_int, compare_cmsgs, expected_cmsgs, expected_events, int, iov_lens, is_bad_pointer, name_of, poll_text,
    struct_field,
};
use synack_drill::target::Attempt;

/// The addresses calls use when the script writes `...`.
#[derive(Debug, Clone)]
pub struct Addrs {
    /// AF_INET or AF_INET6 for `socket(...)`.
    pub family: i32,
    /// The kernel's side: bind and listen here.
    pub local: SocketAddr,
    /// The scripted peer: connect here.
    pub remote: SocketAddr,
}

/// The system calls of one script.
pub struct Calls {
    fds: HashMap<i64, RawFd>,
    /// The real descriptor of the connection under test (-1 before one exists).
    pub current: Arc<AtomicI32>,
    /// Every descriptor open, for [`unblock`] from another thread.
    pub open: Arc<std::sync::Mutex<Vec<RawFd>>>,
    addrs: Addrs,
}

/// Shuts every socket down, so that a call blocked on one returns (the
/// script ended while it waited).
pub fn unblock(open: &std::sync::Mutex<Vec<RawFd>>) {
    for &fd in open.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        // SAFETY: shutdown(2) of a descriptor the table holds open.
        unsafe {
            libc::shutdown(fd, libc::SHUT_RDWR);
        }
    }
}

/// Linux's errno names, by number.
fn errno_name(n: i32) -> &'static str {
    match n {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EEXIST => "EEXIST",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ENOSPC => "ENOSPC",
        libc::EPIPE => "EPIPE",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EDESTADDRREQ => "EDESTADDRREQ",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOBUFS => "ENOBUFS",
        libc::EISCONN => "EISCONN",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTDOWN => "EHOSTDOWN",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EALREADY => "EALREADY",
        libc::EINPROGRESS => "EINPROGRESS",
        _ => "EUNKNOWN",
    }
}

/// -1 with the errno of the call just made.
fn os_err() -> Attempt {
    let n = io::Error::last_os_error().raw_os_error().unwrap_or(0);
    Attempt::Done(-1, Some(errno_name(n)))
}

/// The result of a libc call returning -1 on error.
fn ret(r: isize) -> Attempt {
    if r < 0 {
        os_err()
    } else {
        Attempt::Done(r as i64, None)
    }
}

/// A socket address as libc takes it.
enum SockAddr {
    V4(libc::sockaddr_in),
    V6(libc::sockaddr_in6),
}

impl SockAddr {
    fn new(addr: SocketAddr, family: i32) -> SockAddr {
        match (addr.ip(), family) {
            (IpAddr::V4(ip), libc::AF_INET) => {
                // SAFETY: sockaddr_in is plain data; all-zero is a valid value.
                let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_port = addr.port().to_be();
                sa.sin_addr.s_addr = u32::from_ne_bytes(ip.octets());
                SockAddr::V4(sa)
            }
            (ip, _) => {
                let v6 = match ip {
                    IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                    IpAddr::V6(v6) => v6,
                };
                // SAFETY: sockaddr_in6 is plain data; all-zero is a valid value.
                let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
                sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sa.sin6_port = addr.port().to_be();
                sa.sin6_addr.s6_addr = v6.octets();
                SockAddr::V6(sa)
            }
        }
    }

    fn as_ptr(&self) -> (*const libc::sockaddr, libc::socklen_t) {
        match self {
            SockAddr::V4(sa) => {
                ((sa as *const libc::sockaddr_in).cast(), std::mem::size_of::<libc::sockaddr_in>() as _)
            }
            SockAddr::V6(sa) => {
                ((sa as *const libc::sockaddr_in6).cast(), std::mem::size_of::<libc::sockaddr_in6>() as _)
            }
        }
    }
}

/// A buffer argument: a real zero-filled buffer, or the literal pointer the script wrote.
struct Buf {
    data: Vec<u8>,
    literal: Option<usize>,
}

impl Buf {
    fn new(spec: &SyscallSpec, i: usize, len: usize) -> Buf {
        let literal = is_bad_pointer(spec, i).then(|| spec.args.get(i).and_then(int).unwrap_or(0) as usize);
        Buf { data: if literal.is_some() { Vec::new() } else { vec![0; len] }, literal }
    }

    fn ptr(&mut self) -> *mut libc::c_void {
        match self.literal {
            Some(p) => p as *mut libc::c_void,
            None => self.data.as_mut_ptr().cast(),
        }
    }
}

/// Buffers and iovecs for a vectored call.
struct Iovecs {
    bufs: Vec<Vec<u8>>,
    iov: Vec<libc::iovec>,
}

impl Iovecs {
    fn new(lens: &[usize]) -> Iovecs {
        let mut bufs: Vec<Vec<u8>> = lens.iter().map(|&n| vec![0u8; n]).collect();
        let iov = bufs.iter_mut().map(|b| libc::iovec { iov_base: b.as_mut_ptr().cast(), iov_len: b.len() }).collect();
        Iovecs { bufs, iov }
    }
}

impl Calls {
    /// Calls for a script with these default addresses.
    pub fn new(addrs: Addrs) -> Calls {
        Calls { fds: HashMap::new(), current: Arc::new(AtomicI32::new(-1)), open: Default::default(), addrs }
    }

    /// Records a new descriptor under the script's number.
    fn keep(&mut self, n: i64, fd: RawFd) {
        if let Some(old) = self.fds.insert(n, fd) {
            self.forget(old);
        }
        self.open.lock().unwrap_or_else(|p| p.into_inner()).push(fd);
    }

    fn forget(&mut self, fd: RawFd) {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).retain(|&f| f != fd);
    }

    fn fd(&self, spec: &SyscallSpec, i: usize) -> Result<RawFd, Attempt> {
        let n = arg_int(spec, i)?;
        // A descriptor the script never made is EBADF, as the kernel says.
        Ok(self.fds.get(&n).copied().unwrap_or(-1))
    }

    /// Runs one call (blocking as the real call blocks).
    pub fn execute(&mut self, spec: &SyscallSpec) -> Attempt {
        match self.execute_inner(spec) {
            Ok(a) | Err(a) => a,
        }
    }

    fn execute_inner(&mut self, spec: &SyscallSpec) -> Result<Attempt, Attempt> {
        let name = spec.name.as_str();
        Ok(match name {
            "socket" => {
                let family = match spec.args.first() {
                    Some(Arg::Ellipsis) | None => self.addrs.family,
                    Some(a) => match int(a) {
                        Some(2) if self.addrs.family == libc::AF_INET6 => libc::AF_INET6,
                        Some(f) => f as i32,
                        None => self.addrs.family,
                    },
                };
                let ty = arg_int(spec, 1)? as i32;
                let proto = spec.args.get(2).and_then(int).unwrap_or(0) as i32;
                // SAFETY: socket(2) with integer arguments.
                let fd = unsafe { libc::socket(family, ty, proto) };
                if fd < 0 {
                    return Ok(os_err());
                }
                self.keep(spec.ret.max(0), fd);
                Attempt::Done(spec.ret.max(0), None)
            }
            "bind" | "connect" => {
                let fd = self.fd(spec, 0)?;
                let addr = if name == "bind" { self.addrs.local } else { self.addrs.remote };
                let family = socket_family(fd).unwrap_or(self.addrs.family);
                let sa = SockAddr::new(addr, family);
                let (p, len) = sa.as_ptr();
                if name == "connect" {
                    // Before the call: a blocking connect returns only after
                    // the packets that complete it, and assertions scripted
                    // right after them must already find its socket.
                    self.current.store(fd, Ordering::Release);
                }
                // SAFETY: `p` points to a sockaddr of `len` bytes that outlives the call.
                let r = unsafe {
                    if name == "bind" {
                        libc::bind(fd, p, len)
                    } else {
                        libc::connect(fd, p, len)
                    }
                };
                ret(r as isize)
            }
            "listen" => {
                let fd = self.fd(spec, 0)?;
                let backlog = arg_int(spec, 1)? as i32;
                // SAFETY: listen(2) with integer arguments.
                ret(unsafe { libc::listen(fd, backlog) } as isize)
            }
            "accept" | "accept4" => {
                let fd = self.fd(spec, 0)?;
                let flags = if name == "accept4" { spec.args.get(3).and_then(int).unwrap_or(0) as i32 } else { 0 };
                // SAFETY: accept4(2) without an address buffer (null pointers are allowed).
                let nfd = unsafe { libc::accept4(fd, std::ptr::null_mut(), std::ptr::null_mut(), flags) };
                if nfd < 0 {
                    return Ok(os_err());
                }
                self.keep(spec.ret.max(0), nfd);
                self.current.store(nfd, Ordering::Release);
                Attempt::Done(spec.ret.max(0), None)
            }
            "close" => {
                let n = arg_int(spec, 0)?;
                let fd = self.fds.remove(&n).unwrap_or(-1);
                self.forget(fd);
                // SAFETY: close(2) of a descriptor this table owned (or -1: EBADF).
                ret(unsafe { libc::close(fd) } as isize)
            }
            "shutdown" => {
                let fd = self.fd(spec, 0)?;
                let how = arg_int(spec, 1)? as i32;
                // SAFETY: shutdown(2) with integer arguments.
                ret(unsafe { libc::shutdown(fd, how) } as isize)
            }
            "read" | "write" => {
                let fd = self.fd(spec, 0)?;
                let len = arg_int(spec, 2)? as usize;
                let mut b = Buf::new(spec, 1, len);
                // SAFETY: the buffer holds `len` bytes, or is the script's literal pointer, which the kernel checks.
                let r = unsafe {
                    if name == "read" {
                        libc::read(fd, b.ptr(), len)
                    } else {
                        libc::write(fd, b.ptr(), len)
                    }
                };
                ret(r)
            }
            "send" | "recv" | "sendto" | "recvfrom" => {
                let fd = self.fd(spec, 0)?;
                let len = arg_int(spec, 2)? as usize;
                let flags = spec.args.get(3).and_then(int).unwrap_or(0) as i32;
                let mut b = Buf::new(spec, 1, len);
                // SAFETY: as for read/write; no address arguments (null is allowed).
                let r = unsafe {
                    match name {
                        "send" | "sendto" => libc::send(fd, b.ptr(), len, flags),
                        _ => libc::recv(fd, b.ptr(), len, flags),
                    }
                };
                ret(r)
            }
            "readv" | "writev" => {
                let fd = self.fd(spec, 0)?;
                let lens = iov_lens(spec.args.get(1))
                    .ok_or_else(|| Attempt::Unsupported(format!("{name}: iovec not understood")))?;
                let mut v = Iovecs::new(&lens);
                // SAFETY: every iovec points into a live buffer of its length.
                let r = unsafe {
                    if name == "readv" {
                        libc::readv(fd, v.iov.as_mut_ptr(), v.iov.len() as i32)
                    } else {
                        libc::writev(fd, v.iov.as_ptr(), v.iov.len() as i32)
                    }
                };
                drop(v.bufs);
                ret(r)
            }
            "sendmsg" | "recvmsg" => self.msg(spec)?,
            "fcntl" => {
                let fd = self.fd(spec, 0)?;
                let cmd = arg_int(spec, 1)? as i32;
                let arg = spec.args.get(2).and_then(int).unwrap_or(0);
                // SAFETY: fcntl(2) F_GETFL / F_SETFL take an integer argument.
                ret(unsafe { libc::fcntl(fd, cmd, arg as libc::c_int) } as isize)
            }
            "setsockopt" => self.setsockopt(spec)?,
            "getsockopt" => self.getsockopt(spec)?,
            "ioctl" => {
                let fd = self.fd(spec, 0)?;
                let req = arg_int(spec, 1)? as libc::c_ulong;
                let mut v: libc::c_int = 0;
                // SAFETY: SIOCINQ, SIOCOUTQ and the like write one int through the pointer.
                let r = unsafe { libc::ioctl(fd, req as _, &mut v as *mut libc::c_int) };
                if r < 0 {
                    return Ok(os_err());
                }
                match spec.args.get(2).and_then(int) {
                    Some(want) if want != i64::from(v) => {
                        Attempt::Mismatch(format!("{} value {v} instead of {want}", name_of(spec, 1)))
                    }
                    _ => Attempt::Done(i64::from(r), None),
                }
            }
            "poll" => self.poll(spec)?,
            "epoll_create" | "epoll_create1" => {
                let flags = if name == "epoll_create1" { arg_int(spec, 0)? as i32 } else { 0 };
                // SAFETY: epoll_create1(2) with an integer flag.
                let fd = unsafe { libc::epoll_create1(flags) };
                if fd < 0 {
                    return Ok(os_err());
                }
                self.keep(spec.ret.max(0), fd);
                Attempt::Done(spec.ret.max(0), None)
            }
            "epoll_ctl" => {
                let epfd = self.fd(spec, 0)?;
                let op = arg_int(spec, 1)? as i32;
                let target = arg_int(spec, 2)?;
                let fd = self.fds.get(&target).copied().unwrap_or(-1);
                let events = spec.args.get(3).and_then(|a| struct_field(a, &["events"])).and_then(int).unwrap_or(0);
                let mut ev = libc::epoll_event { events: events as u32, u64: target as u64 };
                // SAFETY: `ev` is a valid epoll_event for the duration of the call.
                ret(unsafe { libc::epoll_ctl(epfd, op, fd, &mut ev) } as isize)
            }
            "epoll_wait" => {
                let epfd = self.fd(spec, 0)?;
                let max = arg_int(spec, 2)?.max(1) as usize;
                let timeout = arg_int(spec, 3)? as i32;
                let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; max];
                // SAFETY: `evs` holds `max` events for the kernel to fill.
                let n = unsafe { libc::epoll_wait(epfd, evs.as_mut_ptr(), max as i32, timeout) };
                if n < 0 {
                    return Ok(os_err());
                }
                if let Some(want) = expected_events(spec) {
                    for (w, got) in want.iter().zip(&evs[..n as usize]) {
                        let we = struct_field(w, &["events"]).and_then(int);
                        let (ge, gfd) = (got.events, got.u64);
                        if we.is_some_and(|we| we as u32 != ge) {
                            return Ok(Attempt::Mismatch(format!("events {} for fd {gfd}", poll_text(i64::from(ge)))));
                        }
                    }
                }
                Attempt::Done(i64::from(n), None)
            }
            other => Attempt::Unsupported(format!("system call {other}")),
        })
    }

    /// sendmsg and recvmsg with a `{msg_iov(N)=[...], msg_flags=F}` message.
    fn msg(&mut self, spec: &SyscallSpec) -> Result<Attempt, Attempt> {
        let fd = self.fd(spec, 0)?;
        let msg = spec.args.get(1).ok_or_else(|| Attempt::Unsupported(format!("{}: no message", spec.name)))?;
        let lens = iov_lens(struct_field(msg, &["msg_iov"]))
            .ok_or_else(|| Attempt::Unsupported(format!("{}: msg_iov not understood", spec.name)))?;
        let flags = spec.args.get(2).and_then(int).unwrap_or(0) as i32;
        let mut v = Iovecs::new(&lens);
        let want_cmsgs = if spec.name == "recvmsg" { expected_cmsgs(spec)? } else { None };
        // Room for the control messages a recvmsg may return (u64 for alignment).
        let mut control = [0u64; 32];
        // SAFETY: msghdr is plain data; all-zero (no name, no control) is valid.
        let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
        m.msg_iov = v.iov.as_mut_ptr();
        m.msg_iovlen = v.iov.len() as _;
        if want_cmsgs.is_some() {
            m.msg_control = control.as_mut_ptr().cast();
            m.msg_controllen = std::mem::size_of_val(&control) as _;
        }
        // SAFETY: the msghdr points to iovecs over live buffers and, for a
        // recvmsg that expects control messages, to `control`; no name.
        let r = unsafe {
            if spec.name == "sendmsg" {
                libc::sendmsg(fd, &m, flags)
            } else {
                libc::recvmsg(fd, &mut m, flags)
            }
        };
        drop(v.bufs);
        if let (true, Some(want)) = (r >= 0, &want_cmsgs) {
            let mut got = Vec::new();
            // SAFETY: the kernel filled `control` and set msg_controllen; the
            // CMSG_* helpers walk only within it.
            unsafe {
                let mut c = libc::CMSG_FIRSTHDR(&m);
                while !c.is_null() {
                    let data = libc::CMSG_DATA(c).cast::<i32>().read_unaligned();
                    got.push((i64::from((*c).cmsg_level), i64::from((*c).cmsg_type), i64::from(data)));
                    c = libc::CMSG_NXTHDR(&m, c);
                }
            }
            if let Some(m) = compare_cmsgs(&got, want) {
                return Ok(Attempt::Mismatch(m));
            }
        }
        if r >= 0 && spec.name == "recvmsg" {
            if let Some(want) = struct_field(msg, &["msg_flags"]).and_then(int) {
                if want != i64::from(m.msg_flags) {
                    return Ok(Attempt::Mismatch(format!("msg_flags {:#x} instead of {want:#x}", m.msg_flags)));
                }
            }
        }
        Ok(ret(r))
    }

    fn setsockopt(&mut self, spec: &SyscallSpec) -> Result<Attempt, Attempt> {
        let fd = self.fd(spec, 0)?;
        let level = arg_int(spec, 1)? as i32;
        let opt = arg_int(spec, 2)? as i32;
        let value = spec.args.get(3).cloned().unwrap_or(Arg::Ellipsis);
        let len = spec.args.get(4).and_then(int);
        let bytes: Vec<u8> = match &value {
            Arg::Str(s) => s.as_bytes().to_vec(),
            Arg::Struct(_) if opt == libc::SO_LINGER && level == libc::SOL_SOCKET => {
                let on = struct_field(&value, &["l_onoff", "onoff"]).and_then(int).unwrap_or(0) as i32;
                let secs = struct_field(&value, &["l_linger", "linger"]).and_then(int).unwrap_or(0) as i32;
                [on.to_ne_bytes(), secs.to_ne_bytes()].concat()
            }
            v => {
                let n = int(v).ok_or_else(|| {
                    Attempt::Unsupported(format!("setsockopt {}: value not understood", name_of(spec, 2)))
                })?;
                (n as i32).to_ne_bytes().to_vec()
            }
        };
        let len = len.map_or(bytes.len(), |l| l.max(0) as usize).min(bytes.len());
        // SAFETY: `bytes` holds at least `len` bytes of the option value.
        let r = unsafe { libc::setsockopt(fd, level, opt, bytes.as_ptr().cast(), len as libc::socklen_t) };
        Ok(ret(r as isize))
    }

    fn getsockopt(&mut self, spec: &SyscallSpec) -> Result<Attempt, Attempt> {
        let fd = self.fd(spec, 0)?;
        let level = arg_int(spec, 1)? as i32;
        let opt = arg_int(spec, 2)? as i32;
        let mut buf = vec![0u8; 512];
        let mut len: libc::socklen_t = buf.len() as _;
        // SAFETY: `buf` holds `len` bytes for the kernel to fill; `len` is updated.
        let r = unsafe { libc::getsockopt(fd, level, opt, buf.as_mut_ptr().cast(), &mut len) };
        if r < 0 {
            return Ok(os_err());
        }
        let got = &buf[..len as usize];
        let want = spec.args.get(3);
        let int_value = || got.get(..4).map_or(0, |b| i64::from(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])));
        let mismatch = match want {
            Some(Arg::Struct(fields)) if level == libc::IPPROTO_TCP && opt == libc::TCP_INFO => {
                let info = synack_drill::target::linux_tcp_info(got);
                fields.iter().find_map(|(field, w)| {
                    let key = field.strip_prefix("tcpi_").unwrap_or(field);
                    let w = int(w)?;
                    match info.get(key) {
                        Some(&v) if v == w => None,
                        Some(&v) => Some(format!("{field} is {v}, expected {w}")),
                        None => Some(format!("{field} is not reported by this kernel")),
                    }
                })
            }
            Some(Arg::Struct(_)) if opt == libc::SO_LINGER && level == libc::SOL_SOCKET => {
                let w = want.expect("matched");
                let on = got.get(..4).map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                let secs = got.get(4..8).map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                let won = struct_field(w, &["l_onoff"]).and_then(int).unwrap_or(0) as i32;
                let wsecs = struct_field(w, &["l_linger"]).and_then(int).unwrap_or(0) as i32;
                ((on != 0) != (won != 0) || secs != wsecs).then(|| format!("linger {{{on}, {secs}}}"))
            }
            Some(Arg::Str(s)) => {
                let text = String::from_utf8_lossy(got).trim_end_matches('\0').to_string();
                (text != *s).then(|| format!("\"{text}\" instead of \"{s}\""))
            }
            Some(a) => int(a).and_then(|w| {
                let v = int_value();
                (v != w).then(|| format!("{} is {v}, expected {w}", name_of(spec, 2)))
            }),
            None => None,
        };
        Ok(match mismatch {
            Some(m) => Attempt::Mismatch(m),
            None => Attempt::Done(0, None),
        })
    }

    fn poll(&mut self, spec: &SyscallSpec) -> Result<Attempt, Attempt> {
        let Some(Arg::List(list)) = spec.args.first() else {
            return Err(Attempt::Unsupported("poll without a pollfd list".into()));
        };
        let timeout = arg_int(spec, 2)? as i32;
        let mut pfds: Vec<libc::pollfd> = list
            .iter()
            .map(|p| {
                let n = struct_field(p, &["fd"]).and_then(int).unwrap_or(-1);
                let events = struct_field(p, &["events"]).and_then(int).unwrap_or(0) as i16;
                libc::pollfd { fd: self.fds.get(&n).copied().unwrap_or(-1), events, revents: 0 }
            })
            .collect();
        // SAFETY: `pfds` holds that many pollfd entries for the kernel to update.
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
        if r < 0 {
            return Ok(os_err());
        }
        for (p, got) in list.iter().zip(&pfds) {
            if let Some(want) = struct_field(p, &["revents"]).and_then(int) {
                if want != i64::from(got.revents) {
                    return Ok(Attempt::Mismatch(format!(
                        "revents {} instead of {}",
                        poll_text(i64::from(got.revents)),
                        poll_text(want)
                    )));
                }
            }
        }
        Ok(Attempt::Done(i64::from(r), None))
    }
}

/// The address family of a socket (AF_INET or AF_INET6).
fn socket_family(fd: RawFd) -> Option<i32> {
    let mut v: libc::c_int = 0;
    let mut len: libc::socklen_t = std::mem::size_of::<libc::c_int>() as _;
    // SAFETY: SO_DOMAIN writes one int through the pointer; `len` is its size.
    let r = unsafe {
        libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_DOMAIN, (&mut v as *mut libc::c_int).cast(), &mut len)
    };
    (r == 0).then_some(v)
}

/// The `struct tcp_info` of a socket, decoded.
pub fn tcp_info(fd: RawFd) -> Result<synack_drill::target::TcpInfo, String> {
    let mut buf = vec![0u8; 512];
    let mut len: libc::socklen_t = buf.len() as _;
    // SAFETY: `buf` holds `len` bytes for the kernel to fill; `len` is updated.
    let r = unsafe { libc::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_INFO, buf.as_mut_ptr().cast(), &mut len) };
    if r < 0 {
        return Err(format!("getsockopt(TCP_INFO): {}", io::Error::last_os_error()));
    }
    Ok(synack_drill::target::linux_tcp_info(&buf[..len as usize]))
}

impl Drop for Calls {
    fn drop(&mut self) {
        for (_, fd) in self.fds.drain() {
            // SAFETY: close(2) of descriptors this table owns.
            unsafe {
                libc::close(fd);
            }
        }
    }
}
