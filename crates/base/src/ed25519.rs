use std::fmt;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use zeroize::Zeroizing;

use crate::Error;

/// An Ed25519 private key: signs manifests, attestations and audit checkpoints.
///
/// Stored as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), the form OpenSSL, Python's
/// `cryptography` and securesystemslib read.
///
/// ```
/// use dataseal_base::SigningKey;
/// let key = SigningKey::generate()?;
/// let pem = key.to_pkcs8_pem()?;
/// assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
/// let back = SigningKey::from_pkcs8_pem(&pem)?;
/// assert_eq!(back.verifying_key(), key.verifying_key());
/// # Ok::<(), dataseal_base::Error>(())
/// ```
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// A fresh key from the operating system's secure random generator.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] if the generator fails.
    pub fn generate() -> Result<Self, Error> {
        let mut seed = Zeroizing::new([0u8; 32]);
        crate::random_bytes(seed.as_mut())?;
        Ok(Self(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// The public half.
    #[must_use]
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(self.0.verifying_key())
    }

    /// Encodes as PKCS#8 v1 PEM (seed only, no embedded public key).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] if encoding fails (it does not for a valid key).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, Error> {
        let bytes = ed25519_dalek::pkcs8::KeypairBytes {
            secret_key: self.0.to_bytes(),
            public_key: None,
        };
        bytes
            .to_pkcs8_pem(LineEnding::LF)
            .map(|s| Zeroizing::new(s.to_string()))
            .map_err(|_| Error::InvalidKey("cannot encode the Ed25519 key as PKCS#8"))
    }

    /// Decodes PKCS#8 PEM (v1, or v2 with a matching public key).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] if the text is not an Ed25519 PKCS#8 private key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, Error> {
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map(Self)
            .map_err(|_| Error::InvalidKey("not an Ed25519 PKCS#8 PEM private key"))
    }

    /// The wrapped [`ed25519_dalek::SigningKey`].
    #[must_use]
    pub fn as_dalek(&self) -> &ed25519_dalek::SigningKey {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey(public: {})",
            hex::encode(self.0.verifying_key().as_bytes())
        )
    }
}

/// An Ed25519 public key, stored as PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerifyingKey(ed25519_dalek::VerifyingKey);

impl VerifyingKey {
    /// Encodes as PEM SubjectPublicKeyInfo.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] if encoding fails (it does not for a valid key).
    pub fn to_spki_pem(&self) -> Result<String, Error> {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .map_err(|_| Error::InvalidKey("cannot encode the Ed25519 key as SPKI"))
    }

    /// Decodes PEM SubjectPublicKeyInfo.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] if the text is not an Ed25519 SPKI public key.
    pub fn from_spki_pem(pem: &str) -> Result<Self, Error> {
        ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
            .map(Self)
            .map_err(|_| Error::InvalidKey("not an Ed25519 PEM public key"))
    }

    /// The 32 raw public key bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The wrapped [`ed25519_dalek::VerifyingKey`].
    #[must_use]
    pub fn as_dalek(&self) -> &ed25519_dalek::VerifyingKey {
        &self.0
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({})", hex::encode(self.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips() {
        let key = SigningKey::generate().unwrap();
        let public = key.verifying_key();
        let pem = public.to_spki_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(VerifyingKey::from_spki_pem(&pem).unwrap(), public);
        assert!(VerifyingKey::from_spki_pem("garbage").is_err());
        assert!(SigningKey::from_pkcs8_pem(&pem).is_err());
    }
}
