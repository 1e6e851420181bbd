//! A network namespace holding the kernel side of a TUN device whose other
//! side is a synack stack: the kernel at 10.7.0.1, synack at 10.7.0.2.
//! Needs root; without it the test is skipped with a printed reason, unless
//! SYNACK_REQUIRE_NET=1 (CI), where it fails.
#![warn(missing_docs)]

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use synack::{Device, Stack, StackConfig, TunDevice, TunOptions};

/// The kernel's address in the namespace.
pub const KERNEL_IP: &str = "10.7.0.1";
/// The kernel's IPv6 address (see [`NetEnv::add_ipv6`]).
pub const KERNEL_IP6: &str = "fd07::1";
/// The stack's IPv6 address.
pub const SYNACK_IP6: &str = "fd07::2";
/// The stack's address.
pub const SYNACK_IP: &str = "10.7.0.2";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The namespace; deleted (with its interface) on drop.
pub struct NetEnv {
    /// Namespace name.
    pub ns: String,
    /// Interface name.
    pub tun: String,
}

fn run(args: &[&str]) -> Output {
    Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn must(args: &[&str]) {
    let o = run(args);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

/// Whether this process can create namespaces and TUN devices.
pub fn available() -> Result<(), String> {
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err("/dev/net/tun is missing".into());
    }
    let uid = run(&["id", "-u"]);
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err("not root (needs CAP_NET_ADMIN for TUN devices and namespaces)".into());
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Err("the ip command (iproute2) is missing".into());
    }
    Ok(())
}

/// Skips (or, with SYNACK_REQUIRE_NET=1, fails) when the environment cannot run the test.
pub fn require() -> bool {
    match available() {
        Ok(()) => true,
        Err(why) if std::env::var("SYNACK_REQUIRE_NET").as_deref() == Ok("1") => {
            panic!("SYNACK_REQUIRE_NET=1 but {why}")
        }
        Err(why) => {
            println!("skipped: {why}");
            false
        }
    }
}

impl NetEnv {
    /// A namespace with a TUN device (with offload) moved into it; returns
    /// the device for the stack.
    pub fn new() -> (NetEnv, TunDevice) {
        Self::new_with(true)
    }

    /// [`NetEnv::new`] with segmentation and checksum offload on or off;
    /// asking for offload fails the test if the kernel refuses it.
    pub fn new_with(offload: bool) -> (NetEnv, TunDevice) {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let id = format!("{}x{n}", std::process::id() % 100_000);
        let ns = format!("synack{id}");
        let tun = format!("sk{id}");
        must(&["ip", "netns", "add", &ns]);
        let env = NetEnv { ns, tun };
        let dev = TunDevice::open_with(&env.tun, TunOptions { mtu: 1500, offload }).expect("open TUN");
        assert_eq!(dev.has_offload(), offload, "the kernel granted the offload asked for");
        env.setup_interface();
        (env, dev)
    }

    /// Moves an existing interface (created by another process) into a new namespace.
    pub fn adopt(tun: &str) -> NetEnv {
        let mut env = NetEnv::bare();
        env.attach(tun);
        env
    }

    /// A namespace with no interface yet (see [`NetEnv::attach`]).
    pub fn bare() -> NetEnv {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let ns = format!("synack{}y{n}", std::process::id() % 100_000);
        must(&["ip", "netns", "add", &ns]);
        NetEnv { ns, tun: String::new() }
    }

    /// Moves interface `tun` into the namespace and configures the kernel's side.
    pub fn attach(&mut self, tun: &str) {
        self.tun = tun.to_string();
        self.setup_interface();
    }

    fn setup_interface(&self) {
        must(&["ip", "link", "set", &self.tun, "netns", &self.ns]);
        self.exec_ok(&["ip", "addr", "add", &format!("{KERNEL_IP}/24"), "dev", &self.tun]);
        self.exec_ok(&["ip", "link", "set", &self.tun, "up"]);
        self.exec_ok(&["ip", "link", "set", "lo", "up"]);
    }

    /// Gives the kernel's side an IPv6 address too (fd07::1/64, without
    /// duplicate address detection so it is usable at once).
    pub fn add_ipv6(&self) {
        self.exec_ok(&["ip", "-6", "addr", "add", &format!("{KERNEL_IP6}/64"), "dev", &self.tun, "nodad"]);
    }

    /// Runs a command in the namespace and checks it succeeded.
    pub fn exec_ok(&self, args: &[&str]) -> Output {
        let o = self.exec(args);
        assert!(
            o.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }

    /// Runs a command in the namespace.
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut full = vec!["ip", "netns", "exec", &self.ns];
        full.extend_from_slice(args);
        run(&full)
    }

    /// Starts a command in the namespace (killed and reaped by [`Bg`] on drop).
    pub fn spawn(&self, args: &[&str]) -> Bg {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        Bg(Some(child))
    }

    /// Starts a Python program in the namespace (see [`NetEnv::spawn`]).
    pub fn spawn_python(&self, code: &str) -> Bg {
        self.spawn(&["/usr/bin/python3", "-c", code])
    }

    /// A Python program run in the namespace with a time limit; returns stdout.
    pub fn python(&self, code: &str, limit: Duration) -> String {
        let secs = limit.as_secs().max(1).to_string();
        let o = self.exec(&["timeout", &secs, "/usr/bin/python3", "-c", code]);
        assert!(
            o.status.success(),
            "python failed: {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The synack stack on `dev`, at SYNACK_IP.
    pub fn stack<D: Device>(dev: D) -> Stack {
        Stack::new(dev, StackConfig::new(vec![SYNACK_IP.parse().unwrap()])).expect("start the stack")
    }
}

impl Drop for NetEnv {
    fn drop(&mut self) {
        let _ = run(&["ip", "netns", "del", &self.ns]);
    }
}

/// A background process, killed on drop.
pub struct Bg(Option<Child>);

impl Bg {
    /// Waits for it to end (with a time limit) and returns its output.
    pub fn wait(mut self, limit: Duration) -> Output {
        let mut child = self.0.take().expect("child");
        let deadline = std::time::Instant::now() + limit;
        loop {
            if child.try_wait().expect("wait").is_some() {
                return child.wait_with_output().expect("output");
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let o = child.wait_with_output().expect("output");
                panic!("timed out: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
