'use strict'
// Development: where S2's distance to the C floor comes from, in steps measured side by side
// (S2's fan-out: one 102-byte frame to 5 000 loopback sockets, every other one of 10 000, 4 times
// a second):
//   C / C      floor.c as run.js runs it: C writes, C reads;
//   C / Node   the same C writer, read by Node as the load process reads (floor-reader.js);
//   Addon / Node  floor-node.js with the plugin's addon: one writeEach call a fan-out, read by Node;
//   Node / Node  floor-node.js: one socket.write() per socket and nothing else, read by Node.
// The rounds rotate the order; ratios are against C / C in the same round, medians last.
//   node bench/floors.js [--rounds=5] [--fanouts=8] [--stride=2]
const { execFileSync } = require('node:child_process')
const os = require('node:os')
const path = require('node:path')
const fs = require('node:fs')
const { hasTaskset } = require('./pin')

const arg = (name, fallback) => Number((process.argv.find((a) => a.startsWith(`--${name}=`)) || `=${fallback}`).split('=')[1])
const rounds = arg('rounds', 5)
const fanouts = arg('fanouts', 8)
const stride = arg('stride', 2)
const SOCKETS = 5000
const args = [SOCKETS, fanouts, 102, 250, stride].map(String)
const pin = hasTaskset()

const binary = path.join(os.tmpdir(), `fastify-ws-notify-floors-${process.pid}`)
execFileSync('cc', ['-O2', '-o', binary, path.join(__dirname, 'floor.c')])
process.once('exit', () => fs.rmSync(binary, { force: true }))

const nodeReader = `${pin ? 'taskset -c 1 ' : ''}'${process.execPath}' '${path.join(__dirname, 'floor-reader.js')}'`
// floor-node.js, on core 0 where taskset exists; env selects its writer.
const nodeWriter = (env) => {
  const node = [process.execPath, path.join(__dirname, 'floor-node.js'), ...args]
  return pin ? run('taskset', ['-c', '0', ...node], env) : run(node[0], node.slice(1), env)
}
const variants = {
  'C / C': () => run(binary, args, {}),
  'C / Node': () => run(binary, args, { FLOOR_READER: nodeReader }),
  'Addon / Node': () => nodeWriter({ FLOOR_NATIVE: '1' }),
  'Node / Node': () => nodeWriter({})
}

function run (file, argv, env) {
  // Each run opens 10 000 descriptors: raised as run.js raises them.
  const command = [file, ...argv].map((a) => `'${a}'`).join(' ')
  const out = execFileSync('bash', ['-c', `ulimit -n 65536 2>/dev/null || true; exec ${command}`], { env: { ...process.env, ...env }, timeout: 120_000 })
  return JSON.parse(out.toString())
}

const median = (list) => {
  const sorted = [...list].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const names = Object.keys(variants)
const results = Object.fromEntries(names.map((name) => [name, []]))
for (let round = 0; round < rounds; round++) {
  const order = names.map((_, i) => names[(i + round) % names.length])
  for (const name of order) results[name].push(variants[name]())
  const line = names.map((name) => {
    const r = results[name][round]
    return `${name}: ${r.nsCpuPerWrite} ns/write, p99 ${r.p99Ms.toFixed(1)} ms`
  })
  console.log(`round ${round + 1}: ${line.join('; ')}`)
}
const base = results['C / C']
console.log(`\nmedians over ${rounds} rounds (${SOCKETS} sockets of ${SOCKETS * stride}, ${fanouts} fan-outs each); x C / C: the median of the same round's ratios`)
console.log('| writer / reader | ns CPU / write | x C / C | p99 ms | x C / C |')
console.log('| --- | --- | --- | --- | --- |')
for (const name of names) {
  const list = results[name]
  const cpu = median(list.map((r) => r.nsCpuPerWrite))
  const cpuX = median(list.map((r, i) => r.nsCpuPerWrite / base[i].nsCpuPerWrite))
  const p99 = median(list.map((r) => r.p99Ms))
  const p99X = median(list.map((r, i) => r.p99Ms / base[i].p99Ms))
  console.log(`| ${name} | ${Math.round(cpu)} | ${cpuX.toFixed(2)} | ${p99.toFixed(1)} | ${p99X.toFixed(2)} |`)
}
