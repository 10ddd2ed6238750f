/**
 * Schemas beyond the medallion layers of sql/ddl: on Snowflake, gold is built
 * in GOLD_BUILD_SCHEMA and published with one ALTER SCHEMA … SWAP (see
 * layerBuild in src/transform/project.ts); setup creates it.
 */
export const GOLD_BUILD_SCHEMA = 'gold__build'
