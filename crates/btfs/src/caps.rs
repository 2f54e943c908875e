use std::time::Duration;

use serde::Deserialize;

/// How a node's `block/put` is told the codec and CID version of a block.
///
/// Each style is sent exactly as below, with `mhtype=sha2-256`; whatever the node
/// answers is compared with the block's own CID, so a wrong style fails loudly
/// ([`Error::CidMismatch`](crate::Error::CidMismatch)) rather than storing a block under
/// another address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlockPutStyle {
    /// Kubo 0.16 and later: `cid-codec=raw|dag-pb|dag-cbor|dag-json` (a CIDv1), and the
    /// legacy `format=v0` for a CIDv0.
    CidCodec,
    /// go-ipfs before 0.16 and BTFS: `format=raw|protobuf|cbor` (a CIDv1) or `format=v0`
    /// (a CIDv0). BTFS has no `cid-codec`.
    Format,
    /// js-ipfs: `format=raw|dag-pb|dag-cbor|dag-json` with `version=0|1`. js-ipfs ignores
    /// `cid-codec` and would store every block as dag-pb.
    FormatAndVersion,
}

/// What a node does when asked for a block it does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MissingBlocks {
    /// Every lookup is sent with `offline=true`, so the node answers "not found" at once
    /// instead of searching the network (Kubo, BTFS). A store is asked for what it holds,
    /// never to fetch it from elsewhere.
    Offline,
    /// The node waits for a missing block (js-ipfs waits even when started offline), so
    /// every lookup carries the node's `timeout` parameter: a lookup of one block
    /// (`get`, `has`, `stat`) that times out after `block` means "not held"; a DAG lookup
    /// (pin, CAR export) that times out after `dag` means "incomplete".
    WaitUpTo {
        /// The limit for one block.
        block: Duration,
        /// The limit for a whole DAG.
        dag: Duration,
    },
}

/// What a node's RPC API looks like: the differences between BTFS, Kubo and js-ipfs that
/// change requests or answers.
///
/// Start from a preset and change what differs:
///
/// ```
/// use dataseal_btfs::{BlockPutStyle, Capabilities};
///
/// let mut caps = Capabilities::btfs();
/// assert_eq!(caps.api_prefix, "/api/v1");
/// assert_eq!(caps.cid_version_param, "v");
/// assert_eq!(caps.block_put, BlockPutStyle::Format);
/// assert_eq!(caps.max_car_version, 1);
/// caps.max_block_len = 512 * 1024;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Capabilities {
    /// The path every command sits under: `/api/v0` (Kubo, js-ipfs) or `/api/v1` (BTFS).
    pub api_prefix: String,
    /// The name of `add`'s CID-version parameter: `cid-version` (Kubo, js-ipfs) or `v`
    /// (BTFS, whose `add` silently ignores `cid-version` over HTTP).
    pub cid_version_param: String,
    /// How `block/put` takes the codec.
    pub block_put: BlockPutStyle,
    /// The highest CAR version `dag/import` accepts (BTFS: 1); 0 if the node has no
    /// `dag/import`, in which case CAR imports go block by block. dataseal always sends
    /// CAR v1, and reads the node's `dag/export` (CAR v1 on every node).
    pub max_car_version: u8,
    /// The name of `pin/add`'s duration parameter (days), if the node's pins can expire
    /// (BTFS: `duration-count`).
    pub pin_duration_param: Option<String>,
    /// The largest block sent to or accepted from the node: 1 MiB, the largest block
    /// Kubo's and BTFS's `block/put` take and every generation exchanges.
    pub max_block_len: usize,
    /// How lookups of blocks the node may not hold are bounded.
    pub missing_blocks: MissingBlocks,
}

/// 1 MiB: the largest block in every preset.
const ONE_MIB: usize = 1 << 20;

impl Capabilities {
    /// A Kubo node (0.16 or later): `/api/v0`, `cid-version`, `cid-codec`, CAR v1 and
    /// v2 imports, pins without expiry, 1 MiB blocks, offline lookups.
    #[must_use]
    pub fn kubo() -> Self {
        Self {
            api_prefix: "/api/v0".to_owned(),
            cid_version_param: "cid-version".to_owned(),
            block_put: BlockPutStyle::CidCodec,
            max_car_version: 2,
            pin_duration_param: None,
            max_block_len: ONE_MIB,
            missing_blocks: MissingBlocks::Offline,
        }
    }

