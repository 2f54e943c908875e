//! Against an in-process fake node that answers in the documented shapes: BTFS behaviour
//! that cannot run here (`/api/v1`, the `v` flag, the legacy `block/put` format, CAR v1
//! only imports, expiring pins, the User-Agent rule, offline lookups), and bad input
//! (unreachable nodes, HTTP errors, malformed answers, CIDs that do not parse, over-size
//! blocks, lies, slow nodes).
//!
//! The fake keeps its blocks in a `MemoryStore` and follows go-btfs's command code: `add`
//! reads only `v` (`cid-version` is silently ignored), `block/put` reads only `format`
//! (`v0` by default, `protobuf`, `raw`, `cbor`), `dag/import` refuses any CAR but v1, and
//! a `/go-btfs/…` User-Agent other than its own is answered with HTTP 400.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod server;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use dataseal_base::codec;
use dataseal_btfs::{BlockPutStyle, Capabilities, Cid, Client, Error, USER_AGENT};
use dataseal_transport::{
    Block, CarReader, CarWriter, FileNode, ImportParams, MemoryStore, Profile, Transport,
    VerifiedRead, conformance, import_bytes,
};
use server::{Answer, Request};
use sha2::{Digest, Sha256};

/// How the fake misbehaves.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Honest,
    /// Every command fails with this status.
    Status(u16),
    /// Every answer is not JSON.
    NotJson,
    /// CIDs in answers do not parse.
    BadCid,
    /// Answers name another CID than the one stored.
    WrongCid,
    /// `block/get` answers 2 MiB.
    Oversize,
    /// `block/get` flips a bit.
    Corrupt,
    /// Every answer waits this long.
    Slow(Duration),
    /// `block/stat` claims this size for every block.
    StatSize(u64),
    /// `dag/export` appends a block outside the DAG.
    ExportStranger,
    /// `dag/export` writes the root a second time at the end.
    ExportTwice,
}

#[derive(Debug)]
struct Fake {
    store: MemoryStore,
    mode: Mutex<Mode>,
    requests: Mutex<Vec<Request>>,
}

const BTFS_UA: &str = "/go-btfs/2.3.5/";

