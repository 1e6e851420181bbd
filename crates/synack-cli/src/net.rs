//! `synack serve` and `synack connect`: synack over a TUN device.

use crate::ladder::{Entry, Ladder, Style};
use crate::units;
use clap::{Args, Subcommand};
use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use synack::{
    CongestionControl, Device, Faults, FaultyDevice, PcapTap, Stack, StackConfig, TcpListener, TcpStream, TunDevice,
};
use synack_core::{Direction, FourTuple, Instant, State, Tracer};
use synack_sim::Fate;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Options shared by `serve` and `connect`.
#[derive(Debug, Args)]
pub struct NetArgs {
    /// The TUN device to create (or attach to, when it is persistent).
    #[arg(long, value_name = "NAME")]
    pub tun: String,
    /// The stack's address, with its prefix length (e.g. 10.7.0.2/24).
    #[arg(long, value_name = "IP/LEN", value_parser = parse_cidr)]
    pub addr: (IpAddr, u8),
    /// Also configure the kernel's side of the device with this address
    /// (runs `ip addr add` and `ip link set up`).
    #[arg(long, value_name = "IP/LEN", value_parser = parse_cidr)]
    pub kernel_addr: Option<(IpAddr, u8)>,
    /// MTU of the device.
    #[arg(long, default_value_t = 1500)]
    pub mtu: u16,
    /// Record every packet to a pcap file.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Print the ladder diagram of every segment and state change, live (to stderr).
    #[arg(long)]
    pub trace: bool,
    /// Loss, duplication, reordering, corruption, jitter, bandwidth (each direction).
    #[command(flatten)]
    pub faults: crate::demo::FaultArgs,
    /// Delay added in each direction, in milliseconds.
    #[arg(long, allow_hyphen_values = true, value_name = "MS", default_value = "0", value_parser = units::millis)]
    pub delay: Duration,
    /// Seed of the fault injection.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Congestion control: cubic (RFC 9438, the default, as Linux) or newreno (RFC 5681, 6582).
    #[arg(long, value_name = "ALGORITHM", default_value = "cubic", value_parser = parse_congestion)]
    pub congestion: CongestionControl,
}

fn parse_congestion(s: &str) -> Result<CongestionControl, String> {
    CongestionControl::from_name(s).ok_or_else(|| format!("'{s}' is not newreno or cubic"))
}

fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let (ip, len) = s.split_once('/').ok_or_else(|| format!("'{s}' is not IP/LEN (e.g. 10.7.0.2/24)"))?;
    let ip: IpAddr = ip.parse().map_err(|_| format!("'{ip}' is not an IP address"))?;
    let len: u8 = len.parse().map_err(|_| format!("'{len}' is not a prefix length"))?;
    if len > if ip.is_ipv4() { 32 } else { 128 } {
        return Err(format!("prefix length {len} is too long"));
    }
    Ok((ip, len))
}

/// What `serve` serves.
#[derive(Debug, Subcommand)]
pub enum Service {
    /// Send back what is received.
    Echo,
    /// Read and drop everything.
    Discard,
    /// HTTP/1.1 file server (hyper over synack's TcpStream).
    Http {
        /// Directory to serve.
        #[arg(long, value_name = "D", default_value = ".")]
        dir: PathBuf,
    },
}

/// Options of `synack serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub net: NetArgs,
    /// Port to listen on (default: 7 for echo, 9 for discard, 80 for http).
    #[arg(long)]
    pub port: Option<u16>,
    #[command(subcommand)]
    pub service: Service,
}

/// Options of `synack connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    #[command(flatten)]
    pub net: NetArgs,
    /// Where to connect.
    #[arg(value_name = "HOST:PORT")]
    pub target: SocketAddr,
}

/// Draws the ladder of one end, live.
struct LiveTrace {
    ladder: Ladder,
}

impl Tracer for LiveTrace {
    fn packet(&mut self, now: Instant, dir: Direction, bytes: &[u8]) {
        let e = Entry::Packet {
            at: now,
            from_client: dir == Direction::Out,
            bytes: bytes.to_vec(),
            fate: Fate::Delivered(now),
        };
        eprintln!("{}", self.ladder.line(&e));
    }

    fn state_change(&mut self, now: Instant, _tuple: FourTuple, from: State, to: State) {
        eprintln!("{}", self.ladder.line(&Entry::State { at: now, client: true, from, to }));
    }
}

