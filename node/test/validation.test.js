// Every validation rule rejects bad input with its own err.code, in the sync and the Async
// form, and a rejected write changes nothing (batches included: all land or none do).
'use strict'

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { cidb, tempDir, bothFail, T0 } = require('./helpers')

const MAX_TS = 253402300799999
const LONG_ID = 'x'.repeat(257)
const LONG_UTF8_ID = 'é'.repeat(129) // 129 characters, 258 bytes: the limit is in bytes

const goodCustomer = { id: 'ok', department: 'sales', createdAt: T0, updatedAt: T0 }
const goodScore = { customerId: 'ok', scoreType: 'churn', score: 0.5, confidence: 0.5, createdAt: T0 }
const goodMessage = { customerId: 'ok', conversationId: 'v', role: 'user', content: 'hi', timestamp: T0 }

/** A database with one row of each kind, and a snapshot function to prove nothing changed. */
function seeded(t) {
  const db = cidb.open(tempDir(t))
  t.after(() => db.close())
  const acme = db.tenant('acme')
  acme.upsertCustomer(goodCustomer)
  acme.addScore(goodScore)
  acme.appendMessage(goodMessage)
  const snapshot = () => {
    const { customers, scores, latestScores, messages } = db.stats()
    return {
      counts: { customers, scores, latestScores, messages },
      customers: ['ok', 'new', 'x', ''.padEnd(1, 'y')].map((id) => acme.getCustomer(id)),
      history: acme.scoreHistory('ok', 'churn'),
      messages: acme.messagesForCustomer('ok'),
    }
  }
  return { db, acme, before: snapshot(), snapshot }
}

