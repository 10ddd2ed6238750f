/**
 * The SQL transform project under `sql/`, read from files (the seed's dbt
 * project, run by the pipeline itself):
 *
 * - `sql/dialect/<engine>.sql`: the helper functions (`util.cp_*`) each engine
 *   defines its own way; the only place engine differences live.
 * - `sql/models/<layer>/<name>.sql`: one model per file, one statement,
 *   run unchanged on every engine: `CREATE OR REPLACE VIEW silver.<name> AS …`
 *   in silver, `CREATE OR REPLACE TABLE gold.<name> AS …` in gold.
 * - Data tests, declared beside the models (dbt semantics: a test is a query
 *   returning the offending rows; 0 rows = pass):
 *   - generic tests as `-- @test <test>(<args>)` comment lines in the model
 *     file: `unique(col)`, `not_null(col)`, `accepted_values(col, 'a', 'b', …)`,
 *     `unique_combination(col, col, …)`, `one_row_per(col, schema.relation)`
 *     (every `col` value of the relation exactly once in the model, and no
 *     other), `same_row_count(schema.relation)`;
 *   - singular tests as `sql/models/<layer>/<model>.<test_name>.test.sql`, a
 *     query returning the offending rows.
 *
 * Build order comes from the SQL itself: a model depends on every other model
 * whose `schema.name` appears in its statement (comments and string literals
 * aside).
 *
 * How a layer is built and published is the engine's (layerBuild): DuckDB
 * runs the statements as written inside one transaction; Snowflake, whose
 * DDL commits on its own, builds gold in `gold__build` and publishes it with
 * one `ALTER SCHEMA gold SWAP WITH gold__build`.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { PipelineError } from '../errors.js'
import { splitStatements, sqlDir } from '../warehouse/sqlFiles.js'
import { GOLD_BUILD_SCHEMA } from '../warehouse/schemas.js'

export type Layer = 'silver' | 'gold'
export type Engine = 'duckdb' | 'snowflake'
/** Layers in build order. */
export const LAYERS: readonly Layer[] = ['silver', 'gold']
const KIND_BY_LAYER: Record<Layer, 'VIEW' | 'TABLE'> = { silver: 'VIEW', gold: 'TABLE' }

export interface DataTest {
  /** `unique(ticket_id)`, `accepted_values(priority)`, or a singular test's name. */
  name: string
  /** The tested model, `schema.name`. */
  model: string
  layer: Layer
  /** A query returning the offending rows. */
  sql: string
  /** Where it is declared (`file:line` or the singular test's file), for messages. */
  declaredAt: string
}

export interface Model {
  /** `schema.name`, the schema being the layer. */
  name: string
  layer: Layer
  kind: 'view' | 'table'
  file: string
  /** The statement, exactly as sent to the engine. */
  sql: string
  /** Other models this one reads, `schema.name`, sorted. */
  dependsOn: string[]
  tests: DataTest[]
}

export interface Project {
  root: string
  /** In build order: layer by layer, dependencies first. */
  models: Model[]
}