impl Fake {
    fn requests(&self, command: &str) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.ends_with(&format!("/{command}")))
            .cloned()
            .collect()
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    async fn answer(&self, req: Request) -> Answer {
        self.requests.lock().unwrap().push(req.clone());
        if req.method != "POST" {
            return Answer::error(405, "method not allowed");
        }
        if let Some(ua) = req.header("user-agent")
            && ua.starts_with("/go-btfs/")
            && ua != BTFS_UA
        {
            return Answer::with(400, format!("api version mismatch ({ua} != {BTFS_UA})"));
        }
        let Some(command) = req.path.strip_prefix("/api/v1/") else {
            return Answer::with(404, "404 page not found");
        };
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Status(status) => return Answer::error(status, "fake failure"),
            Mode::NotJson => return Answer::with(200, "<html>this is not JSON</html>"),
            Mode::Slow(delay) => tokio::time::sleep(delay).await,
            _ => {}
        }
        let cid_text = |cid: &Cid| match mode {
            Mode::BadCid => "Qm-this-is-no-cid".to_owned(),
            Mode::WrongCid => Cid::raw_sha256(b"some other block").to_string(),
            _ => cid.to_string(),
        };
        let offline = req.param("offline") == Some("true");
        let lookup_arg = || -> Result<Cid, Answer> {
            if !offline {
                return Err(Answer::error(500, "fake: lookups must be offline"));
            }
            req.param("arg")
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| Answer::error(400, "invalid arg"))
        };
        let missing = |cid: &Cid| {
            Answer::error(
                500,
                &format!("block was not found locally (offline): ipld: could not find {cid}"),
            )
        };
        match command {
            "id" => Answer::json(&serde_json::json!({"ID": "16Uiu2HAmFakeFakeFake"})),
            "version" => {
                Answer::json(&serde_json::json!({"Version": "2.3.5", "Golang": "go1.20.5"}))
            }
            "block/put" => {
                let data = req.file().unwrap_or_default();
                let digest: [u8; 32] = Sha256::digest(&data).into();
                let cid = match req.param("format").unwrap_or("v0") {
                    "v0" => Cid::v0_from_sha256(digest),
                    "protobuf" => Cid::v1_from_sha256(codec::DAG_PB, digest),
                    "raw" => Cid::v1_from_sha256(codec::RAW, digest),
                    "cbor" => Cid::v1_from_sha256(0x71, digest),
                    other => return Answer::error(500, &format!("unrecognized format: {other}")),
                };
                let block = Block::new(cid, data.clone()).unwrap();
                self.store.put(&block).await.unwrap();
                Answer::json(&serde_json::json!({"Key": cid_text(&cid), "Size": data.len()}))
            }
            "block/get" => {
                let cid = match lookup_arg() {
                    Ok(cid) => cid,
                    Err(answer) => return answer,
                };
                match self.store.get(&cid).await {
                    Ok(data) => match mode {
                        Mode::Oversize => Answer::with(200, vec![7u8; 2 << 20]),
                        Mode::Corrupt => {
                            let mut data = data.to_vec();
                            match data.first_mut() {
                                Some(b) => *b ^= 1,
                                None => data.push(1),
                            }
                            Answer::with(200, data)
                        }
                        _ => Answer::with(200, data),
                    },
                    Err(_) => missing(&cid),
                }
            }
            "block/stat" => {
                let cid = match lookup_arg() {
                    Ok(cid) => cid,
                    Err(answer) => return answer,
                };
                match self.store.stat(&cid).await {
                    Ok(stat) => {
                        let size = match mode {
                            Mode::StatSize(size) => size,
                            _ => stat.len,
                        };
                        Answer::json(&serde_json::json!({"Key": cid_text(&cid), "Size": size}))
                    }
                    Err(_) => missing(&cid),
                }
            }
            "cat" => {
                let cid = match lookup_arg() {
                    Ok(cid) => cid,
                    Err(answer) => return answer,
                };
                // The file as its DAG's sizes lay it out (the verified reader's reading);
                // a DAG that goes wrong part way is streamed up to there, as a node does.
                let mut out = Vec::new();
                match VerifiedRead::new(cid).run(&[&self.store], &mut out).await {
                    Ok(_) => Answer::with(200, out),
                    Err(dataseal_transport::Error::NotFound(cid)) => missing(&cid),
                    Err(e) if out.is_empty() => Answer::error(500, &e.to_string()),
                    Err(_) => Answer::with(200, out),
                }
            }
            "add" => {
                // go-btfs reads `v`; `cid-version` means nothing to it.
                let v1 = req.param("v") == Some("1");
                let chunk = req
                    .param("chunker")
                    .and_then(|c| c.strip_prefix("size-"))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(262_144);
                let profile = if v1 && req.param("raw-leaves") != Some("false") {
                    Profile::V1RawLeaves
                } else {
                    Profile::V0
                };
                let data = req.file().unwrap_or_default();
                let file = import_bytes(&data, &ImportParams::new(profile, chunk).unwrap());
                for block in &file.blocks {
                    self.store.put(block).await.unwrap();
                }
                Answer::with(
                    200,
                    format!(
                        "{}\n",
                        serde_json::json!({"Name": "blob", "Hash": cid_text(&file.root), "Size": data.len().to_string()})
                    ),
                )
            }
            "dag/import" => {
                let car = req.file().unwrap_or_default();
                let mut reader = match CarReader::new(&car[..]).await {
                    Ok(reader) => reader,
                    Err(_) => {
                        return Answer::error(500, "only car files version 1 supported at present");
                    }
                };
                let roots = reader.roots().to_vec();
                loop {
                    match reader.next_block().await {
                        Ok(Some(block)) => self.store.put(&block).await.unwrap(),
                        Ok(None) => break,
                        Err(e) => return Answer::error(500, &e.to_string()),
                    }
                }
                if req.param("pin-roots") == Some("false") {
                    return Answer::with(200, "");
                }
                let mut lines = String::new();
                for root in roots {
                    self.store.pin(&root).await.unwrap();
                    lines.push_str(
                        &serde_json::json!({"Root": {"Cid": {"/": root.to_string()}, "PinErrorMsg": ""}}).to_string(),
                    );
                    lines.push('\n');
                }
                Answer::with(200, lines)
            }
            "dag/export" => {
                let root = match lookup_arg() {
                    Ok(cid) => cid,
                    Err(answer) => return answer,
                };
                let mut car = Vec::new();
                match self.store.export_car(&root, &mut car).await {
                    Ok(_) if matches!(mode, Mode::ExportStranger | Mode::ExportTwice) => {
                        let extra = match mode {
                            Mode::ExportTwice => self.store.get_block(&root).await.unwrap(),
                            _ => Block::raw(&b"not in this DAG"[..]),
                        };
                        // One more frame after the export.
                        let empty = CarWriter::new(Vec::new(), &[]).await.unwrap();
                        let header = empty.finish().await.unwrap().len();
                        let mut writer = CarWriter::new(Vec::new(), &[]).await.unwrap();
                        writer.write(&extra).await.unwrap();
                        let framed = writer.finish().await.unwrap();
                        car.extend_from_slice(&framed[header..]);
                        Answer::with(200, car)
                    }
                    Ok(_) => Answer::with(200, car),
                    Err(dataseal_transport::Error::NotFound(cid)) => missing(&cid),
                    Err(e) => Answer::error(500, &e.to_string()),
                }
            }
            "pin/add" => {
                let root = match lookup_arg() {
                    Ok(cid) => cid,
                    Err(answer) => return answer,
                };
                match self.store.pin(&root).await {
                    Ok(()) => Answer::json(&serde_json::json!({"Pins": [cid_text(&root)]})),
                    Err(dataseal_transport::Error::NotFound(cid)) => missing(&cid),
                    Err(dataseal_transport::Error::Incomplete { missing: cid }) => missing(&cid),
                    Err(e) => Answer::error(500, &e.to_string()),
                }
            }
            "pin/rm" => {
                let Some(root) = req.param("arg").and_then(|a| a.parse::<Cid>().ok()) else {
                    return Answer::error(400, "invalid arg");
                };
                if self.store.unpin(&root).await.unwrap() {
                    Answer::json(&serde_json::json!({"Pins": [cid_text(&root)]}))
                } else {
                    Answer::error(500, "not pinned or pinned indirectly")
                }
            }
            "pin/ls" => {
                let keys: serde_json::Map<String, serde_json::Value> = self
                    .store
                    .pins()
                    .await
                    .unwrap()
                    .iter()
                    .map(|c| (cid_text(c), serde_json::json!({"Type": "recursive"})))
                    .collect();
                Answer::json(&serde_json::json!({ "Keys": keys }))
            }
            _ => Answer::with(404, "404 page not found"),
        }
    }
}

async fn fake() -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake {
        store: MemoryStore::new(),
        mode: Mutex::new(Mode::Honest),
        requests: Mutex::new(Vec::new()),
    });
    let handle = fake.clone();
    let url = server::serve(move |req| {
        let fake = handle.clone();
        async move { fake.answer(req).await }
    })
    .await;
    (fake, url)
}

fn btfs(url: &str) -> Client {
    Client::new(url, Capabilities::btfs()).unwrap()
}

fn params(profile: Profile, chunk: u64) -> ImportParams {
    ImportParams::new(profile, chunk).unwrap()
}

// ---- BTFS behaviour ---------------------------------------------------------------

#[tokio::test]
async fn btfs_conformance_suite() {
    let (fake, url) = fake().await;
    conformance::run_all(&btfs(&url)).await;
    let all = fake.requests.lock().unwrap().clone();
    assert!(all.iter().all(|r| r.path.starts_with("/api/v1/")));
    assert!(
        all.iter()
            .all(|r| r.header("user-agent") == Some(USER_AGENT))
    );
}

