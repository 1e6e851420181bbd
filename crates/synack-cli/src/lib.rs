//! Pieces of the `synack` command that other crates reuse: the HTTP file
//! server of `synack serve http` (the TUN benchmark serves with it).
#![warn(missing_docs)]

pub mod http;
