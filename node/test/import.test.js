// Bulk import: objects (camelCase or SQL column keys, Dates), CSV and JSON Lines files;
// bad rows rejected with their position and code while the rest land; options; errors.
'use strict'

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { cidb, tempDir, throwsCode, rejectsCode, bothFail, T0 } = require('./helpers')

function openTenant(t) {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  return [db, db.tenant('acme')]
}

function file(t, name, text) {
  const p = path.join(tempDir(t), name)
  fs.writeFileSync(p, text)
  return p
}

const reportKeys = ['batches', 'elapsedMs', 'imported', 'notes', 'rejected', 'rejects']

test('importRecords takes camelCase or column keys and Dates; bad rows are rejected by position', async (t) => {
  const [, acme] = openTenant(t)
  const r = acme.importRecords('customers', [
    { id: 'c1', email: 'a@x.io', department: 'sales', createdAt: new Date(T0), attributes: { tier: 'gold' } },
    { id: 'c2', created_at: T0 + 1, updated_at: '2024-01-01T00:00:01Z' },
    { id: '' },
    'not an object',
    { id: 'c3', attributes: { big: 2n ** 70n } },
    { id: 'c4', colour: 'red' },
    { id: 'c5', tenantId: 'someone-else' },
    { id: 'c6', tenant_id: 'acme', status: 'active' },
  ])
  assert.deepEqual(Object.keys(r).sort(), reportKeys)
  assert.equal(r.imported, 3)
  assert.equal(r.rejected, 5)
  assert.equal(r.batches, 1)
  assert.ok(r.elapsedMs >= 0)
  assert.deepEqual(r.rejects.map((x) => [x.line, x.code]), [
    [3, 'CIDB_INVALID_ID'],
    [4, 'CIDB_TYPE_MISMATCH'],
    [5, 'CIDB_INVALID_ATTRIBUTES'],
    [6, 'CIDB_UNKNOWN_COLUMN'],
    [7, 'CIDB_INVALID_INPUT'],
  ])
  assert.match(r.rejects[1].reason, /records\[3\] must be an object, got string/)
  assert.match(r.rejects[2].reason, /records\[4\]\.attributes\.big/)
  assert.match(r.rejects[3].reason, /colour/)
  assert.match(r.rejects[4].reason, /someone-else/)
  const c1 = acme.getCustomer('c1')
  assert.deepEqual([c1.email, c1.department, c1.createdAt, c1.attributes], ['a@x.io', 'sales', T0, { tier: 'gold' }])
  assert.equal(acme.getCustomer('c2').updatedAt, T0 + 1000)
  assert.equal(acme.getCustomer('c6').status, 'active')
  assert.equal(acme.countCustomers(), 3)
  // the Async form gives the same report
  const again = await acme.importRecordsAsync('customers', [{ id: 'c9' }, { id: '' }])
  assert.deepEqual([again.imported, again.rejected, again.rejects[0].line], [1, 1, 2])
})

test('scores and messages import with their own rules', async (t) => {
  const [, acme] = openTenant(t)
  const s = acme.importRecords('customer_scores', [
    { customerId: 'c1', scoreType: 'churn', score: 0.2, confidence: 0.9, createdAt: T0 },
    { customerId: 'c1', scoreType: 'churn', score: 1.5, confidence: 0.9, createdAt: T0 + 1 },
    { customerId: 'c1', scoreType: 'churn', score: 0.7, confidence: 0.8, createdAt: T0 + 2, model: 'gbm' },
    { customerId: 'c1', scoreType: 'churn', score: 0.7 },
  ])
  assert.deepEqual([s.imported, s.rejected], [2, 2])
  assert.deepEqual(s.rejects.map((x) => [x.line, x.code]), [[2, 'CIDB_INVALID_SCORE'], [4, 'CIDB_INVALID_INPUT']])
  assert.match(s.rejects[1].reason, /confidence|created_at/)
  assert.equal(acme.latestScore('c1', 'churn').model, 'gbm')
  const m = await acme.importRecordsAsync('conversation_messages', [
    { customerId: 'c1', conversationId: 'v', role: 'user', timestamp: T0, content: 'hi', metadata: { lang: 'en' } },
    { customerId: 'c1', conversationId: 'v', role: 'bot', timestamp: T0 + 1, content: 'no' },
    { id: 99, customerId: 'c1', conversationId: 'v', role: 'assistant', timestamp: T0 + 2, content: 'hello' },
  ])
  assert.deepEqual([m.imported, m.rejected, m.rejects[0].code, m.rejects[0].line], [2, 1, 'CIDB_INVALID_ROLE', 2])
  assert.ok(m.notes.some((n) => /id/.test(n)), JSON.stringify(m.notes))
  const msgs = acme.messagesForConversation('v')
  assert.deepEqual(msgs.map((x) => [x.content, x.metadata]), [['hi', { lang: 'en' }], ['hello', {}]])
})

