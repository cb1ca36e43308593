//! Reads the goroutine and P states, the `waitReason` enum and `waitReasonStrings` from a
//! toolchain's `src/runtime/runtime2.go`.
//!
//! The table generator takes these from the runtime source and checks them against the same
//! values read from the reference binary's DWARF and data, so the two sources vouch for each
//! other. Only the Go that `runtime2.go` uses for them is understood: `const` blocks with
//! `iota` and implicit repetition, integer expressions over earlier constants, and a
//! `[...]string{}` literal keyed by enum values.

use std::collections::{BTreeMap, HashMap};

use super::is_source_constant;
use crate::error::{Error, Result};

/// What `runtime2.go` says about goroutine states and wait reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeSource {
    /// Goroutine states, P states and `waitReason` values, by name without `runtime.`.
    pub constants: BTreeMap<String, i64>,
    /// `waitReasonStrings`, indexed by `waitReason`.
    pub wait_reasons: Vec<String>,
}

/// Parses the text of `runtime2.go`.
pub fn parse_runtime2(text: &str) -> Result<RuntimeSource> {
    let code = strip_comments(text);
    let all = const_values(&code);
    let constants: BTreeMap<String, i64> = all
        .iter()
        .filter(|(name, _)| is_source_constant(name))
        .map(|(name, &value)| (name.clone(), value))
        .collect();
    for required in ["_Grunning", "_Pidle", "waitReasonZero"] {
        if !constants.contains_key(required) {
            return Err(Error::corrupt(format!(
                "runtime2.go: constant {required} not found"
            )));
        }
    }
    let wait_reasons = wait_reason_strings(&code, &all)?;
    Ok(RuntimeSource {
        constants,
        wait_reasons,
    })
}

/// The source with comments blanked out (newlines kept); string literals are left intact.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for d in chars.by_ref() {
                    if d == '\n' {
                        out.push('\n');
                    }
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
                out.push(' ');
            }
            '"' | '`' | '\'' => {
                out.push(c);
                let mut escaped = false;
                for d in chars.by_ref() {
                    out.push(d);
                    if c != '`' && d == '\\' && !escaped {
                        escaped = true;
                        continue;
                    }
                    if d == c && !escaped {
                        break;
                    }
                    escaped = false;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every integer constant the file defines whose value can be computed.
fn const_values(code: &str) -> HashMap<String, i64> {
    let mut values = HashMap::new();
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        let t = line.trim();
        if t == "const (" {
            let mut iota: i64 = 0;
            let mut last_expr: Option<String> = None;
            for spec in lines.by_ref() {
                let spec = spec.trim();
                if spec == ")" {
                    break;
                }
                if spec.is_empty() {
                    continue;
                }
                let (lhs, expr) = match spec.split_once('=') {
                    Some((lhs, rhs)) => (lhs, Some(rhs.trim().to_string())),
                    None => (spec, None),
                };
                if expr.is_some() {
                    last_expr.clone_from(&expr);
                }
                if !lhs.contains(',') {
                    if let (Some(name), Some(expr)) =
                        (lhs.split_whitespace().next(), last_expr.as_deref())
                    {
                        if let Some(v) = eval(expr, iota, &values) {
                            values.insert(name.to_string(), v);
                        }
                    }
                }
                iota = iota.saturating_add(1);
            }
        } else if let Some(rest) = t.strip_prefix("const ") {
            if let Some((lhs, rhs)) = rest.split_once('=') {
                if let Some(name) = lhs.split_whitespace().next() {
                    if let Some(v) = eval(rhs.trim(), 0, &values) {
                        values.insert(name.to_string(), v);
                    }
                }
            }
        }
    }
    values
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Num(i64),
    Ident(String),
    Op(&'static str),
    Open,
    Close,
}

fn tokenize(expr: &str) -> Option<Vec<Token>> {
    const OPS: &[&str] = &["<<", ">>", "&^", "+", "-", "*", "/", "%", "&", "|", "^"];
    let mut tokens = Vec::new();
    let mut rest = expr.trim_start();
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_digit() {
            let end = rest
                .find(|d: char| !(d.is_ascii_alphanumeric() || d == '_'))
                .unwrap_or(rest.len());
            let lit = rest.get(..end)?.replace('_', "");
            let v = if let Some(hex) = lit.strip_prefix("0x").or_else(|| lit.strip_prefix("0X")) {
                i64::from_str_radix(hex, 16).ok()?
            } else if let Some(bin) = lit.strip_prefix("0b") {
                i64::from_str_radix(bin, 2).ok()?
            } else if let Some(oct) = lit.strip_prefix("0o") {
                i64::from_str_radix(oct, 8).ok()?
            } else {
                lit.parse().ok()?
            };
            tokens.push(Token::Num(v));
            rest = rest.get(end..)?;
        } else if c.is_alphabetic() || c == '_' {
            let end = rest
                .find(|d: char| !(d.is_alphanumeric() || d == '_' || d == '.'))
                .unwrap_or(rest.len());
            tokens.push(Token::Ident(rest.get(..end)?.to_string()));
            rest = rest.get(end..)?;
        } else if c == '(' {
            tokens.push(Token::Open);
            rest = rest.get(1..)?;
        } else if c == ')' {
            tokens.push(Token::Close);
            rest = rest.get(1..)?;
        } else {
            let op = OPS.iter().find(|op| rest.starts_with(**op))?;
            tokens.push(Token::Op(op));
            rest = rest.get(op.len()..)?;
        }
        rest = rest.trim_start();
    }
    Some(tokens)
}

/// Evaluates a Go integer constant expression; None for anything not understood.
fn eval(expr: &str, iota: i64, values: &HashMap<String, i64>) -> Option<i64> {
    let tokens = tokenize(expr)?;
    let mut parser = ExprParser {
        tokens: &tokens,
        pos: 0,
        iota,
        values,
    };
    let v = parser.binary(1)?;
    (parser.pos == tokens.len()).then_some(v)
}

struct ExprParser<'t> {
    tokens: &'t [Token],
    pos: usize,
    iota: i64,
    values: &'t HashMap<String, i64>,
}

