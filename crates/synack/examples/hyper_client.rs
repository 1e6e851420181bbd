//! hyper-util's pooled client over synack (`synack::HttpConnector`),
//! fetching from a hyper server on another stack.
//!
//! `cargo run -p synack --features hyper --example hyper_client`

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use synack::{pipe, HttpConnector, Stack, StackConfig, TcpListener};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (a, b) = pipe(1500);
    let server = Stack::new(a, StackConfig::new(vec!["10.0.0.2".parse()?]))?;
    let client = Stack::new(b, StackConfig::new(vec!["10.0.0.1".parse()?]))?;

    let listener = TcpListener::bind(&server, "10.0.0.2:8080").await?;
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                let body = format!("you asked for {}\n", req.uri().path());
                Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from(body))))
            });
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(conn), svc));
        }
    });

    let http: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(HttpConnector::new(&client));
    for path in ["/a", "/b", "/c"] {
        let res = http.get(format!("http://10.0.0.2:8080{path}").parse()?).await?;
        let body = res.into_body().collect().await?.to_bytes();
        print!("{}", String::from_utf8_lossy(&body));
    }
    println!("connections opened: {} (the pool reused them)", client.stats().connections_opened);
    Ok(())
}
