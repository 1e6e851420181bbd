//! The parser: script text to [`Script`]. Errors carry the line and column.

use crate::ast::*;
use synack_wire::TcpFlags;

/// A script that cannot be parsed: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {col}: {message}")]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What was wrong.
    pub message: String,
}

/// One event's text: a physical line, or several joined (unbalanced
/// brackets, an open backtick or `%{` block, or a trailing `\\`).
struct Logical {
    /// 1-based line where it starts.
    line: usize,
    text: String,
}

/// Joins physical lines into logical ones (DRILL.md, "A script"). Inside
/// backticks and `%{ }%` the line breaks are kept; elsewhere they become spaces.
fn logical_lines(lines: &[String]) -> Result<Vec<Logical>, ParseError> {
    let mut out = Vec::new();
    let mut cur: Option<Logical> = None;
    let (mut depth, mut backtick, mut block) = (0i32, false, false);
    for (i, raw) in lines.iter().enumerate() {
        let line_no = i + 1;
        let mut text = raw.as_str();
        let continued = !backtick && !block && text.trim_end().ends_with('\\');
        if continued {
            text = text.trim_end().strip_suffix('\\').unwrap_or(text);
        }
        let chars: Vec<char> = text.chars().collect();
        let mut in_str = false;
        for (k, &ch) in chars.iter().enumerate() {
            let next = chars.get(k + 1).copied();
            if block {
                if ch == '}' && next == Some('%') {
                    block = false;
                }
                continue;
            }
            match ch {
                '"' if !backtick => in_str = !in_str,
                '`' if !in_str => backtick = !backtick,
                '%' if !backtick && !in_str && next == Some('{') => block = true,
                '(' | '[' | '{' if !backtick && !in_str => depth += 1,
                ')' | ']' | '}' if !backtick && !in_str => depth -= 1,
                _ => {}
            }
        }
        let l = cur.get_or_insert_with(|| Logical { line: line_no, text: String::new() });
        if !l.text.is_empty() {
            l.text.push(if backtick || block { '\n' } else { ' ' });
        }
        l.text.push_str(text);
        if !(continued || backtick || block || depth > 0) {
            out.push(cur.take().expect("just set"));
            depth = 0;
        }
    }
    if let Some(l) = cur {
        if backtick {
            return Err(err(l.line, 1, "unterminated backtick command".into()));
        }
        if block {
            return Err(err(l.line, 1, "unterminated %{ block".into()));
        }
        out.push(l);
    }
    Ok(out)
}

