//! The driver task: the only place protocol work happens. Each pass takes
//! the core's lock once and does bounded work: the datagrams read since the
//! last pass (at most a batch), the sockets that asked for service, due
//! timers, the endpoint's events, and at most a batch of datagrams out.
//! Then it releases the lock, calls the wakers it collected, sends, and
//! waits for a datagram, a poke or the next timer (or only yields, when
//! work is left over). User tasks never wait for a pass: they touch only
//! their sockets' queues.

use crate::device::{Device, Offload, RxMeta, TxMeta};
use crate::lifecycle::StopCause;
use crate::socket::{After, Socket};
use crate::stack::{Core, Shared};
use std::future::{poll_fn, Future};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;
use synack_core::{CloseReason, ConnHandle, Event, Instant, Received, State, Transmit};

/// Bytes one pass reads in, and sends out, at most (a batch of datagrams).
const PASS_BYTES: usize = 1 << 20;
/// Most datagrams per batch.
const MAX_BATCH: usize = 64;
/// Fewest datagrams per batch.
const MIN_BATCH: usize = 4;
/// A wait with no timer due.
const IDLE: Duration = Duration::from_secs(3600);

/// Logs retransmissions with `tracing`, and passes everything to the user's tracer.
pub(crate) struct LogTracer {
    pub user: Option<Box<dyn synack_core::Tracer>>,
}

impl synack_core::Tracer for LogTracer {
    fn packet(&mut self, now: Instant, dir: synack_core::Direction, bytes: &[u8]) {
        if let Some(u) = self.user.as_mut() {
            u.packet(now, dir, bytes);
        }
    }

    fn state_change(&mut self, now: Instant, tuple: synack_core::FourTuple, from: State, to: State) {
        if let Some(u) = self.user.as_mut() {
            u.state_change(now, tuple, from, to);
        }
    }

    fn retransmission(&mut self, now: Instant, tuple: synack_core::FourTuple, timeout: bool) {
        tracing::debug!(local = %tuple.local, remote = %tuple.remote, timeout, "retransmission");
        if let Some(u) = self.user.as_mut() {
            u.retransmission(now, tuple, timeout);
        }
    }
}

/// A datagram waiting to be sent.
struct Outgoing {
    buf: Vec<u8>,
    len: usize,
    meta: TxMeta,
}

/// Marks the stack stopped when the driver ends, also when its future is
/// dropped without finishing (the runtime shut down).
struct StopOnDrop {
    shared: Arc<Shared>,
    cause: Option<StopCause>,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let cause = self.cause.take().unwrap_or(StopCause::RuntimeGone);
        tracing::debug!(%cause, "stack stopped");
        self.shared.mark_stopped(cause);
    }
}

/// Runs the stack on `dev` until it stops; then the device is closed.
pub(crate) async fn drive<D: Device>(shared: Arc<Shared>, mut dev: D) {
    let mut guard = StopOnDrop { shared: shared.clone(), cause: None };
    let cause = run(&shared, &mut dev).await;
    if let StopCause::Device(_, e) = &cause {
        tracing::error!(error = %e, "device failed; the stack stops");
    }
    drop(dev);
    guard.cause = Some(cause);
}

fn device_failed(e: std::io::Error) -> StopCause {
    StopCause::Device(e.kind(), e.to_string().into())
}

/// Reusable buffers of one driver.
struct Buffers {
    /// Datagrams read since the last pass, and what the device said of them.
    rx: Vec<(Vec<u8>, RxMeta)>,
    got: usize,
    out: Vec<Outgoing>,
    spare: Vec<Vec<u8>>,
    wakers: Vec<Waker>,
    services: Vec<Arc<Socket>>,
    touched: Vec<ConnHandle>,
    /// Size of a datagram buffer.
    max: usize,
    batch: usize,
    offload: bool,
}

