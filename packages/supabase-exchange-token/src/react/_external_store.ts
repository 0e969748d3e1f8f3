/**
 * The plumbing both stores share: a snapshot that is replaced (never mutated) on change, the listeners
 * `useSyncExternalStore` subscribes, and a source (Auth, the session) that is listened to only while
 * someone is subscribed, so a React StrictMode remount or an unmounted provider leaves no listener behind.
 *
 * @module
 */

/** A snapshot with its listeners; `start` runs at the first subscriber and its result at the last one's leave. */
export interface ExternalStore<S> {
  /** `useSyncExternalStore`'s `subscribe`. */
  subscribe(onChange: () => void): () => void;
  /** `useSyncExternalStore`'s `getSnapshot`: the same object until the state changes. */
  getSnapshot(): S;
  /** Replaces the snapshot with `{ ...snapshot, ...patch }` and tells the listeners. */
  update(patch: Partial<S>): void;
}

/**
 * Creates the store.
 *
 * @param initial The first snapshot.
 * @param start Subscribes to the store's sources; returns what unsubscribes them.
 * @returns The store.
 * @example
 * ```ts ignore
 * const store = createExternalStore({ count: 0 }, () => onTick(() => store.update({ count: 1 })));
 * ```
 */
export function createExternalStore<S extends object>(initial: S, start: () => () => void): ExternalStore<S> {
  let snapshot = initial;
  const listeners = new Set<() => void>();
  let stop: (() => void) | undefined;
  return {
    subscribe(onChange) {
      listeners.add(onChange);
      if (listeners.size === 1) stop = start();
      return () => {
        listeners.delete(onChange);
        if (listeners.size === 0) {
          stop?.();
          stop = undefined;
        }
      };
    },
    getSnapshot: () => snapshot,
    update(patch) {
      const next = { ...snapshot, ...patch };
      if (Object.keys(next).every((k) => Object.is(next[k as keyof S], snapshot[k as keyof S]))) return;
      snapshot = next;
      for (const listener of [...listeners]) listener();
    },
  };
}
