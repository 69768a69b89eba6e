// The change feed: callbacks (subscribe) and async iteration (events) in commit order,
// tenant and engine scope, filters, {missed} notices with resume through eventsSince,
// close and engine close, the process lifetime rules, and every error.
'use strict'

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { cidb, tempDir, throwsCode, rejectsCode, bothFail, runNode, T0, sleep, until } = require('./helpers')

function openTenant(t, options) {
  const db = cidb.open(tempDir(t), options)
  t.after(() => db.close())
  return [db, db.tenant('acme')]
}

const score = (cid, s, i = 0) => ({ customerId: cid, scoreType: 'churn', score: s, confidence: 0.9, createdAt: T0 + i })

test('subscribe delivers every committed change in commit order, with the rows', async (t) => {
  const [, acme] = openTenant(t)
  const got = []
  const sub = acme.subscribe((d) => got.push(d))
  t.after(() => sub.close())
  acme.upsertCustomer({ id: 'c1', email: 'a@x.io', createdAt: T0, updatedAt: T0 })
  await acme.upsertCustomerAsync({ id: 'c1', email: 'b@x.io', createdAt: T0, updatedAt: T0 + 1 })
  acme.addScore(score('c1', 0.4))
  const m = await acme.appendMessageAsync({ customerId: 'c1', conversationId: 'v', role: 'user', content: 'hi', timestamp: T0 })
  acme.deleteCustomer('c1')
  await until(() => got.length === 6, '6 deliveries')
  const events = got.map((d) => d.event)
  assert.ok(got.every((d) => Object.keys(d).join() === 'event'))
  assert.deepEqual(events.map((e) => [e.table, e.op, e.key]), [
    ['customers', 'insert', 'c1'],
    ['customers', 'update', 'c1'],
    ['customer_scores', 'insert', `c1/churn/${T0}`],
    ['latest_scores', 'insert', 'c1/churn'],
    ['conversation_messages', 'insert', String(m.id)],
    ['customers', 'delete', 'c1'],
  ])
  for (let i = 1; i < events.length; i++) assert.ok(events[i].seq > events[i - 1].seq, 'seq increases')
  assert.ok(events.every((e) => e.tenant === 'acme' && typeof e.at === 'number'))
  assert.equal(events[0].new.email, 'a@x.io')
  assert.equal(events[0].old, null)
  assert.deepEqual([events[1].old.email, events[1].new.email], ['a@x.io', 'b@x.io'])
  assert.equal(events[2].new.score, 0.4)
  assert.equal(events[4].new.content, 'hi')
  assert.equal(events[5].new, null)
  assert.equal(events[5].old.email, 'b@x.io')
  // the persisted log has the same events
  const logged = acme.eventsSince(events[0].seq)
  assert.deepEqual(logged, events)
  assert.deepEqual(await acme.eventsSinceAsync(events[0].seq), events)
})

test('a tenant subscription sees its tenant only; an engine subscription sees all', async (t) => {
  const [db, acme] = openTenant(t)
  const other = db.tenant('other')
  const mine = []
  const all = []
  const s1 = acme.subscribe((d) => mine.push(d.event.tenant))
  const s2 = db.subscribe((d) => all.push(d.event.tenant))
  t.after(() => { s1.close(); s2.close() })
  other.upsertCustomer({ id: 'x' })
  acme.upsertCustomer({ id: 'y' })
  other.upsertCustomer({ id: 'z' })
  await until(() => all.length === 3, 'engine-wide deliveries')
  await sleep(20)
  assert.deepEqual(mine, ['acme'])
  assert.deepEqual(all, ['other', 'acme', 'other'])
  assert.deepEqual(acme.eventsSince(0).map((e) => e.key), ['y'])
  assert.deepEqual(db.eventsSince(0).map((e) => e.key), ['x', 'y', 'z'])
  assert.deepEqual((await db.eventsSinceAsync(0, 2)).map((e) => e.key), ['x', 'y'])
  assert.deepEqual(db.eventsSince(0, 0), [], 'limit 0 returns nothing')
  assert.deepEqual(db.eventsSince(db.eventsSince(0)[2].seq + 1), [])
})