async fn run<D: Device>(shared: &Shared, dev: &mut D) -> StopCause {
    let max = dev.max_datagram().max(1280);
    let offload = shared.lock().ep.config().offload != Offload::default();
    let batch = (PASS_BYTES / max).clamp(MIN_BATCH, MAX_BATCH);
    let mut b = Buffers {
        rx: Vec::new(),
        got: 0,
        out: Vec::new(),
        spare: Vec::new(),
        wakers: Vec::new(),
        services: Vec::new(),
        touched: Vec::new(),
        max,
        batch,
        offload,
    };
    let mut sleep = Box::pin(tokio::time::sleep(IDLE));
    // A device error ends the driver after the datagrams read before it.
    let mut failed = None;
    loop {
        let stop = failed.take().or_else(|| shared.stop_requested());
        let (next, more) = pass(shared, &mut b);
        for w in b.wakers.drain(..) {
            w.wake();
        }
        for o in b.out.drain(..) {
            if let Err(e) = poll_fn(|cx| dev.poll_send(cx, &o.buf[..o.len], o.meta)).await {
                return device_failed(e);
            }
            if b.spare.len() < b.batch && o.buf.len() >= b.max {
                b.spare.push(o.buf);
            }
        }
        if let Some(cause) = stop {
            return cause;
        }
        if more {
            tokio::task::yield_now().await;
        }
        let far = tokio::time::Instant::now() + IDLE;
        sleep.as_mut().reset(next.unwrap_or(far));
        let notified = shared.notify.notified();
        tokio::pin!(notified);
        let waited = poll_fn(|cx| {
            while b.got < b.batch {
                if b.rx.len() <= b.got {
                    b.rx.push((vec![0; b.max], RxMeta::plain(0)));
                }
                let (buf, meta) = &mut b.rx[b.got];
                match dev.poll_recv(cx, buf) {
                    Poll::Ready(Ok(m)) => {
                        *meta = m;
                        b.got += 1;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => break,
                }
            }
            let poked = notified.as_mut().poll(cx).is_ready();
            if more || b.got > 0 || poked || sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
            Poll::Pending
        })
        .await;
        if let Err(e) = waited {
            failed = Some(device_failed(e));
        }
    }
}

/// One pass under the core's lock. Returns the next timer and whether the
/// output budget ran out (more to send).
fn pass(shared: &Shared, b: &mut Buffers) -> (Option<tokio::time::Instant>, bool) {
    let mut core = shared.lock();
    for (buf, meta) in &b.rx[..b.got] {
        core.input(&buf[..meta.len], meta.info, &mut b.wakers);
    }
    b.got = 0;
    shared.take_service(&mut b.services);
    let now = core.now();
    for s in b.services.drain(..) {
        s.queued.store(false, Ordering::Release);
        service(&mut core, now, &s, &mut b.wakers);
    }
    if core.ep.poll_timeout().is_some_and(|t| t <= now) {
        core.ep.handle_timeout(now);
    }
    dispatch_events(&mut core, now, b);
    let more = transmit(&mut core, now, b);
    dispatch_events(&mut core, now, b);
    let replies = std::mem::take(&mut core.replies);
    b.out.extend(replies.into_iter().map(|buf| Outgoing { len: buf.len(), buf, meta: TxMeta::default() }));
    core.stats.packets_out += b.out.len() as u64;
    (core.ep.poll_timeout().map(|t| core.instant_of(t)), more)
}

/// Services one socket; forgets it when the core finishes the connection alone.
fn service(core: &mut Core, now: Instant, sock: &Arc<Socket>, wakers: &mut Vec<Waker>) {
    if sock.service(&mut core.ep, now, wakers) == After::Remove {
        core.sockets.remove(&sock.handle);
    }
}

/// The endpoint's events: wake acceptors, and service each socket touched once.
fn dispatch_events(core: &mut Core, now: Instant, b: &mut Buffers) {
    while let Some(ev) = core.ep.poll_event() {
        match ev {
            Event::Incoming(l) => {
                tracing::debug!(listener = ?l, "connection established (passive)");
                if let Some(w) = core.accept_wakers.remove(&l) {
                    b.wakers.push(w);
                }
            }
            Event::Connected(h) => {
                tracing::debug!(conn = ?core.ep.tuple(h).ok(), "connection established");
                if let Some(s) = core.sockets.get(&h) {
                    s.set_established(&mut b.wakers);
                }
                b.touched.push(h);
            }
            Event::Readable(h) | Event::Urgent(h) | Event::Writable(h) => b.touched.push(h),
            Event::Closed(h, reason) => {
                match reason {
                    CloseReason::Graceful => tracing::debug!(?h, "connection closed"),
                    CloseReason::Error(e) => {
                        core.stats.connections_failed += 1;
                        tracing::info!(?h, error = %e, "connection closed with an error");
                    }
                }
                b.touched.push(h);
            }
        }
    }
    b.touched.sort_unstable();
    b.touched.dedup();
    for h in b.touched.drain(..) {
        if let Some(s) = core.sockets.get(&h).cloned() {
            service(core, now, &s, &mut b.wakers);
        }
    }
}

/// Takes up to a batch of datagrams from the endpoint; those for the
/// stack's own addresses loop back into its input. True when the budget
/// ran out.
fn transmit(core: &mut Core, now: Instant, b: &mut Buffers) -> bool {
    for _ in 0..b.batch {
        let mut buf = b.spare.pop().unwrap_or_else(|| vec![0; b.max]);
        let t = if b.offload {
            core.ep.poll_transmit_offload(now, &mut buf)
        } else {
            core.ep.poll_transmit(now, &mut buf).map(|len| Transmit {
                len,
                segment_size: None,
                partial_checksum: false,
            })
        };
        let Some(t) = t else {
            b.spare.push(buf);
            return false;
        };
        if core.is_own(&buf[..t.len]) {
            let info = Received { checksum_verified: t.partial_checksum, segment_size: t.segment_size };
            core.input(&buf[..t.len], info, &mut b.wakers);
            b.spare.push(buf);
        } else {
            let meta = TxMeta { segment_size: t.segment_size, partial_checksum: t.partial_checksum };
            core.stats.super_segments_out += u64::from(t.segment_size.is_some());
            b.out.push(Outgoing { buf, len: t.len, meta });
        }
    }
    true
}
