// The …Async forms run their engine work off the JS thread: reads on the libuv thread pool,
// writes as the core's non-blocking write future (no thread waits for durability). The call
// returns a pending Promise at once, the event loop keeps turning while the work runs, and
// many concurrent calls all land, sharing group commits beyond the libuv pool size.
'use strict'

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { cidb, tempDir, T0 } = require('./helpers')

const batch = (n, prefix) =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, department: 'd', status: 's', createdAt: T0, updatedAt: T0, attributes: { i, pad: 'x'.repeat(200) } }))

test('an Async call returns a pending Promise; the work is not done on the call', async (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  let settled = false
  const p = acme.upsertCustomersAsync(batch(2000, 'p'))
  p.then(() => { settled = true })
  for (let i = 0; i < 10; i++) await Promise.resolve() // drain microtasks, no event-loop turn
  assert.equal(settled, false, 'a Promise settled without an event-loop turn would mean the work ran on the call')
  await p
  assert.equal(settled, true)
  assert.equal(acme.countCustomers(), 2000)
})

test('the event loop keeps turning while Async work runs', async (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  let ticks = 0
  let running = true
  const spin = () => { if (running) { ticks++; setImmediate(spin) } }
  const p = acme.upsertCustomersAsync(batch(20000, 'q'))
  setImmediate(spin)
  await p
  running = false
  assert.ok(ticks > 0, `the loop turned ${ticks} times during the write`)
  // reads of the same tenant run meanwhile, too
  const [n] = await Promise.all([acme.countCustomersAsync(), acme.upsertCustomerAsync({ id: 'extra' })])
  assert.ok(n === 20000 || n === 20001)
  assert.equal(acme.countCustomers(), 20001)
})

test('hundreds of concurrent Async writes all land', async (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  const n = 400
  await Promise.all(Array.from({ length: n }, (_, i) =>
    acme.addScoreAsync({ customerId: `c${i % 10}`, scoreType: 'churn', score: (i % 100) / 100, confidence: 1, createdAt: T0 + i })))
  const stats = db.stats()
  assert.equal(stats.scores, n)
  assert.equal(stats.writes, n)
  assert.ok(stats.commits <= n)
  for (let c = 0; c < 10; c++) {
    const h = acme.scoreHistory(`c${c}`, 'churn')
    assert.equal(h.length, n / 10)
    assert.equal(acme.latestScore(`c${c}`, 'churn').createdAt, h[h.length - 1].createdAt)
  }
  t.diagnostic(`${n} concurrent writes in ${stats.commits} commits (largest group ${stats.maxCommitGroup})`)
})

test('concurrent Async writes share commits: more of them per commit than the libuv pool has threads', async (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  const pool = Number(process.env.UV_THREADPOOL_SIZE || 4)
  const n = 256
  const before = db.stats()
  const ids = await Promise.all(Array.from({ length: n }, (_, i) => i % 2
    ? acme.upsertCustomerAsync({ id: `g${i}` }).then(() => null)
    : acme.appendMessageAsync({ customerId: 'c', conversationId: 'v', role: 'user', content: `m${i}`, timestamp: T0 + i }).then((m) => m.id)))
  const after = db.stats()
  assert.equal(after.writes - before.writes, n)
  assert.equal(acme.countCustomers(), n / 2)
  assert.equal(new Set(ids.filter((x) => x !== null)).size, n / 2, 'every message got its own id')
  // A write holding a pool thread until durable caps a commit group at the pool size.
  assert.ok(after.maxCommitGroup > pool, `largest commit group ${after.maxCommitGroup} is not above the pool size ${pool}`)
  assert.ok(after.commits - before.commits < n / pool, `${n} writes took ${after.commits - before.commits} commits`)
  t.diagnostic(`${n} concurrent writes in ${after.commits - before.commits} commits (largest group ${after.maxCommitGroup})`)
})

test('Async reads and writes interleave with sync ones on the same handle', async (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  const pending = []
  for (let i = 0; i < 50; i++) {
    pending.push(acme.appendMessageAsync({ customerId: 'c', conversationId: 'v', role: 'user', content: `a${i}`, timestamp: T0 + i }))
    acme.appendMessage({ customerId: 'c', conversationId: 'v', role: 'assistant', content: `s${i}`, timestamp: T0 + i })
  }
  const asyncMsgs = await Promise.all(pending)
  assert.equal(new Set(asyncMsgs.map((m) => m.id)).size, 50)
  const all = acme.messagesForConversation('v')
  assert.equal(all.length, 100)
  for (let i = 1; i < all.length; i++) assert.ok(all[i].id > all[i - 1].id, 'append order is id order')
  assert.equal((await acme.messagesForCustomerAsync('c', { role: 'user' })).length, 50)
})
