//! Verified streaming and random-access decryption.

use std::io::{self, Read, Seek, SeekFrom, Write};

use dataseal_base::DataKey;
use rayon::prelude::*;
use subtle::ConstantTimeEq;

use crate::Error;
use crate::header::{ObjectHeader, TAG_LEN};
use crate::primitive::ChunkCipher;
use crate::schedule;

/// Random access to an object's ciphertext, chunk by chunk.
///
/// Implemented for byte slices and, through [`SeekSource`], for any `Read + Seek` (a file).
/// A block store implements it by fetching chunk `index` by its CID.
pub trait ChunkSource {
    /// Reads ciphertext chunk `index`, which starts at byte `offset` of the chunk stream,
    /// into `buf` (whose length is the chunk's expected length). Returns how many bytes
    /// were read: fewer than `buf.len()` means the chunk is missing or truncated.
    ///
    /// # Errors
    ///
    /// Any I/O error other than reaching the end of the data.
    fn read_chunk(&mut self, index: u64, offset: u64, buf: &mut [u8]) -> io::Result<usize>;

    /// The total ciphertext length, if the source knows it cheaply; used to reject
    /// trailing data. The default says it does not.
    ///
    /// # Errors
    ///
    /// Any I/O error.
    fn total_len(&mut self) -> io::Result<Option<u64>> {
        Ok(None)
    }
}

impl ChunkSource for &[u8] {
    fn read_chunk(&mut self, _index: u64, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let avail = self.get(start..).unwrap_or_default();
        let n = avail.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), avail.get(..n)) {
            dst.copy_from_slice(src);
        }
        Ok(n)
    }

    fn total_len(&mut self) -> io::Result<Option<u64>> {
        Ok(Some(self.len() as u64))
    }
}

/// A [`ChunkSource`] over any seekable reader, such as a [`std::fs::File`] holding the chunk
/// stream.
#[derive(Debug)]
pub struct SeekSource<R>(pub R);

impl<R: Read + Seek> ChunkSource for SeekSource<R> {
    fn read_chunk(&mut self, _index: u64, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.0.seek(SeekFrom::Start(offset))?;
        read_full(&mut self.0, buf)
    }

    fn total_len(&mut self) -> io::Result<Option<u64>> {
        self.0.seek(SeekFrom::End(0)).map(Some)
    }
}

fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let Some(rest) = buf.get_mut(filled..) else {
            break;
        };
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Decrypts one object after checking that the data key matches its header.
///
/// [`Decryptor::new`] compares the key commitment in constant time before anything is
/// opened. Every chunk is then authenticated at its own position with its last-chunk flag,
/// so truncation, extension, reordering, duplication and chunks from other objects are all
/// rejected, naming the first failing chunk.
///
/// Plaintext is released chunk by chunk, each only after its tag verified: a failure at
/// chunk `i` means the bytes already written (chunks before `i`) are authentic but the
/// object is incomplete. Write to a temporary name and rename on success.
///
/// ```
/// use dataseal_base::{DataKey, ObjectId};
/// use dataseal_crypt::{ChunkSize, Decryptor, Encryptor, Error, WriteSink};
///
/// let key = DataKey::generate()?;
/// let enc = Encryptor::new(&key, "ds@1/x".parse()?, ChunkSize::MIN)?;
/// let data = vec![7u8; 200_000];
/// let mut sink = WriteSink::new(Vec::new());
/// let header = enc.encrypt(&data[..], &mut sink)?;
/// let (mut ciphertext, _) = sink.finish()?;
///
/// // Read 10 bytes across the first chunk boundary, touching only chunks 0 and 1.
/// let dec = Decryptor::new(&key, &header)?;
/// let mut out = Vec::new();
/// dec.decrypt_range(&mut &ciphertext[..], 65_515, 10, &mut out)?;
/// assert_eq!(out, vec![7u8; 10]);
///
/// // A flipped bit is caught and the chunk named.
/// ciphertext[70_000] ^= 1;
/// let err = dec.decrypt(&ciphertext[..], &mut Vec::new()).unwrap_err();
/// assert!(matches!(err, Error::Chunk { index: 1 }));
///
/// // A wrong key is caught before any chunk is opened.
/// assert!(matches!(Decryptor::new(&DataKey::generate()?, &header), Err(Error::KeyCommitment)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Decryptor {
    cipher: ChunkCipher,
    header: ObjectHeader,
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decryptor")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl Decryptor {
    /// Derives the keys for `header` and checks its key commitment in constant time.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCommitment`] for a wrong key or a header that is not this key's.
    pub fn new(key: &DataKey, header: &ObjectHeader) -> Result<Self, Error> {
        let keys = schedule::derive(key, header.chunk_size(), header.object_id(), header.salt());
        let ok: bool = keys
            .commitment
            .as_bytes()
            .ct_eq(header.commitment().as_bytes())
            .into();
        if !ok {
            return Err(Error::KeyCommitment);
        }
        Ok(Self {
            cipher: ChunkCipher::new(&keys.payload),
            header: header.clone(),
        })
    }

    /// The header this decryptor was made for.
    #[must_use]
    pub fn header(&self) -> &ObjectHeader {
        &self.header
    }

    /// Authenticates and decrypts chunk `index` in place: `chunk` holds its ciphertext and
    /// is truncated to its plaintext.
    ///
    /// # Errors
    ///
    /// [`Error::Chunk`] if the chunk does not exist, has the wrong length, or fails
    /// authentication at this index.
    pub fn decrypt_chunk(&self, index: u64, chunk: &mut Vec<u8>) -> Result<(), Error> {
        let n = self.decrypt_chunk_slice(index, chunk)?;
        chunk.truncate(n);
        Ok(())
    }

    /// Authenticates and decrypts chunk `index` in place in a slice holding exactly its
    /// ciphertext, for callers that keep many chunks in one buffer; returns the
    /// plaintext length (the plaintext is the slice's first that many bytes, the tag's
    /// bytes after it are left as they were).
    ///
    /// # Errors
    ///
    /// As [`Decryptor::decrypt_chunk`]. On an error the slice's contents are
    /// unspecified: never use them.
    pub fn decrypt_chunk_slice(&self, index: u64, chunk: &mut [u8]) -> Result<usize, Error> {
        let expected = self
            .header
            .chunk_plaintext_len(index)
            .ok_or(Error::Chunk { index })?;
        if chunk.len() != expected + TAG_LEN {
            return Err(Error::Chunk { index });
        }
        let last = index + 1 == self.header.chunk_count();
        self.cipher
            .open(index, last, chunk)
            .ok_or(Error::Chunk { index })
    }

    /// Decrypts the whole chunk stream from `reader` to `writer`, in parallel on the
    /// current rayon pool with bounded memory. Returns the plaintext length.
    ///
    /// # Errors
    ///
    /// [`Error::Chunk`] for the first chunk that is missing, short or fails
    /// authentication; [`Error::TrailingData`] if bytes follow the last chunk;
    /// [`Error::Io`] from the reader or writer.
    pub fn decrypt<R, W>(&self, mut reader: R, mut writer: W) -> Result<u64, Error>
    where
        R: Read + Send,
        W: Write + Send,
    {
        let window = 2 * rayon::current_num_threads().max(1);
        let count = self.header.chunk_count();
        let mut opening = Batch::new(window);
        let mut filling = Batch::new(window);
        let mut draining = Batch::new(window);
        let mut next: u64 = 0;

        self.fill_stream(&mut reader, &mut opening, &mut next)?;
        loop {
            let done = next >= count;
            let (opened, io_result) = rayon::join(
                || opening.open_all(self),
                || -> Result<(), Error> {
                    draining.drain_to(&mut writer)?;
                    if !done {
                        self.fill_stream(&mut reader, &mut filling, &mut next)?;
                    }
                    Ok(())
                },
            );
            opened?;
            io_result?;
            if done {
                if let Some(index) = opening.short {
                    return Err(Error::Chunk { index });
                }
                // Chunks authenticate before extra bytes are blamed: a header whose
                // length was lowered fails at its last chunk, not as trailing data.
                if opening.trailing {
                    return Err(Error::TrailingData {
                        expected: self.header.ciphertext_len(),
                    });
                }
                opening.drain_to(&mut writer)?;
                break;
            }
            std::mem::swap(&mut draining, &mut opening);
            std::mem::swap(&mut opening, &mut filling);
        }
        writer.flush()?;
        Ok(self.header.plaintext_len())
    }

    /// Reads the next window of chunks from a stream. After the last chunk, checks that
    /// nothing follows.
    fn fill_stream<R: Read>(
        &self,
        reader: &mut R,
        batch: &mut Batch,
        next: &mut u64,
    ) -> Result<(), Error> {
        batch.used = 0;
        batch.trailing = false;
        batch.short = None;
        let count = self.header.chunk_count();
        for slot in &mut batch.slots {
            if *next >= count {
                break;
            }
            let index = *next;
            let len = self
                .header
                .chunk_plaintext_len(index)
                .ok_or(Error::Chunk { index })?;
            slot.buf.resize(len + TAG_LEN, 0);
            if read_full(reader, &mut slot.buf)? != slot.buf.len() {
                // Missing or truncated: stop reading, but let the chunks before it be
                // opened first so the error names the first chunk that fails.
                batch.short = Some(index);
                *next = count;
                return Ok(());
            }
            slot.index = index;
            slot.skip = 0;
            slot.take = len;
            *next += 1;
            batch.used += 1;
        }
        if *next >= count {
            let mut probe = [0u8; 1];
            batch.trailing = read_full(reader, &mut probe)? != 0;
        }
        Ok(())
    }

    /// Decrypts plaintext bytes `[offset, offset + len)`, reading and authenticating only
    /// the chunks that cover them, and writes them to `writer`.
    ///
    /// # Errors
    ///
    /// [`Error::Range`] if the range is not inside the plaintext; [`Error::TrailingData`]
    /// if the source knows its length and it is not the header's; [`Error::Chunk`] for
    /// the first covering chunk that is missing, short or fails authentication;
    /// [`Error::Io`] from the source or writer.
    pub fn decrypt_range<S, W>(
        &self,
        source: &mut S,
        offset: u64,
        len: u64,
        mut writer: W,
    ) -> Result<(), Error>
    where
        S: ChunkSource + ?Sized,
        W: Write,
    {
        let plaintext_len = self.header.plaintext_len();
        let end = offset
            .checked_add(len)
            .filter(|end| *end <= plaintext_len)
            .ok_or(Error::Range {
                offset,
                len,
                plaintext_len,
            })?;
        if let Some(total) = source.total_len()? {
            let expected = self.header.ciphertext_len();
            if total > expected {
                return Err(Error::TrailingData { expected });
            }
        }
        if len == 0 {
            return Ok(());
        }
        let c = self.header.chunk_size().bytes() as u64;
        let p = self.header.chunk_size().plaintext_len() as u64;
        let first = offset / p;
        let last = (end - 1) / p;
        let window = 2 * rayon::current_num_threads().max(1);
        let mut batch = Batch::new(window);
        let mut index = first;
        while index <= last {
            batch.used = 0;
            for slot in &mut batch.slots {
                if index > last {
                    break;
                }
                let chunk_len = self
                    .header
                    .chunk_plaintext_len(index)
                    .ok_or(Error::Chunk { index })?;
                slot.buf.resize(chunk_len + TAG_LEN, 0);
                if source.read_chunk(index, index * c, &mut slot.buf)? != slot.buf.len() {
                    batch.short = Some(index);
                    break;
                }
                let chunk_start = index * p;
                let from = offset.max(chunk_start) - chunk_start;
                let to = end.min(chunk_start + chunk_len as u64) - chunk_start;
                slot.index = index;
                slot.skip = usize::try_from(from).map_err(|_| Error::Chunk { index })?;
                slot.take = usize::try_from(to).map_err(|_| Error::Chunk { index })?;
                index += 1;
                batch.used += 1;
            }
            batch.open_all(self)?;
            if let Some(index) = batch.short {
                return Err(Error::Chunk { index });
            }
            batch.drain_to(&mut writer)?;
        }
        writer.flush()?;
        Ok(())
    }
}

