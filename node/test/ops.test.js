// The operations layer: the index advisor (advise, adviseApply), health, optimize, metrics
// and metricsPrometheus, each on a real workload run through SQL, in both forms, with
// their argument and closed-handle errors.
'use strict'

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { cidb, tempDir, throwsCode, rejectsCode } = require('./helpers')

const N = 2000
const BY_NAME = 'SELECT id FROM customers WHERE name = ?'
const BY_DEPT = 'SELECT id FROM customers WHERE department = ? AND status = ? AND created_at > ? ORDER BY created_at DESC LIMIT 20'
const DEPT_INDEX = 'idx_customers_department_status_created_at'
const DEPARTMENTS = ['sales', 'ops', 'support', 'eng', 'finance', 'legal', 'hr', 'marketing']
const STATUSES = ['active', 'churned', 'trial']

/**
 * Settings of the engines here: no alert fires by itself (however slow a loaded machine
 * makes a statement), so the alerts these tests see are the ones they cause.
 */
function quietConfig(t) {
  const file = path.join(tempDir(t), 'cidb.toml')
  fs.writeFileSync(file, `alert_slow_query_ms = ${QUIET_SLOW_MS}\nalert_min_window_calls = 1000000000\n`)
  return file
}
const QUIET_SLOW_MS = 600_000

/** An engine with `N` customers in tenant `acme` and fresh planner statistics. */
function loaded(t) {
  const db = cidb.open(tempDir(t), { config: quietConfig(t) })
  t.after(() => db.close())
  const acme = db.tenant('acme')
  acme.upsertCustomers(Array.from({ length: N }, (_, i) => ({
    id: `c${i}`,
    name: `name ${i}`,
    department: DEPARTMENTS[i % DEPARTMENTS.length],
    status: STATUSES[i % STATUSES.length],
    createdAt: 1_700_000_000_000 - i * 3_600_000,
  })))
  db.execute('ANALYZE')
  return { db, acme }
}

/** Runs `sql` `calls` times through one prepared statement with `params(i)`. */
function workload(acme, sql, calls, params) {
  const stmt = acme.prepare(sql)
  for (let i = 0; i < calls; i++) stmt.query(params(i))
}

const byName = (i) => [`name ${(i * 37) % N}`]
const byDept = (i) => [DEPARTMENTS[i % DEPARTMENTS.length], STATUSES[i % 3], 1_600_000_000_000]
const onName = (r) => r.table === 'customers' && r.columns[0] === 'name'

test('advise recommends an index for a filtered column; adviseApply builds it and EXPLAIN uses it', async (t) => {
  const { db, acme } = loaded(t)
  assert.equal(db.advise().recommendations.filter(onName).length, 0, 'nothing recorded yet')
  assert.match(acme.explain(BY_NAME, ['name 1']), /SCAN customers/)
  workload(acme, BY_NAME, 30, byName)

  const advice = db.advise()
  assert.deepEqual(Object.keys(advice).sort(), ['queriesConsidered', 'recommendations', 'unindexedForeignKeys', 'unusedIndexes'])
  assert.ok(advice.queriesConsidered >= 1, `${advice.queriesConsidered} queries considered`)
  const rec = advice.recommendations.find(onName)
  assert.ok(rec, JSON.stringify(advice.recommendations))
  assert.deepEqual(rec.columns, ['name'])
  assert.equal(rec.predicate, null)
  assert.match(rec.createSql, new RegExp(`^CREATE INDEX CONCURRENTLY ${rec.name} ON customers\\s*\\(name\\)$`))
  assert.ok(rec.gain > 0.5 && rec.gain <= 1, `gain ${rec.gain}`)
  assert.ok(Math.abs(rec.gain - (1 - rec.costAfter / rec.costBefore)) < 1e-9)
  const helped = rec.queries.find((q) => q.query === 'SELECT id FROM customers WHERE name = ?')
  assert.ok(helped, JSON.stringify(rec.queries))
  assert.equal(helped.calls, 30)
  assert.ok(helped.costAfter < helped.costBefore)
  assert.match(helped.planBefore, /^SCAN customers/)
  assert.ok(helped.planAfter.includes(rec.name), helped.planAfter)
  assert.ok(db.monitorStats().fingerprints.some((f) => f.id === helped.fingerprint), 'the fingerprint id is the monitor\'s')
  // every seed index is unused by this workload; the UNIQUE flag and DROP statement come along
  const unused = advice.unusedIndexes.find((u) => u.name === 'idx_customers_email_partial')
  assert.deepEqual(unused, { name: 'idx_customers_email_partial', table: 'customers', entries: 0, unique: false, dropSql: 'DROP INDEX idx_customers_email_partial' })
  assert.deepEqual(advice.unindexedForeignKeys, [], 'the seed indexes serve every customer_id')

  // the options are applied
  assert.deepEqual(db.advise({ maxRecommendations: 0 }).recommendations, [])
  assert.equal(db.advise({ minCalls: 31 }).recommendations.filter(onName).length, 0, 'the 30-call workload is below minCalls')
  assert.equal(db.advise({ minCalls: 30, minGain: 0 }).recommendations.find(onName).name, rec.name)
  const viaAsync = await db.adviseAsync({ minGain: 0.5 })
  assert.deepEqual(viaAsync.recommendations.map((r) => r.createSql), advice.recommendations.map((r) => r.createSql))

  const built = db.adviseApply()
  assert.deepEqual(built.map((r) => r.createSql), [rec.createSql])
  const info = db.indexes().find((i) => i.name === rec.name)
  assert.deepEqual([info.table, info.columns, info.ready, info.entries], ['customers', ['name'], true, N])
  assert.ok(acme.explain(BY_NAME, ['name 1']).includes(rec.name), 'EXPLAIN uses the new index')
  assert.deepEqual(acme.query(BY_NAME, ['name 1234']).rows, [['c1234']])
  const after = db.advise()
  assert.equal(after.recommendations.filter(onName).length, 0, JSON.stringify(after.recommendations))
  assert.deepEqual(db.adviseApply(0), [], 'nothing left to build')
})

