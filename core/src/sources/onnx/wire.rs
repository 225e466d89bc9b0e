//! The protobuf wire format, read as a stream: field keys, varints, and length-delimited fields that
//! are either descended into, read (bounded), or skipped with a seek. A 2 GB model's weights
//! (`raw_data`) are skipped, never copied; nothing is allocated from a length the file declares
//! before the bytes are known to be there.

use std::io::{self, BufReader, Read, Seek, SeekFrom};

/// Wire types.
pub const VARINT: u8 = 0;
pub const FIXED64: u8 = 1;
pub const LEN: u8 = 2;
pub const FIXED32: u8 = 5;

/// A protobuf stream over a seekable reader, with the end of every enclosing message kept so a
/// length cannot reach past it.
pub struct Wire<R> {
    inner: BufReader<R>,
    pos: u64,
    /// Ends of the messages being read, innermost last; the first is the end of the file.
    ends: Vec<u64>,
    /// Bytes of text read so far, against [`Wire::max_text`].
    text: u64,
    max_text: u64,
}

impl<R: Read + Seek> Wire<R> {
    pub fn new(mut reader: R, max_text: u64) -> io::Result<Self> {
        let len = reader.seek(SeekFrom::End(0))?;
        reader.seek(SeekFrom::Start(0))?;
        Ok(Wire {
            inner: BufReader::with_capacity(1 << 16, reader),
            pos: 0,
            ends: vec![len],
            text: 0,
            max_text,
        })
    }

    fn end(&self) -> u64 {
        *self.ends.last().expect("the file's end is never popped")
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.end()
    }

    fn byte(&mut self) -> Result<u8, String> {
        if self.pos >= self.end() {
            return Err("a field runs past the end of its message".into());
        }
        let mut b = [0u8];
        self.inner
            .read_exact(&mut b)
            .map_err(|e| format!("cannot read the file: {e}"))?;
        self.pos += 1;
        Ok(b[0])
    }

