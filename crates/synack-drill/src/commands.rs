//! Backtick commands (DRILL.md, "Configuration: backticks and sysctls"). They
//! are not run through a shell: the runner interprets them. A command is
//! split into simple commands at line breaks, `;`, `&&` and `||`;
//! redirections are dropped; `$((...))` is evaluated. Then:
//! `sysctl -q name=value ...` and `set_sysctls.py /proc/sys/net/...=value
//! ...` set sysctls; a path to a script (`../common/defaults.sh`) is read,
//! relative to the script's folder, and its lines are interpreted in turn;
//! `ip`, `tc` and `ethtool` go to the engine; anything else is a warning.

use std::path::Path;

/// What one simple command of a backtick line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A sysctl, `net.ipv4.tcp_sack` = `1`.
    Sysctl(String, String),
    /// A command for the engine (`ip`, `tc`, `ethtool`), as words.
    Run(Vec<String>),
    /// Something the runner does not interpret.
    Warn(String),
}

/// How deep scripts may include scripts.
const MAX_DEPTH: usize = 4;

/// Interprets a backtick command (`base`: the script's folder).
pub fn interpret(cmd: &str, base: Option<&Path>) -> Vec<Action> {
    let mut out = Vec::new();
    interpret_into(cmd, base, 0, &mut out);
    out
}

fn interpret_into(cmd: &str, base: Option<&Path>, depth: usize, out: &mut Vec<Action>) {
    for simple in simple_commands(cmd) {
        let words: Vec<String> =
            crate::settings::shell_words(&simple).into_iter().map(|w| expand_arithmetic(&w)).collect();
        let words = drop_redirections(words);
        let Some(first) = words.first() else { continue };
        let name = first.rsplit('/').next().unwrap_or(first);
        match name {
            "sysctl" => {
                for w in words[1..].iter().filter(|w| !w.starts_with('-')) {
                    if let Some((k, v)) = w.split_once('=') {
                        out.push(Action::Sysctl(k.trim().to_string(), v.trim().to_string()));
                    }
                }
            }
            "set_sysctls.py" => {
                for w in &words[1..] {
                    if let Some((path, v)) = w.split_once('=') {
                        let key = path.trim().trim_start_matches("/proc/sys/").replace('/', ".");
                        out.push(Action::Sysctl(key, v.trim().to_string()));
                    }
                }
            }
            "ip" | "tc" | "ethtool" => out.push(Action::Run(words.clone())),
            "true" | ":" | "echo" | "exit" | "set" | "export" => {}
            _ if first.ends_with(".sh") || first.contains('/') => {
                let path = match base {
                    Some(b) => b.join(first),
                    None => first.into(),
                };
                match std::fs::read_to_string(&path) {
                    Ok(text) if depth < MAX_DEPTH => {
                        let dir = path.parent().map(Path::to_path_buf);
                        interpret_into(&text, dir.as_deref(), depth + 1, out);
                    }
                    Ok(_) => out.push(Action::Warn(format!("{first}: included too deep"))),
                    Err(e) => out.push(Action::Warn(format!("{first}: {e}"))),
                }
            }
            _ => out.push(Action::Warn(format!("command `{}` ignored", words.join(" ")))),
        }
    }
}

/// Splits at line breaks, `;`, `&&` and `||` outside quotes; drops `#` comments.
fn simple_commands(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in cmd.lines() {
        let mut cur = String::new();
        let mut quote = None;
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            match (quote, c) {
                (Some(q), c) if c == q => {
                    quote = None;
                    cur.push(c);
                }
                (Some(_), c) => cur.push(c),
                (None, '"' | '\'') => {
                    quote = Some(c);
                    cur.push(c);
                }
                (None, '#') if cur.trim().is_empty() || cur.ends_with(' ') => break,
                (None, ';') => out.push(std::mem::take(&mut cur)),
                (None, '&') if next == Some('&') => {
                    out.push(std::mem::take(&mut cur));
                    i += 1;
                }
                (None, '|') if next == Some('|') => {
                    out.push(std::mem::take(&mut cur));
                    i += 1;
                }
                (None, c) => cur.push(c),
            }
            i += 1;
        }
        out.push(cur);
    }
    out.retain(|c| !c.trim().is_empty() && !c.trim_start().starts_with("#!"));
    out
}

