//! A TCP proxy between two synack stacks (two interfaces of one program)
//! with `tokio::io::copy_bidirectional`: the client reaches 10.1.0.2:8080,
//! the proxy forwards to the server at 10.2.0.2:80, both FINs carried.
//!
//! `cargo run -p synack --example proxy`

use synack::{pipe, Stack, StackConfig, TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn stack(dev: synack::PipeDevice, ip: &str) -> std::io::Result<Stack> {
    Stack::new(dev, StackConfig::new(vec![ip.parse().unwrap()]))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (c, o) = pipe(1500);
    let (i, s) = pipe(1500);
    let (client, outer, inner, server) =
        (stack(c, "10.1.0.1")?, stack(o, "10.1.0.2")?, stack(i, "10.2.0.1")?, stack(s, "10.2.0.2")?);

    let front = TcpListener::bind(&outer, "10.1.0.2:8080").await?;
    tokio::spawn(async move {
        while let Ok((mut down, peer)) = front.accept().await {
            let inner = inner.clone();
            tokio::spawn(async move {
                let mut up = TcpStream::connect(&inner, "10.2.0.2:80").await?;
                let (a, b) = tokio::io::copy_bidirectional(&mut down, &mut up).await?;
                println!("proxy: {peer} sent {a} bytes, got {b}");
                Ok::<_, std::io::Error>(())
            });
        }
    });
    let back = TcpListener::bind(&server, "10.2.0.2:80").await?;
    tokio::spawn(async move {
        let (mut s, _) = back.accept().await?;
        let mut req = Vec::new();
        s.read_to_end(&mut req).await?;
        s.write_all(&req.to_ascii_uppercase()).await?;
        s.shutdown().await
    });

    let mut c = TcpStream::connect(&client, "10.1.0.2:8080").await?;
    c.write_all(b"through the proxy\n").await?;
    c.shutdown().await?;
    let mut answer = String::new();
    c.read_to_string(&mut answer).await?;
    print!("{answer}");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    Ok(())
}
