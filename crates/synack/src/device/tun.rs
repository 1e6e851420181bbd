//! A Linux TUN device (IFF_TUN | IFF_NO_PI): IP datagrams to and from the
//! kernel. Opening one needs CAP_NET_ADMIN (or a persistent device owned by
//! the user) and `/dev/net/tun`.
//!
//! With offload (the default), the device is opened with `IFF_VNET_HDR` and
//! `TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)`: every datagram is
//! preceded by a `struct virtio_net_hdr`. The stack then writes TCP
//! super-segments of up to 64 KiB (`gso_type`, `gso_size`, `hdr_len`) with
//! partial checksums (`NEEDS_CSUM`, `csum_start`, `csum_offset`) that the
//! kernel completes and cuts, and the kernel hands over its own TSO
//! super-segments whole (its GSO packets), with `NEEDS_CSUM` (sent by the
//! local host, checksum not yet computed: trusted) or `DATA_VALID`. Where
//! the kernel refuses, the device falls back to plain TUN and says so in a
//! log line. TUN takes one datagram per system call; with offload one
//! datagram carries up to 44 segments.

use super::{Device, Offload, RxMeta, TxMeta, MAX_DATAGRAM};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::task::{Context, Poll};
use synack_core::Received;
use tokio::io::unix::AsyncFd;

/// How to open a TUN device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunOptions {
    /// The MTU to set on the interface.
    pub mtu: usize,
    /// Ask for segmentation and checksum offload (falls back to none).
    pub offload: bool,
}

impl TunOptions {
    /// Offload on, with this MTU.
    pub fn new(mtu: usize) -> Self {
        Self { mtu, offload: true }
    }
}

/// A TUN device.
#[derive(Debug)]
pub struct TunDevice {
    fd: AsyncFd<OwnedFd>,
    name: String,
    mtu: usize,
    /// Datagrams carry a virtio_net_hdr and the kernel offloads for us.
    vnet: bool,
}

const IFNAMSIZ: usize = 16;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// _IOW('T', 208, unsigned int)
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const TUN_F_CSUM: libc::c_uint = 0x01;
const TUN_F_TSO4: libc::c_uint = 0x02;
const TUN_F_TSO6: libc::c_uint = 0x04;

/// `struct virtio_net_hdr` (include/uapi/linux/virtio_net.h), native
/// endian as TUN uses it by default.
const VNET_HDR_LEN: usize = 10;
const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
const VIRTIO_NET_HDR_F_DATA_VALID: u8 = 2;
const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

/// The fields of a virtio_net_hdr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct VnetHdr {
    flags: u8,
    gso_type: u8,
    hdr_len: u16,
    gso_size: u16,
    csum_start: u16,
    csum_offset: u16,
}

impl VnetHdr {
    fn parse(b: &[u8; VNET_HDR_LEN]) -> Self {
        let u = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        VnetHdr { flags: b[0], gso_type: b[1], hdr_len: u(2), gso_size: u(4), csum_start: u(6), csum_offset: u(8) }
    }

    fn bytes(&self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }

    /// The header for a datagram the stack sends.
    fn for_send(packet: &[u8], meta: TxMeta) -> Self {
        if meta.segment_size.is_none() && !meta.partial_checksum {
            return VnetHdr::default();
        }
        let v6 = packet.first().is_some_and(|b| b >> 4 == 6);
        let (csum_start, csum_offset) = super::tcp_checksum_at(packet);
        let ip_hl = usize::from(csum_start);
        let tcp_hl = packet.get(ip_hl + 12).map_or(20, |b| usize::from(b >> 4) * 4);
        let mut h = VnetHdr { flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csum_start, csum_offset, ..VnetHdr::default() };
        if let Some(size) = meta.segment_size {
            h.gso_type = if v6 { VIRTIO_NET_HDR_GSO_TCPV6 } else { VIRTIO_NET_HDR_GSO_TCPV4 };
            h.gso_size = size;
            h.hdr_len = (ip_hl + tcp_hl) as u16;
        }
        h
    }

