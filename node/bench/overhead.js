// Per-call overhead of the Node binding: the same synchronous getCustomer loop through Node
// and through Rust (core/examples/get_customer_loop.rs, run as a child process right after),
// on the same data and profile, in one run. Also the Promise form's throughput with 64
// calls in flight. Prints both per-call times and their difference, twice: by wall clock, and
// by CPU time (the process's, so V8's GC threads count), which time spent descheduled on a
// busy machine does not inflate (the Rust side measures its thread's CPU time).
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
  const c0 = process.cpuUsage()
  for (let i = 0; i < calls; i++) if (t.getCustomer(ids[i % n]) !== null) found++
  const cpu = process.cpuUsage(c0)
  const nodeNs = Number(process.hrtime.bigint() - t0) / calls
  const nodeCpuNs = ((cpu.user + cpu.system) * 1000) / calls
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
  const pad = (x) => x.toFixed(0).padStart(8)
  console.log(`getCustomer sync, ${n} customers (L1 hits), ${calls} calls, production profile`)
  console.log('                    wall ns   cpu ns  per call')
  console.log(`  node             ${pad(nodeNs)} ${pad(nodeCpuNs)}`)
  console.log(`  rust, shared     ${pad(rust.ns_per_call_shared)} ${pad(rust.cpu_ns_per_call_shared)}  (get_customer_shared, the same core work as the binding)`)
  console.log(`  rust, owned      ${pad(rust.ns_per_call)} ${pad(rust.cpu_ns_per_call)}  (get_customer, an owned copy)`)
  console.log(`  binding overhead ${pad(nodeNs - rust.ns_per_call_shared)} ${pad(nodeCpuNs - rust.cpu_ns_per_call_shared)}  (target < 1500)`)
  console.log(`getCustomerAsync, ${inflight} in flight: ${Math.round(total / asyncSec)} calls/s`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
