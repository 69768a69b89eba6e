// Data written through the Node binding reads back exactly, across close and reopen, in
// both the sync and the Async form; values convert as documented in index.d.ts.
'use strict'

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { cidb, tempDir, T0 } = require('./helpers')
const fs = require('node:fs')
const path = require('node:path')

function customers(n, prefix = 'c') {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    email: i % 2 ? `${prefix}${i}@example.com` : null,
    name: i % 3 ? `Name ${i}` : undefined,
    department: ['sales', 'support', 'eng'][i % 3],
    status: i % 4 ? 'active' : 'churned',
    createdAt: T0 + i,
    updatedAt: new Date(T0 + 1000 + i),
    attributes: { tier: i % 2 ? 'gold' : 'silver', seats: i, tags: ['a', String(i)], nested: { ok: true } },
  }))
}

function expectedCustomer(c) {
  return {
    id: c.id,
    email: c.email ?? null,
    name: c.name ?? null,
    department: c.department ?? '',
    status: c.status ?? '',
    createdAt: Number(c.createdAt instanceof Date ? c.createdAt.getTime() : c.createdAt),
    updatedAt: Number(c.updatedAt instanceof Date ? c.updatedAt.getTime() : c.updatedAt),
    attributes: JSON.parse(JSON.stringify(c.attributes ?? {})),
  }
}

test('data written survives close and reopen', (t) => {
  const dir = tempDir(t)
  const cs = customers(25)
  let db = cidb.open(dir)
  let acme = db.tenant('acme')
  acme.upsertCustomers(cs)
  acme.upsertCustomer({ id: 'solo', createdAt: 5n, updatedAt: 6n })
  acme.addScores([
    { customerId: 'c1', scoreType: 'churn', score: 0.25, confidence: 0.5, createdAt: T0 + 10, model: 'm1' },
    { customerId: 'c1', scoreType: 'churn', score: 0.75, confidence: 1, createdAt: new Date(T0 + 20) },
  ])
  acme.addScore({ customerId: 'c1', scoreType: 'churn', score: 0.5, confidence: 0.9, createdAt: T0 + 15 })
  const m1 = acme.appendMessage({ customerId: 'c1', conversationId: 'v1', role: 'user', content: 'hello', timestamp: T0 + 1 })
  const more = acme.appendMessages([
    { customerId: 'c1', conversationId: 'v1', role: 'assistant', content: 'hi! ✓', timestamp: T0 + 2, metadata: { tokens: 3 } },
    { customerId: 'c2', conversationId: 'v2', role: 'tool', content: '', timestamp: T0 + 3 },
  ])
  assert.equal(typeof m1.id, 'number')
  assert.deepEqual(more.map((m) => m.id), [m1.id + 1, m1.id + 2], 'ids are assigned in order')
  db.close()
  assert.equal(db.closed, true)

  db = cidb.open(dir)
  acme = db.tenant('acme')
  assert.equal(acme.countCustomers(), 26)
  for (const c of cs) assert.deepEqual(acme.getCustomer(c.id), expectedCustomer(c))
  assert.deepEqual(acme.getCustomer('solo'), {
    id: 'solo', email: null, name: null, department: '', status: '', createdAt: 5, updatedAt: 6, attributes: {},
  })
  assert.deepEqual(acme.latestScore('c1', 'churn'), {
    customerId: 'c1', scoreType: 'churn', score: 0.75, confidence: 1, createdAt: T0 + 20, model: null,
  })
  assert.deepEqual(acme.scoreHistory('c1', 'churn').map((s) => [s.score, s.createdAt, s.model]), [
    [0.25, T0 + 10, 'm1'],
    [0.5, T0 + 15, null],
    [0.75, T0 + 20, null],
  ])
  assert.deepEqual(acme.messagesForConversation('v1'), [
    { id: m1.id, customerId: 'c1', conversationId: 'v1', role: 'user', timestamp: T0 + 1, content: 'hello', metadata: {} },
    { id: m1.id + 1, customerId: 'c1', conversationId: 'v1', role: 'assistant', timestamp: T0 + 2, content: 'hi! ✓', metadata: { tokens: 3 } },
  ])
  assert.deepEqual(acme.messagesForCustomer('c2').map((m) => m.role), ['tool'])
  assert.deepEqual(db.stats(), {
    customers: 26, scores: 3, latestScores: 1, messages: 3, commits: 0, writes: 0, failedWrites: 0, maxCommitGroup: 0,
    breaker: { state: 'closed', failures: 0, opened: 0, rejected: 0, lastError: null },
  })
  // another tenant sees none of it
  assert.equal(db.tenant('other').countCustomers(), 0)
  assert.equal(db.tenant('other').getCustomer('c1'), null)
  db.close()
})

