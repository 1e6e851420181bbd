//! The user's side of one connection (DESIGN.md, "The runtime: who owns
//! what"). A `TcpStream` reads from and writes to its own queues under its
//! own small lock and never touches the endpoint: the driver task moves
//! bytes between these queues and the connection in the core during its
//! passes, and records what the user must learn (established, end of
//! stream, an error, the stack stopped). Wakers are handed back to the
//! driver, which calls them after every lock is released.

use crate::lifecycle::StopCause;
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use synack_core::{ConnHandle, Endpoint, Error, Instant, SocketOptions, State};
use tokio::io::{Interest, Ready};

/// Smallest chunk a queue allocates (a small write takes little memory).
const MIN_CHUNK: usize = 4 * 1024;
/// Largest chunk a queue allocates.
const MAX_CHUNK: usize = 64 * 1024;

/// Bytes in order, in chunks allocated as data comes (never zero-filled)
/// and freed as it is consumed: an idle queue holds no memory.
#[derive(Debug, Default)]
pub(crate) struct ByteQueue {
    chunks: VecDeque<Vec<u8>>,
    /// Bytes of the front chunk already consumed.
    head: usize,
    len: usize,
}

impl ByteQueue {
    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a copy of `data`.
    pub fn push(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if let Some(last) = self.chunks.back_mut() {
                let room = last.capacity() - last.len();
                if room > 0 {
                    let n = room.min(data.len());
                    last.extend_from_slice(&data[..n]);
                    self.len += n;
                    data = &data[n..];
                    continue;
                }
            }
            let cap = (self.len + data.len()).clamp(MIN_CHUNK, MAX_CHUNK);
            self.chunks.push_back(Vec::with_capacity(cap));
        }
    }

    /// The first contiguous run of bytes.
    pub fn front(&self) -> &[u8] {
        self.chunks.front().map_or(&[], |c| &c[self.head..])
    }

    /// Drops `n` bytes from the front.
    pub fn consume(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let front = self.chunks.front().expect("len counts the chunks").len() - self.head;
            if n < front {
                self.head += n;
                return;
            }
            n -= front;
            self.chunks.pop_front();
            self.head = 0;
        }
        if self.len == 0 {
            self.chunks.clear();
            self.head = 0;
        }
    }

    /// Copies up to `dst.len()` bytes from the front into `dst`, leaving them.
    pub fn peek_into(&self, dst: &mut [u8]) -> usize {
        self.peek_at(0, dst)
    }

    /// Copies up to `dst.len()` bytes starting `skip` bytes from the front.
    pub fn peek_at(&self, skip: usize, dst: &mut [u8]) -> usize {
        let mut n = 0;
        let mut skip = self.head + skip;
        for c in &self.chunks {
            if n == dst.len() {
                break;
            }
            if skip >= c.len() {
                skip -= c.len();
                continue;
            }
            let part = &c[skip..];
            skip = 0;
            let k = part.len().min(dst.len() - n);
            dst[n..n + k].copy_from_slice(&part[..k]);
            n += k;
        }
        n
    }

    /// Moves up to `dst.len()` bytes from the front into `dst`.
    pub fn pop_into(&mut self, dst: &mut [u8]) -> usize {
        let n = self.peek_into(dst);
        self.consume(n);
        n
    }
}

/// The write side as the user left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum WriteSide {
    /// Writing.
    #[default]
    Open,
    /// Shut down: a FIN follows the queued bytes.
    ShutdownRequested,
    /// The FIN is queued in the core.
    ShutdownDone,
}

/// What the user and the driver share of one connection.
#[derive(Debug)]
pub(crate) struct SocketState {
    /// Received bytes the user has not read.
    pub rx: ByteQueue,
    /// The peer's FIN was read out of the core: after `rx`, end of stream.
    pub rx_eof: bool,
    /// The driver stopped moving data in because `rx` was full.
    pub rx_full: bool,
    /// Bytes written by the user, not yet in the core.
    pub tx: ByteQueue,
    /// A writer waits for room in `tx`.
    pub tx_waiting: bool,
    pub write_side: WriteSide,
    /// The handshake completed (writes may go).
    pub established: bool,
    /// The connection failed; reads report it once `rx` is drained.
    pub error: Option<Error>,
    /// The stack stopped.
    pub stopped: Option<StopCause>,
    /// `take_error` reported `error` already.
    pub error_taken: bool,
    /// The socket's options (SO_*, TCP_*, IP_TTL).
    pub opts: SocketOptions,
    /// Every user handle is gone: the driver closes the connection.
    pub dropped: bool,
    pub read_waker: Option<Waker>,
    pub write_waker: Option<Waker>,
}