test('adviseApplyAsync builds what the dropped seed index served; the foreign-key report follows the catalog', async (t) => {
  const { db, acme } = loaded(t)
  db.execute('DROP INDEX idx_conversation_messages_customer_id_timestamp_role')
  const fks = db.advise().unindexedForeignKeys
  assert.deepEqual(fks, [{
    table: 'conversation_messages',
    column: 'customer_id',
    references: 'customers.id',
    createSql: 'CREATE INDEX CONCURRENTLY idx_conversation_messages_customer_id ON conversation_messages(customer_id)',
  }])
  db.execute(`DROP INDEX ${DEPT_INDEX}`)
  workload(acme, BY_DEPT, 24, byDept)
  const built = await db.adviseApplyAsync(0.5)
  const rec = built.find((r) => r.table === 'customers')
  assert.ok(rec, JSON.stringify(built))
  assert.deepEqual(rec.columns.slice(0, 2).sort(), ['department', 'status'])
  assert.ok(db.indexes().some((i) => i.name === rec.name && i.ready))
  assert.ok(acme.explain(BY_DEPT, byDept(0)).includes(rec.name))
})

test('optimize builds only what reaches the gain, and reports the rest', async (t) => {
  const { db, acme } = loaded(t)
  db.execute(`DROP INDEX ${DEPT_INDEX}`)
  workload(acme, BY_NAME, 20, byName)
  const before = db.indexes().map((i) => i.name).sort()

  // no index saves the whole cost: with minGain 1 everything is skipped, nothing built
  const none = db.optimize(1)
  assert.deepEqual(none.applied, [])
  assert.ok(none.skipped.some(onName), JSON.stringify(none.skipped))
  assert.deepEqual(none.failed, [])
  assert.deepEqual(db.indexes().map((i) => i.name).sort(), before)
  assert.ok(none.analyzeMs >= 0 && none.elapsedMs >= none.analyzeMs)
  assert.equal(typeof none.warmed, 'number')

  const done = await db.optimizeAsync(0.5)
  const rec = done.applied.find(onName)
  assert.ok(rec, JSON.stringify(done))
  assert.deepEqual(done.failed, [])
  assert.ok(done.skipped.every((r) => r.gain < 0.5))
  assert.ok(db.indexes().some((i) => i.name === rec.name && i.ready && i.entries === N))
  assert.ok(done.unusedIndexes.some((u) => u.name === 'idx_customers_email_partial'))
  assert.deepEqual(db.optimize().applied, [], 'a second run has nothing to build')
})