test('absent optional fields come back as null, and defaults apply', (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  const before = Date.now()
  acme.upsertCustomer({ id: 'x', email: null, name: undefined, department: null })
  acme.addScore({ customerId: 'x', scoreType: 's', score: 0, confidence: 0, model: null })
  const m = acme.appendMessage({ customerId: 'x', conversationId: 'v', role: 'system', content: 'c', metadata: null })
  const after = Date.now()
  const c = acme.getCustomer('x')
  assert.deepEqual({ ...c, createdAt: 0, updatedAt: 0 }, {
    id: 'x', email: null, name: null, department: '', status: '', createdAt: 0, updatedAt: 0, attributes: {},
  })
  for (const ts of [c.createdAt, c.updatedAt, acme.latestScore('x', 's').createdAt, m.timestamp]) {
    assert.ok(ts >= before && ts <= after, `defaulted timestamp ${ts} is "now"`)
  }
  assert.equal(acme.latestScore('x', 's').model, null)
  assert.deepEqual(m.metadata, {})
  assert.equal(acme.getCustomer('missing'), null)
  assert.equal(acme.latestScore('x', 'missing'), null)
  assert.deepEqual(acme.scoreHistory('missing', 's'), [])
  assert.deepEqual(acme.messagesForConversation('missing'), [])
})

test('timestamps accept number, bigint and Date and come back as numbers', (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  const max = 253402300799999 // 9999-12-31T23:59:59.999Z, the largest accepted
  const cases = [
    [0, 0], [T0, T0], [BigInt(T0), T0], [new Date(T0), T0], [max, max], [BigInt(max), max], [new Date(max), max],
  ]
  cases.forEach(([input, expected], i) => {
    acme.upsertCustomer({ id: `t${i}`, createdAt: input, updatedAt: input })
    const c = acme.getCustomer(`t${i}`)
    assert.equal(c.createdAt, expected)
    assert.equal(typeof c.createdAt, 'number')
    assert.equal(new Date(c.updatedAt).getTime(), expected)
  })
})

test('attributes and metadata convert the way JSON.stringify sees them', (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  class Money {
    constructor(cents) { this.cents = cents }
    toJSON() { return `$${this.cents / 100}` }
  }
  const proto = { inherited: 'not own, left out' }
  const own = Object.create(proto)
  own.mine = 1
  const attributes = {
    s: 'text', n: -1.5, i: 42, big: 9007199254740993, t: true, f: false, z: null,
    when: new Date(T0), money: new Money(1250), list: [1, 'two', null, undefined, () => 1, { deep: [[[]]] }],
    skipped: undefined, fn() {}, [Symbol('s')]: 'symbols are left out', own, '': 'empty key', 'ключ': 'юникод',
  }
  acme.upsertCustomer({ id: 'j', attributes })
  assert.deepEqual(acme.getCustomer('j').attributes, JSON.parse(JSON.stringify(attributes)))
  // BigInts that fit 64 bits are stored exactly (JSON.stringify would throw); they come back
  // as numbers while safe integers and as BigInts beyond, never rounded
  acme.upsertCustomer({ id: 'b', attributes: { small: 7n, neg: -7n, i64: -(2n ** 60n), u64: 18446744073709551615n } })
  assert.deepEqual(acme.getCustomer('b').attributes, { small: 7, neg: -7, i64: -(2n ** 60n), u64: 18446744073709551615n })
  const msg = acme.appendMessage({ customerId: 'j', conversationId: 'v', role: 'agent', content: 'x', metadata: { when: new Date(0) } })
  assert.deepEqual(msg.metadata, { when: '1970-01-01T00:00:00.000Z' })
})

