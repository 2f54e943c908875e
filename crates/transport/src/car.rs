//! CAR v1: a varint-framed dag-cbor header `{roots, version: 1}`, then one frame per
//! block, `varint(len) ‖ CID ‖ bytes`.

use std::collections::{HashMap, HashSet};

use dataseal_base::{Cid, codec};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::block::{split_cid, store_key};
use crate::dagpb::LinkCursor;
use crate::{Block, Error, MAX_BLOCK_LEN, varint};

const WHAT: &str = "CAR file";

/// The largest header read: room for thousands of roots.
const MAX_HEADER_LEN: u64 = 1 << 20;
/// Room for the CID in front of a block's bytes.
const MAX_CID_LEN: usize = 128;

/// What a CAR import or export moved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CarSummary {
    /// The roots in the CAR header.
    pub roots: Vec<Cid>,
    /// The number of blocks.
    pub blocks: u64,
    /// The total length of the blocks' bytes.
    pub bytes: u64,
}

/// Encodes the header body: the dag-cbor map `{"roots": [CID…], "version": 1}` (keys in
/// dag-cbor's canonical order, CIDs as tag 42 over a byte string with a leading zero).
fn encode_header(roots: &[Cid]) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + roots.len() * 40);
    cbor_head(5, 2, &mut out);
    cbor_head(3, 5, &mut out);
    out.extend_from_slice(b"roots");
    cbor_head(4, roots.len() as u64, &mut out);
    for root in roots {
        let bytes = root.to_bytes();
        cbor_head(6, 42, &mut out);
        cbor_head(2, bytes.len() as u64 + 1, &mut out);
        out.push(0);
        out.extend_from_slice(&bytes);
    }
    cbor_head(3, 7, &mut out);
    out.extend_from_slice(b"version");
    cbor_head(0, 1, &mut out);
    out
}