/// Drops `> file`, `2>&1`, `< file` and the like.
fn drop_redirections(words: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_next = false;
    for w in words {
        if skip_next {
            skip_next = false;
            continue;
        }
        let bare = w.trim_start_matches(|c: char| c.is_ascii_digit());
        if bare.starts_with('>') || bare.starts_with('<') {
            let target = bare.trim_start_matches(['>', '<', '&']);
            skip_next = target.is_empty() && !bare.contains('&');
            continue;
        }
        out.push(w);
    }
    out
}

/// Evaluates each `$((expression))` in a word (integers, `+ - * / % << >>`, parentheses).
pub fn expand_arithmetic(word: &str) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(start) = rest.find("$((") {
        out.push_str(&rest[..start]);
        let body_start = start + 3;
        let mut depth = 2;
        let mut end = None;
        for (i, c) in rest[body_start..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(body_start + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            out.push_str(&rest[start..]);
            return out;
        };
        let expr = &rest[body_start..end - 1];
        let value =
            crate::expr::parse_expr(expr).ok().and_then(|e| crate::expr::eval(&e, &|_| None).ok()).map(|v| match v {
                crate::expr::Value::Int(i) => i.to_string(),
                crate::expr::Value::Float(f) => (f as i128).to_string(),
            });
        match value {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..=end]),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_selftests_defaults_read_as_sysctls_and_commands() {
        let defaults = "#!/bin/bash\n# comment\n\
            ip tcp_metrics flush all > /dev/null 2>&1\n\
            sysctl -q net.ipv4.tcp_rmem=\"4096 540000 $((15*1024*1024))\"\n\
            sysctl -q net.ipv4.tcp_early_retrans=4 net.ipv4.tcp_recovery=1\n\
            sysctl -q net.ipv4.tcp_notsent_lowat=4294967295 > /dev/null 2>&1\n\
            tc qdisc add dev tun0 root pfifo\n";
        let dir = std::env::temp_dir().join(format!("synack-drill-cmd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("defaults.sh"), defaults).unwrap();
        let got = interpret("./defaults.sh\n./set_sysctls.py /proc/sys/net/ipv4/tcp_timestamps=0", Some(&dir));
        assert_eq!(
            got,
            vec![
                Action::Run(vec!["ip".into(), "tcp_metrics".into(), "flush".into(), "all".into()]),
                Action::Sysctl("net.ipv4.tcp_rmem".into(), "4096 540000 15728640".into()),
                Action::Sysctl("net.ipv4.tcp_early_retrans".into(), "4".into()),
                Action::Sysctl("net.ipv4.tcp_recovery".into(), "1".into()),
                Action::Sysctl("net.ipv4.tcp_notsent_lowat".into(), "4294967295".into()),
                Action::Run(vec![
                    "tc".into(),
                    "qdisc".into(),
                    "add".into(),
                    "dev".into(),
                    "tun0".into(),
                    "root".into(),
                    "pfifo".into()
                ]),
                Action::Sysctl("net.ipv4.tcp_timestamps".into(), "0".into()),
            ]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn arithmetic_and_chains() {
        assert_eq!(expand_arithmetic("x=$((256*1024))y"), "x=262144y");
        assert_eq!(expand_arithmetic("$((1 << 20)) $((2+3))"), "1048576 5");
        let got = interpret("sysctl -q net.ipv4.a=1 && sysctl -q net.ipv4.b=2; sysctl -w net.ipv4.c=3 || true", None);
        assert_eq!(got.len(), 3);
        assert!(matches!(interpret("frobnicate --hard", None)[0], Action::Warn(_)));
    }
}