    /// What the stack learns from the header of a received datagram;
    /// `None` for a GSO type it cannot take (not TCP).
    fn received(&self, len: usize) -> Option<RxMeta> {
        let gso = self.gso_type & !VIRTIO_NET_HDR_GSO_ECN;
        let segment_size = match gso {
            VIRTIO_NET_HDR_GSO_NONE => None,
            VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_TCPV6 => Some(self.gso_size),
            _ => return None,
        };
        let needs_csum = self.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0;
        let verified = needs_csum || self.flags & VIRTIO_NET_HDR_F_DATA_VALID != 0;
        Some(RxMeta {
            len,
            info: Received { checksum_verified: verified, segment_size },
            partial_checksum: needs_csum.then_some((self.csum_start, self.csum_offset)),
        })
    }
}

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

/// Opens `/dev/net/tun` and attaches it to interface `name` with `flags`.
fn attach(name: &str, flags: libc::c_short) -> io::Result<OwnedFd> {
    // SAFETY: a plain open(2) of a NUL-terminated literal path.
    let raw = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if raw < 0 {
        return Err(explain(io::Error::last_os_error(), "opening /dev/net/tun"));
    }
    // SAFETY: `raw` is a freshly opened descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut req = IfReq::new(name)?;
    req.data = libc::c_int::from(flags);
    // SAFETY: TUNSETIFF reads and writes a `struct ifreq`, which `IfReq`
    // lays out (name, flags, padding to its full size); `req` outlives the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF as _, &mut req as *mut IfReq) };
    if rc < 0 {
        return Err(explain(io::Error::last_os_error(), &format!("creating TUN device {name}")));
    }
    Ok(fd)
}

