// The documentation as the tests read it: README.md and every docs/*.md, each with its text.
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

export const root = join(__dirname, '..')

export interface DocFile { file: string, text: string }

/** README.md first, then docs/*.md in name order; `file` is relative to the repository root. */
export function docFiles (): DocFile[] {
  const files = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).sort().map((name) => `docs/${name}`)]
  return files.map((file) => ({ file, text: readFileSync(join(root, file), 'utf8') }))
}

/** Every `<!-- KIND: NAME -->` marked fenced block of the docs, by NAME; a NAME marked twice is in `duplicates`. */
export function markedBlocks (pattern: RegExp): { blocks: Map<string, string>, duplicates: string[] } {
  const blocks = new Map<string, string>()
  const duplicates: string[] = []
  for (const { file, text } of docFiles()) {
    for (const match of text.matchAll(pattern)) {
      if (blocks.has(match[1])) duplicates.push(`${match[1]} (again in ${file})`)
      blocks.set(match[1], match[2])
    }
  }
  return { blocks, duplicates }
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingSlug (heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
}

/** The anchors of a Markdown text's headings (outside code fences); a repeated heading gets -1, -2... */
export function anchors (text: string): Set<string> {
  const found = new Set<string>()
  let fenced = false
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced
    const heading = fenced ? null : /^#{1,6} (.+)$/.exec(line)
    if (heading === null) continue
    const slug = headingSlug(heading[1])
    let anchor = slug
    for (let n = 1; found.has(anchor); n++) anchor = `${slug}-${n}`
    found.add(anchor)
  }
  return found
}

/** The text under the heading `title` (any level) up to the next heading of the same level or higher. */
export function section (text: string, title: string): string {
  const lines = text.split('\n')
  const start = lines.findIndex((line) => /^#{1,6} /.test(line) && line.replace(/^#+ /, '') === title)
  if (start === -1) throw new Error(`no heading "${title}"`)
  const level = /^#+/.exec(lines[start])?.[0].length ?? 1
  const end = lines.findIndex((line, i) => i > start && /^#{1,6} /.test(line) && (/^#+/.exec(line)?.[0].length ?? 7) <= level)
  return lines.slice(start + 1, end === -1 ? undefined : end).join('\n')
}