const IDENT = /^[a-z_][a-z0-9_]*$/
const RELATION = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/
const HEADER = /^CREATE\s+OR\s+REPLACE\s+(VIEW|TABLE)\s+([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\s+AS\b/i

function modelError(file: string, message: string): PipelineError {
  return new PipelineError('ERR_MODEL', `${file}: ${message}`)
}

/** The statements of `sql/dialect/<engine>.sql`. */
export function dialectStatements(engine: Engine, root = sqlDir()): string[] {
  const file = path.join(root, 'dialect', `${engine}.sql`)
  if (!existsSync(file)) throw new PipelineError('ERR_MODEL', `no dialect file for ${engine}: ${file}`)
  return splitStatements(readFileSync(file, 'utf8'))
}

/** SQL with comments and string literals blanked out, for scanning names. */
export function stripCommentsAndLiterals(sql: string): string {
  return sql.replace(/'(?:[^']|'')*'|\$\$[\s\S]*?\$\$|--[^\n]*|\/\*[\s\S]*?\*\//g, ' ')
}

/** The models among `known` that `sql` references as `schema.name` (or `db.schema.name`), `self` excluded. */
export function referencedModels(sql: string, known: ReadonlySet<string>, self?: string): string[] {
  const found = new Set<string>()
  for (const m of stripCommentsAndLiterals(sql).matchAll(/[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+/g)) {
    // Every adjacent pair: `schema.model`, `db.schema.model`, `schema.model.column`.
    const parts = m[0].toLowerCase().split('.')
    for (let i = 0; i + 1 < parts.length; i++) {
      const name = `${parts[i]}.${parts[i + 1]}`
      if (name !== self && known.has(name)) found.add(name)
    }
  }
  return [...found].sort()
}

/**
 * Orders models so every model comes after the models it depends on: layer
 * by layer (a model may read its own or an earlier layer, never a later one),
 * ties broken by name so the order is stable. A cycle is an error naming it.
 */
export function orderModels<T extends { name: string; layer: Layer; dependsOn: readonly string[] }>(models: readonly T[]): T[] {
  const byName = new Map(models.map((m) => [m.name, m]))
  const rank = (m: T): number => LAYERS.indexOf(m.layer)
  for (const m of models) {
    for (const d of m.dependsOn) {
      const dep = byName.get(d)
      if (dep && rank(dep) > rank(m)) {
        throw new PipelineError('ERR_MODEL_GRAPH', `${m.name} (${m.layer}) reads ${dep.name} from the later layer ${dep.layer}`)
      }
    }
  }
  const pending = new Map(models.map((m) => [m.name, new Set(m.dependsOn.filter((d) => byName.has(d)))]))
  const cmp = (a: T, b: T): number => rank(a) - rank(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  const out: T[] = []
  while (pending.size > 0) {
    const ready = [...pending.entries()].filter(([, deps]) => deps.size === 0).map(([n]) => byName.get(n)!)
    if (ready.length === 0) throw new PipelineError('ERR_MODEL_GRAPH', `dependency cycle: ${describeCycle(pending)}`)
    ready.sort(cmp)
    const next = ready[0]!
    out.push(next)
    pending.delete(next.name)
    for (const deps of pending.values()) deps.delete(next.name)
  }
  return out
}

function describeCycle(pending: Map<string, Set<string>>): string {
  // Walk dependencies from any blocked model until a name repeats.
  const start = [...pending.keys()].sort()[0]!
  const seen: string[] = []
  let at = start
  while (!seen.includes(at)) {
    seen.push(at)
    at = [...pending.get(at)!].sort()[0]!
  }
  return [...seen.slice(seen.indexOf(at)), at].join(' → ')
}

// --- data tests ----------------------------------------------------------------

/** Splits `a, 'b, c', d` at top-level commas, keeping quoted literals whole. */
function splitArgs(text: string): string[] {
  const args: string[] = []
  let cur = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (ch === "'") {
      if (quoted && text[i + 1] === "'") {
        cur += "''"
        i++
        continue
      }
      quoted = !quoted
      cur += ch
    } else if (ch === ',' && !quoted) {
      args.push(cur.trim())
      cur = ''
    } else cur += ch
  }
  if (quoted) throw new Error('unterminated string literal')
  if (cur.trim() !== '' || args.length > 0) args.push(cur.trim())
  return args
}

function column(arg: string | undefined, what: string): string {
  if (arg === undefined || !IDENT.test(arg)) throw new Error(`${what} must be a lower-case column name, got ${JSON.stringify(arg)}`)
  return arg
}

function relation(arg: string | undefined): string {
  if (arg === undefined || !RELATION.test(arg)) throw new Error(`expected a relation such as silver.stg_tickets, got ${JSON.stringify(arg)}`)
  return arg
}

function literal(arg: string): string {
  if (!/^'(?:[^']|'')*'$/.test(arg)) throw new Error(`accepted values must be quoted string literals, got ${arg}`)
  return arg
}

/** Compiles one `@test` declaration of `model` to its name and failing-rows query. */
export function genericTest(model: string, declaration: string): { name: string; sql: string } {
  const m = /^([a-z_]+)\s*\((.*)\)$/s.exec(declaration.trim())
  if (!m) throw new Error(`expected test(args), got ${JSON.stringify(declaration)}`)
  const [, test, argText] = m as unknown as [string, string, string]
  const args = splitArgs(argText)
  const arity = (n: number): void => {
    if (args.length !== n) throw new Error(`${test} takes ${n} argument${n === 1 ? '' : 's'}, got ${args.length}`)
  }
  switch (test) {
    case 'not_null': {
      arity(1)
      const c = column(args[0], 'not_null')
      return { name: `not_null(${c})`, sql: `SELECT *\nFROM ${model}\nWHERE ${c} IS NULL` }
    }
    case 'unique': {
      arity(1)
      const c = column(args[0], 'unique')
      return {
        name: `unique(${c})`,
        sql: `SELECT ${c}, COUNT(*) AS n_records\nFROM ${model}\nWHERE ${c} IS NOT NULL\nGROUP BY ${c}\nHAVING COUNT(*) > 1`,
      }
    }
    case 'accepted_values': {
      if (args.length < 2) throw new Error('accepted_values takes a column and at least one value')
      const c = column(args[0], 'accepted_values')
      const values = args.slice(1).map(literal)
      return {
        name: `accepted_values(${c})`,
        sql: `SELECT ${c}, COUNT(*) AS n_records\nFROM ${model}\nWHERE ${c} NOT IN (${values.join(', ')})\nGROUP BY ${c}`,
      }
    }
    case 'unique_combination': {
      if (args.length < 2) throw new Error('unique_combination takes at least two columns')
      const cols = args.map((a) => column(a, 'unique_combination'))
      return {
        name: `unique_combination(${cols.join(', ')})`,
        sql: `SELECT ${cols.join(', ')}, COUNT(*) AS n_records\nFROM ${model}\nGROUP BY ${cols.join(', ')}\nHAVING COUNT(*) > 1`,
      }
    }
    case 'one_row_per': {
      arity(2)
      const c = column(args[0], 'one_row_per')
      const rel = relation(args[1])
      return {
        name: `one_row_per(${c}, ${rel})`,
        sql:
          `SELECT COALESCE(m.${c}, r.${c}) AS ${c}, COALESCE(m.n_records, 0) AS n_records, r.${c} IS NOT NULL AS in_reference\n` +
          `FROM (SELECT ${c}, COUNT(*) AS n_records FROM ${model} GROUP BY ${c}) AS m\n` +
          `FULL OUTER JOIN (SELECT DISTINCT ${c} FROM ${rel}) AS r ON m.${c} = r.${c}\n` +
          `WHERE r.${c} IS NULL OR m.${c} IS NULL OR m.n_records <> 1`,
      }
    }
    case 'same_row_count': {
      arity(1)
      const rel = relation(args[0])
      return {
        name: `same_row_count(${rel})`,
        sql:
          `SELECT m.n_records AS model_rows, r.n_records AS reference_rows\n` +
          `FROM (SELECT COUNT(*) AS n_records FROM ${model}) AS m\n` +
          `CROSS JOIN (SELECT COUNT(*) AS n_records FROM ${rel}) AS r\n` +
          `WHERE m.n_records <> r.n_records`,
      }
    }
    default:
      throw new Error(`unknown test ${test} (known: not_null, unique, accepted_values, unique_combination, one_row_per, same_row_count)`)
  }
}

/** The `-- @test …` declarations of a model file, with their line numbers. */
function testDeclarations(text: string): Array<{ line: number; declaration: string }> {
  const out: Array<{ line: number; declaration: string }> = []
  text.split(/\r?\n/).forEach((l, i) => {
    const m = /^\s*--\s*@test\s+(.*?)\s*$/.exec(l)
    if (m) out.push({ line: i + 1, declaration: m[1]! })
  })
  return out
}

// --- loading ---------------------------------------------------------------------

/** Reads and validates every model and test under `<root>/models`, in build order. */
export function loadProject(root = sqlDir()): Project {
  const modelsDir = path.join(root, 'models')
  const loaded: Model[] = []
  const singular: Array<{ file: string; model: string; layer: Layer; name: string; sql: string }> = []
  for (const layer of LAYERS) {
    const dir = path.join(modelsDir, layer)
    if (!existsSync(dir)) continue
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith('.sql')) continue
      const file = path.join(dir, f)
      const rel = path.relative(root, file)
      const text = readFileSync(file, 'utf8')
      if (f.endsWith('.test.sql')) {
        const m = /^([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\.test\.sql$/.exec(f)
        if (!m) throw modelError(rel, 'a singular test file is named <model>.<test_name>.test.sql')
        const statements = splitStatements(text)
        if (statements.length !== 1) throw modelError(rel, `a test is one query, found ${statements.length} statements`)
        singular.push({ file: rel, model: `${layer}.${m[1]}`, layer, name: m[2]!, sql: statements[0]! })
        continue
      }
      const base = f.slice(0, -'.sql'.length)
      if (!IDENT.test(base)) throw modelError(rel, 'model file names are lower-case identifiers')
      const statements = splitStatements(text)
      if (statements.length !== 1) throw modelError(rel, `a model is one statement, found ${statements.length}`)
      const sql = statements[0]!
      const h = HEADER.exec(sql)
      const expected = `CREATE OR REPLACE ${KIND_BY_LAYER[layer]} ${layer}.${base} AS`
      if (!h || h[1]!.toUpperCase() !== KIND_BY_LAYER[layer] || h[2]!.toLowerCase() !== layer || h[3]!.toLowerCase() !== base) {
        throw modelError(rel, `a ${layer} model starts "${expected}" (${layer} models are ${KIND_BY_LAYER[layer].toLowerCase()}s named after their file)`)
      }
      const name = `${layer}.${base}`
      const tests = testDeclarations(text).map(({ line, declaration }): DataTest => {
        try {
          return { ...genericTest(name, declaration), model: name, layer, declaredAt: `${rel}:${line}` }
        } catch (err) {
          throw modelError(`${rel}:${line}`, `@test ${declaration}: ${(err as Error).message}`)
        }
      })
      loaded.push({ name, layer, kind: layer === 'silver' ? 'view' : 'table', file: rel, sql, dependsOn: [], tests })
    }
  }
  const known = new Set(loaded.map((m) => m.name))
  for (const m of loaded) m.dependsOn = referencedModels(m.sql, known, m.name)
  for (const s of singular) {
    const model = loaded.find((m) => m.name === s.model)
    if (!model) throw modelError(s.file, `no model ${s.model} for this test`)
    model.tests.push({ name: s.name, model: s.model, layer: s.layer, sql: s.sql, declaredAt: s.file })
  }
  for (const m of loaded) {
    const seen = new Set<string>()
    for (const t of m.tests) {
      if (seen.has(t.name)) throw modelError(t.declaredAt, `test ${t.name} is declared twice for ${m.name}`)
      seen.add(t.name)
    }
  }
  return { root, models: orderModels(loaded) }
}

/** The query sent to count a test's offending rows. */
export function failureCountSql(test: DataTest): string {
  return `SELECT COUNT(*) AS failures FROM (\n${test.sql}\n) AS test_rows`
}

/** The query sent to fetch a few offending rows of a failing test. */
export function failureSampleSql(test: DataTest, limit: number): string {
  return `SELECT * FROM (\n${test.sql}\n) AS test_rows LIMIT ${Math.max(0, Math.floor(limit))}`
}

// --- building and publishing a layer --------------------------------------------


export interface LayerBuild {
  /**
   * The statements that build `model`. `published`: the layer's live
   * relation of that name exists (its grants are carried over).
   */
  build(model: Model, published: boolean): string[]
  /** Where the built rows are, for counting them before they are published. */
  relation(model: Model): string
  /** A query listing the layer's live relations (a lower-case `name` column), when build() needs to know. */
  publishedSql?: string
  /** The statements that publish the built layer; none: the build itself is the publication (inside one transaction). */
  publish: string[]
}

/**
 * `schema.name` references to the given models rewritten to another schema,
 * comments and string literals left alone.
 */
export function retargetRelations(sql: string, models: ReadonlySet<string>, schema: string): string {
  return sql.replace(/'(?:[^']|'')*'|\$\$[\s\S]*?\$\$|--[^\n]*|\/\*[\s\S]*?\*\/|(?<![\w$.])([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_$]*)/g, (whole, s1?: string, n?: string) =>
    s1 !== undefined && models.has(`${s1.toLowerCase()}.${n!.toLowerCase()}`) ? `${schema}.${n}` : whole,
  )
}

