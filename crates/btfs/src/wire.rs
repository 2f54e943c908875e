//! The shapes of node answers, parsed strictly, and the request body that streams.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use dataseal_base::Cid;
use http_body::{Body, Frame, SizeHint};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::Error;

/// Whether two CIDs name the same bytes: same codec and digest (a CIDv0 and the CIDv1
/// dag-pb CID with its digest are the same block).
pub(crate) fn same_block(a: &Cid, b: &Cid) -> bool {
    a.codec() == b.codec() && a.sha256_digest() == b.sha256_digest()
}

/// Parses a CID a node sent, in any multibase.
pub(crate) fn parse_cid(endpoint: &str, text: &str) -> Result<Cid, Error> {
    text.parse()
        .map_err(|e: dataseal_base::Error| Error::BadCid {
            endpoint: endpoint.to_owned(),
            text: text.chars().take(200).collect(),
            detail: e.to_string(),
        })
}

fn json<'a, T: Deserialize<'a>>(endpoint: &str, body: &'a [u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::malformed(endpoint, e.to_string()))
}

/// The error text of a failed call: the node's `{"Message": …}`, or the start of
/// whatever it sent.
pub(crate) fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct NodeError {
        #[serde(rename = "Message")]
        message: String,
    }
    if let Ok(err) = serde_json::from_slice::<NodeError>(body) {
        return err.message;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(no message)".to_owned();
    }
    text.chars().take(300).collect()
}

/// Whether a node's error message says it does not hold a block. With `timed`, a
/// timed-out lookup (of a node that waits for missing blocks) counts too.
pub(crate) fn says_missing(message: &str, timed: bool) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("not found") || m.contains("could not find") || (timed && m.contains("timed out"))
}

/// Whether a node's error message says a root is not pinned.
pub(crate) fn says_not_pinned(message: &str) -> bool {
    message.to_ascii_lowercase().contains("not pinned")
}

/// The first word of a message that parses as a CID (Kubo names the missing block).
pub(crate) fn cid_in(message: &str) -> Option<Cid> {
    message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| word.len() >= 46)
        .find_map(|word| word.parse().ok())
}

/// `block/put` and `block/stat`: `{"Key": CID, "Size": n}`.
pub(crate) fn key_and_size(endpoint: &str, body: &[u8]) -> Result<(Cid, u64), Error> {
    #[derive(Deserialize)]
    struct KeySize {
        #[serde(rename = "Key")]
        key: String,
        #[serde(rename = "Size")]
        size: u64,
    }
    let answer: KeySize = json(endpoint, body)?;
    Ok((parse_cid(endpoint, &answer.key)?, answer.size))
}

/// `add`: one JSON object per line; the file's line carries `Hash`, progress lines do
/// not, an error line has `"Type": "error"`. Exactly one `Hash` is expected (one file,
/// not wrapped in a directory).
pub(crate) fn added_root(endpoint: &str, body: &[u8]) -> Result<Cid, Error> {
    #[derive(Deserialize)]
    struct Line {
        #[serde(rename = "Hash")]
        hash: Option<String>,
        #[serde(rename = "Type")]
        kind: Option<String>,
        #[serde(rename = "Message")]
        message: Option<String>,
    }
    let mut root = None;
    for line in body.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line: Line = json(endpoint, line)?;
        if line.kind.as_deref() == Some("error") {
            return Err(Error::Http {
                endpoint: endpoint.to_owned(),
                status: 200,
                message: line.message.unwrap_or_default(),
            });
        }
        if let Some(hash) = line.hash {
            if root.is_some() {
                return Err(Error::malformed(
                    endpoint,
                    "more than one root for one file",
                ));
            }
            root = Some(parse_cid(endpoint, &hash)?);
        }
    }
    root.ok_or_else(|| Error::malformed(endpoint, "no root CID in the answer"))
}

/// `pin/add` and `pin/rm`: `{"Pins": [CID…]}`.
pub(crate) fn pins(endpoint: &str, body: &[u8]) -> Result<Vec<Cid>, Error> {
    #[derive(Deserialize)]
    struct Pins {
        #[serde(rename = "Pins")]
        pins: Option<Vec<String>>,
    }
    let answer: Pins = json(endpoint, body)?;
    answer
        .pins
        .unwrap_or_default()
        .iter()
        .map(|text| parse_cid(endpoint, text))
        .collect()
}

/// `pin/ls`: `{"Keys": {CID: {"Type": …}}}`.
pub(crate) fn pin_keys(endpoint: &str, body: &[u8]) -> Result<Vec<Cid>, Error> {
    #[derive(Deserialize)]
    struct Keys {
        #[serde(rename = "Keys")]
        keys: Option<BTreeMap<String, serde_json::Value>>,
    }
    let answer: Keys = json(endpoint, body)?;
    answer
        .keys
        .unwrap_or_default()
        .keys()
        .map(|text| parse_cid(endpoint, text))
        .collect()
}