/// One connection's shared state.
#[derive(Debug)]
pub(crate) struct Socket {
    pub handle: ConnHandle,
    state: Mutex<SocketState>,
    /// In the driver's service list.
    pub queued: AtomicBool,
    /// Most bytes `rx` holds before the driver leaves data in the core.
    rx_limit: usize,
    /// Most bytes `tx` takes before writers wait.
    tx_limit: usize,
}

/// What the driver does with a socket after servicing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    Keep,
    /// The connection was handed to the core to finish; forget the socket.
    Remove,
}

fn replace_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

fn take_into(slot: &mut Option<Waker>, wakers: &mut Vec<Waker>) {
    if let Some(w) = slot.take() {
        wakers.push(w);
    }
}

impl Socket {
    /// A socket for a connection; `established` for an accepted one. Its
    /// queues hold at most `queue_limit` bytes each way, and no more than
    /// its buffers (a small SO_SNDBUF makes writers wait early, as it should).
    pub fn new(handle: ConnHandle, established: bool, queue_limit: usize, opts: SocketOptions) -> Arc<Socket> {
        let rx_limit = queue_limit.min(opts.recv_buffer).max(1);
        let tx_limit = queue_limit.min(opts.send_buffer).max(1);
        let state = SocketState {
            rx: ByteQueue::default(),
            rx_eof: false,
            rx_full: false,
            tx: ByteQueue::default(),
            tx_waiting: false,
            write_side: WriteSide::Open,
            established,
            error: None,
            stopped: None,
            error_taken: false,
            opts,
            dropped: false,
            read_waker: None,
            write_waker: None,
        };
        Arc::new(Socket { handle, state: Mutex::new(state), queued: AtomicBool::new(false), rx_limit, tx_limit })
    }

    /// The shared state, locked (briefly).
    pub fn lock(&self) -> MutexGuard<'_, SocketState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks the socket as wanting the driver; true when the caller must
    /// push it onto the service list.
    pub fn mark_queued(&self) -> bool {
        !self.queued.swap(true, Ordering::AcqRel)
    }

    // ----- the user's side -----

    /// Reads into `dst`; `Ok(0)` is end of stream. With a context, a read
    /// that would wait registers it and is `Pending`; without (a `try_`
    /// call), it is `WouldBlock`. Returns also whether the driver must be
    /// told (the reader made room after `rx` was full).
    pub fn poll_read(&self, cx: Option<&Context<'_>>, dst: &mut [u8], peek: bool) -> (Poll<io::Result<usize>>, bool) {
        let mut bufs = [io::IoSliceMut::new(dst)];
        self.poll_read_vectored(cx, &mut bufs, peek)
    }

