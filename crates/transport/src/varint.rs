//! Unsigned LEB128 varints, as used by protobuf and by the multiformats (CIDs, CAR frames).

/// Appends `value` as a varint.
pub(crate) fn encode(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Why a varint did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarintError {
    /// The input ended inside the varint.
    Truncated,
    /// More bytes than the value type allows, or a value that does not fit.
    Overflow,
    /// A multiformats varint with redundant trailing zero groups.
    NotMinimal,
}

impl VarintError {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Truncated => "truncated varint",
            Self::Overflow => "varint overflows 64 bits",
            Self::NotMinimal => "varint is not minimally encoded",
        }
    }
}

/// Decodes a protobuf varint (up to 10 bytes, any encoding) from the front of `input`,
/// returning the value and the rest.
pub(crate) fn decode(input: &[u8]) -> Result<(u64, &[u8]), VarintError> {
    decode_with(input, 10, false)
}

/// Decodes a multiformats unsigned varint: at most 9 bytes (63 bits), minimally encoded.
pub(crate) fn decode_multiformat(input: &[u8]) -> Result<(u64, &[u8]), VarintError> {
    decode_with(input, 9, true)
}

fn decode_with(input: &[u8], max_len: usize, minimal: bool) -> Result<(u64, &[u8]), VarintError> {
    let mut value: u64 = 0;
    for (i, &byte) in input.iter().enumerate() {
        if i >= max_len {
            return Err(VarintError::Overflow);
        }
        let group = u64::from(byte & 0x7f);
        let shift = 7 * i as u32;
        if shift == 63 && group > 1 {
            return Err(VarintError::Overflow);
        }
        value |= group << shift;
        if byte & 0x80 == 0 {
            if minimal && i > 0 && byte == 0 {
                return Err(VarintError::NotMinimal);
            }
            let rest = input.get(i + 1..).unwrap_or_default();
            return Ok((value, rest));
        }
    }
    Err(VarintError::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_lengths() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX.into(),
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            encode(v, &mut buf);
            assert_eq!(decode(&buf).unwrap(), (v, &[][..]));
        }
        let mut buf = Vec::new();
        encode(128, &mut buf);
        assert_eq!(buf, [0x80, 0x01]);
    }

    #[test]
    fn rejects_bad_varints() {
        assert_eq!(decode(&[0x80]), Err(VarintError::Truncated));
        assert_eq!(decode(&[]), Err(VarintError::Truncated));
        assert_eq!(decode(&[0xff; 11]), Err(VarintError::Overflow));
        let mut max = vec![0xff; 9];
        max.push(0x02);
        assert_eq!(decode(&max), Err(VarintError::Overflow));
        assert_eq!(
            decode_multiformat(&[0x81, 0x00]),
            Err(VarintError::NotMinimal)
        );
        assert_eq!(decode(&[0x81, 0x00]).unwrap().0, 1);
        assert_eq!(decode_multiformat(&[0xff; 10]), Err(VarintError::Overflow));
    }
}
