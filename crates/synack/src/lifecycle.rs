//! Why a stack stopped. Once its driver stops, every pending and later call
//! on the stack and its sockets fails with an `io::Error` naming the cause.

use std::fmt;
use std::io;
use std::sync::Arc;

/// Why a stack's driver stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopCause {
    /// Every handle to the stack was dropped.
    Dropped,
    /// [`crate::Stack::shutdown`] finished.
    Shutdown,
    /// [`crate::Stack::abort`] was called.
    Aborted,
    /// The device failed (the error's kind and text).
    Device(io::ErrorKind, Arc<str>),
    /// The tokio runtime that ran the driver shut down.
    RuntimeGone,
}

impl StopCause {
    /// The `io::Error` a call on a stopped stack returns.
    pub fn to_io(&self) -> io::Error {
        let kind = match self {
            StopCause::Device(kind, _) => *kind,
            StopCause::Aborted => io::ErrorKind::ConnectionAborted,
            _ => io::ErrorKind::NotConnected,
        };
        io::Error::new(kind, format!("the synack stack stopped: {self}"))
    }
}

impl fmt::Display for StopCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopCause::Dropped => f.write_str("every handle to it was dropped"),
            StopCause::Shutdown => f.write_str("it was shut down"),
            StopCause::Aborted => f.write_str("it was aborted"),
            StopCause::Device(_, e) => write!(f, "its device failed: {e}"),
            StopCause::RuntimeGone => f.write_str("the tokio runtime that drove it is gone"),
        }
    }
}