/// Parses a whole script.
pub fn parse(text: &str) -> Result<Script, ParseError> {
    let lines = strip_comments(text);
    let mut script = Script { engines: engines_header(text), ..Script::default() };
    for logical in logical_lines(&lines)? {
        let line_no = logical.line;
        let raw = logical.text.as_str();
        let trimmed = raw.trim();
        // `// synack: KEY=VALUE` headers survive comment stripping as markers.
        if let Some(rest) = trimmed.strip_prefix("\u{0}synack:") {
            for kv in rest.split_whitespace() {
                let (k, v) =
                    kv.split_once('=').ok_or_else(|| err(line_no, 1, format!("expected KEY=VALUE, got '{kv}'")))?;
                script.config.push((k.to_string(), v.to_string(), line_no));
            }
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        if let Some(opt) = trimmed.strip_prefix("--") {
            if script.events.is_empty() {
                for word in opt.split_whitespace().flat_map(|w| w.split("--")).filter(|w| !w.is_empty()) {
                    let (k, v) = word.split_once('=').unwrap_or((word, ""));
                    script.options.push((k.replace('-', "_"), v.to_string(), line_no));
                }
                continue;
            }
        }
        let mut c = Cursor::new(raw, line_no);
        c.skip_ws();
        let time = match c.peek() {
            Some('`') | Some('%') => TimeSpec::Previous,
            _ => parse_time(&mut c)?,
        };
        c.skip_ws();
        let kind = match c.peek() {
            Some('<') | Some('>') => EventKind::Packet(parse_packet(&mut c)?),
            Some('`') => {
                c.bump();
                let start = c.pos;
                while c.peek().is_some_and(|ch| ch != '`') {
                    c.bump();
                }
                let cmd: String = c.chars[start..c.pos].iter().collect();
                c.expect('`')?;
                EventKind::Command(cmd.trim().to_string())
            }
            Some('%') if c.peek_at(1) == Some('{') => {
                c.pos += 2;
                let start = c.pos;
                while !(c.peek() == Some('}') && c.peek_at(1) == Some('%')) {
                    if c.bump().is_none() {
                        return Err(c.error("unterminated %{ block"));
                    }
                }
                let body: String = c.chars[start..c.pos].iter().collect();
                c.pos += 2;
                EventKind::Assert(parse_statements(&body, line_no)?)
            }
            Some(ch) if ch.is_ascii_alphabetic() || ch == '_' => EventKind::Syscall(parse_syscall(&mut c)?),
            _ => return Err(c.error("expected a packet (< or >), a system call, a `command` or a %{ block")),
        };
        c.skip_ws();
        if let Some(ch) = c.peek() {
            return Err(c.error(&format!("unexpected '{ch}' after the event")));
        }
        script.events.push(Event { line: line_no, time, kind });
    }
    Ok(script)
}

fn err(line: usize, col: usize, message: String) -> ParseError {
    ParseError { line, col, message }
}

/// The `// engines: synack (reason)` header: engine names, then the
/// reason, which may go on over the comment lines that follow.
fn engines_header(text: &str) -> Option<(Vec<String>, String)> {
    let mut lines = text.lines().map(str::trim);
    let rest = lines.by_ref().find_map(|l| l.strip_prefix("//").and_then(|c| c.trim().strip_prefix("engines:")))?;
    let (names, why) = rest.split_once('(').unwrap_or((rest, ""));
    let mut reason = why.trim().to_string();
    if !reason.is_empty() && !reason.ends_with(')') {
        for l in lines.map_while(|l| l.strip_prefix("//")) {
            reason.push(' ');
            reason.push_str(l.trim());
            if l.trim_end().ends_with(')') {
                break;
            }
        }
    }
    let reason = reason.trim_end_matches(')').to_string();
    Some((names.split([',', ' ']).filter(|n| !n.is_empty()).map(str::to_string).collect(), reason))
}

/// Removes `//` and `/* */` comments, keeping line numbers. A
/// `// synack:` comment becomes a marker line for the configuration header.
fn strip_comments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    let mut in_backtick = false;
    for line in text.lines() {
        let mut s = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut k = 0;
        while k < chars.len() {
            if in_block {
                if chars[k] == '*' && chars.get(k + 1) == Some(&'/') {
                    in_block = false;
                    k += 2;
                    s.push(' ');
                } else {
                    k += 1;
                }
                continue;
            }
            if chars[k] == '`' {
                in_backtick = !in_backtick;
            }
            if !in_backtick && chars[k] == '/' && chars.get(k + 1) == Some(&'/') {
                let rest: String = chars[k + 2..].iter().collect();
                if let Some(cfg) = rest.trim_start().strip_prefix("synack:") {
                    if s.trim().is_empty() {
                        s = format!("\u{0}synack:{cfg}");
                    }
                }
                break;
            }
            if !in_backtick && chars[k] == '/' && chars.get(k + 1) == Some(&'*') {
                in_block = true;
                k += 2;
                continue;
            }
            s.push(chars[k]);
            k += 1;
        }
        out.push(s);
    }
    out
}

/// A character cursor over one line.
struct Cursor {
    chars: Vec<char>,
    pos: usize,
    line: usize,
}

impl Cursor {
    fn new(s: &str, line: usize) -> Self {
        Cursor { chars: s.chars().collect(), pos: 0, line }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.chars.get(self.pos + k).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += 1;
        c
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn error(&self, msg: &str) -> ParseError {
        err(self.line, self.pos + 1, msg.to_string())
    }

    fn expect(&mut self, ch: char) -> Result<(), ParseError> {
        self.skip_ws();
        if self.peek() == Some(ch) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected '{ch}'")))
        }
    }

    fn starts_with(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(k, ch)| self.peek_at(k) == Some(ch))
    }

    fn eat(&mut self, s: &str) -> bool {
        self.skip_ws();
        if self.starts_with(s) {
            self.pos += s.chars().count();
            true
        } else {
            false
        }
    }

    fn word(&mut self) -> String {
        self.skip_ws();
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn number_text(&mut self) -> String {
        self.skip_ws();
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' && self.peek_at(1) != Some('.')) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn uint(&mut self) -> Result<u64, ParseError> {
        let col = self.pos;
        let t = self.number_text();
        let v = if let Some(hex) = t.strip_prefix("0x") { u64::from_str_radix(hex, 16).ok() } else { t.parse().ok() };
        v.ok_or_else(|| err(self.line, col + 1, format!("expected a number, got '{t}'")))
    }

    fn u32(&mut self) -> Result<u32, ParseError> {
        let col = self.pos;
        let v = self.uint()?;
        u32::try_from(v).map_err(|_| err(self.line, col + 1, format!("{v} does not fit in 32 bits")))
    }

    fn u16(&mut self) -> Result<u16, ParseError> {
        let col = self.pos;
        let v = self.uint()?;
        u16::try_from(v).map_err(|_| err(self.line, col + 1, format!("{v} does not fit in 16 bits")))
    }
}

