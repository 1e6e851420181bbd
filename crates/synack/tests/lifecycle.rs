//! The runtime's ownership (DESIGN.md, "The runtime: who owns what"):
//! dropping the last handle stops the driver and frees everything, and a
//! stack that stops for any reason fails every pending and later call with
//! an error naming the cause. Memory is counted by a global allocator in
//! this test binary, so the figures are exact.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;
use synack::{pipe, Stack, StackConfig, StopCause, TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The system allocator, counting bytes live.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a
// counter is kept beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn cfg(ip: &str) -> StackConfig {
    StackConfig::new(vec![ip.parse().unwrap()])
}

/// A connection between two new stacks that moves a few bytes each way.
async fn exchange(n: u16) -> (Stack, Stack) {
    let (a, b) = pipe(1500);
    let c = Stack::new(a, cfg("10.0.0.1")).unwrap();
    let s = Stack::new(b, cfg("10.0.0.2")).unwrap();
    let l = TcpListener::bind(&s, addr("10.0.0.2:80")).await.unwrap();
    let mut x = TcpStream::connect(&c, addr("10.0.0.2:80")).await.unwrap();
    let (mut y, _) = l.accept().await.unwrap();
    x.write_all(&n.to_be_bytes()).await.unwrap();
    let mut got = [0u8; 2];
    y.read_exact(&mut got).await.unwrap();
    assert_eq!(u16::from_be_bytes(got), n);
    (c, s)
}

#[test]
fn a_thousand_dropped_stacks_leave_no_task_and_no_memory_behind() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let metrics = rt.metrics();
    rt.block_on(async {
        // Warm up whatever the runtime keeps (timer wheel, task slabs).
        for i in 0..20 {
            drop(exchange(i).await);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let tasks_before = metrics.num_alive_tasks();
        let live_before = LIVE.load(Ordering::Relaxed);
        for i in 0..1000 {
            let (c, s) = exchange(i).await;
            drop(c);
            drop(s);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while metrics.num_alive_tasks() > tasks_before && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(metrics.num_alive_tasks(), tasks_before, "every driver task ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let grown = LIVE.load(Ordering::Relaxed) - live_before;
        println!("live memory after 1,000 stack pairs: {grown} bytes more than before");
        assert!(grown < 256 * 1024, "{grown} bytes left behind");
    });
}

#[tokio::test]
async fn when_the_device_fails_every_call_says_why() {
    let (a, b) = pipe(1500);
    let c = Stack::new(a, cfg("10.0.0.1")).unwrap();
    let s = Stack::new(b, cfg("10.0.0.2")).unwrap();
    let l = TcpListener::bind(&s, addr("10.0.0.2:80")).await.unwrap();
    let mut x = TcpStream::connect(&c, addr("10.0.0.2:80")).await.unwrap();
    let (_y, _) = l.accept().await.unwrap();
    let cl = TcpListener::bind(&c, addr("10.0.0.1:99")).await.unwrap();
    let pending_read = tokio::spawn(async move {
        let mut buf = [0u8; 4];
        x.read(&mut buf).await
    });
    let pending_accept = tokio::spawn(async move { cl.accept().await.map(|_| ()) });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The other end of the pipe goes away: c's device fails.
    s.abort().await;
    drop(l);
    drop(s);
    let cause = tokio::time::timeout(Duration::from_secs(5), c.closed()).await.expect("c stopped");
    assert!(matches!(cause, StopCause::Device(ErrorKind::BrokenPipe, _)), "{cause:?}");
    assert_eq!(c.error(), Some(cause.clone()));
    let e = pending_read.await.unwrap().unwrap_err();
    assert!(
        e.kind() == ErrorKind::ConnectionReset || e.to_string().contains("device failed"),
        "the reset, or the device's failure: {e}"
    );
    let e = pending_accept.await.unwrap().unwrap_err();
    assert!(e.to_string().contains("its device failed"), "{e}");
    let e = TcpStream::connect(&c, addr("10.0.0.2:80")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BrokenPipe);
    assert!(e.to_string().contains("the synack stack stopped: its device failed"), "{e}");
    let e = TcpListener::bind(&c, addr("10.0.0.1:100")).await.unwrap_err();
    assert!(e.to_string().contains("stopped"), "{e}");
}

#[test]
fn a_stack_whose_runtime_is_gone_fails_every_call() {
    let first = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (stack, held) = first.block_on(async {
        let (c, s) = exchange(1).await;
        let l = TcpListener::bind(&s, addr("10.0.0.2:81")).await.unwrap();
        let st = TcpStream::connect(&c, addr("10.0.0.2:81")).await.unwrap();
        let _ = l;
        (c, st)
    });
    drop(first);
    let second = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    second.block_on(async move {
        assert_eq!(stack.error(), Some(StopCause::RuntimeGone));
        let e = TcpStream::connect(&stack, addr("10.0.0.2:80")).await.unwrap_err();
        assert!(e.to_string().contains("the tokio runtime that drove it is gone"), "{e}");
        let mut held = held;
        let e = held.write_all(b"x").await.unwrap_err();
        assert!(e.to_string().contains("runtime"), "{e}");
        let e = held.read(&mut [0u8; 4]).await.unwrap_err();
        assert!(e.to_string().contains("runtime"), "{e}");
    });
}

#[tokio::test]
async fn shutdown_and_abort_are_the_causes_stacks_report() {
    let (c, s) = exchange(2).await;
    c.shutdown(Duration::from_secs(1)).await;
    assert_eq!(c.error(), Some(StopCause::Shutdown));
    // c's end of the pipe is closed with it: s's device fails.
    assert!(matches!(s.closed().await, StopCause::Device(ErrorKind::BrokenPipe, _)));
    let (c, s) = exchange(3).await;
    s.abort().await;
    assert_eq!(s.closed().await, StopCause::Aborted);
    let e = TcpStream::connect(&s, addr("10.0.0.1:80")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionAborted);
    drop(c);
}

#[test]
fn outside_a_runtime_stack_new_is_an_error_not_a_panic() {
    let (a, _b) = pipe(1500);
    let e = Stack::new(a, cfg("10.0.0.1")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Other);
    assert!(e.to_string().contains("needs a tokio runtime"), "{e}");
}

#[tokio::test]
async fn an_invalid_configuration_is_refused_with_its_reason() {
    let (a, _b) = pipe(1500);
    let mut c = cfg("10.0.0.1");
    c.tcp.min_rto = Duration::from_secs(10);
    c.tcp.max_rto = Duration::from_secs(1);
    let e = Stack::new(a, c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("min_rto 10s is above max_rto 1s"), "{e}");
    let (a, _b) = pipe(1500);
    let e = Stack::new(a, StackConfig::new(vec![])).unwrap_err();
    assert!(e.to_string().contains("at least one address"), "{e}");
}
