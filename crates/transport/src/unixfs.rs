//! UnixFS files: the balanced-DAG importer and the node decoder used for reading.

use std::mem;

use bytes::Bytes;
use dataseal_base::{Cid, codec};

use crate::dagpb::{self, Field, LinkCursor, next_field};
use crate::{Block, Error};

/// The most links one internal node holds, as in Kubo's and js-ipfs's balanced layout.
pub const MAX_LINKS: usize = 174;

/// The largest chunk the importer cuts: 1 MiB, the limit Kubo's chunker enforces.
pub const MAX_CHUNK_LEN: usize = 1 << 20;

const UNIXFS: &str = "UnixFS node";
const TYPE_RAW: u64 = 0;
const TYPE_FILE: u64 = 2;

/// How a file's blocks are encoded and addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Profile {
    /// CIDv1, raw leaves (codec 0x55), dag-pb internal nodes: what `ipfs add
    /// --cid-version=1 --raw-leaves` (BTFS: `v=1`) makes, and how dataseal addresses every
    /// encrypted object.
    #[default]
    V1RawLeaves,
    /// CIDv0, UnixFS `file` leaves (dag-pb nodes carrying the data): what a plain
    /// `ipfs add` or `btfs add` makes. For reading and checking what others published.
    V0,
}

/// The importer's settings: a [`Profile`] and a fixed chunk size.
///
/// ```
/// use dataseal_transport::{ImportParams, Profile};
///
/// let params = ImportParams::new(Profile::V1RawLeaves, 1 << 20)?;
/// assert_eq!(params, ImportParams::default());
/// assert!(ImportParams::new(Profile::V0, 0).is_err());
/// assert_eq!(ImportParams::kubo_default().chunk_size(), 256 * 1024);
/// # Ok::<(), dataseal_transport::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImportParams {
    profile: Profile,
    chunk_size: usize,
}

impl ImportParams {
    /// Checks the chunk size: any size from 1 byte to [`MAX_CHUNK_LEN`].
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] for a chunk size of 0 or over [`MAX_CHUNK_LEN`].
    pub fn new(profile: Profile, chunk_size: u64) -> Result<Self, Error> {
        match usize::try_from(chunk_size) {
            Ok(size @ 1..=MAX_CHUNK_LEN) => Ok(Self {
                profile,
                chunk_size: size,
            }),
            _ => Err(Error::malformed(
                "chunk size",
                format!("{chunk_size} is not between 1 and {MAX_CHUNK_LEN} bytes"),
            )),
        }
    }

    /// What a plain `ipfs add` / `btfs add` uses: CIDv0 and 256 KiB chunks.
    #[must_use]
    pub fn kubo_default() -> Self {
        Self {
            profile: Profile::V0,
            chunk_size: 256 * 1024,
        }
    }

    /// The profile.
    #[must_use]
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The chunk size in bytes.
    #[must_use]
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }
}

impl Default for ImportParams {
    /// dataseal's default: CIDv1, raw leaves, 1 MiB chunks.
    fn default() -> Self {
        Self {
            profile: Profile::V1RawLeaves,
            chunk_size: MAX_CHUNK_LEN,
        }
    }
}

/// A link as the builder tracks it: the child's CID, its cumulative DAG size (`Tsize`) and
/// the number of file bytes under it (the parent's `blocksizes` entry).
#[derive(Debug, Clone, Copy)]
struct Link {
    cid: Cid,
    tsize: u64,
    file_size: u64,
}

/// Builds a UnixFS file DAG from its chunks, in order, with the balanced layout.
///
/// The result is a pure function of the list of chunks (or, for raw leaves, of the list
/// of leaf CIDs and lengths): internal nodes hold at most [`MAX_LINKS`] links, are filled
/// left to right, and a file of exactly one chunk is that chunk's leaf. Memory stays
/// bounded: at most [`MAX_LINKS`] pending links per tree level.
///
/// ```
/// use dataseal_transport::{FileBuilder, Profile};
///
/// let mut builder = FileBuilder::new(Profile::V1RawLeaves);
/// let mut blocks = Vec::new();
/// for chunk in [&b"hello "[..], &b"world"[..]] {
///     blocks.extend(builder.push_chunk(chunk)?);
/// }
/// let (root, tail) = builder.finish();
/// blocks.extend(tail);
/// assert_eq!(blocks.len(), 3); // two raw leaves and one dag-pb node
/// assert!(root.to_string().starts_with("bafybei"));
/// # Ok::<(), dataseal_transport::Error>(())
/// ```
#[derive(Debug)]
pub struct FileBuilder {
    profile: Profile,
    levels: Vec<Vec<Link>>,
    leaves: u64,
}

