/** `load-5000-objects`: ~10 MB of logs as 5,000 objects of ~2 KB, ingested into DuckDB (see bench/smallObjects.ts). */
import { SMALL_OBJECTS, smallObjectsCase } from '../smallObjects.js'

export default smallObjectsCase(SMALL_OBJECTS)