fn precedence(op: &str) -> u8 {
    match op {
        "*" | "/" | "%" | "<<" | ">>" | "&" | "&^" => 5,
        _ => 4,
    }
}

impl ExprParser<'_> {
    fn next(&mut self) -> Option<&Token> {
        let t = self.tokens.get(self.pos)?;
        self.pos = self.pos.saturating_add(1);
        Some(t)
    }

    fn binary(&mut self, min: u8) -> Option<i64> {
        let mut lhs = self.unary()?;
        while let Some(Token::Op(op)) = self.tokens.get(self.pos) {
            let op = *op;
            let prec = precedence(op);
            if prec < min {
                break;
            }
            self.pos = self.pos.saturating_add(1);
            let rhs = self.binary(prec.saturating_add(1))?;
            lhs = match op {
                "+" => lhs.checked_add(rhs)?,
                "-" => lhs.checked_sub(rhs)?,
                "*" => lhs.checked_mul(rhs)?,
                "/" => lhs.checked_div(rhs)?,
                "%" => lhs.checked_rem(rhs)?,
                "<<" => lhs.checked_shl(u32::try_from(rhs).ok()?)?,
                ">>" => lhs.checked_shr(u32::try_from(rhs).ok()?)?,
                "&" => lhs & rhs,
                "&^" => lhs & !rhs,
                "|" => lhs | rhs,
                "^" => lhs ^ rhs,
                _ => return None,
            };
        }
        Some(lhs)
    }

    fn unary(&mut self) -> Option<i64> {
        match self.next()?.clone() {
            Token::Num(v) => Some(v),
            Token::Op("-") => self.unary()?.checked_neg(),
            Token::Op("+") => self.unary(),
            Token::Op("^") => Some(!self.unary()?),
            Token::Open => {
                let v = self.binary(1)?;
                (self.next()? == &Token::Close).then_some(v)
            }
            Token::Ident(name) => {
                if self.tokens.get(self.pos) == Some(&Token::Open) {
                    // A conversion such as uint8(x): the value is x's.
                    self.pos = self.pos.saturating_add(1);
                    let v = self.binary(1)?;
                    return (self.next()? == &Token::Close).then_some(v);
                }
                if name == "iota" {
                    Some(self.iota)
                } else {
                    self.values.get(&name).copied()
                }
            }
            _ => None,
        }
    }
}