impl FileBuilder {
    /// An empty builder.
    #[must_use]
    pub fn new(profile: Profile) -> Self {
        Self {
            profile,
            levels: vec![Vec::new()],
            leaves: 0,
        }
    }

    /// Adds the next chunk of the file. Returns the blocks now complete: the chunk's leaf
    /// and any internal node that has just been filled.
    ///
    /// # Errors
    ///
    /// [`Error::BlockTooLarge`] for a chunk over [`MAX_CHUNK_LEN`].
    pub fn push_chunk(&mut self, chunk: &[u8]) -> Result<Vec<Block>, Error> {
        check_chunk_len(chunk.len() as u64)?;
        let (link, block) = self.leaf(chunk);
        let mut out = vec![block];
        self.push_link(0, link, &mut out);
        Ok(out)
    }

    /// Adds the next chunk as a raw leaf already hashed elsewhere (for example by the
    /// encryptor, which hashes each ciphertext chunk as it writes it). Returns any
    /// internal node that has just been filled; the leaf itself is the caller's.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] if the profile does not use raw leaves or `cid` is not a
    /// CIDv1 raw block; [`Error::BlockTooLarge`] for a leaf over [`MAX_CHUNK_LEN`].
    pub fn push_raw_leaf(&mut self, cid: Cid, len: u64) -> Result<Vec<Block>, Error> {
        if self.profile != Profile::V1RawLeaves {
            return Err(Error::malformed(
                "leaf",
                "raw leaves only belong in the V1RawLeaves profile",
            ));
        }
        if cid.codec() != codec::RAW || cid.version() != 1 {
            return Err(Error::malformed(
                "leaf",
                format!("{cid} is not a CIDv1 raw block"),
            ));
        }
        check_chunk_len(len)?;
        let mut out = Vec::new();
        self.leaves += 1;
        self.push_link(
            0,
            Link {
                cid,
                tsize: len,
                file_size: len,
            },
            &mut out,
        );
        Ok(out)
    }

    /// Completes the DAG: returns the root CID and the blocks not yet returned. A file
    /// with no chunks is the empty file, one empty leaf.
    #[must_use]
    pub fn finish(mut self) -> (Cid, Vec<Block>) {
        let mut out = Vec::new();
        if self.leaves == 0 {
            let (link, block) = self.leaf(&[]);
            out.push(block);
            self.push_link(0, link, &mut out);
        }
        let mut level = 0;
        loop {
            let links = self
                .levels
                .get_mut(level)
                .map(mem::take)
                .unwrap_or_default();
            let is_top = self
                .levels
                .get(level + 1..)
                .is_none_or(|above| above.iter().all(Vec::is_empty));
            if is_top && let [single] = links.as_slice() {
                return (single.cid, out);
            }
            if !links.is_empty() {
                let (parent, block) = self.node(&links);
                out.push(block);
                self.push_link(level + 1, parent, &mut out);
            }
            level += 1;
        }
    }

    fn leaf(&mut self, chunk: &[u8]) -> (Link, Block) {
        self.leaves += 1;
        let len = chunk.len() as u64;
        match self.profile {
            Profile::V1RawLeaves => {
                let block = Block::raw(Bytes::copy_from_slice(chunk));
                let link = Link {
                    cid: *block.cid(),
                    tsize: len,
                    file_size: len,
                };
                (link, block)
            }
            Profile::V0 => {
                let mut unixfs = Vec::with_capacity(chunk.len() + 16);
                dagpb::put_uint(1, TYPE_FILE, &mut unixfs);
                if !chunk.is_empty() {
                    dagpb::put_bytes(2, chunk, &mut unixfs);
                }
                dagpb::put_uint(3, len, &mut unixfs);
                let block = Block::dag_pb(dagpb::encode(&[], &unixfs), true);
                let link = Link {
                    cid: *block.cid(),
                    tsize: block.len() as u64,
                    file_size: len,
                };
                (link, block)
            }
        }
    }

