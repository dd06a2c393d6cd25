/** Shared by the collectors: see src/collectors/bounded.ts. */
export { mapBounded } from '../bounded.js';
