// The application cache: Buffer values in and out, TTLs, tiers by size, persistence,
// tenant isolation, the single-producer cacheGetOrSet, cacheStats, and every error code.
'use strict'

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { cidb, tempDir, throwsCode, rejectsCode, bothFail, sleep } = require('./helpers')

function openTenant(t, name = 'acme') {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  return [db, db.tenant(name)]
}

test('values go in as Buffer, typed arrays, ArrayBuffer or string and come back as Buffers', async (t) => {
  const [, acme] = openTenant(t)
  const bytes = Buffer.from([0, 1, 2, 250, 255])
  acme.cacheSet('buf', bytes)
  acme.cacheSet('u8', new Uint8Array([9, 8, 7]))
  acme.cacheSet('f64', new Float64Array([1.5]))
  acme.cacheSet('ab', new Uint8Array([4, 5]).buffer)
  acme.cacheSet('view', new DataView(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2))
  await acme.cacheSetAsync('str', 'héllo ✓')
  acme.cacheSet('empty', '')
  assert.ok(Buffer.isBuffer(acme.cacheGet('buf')))
  assert.deepEqual(acme.cacheGet('buf'), bytes)
  assert.deepEqual(acme.cacheGet('u8'), Buffer.from([9, 8, 7]))
  assert.deepEqual(acme.cacheGet('f64'), Buffer.from(new Float64Array([1.5]).buffer))
  assert.deepEqual(acme.cacheGet('ab'), Buffer.from([4, 5]))
  assert.deepEqual(acme.cacheGet('view'), Buffer.from([2, 3]))
  assert.equal((await acme.cacheGetAsync('str')).toString('utf8'), 'héllo ✓')
  assert.deepEqual(acme.cacheGet('empty'), Buffer.alloc(0))
  assert.equal(acme.cacheGet('missing'), null)
  assert.equal(await acme.cacheGetAsync('missing'), null)
  // the value was copied: changing the caller's buffer afterwards changes nothing cached
  bytes[0] = 77
  assert.equal(acme.cacheGet('buf')[0], 0)
  // replacing
  acme.cacheSet('buf', 'new')
  assert.equal(acme.cacheGet('buf').toString(), 'new')
})

test('delete says whether a live entry existed; keys are per tenant', async (t) => {
  const [db, acme] = openTenant(t)
  const other = db.tenant('other')
  acme.cacheSet('k', 'acme value')
  other.cacheSet('k', 'other value')
  assert.equal(acme.cacheGet('k').toString(), 'acme value')
  assert.equal(other.cacheGet('k').toString(), 'other value')
  assert.equal(acme.cacheDelete('k'), true)
  assert.equal(acme.cacheDelete('k'), false)
  assert.equal(await other.cacheDeleteAsync('k'), true)
  assert.equal(await other.cacheDeleteAsync('k'), false)
  assert.equal(acme.cacheGet('k'), null)
})

test('a TTL makes the entry vanish once it passes, in every tier', async (t) => {
  const [, acme] = openTenant(t)
  const sizes = { small: 100, mid: 50 * 1024, large: 300 * 1024 }
  // The short TTL must outlive the set-then-get below even on a loaded machine; the read
  // right after the set is only asserted while the TTL has surely not passed.
  const ttl = 400
  for (const [name, n] of Object.entries(sizes)) {
    const setAt = Date.now()
    acme.cacheSet(`${name}-short`, Buffer.alloc(n, 1), { ttlMs: ttl })
    await acme.cacheSetAsync(`${name}-long`, Buffer.alloc(n, 2), { ttlMs: 60_000n })
    acme.cacheSet(`${name}-default`, Buffer.alloc(n, 3), null)
    const got = acme.cacheGet(`${name}-short`)
    if (Date.now() - setAt < ttl) assert.equal(got.length, n, `${name} alive before its TTL`)
  }
  await sleep(ttl * 2)
  for (const [name, n] of Object.entries(sizes)) {
    assert.equal(acme.cacheGet(`${name}-short`), null, `${name} expired`)
    assert.deepEqual(acme.cacheGet(`${name}-long`), Buffer.alloc(n, 2))
    assert.deepEqual(acme.cacheGet(`${name}-default`), Buffer.alloc(n, 3))
  }
})