    fn node(&self, links: &[Link]) -> (Link, Block) {
        let file_size: u64 = links.iter().map(|l| l.file_size).sum();
        let mut unixfs = Vec::with_capacity(8 + links.len() * 4);
        dagpb::put_uint(1, TYPE_FILE, &mut unixfs);
        dagpb::put_uint(3, file_size, &mut unixfs);
        for link in links {
            dagpb::put_uint(4, link.file_size, &mut unixfs);
        }
        let pb_links: Vec<(Cid, u64)> = links.iter().map(|l| (l.cid, l.tsize)).collect();
        let block = Block::dag_pb(
            dagpb::encode(&pb_links, &unixfs),
            self.profile == Profile::V0,
        );
        let tsize = block.len() as u64 + links.iter().map(|l| l.tsize).sum::<u64>();
        let link = Link {
            cid: *block.cid(),
            tsize,
            file_size,
        };
        (link, block)
    }

    fn push_link(&mut self, mut level: usize, mut link: Link, out: &mut Vec<Block>) {
        loop {
            while self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            let Some(slot) = self.levels.get_mut(level) else {
                return;
            };
            if slot.len() < MAX_LINKS {
                slot.push(link);
                return;
            }
            let full = mem::replace(slot, vec![link]);
            let (parent, block) = self.node(&full);
            out.push(block);
            link = parent;
            level += 1;
        }
    }
}

fn check_chunk_len(len: u64) -> Result<(), Error> {
    if len > MAX_CHUNK_LEN as u64 {
        return Err(Error::BlockTooLarge {
            len,
            limit: MAX_CHUNK_LEN as u64,
        });
    }
    Ok(())
}

/// A whole file imported in memory: its root CID and every block of its DAG, leaves and
/// internal nodes, in the order they were completed (children before parents).
#[derive(Debug, Clone)]
pub struct ImportedFile {
    /// The root CID: what `ipfs add` prints.
    pub root: Cid,
    /// Every block of the DAG; the root is the last.
    pub blocks: Vec<Block>,
}

/// Imports `data` as one UnixFS file: cuts it into chunks of the configured size and
/// builds the balanced DAG over them.
///
/// ```
/// use dataseal_transport::{ImportParams, Profile, import_bytes};
///
/// // `ipfs add --cid-version=1 --raw-leaves` of the empty file.
/// let empty = import_bytes(b"", &ImportParams::default());
/// assert_eq!(
///     empty.root.to_string(),
///     "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
/// );
/// // A plain `ipfs add` of the empty file.
/// let v0 = import_bytes(b"", &ImportParams::kubo_default());
/// assert_eq!(v0.root.to_string(), "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
/// ```
#[must_use]
pub fn import_bytes(data: &[u8], params: &ImportParams) -> ImportedFile {
    let mut builder = FileBuilder::new(params.profile);
    let mut blocks = Vec::new();
    for chunk in data.chunks(params.chunk_size) {
        // Chunks are at most `chunk_size`, which `ImportParams` bounds, so this cannot fail.
        if let Ok(done) = builder.push_chunk(chunk) {
            blocks.extend(done);
        }
    }
    let (root, tail) = builder.finish();
    blocks.extend(tail);
    ImportedFile { root, blocks }
}

/// The root CID and internal nodes of the CIDv1 raw-leaf file whose leaves are `leaves`
/// (each a raw CID and the leaf's length), in order: the DAG `ipfs add --cid-version=1
/// --raw-leaves` builds over the same chunks. The leaves themselves are not returned.
///
/// # Errors
///
/// [`Error::Malformed`] if a CID is not a CIDv1 raw block; [`Error::BlockTooLarge`] for a
/// leaf over [`MAX_CHUNK_LEN`].
pub fn raw_leaves_root<I>(leaves: I) -> Result<(Cid, Vec<Block>), Error>
where
    I: IntoIterator<Item = (Cid, u64)>,
{
    let mut builder = FileBuilder::new(Profile::V1RawLeaves);
    let mut blocks = Vec::new();
    for (cid, len) in leaves {
        blocks.extend(builder.push_raw_leaf(cid, len)?);
    }
    let (root, tail) = builder.finish();
    blocks.extend(tail);
    Ok((root, blocks))
}

/// One child of a [`FileNode`]: its CID and how many file bytes lie under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Child {
    cid: Cid,
    file_size: u64,
}

impl Child {
    /// The child's CID.
    #[must_use]
    pub fn cid(&self) -> &Cid {
        &self.cid
    }

    /// The number of file bytes under the child (the parent's `blocksizes` entry).
    #[must_use]
    pub fn file_size(&self) -> u64 {
        self.file_size
    }
}