/// Appends a CBOR head (major type and argument) in its shortest form.
fn cbor_head(major: u8, value: u64, out: &mut Vec<u8>) {
    let major = major << 5;
    if value < 24 {
        out.push(major | value as u8);
    } else if let Ok(v) = u8::try_from(value) {
        out.extend_from_slice(&[major | 24, v]);
    } else if let Ok(v) = u16::try_from(value) {
        out.push(major | 25);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = u32::try_from(value) {
        out.push(major | 26);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(major | 27);
        out.extend_from_slice(&value.to_be_bytes());
    }
}

/// Reads a CBOR head off the front of `input`: (major type, argument, rest).
fn read_cbor_head(input: &[u8]) -> Result<(u8, u64, &[u8]), Error> {
    let bad = |detail: &str| Error::malformed(WHAT, format!("header: {detail}"));
    let (&first, rest) = input.split_first().ok_or_else(|| bad("truncated"))?;
    let major = first >> 5;
    let info = first & 0x1f;
    let width = match info {
        0..=23 => return Ok((major, u64::from(info), rest)),
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        _ => {
            return Err(bad(
                "indefinite lengths and reserved values are not dag-cbor",
            ));
        }
    };
    let (arg, rest) = rest
        .split_at_checked(width)
        .ok_or_else(|| bad("truncated"))?;
    let value = arg.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let minimal = match width {
        1 => value >= 24,
        2 => value > 0xff,
        4 => value > 0xffff,
        _ => value > 0xffff_ffff,
    };
    if !minimal {
        return Err(bad("integer not in its shortest form"));
    }
    Ok((major, value, rest))
}

fn read_cbor_text(input: &[u8]) -> Result<(&[u8], &[u8]), Error> {
    let bad = |detail: &str| Error::malformed(WHAT, format!("header: {detail}"));
    let (major, len, rest) = read_cbor_head(input)?;
    if major != 3 {
        return Err(bad("map key is not a string"));
    }
    let len = usize::try_from(len).map_err(|_| bad("length overflows"))?;
    rest.split_at_checked(len).ok_or_else(|| bad("truncated"))
}

/// Decodes the header body into its roots.
fn decode_header(body: &[u8]) -> Result<Vec<Cid>, Error> {
    let bad = |detail: &str| Error::malformed(WHAT, format!("header: {detail}"));
    let (major, entries, mut rest) = read_cbor_head(body)?;
    if major != 5 {
        return Err(bad("not a map"));
    }
    let mut roots = None;
    let mut version = None;
    for _ in 0..entries {
        let (key, tail) = read_cbor_text(rest)?;
        rest = tail;
        match key {
            b"version" if version.is_none() => {
                let (major, value, tail) = read_cbor_head(rest)?;
                rest = tail;
                if major != 0 {
                    return Err(bad("version is not an integer"));
                }
                version = Some(value);
            }
            b"roots" if roots.is_none() => {
                let (major, count, tail) = read_cbor_head(rest)?;
                rest = tail;
                if major != 4 {
                    return Err(bad("roots is not an array"));
                }
                let mut list = Vec::new();
                for _ in 0..count {
                    let (major, tag, tail) = read_cbor_head(rest)?;
                    if major != 6 || tag != 42 {
                        return Err(bad("a root is not a CID (tag 42)"));
                    }
                    let (major, len, tail) = read_cbor_head(tail)?;
                    if major != 2 {
                        return Err(bad("a root is not a byte string"));
                    }
                    let len = usize::try_from(len).map_err(|_| bad("length overflows"))?;
                    let (bytes, tail) = tail
                        .split_at_checked(len)
                        .ok_or_else(|| bad("truncated root"))?;
                    let (&prefix, cid_bytes) =
                        bytes.split_first().ok_or_else(|| bad("empty root"))?;
                    if prefix != 0 {
                        return Err(bad("a root CID lacks the leading zero byte"));
                    }
                    let cid = Cid::from_bytes(cid_bytes).map_err(|e| bad(&e.to_string()))?;
                    list.push(cid);
                    rest = tail;
                }
                roots = Some(list);
            }
            _ => {
                return Err(bad(&format!(
                    "unexpected or repeated key {:?}",
                    String::from_utf8_lossy(key)
                )));
            }
        }
    }
    if !rest.is_empty() {
        return Err(bad("trailing bytes after the header map"));
    }
    match version {
        Some(1) => {}
        Some(2) => return Err(bad("CAR v2 is not supported; convert it to CAR v1")),
        Some(other) => return Err(bad(&format!("unknown CAR version {other}"))),
        None => return Err(bad("missing version")),
    }
    roots.ok_or_else(|| bad("missing roots"))
}

/// Writes a CAR v1 stream: the header at creation, then one frame per block.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use dataseal_transport::{Block, CarReader, CarWriter};
///
/// let block = Block::raw(&b"chunk"[..]);
/// let mut writer = CarWriter::new(Vec::new(), &[*block.cid()]).await?;
/// writer.write(&block).await?;
/// let car = writer.finish().await?;
///
/// let mut reader = CarReader::new(&car[..]).await?.require_complete();
/// assert_eq!(reader.roots(), &[*block.cid()]);
/// assert_eq!(reader.next_block().await?, Some(block));
/// assert_eq!(reader.next_block().await?, None);
/// # Ok::<(), dataseal_transport::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct CarWriter<W> {
    writer: W,
    blocks: u64,
    bytes: u64,
}

impl<W: AsyncWrite + Unpin + Send> CarWriter<W> {
    /// Writes the header naming `roots`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if writing fails.
    pub async fn new(mut writer: W, roots: &[Cid]) -> Result<Self, Error> {
        let header = encode_header(roots);
        let mut frame = Vec::with_capacity(header.len() + 10);
        varint::encode(header.len() as u64, &mut frame);
        frame.extend_from_slice(&header);
        writer
            .write_all(&frame)
            .await
            .map_err(|e| Error::io("writing the CAR header", e))?;
        Ok(Self {
            writer,
            blocks: 0,
            bytes: 0,
        })
    }

