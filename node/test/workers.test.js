// worker_threads: every open() of one directory in a process, from any thread, shares one
// engine (found by canonical path); each handle closes independently and the engine closes
// with the last one, including handles a worker leaves behind when it exits or is
// terminated. Another process is still refused while any thread holds a handle.
'use strict'

const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { Worker } = require('node:worker_threads')
const { cidb, tempDir, openFromOtherProcess } = require('./helpers')

const PKG = path.join(__dirname, '..')

/** Runs `body` (the source of an async function of (cidb, data, post)) in a worker. */
function inWorker(body, data = {}, onMessage = () => {}) {
  const source = `
    const { workerData, parentPort } = require('node:worker_threads')
    const cidb = require(workerData.pkg)
    const post = (m) => parentPort.postMessage(m)
    ;(${body})(cidb, workerData.data, post).then(
      (result) => post({ done: true, result }),
      (e) => post({ done: true, error: { code: e.code, message: e.message } }),
    )`
  const worker = new Worker(source, { eval: true, workerData: { pkg: PKG, data } })
  const done = new Promise((resolve, reject) => {
    worker.on('message', (m) => (m && m.done ? resolve(m) : onMessage(m)))
    worker.on('error', reject)
    worker.on('exit', (code) => resolve({ exited: code }))
  })
  return { worker, done }
}

async function result(w) {
  const m = await w.done
  if (m.error) throw Object.assign(new Error(m.error.message), { code: m.error.code })
  return m.result
}

test('workers opening the same directory share one engine and its data', async (t) => {
  const dir = tempDir(t)
  const db = cidb.open(dir)
  db.tenant('acme').upsertCustomer({ id: 'main' })
  const spellings = [dir, `${dir}/`, `${dir}/.`, path.relative(process.cwd(), dir) || '.']
  const workers = spellings.map((p, w) =>
    inWorker(
      async (cidb, { p, w }) => {
        const db = cidb.open(p)
        const acme = db.tenant('acme')
        const sawMain = acme.getCustomer('main') !== null
        for (let i = 0; i < 25; i++) acme.upsertCustomer({ id: `w${w}-s${i}` })
        await Promise.all(Array.from({ length: 25 }, (_, i) => acme.upsertCustomerAsync({ id: `w${w}-a${i}` })))
        const ids = (await acme.appendMessagesAsync(Array.from({ length: 10 }, () => ({
          customerId: `w${w}`, conversationId: 'shared', role: 'user', content: `from ${w}`,
        })))).map((m) => m.id)
        const path = db.path
        db.close()
        return { sawMain, ids, path }
      },
      { p, w },
    ),
  )
  const results = await Promise.all(workers.map(result))
  const acme = db.tenant('acme')
  assert.equal(acme.countCustomers(), 1 + 4 * 50)
  for (const r of results) {
    assert.equal(r.sawMain, true, 'a worker sees rows the main thread wrote')
    assert.equal(r.path, db.path, 'every spelling resolves to the same canonical path')
  }
  const ids = results.flatMap((r) => r.ids)
  assert.equal(new Set(ids).size, 40, 'message ids are unique across threads (one engine, one counter)')
  assert.equal(acme.messagesForConversation('shared').length, 40)
  // still open in this process: another process is refused until the last handle closes
  assert.equal(openFromOtherProcess(dir), 'CIDB_ALREADY_OPEN')
  db.close()
  assert.equal(openFromOtherProcess(dir), 'opened')
})

test('closing one handle leaves the other threads\' handles working', async (t) => {
  const dir = tempDir(t)
  const db = cidb.open(dir)
  const gate = new Int32Array(new SharedArrayBuffer(4))
  const w = inWorker(
    async (cidb, { dir, gate }) => {
      const db = cidb.open(dir)
      const acme = db.tenant('acme')
      acme.upsertCustomer({ id: 'before' })
      Atomics.store(gate, 0, 1)
      Atomics.notify(gate, 0)
      // wait until the main thread has closed its handle
      Atomics.wait(gate, 0, 1)
      acme.upsertCustomer({ id: 'after' })
      const n = await acme.countCustomersAsync()
      db.close()
      return n
    },
    { dir, gate },
  )
  while (Atomics.load(gate, 0) !== 1) await new Promise((r) => setTimeout(r, 5))
  db.close()
  assert.throws(() => db.stats(), (e) => e.code === 'CIDB_CLOSED')
  Atomics.store(gate, 0, 2)
  Atomics.notify(gate, 0)
  assert.equal(await result(w), 2, 'the worker kept writing after the main thread closed')
  assert.equal(openFromOtherProcess(dir), 'opened', 'the last close released the directory')
})

