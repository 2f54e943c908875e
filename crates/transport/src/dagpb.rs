//! The dag-pb codec: encoding the nodes the importer makes, and a strict decoder.
//!
//! ```text
//! message PBLink { optional bytes Hash = 1; optional string Name = 2; optional uint64 Tsize = 3; }
//! message PBNode { repeated PBLink Links = 2; optional bytes Data = 1; }
//! ```
//!
//! Encoding writes every link before the data (the canonical order). Decoding follows the
//! dag-pb spec's strictness rules: link fields in field-number order, no duplicate or
//! unknown fields, a hash on every link that parses as a CID; the node's data may come
//! before or after the links (both orders exist in the wild) but not between them.

use bytes::Bytes;
use dataseal_base::Cid;

use crate::Error;
use crate::block::split_cid;
use crate::varint;

const WHAT: &str = "dag-pb node";

const WIRE_VARINT: u64 = 0;
const WIRE_LEN: u64 = 2;

/// A decoded dag-pb link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PbLink {
    pub(crate) cid: Cid,
    pub(crate) name: Option<String>,
    pub(crate) tsize: Option<u64>,
}

/// A decoded dag-pb node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PbNode {
    pub(crate) links: Vec<PbLink>,
    pub(crate) data: Option<Bytes>,
}

/// Appends a protobuf field key.
pub(crate) fn put_key(field: u64, wire: u64, out: &mut Vec<u8>) {
    varint::encode((field << 3) | wire, out);
}