test('persistent tiers survive a reopen; cacheStats counts per tier', async (t) => {
  const dir = tempDir(t)
  let db = cidb.open(dir)
  let acme = db.tenant('acme')
  const mid = Buffer.alloc(50 * 1024, 7)
  const large = Buffer.alloc(300 * 1024, 8)
  acme.cacheSet('mid', mid)
  acme.cacheSet('large', large)
  const s = db.cacheStats()
  assert.equal(s.l2.entries, 1)
  assert.equal(s.l3.entries, 1)
  assert.ok(s.l3.bytes < large.length, 'large values are compressed')
  assert.equal(s.hourly.length, 24)
  for (const tier of [s.l1, s.l2, s.l3]) {
    for (const k of ['hits', 'misses', 'hitRatio', 'entries', 'bytes', 'promotions', 'demotions', 'evictions', 'expirations']) {
      assert.equal(typeof tier[k], 'number', k)
    }
  }
  assert.deepEqual(Object.keys(s).sort(), ['hourly', 'l1', 'l2', 'l3', 'resultHits', 'resultMisses', 'staleFillsRefused', 'warmed', 'warnings'])
  db.close()
  db = cidb.open(dir)
  t.after(() => db.close())
  acme = db.tenant('acme')
  assert.deepEqual(acme.cacheGet('mid'), mid)
  assert.deepEqual(await acme.cacheGetAsync('large'), large)
  const after = await db.cacheStatsAsync()
  assert.ok(after.l2.hits + after.l3.hits + after.l1.hits >= 2, JSON.stringify(after))
  assert.ok(after.hourly.reduce((n, h) => n + h.accesses, 0) >= 2)
})

test('cacheGetOrSet calls the producer once, then serves the cached value', (t) => {
  const [, acme] = openTenant(t)
  let calls = 0
  const produce = () => { calls++; return `computed ${calls}` }
  assert.equal(acme.cacheGetOrSet('k', produce).toString(), 'computed 1')
  assert.equal(acme.cacheGetOrSet('k', produce).toString(), 'computed 1')
  assert.equal(calls, 1)
  assert.equal(acme.cacheGet('k').toString(), 'computed 1')
  acme.cacheSet('pre', Buffer.from([1]))
  assert.deepEqual(acme.cacheGetOrSet('pre', () => assert.fail('not called when present')), Buffer.from([1]))
  assert.deepEqual(acme.cacheGetOrSet('u8', () => new Uint8Array([3, 4]), { ttlMs: 60_000 }), Buffer.from([3, 4]))
  // a producer may use the cache for other keys
  const outer = acme.cacheGetOrSet('outer', () => Buffer.concat([acme.cacheGetOrSet('inner', () => 'in'), Buffer.from('+out')]))
  assert.equal(outer.toString(), 'in+out')
})

test('cacheGetOrSet: a throwing producer rethrows its own error and caches nothing', (t) => {
  const [, acme] = openTenant(t)
  const mine = new RangeError('producer failed')
  assert.throws(() => acme.cacheGetOrSet('k', () => { throw mine }), (e) => e === mine)
  assert.equal(acme.cacheGet('k'), null)
  assert.throws(() => acme.cacheGetOrSet('k', () => { throw 'a string' }), (e) => e === 'a string')
  // the next caller runs its producer
  assert.equal(acme.cacheGetOrSet('k', () => 'ok').toString(), 'ok')
})

