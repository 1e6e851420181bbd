//! The ecosystem on top of synack, unchanged: axum serving (with
//! ConnectInfo), hyper-util's pooled client through `synack::HttpConnector`,
//! tokio-rustls both ways, and a `copy_bidirectional` proxy between two
//! stacks. Run with `--features axum,hyper` (CI runs `--all-features`).

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::sync::Arc;
use synack::{pipe, HttpConnector, HttpInfo, PeerAddr, Stack, StackConfig, TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

fn stacks(a_ip: &str, b_ip: &str) -> (Stack, Stack) {
    let (a, b) = pipe(1500);
    let x = Stack::new(a, StackConfig::new(vec![a_ip.parse().unwrap()])).unwrap();
    let y = Stack::new(b, StackConfig::new(vec![b_ip.parse().unwrap()])).unwrap();
    (x, y)
}

async fn get_body(client: &Client<HttpConnector, Empty<Bytes>>, uri: &str) -> (String, Option<HttpInfo>) {
    let res = client.get(uri.parse().unwrap()).await.expect("request");
    assert_eq!(res.status(), 200);
    let info = res.extensions().get::<HttpInfo>().copied();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (String::from_utf8(body.to_vec()).unwrap(), info)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_serves_and_the_hyper_client_pool_fetches_over_synack() {
    let (c, s) = stacks("10.0.0.1", "10.0.0.2");
    let app = Router::new()
        .route("/", get(|ConnectInfo(PeerAddr(peer)): ConnectInfo<PeerAddr>| async move { format!("hello {peer}") }));
    let l = TcpListener::bind(&s, "10.0.0.2:80").await.unwrap();
    tokio::spawn(async move { axum::serve(l, app.into_make_service_with_connect_info::<PeerAddr>()).await });
    // The SocketAddr form, through a tapped listener.
    let app2 = Router::new()
        .route("/", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { format!("tapped {peer}") }));
    let l2 = TcpListener::bind(&s, "10.0.0.2:81").await.unwrap().tap_io(|t| {
        let _ = t.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(l2, app2.into_make_service_with_connect_info::<SocketAddr>()).await });

    let mut conn = HttpConnector::new(&c);
    conn.set_nodelay(true);
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(conn);
    let (body, info) = get_body(&client, "http://10.0.0.2/").await;
    let info = info.expect("HttpInfo in the response's extensions");
    assert_eq!(info.remote_addr, "10.0.0.2:80".parse().unwrap());
    assert_eq!(body, format!("hello {}", info.local_addr));
    let (body, _) = get_body(&client, "http://10.0.0.2:81/").await;
    assert!(body.starts_with("tapped 10.0.0.1:"), "{body}");
    // 200 requests, 20 at a time: the pool reuses its connections.
    let opened_before = c.stats().connections_opened;
    let client = Arc::new(client);
    for _ in 0..10 {
        let batch: Vec<_> = (0..20)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move { get_body(&client, "http://10.0.0.2/").await.0 })
            })
            .collect();
        for t in batch {
            assert!(t.await.unwrap().starts_with("hello 10.0.0.1:"));
        }
    }
    let opened = c.stats().connections_opened - opened_before;
    assert!(opened <= 20, "200 requests over {opened} pooled connections");
}

/// A self-signed certificate for `synack.test`, and configurations that use it.
fn tls_configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let cert = rcgen::generate_simple_self_signed(vec!["synack.test".to_string()]).unwrap();
    let der = CertificateDer::from(cert.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let server =
        ServerConfig::builder().with_no_client_auth().with_single_cert(vec![der.clone()], key).expect("server config");
    let mut roots = RootCertStore::empty();
    roots.add(der).unwrap();
    let client = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_3_both_ways_with_tokio_rustls() {
    let (c, s) = stacks("10.0.0.1", "10.0.0.2");
    let (server_cfg, client_cfg) = tls_configs();
    let l = TcpListener::bind(&s, "10.0.0.2:443").await.unwrap();
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let expect = data.clone();
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let mut tls = TlsAcceptor::from(server_cfg).accept(tcp).await.expect("handshake");
        let mut got = vec![0u8; expect.len()];
        tls.read_exact(&mut got).await.unwrap();
        assert_eq!(got, expect);
        tls.write_all(&got).await.unwrap();
        tls.shutdown().await.unwrap();
    });
    let tcp = TcpStream::connect(&c, "10.0.0.2:443").await.unwrap();
    let name = ServerName::try_from("synack.test").unwrap();
    let mut tls = TlsConnector::from(client_cfg).connect(name, tcp).await.expect("handshake");
    assert_eq!(tls.get_ref().1.protocol_version(), Some(tokio_rustls::rustls::ProtocolVersion::TLSv1_3));
    tls.write_all(&data).await.unwrap();
    // TLS keeps the last records until flushed (tokio-rustls's write_all
    // returns once rustls has the plaintext): without this the server may
    // wait forever for them, on any TCP.
    tls.flush().await.unwrap();
    let mut back = Vec::new();
    tls.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, data);
    server.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_bidirectional_proxy_between_two_stacks_carries_both_fins() {
    // client stack ⇄ proxy's outer stack | proxy's inner stack ⇄ server stack
    let (client, outer) = stacks("10.1.0.1", "10.1.0.2");
    let (inner, server) = stacks("10.2.0.1", "10.2.0.2");
    let front = TcpListener::bind(&outer, "10.1.0.2:8080").await.unwrap();
    let back = TcpListener::bind(&server, "10.2.0.2:80").await.unwrap();
    tokio::spawn(async move {
        let (mut down, _) = front.accept().await.unwrap();
        let mut up = TcpStream::connect(&inner, "10.2.0.2:80").await.unwrap();
        tokio::io::copy_bidirectional(&mut down, &mut up).await.unwrap()
    });
    let n = 5_000_000usize;
    let server_task = tokio::spawn(async move {
        let (mut s, _) = back.accept().await.unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        s.write_all(&got).await.unwrap();
        s.shutdown().await.unwrap();
        got.len()
    });
    let c = TcpStream::connect(&client, "10.1.0.2:8080").await.unwrap();
    let (mut r, mut w) = c.into_split();
    let writer = tokio::spawn(async move {
        let data: Vec<u8> = (0..n).map(|i| (i % 253) as u8).collect();
        w.write_all(&data).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let mut back_data = Vec::new();
    r.read_to_end(&mut back_data).await.unwrap();
    writer.await.unwrap();
    assert_eq!(server_task.await.unwrap(), n, "the client's FIN reached the server through the proxy");
    assert_eq!(back_data.len(), n, "the server's FIN came back");
    assert!(back_data.iter().enumerate().all(|(i, &b)| b == (i % 253) as u8));
}
