import type { IdpDirectory, IdpEntry } from './types.js';

/** A directory over a fixed list of IdPs (names and entity ids unique: the caller validated them). */
export function fixedDirectory(entries: readonly IdpEntry[]): IdpDirectory {
  const list = Object.freeze([...entries]);
  const byEntityId = new Map(list.map((e) => [e.entityId, e]));
  const byName = new Map(list.map((e) => [e.name, e]));
  return {
    list: () => list,
    byEntityId: (entityId) => byEntityId.get(entityId),
    byName: (name) => byName.get(name),
  };
}
