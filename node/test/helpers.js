// Shared test helpers: temporary database directories and assertions on cidb error codes.
'use strict'

const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const cidb = require('..')

/** A fresh empty directory, removed when the process exits. */
function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cidb-node-'))
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true })
  if (t && typeof t.after === 'function') t.after(cleanup)
  else process.on('exit', cleanup)
  return dir
}

/** Asserts `fn()` throws an Error whose `code` is `code` (and a TypeError for type mismatches). */
function throwsCode(fn, code, message) {
  let thrown
  try {
    fn()
  } catch (e) {
    thrown = e
  }
  assert.ok(thrown, `expected ${code}, nothing was thrown`)
  checkError(thrown, code, message)
  return thrown
}

/** Asserts `promise` rejects with an Error whose `code` is `code`. */
async function rejectsCode(promise, code, message) {
  assert.ok(promise instanceof Promise, 'the Async form must return a Promise even for bad arguments')
  let thrown
  try {
    await promise
  } catch (e) {
    thrown = e
  }
  assert.ok(thrown, `expected a rejection with ${code}, the promise resolved`)
  checkError(thrown, code, message)
  return thrown
}

function checkError(e, code, message) {
  assert.ok(e instanceof Error, `expected an Error, got ${typeof e}: ${e}`)
  assert.equal(e.code, code, `expected code ${code}, got ${e.code}: ${e.message}`)
  assert.equal(e instanceof TypeError, code === 'CIDB_TYPE_MISMATCH', `TypeError iff CIDB_TYPE_MISMATCH (${e.message})`)
  assert.ok(e.message.length > 0, 'the message names the problem')
  if (message) assert.match(e.message, message)
}

/** Both forms of one operation must fail the same way: sync throws, Async rejects. */
async function bothFail(tenant, method, args, code, message) {
  throwsCode(() => tenant[method](...args), code, message)
  await rejectsCode(tenant[`${method}Async`](...args), code, message)
}

/** Runs a script in a separate Node process; returns its trimmed stdout (throws on a crash). */
function runNode(script, args = [], nodeFlags = [], env = {}) {
  const r = spawnSync(process.execPath, [...nodeFlags, '-e', script, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CIDB_PKG: path.join(__dirname, '..'), ...env },
    timeout: 60_000,
  })
  assert.equal(r.status, 0, `child failed (status ${r.status}, signal ${r.signal}): ${r.stderr}`)
  return r.stdout.trim()
}

/**
 * Tries to open (and close) `dir` from another process; returns 'opened',
 * 'CIDB_ALREADY_OPEN', or any other error as `CODE: message` so a failed assertion names
 * the cause.
 */
function openFromOtherProcess(dir) {
  return runNode(
    `const cidb = require(process.env.CIDB_PKG)
     try { const db = cidb.open(process.argv[1]); db.close(); console.log('opened') }
     catch (e) {
       const cause = e.cause ? ' (cause: ' + (e.cause.message || e.cause) + ')' : ''
       console.log(e.code === 'CIDB_ALREADY_OPEN' ? e.code : e.code + ': ' + e.message + cause)
     }`,
    [dir],
  )
}

const T0 = Date.UTC(2024, 0, 1)

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits (turning the event loop) until `cond()` is true; fails after `ms`. */
async function until(cond, what = 'the condition', ms = 10_000) {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`)
    await sleep(2)
  }
}

module.exports = { cidb, tempDir, throwsCode, rejectsCode, bothFail, runNode, openFromOtherProcess, T0, sleep, until }
