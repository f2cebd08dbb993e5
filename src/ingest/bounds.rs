//! Byte bounds under the JSON and CSV parsers. Both keep a whole value (serde_json a
//! string, the csv crate a row) in memory before anyone can look at it; this reader
//! watches the bytes on their way in and stops the parser inside a value or row that is
//! over its bound, so memory stays bounded whatever the body.
//!
//! The reader hands over the bytes up to the first one past a bound, then fails: the
//! parser fails exactly where the overlong piece is, while the decoder above still knows
//! which record and field it was reading.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

/// Which piece of input went over its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overrun {
    /// A value: a JSON string or bare token, a CSV cell (its column from 0).
    Value { column: usize },
    /// A CSV row.
    Row,
}

/// Where the scan is, shared with the decoder that reads from the [`Guard`].
#[derive(Debug, Default)]
pub struct Scan {
    overrun: Cell<Option<Overrun>>,
    /// Line breaks before the current position.
    newlines: Cell<u64>,
}

impl Scan {
    /// The bound that stopped the input, if one did.
    pub fn overrun(&self) -> Option<Overrun> {
        self.overrun.get()
    }

    /// The line the reader stopped on, from 1.
    pub fn line(&self) -> u64 {
        self.newlines.get() + 1
    }
}

/// The lexical state that decides what counts toward a bound.
#[derive(Debug, Clone, Copy)]
enum Syntax {
    Json {
        in_string: bool,
        escaped: bool,
    },
    Csv {
        quoted: bool,
        column: usize,
        row: usize,
    },
}

/// A reader that fails once a value (or a CSV row) is longer than its bound.
pub struct Guard<R> {
    inner: R,
    syntax: Syntax,
    value_bytes: usize,
    row_bytes: usize,
    /// Bytes of the current value so far.
    run: usize,
    scan: Rc<Scan>,
}

impl<R: Read> Guard<R> {
    /// For JSON: strings (counted with their escapes) and bare tokens such as numbers.
    pub fn json(inner: R, value_bytes: usize) -> Self {
        let syntax = Syntax::Json {
            in_string: false,
            escaped: false,
        };
        Self::new(inner, syntax, value_bytes, usize::MAX)
    }

    /// For CSV: cells and rows; quoted cells may hold commas and line breaks.
    pub fn csv(inner: R, value_bytes: usize, row_bytes: usize) -> Self {
        let syntax = Syntax::Csv {
            quoted: false,
            column: 0,
            row: 0,
        };
        Self::new(inner, syntax, value_bytes, row_bytes)
    }

    fn new(inner: R, syntax: Syntax, value_bytes: usize, row_bytes: usize) -> Self {
        Self {
            inner,
            syntax,
            value_bytes,
            row_bytes,
            run: 0,
            scan: Rc::default(),
        }
    }

    /// The scan's state, for the decoder to read after a failure.
    pub fn scan(&self) -> Rc<Scan> {
        self.scan.clone()
    }

    /// Scans `bytes`; the index of the first byte past a bound, if any.
    fn check(&mut self, bytes: &[u8]) -> Option<(usize, Overrun)> {
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                self.scan.newlines.set(self.scan.newlines.get() + 1);
            }
            if let Some(overrun) = self.step(b) {
                return Some((i, overrun));
            }
        }
        None
    }

    fn step(&mut self, b: u8) -> Option<Overrun> {
        match &mut self.syntax {
            Syntax::Json { in_string, escaped } => {
                if *in_string {
                    match (*escaped, b) {
                        (true, _) => *escaped = false,
                        (false, b'\\') => *escaped = true,
                        (false, b'"') => {
                            *in_string = false;
                            self.run = 0;
                            return None;
                        }
                        _ => {}
                    }
                    self.run += 1;
                } else if b == b'"' {
                    *in_string = true;
                    self.run = 0;
                } else if b.is_ascii_whitespace() || b"{}[],:".contains(&b) {
                    self.run = 0;
                } else {
                    self.run += 1;
                }
                (self.run > self.value_bytes).then_some(Overrun::Value { column: 0 })
            }
            Syntax::Csv {
                quoted,
                column,
                row,
            } => {
                match b {
                    b'"' => *quoted = !*quoted,
                    b',' if !*quoted => {
                        *column += 1;
                        self.run = 0;
                        *row += 1;
                        return None;
                    }
                    b'\n' if !*quoted => {
                        *column = 0;
                        self.run = 0;
                        *row = 0;
                        return None;
                    }
                    _ => {}
                }
                self.run += 1;
                *row += 1;
                if *row > self.row_bytes {
                    Some(Overrun::Row)
                } else if self.run > self.value_bytes {
                    Some(Overrun::Value { column: *column })
                } else {
                    None
                }
            }
        }
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(overrun) = self.scan.overrun.get() {
            return Err(io::Error::other(format!("over a byte bound: {overrun:?}")));
        }
        let n = self.inner.read(buf)?;
        match self.check(&buf[..n]) {
            None => Ok(n),
            Some((at, overrun)) => {
                self.scan.overrun.set(Some(overrun));
                if at == 0 {
                    return Err(io::Error::other(format!("over a byte bound: {overrun:?}")));
                }
                Ok(at)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(mut guard: Guard<&[u8]>) -> (Vec<u8>, Option<Overrun>, u64) {
        let scan = guard.scan();
        let mut out = Vec::new();
        let failed = guard.read_to_end(&mut out).is_err();
        assert_eq!(failed, scan.overrun().is_some());
        (out, scan.overrun(), scan.line())
    }

    #[test]
    fn json_strings_and_tokens_are_bounded_but_not_the_structure() {
        let ok = br#"{"a": "12345", "b": 12345, "c": [1, 2, 3, 4, 5, 6, 7, 8]}"#;
        assert_eq!(read_all(Guard::json(&ok[..], 5)).1, None);
        let (passed, overrun, _) = read_all(Guard::json(&br#"{"a": "123456"}"#[..], 5));
        assert_eq!(overrun, Some(Overrun::Value { column: 0 }));
        assert_eq!(passed, br#"{"a": "12345"#);
        // An escaped quote does not end the string.
        let escaped = br#"["12\"45", "1234\"6"]"#;
        assert!(read_all(Guard::json(&escaped[..], 7)).1.is_none());
        assert!(read_all(Guard::json(&escaped[..], 6)).1.is_some());
        assert!(read_all(Guard::json(&b"[1234567]"[..], 5)).1.is_some());
    }

    #[test]
    fn csv_cells_and_rows_are_bounded_with_quotes_understood() {
        let ok = b"a,b,c\n12345,\"1,2,3\",x\n";
        assert_eq!(read_all(Guard::csv(&ok[..], 7, 16)).1, None);
        let (_, overrun, line) = read_all(Guard::csv(&b"a,b\n1,123456\n"[..], 5, 16));
        assert_eq!((overrun, line), (Some(Overrun::Value { column: 1 }), 2));
        let (_, overrun, line) = read_all(Guard::csv(&b"a\n1\n1,2,3,4,5,6,7,8,9\n"[..], 5, 16));
        assert_eq!((overrun, line), (Some(Overrun::Row), 3));
        // A quoted line break is inside the cell; quotes count, escaped ones too.
        let quoted = b"a\n\"12\n45\"\n";
        assert!(read_all(Guard::csv(&quoted[..], 7, 16)).1.is_none());
        assert!(read_all(Guard::csv(&quoted[..], 6, 16)).1.is_some());
    }
}