    /// Appends one block.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if writing fails.
    pub async fn write(&mut self, block: &Block) -> Result<(), Error> {
        let cid = block.cid().to_bytes();
        let mut head = Vec::with_capacity(cid.len() + 10);
        varint::encode((cid.len() + block.len()) as u64, &mut head);
        head.extend_from_slice(&cid);
        let context = || format!("writing block {} to a CAR file", block.cid());
        self.writer
            .write_all(&head)
            .await
            .map_err(|e| Error::io(context(), e))?;
        self.writer
            .write_all(block.data())
            .await
            .map_err(|e| Error::io(context(), e))?;
        self.blocks += 1;
        self.bytes += block.len() as u64;
        Ok(())
    }

    /// The number of blocks written so far.
    #[must_use]
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// The total length of the blocks written so far.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes and returns the writer.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if flushing fails.
    pub async fn finish(mut self) -> Result<W, Error> {
        self.writer
            .flush()
            .await
            .map_err(|e| Error::io("flushing the CAR file", e))?;
        Ok(self.writer)
    }
}

/// Reads a CAR v1 stream, one verified block at a time.
///
/// Every block is checked against its CID (SHA2-256) before it is returned; a block that
/// does not match is an [`Error::Integrity`] naming it. Memory is bounded by the largest
/// block (see [`CarReader::with_max_block_len`]), whatever the CAR's size. With
/// [`CarReader::require_complete`], the reader also records which blocks it saw and which
/// blocks are named but not seen yet (a few dozen bytes per distinct CID, however often
/// it is linked), and at the end fails with [`Error::Incomplete`] if a root, or a block
/// linked by a block of the file, was not in it.
#[derive(Debug)]
pub struct CarReader<R> {
    reader: BufReader<R>,
    roots: Vec<Cid>,
    max_block_len: usize,
    tracker: Option<Tracker>,
    rooted: Option<Rooted>,
    done: bool,
}

/// What a rooted read remembers: the blocks read, and the blocks linked but not read yet
/// (under their key, with the order in which they were first linked).
#[derive(Debug, Default)]
struct Rooted {
    read: HashSet<Cid>,
    wanted: HashMap<Cid, (u64, Cid)>,
    linked: u64,
}

/// What completeness checking remembers, one entry per distinct CID (under its key) and
/// never a list of any block's links: the blocks seen, those of them whose links cannot
/// be read, and the blocks named (as a root or by a link) but not seen yet, with the
/// order in which they were first named.
#[derive(Debug, Default)]
struct Tracker {
    seen: HashSet<Cid>,
    opaque: HashSet<Cid>,
    wanted: HashMap<Cid, (u64, Cid)>,
    /// The distinct CIDs named so far.
    named: u64,
}

impl<R: AsyncRead + Unpin + Send> CarReader<R> {
    /// Reads and checks the header.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] if the header is not a CAR v1 header; [`Error::Io`] if reading
    /// fails.
    pub async fn new(reader: R) -> Result<Self, Error> {
        let mut reader = BufReader::new(reader);
        let len = match read_varint(&mut reader).await? {
            Some(len) => len,
            None => return Err(Error::malformed(WHAT, "empty input")),
        };
        if len == 0 || len > MAX_HEADER_LEN {
            return Err(Error::malformed(
                WHAT,
                format!("header length {len} is outside 1..={MAX_HEADER_LEN}"),
            ));
        }
        let body = read_exact(&mut reader, len as usize).await?;
        let roots = decode_header(&body)?;
        Ok(Self {
            reader,
            roots,
            max_block_len: MAX_BLOCK_LEN,
            tracker: None,
            rooted: None,
            done: false,
        })
    }

    /// Sets the largest block accepted (default [`MAX_BLOCK_LEN`]); a larger frame is an
    /// [`Error::BlockTooLarge`].
    #[must_use]
    pub fn with_max_block_len(mut self, max_block_len: usize) -> Self {
        self.max_block_len = max_block_len;
        self
    }

