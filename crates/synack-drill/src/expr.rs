//! The expressions of `%{ }%` blocks, with Python's meaning: integers of
//! any size, `/` true division and `//` floor division, `%` taking the sign
//! of the divisor, `**`, bit operators, chained comparisons (`a < b <= c`),
//! `and`/`or`/`not` (also `&&`, `||`, `!`), parentheses, `abs`, `min`,
//! `max`, and names: `tcpi_*` fields and the symbolic constants Linux's
//! headers give scripts (`TCP_CA_Open`, `TCP_ESTABLISHED`, ...).

use crate::ast::{BinOp, CmpOp, Expr, UnOp};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i128),
    Name(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let cs: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let st = i;
            while i < cs.len() && (cs[i].is_ascii_alphanumeric() || cs[i] == '_') {
                i += 1;
            }
            let t: String = cs[st..i].iter().filter(|&&ch| ch != '_').collect();
            let v = if let Some(h) = t.strip_prefix("0x").or(t.strip_prefix("0X")) {
                i128::from_str_radix(h, 16)
            } else {
                t.parse()
            };
            out.push(Tok::Int(v.map_err(|_| format!("bad number '{t}'"))?));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let st = i;
            while i < cs.len() && (cs[i].is_ascii_alphanumeric() || cs[i] == '_' || cs[i] == '.') {
                i += 1;
            }
            let w: String = cs[st..i].iter().collect();
            out.push(match w.as_str() {
                "and" => Tok::Op("and"),
                "or" => Tok::Op("or"),
                "not" => Tok::Op("not"),
                "True" => Tok::Int(1),
                "False" => Tok::Int(0),
                _ => Tok::Name(w),
            });
        } else {
            let three: String = cs[i..(i + 3).min(cs.len())].iter().collect();
            let two: String = cs[i..(i + 2).min(cs.len())].iter().collect();
            let op = match (three.as_str(), two.as_str()) {
                (_, "==") => Some(("==", 2)),
                (_, "!=") => Some(("!=", 2)),
                (_, "<=") => Some(("<=", 2)),
                (_, ">=") => Some((">=", 2)),
                (_, "&&") => Some(("and", 2)),
                (_, "||") => Some(("or", 2)),
                (_, "//") => Some(("//", 2)),
                (_, "**") => Some(("**", 2)),
                (_, "<<") => Some(("<<", 2)),
                (_, ">>") => Some((">>", 2)),
                _ => None,
            };
            if let Some((op, n)) = op {
                out.push(Tok::Op(op));
                i += n;
                continue;
            }
            out.push(match c {
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                ',' => Tok::Comma,
                '+' => Tok::Op("+"),
                '-' => Tok::Op("-"),
                '*' => Tok::Op("*"),
                '/' => Tok::Op("/"),
                '%' => Tok::Op("%"),
                '<' => Tok::Op("<"),
                '>' => Tok::Op(">"),
                '&' => Tok::Op("&"),
                '|' => Tok::Op("|"),
                '^' => Tok::Op("^"),
                '~' => Tok::Op("~"),
                '!' => Tok::Op("not"),
                _ => return Err(format!("unexpected '{c}' in an expression")),
            });
            i += 1;
        }
    }
    Ok(out)
}

