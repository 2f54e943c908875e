//! Streaming, parallel encryption.

use std::io::{self, Read, Write};

use dataseal_base::{Cid, DataKey, ObjectId};
use rayon::prelude::*;

use crate::header::{ChunkSize, MAX_PLAINTEXT_LEN, ObjectHeader, Salt, TAG_LEN};
use crate::primitive::ChunkCipher;
use crate::schedule;
use crate::{Error, header::Commitment};

/// Chunks per thread in one window: three windows are in memory at once (one being
/// read, one encrypted, one written), so memory is `3 × 2 × threads × C` (12 MiB for two
/// threads at 1 MiB chunks) whatever the input size.
const WINDOW_PER_THREAD: usize = 2;

/// Receives ciphertext chunks, in index order, with their CIDs.
///
/// Implemented for closures `FnMut(u64, &[u8], &Cid) -> io::Result<()>` and by
/// [`WriteSink`], which writes the chunk stream to any [`Write`] and keeps the CIDs.
pub trait ChunkSink {
    /// Takes chunk `index`: its ciphertext (tag included) and its CIDv1 (raw, SHA2-256).
    ///
    /// # Errors
    ///
    /// Any I/O error; encryption stops and returns it.
    fn put_chunk(&mut self, index: u64, ciphertext: &[u8], cid: &Cid) -> io::Result<()>;
}

impl<F> ChunkSink for F
where
    F: FnMut(u64, &[u8], &Cid) -> io::Result<()>,
{
    fn put_chunk(&mut self, index: u64, ciphertext: &[u8], cid: &Cid) -> io::Result<()> {
        self(index, ciphertext, cid)
    }
}

/// A [`ChunkSink`] that writes the chunk stream (chunk `i` at bytes `[i·C, (i+1)·C)`) to a
/// writer and records every chunk's CID.
#[derive(Debug)]
pub struct WriteSink<W> {
    writer: W,
    cids: Vec<Cid>,
}

impl<W: Write> WriteSink<W> {
    /// Wraps a writer.
    pub fn new(writer: W) -> Self {
        Self {
            writer,
            cids: Vec::new(),
        }
    }

    /// The CIDs of the chunks written so far, in order.
    #[must_use]
    pub fn cids(&self) -> &[Cid] {
        &self.cids
    }

    /// Flushes and returns the writer and the chunk CIDs.
    ///
    /// # Errors
    ///
    /// The writer's flush error.
    pub fn finish(mut self) -> io::Result<(W, Vec<Cid>)> {
        self.writer.flush()?;
        Ok((self.writer, self.cids))
    }
}

impl<W: Write> ChunkSink for WriteSink<W> {
    fn put_chunk(&mut self, _index: u64, ciphertext: &[u8], cid: &Cid) -> io::Result<()> {
        self.writer.write_all(ciphertext)?;
        self.cids.push(*cid);
        Ok(())
    }
}

/// Encrypts one object (format v1): a fresh salt, keys derived from the data key, the
/// object id and the chunk size, and a stateless per-chunk primitive.
///
/// [`Encryptor::encrypt`] streams any reader through a parallel pipeline on the current
/// rayon thread pool (run it inside [`rayon::ThreadPool::install`] to choose the
/// threads); memory stays at a few chunks per thread whatever the input size.
/// [`Encryptor::encrypt_chunk`] re-creates any single chunk bit for bit, for resuming an
/// interrupted upload.
///
/// ```
/// use dataseal_base::{DataKey, ObjectId};
/// use dataseal_crypt::{ChunkSize, Decryptor, Encryptor, WriteSink};
///
/// let key = DataKey::generate()?;
/// let id: ObjectId = "ds@1.0.0/hello.txt".parse()?;
/// let enc = Encryptor::new(&key, id, ChunkSize::MIN)?;
/// let mut sink = WriteSink::new(Vec::new());
/// let header = enc.encrypt(&b"hello, world"[..], &mut sink)?;
/// let (ciphertext, cids) = sink.finish()?;
/// assert_eq!(cids.len(), 1);
///
/// let mut plaintext = Vec::new();
/// Decryptor::new(&key, &header)?.decrypt(&ciphertext[..], &mut plaintext)?;
/// assert_eq!(plaintext, b"hello, world");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Encryptor {
    cipher: ChunkCipher,
    chunk_size: ChunkSize,
    object_id: ObjectId,
    salt: Salt,
    commitment: Commitment,
}

