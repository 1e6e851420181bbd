//! A tokio program ported to synack by changing only its `use` lines and
//! giving `bind`, `connect` and `TcpSocket::new_*` the stack: both versions
//! compile (they are modules of this test) and behave the same, one over
//! the kernel's loopback, one over two synack stacks.

#[path = "tokio_port/with_tokio.rs"]
mod with_tokio;

#[path = "tokio_port/with_synack.rs"]
mod with_synack;

use synack::{pipe, Stack, StackConfig};

/// The port as a user makes it: the `use` line of `tokio::net` becomes
/// synack's, `run` takes the stack, and every socket constructor gets it
/// as its first argument.
fn port(tokio_src: &str) -> String {
    tokio_src
        .replace("use tokio::net::{", "use synack::{")
        .replace("pub async fn run(", "pub async fn run(stack: &synack::Stack, ")
        .replace("::bind(", "::bind(stack, ")
        .replace("::connect(", "::connect(stack, ")
        .replace("::new_v4()", "::new_v4(stack)")
        .replace("::new_v6()", "::new_v6(stack)")
}

#[test]
fn the_ported_source_differs_only_in_use_lines_and_the_stack_argument() {
    let tokio_src = include_str!("tokio_port/with_tokio.rs");
    let synack_src = include_str!("tokio_port/with_synack.rs");
    // Import order is the formatter's business; compare line sets per line.
    let mut want: Vec<String> = port(tokio_src).lines().map(str::to_owned).collect();
    let mut got: Vec<String> = synack_src.lines().map(str::to_owned).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn both_versions_echo_the_same_bytes() {
    let kernel = with_tokio::run("127.0.0.1:0").await.expect("tokio over loopback");
    let (a, b) = pipe(1500);
    let stack = Stack::new(a, StackConfig::new(vec!["10.0.0.1".parse().unwrap()])).unwrap();
    let _other = Stack::new(b, StackConfig::new(vec!["10.0.0.2".parse().unwrap()])).unwrap();
    // Both ends on one stack: its own addresses loop back inside it.
    let ours = with_synack::run(&stack, "10.0.0.1:0").await.expect("synack");
    assert_eq!(kernel, b"hello, echo");
    assert_eq!(ours, kernel);
}
