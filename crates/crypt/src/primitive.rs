//! The stateless chunk primitive: STREAM nonces over ChaCha20-Poly1305.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};

use crate::header::TAG_LEN;

/// The 12-byte nonce of chunk `index`: an 11-byte big-endian counter followed by one
/// byte, 1 for the last chunk and 0 otherwise.
pub(crate) fn nonce(index: u64, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    let (counter, flag) = n.split_at_mut(11);
    let (_, low) = counter.split_at_mut(3);
    low.copy_from_slice(&index.to_be_bytes());
    if let Some(f) = flag.first_mut() {
        *f = u8::from(last);
    }
    Nonce::from(n)
}

/// Encrypts and authenticates chunks at explicit positions. Stateless, so chunks can be
/// processed in any order and on any thread.
#[derive(Clone)]
pub(crate) struct ChunkCipher(ChaCha20Poly1305);

impl ChunkCipher {
    pub(crate) fn new(payload_key: &[u8; 32]) -> Self {
        Self(ChaCha20Poly1305::new(&Key::from(*payload_key)))
    }

    /// Encrypts `buf[..len]` in place and writes the tag to `buf[len..len + 16]`.
    /// Returns the ciphertext length, or `None` if `buf` is too short.
    pub(crate) fn seal(&self, index: u64, last: bool, buf: &mut [u8], len: usize) -> Option<usize> {
        let total = len.checked_add(TAG_LEN)?;
        let chunk = buf.get_mut(..total)?;
        let (msg, tag_out) = chunk.split_at_mut(len);
        let tag = self
            .0
            .encrypt_inout_detached(&nonce(index, last), &[], msg.into())
            .ok()?;
        tag_out.copy_from_slice(&tag);
        Some(total)
    }

    /// Authenticates and decrypts the ciphertext chunk `buf` in place. On success the
    /// plaintext is `buf[..buf.len() - 16]` and its length is returned.
    pub(crate) fn open(&self, index: u64, last: bool, buf: &mut [u8]) -> Option<usize> {
        let len = buf.len().checked_sub(TAG_LEN)?;
        let (msg, tag) = buf.split_at_mut(len);
        let tag = Tag::try_from(&*tag).ok()?;
        self.0
            .decrypt_inout_detached(&nonce(index, last), &[], msg.into(), &tag)
            .ok()?;
        Some(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_layout() {
        let n = nonce(0x0102_0304_0506_0708, true);
        assert_eq!(n.as_slice(), &[0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 1]);
        let n = nonce(0, false);
        assert_eq!(n.as_slice(), &[0u8; 12]);
    }
}
