use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::Error;

macro_rules! secret_key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; 32]);

        impl $name {
            /// The key length in bytes.
            pub const LEN: usize = 32;

            /// A fresh key from the operating system's secure random generator.
            ///
            /// # Errors
            ///
            /// [`Error::Random`] if the generator fails.
            pub fn generate() -> Result<Self, Error> {
                let mut key = [0u8; 32];
                crate::random_bytes(&mut key)?;
                Ok(Self(key))
            }

            /// Wraps raw key bytes.
            #[must_use]
            pub fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// The raw key bytes. Handle with care: they are the secret.
            #[must_use]
            pub fn expose_secret(&self) -> &[u8; 32] {
                &self.0
            }

            /// Parses the key-file form: exactly 64 hexadecimal characters, optionally
            /// followed by one line ending (`\n` or `\r\n`).
            ///
            /// # Errors
            ///
            /// [`Error::InvalidKey`] for any other length or a non-hexadecimal character.
            pub fn from_hex(text: &str) -> Result<Self, Error> {
                let text = text
                    .strip_suffix("\r\n")
                    .or_else(|| text.strip_suffix('\n'))
                    .unwrap_or(text);
                if text.len() != 64 {
                    return Err(Error::InvalidKey("expected exactly 64 hexadecimal characters"));
                }
                let mut key = [0u8; 32];
                hex::decode_to_slice(text, &mut key)
                    .map_err(|_| Error::InvalidKey("not hexadecimal"))?;
                Ok(Self(key))
            }

            /// The key-file form: 64 lowercase hexadecimal characters and a newline.
            #[must_use]
            pub fn to_hex_line(&self) -> Zeroizing<String> {
                let mut s = Zeroizing::new(hex::encode(self.0));
                s.push('\n');
                s
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.ct_eq(&other.0).into()
            }
        }

        impl Eq for $name {}
    };
}

secret_key! {
    /// A 256-bit data encryption key (DEK): one per object, fresh and random.
    ///
    /// Zeroised on drop, compared in constant time, never printed.
    ///
    /// ```
    /// use dataseal_base::DataKey;
    /// let key = DataKey::generate()?;
    /// let line = key.to_hex_line();
    /// assert_eq!(line.len(), 65);
    /// assert_eq!(DataKey::from_hex(&line)?, key);
    /// assert_eq!(format!("{key:?}"), "DataKey(<redacted>)");
    /// # Ok::<(), dataseal_base::Error>(())
    /// ```
    DataKey
}

secret_key! {
    /// A 256-bit key-encryption key (KEK): one per dataset version and access tier; it
    /// wraps the data keys of that version's objects.
    ///
    /// Destroying every copy of a KEK makes the version unreadable (crypto-shredding).
    KeyEncryptionKey
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_forms() {
        let hex64 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        assert!(DataKey::from_hex(hex64).is_ok());
        assert!(DataKey::from_hex(&format!("{hex64}\n")).is_ok());
        assert!(DataKey::from_hex(&format!("{hex64}\r\n")).is_ok());
        assert!(DataKey::from_hex(&hex64.to_uppercase()).is_ok());
        assert!(DataKey::from_hex(&format!("{hex64}\n\n")).is_err());
        assert!(DataKey::from_hex(&hex64[..62]).is_err());
        assert!(DataKey::from_hex(&format!("{}zz", &hex64[..62])).is_err());
        assert!(DataKey::from_hex("").is_err());
        assert!(DataKey::from_hex(&format!(" {}", &hex64[1..])).is_err());
    }

    #[test]
    fn fresh_keys_differ() {
        assert_ne!(DataKey::generate().unwrap(), DataKey::generate().unwrap());
    }
}
