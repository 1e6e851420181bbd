//! Feature `axum`: a synack [`TcpListener`] is an `axum::serve::Listener`,
//! so `axum::serve(listener, router)` serves over synack.
//!
//! `ConnectInfo` works two ways: `ConnectInfo<synack::PeerAddr>` directly,
//! or `ConnectInfo<SocketAddr>` after `axum::serve::ListenerExt::tap_io`
//! (axum implements it for tapped listeners; the orphan rule keeps synack
//! from implementing it for `SocketAddr` itself).

use crate::listener::TcpListener;
use crate::stream::TcpStream;
use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// The peer's address of a connection axum accepted from a synack listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

impl axum::serve::Listener for TcpListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match TcpListener::accept(self).await {
                Ok(conn) => return conn,
                // axum's listeners cannot fail: as axum's own does for
                // errors other than a connection's, log and retry later.
                Err(e) => {
                    tracing::error!(error = %e, "accept failed; retrying in a second");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        TcpListener::local_addr(self)
    }
}

impl Connected<IncomingStream<'_, TcpListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}