test('filters: tables, ops, score type, threshold crossings', async (t) => {
  const [, acme] = openTenant(t)
  const seen = { customers: [], deletes: [], nps: [], crossUp: [], crossDown: [] }
  const subs = [
    acme.subscribe({ tables: ['customers'] }, (d) => seen.customers.push(d.event.op)),
    acme.subscribe({ ops: ['delete'] }, (d) => seen.deletes.push(d.event.table)),
    acme.subscribe({ tables: ['customer_scores'], scoreType: 'nps' }, (d) => seen.nps.push(d.event.new.score)),
    acme.subscribe({ crossing: { scoreType: 'churn', threshold: 0.7 } }, (d) => seen.crossUp.push(d.event.new.score)),
    acme.subscribe({ crossing: { scoreType: 'churn', threshold: 0.7, above: false } }, (d) => seen.crossDown.push(d.event.new.score)),
  ]
  t.after(() => subs.forEach((s) => s.close()))
  acme.upsertCustomer({ id: 'c' })
  acme.upsertCustomer({ id: 'c' })
  acme.addScores([score('c', 0.5, 1), score('c', 0.8, 2), score('c', 0.9, 3), score('c', 0.6, 4), score('c', 0.75, 5)])
  acme.addScore({ ...score('c', 0.33, 6), scoreType: 'nps' })
  acme.deleteCustomer('c')
  const marker = []
  const last = acme.subscribe((d) => marker.push(d))
  acme.upsertCustomer({ id: 'end' })
  await until(() => marker.length === 1, 'the marker')
  last.close()
  await until(() => seen.customers.length === 4, 'customer events')
  assert.deepEqual(seen.customers, ['insert', 'update', 'delete', 'insert'])
  assert.deepEqual(seen.deletes, ['customers'])
  assert.deepEqual(seen.nps, [0.33])
  assert.deepEqual(seen.crossUp, [0.8, 0.75])
  assert.deepEqual(seen.crossDown, [0.6])
})

test('async iteration: for await delivers in order; leaving the loop closes the stream', async (t) => {
  const [db, acme] = openTenant(t)
  const stream = acme.events({ tables: ['customers'] })
  const writer = (async () => {
    for (let i = 0; i < 5; i++) {
      await acme.upsertCustomerAsync({ id: `c${i}` })
      acme.addScore(score(`c${i}`, 0.1, i)) // filtered out
    }
  })()
  const keys = []
  for await (const d of stream) {
    keys.push(d.event.key)
    if (keys.length === 5) break
  }
  await writer
  assert.deepEqual(keys, ['c0', 'c1', 'c2', 'c3', 'c4'])
  const it = stream[Symbol.asyncIterator]()
  assert.deepEqual(await it.next(), { done: true, value: undefined }, 'break closed it')
  // an engine-wide stream, and close() ends a pending next()
  const all = db.events()
  const pending = all[Symbol.asyncIterator]().next()
  db.tenant('zeta').upsertCustomer({ id: 'z' })
  assert.equal((await pending).value.event.tenant, 'zeta')
  const waiting = all[Symbol.asyncIterator]().next()
  all.close()
  assert.deepEqual(await waiting, { done: true, value: undefined })
  all.close() // idempotent
})

test('a subscriber that falls behind gets one {missed} notice, then resumes with eventsSince', async (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, 'cidb.toml')
  fs.writeFileSync(file, 'feed_queue_capacity = 4\n')
  const [, acme] = openTenant(t, { config: file })
  const got = []
  const sub = acme.subscribe((d) => {
    got.push(d)
    // While this first callback runs, ten more changes commit; the queue holds only four.
    if (got.length === 1) acme.upsertCustomers(Array.from({ length: 10 }, (_, i) => ({ id: `b${i}` })))
  })
  t.after(() => sub.close())
  acme.upsertCustomer({ id: 'first' })
  await until(() => got.length === 6, 'four queued deliveries and the notice')
  assert.equal(got[0].event.key, 'first')
  assert.deepEqual(got.slice(1, 5).map((d) => d.event.key), ['b0', 'b1', 'b2', 'b3'])
  const { missed } = got[5]
  assert.deepEqual(Object.keys(got[5]), ['missed'])
  assert.equal(missed.count, 6)
  assert.equal(missed.fromSeq, got[4].event.seq + 1)
  const resumed = acme.eventsSince(missed.fromSeq, missed.count)
  assert.deepEqual(resumed.map((e) => e.key), ['b4', 'b5', 'b6', 'b7', 'b8', 'b9'])
  // delivery goes on normally afterwards
  acme.upsertCustomer({ id: 'after' })
  await until(() => got.length === 7, 'the next delivery')
  assert.equal(got[6].event.key, 'after')
})

