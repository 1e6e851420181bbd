//! `synack drill` as a user runs it: per-script lines, the summary, and the
//! exit status (0 all pass, 1 a failure, 2 a parse error).

use std::path::PathBuf;
use std::process::Command;

fn synack(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_synack")).args(args).output().expect("run synack");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("synack-drill-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const GOOD: &str = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n\
+0 < S 0:0(0) win 65535 <mss 1460>\n+0 > S. 0:0(0) ack 1 <mss 1460>\n";

#[test]
fn the_suite_passes_with_status_0() {
    let suite = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/drill");
    let (code, out) = synack(&["drill", suite.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    let last = out.lines().last().unwrap();
    assert!(last.ends_with(" passed, 0 failed, 0 skipped"), "{last}");
}

#[test]
fn the_suite_passes_over_ipv6_and_ipv4_mapped_ipv6() {
    let suite = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/drill");
    for family in ["ipv6", "ipv4-mapped-ipv6"] {
        let (code, out) = synack(&["drill", "--ip-version", family, suite.to_str().unwrap()]);
        assert_eq!(code, Some(0), "{family}: {out}");
        assert!(out.lines().last().unwrap().ends_with(" passed, 0 failed, 0 skipped"), "{family}: {out}");
    }
}

#[test]
fn a_failure_gives_status_1_and_the_mismatch() {
    let d = temp_dir("fail");
    std::fs::write(d.join("good.pkt"), GOOD).unwrap();
    std::fs::write(d.join("bad.pkt"), GOOD.replace("ack 1 <mss", "ack 9 <mss")).unwrap();
    std::fs::write(
        d.join("skip.pkt"),
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_TCP, TCP_CONGESTION, \"bbr\", 3) = 0\n",
    )
    .unwrap();
    let (code, out) = synack(&["drill", "--tolerance-ms", "10", d.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("bad.pkt:5: FAIL: ack 1 instead of 9"), "{out}");
    assert!(out.contains("skip.pkt:2: skipped: setsockopt TCP_CONGESTION"), "{out}");
    assert!(out.lines().last().unwrap() == "1 passed, 1 failed, 1 skipped", "{out}");
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn a_parse_error_gives_status_2_with_line_and_column() {
    let d = temp_dir("parse");
    std::fs::write(d.join("broken.pkt"), "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0) wnd 5\n").unwrap();
    let (code, out) = synack(&["drill", d.join("broken.pkt").to_str().unwrap()]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("broken.pkt:2:15: parse error"), "{out}");
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn verbose_prints_each_event() {
    let d = temp_dir("verbose");
    std::fs::write(d.join("good.pkt"), GOOD).unwrap();
    let (code, out) = synack(&["drill", "--verbose", d.to_str().unwrap()]);
    assert_eq!(code, Some(0));
    assert!(out.contains("< S 0:0(0) win 65535 <mss 1460>") && out.contains("> S. 0:0(0) ack 1"), "{out}");
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn a_reader_that_stops_reading_ends_the_run_without_a_panic() {
    use std::io::Read;
    use std::process::Stdio;
    let suite = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/drill");
    let mut child = Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(["drill", suite.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run synack");
    // Read one line's worth, then close the pipe as `| head -1` does.
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    // The status a shell reports for a process SIGPIPE ended.
    assert_eq!(status.code(), Some(141), "{status:?}");
}
