// The HTTP example service (examples/http-server.js) answers each route from the engine
// and maps cidb errors to HTTP statuses by err.code.
'use strict'

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { cidb, tempDir } = require('./helpers')
const { createServer, seed, statusFor } = require('../examples/http-server')

async function serve(t) {
  const db = cidb.open(tempDir(t))
  seed(db, 'demo', 50)
  const server = createServer(db)
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => server.close(() => { db.close(); resolve() })))
  const base = `http://127.0.0.1:${server.address().port}`
  const call = async (method, path, body) => {
    const r = await fetch(base + path, { method, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) })
    const text = await r.text()
    return { status: r.status, body: r.headers.get('content-type').startsWith('application/json') ? JSON.parse(text) : text }
  }
  return { db, call }
}

test('customer lookups and latest scores come from the engine, per tenant', async (t) => {
  const { db, call } = await serve(t)
  const c = await call('GET', '/t/demo/customers/c7')
  assert.equal(c.status, 200)
  assert.deepEqual(c.body, db.tenant('demo').getCustomer('c7'))
  assert.equal((await call('GET', '/t/other/customers/c7')).status, 404, 'another tenant has no c7')
  assert.equal((await call('GET', '/t/demo/customers/nobody')).status, 404)
  db.tenant('demo').addScore({ customerId: 'c7', scoreType: 'churn', score: 0.93, confidence: 0.5, createdAt: Date.now() + 1000 })
  const s = await call('GET', '/t/demo/customers/c7/scores/churn')
  assert.equal(s.status, 200)
  assert.equal(s.body.score, 0.93, 'the newest score, written after the seed')
  assert.equal((await call('GET', '/t/demo/customers/c7/scores/upsell')).status, 404)
})

test('context updates merge, keep maxHistory and read back; bad input is a 400', async (t) => {
  const { call } = await serve(t)
  for (let i = 0; i < 4; i++) {
    const r = await call('POST', '/t/demo/contexts/v1', { entries: [{ role: 'user', content: `m${i}`, timestamp: 1_700_000_000_000 + i }], ttlMs: 60000, maxHistory: 3 })
    assert.equal(r.status, 200)
    assert.equal(r.body.entries.length, Math.min(i + 1, 3))
  }
  const got = await call('GET', '/t/demo/contexts/v1')
  assert.deepEqual(got.body.entries.map((e) => e.content), ['m1', 'm2', 'm3'])
  const bad = await call('POST', '/t/demo/contexts/v1', { entries: [{ role: 'robot', content: 'x' }], ttlMs: 60000, maxHistory: 3 })
  assert.equal(bad.status, 400)
  assert.equal(bad.body.code, 'CIDB_INVALID_ROLE')
  assert.equal((await call('POST', '/t/demo/contexts/v1', '{not json')).status, 400)
  assert.equal((await call('GET', '/t/demo/contexts/absent')).status, 404)
})

test('metrics and health routes; error codes map to statuses', async (t) => {
  const { call } = await serve(t)
  await call('GET', '/t/demo/customers/c1')
  const m = await call('GET', '/metrics')
  assert.equal(m.status, 200)
  assert.match(m.body, /^# TYPE cidb_\w+ (counter|gauge|histogram|summary)$/m)
  assert.equal((await call('GET', '/healthz')).status, 200)
  assert.equal(statusFor('CIDB_INVALID_ID'), 400)
  assert.equal(statusFor('CIDB_NOT_FOUND'), 404)
  assert.equal(statusFor('CIDB_UNAVAILABLE'), 503)
  assert.equal(statusFor('CIDB_STORAGE'), 500)
})
