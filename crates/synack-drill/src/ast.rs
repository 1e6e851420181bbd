//! The parsed form of a script.

use synack_wire::TcpFlags;

/// A whole script.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// `--name=value` runner options, with their line numbers.
    pub options: Vec<(String, String, usize)>,
    /// `// synack: KEY=VALUE` stack configuration, with line numbers.
    pub config: Vec<(String, String, usize)>,
    /// The events, in order.
    pub events: Vec<Event>,
    /// `// engines: NAME ... (why)`: the engines the script is meant for,
    /// and why not the others (DRILL.md, "Two engines"); None for both.
    pub engines: Option<(Vec<String>, String)>,
}

impl Script {
    /// The scripted time of the last event, in seconds: how long the
    /// script takes in real time on the kernel engine (at least).
    pub fn duration(&self) -> f64 {
        let mut now = 0.0f64;
        let mut end = 0.0f64;
        let at = |p: &TimePoint, base: f64| if p.relative { base + p.secs } else { p.secs };
        for e in &self.events {
            match &e.time {
                TimeSpec::At(p) => now = at(p, now),
                TimeSpec::Range(a, b) | TimeSpec::Window(a, b) => {
                    let start = at(a, now);
                    now = at(b, start);
                }
                TimeSpec::Any | TimeSpec::Previous => {}
            }
            end = end.max(now);
        }
        end
    }
}

/// One timed line (or block) of a script.
#[derive(Debug, Clone)]
pub struct Event {
    /// Line number (1-based) where the event starts.
    pub line: usize,
    /// When it happens.
    pub time: TimeSpec,
    /// What happens.
    pub kind: EventKind,
}

/// A point in script time as written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimePoint {
    /// Written with `+`: relative to the previous event.
    pub relative: bool,
    /// Seconds.
    pub secs: f64,
}

/// When an event happens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeSpec {
    /// `*`: any time.
    Any,
    /// One time.
    At(TimePoint),
    /// `a...b`: a blocking call starts at `a` and returns by `b`.
    Range(TimePoint, TimePoint),
    /// `a~b`: a packet at any time in the window.
    Window(TimePoint, TimePoint),
    /// No time written (assertions, configuration lines): the previous event's.
    Previous,
}

/// What an event does.
#[derive(Debug, Clone)]
pub enum EventKind {
    /// A packet in or out.
    Packet(PacketSpec),
    /// A system call and its expected result.
    Syscall(SyscallSpec),
    /// `%{ ... }%`: Python-flavoured statements over `tcpi_*` fields.
    Assert(Vec<Statement>),
    /// A backtick command.
    Command(String),
}

/// Direction of a scripted packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// `<`: the script sends it to the stack.
    In,
    /// `>`: the stack must send it.
    Out,
}

/// A TCP option as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptSpec {
    /// `nop`
    Nop,
    /// `eol`
    Eol,
    /// `mss N`
    Mss(u16),
    /// `wscale N`
    WScale(u8),
    /// `sackOK`
    SackOk,
    /// `sack A:B ...` (relative sequence numbers)
    Sack(Vec<(u32, u32)>),
    /// `TS val X ecr Y`
    Ts(u32, u32),
}

/// The options of a scripted packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionsSpec {
    /// No `<...>`: no options at all.
    None,
    /// `<...>`: any options (outbound only).
    Any,
    /// An exact list.
    List(Vec<OptSpec>),
}

/// A scripted packet.
#[derive(Debug, Clone)]
pub struct PacketSpec {
    /// In or out.
    pub dir: Dir,
    /// The TCP flags.
    pub flags: TcpFlags,
    /// Relative sequence number of the first byte.
    pub start: u32,
    /// Relative sequence number past the last byte.
    pub end: u32,
    /// Payload length.
    pub len: u32,
    /// `ack N`, relative.
    pub ack: Option<u32>,
    /// `win N`, raw.
    pub win: Option<u16>,
    /// `urg N`, the urgent pointer.
    pub urg: Option<u16>,
    /// The options.
    pub options: OptionsSpec,
    /// synack extension: send this inbound packet with a wrong TCP checksum.
    pub bad_checksum: bool,
    /// `[ect0]`, `[ce]`...: the ECN field of the IP header (compared only when written).
    pub ecn: Option<Ecn>,
}

/// The ECN field of an IP header, as packetdrill writes it in `[...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ecn {
    /// `noecn`: 00.
    NotEct,
    /// `ect1`: 01.
    Ect1,
    /// `ect0`: 10.
    Ect0,
    /// `ce`: 11.
    Ce,
    /// `ect01`: either ECT codepoint.
    Either,
}

/// An argument of a system call.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// `...`: the default.
    Ellipsis,
    /// A number.
    Int(i64),
    /// Symbols joined by `|` (`O_RDWR|O_NONBLOCK`).
    Symbols(Vec<String>),
    /// `[a, b]`: a pointer to a value or an array.
    List(Vec<Arg>),
    /// `{a=b, ...}`: a struct.
    Struct(Vec<(String, Arg)>),
    /// `"text"`.
    Str(String),
}

/// A scripted system call.
#[derive(Debug, Clone)]
pub struct SyscallSpec {
    /// The call's name.
    pub name: String,
    /// Its arguments.
    pub args: Vec<Arg>,
    /// The expected return value.
    pub ret: i64,
    /// The expected errno name when `ret` is -1.
    pub errno: Option<String>,
}

/// One statement of a `%{ }%` block.
#[derive(Debug, Clone)]
pub enum Statement {
    /// `assert EXPR[, message]`.
    Assert(Assertion),
    /// `print(...)` and the like: evaluated by nobody, harmless.
    Ignored,
    /// A statement the runner cannot evaluate: the script is skipped.
    Unsupported {
        /// Line number.
        line: usize,
        /// The statement.
        text: String,
    },
}

/// One `assert` inside `%{ }%`.
#[derive(Debug, Clone)]
pub struct Assertion {
    /// Line number.
    pub line: usize,
    /// The source text of the expression.
    pub text: String,
    /// The parsed expression.
    pub expr: Expr,
}

/// An assertion expression, Python-flavoured.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// An integer.
    Int(i128),
    /// A `tcpi_*` field, a symbolic constant (`TCP_CA_Open`), or another name.
    Name(String),
    /// A unary operation.
    Unary(UnOp, Box<Expr>),
    /// A binary operation.
    Bin(Box<Expr>, BinOp, Box<Expr>),
    /// A comparison, possibly chained: `a < b <= c`.
    Compare(Box<Expr>, Vec<(CmpOp, Expr)>),
    /// `abs(e)`, `min(a, b)`, `max(a, b)`.
    Call(String, Vec<Expr>),
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `not`
    Not,
    /// `-`
    Neg,
    /// `+`
    Pos,
    /// `~`
    Invert,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (true division)
    Div,
    /// `//`
    FloorDiv,
    /// `%`
    Mod,
    /// `**`
    Pow,
    /// `&`
    BitAnd,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `and`
    And,
    /// `or`
    Or,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}