fn parse_time_point(c: &mut Cursor) -> Result<TimePoint, ParseError> {
    c.skip_ws();
    let relative = c.peek() == Some('+');
    if relative {
        c.bump();
    }
    let col = c.pos;
    let start = c.pos;
    while c.peek().is_some_and(|ch| ch.is_ascii_digit() || ch == '.' && c.peek_at(1) != Some('.')) {
        c.bump();
    }
    let text: String = c.chars[start..c.pos].iter().collect();
    let secs: f64 = text.parse().map_err(|_| err(c.line, col + 1, format!("expected a time, got '{text}'")))?;
    Ok(TimePoint { relative, secs })
}

fn parse_time(c: &mut Cursor) -> Result<TimeSpec, ParseError> {
    c.skip_ws();
    if c.peek() == Some('*') {
        c.bump();
        return Ok(TimeSpec::Any);
    }
    let a = parse_time_point(c)?;
    if c.starts_with("...") {
        c.pos += 3;
        let mut b = parse_time_point(c)?;
        // In `+a...b` both ends count from the previous event.
        b.relative |= a.relative;
        return Ok(TimeSpec::Range(a, b));
    }
    if c.peek() == Some('~') {
        c.bump();
        let mut b = parse_time_point(c)?;
        b.relative |= a.relative;
        return Ok(TimeSpec::Window(a, b));
    }
    Ok(TimeSpec::At(a))
}

fn parse_flags(c: &mut Cursor) -> Result<TcpFlags, ParseError> {
    c.skip_ws();
    let mut f = TcpFlags::default();
    if c.peek() == Some('-') {
        // `-`: no flags at all.
        c.bump();
        return Ok(f);
    }
    let start = c.pos;
    while let Some(ch) = c.peek() {
        let bit = match ch {
            'S' => TcpFlags::SYN,
            'F' => TcpFlags::FIN,
            'R' => TcpFlags::RST,
            'P' => TcpFlags::PSH,
            '.' => TcpFlags::ACK,
            'U' => TcpFlags::URG,
            'E' => TcpFlags::ECE,
            'W' => TcpFlags::CWR,
            _ => break,
        };
        f |= bit;
        c.bump();
    }
    if c.pos == start {
        return Err(c.error("expected TCP flags (S F R P . U E W)"));
    }
    Ok(f)
}

fn parse_packet(c: &mut Cursor) -> Result<PacketSpec, ParseError> {
    let dir = if c.bump() == Some('<') { Dir::In } else { Dir::Out };
    c.skip_ws();
    let mut ecn = None;
    if c.peek() == Some('[') {
        c.bump();
        let col = c.pos;
        ecn = Some(match c.word().as_str() {
            "noecn" => Ecn::NotEct,
            "ect0" => Ecn::Ect0,
            "ect1" => Ecn::Ect1,
            "ce" => Ecn::Ce,
            "ect01" => Ecn::Either,
            other => return Err(err(c.line, col + 1, format!("unknown ECN marking '{other}'"))),
        });
        c.expect(']')?;
    }
    let flags = parse_flags(c)?;
    let start = c.u32()?;
    c.expect(':')?;
    let end = c.u32()?;
    c.expect('(')?;
    let len = c.u32()?;
    c.expect(')')?;
    if end.wrapping_sub(start) != len {
        return Err(c.error(&format!("{start}:{end} is {} bytes, not ({len})", end.wrapping_sub(start))));
    }
    let mut p = PacketSpec {
        dir,
        flags,
        start,
        end,
        len,
        ack: None,
        win: None,
        urg: None,
        options: OptionsSpec::None,
        bad_checksum: false,
        ecn,
    };
    loop {
        c.skip_ws();
        if c.peek() == Some('<') {
            c.bump();
            p.options = parse_options(c)?;
            continue;
        }
        if c.peek().is_none() {
            break;
        }
        let col = c.pos;
        match c.word().as_str() {
            "ack" => p.ack = Some(c.u32()?),
            "win" => p.win = Some(c.u16()?),
            "urg" => p.urg = Some(c.u16()?),
            "bad_checksum" if dir == Dir::In => p.bad_checksum = true,
            "" => break,
            w => return Err(err(c.line, col + 1, format!("unexpected '{w}' in a packet"))),
        }
    }
    Ok(p)
}

