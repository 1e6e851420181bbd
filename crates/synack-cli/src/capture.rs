//! Reading a capture file: pcap or pcapng (as `tcpdump -w` and Wireshark
//! write them), with link layers LINKTYPE_RAW / IPV4 / IPV6, Ethernet (with
//! 802.1Q tags), Linux cooked (SLL and SLL2) and BSD loopback, down to the
//! IP datagrams they carry.

use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;
use std::io::Read;
use std::time::Duration;

/// An IP datagram from a capture, with its timestamp.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Capture time (since the Unix epoch, as the file says).
    pub at: Duration,
    /// The IP datagram (IPv4 or IPv6).
    pub ip: Vec<u8>,
}

/// A capture that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Not a pcap or pcapng file, or a damaged one.
    #[error("not a readable pcap or pcapng file: {0}")]
    Format(String),
    /// A link layer the reader does not know.
    #[error("link type {0:?} is not supported (raw IP, Ethernet, Linux cooked and loopback are)")]
    LinkType(DataLink),
}

/// What a capture held.
#[derive(Debug, Default)]
pub struct Capture {
    /// The IP datagrams, in file order.
    pub packets: Vec<Captured>,
    /// Frames that carried no IP datagram (ARP, other protocols).
    pub skipped: usize,
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: [u16; 2] = [0x8100, 0x88a8];

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// `rest` when `ethertype` says it is IP.
fn by_type(ethertype: u16, rest: &[u8]) -> Option<&[u8]> {
    matches!(ethertype, ETHERTYPE_IPV4 | ETHERTYPE_IPV6).then_some(rest)
}

/// The IP datagram inside a frame of `link`; `Ok(None)` when the frame
/// carries something else.
pub fn ip_of(link: DataLink, frame: &[u8]) -> Result<Option<&[u8]>, CaptureError> {
    let ip = match link {
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => Some(frame),
        DataLink::ETHERNET => {
            let mut at = 12;
            let mut ethertype = be16(frame, at);
            while ethertype.is_some_and(|t| ETHERTYPE_VLAN.contains(&t)) {
                at += 4;
                ethertype = be16(frame, at);
            }
            ethertype.and_then(|t| by_type(t, frame.get(at + 2..)?))
        }
        // struct sll_header: packet type, ARPHRD, address length, 8 address bytes, protocol.
        DataLink::LINUX_SLL => be16(frame, 14).and_then(|t| by_type(t, frame.get(16..)?)),
        // struct sll2_header: protocol first, 20 bytes in all.
        DataLink::LINUX_SLL2 => be16(frame, 0).and_then(|t| by_type(t, frame.get(20..)?)),
        // A 4-byte address family in the host's (NULL) or network (LOOP) order.
        DataLink::NULL | DataLink::LOOP => {
            frame.get(4..).filter(|rest| rest.first().is_some_and(|v| matches!(v >> 4, 4 | 6)))
        }
        other => return Err(CaptureError::LinkType(other)),
    };
    Ok(ip.filter(|p| p.first().is_some_and(|v| matches!(v >> 4, 4 | 6))))
}

impl Capture {
    /// Reads a whole capture (pcap or pcapng, told apart by the magic number).
    pub fn read(bytes: &[u8]) -> Result<Capture, CaptureError> {
        let fmt = |e: pcap_file::PcapError| CaptureError::Format(e.to_string());
        let mut cap = Capture::default();
        if bytes.get(..4) == Some(&[0x0a, 0x0d, 0x0d, 0x0a]) {
            let mut r = PcapNgReader::new(bytes).map_err(fmt)?;
            let mut links = Vec::new();
            while let Some(block) = r.next_block() {
                match block.map_err(fmt)? {
                    Block::InterfaceDescription(i) => links.push(i.linktype),
                    Block::EnhancedPacket(p) => {
                        let link = *links.get(p.interface_id as usize).ok_or_else(|| {
                            CaptureError::Format(format!(
                                "a packet of interface {} that was never described",
                                p.interface_id
                            ))
                        })?;
                        cap.push(link, p.timestamp, &p.data)?;
                    }
                    Block::SimplePacket(p) => {
                        let link = *links.first().ok_or_else(|| CaptureError::Format("no interface".into()))?;
                        cap.push(link, Duration::ZERO, &p.data)?;
                    }
                    _ => {}
                }
            }
        } else {
            let mut r = PcapReader::new(bytes).map_err(fmt)?;
            let link = r.header().datalink;
            while let Some(p) = r.next_packet() {
                let p = p.map_err(fmt)?;
                cap.push(link, p.timestamp, &p.data)?;
            }
        }
        Ok(cap)
    }

    /// Reads a capture file.
    pub fn open(path: &std::path::Path) -> Result<Capture, String> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Capture::read(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn push(&mut self, link: DataLink, at: Duration, frame: &[u8]) -> Result<(), CaptureError> {
        match ip_of(link, frame)? {
            Some(ip) => self.packets.push(Captured { at, ip: ip.to_vec() }),
            None => self.skipped += 1,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_layers_are_peeled_to_ip() {
        let ip = [0x45u8, 0, 0, 20];
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x81, 0x00, 0, 5, 0x08, 0x00]);
        eth.extend_from_slice(&ip);
        assert_eq!(ip_of(DataLink::ETHERNET, &eth).unwrap(), Some(&ip[..]));
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06, 1, 2]);
        assert_eq!(ip_of(DataLink::ETHERNET, &arp).unwrap(), None);
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x86, 0xdd]);
        sll.extend_from_slice(&[0x60, 0, 0, 0]);
        assert_eq!(ip_of(DataLink::LINUX_SLL, &sll).unwrap(), Some(&[0x60u8, 0, 0, 0][..]));
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&ip);
        assert_eq!(ip_of(DataLink::LINUX_SLL2, &sll2).unwrap(), Some(&ip[..]));
        assert_eq!(ip_of(DataLink::NULL, &[2, 0, 0, 0, 0x45]).unwrap(), Some(&[0x45u8][..]));
        assert!(matches!(ip_of(DataLink::Unknown(999), &ip), Err(CaptureError::LinkType(_))));
        assert_eq!(ip_of(DataLink::ETHERNET, &[1, 2, 3]).unwrap(), None, "a short frame is no IP, not a panic");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(Capture::read(b"definitely not a capture"), Err(CaptureError::Format(_))));
        assert!(matches!(Capture::read(&[0x0a, 0x0d, 0x0d, 0x0a, 1, 2]), Err(CaptureError::Format(_))));
        assert!(matches!(Capture::read(&[]), Err(CaptureError::Format(_))));
    }
}
