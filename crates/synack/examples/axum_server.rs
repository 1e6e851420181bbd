//! An axum app served by synack, with the peer's address from ConnectInfo.
//! In memory here (`synack::pipe`); over a real network, open a
//! `synack::TunDevice` instead and curl it from the kernel side.
//!
//! `cargo run -p synack --features axum,hyper --example axum_server`

use axum::{extract::ConnectInfo, routing::get, Router};
use synack::{pipe, PeerAddr, Stack, StackConfig, TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (a, b) = pipe(1500);
    let server = Stack::new(a, StackConfig::new(vec!["10.0.0.2".parse().unwrap()]))?;
    let client = Stack::new(b, StackConfig::new(vec!["10.0.0.1".parse().unwrap()]))?;

    let app = Router::new().route(
        "/",
        get(|ConnectInfo(PeerAddr(peer)): ConnectInfo<PeerAddr>| async move { format!("hello, {peer}\n") }),
    );
    let listener = TcpListener::bind(&server, "10.0.0.2:80").await?;
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<PeerAddr>()).await });

    // A plain HTTP/1.1 request from the other stack.
    let mut conn = TcpStream::connect(&client, "10.0.0.2:80").await?;
    conn.write_all(b"GET / HTTP/1.1\r\nHost: 10.0.0.2\r\nConnection: close\r\n\r\n").await?;
    let mut response = String::new();
    conn.read_to_string(&mut response).await?;
    print!("{response}");
    Ok(())
}
