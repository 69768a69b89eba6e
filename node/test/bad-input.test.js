// The bad-input matrix (docs/bad-input.md) walked through the Node binding.
//
// The cases live in tests/bad-input/cases.json, shared with the C and Python tests: every
// case names an operation, its arguments (core field names, converted to camelCase here)
// and the error kind the core must report; the err.code is looked up in the engine's error
// table (`cidb.errorCodes()`), never a list of our own. Each case runs in the sync and the
// Async form. `"kind": "ok"` cases must succeed on an open engine and fail with CIDB_CLOSED
// once it is closed. Node-only rows follow: wrong JavaScript types, and close racing calls
// that are in flight on the thread pool.
'use strict'

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { cidb, tempDir, throwsCode, rejectsCode } = require('./helpers')

const CASES = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'tests', 'bad-input', 'cases.json'), 'utf8'))
const CODE_OF_KIND = Object.fromEntries(cidb.errorCodes().map((r) => [r.kind, r.code]))
const BAD = CASES.filter((c) => c.kind !== 'ok')
const VALID = CASES.filter((c) => c.kind === 'ok')

/** Expands `${s*N}` (s repeated N times) in every string of a case. */
function expand(v) {
  if (typeof v === 'string') return v.replace(/\$\{(.+?)\*(\d+)\}/g, (_, s, n) => s.repeat(Number(n)))
  if (Array.isArray(v)) return v.map(expand)
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expand(x)]))
  return v
}

const camel = (k) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase())
/** A record's top-level fields in camelCase (attributes and metadata stay as they are). */
const record = (r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [camel(k), v]))

/** [receiver, method, args] of one case; the Async form is `${method}Async` when it exists. */
function call(db, t, c) {
  const a = expand(c.arg)
  switch (c.op) {
    case 'tenant': return [db, 'tenant', [a.name]]
    case 'upsert_customer': return [t, 'upsertCustomer', [record(a.record)]]
    case 'get_customer': return [t, 'getCustomer', [a.id]]
    case 'add_score': return [t, 'addScore', [record(a.record)]]
    case 'append_message': return [t, 'appendMessage', [record(a.record)]]
    case 'update_context': return [t, 'updateContext', [a.conversation_id, a.entries, { ttlMs: a.ttl_ms, maxHistory: a.max_history }]]
    case 'cache_set': return [t, 'cacheSet', [a.key, Buffer.alloc(a.value_len, 'v'), a.ttl_ms === null ? undefined : { ttlMs: a.ttl_ms }]]
    case 'query': return [t, 'query', [a.sql, a.params]]
    case 'execute': return [db, 'execute', [a.sql]]
    default: throw new Error(`unknown op ${c.op}`)
  }
}

async function expectCode(db, t, c, code, message) {
  const [recv, method, args] = call(db, t, c)
  throwsCode(() => recv[method](...args), code, message)
  if (typeof recv[`${method}Async`] === 'function') await rejectsCode(recv[`${method}Async`](...args), code, message)
}

test('every kind in the matrix is in the error table, case ids are unique', () => {
  for (const c of BAD) assert.ok(CODE_OF_KIND[c.kind], `${c.id}: unknown kind ${c.kind}`)
  assert.equal(new Set(CASES.map((c) => c.id)).size, CASES.length)
})

test('bad input fails with its err.code in both forms and changes nothing', async (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  const counts = () => { const s = db.stats(); return [s.customers, s.scores, s.messages] }
  const before = counts()
  for (const c of BAD) {
    await t.test(c.id, async () => {
      await expectCode(db, acme, c, CODE_OF_KIND[c.kind], new RegExp(c.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i'))
      assert.deepEqual(counts(), before, `${c.id}: nothing changed`)
    })
  }
})

test('valid calls succeed, then fail with CIDB_CLOSED after close', async (t) => {
  for (const c of VALID) {
    await t.test(c.id, async () => {
      const db = cidb.open(tempDir(t))
      const acme = db.tenant('acme')
      const [recv, method, args] = call(db, acme, c)
      recv[method](...args)
      if (typeof recv[`${method}Async`] === 'function') await recv[`${method}Async`](...args)
      db.close()
      await expectCode(db, acme, c, 'CIDB_CLOSED', /closed/)
      db.close() // idempotent
    })
  }
})

test('wrong JavaScript types are TypeErrors with CIDB_TYPE_MISMATCH', async (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  const cases = [
    { op: 'tenant', arg: { name: 5 } },
    { op: 'tenant', arg: { name: null } },
    { op: 'upsert_customer', arg: { record: 5 } },
    { op: 'upsert_customer', arg: { record: { id: 5 } } },
    { op: 'upsert_customer', arg: { record: { id: 'c', created_at: 'yesterday' } } },
    { op: 'get_customer', arg: { id: {} } },
    { op: 'add_score', arg: { record: { customer_id: 'c', score_type: 's', score: 'high', confidence: 0.5 } } },
    { op: 'append_message', arg: { record: { customer_id: 'c', conversation_id: 'k', role: 'user', content: 5 } } },
    { op: 'update_context', arg: { conversation_id: 'k', entries: 3, ttl_ms: 1000, max_history: 1 } },
    { op: 'cache_set', arg: { key: 7, value_len: 1, ttl_ms: null } },
    { op: 'query', arg: { sql: 1, params: [] } },
    { op: 'query', arg: { sql: 'SELECT 1', params: 'x' } },
    { op: 'execute', arg: { sql: null } },
  ]
  for (const c of cases) {
    await t.test(`${c.op} ${JSON.stringify(c.arg)}`, async () => {
      await expectCode(db, acme, c, 'CIDB_TYPE_MISMATCH')
      assert.equal(db.stats().customers, 0)
    })
  }
})

test('close racing calls in flight: each settles as success or CIDB_CLOSED', async (t) => {
  const db = cidb.open(tempDir(t))
  const acme = db.tenant('acme')
  const light = VALID.filter((c) => !['cache_set', 'append_message', 'upsert_customer', 'tenant'].includes(c.op))
  const pending = []
  for (let i = 0; i < 400; i++) {
    const [recv, method, args] = call(db, acme, light[i % light.length])
    if (typeof recv[`${method}Async`] === 'function') pending.push(recv[`${method}Async`](...args))
  }
  db.close()
  const settled = await Promise.allSettled(pending)
  const codes = new Set(settled.filter((s) => s.status === 'rejected').map((s) => s.reason.code))
  for (const code of codes) assert.equal(code, 'CIDB_CLOSED', 'a call racing close failed with another code')
  // and sync calls after close fail cleanly
  throwsCode(() => acme.getCustomer('c'), 'CIDB_CLOSED')
})