test('health: ok with every index sampled, degraded by an active alert', async (t) => {
  const { db } = loaded(t)
  const h = db.health()
  assert.deepEqual(Object.keys(h).sort(), ['activeAlerts', 'breaker', 'cacheOpen', 'healthy', 'indexes', 'problems', 'status', 'storageError', 'storageWritable'])
  assert.equal(h.healthy, true)
  assert.equal(h.status, 'ok')
  assert.equal(h.storageWritable, true)
  assert.equal(h.storageError, null)
  assert.equal(h.breaker.state, 'closed')
  assert.equal(h.cacheOpen, true)
  assert.deepEqual(h.activeAlerts, [])
  assert.deepEqual(h.problems, [])
  const ready = db.indexes().filter((i) => i.ready).map((i) => i.name).sort()
  assert.deepEqual(h.indexes.map((c) => c.index).sort(), ready, 'every ready index is checked')
  for (const c of h.indexes) {
    assert.equal(c.missing, 0, c.index)
    assert.equal(c.extra, 0, c.index)
  }
  const dept = h.indexes.find((c) => c.index === DEPT_INDEX)
  assert.ok(dept.rowsChecked > 0 && dept.entriesChecked > 0, JSON.stringify(dept))

  cidb.__recordForTest(db, 'SELECT * FROM customers WHERE id = 7', QUIET_SLOW_MS + 1)
  const d = await db.healthAsync()
  assert.equal(d.healthy, true, 'alerts degrade, they do not make the engine unhealthy')
  assert.equal(d.status, 'degraded')
  assert.equal(d.activeAlerts.length, 1)
  assert.equal(d.activeAlerts[0].kind, 'slow_query')
  assert.equal(d.activeAlerts[0].threshold, QUIET_SLOW_MS, 'the quiet settings apply')
  assert.deepEqual(d.problems, [`alert: ${d.activeAlerts[0].message}`])
})

test('metrics reports what was done, in the engine, cache and monitor sections', async (t) => {
  const { db, acme } = loaded(t)
  db.execute(`DROP INDEX ${DEPT_INDEX}`)
  acme.upsertCustomer({ id: 'extra' })
  workload(acme, BY_NAME, 12, byName)
  const l1 = db.cacheStats().l1
  acme.cacheSet('k1', 'v1')
  acme.cacheSet('k2', 'v2')
  assert.equal(acme.cacheGet('k1').toString(), 'v1')
  const m = db.metrics()
  assert.deepEqual(Object.keys(m).sort(), ['cache', 'engine', 'indexUsage', 'monitor'])
  assert.deepEqual(m.engine, db.stats())
  assert.equal(m.engine.customers, N + 1)
  assert.equal(m.cache.l1.entries, l1.entries + 2, 'the two values set')
  assert.equal(m.cache.l1.hits, l1.hits + 1, 'the one read')
  assert.deepEqual(m.cache, db.cacheStats())
  const q = m.monitor.fingerprints.find((f) => f.query === BY_NAME)
  assert.equal(q.calls, 12)
  assert.equal(q.tableScans, 12, 'no index on name: every call scanned')
  assert.deepEqual(m.monitor, db.monitorStats())
  assert.deepEqual(m.indexUsage.map((u) => u.name).sort(), db.indexes().map((i) => i.name).sort())
  assert.ok(m.indexUsage.every((u) => u.uses === 0 && typeof u.table === 'string'))

  // the index usage follows the statements that read an index
  const [built] = db.adviseApply()
  workload(acme, BY_NAME, 5, byName)
  const usage = (await db.metricsAsync()).indexUsage.find((u) => u.name === built.name)
  assert.deepEqual(usage, { name: built.name, table: 'customers', uses: 5 })
})

