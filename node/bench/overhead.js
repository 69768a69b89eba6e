// Per-call overhead of the Node binding: the same synchronous getCustomer loop through Node
// and through Rust (core/examples/get_customer_loop.rs, run as a child process right after),
// on the same data and profile, in one run. Also the Promise form's throughput with 64
// calls in flight. Prints both per-call times and their difference.
//
//   node bench/overhead.js [customers=1000] [calls=1000000]
// (builds the Rust example with cargo when run from a checkout; needs `cargo` on PATH)
'use strict'

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const cidb = require('..')

const n = Number(process.argv[2] || 1000)
const calls = Number(process.argv[3] || 1_000_000)

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cidb-overhead-'))
  const db = cidb.open(dir, { profile: 'production' })
  const t = db.tenant('bench')
  const now = 1_700_000_000_000
  t.upsertCustomers(Array.from({ length: n }, (_, i) => ({
    id: `c${i}`, email: `c${i}@example.com`, department: `d${i % 10}`, status: 'active',
    createdAt: now + i, updatedAt: now + i, attributes: { tier: i % 2 ? 'gold' : 'silver', seats: i % 50 },
  })))
  const ids = Array.from({ length: n }, (_, i) => `c${(i * 7919) % n}`)
  for (const id of ids) t.getCustomer(id)
  let found = 0
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < calls; i++) if (t.getCustomer(ids[i % n]) !== null) found++
  const nodeNs = Number(process.hrtime.bigint() - t0) / calls
  if (found !== calls) throw new Error('a customer went missing')

  const inflight = 64
  const total = 100_000
  let next = 0
  const t1 = process.hrtime.bigint()
  await Promise.all(Array.from({ length: inflight }, async () => {
    while (next < total) await t.getCustomerAsync(ids[next++ % n])
  }))
  const asyncSec = Number(process.hrtime.bigint() - t1) / 1e9
  db.close()
  fs.rmSync(dir, { recursive: true, force: true })

  const root = path.join(__dirname, '..', '..')
  const out = execFileSync('cargo', ['run', '-q', '--release', '-p', 'cidb', '--example', 'get_customer_loop', '--', String(n), String(calls)], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  // getCustomer reads the cache's record without copying it (`get_customer_shared`), so the
  // Rust side it is compared with is the example's shared loop; the owned loop is printed too.
  const rust = JSON.parse(out.trim().split('\n').pop())
  const rustNs = rust.ns_per_call_shared
  console.log(`getCustomer sync, ${n} customers (L1 hits), ${calls} calls, production profile`)
  console.log(`  node  ${nodeNs.toFixed(0).padStart(6)} ns/call`)
  console.log(`  rust  ${rustNs.toFixed(0).padStart(6)} ns/call (get_customer_shared, the same core work as the binding)`)
  console.log(`  rust  ${rust.ns_per_call.toFixed(0).padStart(6)} ns/call (get_customer, an owned copy)`)
  console.log(`  binding overhead ${(nodeNs - rustNs).toFixed(0)} ns/call (target < 1500)`)
  console.log(`getCustomerAsync, ${inflight} in flight: ${Math.round(total / asyncSec)} calls/s`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
