import t from 'tap'
import { BRONZE_TABLES, loadConstants } from '../../src/load/bronzeSchema.js'
import { ddlColumnTypes } from '../../src/load/ddlColumnTypes.js'

t.test('each bronze table: its staged CSV columns, then its load constants, are its DDL columns in order', async (t) => {
  const ddl = ddlColumnTypes()
  t.same(
    [...ddl.keys()].filter((name) => name.startsWith('bronze.')).sort(),
    BRONZE_TABLES.map((b) => b.name).sort(),
    'every bronze table in sql/ddl is described, and nothing else',
  )
  for (const table of BRONZE_TABLES) {
    const columns = [...ddl.get(table.name)!.keys()]
    t.same([...table.csvColumns, ...Object.keys(table.constants)], columns, table.name)
  }
})

t.test('a load fills every constant column from its context', async (t) => {
  const ctx = { runId: 'r1', loadedAt: '2025-08-01 02:00:05.000', extractedAt: '2025-08-01 02:00:01.000' }
  for (const table of BRONZE_TABLES) {
    const values = loadConstants(table, ctx)
    t.same(Object.keys(values), Object.keys(table.constants), table.name)
    t.ok(Object.values(values).every((v) => typeof v === 'string' && v.length > 0), `${table.name}: no empty constant`)
  }
  t.throws(() => loadConstants(BRONZE_TABLES.find((b) => b.name === 'bronze.tickets')!, { runId: 'r1', loadedAt: ctx.loadedAt }), /extractedAt/)
})
