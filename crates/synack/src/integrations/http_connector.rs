//! Feature `hyper`: [`HttpConnector`], the connector of
//! `hyper_util::client::legacy::Client` over synack, as hyper-util's own
//! `HttpConnector` is over the kernel.

use crate::stack::Stack;
use crate::stream::TcpStream;
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Opens the TCP connections of a hyper client on a synack stack.
#[derive(Debug, Clone)]
pub struct HttpConnector {
    stack: Stack,
    nodelay: bool,
    connect_timeout: Option<Duration>,
}

/// The addresses of a connection, as `Connected::extra` hands them to
/// hyper (`res.extensions().get::<synack::HttpInfo>()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpInfo {
    /// Our address.
    pub local_addr: SocketAddr,
    /// The server's address.
    pub remote_addr: SocketAddr,
}

impl HttpConnector {
    /// A connector on `stack`: TCP_NODELAY off, no connect timeout (as hyper-util's).
    pub fn new(stack: &Stack) -> Self {
        HttpConnector { stack: stack.clone(), nodelay: false, connect_timeout: None }
    }

    /// TCP_NODELAY on every connection.
    pub fn set_nodelay(&mut self, nodelay: bool) {
        self.nodelay = nodelay;
    }

    /// A connect that takes longer fails with `TimedOut`.
    pub fn set_connect_timeout(&mut self, timeout: Option<Duration>) {
        self.connect_timeout = timeout;
    }
}

/// Host and port of a URI: the port given, or the scheme's (http 80, https 443).
fn host_port(uri: &Uri) -> io::Result<(String, u16)> {
    let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
    let host = uri.host().ok_or_else(|| invalid(format!("{uri}: no host")))?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = match (uri.port_u16(), uri.scheme_str()) {
        (Some(p), _) => p,
        (None, Some("http") | None) => 80,
        (None, Some("https")) => 443,
        (None, Some(other)) => return Err(invalid(format!("{uri}: no default port for scheme {other}"))),
    };
    Ok((host, port))
}

impl tower_service::Service<Uri> for HttpConnector {
    type Response = TokioIo<TcpStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.stack.error().map_or(Ok(()), |c| Err(c.to_io())))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let (host, port) = host_port(&uri)?;
            let connect = TcpStream::connect(&this.stack, (host.as_str(), port));
            let stream = match this.connect_timeout {
                Some(t) => tokio::time::timeout(t, connect)
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("connect to {uri} timed out")))??,
                None => connect.await?,
            };
            stream.set_nodelay(this.nodelay)?;
            Ok(TokioIo::new(stream))
        })
    }
}

impl Connection for TcpStream {
    fn connected(&self) -> Connected {
        match (self.local_addr(), self.peer_addr()) {
            (Ok(local_addr), Ok(remote_addr)) => Connected::new().extra(HttpInfo { local_addr, remote_addr }),
            _ => Connected::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_come_from_the_uri_or_its_scheme() {
        let hp = |s: &str| host_port(&s.parse().unwrap());
        assert_eq!(hp("http://10.0.0.2/x").unwrap(), ("10.0.0.2".into(), 80));
        assert_eq!(hp("https://10.0.0.2/").unwrap(), ("10.0.0.2".into(), 443));
        assert_eq!(hp("http://[fd00::2]:8080/").unwrap(), ("fd00::2".into(), 8080));
        assert_eq!(hp("/only/a/path").unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(hp("ftp://h/").unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