/// One chunk in flight: its buffer, and which plaintext bytes `[skip, take)` to release.
struct Slot {
    buf: Vec<u8>,
    index: u64,
    skip: usize,
    take: usize,
}

struct Batch {
    slots: Vec<Slot>,
    used: usize,
    /// Set when bytes were found after the object's last chunk.
    trailing: bool,
    /// The chunk that could not be read in full, which ends the batch.
    short: Option<u64>,
}

impl Batch {
    fn new(window: usize) -> Self {
        let slots = (0..window)
            .map(|_| Slot {
                buf: Vec::new(),
                index: 0,
                skip: 0,
                take: 0,
            })
            .collect();
        Self {
            slots,
            used: 0,
            trailing: false,
            short: None,
        }
    }

    fn active(&mut self) -> &mut [Slot] {
        let used = self.used;
        self.slots.get_mut(..used).unwrap_or_default()
    }

    /// Opens every chunk in parallel; on failure reports the lowest failing index.
    fn open_all(&mut self, dec: &Decryptor) -> Result<(), Error> {
        let count = dec.header.chunk_count();
        let failed = self
            .active()
            .par_iter_mut()
            .filter_map(|slot| {
                let last = slot.index + 1 == count;
                match dec.cipher.open(slot.index, last, &mut slot.buf) {
                    Some(_) => None,
                    None => Some(slot.index),
                }
            })
            .min();
        match failed {
            Some(index) => Err(Error::Chunk { index }),
            None => Ok(()),
        }
    }

    fn drain_to<W: Write>(&mut self, writer: &mut W) -> Result<(), Error> {
        for slot in self.active() {
            let plain = slot
                .buf
                .get(slot.skip..slot.take)
                .ok_or(Error::Chunk { index: slot.index })?;
            writer.write_all(plain)?;
        }
        self.used = 0;
        Ok(())
    }
}