#[tokio::test]
async fn btfs_add_sends_v_under_api_v1() {
    let (fake, url) = fake().await;
    let client = btfs(&url);
    let data = conformance::pattern(10_000, 1);
    let params = params(Profile::V1RawLeaves, 4096);
    let root = client.add_file(&mut &data[..], &params).await.unwrap();
    assert_eq!(root, import_bytes(&data, &params).root);
    let add = &fake.requests("add")[0];
    assert_eq!(add.path, "/api/v1/add");
    assert_eq!(add.param("v"), Some("1"));
    assert_eq!(add.param("cid-version"), None);
    assert_eq!(add.param("raw-leaves"), Some("true"));
    assert_eq!(add.param("chunker"), Some("size-4096"));
    assert_eq!(add.param("pin"), Some("false"));
    assert!(add.file().unwrap() == data);
}

#[tokio::test]
async fn kubo_parameters_on_a_btfs_node_are_caught() {
    let (_fake, url) = fake().await;
    // The trap: `cid-version` is ignored and the node makes a CIDv0.
    let mut caps = Capabilities::btfs();
    caps.cid_version_param = "cid-version".to_owned();
    let client = Client::new(&url, caps).unwrap();
    let data = conformance::pattern(3000, 2);
    let params = params(Profile::V1RawLeaves, 1024);
    match client.add_file(&mut &data[..], &params).await {
        Err(err @ Error::CidMismatch { .. }) => {
            assert!(err.is_integrity());
            let Error::CidMismatch { expected, got } = err else {
                unreachable!()
            };
            assert_eq!(*expected, import_bytes(&data, &params).root);
            assert_eq!(got.version(), 0);
        }
        other => panic!("expected a CID mismatch, got {other:?}"),
    }

    // Kubo's `cid-codec` is unknown to BTFS's block/put, which stores a CIDv0.
    let mut caps = Capabilities::btfs();
    caps.block_put = BlockPutStyle::CidCodec;
    let client = Client::new(&url, caps).unwrap();
    match client.put_checked(&Block::raw(&b"raw block"[..])).await {
        Err(Error::CidMismatch { got, .. }) => assert_eq!(got.version(), 0),
        other => panic!("expected a CID mismatch, got {other:?}"),
    }

    // Kubo's prefix: BTFS has nothing under /api/v0.
    let client = Client::new(&url, Capabilities::kubo()).unwrap();
    match client.id().await {
        Err(err @ Error::Http { status: 404, .. }) => assert!(err.is_unavailable()),
        other => panic!("expected HTTP 404, got {other:?}"),
    }
}

#[tokio::test]
async fn btfs_block_put_names_the_format() {
    let (fake, url) = fake().await;
    let client = btfs(&url);
    let v1 = import_bytes(
        &conformance::pattern(3000, 3),
        &params(Profile::V1RawLeaves, 1024),
    );
    let v0 = import_bytes(&conformance::pattern(3000, 3), &params(Profile::V0, 1024));
    let raw = &v1.blocks[0];
    let pb_v1 = v1.blocks.last().unwrap();
    let pb_v0 = v0.blocks.last().unwrap();
    for block in [raw, pb_v1, pb_v0] {
        client.put_checked(block).await.unwrap();
        assert_eq!(client.get_checked(block.cid()).await.unwrap(), *block);
    }
    let formats: Vec<String> = fake
        .requests("block/put")
        .iter()
        .map(|r| r.param("format").unwrap().to_owned())
        .collect();
    assert_eq!(formats, ["raw", "protobuf", "v0"]);
    assert!(
        fake.requests("block/put")
            .iter()
            .all(|r| r.param("mhtype") == Some("sha2-256") && r.param("cid-codec").is_none())
    );
    // A dag-json block has no name in the legacy format: refused before sending.
    let before = fake.count();
    let json = Block::new(
        Cid::v1_from_sha256(codec::DAG_JSON, Sha256::digest(b"{}").into()),
        &b"{}"[..],
    )
    .unwrap();
    assert!(matches!(
        client.put_checked(&json).await,
        Err(Error::Unsupported(_))
    ));
    assert_eq!(fake.count(), before);
}

#[tokio::test]
async fn btfs_imports_car_v1_only_and_we_send_v1() {
    let (fake, url) = fake().await;
    let client = btfs(&url);
    let file = import_bytes(
        &conformance::pattern(9000, 4),
        &params(Profile::V1RawLeaves, 1024),
    );
    let mut writer = CarWriter::new(Vec::new(), &[file.root]).await.unwrap();
    for block in &file.blocks {
        writer.write(block).await.unwrap();
    }
    let car = writer.finish().await.unwrap();
    let summary = client.import_car(&mut &car[..]).await.unwrap();
    assert_eq!(summary.blocks, file.blocks.len() as u64);
    let import = &fake.requests("dag/import")[0];
    assert_eq!(import.param("pin-roots"), Some("false"));
    // What reached the node is a CAR v1 holding every block, verified.
    let sent = import.file().unwrap();
    let mut reader = CarReader::new(&sent[..]).await.unwrap().require_complete();
    assert_eq!(reader.roots(), &[file.root]);
    while reader.next_block().await.unwrap().is_some() {}
    client.pin(&file.root).await.unwrap();

    // A CAR v2 is refused by our reader before anything is sent.
    let mut v2 = vec![0x0a, 0xa1, 0x67];
    v2.extend_from_slice(b"version");
    v2.push(0x02);
    v2.extend_from_slice(&[0u8; 40]);
    let before = fake.count();
    match client.import_car_checked(&mut &v2[..]).await {
        Err(Error::Transport(inner)) => {
            assert!(matches!(
                *inner,
                dataseal_transport::Error::Malformed { .. }
            ))
        }
        other => panic!("a CAR v2 gave {other:?}"),
    }
    assert_eq!(fake.count(), before);

    // A node without dag/import gets the blocks one by one.
    let mut caps = Capabilities::btfs();
    caps.max_car_version = 0;
    let (fake, url) = self::fake().await;
    let client = Client::new(&url, caps).unwrap();
    client.import_car(&mut &car[..]).await.unwrap();
    assert!(fake.requests("dag/import").is_empty());
    assert_eq!(fake.requests("block/put").len(), file.blocks.len());
}