/// One node of a UnixFS file DAG, decoded for reading: a raw leaf, or a dag-pb node with
/// inline data and children whose sizes say which bytes of the file lie under each.
///
/// The node's own bytes come first, then each child's in order. Decoding checks that the
/// sizes add up (`filesize` equals the inline data plus every `blocksizes` entry, with
/// one entry per link), so a reader can seek by them.
///
/// ```
/// use dataseal_transport::{FileNode, ImportParams, Profile, import_bytes};
///
/// let file = import_bytes(&[7u8; 10], &ImportParams::new(Profile::V1RawLeaves, 4)?);
/// let root = file.blocks.last().expect("a root");
/// let node = FileNode::decode(root)?;
/// assert_eq!(node.file_size(), 10);
/// let sizes: Vec<u64> = node.children().iter().map(|c| c.file_size()).collect();
/// assert_eq!(sizes, [4, 4, 2]);
/// # Ok::<(), dataseal_transport::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileNode {
    data: Bytes,
    children: Vec<Child>,
    file_size: u64,
}

impl FileNode {
    /// Decodes a block of a UnixFS file: a raw block is a leaf; a dag-pb block must hold a
    /// UnixFS `file` or `raw` node.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] for any other codec, a node that does not decode, a UnixFS
    /// type other than a file, or sizes that do not add up.
    pub fn decode(block: &Block) -> Result<Self, Error> {
        Self::decode_parts(block.cid(), block.data())
    }

    pub(crate) fn decode_parts(cid: &Cid, bytes: &Bytes) -> Result<Self, Error> {
        match cid.codec() {
            codec::RAW => Ok(Self {
                data: bytes.clone(),
                children: Vec::new(),
                file_size: bytes.len() as u64,
            }),
            codec::DAG_PB => Self::decode_pb(bytes),
            other => Err(Error::malformed(
                UNIXFS,
                format!("codec 0x{other:x} is neither raw nor dag-pb"),
            )),
        }
    }

    fn decode_pb(bytes: &Bytes) -> Result<Self, Error> {
        let FileLinks {
            data,
            mut links,
            blocksizes,
            file_size,
        } = FileLinks::decode_pb(bytes)?;
        let mut children = Vec::with_capacity(blocksizes.len());
        for file_size in blocksizes {
            let Some(cid) = links.next_link()? else {
                break;
            };
            children.push(Child { cid, file_size });
        }
        Ok(Self {
            data,
            children,
            file_size,
        })
    }

    /// The file bytes held in this node itself (all of a leaf's bytes).
    #[must_use]
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// The children, in file order.
    #[must_use]
    pub fn children(&self) -> &[Child] {
        &self.children
    }

    /// The number of file bytes under this node, its own included.
    #[must_use]
    pub fn file_size(&self) -> u64 {
        self.file_size
    }
}

/// A block of a UnixFS file decoded for a lazy walk: checked as [`FileNode::decode`]
/// checks it, but with its links left in the block, read one at a time as the walk
/// reaches them. What it holds is within a constant factor of the block's length,
/// however many links the block holds.
#[derive(Debug)]
pub(crate) struct FileLinks {
    /// The file bytes held in the block itself (all of a raw leaf's bytes).
    pub(crate) data: Bytes,
    /// The links, not yet read (none for a raw leaf).
    pub(crate) links: LinkCursor,
    /// The bytes under each link, one entry per link, in order.
    pub(crate) blocksizes: Vec<u64>,
    /// The bytes under the block, its own data included.
    pub(crate) file_size: u64,
}

impl FileLinks {
    /// Decodes a block of a UnixFS file, as [`FileNode::decode`] does.
    ///
    /// # Errors
    ///
    /// As [`FileNode::decode`].
    pub(crate) fn decode(block: &Block) -> Result<Self, Error> {
        let bytes = block.data();
        match block.cid().codec() {
            codec::RAW => Ok(Self {
                data: bytes.clone(),
                links: LinkCursor::new(Bytes::new())?.0,
                blocksizes: Vec::new(),
                file_size: bytes.len() as u64,
            }),
            codec::DAG_PB => Self::decode_pb(bytes),
            other => Err(Error::malformed(
                UNIXFS,
                format!("codec 0x{other:x} is neither raw nor dag-pb"),
            )),
        }
    }

