// Errors: the error table comes from the engine's ErrorKind mapping and every kind reaches
// JS with its code (and cause); closed handles give CIDB_CLOSED; another process gets
// CIDB_ALREADY_OPEN; wrong JS types give a TypeError with CIDB_TYPE_MISMATCH, never a crash.
'use strict'

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { cidb, tempDir, throwsCode, rejectsCode, bothFail, runNode, openFromOtherProcess, T0 } = require('./helpers')

test('the error table has one unique CIDB_ code per engine error kind', () => {
  const table = cidb.errorCodes()
  // the C and Python bindings map the same 26 kinds (core ErrorKind::ALL)
  assert.equal(table.length, 26)
  assert.equal(new Set(table.map((e) => e.code)).size, table.length, 'codes are unique')
  assert.equal(new Set(table.map((e) => e.kind)).size, table.length, 'kinds are unique')
  for (const { code, kind, typeError } of table) {
    assert.equal(code, `CIDB_${kind.toUpperCase()}`)
    assert.equal(typeError, code === 'CIDB_TYPE_MISMATCH')
  }
  // the codes this suite provokes for real are all in the table
  for (const code of ['CIDB_INVALID_ID', 'CIDB_INVALID_SCORE', 'CIDB_INVALID_ROLE', 'CIDB_INVALID_ATTRIBUTES',
    'CIDB_CONTENT_TOO_LARGE', 'CIDB_INVALID_TIMESTAMP', 'CIDB_INVALID_INPUT', 'CIDB_ALREADY_OPEN', 'CIDB_CLOSED',
    'CIDB_TYPE_MISMATCH', 'CIDB_STORAGE', 'CIDB_CONFIG']) {
    assert.ok(table.some((e) => e.code === code), code)
  }
})

test('every kind is mapped to a JS error with its code, and a cause when there is one', () => {
  for (const { code, kind } of cidb.errorCodes()) {
    for (const withCause of [false, true]) {
      // built through the same conversion as every thrown error
      const e = cidb.__errorForTest(code, withCause)
      assert.ok(e instanceof Error, code)
      assert.equal(e.code, code)
      assert.equal(e instanceof TypeError, code === 'CIDB_TYPE_MISMATCH', code)
      assert.match(e.message, new RegExp(kind))
      if (withCause) {
        assert.ok(e.cause instanceof Error, `${code} carries its cause`)
        assert.equal(e.cause.message, 'the underlying cause')
      } else {
        assert.equal(e.cause, undefined)
      }
    }
  }
})

test('a closed engine handle fails every operation with CIDB_CLOSED', async (t) => {
  const db = cidb.open(tempDir(t))
  const acme = db.tenant('acme')
  acme.upsertCustomer({ id: 'c' })
  db.close()
  db.close() // idempotent
  assert.equal(db.closed, true)
  throwsCode(() => db.stats(), 'CIDB_CLOSED')
  await rejectsCode(db.statsAsync(), 'CIDB_CLOSED')
  throwsCode(() => db.tenant('acme'), 'CIDB_CLOSED')
  const calls = [
    ['upsertCustomer', { id: 'c' }], ['upsertCustomers', [{ id: 'c' }]], ['getCustomer', 'c'], ['deleteCustomer', 'c'],
    ['countCustomers'], ['addScore', { customerId: 'c', scoreType: 's', score: 1, confidence: 1 }],
    ['addScores', []], ['latestScore', 'c', 's'], ['scoreHistory', 'c', 's'],
    ['appendMessage', { customerId: 'c', conversationId: 'v', role: 'user', content: '' }], ['appendMessages', []],
    ['messagesForCustomer', 'c'], ['messagesForConversation', 'v'],
  ]
  for (const [method, ...args] of calls) await bothFail(acme, method, args, 'CIDB_CLOSED')
})

test('another process opening the same directory gets CIDB_ALREADY_OPEN', (t) => {
  const dir = tempDir(t)
  const db = cidb.open(dir)
  db.tenant('acme').upsertCustomer({ id: 'c1' })
  assert.equal(openFromOtherProcess(dir), 'CIDB_ALREADY_OPEN')
  // the Async form in the other process rejects the same way
  const out = runNode(
    `require(process.env.CIDB_PKG).openAsync(process.argv[1]).then(() => console.log('opened'), (e) => console.log(e.code))`,
    [dir],
  )
  assert.equal(out, 'CIDB_ALREADY_OPEN')
  // the owner is unaffected, and after close the other process can open it and read the data
  assert.equal(db.tenant('acme').countCustomers(), 1)
  db.close()
  const read = runNode(
    `const db = require(process.env.CIDB_PKG).open(process.argv[1])
     console.log(db.tenant('acme').getCustomer('c1').id); db.close()`,
    [dir],
  )
  assert.equal(read, 'c1')
})

// Values of every JS type, thrown at every argument position that expects something else.
const junk = [undefined, null, 0, 1.5, NaN, 7n, true, 'text', Symbol('s'), () => 1, [], {}, new Date(0), new Map(), Buffer.from('x')]
const kindOf = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : v instanceof Date ? 'Date' : typeof v)

