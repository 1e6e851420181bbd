//! The arguments of scripted system calls as both engines read them
//! (DRILL.md, "System calls"): symbols with Linux's values, numbers,
//! `[value]` pointers, `{name=value}` structs, iovec lists, and the errno
//! names results are compared by.

use crate::ast::{Arg, SyscallSpec};
use crate::target::Attempt;

/// The number of a symbol that scripts use as an argument or expected value.
pub fn symbol(name: &str) -> Option<i64> {
    Some(match name {
        "NULL" => 0,
        "SOL_IP" | "IPPROTO_IP" => 0,
        "SOL_IPV6" | "IPPROTO_IPV6" => 41,
        "SO_REUSEADDR" => 2,
        "SO_ERROR" => 4,
        "SO_SNDBUF" => 7,
        "SO_RCVBUF" => 8,
        "SO_KEEPALIVE" => 9,
        "SO_OOBINLINE" => 10,
        "SO_LINGER" => 13,
        "SO_REUSEPORT" => 15,
        "SO_RCVLOWAT" => 18,
        "TCP_NODELAY" => 1,
        "TCP_MAXSEG" => 2,
        "TCP_CORK" => 3,
        "TCP_KEEPIDLE" => 4,
        "TCP_KEEPINTVL" => 5,
        "TCP_KEEPCNT" => 6,
        "TCP_INFO" => 11,
        "TCP_CONGESTION" => 13,
        "TCP_USER_TIMEOUT" => 18,
        "TCP_NOTSENT_LOWAT" => 25,
        "TCP_INQ" | "TCP_CM_INQ" => 36,
        "IP_TOS" => 1,
        "IP_MTU_DISCOVER" => 10,
        "IPV6_TCLASS" => 67,
        "IP_PMTUDISC_DONT" => 0,
        "IP_PMTUDISC_WANT" => 1,
        "IP_PMTUDISC_DO" => 2,
        "IP_PMTUDISC_PROBE" => 3,
        "MSG_OOB" => 1,
        "MSG_PEEK" => 2,
        "MSG_TRUNC" => 0x20,
        "MSG_DONTWAIT" => 0x40,
        "MSG_WAITALL" => 0x100,
        "MSG_NOSIGNAL" => 0x4000,
        "MSG_MORE" => 0x8000,
        "MSG_ZEROCOPY" => 0x400_0000,
        "MSG_FASTOPEN" => 0x2000_0000,
        "EPOLLIN" => 0x1,
        "EPOLLPRI" => 0x2,
        "EPOLLOUT" => 0x4,
        "EPOLLERR" => 0x8,
        "EPOLLHUP" => 0x10,
        "EPOLLRDHUP" => 0x2000,
        "EPOLLET" => 1 << 31,
        "EPOLLONESHOT" => 1 << 30,
        "EPOLL_CTL_ADD" => 1,
        "EPOLL_CTL_DEL" => 2,
        "EPOLL_CTL_MOD" => 3,
        "SIOCINQ" | "FIONREAD" => 0x541b,
        "SIOCOUTQ" | "TIOCOUTQ" => 0x5411,
        "SIOCOUTQNSD" => 0x894b,
        "SIOCATMARK" => 0x8905,
        "O_RDONLY" => 0,
        "O_WRONLY" => 1,
        "EINVAL" => 22,
        "EFAULT" => 14,
        "EBADF" => 9,
        "ENOPROTOOPT" => 92,
        "EADDRINUSE" => 98,
        "EADDRNOTAVAIL" => 99,
        "EMSGSIZE" => 90,
        "ENOBUFS" => 105,
        "EOPNOTSUPP" => 95,
        "ENOTSOCK" => 88,
        "AF_INET" | "PF_INET" => 2,
        "AF_INET6" | "PF_INET6" => 10,
        "SOCK_STREAM" => 1,
        "IPPROTO_TCP" | "SOL_TCP" => 6,
        "SOL_SOCKET" => 1,
        "F_GETFL" => 3,
        "F_SETFL" => 4,
        "O_RDWR" => 2,
        "O_NONBLOCK" => 0x800,
        "SHUT_RD" => 0,
        "SHUT_WR" => 1,
        "SHUT_RDWR" => 2,
        "POLLIN" => 0x1,
        "POLLPRI" => 0x2,
        "POLLOUT" => 0x4,
        "POLLERR" => 0x8,
        "POLLHUP" => 0x10,
        "POLLNVAL" => 0x20,
        "POLLRDNORM" => 0x40,
        "POLLWRNORM" => 0x100,
        "POLLRDHUP" => 0x2000,
        "EAGAIN" | "EWOULDBLOCK" => 11,
        "EINPROGRESS" => 115,
        "EALREADY" => 114,
        "ECONNREFUSED" => 111,
        "ECONNRESET" => 104,
        "ETIMEDOUT" => 110,
        "EPIPE" => 32,
        "ENOTCONN" => 107,
        "EISCONN" => 106,
        "EHOSTUNREACH" => 113,
        "ECONNABORTED" => 103,
        _ => return None,
    })
}