test('options: batch size, reported rejects, unknown columns ignored', (t) => {
  const [, acme] = openTenant(t)
  const rows = Array.from({ length: 25 }, (_, i) => ({ id: i % 5 === 4 ? '' : `c${i}`, extra: 1 }))
  const r = acme.importRecords('customers', rows, { batchSize: 10, maxRejectsReported: 2, ignoreUnknownColumns: true })
  assert.equal(r.imported, 20)
  assert.equal(r.rejected, 5)
  assert.equal(r.rejects.length, 2)
  assert.equal(r.batches, 2)
  assert.ok(r.notes.some((n) => /extra/.test(n)))
})

test('importCsv and importJsonl read files; rejects carry their line', async (t) => {
  const [, acme] = openTenant(t)
  const csv = file(t, 'c.csv', 'id,department,created_at\nc1,sales,2024-05-01T12:00:00Z\n,sales,1714564800000\n"c2","multi\nline",1714564800000\nc3,ops\nc4,ops,1714564800000\n')
  const r = acme.importCsv('customers', csv)
  assert.deepEqual([r.imported, r.rejected], [3, 2])
  assert.deepEqual(r.rejects.map((x) => [x.line, x.code]), [[3, 'CIDB_INVALID_ID'], [6, 'CIDB_INVALID_INPUT']])
  assert.equal(acme.getCustomer('c2').department, 'multi\nline')
  assert.equal(acme.getCustomer('c1').createdAt, Date.UTC(2024, 4, 1, 12))
  const tsv = file(t, 's.tsv', 'customer_id\tscore_type\tscore\tconfidence\tcreated_at\nc1\tchurn\t0.4\t0.9\t1714564800000\n')
  const s = await acme.importCsvAsync('customer_scores', tsv, { delimiter: '\t' })
  assert.equal(s.imported, 1)
  const jsonl = file(t, 'm.jsonl', [
    JSON.stringify({ customer_id: 'c1', conversation_id: 'v', role: 'user', timestamp: T0, content: 'a' }),
    '',
    '{not json',
    JSON.stringify({ customer_id: 'c1', conversation_id: 'v', role: 'tool', timestamp: T0 + 1, content: 'b' }),
  ].join('\n'))
  const m = acme.importJsonl('conversation_messages', jsonl)
  assert.deepEqual([m.imported, m.rejected, m.rejects[0].line, m.rejects[0].code], [2, 1, 3, 'CIDB_INVALID_INPUT'])
  const m2 = await acme.importJsonlAsync('conversation_messages', jsonl)
  assert.equal(m2.imported, 2)
  assert.equal(acme.messagesForConversation('v').length, 4)
})

test('import errors that stop the whole import, in both forms', async (t) => {
  const [db, acme] = openTenant(t)
  await bothFail(acme, 'importRecords', ['orders', []], 'CIDB_UNKNOWN_TABLE', /orders/)
  await bothFail(acme, 'importRecords', ['latest_scores', []], 'CIDB_INVALID_INPUT', /derives it/)
  await bothFail(acme, 'importRecords', [7, []], 'CIDB_TYPE_MISMATCH', /table must be a string/)
  await bothFail(acme, 'importRecords', ['customers', { id: 'x' }], 'CIDB_TYPE_MISMATCH', /records must be an array/)
  await bothFail(acme, 'importRecords', ['customers', [], { batchSize: 0 }], 'CIDB_INVALID_INPUT', /batch_size/)
  await bothFail(acme, 'importRecords', ['customers', [], { batchSize: 'big' }], 'CIDB_TYPE_MISMATCH', /options\.batchSize/)
  await bothFail(acme, 'importRecords', ['customers', [], { ignoreUnknownColumns: 1 }], 'CIDB_TYPE_MISMATCH', /options\.ignoreUnknownColumns must be a boolean/)
  await bothFail(acme, 'importRecords', ['customers', [], 'fast'], 'CIDB_TYPE_MISMATCH', /options must be an object/)
  await bothFail(acme, 'importCsv', ['customers', path.join(tempDir(t), 'missing.csv')], 'CIDB_INVALID_INPUT', /cannot open .*missing\.csv/)
  await bothFail(acme, 'importCsv', ['customers', file(t, 'x.csv', 'id\nc1\n'), { delimiter: ';;' }], 'CIDB_INVALID_INPUT', /one ASCII character/)
  await bothFail(acme, 'importCsv', ['customers', file(t, 'u.csv', 'id,colour\nc1,red\n')], 'CIDB_UNKNOWN_COLUMN', /colour/)
  await bothFail(acme, 'importCsv', ['customers', file(t, 'e.csv', '')], 'CIDB_INVALID_INPUT', /empty/)
  await bothFail(acme, 'importJsonl', ['customer_scores', 42], 'CIDB_TYPE_MISMATCH', /path must be a string/)
  assert.equal(acme.countCustomers(), 0, 'nothing landed')
  db.close()
  await bothFail(acme, 'importRecords', ['customers', [{ id: 'x' }]], 'CIDB_CLOSED')
  await bothFail(acme, 'importCsv', ['customers', file(t, 'y.csv', 'id\nc1\n')], 'CIDB_CLOSED')
  await rejectsCode(acme.importJsonlAsync('customers', file(t, 'z.jsonl', '{"id":"a"}\n')), 'CIDB_CLOSED')
  throwsCode(() => acme.importJsonl('customers', file(t, 'w.jsonl', '{"id":"a"}\n')), 'CIDB_CLOSED')
})
