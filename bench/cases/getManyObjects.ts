/** `get-5000-objects`: the listing and 5,000 GETs of `load-5000-objects` alone, bodies dropped: its floor (see bench/smallObjects.ts). */
import { SMALL_OBJECTS, smallObjectsCase } from '../smallObjects.js'

export default smallObjectsCase(SMALL_OBJECTS, 'get')