/**
 * How `layer` is built on `engine`:
 * - DuckDB, and silver everywhere: each model's statement as written (the
 *   runner wraps the layer in one transaction, atomic on DuckDB; a view
 *   replaces itself atomically on Snowflake).
 * - Snowflake gold: every model is built as a TRANSIENT table (derived data
 *   needs no Fail-safe) in gold__build, reading the other gold models from
 *   there, then one ALTER SCHEMA … SWAP WITH publishes them all at once; a
 *   failure before it leaves yesterday's gold whole. Readers keep their
 *   grants: the build first takes the live table's grants (CREATE … LIKE
 *   gold.x COPY GRANTS), then the CTAS keeps them (COPY GRANTS), and the
 *   swap moves tables with their grants.
 */
export function layerBuild(layer: Layer, engine: Engine, models: readonly Model[]): LayerBuild {
  if (engine !== 'snowflake' || layer !== 'gold') {
    return { build: (m) => [m.sql], relation: (m) => m.name, publish: [] }
  }
  const names = new Set(models.filter((m) => m.layer === layer).map((m) => m.name))
  const built = (m: Model): string => `${GOLD_BUILD_SCHEMA}.${m.name.split('.')[1]}`
  return {
    build: (m, published) => {
      const h = HEADER.exec(m.sql)
      if (!h) throw modelError(m.file, `expected "CREATE OR REPLACE TABLE ${m.name} AS"`)
      const body = retargetRelations(m.sql.slice(h[0].length), names, GOLD_BUILD_SCHEMA)
      const ctas = `CREATE OR REPLACE TRANSIENT TABLE ${built(m)} COPY GRANTS AS${body}`
      return published ? [`CREATE OR REPLACE TRANSIENT TABLE ${built(m)} LIKE ${m.name} COPY GRANTS`, ctas] : [ctas]
    },
    relation: built,
    publishedSql: `SELECT LOWER(table_name) AS name FROM information_schema.tables WHERE UPPER(table_schema) = '${layer.toUpperCase()}' AND UPPER(table_catalog) = UPPER(CURRENT_DATABASE())`,
    publish: [`ALTER SCHEMA ${layer} SWAP WITH ${GOLD_BUILD_SCHEMA}`],
  }
}