    fn decode_pb(bytes: &Bytes) -> Result<Self, Error> {
        let (links, data) = LinkCursor::new(bytes.clone())?;
        let raw =
            data.ok_or_else(|| Error::malformed(UNIXFS, "dag-pb node without UnixFS data"))?;
        let unixfs = UnixfsData::decode(&raw)?;
        let file_size = unixfs.check_file(links.count())?;
        Ok(Self {
            data: unixfs.data.unwrap_or_default(),
            links,
            blocksizes: unixfs.blocksizes,
            file_size,
        })
    }
}

/// The UnixFS `Data` message, as far as reading files needs it.
///
/// ```text
/// message Data { required DataType Type = 1; optional bytes Data = 2;
///   optional uint64 filesize = 3; repeated uint64 blocksizes = 4;
///   optional uint64 hashType = 5; optional uint64 fanout = 6;
///   optional uint32 mode = 7; optional UnixTime mtime = 8; }
/// ```
///
/// An ordinary proto2 message: fields in any order, `blocksizes` packed or not, unknown
/// fields skipped.
struct UnixfsData {
    kind: u64,
    data: Option<Bytes>,
    filesize: Option<u64>,
    blocksizes: Vec<u64>,
}

/// What a dag-pb UnixFS file node declares about the file bytes under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileSizes {
    /// The bytes under the node, its own data included.
    pub(crate) total: u64,
    /// The bytes under each link, one entry per link, in order.
    pub(crate) blocksizes: Vec<u64>,
}

/// The sizes declared by a dag-pb node with `links` links and this `data`, checked as
/// [`FileNode::decode`] checks them; `None` for a node that is not a UnixFS file or raw
/// node (no data, data that is not UnixFS, a directory).
///
/// # Errors
///
/// [`Error::Malformed`] for a UnixFS file whose sizes do not add up, or a UnixFS raw node
/// with links.
pub(crate) fn file_sizes(data: Option<&Bytes>, links: usize) -> Result<Option<FileSizes>, Error> {
    let Some(unixfs) = data.and_then(|d| UnixfsData::decode(d).ok()) else {
        return Ok(None);
    };
    if unixfs.kind != TYPE_FILE && unixfs.kind != TYPE_RAW {
        return Ok(None);
    }
    let total = unixfs.check_file(links)?;
    Ok(Some(FileSizes {
        total,
        blocksizes: unixfs.blocksizes,
    }))
}

impl UnixfsData {
    /// Checks that this describes a file (or raw) node with `links` links whose sizes add
    /// up; returns the bytes under it.
    fn check_file(&self, links: usize) -> Result<u64, Error> {
        let bad = |detail: String| Error::malformed(UNIXFS, detail);
        match self.kind {
            TYPE_FILE => {}
            TYPE_RAW if links == 0 => {}
            TYPE_RAW => return Err(bad("a UnixFS raw node with links".to_owned())),
            other => return Err(bad(format!("UnixFS type {other} is not a file"))),
        }
        if self.blocksizes.len() != links {
            return Err(bad(format!(
                "{links} links but {} blocksizes",
                self.blocksizes.len()
            )));
        }
        let own = self.data.as_ref().map_or(0, |d| d.len() as u64);
        let total = self
            .blocksizes
            .iter()
            .try_fold(own, |total, &size| total.checked_add(size))
            .ok_or_else(|| bad("blocksizes overflow".to_owned()))?;
        if let Some(declared) = self.filesize
            && declared != total
        {
            return Err(bad(format!(
                "filesize {declared} but data and blocksizes add up to {total}"
            )));
        }
        Ok(total)
    }

