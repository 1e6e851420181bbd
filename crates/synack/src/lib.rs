//! synack: a userspace TCP/IP stack with a tokio API.
//!
//! A [`Stack`] drives synack-core on a [`Device`] (a Linux TUN device, an
//! in-memory [`pipe`], optionally wrapped in a [`PcapTap`] or a
//! [`FaultyDevice`]) from a tokio task; [`TcpListener`] and [`TcpStream`]
//! behave like `tokio::net`'s, with `std::io::Error` kinds a tokio user
//! expects.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use synack::{pipe, Stack, StackConfig, TcpListener, TcpStream};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let (a, b) = pipe(1500);
//! let client = Stack::new(a, StackConfig::new(vec!["10.0.0.1".parse().unwrap()]))?;
//! let server = Stack::new(b, StackConfig::new(vec!["10.0.0.2".parse().unwrap()]))?;
//! let listener = TcpListener::bind(&server, "10.0.0.2:80").await?;
//! let mut c = TcpStream::connect(&client, "10.0.0.2:80").await?;
//! let (mut s, _) = listener.accept().await?;
//! c.write_all(b"hello").await?;
//! c.shutdown().await?;
//! let mut got = Vec::new();
//! s.read_to_end(&mut got).await?;
//! assert_eq!(got, b"hello");
//! # Ok(())
//! # }
//! ```
//!
//! # The ecosystem on top
//!
//! Anything that takes `AsyncRead + AsyncWrite` works as it is (tokio-rustls,
//! `copy_bidirectional`, hyper's `serve_connection`). Two features add what
//! needs more:
//!
//! - `axum`: [`TcpListener`] is an `axum::serve::Listener`;
//!   `ConnectInfo<synack::PeerAddr>` gives the peer's address (or
//!   `ConnectInfo<SocketAddr>` after `ListenerExt::tap_io`).
//! - `hyper`: `synack::HttpConnector` for `hyper_util::client::legacy::Client`
//!   (pooled connections; `synack::HttpInfo` in each response's extensions).
//!
//! ```ignore
//! let listener = synack::TcpListener::bind(&stack, "10.7.0.2:80").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<synack::PeerAddr>()).await?;
//!
//! let client: Client<_, Empty<Bytes>> =
//!     Client::builder(TokioExecutor::new()).build(synack::HttpConnector::new(&stack));
//! let res = client.get("http://10.7.0.1/".parse()?).await?;
//! ```
//!
//! Runnable examples (in memory; swap `pipe` for a `TunDevice` to go on a
//! real network): `examples/axum_server.rs`, `hyper_client.rs`, `rustls.rs`
//! (TLS 1.3 both ways), `proxy.rs` (`copy_bidirectional` between two
//! stacks); `tests/ecosystem.rs` checks each.
//!
//! # Parity with `tokio::net`
//!
//! A tokio program ports by changing its `use` lines and passing the stack
//! to `bind`, `connect` and `TcpSocket::new_*` (the `tokio_port` test
//! builds one both ways). Cancel safety is tokio's for each method.
//!
//! | tokio 1.54 | synack | notes |
//! |---|---|---|
//! | `TcpListener::bind(addr)` | `TcpListener::bind(&stack, addr)` | any [`ToSocketAddrs`]; port 0 picks a free ephemeral port; backlog 1024 |
//! | `TcpListener::{accept, poll_accept, local_addr, ttl, set_ttl}` | same | accepted streams inherit the listener's options |
//! | `TcpStream::connect(addr)` | `TcpStream::connect(&stack, addr)` | tries each address; errors name it |
//! | `TcpStream::{local_addr, peer_addr}` | same | |
//! | `read`/`write` (`AsyncRead`, `AsyncWrite`), `is_write_vectored` | same | vectored writes are real (`true`) |
//! | `peek`, `poll_peek` | same | |
//! | `ready`, `readable`, `writable`, `poll_read_ready`, `poll_write_ready` | same | `Interest`, `Ready` are tokio's |
//! | `try_read`, `try_read_buf`, `try_read_vectored`, `try_write`, `try_write_vectored` | same | `WouldBlock` instead of waiting |
//! | `try_io` | same | no descriptor below: `f` does its I/O with the `try_*` calls |
//! | `take_error` | same | the connection's error, once |
//! | `nodelay`, `set_nodelay`, `ttl`, `set_ttl`, `linger`, `set_linger` | same | per stream; linger 0 resets on drop, other values never block a drop |
//! | `into_split`, `split` | same | halves keep the read/write timeouts |
//! | `OwnedReadHalf::{reunite, peek, poll_peek, ready, readable, try_read*, local_addr, peer_addr}` | same | `Debug` shows the addresses |
//! | `OwnedWriteHalf::{reunite, ready, writable, try_write*, local_addr, peer_addr}` | same | dropping it sends FIN |
//! | `TcpSocket::{new_v4, new_v6, bind, connect, listen, local_addr}` | same, `new_*` take the stack | `listen(backlog)` capped at `Config::max_backlog` (4096) |
//! | `TcpSocket::{set_,}{reuseaddr, reuseport, keepalive, nodelay, send_buffer_size, recv_buffer_size, linger, tos}` | same | per socket; buffer sizes are the bytes held, not Linux's doubled figure; the TOS's ECN bits are TCP's and dropped, as on Linux |
//! | `TcpStream::{from_std, into_std, as_raw_fd}`, `TcpSocket::bind_device` | none | no kernel socket below |
//! | | `TcpStream::{set_read_timeout, set_write_timeout, abort, info, tos, set_tos}` | synack's own additions |
#![warn(missing_docs)]

mod addr;
#[cfg(feature = "axum")]
#[path = "integrations/axum_listener.rs"]
mod axum_listener;
pub mod device;
mod driver;
#[cfg(feature = "hyper")]
#[path = "integrations/http_connector.rs"]
mod http_connector;
mod ip;
mod lifecycle;
mod listener;
mod socket;
mod split;
mod stack;
mod stream;
mod tcp_socket;

pub use addr::ToSocketAddrs;
#[cfg(feature = "axum")]
pub use axum_listener::PeerAddr;
pub use device::{
    pipe, pipe_with_offload, Device, Faults, FaultyDevice, Offload, PcapTap, PipeDevice, RxMeta, TunDevice, TunOptions,
    TxMeta,
};
#[cfg(feature = "hyper")]
pub use http_connector::{HttpConnector, HttpInfo};
pub use lifecycle::StopCause;
pub use listener::TcpListener;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use stack::{Stack, StackConfig, StackStats};
pub use stream::TcpStream;
pub use synack_core::{
    CloseReason, Config, CongestionControl, ConnectionInfo, Direction, FourTuple, Instant, SocketOptions, State,
    SynCookies, Tracer,
};
pub use tcp_socket::TcpSocket;
pub use tokio::io::{Interest, Ready};