/// The value of an argument: a number, symbols or'd together, or `[v]`.
pub fn int(a: &Arg) -> Option<i64> {
    match a {
        Arg::Int(v) => Some(*v),
        Arg::Symbols(s) => s.iter().map(|x| symbol(x)).try_fold(0i64, |acc, v| Some(acc | v?)),
        Arg::List(l) if l.len() == 1 => int(&l[0]),
        _ => None,
    }
}

/// Argument `i` as a number, or "skipped: not understood".
pub fn arg_int(spec: &SyscallSpec, i: usize) -> Result<i64, Attempt> {
    spec.args
        .get(i)
        .and_then(int)
        .ok_or_else(|| Attempt::Unsupported(format!("{}: argument {} not understood", spec.name, i + 1)))
}

/// Argument `i` as written (the symbol names).
pub fn name_of(spec: &SyscallSpec, i: usize) -> String {
    match spec.args.get(i) {
        Some(Arg::Symbols(s)) => s.join("|"),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

/// Whether argument `i` is a buffer the script wrote as a literal pointer
/// (`NULL`, `0`, `0x1234`): the call fails with EFAULT, as in Linux.
pub fn is_bad_pointer(spec: &SyscallSpec, i: usize) -> bool {
    match spec.args.get(i) {
        Some(Arg::Int(_)) => true,
        Some(Arg::Symbols(s)) => s.len() == 1 && s[0] == "NULL",
        _ => false,
    }
}

/// The member of a struct argument named one of `names`.
pub fn struct_field<'a>(a: &'a Arg, names: &[&str]) -> Option<&'a Arg> {
    match a {
        Arg::Struct(fields) => fields.iter().find(|(n, _)| names.contains(&n.as_str())).map(|(_, v)| v),
        _ => None,
    }
}

/// poll events as text (`POLLIN|POLLOUT`).
pub fn poll_text(v: i64) -> String {
    let names = [
        (0x1, "POLLIN"),
        (0x2, "POLLPRI"),
        (0x4, "POLLOUT"),
        (0x8, "POLLERR"),
        (0x10, "POLLHUP"),
        (0x20, "POLLNVAL"),
        (0x2000, "POLLRDHUP"),
    ];
    let parts: Vec<&str> = names.iter().filter(|(b, _)| v & b != 0).map(|(_, n)| *n).collect();
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join("|")
    }
}

/// A control message as (cmsg_level, cmsg_type, the int in cmsg_data).
pub type Cmsg = (i64, i64, i64);

/// The control messages a recvmsg expects (`msg_control=[{cmsg_level=...,
/// cmsg_type=..., cmsg_data=...}]`) as (level, type, data); `None` when the
/// message has no `msg_control`.
pub fn expected_cmsgs(spec: &SyscallSpec) -> Result<Option<Vec<Cmsg>>, Attempt> {
    let Some(ctrl) = spec.args.get(1).and_then(|m| struct_field(m, &["msg_control"])) else { return Ok(None) };
    let Arg::List(items) = ctrl else {
        return Err(Attempt::Unsupported(format!("{}: msg_control not understood", spec.name)));
    };
    let field = |c: &Arg, n: &str| {
        struct_field(c, &[n]).and_then(int).ok_or_else(|| Attempt::Unsupported(format!("msg_control without {n}")))
    };
    items
        .iter()
        .map(|c| Ok((field(c, "cmsg_level")?, field(c, "cmsg_type")?, field(c, "cmsg_data")?)))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Compares the control messages a recvmsg returned with those expected.
pub fn compare_cmsgs(got: &[Cmsg], want: &[Cmsg]) -> Option<String> {
    (got != want).then(|| format!("msg_control {got:?} instead of {want:?} (level, type, data)"))
}

/// The lengths of an iovec list (`[{iov_base=..., iov_len=N}, ...]`).
pub fn iov_lens(a: Option<&Arg>) -> Option<Vec<usize>> {
    let Some(Arg::List(iov)) = a else { return None };
    iov.iter()
        .map(|v| match v {
            Arg::Struct(fields) => fields.iter().rev().find_map(|(_, a)| int(a)).map(|n| n as usize),
            _ => None,
        })
        .collect()
}

/// Bytes a vectored call moves: the iovec list of readv/writev (argument
/// 1), or the `msg_iov` of sendmsg/recvmsg's message.
pub fn iov_len(spec: &SyscallSpec) -> Result<usize, Attempt> {
    let list = match spec.name.as_str() {
        "sendmsg" | "recvmsg" => spec.args.get(1).and_then(|m| struct_field(m, &["msg_iov"])),
        _ => spec.args.get(1),
    };
    let lens = iov_lens(list).ok_or_else(|| Attempt::Unsupported(format!("{}: iovec not understood", spec.name)))?;
    Ok(lens.iter().sum())
}

/// The events an epoll_wait script expects: one `{events=..., fd=...}`
/// (packetdrill's form) or a list of them.
pub fn expected_events(spec: &SyscallSpec) -> Option<Vec<Arg>> {
    match spec.args.get(1)? {
        Arg::List(items) => Some(items.clone()),
        s @ Arg::Struct(_) => Some(vec![s.clone()]),
        _ => None,
    }
}
