//! Streaming, parallel encryption.

use std::io::{self, Read, Write};

use dataseal_base::{Cid, DataKey, ObjectId};

use crate::header::{ChunkSize, MAX_PLAINTEXT_LEN, ObjectHeader, Salt, TAG_LEN};
use crate::primitive::ChunkCipher;
use crate::schedule;
use crate::{Error, header::Commitment};

/// Chunks in flight per thread, beyond the one each thread is sealing: memory is
/// `(WINDOW_PER_THREAD + 1) × threads × C` (6 MiB for two threads at 1 MiB chunks)
/// whatever the input size.
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
    /// The calling thread reads chunks into reused buffers and hands each to the current
    /// rayon pool as one task that encrypts it in place and hashes it to its CID; finished
    /// chunks go to `sink` in index order. There is no barrier between windows: as long as
    /// the reader keeps ahead, every thread has a chunk to work on. At most
    /// `(2 + 1) × threads` chunks are in memory, whatever the input size.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] from the reader or the sink; [`Error::TooLarge`] past 2^53 − 1 bytes.
    pub fn encrypt<R, S>(&self, reader: R, sink: &mut S) -> Result<ObjectHeader, Error>
    where
        R: Read,
        S: ChunkSink,
    {
        let threads = rayon::current_num_threads().max(1);
        let max_in_flight = (WINDOW_PER_THREAD + 1) * threads;
        let mut input = ChunkReader::new(reader, self.chunk_size.plaintext_len());
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Slot>();
        let cipher = &self.cipher;
        let mut total: u64 = 0;
        let outcome = rayon::in_place_scope_fifo(|scope| -> Result<(), Error> {
            let mut free: Vec<Vec<u8>> = Vec::with_capacity(max_in_flight);
            let mut pending: std::collections::BTreeMap<u64, Slot> =
                std::collections::BTreeMap::new();
            let mut next_index: u64 = 0;
            let mut next_emit: u64 = 0;
            let mut in_flight = 0usize;
            let mut reading = true;
            loop {
                while let Some(mut slot) = pending.remove(&next_emit) {
                    let n = slot.len + TAG_LEN;
                    let ct = slot
                        .buf
                        .get(..n)
                        .ok_or(Error::Chunk { index: slot.index })?;
                    let cid = slot.cid.take().ok_or(Error::Chunk { index: slot.index })?;
                    sink.put_chunk(slot.index, ct, &cid)?;
                    free.push(slot.buf);
                    next_emit += 1;
                }
                if !reading && in_flight == 0 {
                    return Ok(());
                }
                // Chunks finished out of order wait in `pending`: they count against the bound
                // too, so the reader never runs more than `max_in_flight` chunks ahead of the sink.
                if reading && in_flight + pending.len() < max_in_flight {
                    let mut buf = free.pop().unwrap_or_default();
                    let (len, last) = input.next_chunk(&mut buf)?;
                    total = total
                        .checked_add(len as u64)
                        .filter(|t| *t <= MAX_PLAINTEXT_LEN)
                        .ok_or(Error::TooLarge)?;
                    let mut slot = Slot {
                        buf,
                        index: next_index,
                        len,
                        last,
                        cid: None,
                    };
                    next_index += 1;
                    in_flight += 1;
                    reading = !last;
                    let tx = done_tx.clone();
                    scope.spawn_fifo(move |_| {
                        if let Some(n) = cipher.seal(slot.index, slot.last, &mut slot.buf, slot.len)
                        {
                            slot.cid = slot.buf.get(..n).map(Cid::raw_sha256);
                        }
                        // The receiver outlives the scope, so sending cannot fail.
                        let _ = tx.send(slot);
                    });
                    continue;
                }
                let slot = wait_for(&done_rx)?;
                in_flight -= 1;
                if slot.cid.is_none() {
                    return Err(Error::Chunk { index: slot.index });
                }
                pending.insert(slot.index, slot);
            }
        });
        outcome?;
        self.header(total)
    }
}

