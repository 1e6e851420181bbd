//! TLS 1.3 over synack with tokio-rustls, both ways: a self-signed
//! certificate (rcgen), a TLS server on one stack and a client on another.
//!
//! `cargo run -p synack --example rustls`

use std::sync::Arc;
use synack::{pipe, Stack, StackConfig, TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (a, b) = pipe(1500);
    let server = Stack::new(a, StackConfig::new(vec!["10.0.0.2".parse()?]))?;
    let client = Stack::new(b, StackConfig::new(vec!["10.0.0.1".parse()?]))?;

    let cert = rcgen::generate_simple_self_signed(vec!["synack.test".to_string()])?;
    let der = CertificateDer::from(cert.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let server_cfg = ServerConfig::builder().with_no_client_auth().with_single_cert(vec![der.clone()], key)?;
    let mut roots = RootCertStore::empty();
    roots.add(der)?;
    let client_cfg = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();

    let listener = TcpListener::bind(&server, "10.0.0.2:443").await?;
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = TlsAcceptor::from(Arc::new(server_cfg)).accept(tcp).await?;
        tls.write_all(b"hello over TLS 1.3 on synack\n").await?;
        tls.shutdown().await
    });
    let tcp = TcpStream::connect(&client, "10.0.0.2:443").await?;
    let mut tls = TlsConnector::from(Arc::new(client_cfg)).connect(ServerName::try_from("synack.test")?, tcp).await?;
    let mut text = String::new();
    tls.read_to_string(&mut text).await?;
    print!("{text}");
    Ok(())
}
