// Bree job (and `node jobs/ingest-tickets.js`): one incremental run of the ticket ingest.
// Thin on purpose: Bree workers must be compiled JS, so the logic lives in dist/ (npm run build).
import { main } from '../dist/src/jobs/ingestTicketsJob.js'

await main()