    /// Checks, at the end of the file, that it is closed under links: every root, and
    /// every block linked by a block of the file, was in it. So every block reachable
    /// from the roots was (and so was everything a block no root reaches links to), in
    /// whatever order the blocks come. Links are followed through dag-pb nodes; raw
    /// blocks have none; a block of another codec that is a root or is linked is an
    /// [`Error::Malformed`], since its links cannot be read.
    ///
    /// Memory grows with the distinct CIDs the file holds or names, never with its links:
    /// one set of the blocks seen and one of the blocks named but not seen yet, each CID
    /// once (a few dozen bytes), so a node linking one child thousands of times adds one
    /// entry. (Checking reachability from the roots alone would need every block's links
    /// kept until the end, since a block may come before the blocks linking it.)
    #[must_use]
    pub fn require_complete(mut self) -> Self {
        let mut tracker = Tracker::default();
        for root in &self.roots {
            tracker.name(root);
        }
        self.tracker = Some(tracker);
        self
    }

    /// Reads the CAR as a depth-first export writes it, and checks it is complete: every
    /// block is a root or is linked by a block before it, none appears twice, and at the
    /// end every block reachable from the roots was in the file. This is the order
    /// Kubo's, BTFS's and js-ipfs's `dag/export` write (each node before its children,
    /// each block once), and it bounds what a node streaming the CAR can make a reader
    /// hold and write: the blocks of the DAG under the roots, each once, and one entry
    /// per distinct block. A block outside that is an [`Error::Malformed`] as soon as it
    /// arrives. Links are followed through dag-pb nodes; raw blocks have none; a block of
    /// another codec is an [`Error::Malformed`], since its links cannot be read.
    #[must_use]
    pub fn require_rooted(mut self) -> Self {
        let mut rooted = Rooted::default();
        for root in &self.roots {
            rooted.want(root);
        }
        self.rooted = Some(rooted);
        self.tracker = None;
        self
    }

    /// The roots named in the header.
    #[must_use]
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// The next block, verified, or `None` at the end of the file.
    ///
    /// # Errors
    ///
    /// [`Error::Integrity`] for a block that does not hash to its CID,
    /// [`Error::Malformed`] for a frame that does not parse, [`Error::BlockTooLarge`],
    /// [`Error::Incomplete`] (at the end, with [`CarReader::require_complete`]),
    /// [`Error::Io`] if reading fails.
    pub async fn next_block(&mut self) -> Result<Option<Block>, Error> {
        if self.done {
            return Ok(None);
        }
        let Some(len) = read_varint(&mut self.reader).await? else {
            self.done = true;
            if let Some(tracker) = self.tracker.take() {
                tracker.check()?;
            }
            if let Some(rooted) = self.rooted.take() {
                rooted.check()?;
            }
            return Ok(None);
        };
        let limit = (self.max_block_len + MAX_CID_LEN) as u64;
        if len > limit {
            // The frame also holds the CID: report its length, the block's upper bound.
            return Err(Error::BlockTooLarge {
                len,
                limit: self.max_block_len as u64,
            });
        }
        if len == 0 {
            return Err(Error::malformed(WHAT, "empty block frame"));
        }
        let frame = read_exact(&mut self.reader, len as usize).await?;
        let (cid, data) = split_cid(&frame)?;
        if data.len() > self.max_block_len {
            return Err(Error::BlockTooLarge {
                len: data.len() as u64,
                limit: self.max_block_len as u64,
            });
        }
        let offset = frame.len() - data.len();
        let frame = bytes::Bytes::from(frame);
        let block = Block::new(cid, frame.slice(offset..))?;
        if let Some(tracker) = &mut self.tracker {
            tracker.add(&block)?;
        }
        if let Some(rooted) = &mut self.rooted {
            rooted.add(&block)?;
        }
        Ok(Some(block))
    }
}

impl Rooted {
    fn want(&mut self, cid: &Cid) {
        let key = store_key(cid);
        if !self.read.contains(&key) && !self.wanted.contains_key(&key) {
            self.wanted.insert(key, (self.linked, *cid));
            self.linked += 1;
        }
    }

    fn add(&mut self, block: &Block) -> Result<(), Error> {
        let cid = block.cid();
        let key = store_key(cid);
        if self.read.contains(&key) {
            return Err(Error::malformed(WHAT, format!("{cid} appears twice")));
        }
        if self.wanted.remove(&key).is_none() {
            return Err(Error::malformed(
                WHAT,
                format!("{cid} is neither a root nor linked by a block before it"),
            ));
        }
        self.read.insert(key);
        match cid.codec() {
            codec::RAW => {}
            codec::DAG_PB => {
                let (mut links, _) = LinkCursor::new(block.data().clone())?;
                while let Some(link) = links.next_link()? {
                    self.want(&link);
                }
            }
            _ => return Err(cannot_follow(cid)),
        }
        Ok(())
    }