test('wrong JS types are a TypeError with CIDB_TYPE_MISMATCH, in both forms, never a crash', async (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  const customer = { id: 'c' }
  const score = { customerId: 'c', scoreType: 's', score: 0.5, confidence: 0.5 }
  const message = { customerId: 'c', conversationId: 'v', role: 'user', content: 'x' }
  // [method, valid args, index of the argument to corrupt, JS kinds that argument accepts]
  const strings = ['string']
  const positions = [
    ['getCustomer', ['c'], 0, strings],
    ['deleteCustomer', ['c'], 0, strings],
    ['latestScore', ['c', 's'], 0, strings],
    ['latestScore', ['c', 's'], 1, strings],
    ['scoreHistory', ['c', 's'], 0, strings],
    ['scoreHistory', ['c', 's'], 1, strings],
    ['scoreHistory', ['c', 's', 0, 1], 2, ['undefined', 'null', 'number', 'bigint', 'Date']],
    ['scoreHistory', ['c', 's', 0, 1], 3, ['undefined', 'null', 'number', 'bigint', 'Date']],
    ['messagesForCustomer', ['c'], 0, strings],
    ['messagesForCustomer', ['c', {}], 1, ['undefined', 'null', 'object']],
    ['messagesForConversation', ['v'], 0, strings],
    ['upsertCustomer', [customer], 0, ['object']],
    ['upsertCustomers', [[customer]], 0, ['array']],
    ['addScore', [score], 0, ['object']],
    ['addScores', [[score]], 0, ['array']],
    ['appendMessage', [message], 0, ['object']],
    ['appendMessages', [[message]], 0, ['array']],
  ]
  let checked = 0
  for (const [method, valid, index, accepts] of positions) {
    for (const v of junk) {
      if (accepts.includes(kindOf(v))) continue
      const args = [...valid]
      args[index] = v
      await bothFail(acme, method, args, 'CIDB_TYPE_MISMATCH')
      checked++
    }
  }
  // record fields of the wrong type name the field
  const fields = [
    ['upsertCustomer', customer, { id: 5 }, /customer\.id must be a string, got number/],
    ['upsertCustomer', customer, { email: 5 }, /customer\.email/],
    ['upsertCustomer', customer, { name: {} }, /customer\.name/],
    ['upsertCustomer', customer, { department: [] }, /customer\.department/],
    ['upsertCustomer', customer, { status: true }, /customer\.status/],
    ['upsertCustomer', customer, { createdAt: '2024-01-01' }, /customer\.createdAt must be a number, bigint or Date, got string/],
    ['upsertCustomer', customer, { updatedAt: {} }, /customer\.updatedAt/],
    ['addScore', score, { customerId: undefined }, /score\.customerId must be a string, got undefined/],
    ['addScore', score, { scoreType: null }, /score\.scoreType must be a string, got null/],
    ['addScore', score, { score: '0.5' }, /score\.score must be a number, got string/],
    ['addScore', score, { confidence: 1n }, /score\.confidence must be a number, got bigint/],
    ['addScore', score, { model: 1 }, /score\.model/],
    ['appendMessage', message, { role: 1 }, /message\.role/],
    ['appendMessage', message, { content: Buffer.from('x') }, /message\.content/],
    ['appendMessage', message, { timestamp: '1' }, /message\.timestamp/],
  ]
  for (const [method, base, patch, re] of fields) {
    await bothFail(acme, method, [{ ...base, ...patch }], 'CIDB_TYPE_MISMATCH', re)
    checked++
  }
  await bothFail(acme, 'upsertCustomers', [[customer, { id: 1 }]], 'CIDB_TYPE_MISMATCH', /customers\[1\]\.id/)
  await bothFail(acme, 'messagesForCustomer', ['c', { role: 5 }], 'CIDB_TYPE_MISMATCH', /query\.role/)
  await bothFail(acme, 'messagesForCustomer', ['c', { limit: '5' }], 'CIDB_TYPE_MISMATCH', /query\.limit/)
  for (const v of junk.filter((v) => typeof v !== 'string')) {
    throwsCode(() => db.tenant(v), 'CIDB_TYPE_MISMATCH')
    throwsCode(() => cidb.open(v), 'CIDB_TYPE_MISMATCH')
    await rejectsCode(cidb.openAsync(v), 'CIDB_TYPE_MISMATCH')
  }
  assert.ok(checked > 150, `checked ${checked} wrong-type calls`)
  // missing arguments
  throwsCode(() => acme.getCustomer(), 'CIDB_TYPE_MISMATCH')
  throwsCode(() => acme.upsertCustomer(), 'CIDB_TYPE_MISMATCH')
  // nothing was written by any of it, and the handle still works
  assert.equal(acme.countCustomers(), 0)
  acme.upsertCustomer(customer)
  assert.equal(acme.countCustomers(), 1)
})

test('misusing the classes throws instead of crashing', (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  assert.throws(() => new cidb.Engine())
  assert.throws(() => new cidb.Tenant())
  const detached = acme.getCustomer
  assert.throws(() => detached('c'))
  assert.throws(() => acme.getCustomer.call({}, 'c'))
  assert.throws(() => acme.getCustomer.call(db, 'c'))
  assert.throws(() => db.stats.call(acme))
  // a getter that throws is reported, and the exception does not leak into later calls
  const evil = { get id() { throw new Error('getter exploded') } }
  throwsCode(() => acme.upsertCustomer(evil), 'CIDB_INVALID_INPUT', /getter exploded/)
  const proxy = new Proxy({}, { get() { throw new RangeError('proxy trap') } })
  throwsCode(() => acme.addScore(proxy), 'CIDB_INVALID_INPUT', /proxy trap/)
  acme.upsertCustomer({ id: 'still-fine', createdAt: T0 })
  assert.equal(acme.getCustomer('still-fine').createdAt, T0)
})

test('an async rejection from a throwing getter leaves no pending exception', async (t) => {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  const evil = { customerId: 'c', conversationId: 'v', role: 'user', get content() { throw new Error('late') } }
  await rejectsCode(acme.appendMessageAsync(evil), 'CIDB_INVALID_INPUT', /late/)
  const m = await acme.appendMessageAsync({ customerId: 'c', conversationId: 'v', role: 'user', content: 'ok' })
  assert.equal(m.content, 'ok')
})
