//! `synack demo` as a user runs it.

use std::process::Command;

fn synack(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_synack")).args(args).env_remove("NO_COLOR").output().expect("run synack")
}

#[test]
fn ladder_for_a_fixed_seed_matches_the_expected_handshake_and_close() {
    let out = synack(&["demo", "--no-color", "--seed", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = String::from_utf8(out.stdout).unwrap();
    let want = include_str!("golden/demo_seed1.txt");
    assert_eq!(
        got, want,
        "regenerate with: synack demo --no-color --seed 1 > crates/synack-cli/tests/golden/demo_seed1.txt"
    );
}

#[test]
fn handshake_lines_come_first_in_order() {
    let out = synack(&["demo", "--no-color"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let seg_lines: Vec<&str> = text.lines().filter(|l| l.contains('▶') || l.contains('◀')).collect();
    assert!(seg_lines[0].contains("SYN ") && seg_lines[0].contains("mss 1460") && seg_lines[0].contains("wscale 8"));
    assert!(seg_lines[1].contains("SYN-ACK seq 0 ack 1"));
    assert!(seg_lines[2].contains("ACK     seq 1 ack 1") && seg_lines[2].contains("len 0"));
    for state in
        ["LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSED"]
    {
        assert!(text.contains(state), "no {state} in\n{text}");
    }
}

#[test]
fn absolute_shows_raw_sequence_numbers() {
    let rel = String::from_utf8(synack(&["demo", "--no-color"]).stdout).unwrap();
    let abs = String::from_utf8(synack(&["demo", "--no-color", "--absolute"]).stdout).unwrap();
    assert!(rel.contains("SYN     seq 0 "));
    assert!(!abs.contains("SYN     seq 0 "));
}

#[test]
fn quiet_prints_only_the_summary() {
    let out = synack(&["demo", "--quiet", "--bytes", "64k", "--loss", "5%", "--seed", "9"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("summary\n"), "{text}");
    assert!(text.contains("65536 bytes sent, 65536 received, intact"));
}

#[test]
fn faults_are_shown_and_survived() {
    let out = synack(&[
        "demo",
        "--no-color",
        "--bytes",
        "256k",
        "--loss",
        "3%",
        "--duplicate",
        "2%",
        "--reorder",
        "2%",
        "--corrupt",
        "2%",
        "--jitter",
        "2",
        "--bandwidth",
        "20M",
        "--seed",
        "4",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("✗ lost"));
    assert!(text.contains("intact (SHA-256 matches)"));
    assert!(!text.contains("DIFFERENT"));
}

#[test]
fn bad_values_get_one_line_naming_the_flag_and_status_2() {
    for (flag, value) in [
        ("--loss", "2"),
        ("--bytes", "12x"),
        ("--delay", "soon"),
        ("--bandwidth", "fast"),
        ("--seed", "x"),
        ("--jitter", "-3"),
        ("--corrupt", "abc"),
    ] {
        let out = synack(&["demo", flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(flag), "{err}");
    }
}

#[test]
fn pcap_file_holds_every_segment_as_raw_ip() {
    let dir = std::env::temp_dir().join(format!("synack-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("demo.pcap");
    let out = synack(&["demo", "--quiet", "--pcap", path.to_str().unwrap()]);
    assert!(out.status.success());
    let file = std::fs::File::open(&path).unwrap();
    let mut reader = pcap_file::pcap::PcapReader::new(file).unwrap();
    assert_eq!(reader.header().datalink, pcap_file::DataLink::RAW);
    let mut n = 0;
    while let Some(pkt) = reader.next_packet() {
        let pkt = pkt.unwrap();
        let ip = synack_wire::IpPacket::parse(&pkt.data).unwrap();
        let tcp = synack_wire::TcpPacket::parse(ip.payload()).unwrap();
        assert!(tcp.verify_checksum(ip.src(), ip.dst()));
        n += 1;
    }
    assert_eq!(n, 11, "3 handshake, 6 data, 2 close segments");
    if let Ok(t) = Command::new("tshark").args(["-r", path.to_str().unwrap(), "-o", "tcp.check_checksum:TRUE"]).output()
    {
        let text = String::from_utf8_lossy(&t.stdout);
        assert!(t.status.success());
        assert!(text.contains("[SYN]") && text.contains("[SYN, ACK]") && text.contains("FIN"), "{text}");
        assert!(!text.contains("Malformed") && !text.contains("incorrect"), "{text}");
    } else {
        println!("tshark not installed: skipped the tshark check");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