    fn decode(bytes: &Bytes) -> Result<Self, Error> {
        let bad = |detail: &str| Error::malformed(UNIXFS, detail.to_owned());
        let mut kind = None;
        let mut data = None;
        let mut filesize = None;
        let mut blocksizes = Vec::new();
        let mut rest: &[u8] = bytes;
        while !rest.is_empty() {
            let (field, tail) = next_field(rest, UNIXFS)?;
            rest = tail;
            match field {
                Field::Varint(1, value) => kind = Some(value),
                Field::Len(2, value) => data = Some(bytes.slice_ref(value)),
                Field::Varint(3, value) => filesize = Some(value),
                Field::Varint(4, value) => blocksizes.push(value),
                Field::Len(4, mut packed) => {
                    while !packed.is_empty() {
                        let (value, tail) =
                            crate::varint::decode(packed).map_err(|e| bad(e.describe()))?;
                        blocksizes.push(value);
                        packed = tail;
                    }
                }
                Field::Varint(1..=4, _) | Field::Len(1..=3, _) => {
                    return Err(bad("a known field with the wrong wire type"));
                }
                Field::Varint(..) | Field::Len(..) | Field::Fixed64 | Field::Fixed32 => {}
            }
        }
        let kind = kind.ok_or_else(|| bad("missing Type"))?;
        Ok(Self {
            kind,
            data,
            filesize,
            blocksizes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_of(len: usize, params: &ImportParams) -> ImportedFile {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        import_bytes(&data, params)
    }

    #[test]
    fn one_chunk_is_its_leaf() {
        let params = ImportParams::new(Profile::V1RawLeaves, 4).unwrap();
        let file = root_of(4, &params);
        assert_eq!(file.blocks.len(), 1);
        assert_eq!(file.root, Cid::raw_sha256(&[0, 1, 2, 3]));
    }

    #[test]
    fn tree_shapes() {
        let params = ImportParams::new(Profile::V1RawLeaves, 1).unwrap();
        // 174 leaves: one node.
        assert_eq!(root_of(174, &params).blocks.len(), 175);
        // 175 leaves: two level-1 nodes (174 and 1 links) under a root.
        let file = root_of(175, &params);
        assert_eq!(file.blocks.len(), 175 + 3);
        let root = FileNode::decode(file.blocks.last().unwrap()).unwrap();
        let sizes: Vec<u64> = root.children().iter().map(Child::file_size).collect();
        assert_eq!(sizes, [174, 1]);
        // 174² + 1 leaves: three levels.
        let file = root_of(174 * 174 + 1, &params);
        let root = FileNode::decode(file.blocks.last().unwrap()).unwrap();
        let sizes: Vec<u64> = root.children().iter().map(Child::file_size).collect();
        assert_eq!(sizes, [174 * 174, 1]);
        assert_eq!(*file.blocks.last().unwrap().cid(), file.root);
    }

    #[test]
    fn raw_leaves_root_matches_import() {
        let params = ImportParams::new(Profile::V1RawLeaves, 3).unwrap();
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let file = import_bytes(&data, &params);
        let leaves = data.chunks(3).map(|c| (Cid::raw_sha256(c), c.len() as u64));
        let (root, internal) = raw_leaves_root(leaves).unwrap();
        assert_eq!(root, file.root);
        assert_eq!(internal.len(), file.blocks.len() - 334);
        assert!(raw_leaves_root([(file.root, 3)]).is_err());
    }

    #[test]
    fn v0_leaves_decode_to_their_data() {
        let params = ImportParams::new(Profile::V0, 5).unwrap();
        let file = root_of(12, &params);
        assert_eq!(file.root.version(), 0);
        for block in &file.blocks {
            assert!(block.cid().verify(block.data()));
        }
        let leaf = FileNode::decode(&file.blocks[0]).unwrap();
        assert_eq!(&leaf.data()[..], &[0, 1, 2, 3, 4]);
        assert!(leaf.children().is_empty());
    }

    #[test]
    fn rejects_inconsistent_sizes() {
        let mut unixfs = Vec::new();
        dagpb::put_uint(1, TYPE_FILE, &mut unixfs);
        dagpb::put_uint(3, 9, &mut unixfs);
        dagpb::put_uint(4, 4, &mut unixfs);
        let child = Cid::raw_sha256(b"abcd");
        let block = Block::dag_pb(dagpb::encode(&[(child, 4)], &unixfs), false);
        assert!(FileNode::decode(&block).is_err());
        // Directories are not files.
        let mut dir = Vec::new();
        dagpb::put_uint(1, 1, &mut dir);
        let block = Block::dag_pb(dagpb::encode(&[], &dir), false);
        assert!(FileNode::decode(&block).is_err());
    }

    #[test]
    fn rejects_oversized_chunks() {
        let mut builder = FileBuilder::new(Profile::V1RawLeaves);
        assert!(builder.push_chunk(&vec![0; MAX_CHUNK_LEN + 1]).is_err());
        assert!(
            builder
                .push_raw_leaf(Cid::raw_sha256(b""), MAX_CHUNK_LEN as u64 + 1)
                .is_err()
        );
        assert!(ImportParams::new(Profile::V0, MAX_CHUNK_LEN as u64 + 1).is_err());
    }
}
