// Monitoring (statistics, Prometheus text, top, alert callbacks) and online backup.
'use strict'

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { cidb, tempDir, throwsCode, rejectsCode, runNode, sleep, until } = require('./helpers')

function open(t) {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  return db
}

test('monitorStats counts the typed fast paths by fingerprint', (t) => {
  const db = open(t)
  const acme = db.tenant('acme')
  acme.upsertCustomer({ id: 'c1' })
  for (let i = 0; i < 7; i++) acme.getCustomer(i % 2 ? 'c1' : 'nobody')
  acme.countCustomers()
  const s = db.monitorStats()
  assert.deepEqual(Object.keys(s).sort(), ['alerts', 'alertsFired', 'evictedFingerprints', 'fingerprints', 'slowQueries', 'warnings'])
  assert.equal(s.alertsFired, 0)
  assert.deepEqual(s.warnings, [])
  const get = s.fingerprints.find((f) => f.query === 'fast:get_customer')
  assert.ok(get, JSON.stringify(s.fingerprints.map((f) => f.query)))
  assert.equal(get.calls, 7)
  assert.equal(get.errors, 0)
  assert.equal(get.rowsReturned, 3)
  assert.ok(get.totalMs > 0 && get.maxMs >= get.minMs && get.p99Ms >= get.p50Ms)
  assert.equal(typeof get.id, 'string')
  assert.equal(s.fingerprints.find((f) => f.query === 'fast:count_customers').calls, 1)
  assert.deepEqual(s.slowQueries, [])
  assert.deepEqual(s.alerts, [])
  // top(n): most total time first
  const top = db.top(1)
  assert.equal(top.length, 1)
  assert.equal(top[0].totalMs, Math.max(...s.fingerprints.map((f) => f.totalMs)))
  assert.deepEqual(db.top(0), [])
  assert.equal(db.top(1000).length, s.fingerprints.length)
  // Prometheus text
  const text = db.prometheus()
  assert.match(text, /# TYPE cidb_statement_calls_total counter/)
  assert.match(text, new RegExp(`cidb_statement_calls_total\\{fingerprint="${get.id}",query="fast:get_customer"\\} 7\\n`))
  assert.match(text, /\ncidb_alerts_total 0\n/)
})

test('alert callbacks get every alert on the JS thread until removed', async (t) => {
  const db = open(t)
  const a = []
  const b = []
  const idA = db.onAlert((alert) => a.push(alert))
  const idB = db.onAlert((alert) => b.push(alert))
  assert.notEqual(idA, idB)
  cidb.__recordForTest(db, 'SELECT * FROM customers WHERE id = 42', 250)
  await until(() => a.length === 1 && b.length === 1, 'both callbacks')
  assert.deepEqual(a[0], b[0])
  const alert = a[0]
  assert.equal(alert.kind, 'slow_query')
  assert.equal(alert.value, 250)
  assert.equal(alert.threshold, 100)
  assert.match(alert.fingerprint, /customers/)
  assert.doesNotMatch(alert.fingerprint, /42/, 'constants are stripped')
  assert.match(alert.message, /slow query: 250\.0 ms > 100\.0 ms/)
  assert.ok(Math.abs(alert.at - Date.now()) < 60_000)
  const s = db.monitorStats()
  assert.deepEqual(s.alerts, [alert])
  assert.equal(s.alertsFired, 1)
  assert.equal(s.slowQueries.length, 1)
  assert.equal(s.slowQueries[0].sql, 'SELECT * FROM customers WHERE id = 42')
  assert.equal(s.slowQueries[0].elapsedMs, 250)
  assert.equal(s.slowQueries[0].plan, 'SEARCH customers USING INDEX (test)')
  assert.match(db.prometheus(), /\ncidb_alerts_total 1\n/)

  assert.equal(db.removeAlertCallback(idA), true)
  assert.equal(db.removeAlertCallback(idA), false)
  assert.equal(db.removeAlertCallback(987654), false)
  cidb.__recordForTest(db, 'SELECT * FROM customer_scores WHERE score > 0.5', 300)
  await until(() => b.length === 2, 'the remaining callback')
  await sleep(20)
  assert.equal(a.length, 1, 'a removed callback is not called')
  assert.equal(b[1].value, 300)
})

test('alert callbacks end with the handle they were registered through', async (t) => {
  const dir = tempDir(t)
  const db = cidb.open(dir)
  const other = cidb.open(dir)
  t.after(() => other.close())
  const got = []
  const id = db.onAlert((x) => got.push(x))
  const kept = []
  other.onAlert((x) => kept.push(x))
  assert.equal(other.removeAlertCallback(id), false, 'only the registering handle removes it')
  db.close()
  cidb.__recordForTest(other, 'SELECT 1 FROM customers', 500)
  await until(() => kept.length === 1, 'the open handle\'s callback')
  await sleep(20)
  assert.deepEqual(got, [])
  throwsCode(() => db.onAlert(() => {}), 'CIDB_CLOSED')
  throwsCode(() => db.removeAlertCallback(id), 'CIDB_CLOSED')
  throwsCode(() => db.monitorStats(), 'CIDB_CLOSED')
  throwsCode(() => db.prometheus(), 'CIDB_CLOSED')
  throwsCode(() => db.top(3), 'CIDB_CLOSED')
})

test('an alert callback never keeps the process alive', () => {
  const out = runNode(
    `const cidb = require(process.env.CIDB_PKG)
     const db = cidb.open(process.argv[1])
     db.onAlert((a) => console.log('alert ' + a.kind))
     cidb.__recordForTest(db, 'SELECT 1 FROM customers', 500)
     setTimeout(() => console.log('done'), 50)`,
    [tempDir()])
  assert.deepEqual(out.split('\n'), ['alert slow_query', 'done'])
})

test('bad monitor arguments are coded errors', (t) => {
  const db = open(t)
  throwsCode(() => db.onAlert('log'), 'CIDB_TYPE_MISMATCH', /callback must be a function, got string/)
  throwsCode(() => db.onAlert(), 'CIDB_TYPE_MISMATCH')
  throwsCode(() => db.top('3'), 'CIDB_TYPE_MISMATCH', /n must be a number or bigint/)
  throwsCode(() => db.top(-1), 'CIDB_INVALID_INPUT', /n is -1/)
  throwsCode(() => db.removeAlertCallback('1'), 'CIDB_TYPE_MISMATCH', /id must be a number/)
  throwsCode(() => db.removeAlertCallback(1.5), 'CIDB_INVALID_INPUT')
})

test('backup writes a consistent copy that opens like any database', async (t) => {
  const db = open(t)
  const acme = db.tenant('acme')
  acme.upsertCustomers(Array.from({ length: 50 }, (_, i) => ({ id: `c${i}` })))
  acme.addScore({ customerId: 'c1', scoreType: 'churn', score: 0.5, confidence: 1 })
  acme.appendMessage({ customerId: 'c1', conversationId: 'v', role: 'user', content: 'hello' })
  acme.updateContext('v', [{ role: 'user', content: 'ctx' }], { ttlMs: 60_000, maxHistory: 5 })
  const dest = path.join(tempDir(t), 'copy')
  const report = db.backup(dest)
  assert.ok(report.tables >= 5 && report.entries >= 54 && report.bytes > 0, JSON.stringify(report))
  // writes go on meanwhile; the copy has the snapshot
  acme.upsertCustomer({ id: 'later' })
  const dest2 = path.join(tempDir(t), 'copy2')
  const report2 = await db.backupAsync(dest2)
  assert.ok(report2.entries > report.entries)
  for (const [dir, n] of [[dest, 50], [dest2, 51]]) {
    const copy = cidb.open(dir)
    const c = copy.tenant('acme')
    assert.equal(c.countCustomers(), n)
    assert.equal(c.latestScore('c1', 'churn').score, 0.5)
    assert.equal(c.messagesForConversation('v')[0].content, 'hello')
    assert.equal(c.getContext('v').entries[0].content, 'ctx')
    copy.close()
  }
})

test('backup errors: existing database, bad destination, closed handle', async (t) => {
  const db = open(t)
  const dest = path.join(tempDir(t), 'copy')
  db.backup(dest)
  throwsCode(() => db.backup(dest), 'CIDB_ALREADY_EXISTS', /already holds a database/)
  await rejectsCode(db.backupAsync(dest), 'CIDB_ALREADY_EXISTS')
  throwsCode(() => db.backup(''), 'CIDB_INVALID_INPUT', /dest is empty/)
  throwsCode(() => db.backup(7), 'CIDB_TYPE_MISMATCH', /dest must be a string/)
  const file = path.join(tempDir(t), 'a-file')
  fs.writeFileSync(file, 'x')
  throwsCode(() => db.backup(path.join(file, 'sub')), 'CIDB_STORAGE')
  db.close()
  throwsCode(() => db.backup(path.join(tempDir(t), 'late')), 'CIDB_CLOSED')
  await rejectsCode(db.backupAsync(path.join(tempDir(t), 'late')), 'CIDB_CLOSED')
})