/** The field names `index.d.ts` declares for `interface name`, in declaration order. */
function declaredFields(name) {
  const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8')
  const body = dts.match(new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`))[1]
  return [...body.matchAll(/^  (\w+)\??:/gm)].map((m) => m[1])
}

test('records come back as plain objects with exactly the fields index.d.ts declares, in order', async (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  acme.upsertCustomer({ id: 'c', email: 'c@example.com', createdAt: T0, updatedAt: T0, attributes: { a: 1 } })
  acme.addScore({ customerId: 'c', scoreType: 'churn', score: 0.5, confidence: 0.9, createdAt: T0 })
  const appended = acme.appendMessage({ customerId: 'c', conversationId: 'v', role: 'user', content: 'hi', timestamp: T0 })
  const records = {
    Customer: [acme.getCustomer('c'), await acme.getCustomerAsync('c')],
    Score: [acme.latestScore('c', 'churn'), await acme.latestScoreAsync('c', 'churn'), ...acme.scoreHistory('c', 'churn')],
    Message: [appended, ...acme.messagesForCustomer('c'), ...(await acme.messagesForConversationAsync('v'))],
  }
  for (const [name, objects] of Object.entries(records)) {
    const fields = declaredFields(name)
    assert.ok(fields.length >= 6, `${name}: found its fields in index.d.ts`)
    for (const o of objects) {
      assert.deepEqual(Object.keys(o), fields, name)
      assert.equal(Object.getPrototypeOf(o), Object.prototype, name)
      for (const f of fields) assert.ok(Object.getOwnPropertyDescriptor(o, f).writable, `${name}.${f} is a plain data property`)
    }
  }
  // Each call returns a fresh object: changing one result does not change the next.
  const first = acme.getCustomer('c')
  first.attributes.a = 2
  first.id = 'changed'
  assert.deepEqual(acme.getCustomer('c'), { ...first, id: 'c', attributes: { a: 1 } })
})

test('text and JSON values of any alphabet and shape read back exactly', (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  const texts = ['plain', '', 'héllo ✓', 'ключ', '漢字', '😀 astral', 'quote " backslash \\ newline \n tab \t', '\u007f\u0080\u00ff', '\u2028\u2029']
  texts.forEach((s, i) => {
    const attributes = { [s]: s, nested: { list: [s, i, -(i + 1) / 3, 1e300, 5e-324, null, true] }, big: 2n ** 53n + BigInt(i), n: Number.MAX_SAFE_INTEGER }
    const id = `${s}#${i}`
    acme.upsertCustomer({ id, email: s || null, name: s, department: s, status: s, createdAt: T0, updatedAt: T0, attributes })
    const got = acme.getCustomer(id)
    assert.deepEqual(got, { id, email: s || null, name: s, department: s, status: s, createdAt: T0, updatedAt: T0, attributes: { ...attributes, big: 2n ** 53n + BigInt(i) } })
    // without the BigInt the attributes take the JSON text path; the values are the same
    const { big, ...safe } = attributes
    acme.upsertCustomer({ id, attributes: safe, createdAt: T0, updatedAt: T0 })
    assert.deepEqual(acme.getCustomer(id).attributes, safe)
    const m = acme.appendMessage({ customerId: id, conversationId: s || 'empty', role: 'tool', content: s, timestamp: T0, metadata: safe })
    assert.deepEqual(acme.messagesForCustomer(id).at(-1), m)
    assert.equal(m.content, s)
    assert.deepEqual(m.metadata, safe)
  })
  // strings around the binding's 512-byte read buffer, ending in characters of 1 to 4 bytes
  // of UTF-8 (and a lone surrogate, read as U+FFFD) that may straddle its end
  for (const ch of ['a', 'é', '✓', '😀', '\ud800']) {
    for (let bytes = 500; bytes <= 520; bytes++) {
      const content = 'x'.repeat(bytes - 4 * Math.floor(bytes / 100)) + ch.repeat(Math.floor(bytes / 100))
      const m = acme.appendMessage({ customerId: 'long', conversationId: 'long', role: 'user', content, timestamp: T0 })
      assert.equal(m.content, content.replaceAll('\ud800', '\ufffd'), `${bytes} / ${JSON.stringify(ch)}`)
    }
  }
})

