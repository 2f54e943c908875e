// Reads a payload file, decodes it with @ipld/dag-json, re-encodes it, and prints one JSON
// line: whether the re-encoding is byte-identical and the CID of the file's bytes under
// the dag-json codec.
import { readFileSync } from 'node:fs'
import * as dagJson from '@ipld/dag-json'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'

const bytes = new Uint8Array(readFileSync(process.argv[2]))
let identical = false
let error = null
try {
  const again = dagJson.encode(dagJson.decode(bytes))
  identical = again.length === bytes.length && again.every((b, i) => b === bytes[i])
} catch (e) {
  error = String(e)
}
const cid = CID.create(1, dagJson.code, await sha256.digest(bytes))
console.log(JSON.stringify({ cid: cid.toString(), identical, error }))