/** Parses Prometheus text exposition 0.0.4 strictly; returns { families, samples }. */
function parsePrometheus(text) {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline')
  const families = new Map()
  const samples = []
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*'
  const value = '(?:[-+]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][-+]?\\d+)?|NaN|[-+]Inf)'
  const label = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`
  const sampleRe = new RegExp(`^(${name})(\\{(?:${label}(?:,${label})*)?\\})? (${value})$`)
  for (const line of text.slice(0, -1).split('\n')) {
    let m
    if ((m = line.match(new RegExp(`^# HELP (${name}) (.*)$`)))) {
      assert.ok(!families.has(m[1]) || !families.get(m[1]).help, `HELP ${m[1]} once`)
      families.set(m[1], { ...families.get(m[1]), help: m[2] })
    } else if ((m = line.match(new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`)))) {
      const f = families.get(m[1]) || {}
      assert.ok(!f.type, `TYPE ${m[1]} once`)
      assert.ok(!f.samples, `TYPE ${m[1]} before its samples`)
      families.set(m[1], { ...f, type: m[2] })
    } else if ((m = line.match(sampleRe))) {
      const base = [m[1], m[1].replace(/_(bucket|sum|count)$/, '')].find((n) => families.has(n) && families.get(n).type)
      assert.ok(base, `sample ${m[1]} has a declared family: ${line}`)
      families.get(base).samples = (families.get(base).samples || 0) + 1
      samples.push({ name: m[1], labels: m[2] || '', value: Number(m[3].replace('Inf', 'Infinity')) })
    } else {
      assert.fail(`not Prometheus text exposition: ${JSON.stringify(line)}`)
    }
  }
  return { families, samples }
}

test('metricsPrometheus parses as Prometheus text and carries the same figures', async (t) => {
  const { db, acme } = loaded(t)
  acme.cacheSet('k', 'v')
  assert.equal(acme.cacheGet('k').toString(), 'v')
  workload(acme, BY_NAME, 9, byName)
  const m = db.metrics()
  const text = db.metricsPrometheus()
  const { families, samples } = parsePrometheus(text)
  const one = (n, labels = '') => {
    const s = samples.filter((x) => x.name === n && x.labels === labels)
    assert.equal(s.length, 1, `${n}${labels} once`)
    return s[0].value
  }
  assert.equal(families.get('cidb_rows').type, 'gauge')
  assert.equal(one('cidb_rows', '{table="customers"}'), m.engine.customers)
  assert.equal(one('cidb_writes_total'), m.engine.writes)
  assert.equal(families.get('cidb_writes_total').type, 'counter')
  assert.equal(one('cidb_breaker_state', '{state="closed"}'), 1)
  assert.equal(one('cidb_cache_entries', '{tier="l1"}'), m.cache.l1.entries)
  assert.equal(one('cidb_cache_hits_total', '{tier="l1"}'), m.cache.l1.hits)
  const fp = m.monitor.fingerprints.find((f) => f.query === BY_NAME)
  assert.equal(one('cidb_statement_calls_total', `{fingerprint="${fp.id}",query="${BY_NAME}"}`), 9)
  assert.equal(one('cidb_index_uses_total', `{index="${DEPT_INDEX}",table="customers"}`), 0)
  for (const [n, f] of families) assert.ok(f.help && f.type, `${n} has HELP and TYPE`)
  assert.equal(await db.metricsPrometheusAsync(), db.metricsPrometheus(), 'nothing changed in between')
})

test('bad arguments are coded errors in both forms', async (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  for (const bad of [1.5, -0.1, NaN, Infinity, -Infinity]) {
    throwsCode(() => db.advise({ minGain: bad }), 'CIDB_INVALID_INPUT', /options\.minGain is .*fraction from 0 to 1/)
    throwsCode(() => db.adviseApply(bad), 'CIDB_INVALID_INPUT', /minGain is/)
    throwsCode(() => db.optimize(bad), 'CIDB_INVALID_INPUT', /minGain is/)
    await rejectsCode(db.adviseAsync({ minGain: bad }), 'CIDB_INVALID_INPUT', /minGain/)
    await rejectsCode(db.adviseApplyAsync(bad), 'CIDB_INVALID_INPUT', /minGain/)
    await rejectsCode(db.optimizeAsync(bad), 'CIDB_INVALID_INPUT', /minGain/)
  }
  throwsCode(() => db.advise({ minGain: '0.5' }), 'CIDB_TYPE_MISMATCH', /options\.minGain must be a number, got string/)
  throwsCode(() => db.adviseApply('0.5'), 'CIDB_TYPE_MISMATCH', /minGain must be a number/)
  throwsCode(() => db.optimize(true), 'CIDB_TYPE_MISMATCH', /minGain must be a number/)
  throwsCode(() => db.advise('fast'), 'CIDB_TYPE_MISMATCH', /options must be an object/)
  throwsCode(() => db.advise({ minCalls: -1 }), 'CIDB_INVALID_INPUT', /options\.minCalls is -1/)
  throwsCode(() => db.advise({ maxRecommendations: 2.5 }), 'CIDB_INVALID_INPUT', /options\.maxRecommendations is 2\.5/)
  // the edges of the range and absent values are fine
  assert.deepEqual(db.advise({ minGain: 0, minCalls: null, maxRecommendations: undefined }).recommendations, [])
  assert.deepEqual(db.adviseApply(1), [])
  assert.deepEqual(db.adviseApply(null), [])
})

test('a closed handle refuses every operation with CIDB_CLOSED', async (t) => {
  const dir = tempDir(t)
  const db = cidb.open(dir)
  const other = cidb.open(dir) // the engine stays open for other handles
  t.after(() => other.close())
  db.close()
  for (const m of ['advise', 'adviseApply', 'health', 'optimize', 'metrics', 'metricsPrometheus']) {
    throwsCode(() => db[m](), 'CIDB_CLOSED')
    await rejectsCode(db[`${m}Async`](), 'CIDB_CLOSED')
  }
  assert.equal(other.health().healthy, true)
})
