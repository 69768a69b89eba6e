// The SQL layer: tenant.query / prepare / explain, engine.execute / indexes, in both forms,
// with the seed query patterns of DESIGN.md over rows inserted here.
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { cidb, tempDir, throwsCode, rejectsCode } = require('./helpers')

function seeded(t) {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  acme.upsertCustomers([
    { id: 'c1', department: 'sales', status: 'active', createdAt: 1000, attributes: { tier: 'gold', big: 2n ** 60n } },
    { id: 'c2', department: 'sales', status: 'active', createdAt: 3000 },
    { id: 'c3', department: 'ops', status: 'active', createdAt: 2000 },
    { id: 'c4', department: 'sales', status: 'churned', createdAt: 4000 },
  ])
  acme.addScores([
    { customerId: 'c1', scoreType: 'churn', score: 0.2, confidence: 0.5, createdAt: 1 },
    { customerId: 'c1', scoreType: 'churn', score: 0.8, confidence: 0.9, createdAt: 5 },
    { customerId: 'c3', scoreType: 'churn', score: 0.4, confidence: 0.7, createdAt: 2 },
    { customerId: 'c2', scoreType: 'upsell', score: 0.6, confidence: 0.6, createdAt: 3 },
  ])
  // Another tenant's rows never show up.
  db.tenant('other').upsertCustomer({ id: 'x1', department: 'sales', status: 'active', createdAt: 500 })
  return { db, acme }
}

const BY_DEPT = 'SELECT id, created_at, attributes FROM customers WHERE department = ? AND status = ? ORDER BY created_at DESC'
const JOIN = 'SELECT c.id, s.score, s.created_at FROM customers c JOIN latest_scores s ON s.customer_id = c.id WHERE s.score_type = ? ORDER BY s.score DESC'

test('customers by department and status, ordered by created_at, in both forms', async (t) => {
  const { acme } = seeded(t)
  const expected = {
    columns: ['id', 'created_at', 'attributes'],
    rows: [
      ['c2', 3000, {}],
      ['c1', 1000, { tier: 'gold', big: 2n ** 60n }],
    ],
  }
  assert.deepEqual(acme.query(BY_DEPT, ['sales', 'active']), expected)
  assert.deepEqual(await acme.queryAsync(BY_DEPT, ['sales', 'active']), expected)
  assert.equal(typeof acme.query(BY_DEPT, ['sales', 'active']).rows[1][2].big, 'bigint')
  assert.deepEqual(acme.query(BY_DEPT, ['sales', 'churned']).rows, [['c4', 4000, {}]])
  assert.deepEqual(acme.query(BY_DEPT, ['hr', 'active']).rows, [])
})

test('join of customers with latest_scores sees only the latest score', async (t) => {
  const { acme } = seeded(t)
  const expected = { columns: ['id', 'score', 'created_at'], rows: [['c1', 0.8, 5], ['c3', 0.4, 2]] }
  assert.deepEqual(acme.query(JOIN, ['churn']), expected)
  assert.deepEqual(await acme.queryAsync(JOIN, ['churn']), expected)
})

test('a prepared statement is reused with different parameters', async (t) => {
  const { acme } = seeded(t)
  const st = acme.prepare(BY_DEPT)
  assert.equal(st.paramCount, 2)
  assert.deepEqual(st.columns, ['id', 'created_at', 'attributes'])
  assert.equal(st.sql, BY_DEPT)
  assert.deepEqual(st.query(['sales', 'active']).rows.map((r) => r[0]), ['c2', 'c1'])
  assert.deepEqual(st.query(['ops', 'active']).rows.map((r) => r[0]), ['c3'])
  assert.deepEqual((await st.queryAsync(['sales', 'churned'])).rows.map((r) => r[0]), ['c4'])
  acme.upsertCustomer({ id: 'c5', department: 'ops', status: 'active', createdAt: 9000 })
  assert.deepEqual(st.query(['ops', 'active']).rows.map((r) => r[0]), ['c5', 'c3'])
  throwsCode(() => st.query(['ops']), 'CIDB_INVALID_PARAMETER')
})

