//! The operations: blocks, pins, whole files and CAR streams, each checked; and the
//! [`Transport`] implementation over them.

use async_trait::async_trait;
use bytes::Bytes;
use dataseal_base::Cid;
use dataseal_transport::{
    Block, BlockStat, CarReader, CarSummary, CarWriter, FileBuilder, ImportParams, Profile,
    Transport,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::client::{Lookup, abort, read_limited, request_error};
use crate::wire::{self, ChannelBody};
use crate::{Client, Error};

/// The largest answer read for a small JSON result.
const MAX_SMALL_ANSWER: usize = 1 << 20;
/// Chunks (of the file added, or CAR frames) that may wait for the request body.
const BODY_DEPTH: usize = 4;
/// The buffer between a CAR export's answer and its reader.
const EXPORT_BUFFER: usize = 256 << 10;

impl Client {
    /// Reads a block's bytes as the node sends them (not yet verified).
    async fn fetch(&self, cid: &Cid) -> Result<Bytes, Error> {
        let query = [("arg", cid.to_string())];
        let (endpoint, response) = self
            .post("block/get", &query, None, Lookup::Block)
            .await
            .map_err(|e| self.missing(e, cid, Lookup::Block))?;
        read_limited(&endpoint, response, self.capabilities().max_block_len).await
    }

    /// Reads a block and checks it against its CID.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::Integrity`] for bytes that do not hash to `cid`,
    /// [`Error::BlockTooLarge`] for an answer over the limit, and the request errors.
    pub async fn get_checked(&self, cid: &Cid) -> Result<Block, Error> {
        let data = self.fetch(cid).await?;
        Block::new(*cid, data).map_err(|_| Error::Integrity { cid: *cid })
    }

    /// Stores a block with `block/put` and checks that the node filed it under exactly
    /// its CID.
    ///
    /// # Errors
    ///
    /// [`Error::BlockTooLarge`] over the node's limit (nothing is sent),
    /// [`Error::Unsupported`] for a codec the node's `block/put` style cannot name,
    /// [`Error::CidMismatch`] if the node answers another CID, and the request errors.
    pub async fn put_checked(&self, block: &Block) -> Result<(), Error> {
        let limit = self.capabilities().max_block_len;
        if block.len() > limit {
            return Err(Error::BlockTooLarge {
                len: block.len() as u64,
                limit: limit as u64,
            });
        }
        let query = self.block_put_params(block.cid())?;
        let form = Self::bytes_form(block.data().clone());
        let (endpoint, response) = self
            .post("block/put", &query, Some(form), Lookup::None)
            .await?;
        let body = read_limited(&endpoint, response, MAX_SMALL_ANSWER).await?;
        let (key, size) = wire::key_and_size(&endpoint, &body)?;
        if key != *block.cid() {
            return Err(Error::mismatch(*block.cid(), key));
        }
        if size != block.len() as u64 {
            return Err(Error::malformed(
                &endpoint,
                format!("stored {size} bytes of a {}-byte block", block.len()),
            ));
        }
        Ok(())
    }

    /// The length of a block the node holds (`block/stat`), checking that the node
    /// answered about that block.
    ///
    /// The length is the node's word, a hint: it is only checked to be within the block
    /// limit ([`Capabilities::max_block_len`](crate::Capabilities)), so no caller sizes
    /// anything by a number no block can have. Reading the block is what verifies it.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::CidMismatch`] for an answer about another block,
    /// [`Error::Malformed`] for a length over the block limit (through [`Transport`] a bad
    /// answer like any other, so a reader moves on to the next store), and the request
    /// errors.
    pub async fn stat_checked(&self, cid: &Cid) -> Result<u64, Error> {
        let query = [("arg", cid.to_string())];
        let (endpoint, body) = self
            .json("block/stat", &query, Lookup::Block)
            .await
            .map_err(|e| self.missing(e, cid, Lookup::Block))?;
        let (key, size) = wire::key_and_size(&endpoint, &body)?;
        if !wire::same_block(&key, cid) {
            return Err(Error::mismatch(*cid, key));
        }
        let limit = self.capabilities().max_block_len;
        if size > limit as u64 {
            return Err(Error::malformed(
                &endpoint,
                format!("{cid} is said to hold {size} bytes, over the block limit of {limit}"),
            ));
        }
        Ok(size)
    }

    /// Pins the DAG under `root` recursively (`pin/add`), without expiry.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if the node lacks the root, [`Error::Incomplete`] if it lacks
    /// a block under it (when the node names it; js-ipfs, which waits for missing blocks,
    /// reports [`Error::NotFound`] for the root once the DAG limit runs out), and the
    /// request errors.
    pub async fn pin_checked(&self, root: &Cid) -> Result<(), Error> {
        self.pin_with(root, None).await
    }

    async fn pin_with(&self, root: &Cid, days: Option<u32>) -> Result<(), Error> {
        let mut query = vec![("arg", root.to_string()), ("recursive", "true".to_owned())];
        if let Some(days) = days {
            let Some(param) = self.capabilities().pin_duration_param.as_deref() else {
                return Err(Error::Unsupported("pins that expire".to_owned()));
            };
            query.push((param, days.to_string()));
        }
        let (endpoint, body) = match self.json("pin/add", &query, Lookup::Dag).await {
            Ok(answer) => answer,
            Err(err) => {
                // Kubo names the block it lacks: if it is not the root, the DAG is
                // incomplete.
                let named = match &err {
                    Error::Http { message, .. } => wire::cid_in(message),
                    _ => None,
                };
                return Err(match self.missing(err, root, Lookup::Dag) {
                    Error::NotFound(_) => match named {
                        Some(missing) if !wire::same_block(&missing, root) => {
                            Error::Incomplete { missing }
                        }
                        _ => Error::NotFound(*root),
                    },
                    other => other,
                });
            }
        };
        let pins = wire::pins(&endpoint, &body)?;
        if !pins.iter().any(|p| wire::same_block(p, root)) {
            return Err(Error::malformed(
                &endpoint,
                format!("the node did not report pinning {root}"),
            ));
        }
        Ok(())
    }

    /// Pins the DAG under `root` for `days` days, after which the node drops the pin
    /// (BTFS: `pin/add` with `duration-count`).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] for a node whose pins do not expire, [`Error::NotFound`]
    /// or [`Error::Incomplete`] if the node lacks a block of the DAG, and the request
    /// errors.
    pub async fn pin_for(&self, root: &Cid, days: u32) -> Result<(), Error> {
        self.pin_with(root, Some(days)).await
    }

    /// Removes the recursive pin on `root` (`pin/rm`); returns whether there was one.
    ///
    /// # Errors
    ///
    /// The request errors.
    pub async fn unpin_checked(&self, root: &Cid) -> Result<bool, Error> {
        let query = [("arg", root.to_string()), ("recursive", "true".to_owned())];
        match self.json("pin/rm", &query, Lookup::None).await {
            Ok((endpoint, body)) => {
                let pins = wire::pins(&endpoint, &body)?;
                Ok(pins.iter().any(|p| wire::same_block(p, root)))
            }
            Err(Error::Http { ref message, .. }) if wire::says_not_pinned(message) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// The recursively pinned roots (`pin/ls`).
    ///
    /// # Errors
    ///
    /// [`Error::BadCid`] for a listed CID that does not parse, and the request errors.
    pub async fn pins_checked(&self) -> Result<Vec<Cid>, Error> {
        let query = [("type", "recursive".to_owned())];
        let (endpoint, body) = self.json("pin/ls", &query, Lookup::None).await?;
        wire::pin_keys(&endpoint, &body)
    }

    /// Adds a whole file with the node's own `add` (one streamed request), while
    /// computing its root locally from the same bytes; fails if the node's root differs.
    /// Does not pin.
    ///
    /// The node is asked for exactly the layout of `params`: the CID version under the
    /// node's parameter name ([`Capabilities::cid_version_param`](crate::Capabilities)),
    /// raw leaves for [`Profile::V1RawLeaves`], `chunker=size-C`, SHA2-256, no pin.
    ///
    /// # Errors
    ///
    /// [`Error::CidMismatch`] if the node's root is not the local one (a node that ignored
    /// a parameter, chunks differently or lies), [`Error::Io`] if reading `file` fails,
    /// and the request errors.
    pub async fn add_file(
        &self,
        file: &mut (dyn AsyncRead + Send + Unpin),
        params: &ImportParams,
    ) -> Result<Cid, Error> {
        let v1 = match params.profile() {
            Profile::V1RawLeaves => true,
            Profile::V0 => false,
            other => return Err(Error::Unsupported(format!("adding with {other:?}"))),
        };
        let caps = self.capabilities();
        let query = [
            (
                caps.cid_version_param.as_str(),
                if v1 { "1" } else { "0" }.to_owned(),
            ),
            ("raw-leaves", v1.to_string()),
            ("chunker", format!("size-{}", params.chunk_size())),
            ("hash", "sha2-256".to_owned()),
            ("pin", "false".to_owned()),
            ("progress", "false".to_owned()),
        ];
        let (tx, body) = ChannelBody::new(BODY_DEPTH);
        let form = Self::file_form(body);
        let profile = params.profile();
        let chunk_size = params.chunk_size();
        // Reads the file, hashes it into the local DAG and feeds the request. `None`:
        // the request stopped reading (its own error says why).
        let feed = async move {
            let mut builder = FileBuilder::new(profile);
            let mut chunk = vec![0u8; chunk_size];
            loop {
                let filled = match fill(file, &mut chunk).await {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = tx.send(Err(abort("reading the file failed"))).await;
                        return Err(Error::io("reading the file to add", e));
                    }
                };
                if filled == 0 {
                    break;
                }
                let data = chunk.get(..filled).unwrap_or_default();
                if let Err(e) = builder.push_chunk(data) {
                    let _ = tx.send(Err(abort("the chunk was refused"))).await;
                    return Err(e.into());
                }
                if tx.send(Ok(Bytes::copy_from_slice(data))).await.is_err() {
                    return Ok(None);
                }
                if filled < chunk.len() {
                    break;
                }
            }
            drop(tx);
            Ok(Some(builder.finish().0))
        };
        let request = async {
            let (endpoint, response) = self.post("add", &query, Some(form), Lookup::None).await?;
            let body = read_limited(&endpoint, response, MAX_SMALL_ANSWER).await?;
            wire::added_root(&endpoint, &body)
        };
        let (fed, answered) = tokio::join!(feed, request);
        let expected = fed?;
        let got = answered?;
        let Some(expected) = expected else {
            return Err(Error::malformed(
                &self.endpoint("add"),
                "the node answered before reading the whole file",
            ));
        };
        if got != expected {
            return Err(Error::mismatch(expected, got));
        }
        Ok(expected)
    }

    /// Imports a CAR v1 stream: every block is verified here, then streamed to the
    /// node's `dag/import` (as CAR v1, without pinning), or stored block by block if the
    /// node has no `dag/import`.
    ///
    /// # Errors
    ///
    /// What [`CarReader`] reports (malformed, integrity, over-size), wrapped in
    /// [`Error::Transport`], and the request errors. Blocks sent before a failure may
    /// stay on the node.
    pub async fn import_car_checked(
        &self,
        car: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<CarSummary, Error> {
        let max_block_len = self.capabilities().max_block_len;
        let mut reader = CarReader::new(car).await?.with_max_block_len(max_block_len);
        let mut summary = CarSummary::default();
        summary.roots = reader.roots().to_vec();
        if self.capabilities().max_car_version == 0 {
            while let Some(block) = reader.next_block().await? {
                self.put_checked(&block).await?;
                summary.blocks += 1;
                summary.bytes += block.len() as u64;
            }
            return Ok(summary);
        }
        let header = CarWriter::new(Vec::new(), &summary.roots)
            .await?
            .finish()
            .await?;
        let (tx, body) = ChannelBody::new(BODY_DEPTH * 2);
        let form = Self::file_form(body);
        let feed = async move {
            if tx.send(Ok(header.into())).await.is_err() {
                return Ok(None);
            }
            loop {
                let block = match reader.next_block().await {
                    Ok(Some(block)) => block,
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Err(abort("the CAR stream failed"))).await;
                        return Err(Error::from(e));
                    }
                };
                let cid = block.cid().to_bytes();
                let mut head = Vec::with_capacity(cid.len() + 10);
                put_varint((cid.len() + block.len()) as u64, &mut head);
                head.extend_from_slice(&cid);
                if tx.send(Ok(head.into())).await.is_err()
                    || tx.send(Ok(block.data().clone())).await.is_err()
                {
                    return Ok(None);
                }
                summary.blocks += 1;
                summary.bytes += block.len() as u64;
            }
            drop(tx);
            Ok(Some(summary))
        };
        let request = async {
            let query = [("pin-roots", "false".to_owned())];
            let (endpoint, response) = self
                .post("dag/import", &query, Some(form), Lookup::None)
                .await?;
            let body = read_limited(&endpoint, response, MAX_SMALL_ANSWER).await?;
            wire::no_error_lines(&endpoint, &body)
        };
        let (fed, answered) = tokio::join!(feed, request);
        let summary = fed?;
        answered?;
        summary.ok_or_else(|| {
            Error::malformed(
                &self.endpoint("dag/import"),
                "the node answered before reading the whole CAR stream",
            )
        })
    }

    /// Exports the DAG under `root` with the node's `dag/export` and writes it to `out`
    /// as a CAR v1 with `root` as its only root, every block verified as it arrives and
    /// the DAG checked complete at the end.
    ///
    /// `out` receives verified blocks as they come: if the export fails, what was
    /// written is a valid prefix, not a complete CAR; write to a temporary file and
    /// rename it on success.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if the node lacks the root, [`Error::Transport`] with the
    /// CAR reader's error (integrity, incomplete, malformed, over-size), [`Error::Io`]
    /// if writing fails, and the request errors.
    pub async fn export_car_checked(
        &self,
        root: &Cid,
        out: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<CarSummary, Error> {
        let query = [("arg", root.to_string())];
        let (endpoint, mut response) = self
            .post("dag/export", &query, None, Lookup::Dag)
            .await
            .map_err(|e| self.missing(e, root, Lookup::Dag))?;
        let max_block_len = self.capabilities().max_block_len;
        let (mut pipe_in, pipe_out) = tokio::io::duplex(EXPORT_BUFFER);
        let pump_endpoint = endpoint.clone();
        let pump = async move {
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| request_error(&pump_endpoint, &e))?
            {
                if pipe_in.write_all(&chunk).await.is_err() {
                    // The reader stopped; its error says why.
                    break;
                }
            }
            Ok::<(), Error>(())
        };
        let copy = async move {
            // Rooted: the node can only make this read hold and write the blocks of the
            // DAG under `root`, each once, whatever it streams.
            let mut reader = CarReader::new(pipe_out)
                .await?
                .with_max_block_len(max_block_len)
                .require_rooted();
            if reader.roots().len() != 1
                || !reader.roots().iter().all(|r| wire::same_block(r, root))
            {
                return Err(Error::malformed(
                    &endpoint,
                    format!("the CAR's roots are {:?}, not [{root}]", reader.roots()),
                ));
            }
            let mut writer = CarWriter::new(&mut *out, &[*root]).await?;
            while let Some(block) = reader.next_block().await? {
                if writer.blocks() == 0 && !wire::same_block(block.cid(), root) {
                    return Err(Error::malformed(
                        &endpoint,
                        format!("the CAR starts with {}, not its root", block.cid()),
                    ));
                }
                writer.write(&block).await?;
            }
            let mut summary = CarSummary::default();
            summary.roots = vec![*root];
            summary.blocks = writer.blocks();
            summary.bytes = writer.bytes();
            writer.finish().await?;
            Ok(summary)
        };
        tokio::pin!(pump, copy);
        let mut pumped: Option<Result<(), Error>> = None;
        let copied = loop {
            tokio::select! {
                copied = &mut copy => break copied,
                result = &mut pump, if pumped.is_none() => pumped = Some(result),
            }
        };
        match (copied, pumped) {
            // A broken connection is the cause of whatever the reader saw.
            (_, Some(Err(e))) => Err(e),
            (Err(Error::Transport(inner)), _) => Err(match *inner {
                dataseal_transport::Error::Incomplete { missing }
                    if wire::same_block(&missing, root) =>
                {
                    Error::NotFound(*root)
                }
                dataseal_transport::Error::Incomplete { missing } => Error::Incomplete { missing },
                other => Error::from(other),
            }),
            (copied, _) => copied,
        }
    }
}

/// Appends `value` as an unsigned LEB128 varint.
fn put_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads until `buf` is full or the input ends; returns the number of bytes read.
async fn fill(
    reader: &mut (dyn AsyncRead + Send + Unpin),
    buf: &mut [u8],
) -> std::io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        let n = reader.read(rest).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// Every method sends one request (or, for `add`, CAR import and export, one streamed
/// request) and checks the answer; errors convert as described on [`Error`].
#[async_trait]
impl Transport for Client {
    async fn put(&self, block: &Block) -> Result<(), dataseal_transport::Error> {
        Ok(self.put_checked(block).await?)
    }

    /// Returns the block's bytes **after** checking them against `cid`: a node's answer
    /// is never passed on unverified.
    async fn get(&self, cid: &Cid) -> Result<Bytes, dataseal_transport::Error> {
        Ok(self.get_checked(cid).await?.into_parts().1)
    }

    async fn has(&self, cid: &Cid) -> Result<bool, dataseal_transport::Error> {
        match self.stat_checked(cid).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn stat(&self, cid: &Cid) -> Result<BlockStat, dataseal_transport::Error> {
        Ok(BlockStat::new(self.stat_checked(cid).await?))
    }

    async fn pin(&self, root: &Cid) -> Result<(), dataseal_transport::Error> {
        Ok(self.pin_with(root, None).await?)
    }

    async fn unpin(&self, root: &Cid) -> Result<bool, dataseal_transport::Error> {
        Ok(self.unpin_checked(root).await?)
    }

    async fn pins(&self) -> Result<Vec<Cid>, dataseal_transport::Error> {
        Ok(self.pins_checked().await?)
    }

    async fn get_block(&self, cid: &Cid) -> Result<Block, dataseal_transport::Error> {
        Ok(self.get_checked(cid).await?)
    }

    async fn import_car(
        &self,
        car: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<CarSummary, dataseal_transport::Error> {
        Ok(self.import_car_checked(car).await?)
    }

    async fn export_car(
        &self,
        root: &Cid,
        out: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<CarSummary, dataseal_transport::Error> {
        Ok(self.export_car_checked(root, out).await?)
    }

    async fn add(
        &self,
        file: &mut (dyn AsyncRead + Send + Unpin),
        params: &ImportParams,
    ) -> Result<Cid, dataseal_transport::Error> {
        Ok(self.add_file(file, params).await?)
    }
}