test('cacheGetOrSet: producer results that are not bytes, and calls from its own producer', (t) => {
  const [, acme] = openTenant(t)
  throwsCode(() => acme.cacheGetOrSet('p', async () => 'late'), 'CIDB_TYPE_MISMATCH', /returned a Promise.*cacheSetAsync/)
  throwsCode(() => acme.cacheGetOrSet('n', () => 42), 'CIDB_TYPE_MISMATCH', /producer's result must be a Buffer, Uint8Array, ArrayBuffer or string, got number/)
  throwsCode(() => acme.cacheGetOrSet('u', () => undefined), 'CIDB_TYPE_MISMATCH', /got undefined/)
  throwsCode(() => acme.cacheGetOrSet('k', 'not a function'), 'CIDB_TYPE_MISMATCH', /producer must be a function, got string/)
  throwsCode(() => acme.cacheGetOrSet('r', () => acme.cacheGetOrSet('r', () => 'x')), 'CIDB_INVALID_INPUT', /called from its own producer/)
  throwsCode(() => acme.cacheGetOrSet('big', () => Buffer.alloc(16 * 1024 * 1024 + 1)), 'CIDB_VALUE_TOO_LARGE')
  for (const k of ['p', 'n', 'u', 'r', 'big']) assert.equal(acme.cacheGet(k), null)
  assert.equal(acme.cacheGetOrSet('r', () => 'fine').toString(), 'fine', 'the key is usable again')
  assert.equal(typeof acme.cacheGetOrSetAsync, 'undefined', 'sync form only')
})

test('bad keys, values and TTLs are coded errors in both forms; nothing is stored', async (t) => {
  const [db, acme] = openTenant(t)
  const ok = Buffer.from('v')
  await bothFail(acme, 'cacheSet', ['', ok], 'CIDB_INVALID_CACHE_KEY', /empty/)
  await bothFail(acme, 'cacheSet', ['k'.repeat(1025), ok], 'CIDB_INVALID_CACHE_KEY', /1025 bytes; the limit is 1024/)
  await bothFail(acme, 'cacheGet', [''], 'CIDB_INVALID_CACHE_KEY')
  await bothFail(acme, 'cacheDelete', ['x'.repeat(2000)], 'CIDB_INVALID_CACHE_KEY')
  acme.cacheSet('é'.repeat(512), ok) // 1024 bytes of UTF-8: the longest key
  assert.deepEqual(acme.cacheGet('é'.repeat(512)), ok)
  acme.cacheDelete('é'.repeat(512))
  await bothFail(acme, 'cacheSet', [7, ok], 'CIDB_TYPE_MISMATCH', /key must be a string, got number/)
  await bothFail(acme, 'cacheSet', ['k', 42], 'CIDB_TYPE_MISMATCH', /value must be a Buffer, Uint8Array, ArrayBuffer or string, got number/)
  await bothFail(acme, 'cacheSet', ['k', { a: 1 }], 'CIDB_TYPE_MISMATCH', /got object/)
  await bothFail(acme, 'cacheSet', ['k', Buffer.alloc(16 * 1024 * 1024 + 1)], 'CIDB_VALUE_TOO_LARGE', /16777217 bytes; the limit is 16777216/)
  for (const ttlMs of [0, -5, 1.5, NaN, Infinity, 0n, -1n]) {
    await bothFail(acme, 'cacheSet', ['k', ok, { ttlMs }], 'CIDB_INVALID_TTL', /options\.ttlMs/)
  }
  await bothFail(acme, 'cacheSet', ['k', ok, { ttlMs: '5' }], 'CIDB_TYPE_MISMATCH', /options\.ttlMs must be a number or bigint, got string/)
  await bothFail(acme, 'cacheSet', ['k', ok, 5], 'CIDB_TYPE_MISMATCH', /options must be an object, got number/)
  throwsCode(() => acme.cacheGetOrSet('', () => ok), 'CIDB_INVALID_CACHE_KEY')
  throwsCode(() => acme.cacheGetOrSet('k', () => ok, { ttlMs: 0 }), 'CIDB_INVALID_TTL')
  assert.equal(acme.cacheGet('k'), null)
  assert.equal(db.cacheStats().l1.entries + db.cacheStats().l2.entries + db.cacheStats().l3.entries, 0)
  // a 16 MiB value exactly is allowed
  await acme.cacheSetAsync('max', Buffer.alloc(16 * 1024 * 1024, 1))
  assert.equal((await acme.cacheGetAsync('max')).length, 16 * 1024 * 1024)
})

test('cache operations on a closed handle fail with CIDB_CLOSED', async (t) => {
  const db = cidb.open(tempDir(t))
  const acme = db.tenant('acme')
  db.close()
  await bothFail(acme, 'cacheGet', ['k'], 'CIDB_CLOSED')
  await bothFail(acme, 'cacheSet', ['k', 'v'], 'CIDB_CLOSED')
  await bothFail(acme, 'cacheDelete', ['k'], 'CIDB_CLOSED')
  throwsCode(() => acme.cacheGetOrSet('k', () => 'v'), 'CIDB_CLOSED')
  throwsCode(() => db.cacheStats(), 'CIDB_CLOSED')
  await rejectsCode(db.cacheStatsAsync(), 'CIDB_CLOSED')
})