    fn check(self) -> Result<(), Error> {
        match self.wanted.into_values().min_by_key(|(order, _)| *order) {
            Some((_, missing)) => Err(Error::Incomplete { missing }),
            None => Ok(()),
        }
    }
}

impl Tracker {
    /// Records that `cid` is named (a root, or linked by a block of the file).
    fn name(&mut self, cid: &Cid) {
        let key = store_key(cid);
        if !self.seen.contains(&key) && !self.wanted.contains_key(&key) {
            self.wanted.insert(key, (self.named, *cid));
            self.named += 1;
        }
    }

    fn add(&mut self, block: &Block) -> Result<(), Error> {
        let cid = block.cid();
        let key = store_key(cid);
        if !self.seen.insert(key) {
            // Seen before: its links were followed then.
            return Ok(());
        }
        let named = self.wanted.remove(&key).is_some();
        match cid.codec() {
            codec::RAW => {}
            codec::DAG_PB => {
                let (mut links, _) = LinkCursor::new(block.data().clone())?;
                while let Some(link) = links.next_link()? {
                    if self.opaque.contains(&store_key(&link)) {
                        return Err(cannot_follow(&link));
                    }
                    self.name(&link);
                }
            }
            _ if named => return Err(cannot_follow(cid)),
            _ => {
                self.opaque.insert(key);
            }
        }
        Ok(())
    }

    /// The first block named and not seen, if any.
    fn check(self) -> Result<(), Error> {
        match self.wanted.into_values().min_by_key(|(order, _)| *order) {
            Some((_, missing)) => Err(Error::Incomplete { missing }),
            None => Ok(()),
        }
    }
}

fn cannot_follow(cid: &Cid) -> Error {
    Error::malformed(
        WHAT,
        format!(
            "cannot follow the links of {cid} (codec 0x{:x})",
            cid.codec()
        ),
    )
}

/// Reads a multiformats varint; `None` on a clean end of input before its first byte.
async fn read_varint<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Option<u64>, Error> {
    let mut buf = [0u8; 10];
    let mut used = 0;
    loop {
        let mut byte = [0u8; 1];
        let n = reader
            .read(&mut byte)
            .await
            .map_err(|e| Error::io("reading a CAR file", e))?;
        if n == 0 {
            if used == 0 {
                return Ok(None);
            }
            return Err(Error::malformed(WHAT, "truncated frame length"));
        }
        let Some(slot) = buf.get_mut(used) else {
            return Err(Error::malformed(WHAT, "frame length varint too long"));
        };
        *slot = byte[0];
        used += 1;
        if byte[0] & 0x80 == 0 {
            let (value, _) = varint::decode_multiformat(buf.get(..used).unwrap_or_default())
                .map_err(|e| Error::malformed(WHAT, e.describe()))?;
            return Ok(Some(value));
        }
    }
}