impl Encryptor {
    /// Encrypts `reader` again after an interruption, checking each chunk against the CID
    /// `recorded` for it before the interruption (chunk `i` against `recorded[i]`), and
    /// hands `sink` only chunks that match or that were never recorded.
    ///
    /// Resuming re-creates the same ciphertext from the same key and salt, so a chunk
    /// that was already stored is reproduced bit for bit. If the input changed, a chunk
    /// differs from its record: sealed under the same key and nonce as the recorded one,
    /// it must never leave (two ciphertexts of one keystream reveal both plaintexts'
    /// XOR). The first such chunk stops the encryption with
    /// [`Error::ResumeMismatch`] before the sink sees it or any chunk after it. For this
    /// to protect every chunk that left, the caller records each chunk's CID (from the
    /// sink) before the chunk is stored anywhere.
    ///
    /// ```
    /// use dataseal_base::{DataKey, ObjectId};
    /// use dataseal_crypt::{ChunkSize, Encryptor, Error, Salt, WriteSink};
    ///
    /// let key = DataKey::generate()?;
    /// let id: ObjectId = "ds@1.0.0/a.bin".parse()?;
    /// let salt = Salt::generate()?;
    /// let enc = Encryptor::with_salt(&key, id, ChunkSize::MIN, salt);
    /// let data = vec![7u8; 200_000];
    /// let mut first = WriteSink::new(Vec::new());
    /// enc.encrypt(&data[..], &mut first)?;
    /// let (_, recorded) = first.finish()?;
    ///
    /// // The same input: every chunk matches its record.
    /// let mut again = WriteSink::new(Vec::new());
    /// enc.encrypt_resumed(&data[..], &recorded[..2], &mut again)?;
    /// assert_eq!(again.cids(), &recorded[..]);
    ///
    /// // A changed input: refused before the changed chunk is handed on.
    /// let mut changed = data.clone();
    /// changed[70_000] ^= 1;
    /// let mut sink = WriteSink::new(Vec::new());
    /// let err = enc.encrypt_resumed(&changed[..], &recorded, &mut sink).unwrap_err();
    /// assert!(matches!(err, Error::ResumeMismatch { index: 1 }));
    /// assert_eq!(sink.cids(), &recorded[..1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::ResumeMismatch`] for the first chunk that differs from its record (or,
    /// for an input now shorter than the record, the first recorded chunk past its end);
    /// otherwise as [`Encryptor::encrypt`].
    pub fn encrypt_resumed<R, S>(
        &self,
        reader: R,
        recorded: &[Cid],
        sink: &mut S,
    ) -> Result<ObjectHeader, Error>
    where
        R: Read,
        S: ChunkSink,
    {
        let mut checked = Checked {
            recorded,
            inner: sink,
            mismatch: None,
            seen: 0,
        };
        let outcome = self.encrypt(reader, &mut checked);
        if let Some(index) = checked.mismatch {
            return Err(Error::ResumeMismatch { index });
        }
        let header = outcome?;
        if checked.seen < recorded.len() as u64 {
            return Err(Error::ResumeMismatch {
                index: checked.seen,
            });
        }
        Ok(header)
    }
}

/// A sink that passes on only the chunks matching their record (or never recorded).
struct Checked<'a, S> {
    recorded: &'a [Cid],
    inner: &'a mut S,
    mismatch: Option<u64>,
    seen: u64,
}

impl<S: ChunkSink> ChunkSink for Checked<'_, S> {
    fn put_chunk(&mut self, index: u64, ciphertext: &[u8], cid: &Cid) -> io::Result<()> {
        let recorded = usize::try_from(index)
            .ok()
            .and_then(|i| self.recorded.get(i));
        if recorded.is_some_and(|r| r != cid) || self.mismatch.is_some() {
            self.mismatch.get_or_insert(index);
            return Err(io::Error::other("a resumed chunk differs from its record"));
        }
        self.seen = index + 1;
        self.inner.put_chunk(index, ciphertext, cid)
    }
}

/// Waits for a finished chunk. On a pool thread (the caller is inside
/// `ThreadPool::install`), it runs pending tasks meanwhile, so a pool of one thread cannot
/// deadlock; elsewhere it blocks.
fn wait_for(rx: &std::sync::mpsc::Receiver<Slot>) -> Result<Slot, Error> {
    use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
    loop {
        match rx.try_recv() {
            Ok(slot) => return Ok(slot),
            Err(TryRecvError::Disconnected) => {
                return Err(Error::Io(io::Error::other("encryption tasks stopped")));
            }
            Err(TryRecvError::Empty) => {}
        }
        match rayon::yield_now() {
            Some(rayon::Yield::Executed) => {}
            Some(rayon::Yield::Idle) => match rx.recv_timeout(std::time::Duration::from_micros(50))
            {
                Ok(slot) => return Ok(slot),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Error::Io(io::Error::other("encryption tasks stopped")));
                }
            },
            None => {
                return rx
                    .recv()
                    .map_err(|_| Error::Io(io::Error::other("encryption tasks stopped")));
            }
        }
    }
}

/// One chunk in flight: a reused buffer of `C` bytes, its position, and its CID once
/// sealed.
struct Slot {
    buf: Vec<u8>,
    index: u64,
    len: usize,
    last: bool,
    cid: Option<Cid>,
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
}