/// Opens the device (with pcap and faults as asked) and starts the stack.
fn start(net: &NetArgs) -> Result<Stack, String> {
    let mut cfg = StackConfig::new(vec![net.addr.0]);
    cfg.tcp.mtu = net.mtu;
    cfg.tcp.congestion_control = net.congestion;
    // A configuration the stack would refuse is refused before any device exists.
    cfg.tcp.validate().map_err(|e| format!("invalid configuration: {e}"))?;
    let tun = TunDevice::open(&net.tun, usize::from(net.mtu)).map_err(|e| e.to_string())?;
    if let Some((ip, len)) = net.kernel_addr {
        for args in [
            vec!["addr".to_string(), "add".into(), format!("{ip}/{len}"), "dev".into(), net.tun.clone()],
            vec!["link".into(), "set".into(), net.tun.clone(), "up".into()],
        ] {
            let st = std::process::Command::new("ip").args(&args).status().map_err(|e| format!("ip: {e}"))?;
            if !st.success() {
                return Err(format!("`ip {}` failed", args.join(" ")));
            }
        }
    }
    let mut dev: Box<dyn Device> = Box::new(tun);
    let faults = Faults {
        loss: net.faults.loss,
        duplicate: net.faults.duplicate,
        reorder: net.faults.reorder,
        corrupt: net.faults.corrupt,
        delay: net.delay,
        jitter: net.faults.jitter,
        rate: net.faults.bandwidth,
        queue_limit: 1000,
    };
    if !faults.is_none() {
        dev = Box::new(FaultyDevice::new(dev, faults, faults, net.seed));
    }
    if let Some(p) = &net.pcap {
        dev = Box::new(PcapTap::new(dev, p).map_err(|e| format!("--pcap {}: {e}", p.display()))?);
    }
    let stack = Stack::new(dev, cfg).map_err(|e| e.to_string())?;
    if net.trace {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let ladder = Ladder::new(Style { color, absolute: false }, Instant::ZERO);
        stack.set_tracer(Box::new(LiveTrace { ladder }));
    }
    Ok(stack)
}

/// Runs `synack serve`.
pub fn serve(args: &ServeArgs) -> Result<(), String> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let stack = start(&args.net)?;
        let port = args.port.unwrap_or(match args.service {
            Service::Echo => 7,
            Service::Discard => 9,
            Service::Http { .. } => 80,
        });
        let l = TcpListener::bind(&stack, SocketAddr::new(args.net.addr.0, port)).await.map_err(|e| e.to_string())?;
        eprintln!(
            "synack: serving {} on {}:{port} over {}",
            service_name(&args.service),
            args.net.addr.0,
            args.net.tun
        );
        let dir = match &args.service {
            Service::Http { dir } => Some(Arc::new(dir.clone())),
            _ => None,
        };
        loop {
            tokio::select! {
                r = l.accept() => {
                    let (stream, peer) = r.map_err(|e| e.to_string())?;
                    let dir = dir.clone();
                    let echo = matches!(args.service, Service::Echo);
                    tokio::spawn(async move {
                        let r = match dir {
                            Some(dir) => synack_cli::http::serve_connection(stream, dir).await,
                            None if echo => echo_conn(stream).await,
                            None => discard(stream).await,
                        };
                        if let Err(e) = r {
                            eprintln!("synack: {peer}: {e}");
                        }
                    });
                }
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("synack: shutting down");
                    stack.shutdown(Duration::from_secs(5)).await;
                    return Ok(());
                }
            }
        }
    })
}

fn service_name(s: &Service) -> &'static str {
    match s {
        Service::Echo => "echo",
        Service::Discard => "discard",
        Service::Http { .. } => "http",
    }
}

async fn echo_conn(mut s: TcpStream) -> std::io::Result<()> {
    let (mut r, mut w) = s.split();
    tokio::io::copy(&mut r, &mut w).await?;
    w.shutdown().await
}

async fn discard(mut s: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    while s.read(&mut buf).await? > 0 {}
    s.shutdown().await
}

/// Runs `synack connect`: stdin to the connection, the connection to stdout,
/// half-close on end of input.
pub fn connect(args: &ConnectArgs) -> Result<(), String> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let stack = start(&args.net)?;
        let stream = TcpStream::connect(&stack, args.target).await.map_err(|e| format!("{}: {e}", args.target))?;
        let (mut r, mut w) = stream.into_split();
        let sent = Arc::new(AtomicU64::new(0));
        let received = Arc::new(AtomicU64::new(0));
        let progress = std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
        let meter = progress.then(|| tokio::spawn(show_progress(sent.clone(), received.clone())));
        let s2 = sent.clone();
        let up = tokio::spawn(async move {
            let mut stdin = tokio::io::stdin();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = stdin.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                w.write_all(&buf[..n]).await?;
                s2.fetch_add(n as u64, Ordering::Relaxed);
            }
            w.shutdown().await
        });
        let mut stdout = tokio::io::stdout();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = r.read(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            stdout.write_all(&buf[..n]).await.map_err(|e| e.to_string())?;
            received.fetch_add(n as u64, Ordering::Relaxed);
        }
        stdout.flush().await.map_err(|e| e.to_string())?;
        up.await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        if let Some(m) = meter {
            m.abort();
            eprintln!();
        }
        stack.shutdown(Duration::from_secs(2)).await;
        Ok(())
    })
}

/// A progress line on the terminal: bytes each way and the rate.
async fn show_progress(sent: Arc<AtomicU64>, received: Arc<AtomicU64>) {
    let start = std::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (s, r) = (sent.load(Ordering::Relaxed), received.load(Ordering::Relaxed));
        let secs = start.elapsed().as_secs_f64().max(0.001);
        eprint!(
            "\rsent {:.1} MB, received {:.1} MB, {:.1} Mbit/s   ",
            s as f64 / 1e6,
            r as f64 / 1e6,
            (s + r) as f64 * 8.0 / secs / 1e6
        );
    }
}