test('parameters: integers, bigints, reals, booleans, Dates and JSON', (t) => {
  const { acme } = seeded(t)
  const q = 'SELECT id FROM customers WHERE created_at >= ? ORDER BY id'
  assert.deepEqual(acme.query(q, [3000]).rows, [['c2'], ['c4']])
  assert.deepEqual(acme.query(q, [3000n]).rows, [['c2'], ['c4']])
  assert.deepEqual(acme.query(q, [2999.5]).rows, [['c2'], ['c4']])
  assert.deepEqual(acme.query(q, [new Date(3000)]).rows, [['c2'], ['c4']])
  assert.deepEqual(acme.query('SELECT id FROM customers WHERE id = ?', [null]).rows, [])
  throwsCode(() => acme.query(q, [2n ** 70n]), 'CIDB_INVALID_PARAMETER')
  throwsCode(() => acme.query(q, [Symbol('x')]), 'CIDB_TYPE_MISMATCH', /params\[0\]/)
  throwsCode(() => acme.query(q, 'not an array'), 'CIDB_TYPE_MISMATCH', /params/)
  throwsCode(() => acme.query(42), 'CIDB_TYPE_MISMATCH', /sql/)
})

test('EXPLAIN names the index the planner uses', async (t) => {
  const { acme } = seeded(t)
  const sql = 'SELECT id FROM customers WHERE department = ? AND status = ? ORDER BY created_at'
  const text = acme.explain(sql, ['sales', 'active'])
  assert.match(text, /SEARCH customers USING (COVERING )?INDEX idx_customers_department_status_created_at/)
  assert.equal(await acme.explainAsync(sql, ['sales', 'active']), text)
  const json = acme.explain(sql, ['sales', 'active'], { json: true })
  assert.equal(json.plan[0].index, 'idx_customers_department_status_created_at')
  const analyzed = acme.explain(sql, ['sales', 'active'], { analyze: true })
  assert.match(analyzed, /idx_customers_department_status_created_at/)
  const viaQuery = acme.query(`EXPLAIN ${sql}`, ['sales', 'active'])
  assert.deepEqual(viaQuery.columns, ['plan'])
  assert.match(viaQuery.rows.map((r) => r[0]).join('\n'), /idx_customers_department_status_created_at/)
  throwsCode(() => acme.explain(sql, ['a', 'b'], { json: 'yes' }), 'CIDB_TYPE_MISMATCH', /options\.json/)
})

test('engine.execute creates and drops indexes; engine.indexes lists them', async (t) => {
  const { db, acme } = seeded(t)
  assert.deepEqual(db.execute('CREATE INDEX idx_status_created ON customers(status, created_at)'), { columns: [], rows: [] })
  const idx = db.indexes().find((i) => i.name === 'idx_status_created')
  assert.deepEqual(idx, { name: 'idx_status_created', table: 'customers', columns: ['status', 'created_at'], unique: false, predicate: null, ready: true, entries: 5 })
  const partial = db.indexes().find((i) => i.name === 'idx_customers_email_partial')
  assert.equal(partial.predicate, 'email IS NOT NULL')
  assert.match(acme.explain('SELECT id FROM customers WHERE status = ? AND created_at > ?', ['churned', 0]), /idx_status_created/)
  await db.executeAsync('DROP INDEX idx_status_created')
  assert.equal(db.indexes().some((i) => i.name === 'idx_status_created'), false)
  throwsCode(() => db.execute('CREATE INDEX'), 'CIDB_SQL_SYNTAX')
})

test('SQL errors carry their codes, in both forms', async (t) => {
  const { acme } = seeded(t)
  const cases = [
    ['SELEC id FROM customers', undefined, 'CIDB_SQL_SYNTAX'],
    ['SELECT id FROM nope', undefined, 'CIDB_UNKNOWN_TABLE', /nope/],
    ['SELECT nope FROM customers', undefined, 'CIDB_UNKNOWN_COLUMN', /nope/],
    ['DELETE FROM customers', undefined, 'CIDB_UNSUPPORTED'],
    ['SELECT id FROM customers WHERE department = ?', [], 'CIDB_INVALID_PARAMETER'],
    ['SELECT id FROM customers WHERE id = ?', [() => 1], 'CIDB_TYPE_MISMATCH'],
  ]
  for (const [sql, params, code, message] of cases) {
    throwsCode(() => acme.query(sql, params), code, message)
    await rejectsCode(acme.queryAsync(sql, params), code, message)
  }
  throwsCode(() => acme.prepare('SELECT id FROM nope'), 'CIDB_UNKNOWN_TABLE')
})

test('closed handles fail with CIDB_CLOSED', async (t) => {
  const db = cidb.open(tempDir(t))
  const acme = db.tenant('acme')
  const st = acme.prepare('SELECT id FROM customers')
  db.close()
  throwsCode(() => acme.query('SELECT id FROM customers'), 'CIDB_CLOSED')
  throwsCode(() => st.query(), 'CIDB_CLOSED')
  await rejectsCode(st.queryAsync(), 'CIDB_CLOSED')
  throwsCode(() => db.execute('ANALYZE'), 'CIDB_CLOSED')
})
