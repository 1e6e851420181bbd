//! The whole script suite under `tests/drill/` runs as part of `cargo test`:
//! every script must pass (a skipped script fails this test too, so the suite
//! never silently loses coverage).

use std::path::Path;
use synack_drill::{collect_scripts, run_file, run_script, Outcome, RunOptions};

#[test]
fn every_script_in_the_suite_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/drill");
    let scripts = collect_scripts(&dir).expect("tests/drill exists");
    assert!(scripts.len() >= 80, "only {} scripts", scripts.len());
    let mut problems = Vec::new();
    for s in &scripts {
        let r = run_file(s, &RunOptions::default()).expect("readable");
        if r.outcome != Outcome::Passed {
            problems.push(format!("{}: {:?}", s.display(), r.outcome));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} scripts did not pass:\n{}",
        problems.len(),
        scripts.len(),
        problems.join("\n")
    );
}

#[test]
fn a_wrong_expectation_fails_with_line_expected_and_actual() {
    let script = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                  +0 bind(3, ..., ...) = 0\n\
                  +0 listen(3, 1) = 0\n\
                  +0 < S 0:0(0) win 65535 <mss 1460>\n\
                  +0 > S. 0:0(0) ack 2 <mss 1460>\n";
    let r = run_script(script, &RunOptions::default());
    let Outcome::Failed { line, message } = r.outcome else { panic!("{:?}", r.outcome) };
    assert_eq!(line, 5);
    assert!(
        message.contains("expected: S. 0:0(0) ack 2") && message.contains("actual:   S. 0:0(0) ack 1"),
        "{message}"
    );
}

#[test]
fn a_packet_sent_late_or_not_at_all_fails() {
    let script = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                  +0 bind(3, ..., ...) = 0\n\
                  +0 listen(3, 1) = 0\n\
                  +0 < S 0:0(0) win 65535 <mss 1460>\n\
                  +0 > S. 0:0(0) ack 1 <mss 1460>\n\
                  +.5 > S. 0:0(0) ack 1 <mss 1460>\n";
    let r = run_script(script, &RunOptions::default());
    assert!(matches!(r.outcome, Outcome::Failed { line: 6, .. }), "{:?}", r.outcome);
}

#[test]
fn an_extra_segment_fails_only_before_a_later_expected_one() {
    // DRILL.md, "Order": the data segment is not scripted; the FIN's line takes it.
    let script = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                  +0 bind(3, ..., ...) = 0\n\
                  +0 listen(3, 1) = 0\n\
                  +0 < S 0:0(0) win 65535 <mss 1460>\n\
                  +0 > S. 0:0(0) ack 1 <mss 1460>\n\
                  +.1 < . 1:1(0) ack 1 win 65535\n\
                  +0 accept(3, ..., ...) = 4\n\
                  +0 write(4, ..., 10) = 10\n\
                  +0 close(4) = 0\n\
                  +0 > F. 11:11(0) ack 1\n";
    let r = run_script(script, &RunOptions::default());
    let Outcome::Failed { line, message } = r.outcome else { panic!("{:?}", r.outcome) };
    assert_eq!(line, 10);
    assert!(message.contains("flags P. instead of F."), "{message}");
    // Segments after the last > line are never examined.
    let tail: String = script.lines().take(9).map(|l| format!("{}\n", l.trim())).collect();
    assert!(run_script(&tail, &RunOptions::default()).outcome.is_pass());
}

#[test]
fn a_burst_is_matched_by_one_line_as_packetdrill_aggregates_it() {
    let script = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                  +0 bind(3, ..., ...) = 0\n\
                  +0 listen(3, 1) = 0\n\
                  +0 < S 0:0(0) win 65535 <mss 1460,nop,wscale 7>\n\
                  +0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>\n\
                  +.1 < . 1:1(0) ack 1 win 512\n\
                  +0 accept(3, ..., ...) = 4\n\
                  +0 write(4, ..., 10000) = 10000\n\
                  +0 > P. 1:10001(10000) ack 1\n";
    let r = run_script(script, &RunOptions::default());
    assert!(r.outcome.is_pass(), "{:?}", r.outcome);
    let strict = format!("--strict_segments\n{script}");
    let r = run_script(&strict, &RunOptions::default());
    assert!(matches!(r.outcome, Outcome::Failed { line: 10, .. }), "{:?}", r.outcome);
}

#[test]
fn unsupported_constructs_are_skipped_never_passed() {
    for script in [
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_TCP, TCP_CONGESTION, \"bbr\", 3) = 0\n",
        "`sysctl -q net.ipv4.tcp_congestion_control=bbr`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 splice(3, 4) = 0\n",
    ] {
        let r = run_script(script, &RunOptions::default());
        assert!(matches!(r.outcome, Outcome::Skipped { .. }), "{script}: {:?}", r.outcome);
    }
}

#[test]
fn parse_errors_name_line_and_column() {
    let r = run_script("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0) wnd 5\n", &RunOptions::default());
    let Outcome::ParseError(e) = r.outcome else { panic!("{:?}", r.outcome) };
    assert_eq!((e.line, e.col), (2, 15));
}

#[test]
fn a_wrong_tcp_inq_hint_fails_and_no_hint_without_tcp_inq() {
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/drill/socket_options/tcp_inq.pkt"),
    )
    .unwrap();
    let wrong = script.replace("cmsg_data=600", "cmsg_data=599");
    let Outcome::Failed { message, .. } = run_script(&wrong, &RunOptions::default()).outcome else { panic!("passed") };
    assert!(message.contains("msg_control [(6, 36, 600)] instead of [(6, 36, 599)]"), "{message}");
    // Without TCP_INQ, Linux sends no control message: expecting one fails.
    let off = script
        .replace("setsockopt(4, SOL_TCP, TCP_INQ, [1], 4)", "setsockopt(4, SOL_TCP, TCP_INQ, [0], 4)")
        .replace("getsockopt(4, SOL_TCP, TCP_INQ, [1], [4])", "getsockopt(4, SOL_TCP, TCP_INQ, [0], [4])");
    let Outcome::Failed { message, .. } = run_script(&off, &RunOptions::default()).outcome else { panic!("passed") };
    assert!(message.contains("msg_control [] instead of"), "{message}");
}
