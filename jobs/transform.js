// Bree job (and `node jobs/transform.js`): one run of the SQL transforms, bronze → silver → gold, with data tests.
// Thin on purpose: Bree workers must be compiled JS, so the logic lives in dist/ (npm run build).
import { main } from '../dist/src/jobs/transformJob.js'

await main()
