/** `load-1-object`: the same ~10 MB as `load-5000-objects`, as one object: the baseline of the per-object cost. */
import { smallObjectsCase } from '../smallObjects.js'

export default smallObjectsCase(1)