#[tokio::test]
async fn a_foreign_go_btfs_user_agent_gets_400_and_ours_is_our_own() {
    let (fake, url) = fake().await;
    let raw = server::http()
        .post(format!("{url}/api/v1/id"))
        .header("user-agent", "/go-btfs/1.0.0/")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let client = btfs(&url);
    client.id().await.unwrap();
    let id = fake.requests("id").pop().unwrap();
    assert_eq!(id.header("user-agent"), Some(USER_AGENT));
    assert!(!USER_AGENT.starts_with("/go-btfs/"));
}

#[tokio::test]
async fn btfs_pins_can_expire_and_lookups_are_offline() {
    let (fake, url) = fake().await;
    let client = btfs(&url);
    let data = conformance::pattern(5000, 5);
    let root = client
        .add_file(&mut &data[..], &params(Profile::V1RawLeaves, 1024))
        .await
        .unwrap();
    client.pin_for(&root, 30).await.unwrap();
    let pin = fake.requests("pin/add").pop().unwrap();
    assert_eq!(pin.param("duration-count"), Some("30"));
    assert_eq!(pin.param("recursive"), Some("true"));
    let kubo = Client::new(&url, Capabilities::kubo()).unwrap();
    assert!(matches!(
        kubo.pin_for(&root, 30).await,
        Err(Error::Unsupported(_))
    ));
    let mut out = Vec::new();
    client.cat(&root, &mut out).await.unwrap();
    client.has(&root).await.unwrap();
    client.export_car(&root, &mut Vec::new()).await.unwrap();
    for command in ["block/get", "block/stat", "pin/add", "dag/export"] {
        let requests = fake.requests(command);
        assert!(!requests.is_empty(), "{command}");
        assert!(
            requests.iter().all(|r| r.param("offline") == Some("true")),
            "{command} without offline=true"
        );
    }
    // Answers without a lookup do not carry it.
    assert!(fake.requests("add")[0].param("offline").is_none());
}

// ---- Bad input ----------------------------------------------------------------------

