// Bree job (and `node jobs/ingest-logs.js`): one run of the log ingest.
// Thin on purpose: Bree workers must be compiled JS, so the logic lives in dist/ (npm run build).
import { main } from '../dist/src/jobs/ingestLogsJob.js'

await main()