test('message queries filter by time range, role and limit', (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  const roles = ['user', 'assistant', 'system', 'agent', 'tool']
  const appended = acme.appendMessages(
    Array.from({ length: 20 }, (_, i) => ({
      customerId: 'c', conversationId: `v${i % 2}`, role: roles[i % 5], content: `m${i}`, timestamp: T0 + i * 10,
    })),
  )
  const contents = (ms) => ms.map((m) => m.content)
  assert.equal(acme.messagesForCustomer('c').length, 20)
  assert.deepEqual(contents(acme.messagesForCustomer('c', { from: T0 + 50, to: new Date(T0 + 90) })), ['m5', 'm6', 'm7', 'm8'])
  assert.deepEqual(contents(acme.messagesForCustomer('c', { role: 'tool' })), ['m4', 'm9', 'm14', 'm19'])
  assert.deepEqual(contents(acme.messagesForCustomer('c', { role: 'user', limit: 2 })), ['m0', 'm5'])
  assert.deepEqual(contents(acme.messagesForCustomer('c', { limit: 3n, from: BigInt(T0 + 100) })), ['m10', 'm11', 'm12'])
  assert.deepEqual(acme.messagesForCustomer('c', { limit: 0 }), [], 'limit 0 returns none, as LIMIT 0 does')
  assert.deepEqual(acme.messagesForCustomer('c', { from: T0 + 100, to: T0 + 100 }), [])
  assert.deepEqual(acme.messagesForCustomer('c', { from: null, to: undefined, role: null, limit: null }).length, 20)
  assert.deepEqual(contents(acme.messagesForConversation('v1')), appended.filter((_, i) => i % 2).map((m) => m.content))
  assert.deepEqual(acme.messagesForCustomer('other'), [])
})

test('score history is the half-open range [from, to)', (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  acme.addScores(Array.from({ length: 10 }, (_, i) => ({
    customerId: 'c', scoreType: 'churn', score: i / 10, confidence: 1, createdAt: T0 + i,
  })))
  const at = (ss) => ss.map((s) => s.createdAt - T0)
  assert.deepEqual(at(acme.scoreHistory('c', 'churn', T0 + 3, T0 + 6)), [3, 4, 5])
  assert.deepEqual(at(acme.scoreHistory('c', 'churn', new Date(T0 + 8))), [8, 9])
  assert.deepEqual(at(acme.scoreHistory('c', 'churn', null, BigInt(T0 + 2))), [0, 1])
  assert.deepEqual(at(acme.scoreHistory('c', 'churn', T0 + 6, T0 + 3)), [])
  assert.equal(acme.latestScore('c', 'churn').score, 0.9)
})

test('delete and count', async (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  acme.upsertCustomers(customers(5))
  assert.equal(acme.deleteCustomer('c0'), true)
  assert.equal(acme.deleteCustomer('c0'), false)
  assert.equal(await acme.deleteCustomerAsync('c1'), true)
  assert.equal(await acme.deleteCustomerAsync('c1'), false)
  assert.equal(acme.countCustomers(), 3)
  assert.equal(await acme.countCustomersAsync(), 3)
  assert.equal(acme.getCustomer('c0'), null)
})