test('close() stops deliveries at once, even ones already queued', async (t) => {
  const [, acme] = openTenant(t)
  const got = []
  const sub = acme.subscribe((d) => {
    got.push(d.event.key)
    if (got.length === 1) sub.close()
  })
  assert.equal(sub.closed, false)
  acme.upsertCustomers([{ id: 'a' }, { id: 'b' }, { id: 'c' }])
  await until(() => got.length >= 1, 'the first delivery')
  await sleep(30)
  acme.upsertCustomer({ id: 'd' })
  await sleep(30)
  assert.deepEqual(got, ['a'])
  assert.equal(sub.closed, true)
  sub.close() // idempotent
})

test('closing the engine handle stops its subscriptions and streams before close() returns', async (t) => {
  const dir = tempDir(t)
  const db = cidb.open(dir)
  const keep = cidb.open(dir) // the engine stays open through another handle
  t.after(() => keep.close())
  const acme = db.tenant('acme')
  const got = []
  const sub = acme.subscribe((d) => got.push(d))
  const engineWide = db.subscribe((d) => got.push(d))
  const stream = acme.events()
  const next = stream[Symbol.asyncIterator]().next()
  db.close()
  assert.equal(sub.closed, true)
  assert.equal(engineWide.closed, true)
  assert.deepEqual(await next, { done: true, value: undefined })
  keep.tenant('acme').upsertCustomer({ id: 'after' })
  await sleep(30)
  assert.deepEqual(got, [])
  throwsCode(() => acme.subscribe(() => {}), 'CIDB_CLOSED')
  throwsCode(() => acme.events(), 'CIDB_CLOSED')
  throwsCode(() => db.subscribe(() => {}), 'CIDB_CLOSED')
  await bothFail(acme, 'eventsSince', [0], 'CIDB_CLOSED')
  throwsCode(() => db.eventsSince(0), 'CIDB_CLOSED')
})

test('a live subscription keeps the process alive; close or engine close lets it exit', (t) => {
  const dir = tempDir(t)
  const lines = runNode(
    `const cidb = require(process.env.CIDB_PKG)
     const db = cidb.open(process.argv[1])
     const t = db.tenant('acme')
     const sub = t.subscribe((d) => { console.log('got ' + d.event.key); sub.close(); console.log('closed ' + sub.closed) })
     // the write resolves before the delivery: only the subscription keeps the process here
     t.upsertCustomerAsync({ id: 'late' }).then(() => console.log('written'))`,
    [dir])
  assert.deepEqual(lines.split('\n').sort(), ['closed true', 'got late', 'written'])
  const viaEngine = runNode(
    `const cidb = require(process.env.CIDB_PKG)
     const db = cidb.open(process.argv[1])
     db.tenant('acme').subscribe(() => {})
     ;(async () => { for await (const d of db.events()) console.log('never', d) ; console.log('stream ended') })()
     setTimeout(() => db.close(), 20)`,
    [dir])
  assert.equal(viaEngine, 'stream ended')
})

