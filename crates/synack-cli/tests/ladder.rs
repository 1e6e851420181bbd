//! `synack ladder FILE`: captures in every link layer it reads (raw IP,
//! Ethernet, Linux cooked, pcapng), IPv4 and IPv6, several conversations,
//! `--conn`, and errors that say what is wrong.

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use synack_wire::{IpRepr, TcpFlags, TcpOptions, TcpRepr, PROTO_TCP};

fn synack(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_synack")).args(args).output().expect("run synack")
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("synack-ladder-{}-{name}", std::process::id()))
}

/// An IP datagram carrying a TCP segment.
fn segment(src: (&str, u16), dst: (&str, u16), seq: u32, ack: u32, flags: TcpFlags, payload: &[u8]) -> Vec<u8> {
    let (s, d): (IpAddr, IpAddr) = (src.0.parse().unwrap(), dst.0.parse().unwrap());
    let mut options = TcpOptions::default();
    if flags.syn() {
        options.mss = Some(1460);
    }
    let tcp = TcpRepr { src_port: src.1, dst_port: dst.1, seq, ack, flags, window: 1000, urgent: 0, options };
    let ip = IpRepr {
        src: s,
        dst: d,
        protocol: PROTO_TCP,
        payload_len: tcp.header_len() + payload.len(),
        hop_limit: 64,
        tos: 0,
    };
    let mut buf = vec![0u8; 60 + ip.payload_len];
    let hl = ip.emit(&mut buf).unwrap();
    let n = tcp.emit(&mut buf[hl..], payload, s, d).unwrap();
    buf.truncate(hl + n);
    buf
}

/// A whole connection between `c` and `s`: handshake, data each way, both FINs.
fn connection(c: (&str, u16), s: (&str, u16)) -> Vec<Vec<u8>> {
    let (a, sa, f, pa) =
        (TcpFlags::ACK, TcpFlags::SYN | TcpFlags::ACK, TcpFlags::FIN | TcpFlags::ACK, TcpFlags::PSH | TcpFlags::ACK);
    vec![
        segment(c, s, 100, 0, TcpFlags::SYN, &[]),
        segment(s, c, 900, 101, sa, &[]),
        segment(c, s, 101, 901, a, &[]),
        segment(c, s, 101, 901, pa, b"GET /"),
        segment(s, c, 901, 106, pa, b"200 OK"),
        segment(c, s, 106, 907, f, &[]),
        segment(s, c, 907, 107, f, &[]),
        segment(c, s, 107, 908, a, &[]),
    ]
}

/// Writes `packets` to a pcap with `link`, each wrapped by `frame`.
fn write_pcap(path: &Path, link: DataLink, packets: &[Vec<u8>], frame: impl Fn(&[u8]) -> Vec<u8>) {
    let header = PcapHeader { datalink: link, ..PcapHeader::default() };
    let mut w = PcapWriter::with_header(std::fs::File::create(path).unwrap(), header).unwrap();
    for (i, p) in packets.iter().enumerate() {
        let data = frame(p);
        let pkt = PcapPacket::new(Duration::from_millis(1_000_000 + 10 * i as u64), data.len() as u32, &data);
        w.write_packet(&pkt).unwrap();
    }
}