// Every operation, run in its sync form on one tenant and its Async form on another, gives
// the same results. Operations without an Async form are listed, with the reason.
const SYNC_ONLY = {
  subscribe: 'the callback form: its deliveries are asynchronous already',
  events: 'returns an async iterable at once',
  cacheGetOrSet: 'its producer is a JS function, run on the JS thread (see the README)',
  prepare: 'parses and binds only, no storage; the Statement has queryAsync',
}
const ENGINE_SYNC_ONLY = ['tenant', 'subscribe', 'events', 'monitorStats', 'prometheus', 'top', 'onAlert', 'removeAlertCallback', 'indexes']

test('every operation has an Async form that gives the same result', async (t) => {
  const dir = tempDir(t)
  const db = cidb.open(dir)
  t.after(() => db.close())
  const csv = path.join(dir, 'c.csv')
  fs.writeFileSync(csv, 'id,department\nimp1,ops\n,ops\n')
  const jsonl = path.join(dir, 's.jsonl')
  fs.writeFileSync(jsonl, '{"customer_id":"b1","score_type":"imp","score":0.5,"confidence":1,"created_at":1}\n{"score":2}\n')
  const ctx = { ttlMs: 60_000, maxHistory: 2 }
  const steps = [
    ['upsertCustomer', customers(1, 'a')[0]],
    ['upsertCustomers', customers(4, 'b')],
    ['getCustomer', 'b2'],
    ['getCustomer', 'nobody'],
    ['deleteCustomer', 'b3'],
    ['deleteCustomer', 'b3'],
    ['countCustomers'],
    ['addScore', { customerId: 'b1', scoreType: 'up', score: 0.1, confidence: 0.2, createdAt: T0 }],
    ['addScores', [{ customerId: 'b1', scoreType: 'up', score: 0.3, confidence: 0.4, createdAt: T0 + 1, model: 'm' }]],
    ['latestScore', 'b1', 'up'],
    ['latestScore', 'b1', 'none'],
    ['scoreHistory', 'b1', 'up'],
    ['scoreHistory', 'b1', 'up', T0 + 1, T0 + 2],
    ['appendMessage', { customerId: 'b1', conversationId: 'k', role: 'user', content: 'q', timestamp: T0 }],
    ['appendMessages', [{ customerId: 'b1', conversationId: 'k', role: 'assistant', content: 'a', timestamp: T0 + 1 }]],
    ['messagesForCustomer', 'b1'],
    ['messagesForCustomer', 'b1', { role: 'assistant', limit: 5 }],
    ['messagesForConversation', 'k'],
    ['cacheSet', 'key', Buffer.from('value'), { ttlMs: 60_000 }],
    ['cacheGet', 'key'],
    ['cacheDelete', 'key'],
    ['cacheGet', 'key'],
    ['cacheDelete', 'key'],
    ['updateContext', 'k', [{ role: 'user', content: 'c1', timestamp: T0 }, { role: 'tool', content: 'c2', timestamp: T0 + 1 }], ctx],
    ['updateContext', 'k', [{ role: 'assistant', content: 'c3', timestamp: T0 + 2 }], ctx],
    ['getContext', 'k'],
    ['deleteContext', 'k'],
    ['getContext', 'k'],
    ['deleteContext', 'k'],
    ['importRecords', 'customers', [{ id: 'rec1' }, { id: '' }]],
    ['importCsv', 'customers', csv],
    ['importJsonl', 'customer_scores', jsonl],
    ['eventsSince', 0],
    ['eventsSince', 0, 3],
    ['query', 'SELECT id, department, attributes FROM customers WHERE department = ? ORDER BY id', ['ops']],
    ['explain', 'SELECT id FROM customers WHERE department = ?', ['ops']],
    ['explain', 'SELECT id FROM customers WHERE department = ?', ['ops'], { json: true }],
  ]
  const sync = db.tenant('sync')
  const asyn = db.tenant('async')
  const tested = new Set()
  // Message ids, event sequence numbers and times are global, so compare without them.
  const strip = (v) => {
    if (Array.isArray(v)) return v.map(strip)
    if (!v || typeof v !== 'object' || Buffer.isBuffer(v)) return v
    if ('table' in v && 'op' in v) return { table: v.table, op: v.op }
    const out = {}
    for (const [k, x] of Object.entries(v)) {
      if (['elapsedMs', 'updatedAt', 'expiresAt'].includes(k)) continue
      out[k] = k === 'id' && 'conversationId' in v ? 0 : strip(x)
    }
    return out
  }
  for (const [method, ...args] of steps) {
    const p = asyn[`${method}Async`](...args)
    assert.ok(p instanceof Promise, `${method}Async returns a Promise`)
    const a = await p
    const s = sync[method](...args)
    assert.deepEqual(strip(a), strip(s), `${method}(${JSON.stringify(args)})`)
    tested.add(method)
  }
  const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(sync))
    .filter((m) => m !== 'constructor' && typeof sync[m] === 'function' && !m.endsWith('Async'))
  assert.deepEqual([...tested].sort(), methods.filter((m) => !(m in SYNC_ONLY)).sort(), 'every Tenant operation is covered')
  for (const m of methods) {
    assert.equal(typeof sync[`${m}Async`], m in SYNC_ONLY ? 'undefined' : 'function', `${m}: Async form iff not sync-only`)
  }
  const engineMethods = Object.getOwnPropertyNames(Object.getPrototypeOf(db))
    .filter((m) => m !== 'constructor' && typeof db[m] === 'function' && !m.endsWith('Async'))
  for (const m of engineMethods) {
    assert.equal(typeof db[`${m}Async`], ENGINE_SYNC_ONLY.includes(m) ? 'undefined' : 'function', `engine.${m}: Async form iff not sync-only`)
  }
  assert.deepEqual(await db.statsAsync(), db.stats())
  assert.deepEqual(strip(await db.eventsSinceAsync(0)), strip(db.eventsSince(0)))
  assert.equal(await db.sweepExpiredAsync(), db.sweepExpired())
  assert.deepEqual(Object.keys(await db.cacheStatsAsync()), Object.keys(db.cacheStats()))
})