// Each case: [description, method, args, code]. Every write case is also tried as the
// second element of a batch whose first element is valid.
const writeCases = [
  // ids: empty, over 256 bytes, NUL
  ['empty customer id', 'upsertCustomer', [{ ...goodCustomer, id: '' }], 'CIDB_INVALID_ID'],
  ['257-byte customer id', 'upsertCustomer', [{ ...goodCustomer, id: LONG_ID }], 'CIDB_INVALID_ID'],
  ['258-byte (129-char) customer id', 'upsertCustomer', [{ ...goodCustomer, id: LONG_UTF8_ID }], 'CIDB_INVALID_ID'],
  ['customer id with NUL', 'upsertCustomer', [{ ...goodCustomer, id: 'a\0b' }], 'CIDB_INVALID_ID'],
  ['empty score customerId', 'addScore', [{ ...goodScore, customerId: '' }], 'CIDB_INVALID_ID'],
  ['long score type', 'addScore', [{ ...goodScore, scoreType: LONG_ID }], 'CIDB_INVALID_ID'],
  ['empty message customerId', 'appendMessage', [{ ...goodMessage, customerId: '' }], 'CIDB_INVALID_ID'],
  ['long conversationId', 'appendMessage', [{ ...goodMessage, conversationId: LONG_UTF8_ID }], 'CIDB_INVALID_ID'],
  // scores and confidences: NaN, infinities, outside [0, 1]
  ...[NaN, Infinity, -Infinity, -0.001, 1.0001, -1, 2].flatMap((v) => [
    [`score ${v}`, 'addScore', [{ ...goodScore, score: v }], 'CIDB_INVALID_SCORE'],
    [`confidence ${v}`, 'addScore', [{ ...goodScore, confidence: v }], 'CIDB_INVALID_SCORE'],
  ]),
  // roles
  ...['bot', 'User', '', 'users'].map((r) => [`role ${JSON.stringify(r)}`, 'appendMessage', [{ ...goodMessage, role: r }], 'CIDB_INVALID_ROLE']),
  // attributes / metadata that are not objects
  ...[5, 'str', true, [1, 2], new Date(0)].flatMap((v) => [
    [`attributes ${JSON.stringify(v)}`, 'upsertCustomer', [{ ...goodCustomer, attributes: v }], 'CIDB_INVALID_ATTRIBUTES'],
    [`metadata ${JSON.stringify(v)}`, 'appendMessage', [{ ...goodMessage, metadata: v }], 'CIDB_INVALID_ATTRIBUTES'],
  ]),
  ['attributes a function', 'upsertCustomer', [{ ...goodCustomer, attributes: () => 1 }], 'CIDB_INVALID_ATTRIBUTES'],
  ['attributes with NaN inside', 'upsertCustomer', [{ ...goodCustomer, attributes: { a: { b: NaN } } }], 'CIDB_INVALID_ATTRIBUTES', /attributes\.a\.b/],
  ['attributes with a 65-bit BigInt', 'upsertCustomer', [{ ...goodCustomer, attributes: { a: 2n ** 64n } }], 'CIDB_INVALID_ATTRIBUTES'],
  ['cyclic attributes', 'upsertCustomer', [{ ...goodCustomer, attributes: cyclic() }], 'CIDB_INVALID_ATTRIBUTES', /cyclic/],
  ['attributes nested 200 deep', 'upsertCustomer', [{ ...goodCustomer, attributes: nested(200) }], 'CIDB_INVALID_ATTRIBUTES'],
  ['metadata whose toJSON throws', 'appendMessage', [{ ...goodMessage, metadata: { x: { toJSON() { throw new Error('nope') } } } }], 'CIDB_INVALID_INPUT', /nope/],
  // content size
  ['content of 1 MiB + 1 byte', 'appendMessage', [{ ...goodMessage, content: 'x'.repeat((1 << 20) + 1) }], 'CIDB_CONTENT_TOO_LARGE'],
  ['content of 2^19 + 1 two-byte chars', 'appendMessage', [{ ...goodMessage, content: 'é'.repeat((1 << 19) + 1) }], 'CIDB_CONTENT_TOO_LARGE'],
  // timestamps
  ...[-1, MAX_TS + 1, 1.5, NaN, Infinity, -Infinity, 2 ** 64, -1n, BigInt(MAX_TS) + 1n, 2n ** 63n, new Date(NaN), new Date(-1)].flatMap((v) => [
    [`customer createdAt ${String(v)}`, 'upsertCustomer', [{ ...goodCustomer, createdAt: v }], 'CIDB_INVALID_TIMESTAMP'],
    [`customer updatedAt ${String(v)}`, 'upsertCustomer', [{ ...goodCustomer, updatedAt: v }], 'CIDB_INVALID_TIMESTAMP'],
    [`score createdAt ${String(v)}`, 'addScore', [{ ...goodScore, createdAt: v }], 'CIDB_INVALID_TIMESTAMP'],
    [`message timestamp ${String(v)}`, 'appendMessage', [{ ...goodMessage, timestamp: v }], 'CIDB_INVALID_TIMESTAMP'],
  ]),
  // labels over 256 bytes
  ['department over 256 bytes', 'upsertCustomer', [{ ...goodCustomer, department: LONG_ID }], 'CIDB_INVALID_INPUT'],
  ['email over 256 bytes', 'upsertCustomer', [{ ...goodCustomer, email: LONG_ID }], 'CIDB_INVALID_INPUT'],
  ['model over 256 bytes', 'addScore', [{ ...goodScore, model: LONG_ID }], 'CIDB_INVALID_INPUT'],
]

function cyclic() {
  const a = { b: {} }
  a.b.a = a
  return a
}

function nested(depth) {
  let v = {}
  for (let i = 0; i < depth; i++) v = { v }
  return v
}

const batchOf = { upsertCustomer: 'upsertCustomers', addScore: 'addScores', appendMessage: 'appendMessages' }
const validOf = { upsertCustomer: { ...goodCustomer, id: 'new' }, addScore: { ...goodScore, scoreType: 'new' }, appendMessage: goodMessage }