#[tokio::test]
async fn an_unreachable_node_is_a_typed_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = btfs(&format!("http://127.0.0.1:{port}"));
    let cid = Cid::raw_sha256(b"x");
    match client.get_checked(&cid).await {
        Err(err @ Error::Unreachable { .. }) => assert!(err.is_unavailable()),
        other => panic!("{other:?}"),
    }
    for result in [
        client.get(&cid).await.map(drop),
        client.has(&cid).await.map(drop),
        client.pin(&cid).await,
    ] {
        assert!(
            matches!(result, Err(dataseal_transport::Error::Unavailable(_))),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn http_errors_carry_status_and_message() {
    let (fake, url) = fake().await;
    let client = btfs(&url);
    let cid = Cid::raw_sha256(b"y");
    for status in [400, 403, 500, 503] {
        fake.set(Mode::Status(status));
        match client.stat(&cid).await {
            Err(dataseal_transport::Error::Unavailable(text)) => {
                assert!(text.contains(&status.to_string()), "{text}");
                assert!(text.contains("fake failure"), "{text}");
            }
            other => panic!("{other:?}"),
        }
        match client.version().await {
            Err(Error::Http {
                status: got,
                message,
                ..
            }) => {
                assert_eq!(got, status);
                assert_eq!(message, "fake failure");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn malformed_answers_are_typed_errors() {
    let (fake, url) = fake().await;
    let client = btfs(&url);
    fake.set(Mode::NotJson);
    let cid = Cid::raw_sha256(b"z");
    assert!(matches!(client.id().await, Err(Error::Malformed { .. })));
    assert!(matches!(
        client.put_checked(&Block::raw(&b"z"[..])).await,
        Err(Error::Malformed { .. })
    ));
    assert!(matches!(
        client
            .add_file(&mut &b"z"[..], &ImportParams::default())
            .await,
        Err(Error::Malformed { .. })
    ));
    // Through the trait: the node could not serve (a reader moves on to the next).
    for result in [
        client.has(&cid).await.map(drop),
        client.pins().await.map(drop),
        client.pin(&cid).await,
    ] {
        match result {
            Err(dataseal_transport::Error::Unavailable(text)) => {
                assert!(text.contains("malformed answer"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }
    // A CAR export that is not a CAR.
    assert!(matches!(
        client.export_car_checked(&cid, &mut Vec::new()).await,
        Err(Error::Transport(_))
    ));
}

#[tokio::test]
async fn cids_that_do_not_parse_are_typed_errors() {
    let (fake, url) = fake().await;
    let client = btfs(&url);
    let root = client
        .add_file(&mut &b"pinned"[..], &ImportParams::default())
        .await
        .unwrap();
    client.pin(&root).await.unwrap();
    fake.set(Mode::BadCid);
    match client.put_checked(&Block::raw(&b"q"[..])).await {
        Err(Error::BadCid { text, .. }) => assert_eq!(text, "Qm-this-is-no-cid"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        client
            .add_file(&mut &b"q"[..], &ImportParams::default())
            .await,
        Err(Error::BadCid { .. })
    ));
    assert!(matches!(
        client.pins().await,
        Err(dataseal_transport::Error::Unavailable(_))
    ));
    assert!(matches!(
        client.pins_checked().await,
        Err(Error::BadCid { .. })
    ));
}

#[tokio::test]
async fn answers_naming_other_cids_fail_closed() {
    let (fake, url) = fake().await;
    let client = btfs(&url);
    let block = Block::raw(&b"honest bytes"[..]);
    client.put_checked(&block).await.unwrap();
    fake.set(Mode::WrongCid);
    assert!(matches!(
        client.put_checked(&block).await,
        Err(Error::CidMismatch { .. })
    ));
    assert!(matches!(
        client
            .add_file(&mut &b"data"[..], &ImportParams::default())
            .await,
        Err(Error::CidMismatch { .. })
    ));
    // A stat answer about another block is not an answer about this one.
    assert!(client.has(block.cid()).await.unwrap_err().is_integrity());
}

#[tokio::test]
async fn over_size_blocks_are_refused_both_ways() {
    let (fake, url) = fake().await;
    let client = btfs(&url);
    let big = Block::raw(vec![1u8; (1 << 20) + 1]);
    match client.put_checked(&big).await {
        Err(Error::BlockTooLarge { len, limit }) => {
            assert_eq!((len, limit), ((1 << 20) + 1, 1 << 20));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.count(), 0, "nothing was sent");
    let exactly = Block::raw(vec![2u8; 1 << 20]);
    client.put_checked(&exactly).await.unwrap();

    fake.set(Mode::Oversize);
    match client.get(exactly.cid()).await {
        Err(dataseal_transport::Error::BlockTooLarge { limit, .. }) => assert_eq!(limit, 1 << 20),
        other => panic!("{other:?}"),
    }
    // A caller may raise the limit; the answer is then read, and fails verification.
    let mut caps = Capabilities::btfs();
    caps.max_block_len = 4 << 20;
    let roomy = Client::new(&url, caps).unwrap();
    assert!(matches!(
        roomy.get_checked(exactly.cid()).await,
        Err(Error::Integrity { .. })
    ));
}

#[tokio::test]
async fn corrupted_blocks_never_pass() {
    let (fake, url) = fake().await;
    let client = btfs(&url);
    let block = Block::raw(&b"precious"[..]);
    client.put_checked(&block).await.unwrap();
    fake.set(Mode::Corrupt);
    match client.get(block.cid()).await {
        Err(dataseal_transport::Error::Integrity { cid }) => assert_eq!(cid, *block.cid()),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        client.get_checked(block.cid()).await,
        Err(Error::Integrity { .. })
    ));
}

#[tokio::test]
async fn time_limits_are_the_callers() {
    let (fake, url) = fake().await;
    fake.set(Mode::Slow(Duration::from_secs(3)));
    let client = Client::builder(&url)
        .capabilities(Capabilities::btfs())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    match client.id().await {
        Err(err @ Error::Timeout { .. }) => assert!(err.is_unavailable()),
        other => panic!("{other:?}"),
    }
    // Without a client limit, dropping the future cancels the request.
    let patient = btfs(&url);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), patient.id())
            .await
            .is_err()
    );
    fake.set(Mode::Honest);
    patient.id().await.unwrap();
}

#[test]
fn addresses_that_are_not_http_urls_are_refused() {
    for url in [
        "ftp://127.0.0.1:5001",
        "not a url",
        "127.0.0.1:5001",
        "http://",
        "http://127.0.0.1:5001/?q=1",
    ] {
        assert!(
            matches!(
                Client::new(url, Capabilities::btfs()),
                Err(Error::InvalidUrl { .. })
            ),
            "{url}"
        );
    }
    let client = Client::new("https://node.example:5001/api/v1/", Capabilities::btfs()).unwrap();
    assert_eq!(client.url(), "https://node.example:5001");
}

#[tokio::test]
async fn random_answers_never_panic() {
    // Status and body vary per request, from a fixed seed.
    let seed = Arc::new(Mutex::new(0x9e37_79b9_7f4a_7c15_u64));
    let url = server::serve(move |_req| {
        let seed = seed.clone();
        async move {
            let mut s = seed.lock().unwrap();
            *s ^= *s << 13;
            *s ^= *s >> 7;
            *s ^= *s << 17;
            let status = [200u16, 200, 200, 404, 500][(*s % 5) as usize];
            let len = (*s >> 8) as usize % 300;
            let body: Vec<u8> = conformance::pattern(len, *s);
            let body = if s.is_multiple_of(3) {
                Bytes::from(body)
            } else {
                // Something JSON-shaped around random text.
                Bytes::from(format!(
                    "{{\"Key\":\"{}\",\"Size\":{},\"Pins\":[\"{}\"],\"Hash\":\"x\"}}",
                    String::from_utf8_lossy(&body).escape_default(),
                    *s % 1000,
                    len
                ))
            };
            Answer::with(status, body)
        }
    })
    .await;
    let client = btfs(&url);
    let cid = Cid::raw_sha256(b"r");
    for _ in 0..60 {
        let _ = client.get(&cid).await;
        let _ = client.has(&cid).await;
        let _ = client.stat(&cid).await;
        let _ = client.pin(&cid).await;
        let _ = client.unpin(&cid).await;
        let _ = client.pins().await;
        let _ = client.put(&Block::raw(&b"r"[..])).await;
        let _ = client.add(&mut &b"r"[..], &ImportParams::default()).await;
        let _ = client.export_car(&cid, &mut Vec::new()).await;
        let _ = client.version().await;
    }
}

// ---- Streamed reads (`cat_checked`) ------------------------------------------------

use dataseal_transport::fuzzing::file_node;

/// This process's peak resident memory, where the system says.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn is_malformed_dag(result: &Result<dataseal_btfs::CatSummary, Error>) -> bool {
    matches!(result, Err(Error::Transport(e)) if matches!(**e, dataseal_transport::Error::Malformed { .. }))
}

#[tokio::test]
async fn a_streamed_read_never_trusts_a_stat_size() {
    let (fake, url) = fake().await;
    let (_good, good_url) = self::fake().await;
    let liar = btfs(&url);
    let good = btfs(&good_url);
    let block = Block::raw(conformance::pattern(5000, 40));
    liar.put_checked(&block).await.unwrap();
    good.put_checked(&block).await.unwrap();
    for size in [u64::MAX, 1 << 62, 8 << 30, (1 << 20) + 1] {
        fake.set(Mode::StatSize(size));
        let mut out = Vec::new();
        match liar.cat_checked(block.cid(), &mut out).await {
            Err(err @ Error::Malformed { .. }) => {
                assert!(err.to_string().contains(&size.to_string()), "{err}");
                // Through the trait, a bad answer like any other: the next store is asked.
                assert!(matches!(
                    dataseal_transport::Error::from(err),
                    dataseal_transport::Error::Unavailable(_)
                ));
            }
            other => panic!("{size}: {other:?}"),
        }
        assert!(out.is_empty());
        assert!(fake.requests("cat").is_empty(), "nothing streamed");
        // The fallback: a block-by-block read from the liar, then the good store.
        let mut read = VerifiedRead::new(*block.cid());
        let mut out = Vec::new();
        read.run(&[&liar, &good], &mut out).await.unwrap();
        assert!(out == block.data()[..]);
        let mut out = Vec::new();
        good.cat_checked(block.cid(), &mut out).await.unwrap();
        assert!(out == block.data()[..]);
    }
    // Within the limit the size is a hint: the verified bytes of the stream decide.
    for size in [0, 1, 4999, 5001, 1 << 20] {
        fake.set(Mode::StatSize(size));
        let mut out = Vec::new();
        let summary = liar.cat_checked(block.cid(), &mut out).await.unwrap();
        assert!(out == block.data()[..], "{size}");
        assert_eq!((summary.bytes, summary.blocks), (5000, 1));
    }
}

#[tokio::test]
async fn a_dag_repeating_one_child_is_read_in_bounded_memory_and_time() {
    let started = std::time::Instant::now();
    let (fake, url) = fake().await;
    let client = btfs(&url);
    // A root with 20,000 links to one node, whose 20,000 links all point at one empty raw
    // leaf: 4·10^8 leaves, no bytes. Only the root is needed.
    let empty = Block::raw(&b""[..]);
    let child = file_node(&vec![(*empty.cid(), 0); 20_000], None);
    let root = file_node(&vec![(*child.cid(), 0); 20_000], None);
    assert!(root.len() < 1 << 20 && child.len() < 1 << 20);
    for block in [&empty, &child, &root] {
        fake.store.put(block).await.unwrap();
    }
    let mut out = Vec::new();
    let summary = client.cat_checked(root.cid(), &mut out).await.unwrap();
    assert!(out.is_empty());
    assert_eq!((summary.bytes, summary.blocks), (0, 1));
    assert_eq!(fake.requests("block/get").len(), 1);
    assert!(fake.requests("cat").is_empty());

    // The same shape with one byte under every leaf: every leaf is needed, and the
    // repeated node is fetched once.
    let (fake, url) = self::fake().await;
    let client = btfs(&url);
    let x = Block::raw(&b"x"[..]);
    let child = file_node(&vec![(*x.cid(), 1); 500], None);
    let root = file_node(&vec![(*child.cid(), 500); 500], None);
    for block in [&x, &child, &root] {
        fake.store.put(block).await.unwrap();
    }
    let mut out = Vec::new();
    let summary = client.cat_checked(root.cid(), &mut out).await.unwrap();
    assert_eq!(out.len(), 250_000);
    assert!(out.iter().all(|&b| b == b'x'));
    assert_eq!((summary.bytes, summary.blocks), (250_000, 2 + 250_000));
    assert_eq!(fake.requests("block/get").len(), 2);

    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    // Materialising the 4·10^8 leaves would take tens of GiB.
    if let Some(peak) = peak_rss() {
        assert!(peak < 1 << 30, "peak resident memory {peak} bytes");
    }
}

#[tokio::test]
async fn a_dag_whose_sizes_do_not_add_up_is_refused_as_malformed() {
    let (fake, url) = fake().await;
    let client = btfs(&url);
    let a = Block::raw(&b"abcd"[..]);
    let b = Block::raw(&b"efg"[..]);
    let mid = file_node(&[(*a.cid(), 4), (*b.cid(), 3)], None);
    for block in [&a, &b, &mid] {
        fake.store.put(block).await.unwrap();
    }
    // `filesize` disagrees with the `blocksizes`; `blocksizes` that overflow; a child
    // holding other than its parent says; a DAG deeper than any importer makes.
    let mut deep = file_node(&[(*a.cid(), 4)], None);
    fake.store.put(&deep).await.unwrap();
    for _ in 0..40 {
        deep = file_node(&[(*deep.cid(), 4)], None);
        fake.store.put(&deep).await.unwrap();
    }
    let refused = [
        file_node(&[(*a.cid(), 4), (*b.cid(), 3)], Some(10)),
        file_node(&[(*a.cid(), 4), (*b.cid(), 3)], Some(6)),
        file_node(&[(*a.cid(), u64::MAX), (*b.cid(), 3)], None),
        file_node(&[(*mid.cid(), 8)], None),
        file_node(&[(*mid.cid(), 6)], None),
        deep,
    ];
    for root in &refused {
        fake.store.put(root).await.unwrap();
        let mut out = Vec::new();
        let result = client.cat_checked(root.cid(), &mut out).await;
        assert!(is_malformed_dag(&result), "{result:?}");
        assert!(out.is_empty());
    }
    assert!(fake.requests("cat").is_empty(), "refused before streaming");

    // Found after a good leaf: that leaf, verified, is all that was written.
    let late = file_node(&[(*a.cid(), 4), (*mid.cid(), 8)], None);
    fake.store.put(&late).await.unwrap();
    let mut out = Vec::new();
    let result = client.cat_checked(late.cid(), &mut out).await;
    assert!(is_malformed_dag(&result), "{result:?}");
    assert!(out.is_empty() || out == b"abcd");

    // A raw leaf said to be longer than a block can be.
    for size in [(1 << 20) + 1, 8 << 30, 1 << 62] {
        let root = file_node(&[(*a.cid(), size)], None);
        fake.store.put(&root).await.unwrap();
        match client.cat_checked(root.cid(), &mut Vec::new()).await {
            Err(Error::BlockTooLarge { len, limit }) => {
                assert_eq!((len, limit), (size, 1 << 20));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn good_dags_are_streamed_byte_exact() {
    let (fake, url) = fake().await;
    let client = btfs(&url);
    let params = params(Profile::V1RawLeaves, 1024);
    for len in [
        0,
        1,
        1023,
        1024,
        1025,
        174 * 1024,
        174 * 1024 + 1,
        200 * 1024 + 17,
    ] {
        let data = conformance::pattern(len, 41);
        let root = client.add_file(&mut &data[..], &params).await.unwrap();
        let mut out = Vec::new();
        let summary = client.cat_checked(&root, &mut out).await.unwrap();
        assert!(out == data, "{len}");
        assert_eq!(summary.bytes, len as u64);
        assert_eq!(
            summary.blocks,
            import_bytes(&data, &params).blocks.len() as u64
        );
    }

    // Three levels of uneven nodes, with children holding no bytes between them.
    let a = Block::raw(&b"abcd"[..]);
    let b = Block::raw(&b"efg"[..]);
    let empty = Block::raw(&b""[..]);
    let hollow = file_node(&[(*empty.cid(), 0)], None);
    let mid = file_node(&[(*a.cid(), 4), (*empty.cid(), 0), (*b.cid(), 3)], None);
    let upper = file_node(&[(*mid.cid(), 7), (*a.cid(), 4), (*hollow.cid(), 0)], None);
    let root = file_node(&[(*upper.cid(), 11), (*b.cid(), 3), (*mid.cid(), 7)], None);
    for block in [&a, &b, &empty, &hollow, &mid, &upper, &root] {
        fake.store.put(block).await.unwrap();
    }
    let mut out = Vec::new();
    let summary = client.cat_checked(root.cid(), &mut out).await.unwrap();
    assert_eq!(out, b"abcdefgabcdefgabcdefg");
    assert_eq!(summary.bytes, 21);
    // The verified reader reads the same bytes.
    let mut blockwise = Vec::new();
    VerifiedRead::new(*root.cid())
        .run(&[&client], &mut blockwise)
        .await
        .unwrap();
    assert_eq!(out, blockwise);
}

#[tokio::test]
async fn a_streamed_read_refuses_dag_pb_leaves_before_writing() {
    let (fake, url) = fake().await;
    let client = btfs(&url);
    let data = conformance::pattern(3000, 42);
    let v0 = client
        .add_file(&mut &data[..], &params(Profile::V0, 1024))
        .await
        .unwrap();
    let mut out = Vec::new();
    assert!(matches!(
        client.cat_checked(&v0, &mut out).await,
        Err(Error::Unsupported(_))
    ));
    assert!(out.is_empty());

    // A dag-pb leaf after a raw one: found once bytes were written, so not "unsupported"
    // (which promises nothing was written) but malformed for this read.
    let leaf = import_bytes(b"inline", &params(Profile::V0, 1024));
    for block in &leaf.blocks {
        fake.store.put(block).await.unwrap();
    }
    assert_eq!(
        FileNode::decode(leaf.blocks.last().unwrap())
            .unwrap()
            .file_size(),
        6
    );
    let a = Block::raw(conformance::pattern(40_000, 43));
    fake.store.put(&a).await.unwrap();
    let first = file_node(&[(leaf.root, 6), (*a.cid(), 40_000)], None);
    let later = file_node(&[(*a.cid(), 40_000), (leaf.root, 6)], None);
    for block in [&first, &later] {
        fake.store.put(block).await.unwrap();
    }
    let mut out = Vec::new();
    assert!(matches!(
        client.cat_checked(first.cid(), &mut out).await,
        Err(Error::Unsupported(_))
    ));
    assert!(out.is_empty());
    let mut out = Vec::new();
    let result = client.cat_checked(later.cid(), &mut out).await;
    if out.is_empty() {
        assert!(matches!(result, Err(Error::Unsupported(_))), "{result:?}");
    } else {
        assert!(out == a.data()[..]);
        assert!(is_malformed_dag(&result), "{result:?}");
    }
}

#[tokio::test]
async fn a_stat_size_over_the_block_limit_is_a_bad_answer() {
    let (fake, url) = fake().await;
    let client = btfs(&url);
    let block = Block::raw(conformance::pattern(3000, 44));
    client.put_checked(&block).await.unwrap();
    for size in [u64::MAX, 1 << 62, 8 << 30, (1 << 20) + 1] {
        fake.set(Mode::StatSize(size));
        match client.stat_checked(block.cid()).await {
            Err(err @ Error::Malformed { .. }) => {
                assert!(err.to_string().contains(&size.to_string()), "{err}");
            }
            other => panic!("{size}: {other:?}"),
        }
        // Through the trait, a bad answer like any other: the node could not serve.
        assert!(matches!(
            client.stat(block.cid()).await,
            Err(dataseal_transport::Error::Unavailable(_))
        ));
        assert!(matches!(
            client.has(block.cid()).await,
            Err(dataseal_transport::Error::Unavailable(_))
        ));
        // Reading the block itself does not depend on the stat answer.
        assert_eq!(client.get_checked(block.cid()).await.unwrap(), block);
    }
    // Within the limit the node's number is passed on, as a hint.
    for size in [0, 2999, 3000, 1 << 20] {
        fake.set(Mode::StatSize(size));
        assert_eq!(client.stat_checked(block.cid()).await.unwrap(), size);
        assert!(client.has(block.cid()).await.unwrap());
    }
}

#[tokio::test]
async fn the_repeated_child_dag_through_every_walker_over_a_node() {
    let started = std::time::Instant::now();
    let (fake, url) = fake().await;
    let client = btfs(&url);
    let empty = Block::raw(&b""[..]);
    let child = file_node(&vec![(*empty.cid(), 0); 20_000], None);
    let root = file_node(&vec![(*child.cid(), 0); 20_000], None);
    for block in [&empty, &child, &root] {
        fake.store.put(block).await.unwrap();
    }
    // The node's CAR export: each distinct block once, checked as it streams.
    let mut car = Vec::new();
    let summary = client
        .export_car_checked(root.cid(), &mut car)
        .await
        .unwrap();
    assert_eq!(summary.blocks, 3);
    let mut reader = CarReader::new(&car[..]).await.unwrap().require_rooted();
    let mut read = Vec::new();
    while let Some(block) = reader.next_block().await.unwrap() {
        read.push(block);
    }
    assert_eq!(read, vec![root.clone(), child.clone(), empty.clone()]);
    // The node pins it (its own completeness walk).
    client.pin_checked(root.cid()).await.unwrap();
    // Copied off the node block by block, and onto it.
    let local = MemoryStore::new();
    let report = dataseal_transport::upload(&client, &local, root.cid())
        .await
        .unwrap();
    assert_eq!(report.uploaded, 3);
    assert_eq!(fake.requests("block/get").len(), 3);
    let (_other, other_url) = self::fake().await;
    let other = btfs(&other_url);
    let report = dataseal_transport::upload(&local, &other, root.cid())
        .await
        .unwrap();
    assert_eq!(report.uploaded, 3);
    // The verified reader: no leaf holds a byte, only the root is read.
    let mut out = Vec::new();
    VerifiedRead::new(*root.cid())
        .run(&[&client], &mut out)
        .await
        .unwrap();
    assert!(out.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    if let Some(peak) = peak_rss() {
        assert!(peak < 1 << 30, "peak resident memory {peak} bytes");
    }
}

#[tokio::test]
async fn a_car_export_holds_the_dag_under_its_root_and_nothing_else() {
    let (fake, url) = fake().await;
    let client = btfs(&url);
    let data = conformance::pattern(5000, 45);
    let root = client
        .add_file(&mut &data[..], &params(Profile::V1RawLeaves, 1024))
        .await
        .unwrap();
    let mut honest = Vec::new();
    client.export_car_checked(&root, &mut honest).await.unwrap();
    for mode in [Mode::ExportStranger, Mode::ExportTwice] {
        fake.set(mode);
        let mut out = Vec::new();
        match client.export_car_checked(&root, &mut out).await {
            Err(Error::Transport(e)) => {
                assert!(
                    matches!(*e, dataseal_transport::Error::Malformed { .. }),
                    "{mode:?}: {e}"
                );
            }
            other => panic!("{mode:?}: {other:?}"),
        }
        // What was written is the honest export, never the block outside it.
        assert!(honest.starts_with(&out), "{mode:?}");
    }
    // Sizes that do not add up, exported by the node: refused as they arrive.
    fake.set(Mode::Honest);
    let a = Block::raw(&b"abcd"[..]);
    for size in [u64::MAX, 1 << 62, 8 << 30, 5] {
        let bad = file_node(&[(*a.cid(), size)], None);
        for block in [&a, &bad] {
            fake.store.put(block).await.unwrap();
        }
        // Copied off the node, or pinned by it (its own walk): refused.
        let local = MemoryStore::new();
        let result = dataseal_transport::upload(&client, &local, bad.cid()).await;
        assert!(
            matches!(result, Err(dataseal_transport::Error::Malformed { .. })),
            "{size}: {result:?}"
        );
        let result = client.pin(bad.cid()).await;
        assert!(result.is_err(), "{size}: {result:?}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { cases: 48, ..Default::default() })]

    /// Whatever a node answers to `block/stat`, `block/get` and `cat` (blocks that hash
    /// right but hold anything, sizes of any value, streams of any bytes), a streamed read
    /// returns, and writes nothing it has not verified.
    #[test]
    fn streamed_reads_never_panic_on_arbitrary_answers(
        node in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        leaves in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40), 0..4),
        sizes in proptest::collection::vec(proptest::prop_oneof![proptest::prelude::any::<u64>(), 0u64..50], 0..5),
        filesize in proptest::option::of(proptest::prop_oneof![proptest::prelude::any::<u64>(), 0u64..200]),
        stat in proptest::prop_oneof![proptest::prelude::any::<u64>(), 0u64..50],
        stat_json in proptest::prelude::any::<bool>(),
        stream in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        honest_stream in proptest::prelude::any::<bool>(),
    ) {
        let leaves: Vec<Block> = leaves.into_iter().map(Block::raw).collect();
        let children: Vec<(Cid, u64)> = leaves
            .iter()
            .enumerate()
            .map(|(i, l)| (*l.cid(), sizes.get(i).copied().unwrap_or(l.len() as u64)))
            .collect();
        let structured = file_node(&children, filesize);
        let pb_digest: [u8; 32] = Sha256::digest(&node).into();
        let arbitrary = Block::new(Cid::v1_from_sha256(codec::DAG_PB, pb_digest), node.clone()).unwrap();
        let raw = Block::raw(node);
        let mut blocks: std::collections::HashMap<Cid, Bytes> = leaves
            .iter()
            .chain([&structured, &arbitrary, &raw])
            .map(|b| (*b.cid(), b.data().clone()))
            .collect();
        blocks.shrink_to_fit();
        let concatenated: Vec<u8> = leaves.iter().flat_map(|l| l.data().to_vec()).collect();
        let cat: Bytes = if honest_stream { concatenated.into() } else { stream.into() };
        let stat_body: Bytes = if stat_json {
            Bytes::new()
        } else {
            Bytes::from(String::from_utf8_lossy(&cat).into_owned())
        };
        let blocks = Arc::new(blocks);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let url = server::serve(move |req| {
                let blocks = blocks.clone();
                let (cat, stat_body) = (cat.clone(), stat_body.clone());
                async move {
                    let arg: Option<Cid> = req.param("arg").and_then(|a| a.parse().ok());
                    let command = req.path.rsplit('/').next().unwrap_or_default().to_owned();
                    let held = arg.and_then(|c| blocks.get(&c).cloned());
                    match (command.as_str(), arg, held) {
                        ("get", _, Some(data)) => Answer::with(200, data),
                        ("get", _, None) => Answer::with(200, cat),
                        ("stat", Some(cid), _) if stat_body.is_empty() => Answer::json(
                            &serde_json::json!({"Key": cid.to_string(), "Size": stat}),
                        ),
                        ("stat", _, _) => Answer::with(200, stat_body),
                        ("cat", _, _) => Answer::with(200, cat),
                        _ => Answer::error(500, "fake: unknown command"),
                    }
                }
            })
            .await;
            let client = btfs(&url);
            for root in [&structured, &arbitrary, &raw] {
                let mut out = Vec::new();
                if client.cat_checked(root.cid(), &mut out).await.is_ok() {
                    let mut read = VerifiedRead::new(*root.cid());
                    let mut expected = Vec::new();
                    read.run(&[&client], &mut expected).await.unwrap();
                    assert!(out == expected);
                }
            }
        });
    }
}
