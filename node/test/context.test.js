// Conversation context: merge, trim to maxHistory by timestamp, TTL, delete, sweep, atomic
// concurrent updates (the Async form through the non-blocking write path), and every error.
'use strict'

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { cidb, tempDir, bothFail, throwsCode, T0, sleep } = require('./helpers')

const opts = { ttlMs: 60_000, maxHistory: 3 }
const entry = (i, extra = {}) => ({ role: i % 2 ? 'assistant' : 'user', content: `m${i}`, timestamp: T0 + i, ...extra })

function openTenant(t) {
  // No background sweep during a test: sweepExpired() counts are then exact.
  const dir = tempDir(t)
  const config = path.join(dir, 'cidb.toml')
  fs.writeFileSync(config, 'sweep_interval_ms = 3600000\n')
  const db = cidb.open(dir, { config })
  t.after(() => db.close())
  return [db, db.tenant('acme')]
}

test('updateContext merges, keeps the newest maxHistory by timestamp, and returns the result', async (t) => {
  const [, acme] = openTenant(t)
  const before = Date.now()
  const c1 = acme.updateContext('conv', [entry(2), entry(0, { metadata: { tokens: 3 } })], opts)
  assert.equal(c1.conversationId, 'conv')
  assert.deepEqual(c1.entries, [
    { role: 'user', content: 'm0', timestamp: T0, metadata: { tokens: 3 } },
    { role: 'user', content: 'm2', timestamp: T0 + 2, metadata: {} },
  ])
  assert.ok(c1.updatedAt >= before && c1.updatedAt <= Date.now())
  assert.equal(c1.expiresAt, c1.updatedAt + 60_000)
  const c2 = await acme.updateContextAsync('conv', [entry(1), entry(3)], opts)
  assert.deepEqual(c2.entries.map((e) => e.content), ['m1', 'm2', 'm3'], 'oldest dropped past maxHistory')
  assert.deepEqual(acme.getContext('conv'), c2)
  assert.deepEqual(await acme.getContextAsync('conv'), c2)
  // a smaller maxHistory trims further; a Date and a bigint are timestamps too
  const c3 = acme.updateContext('conv', [{ role: 'tool', content: 'd', timestamp: new Date(T0 + 10) }, { role: 'system', content: 'b', timestamp: BigInt(T0 + 11) }], { ttlMs: 1000n, maxHistory: 2n })
  assert.deepEqual(c3.entries.map((e) => [e.role, e.content, e.timestamp]), [['tool', 'd', T0 + 10], ['system', 'b', T0 + 11]])
  // absent timestamp means now
  const c4 = acme.updateContext('now', [{ role: 'user', content: 'x' }], opts)
  assert.ok(Math.abs(c4.entries[0].timestamp - Date.now()) < 5000)
  assert.equal(acme.getContext('nobody'), null)
  assert.equal(await acme.getContextAsync('nobody'), null)
  // an empty update only resets the TTL
  assert.deepEqual(acme.updateContext('now', [], opts).entries, c4.entries)
})

test('contexts are per tenant', (t) => {
  const [db, acme] = openTenant(t)
  acme.updateContext('conv', [entry(0)], opts)
  assert.equal(db.tenant('other').getContext('conv'), null)
  assert.equal(db.tenant('other').deleteContext('conv'), false)
  assert.equal(acme.getContext('conv').entries.length, 1)
})

test('a context expires after its TTL; an expired one counts as empty; sweepExpired removes it', async (t) => {
  const [db, acme] = openTenant(t)
  acme.updateContext('a', [entry(0)], { ttlMs: 30, maxHistory: 10 })
  acme.updateContext('b', [entry(0)], { ttlMs: 30, maxHistory: 10 })
  await acme.updateContextAsync('c', [entry(0)], { ttlMs: 30, maxHistory: 10 })
  acme.updateContext('keep', [entry(0)], opts)
  await sleep(60)
  assert.equal(acme.getContext('a'), null)
  assert.deepEqual(acme.updateContext('b', [entry(5)], opts).entries.map((e) => e.content), ['m5'], 'expired entries are gone')
  assert.equal(acme.deleteContext('c'), false, 'an expired context was not live')
  acme.updateContext('d', [entry(0)], { ttlMs: 30, maxHistory: 10 })
  await sleep(60)
  assert.equal(db.sweepExpired(), 2, 'a and d')
  assert.equal(await db.sweepExpiredAsync(), 0)
  assert.equal(acme.getContext('keep').entries.length, 1)
  assert.equal(acme.getContext('b').entries.length, 1)
})

test('deleteContext says whether a live context existed', async (t) => {
  const [, acme] = openTenant(t)
  acme.updateContext('x', [entry(0)], opts)
  acme.updateContext('y', [entry(0)], opts)
  assert.equal(acme.deleteContext('x'), true)
  assert.equal(acme.deleteContext('x'), false)
  assert.equal(await acme.deleteContextAsync('y'), true)
  assert.equal(await acme.deleteContextAsync('y'), false)
  assert.equal(acme.getContext('x'), null)
})

