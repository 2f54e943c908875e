//! The key schedule: transcript hash, HKDF, payload key and key commitment.

use dataseal_base::{DataKey, ObjectId};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::header::{ChunkSize, Commitment, FORMAT_VERSION, SUITE, Salt};

const TRANSCRIPT_LABEL: &[u8] = b"dataseal-crypt v1 transcript";
const PAYLOAD_LABEL: &[u8] = b"dataseal-crypt v1 payload key";
const COMMITMENT_LABEL: &[u8] = b"dataseal-crypt v1 key commitment";

/// Feeds `field` into `hasher` as an 8-byte big-endian length followed by its bytes.
pub(crate) fn absorb(hasher: &mut Sha256, field: &[u8]) {
    hasher.update((field.len() as u64).to_be_bytes());
    hasher.update(field);
}

/// SHA-256 over the length-prefixed header fields that are fixed before encryption.
pub(crate) fn transcript(chunk_size: ChunkSize, object_id: &ObjectId, salt: &Salt) -> [u8; 32] {
    let mut h = Sha256::new();
    absorb(&mut h, TRANSCRIPT_LABEL);
    absorb(&mut h, &u64::from(FORMAT_VERSION).to_be_bytes());
    absorb(&mut h, &u64::from(SUITE).to_be_bytes());
    absorb(&mut h, &u64::from(chunk_size.get()).to_be_bytes());
    absorb(&mut h, object_id.as_bytes());
    absorb(&mut h, salt.as_bytes());
    h.finalize().into()
}

/// The payload key and the key commitment for one object.
pub(crate) struct Keys {
    pub(crate) payload: Zeroizing<[u8; 32]>,
    pub(crate) commitment: Commitment,
}

pub(crate) fn derive(
    dek: &DataKey,
    chunk_size: ChunkSize,
    object_id: &ObjectId,
    salt: &Salt,
) -> Keys {
    let t = transcript(chunk_size, object_id, salt);
    let hk = Hkdf::<Sha256>::new(Some(salt.as_bytes()), dek.expose_secret());
    let mut payload = Zeroizing::new([0u8; 32]);
    let mut commitment = [0u8; 32];
    // 32 bytes is far below HKDF-SHA-256's 8160-byte output limit, so expand cannot fail.
    let ok1 = hk
        .expand_multi_info(&[PAYLOAD_LABEL, &t], payload.as_mut())
        .is_ok();
    let ok2 = hk
        .expand_multi_info(&[COMMITMENT_LABEL, &t], &mut commitment)
        .is_ok();
    debug_assert!(ok1 && ok2);
    Keys {
        payload,
        commitment: Commitment::from_bytes(commitment),
    }
}