struct P {
    toks: Vec<Tok>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }

    fn op(&self) -> Option<&'static str> {
        match self.peek() {
            Some(Tok::Op(o)) => Some(o),
            _ => None,
        }
    }

    fn eat(&mut self, op: &str) -> bool {
        if self.op() == Some(op) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut l = self.and()?;
        while self.eat("or") {
            l = Expr::Bin(Box::new(l), BinOp::Or, Box::new(self.and()?));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut l = self.not()?;
        while self.eat("and") {
            l = Expr::Bin(Box::new(l), BinOp::And, Box::new(self.not()?));
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.eat("not") {
            return Ok(Expr::Unary(UnOp::Not, Box::new(self.not()?)));
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Expr, String> {
        let first = self.bitor()?;
        let mut rest = Vec::new();
        loop {
            let op = match self.op() {
                Some("==") => CmpOp::Eq,
                Some("!=") => CmpOp::Ne,
                Some("<") => CmpOp::Lt,
                Some("<=") => CmpOp::Le,
                Some(">") => CmpOp::Gt,
                Some(">=") => CmpOp::Ge,
                _ => break,
            };
            self.i += 1;
            rest.push((op, self.bitor()?));
        }
        Ok(if rest.is_empty() { first } else { Expr::Compare(Box::new(first), rest) })
    }

    fn binary(&mut self, ops: &[(&str, BinOp)], next: fn(&mut P) -> Result<Expr, String>) -> Result<Expr, String> {
        let mut l = next(self)?;
        'outer: loop {
            for &(s, op) in ops {
                if self.eat(s) {
                    l = Expr::Bin(Box::new(l), op, Box::new(next(self)?));
                    continue 'outer;
                }
            }
            return Ok(l);
        }
    }

    fn bitor(&mut self) -> Result<Expr, String> {
        self.binary(&[("|", BinOp::BitOr)], P::bitxor)
    }

    fn bitxor(&mut self) -> Result<Expr, String> {
        self.binary(&[("^", BinOp::BitXor)], P::bitand)
    }

    fn bitand(&mut self) -> Result<Expr, String> {
        self.binary(&[("&", BinOp::BitAnd)], P::shift)
    }

    fn shift(&mut self) -> Result<Expr, String> {
        self.binary(&[("<<", BinOp::Shl), (">>", BinOp::Shr)], P::sum)
    }

    fn sum(&mut self) -> Result<Expr, String> {
        self.binary(&[("+", BinOp::Add), ("-", BinOp::Sub)], P::term)
    }

    fn term(&mut self) -> Result<Expr, String> {
        self.binary(&[("*", BinOp::Mul), ("//", BinOp::FloorDiv), ("/", BinOp::Div), ("%", BinOp::Mod)], P::unary)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        for (s, op) in [("-", UnOp::Neg), ("+", UnOp::Pos), ("~", UnOp::Invert)] {
            if self.eat(s) {
                return Ok(Expr::Unary(op, Box::new(self.unary()?)));
            }
        }
        self.power()
    }

    fn power(&mut self) -> Result<Expr, String> {
        let base = self.atom()?;
        if self.eat("**") {
            return Ok(Expr::Bin(Box::new(base), BinOp::Pow, Box::new(self.unary()?)));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Expr, String> {
        match self.toks.get(self.i).cloned() {
            Some(Tok::Int(v)) => {
                self.i += 1;
                Ok(Expr::Int(v))
            }
            Some(Tok::Name(n)) => {
                self.i += 1;
                if self.peek() == Some(&Tok::LParen) {
                    self.i += 1;
                    let mut args = Vec::new();
                    if self.peek() != Some(&Tok::RParen) {
                        loop {
                            args.push(self.or()?);
                            if self.peek() == Some(&Tok::Comma) {
                                self.i += 1;
                                continue;
                            }
                            break;
                        }
                    }
                    if self.peek() != Some(&Tok::RParen) {
                        return Err(format!("expected ')' after the arguments of {n}"));
                    }
                    self.i += 1;
                    return Ok(Expr::Call(n, args));
                }
                Ok(Expr::Name(n))
            }
            Some(Tok::LParen) => {
                self.i += 1;
                let e = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err("expected ')'".into());
                }
                self.i += 1;
                Ok(e)
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

/// Parses an expression.
pub fn parse_expr(s: &str) -> Result<Expr, String> {
    let mut p = P { toks: lex(s)?, i: 0 };
    let e = p.or()?;
    if p.i != p.toks.len() {
        return Err(format!("unexpected {:?} after the expression", p.toks[p.i]));
    }
    Ok(e)
}

/// Splits `assert EXPR, MESSAGE` at its top-level comma: the expression and
/// whether a message follows.
pub fn split_message(s: &str) -> &str {
    let mut depth = 0i32;
    let mut quote = None;
    for (i, ch) in s.char_indices() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(ch),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => return &s[..i],
            _ => {}
        }
    }
    s
}

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// A name the stack does not report.
    Unsupported(String),
    /// Division or modulo by zero.
    DivideByZero,
    /// Something Python would reject (a bad call, a huge power).
    Invalid(String),
}

/// A value: Python's int or float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// An integer.
    Int(i128),
    /// A float (from `/`).
    Float(f64),
}

impl Value {
    fn f(self) -> f64 {
        match self {
            Value::Int(i) => i as f64,
            Value::Float(f) => f,
        }
    }

    fn truthy(self) -> bool {
        match self {
            Value::Int(i) => i != 0,
            Value::Float(f) => f != 0.0,
        }
    }

    fn int(self, what: &str) -> Result<i128, EvalError> {
        match self {
            Value::Int(i) => Ok(i),
            Value::Float(_) => Err(EvalError::Invalid(format!("{what} of a float"))),
        }
    }
}

/// The symbolic constants scripts use in assertions (Linux's uapi headers).
pub fn constant(name: &str) -> Option<i128> {
    Some(match name {
        "TCP_CA_Open" => 0,
        "TCP_CA_Disorder" => 1,
        "TCP_CA_CWR" => 2,
        "TCP_CA_Recovery" => 3,
        "TCP_CA_Loss" => 4,
        "TCP_ESTABLISHED" => 1,
        "TCP_SYN_SENT" => 2,
        "TCP_SYN_RECV" => 3,
        "TCP_FIN_WAIT1" => 4,
        "TCP_FIN_WAIT2" => 5,
        "TCP_TIME_WAIT" => 6,
        "TCP_CLOSE" => 7,
        "TCP_CLOSE_WAIT" => 8,
        "TCP_LAST_ACK" => 9,
        "TCP_LISTEN" => 10,
        "TCP_CLOSING" => 11,
        "TCPI_OPT_TIMESTAMPS" => 1,
        "TCPI_OPT_SACK" => 2,
        "TCPI_OPT_WSCALE" => 4,
        "TCPI_OPT_ECN" => 8,
        "TCPI_OPT_ECN_SEEN" => 16,
        "TCPI_OPT_SYN_DATA" => 32,
        _ => return None,
    })
}

/// Evaluates `e`, looking names up with `look` (after the constants).
pub fn eval(e: &Expr, look: &dyn Fn(&str) -> Option<i64>) -> Result<Value, EvalError> {
    Ok(match e {
        Expr::Int(v) => Value::Int(*v),
        Expr::Name(n) => match constant(n) {
            Some(v) => Value::Int(v),
            None => Value::Int(i128::from(look(n).ok_or_else(|| EvalError::Unsupported(n.clone()))?)),
        },
        Expr::Unary(op, x) => {
            let v = eval(x, look)?;
            match op {
                UnOp::Not => Value::Int(i128::from(!v.truthy())),
                UnOp::Neg => match v {
                    Value::Int(i) => Value::Int(-i),
                    Value::Float(f) => Value::Float(-f),
                },
                UnOp::Pos => v,
                UnOp::Invert => Value::Int(!v.int("~")?),
            }
        }
        Expr::Bin(a, BinOp::And, b) => {
            let l = eval(a, look)?;
            if !l.truthy() {
                l
            } else {
                eval(b, look)?
            }
        }
        Expr::Bin(a, BinOp::Or, b) => {
            let l = eval(a, look)?;
            if l.truthy() {
                l
            } else {
                eval(b, look)?
            }
        }
        Expr::Bin(a, op, b) => arith(eval(a, look)?, *op, eval(b, look)?)?,
        Expr::Compare(first, rest) => {
            let mut l = eval(first, look)?;
            for (op, x) in rest {
                let r = eval(x, look)?;
                let (a, b) = (l.f(), r.f());
                let holds = match (l, r) {
                    (Value::Int(x), Value::Int(y)) => cmp(*op, x.cmp(&y)),
                    _ => match a.partial_cmp(&b) {
                        Some(o) => cmp(*op, o),
                        None => *op == CmpOp::Ne,
                    },
                };
                if !holds {
                    return Ok(Value::Int(0));
                }
                l = r;
            }
            Value::Int(1)
        }
        Expr::Call(name, args) => {
            let vals: Result<Vec<Value>, EvalError> = args.iter().map(|a| eval(a, look)).collect();
            let vals = vals?;
            match (name.as_str(), vals.as_slice()) {
                ("abs", [Value::Int(i)]) => Value::Int(i.abs()),
                ("abs", [Value::Float(f)]) => Value::Float(f.abs()),
                ("int", [v]) => Value::Int(v.f() as i128),
                ("min" | "max", vs) if !vs.is_empty() => {
                    let pick = |x: &Value, y: &Value| if (name == "min") == (x.f() <= y.f()) { *x } else { *y };
                    vs[1..].iter().fold(vs[0], |acc, v| pick(&acc, v))
                }
                _ => return Err(EvalError::Invalid(format!("{name}() with {} arguments", vals.len()))),
            }
        }
    })
}

fn cmp(op: CmpOp, o: core::cmp::Ordering) -> bool {
    use core::cmp::Ordering::*;
    match op {
        CmpOp::Eq => o == Equal,
        CmpOp::Ne => o != Equal,
        CmpOp::Lt => o == Less,
        CmpOp::Le => o != Greater,
        CmpOp::Gt => o == Greater,
        CmpOp::Ge => o != Less,
    }
}

fn arith(l: Value, op: BinOp, r: Value) -> Result<Value, EvalError> {
    if let (Value::Int(a), Value::Int(b)) = (l, r) {
        let ovf = || EvalError::Invalid("integer overflow".into());
        return Ok(Value::Int(match op {
            BinOp::Add => a.checked_add(b).ok_or_else(ovf)?,
            BinOp::Sub => a.checked_sub(b).ok_or_else(ovf)?,
            BinOp::Mul => a.checked_mul(b).ok_or_else(ovf)?,
            BinOp::Div => {
                if b == 0 {
                    return Err(EvalError::DivideByZero);
                }
                return Ok(Value::Float(a as f64 / b as f64));
            }
            BinOp::FloorDiv => {
                if b == 0 {
                    return Err(EvalError::DivideByZero);
                }
                let (q, r) = (a / b, a % b);
                if r != 0 && (r < 0) != (b < 0) {
                    q - 1
                } else {
                    q
                }
            }
            BinOp::Mod => {
                if b == 0 {
                    return Err(EvalError::DivideByZero);
                }
                let m = a % b;
                if m != 0 && (m < 0) != (b < 0) {
                    m + b
                } else {
                    m
                }
            }
            BinOp::Pow => {
                let e = u32::try_from(b).map_err(|_| EvalError::Invalid("a power out of range".into()))?;
                a.checked_pow(e).ok_or_else(ovf)?
            }
            BinOp::BitAnd => a & b,
            BinOp::BitOr => a | b,
            BinOp::BitXor => a ^ b,
            BinOp::Shl => a.checked_shl(u32::try_from(b).unwrap_or(u32::MAX)).ok_or_else(ovf)?,
            BinOp::Shr => a >> u32::try_from(b).unwrap_or(127).min(127),
            BinOp::And | BinOp::Or => unreachable!("short-circuited"),
        }));
    }
    let (a, b) = (l.f(), r.f());
    Ok(Value::Float(match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div | BinOp::FloorDiv | BinOp::Mod if b == 0.0 => return Err(EvalError::DivideByZero),
        BinOp::Div => a / b,
        BinOp::FloorDiv => (a / b).floor(),
        BinOp::Mod => a - b * (a / b).floor(),
        BinOp::Pow => a.powf(b),
        _ => return Err(EvalError::Invalid("a bit operation on a float".into())),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> Result<Value, EvalError> {
        eval(&parse_expr(s).unwrap(), &|n| match n {
            "tcpi_rto" => Some(204000),
            "tcpi_snd_cwnd" => Some(10),
            _ => None,
        })
    }

    #[test]
    fn python_arithmetic() {
        assert_eq!(ev("7 // 2"), Ok(Value::Int(3)));
        assert_eq!(ev("-7 // 2"), Ok(Value::Int(-4)));
        assert_eq!(ev("-7 // -2"), Ok(Value::Int(3)));
        assert_eq!(ev("7 // -2"), Ok(Value::Int(-4)));
        assert_eq!(ev("-7 % 3"), Ok(Value::Int(2)));
        assert_eq!(ev("7 / 2"), Ok(Value::Float(3.5)));
        assert_eq!(ev("2 ** 10"), Ok(Value::Int(1024)));
        assert_eq!(ev("1 << 4 | 1"), Ok(Value::Int(17)));
        assert_eq!(ev("tcpi_rto / 1000 > 200"), Ok(Value::Int(1)));
        assert_eq!(ev("1 / 0"), Err(EvalError::DivideByZero));
    }

    #[test]
    fn chained_comparisons_and_logic() {
        assert_eq!(ev("200000 <= tcpi_rto < 300000"), Ok(Value::Int(1)));
        assert_eq!(ev("300000 < tcpi_rto < 400000"), Ok(Value::Int(0)));
        assert_eq!(ev("tcpi_snd_cwnd == 10 and not tcpi_rto == 0"), Ok(Value::Int(1)));
        assert_eq!(ev("TCP_CA_Open == 0 && True"), Ok(Value::Int(1)));
        assert_eq!(ev("abs(tcpi_snd_cwnd - 12) <= 2"), Ok(Value::Int(1)));
        assert_eq!(ev("max(1, tcpi_snd_cwnd, 3)"), Ok(Value::Int(10)));
        assert_eq!(ev("tcpi_nope > 1"), Err(EvalError::Unsupported("tcpi_nope".into())));
    }

    #[test]
    fn messages_are_split_off_at_the_top_level_comma() {
        assert_eq!(split_message(" x == max(1, 2), \"a, b\""), " x == max(1, 2)");
        assert_eq!(split_message(" x == 1, tcpi_rto"), " x == 1");
    }
}