impl std::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryptor")
            .field("chunk_size", &self.chunk_size)
            .field("object_id", &self.object_id)
            .field("salt", &self.salt)
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    /// An encryptor with a fresh random salt.
    ///
    /// # Errors
    ///
    /// [`Error::Base`] if the random generator fails.
    pub fn new(key: &DataKey, object_id: ObjectId, chunk_size: ChunkSize) -> Result<Self, Error> {
        Ok(Self::with_salt(
            key,
            object_id,
            chunk_size,
            Salt::generate()?,
        ))
    }

    /// An encryptor with a given salt: the same key and salt reproduce the same ciphertext,
    /// which is what resuming needs. Never reuse a salt for different plaintext under one
    /// data key.
    #[must_use]
    pub fn with_salt(
        key: &DataKey,
        object_id: ObjectId,
        chunk_size: ChunkSize,
        salt: Salt,
    ) -> Self {
        let keys = schedule::derive(key, chunk_size, &object_id, &salt);
        Self {
            cipher: ChunkCipher::new(&keys.payload),
            chunk_size,
            object_id,
            salt,
            commitment: keys.commitment,
        }
    }

    /// The chunk size.
    #[must_use]
    pub fn chunk_size(&self) -> ChunkSize {
        self.chunk_size
    }

    /// The salt.
    #[must_use]
    pub fn salt(&self) -> &Salt {
        &self.salt
    }

    /// The header of an object of `plaintext_len` bytes encrypted by this encryptor.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] beyond 2^53 − 1 bytes.
    pub fn header(&self, plaintext_len: u64) -> Result<ObjectHeader, Error> {
        ObjectHeader::new(
            self.chunk_size,
            self.object_id.clone(),
            self.salt,
            self.commitment,
            plaintext_len,
        )
    }

    /// Encrypts chunk `index` of an object in place: `chunk` holds its plaintext (at most
    /// `C − 16` bytes) and receives the ciphertext with its tag appended. `last` marks the
    /// object's final chunk. Returns the ciphertext's CID.
    ///
    /// # Errors
    ///
    /// [`Error::Chunk`] if the plaintext is longer than `C − 16` bytes.
    pub fn encrypt_chunk(&self, index: u64, last: bool, chunk: &mut Vec<u8>) -> Result<Cid, Error> {
        let len = chunk.len();
        if len > self.chunk_size.plaintext_len() {
            return Err(Error::Chunk { index });
        }
        chunk.resize(len + TAG_LEN, 0);
        self.cipher
            .seal(index, last, chunk, len)
            .ok_or(Error::Chunk { index })?;
        Ok(Cid::raw_sha256(chunk))
    }

    /// Encrypts chunk `index` in place without computing its CID (the bare primitive).
    ///
    /// # Errors
    ///
    /// [`Error::Chunk`] if the plaintext is longer than `C − 16` bytes.
    pub fn seal_chunk(&self, index: u64, last: bool, chunk: &mut Vec<u8>) -> Result<(), Error> {
        let len = chunk.len();
        if len > self.chunk_size.plaintext_len() {
            return Err(Error::Chunk { index });
        }
        chunk.resize(len + TAG_LEN, 0);
        self.cipher
            .seal(index, last, chunk, len)
            .map(|_| ())
            .ok_or(Error::Chunk { index })
    }

    /// Encrypts everything `reader` yields, handing each ciphertext chunk and its CID to
    /// `sink` in order, and returns the object's header.
    ///
    /// Chunks are encrypted and hashed in parallel on the current rayon pool, in place in
    /// reused buffers; at most three windows of two chunks per thread are in memory.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] from the reader or the sink; [`Error::TooLarge`] past 2^53 − 1 bytes.
    pub fn encrypt<R, S>(&self, reader: R, sink: &mut S) -> Result<ObjectHeader, Error>
    where
        R: Read + Send,
        S: ChunkSink + Send,
    {
        let window = WINDOW_PER_THREAD * rayon::current_num_threads().max(1);
        let mut input = ChunkReader::new(reader, self.chunk_size.plaintext_len());
        let mut sealing = Batch::new(window);
        let mut filling = Batch::new(window);
        let mut draining = Batch::new(window);
        let mut total: u64 = 0;
        let mut next_index: u64 = 0;

        input.fill(&mut sealing, &mut next_index)?;
        loop {
            let done = sealing.has_last;
            let cipher = &self.cipher;
            let (sealed, io_result) = rayon::join(
                || sealing.seal_all(cipher),
                || -> Result<(), Error> {
                    draining.drain_to(sink)?;
                    if !done {
                        input.fill(&mut filling, &mut next_index)?;
                    }
                    Ok(())
                },
            );
            sealed?;
            io_result?;
            total = total
                .checked_add(sealing.plaintext_bytes())
                .filter(|t| *t <= MAX_PLAINTEXT_LEN)
                .ok_or(Error::TooLarge)?;
            if done {
                sealing.drain_to(sink)?;
                break;
            }
            // The sealed batch drains next round; the filled one is sealed; the drained
            // one's buffers are reused for filling.
            std::mem::swap(&mut draining, &mut sealing);
            std::mem::swap(&mut sealing, &mut filling);
        }
        self.header(total)
    }
}

