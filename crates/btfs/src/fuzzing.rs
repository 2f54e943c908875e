//! Entry points for the fuzz targets and property tests. Not part of the public API.
//!
//! [`node_answers`] turns arbitrary bytes into a node's answers (block sizes in
//! `block/stat`, the blocks `block/get` serves, the bytes `cat` streams, the CAR
//! `dag/export` streams, the answer to anything else), serves them from a small HTTP
//! server in this process, and points every reader of this crate at it: `block/stat`,
//! `has`, `block/get`, the streamed `cat_checked`, the checked CAR export, and the
//! transport's verified reader and `upload` over the client. Whatever the answers, no
//! reader may panic or size anything by a number from the node, and what a reader
//! returns as verified must be true.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use dataseal_base::{Cid, codec};
use dataseal_transport::{Block, CarReader, MemoryStore, Transport, VerifiedRead, upload};

use crate::{Capabilities, Client};
use dataseal_transport::fuzzing::file_node;

/// What the fake node answers, set for each input.
#[derive(Debug, Default, Clone)]
struct Answers {
    /// `block/get` of one of these CIDs: its bytes.
    blocks: HashMap<Cid, Bytes>,
    /// `block/stat`: `{"Key": arg, "Size": n}` with this size, or (`None`) `other`.
    stat: Option<u64>,
    /// What `cat` streams.
    cat: Bytes,
    /// What `dag/export` streams.
    export: Bytes,
    /// The answer to anything else, and to `block/get` of an unknown CID.
    other: Bytes,
}

/// The fake node: a listener in its own thread, one thread per connection.
struct Node {
    answers: Arc<Mutex<Answers>>,
    client: Client,
    runtime: tokio::runtime::Runtime,
}

static NODE: LazyLock<Result<Node, String>> = LazyLock::new(start);

fn start() -> Result<Node, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let answers = Arc::new(Mutex::new(Answers::default()));
    let served = answers.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let answers = served.clone();
            std::thread::spawn(move || serve(stream, &answers));
        }
    });
    let client = Client::builder(&url)
        .capabilities(Capabilities::btfs())
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Node {
        answers,
        client,
        runtime,
    })
}

/// Answers one request on `stream`, then closes it.
fn serve(mut stream: TcpStream, answers: &Mutex<Answers>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 << 10 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.lines();
    let target = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_default()
        .to_owned();
    let body_len: u64 = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let _ = std::io::copy(&mut (&mut stream).take(body_len), &mut std::io::sink());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let command = path.strip_prefix("/api/v1/").unwrap_or(path);
    let arg = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("arg="))
        .unwrap_or_default()
        .to_owned();
    let answers = answers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let body = match command {
        "block/get" => arg
            .parse::<Cid>()
            .ok()
            .and_then(|cid| answers.blocks.get(&cid).cloned())
            .unwrap_or(answers.other),
        "block/stat" => match answers.stat {
            Some(size) => Bytes::from(format!("{{\"Key\":\"{arg}\",\"Size\":{size}}}")),
            None => answers.other,
        },
        "cat" => answers.cat,
        "dag/export" => answers.export,
        _ => answers.other,
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
    let _ = stream.flush();
}

/// Reads a fuzz input front to back; past its end, zeros and empty slices.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        for b in &mut bytes {
            *b = self.byte();
        }
        u64::from_le_bytes(bytes)
    }

    /// A slice of up to `u16` bytes, length first.
    fn bytes(&mut self) -> &'a [u8] {
        let len = usize::from(self.u16()).min(self.0.len());
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        taken
    }
}

fn pb_block(bytes: Bytes) -> Block {
    let digest = Cid::raw_sha256(&bytes).sha256_digest();
    let cid = Cid::v1_from_sha256(codec::DAG_PB, digest);
    // The CID was just computed from these bytes.
    Block::new(cid, bytes.clone()).unwrap_or_else(|_| Block::raw(bytes))
}