    pub fn varint(&mut self) -> Result<u64, String> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint longer than 10 bytes".into())
    }

    /// The next field's number and wire type.
    pub fn key(&mut self) -> Result<(u32, u8), String> {
        let k = self.varint()?;
        let field = u32::try_from(k >> 3).map_err(|_| "a field number out of range")?;
        if field == 0 {
            return Err("field number 0".into());
        }
        Ok((field, (k & 7) as u8))
    }

    fn length(&mut self) -> Result<u64, String> {
        let n = self.varint()?;
        if n > self.end() - self.pos {
            return Err(format!(
                "a field declares {n} bytes, more than its message has left"
            ));
        }
        Ok(n)
    }

    fn advance(&mut self, n: u64) -> Result<(), String> {
        let n_i64 = i64::try_from(n).map_err(|_| "a length out of range")?;
        self.inner
            .seek_relative(n_i64)
            .map_err(|e| format!("cannot seek in the file: {e}"))?;
        self.pos += n;
        Ok(())
    }

    /// Skips a field of wire type `wt` whose key was just read.
    pub fn skip(&mut self, wt: u8) -> Result<(), String> {
        match wt {
            VARINT => self.varint().map(drop),
            FIXED64 => self.fixed(8),
            FIXED32 => self.fixed(4),
            LEN => {
                let n = self.length()?;
                self.advance(n)
            }
            other => Err(format!(
                "wire type {other} (groups are not written by ONNX)"
            )),
        }
    }

    fn fixed(&mut self, n: u64) -> Result<(), String> {
        if n > self.end() - self.pos {
            return Err("a fixed-size field runs past the end of its message".into());
        }
        self.advance(n)
    }

    /// A length-delimited field's bytes, refused past `max`.
    pub fn bytes(&mut self, max: u64) -> Result<Vec<u8>, String> {
        let n = self.length()?;
        if n > max {
            return Err(format!("a field of {n} bytes (at most {max} are read)"));
        }
        self.text = self.text.saturating_add(n);
        if self.text > self.max_text {
            return Err(format!(
                "more than {} bytes of names and text: a damaged or hostile file",
                self.max_text
            ));
        }
        let mut buf = vec![0u8; n as usize];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| format!("cannot read the file: {e}"))?;
        self.pos += n;
        Ok(buf)
    }

    /// A string field when it is at most `max` bytes, else `None`, the field skipped.
    pub fn string_if_short(&mut self, max: u64) -> Result<Option<String>, String> {
        let n = self.length()?;
        if n > max {
            self.advance(n)?;
            return Ok(None);
        }
        self.text = self.text.saturating_add(n);
        if self.text > self.max_text {
            return Err(format!(
                "more than {} bytes of names and text: a damaged or hostile file",
                self.max_text
            ));
        }
        let mut buf = vec![0u8; n as usize];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| format!("cannot read the file: {e}"))?;
        self.pos += n;
        Ok(Some(match String::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }))
    }

    /// A string field (invalid UTF-8 replaced, as it is only shown).
    pub fn string(&mut self, max: u64) -> Result<String, String> {
        let b = self.bytes(max)?;
        Ok(match String::from_utf8(b) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// A repeated int64 field, packed (`LEN`) or one value per key (`VARINT`), appended to `out`
    /// while it holds fewer than `max` values; the rest is skipped and reported by the `bool`.
    pub fn int64s(&mut self, wt: u8, out: &mut Vec<i64>, max: usize) -> Result<bool, String> {
        match wt {
            VARINT => {
                let v = self.varint()? as i64;
                if out.len() < max {
                    out.push(v);
                    Ok(true)
                } else {
                    Ok(false)
                }
            }
            LEN => {
                let n = self.length()?;
                let end = self.pos + n;
                self.ends.push(end);
                let mut kept = true;
                while self.pos < end {
                    let v = self.varint()? as i64;
                    if out.len() < max {
                        out.push(v);
                    } else {
                        kept = false;
                    }
                }
                self.ends.pop();
                Ok(kept)
            }
            other => Err(format!("wire type {other} for an int64 list")),
        }
    }

    /// Reads a length-delimited sub-message with `field`, called for each of its fields (which must
    /// read or skip the field's value).
    pub fn message(
        &mut self,
        mut field: impl FnMut(&mut Self, u32, u8) -> Result<(), String>,
    ) -> Result<(), String> {
        let n = self.length()?;
        let end = self.pos + n;
        self.ends.push(end);
        while self.pos < end {
            let (f, wt) = self.key()?;
            field(self, f, wt)?;
        }
        self.ends.pop();
        if self.pos != end {
            return Err("a message's fields run past its end".into());
        }
        Ok(())
    }

    /// The top-level message (the whole file), field by field.
    pub fn top(
        &mut self,
        mut field: impl FnMut(&mut Self, u32, u8) -> Result<(), String>,
    ) -> Result<(), String> {
        while !self.at_end() {
            let (f, wt) = self.key()?;
            field(self, f, wt)?;
        }
        Ok(())
    }

    /// Checks the wire type of a field whose type the schema fixes.
    pub fn expect(&self, wt: u8, want: u8, what: &str) -> Result<(), String> {
        if wt == want {
            Ok(())
        } else {
            Err(format!("{what} has wire type {wt}, not {want}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn fields_are_read_skipped_and_bounded() {
        // field 1 varint 150; field 2 "hi"; field 3 packed [1, 300]; field 4 a 5-byte blob.
        let bytes = vec![
            0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x1a, 0x03, 0x01, 0xac, 0x02, 0x22, 0x05, 1,
            2, 3, 4, 5,
        ];
        let mut w = Wire::new(Cursor::new(bytes), 1 << 20).unwrap();
        let mut seen = Vec::new();
        w.top(|w, f, wt| {
            match f {
                1 => seen.push(format!("{}", w.varint()?)),
                2 => seen.push(w.string(10)?),
                3 => {
                    let mut v = Vec::new();
                    w.int64s(wt, &mut v, 10)?;
                    seen.push(format!("{v:?}"));
                }
                _ => w.skip(wt)?,
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, ["150", "hi", "[1, 300]"]);
    }

    #[test]
    fn lengths_past_the_end_are_refused() {
        let mut w = Wire::new(Cursor::new(vec![0x12, 0x7f, b'x']), 1 << 20).unwrap();
        let e = w.top(|w, _, wt| w.skip(wt)).unwrap_err();
        assert!(e.contains("more than its message has left"), "{e}");
        let mut w = Wire::new(Cursor::new(vec![0x12, 0x02, b'x', b'y']), 1).unwrap();
        let e = w.top(|w, _, _| w.string(10).map(drop)).unwrap_err();
        assert!(e.contains("hostile"), "{e}");
        let mut w = Wire::new(Cursor::new(vec![0x0b]), 1).unwrap();
        assert!(w.top(|w, _, wt| w.skip(wt)).is_err());
        let mut w = Wire::new(Cursor::new(vec![0xff; 20]), 1).unwrap();
        assert!(w.top(|w, _, wt| w.skip(wt)).is_err());
    }
}