/// `id`: the node's peer id.
pub(crate) fn peer_id(endpoint: &str, body: &[u8]) -> Result<String, Error> {
    #[derive(Deserialize)]
    struct Id {
        #[serde(rename = "ID")]
        id: String,
    }
    Ok(json::<Id>(endpoint, body)?.id)
}

/// `version`.
pub(crate) fn version(endpoint: &str, body: &[u8]) -> Result<crate::NodeVersion, Error> {
    json(endpoint, body)
}

/// Checks that an answer without a documented body (`dag/import` without pinning) holds
/// no error line.
pub(crate) fn no_error_lines(endpoint: &str, body: &[u8]) -> Result<(), Error> {
    for line in body.split(|&b| b == b'\n') {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(line)
            && value.get("Type").and_then(serde_json::Value::as_str) == Some("error")
        {
            return Err(Error::Http {
                endpoint: endpoint.to_owned(),
                status: 200,
                message: value
                    .get("Message")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
    }
    Ok(())
}

/// A request body fed through a channel, so a borrowed reader (the file being added, a
/// CAR being imported) can be streamed by a future running beside the request. An `Err`
/// sent into the channel aborts the request.
#[derive(Debug)]
pub(crate) struct ChannelBody {
    rx: mpsc::Receiver<Result<Bytes, io::Error>>,
}

impl ChannelBody {
    /// A body and the sender that feeds it; `depth` chunks may wait in between.
    pub(crate) fn new(depth: usize) -> (mpsc::Sender<Result<Bytes, io::Error>>, Self) {
        let (tx, rx) = mpsc::channel(depth);
        (tx, Self { rx })
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|item| item.map(|chunk| chunk.map(Frame::data)))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const E: &str = "test";

    #[test]
    fn shapes() {
        let (cid, size) = key_and_size(
            E,
            br#"{"Key":"bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq","Size":5}"#,
        )
        .unwrap();
        assert_eq!(cid, Cid::raw_sha256(b"hello"));
        assert_eq!(size, 5);
        // Any multibase.
        let (v1_58, _) = key_and_size(
            E,
            br#"{"Key":"zb2rhZfjRh2FHHB2RkHVEvL2vJnCTcu7kwRqgVsf9gpkLgteo","Size":5}"#,
        )
        .unwrap();
        assert_eq!(v1_58, cid);
        let root = added_root(
            E,
            b"{\"Name\":\"\",\"Bytes\":1024}\n{\"Name\":\"blob\",\"Hash\":\"bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq\",\"Size\":\"5\"}\n",
        )
        .unwrap();
        assert_eq!(root, cid);
        assert!(matches!(
            added_root(E, b"{\"Name\":\"x\"}\n"),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            added_root(E, b"{\"Message\":\"boom\",\"Code\":0,\"Type\":\"error\"}\n"),
            Err(Error::Http { status: 200, .. })
        ));
        assert!(matches!(
            added_root(E, b"{\"Hash\":\"Qm-not-a-cid\"}"),
            Err(Error::BadCid { .. })
        ));
        assert_eq!(
            pin_keys(E, br#"{"Keys":{"bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq":{"Type":"recursive"}}}"#).unwrap(),
            vec![cid]
        );
        assert_eq!(pin_keys(E, br#"{"Keys":{}}"#).unwrap(), vec![]);
        assert_eq!(error_message(br#"{"Message":"boom","Code":0}"#), "boom");
        assert_eq!(
            error_message(b"  404 page not found\n"),
            "404 page not found"
        );
        assert_eq!(error_message(b""), "(no message)");
    }

    #[test]
    fn messages() {
        let missing = "block was not found locally (offline): ipld: could not find bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq";
        assert!(says_missing(missing, false));
        assert_eq!(cid_in(missing), Some(Cid::raw_sha256(b"hello")));
        assert!(!says_missing(
            "Failed to get block: request timed out",
            false
        ));
        assert!(says_missing("Failed to get block: request timed out", true));
        assert!(says_not_pinned("Failed to remove pin: bafy… is not pinned"));
        assert_eq!(cid_in("nothing here"), None);
    }

    proptest! {
        /// No answer, however malformed, makes a parser panic.
        #[test]
        fn parsers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = key_and_size(E, &body);
            let _ = added_root(E, &body);
            let _ = pins(E, &body);
            let _ = pin_keys(E, &body);
            let _ = peer_id(E, &body);
            let _ = version(E, &body);
            let _ = no_error_lines(E, &body);
            let text = error_message(&body);
            let _ = says_missing(&text, true);
            let _ = cid_in(&text);
        }

        #[test]
        fn json_shaped_answers_never_panic(key in ".{0,80}", size in any::<i64>()) {
            let body = serde_json::json!({"Key": key, "Size": size, "Hash": key, "Pins": [key], "Keys": {key.clone(): {}}}).to_string();
            let _ = key_and_size(E, body.as_bytes());
            let _ = added_root(E, body.as_bytes());
            let _ = pins(E, body.as_bytes());
            let _ = pin_keys(E, body.as_bytes());
        }
    }
}