/// Serves the node answers `data` describes and runs every reader against them.
///
/// Layout: a flags byte (bit 0: `block/stat` answers JSON with the size that follows,
/// else the free-form answer; bit 1: `cat` streams the leaves, else its own bytes; bit 2:
/// `dag/export` streams an honest export where one exists; bit 3: the file node declares
/// the `filesize` that follows; bit 4: the leaves' sizes follow, else their lengths),
/// the stat size (8 bytes, little endian), a count byte and then, each a 2-byte length
/// and its bytes: an arbitrary node (served as dag-pb and as raw), up to four raw leaves,
/// the `cat` stream, the CAR stream and the free-form answer; the leaves' sizes and the
/// `filesize` (8 bytes each) when flagged; the number of times a second node links the
/// file node (2 bytes) and the size it declares for each link (8 bytes).
///
/// # Errors
///
/// A description of a broken invariant: a reader returned as verified something other
/// than what another reader verified, or a reader that succeeded left an incomplete copy.
pub fn node_answers(data: &[u8]) -> Result<(), String> {
    let node = NODE.as_ref().map_err(Clone::clone)?;
    let mut input = Input(data);
    let flags = input.byte();
    let stat = input.u64();
    let count = usize::from(input.byte() % 5);
    let arbitrary = Bytes::copy_from_slice(input.bytes());
    let leaves: Vec<Block> = (0..count)
        .map(|_| Block::raw(Bytes::copy_from_slice(input.bytes())))
        .collect();
    let cat = Bytes::copy_from_slice(input.bytes());
    let export = Bytes::copy_from_slice(input.bytes());
    let other = Bytes::copy_from_slice(input.bytes());
    let sizes: Vec<(Cid, u64)> = leaves
        .iter()
        .map(|l| {
            let size = if flags & 16 != 0 {
                input.u64()
            } else {
                l.len() as u64
            };
            (*l.cid(), size)
        })
        .collect();
    let filesize = (flags & 8 != 0).then(|| input.u64());
    let file = file_node(&sizes, filesize);
    let declared = input.u64();
    let repeats = usize::from(input.u16());
    // Links that hold no bytes are skipped by the readers, so there can be many; links
    // that do are each read, so there are a few.
    let repeats = if declared == 0 {
        repeats % 20_001
    } else {
        repeats % 33
    };
    let repeated = file_node(&vec![(*file.cid(), declared); repeats], None);
    let pb = pb_block(arbitrary.clone());
    let raw = Block::raw(arbitrary);

    let mut blocks: HashMap<Cid, Bytes> = HashMap::new();
    for block in leaves.iter().chain([&file, &repeated, &pb, &raw]) {
        blocks.insert(*block.cid(), block.data().clone());
    }
    let roots = [*file.cid(), *repeated.cid(), *pb.cid(), *raw.cid()];
    let honest_cat: Bytes = leaves
        .iter()
        .flat_map(|l| l.data().iter().copied())
        .collect::<Vec<u8>>()
        .into();
    node.runtime.block_on(async {
        let local = MemoryStore::new();
        for block in leaves.iter().chain([&file, &repeated, &pb, &raw]) {
            local.put(block).await.map_err(|e| e.to_string())?;
        }
        for root in roots {
            let export = if flags & 4 != 0 {
                let mut car = Vec::new();
                match local.export_car(&root, &mut car).await {
                    Ok(_) => Bytes::from(car),
                    Err(_) => export.clone(),
                }
            } else {
                export.clone()
            };
            *node.answers.lock().unwrap_or_else(PoisonError::into_inner) = Answers {
                blocks: blocks.clone(),
                stat: (flags & 1 != 0).then_some(stat),
                cat: if flags & 2 != 0 {
                    honest_cat.clone()
                } else {
                    cat.clone()
                },
                export,
                other: other.clone(),
            };
            read_all(&node.client, &root).await?;
        }
        Ok(())
    })
}

/// Every reader of `root` against the node, and the invariants between them.
async fn read_all(client: &Client, root: &Cid) -> Result<(), String> {
    let _ = client.stat_checked(root).await;
    let _ = client.has(root).await;
    let _ = client.get_checked(root).await;
    let _ = client.id().await;
    let _ = client.pins_checked().await;

    let mut verified = Vec::new();
    let verified = match VerifiedRead::new(*root).run(&[client], &mut verified).await {
        Ok(_) => Some(verified),
        Err(_) => None,
    };
    let mut streamed = Vec::new();
    if client.cat_checked(root, &mut streamed).await.is_ok()
        && let Some(verified) = &verified
        && streamed != *verified
    {
        return Err(format!(
            "{root}: the streamed read and the verified read disagree"
        ));
    }

    let mut car = Vec::new();
    if client.export_car_checked(root, &mut car).await.is_ok() {
        let mut reader = CarReader::new(&car[..])
            .await
            .map_err(|e| format!("{root}: the export does not read back: {e}"))?
            .require_rooted();
        loop {
            match reader.next_block().await {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => return Err(format!("{root}: the export does not read back: {e}")),
            }
        }
    }

    let copy = MemoryStore::new();
    if upload(client, &copy, root).await.is_ok() {
        copy.pin(root)
            .await
            .map_err(|e| format!("{root}: an upload that succeeded left {e}"))?;
    }
    Ok(())
}
