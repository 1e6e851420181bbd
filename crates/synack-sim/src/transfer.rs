//! A bulk transfer between two hosts, both directions at once: each side
//! sends its own seeded random bytes, shuts down its write side (half-close),
//! reads until end of stream, and closes. Both sides hash what they send and
//! receive, so a run proves every byte arrived once and in order.

use crate::{HostId, Network};
use core::net::SocketAddr;
use sha2::{Digest, Sha256};
use synack_core::{CloseReason, ConnHandle, ConnectionInfo, Error, Instant, ListenerHandle, State};

/// Size of the chunks fed to `send`.
const CHUNK: usize = 16 * 1024;

/// One direction's bookkeeping at one end.
struct End {
    host: HostId,
    handle: Option<ConnHandle>,
    to_send: u64,
    generated: u64,
    pending: Vec<u8>,
    pending_off: usize,
    data: fastrand::Rng,
    sent_hash: Sha256,
    recv_hash: Sha256,
    received: u64,
    eof: bool,
    shut: bool,
    final_state: Option<State>,
    error: Option<Error>,
    closed_at: Option<Instant>,
    info: Option<ConnectionInfo>,
}

impl End {
    fn new(host: HostId, to_send: u64, seed: u64) -> Self {
        End {
            host,
            handle: None,
            to_send,
            generated: 0,
            pending: Vec::with_capacity(CHUNK),
            pending_off: 0,
            data: fastrand::Rng::with_seed(seed),
            sent_hash: Sha256::new(),
            recv_hash: Sha256::new(),
            received: 0,
            eof: false,
            shut: false,
            final_state: None,
            error: None,
            closed_at: None,
            info: None,
        }
    }

    /// Sends, receives, shuts down and closes as far as the connection allows.
    fn poll(&mut self, net: &mut Network, buf: &mut [u8]) {
        let Some(h) = self.handle else { return };
        if self.final_state.is_some() {
            return;
        }
        let now = net.now();
        let ep = net.endpoint(self.host);
        // Send, once connected (as a socket application would).
        let connecting = matches!(ep.state(h), Ok(State::SynSent | State::SynReceived));
        while !self.shut && !connecting {
            if self.pending_off == self.pending.len() {
                let n = (self.to_send - self.generated).min(CHUNK as u64) as usize;
                if n == 0 {
                    match ep.shutdown(now, h) {
                        Ok(()) => self.shut = true,
                        Err(e) => self.error = self.error.or(Some(e)),
                    }
                    break;
                }
                self.pending.resize(n, 0);
                self.data.fill(&mut self.pending);
                self.sent_hash.update(&self.pending);
                self.generated += n as u64;
                self.pending_off = 0;
            }
            match ep.send(now, h, &self.pending[self.pending_off..]) {
                Ok(0) | Err(Error::WouldBlock) => break,
                Ok(n) => self.pending_off += n,
                Err(e) => {
                    self.error = self.error.or(Some(e));
                    break;
                }
            }
        }
        // Receive.
        while !self.eof {
            match ep.recv(now, h, buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.recv_hash.update(&buf[..n]);
                    self.received += n as u64;
                }
                Err(Error::WouldBlock) => break,
                Err(e) => {
                    self.error = self.error.or(Some(e));
                    self.eof = true;
                }
            }
        }
        let state = ep.state(h).unwrap_or(State::Closed);
        let failed = matches!(ep.close_reason(h), Ok(Some(CloseReason::Error(_))));
        if matches!(state, State::Closed | State::TimeWait) || failed {
            if let Ok(Some(CloseReason::Error(e))) = ep.close_reason(h) {
                self.error = self.error.or(Some(e));
            }
            self.final_state = Some(state);
            self.closed_at = Some(now);
            self.info = ep.info(h).ok();
            let _ = ep.close(now, h);
        }
    }
}

/// What a finished (or abandoned) transfer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Bytes the client sent and the server received (equal when all went well).
    pub client_to_server: (u64, u64),
    /// Bytes the server sent and the client received.
    pub server_to_client: (u64, u64),
    /// SHA-256 of what the client sent equals what the server received.
    pub client_data_intact: bool,
    /// SHA-256 of what the server sent equals what the client received.
    pub server_data_intact: bool,
    /// The state each end was in when the transfer ended (CLOSED or TIME-WAIT when clean).
    pub final_states: (Option<State>, Option<State>),
    /// An error either end saw.
    pub error: Option<Error>,
    /// Virtual time from connect to both ends finished.
    pub duration: core::time::Duration,
    /// The client's connection info when it finished.
    pub client_info: Option<ConnectionInfo>,
    /// The server's connection info when it finished.
    pub server_info: Option<ConnectionInfo>,
}