fn ethernet(ip: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    f.extend_from_slice(if ip[0] >> 4 == 6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
    f.extend_from_slice(ip);
    f
}

fn linux_cooked(ip: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
    f.extend_from_slice(if ip[0] >> 4 == 6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
    f.extend_from_slice(ip);
    f
}

fn ladder(path: &Path, extra: &[&str]) -> String {
    let mut args = vec!["ladder", path.to_str().unwrap(), "--no-color"];
    args.extend_from_slice(extra);
    let out = synack(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_link_layer_draws_the_same_ladder_with_both_ends_states() {
    let pkts = connection(("10.1.0.1", 40000), ("10.1.0.2", 80));
    let raw = scratch("raw.pcap");
    let eth = scratch("eth.pcap");
    let sll = scratch("sll.pcap");
    write_pcap(&raw, DataLink::RAW, &pkts, |p| p.to_vec());
    write_pcap(&eth, DataLink::ETHERNET, &pkts, ethernet);
    write_pcap(&sll, DataLink::LINUX_SLL, &pkts, linux_cooked);
    let want = ladder(&raw, &[]);
    assert_eq!(ladder(&eth, &[]), want);
    assert_eq!(ladder(&sll, &[]), want);
    assert!(want.starts_with("conversation 1 of 1: 10.1.0.1:40000 ⇄ 10.1.0.2:80, 8 segments"), "{want}");
    // Relative numbers: the SYN is seq 0, the SYN-ACK acks 1.
    assert!(want.contains("SYN     seq 0 win 1000 len 0 <mss 1460>"), "{want}");
    assert!(want.contains("SYN-ACK seq 0 ack 1"), "{want}");
    // Both ends' states, in the order the flags imply.
    let states: Vec<&str> = want.lines().filter(|l| l.contains(" → ")).map(str::trim).collect();
    let names: Vec<String> =
        states.iter().map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(
        names,
        [
            "CLOSED → SYN-SENT",
            "LISTEN → SYN-RECEIVED",
            "SYN-SENT → ESTABLISHED",
            "SYN-RECEIVED → ESTABLISHED",
            "ESTABLISHED → FIN-WAIT-1",
            "ESTABLISHED → CLOSE-WAIT",
            "FIN-WAIT-1 → FIN-WAIT-2",
            "CLOSE-WAIT → LAST-ACK",
            "FIN-WAIT-2 → TIME-WAIT",
            "LAST-ACK → CLOSED",
        ]
    );
    for p in [raw, eth, sll] {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn conversations_are_told_apart_and_conn_picks_one_ipv6_too() {
    let mut pkts = connection(("10.1.0.1", 40000), ("10.1.0.2", 80));
    let v6 = connection(("fd00::1", 40001), ("fd00::2", 443));
    // Interleaved, as a capture of two connections at once is.
    let mut mixed = Vec::new();
    for (a, b) in pkts.drain(..).zip(v6) {
        mixed.push(a);
        mixed.push(b);
    }
    // A reset mid-stream, of a third connection whose start was not captured.
    mixed.push(segment(("10.1.0.9", 5000), ("10.1.0.2", 22), 77, 88, TcpFlags::RST, &[]));
    let path = scratch("mixed.pcap");
    write_pcap(&path, DataLink::ETHERNET, &mixed, ethernet);
    let all = ladder(&path, &[]);
    assert!(all.contains("conversation 1 of 3: 10.1.0.1:40000 ⇄ 10.1.0.2:80, 8 segments"), "{all}");
    assert!(all.contains("conversation 2 of 3: [fd00::1]:40001 ⇄ [fd00::2]:443, 8 segments"), "{all}");
    assert!(all.contains("conversation 3 of 3: 10.1.0.9:5000 ⇄ 10.1.0.2:22, 1 segments, capture starts mid-connection"));
    assert!(all.contains("ESTABLISHED → CLOSED"), "the RST closes both ends:\n{all}");
    let second = ladder(&path, &["--conn", "2"]);
    assert!(second.starts_with("conversation 2 of 3"), "{second}");
    assert!(!second.contains("10.1.0.1"), "{second}");
    assert_eq!(second.lines().filter(|l| l.contains('▶') || l.contains('◀')).count(), 8);
    let out = synack(&["ladder", path.to_str().unwrap(), "--conn", "4"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has 3 conversation(s)"));
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_demo_capture_and_bad_files_read_as_expected() {
    let cap = scratch("demo.pcap");
    let out = synack(&["demo", "--quiet", "--seed", "1", "--pcap", cap.to_str().unwrap()]);
    assert!(out.status.success());
    let text = ladder(&cap, &[]);
    assert!(text.contains("TIME-WAIT") && text.contains("LAST-ACK → CLOSED"), "{text}");
    std::fs::write(&cap, b"not a capture at all").unwrap();
    let out = synack(&["ladder", cap.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a readable pcap or pcapng file"));
    let out = synack(&["ladder", "/nonexistent/x.pcap"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.pcap"));
    let _ = std::fs::remove_file(cap);
}
