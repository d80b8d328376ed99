//! `COMPRESS=DEFLATE` (RFC 4978): after the server's OK, everything each
//! way is one raw DEFLATE stream (RFC 1951). This module owns that layer
//! over the underlying stream: writes are compressed into a buffer and
//! drained to the stream; a flush ends the pending output with a sync flush
//! so the server can inflate every command completely; reads inflate what
//! arrived.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::transport::Stream;

/// How much compressed input is read from the stream at a time.
const READ_CHUNK: usize = 16 * 1024;

pub(crate) struct Deflated {
    inner: Stream,
    compress: Compress,
    decompress: Decompress,
    /// Compressed bytes read but not inflated yet.
    raw_in: Vec<u8>,
    /// Compressed bytes made but not written yet.
    raw_out: Vec<u8>,
    /// Data was compressed since the last sync flush.
    unsynced: bool,
    eof: bool,
}

impl Deflated {
    /// Compression from now on over `inner`; `already` holds bytes read
    /// past the OK (compressed already).
    pub(crate) fn new(inner: Stream, already: Vec<u8>) -> Deflated {
        Deflated {
            inner,
            compress: Compress::new(Compression::fast(), false),
            decompress: Decompress::new(false),
            raw_in: already,
            raw_out: Vec::new(),
            unsynced: false,
            eof: false,
        }
    }

    pub(crate) fn inner(&self) -> &Stream {
        &self.inner
    }

    /// Writes out what is compressed; Ready once nothing is left.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.raw_out.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.raw_out) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.raw_out.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Compresses `data` (all of it) into `raw_out`, with `flush`.
    fn deflate(&mut self, mut data: &[u8], flush: FlushCompress) -> io::Result<()> {
        loop {
            self.raw_out.reserve(data.len() / 2 + 64);
            let before_in = self.compress.total_in();
            self.compress
                .compress_vec(data, &mut self.raw_out, flush)
                .map_err(io::Error::other)?;
            data = &data[(self.compress.total_in() - before_in) as usize..];
            // Done when all input is taken and the output did not fill up
            // (a full buffer may hold back the rest of a sync flush).
            if data.is_empty() && self.raw_out.len() < self.raw_out.capacity() {
                return Ok(());
            }
        }
    }
}

impl AsyncRead for Deflated {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.raw_in.is_empty() {
                let before_in = this.decompress.total_in();
                let before_out = this.decompress.total_out();
                let status = this
                    .decompress
                    .decompress(
                        &this.raw_in,
                        buf.initialize_unfilled(),
                        FlushDecompress::Sync,
                    )
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                let used = (this.decompress.total_in() - before_in) as usize;
                let made = (this.decompress.total_out() - before_out) as usize;
                this.raw_in.drain(..used);
                buf.advance(made);
                if made > 0 {
                    return Poll::Ready(Ok(()));
                }
                if status == Status::StreamEnd {
                    return Poll::Ready(Ok(())); // the server ended the stream
                }
                if used > 0 {
                    continue; // consumed a header or an empty block
                }
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            let mut chunk = vec![0u8; READ_CHUNK];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    if rb.filled().is_empty() {
                        this.eof = true;
                    } else {
                        this.raw_in.extend_from_slice(rb.filled());
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl AsyncWrite for Deflated {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Keep the backlog bounded: write out earlier output first.
        if this.raw_out.len() >= READ_CHUNK {
            match this.drain(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        this.deflate(data, FlushCompress::None)?;
        this.unsynced = true;
        // Opportunistic: whatever the stream takes now.
        if let Poll::Ready(Err(e)) = this.drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.unsynced {
            this.deflate(&[], FlushCompress::Sync)?;
            this.unsynced = false;
        }
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