    /// [`Socket::poll_read`] into several buffers, filled in order.
    pub fn poll_read_vectored(
        &self,
        cx: Option<&Context<'_>>,
        dst: &mut [io::IoSliceMut<'_>],
        peek: bool,
    ) -> (Poll<io::Result<usize>>, bool) {
        let mut st = self.lock();
        let want: usize = dst.iter().map(|b| b.len()).sum();
        if !st.rx.is_empty() && want > 0 {
            let mut n = 0;
            for b in dst.iter_mut() {
                let k = if peek { st.rx.peek_at(n, b) } else { st.rx.pop_into(b) };
                n += k;
                if k < b.len() {
                    break;
                }
            }
            if peek {
                return (Poll::Ready(Ok(n)), false);
            }
            let kick = st.rx_full && st.rx.len() <= self.rx_limit / 2;
            if kick {
                st.rx_full = false;
            }
            return (Poll::Ready(Ok(n)), kick);
        }
        if want == 0 || st.rx_eof {
            return (Poll::Ready(Ok(0)), false);
        }
        if let Some(e) = st.error {
            return (Poll::Ready(Err(crate::stack::io_error(e))), false);
        }
        if let Some(c) = &st.stopped {
            return (Poll::Ready(Err(c.to_io())), false);
        }
        match cx {
            Some(cx) => {
                replace_waker(&mut st.read_waker, cx);
                (Poll::Pending, false)
            }
            None => (Poll::Ready(Err(io::ErrorKind::WouldBlock.into())), false),
        }
    }

    /// What the stream is ready for now (tokio's `Ready` bits).
    fn readiness(&self, st: &SocketState) -> Ready {
        let mut r = Ready::EMPTY;
        let failed = st.error.is_some() || st.stopped.is_some();
        if !st.rx.is_empty() || st.rx_eof || failed {
            r |= Ready::READABLE;
        }
        if st.rx_eof || failed {
            r |= Ready::READ_CLOSED;
        }
        let open = st.write_side == WriteSide::Open;
        if !open || failed || (st.established && st.tx.len() < self.tx_limit) {
            r |= Ready::WRITABLE;
        }
        if !open || failed {
            r |= Ready::WRITE_CLOSED;
        }
        r
    }

    /// Waits (registering `cx`) until the stream is ready for something
    /// `interest` names; returns what it is ready for.
    pub fn poll_ready(&self, cx: &Context<'_>, interest: Interest) -> Poll<Ready> {
        let mut st = self.lock();
        let r = self.readiness(&st);
        let mut wanted = Ready::EMPTY;
        if interest.is_readable() {
            wanted |= Ready::READABLE | Ready::READ_CLOSED;
        }
        if interest.is_writable() {
            wanted |= Ready::WRITABLE | Ready::WRITE_CLOSED;
        }
        let got = r & wanted;
        if !got.is_empty() {
            return Poll::Ready(got);
        }
        if interest.is_readable() {
            replace_waker(&mut st.read_waker, cx);
        }
        if interest.is_writable() {
            st.tx_waiting = true;
            replace_waker(&mut st.write_waker, cx);
        }
        Poll::Pending
    }

    /// Ready now for what `interest` names (no waiting).
    pub fn ready_now(&self, interest: Interest) -> bool {
        let st = self.lock();
        let r = self.readiness(&st);
        (interest.is_readable() && r.is_readable()) || (interest.is_writable() && r.is_writable())
    }

    /// Queues as much of `bufs` as fits, in order. With a context, a write
    /// that would wait registers it; without, it is `WouldBlock`. Returns
    /// also whether the driver must be told.
    pub fn poll_write(&self, cx: Option<&Context<'_>>, bufs: &[io::IoSlice<'_>]) -> (Poll<io::Result<usize>>, bool) {
        let mut st = self.lock();
        if let Some(e) = st.error {
            return (Poll::Ready(Err(crate::stack::io_error(e))), false);
        }
        if let Some(c) = &st.stopped {
            return (Poll::Ready(Err(c.to_io())), false);
        }
        if st.write_side != WriteSide::Open {
            return (Poll::Ready(Err(crate::stack::io_error(Error::BrokenPipe))), false);
        }
        if bufs.iter().all(|b| b.is_empty()) {
            return (Poll::Ready(Ok(0)), false);
        }
        let mut room = self.tx_limit.saturating_sub(st.tx.len());
        if !st.established || room == 0 {
            return match cx {
                Some(cx) => {
                    st.tx_waiting = true;
                    replace_waker(&mut st.write_waker, cx);
                    (Poll::Pending, false)
                }
                None => (Poll::Ready(Err(io::ErrorKind::WouldBlock.into())), false),
            };
        }
        let mut n = 0;
        for b in bufs {
            let k = b.len().min(room);
            st.tx.push(&b[..k]);
            n += k;
            room -= k;
            if room == 0 {
                break;
            }
        }
        (Poll::Ready(Ok(n)), true)
    }

    /// The connection's error, once (SO_ERROR): later calls say `None`.
    pub fn take_error(&self) -> Option<io::Error> {
        let mut st = self.lock();
        if st.error_taken {
            return None;
        }
        let e = st.error?;
        st.error_taken = true;
        Some(crate::stack::io_error(e))
    }

    /// The socket's options.
    pub fn options(&self) -> SocketOptions {
        self.lock().opts.clone()
    }

    /// Records options the core took for this connection.
    pub fn set_options(&self, opts: SocketOptions) {
        self.lock().opts = opts;
    }

    /// SHUT_WR: a FIN follows what was written. True when the driver must be told.
    pub fn shutdown(&self) -> io::Result<bool> {
        let mut st = self.lock();
        if st.write_side != WriteSide::Open {
            return Ok(false);
        }
        if let Some(c) = &st.stopped {
            return Err(c.to_io());
        }
        st.write_side = WriteSide::ShutdownRequested;
        Ok(true)
    }

    /// Every user handle is gone.
    pub fn drop_by_user(&self) {
        let mut st = self.lock();
        st.dropped = true;
        st.read_waker = None;
        st.write_waker = None;
    }

    // ----- the driver's side -----

