//! String filter syntax, as in the original KyroDB:
//!
//! ```text
//! expr    := and (OR and)*
//! and     := unary (AND unary)*
//! unary   := NOT unary | primary
//! primary := '(' expr ')' | EXISTS '(' path ')' | path cond
//! cond    := ('==' | '=' | '!=' | '>' | '>=' | '<' | '<=') value
//!          | IN list | NOT IN list | EXISTS | NOT EXISTS
//! list    := '[' value (',' value)* ']'        value := 'str' | "str" | number | TRUE | FALSE | NULL
//! ```
//! Keywords are case-insensitive; `&&`, `||` and `!` work too. Errors give the position
//! in UTF-16 code units — the same index JavaScript's `string[i]` uses:
//! `expected a value at position 17, found ')'`.

use super::flat::Scalar;
use super::{invalid_filter, CmpOp, Filter};
use crate::error::Error;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Op(CmpOp),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    And,
    Or,
    Not,
    In,
    Exists,
    True,
    False,
    Null,
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::Num(n) => format!("number {n}"),
        Tok::Op(_) => "an operator".into(),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::LBracket => "'['".into(),
        Tok::RBracket => "']'".into(),
        Tok::Comma => "','".into(),
        Tok::And => "AND".into(),
        Tok::Or => "OR".into(),
        Tok::Not => "NOT".into(),
        Tok::In => "IN".into(),
        Tok::Exists => "EXISTS".into(),
        Tok::True | Tok::False | Tok::Null => "a literal".into(),
        Tok::End => "the end of the filter".into(),
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, Error> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let two = if i + 1 < b.len() { &b[i..i + 2] } else { &b[i..i + 1] };
        let (tok, len) = match (c, two) {
            (_, b"==") => (Tok::Op(CmpOp::Eq), 2),
            (_, b"!=") => (Tok::Op(CmpOp::Ne), 2),
            (_, b">=") => (Tok::Op(CmpOp::Gte), 2),
            (_, b"<=") => (Tok::Op(CmpOp::Lte), 2),
            (_, b"&&") => (Tok::And, 2),
            (_, b"||") => (Tok::Or, 2),
            (b'=', _) => (Tok::Op(CmpOp::Eq), 1),
            (b'>', _) => (Tok::Op(CmpOp::Gt), 1),
            (b'<', _) => (Tok::Op(CmpOp::Lt), 1),
            (b'!', _) => (Tok::Not, 1),
            (b'(', _) => (Tok::LParen, 1),
            (b')', _) => (Tok::RParen, 1),
            (b'[', _) => (Tok::LBracket, 1),
            (b']', _) => (Tok::RBracket, 1),
            (b',', _) => (Tok::Comma, 1),
            (b'\'' | b'"', _) => {
                let quote = c;
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    match b.get(j) {
                        None => {
                            return Err(invalid_filter(format!("unterminated string starting at position {start}")))
                        }
                        Some(&q) if q == quote => break,
                        Some(b'\\') => {
                            match b.get(j + 1) {
                                Some(&e @ (b'\\' | b'\'' | b'"')) => s.push(e as char),
                                _ => {
                                    return Err(invalid_filter(format!(
                                        "bad escape at position {j}: use \\\\, \\' or \\\""
                                    )))
                                }
                            }
                            j += 2;
                        }
                        Some(_) => {
                            // Copy one UTF-8 character.
                            let ch = src[j..].chars().next().unwrap_or('\u{FFFD}');
                            s.push(ch);
                            j += ch.len_utf8();
                        }
                    }
                }
                (Tok::Str(s), j + 1 - i)
            }
            (b'-' | b'0'..=b'9' | b'.', _) => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_digit() || matches!(b[j], b'.' | b'e' | b'E' | b'+' | b'-')) {
                    if matches!(b[j], b'+' | b'-') && !matches!(b[j - 1], b'e' | b'E') {
                        break;
                    }
                    j += 1;
                }
                let text = &src[i..j];
                let n: f64 =
                    text.parse().map_err(|_| invalid_filter(format!("bad number '{text}' at position {start}")))?;
                if !n.is_finite() {
                    return Err(invalid_filter(format!("number '{text}' at position {start} is out of range")));
                }
                (Tok::Num(n), j - i)
            }
            (c, _) if c.is_ascii_alphabetic() || c == b'_' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || matches!(b[j], b'_' | b'.' | b'-')) {
                    j += 1;
                }
                let word = &src[i..j];
                let tok = match word.to_ascii_uppercase().as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    "IN" => Tok::In,
                    "EXISTS" => Tok::Exists,
                    "TRUE" => Tok::True,
                    "FALSE" => Tok::False,
                    "NULL" => Tok::Null,
                    _ => Tok::Ident(word.to_string()),
                };
                (tok, j - i)
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(invalid_filter(format!("unexpected character '{ch}' at position {start}")));
            }
        };
        out.push((tok, start));
        i += len;
    }
    out.push((Tok::End, src.len()));
    Ok(out)
}