    /// A BTFS node: `/api/v1`, `v` for the CID version, `format` for `block/put`, CAR v1
    /// imports only, pins that expire after `duration-count` days, 1 MiB blocks,
    /// offline lookups.
    #[must_use]
    pub fn btfs() -> Self {
        Self {
            api_prefix: "/api/v1".to_owned(),
            cid_version_param: "v".to_owned(),
            block_put: BlockPutStyle::Format,
            max_car_version: 1,
            pin_duration_param: Some("duration-count".to_owned()),
            max_block_len: ONE_MIB,
            missing_blocks: MissingBlocks::Offline,
        }
    }

    /// A js-ipfs node (0.66): Kubo's `/api/v0` and `cid-version`, `format` with
    /// `version` for `block/put`, CAR v1 imports, 1 MiB blocks, and lookups bounded by
    /// time (2 s for a block, 30 s for a DAG), since js-ipfs waits for missing blocks.
    #[must_use]
    pub fn js_ipfs() -> Self {
        Self {
            api_prefix: "/api/v0".to_owned(),
            cid_version_param: "cid-version".to_owned(),
            block_put: BlockPutStyle::FormatAndVersion,
            max_car_version: 1,
            pin_duration_param: None,
            max_block_len: ONE_MIB,
            missing_blocks: MissingBlocks::WaitUpTo {
                block: Duration::from_secs(2),
                dag: Duration::from_secs(30),
            },
        }
    }

    /// The capabilities of a node speaking the Kubo API (`/api/v0`), from what its
    /// `version` command answered: js-ipfs, go-ipfs before 0.16 (legacy `block/put`
    /// format) or Kubo.
    #[must_use]
    pub fn kubo_compatible(version: &NodeVersion) -> Self {
        if version.is_js_ipfs() {
            return Self::js_ipfs();
        }
        let mut caps = Self::kubo();
        if version.is_go() && version.older_than(0, 16) {
            caps.block_put = BlockPutStyle::Format;
            caps.max_car_version = 1;
        }
        caps
    }
}

/// What a node's `version` command answers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[non_exhaustive]
pub struct NodeVersion {
    /// The implementation's version (`0.18.1` for js-ipfs 0.66, whose core is 0.18).
    #[serde(rename = "Version", default)]
    pub version: String,
    /// The Go toolchain a Go node was built with (Kubo, go-ipfs, BTFS).
    #[serde(rename = "Golang", default)]
    pub golang: Option<String>,
    /// The `ipfs-core` version js-ipfs reports.
    #[serde(rename = "ipfs-core", default)]
    pub js_core: Option<String>,
}

impl NodeVersion {
    /// Whether the node is js-ipfs.
    #[must_use]
    pub fn is_js_ipfs(&self) -> bool {
        self.js_core.is_some()
    }

    /// Whether the node is written in Go.
    #[must_use]
    pub fn is_go(&self) -> bool {
        self.golang.is_some()
    }

    /// Whether the version is below `major.minor` (false if it does not parse).
    fn older_than(&self, major: u64, minor: u64) -> bool {
        let mut parts = self
            .version
            .split(|c: char| !c.is_ascii_digit())
            .map(str::parse::<u64>);
        match (parts.next(), parts.next()) {
            (Some(Ok(a)), Some(Ok(b))) => (a, b) < (major, minor),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(json: &str) -> NodeVersion {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn presets_follow_the_node() {
        let js = version(r#"{"Version":"0.18.1","Commit":"","Repo":"12","ipfs-core":"0.18.1"}"#);
        assert_eq!(Capabilities::kubo_compatible(&js), Capabilities::js_ipfs());
        let kubo = version(r#"{"Version":"0.29.0","Commit":"3f0947b","Golang":"go1.22.4"}"#);
        assert_eq!(Capabilities::kubo_compatible(&kubo), Capabilities::kubo());
        let old = version(r#"{"Version":"0.11.0","Golang":"go1.16"}"#);
        let caps = Capabilities::kubo_compatible(&old);
        assert_eq!(caps.block_put, BlockPutStyle::Format);
        assert_eq!(caps.api_prefix, "/api/v0");
        let odd = version(r#"{"Version":"banana","Golang":"go1"}"#);
        assert_eq!(Capabilities::kubo_compatible(&odd), Capabilities::kubo());
    }
}
