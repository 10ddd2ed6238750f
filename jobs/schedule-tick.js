// Bree job run on PIPELINE_CRON: it only tells the daemon that a scheduled
// time has come; the daemon decides whether a DAG run starts (no overlap).
import { parentPort } from 'node:worker_threads'

parentPort?.postMessage({ type: 'tick', at: new Date().toISOString() })
parentPort?.postMessage('done')