test('every validation rule rejects with its code and the write changes nothing', async (t) => {
  const { acme, before, snapshot } = seeded(t)
  for (const [what, method, args, code, message] of writeCases) {
    await t.test(what, async () => {
      await bothFail(acme, method, args, code, message)
      // the same bad record after a good one in a batch: the whole batch is rejected
      await bothFail(acme, batchOf[method], [[validOf[method], args[0]]], code, message)
      assert.deepEqual(snapshot(), before, `${what}: nothing changed`)
    })
  }
})

test('the limits themselves are accepted', (t) => {
  const { acme } = seeded(t)
  acme.upsertCustomer({ ...goodCustomer, id: 'x'.repeat(256), department: 'd'.repeat(256), createdAt: 0, updatedAt: MAX_TS })
  acme.upsertCustomer({ ...goodCustomer, id: 'é'.repeat(128) })
  acme.addScores([0, 1, -0].map((v) => ({ ...goodScore, score: v, confidence: 1 - v })))
  const m = acme.appendMessage({ ...goodMessage, content: 'x'.repeat(1 << 20), timestamp: MAX_TS })
  assert.equal(m.content.length, 1 << 20)
  assert.equal(acme.getCustomer('x'.repeat(256)).updatedAt, MAX_TS)
  assert.ok(acme.getCustomer('é'.repeat(128)))
})

test('read arguments are validated too', async (t) => {
  const { db, acme } = seeded(t)
  for (const id of ['', LONG_ID, LONG_UTF8_ID]) {
    await bothFail(acme, 'getCustomer', [id], 'CIDB_INVALID_ID')
    await bothFail(acme, 'deleteCustomer', [id], 'CIDB_INVALID_ID')
    await bothFail(acme, 'latestScore', [id, 'churn'], 'CIDB_INVALID_ID')
    await bothFail(acme, 'latestScore', ['ok', id], 'CIDB_INVALID_ID')
    await bothFail(acme, 'scoreHistory', [id, 'churn'], 'CIDB_INVALID_ID')
    await bothFail(acme, 'messagesForCustomer', [id], 'CIDB_INVALID_ID')
    await bothFail(acme, 'messagesForConversation', [id], 'CIDB_INVALID_ID')
    assert.throws(() => db.tenant(id), (e) => e.code === 'CIDB_INVALID_ID')
  }
  await bothFail(acme, 'messagesForCustomer', ['ok', { role: 'bot' }], 'CIDB_INVALID_ROLE')
  for (const limit of [-1, 1.5, NaN, -1n]) {
    await bothFail(acme, 'messagesForCustomer', ['ok', { limit }], 'CIDB_INVALID_INPUT', /limit/)
  }
  for (const bound of [1.5, NaN, new Date(NaN), 2n ** 64n]) {
    await bothFail(acme, 'scoreHistory', ['ok', 'churn', bound], 'CIDB_INVALID_TIMESTAMP', /from/)
    await bothFail(acme, 'scoreHistory', ['ok', 'churn', 0, bound], 'CIDB_INVALID_TIMESTAMP', /to/)
    await bothFail(acme, 'messagesForCustomer', ['ok', { to: bound }], 'CIDB_INVALID_TIMESTAMP', /query\.to/)
  }
})

test('open options are validated', (t) => {
  const dir = tempDir(t)
  assert.throws(() => cidb.open(dir, { profile: 'turbo' }), (e) => e.code === 'CIDB_CONFIG' && /turbo/.test(e.message))
  assert.throws(() => cidb.open(''), (e) => e.code === 'CIDB_INVALID_INPUT')
  assert.throws(() => cidb.open(dir, 'production'), (e) => e instanceof TypeError && e.code === 'CIDB_TYPE_MISMATCH')
  // a file where the directory should be is a storage error with its cause attached
  const file = require('node:path').join(dir, 'file')
  require('node:fs').writeFileSync(file, '')
  assert.throws(() => cidb.open(file), (e) => e.code === 'CIDB_STORAGE' && e.cause instanceof Error && e.cause.message.length > 0)
  const db = cidb.open(dir, { profile: 'production' })
  db.close()
})
