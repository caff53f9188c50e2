// Catch-up with automerge-repo, for bench/sync.py: a source repo holds the documents saved in
// DIR (*.automerge), an empty target repo finds them over a MessageChannel; the bytes are the
// CBOR encoding of every message (what automerge-repo's WebSocket adapter sends), the time is
// from the target's creation until it holds every document with the source's heads.
// Prints one JSON line: {"bytes", "messages", "seconds"}.
import { readFileSync, readdirSync } from "node:fs"
import { Repo } from "@automerge/automerge-repo"
import { MessageChannelNetworkAdapter } from "@automerge/automerge-repo-network-messagechannel"
import { next as A } from "@automerge/automerge"
import { encode } from "cbor-x"

const dir = process.argv[2]
let bytes = 0
let messages = 0

class Counted extends MessageChannelNetworkAdapter {
  send(message) {
    bytes += encode(message).length
    messages += 1
    super.send(message)
  }
}

const files = readdirSync(dir).filter((f) => f.endsWith(".automerge")).sort()
const { port1, port2 } = new MessageChannel()
const share = async () => true
const source = new Repo({ network: [new Counted(port1)], sharePolicy: share })
const handles = files.map((f) => source.import(new Uint8Array(readFileSync(`${dir}/${f}`))))
const wanted = handles.map((h) => JSON.stringify(A.getHeads(h.doc()).sort()))

const start = performance.now()
const target = new Repo({ network: [new Counted(port2)], sharePolicy: share })
const found = await Promise.all(handles.map((h) => target.find(h.url)))
for (;;) {
  const done = found.every((h, i) => JSON.stringify(A.getHeads(h.doc()).sort()) === wanted[i])
  if (done) break
  await new Promise((resolve) => setTimeout(resolve, 1))
}
const seconds = (performance.now() - start) / 1000
console.log(JSON.stringify({ bytes, messages, seconds }))
process.exit(0)
