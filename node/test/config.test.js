// Configuration: `config({profile, config})` shows the effective settings and their sources
// (profile defaults, machine, TOML file, CIDB_* environment), and `open` uses exactly those.
'use strict'

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { cidb, tempDir, throwsCode, rejectsCode, runNode } = require('./helpers')

const byKey = (settings) => Object.fromEntries(settings.map((s) => [s.key, s]))

function toml(t, text) {
  const file = path.join(tempDir(t), 'cidb.toml')
  fs.writeFileSync(file, text)
  return file
}

test('config() lists every setting once, in a fixed order, with value and source', () => {
  const s = cidb.config()
  assert.ok(s.length >= 15)
  assert.equal(new Set(s.map((x) => x.key)).size, s.length)
  assert.deepEqual(cidb.config().map((x) => x.key), s.map((x) => x.key), 'the order is fixed')
  for (const x of s) {
    assert.equal(typeof x.value, 'string')
    assert.match(x.source, /^(default|argument|machine|profile:\w+|file:.+|env:CIDB_\w+)$/)
  }
  const k = byKey(s)
  assert.deepEqual(k.profile, { key: 'profile', value: 'development', source: 'default' })
  assert.deepEqual(k.l1_max_items, { key: 'l1_max_items', value: '1000', source: 'profile:development' })
  assert.equal(k.background_workers.source, 'machine')
  assert.deepEqual(byKey(cidb.config(null)), k)
  // redb's page cache: 1 GiB in development, or a quarter of memory where that is less
  assert.ok(k.page_cache_bytes.value === String(2 ** 30) || k.page_cache_bytes.source === 'machine')
  // the redo log is on by default; a config file turns it off
  assert.equal(k.redo_log.value, 'true')
})

test('the profile option and a TOML file override the defaults; sources say which', (t) => {
  const p = byKey(cidb.config({ profile: 'production' }))
  assert.deepEqual(p.profile, { key: 'profile', value: 'production', source: 'argument' })
  assert.deepEqual(p.l1_max_items, { key: 'l1_max_items', value: '10000', source: 'profile:production' })

  const file = toml(t, 'profile = "production"\nl1_max_items = 123\nfeed_queue_capacity = 7\n')
  const f = byKey(cidb.config({ config: file }))
  assert.deepEqual(f.profile, { key: 'profile', value: 'production', source: `file:${file}` })
  assert.deepEqual(f.l1_max_items, { key: 'l1_max_items', value: '123', source: `file:${file}` })
  assert.equal(f.feed_queue_capacity.value, '7')
  assert.equal(byKey(cidb.config({ config: toml(t, 'redo_log = false\n') })).redo_log.value, 'false')
  assert.equal(f.breaker_threshold.source, 'profile:production')
  throwsCode(() => cidb.config({ config: toml(t, 'page_cache_bytes = 4096\n') }), 'CIDB_CONFIG', /page_cache_bytes.*1 MiB/)
  // the argument beats the file's profile
  assert.equal(byKey(cidb.config({ profile: 'development', config: file })).profile.value, 'development')
})

test('CIDB_* environment variables override the file and name themselves as the source', (t) => {
  const file = toml(t, 'sweep_interval_ms = 500\n')
  const out = runNode(
    `const cidb = require(process.env.CIDB_PKG)
     const s = Object.fromEntries(cidb.config({ config: process.argv[1] }).map((x) => [x.key, x]))
     console.log(JSON.stringify([s.sweep_interval_ms, s.profile]))`,
    [file], [], { CIDB_SWEEP_INTERVAL_MS: '250', CIDB_PROFILE: 'production' })
  assert.deepEqual(JSON.parse(out), [
    { key: 'sweep_interval_ms', value: '250', source: 'env:CIDB_SWEEP_INTERVAL_MS' },
    { key: 'profile', value: 'production', source: 'env:CIDB_PROFILE' },
  ])
  const bad = runNode(
    `const cidb = require(process.env.CIDB_PKG)
     try { cidb.config(); console.log('accepted') } catch (e) { console.log(e.code + ' ' + e.message) }
     try { cidb.open(process.argv[1]); console.log('opened') } catch (e) { console.log(e.code) }`,
    [tempDir(t)], [], { CIDB_L1_MAX_ITEMS: 'lots' })
  const [line1, line2] = bad.split('\n')
  assert.match(line1, /^CIDB_CONFIG .*l1_max_items.*env:CIDB_L1_MAX_ITEMS/)
  assert.equal(line2, 'CIDB_CONFIG')
})

test('open uses the configuration: a file setting takes effect in the engine', async (t) => {
  const file = toml(t, 'feed_queue_capacity = 2\n')
  const db = cidb.open(tempDir(t), { config: file })
  t.after(() => db.close())
  // With a queue of 2, a subscriber that is not reading misses events: proof the file was read.
  const acme = db.tenant('acme')
  const stream = acme.events()
  const it = stream[Symbol.asyncIterator]()
  acme.upsertCustomers([{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd' }, { id: 'e' }])
  const first = await it.next()
  const second = await it.next()
  const third = await it.next()
  stream.close()
  assert.deepEqual(await it.next(), { done: true, value: undefined })
  assert.equal(first.value.event.key, 'a')
  assert.equal(second.value.event.key, 'b')
  assert.deepEqual(third.value, { missed: { count: 3, fromSeq: second.value.event.seq + 1 } })
})

test('bad configuration is CIDB_CONFIG naming the problem, from open, openAsync and config', async (t) => {
  const dir = tempDir(t)
  const cases = [
    [{ config: toml(t, 'colour = 1\n') }, 'CIDB_CONFIG', /colour/],
    [{ config: toml(t, 'not toml [') }, 'CIDB_CONFIG', /not valid TOML/],
    [{ config: toml(t, 'group_commit_window_ms = 51\n') }, 'CIDB_CONFIG', /group_commit_window_ms/],
    [{ config: path.join(dir, 'missing.toml') }, 'CIDB_CONFIG', /cannot read .*missing\.toml/],
    [{ profile: 'turbo' }, 'CIDB_CONFIG', /turbo/],
    [{ config: '' }, 'CIDB_INVALID_INPUT', /options\.config is empty/],
    [{ config: 5 }, 'CIDB_TYPE_MISMATCH', /options\.config must be a string, got number/],
    [{ profile: true }, 'CIDB_TYPE_MISMATCH', /options\.profile must be a string/],
    ['production', 'CIDB_TYPE_MISMATCH', /options must be an object, got string/],
  ]
  for (const [opts, code, message] of cases) {
    throwsCode(() => cidb.config(opts), code, message)
    throwsCode(() => cidb.open(dir, opts), code, message)
    await rejectsCode(cidb.openAsync(dir, opts), code, message)
  }
  assert.deepEqual(fs.readdirSync(dir).filter((f) => !f.endsWith('.toml')), [], 'nothing was opened')
})

test('one directory is shared only with the same effective settings', (t) => {
  const dir = tempDir(t)
  const small = toml(t, 'l1_max_items = 50\n')
  const db = cidb.open(dir, { config: small })
  t.after(() => db.close())
  const again = cidb.open(dir, { config: small })
  again.tenant('acme').upsertCustomer({ id: 'c1' })
  assert.equal(db.tenant('acme').getCustomer('c1').id, 'c1', 'the same engine')
  again.close()
  const e = throwsCode(() => cidb.open(dir), 'CIDB_ALREADY_OPEN')
  assert.match(e.message, /l1_max_items = 50 \(this open asks for 1000\)/)
})