test('a worker that exits without close() gives its handle back', async (t) => {
  const dir = tempDir(t)
  const db = cidb.open(dir)
  const r = await result(inWorker(async (cidb, { dir }) => {
    const acme = cidb.open(dir).tenant('acme') // never closed
    acme.upsertCustomer({ id: 'w' })
    return acme.countCustomers()
  }, { dir }))
  assert.equal(r, 1)
  assert.equal(db.tenant('acme').getCustomer('w').id, 'w')
  db.close()
  assert.equal(openFromOtherProcess(dir), 'opened', 'no handle leaked from the exited worker')
})

test('a terminated worker\'s subscriptions, streams and alert callbacks give its handle back', async (t) => {
  const dir = tempDir(t)
  const db = cidb.open(dir)
  const acme = db.tenant('acme')
  let deliveries = 0
  const w = inWorker(async (cidb, { dir }, post) => {
    const db = cidb.open(dir) // never closed
    const t = db.tenant('acme')
    t.subscribe(() => post('delivery'))
    db.subscribe({ tables: ['customers'] }, () => {})
    ;(async () => { for await (const d of t.events()) void d })()
    db.onAlert(() => {})
    post('ready')
    await new Promise(() => {}) // the subscriptions keep this worker alive
  }, { dir }, (m) => { if (m === 'delivery') deliveries++ })
  await new Promise((resolve) => { const on = (m) => m === 'ready' && resolve(); w.worker.on('message', on) })
  acme.upsertCustomer({ id: 'seen' })
  while (deliveries === 0) await new Promise((r) => setTimeout(r, 5))
  await w.worker.terminate()
  db.close()
  let outcome
  for (let i = 0; i < 100 && outcome !== 'opened'; i++) {
    outcome = openFromOtherProcess(dir)
    if (outcome !== 'opened') await new Promise((r) => setTimeout(r, 50))
  }
  assert.equal(outcome, 'opened', 'the worker\'s handle was given back')
})

test('terminating a worker in the middle of async writes neither crashes nor leaks', async (t) => {
  const dir = tempDir(t)
  const db = cidb.open(dir)
  const w = inWorker(
    async (cidb, { dir }, post) => {
      const acme = cidb.open(dir).tenant('acme')
      let i = 0
      for (;;) {
        await Promise.all(Array.from({ length: 8 }, () => acme.addScoreAsync({ customerId: 'c', scoreType: 't', score: 0.5, confidence: 0.5, createdAt: i++ })))
        if (i === 64) post('busy')
      }
    },
    { dir },
    () => w.worker.terminate(),
  )
  const end = await w.done
  assert.equal(end.exited, 1, 'terminated')
  const history = db.tenant('acme').scoreHistory('c', 't')
  assert.ok(history.length >= 64, `${history.length} scores landed before termination`)
  // every score that landed is whole, in time order
  history.forEach((s, i) => assert.deepEqual([s.createdAt, s.score], [i, 0.5]))
  db.close()
  assert.equal(openFromOtherProcess(dir), 'opened')
})

test('threads must open one directory with the same profile', async (t) => {
  const dir = tempDir(t)
  const db = cidb.open(dir, { profile: 'production' })
  t.after(() => db.close())
  const r = await inWorker(async (cidb, { dir }) => {
    try {
      cidb.open(dir)
      return 'opened with another profile'
    } catch (e) {
      const same = cidb.open(dir, { profile: 'production' })
      same.close()
      return e.code
    }
  }, { dir }).done
  assert.equal(r.result, 'CIDB_ALREADY_OPEN')
  assert.throws(() => cidb.open(dir, { profile: 'development' }), (e) => e.code === 'CIDB_ALREADY_OPEN' && /production/.test(e.message))
})

