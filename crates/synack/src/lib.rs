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
//! let listener = TcpListener::bind(&server, "10.0.0.2:80".parse().unwrap()).await?;
//! let mut c = TcpStream::connect(&client, "10.0.0.2:80".parse().unwrap()).await?;
//! let (mut s, _) = listener.accept().await?;
//! c.write_all(b"hello").await?;
//! c.shutdown().await?;
//! let mut got = Vec::new();
//! s.read_to_end(&mut got).await?;
//! assert_eq!(got, b"hello");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod device;
mod driver;
mod ip;
mod lifecycle;
mod listener;
mod socket;
mod stack;
mod stream;

pub use device::{
    pipe, pipe_with_offload, Device, Faults, FaultyDevice, Offload, PcapTap, PipeDevice, RxMeta, TunDevice, TunOptions,
    TxMeta,
};
pub use lifecycle::StopCause;
pub use listener::TcpListener;
pub use stack::{Stack, StackConfig, StackStats};
pub use stream::{OwnedReadHalf, OwnedWriteHalf, TcpStream};
pub use synack_core::{Config, CongestionControl, SynCookies};
