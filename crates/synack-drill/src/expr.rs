//! Assertion expressions: integers, `tcpi_*` names, `+ - * /`, comparisons,
//! `and`, `or`, `not`, parentheses.

use crate::ast::{BinOp, Expr};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i64),
    Name(String),
    Op(&'static str),
    LParen,
    RParen,
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
            while i < cs.len() && cs[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let t: String = cs[st..i].iter().collect();
            let v = if let Some(h) = t.strip_prefix("0x") { i64::from_str_radix(h, 16) } else { t.parse() };
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
                _ => Tok::Name(w),
            });
        } else {
            let two: String = cs[i..(i + 2).min(cs.len())].iter().collect();
            let op = match two.as_str() {
                "==" => Some("=="),
                "!=" => Some("!="),
                "<=" => Some("<="),
                ">=" => Some(">="),
                "&&" => Some("and"),
                "||" => Some("or"),
                _ => None,
            };
            if let Some(op) = op {
                out.push(Tok::Op(op));
                i += 2;
                continue;
            }
            out.push(match c {
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                '+' => Tok::Op("+"),
                '-' => Tok::Op("-"),
                '*' => Tok::Op("*"),
                '/' => Tok::Op("/"),
                '<' => Tok::Op("<"),
                '>' => Tok::Op(">"),
                '!' => Tok::Op("not"),
                _ => return Err(format!("unexpected '{c}' in an assertion")),
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
    fn peek_op(&self) -> Option<&'static str> {
        match self.toks.get(self.i) {
            Some(Tok::Op(o)) => Some(o),
            _ => None,
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut l = self.and()?;
        while self.peek_op() == Some("or") {
            self.i += 1;
            l = Expr::Bin(Box::new(l), BinOp::Or, Box::new(self.and()?));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut l = self.not()?;
        while self.peek_op() == Some("and") {
            self.i += 1;
            l = Expr::Bin(Box::new(l), BinOp::And, Box::new(self.not()?));
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.peek_op() == Some("not") {
            self.i += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, String> {
        let l = self.sum()?;
        let op = match self.peek_op() {
            Some("==") => BinOp::Eq,
            Some("!=") => BinOp::Ne,
            Some("<") => BinOp::Lt,
            Some("<=") => BinOp::Le,
            Some(">") => BinOp::Gt,
            Some(">=") => BinOp::Ge,
            _ => return Ok(l),
        };
        self.i += 1;
        Ok(Expr::Bin(Box::new(l), op, Box::new(self.sum()?)))
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut l = self.product()?;
        loop {
            let op = match self.peek_op() {
                Some("+") => BinOp::Add,
                Some("-") => BinOp::Sub,
                _ => return Ok(l),
            };
            self.i += 1;
            l = Expr::Bin(Box::new(l), op, Box::new(self.product()?));
        }
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut l = self.unary()?;
        loop {
            let op = match self.peek_op() {
                Some("*") => BinOp::Mul,
                Some("/") => BinOp::Div,
                _ => return Ok(l),
            };
            self.i += 1;
            l = Expr::Bin(Box::new(l), op, Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_op() == Some("-") {
            self.i += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        let t = self.toks.get(self.i).cloned().ok_or("the assertion ends too early")?;
        self.i += 1;
        match t {
            Tok::Int(v) => Ok(Expr::Int(v)),
            Tok::Name(n) => Ok(Expr::Name(n)),
            Tok::LParen => {
                let e = self.or()?;
                match self.toks.get(self.i) {
                    Some(Tok::RParen) => {
                        self.i += 1;
                        Ok(e)
                    }
                    _ => Err("expected ')'".into()),
                }
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

/// Parses an assertion expression.
pub fn parse_expr(s: &str) -> Result<Expr, String> {
    let mut p = P { toks: lex(s)?, i: 0 };
    let e = p.or()?;
    if p.i != p.toks.len() {
        return Err(format!("unexpected {:?} in the assertion", p.toks[p.i]));
    }
    Ok(e)
}

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// A name the runner does not know or cannot compute: the script is skipped.
    Unsupported(String),
    /// Division by zero.
    DivideByZero,
}

/// Evaluates `e`, looking names up with `lookup` (booleans are 0 and 1).
pub fn eval(e: &Expr, lookup: &dyn Fn(&str) -> Option<i64>) -> Result<i64, EvalError> {
    Ok(match e {
        Expr::Int(v) => *v,
        Expr::Name(n) => lookup(n).ok_or_else(|| EvalError::Unsupported(n.clone()))?,
        Expr::Not(x) => i64::from(eval(x, lookup)? == 0),
        Expr::Neg(x) => -eval(x, lookup)?,
        Expr::Bin(a, op, b) => {
            let (x, y) = (eval(a, lookup)?, eval(b, lookup)?);
            match op {
                BinOp::Add => x.wrapping_add(y),
                BinOp::Sub => x.wrapping_sub(y),
                BinOp::Mul => x.wrapping_mul(y),
                BinOp::Div => {
                    if y == 0 {
                        return Err(EvalError::DivideByZero);
                    }
                    x / y
                }
                BinOp::Eq => i64::from(x == y),
                BinOp::Ne => i64::from(x != y),
                BinOp::Lt => i64::from(x < y),
                BinOp::Le => i64::from(x <= y),
                BinOp::Gt => i64::from(x > y),
                BinOp::Ge => i64::from(x >= y),
                BinOp::And => i64::from(x != 0 && y != 0),
                BinOp::Or => i64::from(x != 0 || y != 0),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_logic() {
        let look = |n: &str| (n == "tcpi_snd_cwnd").then_some(10);
        let t = |s: &str| eval(&parse_expr(s).unwrap(), &look).unwrap();
        assert_eq!(t("1 + 2 * 3"), 7);
        assert_eq!(t("tcpi_snd_cwnd == 10 and not (1 > 2)"), 1);
        assert_eq!(t("tcpi_snd_cwnd * 2 - 5 >= 15 or 0"), 1);
        assert_eq!(t("-3 + 4"), 1);
        assert!(matches!(eval(&parse_expr("tcpi_foo").unwrap(), &look), Err(EvalError::Unsupported(_))));
    }
}