/// Appends a length-delimited protobuf field.
pub(crate) fn put_bytes(field: u64, bytes: &[u8], out: &mut Vec<u8>) {
    put_key(field, WIRE_LEN, out);
    varint::encode(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// Appends a varint protobuf field.
pub(crate) fn put_uint(field: u64, value: u64, out: &mut Vec<u8>) {
    put_key(field, WIRE_VARINT, out);
    varint::encode(value, out);
}

/// Encodes a node whose links all have an empty name (as every UnixFS file node's do) and
/// the given cumulative sizes, followed by `data`.
pub(crate) fn encode(links: &[(Cid, u64)], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(links.len() * 48 + data.len() + 8);
    let mut link = Vec::with_capacity(48);
    for (cid, tsize) in links {
        link.clear();
        put_bytes(1, &cid.to_bytes(), &mut link);
        put_bytes(2, b"", &mut link);
        put_uint(3, *tsize, &mut link);
        put_bytes(2, &link, &mut out);
    }
    put_bytes(1, data, &mut out);
    out
}

/// One protobuf field: its number and its value.
pub(crate) enum Field<'a> {
    Varint(u64, u64),
    Len(u64, &'a [u8]),
    Fixed64,
    Fixed32,
}

/// Reads one protobuf field off the front of `input`.
pub(crate) fn next_field<'a>(
    input: &'a [u8],
    what: &'static str,
) -> Result<(Field<'a>, &'a [u8]), Error> {
    let bad = |detail: &str| Error::malformed(what, detail.to_owned());
    let (key, rest) = varint::decode(input).map_err(|e| bad(e.describe()))?;
    let field = key >> 3;
    if field == 0 {
        return Err(bad("field number 0"));
    }
    match key & 7 {
        0 => {
            let (value, rest) = varint::decode(rest).map_err(|e| bad(e.describe()))?;
            Ok((Field::Varint(field, value), rest))
        }
        1 => {
            let (_, rest) = rest
                .split_at_checked(8)
                .ok_or_else(|| bad("truncated fixed64"))?;
            Ok((Field::Fixed64, rest))
        }
        2 => {
            let (len, rest) = varint::decode(rest).map_err(|e| bad(e.describe()))?;
            let len = usize::try_from(len).map_err(|_| bad("length overflows"))?;
            let (value, rest) = rest
                .split_at_checked(len)
                .ok_or_else(|| bad("length-delimited field runs past the end"))?;
            Ok((Field::Len(field, value), rest))
        }
        5 => {
            let (_, rest) = rest
                .split_at_checked(4)
                .ok_or_else(|| bad("truncated fixed32"))?;
            Ok((Field::Fixed32, rest))
        }
        wire => Err(bad(&format!("unsupported wire type {wire}"))),
    }
}

impl PbNode {
    /// Decodes a dag-pb block strictly.
    pub(crate) fn decode(block: &Bytes) -> Result<Self, Error> {
        let mut links = Vec::new();
        let data = parse(block, |link| links.push(link))?;
        Ok(Self { links, data })
    }
}

/// Checks a dag-pb block strictly, handing each link to `on_link` in order; returns the
/// node's data.
fn parse(block: &Bytes, mut on_link: impl FnMut(PbLink)) -> Result<Option<Bytes>, Error> {
    let bad = |detail: &str| Error::malformed(WHAT, detail.to_owned());
    let mut links = 0usize;
    let mut data: Option<Bytes> = None;
    let mut links_before_data = false;
    let mut rest: &[u8] = block;
    while !rest.is_empty() {
        let (field, tail) = next_field(rest, WHAT)?;
        rest = tail;
        match field {
            Field::Len(2, bytes) => {
                if data.is_some() && links_before_data {
                    return Err(bad("links on both sides of the data field"));
                }
                on_link(decode_link(bytes)?);
                links += 1;
            }
            Field::Len(1, bytes) => {
                if data.is_some() {
                    return Err(bad("duplicate data field"));
                }
                links_before_data = links > 0;
                data = Some(block.slice_ref(bytes));
            }
            _ => return Err(bad("unknown field or wire type in PBNode")),
        }
    }
    Ok(data)
}

/// The links of a dag-pb node, read one at a time off its bytes: however many links the
/// node holds, none is expanded before it is needed.
#[derive(Debug, Clone)]
pub(crate) struct LinkCursor {
    node: Bytes,
    pos: usize,
    count: usize,
}

impl LinkCursor {
    /// Checks `node` strictly (as [`PbNode::decode`] does, without keeping its links) and
    /// returns a cursor before its first link, with the node's data.
    pub(crate) fn new(node: Bytes) -> Result<(Self, Option<Bytes>), Error> {
        let mut count = 0usize;
        let data = parse(&node, |_| count += 1)?;
        Ok((
            Self {
                node,
                pos: 0,
                count,
            },
            data,
        ))
    }

    /// The number of links the node holds.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// The next link's CID, or `None` after the last.
    pub(crate) fn next_link(&mut self) -> Result<Option<Cid>, Error> {
        self.advance(|link| Ok(decode_link(link)?.cid))
    }

    /// Passes over the next link without decoding it (the node was checked whole when
    /// the cursor was made); `false` after the last.
    pub(crate) fn skip_link(&mut self) -> Result<bool, Error> {
        Ok(self.advance(|_| Ok(()))?.is_some())
    }

    /// Moves past the next link, handing its bytes to `on_link`; `None` after the last.
    fn advance<T>(
        &mut self,
        on_link: impl FnOnce(&[u8]) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        loop {
            let Some(rest) = self.node.get(self.pos..).filter(|r| !r.is_empty()) else {
                return Ok(None);
            };
            let (field, tail) = next_field(rest, WHAT)?;
            self.pos = self.node.len() - tail.len();
            match field {
                Field::Len(2, bytes) => return on_link(bytes).map(Some),
                Field::Len(1, _) => {}
                _ => {
                    return Err(Error::malformed(
                        WHAT,
                        "unknown field or wire type in PBNode",
                    ));
                }
            }
        }
    }
}

fn decode_link(mut rest: &[u8]) -> Result<PbLink, Error> {
    let bad = |detail: &str| Error::malformed(WHAT, detail.to_owned());
    let mut cid = None;
    let mut name = None;
    let mut tsize = None;
    let mut last_field = 0;
    while !rest.is_empty() {
        let (field, tail) = next_field(rest, WHAT)?;
        rest = tail;
        let number = match field {
            Field::Len(1, bytes) => {
                let (parsed, trailing) = split_cid(bytes)?;
                if !trailing.is_empty() {
                    return Err(bad("trailing bytes after a link's CID"));
                }
                cid = Some(parsed);
                1
            }
            Field::Len(2, bytes) => {
                let text = std::str::from_utf8(bytes).map_err(|_| bad("link name is not UTF-8"))?;
                name = Some(text.to_owned());
                2
            }
            Field::Varint(3, value) => {
                tsize = Some(value);
                3
            }
            _ => return Err(bad("unknown field or wire type in PBLink")),
        };
        if number <= last_field {
            return Err(bad("PBLink fields out of order or repeated"));
        }
        last_field = number;
    }
    let cid = cid.ok_or_else(|| bad("link without a hash"))?;
    Ok(PbLink { cid, name, tsize })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let a = Cid::raw_sha256(b"a");
        let b = Cid::raw_sha256(b"b");
        let bytes = Bytes::from(encode(&[(a, 1), (b, 2)], b"\x08\x02"));
        let node = PbNode::decode(&bytes).unwrap();
        assert_eq!(node.links.len(), 2);
        assert_eq!(node.links[0].cid, a);
        assert_eq!(node.links[0].name.as_deref(), Some(""));
        assert_eq!(node.links[1].tsize, Some(2));
        assert_eq!(node.data.as_deref(), Some(&b"\x08\x02"[..]));
    }

    #[test]
    fn empty_block_is_an_empty_node() {
        let node = PbNode::decode(&Bytes::new()).unwrap();
        assert!(node.links.is_empty());
        assert!(node.data.is_none());
    }

    #[test]
    fn data_first_is_accepted_but_interleaving_is_not() {
        let a = Cid::raw_sha256(b"a");
        let mut link = Vec::new();
        put_bytes(1, &a.to_bytes(), &mut link);
        let mut data_first = Vec::new();
        put_bytes(1, b"xy", &mut data_first);
        put_bytes(2, &link, &mut data_first);
        put_bytes(2, &link, &mut data_first);
        let node = PbNode::decode(&Bytes::from(data_first)).unwrap();
        assert_eq!(node.links.len(), 2);

        let mut interleaved = Vec::new();
        put_bytes(2, &link, &mut interleaved);
        put_bytes(1, b"xy", &mut interleaved);
        put_bytes(2, &link, &mut interleaved);
        assert!(PbNode::decode(&Bytes::from(interleaved)).is_err());
    }

    #[test]
    fn strictness() {
        let a = Cid::raw_sha256(b"a");
        // Link fields out of order.
        let mut link = Vec::new();
        put_uint(3, 5, &mut link);
        put_bytes(1, &a.to_bytes(), &mut link);
        let mut node = Vec::new();
        put_bytes(2, &link, &mut node);
        assert!(PbNode::decode(&Bytes::from(node)).is_err());
        // A link without a hash.
        let mut node = Vec::new();
        put_bytes(2, &[0x18, 0x01], &mut node);
        assert!(PbNode::decode(&Bytes::from(node)).is_err());
        // Duplicate data.
        let mut node = Vec::new();
        put_bytes(1, b"a", &mut node);
        put_bytes(1, b"b", &mut node);
        assert!(PbNode::decode(&Bytes::from(node)).is_err());
        // Unknown field.
        let mut node = Vec::new();
        put_uint(7, 1, &mut node);
        assert!(PbNode::decode(&Bytes::from(node)).is_err());
        // A hash that is not a CID.
        let mut link = Vec::new();
        put_bytes(1, b"nope", &mut link);
        let mut node = Vec::new();
        put_bytes(2, &link, &mut node);
        assert!(PbNode::decode(&Bytes::from(node)).is_err());
        // Truncated.
        assert!(PbNode::decode(&Bytes::from_static(&[0x0a, 0x05, 0x01])).is_err());
    }
}
