//! Readers between a request body and a decoder: a bridge from the async body to a
//! blocking `Read`, gzip, and a size limit. Each layer that fails records why in a
//! [`FaultSlot`], so the error a decoder sees can be reported for what it really is
//! (malformed gzip, too large, broken connection) rather than as a syntax error.

use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

use bytes::{Buf, Bytes};
use flate2::read::MultiGzDecoder;
use tokio::sync::mpsc;

/// Why reading the body failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyFault {
    /// More bytes than the limit (the limit).
    TooLarge(u64),
    /// `Content-Encoding: gzip` but the bytes are not valid gzip.
    Gzip(String),
    /// The client stopped sending or the connection broke.
    Broken(String),
}

/// The first fault of any layer; shared by the layers of one decoding thread.
#[derive(Debug, Clone, Default)]
pub struct FaultSlot(Rc<RefCell<Option<BodyFault>>>);

impl FaultSlot {
    fn record(&self, fault: BodyFault) -> io::Error {
        let mut slot = self.0.borrow_mut();
        if slot.is_none() {
            *slot = Some(fault);
        }
        io::Error::other("body fault")
    }

    pub fn take(&self) -> Option<BodyFault> {
        self.0.borrow_mut().take()
    }
}

/// A blocking reader over body chunks sent by the async side.
pub struct ChannelReader {
    chunks: mpsc::Receiver<Result<Bytes, BodyFault>>,
    current: Bytes,
    slot: FaultSlot,
}

impl ChannelReader {
    pub fn new(chunks: mpsc::Receiver<Result<Bytes, BodyFault>>, slot: FaultSlot) -> Self {
        Self {
            chunks,
            current: Bytes::new(),
            slot,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                None => return Ok(0),
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(fault)) => return Err(self.slot.record(fault)),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

/// Gunzips; any failure of the gzip stream itself is a [`BodyFault::Gzip`].
pub struct Gunzip<R: Read> {
    inner: MultiGzDecoder<R>,
    slot: FaultSlot,
}

impl<R: Read> Gunzip<R> {
    pub fn new(inner: R, slot: FaultSlot) -> Self {
        Self {
            inner: MultiGzDecoder::new(inner),
            slot,
        }
    }
}

impl<R: Read> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let message = format!("the body is not valid gzip: {e}");
            self.slot.record(BodyFault::Gzip(message))
        })
    }
}

/// Stops after `limit` bytes with [`BodyFault::TooLarge`]; guards decoded sizes too, so a
/// small gzip body cannot expand without bound.
pub struct Limited<R: Read> {
    inner: R,
    left: u64,
    limit: u64,
    slot: FaultSlot,
}

impl<R: Read> Limited<R> {
    pub fn new(inner: R, limit: u64, slot: FaultSlot) -> Self {
        Self {
            inner,
            left: limit,
            limit,
            slot,
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(self.slot.record(BodyFault::TooLarge(self.limit)));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// The body as one reader: gunzipped if asked, never more than `limit` bytes decoded.
pub fn body_reader(
    raw: impl Read + 'static,
    gzip: bool,
    limit: u64,
    slot: &FaultSlot,
) -> Box<dyn Read> {
    if gzip {
        Box::new(Limited::new(
            Gunzip::new(raw, slot.clone()),
            limit,
            slot.clone(),
        ))
    } else {
        Box::new(Limited::new(raw, limit, slot.clone()))
    }
}
