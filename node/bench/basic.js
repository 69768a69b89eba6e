// Rough throughput of the Node binding on this machine: `node bench/basic.js [rows]`.
// Not a test and not a speed target: it prints what one run measured, so the cost of the
// binding (argument conversion, result objects, the libuv pool) can be seen next to the
// engine's own numbers.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const cidb = require('..')

const rows = Number(process.argv[2] || 10000)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cidb-bench-'))
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))

function report(name, n, ms, extra = '') {
  console.log(`${name.padEnd(44)} ${String(n).padStart(7)} ops ${ms.toFixed(0).padStart(6)} ms ${Math.round((n / ms) * 1000).toString().padStart(9)} ops/s ${extra}`)
}

async function timed(name, n, fn, extra) {
  const t0 = process.hrtime.bigint()
  await fn()
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  report(name, n, ms, typeof extra === 'function' ? extra() : '')
}

async function pool(n, concurrency, make) {
  let next = 0
  const worker = async () => { while (next < n) await make(next++) }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

;(async () => {
  const db = cidb.open(dir)
  const t = db.tenant('bench')
  const customers = Array.from({ length: rows }, (_, i) => ({
    id: `c${i}`, email: `c${i}@example.com`, department: `d${i % 10}`, status: i % 3 ? 'active' : 'churned',
    createdAt: 1_700_000_000_000 + i, updatedAt: 1_700_000_000_000 + i, attributes: { tier: i % 2 ? 'gold' : 'silver', seats: i % 50 },
  }))
  await timed('upsertCustomers (one batch)', rows, () => t.upsertCustomers(customers))
  await timed('upsertCustomer sync (one commit each)', 500, () => { for (let i = 0; i < 500; i++) t.upsertCustomer(customers[i]) })
  // Async writes, 64 in flight: how many commits they share is what the group commit buys.
  const writes = Math.min(rows, 5000)
  const commitsDuring = async (name, n, fn) => {
    const c0 = db.stats().commits
    await timed(name, n, fn, () => `(${db.stats().commits - c0} commits)`)
  }
  await commitsDuring(`upsertCustomerAsync x${writes}, 64 in flight`, writes, () => pool(writes, 64, (i) => t.upsertCustomerAsync(customers[i])))
  await commitsDuring(`addScoreAsync x${writes}, 64 in flight`, writes, () => pool(writes, 64, (i) =>
    t.addScoreAsync({ customerId: `c${i % 1000}`, scoreType: 'nps', score: 0.5, confidence: 0.9, createdAt: 1_700_000_000_000 + i })))
  await commitsDuring(`appendMessageAsync x${writes}, 64 in flight`, writes, () => pool(writes, 64, (i) =>
    t.appendMessageAsync({ customerId: `c${i % 100}`, conversationId: 'va', role: 'user', content: 'hello', timestamp: 1_700_000_000_000 + i })))
  const ids = Array.from({ length: 100000 }, (_, i) => `c${(i * 7919) % rows}`)
  await timed('getCustomer sync', ids.length, () => { for (const id of ids) t.getCustomer(id) })
  await timed('getCustomerAsync, 64 in flight', 20000, () => pool(20000, 64, (i) => t.getCustomerAsync(ids[i])))
  await timed('countCustomers sync', 200, () => { for (let i = 0; i < 200; i++) t.countCustomers() })
  const scores = Array.from({ length: rows }, (_, i) => ({ customerId: `c${i % 1000}`, scoreType: 'churn', score: (i % 100) / 100, confidence: 0.9, createdAt: 1_700_000_000_000 + i }))
  await timed('addScores (one batch)', rows, () => t.addScores(scores))
  await timed('latestScore sync', 100000, () => { for (let i = 0; i < 100000; i++) t.latestScore(`c${i % 1000}`, 'churn') })
  const msgs = Array.from({ length: rows }, (_, i) => ({ customerId: `c${i % 100}`, conversationId: `v${i % 500}`, role: 'user', content: 'x'.repeat(200), timestamp: 1_700_000_000_000 + i }))
  await timed('appendMessages (one batch)', rows, () => t.appendMessages(msgs))
  await timed('messagesForCustomer sync, limit 20', 20000, () => { for (let i = 0; i < 20000; i++) t.messagesForCustomer(`c${i % 100}`, { limit: 20 }) })
  db.close()
})()