test('concurrent Async updates of one context are atomic: every entry lands', async (t) => {
  const [db, acme] = openTenant(t)
  const n = 200
  const c0 = db.stats().commits
  const results = await Promise.all(Array.from({ length: n }, (_, i) =>
    acme.updateContextAsync('shared', [entry(i)], { ttlMs: 60_000, maxHistory: 1000 })))
  const final = acme.getContext('shared')
  assert.equal(final.entries.length, n)
  assert.deepEqual(final.entries.map((e) => e.timestamp), Array.from({ length: n }, (_, i) => T0 + i))
  // each update saw the ones committed before it: sizes are 1..n in some order
  assert.deepEqual(results.map((r) => r.entries.length).sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i + 1))
  t.diagnostic(`${n} updates in ${db.stats().commits - c0} commits`)
})

test('context updates show up in the change feed', async (t) => {
  const [, acme] = openTenant(t)
  const seq0 = acme.eventsSince(0).length
  acme.updateContext('conv', [entry(0)], opts)
  acme.deleteContext('conv')
  const events = acme.eventsSince(0).slice(seq0)
  assert.deepEqual(events.map((e) => [e.table, e.op, e.key]), [['conversation_context', 'update', 'conv'], ['conversation_context', 'delete', 'conv']])
  assert.equal(events[0].new.entries[0].content, 'm0')
  assert.equal(events[1].new, null)
})

test('bad context arguments are coded errors in both forms; nothing is written', async (t) => {
  const [db, acme] = openTenant(t)
  const writes = db.stats().writes
  const bad = [
    [['conv', [entry(0)], { ttlMs: 0, maxHistory: 3 }], 'CIDB_INVALID_TTL', /options\.ttlMs is 0/],
    [['conv', [entry(0)], { ttlMs: -1, maxHistory: 3 }], 'CIDB_INVALID_TTL'],
    [['conv', [entry(0)], { ttlMs: 2.5, maxHistory: 3 }], 'CIDB_INVALID_TTL', /whole number/],
    [['conv', [entry(0)], { maxHistory: 3 }], 'CIDB_TYPE_MISMATCH', /options\.ttlMs must be a number or bigint, got undefined/],
    [['conv', [entry(0)], { ttlMs: 10, maxHistory: 0 }], 'CIDB_INVALID_INPUT', /max_history/],
    [['conv', [entry(0)], { ttlMs: 10, maxHistory: -2 }], 'CIDB_INVALID_INPUT', /options\.maxHistory/],
    [['conv', [entry(0)], { ttlMs: 10 }], 'CIDB_TYPE_MISMATCH', /options\.maxHistory/],
    [['conv', [entry(0)]], 'CIDB_TYPE_MISMATCH', /options must be an object, got undefined/],
    [['conv', entry(0), opts], 'CIDB_TYPE_MISMATCH', /entries must be an array, got object/],
    [['conv', [{ ...entry(0), role: 'bot' }], opts], 'CIDB_INVALID_ROLE', /bot/],
    [['conv', [{ ...entry(0), content: 5 }], opts], 'CIDB_TYPE_MISMATCH', /entries\[0\]\.content must be a string, got number/],
    [['conv', [entry(0), { ...entry(1), timestamp: -1 }], opts], 'CIDB_INVALID_TIMESTAMP'],
    [['conv', [{ ...entry(0), timestamp: 'today' }], opts], 'CIDB_TYPE_MISMATCH', /entries\[0\]\.timestamp/],
    [['conv', [{ ...entry(0), metadata: [1] }], opts], 'CIDB_INVALID_ATTRIBUTES', /entries\[0\]\.metadata/],
    [['conv', [{ ...entry(0), content: 'x'.repeat((1 << 20) + 1) }], opts], 'CIDB_CONTENT_TOO_LARGE'],
    [['', [entry(0)], opts], 'CIDB_INVALID_ID'],
    [[42, [entry(0)], opts], 'CIDB_TYPE_MISMATCH', /conversationId must be a string/],
  ]
  for (const [args, code, message] of bad) await bothFail(acme, 'updateContext', args, code, message)
  await bothFail(acme, 'getContext', [''], 'CIDB_INVALID_ID')
  await bothFail(acme, 'deleteContext', [''], 'CIDB_INVALID_ID')
  await bothFail(acme, 'getContext', [null], 'CIDB_TYPE_MISMATCH')
  assert.equal(acme.getContext('conv'), null)
  assert.equal(db.stats().writes, writes)
  db.close()
  await bothFail(acme, 'updateContext', ['conv', [entry(0)], opts], 'CIDB_CLOSED')
  await bothFail(acme, 'getContext', ['conv'], 'CIDB_CLOSED')
  await bothFail(acme, 'deleteContext', ['conv'], 'CIDB_CLOSED')
  throwsCode(() => db.sweepExpired(), 'CIDB_CLOSED')
})