/// Deepest nesting of parentheses and `NOT`s a string filter may have. The parser is
/// recursive descent: without a bound, a filter of 20,000 `(` overflows the thread's stack,
/// which is not a panic anything can catch — it kills the host process. 128 is also the
/// depth serde_json allows an object filter.
pub const MAX_FILTER_DEPTH: usize = 128;

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    /// Open parentheses and `NOT`s around the current token.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn at(&self) -> usize {
        self.toks[self.pos].1
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].0.clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn fail<T>(&self, expected: &str) -> Result<T, Error> {
        Err(invalid_filter(format!("expected {expected} at position {}, found {}", self.at(), describe(self.peek()))))
    }

    fn expect(&mut self, t: Tok, what: &str) -> Result<(), Error> {
        if *self.peek() == t {
            self.next();
            Ok(())
        } else {
            self.fail(what)
        }
    }

    fn expr(&mut self) -> Result<Filter, Error> {
        let mut parts = vec![self.and()?];
        while *self.peek() == Tok::Or {
            self.next();
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Filter::Or(parts) })
    }

    fn and(&mut self) -> Result<Filter, Error> {
        let mut parts = vec![self.unary()?];
        while *self.peek() == Tok::And {
            self.next();
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Filter::And(parts) })
    }

    /// Enter one level of nesting (a `(` or a `NOT`); fails past [`MAX_FILTER_DEPTH`].
    fn descend(&mut self) -> Result<(), Error> {
        if self.depth >= MAX_FILTER_DEPTH {
            return Err(invalid_filter(format!(
                "the filter nests more than {MAX_FILTER_DEPTH} levels of parentheses and NOT at position {}",
                self.at()
            )));
        }
        self.depth += 1;
        Ok(())
    }

    fn unary(&mut self) -> Result<Filter, Error> {
        if *self.peek() == Tok::Not {
            self.descend()?;
            self.next();
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Filter, Error> {
        match self.peek().clone() {
            Tok::LParen => {
                self.descend()?;
                self.next();
                let inner = self.expr()?;
                self.expect(Tok::RParen, "')'")?;
                self.depth -= 1;
                Ok(inner)
            }
            Tok::Exists => {
                self.next();
                self.expect(Tok::LParen, "'(' after EXISTS")?;
                let Tok::Ident(field) = self.peek().clone() else { return self.fail("a field name") };
                self.next();
                self.expect(Tok::RParen, "')'")?;
                Ok(Filter::Exists { field, exists: true })
            }
            Tok::Ident(field) => {
                self.next();
                self.condition(field)
            }
            _ => self.fail("a field name, '(' or NOT"),
        }
    }

    fn condition(&mut self, field: String) -> Result<Filter, Error> {
        match self.peek().clone() {
            Tok::Op(op) => {
                self.next();
                let at = self.at();
                let value = self.value()?;
                if !matches!(op, CmpOp::Eq | CmpOp::Ne) && !matches!(value, Scalar::Num(_)) {
                    return Err(invalid_filter(format!(
                        "range comparisons take numbers: the value at position {at} for '{field}' is not a number"
                    )));
                }
                Ok(Filter::Cmp { field, op, value })
            }
            Tok::In => {
                self.next();
                Ok(Filter::In { field, values: self.list()?, negate: false })
            }
            Tok::Exists => {
                self.next();
                Ok(Filter::Exists { field, exists: true })
            }
            Tok::Not => {
                self.next();
                match self.next() {
                    Tok::In => Ok(Filter::In { field, values: self.list()?, negate: true }),
                    Tok::Exists => Ok(Filter::Exists { field, exists: false }),
                    _ => {
                        self.pos -= 1;
                        self.fail("IN or EXISTS after NOT")
                    }
                }
            }
            _ => self.fail(&format!("an operator (==, !=, >, >=, <, <=, IN, EXISTS) after '{field}'")),
        }
    }

    fn value(&mut self) -> Result<Scalar, Error> {
        let v = match self.peek().clone() {
            Tok::Str(s) => Scalar::Str(s),
            Tok::Num(n) => Scalar::Num(n),
            Tok::True => Scalar::Bool(true),
            Tok::False => Scalar::Bool(false),
            Tok::Null => Scalar::Null,
            _ => return self.fail("a value (a quoted string, a number, TRUE, FALSE or NULL)"),
        };
        self.next();
        Ok(v)
    }

    fn list(&mut self) -> Result<Vec<Scalar>, Error> {
        self.expect(Tok::LBracket, "'[' to start a list")?;
        let mut out = vec![self.value()?];
        while *self.peek() == Tok::Comma {
            self.next();
            out.push(self.value()?);
        }
        self.expect(Tok::RBracket, "']' or ','")?;
        Ok(out)
    }
}

/// Parse a string filter. The empty string (or only spaces) matches everything.
pub fn parse(src: &str) -> Result<Filter, Error> {
    if src.trim().is_empty() {
        return Ok(Filter::All);
    }
    parse_bytes(src).map_err(|e| match e {
        Error::InvalidFilter(m) => Error::InvalidFilter(positions_in_utf16(src, &m)),
        other => other,
    })
}

fn parse_bytes(src: &str) -> Result<Filter, Error> {
    let mut p = Parser { toks: lex(src)?, pos: 0, depth: 0 };
    let f = p.expr()?;
    if *p.peek() != Tok::End {
        return p.fail("AND, OR or the end of the filter");
    }
    Ok(f)
}

/// Rewrite "position N" (a byte offset, as the lexer counts) into UTF-16 code units.
fn positions_in_utf16(src: &str, msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find("position ") {
        let (head, tail) = rest.split_at(i + "position ".len());
        out.push_str(head);
        let digits = tail.chars().take_while(char::is_ascii_digit).count();
        let byte: usize = tail[..digits].parse().unwrap_or(0);
        let units = src.get(..byte.min(src.len())).map_or(byte, |p| p.encode_utf16().count());
        out.push_str(&units.to_string());
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}