    /// Moves bytes between the queues and the core and records what the
    /// user must learn; wakers to call go into `wakers`.
    pub fn service(&self, ep: &mut Endpoint, now: Instant, wakers: &mut Vec<Waker>) -> After {
        let h = self.handle;
        let mut st = self.lock();
        if !st.established && matches!(ep.state(h), Ok(s) if s.is_synchronized()) {
            st.established = true;
            take_into(&mut st.write_waker, wakers);
        }
        // Written bytes into the core, as far as its send buffer takes them.
        let tx_before = st.tx.len();
        while !st.tx.is_empty() {
            match ep.send(now, h, st.tx.front()) {
                Ok(0) | Err(Error::WouldBlock) => break,
                Ok(n) => st.tx.consume(n),
                Err(e) => {
                    st.error = st.error.or(Some(e));
                    break;
                }
            }
        }
        if st.tx.len() < tx_before && st.tx_waiting && st.tx.len() <= self.tx_limit / 2 {
            st.tx_waiting = false;
            take_into(&mut st.write_waker, wakers);
        }
        if st.tx.is_empty() && st.write_side == WriteSide::ShutdownRequested {
            st.write_side = WriteSide::ShutdownDone;
            match ep.shutdown(now, h) {
                Ok(()) | Err(Error::NotConnected) => {}
                Err(e) => st.error = st.error.or(Some(e)),
            }
        }
        // Received bytes out of the core, as far as `rx` has room.
        let rx_before = st.rx.len();
        while !st.rx_eof && st.error.is_none() {
            let room = self.rx_limit.saturating_sub(st.rx.len());
            if room == 0 {
                st.rx_full = true;
                break;
            }
            let rx = &mut st.rx;
            match ep.recv_with(now, h, room, |s| rx.push(s)) {
                Ok(0) => st.rx_eof = true,
                Ok(_) => {}
                Err(Error::WouldBlock) => break,
                Err(e) => st.error = Some(e),
            }
        }
        if let Ok(Some(synack_core::CloseReason::Error(e))) = ep.close_reason(h) {
            st.error = st.error.or(Some(e));
        }
        let news = st.rx.len() > rx_before || st.rx_eof || st.error.is_some();
        if news {
            take_into(&mut st.read_waker, wakers);
        }
        if st.error.is_some() {
            take_into(&mut st.write_waker, wakers);
        }
        if !st.dropped {
            return After::Keep;
        }
        // The user is gone: close as a kernel socket's close does. Unread
        // data makes it an abort (RFC 2525 §2.17); written data goes first.
        // SO_LINGER 0 discards what is queued and resets at once.
        let unread = !st.rx.is_empty() || ep.readable_bytes(h).unwrap_or(0) > 0;
        if unread {
            let _ = ep.abort(now, h);
        } else if !st.tx.is_empty() && st.error.is_none() && !st.opts.close_aborts() {
            return After::Keep;
        }
        let _ = ep.close_with(now, h, &st.opts);
        After::Remove
    }

    /// Direct delivery: takes `data`, the next bytes of the stream, from
    /// an arriving segment when `rx` has room for all of it and the
    /// driver has not stopped moving data in; false leaves it to the
    /// core's receive buffer (and the order of the stream with it).
    pub fn take_direct(&self, data: &[u8], wakers: &mut Vec<Waker>) -> bool {
        let mut st = self.lock();
        let open = !st.rx_eof && !st.rx_full && !st.dropped && st.error.is_none() && st.stopped.is_none();
        if !open || st.rx.len() + data.len() > self.rx_limit {
            return false;
        }
        st.rx.push(data);
        take_into(&mut st.read_waker, wakers);
        true
    }

    /// The handshake completed (a reset may already follow: `connect`
    /// still succeeds, as a kernel socket's does, and reads report it).
    pub fn set_established(&self, wakers: &mut Vec<Waker>) {
        let mut st = self.lock();
        if !st.established {
            st.established = true;
            take_into(&mut st.write_waker, wakers);
        }
    }

    /// The stack stopped: every call from now on fails with `cause`.
    pub fn stop(&self, cause: &StopCause, wakers: &mut Vec<Waker>) {
        let mut st = self.lock();
        st.stopped = Some(cause.clone());
        take_into(&mut st.read_waker, wakers);
        take_into(&mut st.write_waker, wakers);
    }

    /// The connection's state as the user sees it, for `connect`.
    pub fn poll_connected(&self, cx: &Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.lock();
        if st.established {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = st.error {
            return Poll::Ready(Err(crate::stack::io_error(e)));
        }
        if let Some(c) = &st.stopped {
            return Poll::Ready(Err(c.to_io()));
        }
        replace_waker(&mut st.write_waker, cx);
        Poll::Pending
    }
}

/// True for the states in which the connection counts as closed for
/// `Stack::shutdown`.
pub(crate) fn is_done(state: Result<State, Error>) -> bool {
    matches!(state, Ok(State::Closed | State::TimeWait) | Err(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_keeps_order_and_frees_what_it_hands_out() {
        let mut q = ByteQueue::default();
        let mut next = 0u8;
        let mut expect = 0u8;
        for round in 0..200usize {
            let data: Vec<u8> = (0..(round * 997) % 70_000)
                .map(|_| {
                    next = next.wrapping_add(1);
                    next
                })
                .collect();
            q.push(&data);
            let mut out = vec![0u8; (round * 1_301) % 90_000];
            let n = q.pop_into(&mut out);
            for &b in &out[..n] {
                expect = expect.wrapping_add(1);
                assert_eq!(b, expect);
            }
        }
        let mut rest = vec![0u8; q.len()];
        assert_eq!(q.pop_into(&mut rest), rest.len());
        assert!(q.is_empty());
        assert!(q.chunks.is_empty(), "an empty queue holds no memory");
    }
}