fn parse_options(c: &mut Cursor) -> Result<OptionsSpec, ParseError> {
    if c.eat("...") {
        c.expect('>')?;
        return Ok(OptionsSpec::Any);
    }
    let mut list = Vec::new();
    loop {
        c.skip_ws();
        if c.peek() == Some('>') {
            c.bump();
            break;
        }
        let col = c.pos;
        let name = c.word();
        let opt = match name.as_str() {
            "nop" => OptSpec::Nop,
            "eol" => OptSpec::Eol,
            "mss" => OptSpec::Mss(c.u16()?),
            "wscale" => {
                let v = c.uint()?;
                OptSpec::WScale(u8::try_from(v).map_err(|_| c.error("wscale out of range"))?)
            }
            "sackOK" => OptSpec::SackOk,
            "sack" => {
                let mut blocks = Vec::new();
                loop {
                    c.skip_ws();
                    if !c.peek().is_some_and(|ch| ch.is_ascii_digit()) {
                        break;
                    }
                    let a = c.u32()?;
                    c.expect(':')?;
                    blocks.push((a, c.u32()?));
                }
                OptSpec::Sack(blocks)
            }
            "TS" => {
                if c.word() != "val" {
                    return Err(c.error("expected 'val'"));
                }
                let val = c.u32()?;
                if c.word() != "ecr" {
                    return Err(c.error("expected 'ecr'"));
                }
                OptSpec::Ts(val, c.u32()?)
            }
            other => return Err(err(c.line, col + 1, format!("unknown TCP option '{other}'"))),
        };
        list.push(opt);
        c.skip_ws();
        if c.peek() == Some(',') {
            c.bump();
        }
    }
    Ok(OptionsSpec::List(list))
}

fn parse_syscall(c: &mut Cursor) -> Result<SyscallSpec, ParseError> {
    let name = c.word();
    c.expect('(')?;
    let args = parse_args(c, ')')?;
    c.expect('=')?;
    c.skip_ws();
    let neg = c.peek() == Some('-');
    if neg {
        c.bump();
    }
    let v = c.uint()? as i64;
    let ret = if neg { -v } else { v };
    let mut errno = None;
    c.skip_ws();
    if c.peek().is_some_and(|ch| ch.is_ascii_uppercase()) {
        errno = Some(c.word());
        c.skip_ws();
    }
    // A note in parentheses (the errno's text, `(flags O_RDWR)`) is for the reader.
    if c.peek() == Some('(') {
        let mut depth = 0;
        while let Some(ch) = c.bump() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
        if depth != 0 {
            return Err(c.error("unterminated note after the return value"));
        }
    }
    Ok(SyscallSpec { name, args, ret, errno })
}

fn parse_args(c: &mut Cursor, close: char) -> Result<Vec<Arg>, ParseError> {
    let mut args = Vec::new();
    c.skip_ws();
    if c.peek() == Some(close) {
        c.bump();
        return Ok(args);
    }
    loop {
        args.push(parse_arg(c)?);
        c.skip_ws();
        match c.bump() {
            Some(',') => continue,
            Some(ch) if ch == close => break,
            _ => return Err(c.error(&format!("expected ',' or '{close}'"))),
        }
    }
    Ok(args)
}