impl Outcome {
    /// Every byte arrived intact both ways and both ends finished cleanly.
    pub fn is_clean(&self) -> bool {
        let done = |s: Option<State>| matches!(s, Some(State::Closed | State::TimeWait));
        self.client_data_intact
            && self.server_data_intact
            && self.error.is_none()
            && done(self.final_states.0)
            && done(self.final_states.1)
    }
}

/// What to transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferSpec {
    /// The server's port.
    pub port: u16,
    /// Bytes the client sends.
    pub client_bytes: u64,
    /// Bytes the server sends.
    pub server_bytes: u64,
    /// Seed of the data each side sends.
    pub seed: u64,
    /// The client's initial sequence number, when a test needs a known one.
    pub client_iss: Option<u32>,
}

impl Default for TransferSpec {
    fn default() -> Self {
        TransferSpec { port: 80, client_bytes: 0, server_bytes: 0, seed: 0, client_iss: None }
    }
}

/// A two-way transfer in progress.
pub struct Transfer {
    client: End,
    server: End,
    listener: ListenerHandle,
    started: Instant,
    buf: Vec<u8>,
}

impl Transfer {
    /// Starts a transfer: `server` listens on `spec.port`, `client` connects.
    pub fn start(net: &mut Network, client: HostId, server: HostId, spec: &TransferSpec) -> Result<Self, Error> {
        let now = net.now();
        let saddr = SocketAddr::new(net.addr(server), spec.port);
        let caddr = SocketAddr::new(net.addr(client), 0);
        let listener = net.endpoint(server).listen(saddr, 16)?;
        let h = match spec.client_iss {
            Some(iss) => net.endpoint(client).connect_with_iss(now, caddr, saddr, iss)?,
            None => net.endpoint(client).connect(now, caddr, saddr)?,
        };
        let mut c = End::new(client, spec.client_bytes, spec.seed);
        c.handle = Some(h);
        let s = End::new(server, spec.server_bytes, spec.seed ^ 0x5eed_5eed_5eed_5eed);
        Ok(Transfer { client: c, server: s, listener, started: now, buf: vec![0; 64 * 1024] })
    }

    /// Drives both ends after the network moved.
    pub fn poll(&mut self, net: &mut Network) {
        if self.server.handle.is_none() {
            if let Ok(h) = net.endpoint(self.server.host).accept(self.listener) {
                self.server.handle = Some(h);
            }
        }
        self.client.poll(net, &mut self.buf);
        self.server.poll(net, &mut self.buf);
    }

    /// The client's and the server's connection, once each exists.
    pub fn handles(&self) -> (Option<ConnHandle>, Option<ConnHandle>) {
        (self.client.handle, self.server.handle)
    }

    /// Both ends are finished.
    pub fn is_done(&self) -> bool {
        self.client.final_state.is_some() && self.server.final_state.is_some()
    }

    /// Runs the network until the transfer is done or `limit` passes.
    pub fn run(mut self, net: &mut Network, limit: Instant) -> Outcome {
        self.poll(net);
        while !self.is_done() && net.step(limit) {
            self.poll(net);
        }
        self.outcome(net.now())
    }

    /// The outcome so far.
    pub fn outcome(self, now: Instant) -> Outcome {
        let (c, s) = (self.client, self.server);
        let end = match (c.closed_at, s.closed_at) {
            (Some(a), Some(b)) => a.max(b),
            _ => now,
        };
        Outcome {
            client_to_server: (c.generated, s.received),
            server_to_client: (s.generated, c.received),
            client_data_intact: c.generated == s.received && c.sent_hash.finalize() == s.recv_hash.finalize(),
            server_data_intact: s.generated == c.received && s.sent_hash.finalize() == c.recv_hash.finalize(),
            final_states: (c.final_state, s.final_state),
            error: c.error.or(s.error),
            duration: end - self.started,
            client_info: c.info,
            server_info: s.info,
        }
    }
}
