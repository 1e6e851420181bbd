//! Typed errors of the application interface, and why a connection closed.

/// Why a call on the endpoint failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The handle does not name a live connection or listener.
    #[error("invalid handle")]
    InvalidHandle,
    /// Nothing to read or no room to write right now.
    #[error("operation would block")]
    WouldBlock,
    /// The connection is not (or no longer) able to carry data.
    #[error("not connected")]
    NotConnected,
    /// The peer reset the connection.
    #[error("connection reset by peer")]
    ConnectionReset,
    /// The peer refused the connection (RST in answer to our SYN).
    #[error("connection refused")]
    ConnectionRefused,
    /// Retransmissions or the user timeout ran out.
    #[error("connection timed out")]
    TimedOut,
    /// The connection was aborted locally.
    #[error("connection aborted")]
    ConnectionAborted,
    /// Send after the write side was shut down.
    #[error("broken pipe: the write side is shut down")]
    BrokenPipe,
    /// The local address and port are in use.
    #[error("address in use")]
    AddrInUse,
    /// No local address of the right family, or no free ephemeral port.
    #[error("address not available")]
    AddrNotAvailable,
    /// An ICMP error said the destination cannot be reached.
    #[error("host unreachable")]
    HostUnreachable,
    /// The connection table is full.
    #[error("too many connections")]
    TooManyConnections,
    /// The call makes no sense in the connection's state (e.g. listen on a connected port).
    #[error("invalid in the current state")]
    InvalidState,
    /// An argument no call can take (a socket option out of range).
    #[error("invalid argument")]
    InvalidArgument,
}

/// Why a connection reached CLOSED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Both sides closed in order (FINs exchanged and acknowledged).
    Graceful,
    /// The connection ended with an error.
    Error(Error),
}
