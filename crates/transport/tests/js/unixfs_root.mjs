// Prints the UnixFS root CID that ipfs-unixfs-importer computes for generated files, for
// the CID-equality test in ../oracle.rs.
//
// Reads jobs from standard input, one per line: `PROFILE CHUNK_SIZE LENGTH`, where
// PROFILE is `v1` (CIDv1, raw leaves: `ipfs add --cid-version=1 --raw-leaves`) or `v0`
// (CIDv0, UnixFS file leaves: a plain `ipfs add`). Writes one CID per line, in order.
// The file content is generated, not read: byte i is (7i + 13k + 29(k >> 8)) mod 256
// with k = i >> 10, the same function the Rust side uses.

import { createInterface } from 'node:readline'
import { importByteStream } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'

const PIECE = 1 << 16

function * content (length) {
  for (let start = 0; start < length; start += PIECE) {
    const piece = new Uint8Array(Math.min(PIECE, length - start))
    for (let j = 0; j < piece.length; j++) {
      const i = start + j
      const k = Math.floor(i / 1024)
      piece[j] = (7 * i + 13 * k + 29 * Math.floor(k / 256)) % 256
    }
    yield piece
  }
}

// Only `put` is needed: the CIDs are all this test wants.
const discard = { put: async (cid) => cid }

async function rootOf (profile, chunkSize, length) {
  const common = {
    chunker: fixedSize({ chunkSize }),
    layout: balanced({ maxChildrenPerNode: 174 }),
    reduceSingleLeafToSelf: true
  }
  const options = profile === 'v1'
    ? { ...common, cidVersion: 1, rawLeaves: true }
    : { ...common, cidVersion: 0, rawLeaves: false, leafType: 'file' }
  const entry = await importByteStream(content(length), discard, options)
  return entry.cid.toString()
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (line.trim() === '') continue
  const [profile, chunk, length] = line.trim().split(/\s+/)
  if ((profile !== 'v1' && profile !== 'v0') || length === undefined) {
    process.stderr.write(`bad job: ${line}\n`)
    process.exit(2)
  }
  process.stdout.write(`${await rootOf(profile, Number(chunk), Number(length))}\n`)
}
