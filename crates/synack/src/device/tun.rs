//! A Linux TUN device (IFF_TUN | IFF_NO_PI): IP datagrams to and from the
//! kernel. Opening one needs CAP_NET_ADMIN (or a persistent device owned by
//! the user) and `/dev/net/tun`.

use super::Device;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::task::{Context, Poll};
use tokio::io::unix::AsyncFd;

/// A TUN device.
#[derive(Debug)]
pub struct TunDevice {
    fd: AsyncFd<OwnedFd>,
    name: String,
    mtu: usize,
}

const IFNAMSIZ: usize = 16;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

/// `struct ifreq` as TUNSETIFF and SIOCSIFMTU use it.
#[repr(C)]
struct IfReq {
    name: [libc::c_char; IFNAMSIZ],
    /// ifr_flags or ifr_mtu.
    data: libc::c_int,
    _pad: [u8; 20],
}

impl IfReq {
    fn new(name: &str) -> io::Result<Self> {
        if name.is_empty() || name.len() >= IFNAMSIZ || name.contains('\0') {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad interface name '{name}'")));
        }
        let mut r = IfReq { name: [0; IFNAMSIZ], data: 0, _pad: [0; 20] };
        for (d, s) in r.name.iter_mut().zip(name.bytes()) {
            *d = s as libc::c_char;
        }
        Ok(r)
    }
}

fn explain(e: io::Error, what: &str) -> io::Error {
    let hint = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            " (needs CAP_NET_ADMIN: run as root, or create a persistent device for this user with `ip tuntap add`)"
        }
        Some(libc::ENOENT) | Some(libc::ENODEV) | Some(libc::ENXIO) => {
            " (/dev/net/tun is missing: load the tun module or create the node with `mknod /dev/net/tun c 10 200`)"
        }
        _ => "",
    };
    io::Error::new(e.kind(), format!("{what}: {e}{hint}"))
}

impl TunDevice {
    /// Creates the TUN device `name` (or attaches to an existing persistent
    /// one of that name) and sets its MTU. The interface still has to be
    /// brought up and given an address (see README.md).
    pub fn open(name: &str, mtu: usize) -> io::Result<TunDevice> {
        // SAFETY: a plain open(2) of a NUL-terminated literal path.
        let raw = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC) };
        if raw < 0 {
            return Err(explain(io::Error::last_os_error(), "opening /dev/net/tun"));
        }
        // SAFETY: `raw` is a freshly opened descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut req = IfReq::new(name)?;
        req.data = libc::c_int::from(IFF_TUN | IFF_NO_PI);
        // SAFETY: TUNSETIFF reads and writes a `struct ifreq`, which `IfReq`
        // lays out (name, flags, padding to its full size); `req` outlives the call.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF as _, &mut req as *mut IfReq) };
        if rc < 0 {
            return Err(explain(io::Error::last_os_error(), &format!("creating TUN device {name}")));
        }
        set_mtu(name, mtu)?;
        // SAFETY: `fd` is an open descriptor owned by the OwnedFd we hand
        // over; it stays open, and the same, for the AsyncFd's lifetime.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(|e| e.into_parts().1)?;
        Ok(TunDevice { fd, name: name.to_string(), mtu })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Sets an interface's MTU with SIOCSIFMTU.
fn set_mtu(name: &str, mtu: usize) -> io::Result<()> {
    // SAFETY: socket(2) with constant arguments.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `s` was just opened and is owned here.
    let sock = unsafe { OwnedFd::from_raw_fd(s) };
    let mut req = IfReq::new(name)?;
    req.data = libc::c_int::try_from(mtu).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "MTU too large"))?;
    // SAFETY: SIOCSIFMTU reads a `struct ifreq` with ifr_mtu at the offset of `data`.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFMTU as _, &mut req as *mut IfReq) };
    if rc < 0 {
        return Err(explain(io::Error::last_os_error(), &format!("setting the MTU of {name}")));
    }
    Ok(())
}

impl Device for TunDevice {
    fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = match self.fd.poll_read_ready(cx) {
                Poll::Ready(Ok(g)) => g,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            let r = guard.try_io(|fd| {
                // SAFETY: reading into a valid, exclusively borrowed buffer of `buf.len()` bytes.
                let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match r {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_send(&mut self, cx: &mut Context<'_>, packet: &[u8]) -> Poll<io::Result<()>> {
        loop {
            let mut guard = match self.fd.poll_write_ready(cx) {
                Poll::Ready(Ok(g)) => g,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            let r = guard.try_io(|fd| {
                // SAFETY: writing from a valid buffer of `packet.len()` bytes.
                let n = unsafe { libc::write(fd.as_raw_fd(), packet.as_ptr().cast(), packet.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
            match r {
                Ok(Ok(())) => return Poll::Ready(Ok(())),
                // The kernel refusing one datagram (e.g. interface down) drops it.
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) || e.raw_os_error() == Some(libc::EINVAL) => {
                    return Poll::Ready(Ok(()))
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }

    fn mtu(&self) -> usize {
        self.mtu
    }
}
