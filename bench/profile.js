'use strict'
// Development: self time by function of one or more CPU profiles (BENCH_PROFILE=dir, see
// server.js), heaviest first. Usage: node bench/profile.js file.cpuprofile [more...] [--top=30]
const fs = require('node:fs')

const top = Number((process.argv.find((a) => a.startsWith('--top=')) || '--top=30').slice(6))
for (const file of process.argv.slice(2).filter((a) => !a.startsWith('--'))) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'))
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map()
  // timeDeltas[i] is the time before samples[i]: charge it to that sample's node.
  let total = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i])
    const { functionName, url, lineNumber } = node.callFrame
    const key = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`
    const dt = profile.timeDeltas[i] || 0
    self.set(key, (self.get(key) || 0) + dt)
    total += dt
  }
  console.log(`${file}: ${(total / 1000).toFixed(1)} ms sampled`)
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(100 * us / total).toFixed(1).padStart(6)} %  ${(us / 1000).toFixed(1).padStart(8)} ms  ${key}`)
  }
}
