// A small tokio program: an echo server and a client that talks to it
// through split halves, peeks, and uses TcpSocket options.
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

pub async fn run(server_addr: &str) -> std::io::Result<Vec<u8>> {
    let listener = TcpListener::bind(server_addr).await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let (mut r, mut w) = stream.into_split();
        tokio::io::copy(&mut r, &mut w).await?;
        w.shutdown().await?;
        Ok::<_, std::io::Error>(())
    });
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_nodelay(true)?;
    let mut client: TcpStream = socket.connect(addr).await?;
    client.write_all(b"hello, ").await?;
    client.write_all(b"echo").await?;
    client.shutdown().await?;
    let mut first = [0u8; 1];
    client.peek(&mut first).await?;
    let mut got = Vec::new();
    client.read_to_end(&mut got).await?;
    assert_eq!(first[0], got[0]);
    server.await.expect("the server task")?;
    Ok(got)
}
