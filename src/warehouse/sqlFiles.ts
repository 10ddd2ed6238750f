import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { projectRoot } from '../projectRoot.js'

export function sqlDir(): string {
  return path.join(projectRoot(), 'sql')
}

/**
 * Splits a SQL file into statements at `;` ending a line. Our SQL files keep
 * semicolons out of literals and comments, which this relies on.
 */
export function splitStatements(text: string): string[] {
  return text
    .split(/;[ \t]*(?:\r?\n|$)/)
    .map((s) => s.replace(/^(\s*--[^\n]*\n)+/g, '').trim())
    .filter((s) => s.length > 0 && !/^(--[^\n]*\s*)+$/.test(s))
}

/** The bronze and ops DDL, in file-name order. */
export function ddlStatements(): string[] {
  const dir = path.join(sqlDir(), 'ddl')
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .flatMap((f) => splitStatements(readFileSync(path.join(dir, f), 'utf8')))
}