fn parse_arg(c: &mut Cursor) -> Result<Arg, ParseError> {
    c.skip_ws();
    if c.eat("...") {
        return Ok(Arg::Ellipsis);
    }
    match c.peek() {
        Some('[') => {
            c.bump();
            Ok(Arg::List(parse_args(c, ']')?))
        }
        Some('{') => {
            c.bump();
            let mut fields = Vec::new();
            loop {
                c.skip_ws();
                if c.peek() == Some('}') {
                    c.bump();
                    break;
                }
                if c.eat("...") {
                    c.skip_ws();
                    if c.peek() == Some(',') {
                        c.bump();
                    }
                    continue;
                }
                let save = c.pos;
                let name = c.word();
                c.skip_ws();
                if !name.is_empty() && c.peek() == Some('(') {
                    // `msg_iov(1)=...`, `msg_name(...)=...`: the count is for the reader.
                    let mut depth = 0;
                    while let Some(ch) = c.bump() {
                        match ch {
                            '(' => depth += 1,
                            ')' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                    c.skip_ws();
                }
                if !name.is_empty() && c.peek() == Some('=') {
                    c.bump();
                    fields.push((name, parse_arg(c)?));
                } else {
                    // A positional member, as in an iovec `{..., 100}`.
                    c.pos = save;
                    fields.push((String::new(), parse_arg(c)?));
                }
                c.skip_ws();
                if c.peek() == Some(',') {
                    c.bump();
                }
            }
            Ok(Arg::Struct(fields))
        }
        Some('"') => {
            c.bump();
            let start = c.pos;
            while c.peek().is_some_and(|ch| ch != '"') {
                c.bump();
            }
            let s: String = c.chars[start..c.pos].iter().collect();
            c.expect('"')?;
            Ok(Arg::Str(s))
        }
        Some('-') => {
            c.bump();
            Ok(Arg::Int(-(c.uint()? as i64)))
        }
        Some(ch) if ch.is_ascii_digit() => Ok(Arg::Int(c.uint()? as i64)),
        Some(ch) if ch.is_ascii_alphabetic() || ch == '_' => {
            let mut syms = vec![c.word()];
            loop {
                c.skip_ws();
                if c.peek() == Some('|') {
                    c.bump();
                    syms.push(c.word());
                } else {
                    break;
                }
            }
            Ok(Arg::Symbols(syms))
        }
        _ => Err(c.error("expected an argument")),
    }
}

/// Parses the body of `%{ }%`: Python-flavoured statements separated by
/// `;` or line breaks (`\\` continues a line, `#` starts a comment):
/// `assert EXPR[, message]` is checked, `print(...)` and `pass` do nothing,
/// anything else makes the script skipped when the block is reached.
fn parse_statements(body: &str, first_line: usize) -> Result<Vec<Statement>, ParseError> {
    let mut out = Vec::new();
    let mut joined: Vec<(usize, String)> = Vec::new();
    let mut carry = false;
    for (k, line) in body.lines().enumerate() {
        let line = match line.find('#') {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        let (text, cont) = match line.trim_end().strip_suffix('\\') {
            Some(t) => (t, true),
            None => (line, false),
        };
        match joined.last_mut() {
            Some((_, prev)) if carry => {
                prev.push(' ');
                prev.push_str(text);
            }
            _ => joined.push((first_line + k, text.to_string())),
        }
        carry = cont;
    }
    for (line_no, line) in joined {
        for stmt in split_statements(&line) {
            let stmt = stmt.trim();
            if stmt.is_empty() || stmt == "pass" {
                continue;
            }
            if let Some(rest) = stmt.strip_prefix("assert").filter(|r| r.starts_with([' ', '('])) {
                let expr_text = crate::expr::split_message(rest).trim().to_string();
                let expr = crate::expr::parse_expr(&expr_text).map_err(|m| err(line_no, 1, m))?;
                out.push(Statement::Assert(Assertion { line: line_no, text: expr_text, expr }));
            } else if stmt.starts_with("print(") || stmt.starts_with("print ") {
                out.push(Statement::Ignored);
            } else {
                out.push(Statement::Unsupported { line: line_no, text: stmt.to_string() });
            }
        }
    }
    Ok(out)
}

/// Splits a line at the `;` that are outside brackets and strings.
fn split_statements(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None, 0);
    for (i, ch) in s.char_indices() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(ch),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            (None, ';') if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_lines() {
        let s = parse(
            "--tolerance_usecs=10000\n\
             // synack: initial_cwnd=4\n\
             0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
             +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n\
             +0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>\n\
             +0 > S. 0:0(0) ack 1 <...>\n\
             +.1 < . 1:1(0) ack 1 win 257\n\
             +0...0.3 accept(3, ..., ...) = 4 /* blocks */\n\
             +0 read(4, ..., 10) = -1 EAGAIN (Resource temporarily unavailable)\n\
             %{ assert tcpi_snd_cwnd == 10 and (tcpi_rto >= 200000) }%\n\
             `sysctl -q net.ipv4.tcp_sack=0`\n\
             * > F. 1:1(0) ack 1 <nop,nop,TS val 100 ecr 700,nop,nop,sack 1:5 7:9>\n",
        )
        .unwrap();
        assert_eq!(s.options[0].0, "tolerance_usecs");
        assert_eq!(s.config[0].0, "initial_cwnd");
        assert_eq!(s.events.len(), 10);
        let EventKind::Packet(p) = &s.events[3].kind else { panic!() };
        assert_eq!(p.options, OptionsSpec::Any);
        let EventKind::Syscall(sc) = &s.events[6].kind else { panic!() };
        assert_eq!(sc.errno.as_deref(), Some("EAGAIN"));
        assert!(matches!(s.events[5].time, TimeSpec::Range(..)));
    }

    #[test]
    fn reports_line_and_column() {
        let e = parse("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0) wnd 5\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 15));
        let e = parse("+x < S 0:0(0)\n").unwrap_err();
        assert_eq!(e.line, 1);
    }
}