/// Asks the kernel for checksum and TSO offload on a vnet-header device.
fn set_offload(fd: &OwnedFd) -> io::Result<()> {
    let flags: libc::c_uint = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    // SAFETY: TUNSETOFFLOAD takes its unsigned int argument by value.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETOFFLOAD as _, flags as libc::c_ulong) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl TunDevice {
    /// Creates the TUN device `name` (or attaches to an existing persistent
    /// one of that name) with segmentation and checksum offload where the
    /// kernel grants them, and sets its MTU. The interface still has to be
    /// brought up and given an address (see README.md).
    pub fn open(name: &str, mtu: usize) -> io::Result<TunDevice> {
        Self::open_with(name, TunOptions::new(mtu))
    }

    /// [`TunDevice::open`] with options (offload off gives plain TUN).
    pub fn open_with(name: &str, opts: TunOptions) -> io::Result<TunDevice> {
        let mut vnet = false;
        let mut fd = None;
        if opts.offload {
            match attach(name, IFF_TUN | IFF_NO_PI | IFF_VNET_HDR).and_then(|fd| set_offload(&fd).map(|()| fd)) {
                Ok(f) => {
                    fd = Some(f);
                    vnet = true;
                }
                Err(e) => tracing::info!(device = name, error = %e, "TUN offload refused; plain TUN without offload"),
            }
        }
        let fd = match fd {
            Some(f) => f,
            None => attach(name, IFF_TUN | IFF_NO_PI)?,
        };
        set_mtu(name, opts.mtu)?;
        // SAFETY: `fd` is an open descriptor owned by the OwnedFd we hand
        // over; it stays open, and the same, for the AsyncFd's lifetime.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(|e| e.into_parts().1)?;
        Ok(TunDevice { fd, name: name.to_string(), mtu: opts.mtu, vnet })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the kernel granted segmentation and checksum offload.
    pub fn has_offload(&self) -> bool {
        self.vnet
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

impl TunDevice {
    /// One read(2) (readv with the vnet header); `Ok(None)`: a datagram to drop.
    fn read_one(&self, fd: i32, buf: &mut [u8]) -> io::Result<Option<RxMeta>> {
        if !self.vnet {
            // SAFETY: reading into a valid, exclusively borrowed buffer of `buf.len()` bytes.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            return Ok(Some(RxMeta::plain(n as usize)));
        }
        let mut hdr = [0u8; VNET_HDR_LEN];
        let iov = [
            libc::iovec { iov_base: hdr.as_mut_ptr().cast(), iov_len: VNET_HDR_LEN },
            libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() },
        ];
        // SAFETY: both iovecs point to valid, exclusively borrowed buffers of the given lengths.
        let n = unsafe { libc::readv(fd, iov.as_ptr(), 2) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let len = (n as usize).saturating_sub(VNET_HDR_LEN);
        Ok(VnetHdr::parse(&hdr).received(len))
    }

    /// One write(2) (writev with the vnet header).
    fn write_one(&self, fd: i32, packet: &[u8], meta: TxMeta) -> io::Result<()> {
        let n = if self.vnet {
            let hdr = VnetHdr::for_send(packet, meta).bytes();
            let iov = [
                libc::iovec { iov_base: hdr.as_ptr() as *mut _, iov_len: VNET_HDR_LEN },
                libc::iovec { iov_base: packet.as_ptr() as *mut _, iov_len: packet.len() },
            ];
            // SAFETY: both iovecs point to valid buffers of the given lengths that
            // writev only reads.
            unsafe { libc::writev(fd, iov.as_ptr(), 2) }
        } else {
            // SAFETY: writing from a valid buffer of `packet.len()` bytes.
            unsafe { libc::write(fd, packet.as_ptr().cast(), packet.len()) }
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Device for TunDevice {
    fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<RxMeta>> {
        loop {
            let mut guard = match self.fd.poll_read_ready(cx) {
                Poll::Ready(Ok(g)) => g,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            let fd = guard.get_inner().as_raw_fd();
            match guard.try_io(|_| self.read_one(fd, buf)) {
                Ok(Ok(Some(meta))) => return Poll::Ready(Ok(meta)),
                // A GSO type the stack cannot take (UDP): dropped.
                Ok(Ok(None)) => continue,
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_send(&mut self, cx: &mut Context<'_>, packet: &[u8], meta: TxMeta) -> Poll<io::Result<()>> {
        loop {
            let mut guard = match self.fd.poll_write_ready(cx) {
                Poll::Ready(Ok(g)) => g,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            let fd = guard.get_inner().as_raw_fd();
            match guard.try_io(|_| self.write_one(fd, packet, meta)) {
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

    fn offload(&self) -> Offload {
        Offload { segmentation: self.vnet, checksum: self.vnet }
    }

    fn max_datagram(&self) -> usize {
        if self.vnet {
            MAX_DATAGRAM
        } else {
            self.mtu
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vnet_header_for_a_super_segment_and_back() {
        // IPv4 (IHL 5) + TCP with a 32-byte header.
        let mut p = vec![0u8; 60];
        p[0] = 0x45;
        p[20 + 12] = 8 << 4;
        let h = VnetHdr::for_send(&p, TxMeta { segment_size: Some(1448), partial_checksum: true });
        assert_eq!(
            h,
            VnetHdr {
                flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
                gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
                hdr_len: 52,
                gso_size: 1448,
                csum_start: 20,
                csum_offset: 16
            }
        );
        assert_eq!(VnetHdr::parse(&h.bytes()), h);
        let rx = h.received(60).unwrap();
        assert_eq!(rx.info, Received { checksum_verified: true, segment_size: Some(1448) });
        assert_eq!(rx.partial_checksum, Some((20, 16)));
        assert_eq!(VnetHdr::for_send(&p, TxMeta::default()), VnetHdr::default(), "plain datagram, zero header");
        let udp = VnetHdr { gso_type: 3, ..VnetHdr::default() };
        assert_eq!(udp.received(60), None, "UDP GSO is not for us");
        let valid = VnetHdr { flags: VIRTIO_NET_HDR_F_DATA_VALID, ..VnetHdr::default() };
        assert!(valid.received(60).unwrap().info.checksum_verified);
        assert!(!VnetHdr::default().received(60).unwrap().info.checksum_verified);
    }
}