test('handles within one thread share too, and a tenant keeps its engine alive', (t) => {
  const dir = tempDir(t)
  const a = cidb.open(dir)
  const b = cidb.open(dir) // no CIDB_ALREADY_OPEN inside one process
  a.tenant('acme').upsertCustomer({ id: 'x' })
  assert.equal(b.tenant('acme').getCustomer('x').id, 'x')
  const orphan = cidb.open(dir).tenant('acme') // its Engine handle is garbage at once
  a.close()
  b.close()
  orphan.upsertCustomer({ id: 'y' }) // the orphan tenant's handle still holds the engine
  assert.equal(orphan.countCustomers(), 2)
  assert.equal(openFromOtherProcess(dir), 'CIDB_ALREADY_OPEN')
})

test('an engine whose handles are all garbage-collected is closed', () => {
  // in a child process, with --expose-gc: open, write, drop every reference, collect
  const { runNode } = require('./helpers')
  const dir = tempDir()
  const out = runNode(
    `const cidb = require(process.env.CIDB_PKG)
     const { spawnSync } = require('node:child_process')
     const dir = process.argv[1]
     const probe = () => spawnSync(process.execPath, ['-e',
       'try { require(process.env.CIDB_PKG).open(process.argv[1]).close(); console.log("opened") } catch (e) { console.log(e.code) }',
       dir], { encoding: 'utf8' }).stdout.trim()
     ;(() => { cidb.open(dir).tenant('acme').upsertCustomer({ id: 'x' }) })()
     const whileHeld = (() => { const t = cidb.open(dir).tenant('acme'); return probe() + ':' + t.countCustomers() })()
     ;(async () => {
       for (let i = 0; i < 10; i++) { global.gc(); await new Promise((r) => setImmediate(r)) }
       console.log(whileHeld + ' ' + probe())
     })()`,
    [dir],
    ['--expose-gc'],
  )
  assert.equal(out, 'CIDB_ALREADY_OPEN:1 opened')
})

test('two copies of the addon in one thread, and workers, each build their own records', async (t) => {
  // A second copy of the addon file is a second module instance with its own JS environment
  // on this thread; each keeps its own record factories, used alternately here.
  const fs = require('node:fs')
  const os = require('node:os')
  const copyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cidb-copy-'))
  t.after(() => fs.rmSync(copyDir, { recursive: true, force: true }))
  const native = require.resolve(path.join(PKG, `cidb.${process.platform}-${process.arch}-gnu.node`))
  const copyPath = path.join(copyDir, 'copy.node')
  fs.copyFileSync(native, copyPath)
  const other = require(copyPath)
  assert.notEqual(other.open, cidb.open)
  const a = cidb.open(tempDir(t))
  const b = other.open(tempDir(t))
  t.after(() => { a.close(); b.close() })
  const [ta, tb] = [a.tenant('t'), b.tenant('t')]
  ta.upsertCustomer({ id: 'a', createdAt: 1, updatedAt: 1, attributes: { from: 'a' } })
  tb.upsertCustomer({ id: 'b', createdAt: 2, updatedAt: 2, attributes: { from: 'b' } })
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(ta.getCustomer('a'), { id: 'a', email: null, name: null, department: '', status: '', createdAt: 1, updatedAt: 1, attributes: { from: 'a' } })
    assert.deepEqual(tb.getCustomer('b'), { id: 'b', email: null, name: null, department: '', status: '', createdAt: 2, updatedAt: 2, attributes: { from: 'b' } })
  }
  // workers come and go, each with its own environment, while this thread keeps reading
  const dir = tempDir(t)
  for (let round = 0; round < 2; round++) {
    const got = await result(inWorker(`async (cidb, { dir, round }) => {
      const db = cidb.open(dir)
      const t = db.tenant('w')
      t.upsertCustomer({ id: 'w' + round, createdAt: round, updatedAt: round, attributes: { round } })
      const got = [t.getCustomer('w' + round), await t.getCustomerAsync('w' + round)]
      db.close()
      return got
    }`, { dir, round }))
    assert.equal(got.length, 2)
    for (const c of got) assert.deepEqual(c, { id: 'w' + round, email: null, name: null, department: '', status: '', createdAt: round, updatedAt: round, attributes: { round } })
    assert.deepEqual(ta.getCustomer('a').attributes, { from: 'a' })
  }
})