/// The `waitReasonStrings` array, indexed by enum value (keyed entries) or position.
fn wait_reason_strings(code: &str, values: &HashMap<String, i64>) -> Result<Vec<String>> {
    let missing = || Error::corrupt("runtime2.go: waitReasonStrings not found");
    let start = code.find("waitReasonStrings = [").ok_or_else(missing)?;
    let rest = code.get(start..).ok_or_else(missing)?;
    let open = rest.find('{').ok_or_else(missing)?;
    let body = rest.get(open.saturating_add(1)..).ok_or_else(missing)?;
    let mut items: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut chars = body.chars();
    let mut closed = false;
    while let Some(c) = chars.next() {
        match c {
            '}' => {
                closed = true;
                break;
            }
            ',' => items.push(std::mem::take(&mut current)),
            '"' | '`' => {
                current.push(c);
                let mut escaped = false;
                for d in chars.by_ref() {
                    current.push(d);
                    if c == '"' && d == '\\' && !escaped {
                        escaped = true;
                        continue;
                    }
                    if d == c && !escaped {
                        break;
                    }
                    escaped = false;
                }
            }
            _ => current.push(c),
        }
    }
    if !closed {
        return Err(Error::corrupt(
            "runtime2.go: waitReasonStrings is not closed",
        ));
    }
    items.push(current);
    let mut out: Vec<Option<String>> = Vec::new();
    let mut next_index: usize = 0;
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (key, literal) = match item.find(['"', '`']) {
            Some(q) => (
                item.get(..q).unwrap_or("").trim(),
                item.get(q..).unwrap_or(""),
            ),
            None => {
                return Err(Error::corrupt(format!(
                    "runtime2.go: waitReasonStrings entry {item:?} is not a string"
                )))
            }
        };
        let index = match key.strip_suffix(':') {
            Some(key) => {
                let key = key.trim();
                let v = values.get(key).copied().ok_or_else(|| {
                    Error::corrupt(format!("runtime2.go: unknown waitReason {key}"))
                })?;
                usize::try_from(v)
                    .ok()
                    .filter(|&i| i < 256)
                    .ok_or_else(|| Error::corrupt(format!("runtime2.go: {key} = {v}")))?
            }
            None if key.is_empty() => next_index,
            None => {
                return Err(Error::corrupt(format!(
                    "runtime2.go: cannot read waitReasonStrings entry {item:?}"
                )))
            }
        };
        let text = unquote(literal)
            .ok_or_else(|| Error::corrupt(format!("runtime2.go: bad string literal {literal}")))?;
        let len = index
            .checked_add(1)
            .ok_or_else(|| Error::corrupt("runtime2.go: waitReasonStrings has too many entries"))?;
        if out.len() < len {
            out.resize(len, None);
        }
        if let Some(slot) = out.get_mut(index) {
            *slot = Some(text);
        }
        next_index = len;
    }
    if out.is_empty() {
        return Err(missing());
    }
    Ok(out.into_iter().map(Option::unwrap_or_default).collect())
}

/// The value of a Go string literal (interpreted or raw).
fn unquote(literal: &str) -> Option<String> {
    if let Some(raw) = literal.strip_prefix('`') {
        return raw.strip_suffix('`').map(str::to_string);
    }
    let inner = literal.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
            }
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
package runtime

// G status
const (
	_Gidle = iota // 0
	/* a block comment */
	_Grunnable // 1
	_Grunning  // 2
	_Gscan          = 0x1000
	_Gscanrunnable  = _Gscan + _Grunnable  // 0x1001
)

const (
	_Pidle = iota
	_Prunning // "//" in a comment
)

const _StackMin = 2048

type waitReason uint8

const (
	waitReasonZero                  waitReason = iota // ""
	waitReasonGCAssistMarking                         // "GC assist marking"
	waitReasonIOWait                                  // "IO wait"
)

var waitReasonStrings = [...]string{
	waitReasonZero:            "",
	waitReasonIOWait:          "IO \"wait\"",
	waitReasonGCAssistMarking: "GC assist marking",
}
"#;

    #[test]
    fn parses_states_and_wait_reasons() {
        let src = parse_runtime2(SAMPLE).expect("parses");
        let c = |n: &str| src.constants.get(n).copied();
        assert_eq!(c("_Gidle"), Some(0));
        assert_eq!(c("_Grunning"), Some(2));
        assert_eq!(c("_Gscanrunnable"), Some(0x1001));
        assert_eq!(c("_Prunning"), Some(1));
        assert_eq!(c("waitReasonIOWait"), Some(2));
        assert_eq!(
            c("_StackMin"),
            None,
            "only states and wait reasons are kept"
        );
        assert_eq!(
            src.wait_reasons,
            vec!["", "GC assist marking", "IO \"wait\""]
        );
    }

    #[test]
    fn evaluates_expressions() {
        let mut values = HashMap::new();
        values.insert("a".to_string(), 3);
        assert_eq!(eval("1 << iota", 4, &values), Some(16));
        assert_eq!(eval("a + 2*3", 0, &values), Some(9));
        assert_eq!(eval("(a + 2) * 3", 0, &values), Some(15));
        assert_eq!(eval("uint8(a) | 0x10", 0, &values), Some(19));
        assert_eq!(eval("b + 1", 0, &values), None);
        assert_eq!(eval("1 << 99", 0, &values), None);
        assert_eq!(eval("GOARCH == \"amd64\"", 0, &values), None);
    }
}