test('open and close also have Async forms', async (t) => {
  const dir = tempDir(t)
  const db = await cidb.openAsync(dir, { profile: 'production' })
  assert.ok(db instanceof cidb.Engine)
  await db.tenant('a').upsertCustomerAsync({ id: 'x' })
  await db.closeAsync()
  assert.equal(db.closed, true)
  await db.closeAsync() // idempotent
  const again = await cidb.openAsync(dir)
  assert.equal(again.tenant('a').getCustomer('x').id, 'x')
  again.close()
})

test('message ids are numbers that increase in append order', (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  const ids = []
  for (let i = 0; i < 5; i++) ids.push(acme.appendMessage({ customerId: 'c', conversationId: 'v', role: 'user', content: '' }).id)
  ids.push(...acme.appendMessages(Array(5).fill({ customerId: 'c', conversationId: 'v', role: 'user', content: '' })).map((m) => m.id))
  for (const id of ids) assert.ok(Number.isSafeInteger(id))
  for (let i = 1; i < ids.length; i++) assert.equal(ids[i], ids[i - 1] + 1)
})

test('the engine reports its canonical path; tenant handles report their name', (t) => {
  const dir = tempDir(t)
  const db = cidb.open(`${dir}/./`)
  t.after(() => db.close())
  assert.equal(db.path, require('node:fs').realpathSync(dir))
  assert.equal(db.tenant('acme').name, 'acme')
  assert.equal(db.closed, false)
})