test('an open subscription nobody closes keeps the process running', () => {
  const { spawnSync } = require('node:child_process')
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'cidb-node-'))
  try {
    const r = spawnSync(process.execPath, ['-e',
      `const cidb = require(process.env.CIDB_PKG)
       cidb.open(process.argv[1]).tenant('acme').subscribe(() => {})
       console.log('subscribed')`, dir], {
      encoding: 'utf8', timeout: 3000, env: { ...process.env, CIDB_PKG: path.join(__dirname, '..') },
    })
    assert.equal(r.stdout.trim(), 'subscribed')
    assert.equal(r.signal, 'SIGTERM', 'still running when the timeout killed it')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('a callback that throws raises an uncaught exception; delivery goes on', () => {
  const out = runNode(
    `const cidb = require(process.env.CIDB_PKG)
     const db = cidb.open(process.argv[1])
     const t = db.tenant('acme')
     let n = 0
     process.on('uncaughtException', (e) => console.log('uncaught ' + e.message))
     const sub = t.subscribe((d) => {
       n++
       if (n === 1) throw new Error('boom at ' + d.event.key)
       console.log('then ' + d.event.key); sub.close(); db.close()
     })
     t.upsertCustomers([{ id: 'a' }, { id: 'b' }])`,
    [tempDir()])
  assert.deepEqual(out.split('\n'), ['uncaught boom at a', 'then b'])
})

test('bad subscribe, events and eventsSince arguments are coded errors', async (t) => {
  const [db, acme] = openTenant(t)
  const cb = () => {}
  throwsCode(() => acme.subscribe(), 'CIDB_TYPE_MISMATCH', /callback must be a function, got undefined/)
  throwsCode(() => acme.subscribe({ tables: ['customers'] }), 'CIDB_TYPE_MISMATCH', /callback must be a function, got object/)
  throwsCode(() => acme.subscribe('customers', cb), 'CIDB_TYPE_MISMATCH', /filter must be an object, got string/)
  throwsCode(() => acme.subscribe({ tables: ['orders'] }, cb), 'CIDB_UNKNOWN_TABLE', /filter\.tables\[0\] is "orders"/)
  throwsCode(() => acme.subscribe({ tables: 'customers' }, cb), 'CIDB_TYPE_MISMATCH', /filter\.tables must be an array/)
  throwsCode(() => acme.subscribe({ ops: ['upsert'] }, cb), 'CIDB_INVALID_INPUT', /filter\.ops\[0\] is "upsert"/)
  throwsCode(() => acme.subscribe({ scoreType: 1 }, cb), 'CIDB_TYPE_MISMATCH', /filter\.scoreType/)
  throwsCode(() => acme.subscribe({ crossing: { scoreType: 'churn' } }, cb), 'CIDB_TYPE_MISMATCH', /filter\.crossing\.threshold must be a number/)
  throwsCode(() => acme.subscribe({ crossing: { scoreType: 'churn', threshold: NaN } }, cb), 'CIDB_INVALID_INPUT', /finite/)
  throwsCode(() => acme.subscribe({ crossing: { scoreType: 'churn', threshold: 0.5, above: 'yes' } }, cb), 'CIDB_TYPE_MISMATCH', /filter\.crossing\.above must be a boolean/)
  throwsCode(() => db.subscribe({ tables: ['nope'] }, cb), 'CIDB_UNKNOWN_TABLE')
  throwsCode(() => acme.events({ ops: 'insert' }), 'CIDB_TYPE_MISMATCH', /filter\.ops must be an array/)
  throwsCode(() => db.events(7), 'CIDB_TYPE_MISMATCH', /filter must be an object, got number/)
  await bothFail(acme, 'eventsSince', [-1], 'CIDB_INVALID_INPUT', /fromSeq/)
  await bothFail(acme, 'eventsSince', ['0'], 'CIDB_TYPE_MISMATCH', /fromSeq must be a number or bigint, got string/)
  await bothFail(acme, 'eventsSince', [0, 1.5], 'CIDB_INVALID_INPUT', /limit/)
  await rejectsCode(db.eventsSinceAsync(0, 'all'), 'CIDB_TYPE_MISMATCH', /limit/)
  // a filter accepts null/undefined fields and mixed-case table names
  const s = acme.subscribe({ tables: ['CUSTOMERS'], ops: null, scoreType: undefined }, cb)
  s.close()
  assert.deepEqual(acme.eventsSince(0n, 10n), [])
})