async fn read_exact<R: AsyncRead + Unpin>(reader: &mut R, len: usize) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0u8; len];
    match reader.read_exact(&mut buf).await {
        Ok(_) => Ok(buf),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(Error::malformed(WHAT, "truncated frame"))
        }
        Err(e) => Err(Error::io("reading a CAR file", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes_are_canonical() {
        // The header of a CAR with one raw root, as @ipld/car writes it.
        let root = Cid::raw_sha256(b"");
        let header = encode_header(&[root]);
        assert_eq!(
            header[..8],
            [0xa2, 0x65, b'r', b'o', b'o', b't', b's', 0x81]
        );
        assert_eq!(header[8..12], [0xd8, 0x2a, 0x58, 0x25]);
        assert_eq!(header[12], 0);
        assert_eq!(decode_header(&header).unwrap(), vec![root]);
        assert_eq!(decode_header(&encode_header(&[])).unwrap(), vec![]);
    }

    /// Reads `blocks` as a CAR rooted at `root` with completeness checking: the blocks
    /// read, and the most CIDs the tracker held at once (seen, wanted) and named in all.
    async fn tracked(root: &Cid, blocks: &[&Block]) -> Result<(usize, usize, usize, u64), Error> {
        let mut writer = CarWriter::new(Vec::new(), &[*root]).await?;
        for block in blocks {
            writer.write(block).await?;
        }
        let car = writer.finish().await?;
        let mut reader = CarReader::new(&car[..]).await?.require_complete();
        let (mut read, mut seen, mut wanted, mut named) = (0, 0, 0, 0);
        loop {
            if let Some(tracker) = &reader.tracker {
                seen = seen.max(tracker.seen.len());
                wanted = wanted.max(tracker.wanted.len());
                named = tracker.named;
            }
            if reader.next_block().await?.is_none() {
                return Ok((read, seen, wanted, named));
            }
            read += 1;
        }
    }

    #[tokio::test]
    async fn completeness_tracks_distinct_cids_not_links() {
        // A root with 20,000 links to one node, whose 20,000 links all point at one empty
        // leaf: 40,000 links, three distinct blocks.
        let empty = Block::raw(&b""[..]);
        let child = crate::fuzzing::file_node(&vec![(*empty.cid(), 0); 20_000], None);
        let root = crate::fuzzing::file_node(&vec![(*child.cid(), 0); 20_000], None);
        let started = std::time::Instant::now();
        // Root first (as an export writes it) and children first: one entry per CID.
        assert_eq!(
            tracked(root.cid(), &[&root, &child, &empty]).await.unwrap(),
            (3, 3, 1, 3)
        );
        assert_eq!(
            tracked(root.cid(), &[&empty, &child, &root]).await.unwrap(),
            (3, 3, 1, 1)
        );
        // Repeated blocks add nothing.
        assert_eq!(
            tracked(root.cid(), &[&root, &child, &child, &root, &empty])
                .await
                .unwrap(),
            (5, 3, 1, 3)
        );
        // A missing block is still named, wherever the hole is.
        for (blocks, missing) in [
            (vec![&root, &child], &empty),
            (vec![&root, &empty], &child),
            (vec![&empty, &child], &root),
        ] {
            match tracked(root.cid(), &blocks).await {
                Err(Error::Incomplete { missing: m }) => assert_eq!(m, *missing.cid()),
                other => panic!("{other:?}"),
            }
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }

    #[tokio::test]
    async fn completeness_refuses_links_it_cannot_follow() {
        let leaf = Block::raw(&b"leaf"[..]);
        let cbor = Block::new(
            Cid::v1_from_sha256(0x71, Cid::raw_sha256(b"\xa0").sha256_digest()),
            &b"\xa0"[..],
        )
        .unwrap();
        let linking = crate::fuzzing::plain_node(&[*leaf.cid(), *cbor.cid()]);
        // Linked after it came, or before: its links cannot be checked.
        for blocks in [[&cbor, &linking, &leaf], [&linking, &leaf, &cbor]] {
            let read = tracked(linking.cid(), &blocks).await;
            assert!(matches!(read, Err(Error::Malformed { .. })), "{read:?}");
        }
        // A root of another codec is refused too; one nothing names is let be.
        assert!(matches!(
            tracked(cbor.cid(), &[&cbor]).await,
            Err(Error::Malformed { .. })
        ));
        assert_eq!(
            tracked(leaf.cid(), &[&cbor, &leaf]).await.unwrap(),
            (2, 2, 1, 1)
        );
    }

    #[test]
    fn header_rejects() {
        let root = Cid::raw_sha256(b"");
        let mut v2 = encode_header(&[root]);
        let last = v2.len() - 1;
        v2[last] = 2;
        assert!(decode_header(&v2).unwrap_err().to_string().contains("v2"));
        let mut trailing = encode_header(&[root]);
        trailing.push(0);
        assert!(decode_header(&trailing).is_err());
        assert!(decode_header(&[0xa0]).is_err()); // no version, no roots
        assert!(decode_header(&[0xbf]).is_err()); // indefinite map
        assert!(decode_header(&[]).is_err());
    }
}