/// One chunk's slot in a batch: a reused buffer of `C` bytes.
struct Slot {
    buf: Vec<u8>,
    index: u64,
    len: usize,
    last: bool,
    cid: Option<Cid>,
}

/// A window of chunks processed together.
struct Batch {
    slots: Vec<Slot>,
    used: usize,
    has_last: bool,
}

impl Batch {
    /// Buffers are allocated on first fill, so a small input stays small.
    fn new(window: usize) -> Self {
        let slots = (0..window)
            .map(|_| Slot {
                buf: Vec::new(),
                index: 0,
                len: 0,
                last: false,
                cid: None,
            })
            .collect();
        Self {
            slots,
            used: 0,
            has_last: false,
        }
    }

    fn active(&mut self) -> &mut [Slot] {
        let used = self.used;
        self.slots.get_mut(..used).unwrap_or_default()
    }

    fn plaintext_bytes(&self) -> u64 {
        self.slots
            .iter()
            .take(self.used)
            .map(|s| s.len as u64)
            .sum()
    }

    fn seal_all(&mut self, cipher: &ChunkCipher) -> Result<(), Error> {
        self.active().par_iter_mut().try_for_each(|slot| {
            let n = cipher
                .seal(slot.index, slot.last, &mut slot.buf, slot.len)
                .ok_or(Error::Chunk { index: slot.index })?;
            let ct = slot
                .buf
                .get(..n)
                .ok_or(Error::Chunk { index: slot.index })?;
            slot.cid = Some(Cid::raw_sha256(ct));
            Ok(())
        })
    }

    fn drain_to<S: ChunkSink>(&mut self, sink: &mut S) -> Result<(), Error> {
        for slot in self.active() {
            let n = slot.len + TAG_LEN;
            let ct = slot
                .buf
                .get(..n)
                .ok_or(Error::Chunk { index: slot.index })?;
            let cid = slot.cid.take().ok_or(Error::Chunk { index: slot.index })?;
            sink.put_chunk(slot.index, ct, &cid)?;
        }
        self.used = 0;
        Ok(())
    }
}

/// Cuts a reader into plaintext chunks, knowing for each whether it is the last one (a
/// one-byte look-ahead tells a full final chunk from one that more data follows).
struct ChunkReader<R> {
    inner: R,
    chunk: usize,
    pending: Option<u8>,
    eof: bool,
}

impl<R: Read> ChunkReader<R> {
    fn new(inner: R, chunk: usize) -> Self {
        Self {
            inner,
            chunk,
            pending: None,
            eof: false,
        }
    }

    /// Reads up to `buf.len()` bytes, stopping early only at end of input.
    fn read_full(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let Some(rest) = buf.get_mut(filled..) else {
                break;
            };
            match self.inner.read(rest) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }

    /// Fills `buf` (resized to `chunk + TAG_LEN`) with the next chunk's plaintext.
    /// Returns its length and whether it is the last chunk.
    fn next_chunk(&mut self, buf: &mut Vec<u8>) -> io::Result<(usize, bool)> {
        buf.resize(self.chunk + TAG_LEN, 0);
        let mut len = 0;
        if let (Some(b), Some(first)) = (self.pending.take(), buf.first_mut()) {
            *first = b;
            len = 1;
        }
        if !self.eof {
            let target = buf.get_mut(len..self.chunk).unwrap_or_default();
            len += self.read_full(target)?;
        }
        if self.eof {
            return Ok((len, true));
        }
        // The chunk is full: peek one byte to learn whether it is the last.
        let mut one = [0u8; 1];
        if self.read_full(&mut one)? == 1 {
            self.pending = Some(one[0]);
            Ok((len, false))
        } else {
            Ok((len, true))
        }
    }

    fn fill(&mut self, batch: &mut Batch, next_index: &mut u64) -> io::Result<()> {
        batch.used = 0;
        batch.has_last = false;
        for slot in &mut batch.slots {
            let (len, last) = self.next_chunk(&mut slot.buf)?;
            slot.index = *next_index;
            slot.len = len;
            slot.last = last;
            slot.cid = None;
            *next_index += 1;
            batch.used += 1;
            if last {
                batch.has_last = true;
                break;
            }
        }
        Ok(())
    }
}
